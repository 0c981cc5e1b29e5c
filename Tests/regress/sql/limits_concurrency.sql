\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';
CREATE FUNCTION pg_temp.outcome(id bigint, attempt integer, status integer) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_array(jsonb_build_object('id', id, 'attempt', attempt, 'status', status, 'headers', '{}'::jsonb)) $$;

-- A channel with at most 2 requests running at once (long leases: time moves below)
SELECT httpq.set_channel('conc', max_concurrency => 2);
SELECT count(*) FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/' || g, channel => 'conc') FROM generate_series(1, 5) AS g));

-- A claim of 10 takes 2
CREATE TEMP TABLE taken AS SELECT id, attempt FROM httpq.claim('w1', 10, '{conc}', '1 day');
SELECT count(*) AS claimed FROM taken;

-- Another worker gets none while both run
SELECT count(*) AS claimed FROM httpq.claim('w2', 10, '{conc}', '1 day');

-- A finished request frees one slot, for any worker
SELECT httpq.report('w1', pg_temp.outcome(min(id), 1, 200)) AS applied FROM taken;
SELECT count(*) AS claimed FROM httpq.claim('w2', 10, '{conc}', '1 day');
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{conc}', '1 day');

-- A retried request frees its slot while it waits for its backoff
SELECT httpq.report('w1', pg_temp.outcome(max(id), 1, 503)) AS applied FROM taken;
SELECT count(*) AS claimed FROM httpq.claim('w2', 10, '{conc}', '1 day');
SELECT state, count(*) FROM httpq.requests WHERE channel = 'conc' GROUP BY state ORDER BY state;

-- Raising the limit lets more run at once
SELECT httpq.set_channel('conc', max_concurrency => 4);
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{conc}', '1 day');
SELECT count(*) AS running FROM httpq.request WHERE channel = 'conc' AND state = 'running';

-- Lowering it below what runs claims nothing until enough have finished
SELECT httpq.set_channel('conc', max_concurrency => 1);
SET httpq.now = '2030-01-01 01:00:00+00';
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{conc}', '1 day');

-- Lifting the limit
SELECT httpq.unset_channel('conc', '{max_concurrency}');
SELECT max_concurrency IS NULL AS unlimited FROM httpq.channel WHERE name = 'conc';

-- Expired leases free their slots: the claim sweeps them first
SELECT httpq.set_channel('conc-lease', max_concurrency => 1);
SELECT count(*) FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/l' || g, channel => 'conc-lease') FROM generate_series(1, 2) AS g));
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{conc-lease}');
SET httpq.now = '2030-01-01 01:05:00+00';
SELECT count(*) AS claimed FROM httpq.claim('w2', 10, '{conc-lease}');
SELECT count(*) AS running FROM httpq.request WHERE channel = 'conc-lease' AND state = 'running';
