\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';
\i Tests/regress/support/pages_read.sql
-- Reports the running head of a key with a status, as its worker does
CREATE FUNCTION pg_temp.report_head(ordering_key text, status integer) RETURNS text
LANGUAGE sql AS $$
    SELECT format('SELECT httpq.report(%L, %L)', r.worker,
                  jsonb_build_array(jsonb_build_object('id', r.id, 'attempt', r.attempt, 'status', status)))
    FROM httpq.request r WHERE r.channel = 'ord-backlog' AND r.ordering_key = report_head.ordering_key AND r.state = 'running'
$$;
-- Cancels the head of a key
CREATE FUNCTION pg_temp.cancel_head(ordering_key text) RETURNS text
LANGUAGE sql AS $$
    SELECT format('SELECT httpq.cancel(%s)', r.id)
    FROM httpq.request r WHERE r.channel = 'ord-backlog' AND r.ordering_key = cancel_head.ordering_key AND r.state IN ('waiting', 'running')
$$;

-- One key with five requests, another with 20,000, and a third with five after that whole backlog
SELECT count(*) AS enqueued FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/small' || g, channel => 'ord-backlog', ordering_key => 'small')
    FROM generate_series(1, 5) AS g ORDER BY g));
SELECT count(*) AS enqueued FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/big' || g, channel => 'ord-backlog', ordering_key => 'big')
    FROM generate_series(1, 20000) AS g ORDER BY g));
SELECT count(*) AS enqueued FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/late' || g, channel => 'ord-backlog', ordering_key => 'late')
    FROM generate_series(1, 5) AS g ORDER BY g));
ANALYZE httpq.request;
SELECT replace(url, 'https://example.com/', '') AS claimed FROM httpq.claim('w1', 10, '{ord-backlog}') ORDER BY id;

-- (The session's first report makes its plans, which reads index metapages: done here, apart.)
SELECT httpq.enqueue('https://example.com/warm', channel => 'ord-warm', ordering_key => 'warm') AS warm \gset
SELECT count(*) AS warm_claimed FROM httpq.claim('w1', 1, '{ord-warm}');
SELECT httpq.report('w1', jsonb_build_array(jsonb_build_object('id', :warm, 'attempt', 1, 'status', 200))) AS warm_reported;

-- Delivering a head promotes the next one, reading a few pages, whatever the backlog of its key or of keys before it
SELECT pg_temp.pages_read(pg_temp.report_head('big', 200)) AS big_pages \gset
SELECT pg_temp.pages_read(pg_temp.report_head('small', 200)) AS small_pages \gset
SELECT pg_temp.pages_read(pg_temp.report_head('late', 200)) AS late_pages \gset
SELECT greatest(:big_pages, :small_pages, :late_pages) < 300 AS cheap,
       abs(:big_pages - :small_pages) < 20 AND abs(:late_pages - :small_pages) < 20 AS flat;
SELECT replace(url, 'https://example.com/', '') AS head, state FROM httpq.request
WHERE channel = 'ord-backlog' AND state <> 'blocked' ORDER BY id;

-- So does a head that dies
SELECT replace(url, 'https://example.com/', '') AS claimed FROM httpq.claim('w1', 10, '{ord-backlog}') ORDER BY id;
SELECT pg_temp.pages_read(pg_temp.report_head('big', 404)) AS big_pages \gset
SELECT pg_temp.pages_read(pg_temp.report_head('small', 404)) AS small_pages \gset
SELECT pg_temp.pages_read(pg_temp.report_head('late', 404)) AS late_pages \gset
SELECT greatest(:big_pages, :small_pages, :late_pages) < 300 AS cheap,
       abs(:big_pages - :small_pages) < 20 AND abs(:late_pages - :small_pages) < 20 AS flat;

-- And a canceled head
SELECT pg_temp.pages_read(pg_temp.cancel_head('big')) AS big_pages \gset
SELECT pg_temp.pages_read(pg_temp.cancel_head('small')) AS small_pages \gset
SELECT pg_temp.pages_read(pg_temp.cancel_head('late')) AS late_pages \gset
SELECT greatest(:big_pages, :small_pages, :late_pages) < 300 AS cheap,
       abs(:big_pages - :small_pages) < 20 AND abs(:late_pages - :small_pages) < 20 AS flat;
SELECT replace(url, 'https://example.com/', '') AS head, state FROM httpq.request
WHERE channel = 'ord-backlog' AND state <> 'blocked' ORDER BY id;
SELECT ordering_key, count(*) AS blocked FROM httpq.request
WHERE channel = 'ord-backlog' AND state = 'blocked' GROUP BY ordering_key ORDER BY ordering_key;
