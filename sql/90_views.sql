-- 90_views.sql: what operators and applications read.
--
-- Owns the read-only views over the tables: httpq.requests (every request, live and
-- finished), httpq.attempts (each attempt's outcome), httpq.responses (a finished
-- request's last response), httpq.stats and httpq.performance (per channel),
-- httpq.channels, httpq.subscriptions, httpq.secrets and httpq.roles. Each shows a tenant
-- only its own channels' (or topics') rows, and bodies and headers only to their tenant
-- and admins (httpq._tenant_channels, httpq._tenant_topics). Those filtering a tenant's
-- rows are security barriers: a condition of the caller's own (one that fails on
-- a value, or a function that prints it) runs only on rows the filter let through.

-- Every request, live and finished. A request scheduled for later, or blocked behind an
-- earlier one of its ordering key, is 'waiting' here (blocked = true for the latter).
CREATE VIEW httpq.requests WITH (security_barrier) AS
    -- The union one level down: a view that is itself a UNION ALL is planned as its arms,
    -- and the caller's conditions would then reach them beside the filters.
    SELECT x.* FROM (
        SELECT r.id, r.channel,
               CASE WHEN r.state IN ('blocked', 'scheduled') THEN 'waiting' ELSE r.state END AS state,
               r.state = 'blocked' AS blocked,
               r.attempt AS attempts, r.priority, r.ordering_key, r.dedupe_key, r.idempotency_key,
               r.method, r.url, r.run_at, r.deadline, r.created_at, NULL::timestamptz AS finished_at,
               r.last_status, r.last_error, NULL::text AS reason, r.worker, r.lease_until, NULL::text AS hook_error
        FROM httpq.request r
        WHERE (SELECT httpq._tenant_channels('ops')) IS NULL OR r.channel = ANY ((SELECT httpq._tenant_channels('ops'))::text[])
        UNION ALL
        SELECT h.id, h.channel, h.state, false, h.attempt, h.priority, h.ordering_key, h.dedupe_key,
               h.idempotency_key, h.method, h.url, h.run_at, h.deadline, h.created_at, h.finished_at,
               h.last_status, h.last_error, h.reason, NULL, NULL, h.hook_error
        FROM httpq.history h
        WHERE (SELECT httpq._tenant_channels('ops')) IS NULL OR h.channel = ANY ((SELECT httpq._tenant_channels('ops'))::text[])
    ) AS x;
COMMENT ON VIEW httpq.requests IS 'Every request, live and finished, with its state and last outcome.';

-- Each finished attempt of every request: when, by which worker, and what came back.
CREATE VIEW httpq.attempts WITH (security_barrier) AS
    SELECT x.id, a.attempt, a.at, a.worker, a.status, a.error, a.duration_ms
    FROM (SELECT r.id, r.channel, r.log FROM httpq.request r
          UNION ALL SELECT h.id, h.channel, h.log FROM httpq.history h) AS x,
         jsonb_to_recordset(x.log) AS a(attempt integer, at timestamptz, worker text, status integer, error text,
                                        duration_ms numeric)
    WHERE (SELECT httpq._tenant_channels('ops')) IS NULL OR x.channel = ANY ((SELECT httpq._tenant_channels('ops'))::text[]);
COMMENT ON VIEW httpq.attempts IS 'Each finished attempt of every request: when, which worker, status or error, duration.';

-- The last response of each finished request (body as the worker reported it, capped).
CREATE VIEW httpq.responses WITH (security_barrier) AS
    SELECT h.id, h.channel, h.state, h.last_status AS status,
           CASE WHEN (SELECT httpq._tenant_channels('admin')) IS NULL OR h.channel = ANY ((SELECT httpq._tenant_channels('admin'))::text[])
                THEN h.response_headers END AS headers,
           CASE WHEN (SELECT httpq._tenant_channels('admin')) IS NULL OR h.channel = ANY ((SELECT httpq._tenant_channels('admin'))::text[])
                THEN h.response_body END AS body,
           h.finished_at
    FROM httpq.history h
    WHERE (SELECT httpq._tenant_channels('ops')) IS NULL OR h.channel = ANY ((SELECT httpq._tenant_channels('ops'))::text[]);
COMMENT ON VIEW httpq.responses IS 'The last response of each finished request: status, headers, body.';

-- Every channel and its settings, as set_channel left them.
CREATE VIEW httpq.channels WITH (security_barrier) AS
    SELECT c.name AS channel, c.paused, c.max_concurrency, c.rate_per_second, c.max_attempts,
           c.backoff_base, c.backoff_max, c.timeout_ms, c.ordering_on_dead, c.retention,
           c.allowed_networks, c.max_body_bytes, coalesce(c.retry_after_max, c.backoff_max) AS retry_after_max,
           c.created_at, c.owner, c.signing_keys, c.on_finish, c.aws_sigv4, c.aws_credentials,
           c.breaker_failures, c.breaker_cooldown, c.breaker_cooldown_max
    FROM httpq.channel c
    WHERE (SELECT httpq._tenant_channels('ops')) IS NULL OR c.name = ANY ((SELECT httpq._tenant_channels('ops'))::text[]);
COMMENT ON VIEW httpq.channels IS 'Every channel and its settings (see httpq.set_channel).';

-- Per channel: what waits, runs and died, how old the oldest waiting request is, the last
-- hour's deliveries and deaths (the current minute and the 59 before it, from
-- httpq.rollup), why it is paused, and its circuit breaker (sql/57_breaker.sql).
CREATE VIEW httpq.stats WITH (security_barrier) AS
    SELECT c.name AS channel, c.paused,
           coalesce(l.waiting, 0) AS waiting,
           coalesce(l.running, 0) AS running,
           (SELECT count(*) FROM httpq.history h WHERE h.channel = c.name AND h.state = 'dead') AS dead,
           (SELECT coalesce(sum(t.delivered), 0)::bigint FROM httpq.rollup t
            WHERE t.channel = c.name AND t.minute > date_trunc('minute', httpq._now(), 'UTC') - interval '1 hour')
               AS delivered_last_hour,
           (SELECT coalesce(sum(t.dead), 0)::bigint FROM httpq.rollup t
            WHERE t.channel = c.name AND t.minute > date_trunc('minute', httpq._now(), 'UTC') - interval '1 hour')
               AS dead_last_hour,
           now() - l.oldest_waiting AS oldest_waiting_age,
           (SELECT h.last_error FROM httpq.history h
            WHERE h.channel = c.name AND h.state = 'dead' ORDER BY h.finished_at DESC LIMIT 1) AS last_error,
           c.max_concurrency, c.rate_per_second,
           c.paused_reason, c.breaker_state, c.breaker_reason, c.breaker_probe_at
    FROM httpq.channel c
    LEFT JOIN (
        SELECT r.channel,
               count(*) FILTER (WHERE r.state <> 'running') AS waiting,
               count(*) FILTER (WHERE r.state = 'running') AS running,
               min(r.created_at) FILTER (WHERE r.state <> 'running') AS oldest_waiting
        FROM httpq.request r
        GROUP BY r.channel
    ) AS l ON l.channel = c.name
    WHERE (SELECT httpq._tenant_channels('ops')) IS NULL OR c.name = ANY ((SELECT httpq._tenant_channels('ops'))::text[]);
COMMENT ON VIEW httpq.stats IS 'Per channel: waiting, running, dead, last hour''s deliveries and deaths, oldest waiting age, why paused, circuit breaker.';

-- Per channel, over the last 5 minutes and the last hour (period: the current minute and
-- the 4 or 59 before it, from httpq.rollup): requests delivered and dead, attempts retried,
-- the share of outcomes that were deliveries, and percentiles in milliseconds of the time
-- from enqueue to delivery (latency) and of attempts' durations (attempt). Milliseconds, as
-- the worker reports durations: numbers that compare, sort and chart as they are. The
-- percentiles are estimates within a factor of √2 (sql/85_rollup.sql); NULL with nothing
-- to estimate from.
CREATE VIEW httpq.performance WITH (security_barrier) AS
    SELECT c.name AS channel, w.period,
           coalesce(t.delivered, 0)::bigint AS delivered,
           coalesce(t.retried, 0)::bigint AS retried,
           coalesce(t.dead, 0)::bigint AS dead,
           round(t.delivered / nullif(t.delivered + t.retried + t.dead, 0), 4) AS success_ratio,
           round(httpq._quantile(s.latency, 0.5)::numeric, 1) AS latency_p50,
           round(httpq._quantile(s.latency, 0.95)::numeric, 1) AS latency_p95,
           round(httpq._quantile(s.latency, 0.99)::numeric, 1) AS latency_p99,
           round(httpq._quantile(s.duration, 0.5)::numeric, 1) AS attempt_p50,
           round(httpq._quantile(s.duration, 0.95)::numeric, 1) AS attempt_p95,
           round(httpq._quantile(s.duration, 0.99)::numeric, 1) AS attempt_p99
    FROM httpq.channel c
    CROSS JOIN (VALUES (interval '5 minutes'), (interval '1 hour')) AS w(period)
    CROSS JOIN LATERAL (
        SELECT sum(r.delivered) AS delivered, sum(r.retried) AS retried, sum(r.dead) AS dead
        FROM httpq.rollup r
        WHERE r.channel = c.name AND r.minute > date_trunc('minute', httpq._now(), 'UTC') - w.period
    ) AS t
    -- The window's histograms, summed bucket by bucket: each row's arrays run from bucket 1
    -- without a gap, so the sums do too.
    CROSS JOIN LATERAL (
        SELECT array_agg(h.n ORDER BY h.bucket) FILTER (WHERE h.latency) AS latency,
               array_agg(h.n ORDER BY h.bucket) FILTER (WHERE NOT h.latency) AS duration
        FROM (SELECT k.latency, u.bucket, sum(u.n) AS n
              FROM httpq.rollup r
              CROSS JOIN LATERAL (VALUES (true, r.latency), (false, r.duration)) AS k(latency, counts)
              CROSS JOIN LATERAL unnest(k.counts) WITH ORDINALITY AS u(n, bucket)
              WHERE r.channel = c.name AND r.minute > date_trunc('minute', httpq._now(), 'UTC') - w.period
              GROUP BY k.latency, u.bucket) AS h
    ) AS s
    WHERE (SELECT httpq._tenant_channels('ops')) IS NULL OR c.name = ANY ((SELECT httpq._tenant_channels('ops'))::text[]);
COMMENT ON VIEW httpq.performance
    IS 'Per channel, last 5 minutes and last hour: delivered, retried, dead, success ratio, latency and attempt percentiles (ms).';

-- Every subscription of every topic, with its topic's owner. Headers (they may carry a
-- credential) only to the topic's tenant and admins.
CREATE VIEW httpq.subscriptions WITH (security_barrier) AS
    SELECT s.id, s.topic, t.owner, s.url, s.method,
           CASE WHEN (SELECT httpq._tenant_topics('admin')) IS NULL OR s.topic = ANY ((SELECT httpq._tenant_topics('admin'))::text[])
                THEN s.headers END AS headers,
           s.channel, s.event_types, s.paused_at IS NOT NULL AS paused, s.paused_at, s.created_at
    FROM httpq.subscription s
    JOIN httpq.topic t ON t.name = s.topic
    WHERE (SELECT httpq._tenant_topics('ops')) IS NULL OR s.topic = ANY ((SELECT httpq._tenant_topics('ops'))::text[]);
COMMENT ON VIEW httpq.subscriptions IS 'Every subscription: topic, owner, where and how it delivers, event types, paused.';

-- The secret store's names: never a value, not even sealed. Admins only.
CREATE VIEW httpq.secrets AS
    SELECT s.name, s.owner, s.key_id, s.set_at, s.set_by
    FROM httpq.secret s;
COMMENT ON VIEW httpq.secrets IS 'The stored secrets: name, owner, sealing key id, when and by whom set (never a value).';

-- The roles httpq.grant_role made app, worker, ops or admin roles.
CREATE VIEW httpq.roles AS
    SELECT g.role, g.kind, g.granted_at
    FROM httpq.role_grant g;
COMMENT ON VIEW httpq.roles IS 'The roles made httpq''s app, worker, ops or admin roles (httpq.grant_role).';
