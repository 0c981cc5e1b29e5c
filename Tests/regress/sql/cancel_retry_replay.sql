\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';
CREATE FUNCTION pg_temp.outcome(id bigint, attempt integer, status integer) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_array(jsonb_build_object('id', id, 'attempt', attempt, 'status', status, 'headers', '{}'::jsonb)) $$;

-- Cancel a waiting request: it leaves the live queue as canceled and is never claimed
SELECT httpq.enqueue('https://example.com/a', channel => 'crr') AS a \gset
SELECT httpq.cancel(:a) AS canceled;
SELECT state, reason FROM httpq.requests WHERE id = :a;
SELECT count(*) AS live FROM httpq.request WHERE id = :a;
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{crr}');

-- Canceling twice, or an unknown id, returns false
SELECT httpq.cancel(:a) AS canceled;
SELECT httpq.cancel(-1) AS canceled;

-- Cancel a running request: the worker's late report is ignored
SELECT httpq.enqueue('https://example.com/b', channel => 'crr') AS b \gset
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{crr}');
SELECT httpq.cancel(:b) AS canceled;
SELECT httpq.report('w1', pg_temp.outcome(:b, 1, 200)) AS applied;
SELECT state FROM httpq.requests WHERE id = :b;

-- A delivered request cannot be canceled
SELECT httpq.enqueue('https://example.com/c', channel => 'crr') AS c \gset
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{crr}');
SELECT httpq.report('w1', pg_temp.outcome(:c, 1, 200)) AS applied;
SELECT httpq.cancel(:c) AS canceled;
SELECT state FROM httpq.requests WHERE id = :c;

-- A dead request can be canceled: it stays finished, as canceled
SELECT httpq.enqueue('https://example.com/d', channel => 'crr') AS d \gset
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{crr}');
SELECT httpq.report('w1', pg_temp.outcome(:d, 1, 400)) AS applied;
SELECT httpq.cancel(:d) AS canceled;
SELECT state, reason FROM httpq.requests WHERE id = :d;

-- Retry a dead request: it waits again with a fresh budget of attempts, same id and idempotency key
SELECT httpq.set_channel('crr-retry', max_attempts => 2);
SELECT httpq.enqueue('https://example.com/e', channel => 'crr-retry', idempotency_key => 'e-key') AS e \gset
SELECT attempt FROM httpq.claim('w1', 10, '{crr-retry}');
SELECT httpq.report('w1', pg_temp.outcome(:e, 1, 500)) AS applied;
SET httpq.now = '2030-01-01 00:10:00+00';
SELECT attempt FROM httpq.claim('w1', 10, '{crr-retry}');
SELECT httpq.report('w1', pg_temp.outcome(:e, 2, 500)) AS applied;
SELECT state, attempts, reason FROM httpq.requests WHERE id = :e;
SELECT httpq.retry(:e) AS retried;
SELECT state, attempts, reason, last_status FROM httpq.requests WHERE id = :e;
SELECT attempt, headers ->> 'Idempotency-Key' AS idempotency_key FROM httpq.claim('w1', 10, '{crr-retry}');
SELECT httpq.report('w1', pg_temp.outcome(:e, 3, 500)) AS applied;
SET httpq.now = '2030-01-01 00:20:00+00';
SELECT attempt FROM httpq.claim('w1', 10, '{crr-retry}');
SELECT httpq.report('w1', pg_temp.outcome(:e, 4, 500)) AS applied;
SELECT state, attempts, reason FROM httpq.requests WHERE id = :e;

-- The whole history of its attempts is kept across the retry
SELECT attempt, status FROM httpq.attempts WHERE id = :e ORDER BY attempt;

-- Retry a canceled request
SELECT httpq.retry(:a) AS retried;
SELECT state FROM httpq.requests WHERE id = :a;

-- Retry a waiting request in backoff: it is due at once
SELECT httpq.enqueue('https://example.com/f', channel => 'crr-backoff') AS f \gset
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{crr-backoff}');
SELECT httpq.report('w1', jsonb_build_array(jsonb_build_object('id', :f, 'attempt', 1, 'status', 503,
                                                               'headers', '{"retry-after": "3600"}'))) AS applied;
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{crr-backoff}');
SELECT httpq.retry(:f) AS retried;
SELECT id = :f AS is_f, attempt FROM httpq.claim('w1', 10, '{crr-backoff}');

-- Nothing to retry: a delivered, running or unknown request
SELECT httpq.retry(:c) AS delivered, httpq.retry(:f) AS running, httpq.retry(-1) AS unknown;

-- Replay the dead requests of a channel that died in a time window
SET httpq.now = '2030-01-02 00:00:00+00';
SELECT count(*) FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/r' || g, channel => 'crr-replay') FROM generate_series(1, 6) AS g));
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{crr-replay}');
SELECT httpq.report('w1', jsonb_agg(jsonb_build_object('id', id, 'attempt', 1, 'status', 404))) AS applied
FROM (SELECT id FROM httpq.request WHERE channel = 'crr-replay' ORDER BY id LIMIT 2) AS s;
SET httpq.now = '2030-01-02 01:00:00+00';
SELECT httpq.report('w1', jsonb_agg(jsonb_build_object('id', id, 'attempt', 1, 'status', 422))) AS applied
FROM (SELECT id FROM httpq.request WHERE channel = 'crr-replay' ORDER BY id LIMIT 3) AS s;
SET httpq.now = '2030-01-02 02:00:00+00';
SELECT httpq.report('w1', jsonb_agg(jsonb_build_object('id', id, 'attempt', 1, 'status', 200))) AS applied
FROM (SELECT id FROM httpq.request WHERE channel = 'crr-replay') AS s;
SELECT last_status, state, count(*) FROM httpq.requests WHERE channel = 'crr-replay' GROUP BY 1, 2 ORDER BY 1;

-- Only those that died in [since, until) come back
SELECT httpq.replay('crr-replay', since => '2030-01-02 00:30:00+00', until => '2030-01-02 01:30:00+00') AS replayed;
SELECT last_status, state, count(*) FROM httpq.requests WHERE channel = 'crr-replay' GROUP BY 1, 2 ORDER BY 1;

-- Without a window, every dead request of the channel comes back; delivered ones do not
SELECT httpq.replay('crr-replay') AS replayed;
SELECT last_status, state, count(*) FROM httpq.requests WHERE channel = 'crr-replay' GROUP BY 1, 2 ORDER BY 1;

-- Replaying again finds nothing; another channel is untouched
SELECT httpq.replay('crr-replay') AS replayed;
SELECT httpq.replay('crr-nothing') AS replayed;
