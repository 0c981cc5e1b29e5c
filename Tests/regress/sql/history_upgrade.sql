-- The upgrade from 0.1.0 replaces httpq.history with a partitioned table: in a database of
-- its own, a 0.1.0 install with objects built on the old table, then the upgrade.
\set VERBOSITY terse
SET client_min_messages = warning;
SELECT current_database() AS home \gset
DROP DATABASE IF EXISTS httpq_history_upgrade;
CREATE DATABASE httpq_history_upgrade;
\c httpq_history_upgrade
SET client_min_messages = warning;
CREATE EXTENSION httpq VERSION '0.1.0';
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_httpq_reader') THEN
        CREATE ROLE regress_httpq_reader;
    END IF;
END;
$$;

-- Objects of others on the old table: a view naming it without an alias, a materialized
-- view, a function with a SQL-standard body; and one on httpq's view, which is fine
CREATE VIEW public.finished_ids AS SELECT id FROM httpq.history;
CREATE MATERIALIZED VIEW public.dead_count AS SELECT count(*) AS n FROM httpq.history WHERE state = 'dead';
CREATE FUNCTION public.last_finished() RETURNS timestamptz LANGUAGE sql
BEGIN ATOMIC
    SELECT max(finished_at) FROM httpq.history;
END;
CREATE VIEW public.finished_requests AS SELECT id, state FROM httpq.requests WHERE finished_at IS NOT NULL;

-- Grants on the old table, on the table and on a column
GRANT SELECT ON TABLE httpq.history TO regress_httpq_reader WITH GRANT OPTION;
GRANT UPDATE (reason) ON TABLE httpq.history TO regress_httpq_reader;

-- The upgrade refuses, naming each object, and changes nothing
\set VERBOSITY default
\set SHOW_CONTEXT never
ALTER EXTENSION httpq UPDATE TO '0.2.0';
\set VERBOSITY terse
SELECT extversion, to_regclass('httpq.history_default') AS history_default,
       (SELECT relkind FROM pg_class WHERE oid = 'httpq.history'::regclass) AS history_kind
FROM pg_extension WHERE extname = 'httpq';
SELECT count(*) AS finished_ids FROM public.finished_ids;

-- Once they are dropped, it goes through
DROP VIEW public.finished_ids;
DROP MATERIALIZED VIEW public.dead_count;
DROP FUNCTION public.last_finished();
ALTER EXTENSION httpq UPDATE TO '0.2.0';
SELECT extversion, (SELECT relkind FROM pg_class WHERE oid = 'httpq.history'::regclass) AS history_kind
FROM pg_extension WHERE extname = 'httpq';

-- httpq's views read the new table, and the view built on one of them still works
SELECT v.oid::regclass AS view, string_agg(DISTINCT d.refobjid::regclass::text, ', ') AS reads
FROM pg_class v
JOIN pg_rewrite r ON r.ev_class = v.oid
JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass
WHERE v.relnamespace = 'httpq'::regnamespace AND v.relkind = 'v' AND d.refobjid <> v.oid
  AND d.refobjid::regclass::text LIKE 'httpq.history%'
GROUP BY v.oid ORDER BY v.oid::regclass::text;
SELECT count(*) AS finished_requests FROM public.finished_requests;

-- The grants carried over to the new table, grant option included
SELECT has_table_privilege('regress_httpq_reader', 'httpq.history', 'SELECT WITH GRANT OPTION') AS select_granted,
       has_column_privilege('regress_httpq_reader', 'httpq.history', 'reason', 'UPDATE') AS update_reason,
       has_column_privilege('regress_httpq_reader', 'httpq.history', 'state', 'UPDATE') AS update_state;

-- Nothing keeps maintain from dropping the attached 0.1.0 table once it has expired
SET httpq.now = '2040-01-01 10:00:00+00';
SELECT httpq.maintain() ->> 'partitions_created' AS created;
SELECT m - 'partitions_created' AS maintain FROM httpq.maintain() AS m;
SELECT count(*) AS tables_of_0_1_0 FROM pg_class
WHERE relnamespace = 'httpq'::regnamespace AND relname LIKE 'history_before_%' AND relkind = 'r';

\c :home
SET client_min_messages = warning;
DROP DATABASE httpq_history_upgrade;
DROP ROLE regress_httpq_reader;
