\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';
CREATE FUNCTION pg_temp.outcome(id bigint, attempt integer, status integer) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_array(jsonb_build_object('id', id, 'attempt', attempt, 'status', status, 'headers', '{}'::jsonb)) $$;

-- A request whose deadline has passed before it could be sent is never sent
SELECT httpq.enqueue('https://example.com/a', channel => 'deadline', deadline => '2030-01-01 00:00:10+00') AS a \gset
SET httpq.now = '2030-01-01 00:00:10+00';
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{deadline}');
SELECT state, attempts, reason FROM httpq.requests WHERE id = :a;

-- Before its deadline it is sent as usual
SELECT httpq.enqueue('https://example.com/b', channel => 'deadline', deadline => '2030-01-01 00:00:11+00') AS b \gset
SELECT id = :b AS is_b FROM httpq.claim('w1', 10, '{deadline}');

-- A retry that would start after the deadline makes it dead now (a backoff of up to 10 minutes, one second left)
SELECT httpq.set_channel('deadline', backoff_base => '10 minutes', backoff_max => '10 minutes');
SELECT setseed(0.9);
SELECT httpq.report('w1', pg_temp.outcome(:b, 1, 500)) AS applied;
SELECT state, reason, last_status FROM httpq.requests WHERE id = :b;

-- A retry that fits before the deadline waits
SELECT httpq.enqueue('https://example.com/c', channel => 'deadline', deadline => '2031-01-01 00:00:00+00') AS c \gset
SELECT id = :c AS is_c FROM httpq.claim('w1', 10, '{deadline}');
SELECT httpq.report('w1', pg_temp.outcome(:c, 1, 500)) AS applied;
SELECT state FROM httpq.requests WHERE id = :c;

-- A dead request past its deadline cannot be retried: it would die again at once
\set VERBOSITY sqlstate
SELECT httpq.retry(:a);
\set VERBOSITY terse
SELECT state FROM httpq.requests WHERE id = :a;

-- A request is sent within its deadline: a deadline mid-batch is honored per request
SELECT count(*) FROM httpq.enqueue_many(ARRAY[
    httpq.new_request('https://example.com/late', channel => 'deadline-batch', deadline => '2030-01-01 00:05:00+00'),
    httpq.new_request('https://example.com/ok', channel => 'deadline-batch', deadline => '2030-01-01 01:00:00+00'),
    httpq.new_request('https://example.com/none', channel => 'deadline-batch')]);
SET httpq.now = '2030-01-01 00:30:00+00';
SELECT replace(url, 'https://example.com/', '') AS claimed FROM httpq.claim('w1', 10, '{deadline-batch}') ORDER BY id;
SELECT replace(url, 'https://example.com/', '') AS url, state FROM httpq.requests WHERE channel = 'deadline-batch' ORDER BY id;
