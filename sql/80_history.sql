-- 80_history.sql: the days of httpq.history, and forgetting finished requests after their
-- channel's retention period.
--
-- Owns the partitions of httpq.history. One per UTC day of finished_at, named
-- history_YYYYMMDD, created a few days ahead by httpq.maintain (so reports never write into
-- the default partition), and dropped whole once every row in it is past its channel's
-- retention. A day is the span because the default retention is 7 days: about a dozen
-- partitions (a lookup by id probes each one's key), and a request outlives its retention
-- by a day at most. Rows that a drop cannot take are deleted in bounded slices: those of
-- channels keeping less than a day, those of the default partition, those of the table an
-- upgrade from 0.1.0 attached (a partition with no lower bound), and those of a partition
-- whose drop failed (a lock not granted, objects depending on it).
--
-- Invariants: a dead request that holds its ordering key (httpq.held_key) is kept whatever
-- its age: it is what an operator retries or cancels to release the key. Maintenance never
-- waits long for a lock that reports or reads hold: every strong lock is asked for with a
-- lock_timeout of 50 ms, and when it is not granted the step is left for the next call.
-- Work on the rows of a partition follows the channels present in it (a skip scan of its
-- channel index), never every channel ever created.
--
-- Bounds are printed by pg_get_expr and format's %L in the session's DateStyle and
-- TimeZone, whose abbreviations need not read back as the same offset (with DateStyle SQL,
-- IST prints for India and reads as Israel). Every function that builds or reads a bound
-- runs with DateStyle ISO and TimeZone UTC, whatever the caller's settings.

-- The partitions of httpq.history and their bounds: [lower_at, upper_at), with -infinity
-- for no lower bound; the default partition as (-infinity, infinity).
CREATE FUNCTION httpq._history_partitions()
RETURNS TABLE (part regclass, lower_at timestamptz, upper_at timestamptz, is_default boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
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
-- default partition: 'created', 'crowded' (the default partition holds more than max_rows
-- rows; NULL: no bound), 'busy' (today, while reports land in the default partition),
-- 'writing' (a day that has begun, while transactions writing the history kept SHARE on it
-- beyond lock_timeout) or 'locked' (the default partition's lock was not granted).
CREATE FUNCTION httpq._history_add_day(day timestamptz, max_rows integer) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '50ms'
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
AS $$
DECLARE
    upper_at  constant timestamptz := day + interval '24 hours';   -- a UTC day has 24
    part_name constant text := 'history_' || to_char(day AT TIME ZONE 'UTC', 'YYYYMMDD');
BEGIN
    -- ATTACH reads the whole default partition under ACCESS EXCLUSIVE (reads of the history
    -- and reports landing there wait): only while it is small. Trimming shrinks it.
    IF max_rows IS NOT NULL
       AND (SELECT count(*) FROM (SELECT 1 FROM httpq.history_default d LIMIT max_rows + 1) AS s) > max_rows THEN
        RETURN 'crowded';
    END IF;
    -- Today's rows already in the default partition: reports land there, and moving them
    -- would hold every report back meanwhile. They stay; the days ahead are made.
    IF day <= httpq._now() AND EXISTS (SELECT 1 FROM httpq.history_default d
                                       WHERE d.finished_at >= day AND d.finished_at < upper_at) THEN
        RETURN 'busy';
    END IF;
    -- A report that began before an ATTACH commits routes its row with the partitions it saw
    -- then. For a day that has begun (or begins within minutes) that is the default partition,
    -- whose constraint, once the ATTACH commits, refuses the row: the report would fail with
    -- 23514, and the worker drops an outcome the database refused as data, so the request
    -- would be sent again after its lease. So such a day is attached only under SHARE on
    -- httpq.history: granted once no transaction that writes the history is running, and
    -- holding new ones back until maintain commits, which it does at once after creating a
    -- day (they then see the new partition). Rows that landed between the check above and
    -- the lock are moved with the day's. Days further ahead take no such lock: no report
    -- writes a day that has not begun.
    IF day <= httpq._now() + interval '5 minutes' THEN
        BEGIN
            LOCK TABLE ONLY httpq.history IN SHARE MODE;
        EXCEPTION WHEN lock_not_available THEN
            RETURN 'writing';
        END;
    END IF;
    -- CREATE TABLE ... PARTITION OF would lock httpq.history ACCESS EXCLUSIVE and queue every
    -- report behind it. A table created apart and then attached locks httpq.history only
    -- SHARE UPDATE EXCLUSIVE (reports and reads go on), and the default partition ACCESS
    -- EXCLUSIVE. Locked before the day's rows are moved: a row committed between the move
    -- and the lock would stay behind, and the ATTACH would fail on it.
    LOCK TABLE httpq.history_default IN ACCESS EXCLUSIVE MODE;
    -- The default partition is the model: columns, checks, key and channel index (named
    -- after the day), and the storage parameter.
    EXECUTE format('CREATE TABLE httpq.%I (LIKE httpq.history_default INCLUDING CONSTRAINTS INCLUDING INDEXES) '
                   'WITH (autovacuum_vacuum_insert_scale_factor = 0.05)', part_name);
    EXECUTE format('WITH moved AS (DELETE FROM httpq.history_default d
                                   WHERE d.finished_at >= $1 AND d.finished_at < $2 RETURNING d.*)
                    INSERT INTO httpq.%I SELECT * FROM moved', part_name)
    USING day, upper_at;
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
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
AS $$
DECLARE
    today   constant timestamptz := date_trunc('day', httpq._now(), 'UTC');
    day     timestamptz;
    created integer := 0;
BEGIN
    FOR day IN SELECT today + g * interval '24 hours' FROM generate_series(0, days_ahead) AS g LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM httpq._history_partitions() p
                              WHERE NOT p.is_default AND p.lower_at < day + interval '24 hours' AND p.upper_at > day);
        -- Tomorrow is made however crowded the default partition is: without it, reports
        -- would land there after midnight too, and it would never shrink. One long ATTACH a
        -- day at most, while trimming shrinks it.
        CASE httpq._history_add_day(day, CASE WHEN day = today + interval '24 hours' THEN NULL ELSE max_rows END)
            WHEN 'created' THEN created := created + 1;
            WHEN 'locked' THEN EXIT;   -- the next day would wait for the same lock
            ELSE NULL;                 -- crowded, busy or writing: the day stays in the default partition for now
        END CASE;
    END LOOP;
    RETURN created;
END;
$$;
COMMENT ON FUNCTION httpq._history_add(integer, integer)
    IS 'Creates the missing history partitions of today and the days ahead; returns how many.';

-- The partitions of httpq.history (all, or candidate alone) that a DROP may take whole,
-- oldest first: every row in them is past its retention (its channel's, or older_than), and
-- none of them is a dead request holding its ordering key.
CREATE FUNCTION httpq._history_expired(older_than interval, candidate regclass) RETURNS SETOF regclass
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
AS $$
DECLARE
    now_at constant timestamptz := httpq._now();
    p      record;
    whole  boolean;
BEGIN
    FOR p IN
        SELECT x.part, x.upper_at FROM httpq._history_partitions() x
        WHERE NOT x.is_default
          AND (x.part = candidate   -- checked again: the shortest retention is not read again
               OR candidate IS NULL   -- with no channel yet, nothing is kept
                  AND x.upper_at <= now_at - coalesce(older_than, (SELECT min(c.retention) FROM httpq.channel c), '0'))
        ORDER BY x.upper_at
    LOOP
        -- One probe of httpq.channel per channel present in the partition (a skip scan of its
        -- channel index), until one keeps its rows longer than the partition has been closed;
        -- one probe of the key per held request.
        EXECUTE format($q$
            SELECT NOT EXISTS (
                       WITH RECURSIVE present(channel) AS (
                           (SELECT x.channel FROM %1$s x ORDER BY x.channel LIMIT 1)
                           UNION ALL
                           SELECT (SELECT x.channel FROM %1$s x WHERE x.channel > p.channel ORDER BY x.channel LIMIT 1)
                           FROM present p
                           WHERE p.channel IS NOT NULL)
                       SELECT 1 FROM present p
                       WHERE $2 > $1 - coalesce($3, (SELECT c.retention FROM httpq.channel c WHERE c.name = p.channel)))
               AND NOT EXISTS (SELECT 1 FROM httpq.held_key k JOIN %1$s x ON x.id = k.request_id)
            $q$, p.part)
        INTO whole USING now_at, p.upper_at, older_than;
        IF whole THEN
            RETURN NEXT p.part;
        END IF;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION httpq._history_expired(interval, regclass)
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
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
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
            -- Channel by channel, those present in the partition (a skip scan of its channel
            -- index), each with its retention (one probe of httpq.channel); the rows by ctid,
            -- so the delete reads no index.
            EXECUTE format($q$
                DELETE FROM %1$s h WHERE h.ctid = ANY (ARRAY(
                    WITH RECURSIVE present(channel) AS (
                        (SELECT x.channel FROM %1$s x ORDER BY x.channel LIMIT 1)
                        UNION ALL
                        SELECT (SELECT x.channel FROM %1$s x WHERE x.channel > p.channel ORDER BY x.channel LIMIT 1)
                        FROM present p
                        WHERE p.channel IS NOT NULL)
                    SELECT x.ctid
                    FROM present p
                    CROSS JOIN LATERAL (SELECT coalesce($2, c.retention) AS kept FROM httpq.channel c
                                        WHERE c.name = p.channel LIMIT 1) AS c
                    JOIN %1$s x ON x.channel = p.channel AND x.state IN ('delivered', 'dead', 'canceled')
                               AND x.finished_at < $1 - c.kept
                    WHERE ($3 OR $4 IS NULL OR c.kept < $4 OR $5 <= $1 - c.kept)
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

-- Of the given partitions of httpq.history, those that still hold nothing to keep (see
-- httpq._history_expired), locked SHARE until the end of the transaction and so ready to
-- drop, with how many rows each holds (when counted); and those it kept: busy (a report
-- writing to it held the lock past lock_timeout), or holding a row to keep after all.
CREATE FUNCTION httpq._history_doom(parts regclass[], older_than interval, counted boolean,
                                    OUT doomed regclass[], OUT doomed_rows bigint[], OUT kept regclass[])
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '50ms'
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
AS $$
DECLARE
    n bigint;
BEGIN
    doomed := '{}';
    doomed_rows := '{}';
    kept := '{}';
    FOR i IN 1 .. coalesce(cardinality(parts), 0) LOOP
        BEGIN   -- one subtransaction a partition; the lock it takes stays with the caller's
            -- SHARE waits for the reports writing to the partition and keeps new ones out, so
            -- the check sees every row the drop would take: a report begun before midnight
            -- may write into yesterday after it was found expired.
            EXECUTE format('LOCK TABLE %s IN SHARE MODE', parts[i]);
            IF NOT EXISTS (SELECT 1 FROM httpq._history_expired(older_than, parts[i])) THEN
                kept := kept || parts[i];
                CONTINUE;
            END IF;
            n := 0;
            IF counted THEN
                EXECUTE format('SELECT count(*) FROM %s', parts[i]) INTO n;
            END IF;
            doomed := doomed || parts[i];
            doomed_rows := doomed_rows || n;
        EXCEPTION
            WHEN lock_not_available THEN
                kept := kept || parts[i];
        END;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION httpq._history_doom(regclass[], interval, boolean)
    IS 'Locks and checks history partitions to drop; says which hold nothing to keep, and which it kept.';

-- Drops the partitions httpq._history_doom found expired and holds locked, one after the
-- other with nothing in between: each drop locks httpq.history ACCESS EXCLUSIVE until
-- commit, and reports wait for it. Returns how many it dropped, the rows they held, and
-- those it kept: all from the first it could not lock httpq.history for, and those other
-- objects depend on (a warning names them).
CREATE FUNCTION httpq._history_drop(doomed regclass[], doomed_rows bigint[],
                                    OUT dropped integer, OUT dropped_rows bigint, OUT kept regclass[])
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '50ms'
AS $$
DECLARE
    detail text;
BEGIN
    dropped := 0;
    dropped_rows := 0;
    kept := '{}';
    FOR i IN 1 .. coalesce(cardinality(doomed), 0) LOOP
        BEGIN   -- one subtransaction a partition: a failed drop leaves the others' work
            -- DETACH PARTITION takes the same lock as the drop, and its CONCURRENTLY form,
            -- which would not, cannot run inside a transaction block, so inside a function.
            -- The wait is bounded by lock_timeout (which also ends a deadlock with a report
            -- holding httpq.history and waiting for this partition), and the drop reads no row.
            EXECUTE format('DROP TABLE %s', doomed[i]);
            dropped := dropped + 1;
            dropped_rows := dropped_rows + doomed_rows[i];
        EXCEPTION
            WHEN lock_not_available OR object_in_use THEN   -- in use: by the statement calling this one
                kept := kept || doomed[i:];   -- httpq.history is busy: every drop would wait for it
                EXIT;
            WHEN dependent_objects_still_exist THEN
                GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
                RAISE WARNING 'history partition % is past its retention but was not dropped: %',
                              doomed[i], replace(detail, E'\n', '; ')
                    USING HINT = 'Drop those objects; httpq deletes the partition''s rows meanwhile. Tables are '
                                 'not a public interface: build on the views httpq.requests, httpq.responses '
                                 'and httpq.attempts instead.';
                kept := kept || doomed[i];
        END;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION httpq._history_drop(regclass[], bigint[])
    IS 'Drops the history partitions httpq._history_doom locked; says which it kept.';

-- Deletes the httpq.key_lock rows (at most max_rows) of ordering keys without unfinished,
-- held or deferred requests; returns how many. A row some transaction holds is skipped, and
-- nothing is deleted outside READ COMMITTED.
CREATE FUNCTION httpq._release_idle_keys(max_rows integer) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    channels text[];
    keys     text[];
    released integer;
BEGIN
    -- The check again below needs a snapshot taken after the rows are locked: READ COMMITTED.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RETURN 0;
    END IF;
    SELECT array_agg(l.channel), array_agg(l.ordering_key) INTO channels, keys
    FROM (SELECT l.channel, l.ordering_key FROM httpq.key_lock l
          WHERE NOT EXISTS (SELECT 1 FROM httpq.request r WHERE r.channel = l.channel AND r.ordering_key = l.ordering_key
                                                            AND r.state IN ('waiting', 'scheduled', 'running'))
            AND NOT EXISTS (SELECT 1 FROM httpq.request r WHERE r.channel = l.channel AND r.ordering_key = l.ordering_key
                                                            AND r.state = 'blocked')
            AND NOT EXISTS (SELECT 1 FROM httpq.held_key h WHERE h.channel = l.channel AND h.ordering_key = l.ordering_key)
            AND NOT EXISTS (SELECT 1 FROM httpq.deferred_key d WHERE d.channel = l.channel AND d.ordering_key = l.ordering_key)
          LIMIT max_rows
          FOR UPDATE SKIP LOCKED) AS l;
    -- Checked again now that the rows are locked: this statement sees every request
    -- committed by a transaction that held one of them.
    DELETE FROM httpq.key_lock l
    USING unnest(channels, keys) AS u(c, k)
    WHERE l.channel = u.c AND l.ordering_key = u.k
      AND NOT EXISTS (SELECT 1 FROM httpq.request r WHERE r.channel = u.c AND r.ordering_key = u.k
                                                      AND r.state IN ('waiting', 'scheduled', 'running'))
      AND NOT EXISTS (SELECT 1 FROM httpq.request r WHERE r.channel = u.c AND r.ordering_key = u.k AND r.state = 'blocked')
      AND NOT EXISTS (SELECT 1 FROM httpq.held_key h WHERE h.channel = u.c AND h.ordering_key = u.k)
      AND NOT EXISTS (SELECT 1 FROM httpq.deferred_key d WHERE d.channel = u.c AND d.ordering_key = u.k);
    GET DIAGNOSTICS released = ROW_COUNT;
    RETURN released;
END;
$$;
COMMENT ON FUNCTION httpq._release_idle_keys(integer) IS 'Deletes the lock rows of ordering keys left without requests.';

-- One short step of history upkeep, for the worker's maintenance connection (about once a
-- minute, and again at once while "more" is true) or for cron. Creates the partitions of
-- today and 3 days ahead, then trims at most max_rows rows, then drops expired partitions.
-- Also deletes at most max_rows rollup rows past their two days (sql/85_rollup.sql): far
-- more than the minute makes (a row per channel and server process that recorded outcomes).
CREATE FUNCTION httpq.maintain(max_rows integer DEFAULT 10000) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
AS $$
DECLARE
    created     integer;
    expired     regclass[];
    deleted     bigint;
    doomed      regclass[];
    doomed_rows bigint[];
    dropped     integer;
    kept        regclass[];
    undropped   regclass[];
BEGIN
    IF max_rows IS NULL OR max_rows <= 0 THEN
        RAISE EXCEPTION 'max_rows must be positive, got %', coalesce(max_rows::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- One maintainer at a time, and a second one never waits: it has nothing to add. The
    -- lock space is httpq's maintenance.
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
    PERFORM httpq._release_idle_keys(max_rows);
    PERFORM httpq._rollup_trim(max_rows);
    expired := ARRAY(SELECT httpq._history_expired(NULL, NULL));
    deleted := httpq._history_trim(NULL, max_rows, false, expired);
    SELECT d.doomed, d.doomed_rows, d.kept INTO doomed, doomed_rows, kept FROM httpq._history_doom(expired, NULL, false) AS d;
    SELECT d.dropped, d.kept INTO dropped, undropped FROM httpq._history_drop(doomed, doomed_rows) AS d;
    kept := kept || undropped;
    -- Partitions that could not be dropped (a long transaction holding a lock on the
    -- history, objects depending on them) lose their rows at retention all the same, by
    -- trimming; dropped once empty and free. Only while nothing was dropped: a drop holds
    -- httpq.history until commit, and reports would wait for the trim.
    IF dropped = 0 AND cardinality(kept) > 0 AND deleted < max_rows THEN
        deleted := deleted + httpq._history_trim(NULL, max_rows - deleted, false,
                                                 ARRAY(SELECT x.part FROM httpq._history_partitions() x
                                                       WHERE x.part <> ALL (kept)));
    END IF;
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
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
AS $$
DECLARE
    expired     regclass[] := '{}';
    dropped     integer;
    doomed      regclass[];
    doomed_rows bigint[];
    kept        regclass[];
    whole       bigint;
    purged      bigint;
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
        expired := ARRAY(SELECT httpq._history_expired(purge.older_than, NULL));
    END IF;
    purged := httpq._history_trim(purge.older_than, purge.max_rows, true, expired);
    SELECT d.doomed, d.doomed_rows, d.kept INTO doomed, doomed_rows, kept
    FROM httpq._history_doom(expired, purge.older_than, true) AS d;
    -- Partitions that cannot be dropped go row by row instead, before any drop: a drop holds
    -- httpq.history until commit, and reports would wait for the deletes.
    IF cardinality(kept) > 0 THEN
        purged := purged + httpq._history_trim(purge.older_than, NULL, true,
                                               ARRAY(SELECT x.part FROM httpq._history_partitions() x
                                                     WHERE x.part <> ALL (kept)));
    END IF;
    SELECT d.dropped, d.dropped_rows, d.kept INTO dropped, whole, kept FROM httpq._history_drop(doomed, doomed_rows) AS d;
    IF cardinality(kept) > 0 AND dropped = 0 THEN
        -- Not one could be dropped (httpq.history busy, or depended on), so no lock is held:
        -- their rows go row by row too.
        purged := purged + httpq._history_trim(purge.older_than, NULL, true,
                                               ARRAY(SELECT x.part FROM httpq._history_partitions() x
                                                     WHERE x.part <> ALL (kept)));
    END IF;
    RETURN purged + whole;
END;
$$;
COMMENT ON FUNCTION httpq.purge(interval, integer)
    IS 'Deletes finished requests past their channel''s retention (or older_than); returns how many.';
