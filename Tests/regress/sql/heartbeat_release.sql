\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';

-- A heartbeat extends the leases of the worker's running claims, named by (id, attempt)
SELECT httpq.enqueue('https://example.com/a', channel => 'hb') AS a \gset
SELECT httpq.enqueue('https://example.com/b', channel => 'hb') AS b \gset
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{hb}', '1 minute');
SET httpq.now = '2030-01-01 00:00:50+00';
SELECT httpq.heartbeat('w1', ARRAY[:a, :b]::bigint[], '{1,1}', '1 minute') AS extended;
SELECT lease_until = '2030-01-01 00:01:50+00' AS extended_from_now FROM httpq.request WHERE id IN (:a, :b);

-- So a claim after the first lease would have run out takes nothing
SET httpq.now = '2030-01-01 00:01:30+00';
SELECT count(*) AS claimed FROM httpq.claim('w2', 10, '{hb}');
SELECT attempts, state FROM httpq.requests WHERE id IN (:a, :b);

-- Another worker's heartbeat, one for another attempt, or one for requests not running, extends nothing
SELECT httpq.heartbeat('w2', ARRAY[:a, :b]::bigint[], '{1,1}') AS extended;
SELECT httpq.heartbeat('w1', ARRAY[:a, :b]::bigint[], '{2,0}') AS extended;
SELECT httpq.heartbeat('w1', ARRAY[-1]::bigint[], '{1}') AS extended;
SELECT httpq.heartbeat('w1', '{}', '{}') AS extended;

-- ids and attempts must pair up
SELECT httpq.heartbeat('w1', ARRAY[:a, :b]::bigint[], '{1}');
SELECT httpq.heartbeat('w1', ARRAY[:a]::bigint[], NULL);
SELECT httpq.release('w1', ARRAY[:a]::bigint[], '{NULL}');

-- Without a heartbeat the lease runs out; the next claim is attempt 2
SET httpq.now = '2030-01-01 00:02:00+00';
SELECT count(*) AS claimed FROM httpq.claim('w2', 10, '{hb}');
SELECT worker, attempts FROM httpq.requests WHERE id IN (:a, :b);

-- A heartbeat of attempt 1 after the lease was taken over extends nothing
SELECT httpq.heartbeat('w1', ARRAY[:a, :b]::bigint[], '{1,1}') AS extended;

-- Release hands a claim back: it waits again, the attempt does not count, and it is logged as released
SELECT httpq.release('w2', ARRAY[:a]::bigint[], '{2}') AS released;
SELECT state, attempts, worker IS NULL AS no_worker, lease_until IS NULL AS no_lease FROM httpq.requests WHERE id = :a;
SELECT attempt, worker, error FROM httpq.attempts WHERE id = :a ORDER BY attempt;
SELECT attempt - attempt_floor AS counted FROM httpq.request WHERE id = :a;

-- The next claim gets a new attempt number, never the released one
SELECT id = :a AS is_a, attempt FROM httpq.claim('w3', 10, '{hb}');

-- Another worker, or the same worker for the released attempt, cannot release what it does not hold
SELECT httpq.release('w1', ARRAY[:a, :b]::bigint[], '{3,2}') AS released;
SELECT httpq.release('w2', ARRAY[:a]::bigint[], '{2}') AS released;
SELECT worker, attempts FROM httpq.requests WHERE id IN (:a, :b) ORDER BY id;

-- Each worker releases what it holds
SELECT httpq.release('w3', ARRAY[:a]::bigint[], '{3}') + httpq.release('w2', ARRAY[:b]::bigint[], '{2}') AS released;
SELECT state, count(*) FROM httpq.requests WHERE channel = 'hb' GROUP BY state;

-- Released attempts do not count against max_attempts: with max_attempts 1, a request
-- released twice still gets its one attempt
SELECT httpq.enqueue('https://example.com/c', channel => 'hb-once', max_attempts => 1) AS c \gset
SELECT attempt FROM httpq.claim('w1', 1, '{hb-once}');
SELECT httpq.release('w1', ARRAY[:c]::bigint[], '{1}') AS released;
SELECT attempt FROM httpq.claim('w1', 1, '{hb-once}');
SELECT httpq.release('w1', ARRAY[:c]::bigint[], '{2}') AS released;
SELECT attempt FROM httpq.claim('w1', 1, '{hb-once}');
SELECT httpq.report('w1', jsonb_build_array(jsonb_build_object('id', :c, 'attempt', 3, 'status', 500))) AS applied;
SELECT state, attempts, reason FROM httpq.requests WHERE id = :c;

-- A worker restarted under the same name: the old process's heartbeat, release and report
-- of attempt 1 change nothing once the new one holds attempt 2
SELECT httpq.enqueue('https://example.com/d', channel => 'hb-same-name') AS d \gset
SELECT attempt FROM httpq.claim('host:42', 1, '{hb-same-name}', '1 minute');
SET httpq.now = '2030-01-01 00:04:00+00';
SELECT attempt FROM httpq.claim('host:42', 1, '{hb-same-name}', '1 minute');
SELECT httpq.heartbeat('host:42', ARRAY[:d]::bigint[], '{1}', '1 hour') AS stale_heartbeat;
SELECT httpq.release('host:42', ARRAY[:d]::bigint[], '{1}') AS stale_release;
SELECT httpq.report('host:42', jsonb_build_array(jsonb_build_object('id', :d, 'attempt', 1, 'status', 200))) AS stale_report;
SELECT state, attempts, worker, lease_until = '2030-01-01 00:05:00+00' AS lease_unchanged FROM httpq.requests WHERE id = :d;
SELECT httpq.report('host:42', jsonb_build_array(jsonb_build_object('id', :d, 'attempt', 2, 'status', 200))) AS applied;
SELECT state, attempts FROM httpq.requests WHERE id = :d;
