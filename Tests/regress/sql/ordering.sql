\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';
-- One outcome as the worker reports it
CREATE FUNCTION pg_temp.outcome(id bigint, attempt integer, status integer) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_array(jsonb_build_object('id', id, 'attempt', attempt, 'status', status, 'headers', '{}'::jsonb)) $$;

-- Three requests of one key and one of another: only the first of each key is claimable
SELECT httpq.enqueue('https://example.com/k1', channel => 'ord', ordering_key => 'k') AS k1 \gset
SELECT httpq.enqueue('https://example.com/k2', channel => 'ord', ordering_key => 'k') AS k2 \gset
SELECT httpq.enqueue('https://example.com/j1', channel => 'ord', ordering_key => 'j') AS j1 \gset
SELECT httpq.enqueue('https://example.com/k3', channel => 'ord', ordering_key => 'k') AS k3 \gset
SELECT httpq.enqueue('https://example.com/free', channel => 'ord') AS free \gset
SELECT replace(url, 'https://example.com/', '') AS url, state, blocked FROM httpq.requests WHERE channel = 'ord' ORDER BY id;
SELECT replace(url, 'https://example.com/', '') AS claimed FROM httpq.claim('w1', 10, '{ord}') ORDER BY id;
SELECT httpq.report('w1', pg_temp.outcome(:j1, 1, 200) || pg_temp.outcome(:free, 1, 200)) AS applied;

-- A follower stays blocked while its head is retried after a 503
SELECT httpq.report('w1', pg_temp.outcome(:k1, 1, 503)) AS applied;
SELECT id = :k1 AS is_k1, state, blocked FROM httpq.requests WHERE id IN (:k1, :k2) ORDER BY id;
SET httpq.now = '2030-01-01 01:00:00+00';
SELECT id = :k1 AS is_k1, attempt FROM httpq.claim('w1', 10, '{ord}');

-- A second failure keeps it blocked too; the head comes back again
SELECT httpq.report('w1', pg_temp.outcome(:k1, 2, 500)) AS applied;
SET httpq.now = '2030-01-01 02:00:00+00';
SELECT id = :k1 AS is_k1, attempt FROM httpq.claim('w1', 10, '{ord}');

-- When the head is delivered, the next of its key becomes claimable
SELECT httpq.report('w1', pg_temp.outcome(:k1, 3, 200)) AS applied;
SELECT replace(url, 'https://example.com/', '') AS url, state, blocked FROM httpq.requests WHERE channel = 'ord' ORDER BY id;
SELECT id = :k2 AS is_k2, attempt FROM httpq.claim('w1', 10, '{ord}');

-- When the head dies, by default the key moves on and the dead request stays visible
SELECT httpq.report('w1', pg_temp.outcome(:k2, 1, 404)) AS applied;
SELECT id = :k2 AS is_k2, state, reason FROM httpq.requests WHERE id = :k2;
SELECT id = :k3 AS is_k3 FROM httpq.claim('w1', 10, '{ord}');

-- A request enqueued while its key has a head waits behind it, even if the head is running
SELECT httpq.enqueue('https://example.com/k4', channel => 'ord', ordering_key => 'k') AS k4 \gset
SELECT state, blocked FROM httpq.requests WHERE id = :k4;
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{ord}');

-- A head whose lease expires is claimed again, still ahead of its followers
SET httpq.now = '2030-01-01 03:00:00+00';
SELECT id = :k3 AS is_k3, attempt FROM httpq.claim('w2', 10, '{ord}');

-- A released head is claimed again, still ahead of its followers
SELECT httpq.release('w2', ARRAY[:k3]::bigint[], '{2}') AS released;
SELECT id = :k3 AS is_k3, attempt FROM httpq.claim('w2', 10, '{ord}');
SELECT httpq.report('w2', pg_temp.outcome(:k3, 3, 204)) AS applied;

-- A canceled head hands the key to the next one
SELECT httpq.enqueue('https://example.com/k5', channel => 'ord', ordering_key => 'k') AS k5 \gset
SELECT httpq.cancel(:k4) AS canceled;
SELECT id = :k5 AS is_k5, state, blocked FROM httpq.requests WHERE id = :k5;

-- Canceling a follower leaves the head in place
SELECT httpq.enqueue('https://example.com/k6', channel => 'ord', ordering_key => 'k') AS k6 \gset
SELECT httpq.enqueue('https://example.com/k7', channel => 'ord', ordering_key => 'k') AS k7 \gset
SELECT httpq.cancel(:k6) AS canceled;
SELECT id = :k5 AS is_k5, id = :k7 AS is_k7, state, blocked FROM httpq.requests WHERE id IN (:k5, :k7) ORDER BY id;

-- The key was delivered strictly in enqueue order, one at a time
SELECT replace(url, 'https://example.com/', '') AS url, state FROM httpq.requests
WHERE channel = 'ord' AND ordering_key = 'k' ORDER BY id;
SELECT string_agg(replace(r.url, 'https://example.com/', '') || '#' || a.attempt, ', ' ORDER BY a.at, a.id) AS attempts
FROM httpq.attempts a JOIN httpq.requests r ON r.id = a.id
WHERE r.channel = 'ord' AND r.ordering_key = 'k';

-- The same key in another channel is another key
SELECT httpq.enqueue('https://example.com/other-k1', channel => 'ord-other', ordering_key => 'k') AS o1 \gset
SELECT state, blocked FROM httpq.requests WHERE id = :o1;

-- A key whose requests all finished starts afresh
SELECT httpq.enqueue('https://example.com/fresh1', channel => 'ord-fresh', ordering_key => 'f') AS f1 \gset
SELECT id = :f1 AS is_f1 FROM httpq.claim('w1', 10, '{ord-fresh}');
SELECT httpq.report('w1', pg_temp.outcome(:f1, 1, 200)) AS applied;
SELECT httpq.enqueue('https://example.com/fresh2', channel => 'ord-fresh', ordering_key => 'f') AS f2 \gset
SELECT state, blocked FROM httpq.requests WHERE id = :f2;

-- A head that dies of its deadline moves the key on too
SELECT httpq.enqueue('https://example.com/d1', channel => 'ord-deadline', ordering_key => 'd',
                     deadline => '2030-01-01 03:30:00+00') AS d1 \gset
SELECT httpq.enqueue('https://example.com/d2', channel => 'ord-deadline', ordering_key => 'd') AS d2 \gset
SET httpq.now = '2030-01-01 04:00:00+00';
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{ord-deadline}');
SELECT id = :d1 AS is_d1, state, reason FROM httpq.requests WHERE id = :d1;
SELECT id = :d2 AS is_d2 FROM httpq.claim('w1', 10, '{ord-deadline}');
