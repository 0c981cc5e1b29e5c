\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;

-- Which outcomes are retried
SELECT status, httpq._retryable(status) AS retryable
FROM (VALUES (NULL::integer), (100), (200), (204), (301), (304), (400), (401), (404), (408), (409), (410), (425),
             (429), (499), (500), (501), (502), (503), (504), (599), (600)) AS v(status);

-- Exponential backoff, capped, with full jitter: jitter * min(cap, base * 2^(attempt - 1))
SELECT attempt, base, cap, jitter, httpq._backoff(attempt, base, cap, jitter) AS delay,
       httpq._backoff(attempt, base, cap, jitter) = expected AS as_expected
FROM (VALUES
    (1, interval '2 seconds', interval '2 hours', 1.0::float8, interval '2 seconds'),
    (2, '2 seconds', '2 hours', 1.0, '4 seconds'),
    (3, '2 seconds', '2 hours', 1.0, '8 seconds'),
    (10, '2 seconds', '2 hours', 1.0, '1024 seconds'),
    (12, '2 seconds', '2 hours', 1.0, '4096 seconds'),
    (13, '2 seconds', '2 hours', 1.0, '2 hours'),
    (1000, '2 seconds', '2 hours', 1.0, '2 hours'),
    (3, '2 seconds', '2 hours', 0.0, '0'),
    (3, '2 seconds', '2 hours', 0.5, '4 seconds'),
    (0, '2 seconds', '2 hours', 1.0, '2 seconds'),
    (-5, '2 seconds', '2 hours', 1.0, '2 seconds'),
    (4, '100 milliseconds', '1 second', 1.0, '0.8 seconds'),
    (5, '100 milliseconds', '1 second', 1.0, '1 second')
) AS v(attempt, base, cap, jitter, expected);

-- The backoff is NULL in, NULL out
SELECT httpq._backoff(NULL, '1 second', '1 hour', 0.5) IS NULL AS null_attempt,
       httpq._backoff(1, '1 second', '1 hour', NULL) IS NULL AS null_jitter;

-- With random jitter, delays fall within [0, the cap of their step]
SELECT setseed(0.42);
SELECT count(*) AS draws,
       bool_and(d BETWEEN interval '0' AND interval '16 seconds') AS within_step,
       count(DISTINCT d) > 900 AS jittered
FROM (SELECT httpq._backoff(5, '1 second', '1 hour', random()) AS d FROM generate_series(1, 1000)) AS s;

-- Decisions for a finished attempt
SELECT v.status, v.retry_after, v.attempts_used, v.max_attempts, d.state,
       d.run_at - '2030-01-01 00:00:00+00' AS delay, d.reason
FROM (VALUES
    (200, NULL::text, 1, 5, NULL::timestamptz),
    (204, NULL, 5, 5, NULL),
    (302, NULL, 1, 5, NULL),
    (404, NULL, 1, 5, NULL),
    (NULL, NULL, 1, 5, NULL),
    (500, NULL, 1, 5, NULL),
    (500, NULL, 3, 5, NULL),
    (500, NULL, 5, 5, NULL),
    (503, '30', 1, 5, NULL),
    (429, '30', 1, 5, NULL),
    (500, '30', 1, 5, NULL),
    (503, '30', 1, 5, '2030-01-01 00:00:20+00'),
    (503, '30', 1, 5, '2030-01-01 00:01:00+00'),
    (500, NULL, 1, 5, '2030-01-01 00:00:01+00'),
    -- Retry-After is obeyed up to retry_after_max (here 1 hour), in seconds or as a date
    (429, '999999999', 1, 5, NULL),
    (503, 'Fri, 01 Jan 2100 00:00:00 GMT', 1, 5, NULL),
    (429, '3599', 1, 5, NULL)
) AS v(status, retry_after, attempts_used, max_attempts, deadline),
LATERAL httpq._verdict(v.status, v.retry_after, v.attempts_used, v.max_attempts, v.deadline,
                       '2 seconds', '2 hours', '1 hour', 1.0, '2030-01-01 00:00:00+00') AS d;

-- The retry schedule of the default settings, printed by the backoff function itself
SELECT * FROM httpq.retry_schedule('backoff-defaults');

-- A channel's backoff settings change its schedule
SELECT httpq.set_channel('backoff-fast', max_attempts => 6, backoff_base => '100 milliseconds', backoff_max => '1 second');
SELECT * FROM httpq.retry_schedule('backoff-fast');

-- Retries of a request in a channel follow its schedule
SET httpq.now = '2030-01-01 00:00:00+00';
SELECT setseed(0.5);
SELECT httpq.set_channel('backoff-flow', backoff_base => '10 seconds', backoff_max => '40 seconds');
SELECT httpq.enqueue('https://example.com/', channel => 'backoff-flow') AS id \gset
CREATE TEMP TABLE delays (attempt integer, delay interval);
DO $$
DECLARE
    t timestamptz := '2030-01-01 00:00:00+00';
    c record;
BEGIN
    FOR n IN 1 .. 6 LOOP
        PERFORM set_config('httpq.now', t::text, true);
        SELECT * INTO c FROM httpq.claim('w1', 10, '{backoff-flow}');
        PERFORM httpq.report('w1', jsonb_build_array(jsonb_build_object('id', c.id, 'attempt', c.attempt, 'status', 503)));
        INSERT INTO delays SELECT c.attempt, r.run_at - t FROM httpq.request r WHERE r.id = c.id;
        t := t + interval '1 minute';
    END LOOP;
END;
$$;
SELECT attempt, delay <= least(interval '10 seconds' * 2 ^ (attempt - 1), interval '40 seconds') AS within_step
FROM delays ORDER BY attempt;
