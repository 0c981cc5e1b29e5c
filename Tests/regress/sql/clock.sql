\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;

-- A worker claims a request at the real time, leased for an hour
SELECT httpq.enqueue('https://example.com/clock-1', channel => 'clock') AS c1 \gset
SELECT httpq.enqueue('https://example.com/clock-2', channel => 'clock') AS c2 \gset
SELECT count(*) AS claimed FROM httpq.claim('clock-owner', 2, '{clock}', '1 hour');

-- A superuser's session can move the queue's clock (the tests do)
SET httpq.now = '2100-01-01 00:00:00+00';
SELECT httpq._now() = '2100-01-01 00:00:00+00' AS moved;
RESET httpq.now;
SELECT httpq._now() = now() AS real_time;

-- A role allowed only to claim
CREATE ROLE regress_httpq_clock;
GRANT USAGE ON SCHEMA httpq TO regress_httpq_clock;
GRANT EXECUTE ON FUNCTION httpq.claim(text, integer, text[], interval, bigint, integer, jsonb) TO regress_httpq_clock;

-- It can set httpq.now, but its claim runs at the real time: other workers' leases do not expire
SET SESSION AUTHORIZATION regress_httpq_clock;
SET httpq.now = '2100-01-01 00:00:00+00';
SELECT count(*) AS claimed FROM httpq.claim('clock-intruder', 10, '{clock}');
RESET httpq.now;
RESET SESSION AUTHORIZATION;
SELECT id = :c1 AS is_c1, state, worker, attempts, lease_until > now() AS leased, last_error
FROM httpq.requests WHERE channel = 'clock' ORDER BY id;

-- Nor does its claim take requests that are not due until then
SELECT httpq.enqueue('https://example.com/clock-later', channel => 'clock', run_at => now() + interval '1 day') AS later \gset
SET SESSION AUTHORIZATION regress_httpq_clock;
SET httpq.now = '2100-01-01 00:00:00+00';
SELECT count(*) AS claimed FROM httpq.claim('clock-intruder', 10, '{clock}');
RESET httpq.now;
RESET SESSION AUTHORIZATION;
SELECT state, worker IS NULL AS unclaimed FROM httpq.requests WHERE id = :later;

REVOKE ALL ON SCHEMA httpq FROM regress_httpq_clock;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA httpq FROM regress_httpq_clock;
DROP ROLE regress_httpq_clock;
