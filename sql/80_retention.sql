-- 80_retention.sql: forgetting finished requests after their channel's retention period.
--
-- Deletes from httpq.history only. A dead request that holds its ordering key is kept
-- whatever its age: it is what an operator retries or cancels to release the key.

-- Deletes finished requests older than older_than (default: each channel's retention),
-- at most max_rows of them (default: all); returns how many.
CREATE FUNCTION httpq.purge(older_than interval DEFAULT NULL, max_rows integer DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    now_at constant timestamptz := httpq._now();
    purged bigint;
BEGIN
    IF older_than < '0' THEN
        RAISE EXCEPTION 'older_than must not be negative, got %', older_than USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_rows <= 0 THEN
        RAISE EXCEPTION 'max_rows must be positive, got %', max_rows USING ERRCODE = 'invalid_parameter_value';
    END IF;
    DELETE FROM httpq.history h
    WHERE h.id IN (
        SELECT x.id
        FROM httpq.channel c
        JOIN httpq.history x
          ON x.channel = c.name AND x.state IN ('delivered', 'dead', 'canceled')   -- history_channel_idx
         AND x.finished_at < now_at - coalesce(purge.older_than, c.retention)
          AND NOT EXISTS (SELECT 1 FROM httpq.held_key k WHERE k.request_id = x.id)
        LIMIT purge.max_rows
    );
    GET DIAGNOSTICS purged = ROW_COUNT;
    RETURN purged;
END;
$$;
COMMENT ON FUNCTION httpq.purge(interval, integer)
    IS 'Deletes finished requests past their channel''s retention (or older_than); returns how many.';
