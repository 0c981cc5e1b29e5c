-- 60_lease.sql: a worker keeping or giving back what it claimed.
--
-- Writes httpq.request rows in state running, and only those the calling worker holds.

-- Extends the leases of a worker's running claims; returns how many were extended.
CREATE FUNCTION httpq.heartbeat(worker text, ids bigint[], lease interval DEFAULT '1 minute') RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    now_at   constant timestamptz := httpq._now();
    extended integer;
BEGIN
    IF lease IS NULL OR lease <= '0' THEN
        RAISE EXCEPTION 'lease must be a positive interval, got %', coalesce(lease::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE httpq.request r
    SET lease_until = now_at + heartbeat.lease
    WHERE r.id = ANY (heartbeat.ids) AND r.worker = heartbeat.worker AND r.state = 'running';
    GET DIAGNOSTICS extended = ROW_COUNT;
    RETURN extended;
END;
$$;
COMMENT ON FUNCTION httpq.heartbeat(text, bigint[], interval)
    IS 'Extends the leases of the worker''s running claims to now() + lease; returns how many.';

-- Hands a worker's claims back (clean shutdown): they wait again, and the attempt they
-- had is given back. Returns how many were released.
CREATE FUNCTION httpq.release(worker text, ids bigint[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    released integer;
BEGIN
    UPDATE httpq.request r
    SET state = 'waiting', attempt = r.attempt - 1, worker = NULL, lease_until = NULL
    WHERE r.id = ANY (release.ids) AND r.worker = release.worker AND r.state = 'running';
    GET DIAGNOSTICS released = ROW_COUNT;
    IF released > 0 THEN
        PERFORM pg_notify('httpq', '');
    END IF;
    RETURN released;
END;
$$;
COMMENT ON FUNCTION httpq.release(text, bigint[])
    IS 'Hands the worker''s running claims back to waiting, giving the attempt back; returns how many.';
