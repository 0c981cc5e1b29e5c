\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2040-01-01 10:00:00+00';

-- Enqueues n requests to a channel, claims and reports them with status; returns their ids.
CREATE FUNCTION pg_temp.finish(channel text, n integer, status integer) RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
BEGIN
    ids := ARRAY(SELECT httpq.enqueue('https://example.com/' || channel || '/' || g, channel => finish.channel)
                 FROM generate_series(1, n) AS g);
    PERFORM httpq.claim('w1', n, ARRAY[channel]);
    PERFORM httpq.report('w1', jsonb_agg(jsonb_build_object('id', i, 'attempt', 1, 'status', status)))
    FROM unnest(ids) AS i;
    RETURN ids;
END;
$$;
-- The dated partitions of httpq.history, in order.
CREATE FUNCTION pg_temp.days() RETURNS text
LANGUAGE sql AS $$
    SELECT coalesce(string_agg(replace(i.inhrelid::regclass::text, 'httpq.history_', ''), ' '
                               ORDER BY i.inhrelid::regclass::text), 'none')
    FROM pg_inherits i WHERE i.inhparent = 'httpq.history'::regclass AND i.inhrelid::regclass::text <> 'httpq.history_default'
$$;
-- Calls httpq.maintain until it has no more to do; returns the calls it took, at most 100.
CREATE FUNCTION pg_temp.settle() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    calls integer := 0;
BEGIN
    LOOP
        calls := calls + 1;
        EXIT WHEN NOT (httpq.maintain() ->> 'more')::boolean OR calls >= 100;
    END LOOP;
    RETURN calls;
END;
$$;
-- The partition holding a finished request.
CREATE FUNCTION pg_temp.home(id bigint) RETURNS text
LANGUAGE sql AS $$ SELECT h.tableoid::regclass::text FROM httpq.history h WHERE h.id = home.id $$;

-- Bad input is refused, naming the field
SELECT httpq.maintain(max_rows => 0);
SELECT httpq.maintain(max_rows => NULL);

-- Before any maintenance there is no day: maintain creates today's partition and three ahead
SELECT pg_temp.days() AS days;
SELECT httpq.maintain();
SELECT pg_temp.days() AS days;

-- A finished request goes straight to its day
SELECT (pg_temp.finish('hist-a', 1, 200))[1] AS a \gset
SELECT pg_temp.home(:a) AS home;

-- Of the partitions, only the default one is a member of the extension: the days can be dropped
SELECT d.objid::regclass AS member FROM pg_depend d
WHERE d.refclassid = 'pg_extension'::regclass AND d.classid = 'pg_class'::regclass
  AND d.objid IN (SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent = 'httpq.history'::regclass);

-- Each day has the default partition's key and channel index
SELECT indexrelid::regclass AS index, indisprimary AS key FROM pg_index
WHERE indrelid = 'httpq.history_20400101'::regclass ORDER BY 1::text;

-- What earlier tests left is past its retention in 2040: maintain trims it from the default
SELECT pg_temp.settle() >= 1 AS settled;
SELECT (httpq.maintain() - 'rows_deleted') AS again;

-- Still after the trim
SELECT pg_temp.home((pg_temp.finish('hist-a', 1, 200))[1]) AS home;

-- A lookup by id probes each partition's key, never scans one (seq scans priced out: a
-- partition of a page or two is cheaper to read whole once analyzed, an index is what is checked)
CREATE FUNCTION pg_temp.scans(query text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    line text;
    seq  bigint := 0;
BEGIN
    SET LOCAL enable_seqscan = off;
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
        IF line LIKE '%Seq Scan%' THEN
            seq := seq + 1;
        END IF;
    END LOOP;
    RETURN seq;
END;
$$;
SELECT pg_temp.scans(format('SELECT * FROM httpq.history WHERE id = %s', :a)) AS seq_scans_history,
       pg_temp.scans(format('SELECT * FROM httpq.requests WHERE id = %s', :a)) AS seq_scans_requests;

-- A channel keeping less than a day is trimmed row by row, max_rows at a time, until done
SELECT httpq.set_channel('hist-short', retention => '1 hour');
SELECT cardinality(pg_temp.finish('hist-short', 5, 200)) AS finished;
SET httpq.now = '2040-01-01 12:00:00+00';
SELECT httpq.maintain(max_rows => 2);
SELECT httpq.maintain(max_rows => 2);
SELECT httpq.maintain(max_rows => 2);
SELECT (SELECT count(*) FROM httpq.history WHERE channel = 'hist-short') AS short_left,
       (SELECT count(*) FROM httpq.history WHERE channel = 'hist-a') AS default_retention_kept;

-- A dead request holding its ordering key, in the same day
SELECT httpq.set_channel('hist-hold', ordering_on_dead => 'hold');
SELECT httpq.enqueue('https://example.com/h1', channel => 'hist-hold', ordering_key => 'k') AS h1 \gset
SELECT httpq.enqueue('https://example.com/h2', channel => 'hist-hold', ordering_key => 'k') AS h2 \gset
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{hist-hold}');
SELECT httpq.report('w1', jsonb_build_array(jsonb_build_object('id', :h1, 'attempt', 1, 'status', 400))) AS applied;

-- A week later, with no day made meanwhile: reports land in the default partition. Today is
-- not attached while they do (a report waiting for the default partition's lock during the
-- attach would fail), the days ahead are; today's rows stay in the default partition.
SET httpq.now = '2040-01-09 10:00:00+00';
SELECT (pg_temp.finish('hist-b', 1, 200))[1] AS b \gset
SELECT pg_temp.home(:b) AS home;
SELECT httpq.maintain();
SELECT pg_temp.home(:b) AS home;

-- Expired days are dropped whole (the empty ones too); the day holding a key is trimmed instead
SELECT httpq.maintain();
SELECT pg_temp.days() AS days;
SELECT (SELECT count(*) FROM httpq.history WHERE channel = 'hist-a') AS expired_left,
       (SELECT state FROM httpq.requests WHERE id = :h1) AS holding_key,
       (SELECT state || CASE WHEN blocked THEN ' (blocked)' ELSE '' END FROM httpq.requests WHERE id = :h2) AS behind_it;

-- Once it is canceled, the key moves on and its day is dropped
SELECT httpq.cancel(:h1) AS canceled;
SELECT httpq.maintain();
SELECT pg_temp.days() AS days;
SELECT count(*) AS h1_left FROM httpq.history WHERE id = :h1;

-- Views, cancel, retry and replay work on a request in a day's partition
SET httpq.now = '2040-01-10 10:00:00+00';
SELECT ids[1] AS d1, ids[2] AS d2 FROM (SELECT pg_temp.finish('hist-dead', 2, 400) AS ids) AS s \gset
SELECT pg_temp.home(:d1) AS home;
SELECT r.state, r.attempts, p.status, (SELECT count(*) FROM httpq.attempts a WHERE a.id = r.id) AS attempts_logged
FROM httpq.requests r JOIN httpq.responses p USING (id) WHERE r.id = :d1;
SELECT dead FROM httpq.stats WHERE channel = 'hist-dead';
SELECT httpq.retry(:d1) AS retried;
SELECT (SELECT count(*) FROM httpq.history WHERE id = :d1) AS in_history, (SELECT state FROM httpq.requests WHERE id = :d1) AS state;
SELECT httpq.cancel(:d1) AS canceled;
SELECT state, pg_temp.home(:d1) AS home FROM httpq.requests WHERE id = :d1;
SELECT httpq.replay('hist-dead') AS replayed;
SELECT state FROM httpq.requests WHERE id = :d2;

-- purge drops whole days where its age allows, and counts their rows
SET httpq.now = '2040-01-20 00:00:00+00';
SELECT httpq.purge(older_than => '1 day') AS purged;
SELECT pg_temp.days() AS days;
SELECT count(*) AS history_2040 FROM httpq.history WHERE finished_at >= '2040-01-01';

-- The default partition holding more than max_rows rows: ATTACH would read them all under
-- its lock, so days ahead wait until trimming has shrunk it; tomorrow is made all the same
-- (reports would land there after midnight too), and today is not (its reports land there)
SET httpq.now = '2040-02-01 10:00:00+00';
SELECT cardinality(pg_temp.finish('hist-crowd', 3, 200)) AS finished;
SELECT httpq.maintain(max_rows => 2);
SELECT httpq.maintain(max_rows => 2);
SELECT pg_temp.days() AS days;
SELECT httpq.maintain(max_rows => 3) ->> 'partitions_created' AS created;
SELECT pg_temp.days() AS days;

-- Bounds are made and read alike whatever the session's DateStyle and TimeZone (IST prints
-- for India and reads as Israel)
SET TimeZone = 'Asia/Kolkata';
SET DateStyle = 'SQL, DMY';
SET httpq.now = '2040-03-01 10:00:00+00';
SELECT httpq.maintain() ->> 'partitions_created' AS created;
SET httpq.now = '2040-03-02 10:00:00+00';
SELECT httpq.maintain() ->> 'partitions_created' AS created;
SELECT (pg_temp.finish('hist-dep', 1, 200))[1] AS dep \gset
RESET TimeZone;
RESET DateStyle;
SELECT replace(p.part::text, 'httpq.history_', '') AS day,
       to_char(p.lower_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS from_utc,
       to_char(p.upper_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS to_utc
FROM httpq._history_partitions() p WHERE p.lower_at >= '2040-03-01 00:00+00' ORDER BY p.lower_at;
SELECT pg_temp.home(:dep) AS home;

-- An object depending on an expired day keeps it from being dropped: maintain warns, naming
-- both, drops the other expired days, and deletes that day's rows in a later step
CREATE VIEW public.hist_dep AS SELECT id FROM httpq.history_20400302;
SET httpq.now = '2040-03-20 10:00:00+00';
SELECT httpq.maintain() ->> 'partitions_created' AS created;
SELECT m - 'rows_deleted' AS maintain FROM httpq.maintain() AS m;
SELECT pg_temp.days() AS days;
SELECT httpq.maintain() - 'partitions_created' AS maintain;
SELECT count(*) AS dep_left FROM httpq.history WHERE id = :dep;
DROP VIEW public.hist_dep;
SELECT httpq.maintain() - 'partitions_created' AS maintain;
SELECT pg_temp.days() AS days;

-- The cost of retention follows the channels with history, not every channel ever created:
-- httpq.channel is read once whole (for the shortest retention) in each pass, and probed
-- once per channel present in a partition looked into
SELECT count(*) AS channels_made FROM (SELECT httpq.set_channel('hist-idle-' || g, retention => '30 days')
                                       FROM generate_series(1, 300) AS g) AS s;
SELECT cardinality(pg_temp.finish('hist-cost-' || g, 1, 200)) AS finished FROM generate_series(1, 3) AS g;
SET httpq.now = '2040-03-28 10:00:00+00';
SELECT httpq.maintain() ->> 'partitions_created' AS created;
ANALYZE httpq.channel;
SELECT pg_stat_force_next_flush();   -- what this session read so far is not counted below
BEGIN;
SELECT m - 'rows_deleted' AS maintain FROM httpq.maintain() AS m;
SELECT s.seq_scan AS channel_scans, s.seq_tup_read = s.seq_scan * (SELECT count(*) FROM httpq.channel) AS whole_scans,
       s.idx_scan AS channel_probes
FROM pg_stat_xact_user_tables s WHERE s.relid = 'httpq.channel'::regclass;
COMMIT;

-- Clean up for the tests after this one: no dated partition stays behind
SELECT httpq.cancel(:d2) AS canceled;
SET httpq.now = '2041-01-01 00:00:00+00';
SELECT httpq.purge(older_than => '0 seconds') >= 0 AS purged;
SELECT pg_temp.days() AS days;
