\set VERBOSITY terse
SET client_min_messages = warning;

-- An application role owns the install; a DBA upgrades it
CREATE ROLE regress_httpq_app_owner LOGIN CREATEROLE;
CREATE DATABASE httpq_owner OWNER regress_httpq_app_owner;
\c httpq_owner regress_httpq_app_owner
SET client_min_messages = warning;
CREATE EXTENSION httpq VERSION '0.1.0';
SELECT httpq.enqueue('https://example.com/owned', channel => 'owned') AS owned \gset
-- A worker role the owner granted heartbeat
CREATE ROLE regress_httpq_worker_role;
GRANT USAGE ON SCHEMA httpq TO regress_httpq_worker_role;
GRANT EXECUTE ON FUNCTION httpq.heartbeat(text, bigint[], interval), httpq.claim(text, integer, text[], interval)
    TO regress_httpq_worker_role;
\c httpq_owner postgres
SET client_min_messages = warning;
ALTER EXTENSION httpq UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'httpq';

-- Everything in the schema still belongs to the application role
SELECT count(*) AS owned_by_others FROM (
    SELECT c.relowner AS owner FROM pg_class c WHERE c.relnamespace = 'httpq'::regnamespace AND c.relkind IN ('r', 'p', 'v')
    UNION ALL
    SELECT p.proowner FROM pg_proc p WHERE p.pronamespace = 'httpq'::regnamespace
) AS o WHERE o.owner <> 'regress_httpq_app_owner'::regrole;

-- So claim, report, maintain and cancel work, running as that owner
SELECT count(*) AS claimed FROM httpq.claim('w1', 10);
SELECT httpq.report('w1', jsonb_build_array(jsonb_build_object('id', :owned, 'attempt', 1, 'status', 500))) AS applied;
SELECT (httpq.maintain() ->> 'ran')::boolean AS maintained;
SELECT httpq.cancel(:owned) AS canceled;
SELECT state FROM httpq.requests WHERE id = :owned;

-- The worker role may run the new heartbeat, and pg_dump will keep that grant: it is not
-- recorded as one the extension made
SELECT has_function_privilege('regress_httpq_worker_role', 'httpq.heartbeat(text, bigint[], integer[], interval)', 'EXECUTE')
    AS worker_may_heartbeat,
       has_function_privilege('regress_httpq_worker_role', 'httpq.idle()', 'EXECUTE') AS worker_may_mark_idle;
-- (PUBLIC's, on the views' row filter, is the extension's own, as in a fresh install)
SELECT count(*) AS initial_grants_to_others
FROM pg_init_privs i, unnest(i.initprivs) AS x, aclexplode(ARRAY[x]) AS e
WHERE i.privtype = 'e' AND e.grantee NOT IN ('regress_httpq_app_owner'::regrole, 0);

\c httpq_regress postgres
DROP DATABASE httpq_owner;
DROP ROLE regress_httpq_worker_role;
DROP ROLE regress_httpq_app_owner;
