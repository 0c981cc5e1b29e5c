-- 45_finish.sql: how a request leaves the live queue.
--
-- httpq._finish is the one way out of httpq.request: delivered, dead and canceled requests
-- move to httpq.history with their last response, a dead head holds its key where the
-- channel asks for that, and the next request of each key the finished ones headed is
-- promoted. report, claim (deadlines, expired leases) and cancel all end here.

CREATE FUNCTION httpq._finish(endings httpq._ending[]) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan   -- see httpq.claim
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    now_at   constant timestamptz := httpq._now();   -- once: a function call per row costs
    moved    integer;
    channels text[];
    keys     text[];
BEGIN
    IF cardinality(endings) IS NULL OR cardinality(endings) = 0 THEN
        RETURN 0;
    END IF;

    WITH gone AS (
        DELETE FROM httpq.request r
        USING unnest(endings) AS e
        -- id = ANY keeps the request side a primary-key read whichever side the session's
        -- plan puts first (hash and merge joins are off: see httpq.claim).
        WHERE r.id = e.id AND r.id = ANY (ARRAY(SELECT x.id FROM unnest(endings) AS x))
        RETURNING r.*, e.state AS final_state, e.reason, e.status AS response_status, e.headers AS response_headers,
                  e.body AS response_body, e.error, e.attempt AS entry
    ), kept AS (
        INSERT INTO httpq.history (id, channel, state, reason, priority, run_at, attempt, attempt_floor, method, url,
                                   headers, body, ordering_key, dedupe_key, idempotency_key, max_attempts, timeout_ms,
                                   deadline, created_at, finished_at, last_status, last_error, log,
                                   response_headers, response_body)
        SELECT g.id, g.channel, g.final_state, g.reason, g.priority, g.run_at, g.attempt, g.attempt_floor, g.method, g.url,
               g.headers, g.body, g.ordering_key, g.dedupe_key, g.idempotency_key, g.max_attempts, g.timeout_ms,
               g.deadline, g.created_at, now_at,
               -- An ending without an attempt (cancel) keeps the last attempt's outcome.
               CASE WHEN g.entry IS NULL THEN g.last_status ELSE g.response_status END,
               CASE WHEN g.entry IS NULL THEN g.last_error ELSE g.error END,
               CASE WHEN g.entry IS NULL THEN g.log ELSE g.log || jsonb_build_array(g.entry) END,
               g.response_headers, g.response_body
        FROM gone AS g
        RETURNING id, channel, ordering_key, state
    ), held AS (
        INSERT INTO httpq.held_key (channel, ordering_key, request_id)
        SELECT k.channel, k.ordering_key, k.id
        FROM kept AS k JOIN httpq.channel c ON c.name = k.channel
        WHERE k.state = 'dead' AND k.ordering_key IS NOT NULL AND c.ordering_on_dead = 'hold'
        ON CONFLICT DO NOTHING
    )
    SELECT count(*), array_agg(k.channel) FILTER (WHERE k.ordering_key IS NOT NULL),
           array_agg(k.ordering_key) FILTER (WHERE k.ordering_key IS NOT NULL)
    INTO moved, channels, keys
    FROM kept AS k;

    -- The heads are gone: promote the next of each key under its lock (a concurrent
    -- enqueue of the key has then either committed behind them or will see them gone), or,
    -- while an application holds the lock, at the next claim.
    IF keys IS NOT NULL THEN
        PERFORM httpq._promote_or_defer(channels, keys);
    END IF;
    RETURN moved;
END;
$$;
COMMENT ON FUNCTION httpq._finish(httpq._ending[])
    IS 'Moves finished requests to httpq.history, holds or promotes their ordering keys.';
