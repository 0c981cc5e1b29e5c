\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET TimeZone = 'UTC';
CREATE FUNCTION pg_temp.outcome(id bigint, attempt integer, status integer, duration_ms numeric) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_array(jsonb_build_object('id', id, 'attempt', attempt, 'status', status,
                                                               'headers', '{}'::jsonb, 'duration_ms', duration_ms)) $$;
-- Reports the running claims of a channel, each with the status and duration given for its url.
CREATE FUNCTION pg_temp.report_all(worker text, channel text, statuses jsonb) RETURNS integer
LANGUAGE sql AS $$
    SELECT httpq.report(report_all.worker, coalesce(jsonb_agg(jsonb_build_object(
               'id', r.id, 'attempt', r.attempt, 'status', (statuses -> r.url -> 0)::integer, 'headers', '{}'::jsonb,
               'duration_ms', (statuses -> r.url -> 1)::numeric)), '[]'))
    FROM httpq.request r WHERE r.channel = report_all.channel AND r.worker = report_all.worker
$$;
-- The attempts in a request's log, live or finished.
CREATE FUNCTION pg_temp.log(id bigint) RETURNS TABLE (attempt integer, at timestamptz, duration_ms numeric, unsent boolean)
LANGUAGE sql AS $$
    SELECT (e ->> 'attempt')::integer, (e ->> 'at')::timestamptz, (e ->> 'duration_ms')::numeric, e ? 'unsent'
    FROM (SELECT h.log FROM httpq.history h WHERE h.id = log.id
          UNION ALL SELECT r.log FROM httpq.request r WHERE r.id = log.id) AS x,
         jsonb_array_elements(x.log) AS e
$$;

-- The columns of httpq.performance
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'httpq.performance'::regclass AND attnum > 0 ORDER BY attnum;

-- Outcomes of every kind in channel perf (two attempts each, one second apart), minutes apart
SELECT httpq.set_channel('perf', max_attempts => 2, backoff_base => '1 second', backoff_max => '1 second');
SET httpq.now = '2031-03-01 10:30:00+00';   -- 90 minutes before: in no window
SELECT httpq.enqueue('https://example.com/old', channel => 'perf') AS old \gset
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{perf}');
SELECT pg_temp.report_all('w1', 'perf', '{"https://example.com/old": [200, 5]}') AS applied;
SET httpq.now = '2031-03-01 11:54:30+00';   -- 6 minutes before: in the hour only
SELECT httpq.enqueue('https://example.com/a', channel => 'perf') AS a \gset
SELECT httpq.enqueue('https://example.com/b', channel => 'perf') AS b \gset
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{perf}');
SELECT pg_temp.report_all('w1', 'perf', '{"https://example.com/a": [200, 5], "https://example.com/b": [503, 5]}')
    AS applied;
SET httpq.now = '2031-03-01 11:58:30+00';   -- 2 minutes before: in both
SELECT httpq.enqueue('https://example.com/c', channel => 'perf') AS c \gset
SELECT httpq.enqueue('https://example.com/d', channel => 'perf') AS d \gset
SELECT httpq.enqueue('https://example.com/unsent', channel => 'perf') AS u \gset
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{perf}');
SELECT httpq.report('w1', pg_temp.outcome(:b, 2, 503, 5) || pg_temp.outcome(:c, 1, 404, 5)
                          || pg_temp.outcome(:d, 1, 200, 5)
                          || jsonb_build_array(jsonb_build_object('id', :u, 'attempt', 1, 'unsent', true,
                                                                  'error', 'secret x cannot be opened'))) AS applied;
-- Leases that pass: one with an attempt left (tried again), one without (dead)
SELECT httpq.enqueue('https://example.com/lease-again', channel => 'perf') AS la \gset
SELECT httpq.enqueue('https://example.com/lease-dead', channel => 'perf', max_attempts => 1) AS ld \gset
SELECT count(*) AS claimed FROM httpq.claim('w-dies', 2, '{perf}', '1 minute');
-- A request whose deadline passes before it is claimed: dead at the claim
SELECT httpq.enqueue('https://example.com/late', channel => 'perf', deadline => '2031-03-01 11:59:00+00') AS late \gset
-- A canceled request: not dead
SELECT httpq.enqueue('https://example.com/canceled', channel => 'perf') AS x \gset
SELECT httpq.cancel(:x) AS canceled;
SET httpq.now = '2031-03-01 12:00:10+00';
SELECT replace(url, 'https://example.com/', '') AS claimed FROM httpq.claim('w2', 10, '{perf}') ORDER BY id;
SET httpq.now = '2031-03-01 12:00:30+00';

-- Each request: how it ended and when, and its attempts (unsent ones apart)
SELECT replace(r.url, 'https://example.com/', '') AS url, r.state, r.reason, to_char(r.finished_at, 'HH24:MI:SS') AS finished,
       (SELECT string_agg(concat(a.attempt, ' at ', to_char(a.at, 'HH24:MI:SS'), CASE WHEN a.unsent THEN ' unsent' END), ', '
                          ORDER BY a.attempt)
        FROM pg_temp.log(r.id) AS a) AS attempts
FROM httpq.requests r WHERE r.channel = 'perf' ORDER BY r.id;

-- Each window's counts, and the same counted from the requests themselves: delivered and
-- dead by finished_at, retried as the sent attempts followed by another or by a claim again
SELECT p.period, p.delivered, p.retried, p.dead, p.success_ratio,
       (p.delivered, p.retried, p.dead) = (
           (SELECT count(*) FROM httpq.history h WHERE h.channel = 'perf' AND h.state = 'delivered'
                AND h.finished_at >= date_trunc('minute', httpq._now()) - p.period + interval '1 minute'),
           (SELECT count(*) FROM httpq.requests r, pg_temp.log(r.id) AS e
            WHERE r.channel = 'perf' AND NOT e.unsent
              AND e.at >= date_trunc('minute', httpq._now()) - p.period + interval '1 minute'
              AND (r.finished_at IS NULL OR e.attempt < (SELECT max(x.attempt) FROM pg_temp.log(r.id) AS x WHERE NOT x.unsent))),
           (SELECT count(*) FROM httpq.history h WHERE h.channel = 'perf' AND h.state = 'dead'
                AND h.finished_at >= date_trunc('minute', httpq._now()) - p.period + interval '1 minute'))
           AS matches_requests
FROM httpq.performance p WHERE p.channel = 'perf' ORDER BY p.period;

-- httpq.stats counts the same last hour's deliveries and deaths as before, from the rollup
SELECT s.delivered_last_hour, s.dead_last_hour,
       (s.delivered_last_hour, s.dead_last_hour) = (
           (SELECT count(*) FROM httpq.history h WHERE h.channel = 'perf' AND h.state = 'delivered'
                AND h.finished_at > httpq._now() - interval '1 hour'),
           (SELECT count(*) FROM httpq.history h WHERE h.channel = 'perf' AND h.state = 'dead'
                AND h.finished_at > httpq._now() - interval '1 hour')) AS matches_history
FROM httpq.stats s WHERE s.channel = 'perf';

-- Window edges: a window is its current minute and the 4 (or 59) before it
SELECT httpq.set_channel('perf-edge');
CREATE FUNCTION pg_temp.deliver_at(channel text, at timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    PERFORM set_config('httpq.now', at::text, false);
    PERFORM httpq.enqueue('https://example.com/' || extract(epoch FROM at), channel => channel);
    SELECT httpq.report('w1', jsonb_agg(jsonb_build_object('id', c.id, 'attempt', c.attempt, 'status', 200, 'duration_ms', 1)))
    INTO n FROM httpq.claim('w1', 10, ARRAY[channel]) AS c;
    PERFORM set_config('httpq.now', '2031-03-01 12:00:30+00', false);
    RETURN n;
END;
$$;
SELECT pg_temp.deliver_at('perf-edge', t) AS delivered
FROM unnest('{2031-03-01 11:00:59+00, 2031-03-01 11:01:00+00, 2031-03-01 11:55:59+00, 2031-03-01 11:56:00+00}'::timestamptz[]) AS t;
SELECT period, delivered FROM httpq.performance WHERE channel = 'perf-edge' ORDER BY period;
SELECT delivered_last_hour FROM httpq.stats WHERE channel = 'perf-edge';

-- Percentiles of a known distribution: 100 requests enqueued 10, 20, ... 1000 ms before
-- their delivery, their attempts 1.5, 2.5, ... 100.5 ms long, reported by two workers in
-- the same minute. Each estimate is within a factor of √2 of the true percentile (nearest
-- rank, from the requests themselves).
SELECT count(httpq.enqueue('https://example.com/' || i, channel => 'perf-latency')) AS enqueued FROM generate_series(1, 100) AS i;
UPDATE httpq.request SET created_at = httpq._now() - (replace(url, 'https://example.com/', '')::integer * 10) * interval '1 ms'
WHERE channel = 'perf-latency';
SELECT count(*) AS claimed FROM httpq.claim('w1', 50, '{perf-latency}');
SELECT count(*) AS claimed FROM httpq.claim('w2', 50, '{perf-latency}');
SELECT sum(httpq.report(w, (SELECT jsonb_agg(jsonb_build_object('id', r.id, 'attempt', r.attempt, 'status', 200,
                                                                'duration_ms', replace(r.url, 'https://example.com/', '')::integer + 0.5))
                            FROM httpq.request r WHERE r.channel = 'perf-latency' AND r.worker = w))) AS applied
FROM unnest('{w1,w2}'::text[]) AS w;
SELECT count(*) AS rows, sum(delivered) AS delivered FROM httpq.rollup WHERE channel = 'perf-latency';
WITH truth AS (
    SELECT q,
           (SELECT percentile_disc(q) WITHIN GROUP (ORDER BY extract(epoch FROM h.finished_at - h.created_at) * 1000)
            FROM httpq.history h WHERE h.channel = 'perf-latency') AS latency,
           (SELECT percentile_disc(q) WITHIN GROUP (ORDER BY e.duration_ms)
            FROM httpq.history h, pg_temp.log(h.id) AS e WHERE h.channel = 'perf-latency') AS attempt
    FROM unnest('{0.5,0.95,0.99}'::numeric[]) AS q
), estimate AS (
    SELECT 0.5 AS q, p.latency_p50 AS latency, p.attempt_p50 AS attempt FROM httpq.performance p
    WHERE p.channel = 'perf-latency' AND p.period = '1 hour'
    UNION ALL
    SELECT 0.95, p.latency_p95, p.attempt_p95 FROM httpq.performance p WHERE p.channel = 'perf-latency' AND p.period = '1 hour'
    UNION ALL
    SELECT 0.99, p.latency_p99, p.attempt_p99 FROM httpq.performance p WHERE p.channel = 'perf-latency' AND p.period = '1 hour'
)
SELECT t.q, t.latency AS true_latency, e.latency AS latency,
       e.latency BETWEEN t.latency / sqrt(2) AND t.latency * sqrt(2) AS latency_within,
       t.attempt AS true_attempt, e.attempt AS attempt,
       e.attempt BETWEEN t.attempt / sqrt(2) AND t.attempt * sqrt(2) AS attempt_within
FROM truth t JOIN estimate e ON e.q = t.q ORDER BY t.q;
-- Both windows agree when everything happened in the current minute
SELECT count(DISTINCT (delivered, latency_p50, latency_p95, latency_p99, attempt_p50, attempt_p95, attempt_p99)) AS distinct_rows
FROM httpq.performance WHERE channel = 'perf-latency';

-- The buckets: factor √2 from 1 ms; the last holds everything beyond 2^27 ms (attempt
-- durations counted by hand, rolled back)
BEGIN;
SELECT httpq._count_outcomes(httpq._now(), array_fill('perf-buckets'::text, ARRAY[8]), NULL, NULL,
                             '{0.2, 1, 1.2, 1.5, 3, 100000000, 200000000, NULL}');
SELECT duration AS counts, latency IS NULL AS no_latency FROM httpq.rollup WHERE channel = 'perf-buckets';
ROLLBACK;
-- Interpolation as Prometheus does: within the bucket holding the rank; in the last, its lower bound
SELECT httpq._quantile('{4}', 0.5) AS half_of_first, round(httpq._quantile('{0,0,2}', 0.5)::numeric, 4) AS mid_of_third,
       httpq._quantile(array_fill(0::bigint, ARRAY[55]) || 1::bigint, 0.5) = 2 ^ 27 AS last_is_lower_bound,
       httpq._quantile('{0,0}', 0.5) IS NULL AS none_counted;

-- Retention: httpq.maintain deletes the rows of minutes more than two days old (rolled back:
-- the other tests' rows are not this one's to delete)
SELECT pg_temp.deliver_at('perf-old', '2031-02-27 11:59:00+00') AS delivered;
SELECT pg_temp.deliver_at('perf-old', '2031-02-27 12:00:00+00') AS delivered;   -- two days and half a minute before
SELECT pg_temp.deliver_at('perf-old', '2031-02-27 12:01:00+00') AS delivered;   -- within two days
BEGIN;
DO $$
BEGIN
    FOR i IN 1 .. 100 LOOP
        EXIT WHEN NOT (httpq.maintain() ->> 'more')::boolean;
    END LOOP;
END;
$$;
SELECT channel, to_char(minute, 'YYYY-MM-DD HH24:MI') AS minute FROM httpq.rollup
WHERE channel IN ('perf-old', 'perf') ORDER BY channel, minute;
ROLLBACK;
-- Bounded: at most max_rows a call (this test's rows alone)
BEGIN;
DELETE FROM httpq.rollup WHERE channel NOT LIKE 'perf%';
SELECT httpq._rollup_trim(1) AS deleted;
SELECT httpq._rollup_trim(1) AS deleted;
SELECT httpq._rollup_trim(1) AS deleted;
SELECT count(*) AS perf_old_rows FROM httpq.rollup WHERE channel = 'perf-old';
ROLLBACK;

-- Tenancy: a tenant granted the view sees its own channels only, another tenant none of
-- them; an ops role sees every channel
CREATE ROLE regress_httpq_perf_a;
CREATE ROLE regress_httpq_perf_b;
CREATE ROLE regress_httpq_perf_ops;
GRANT USAGE ON SCHEMA httpq TO regress_httpq_perf_a, regress_httpq_perf_b;
GRANT SELECT ON httpq.performance TO regress_httpq_perf_a, regress_httpq_perf_b;
SELECT httpq.grant_role('ops', 'regress_httpq_perf_ops');
SELECT httpq.set_channel('perf-a', owner => 'regress_httpq_perf_a');
SELECT pg_temp.deliver_at('perf-a', '2031-03-01 12:00:00+00') AS delivered;
SET ROLE regress_httpq_perf_a;
SELECT channel, period, delivered FROM httpq.performance WHERE channel LIKE 'perf%' ORDER BY channel, period;
SET ROLE regress_httpq_perf_b;
SELECT count(*) AS rows FROM httpq.performance WHERE channel LIKE 'perf%';
SELECT count(*) FROM httpq.performance WHERE channel = 'perf-a' AND 1 / (delivered - 1) = 0;   -- a security barrier
SET ROLE regress_httpq_perf_ops;
SELECT DISTINCT channel FROM httpq.performance WHERE channel LIKE 'perf%' ORDER BY channel;
RESET ROLE;

-- Clean up
SELECT httpq.revoke_role('ops', 'regress_httpq_perf_ops');
REVOKE ALL ON httpq.performance FROM regress_httpq_perf_a, regress_httpq_perf_b;
REVOKE USAGE ON SCHEMA httpq FROM regress_httpq_perf_a, regress_httpq_perf_b;
DROP ROLE regress_httpq_perf_a, regress_httpq_perf_b, regress_httpq_perf_ops;
DELETE FROM httpq.request WHERE channel LIKE 'perf%';
DELETE FROM httpq.history WHERE channel LIKE 'perf%';
DELETE FROM httpq.rollup WHERE channel LIKE 'perf%';
DELETE FROM httpq.channel WHERE name LIKE 'perf%';
RESET httpq.now;
