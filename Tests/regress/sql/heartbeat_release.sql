\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';

-- A heartbeat extends the leases of the worker's running claims
SELECT httpq.enqueue('https://example.com/a', channel => 'hb') AS a \gset
SELECT httpq.enqueue('https://example.com/b', channel => 'hb') AS b \gset
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{hb}', '1 minute');
SET httpq.now = '2030-01-01 00:00:50+00';
SELECT httpq.heartbeat('w1', ARRAY[:a, :b]::bigint[], '1 minute') AS extended;
SELECT lease_until = '2030-01-01 00:01:50+00' AS extended_from_now FROM httpq.request WHERE id IN (:a, :b);

-- So a claim after the first lease would have run out takes nothing
SET httpq.now = '2030-01-01 00:01:30+00';
SELECT count(*) AS claimed FROM httpq.claim('w2', 10, '{hb}');
SELECT attempts, state FROM httpq.requests WHERE id IN (:a, :b);

-- Another worker's heartbeat, or one for requests not running, extends nothing
SELECT httpq.heartbeat('w2', ARRAY[:a, :b]::bigint[]) AS extended;
SELECT httpq.heartbeat('w1', ARRAY[-1]::bigint[]) AS extended;
SELECT httpq.heartbeat('w1', '{}') AS extended;

-- Without a heartbeat the lease runs out
SET httpq.now = '2030-01-01 00:02:00+00';
SELECT count(*) AS claimed FROM httpq.claim('w2', 10, '{hb}');
SELECT worker, attempts FROM httpq.requests WHERE id IN (:a, :b);

-- A heartbeat after the lease was taken over extends nothing
SELECT httpq.heartbeat('w1', ARRAY[:a, :b]::bigint[]) AS extended;

-- Release hands the claims back: they wait again and the attempt is given back
SELECT httpq.release('w2', ARRAY[:a]::bigint[]) AS released;
SELECT state, attempts, worker IS NULL AS no_worker, lease_until IS NULL AS no_lease FROM httpq.requests WHERE id = :a;
SELECT id = :a AS is_a, attempt FROM httpq.claim('w3', 10, '{hb}');

-- Another worker cannot release what it does not hold
SELECT httpq.release('w1', ARRAY[:a, :b]::bigint[]) AS released;
SELECT worker FROM httpq.requests WHERE id IN (:a, :b) ORDER BY id;

-- A released request is not logged as an attempt
SELECT count(*) AS logged FROM httpq.attempts WHERE id = :a AND worker = 'w2';

-- Each worker releases what it holds
SELECT httpq.release('w3', ARRAY[:a]::bigint[]) + httpq.release('w2', ARRAY[:b]::bigint[]) AS released;
SELECT state, count(*) FROM httpq.requests WHERE channel = 'hb' GROUP BY state;
