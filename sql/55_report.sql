-- 55_report.sql: recording what became of the attempts a worker made.
--
-- Writes httpq.request (retries wait again, scheduled for their next run_at), through
-- httpq._finish httpq.history, and through httpq._breaker_report the circuit breaker of a
-- channel whose outcomes change it; counts the retries in httpq.rollup (sql/85_rollup.sql).
-- Invariant: only the current claim can report. An outcome is applied when (id, attempt,
-- worker) is the request's running claim; anything else (a worker whose lease expired and
-- was taken over, a duplicate) is ignored, so a late worker cannot overwrite the work of
-- the one that took over. While an `httpq tail` runs, the outcomes are announced on
-- channel httpq_outcomes (sql/62_tail.sql).

-- Applies a batch of outcomes; returns how many were applied.
CREATE FUNCTION httpq.report(worker text, outcomes jsonb) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan   -- see httpq.claim
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    now_at  constant timestamptz := httpq._now();
    retried integer;
    endings httpq._ending[];
    news    jsonb;
    again_channels text[];        -- the channels and durations of attempts to be tried again
    again_took     double precision[];
BEGIN
    -- httpq._check_worker's rule, which raises the error (a call on every report cost 20 us).
    IF worker IS NULL OR worker = '' OR length(worker) > 200 OR worker ~ '[\x01-\x1f\x7f-\x9f]' THEN
        PERFORM httpq._check_worker(worker);
    END IF;
    IF jsonb_typeof(outcomes) IS DISTINCT FROM 'array'
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(outcomes) AS e WHERE jsonb_typeof(e) <> 'object') THEN
        RAISE EXCEPTION 'outcomes must be a JSON array of objects'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Each object: id, attempt, status, headers, body (base64), error, duration_ms, refused, unsent.';
    END IF;

    -- Each outcome is read on its own (httpq._read_outcomes): one a worker got wrong is a
    -- failed attempt that says so, and the rest of the batch applies.
    WITH o AS (
        SELECT * FROM unnest(httpq._read_outcomes(outcomes)) AS o
    ), decided AS (
        SELECT r.id, r.channel, o.status, o.headers, o.body, v.state, v.run_at, v.reason, o.unsent, o.duration_ms,
               o.status = 410 AS gone,
               CASE WHEN o.status BETWEEN 200 AND 299 THEN NULL
                    WHEN o.status = 410 THEN 'HTTP 410 Gone: the channel is paused; the attempt is not counted'
                    ELSE coalesce(o.error, aws.error, 'HTTP ' || o.status, 'no response') END AS error,
               -- What the outcome means to the channel's circuit breaker (sql/57_breaker.sql),
               -- and the breaker as this statement found it: most reports change nothing.
               CASE WHEN o.status BETWEEN 200 AND 299 THEN 'success'
                    WHEN o.refused OR o.unsent THEN NULL
                    WHEN o.status = 410 THEN 'gone'
                    WHEN aws.code IS NOT NULL AND o.status < 500 AND httpq._aws_retryable(aws.code) OR httpq._retryable(o.status)
                        THEN 'failure' END AS breaker_kind,
               c.breaker_failures, c.breaker_state, c.breaker_failed,
               jsonb_build_object('attempt', o.attempt, 'at', now_at, 'worker', report.worker,
                                  'status', o.status,
                                  'error', CASE WHEN o.status = 410 THEN 'HTTP 410 Gone: the channel is paused; the attempt is not counted'
                                                ELSE coalesce(o.error, aws.error) END,
                                  'duration_ms', o.duration_ms)
                   || CASE WHEN o.unsent THEN '{"unsent": true}'::jsonb ELSE '{}' END AS entry
        FROM o
        -- LATERAL: one primary-key probe per outcome, whatever the planner guesses of the
        -- JSON's row count (a join was planned as a rescan of the outcomes per running row).
        CROSS JOIN LATERAL (
            SELECT r.* FROM httpq.request r
            -- lease_until IS NOT NULL means running (running_iff_leased), and unlike state =
            -- 'running' it does not let the planner read request_lease_idx whole for each id:
            -- a generic plan made while few requests ran did (0.3 ms an outcome at 200 running).
            WHERE r.id = o.id AND r.attempt = o.attempt AND r.worker = report.worker AND r.lease_until IS NOT NULL
            LIMIT 1   -- at most one row by id anyway; it also keeps the subquery from being flattened
            FOR UPDATE
        ) AS r
        -- A primary-key probe per outcome too (OFFSET 0 keeps it one): as a join, the plan
        -- cached for the session may read every channel once per outcome.
        CROSS JOIN LATERAL (SELECT c.max_attempts, c.backoff_base, c.backoff_max, c.retry_after_max, c.aws_sigv4,
                                   c.breaker_failures, c.breaker_state, c.breaker_failed
                            FROM httpq.channel c
                            WHERE c.name = r.channel OFFSET 0) AS c
        -- An AWS error answer on a channel that signs for AWS: its code and message are the
        -- attempt's error, and throttling or a transient error is retried, as a 503 would be.
        CROSS JOIN LATERAL (SELECT e[1] AS code,
                                   CASE WHEN e IS NOT NULL THEN format('AWS %s: %s (HTTP %s)', e[1], coalesce(e[2], 'no message'), o.status) END
                                       AS error
                            FROM (SELECT CASE WHEN c.aws_sigv4 IS NOT NULL AND o.status >= 300
                                              THEN httpq._aws_error(o.headers, o.body) END) AS a(e)) AS aws
        -- A 2xx needs no decision: the function call is for the others only.
        CROSS JOIN LATERAL (
            SELECT 'delivered', NULL::timestamptz, NULL::text WHERE o.status BETWEEN 200 AND 299
            UNION ALL
            SELECT 'dead', NULL::timestamptz, o.error WHERE o.refused
            UNION ALL
            -- Not sent (the worker cannot open a secret it names): the configuration is at
            -- fault, not the request, so the attempt does not count; it waits a minute (at
            -- most backoff_max) for the configuration to be fixed, unless its deadline is past.
            SELECT CASE WHEN r.deadline <= now_at THEN 'dead' ELSE 'waiting' END,
                   CASE WHEN r.deadline > now_at OR r.deadline IS NULL
                        THEN now_at + least(c.backoff_max, interval '1 minute') END,
                   CASE WHEN r.deadline <= now_at THEN 'deadline passed' END
            WHERE o.unsent AND NOT o.refused
            UNION ALL
            -- 410 Gone: the destination asks to be sent nothing more, and its channel is
            -- paused (sql/57_breaker.sql). The request is not at fault: it waits, the attempt
            -- uncounted, for httpq.resume, unless its deadline is past.
            SELECT CASE WHEN r.deadline <= now_at THEN 'dead' ELSE 'waiting' END,
                   CASE WHEN r.deadline > now_at OR r.deadline IS NULL THEN now_at END,
                   CASE WHEN r.deadline <= now_at THEN 'deadline passed' END
            WHERE o.status = 410
            UNION ALL
            SELECT * FROM httpq._verdict(CASE WHEN aws.code IS NOT NULL AND o.status < 500 AND httpq._aws_retryable(aws.code)
                                              THEN 503 ELSE o.status END,
                                         o.headers ->> 'retry-after', r.attempt - r.attempt_floor,
                                         coalesce(r.max_attempts, c.max_attempts), r.deadline,
                                         c.backoff_base, c.backoff_max, coalesce(c.retry_after_max, c.backoff_max),
                                         random(), now_at)
            WHERE (o.status IS NULL OR o.status NOT BETWEEN 200 AND 299 AND o.status <> 410) AND NOT o.refused AND NOT o.unsent
        ) AS v(state, run_at, reason)
    ), again AS (
        UPDATE httpq.request r
        SET state = CASE WHEN d.run_at > now_at THEN 'scheduled' ELSE 'waiting' END,
            run_at = d.run_at, worker = NULL, lease_until = NULL,
            attempt_floor = r.attempt_floor + CASE WHEN d.unsent OR d.gone THEN 1 ELSE 0 END,
            last_status = d.status, last_error = d.error,
            -- Unsent again for the same reason: the last entry counts it (repeated), so a
            -- request waiting a day for its secret keeps one entry, not one a minute.
            log = CASE WHEN d.unsent AND r.log -> -1 ->> 'unsent' = 'true' AND r.log -> -1 ->> 'error' = d.error
                       THEN jsonb_set(r.log, '{-1}', d.entry || jsonb_build_object(
                                'repeated', coalesce((r.log -> -1 ->> 'repeated')::integer, 1) + 1))
                       ELSE r.log || jsonb_build_array(d.entry) END
        FROM decided AS d
        WHERE r.id = d.id AND d.state = 'waiting'
        RETURNING r.id
    )
    SELECT (SELECT count(*) FROM again),
           array_agg(ROW(d.id, d.state, d.reason, d.status, d.headers, d.body, d.error, d.entry)::httpq._ending)
               FILTER (WHERE d.state <> 'waiting'),
           jsonb_agg(jsonb_build_object('channel', d.channel, 'id', d.id, 'kind', d.breaker_kind, 'what', left(d.error, 200)))
               FILTER (WHERE d.breaker_kind = 'gone'
                          OR d.breaker_kind = 'failure' AND d.breaker_failures IS NOT NULL AND d.breaker_state <> 'open'
                          OR d.breaker_kind = 'success' AND (d.breaker_failed > 0 OR d.breaker_state <> 'closed')),
           array_agg(d.channel) FILTER (WHERE d.state = 'waiting' AND NOT d.unsent),
           array_agg(d.duration_ms::double precision) FILTER (WHERE d.state = 'waiting' AND NOT d.unsent)
    INTO retried, endings, news, again_channels, again_took
    FROM decided AS d;

    -- Attempts to be tried again; _finish counts the others, with how their requests ended.
    IF again_channels IS NOT NULL THEN
        PERFORM httpq._count_outcomes(now_at, again_channels,
                                      array_fill('retried'::text, ARRAY[cardinality(again_channels)]), NULL, again_took);
    END IF;

    IF news IS NOT NULL THEN
        -- With every success of the report: a channel's failures may come with one.
        PERFORM httpq._breaker_report(news, ARRAY(SELECT e.id FROM unnest(endings) AS e WHERE e.state = 'delivered'), now_at);
    END IF;

    -- A live `httpq tail` hears of every outcome reported (sql/62_tail.sql); none: one index probe.
    IF EXISTS (SELECT 1 FROM httpq.tail t WHERE t.expires_at > now_at) THEN
        PERFORM httpq._announce_outcomes(ARRAY(
            SELECT (e ->> 'id') || ':' || (e ->> 'attempt') FROM jsonb_array_elements(outcomes) AS e
            WHERE e ->> 'id' ~ '^[0-9]{1,19}$' AND e ->> 'attempt' ~ '^[0-9]{1,10}$'));
    END IF;

    RETURN retried + httpq._finish(endings);
END;
$$;
COMMENT ON FUNCTION httpq.report(text, jsonb)
    IS 'Applies a batch of attempt outcomes from the worker holding the claims; returns how many were applied.';
