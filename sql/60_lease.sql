-- 60_lease.sql: a worker keeping or giving back what it claimed.
--
-- Writes httpq.request rows in state running, and only the exact claims the caller names:
-- (id, attempt) pairs held by the calling worker. A claim is fenced by its attempt number,
-- not only by the worker's name: a worker restarted under the same name (same host:pid in
-- a new container), or one whose lease expired and whose request was claimed again, names
-- an older attempt, and its heartbeat or release changes nothing.

-- Raises a clear error unless ids and attempts name claims pairwise.
CREATE FUNCTION httpq._check_claims(ids bigint[], attempts integer[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF ids IS NULL OR attempts IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', CASE WHEN ids IS NULL THEN 'ids' ELSE 'attempts' END
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF cardinality(ids) <> cardinality(attempts) THEN
        RAISE EXCEPTION 'ids and attempts must have the same length, got % and %', cardinality(ids), cardinality(attempts)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'attempts[i] is the attempt number the claim of ids[i] returned.';
    END IF;
    IF array_position(ids, NULL) IS NOT NULL OR array_position(attempts, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'ids and attempts must not contain NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._check_claims(bigint[], integer[])
    IS 'Raises an error unless ids and attempts are two NULL-free arrays of the same length.';

-- Raises a clear error unless worker can name a worker: claims are held under the name,
-- shown in views and logs, so it is bounded and free of control characters.
CREATE FUNCTION httpq._check_worker(worker text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF worker IS NULL OR worker = '' THEN
        RAISE EXCEPTION 'worker must name the worker (for example host:pid)' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF length(worker) > 200 OR worker ~ '[\x01-\x1f\x7f-\x9f]' THEN
        RAISE EXCEPTION 'worker must be at most 200 characters, without control characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._check_worker(text) IS 'Raises a clear error unless worker is a usable worker name.';

-- Raises a clear error unless lease is a lease a claim or heartbeat may take: from one
-- second (shorter would expire under a busy server's own delays) to a day (longer keeps a
-- dead worker's requests from everyone that long).
CREATE FUNCTION httpq._check_lease(lease interval) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF lease IS NULL OR lease < interval '1 second' OR lease > interval '1 day' THEN
        RAISE EXCEPTION 'lease must be from 1 second to 1 day, got %', coalesce(lease::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._check_lease(interval) IS 'Raises a clear error unless lease is from 1 second to 1 day.';

-- Extends the leases of a worker's running claims; returns how many were extended.
CREATE FUNCTION httpq.heartbeat(worker text, ids bigint[], attempts integer[], lease interval DEFAULT '1 minute')
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan   -- see httpq.claim
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    now_at   constant timestamptz := httpq._now();
    extended integer;
BEGIN
    PERFORM httpq._check_worker(worker);
    PERFORM httpq._check_lease(lease);
    PERFORM httpq._check_claims(ids, attempts);
    UPDATE httpq.request r
    SET lease_until = now_at + heartbeat.lease
    FROM unnest(heartbeat.ids, heartbeat.attempts) AS c(id, attempt)
    -- Running, said as lease_until IS NOT NULL: see httpq.report. id = ANY keeps the
    -- request side a primary-key read whichever side the session's plan puts first.
    WHERE r.id = c.id AND r.attempt = c.attempt AND r.worker = heartbeat.worker AND r.lease_until IS NOT NULL
      AND r.id = ANY (heartbeat.ids);
    GET DIAGNOSTICS extended = ROW_COUNT;
    RETURN extended;
END;
$$;
COMMENT ON FUNCTION httpq.heartbeat(text, bigint[], integer[], interval)
    IS 'Extends the leases of the worker''s running claims (id, attempt) to now() + lease; returns how many.';

-- Hands a worker's claims back unattempted (clean shutdown): they wait again. The attempt
-- does not count against max_attempts, but its number is not reused: the next claim gets a
-- new one, so a late report of the released attempt can never apply to the next.
CREATE FUNCTION httpq.release(worker text, ids bigint[], attempts integer[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan   -- see httpq.claim
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    now_at   constant timestamptz := httpq._now();
    released integer;
BEGIN
    PERFORM httpq._check_worker(worker);
    PERFORM httpq._check_claims(ids, attempts);
    UPDATE httpq.request r
    SET state = 'waiting', attempt_floor = r.attempt_floor + 1, worker = NULL, lease_until = NULL,
        log = r.log || jsonb_build_array(jsonb_build_object(
            'attempt', r.attempt, 'at', now_at, 'worker', r.worker, 'status', NULL,
            'error', 'released: the worker stopped before it was sent'))
    FROM unnest(release.ids, release.attempts) AS c(id, attempt)
    -- Running, said as lease_until IS NOT NULL, and id = ANY: see httpq.heartbeat.
    WHERE r.id = c.id AND r.attempt = c.attempt AND r.worker = release.worker AND r.lease_until IS NOT NULL
      AND r.id = ANY (release.ids);
    GET DIAGNOSTICS released = ROW_COUNT;
    IF released > 0 THEN
        PERFORM httpq._wake_workers();
    END IF;
    RETURN released;
END;
$$;
COMMENT ON FUNCTION httpq.release(text, bigint[], integer[])
    IS 'Hands the worker''s running claims (id, attempt) back to waiting; the attempt does not count. Returns how many.';
