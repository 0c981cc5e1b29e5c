\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;

-- 10,000 requests from one SELECT: one id each, in the order given
CREATE TEMP TABLE batch AS
SELECT t.id, t.ord
FROM httpq.enqueue_many(ARRAY(
         SELECT httpq.new_request('https://example.com/items/' || g, jsonb_build_object('n', g), channel => 'many')
         FROM generate_series(1, 10000) AS g ORDER BY g)) WITH ORDINALITY AS t(id, ord);
SELECT count(*) AS ids, count(DISTINCT id) AS distinct_ids FROM batch;
SELECT count(*) AS in_queue, bool_and(r.url = 'https://example.com/items/' || b.ord) AS ids_follow_input_order,
       bool_and(convert_from(r.body, 'UTF8')::jsonb = jsonb_build_object('n', b.ord)) AS bodies_match
FROM batch b JOIN httpq.request r ON r.id = b.id;
SELECT count(*) FILTER (WHERE id <= prev) AS ids_not_increasing
FROM (SELECT id, lag(id) OVER (ORDER BY ord) AS prev FROM batch) AS s;

-- Each request of the batch gets its own idempotency key and the JSON content type
SELECT count(DISTINCT r.idempotency_key) AS keys,
       bool_and(r.headers ->> 'Content-Type' = 'application/json') AS json
FROM batch b JOIN httpq.request r ON r.id = b.id;

-- The same count from the form in the README
SELECT count(*) FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/n/' || g, channel => 'many-2') FROM generate_series(1, 10000) AS g));

-- Mixed JSON and bytes requests in one batch, in several channels
SELECT count(*) AS ids FROM httpq.enqueue_many(ARRAY[
    httpq.new_request('https://example.com/a', '{"a": 1}', channel => 'many-a'),
    httpq.new_request_bytes('https://example.com/b', 'hello'::bytea, 'text/plain', channel => 'many-b'),
    httpq.new_request('https://example.com/c', method => 'DELETE', channel => 'many-a')]);
SELECT channel, method, headers ->> 'Content-Type' AS content_type FROM httpq.request
WHERE channel IN ('many-a', 'many-b') ORDER BY id;

-- An empty batch enqueues nothing and returns no ids
SELECT count(*) AS ids FROM httpq.enqueue_many('{}');

-- A NULL batch is an error
SELECT count(*) FROM httpq.enqueue_many(NULL);

-- One bad request rejects the whole batch, naming its position
SELECT count(*) FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request(CASE WHEN g = 500 THEN 'ftp://example.com/' ELSE 'https://example.com/' || g END,
                             channel => 'many-bad')
    FROM generate_series(1, 1000) AS g ORDER BY g));
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM httpq.enqueue_many(ARRAY[
    httpq.new_request('https://example.com/1', channel => 'many-bad'),
    httpq.new_request('https://example.com/2', headers => '{"X-N": 2}', channel => 'many-bad')]);
SELECT count(*) FROM httpq.enqueue_many(ARRAY[
    httpq.new_request('https://example.com/1', channel => 'many-bad'),
    httpq.new_request('https://example.com/2', max_attempts => 0, channel => 'many-bad-2')]);
SELECT count(*) AS requests FROM httpq.requests WHERE channel IN ('many-bad', 'many-bad-2');
SELECT count(*) AS channels FROM httpq.channel WHERE name IN ('many-bad', 'many-bad-2');

-- Ordering keys within one batch: the first of a key is its head, the rest wait behind it
SELECT count(*) FROM httpq.enqueue_many(ARRAY[
    httpq.new_request('https://example.com/k1', channel => 'many-k', ordering_key => 'k'),
    httpq.new_request('https://example.com/j1', channel => 'many-k', ordering_key => 'j'),
    httpq.new_request('https://example.com/k2', channel => 'many-k', ordering_key => 'k'),
    httpq.new_request('https://example.com/n1', channel => 'many-k'),
    httpq.new_request('https://example.com/k3', channel => 'many-k', ordering_key => 'k')]);
SELECT url, state FROM httpq.request WHERE channel = 'many-k' ORDER BY id;

-- Dedupe keys within one batch: repeats return the first one's id
SELECT array_agg(t.id ORDER BY t.ord) AS ids
FROM httpq.enqueue_many(ARRAY[
    httpq.new_request('https://example.com/d1', channel => 'many-d', dedupe_key => 'd'),
    httpq.new_request('https://example.com/d2', channel => 'many-d', dedupe_key => 'd'),
    httpq.new_request('https://example.com/e1', channel => 'many-d', dedupe_key => 'e')]) WITH ORDINALITY AS t(id, ord) \gset
SELECT (:'ids'::bigint[])[1] = (:'ids'::bigint[])[2] AS repeat_gets_first_id,
       (:'ids'::bigint[])[1] <> (:'ids'::bigint[])[3] AS other_key_gets_own_id;
SELECT url FROM httpq.request WHERE channel = 'many-d' ORDER BY id;
