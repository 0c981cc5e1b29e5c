\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';
CREATE FUNCTION pg_temp.outcome(id bigint, attempt integer, status integer) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_array(jsonb_build_object('id', id, 'attempt', attempt, 'status', status, 'headers', '{}'::jsonb)) $$;

-- A dedupe_key matching a waiting request returns its id and enqueues nothing
SELECT httpq.enqueue('https://example.com/first', channel => 'dedupe', dedupe_key => 'order-1') AS d1 \gset
SELECT httpq.enqueue('https://example.com/second', channel => 'dedupe', dedupe_key => 'order-1') AS d2 \gset
SELECT :d1 = :d2 AS same_id;
SELECT count(*) AS requests, min(url) AS url FROM httpq.requests WHERE channel = 'dedupe';

-- The same key in another channel is another request
SELECT httpq.enqueue('https://example.com/other', channel => 'dedupe-other', dedupe_key => 'order-1') AS o1 \gset
SELECT :o1 <> :d1 AS other_id;

-- A running request dedupes too
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{dedupe}');
SELECT httpq.enqueue('https://example.com/third', channel => 'dedupe', dedupe_key => 'order-1') = :d1 AS same_id;

-- A request waiting for a retry dedupes too
SELECT httpq.report('w1', pg_temp.outcome(:d1, 1, 503)) AS applied;
SELECT httpq.enqueue('https://example.com/fourth', channel => 'dedupe', dedupe_key => 'order-1') = :d1 AS same_id;
SELECT count(*) AS requests FROM httpq.requests WHERE channel = 'dedupe';

-- Once it is delivered, the same key enqueues anew
SET httpq.now = '2030-01-01 01:00:00+00';
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{dedupe}');
SELECT httpq.report('w1', pg_temp.outcome(:d1, 2, 200)) AS applied;
SELECT httpq.enqueue('https://example.com/fifth', channel => 'dedupe', dedupe_key => 'order-1') AS d5 \gset
SELECT :d5 <> :d1 AS new_id;
SELECT url, state FROM httpq.requests WHERE channel = 'dedupe' ORDER BY id;

-- Once it is canceled too
SELECT httpq.cancel(:d5) AS canceled;
SELECT httpq.enqueue('https://example.com/sixth', channel => 'dedupe', dedupe_key => 'order-1') AS d6 \gset
SELECT :d6 NOT IN (:d1, :d5) AS new_id;

-- A deduped enqueue does not take the place of an ordering key's head
SELECT httpq.enqueue('https://example.com/k1', channel => 'dedupe-ord', ordering_key => 'k', dedupe_key => 'x') AS k1 \gset
SELECT httpq.enqueue('https://example.com/k1-again', channel => 'dedupe-ord', ordering_key => 'k', dedupe_key => 'x') = :k1 AS same_id;
SELECT httpq.enqueue('https://example.com/k2', channel => 'dedupe-ord', ordering_key => 'k') AS k2 \gset
SELECT url, state, blocked FROM httpq.requests WHERE channel = 'dedupe-ord' ORDER BY id;

-- A retried dead request whose dedupe_key was taken meanwhile cannot come back
SELECT httpq.enqueue('https://example.com/r1', channel => 'dedupe-retry', dedupe_key => 'r') AS r1 \gset
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{dedupe-retry}');
SELECT httpq.report('w1', pg_temp.outcome(:r1, 1, 404)) AS applied;
SELECT httpq.enqueue('https://example.com/r2', channel => 'dedupe-retry', dedupe_key => 'r') AS r2 \gset
\set VERBOSITY sqlstate
SELECT httpq.retry(:r1);
\set VERBOSITY terse
SELECT count(*) AS requests FROM httpq.requests WHERE channel = 'dedupe-retry' AND state = 'waiting';
