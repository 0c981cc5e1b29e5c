-- 65_manage.sql: an operator's hand on single requests: cancel, retry, replay.
--
-- Writes httpq.request, httpq.history and httpq.held_key. A request comes back from
-- history with its id, idempotency key and attempt count kept (attempt numbers stay
-- unique per request, which report's fencing relies on) and a fresh attempt budget.

-- Raises unless the caller may operate the channel of request id (see
-- httpq._check_operator); no such request passes (the caller then learns nothing).
CREATE FUNCTION httpq._check_request_operator(id bigint, action text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    channel text := coalesce((SELECT r.channel FROM httpq.request r WHERE r.id = _check_request_operator.id),
                             (SELECT h.channel FROM httpq.history h WHERE h.id = _check_request_operator.id));
BEGIN
    IF channel IS NOT NULL THEN
        PERFORM httpq._check_operator(channel, action);
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._check_request_operator(bigint, text) IS 'Raises unless the caller may operate the channel of a request.';

-- Cancels a request that is not delivered: a waiting, running (a late report is then
-- ignored) or dead one. A dead request that held its ordering key releases it.
CREATE FUNCTION httpq.cancel(id bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    released httpq.held_key;
BEGIN
    IF id IS NULL THEN
        RAISE EXCEPTION 'id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM httpq._check_request_operator(cancel.id, 'cancel requests of');
    -- The key's lock before the row's (the order report and enqueue use): locking the row
    -- first deadlocks with a report promoting this very row.
    PERFORM httpq._lock_keys(ARRAY(SELECT r.channel FROM httpq.request r WHERE r.id = cancel.id),
                             ARRAY(SELECT r.ordering_key FROM httpq.request r WHERE r.id = cancel.id));
    PERFORM FROM httpq.request r WHERE r.id = cancel.id FOR UPDATE;
    IF FOUND THEN
        PERFORM httpq._finish(ARRAY[ROW(cancel.id, 'canceled', 'canceled', NULL, NULL, NULL, NULL, NULL)::httpq._ending]);
        RETURN true;
    END IF;

    UPDATE httpq.history h SET state = 'canceled', reason = 'canceled after it died: ' || coalesce(h.reason, 'unknown')
    WHERE h.id = cancel.id AND h.state = 'dead';
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    DELETE FROM httpq.held_key k WHERE k.request_id = cancel.id RETURNING * INTO released;
    IF FOUND THEN
        PERFORM httpq._lock_keys(ARRAY[released.channel], ARRAY[released.ordering_key]);
        PERFORM httpq._promote(ARRAY[released.channel], ARRAY[released.ordering_key]);
    END IF;
    RETURN true;
END;
$$;
COMMENT ON FUNCTION httpq.cancel(bigint)
    IS 'Cancels a waiting, running or dead request; returns false when there is none to cancel.';

-- Brings a dead or canceled request back to the live queue, or why it cannot come back
-- (NULL when it came back, '' when there is no such dead or canceled request).
CREATE FUNCTION httpq._revive(id bigint) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    h    httpq.history;
    now_at constant timestamptz := httpq._now();
    head boolean := true;
BEGIN
    SELECT * INTO h FROM httpq.history x WHERE x.id = _revive.id AND x.state IN ('dead', 'canceled') FOR UPDATE;
    IF NOT FOUND THEN
        RETURN '';
    END IF;
    IF h.deadline <= now_at THEN
        RETURN format('request %s is past its deadline (%s): it would die again at once', h.id, h.deadline);
    END IF;
    IF EXISTS (SELECT 1 FROM httpq.request r WHERE r.channel = h.channel AND r.dedupe_key = h.dedupe_key) THEN
        RETURN format('request %s has dedupe_key %s, which an unfinished request of channel %s already has',
                      h.id, quote_literal(h.dedupe_key), h.channel);
    END IF;
    PERFORM httpq._ensure_channels(ARRAY[h.channel]);
    IF h.ordering_key IS NOT NULL THEN
        PERFORM httpq._lock_keys(ARRAY[h.channel], ARRAY[h.ordering_key]);
        DELETE FROM httpq.held_key k WHERE k.request_id = h.id;
        head := NOT EXISTS (SELECT 1 FROM httpq.request r WHERE r.channel = h.channel AND r.ordering_key = h.ordering_key
                                                              AND r.state IN ('waiting', 'scheduled', 'running'))
                AND NOT EXISTS (SELECT 1 FROM httpq.request r WHERE r.channel = h.channel AND r.ordering_key = h.ordering_key
                                                              AND r.state = 'blocked')
                AND NOT EXISTS (SELECT 1 FROM httpq.held_key k WHERE k.channel = h.channel AND k.ordering_key = h.ordering_key);
    END IF;
    INSERT INTO httpq.request (id, channel, state, priority, run_at, attempt, attempt_floor, method, url, headers, body,
                               ordering_key, dedupe_key, idempotency_key, max_attempts, timeout_ms, deadline,
                               created_at, last_status, last_error, log, secrets)
    VALUES (h.id, h.channel, CASE WHEN head THEN 'waiting' ELSE 'blocked' END, h.priority, now_at, h.attempt,
            h.attempt, h.method, h.url, h.headers, h.body, h.ordering_key, h.dedupe_key, h.idempotency_key,
            h.max_attempts, h.timeout_ms, h.deadline, h.created_at, h.last_status, h.last_error, h.log,
            httpq._secret_names(h.headers));
    DELETE FROM httpq.history x WHERE x.id = h.id;
    IF NOT head THEN
        -- A key this request held has only blocked requests left: the oldest, often this
        -- one, becomes its head. (A key with a head or another hold promotes nothing.)
        PERFORM httpq._promote(ARRAY[h.channel], ARRAY[h.ordering_key]);
    END IF;
    PERFORM httpq._wake_workers();
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION httpq._revive(bigint) IS 'Moves a dead or canceled request back to waiting, or says why it cannot.';

-- Sends a request again: a dead or canceled one goes back to waiting with a fresh attempt
-- budget; a waiting one in backoff is due at once. False when there is nothing to retry
-- (delivered, running, or no such request).
CREATE FUNCTION httpq.retry(id bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    problem text;
BEGIN
    IF id IS NULL THEN
        RAISE EXCEPTION 'id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM httpq._check_request_operator(retry.id, 'retry requests of');
    UPDATE httpq.request r SET run_at = httpq._now(), state = 'waiting'
    WHERE r.id = retry.id AND r.state = 'scheduled';
    IF FOUND THEN
        PERFORM httpq._wake_workers();
        RETURN true;
    END IF;
    problem := httpq._revive(retry.id);
    IF problem <> '' THEN
        RAISE EXCEPTION '%', problem USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN problem IS NULL;
END;
$$;
COMMENT ON FUNCTION httpq.retry(bigint)
    IS 'Sends a dead or canceled request again (fresh attempt budget), or a waiting one at once.';

-- Replays the dead requests of a channel that died in [since, until); returns how many
-- went back to waiting. Those that cannot (past their deadline, dedupe_key taken) stay
-- dead and are named in a warning.
CREATE FUNCTION httpq.replay(channel text, since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dead_id  bigint;
    problem  text;
    replayed integer := 0;
    skipped  text[] := '{}';
BEGIN
    PERFORM httpq._check_channel(replay.channel);
    PERFORM httpq._check_operator(replay.channel, 'replay');
    FOR dead_id IN
        SELECT h.id FROM httpq.history h
        WHERE h.channel = replay.channel AND h.state = 'dead'
          AND (replay.since IS NULL OR h.finished_at >= replay.since)
          AND (replay.until IS NULL OR h.finished_at < replay.until)
        ORDER BY h.id
    LOOP
        problem := httpq._revive(dead_id);
        IF problem IS NULL THEN
            replayed := replayed + 1;
        ELSE
            skipped := skipped || problem;
        END IF;
    END LOOP;
    IF cardinality(skipped) > 0 THEN
        RAISE WARNING '% dead requests were not replayed', cardinality(skipped)
            USING DETAIL = array_to_string(skipped[1:10], E'\n');
    END IF;
    RETURN replayed;
END;
$$;
COMMENT ON FUNCTION httpq.replay(text, timestamptz, timestamptz)
    IS 'Sends the dead requests of a channel that died in [since, until) again; returns how many.';
