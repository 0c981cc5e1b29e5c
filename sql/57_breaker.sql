-- 57_breaker.sql: the circuit breaker of each channel, and the pause a 410 Gone asks for.
--
-- Writes the breaker columns of httpq.channel (sql/10_channel.sql), and paused with its
-- reason. The rule: each attempt that ends in a retryable failure (what httpq._verdict
-- retries: no response, 408, 425, 429, 5xx) adds one to breaker_failed, and a 2xx sets it
-- to 0; other outcomes (other 4xx, refused, unsent) count neither way. At breaker_failures
-- the breaker opens: claims take nothing from the channel (no attempt is used; its requests
-- wait) until breaker_probe_at, when one claim takes one request, the probe, and the
-- breaker is half-open. The probe's success closes it; a failure opens it again for twice
-- the cool-down, up to breaker_cooldown_max. httpq.resume closes it by hand. Each change
-- is raised as a NOTICE by the claim or report that made it, for the worker's log.
-- Lock order: httpq.report has its requests locked, then takes, channel by channel in name
-- order, a 410's pause fence and the channel row; claims never wait for either (SKIP
-- LOCKED, try-locks), and httpq.pause takes its fence before the row as well.

-- The cool-down after the breaker's opened-th opening in a row: breaker_cooldown, doubled
-- on each reopen, at most breaker_cooldown_max.
CREATE FUNCTION httpq._breaker_cooldown(cooldown interval, cooldown_max interval, opened integer) RETURNS interval
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    -- In seconds as float8, with the exponent bounded, so many reopens cannot overflow.
    SELECT make_interval(secs => least(extract(epoch FROM cooldown_max)::float8,
                                       extract(epoch FROM cooldown)::float8 * power(2::float8, least(greatest(opened, 1) - 1, 60))))
$$;
COMMENT ON FUNCTION httpq._breaker_cooldown(interval, interval, integer)
    IS 'The cool-down after the opened-th opening in a row: cooldown * 2^(opened-1), at most cooldown_max.';

-- A claim took request id as the probe of channel's open breaker (holding the channel's
-- row lock): the breaker is half-open until the probe's report, or until the probe's
-- time-out and 10 seconds more, when a probe whose worker never reported is given up and
-- another may go.
CREATE FUNCTION httpq._breaker_probe(channel text, id bigint, now timestamptz) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    given_up timestamptz;
BEGIN
    SELECT now + make_interval(secs => coalesce(r.timeout_ms, c.timeout_ms) / 1000.0) + interval '10 seconds'
    INTO given_up
    FROM httpq.request r JOIN httpq.channel c ON c.name = r.channel
    WHERE r.id = _breaker_probe.id;
    UPDATE httpq.channel c
    SET breaker_state = 'half_open', breaker_probe_at = given_up, breaker_changed_at = now
    WHERE c.name = _breaker_probe.channel;
    RAISE NOTICE 'httpq breaker half-open: channel "%": probing with request %; another probe at % unless it is reported',
        channel, id, given_up;
END;
$$;
COMMENT ON FUNCTION httpq._breaker_probe(text, bigint, timestamptz)
    IS 'Makes a channel''s breaker half-open: a claim took request id as its probe.';

-- Applies what a report's outcomes mean to their channels' breakers. news holds an object
-- for each outcome that may change its channel's breaker (as report read it): {channel, id,
-- kind: success | failure | gone, what}; delivered: the report's delivered requests, the
-- successes of those channels. (Requests are still in httpq.request: report calls this
-- before httpq._finish.) Each channel's row is read again under its lock, so reports at
-- once add up.
CREATE FUNCTION httpq._breaker_report(news jsonb, delivered bigint[], now timestamptz) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    b      record;
    ch     httpq.channel;
    failed integer;
    opened integer;
    reason text;
BEGIN
    FOR b IN
        SELECT f.*, s.successes, s.success
        FROM (SELECT o ->> 'channel' AS channel,
                     count(*) FILTER (WHERE o ->> 'kind' = 'failure') AS failures,
                     (array_agg(o ORDER BY (o ->> 'id')::bigint DESC) FILTER (WHERE o ->> 'kind' = 'failure'))[1] AS last_failure,
                     (array_agg(o ORDER BY (o ->> 'id')::bigint) FILTER (WHERE o ->> 'kind' = 'gone'))[1] AS gone
              FROM jsonb_array_elements(news) AS o
              GROUP BY o ->> 'channel') AS f
        CROSS JOIN LATERAL (SELECT count(*) AS successes, min(r.id) AS success FROM httpq.request r
                            WHERE r.id = ANY (delivered) AND r.channel = f.channel) AS s
        ORDER BY f.channel
    LOOP
        IF b.gone IS NOT NULL THEN
            -- The pause fence, as httpq.pause takes it: once this report commits, no claim
            -- takes from the channel.
            PERFORM pg_advisory_xact_lock(1752461427, hashtext(b.channel));
        END IF;
        SELECT * INTO ch FROM httpq.channel c WHERE c.name = b.channel FOR NO KEY UPDATE;

        -- A destination that answers 410 Gone asks its senders to stop (Standard Webhooks):
        -- the channel is paused until httpq.resume. The request waits, its attempt uncounted.
        IF b.gone IS NOT NULL AND NOT ch.paused THEN
            SELECT format('destination answered 410 Gone to request %s (%s %s) at %s', r.id, r.method, left(r.url, 200), now)
            INTO reason
            FROM httpq.request r WHERE r.id = (b.gone ->> 'id')::bigint;
            UPDATE httpq.channel c SET paused = true, paused_reason = reason WHERE c.name = ch.name;
            RAISE NOTICE 'httpq channel paused: channel "%": %', ch.name, reason;
        END IF;

        IF b.successes > 0 THEN
            -- Any success: the endpoint answers again. (A report counts as a success for a
            -- channel when it carries one: its attempts ran at once, in no order.)
            IF ch.breaker_failed > 0 OR ch.breaker_state <> 'closed' THEN
                UPDATE httpq.channel c
                SET breaker_state = 'closed', breaker_failed = 0, breaker_opened = 0, breaker_probe_at = NULL,
                    breaker_reason = NULL,
                    breaker_changed_at = CASE WHEN ch.breaker_state <> 'closed' THEN now ELSE c.breaker_changed_at END
                WHERE c.name = ch.name;
                IF ch.breaker_state <> 'closed' THEN
                    RAISE NOTICE 'httpq breaker closed: channel "%": request % delivered', ch.name, b.success;
                END IF;
            END IF;
        ELSIF b.failures > 0 AND ch.breaker_failures IS NOT NULL AND ch.breaker_state <> 'open' THEN
            -- Failures while open are the attempts sent before it opened: they change nothing.
            failed := ch.breaker_failed + b.failures;
            IF ch.breaker_state = 'half_open' OR failed >= ch.breaker_failures THEN
                -- Opens, or (the probe failed) opens again for twice as long.
                opened := ch.breaker_opened + 1;
                reason := format('%s consecutive failure%s, last: %s from request %s', failed,
                                 CASE WHEN failed > 1 THEN 's' END, b.last_failure ->> 'what', b.last_failure ->> 'id');
                UPDATE httpq.channel c
                SET breaker_state = 'open', breaker_failed = failed, breaker_opened = opened,
                    breaker_probe_at = now + httpq._breaker_cooldown(c.breaker_cooldown, c.breaker_cooldown_max, opened),
                    breaker_reason = reason, breaker_changed_at = now
                WHERE c.name = ch.name
                RETURNING c.* INTO ch;
                RAISE NOTICE 'httpq breaker opened: channel "%": %; probing at %', ch.name, reason, ch.breaker_probe_at;
            ELSE
                UPDATE httpq.channel c SET breaker_failed = failed WHERE c.name = ch.name;
            END IF;
        END IF;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION httpq._breaker_report(jsonb, bigint[], timestamptz)
    IS 'Counts a report''s successes and retryable failures in their channels'' breakers, and pauses a channel that answered 410 Gone.';
