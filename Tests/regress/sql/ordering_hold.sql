\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';
CREATE FUNCTION pg_temp.outcome(id bigint, attempt integer, status integer) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_array(jsonb_build_object('id', id, 'attempt', attempt, 'status', status, 'headers', '{}'::jsonb)) $$;

-- A channel that holds a key when its head dies
SELECT httpq.set_channel('hold', ordering_on_dead => 'hold');
SELECT ordering_on_dead FROM httpq.channel WHERE name = 'hold';

-- The head dies: its followers stay blocked and nothing of the key is claimed
SELECT httpq.enqueue('https://example.com/h1', channel => 'hold', ordering_key => 'k') AS h1 \gset
SELECT httpq.enqueue('https://example.com/h2', channel => 'hold', ordering_key => 'k') AS h2 \gset
SELECT httpq.enqueue('https://example.com/h3', channel => 'hold', ordering_key => 'k') AS h3 \gset
SELECT httpq.enqueue('https://example.com/other', channel => 'hold', ordering_key => 'other') AS other \gset
SELECT replace(url, 'https://example.com/', '') AS claimed FROM httpq.claim('w1', 10, '{hold}') ORDER BY id;
SELECT httpq.report('w1', pg_temp.outcome(:h1, 1, 404)) AS applied;
SELECT replace(url, 'https://example.com/', '') AS url, state, blocked FROM httpq.requests
WHERE channel = 'hold' ORDER BY id;
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{hold}');

-- Other keys of the channel carry on
SELECT httpq.report('w1', pg_temp.outcome(:other, 1, 200)) AS applied;

-- A request enqueued for a held key waits behind it
SELECT httpq.enqueue('https://example.com/h4', channel => 'hold', ordering_key => 'k') AS h4 \gset
SELECT state, blocked FROM httpq.requests WHERE id = :h4;
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{hold}');

-- Retrying the dead head sends it again first; its followers stay behind it
SELECT httpq.retry(:h1) AS retried;
SELECT replace(url, 'https://example.com/', '') AS url, state, blocked FROM httpq.requests
WHERE channel = 'hold' AND ordering_key = 'k' ORDER BY id;
SELECT id = :h1 AS is_h1, attempt FROM httpq.claim('w1', 10, '{hold}');

-- Once it is delivered, the key moves on in order
SELECT httpq.report('w1', pg_temp.outcome(:h1, 2, 200)) AS applied;
SELECT id = :h2 AS is_h2 FROM httpq.claim('w1', 10, '{hold}');

-- The next head dies too: canceling it releases the key
SELECT httpq.report('w1', pg_temp.outcome(:h2, 1, 400)) AS applied;
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{hold}');
SELECT httpq.cancel(:h2) AS canceled;
SELECT id = :h2 AS is_h2, state FROM httpq.requests WHERE id = :h2;
SELECT id = :h3 AS is_h3 FROM httpq.claim('w1', 10, '{hold}');

-- A head that runs out of attempts holds the key too
SELECT httpq.set_channel('hold', max_attempts => 1);
SELECT httpq.report('w1', pg_temp.outcome(:h3, 1, 503)) AS applied;
SELECT id = :h3 AS is_h3, state, reason FROM httpq.requests WHERE id = :h3;
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{hold}');
SELECT httpq.cancel(:h3) AS canceled;
SELECT id = :h4 AS is_h4 FROM httpq.claim('w1', 10, '{hold}');
SELECT httpq.report('w1', pg_temp.outcome(:h4, 1, 200)) AS applied;

-- The key was delivered strictly in enqueue order
SELECT replace(url, 'https://example.com/', '') AS url, state FROM httpq.requests
WHERE channel = 'hold' AND ordering_key = 'k' ORDER BY id;

-- Switching the channel back to continue: a dead head no longer holds its key
SELECT httpq.set_channel('hold', ordering_on_dead => 'continue', max_attempts => 5);
SELECT httpq.enqueue('https://example.com/c1', channel => 'hold', ordering_key => 'c') AS c1 \gset
SELECT httpq.enqueue('https://example.com/c2', channel => 'hold', ordering_key => 'c') AS c2 \gset
SELECT id = :c1 AS is_c1 FROM httpq.claim('w1', 10, '{hold}');
SELECT httpq.report('w1', pg_temp.outcome(:c1, 1, 404)) AS applied;
SELECT id = :c2 AS is_c2 FROM httpq.claim('w1', 10, '{hold}');
