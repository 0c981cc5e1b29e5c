-- 47_await.sql: learning that a request finished, and its outcome.
--
-- Owns no table. A request enqueued with notify is announced when it finishes (delivered,
-- dead or canceled): httpq._finish sends NOTIFY on channel httpq_finished with its id
-- (httpq._finished_payloads), delivered when the finishing transaction commits, so a
-- listener never hears of an outcome it cannot read yet. Requests that did not ask cost nothing.
-- httpq.outcome reads a finished request's outcome; httpq.wait polls it for callers that
-- can afford a session waiting (a LISTEN is the way for the rest). Both only for the
-- request's own tenant (and admins).

-- The outcome of a finished request, as httpq.outcome and httpq.wait return it.
CREATE TYPE httpq.outcome AS (
    id          bigint,
    state       text,         -- delivered, dead or canceled
    status      integer,      -- the last response's, NULL without one
    headers     jsonb,
    body        bytea,
    error       text,         -- the last attempt's failure
    finished_at timestamptz
);

-- The payloads that announce finished requests on channel httpq_finished: their ids,
-- comma-separated, in as few payloads as fit NOTIFY's 8000-byte limit.
CREATE FUNCTION httpq._finished_payloads(ids bigint[]) RETURNS SETOF text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT string_agg(c.id::text, ',' ORDER BY c.id)
    FROM (SELECT i.id, (sum(length(i.id::text) + 1) OVER (ORDER BY i.id)) / 7900 AS chunk
          FROM unnest(ids) AS i(id)) AS c
    GROUP BY c.chunk
    ORDER BY c.chunk
$$;
COMMENT ON FUNCTION httpq._finished_payloads(bigint[]) IS 'The httpq_finished payloads announcing finished requests: ids, comma-separated, under 8000 bytes each.';

-- The outcome of request id once it finished; NULL while it has not. Raises for a request
-- that does not exist or is another tenant's, in the same words, so that a role learns
-- nothing of others' requests.
CREATE FUNCTION httpq.outcome(id bigint) RETURNS httpq.outcome
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result  httpq.outcome;
    channel text := (SELECT h.channel FROM httpq.history h WHERE h.id = outcome.id);
BEGIN
    IF channel IS NOT NULL THEN
        SELECT h.id, h.state, h.last_status, h.response_headers, h.response_body, h.last_error, h.finished_at
        INTO result
        FROM httpq.history h WHERE h.id = outcome.id;
    ELSE
        SELECT r.channel INTO channel FROM httpq.request r WHERE r.id = outcome.id;
    END IF;
    IF channel IS NULL OR NOT httpq._owns((SELECT c.owner FROM httpq.channel c WHERE c.name = channel)) THEN
        RAISE EXCEPTION 'role % has no request %', quote_ident(httpq._caller()), coalesce(id::text, 'NULL')
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN result;
END;
$$;
COMMENT ON FUNCTION httpq.outcome(bigint) IS 'A finished request''s outcome (state, status, headers, body, error); NULL while unfinished.';

-- Waits up to timeout for request id to finish and returns its outcome, or NULL at the
-- timeout. It polls, a few milliseconds apart at first and at most half a second: it holds
-- a session and its snapshot meanwhile (vacuum waits for it), so keep timeouts short, or
-- LISTEN httpq_finished instead. Each poll must see other transactions' commits, so it
-- refuses to run in a REPEATABLE READ or SERIALIZABLE transaction, or for a request its own
-- transaction enqueued.
CREATE FUNCTION httpq.wait(id bigint, timeout interval DEFAULT '30 seconds') RETURNS httpq.outcome
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    until  timestamptz;
    pause  float8 := 0.005;
    result httpq.outcome;
BEGIN
    IF timeout IS NULL OR timeout < '0' OR timeout > '1 hour' THEN
        RAISE EXCEPTION 'timeout must be from 0 to 1 hour, got %', coalesce(timeout::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For longer waits, LISTEN httpq_finished.';
    END IF;
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'httpq.wait needs a READ COMMITTED transaction, not %', current_setting('transaction_isolation')
            USING ERRCODE = 'active_sql_transaction',
                  HINT = 'Its snapshot would never see the request finish.';
    END IF;
    until := clock_timestamp() + timeout;
    LOOP
        result := httpq.outcome(id);
        IF result.id IS NOT NULL THEN
            RETURN result;
        END IF;
        -- Enqueued by this very transaction: no worker can see it before it commits.
        IF EXISTS (SELECT 1 FROM httpq.request r
                   WHERE r.id = wait.id AND r.xmin = pg_current_xact_id_if_assigned()::text::xid) THEN
            RAISE EXCEPTION 'request % was enqueued in this transaction, which must commit before a worker can send it', id
                USING ERRCODE = 'active_sql_transaction', HINT = 'Commit first, then wait.';
        END IF;
        EXIT WHEN clock_timestamp() >= until;
        PERFORM pg_sleep(least(pause, extract(epoch FROM until - clock_timestamp())));
        pause := least(pause * 2, 0.5);
    END LOOP;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION httpq.wait(bigint, interval) IS 'Waits up to timeout for a request to finish and returns its outcome; NULL at the timeout.';
