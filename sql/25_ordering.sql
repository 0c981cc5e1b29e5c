-- 25_ordering.sql: per-key order, settled at enqueue and when a request finishes.
--
-- Owns the rule "per (channel, ordering_key), at most one request is waiting, scheduled or
-- running (the head), and the others are blocked behind it", httpq.key_lock and
-- httpq.deferred_key. Claim never looks at keys. Whoever adds a request to a key or
-- promotes its next request holds the key's lock (its httpq.key_lock row, locked until
-- the transaction ends), so two concurrent enqueues cannot both become
-- heads and an enqueue cannot slip in behind a leaving head unseen. A worker never waits
-- for that lock (an application may hold it for as long as its transaction lasts): when
-- the key is busy, its promotion is deferred to the next claim.

-- Takes the locks of the given keys, waiting for them, in one global order (no deadlock
-- between two callers locking overlapping sets): one statement makes each key's
-- httpq.key_lock row or, when it exists, locks it by a no-op update, key after key in
-- order. A row httpq.maintain deletes meanwhile is made again.
CREATE FUNCTION httpq._lock_keys(channels text[], keys text[]) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- PL/pgSQL: its plan is made once per session (a SQL body pinning search_path is
    -- planned on every call).
    INSERT INTO httpq.key_lock AS l (channel, ordering_key)
    SELECT DISTINCT u.c, u.k FROM unnest(channels, keys) AS u(c, k) WHERE u.k IS NOT NULL ORDER BY 1, 2
    ON CONFLICT (channel, ordering_key) DO UPDATE SET channel = excluded.channel;
END;
$$;
COMMENT ON FUNCTION httpq._lock_keys(text[], text[]) IS 'Takes the row locks of ordering keys (httpq.key_lock), in a fixed order.';

-- Takes the lock of one key if it is free now; true when taken. Never waits: a worker
-- calls it, and an application transaction may hold the lock for as long as it lasts. A
-- key without a row has no unfinished request enqueued, so nobody holds it.
CREATE FUNCTION httpq._try_lock_key(channel text, ordering_key text) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM FROM httpq.key_lock l WHERE l.channel = _try_lock_key.channel AND l.ordering_key = _try_lock_key.ordering_key
    FOR UPDATE SKIP LOCKED;
    RETURN FOUND OR NOT EXISTS (SELECT 1 FROM httpq.key_lock l
                                WHERE l.channel = _try_lock_key.channel AND l.ordering_key = _try_lock_key.ordering_key);
END;
$$;
COMMENT ON FUNCTION httpq._try_lock_key(text, text) IS 'Takes an ordering key''s row lock if it is free now; never waits.';

-- Takes the locks of the keys an enqueue adds to. Under READ COMMITTED the enqueue's next
-- statement then sees every head committed before the lock was granted. An older snapshot
-- (REPEATABLE READ, SERIALIZABLE) may still see a head that has finished since: locking the
-- heads it sees turns that into a serialization failure (40001) for the application to
-- retry, instead of a request blocked forever behind a head that is gone.
CREATE FUNCTION httpq._lock_keys_to_enqueue(channels text[], keys text[]) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM httpq._lock_keys(channels, keys);
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        -- The row lock is only a probe: its subtransaction is rolled back, so no report or
        -- claim of the head waits for this application's transaction.
        BEGIN
            PERFORM FROM httpq.request h
            JOIN (SELECT DISTINCT c, k FROM unnest(channels, keys) AS u(c, k) WHERE k IS NOT NULL) AS u
              ON h.channel = u.c AND h.ordering_key = u.k
            WHERE h.state IN ('waiting', 'scheduled', 'running')
            FOR KEY SHARE OF h;
            RAISE EXCEPTION USING ERRCODE = 'HQ001';
        EXCEPTION WHEN SQLSTATE 'HQ001' THEN
            NULL;
        END;
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._lock_keys_to_enqueue(text[], text[])
    IS 'Takes the locks of keys an enqueue adds to; a stale snapshot that sees a finished head gets a serialization failure.';

-- Makes the oldest blocked request of each given key its head, where the key has no head
-- and is not held. The caller holds the keys' locks. Returns how many were promoted.
CREATE FUNCTION httpq._promote(channels text[], keys text[]) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    now_at   constant timestamptz := httpq._now();
    promoted integer;
BEGIN
    UPDATE httpq.request r SET state = CASE WHEN r.run_at > now_at THEN 'scheduled' ELSE 'waiting' END
    FROM (SELECT DISTINCT c, k FROM unnest(channels, keys) AS u(c, k) WHERE k IS NOT NULL) AS u
    -- One probe of request_blocked_idx per key: the first blocked request at or after the
    -- key in the index's order, which is the key's oldest when it has one. (With equality
    -- on channel and key, ORDER BY id is satisfied by the primary key too, and the planner
    -- may walk it past every other key's requests.)
    CROSS JOIN LATERAL (
        SELECT b.id, b.channel, b.ordering_key FROM httpq.request b
        WHERE b.state = 'blocked' AND (b.channel, b.ordering_key) >= (u.c, u.k)
        ORDER BY b.channel, b.ordering_key, b.id
        LIMIT 1
    ) AS next
    WHERE r.id = next.id AND next.channel = u.c AND next.ordering_key = u.k
      AND NOT EXISTS (SELECT 1 FROM httpq.request h
                      WHERE h.channel = u.c AND h.ordering_key = u.k AND h.state IN ('waiting', 'scheduled', 'running'))
      AND NOT EXISTS (SELECT 1 FROM httpq.held_key hk WHERE hk.channel = u.c AND hk.ordering_key = u.k);
    GET DIAGNOSTICS promoted = ROW_COUNT;
    IF promoted > 0 THEN
        PERFORM httpq._wake_workers();
    END IF;
    RETURN promoted;
END;
$$;
COMMENT ON FUNCTION httpq._promote(text[], text[]) IS 'Promotes the oldest blocked request of each headless, unheld ordering key.';

-- Promotes the next request of each given key whose lock is free now; a key whose lock is
-- taken (an application transaction enqueueing to it is still open) is deferred to the
-- next claim, so a worker's report never waits for an application.
CREATE FUNCTION httpq._promote_or_defer(channels text[], keys text[]) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    key record;
    free_channels text[] := '{}';
    free_keys text[] := '{}';
BEGIN
    FOR key IN
        SELECT DISTINCT c, k FROM unnest(channels, keys) AS u(c, k) WHERE k IS NOT NULL
    LOOP
        IF httpq._try_lock_key(key.c, key.k) THEN
            free_channels := free_channels || key.c;
            free_keys := free_keys || key.k;
        ELSE
            INSERT INTO httpq.deferred_key (channel, ordering_key) VALUES (key.c, key.k) ON CONFLICT DO NOTHING;
        END IF;
    END LOOP;
    PERFORM httpq._promote(free_channels, free_keys);
END;
$$;
COMMENT ON FUNCTION httpq._promote_or_defer(text[], text[])
    IS 'Promotes the next request of keys whose lock is free; defers the others to the next claim.';

-- Promotes the keys deferred earlier whose lock is free now (called by claim).
CREATE FUNCTION httpq._promote_deferred() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    key httpq.deferred_key;
BEGIN
    FOR key IN SELECT * FROM httpq.deferred_key FOR UPDATE SKIP LOCKED LOOP
        IF httpq._try_lock_key(key.channel, key.ordering_key) THEN
            PERFORM httpq._promote(ARRAY[key.channel], ARRAY[key.ordering_key]);
            DELETE FROM httpq.deferred_key d WHERE d.channel = key.channel AND d.ordering_key = key.ordering_key;
        END IF;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION httpq._promote_deferred() IS 'Promotes the deferred ordering keys whose lock is free now.';
