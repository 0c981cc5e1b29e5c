\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET TimeZone = 'UTC';
SET httpq.now = '2030-01-01 00:00:00+00';
-- Request ids from a known number on, so that the reasons and notices below read the same
-- whichever tests ran before (put back at the end, with these requests gone).
SELECT nextval(pg_get_serial_sequence('httpq.request', 'id')) AS ids_before \gset
SELECT setval(pg_get_serial_sequence('httpq.request', 'id'), 1000000000) IS NOT NULL AS ids_from_a_billion;
-- Reports every running claim of a worker with one status, in one report.
CREATE FUNCTION pg_temp.report_all(worker text, status integer) RETURNS integer
LANGUAGE sql AS $$
    SELECT httpq.report($1, coalesce(jsonb_agg(jsonb_build_object('id', r.id, 'attempt', r.attempt, 'status', $2) ORDER BY r.id), '[]'))
    FROM httpq.request r WHERE r.worker = $1 AND r.state = 'running'
$$;
CREATE FUNCTION pg_temp.breaker(channel text)
RETURNS TABLE (state text, failed integer, opened integer, probe_at timestamptz, reason text)
LANGUAGE sql AS $$
    SELECT c.breaker_state, c.breaker_failed, c.breaker_opened, c.breaker_probe_at, c.breaker_reason
    FROM httpq.channel c WHERE c.name = $1
$$;

-- The settings and their defaults
SELECT httpq.set_channel('brk-default');
SELECT breaker_failures, breaker_cooldown, breaker_cooldown_max FROM httpq.channels WHERE channel = 'brk-default';
SELECT * FROM pg_temp.breaker('brk-default');
SELECT httpq.set_channel('brk', breaker_failures => 3, breaker_cooldown => '10 seconds', breaker_cooldown_max => '35 seconds',
                         backoff_base => '1 second', backoff_max => '1 second');
SELECT breaker_failures, breaker_cooldown, breaker_cooldown_max FROM httpq.channels WHERE channel = 'brk';
SELECT count(*) AS enqueued FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/brk/' || g, channel => 'brk') FROM generate_series(1, 20) AS g));
SELECT httpq.enqueue('https://example.com/ok/1', channel => 'brk-ok') IS NOT NULL AS enqueued;
SELECT httpq.enqueue('https://example.com/ok/2', channel => 'brk-ok') IS NOT NULL AS enqueued;
SET client_min_messages = notice;

-- Retryable failures are counted; below breaker_failures nothing else changes
SELECT count(*) AS claimed FROM httpq.claim('w1', 2, '{brk}');
SELECT pg_temp.report_all('w1', 503) AS applied;
SELECT * FROM pg_temp.breaker('brk');

-- The third opens it, and says why and when it probes
SELECT count(*) AS claimed FROM httpq.claim('w1', 1, '{brk}');
SELECT pg_temp.report_all('w1', 503) AS applied;
SELECT * FROM pg_temp.breaker('brk');
SELECT channel, paused, breaker_state, breaker_reason, breaker_probe_at FROM httpq.stats WHERE channel = 'brk';

-- While open, claims take nothing from it (no attempt is used), and the channel beside it is served
SET httpq.now = '2030-01-01 00:00:05+00';
SELECT channel, count(*) FROM httpq.claim('w1', 10, '{brk,brk-ok}') GROUP BY channel;
SELECT pg_temp.report_all('w1', 200) AS delivered;
BEGIN;   -- a claim of every channel (rolled back: it may take other tests' requests)
SELECT count(*) AS claimed_from_any FROM httpq.claim('w-any', 100) WHERE channel = 'brk';
ROLLBACK;
SELECT state, attempts, count(*) FROM httpq.requests WHERE channel = 'brk' GROUP BY state, attempts ORDER BY attempts;
-- A worker is told to claim again when the probe is due
SELECT httpq.next_run_at('{brk}');

-- At probe_at one claim takes exactly one request, the probe: half-open
SET httpq.now = '2030-01-01 00:00:10+00';
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{brk}');
SELECT * FROM pg_temp.breaker('brk');
SELECT count(*) AS claimed FROM httpq.claim('w2', 10, '{brk}');

-- The probe fails: open again, for twice the cool-down
SELECT pg_temp.report_all('w1', 503) AS applied;
SELECT * FROM pg_temp.breaker('brk');

-- And again: 40 seconds is more than breaker_cooldown_max, which caps it
SET httpq.now = '2030-01-01 00:00:30+00';
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{brk}');
SELECT pg_temp.report_all('w1', 503) AS applied;
SELECT * FROM pg_temp.breaker('brk');

-- A probe whose worker never reports is given up at its probe_at (the time-out, 30 seconds,
-- and 10 more): then another probe goes
SET httpq.now = '2030-01-01 00:01:05+00';
SELECT count(*) AS claimed FROM httpq.claim('lost', 10, '{brk}');
SET httpq.now = '2030-01-01 00:01:44+00';
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{brk}');
SET httpq.now = '2030-01-01 00:01:45+00';
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{brk}');
SELECT worker, count(*) FROM httpq.requests WHERE channel = 'brk' AND state = 'running' GROUP BY worker ORDER BY worker;

-- The probe's success closes it: counts back to 0, and claims take as before
SELECT pg_temp.report_all('w1', 200) AS applied;
SELECT * FROM pg_temp.breaker('brk');
SELECT count(*) AS claimed FROM httpq.claim('w1', 3, '{brk}');

-- The lost probe's late failure counts again; any success resets the count
SELECT pg_temp.report_all('lost', 503) AS applied;
SELECT failed FROM pg_temp.breaker('brk');
SELECT pg_temp.report_all('w1', 200) AS applied;
SELECT failed FROM pg_temp.breaker('brk');

-- Non-retryable answers (here 404) count neither way
SELECT count(*) AS claimed FROM httpq.claim('w1', 2, '{brk}');
SELECT pg_temp.report_all('w1', 500) AS applied;
SELECT count(*) AS claimed FROM httpq.claim('w1', 2, '{brk}');
SELECT pg_temp.report_all('w1', 404) AS applied;
SELECT state, failed FROM pg_temp.breaker('brk');

-- No response at all (a network error, a time-out) is a retryable failure: it opens
SELECT count(*) AS claimed FROM httpq.claim('w1', 1, '{brk}');
SELECT httpq.report('w1', jsonb_agg(jsonb_build_object('id', r.id, 'attempt', r.attempt, 'status', NULL,
                                                       'error', 'Timeout was reached')))
       AS applied
FROM httpq.request r WHERE r.worker = 'w1' AND r.state = 'running';
SELECT state, failed, opened, reason FROM pg_temp.breaker('brk');

-- Failures reported while open are of attempts sent before it opened: they change nothing
SET httpq.now = '2030-01-01 00:02:00+00';
SELECT httpq.set_channel('brk-late', breaker_failures => 2);
SELECT count(*) AS enqueued FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/late/' || g, channel => 'brk-late') FROM generate_series(1, 4) AS g));
SELECT count(*) AS claimed FROM httpq.claim('w3', 4, '{brk-late}');
SELECT httpq.report('w3', jsonb_agg(jsonb_build_object('id', r.id, 'attempt', r.attempt, 'status', 502) ORDER BY r.id))
       AS applied
FROM (SELECT * FROM httpq.request r WHERE r.worker = 'w3' AND r.state = 'running' ORDER BY r.id LIMIT 2) AS r;
SELECT pg_temp.report_all('w3', 502) AS applied;
SELECT * FROM pg_temp.breaker('brk-late');

-- resume closes an open breaker by hand
SET httpq.now = '2030-01-01 00:02:10+00';
SELECT httpq.resume('brk-late');
SELECT * FROM pg_temp.breaker('brk-late');

-- A report with a success for the channel counts as a success, whatever else it carries
-- (here as many failures as open it)
SELECT count(*) AS claimed FROM httpq.claim('w3', 3, '{brk-late}');
SELECT httpq.report('w3', jsonb_agg(jsonb_build_object('id', r.id, 'attempt', r.attempt,
                                                       'status', CASE WHEN r.n = 1 THEN 204 ELSE 503 END)))
       AS applied
FROM (SELECT r.*, row_number() OVER (ORDER BY r.id) AS n FROM httpq.request r WHERE r.worker = 'w3' AND r.state = 'running') AS r;
SELECT * FROM pg_temp.breaker('brk-late');

-- breaker_failures NULL (unset) turns the breaker off, closing it: failures never open it
SELECT httpq.unset_channel('brk', '{breaker_failures}');
SELECT breaker_failures FROM httpq.channels WHERE channel = 'brk';
SELECT * FROM pg_temp.breaker('brk');
SET httpq.now = '2030-01-01 00:03:00+00';
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{brk}');
SELECT pg_temp.report_all('w1', 503) AS applied;
SELECT * FROM pg_temp.breaker('brk');
SELECT httpq.set_channel('brk', breaker_failures => 10);
SELECT breaker_failures FROM httpq.channels WHERE channel = 'brk';

-- 410 Gone pauses the channel, saying why; the request waits with its attempt not counted
SELECT httpq.enqueue('https://example.com/gone/1', channel => 'brk-gone', method => 'PUT') AS g1 \gset
SELECT httpq.enqueue('https://example.com/gone/2', channel => 'brk-gone') AS g2 \gset
SELECT count(*) AS claimed FROM httpq.claim('w4', 1, '{brk-gone}');
SELECT pg_temp.report_all('w4', 410) AS applied;
SELECT paused, paused_reason, breaker_state FROM httpq.stats WHERE channel = 'brk-gone';
SELECT id = :g1 AS is_g1, state, attempts, last_status, last_error FROM httpq.requests WHERE channel = 'brk-gone' ORDER BY id;
SELECT r.attempt - r.attempt_floor AS attempts_counted, r.log -> -1 ->> 'status' AS logged_status
FROM httpq.request r WHERE r.id = :g1;
SELECT count(*) AS claimed FROM httpq.claim('w4', 10, '{brk-gone}');
-- resume sends it again
SELECT httpq.resume('brk-gone');
SELECT paused, paused_reason FROM httpq.stats WHERE channel = 'brk-gone';
SELECT id = :g1 AS is_g1, attempt FROM httpq.claim('w4', 10, '{brk-gone}') ORDER BY id;
SELECT pg_temp.report_all('w4', 200) AS applied;
-- A manual pause says who paused
SELECT httpq.pause('brk-gone');
SELECT paused, paused_reason = 'paused by role ' || current_user AS says_who FROM httpq.stats WHERE channel = 'brk-gone';
SELECT httpq.resume('brk-gone');

-- A 410 to a request past its deadline: it dies, as it would unsent
SELECT httpq.enqueue('https://example.com/gone/3', channel => 'brk-gone2', deadline => '2030-01-01 00:03:30+00') AS g3 \gset
SELECT count(*) AS claimed FROM httpq.claim('w4', 1, '{brk-gone2}');
SET httpq.now = '2030-01-01 00:04:00+00';
SELECT pg_temp.report_all('w4', 410) AS applied;
SELECT state, reason FROM httpq.requests WHERE id = :g3;
SELECT paused FROM httpq.stats WHERE channel = 'brk-gone2';
SET client_min_messages = warning;

-- Bad settings
SELECT httpq.set_channel('brk', breaker_failures => 0);
SELECT httpq.set_channel('brk', breaker_cooldown => '0');
SELECT httpq.set_channel('brk', breaker_cooldown => '2 days');
SELECT httpq.set_channel('brk', breaker_cooldown_max => '8 days');
SELECT httpq.set_channel('brk', breaker_cooldown => '1 hour');
SELECT httpq.set_channel('brk', breaker_cooldown => '1 minute', breaker_cooldown_max => '30 seconds');
SELECT httpq.unset_channel('brk', '{breaker_state}');
-- unset puts the cool-downs back to their defaults
SELECT httpq.unset_channel('brk', '{breaker_cooldown, breaker_cooldown_max}');
SELECT breaker_cooldown, breaker_cooldown_max FROM httpq.channels WHERE channel = 'brk';

-- The cool-down doubles up to its cap, without overflow
SELECT n, httpq._breaker_cooldown('30 seconds', '10 minutes', n) FROM unnest(ARRAY[1, 2, 3, 5, 6, 1000000]) AS n;

-- Cleaning up: these channels and requests would otherwise be claimed by later tests
DELETE FROM httpq.request WHERE channel LIKE 'brk%';
DELETE FROM httpq.history WHERE channel LIKE 'brk%';
DELETE FROM httpq.channel WHERE name LIKE 'brk%';
SELECT setval(pg_get_serial_sequence('httpq.request', 'id'), :ids_before) IS NOT NULL AS ids_as_before;
