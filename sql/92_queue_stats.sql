-- 92_queue_stats.sql: the queue's own figures, for the gauges a worker serves as metrics.
--
-- Reads httpq.channel and httpq.request. A function rather than httpq.stats: a worker role
-- may read no view, and httpq.stats shows a role that is not ops only the channels it owns,
-- while a worker serves every channel it claims from. It shows no request and no setting
-- beyond what a worker's claims hand it anyway.

-- Per channel (all, or those named): paused, waiting and running requests, the age of the
-- oldest waiting one, and the circuit breaker's state.
CREATE FUNCTION httpq.queue_stats(channels text[] DEFAULT NULL)
RETURNS TABLE (channel text, paused boolean, waiting bigint, running bigint, oldest_waiting_age interval,
               breaker_state text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.name, c.paused, coalesce(l.waiting, 0), coalesce(l.running, 0), now() - l.oldest_waiting,
           c.breaker_state
    FROM httpq.channel c
    LEFT JOIN (
        SELECT r.channel,
               count(*) FILTER (WHERE r.state <> 'running') AS waiting,
               count(*) FILTER (WHERE r.state = 'running') AS running,
               min(r.created_at) FILTER (WHERE r.state <> 'running') AS oldest_waiting
        FROM httpq.request r
        WHERE queue_stats.channels IS NULL OR r.channel = ANY (queue_stats.channels)
        GROUP BY r.channel
    ) AS l ON l.channel = c.name
    WHERE queue_stats.channels IS NULL OR c.name = ANY (queue_stats.channels)
    ORDER BY c.name
$$;
COMMENT ON FUNCTION httpq.queue_stats(text[])
    IS 'Per channel: paused, waiting, running, oldest waiting age, breaker state; for a worker''s metrics.';
