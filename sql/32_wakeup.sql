-- 32_wakeup.sql: waking idle workers, and only idle ones.
--
-- A NOTIFY is cheap to send but costly to commit: Postgres serializes the commits of every
-- transaction that notified, each holding a database-wide lock through its WAL flush, so
-- a NOTIFY in every enqueue caps single enqueues at a fraction of plain INSERTs. A worker
-- that is delivering claims again on its own, so only a worker waiting for work needs one.
--
-- A worker marks itself idle (httpq.idle) before it waits: a session-level advisory lock,
-- shared, in lock space 1752461428, key 0. A transaction that makes work claimable
-- (httpq._wake_workers) first takes key 1, shared, until it ends; then, if key 0 cannot be
-- taken exclusively, some worker is idle, and it notifies (as it does when key 1 is taken:
-- it never waits for a lock any session could hold). The race between the two is
-- closed by key 1: a worker that has marked itself idle asks whether key 1 is free; when
-- it is, every transaction that looked for idle workers before the mark has ended, so its
-- requests are visible to the claim the worker makes next, and every later one notifies.
-- (Advisory locks end after the commit is visible.) Session locks end with the session, so
-- a worker that dies leaves no mark behind: at worst a NOTIFY that nobody needed.

-- Called by every transaction that makes requests claimable: notifies if a worker is idle.
CREATE FUNCTION httpq._wake_workers() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Conditions, not PERFORM: PL/pgSQL evaluates them without a round through the executor.
    -- Key 1 taken: a worker is marking itself idle this very moment (microseconds), so
    -- notify rather than wait for it. Never a wait: any session may take any advisory lock,
    -- and one holding key 1 must not stall every enqueue; it can only cost NOTIFYs.
    IF NOT pg_try_advisory_xact_lock_shared(1752461428, 1)
       OR NOT (pg_try_advisory_lock(1752461428, 0) AND pg_advisory_unlock(1752461428, 0)) THEN
        PERFORM pg_notify('httpq', '');   -- a worker is idle; merged into one per transaction
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._wake_workers() IS 'Notifies channel httpq when a worker is idle (httpq.idle).';

-- Whether this session holds the idle mark. Read from the lock table itself, not kept in a
-- setting: a setting rolls back with its transaction and a session lock does not, so the
-- two could disagree.
CREATE FUNCTION httpq._marked_idle() RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT 1 FROM pg_locks l
                   WHERE l.pid = pg_backend_pid() AND l.locktype = 'advisory' AND l.granted
                     AND l.classid = 1752461428 AND l.objid = 0 AND l.objsubid = 2)
$$;
COMMENT ON FUNCTION httpq._marked_idle() IS 'Whether the calling session holds the idle mark (httpq.idle).';

-- Marks the calling session's worker idle, so that enqueues notify it; returns true when no
-- transaction that could have missed the mark is still running, that is, when a claim made
-- now sees everything it must. On false, claim again a little later and call it again.
-- Calling it again while marked only asks again. Never waits: a mark that cannot be taken
-- at once (an enqueue looking for idle workers holds it for microseconds) answers false.
CREATE FUNCTION httpq.idle() RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT httpq._marked_idle() AND NOT pg_try_advisory_lock_shared(1752461428, 0) THEN
        RETURN false;
    END IF;
    -- One expression: an interrupt between the two calls would leave key 1 held, and every
    -- enqueue waiting for it.
    RETURN pg_try_advisory_lock(1752461428, 1) AND pg_advisory_unlock(1752461428, 1);
END;
$$;
COMMENT ON FUNCTION httpq.idle()
    IS 'Marks the session''s worker idle (enqueues then notify); true when a claim now sees every request.';

-- Ends the calling session's idle mark: a worker claiming on its own needs no NOTIFY, and
-- enqueues stop sending them once no worker is marked.
CREATE FUNCTION httpq.busy() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF httpq._marked_idle() THEN
        PERFORM pg_advisory_unlock_shared(1752461428, 0);
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq.busy() IS 'Ends the session''s idle mark (httpq.idle).';
