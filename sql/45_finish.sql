-- 45_finish.sql: how a request leaves the live queue.
--
-- httpq._finish is the one way out of httpq.request: delivered, dead and canceled requests
-- move to httpq.history with their last response, a dead head holds its key where the
-- channel asks for that, and the next request of each key the finished ones headed is
-- promoted. report, claim (deadlines, expired leases) and cancel all end here. A delivered
-- or dead request of a channel with an on_finish hook is then handed to it, one enqueued
-- with notify is announced on channel httpq_finished (sql/47_await.sql), and every one on
-- channel httpq_outcomes while an `httpq tail` runs (sql/62_tail.sql). Delivered and dead
-- requests are counted in httpq.rollup (sql/85_rollup.sql), with the duration of the
-- attempt that ended them.

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
    ended    bigint[];
    announced bigint[];
    counted  text[];              -- the channels, outcomes, latencies and last attempts' durations
    outcomes text[];              -- of the delivered and dead
    waited   double precision[];
    took     double precision[];
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
    -- From gone, one row per request as kept has it: the ending's own attempt is there too.
    SELECT count(*), array_agg(g.channel) FILTER (WHERE g.ordering_key IS NOT NULL),
           array_agg(g.ordering_key) FILTER (WHERE g.ordering_key IS NOT NULL),
           array_agg(g.id) FILTER (WHERE g.final_state <> 'canceled'),
           array_agg(g.id ORDER BY g.id) FILTER (WHERE g.notify),
           array_agg(g.channel) FILTER (WHERE g.final_state <> 'canceled'),
           array_agg(g.final_state) FILTER (WHERE g.final_state <> 'canceled'),
           array_agg(CASE WHEN g.final_state = 'delivered' THEN date_part('epoch', now_at - g.created_at) * 1000 END)
               FILTER (WHERE g.final_state <> 'canceled'),
           array_agg(CASE WHEN NOT g.entry ? 'unsent' THEN (g.entry ->> 'duration_ms')::double precision END)
               FILTER (WHERE g.final_state <> 'canceled')
    INTO moved, channels, keys, ended, announced, counted, outcomes, waited, took
    FROM gone AS g;

    -- The heads are gone: promote the next of each key under its lock (a concurrent
    -- enqueue of the key has then either committed behind them or will see them gone), or,
    -- while an application holds the lock, at the next claim.
    IF keys IS NOT NULL THEN
        PERFORM httpq._promote_or_defer(channels, keys);
    END IF;
    -- One probe of an index that lists only the channels with a hook: none, nothing more.
    IF ended IS NOT NULL AND EXISTS (SELECT 1 FROM httpq.channel c WHERE c.on_finish IS NOT NULL) THEN
        PERFORM httpq._call_hooks(ended, now_at);
    END IF;
    IF announced IS NOT NULL THEN
        PERFORM pg_notify('httpq_finished', p) FROM httpq._finished_payloads(announced) AS p;
    END IF;
    IF counted IS NOT NULL THEN
        PERFORM httpq._count_outcomes(now_at, counted, outcomes, waited, took);
    END IF;
    -- A live `httpq tail` hears of every ending, a dead one by deadline or lease or a canceled
    -- one too (sql/62_tail.sql); none: one index probe.
    IF EXISTS (SELECT 1 FROM httpq.tail t WHERE t.expires_at > now_at) THEN
        PERFORM httpq._announce_outcomes(ARRAY(
            SELECT e.id || ':' || coalesce(e.attempt ->> 'attempt', '') FROM unnest(endings) AS e));
    END IF;
    RETURN moved;
END;
$$;
COMMENT ON FUNCTION httpq._finish(httpq._ending[])
    IS 'Moves finished requests to httpq.history, holds or promotes their ordering keys.';

-- Calls the on_finish hook of each of the requests (delivered or dead, finished at
-- finished_at) whose channel has one, in id order, inside the transaction that records
-- them. Each hook gets its requests in one statement, in a subtransaction; if that raises,
-- it is undone and the hook is called for each request on its own, again in a
-- subtransaction each: a hook that raises loses its own changes, not the outcome. Its error
-- goes on the request (history.hook_error, shown in httpq.requests) and to the server log
-- as a warning; a failed hook is not called again. The hook runs with its owner's rights
-- (it is SECURITY DEFINER, httpq._check_hook).
CREATE FUNCTION httpq._call_hooks(ids bigint[], finished_at timestamptz) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    hook     record;
    request  httpq.finished;
    fn       text;
    message  text;
    code     text;
BEGIN
    FOR hook IN
        SELECT c.on_finish,
               array_agg(ROW(h.id, h.channel, h.state, h.attempt, h.last_status, h.response_headers, h.response_body,
                             h.last_error, h.reason, h.method, h.url, h.ordering_key, h.dedupe_key, h.idempotency_key,
                             h.created_at, h.finished_at)::httpq.finished ORDER BY h.id) AS requests
        FROM httpq.history h
        JOIN httpq.channel c ON c.name = h.channel
        -- finished_at prunes the scan to the day's partition.
        WHERE h.id = ANY (ids) AND h.finished_at = _call_hooks.finished_at AND c.on_finish IS NOT NULL
        GROUP BY c.on_finish
    LOOP
        -- The hook's name, quoted, from the signature set_channel checked; NULL for a
        -- function dropped since, which then fails as the hook's error.
        fn := (SELECT quote_ident(n.nspname) || '.' || quote_ident(p.proname)
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE p.oid = to_regprocedure(hook.on_finish));
        BEGIN
            IF fn IS NULL THEN
                RAISE EXCEPTION 'function % does not exist', hook.on_finish USING ERRCODE = 'undefined_function';
            END IF;
            EXECUTE format('SELECT count(%s(f)) FROM unnest($1) AS f', fn) USING hook.requests;
            CONTINUE;
        EXCEPTION WHEN OTHERS THEN
            NULL;   -- some request made it raise: each on its own, below
        END;
        FOREACH request IN ARRAY hook.requests LOOP
            BEGIN
                IF fn IS NULL THEN
                    RAISE EXCEPTION 'function % does not exist', hook.on_finish USING ERRCODE = 'undefined_function';
                END IF;
                EXECUTE format('SELECT %s($1)', fn) USING request;
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS message = MESSAGE_TEXT, code = RETURNED_SQLSTATE;
                UPDATE httpq.history h SET hook_error = format('%s (SQLSTATE %s)', message, code)
                WHERE h.id = request.id AND h.finished_at = _call_hooks.finished_at;
                RAISE WARNING 'httpq: on_finish hook % of channel % failed for request %: %',
                    hook.on_finish, quote_literal(request.channel), request.id, message;
            END;
        END LOOP;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION httpq._call_hooks(bigint[], timestamptz)
    IS 'Calls the on_finish hooks of finished requests, each hook''s in one statement; a failure is recorded on the request.';
