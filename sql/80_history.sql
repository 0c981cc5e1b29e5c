-- 80_history.sql: the days of httpq.history, and forgetting finished requests after their
-- channel's retention period.
--
-- Owns the partitions of httpq.history. One per UTC day of finished_at, named
-- history_YYYYMMDD, created a few days ahead by httpq.maintain (so reports never write into
-- the default partition), and dropped whole once every row in it is past its channel's
-- retention. A day is the span because the default retention is 7 days: about a dozen
-- partitions (a lookup by id probes each one's key), and a request outlives its retention
-- by a day at most. Rows that a drop cannot take are deleted in bounded slices: those of
-- channels keeping less than a day, those of the default partition, and those of the table
-- an upgrade from 0.1.0 attached (a partition with no lower bound).
--
-- Invariants: a dead request that holds its ordering key (httpq.held_key) is kept whatever
-- its age: it is what an operator retries or cancels to release the key. Maintenance never
-- waits long for a lock that reports or reads hold: every strong lock is asked for with a
-- lock_timeout of 50 ms, and when it is not granted the step is left for the next call.

-- The partitions of httpq.history and their bounds: [lower_at, upper_at), with -infinity
-- for no lower bound; the default partition as (-infinity, infinity).
CREATE FUNCTION httpq._history_partitions()
RETURNS TABLE (part regclass, lower_at timestamptz, upper_at timestamptz, is_default boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT b.part,
           CASE WHEN b.m IS NULL OR b.m[1] = 'MINVALUE' THEN '-infinity' ELSE btrim(b.m[1], '''')::timestamptz END,
           CASE WHEN b.m IS NULL OR b.m[2] = 'MAXVALUE' THEN 'infinity' ELSE btrim(b.m[2], '''')::timestamptz END,
           b.m IS NULL
    FROM (SELECT i.inhrelid::regclass AS part,
                 regexp_match(pg_get_expr(c.relpartbound, c.oid), '^FOR VALUES FROM \((.*)\) TO \((.*)\)$') AS m
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'httpq.history'::regclass) AS b
$$;
COMMENT ON FUNCTION httpq._history_partitions()
    IS 'The partitions of httpq.history with their bounds; the default one as (-infinity, infinity).';

-- Creates the partition of the UTC day starting at day, moving that day's rows out of the
-- default partition: 'created', 'crowded' (more than max_rows to move: the day stays in the
-- default partition) or 'locked' (a lock was not granted within lock_timeout).
CREATE FUNCTION httpq._history_add_day(day timestamptz, max_rows integer) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '50ms'
AS $$
DECLARE
    upper_at  constant timestamptz := day + interval '24 hours';   -- a UTC day has 24
    part_name constant text := 'history_' || to_char(day AT TIME ZONE 'UTC', 'YYYYMMDD');
    moving    bigint;
BEGIN
    SELECT count(*) INTO moving
    FROM (SELECT 1 FROM httpq.history_default d
          WHERE d.finished_at >= day AND d.finished_at < upper_at LIMIT max_rows + 1) AS s;
    IF moving > max_rows THEN
        RETURN 'crowded';
    END IF;
    -- CREATE TABLE ... PARTITION OF would lock httpq.history ACCESS EXCLUSIVE and queue every
    -- report behind it. A table created apart and then attached locks httpq.history only
    -- SHARE UPDATE EXCLUSIVE (reports and reads go on), and the default partition ACCESS
    -- EXCLUSIVE, which ATTACH scans: kept empty, that is quick. The default partition is
    -- locked first, so that no report adds a row of this day between the move and ATTACH.
    LOCK TABLE httpq.history_default IN ACCESS EXCLUSIVE MODE;
    -- The default partition is the model: columns, checks, key and channel index (named
    -- after the day), and the storage parameter.
    EXECUTE format('CREATE TABLE httpq.%I (LIKE httpq.history_default INCLUDING CONSTRAINTS INCLUDING INDEXES) '
                   'WITH (autovacuum_vacuum_insert_scale_factor = 0.05)', part_name);
    IF moving > 0 THEN
        EXECUTE format('WITH moved AS (DELETE FROM httpq.history_default d
                                       WHERE d.finished_at >= $1 AND d.finished_at < $2 RETURNING d.*)
                        INSERT INTO httpq.%I SELECT * FROM moved', part_name)
        USING day, upper_at;
    END IF;
    EXECUTE format('ALTER TABLE httpq.history ATTACH PARTITION httpq.%I FOR VALUES FROM (%L) TO (%L)',
                   part_name, day, upper_at);
    RETURN 'created';
EXCEPTION WHEN lock_not_available THEN
    RETURN 'locked';
END;
$$;
COMMENT ON FUNCTION httpq._history_add_day(timestamptz, integer)
    IS 'Creates the history partition of one UTC day, moving its rows out of the default partition.';

-- Creates the partitions of today (UTC, by httpq._now()) and of the days_ahead days after
-- it that do not exist yet; returns how many it created.
CREATE FUNCTION httpq._history_add(days_ahead integer, max_rows integer) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    today   constant timestamptz := date_trunc('day', httpq._now(), 'UTC');
    day     timestamptz;
    created integer := 0;
BEGIN
    FOR day IN SELECT today + g * interval '24 hours' FROM generate_series(0, days_ahead) AS g LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM httpq._history_partitions() p
                              WHERE NOT p.is_default AND p.lower_at < day + interval '24 hours' AND p.upper_at > day);
        CASE httpq._history_add_day(day, max_rows)
            WHEN 'created' THEN created := created + 1;
            WHEN 'locked' THEN EXIT;   -- the next day would wait for the same lock
            ELSE NULL;                 -- crowded: the day stays in the default partition
        END CASE;
    END LOOP;
    RETURN created;
END;
$$;
COMMENT ON FUNCTION httpq._history_add(integer, integer)
    IS 'Creates the missing history partitions of today and the days ahead; returns how many.';

-- The partitions of httpq.history that a DROP may take whole, oldest first: every row in
-- them is past its retention (its channel's, or older_than), and none of them is a dead
-- request holding its ordering key.
CREATE FUNCTION httpq._history_expired(older_than interval) RETURNS SETOF regclass
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    now_at constant timestamptz := httpq._now();
    p      record;
    whole  boolean;
BEGIN
    FOR p IN
        SELECT x.part, x.upper_at FROM httpq._history_partitions() x
        WHERE NOT x.is_default
          AND x.upper_at <= now_at - coalesce(older_than, (SELECT min(c.retention) FROM httpq.channel c))
        ORDER BY x.upper_at
    LOOP
        -- One probe of the channel index per channel that keeps its rows longer than this
        -- partition has been closed, and one of the key per held request.
        EXECUTE format($q$
            SELECT NOT EXISTS (SELECT 1 FROM httpq.channel c
                               WHERE $2 > $1 - coalesce($3, c.retention)
                                 AND EXISTS (SELECT 1 FROM %1$s x WHERE x.channel = c.name))
               AND NOT EXISTS (SELECT 1 FROM httpq.held_key k JOIN %1$s x ON x.id = k.request_id)
            $q$, p.part)
        INTO whole USING now_at, p.upper_at, older_than;
        IF whole THEN
            RETURN NEXT p.part;
        END IF;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION httpq._history_expired(interval)
    IS 'The history partitions whose every row is past its retention and holds no ordering key.';

-- Deletes finished requests past their retention (their channel's, or older_than), oldest
-- partitions first, at most max_rows (NULL: all); returns how many. Never a dead request
-- holding its ordering key, nor anything in the partitions spared (to be dropped whole).
-- Unless exact, a row whose partition will be dropped within a day of its retention is left
-- for that drop: only channels keeping less than the partition's span, partitions without
-- an end (default, upgraded), and channels whose every row has expired in a partition kept
-- for other channels' rows, are trimmed.
CREATE FUNCTION httpq._history_trim(older_than interval, max_rows bigint, exact boolean, spared regclass[])
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '50ms'
AS $$
DECLARE
    now_at constant timestamptz := httpq._now();
    p      record;
    budget bigint := max_rows;   -- NULL: no bound
    n      bigint;
    total  bigint := 0;
BEGIN
    FOR p IN
        SELECT x.part, x.upper_at,
               CASE WHEN NOT x.is_default AND isfinite(x.lower_at) THEN x.upper_at - x.lower_at END AS span
        FROM httpq._history_partitions() x
        WHERE x.part <> ALL (spared)
          AND x.lower_at < now_at - coalesce(older_than, (SELECT min(c.retention) FROM httpq.channel c))
        ORDER BY x.lower_at, x.upper_at
    LOOP
        EXIT WHEN budget <= 0;
        BEGIN
            -- Channel by channel through the channel index, as 0.1.0's purge did; the rows
            -- by ctid, so the delete reads no index.
            EXECUTE format($q$
                DELETE FROM %1$s h WHERE h.ctid = ANY (ARRAY(
                    SELECT x.ctid
                    FROM httpq.channel c
                    JOIN %1$s x ON x.channel = c.name AND x.state IN ('delivered', 'dead', 'canceled')
                               AND x.finished_at < $1 - coalesce($2, c.retention)
                    WHERE ($3 OR $4 IS NULL OR coalesce($2, c.retention) < $4 OR $5 <= $1 - coalesce($2, c.retention))
                      AND NOT EXISTS (SELECT 1 FROM httpq.held_key k WHERE k.request_id = x.id)
                    LIMIT $6))
                $q$, p.part)
            USING now_at, older_than, exact, p.span, p.upper_at, budget;
            GET DIAGNOSTICS n = ROW_COUNT;
        EXCEPTION WHEN lock_not_available THEN
            n := 0;   -- rows locked by another transaction for longer than lock_timeout: next time
        END;
        total := total + n;
        budget := budget - n;
    END LOOP;
    RETURN total;
END;
$$;
COMMENT ON FUNCTION httpq._history_trim(interval, bigint, boolean, regclass[])
    IS 'Deletes expired finished requests in bounded slices, sparing held keys and given partitions.';

-- Drops whole partitions of httpq.history; returns how many: all, or none when the lock was
-- not granted within lock_timeout.
CREATE FUNCTION httpq._history_drop(parts regclass[]) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '50ms'
AS $$
BEGIN
    IF coalesce(cardinality(parts), 0) = 0 THEN
        RETURN 0;
    END IF;
    -- Dropping a partition locks httpq.history ACCESS EXCLUSIVE, and reports queue behind the
    -- lock while it waits. DETACH PARTITION takes the same lock, and its CONCURRENTLY form,
    -- which would not, cannot run inside a transaction block, so inside a function. Hence:
    -- the wait is bounded by lock_timeout, callers drop last (the lock lasts until commit),
    -- and the drop itself reads and writes no row.
    EXECUTE 'DROP TABLE ' || array_to_string(parts::text[], ', ');
    RETURN cardinality(parts);
EXCEPTION WHEN lock_not_available THEN
    RETURN 0;
END;
$$;
COMMENT ON FUNCTION httpq._history_drop(regclass[])
    IS 'Drops history partitions whole; returns how many (none when httpq.history stayed busy).';

-- One short step of history upkeep, for the worker's maintenance connection (about once a
-- minute, and again at once while "more" is true) or for cron. Creates the partitions of
-- today and 3 days ahead, then trims at most max_rows rows, then drops expired partitions.
CREATE FUNCTION httpq.maintain(max_rows integer DEFAULT 10000) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    created integer;
    expired regclass[];
    deleted bigint;
    dropped integer;
BEGIN
    IF max_rows IS NULL OR max_rows <= 0 THEN
        RAISE EXCEPTION 'max_rows must be positive, got %', coalesce(max_rows::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- One maintainer at a time, and a second one never waits: it has nothing to add. The
    -- lock space is httpq's maintenance; the ordering keys' locks use 1752461425.
    IF NOT pg_try_advisory_xact_lock(1752461426, 0) THEN
        RETURN jsonb_build_object('ran', false);
    END IF;
    -- Three days ahead: an idle system, or a worker stopped over a weekend, still finds each
    -- day's partition ready, and reports never land in the default partition.
    created := httpq._history_add(3, max_rows);
    IF created > 0 THEN
        -- The default partition stays locked until commit: trim and drop in the next call.
        RETURN jsonb_build_object('ran', true, 'more', true, 'partitions_created', created,
                                  'partitions_dropped', 0, 'rows_deleted', 0);
    END IF;
    expired := ARRAY(SELECT httpq._history_expired(NULL));
    deleted := httpq._history_trim(NULL, max_rows, false, expired);
    dropped := httpq._history_drop(expired);   -- last: its lock on httpq.history lasts until commit
    RETURN jsonb_build_object('ran', true, 'more', deleted >= max_rows, 'partitions_created', 0,
                              'partitions_dropped', dropped, 'rows_deleted', deleted);
END;
$$;
COMMENT ON FUNCTION httpq.maintain(integer)
    IS 'One bounded step of history upkeep: creates, trims (at most max_rows rows) and drops partitions.';

-- Deletes finished requests older than older_than (default: each channel's retention), at
-- most max_rows of them (default: all, dropping whole partitions where it can); returns how
-- many. Exact, unlike httpq.maintain: nothing past its retention is left for a later drop.
CREATE FUNCTION httpq.purge(older_than interval DEFAULT NULL, max_rows integer DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    expired regclass[] := '{}';
    part    regclass;
    n       bigint;
    whole   bigint := 0;
    purged  bigint;
BEGIN
    IF older_than < '0' THEN
        RAISE EXCEPTION 'older_than must not be negative, got %', older_than USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_rows <= 0 THEN
        RAISE EXCEPTION 'max_rows must be positive, got %', max_rows USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Asked for explicitly, so it waits for a maintain step in progress rather than skip.
    PERFORM pg_advisory_xact_lock(1752461426, 0);
    IF max_rows IS NULL THEN
        expired := ARRAY(SELECT httpq._history_expired(purge.older_than));
        FOREACH part IN ARRAY expired LOOP
            EXECUTE format('SELECT count(*) FROM %s', part) INTO n;
            whole := whole + n;
        END LOOP;
    END IF;
    purged := httpq._history_trim(purge.older_than, purge.max_rows, true, expired);
    IF httpq._history_drop(expired) = cardinality(expired) THEN
        RETURN purged + whole;
    END IF;
    -- httpq.history stayed busy: those partitions go row by row instead.
    RETURN purged + httpq._history_trim(purge.older_than, NULL, true, '{}');
END;
$$;
COMMENT ON FUNCTION httpq.purge(interval, integer)
    IS 'Deletes finished requests past their channel''s retention (or older_than); returns how many.';
