-- 25_ordering.sql: per-key order, settled at enqueue and when a request finishes.
--
-- Owns the rule "per (channel, ordering_key), at most one request is waiting or running,
-- and the others are blocked behind it". Claim never looks at keys. Everyone who adds a
-- request to a key or removes its head takes the key's transaction-level advisory lock
-- first, so two concurrent enqueues cannot both become heads, and an enqueue cannot slip
-- in behind a head that is leaving without being promoted.

-- Takes the advisory locks of the given keys, in one global order (no deadlock between two
-- callers locking overlapping sets). The first int names httpq's lock space.
CREATE FUNCTION httpq._lock_keys(channels text[], keys text[]) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT count(pg_advisory_xact_lock(1752461425, k.lock_id))
    FROM (
        SELECT DISTINCT hashtext(c || E'\x1f' || k) AS lock_id
        FROM unnest(channels, keys) AS u(c, k)
        WHERE k IS NOT NULL
        ORDER BY 1
    ) AS k
$$;
COMMENT ON FUNCTION httpq._lock_keys(text[], text[]) IS 'Takes the transaction-level advisory locks of ordering keys, in a fixed order.';

-- Makes the oldest blocked request of each given key its head, where the key has no head
-- and is not held. The caller holds the keys' locks. Returns how many were promoted.
CREATE FUNCTION httpq._promote(channels text[], keys text[]) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    promoted integer;
BEGIN
    UPDATE httpq.request r SET state = 'waiting'
    FROM (
        SELECT DISTINCT ON (b.channel, b.ordering_key) b.id
        FROM (SELECT DISTINCT c, k FROM unnest(channels, keys) AS u(c, k) WHERE k IS NOT NULL) AS u
        JOIN httpq.request b ON b.channel = u.c AND b.ordering_key = u.k
        WHERE b.state = 'blocked'
          AND NOT EXISTS (SELECT 1 FROM httpq.request h
                          WHERE h.channel = u.c AND h.ordering_key = u.k AND h.state IN ('waiting', 'running'))
          AND NOT EXISTS (SELECT 1 FROM httpq.held_key hk WHERE hk.channel = u.c AND hk.ordering_key = u.k)
        ORDER BY b.channel, b.ordering_key, b.id
    ) AS next
    WHERE r.id = next.id;
    GET DIAGNOSTICS promoted = ROW_COUNT;
    IF promoted > 0 THEN
        PERFORM pg_notify('httpq', '');
    END IF;
    RETURN promoted;
END;
$$;
COMMENT ON FUNCTION httpq._promote(text[], text[]) IS 'Promotes the oldest blocked request of each headless, unheld ordering key.';
