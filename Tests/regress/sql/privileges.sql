\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;

-- Every function pins search_path, but for two inlined into their callers (which pin it):
-- the clock, httpq._now, and the name of a claim position's setting; both name everything
-- with its schema
SELECT count(*) AS functions,
       array_agg(p.oid::regprocedure ORDER BY p.proname) FILTER (WHERE NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) AS c WHERE c LIKE 'search_path=%')) AS without_search_path
FROM pg_proc p WHERE p.pronamespace = 'httpq'::regnamespace;
SELECT prosrc !~ '[^.]\m(current_setting|now)\(' AND prosrc ~ 'pg_catalog\.now\(\)' AS now_names_its_schema
FROM pg_proc WHERE oid = 'httpq._now()'::regprocedure;

-- ... to pg_catalog and pg_temp only (and the claim's channel scans turn index-only scans off, and
-- history maintenance bounds its lock waits and reads and writes partition bounds in ISO and UTC)
SELECT DISTINCT c AS setting FROM pg_proc p, unnest(p.proconfig) AS c WHERE p.pronamespace = 'httpq'::regnamespace
ORDER BY 1;

-- Every public function is SECURITY DEFINER (the request builders call private helpers); no private one is
SELECT p.proname, p.prosecdef FROM pg_proc p
WHERE p.pronamespace = 'httpq'::regnamespace AND (p.proname !~ '^_') <> p.prosecdef
ORDER BY 1;

-- Public functions that do not write are labeled so; every other public one is volatile
SELECT p.proname, p.provolatile FROM pg_proc p
WHERE p.pronamespace = 'httpq'::regnamespace AND p.proname !~ '^_' AND p.provolatile <> 'v' ORDER BY 1;

-- Only pure helpers are STRICT
SELECT p.proname FROM pg_proc p WHERE p.pronamespace = 'httpq'::regnamespace AND p.proisstrict ORDER BY 1;

-- PUBLIC may execute no function, use no table, view or sequence
CREATE ROLE regress_httpq_nobody;
SELECT count(*) FILTER (WHERE has_function_privilege('regress_httpq_nobody', p.oid, 'EXECUTE')) AS executable
FROM pg_proc p WHERE p.pronamespace = 'httpq'::regnamespace;
SELECT count(*) FILTER (WHERE has_table_privilege('regress_httpq_nobody', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'))
           AS usable_relations
FROM pg_class c WHERE c.relnamespace = 'httpq'::regnamespace AND c.relkind IN ('r', 'v', 'p');
SELECT count(*) FILTER (WHERE has_sequence_privilege('regress_httpq_nobody', c.oid, 'USAGE, SELECT, UPDATE')) AS usable_sequences
FROM pg_class c WHERE c.relnamespace = 'httpq'::regnamespace AND c.relkind = 'S';
SELECT count(*) AS grants_to_public FROM pg_proc p, aclexplode(p.proacl) AS a
WHERE p.pronamespace = 'httpq'::regnamespace AND a.grantee = 0;
DROP ROLE regress_httpq_nobody;

-- An application role granted enqueue can enqueue, and nothing more
CREATE ROLE regress_httpq_app;
GRANT USAGE ON SCHEMA httpq TO regress_httpq_app;
GRANT EXECUTE ON FUNCTION httpq.enqueue(text, jsonb, text, jsonb, text, text, timestamptz, integer, timestamptz, text, text, integer, integer, boolean, text, text),
                          httpq.enqueue_bytes(text, bytea, text, text, jsonb, text, text, timestamptz, integer, timestamptz, text, text, integer, integer, boolean, text, text),
                          httpq.enqueue_many(httpq.new_request[]),
                          httpq.new_request(text, jsonb, text, jsonb, text, text, timestamptz, integer, timestamptz, text, text, integer, integer, boolean, text, text),
                          httpq.new_request_bytes(text, bytea, text, text, jsonb, text, text, timestamptz, integer, timestamptz, text, text, integer, integer, boolean, text, text)
    TO regress_httpq_app;
SET ROLE regress_httpq_app;
SELECT httpq.enqueue('https://example.com/from-app', '{"ok": true}', channel => 'priv') > 0 AS enqueued;
-- The README's application grants cover the set-based path and byte bodies too
SELECT count(*) AS enqueued FROM httpq.enqueue_many(ARRAY[
    httpq.new_request('https://example.com/from-app-batch', '{"n": 1}', channel => 'priv'),
    httpq.new_request_bytes('https://example.com/from-app-batch', '\x00ff', channel => 'priv')]);
SELECT httpq.enqueue_bytes('https://example.com/from-app-bytes', convert_to('a=1', 'UTF8'),
                           headers => '{"Content-Type": "application/x-www-form-urlencoded"}', channel => 'priv') > 0 AS enqueued;
SELECT * FROM httpq.claim('intruder', 10, '{priv}');
SELECT httpq.report('intruder', '[]');
SELECT httpq.cancel(1);
SELECT httpq.set_channel('priv', max_concurrency => 1);
SELECT count(*) FROM httpq.request;
SELECT count(*) FROM httpq.requests;
SELECT count(*) FROM httpq.channel;
INSERT INTO httpq.request (channel, state, run_at, method, url, headers, idempotency_key)
VALUES ('priv', 'waiting', now(), 'GET', 'https://example.com/', '{}', 'x');
RESET ROLE;
SELECT count(*) AS enqueued_by_app FROM httpq.requests WHERE channel = 'priv';

-- A worker role granted claim, report, heartbeat and release can work the queue, and not enqueue
CREATE ROLE regress_httpq_worker;
GRANT USAGE ON SCHEMA httpq TO regress_httpq_worker;
GRANT EXECUTE ON FUNCTION httpq.claim(text, integer, text[], interval, bigint, integer, jsonb), httpq.report(text, jsonb),
                          httpq.heartbeat(text, bigint[], integer[], interval), httpq.release(text, bigint[], integer[]),
                          httpq.idle(), httpq.busy()
    TO regress_httpq_worker;
SET ROLE regress_httpq_worker;
SELECT httpq.idle() AS marked_idle;
SELECT httpq.busy();
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{priv}');
SELECT httpq.heartbeat('w1', ARRAY(SELECT 1::bigint), '{1}') >= 0 AS heartbeat;
SELECT httpq.enqueue('https://example.com/from-worker', channel => 'priv');
SELECT count(*) FROM httpq.history;
RESET ROLE;
SELECT state, count(*) FROM httpq.requests WHERE channel = 'priv' GROUP BY state;

-- The caller's search_path cannot change what the functions call
CREATE SCHEMA regress_evil;
GRANT USAGE, CREATE ON SCHEMA regress_evil TO regress_httpq_app;
SET ROLE regress_httpq_app;
CREATE FUNCTION regress_evil.jsonb_typeof(jsonb) RETURNS text LANGUAGE sql AS $$ SELECT 'array' $$;
CREATE FUNCTION regress_evil.gen_random_uuid() RETURNS uuid LANGUAGE sql AS $$ SELECT '00000000-0000-0000-0000-000000000000'::uuid $$;
SET search_path = regress_evil, pg_catalog;
SELECT httpq.enqueue('https://example.com/still-fine', headers => '{"X-A": "b"}', channel => 'priv') > 0 AS enqueued;
RESET search_path;
RESET ROLE;
SELECT count(*) AS enqueued_by_app, count(*) FILTER (WHERE idempotency_key LIKE '00000000%') AS shadowed
FROM httpq.requests WHERE channel = 'priv';

DROP SCHEMA regress_evil CASCADE;
REVOKE ALL ON SCHEMA httpq FROM regress_httpq_app, regress_httpq_worker;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA httpq FROM regress_httpq_app, regress_httpq_worker;
DROP ROLE regress_httpq_app;
DROP ROLE regress_httpq_worker;
