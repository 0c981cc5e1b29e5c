\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;

-- A tenant's channel and a shared one, each with requests waiting, running and scheduled
CREATE ROLE regress_httpq_qs_app;
CREATE ROLE regress_httpq_qs_worker;
SELECT httpq.grant_role('app', 'regress_httpq_qs_app');
SELECT httpq.grant_role('worker', 'regress_httpq_qs_worker');
SET ROLE regress_httpq_qs_app;
SELECT httpq.enqueue('https://example.com/a', channel => 'qs-owned') > 0 AS enqueued;
RESET ROLE;
SELECT count(*) AS enqueued FROM (
    SELECT httpq.enqueue('https://example.com/b', channel => 'qs-shared')
    UNION ALL SELECT httpq.enqueue('https://example.com/c', channel => 'qs-shared')
    UNION ALL SELECT httpq.enqueue('https://example.com/d', channel => 'qs-shared', run_at => now() + interval '1 hour')) AS e;
SELECT count(*) AS claimed FROM httpq.claim('qs-w', 1, '{qs-shared}');
SELECT httpq.pause('qs-owned');

-- Every channel named, or all; waiting counts scheduled requests, as httpq.stats does
SELECT channel, paused, waiting, running, oldest_waiting_age > '0' AS has_age, breaker_state
FROM httpq.queue_stats('{qs-owned,qs-shared,qs-none}');
SELECT count(*) >= 2 AS all_channels FROM httpq.queue_stats() WHERE channel LIKE 'qs-%';
SELECT q.waiting = s.waiting AND q.running = s.running AS same_as_stats
FROM httpq.queue_stats('{qs-shared}') q JOIN httpq.stats s USING (channel);

-- A worker role reads every channel through it, though httpq.stats is not its to read
SET ROLE regress_httpq_qs_worker;
SELECT channel, waiting, running FROM httpq.queue_stats('{qs-owned,qs-shared}');
SELECT count(*) FROM httpq.stats;
RESET ROLE;

-- An application role may not
SET ROLE regress_httpq_qs_app;
SELECT count(*) FROM httpq.queue_stats();
RESET ROLE;

DELETE FROM httpq.request WHERE channel LIKE 'qs-%';
DELETE FROM httpq.channel WHERE name LIKE 'qs-%';
SELECT httpq.revoke_role('app', 'regress_httpq_qs_app'), httpq.revoke_role('worker', 'regress_httpq_qs_worker');
DROP ROLE regress_httpq_qs_app, regress_httpq_qs_worker;
