\set VERBOSITY terse
SET client_min_messages = warning;

-- A fresh database has no httpq schema
SELECT count(*) AS httpq_schemas FROM pg_namespace WHERE nspname = 'httpq';

-- CREATE EXTENSION creates the schema and everything in it
CREATE EXTENSION httpq;
SELECT extversion, extrelocatable, extnamespace::regnamespace AS schema FROM pg_extension WHERE extname = 'httpq';

-- Tables and views
SELECT relname, relkind FROM pg_class
WHERE relnamespace = 'httpq'::regnamespace AND relkind IN ('r', 'v', 'p')
ORDER BY relname;

-- The public functions
SELECT p.oid::regprocedure AS function FROM pg_proc p
WHERE p.pronamespace = 'httpq'::regnamespace AND p.proname !~ '^_'
ORDER BY p.oid::regprocedure::text;

-- Every function has a comment
SELECT count(*) AS functions_without_comment FROM pg_proc p
WHERE p.pronamespace = 'httpq'::regnamespace AND obj_description(p.oid, 'pg_proc') IS NULL;

-- httpq.claimed, the contract with the worker
SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute
WHERE attrelid = 'httpq.claimed'::regclass AND attnum > 0 ORDER BY attnum;

-- The live queue has storage settings for churn
SELECT unnest(reloptions) AS option FROM pg_class WHERE oid = 'httpq.request'::regclass ORDER BY 1;

-- Partial indexes on the live queue: the claimable, the due, the leased
SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'httpq' AND tablename = 'request' ORDER BY indexname;

-- Tables holding user data are dumped with the database
SELECT unnest(extconfig)::regclass AS dumped FROM pg_extension WHERE extname = 'httpq';

-- DROP EXTENSION removes every object (PostgreSQL keeps the schema it created), and it installs again
DROP EXTENSION httpq;
SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'httpq'::regnamespace) AS relations,
       (SELECT count(*) FROM pg_proc WHERE pronamespace = 'httpq'::regnamespace) AS functions,
       (SELECT count(*) FROM pg_type WHERE typnamespace = 'httpq'::regnamespace) AS types;
CREATE EXTENSION httpq;
SELECT count(*) AS functions FROM pg_proc WHERE pronamespace = 'httpq'::regnamespace;
