\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;

-- Retry-After values: delta-seconds or an HTTP date; anything else is ignored
SELECT value, httpq._retry_after(value, '2015-10-21 07:27:00+00') AS delay
FROM (VALUES ('120'), (' 5 '), ('0'), ('999999999'),
             ('Wed, 21 Oct 2015 07:28:00 GMT'), ('Wed, 21 Oct 2015 07:26:00 GMT'), ('Thu, 22 Oct 2015 07:27:00 GMT'),
             ('-1'), ('1.5'), ('soon'), (''), (NULL),
             ('Wed, 32 Oct 2015 07:28:00 GMT'), ('Wed, 21 Oct 2015 07:28:00 PST')) AS v(value);

SET httpq.now = '2030-01-01 00:00:00+00';
CREATE FUNCTION pg_temp.outcome(id bigint, attempt integer, status integer, retry_after text) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT jsonb_build_array(jsonb_build_object('id', id, 'attempt', attempt, 'status', status,
                                                'headers', jsonb_build_object('retry-after', retry_after)))
$$;

-- A 503 with Retry-After in seconds waits exactly that long
SELECT httpq.enqueue('https://example.com/503', channel => 'retry-after') AS a \gset
SELECT httpq.enqueue('https://example.com/429', channel => 'retry-after') AS b \gset
SELECT httpq.enqueue('https://example.com/500', channel => 'retry-after') AS c \gset
SELECT httpq.enqueue('https://example.com/429-date', channel => 'retry-after') AS d \gset
SELECT httpq.enqueue('https://example.com/503-past', channel => 'retry-after') AS e \gset
SELECT httpq.enqueue('https://example.com/502', channel => 'retry-after') AS f \gset
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{retry-after}');
SELECT httpq.report('w1', pg_temp.outcome(:a, 1, 503, '120')) AS applied;
SELECT run_at - '2030-01-01 00:00:00+00' AS waits FROM httpq.request WHERE id = :a;

-- A 429 with Retry-After in seconds too
SELECT httpq.report('w1', pg_temp.outcome(:b, 1, 429, '3600')) AS applied;
SELECT run_at - '2030-01-01 00:00:00+00' AS waits FROM httpq.request WHERE id = :b;

-- A 500 ignores Retry-After: the backoff applies (within 2 seconds)
SELECT httpq.report('w1', pg_temp.outcome(:c, 1, 500, '3600')) AS applied;
SELECT run_at <= '2030-01-01 00:00:02+00' AS backoff FROM httpq.request WHERE id = :c;

-- A 502 ignores it too
SELECT httpq.report('w1', pg_temp.outcome(:f, 1, 502, '3600')) AS applied;
SELECT run_at <= '2030-01-01 00:00:02+00' AS backoff FROM httpq.request WHERE id = :f;

-- A 429 with an HTTP date waits until that date
SELECT httpq.report('w1', pg_temp.outcome(:d, 1, 429, 'Tue, 01 Jan 2030 00:10:00 GMT')) AS applied;
SELECT run_at - '2030-01-01 00:00:00+00' AS waits FROM httpq.request WHERE id = :d;

-- A date in the past means now
SELECT httpq.report('w1', pg_temp.outcome(:e, 1, 503, 'Mon, 31 Dec 2029 23:00:00 GMT')) AS applied;
SELECT run_at - '2030-01-01 00:00:00+00' AS waits FROM httpq.request WHERE id = :e;

-- The request is not claimed before the time the server asked for
SET httpq.now = '2030-01-01 00:01:59+00';
SELECT count(*) FROM httpq.claim('w1', 10, '{retry-after}') WHERE id = :a;
SET httpq.now = '2030-01-01 00:02:00+00';
SELECT count(*) FROM httpq.claim('w1', 10, '{retry-after}') WHERE id = :a;

-- A Retry-After beyond the deadline makes the request dead now
SELECT httpq.enqueue('https://example.com/deadline', channel => 'retry-after-dl', deadline => '2030-01-01 01:00:00+00') AS g \gset
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{retry-after-dl}');
SELECT httpq.report('w1', pg_temp.outcome(:g, 1, 503, '7200')) AS applied;
SELECT state, reason FROM httpq.requests WHERE id = :g;
