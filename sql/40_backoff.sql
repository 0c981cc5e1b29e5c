-- 40_backoff.sql: what an outcome means and when to try again, as pure functions.
--
-- Owns no table. httpq.report applies these; the README's retry schedule is printed by
-- httpq.retry_schedule, which calls the same httpq._backoff.

-- Whether an attempt that got this status (NULL: no response at all) may be tried again.
CREATE FUNCTION httpq._retryable(status integer) RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- No response (network error, timeout), request timeout, too early, too many requests,
    -- and server errors are worth another try; redirects and other client errors are not.
    SELECT status IS NULL OR status IN (408, 425, 429) OR status BETWEEN 500 AND 599
$$;
COMMENT ON FUNCTION httpq._retryable(integer) IS 'True for outcomes worth another attempt: no response, 408, 425, 429, 5xx.';

-- Capped exponential backoff with full jitter: a delay drawn uniformly (jitter in [0, 1])
-- from [0, min(cap, base * 2^(attempt - 1))].
CREATE FUNCTION httpq._backoff(attempt integer, base interval, cap interval, jitter float8) RETURNS interval
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    -- In seconds as float8, with the exponent bounded, so a large attempt cannot overflow.
    SELECT make_interval(secs => jitter * least(
        extract(epoch FROM cap)::float8,
        extract(epoch FROM base)::float8 * power(2::float8, least(greatest(attempt, 1) - 1, 60))))
$$;
COMMENT ON FUNCTION httpq._backoff(integer, interval, interval, float8)
    IS 'Capped exponential backoff with full jitter: jitter * min(cap, base * 2^(attempt-1)).';

-- The delay a Retry-After header asks for: delta-seconds or an HTTP date; NULL when absent
-- or unreadable (then the backoff applies).
CREATE FUNCTION httpq._retry_after(value text, now timestamptz) RETURNS interval
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF value ~ '^\s*[0-9]{1,9}\s*$' THEN
        RETURN make_interval(secs => trim(value)::float8);
    END IF;
    -- IMF-fixdate, the form RFC 9110 requires senders to use: Sun, 06 Nov 1994 08:49:37 GMT
    IF value ~ '^\s*[A-Za-z]{3}, [0-9]{2} [A-Za-z]{3} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT\s*$' THEN
        BEGIN
            RETURN greatest(trim(value)::timestamptz - now, interval '0');
        EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
            RETURN NULL;
        END;
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION httpq._retry_after(text, timestamptz) IS 'The delay a Retry-After header value asks for (seconds or HTTP date), or NULL.';

-- The decision for one finished attempt: the next state ('delivered', 'waiting' to try
-- again at run_at, or 'dead') and, for dead, why. attempts_used counts this attempt.
CREATE FUNCTION httpq._verdict(
    status        integer,
    retry_after   text,
    attempts_used integer,
    max_attempts  integer,
    deadline      timestamptz,
    base          interval,
    cap           interval,
    retry_after_max interval,
    jitter        float8,
    now           timestamptz,
    OUT state     text,
    OUT run_at    timestamptz,
    OUT reason    text
)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    delay interval;
BEGIN
    IF status BETWEEN 200 AND 299 THEN
        state := 'delivered';
        RETURN;
    END IF;
    state := 'dead';
    IF NOT httpq._retryable(status) THEN
        reason := CASE WHEN status BETWEEN 300 AND 399 THEN format('HTTP %s: redirects are not followed', status)
                       ELSE format('HTTP %s is not retried', status) END;
        RETURN;
    END IF;
    IF attempts_used >= max_attempts THEN
        reason := format('attempts exhausted (%s of %s)', attempts_used, max_attempts);
        RETURN;
    END IF;
    -- A Retry-After is obeyed up to retry_after_max: a destination cannot park a request
    -- for years (Retry-After: 999999999).
    delay := CASE WHEN status IN (429, 503) THEN httpq._retry_after(retry_after, now) END;
    run_at := now + coalesce(CASE WHEN delay > retry_after_max THEN retry_after_max ELSE delay END,
                             httpq._backoff(attempts_used, base, cap, jitter));
    IF run_at >= deadline THEN
        reason := 'deadline passed: the next attempt would be after it';
        run_at := NULL;
        RETURN;
    END IF;
    state := 'waiting';
END;
$$;
COMMENT ON FUNCTION httpq._verdict(integer, text, integer, integer, timestamptz, interval, interval, interval, float8, timestamptz)
    IS 'Decides a finished attempt: delivered, waiting (retry at run_at) or dead (with the reason).';

-- The retry schedule of a channel: for each attempt that fails, the range of the delay
-- before the next one, and the latest the next attempt can come. Like every function that
-- names a channel, it creates the channel (with the defaults) when it does not exist.
CREATE FUNCTION httpq.retry_schedule(channel text DEFAULT 'default')
RETURNS TABLE (attempt integer, delay_min interval, delay_max interval, total_max interval)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM httpq._check_channel(retry_schedule.channel);
    PERFORM httpq._ensure_channels(ARRAY[retry_schedule.channel]);
    RETURN QUERY
        SELECT a, httpq._backoff(a, c.backoff_base, c.backoff_max, 0), httpq._backoff(a, c.backoff_base, c.backoff_max, 1),
               sum(httpq._backoff(a, c.backoff_base, c.backoff_max, 1)) OVER (ORDER BY a)
        FROM httpq.channel AS c, generate_series(1, c.max_attempts - 1) AS a
        WHERE c.name = retry_schedule.channel
        ORDER BY a;
END;
$$;
COMMENT ON FUNCTION httpq.retry_schedule(text)
    IS 'The delay range after each failed attempt of a channel, and the latest cumulative time to the next attempt.';
