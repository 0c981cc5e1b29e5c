\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';
CREATE FUNCTION pg_temp.outcome(id bigint, attempt integer, status integer) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_array(jsonb_build_object('id', id, 'attempt', attempt, 'status', status, 'headers', '{}'::jsonb)) $$;

-- A worker claims a request with a one-minute lease, then dies
SELECT httpq.enqueue('https://example.com/a', channel => 'lease') AS a \gset
SELECT id = :a AS is_a, attempt FROM httpq.claim('w1', 10, '{lease}', '1 minute');

-- Before the lease runs out, nobody else gets it
SET httpq.now = '2030-01-01 00:00:59+00';
SELECT count(*) AS claimed FROM httpq.claim('w2', 10, '{lease}');

-- Once it has run out, the request is claimable again and the lost attempt counts
SET httpq.now = '2030-01-01 00:01:01+00';
SELECT id = :a AS is_a, attempt FROM httpq.claim('w2', 10, '{lease}');
SELECT state, attempts, worker FROM httpq.requests WHERE id = :a;
SELECT attempt, worker, status, error FROM httpq.attempts WHERE id = :a ORDER BY attempt;

-- The late report of the expired claim is ignored; the new claim's report is applied
SELECT httpq.report('w1', pg_temp.outcome(:a, 1, 200)) AS late_report;
SELECT state, worker FROM httpq.requests WHERE id = :a;
SELECT httpq.report('w2', pg_temp.outcome(:a, 2, 200)) AS applied;
SELECT state, attempts FROM httpq.requests WHERE id = :a;

-- Even a late report that would have failed changes nothing
SELECT httpq.report('w1', pg_temp.outcome(:a, 1, 500)) AS late_report;
SELECT state FROM httpq.requests WHERE id = :a;

-- A worker that reclaims after its own lease expired reports with the new attempt only
SELECT httpq.enqueue('https://example.com/b', channel => 'lease') AS b \gset
SELECT attempt FROM httpq.claim('w1', 10, '{lease}');
SET httpq.now = '2030-01-01 00:03:00+00';
SELECT attempt FROM httpq.claim('w1', 10, '{lease}');
SELECT httpq.report('w1', pg_temp.outcome(:b, 1, 200)) AS old_attempt;
SELECT httpq.report('w1', pg_temp.outcome(:b, 2, 200)) AS current_attempt;

-- An expired lease on the last attempt makes the request dead
SELECT httpq.enqueue('https://example.com/c', channel => 'lease', max_attempts => 1) AS c \gset
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{lease}');
SET httpq.now = '2030-01-01 00:05:00+00';
SELECT count(*) AS claimed FROM httpq.claim('w2', 10, '{lease}');
SELECT state, attempts, reason, last_error FROM httpq.requests WHERE id = :c;

-- An expired lease past the request's deadline makes it dead
SELECT httpq.enqueue('https://example.com/d', channel => 'lease', deadline => '2030-01-01 00:06:00+00') AS d \gset
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{lease}');
SET httpq.now = '2030-01-01 00:07:00+00';
SELECT count(*) AS claimed FROM httpq.claim('w2', 10, '{lease}');
SELECT state, reason FROM httpq.requests WHERE id = :d;

-- Expired leases are swept by any claim, whatever channels it asks for
SELECT httpq.enqueue('https://example.com/e', channel => 'lease-sweep') AS e \gset
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{lease-sweep}');
SET httpq.now = '2030-01-01 00:09:00+00';
SELECT count(*) AS claimed FROM httpq.claim('w2', 10, '{lease-nothing-here}');
SELECT state, attempts FROM httpq.requests WHERE id = :e;
