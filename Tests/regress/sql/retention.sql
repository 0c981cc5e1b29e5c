\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';
CREATE FUNCTION pg_temp.outcome(id bigint, attempt integer, status integer) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_array(jsonb_build_object('id', id, 'attempt', attempt, 'status', status, 'headers', '{}'::jsonb)) $$;

-- Finished requests leave the live table and are kept in the history (one of four still runs)
SELECT count(*) FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/' || g, channel => 'ret') FROM generate_series(1, 4) AS g));
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{ret}');
SELECT httpq.report('w1', jsonb_agg(jsonb_build_object('id', id, 'attempt', 1, 'status', CASE WHEN n <= 2 THEN 200 ELSE 404 END)))
    AS applied
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM httpq.request WHERE channel = 'ret' AND url <> 'https://example.com/4') AS s;
SELECT (SELECT count(*) FROM httpq.request WHERE channel = 'ret') AS live,
       (SELECT count(*) FROM httpq.history WHERE channel = 'ret') AS history;
SELECT state, count(*) FROM httpq.requests WHERE channel = 'ret' GROUP BY state ORDER BY state;

-- A purge keeps what is younger than the age given
SET httpq.now = '2030-01-01 12:00:00+00';
SELECT httpq.purge(older_than => '1 day') >= 0 AS purged;
SELECT count(*) AS history FROM httpq.history WHERE channel = 'ret';

-- and removes what is older
SET httpq.now = '2030-01-02 00:00:01+00';
SELECT httpq.purge(older_than => '1 day') >= 3 AS purged;
SELECT count(*) AS history FROM httpq.history WHERE channel = 'ret';
SELECT state, count(*) FROM httpq.requests WHERE channel = 'ret' GROUP BY state;

-- Without an age, each channel's retention applies (7 days by default)
SELECT httpq.set_channel('ret-short', retention => '1 hour');
SELECT httpq.enqueue('https://example.com/s', channel => 'ret-short') AS s \gset
SELECT httpq.enqueue('https://example.com/l', channel => 'ret-long') AS l \gset
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{ret-short,ret-long}');
SELECT httpq.report('w1', pg_temp.outcome(:s, 1, 200) || pg_temp.outcome(:l, 1, 200)) AS applied;
SET httpq.now = '2030-01-02 02:00:00+00';
SELECT httpq.purge() >= 1 AS purged;
SELECT count(*) FILTER (WHERE id = :s) AS short_kept, count(*) FILTER (WHERE id = :l) AS long_kept
FROM httpq.history WHERE id IN (:s, :l);
SET httpq.now = '2030-01-10 00:00:00+00';
SELECT httpq.purge() >= 1 AS purged;
SELECT count(*) AS long_kept FROM httpq.history WHERE id = :l;

-- max_rows bounds one purge
SELECT count(*) FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/m' || g, channel => 'ret-max') FROM generate_series(1, 5) AS g));
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{ret-max}');
SELECT httpq.report('w1', jsonb_agg(jsonb_build_object('id', id, 'attempt', 1, 'status', 204))) AS applied
FROM httpq.request WHERE channel = 'ret-max';
SET httpq.now = '2030-02-01 00:00:00+00';
SELECT httpq.purge(older_than => '1 day', max_rows => 2) AS purged;
SELECT httpq.purge(older_than => '1 day') >= 3 AS purged;
SELECT count(*) AS history FROM httpq.history WHERE channel = 'ret-max';

-- A dead request that holds its ordering key is not purged, whatever its age
SELECT httpq.set_channel('ret-hold', ordering_on_dead => 'hold');
SELECT httpq.enqueue('https://example.com/h1', channel => 'ret-hold', ordering_key => 'k') AS h1 \gset
SELECT httpq.enqueue('https://example.com/h2', channel => 'ret-hold', ordering_key => 'k') AS h2 \gset
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{ret-hold}');
SELECT httpq.report('w1', pg_temp.outcome(:h1, 1, 400)) AS applied;
SET httpq.now = '2031-01-01 00:00:00+00';
SELECT httpq.purge(older_than => '0 seconds') >= 0 AS purged;
SELECT state FROM httpq.requests WHERE id = :h1;

-- Once it is canceled, the key moves on and it can be purged
SELECT httpq.cancel(:h1) AS canceled;
SELECT httpq.purge(older_than => '0 seconds') >= 0 AS purged;
SELECT count(*) AS history FROM httpq.history WHERE id = :h1;
SELECT state, blocked FROM httpq.requests WHERE id = :h2;

-- The live table keeps nothing that finished
SELECT count(*) AS finished_in_live_table FROM httpq.request WHERE channel LIKE 'ret%' AND state NOT IN ('waiting', 'blocked', 'running');
