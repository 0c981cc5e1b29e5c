\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;

-- What CREATE EXTENSION installed, as one fingerprint: functions with their bodies, columns, views
SELECT md5(string_agg(d, E'\n' ORDER BY d)) AS fingerprint,
       count(*) FILTER (WHERE d LIKE 'function %') AS functions
FROM (
    SELECT 'function ' || p.oid::regprocedure || ' ' || pg_get_functiondef(p.oid) AS d
    FROM pg_proc p WHERE p.pronamespace = 'httpq'::regnamespace
    UNION ALL
    SELECT 'column ' || a.attrelid::regclass || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
        || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    WHERE c.relnamespace = 'httpq'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 'view ' || c.oid::regclass || ' ' || pg_get_viewdef(c.oid)
    FROM pg_class c WHERE c.relnamespace = 'httpq'::regnamespace AND c.relkind = 'v'
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = 'httpq'::regnamespace
    UNION ALL
    SELECT 'constraint ' || n.conrelid::regclass || ' ' || n.conname || ' ' || pg_get_constraintdef(n.oid)
    FROM pg_constraint n WHERE n.connamespace = 'httpq'::regnamespace
) AS s \gset extension_

-- A database where an ordinary role may not create extensions
CREATE ROLE regress_httpq_owner LOGIN;
CREATE DATABASE httpq_plain OWNER regress_httpq_owner;

-- The plain script's first statement: it creates the schema httpq, or decides whether to use one
\set schema_guard `sed -n '/^DO \$\$$/,/^\$\$;$/p' sql/00_schema.sql`

-- A plain install refuses a schema httpq that another role owns
\c httpq_plain postgres
SET client_min_messages = warning;
CREATE SCHEMA httpq;
\c httpq_plain regress_httpq_owner
SET client_min_messages = warning;
\set ECHO none
SELECT :'schema_guard' \gexec
\set ECHO all

-- ... and a schema httpq of its own role that holds objects httpq did not create
\c httpq_plain postgres
ALTER SCHEMA httpq OWNER TO regress_httpq_owner;
\c httpq_plain regress_httpq_owner
SET client_min_messages = warning;
CREATE TABLE httpq.notes (note text);
CREATE FUNCTION httpq.note() RETURNS text LANGUAGE sql AS $$ SELECT 'mine' $$;
\set ECHO none
SELECT :'schema_guard' \gexec
\set ECHO all
SELECT count(*) AS notes_kept FROM httpq.notes;

-- An empty schema httpq its role owns, as a DBA may create for httpq, is used
DROP TABLE httpq.notes;
DROP FUNCTION httpq.note();
\set ECHO none
SELECT :'schema_guard' \gexec
\set ECHO all
DROP SCHEMA httpq;

-- Where there is no schema httpq: the same script as CREATE EXTENSION's, with plain psql
\set ECHO none
\i extension/httpq--0.2.0.sql
\set ECHO all
SELECT count(*) AS extensions FROM pg_extension WHERE extname = 'httpq';
SELECT nspowner::regrole AS schema_owner FROM pg_namespace WHERE nspname = 'httpq';

-- The same functions, tables, views, indexes and constraints
SELECT md5(string_agg(d, E'\n' ORDER BY d)) = :'extension_fingerprint' AS same_as_extension,
       count(*) FILTER (WHERE d LIKE 'function %') = :extension_functions AS same_function_count
FROM (
    SELECT 'function ' || p.oid::regprocedure || ' ' || pg_get_functiondef(p.oid) AS d
    FROM pg_proc p WHERE p.pronamespace = 'httpq'::regnamespace
    UNION ALL
    SELECT 'column ' || a.attrelid::regclass || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
        || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    WHERE c.relnamespace = 'httpq'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 'view ' || c.oid::regclass || ' ' || pg_get_viewdef(c.oid)
    FROM pg_class c WHERE c.relnamespace = 'httpq'::regnamespace AND c.relkind = 'v'
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = 'httpq'::regnamespace
    UNION ALL
    SELECT 'constraint ' || n.conrelid::regclass || ' ' || n.conname || ' ' || pg_get_constraintdef(n.oid)
    FROM pg_constraint n WHERE n.connamespace = 'httpq'::regnamespace
) AS s;

-- PUBLIC gets nothing here either
SELECT count(*) AS grants_to_public FROM pg_proc p, aclexplode(p.proacl) AS a
WHERE p.pronamespace = 'httpq'::regnamespace AND a.grantee = 0;

-- The queue works: enqueue, claim, report
SET httpq.now = '2030-01-01 00:00:00+00';
SELECT httpq.enqueue('https://example.com/plain', '{"plain": true}', channel => 'plain') AS p \gset
SELECT id = :p AS is_p, attempt, headers ->> 'Content-Type' AS content_type FROM httpq.claim('w1', 10, '{plain}');
SELECT httpq.report('w1', jsonb_build_array(jsonb_build_object('id', :p, 'attempt', 1, 'status', 200))) AS applied;
SELECT state FROM httpq.requests WHERE id = :p;

-- Running the script over an install is refused: `httpq install` upgrades it
\set ECHO none
SELECT :'schema_guard' \gexec
\set ECHO all

\c httpq_regress postgres
DROP DATABASE httpq_plain;
DROP ROLE regress_httpq_owner;
