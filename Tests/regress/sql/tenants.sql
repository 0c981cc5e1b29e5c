\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';

-- Five roles, one of each kind and two tenants; a member of tenant a's role
CREATE ROLE regress_httpq_app_a;
CREATE ROLE regress_httpq_app_b;
CREATE ROLE regress_httpq_worker;
CREATE ROLE regress_httpq_ops;
CREATE ROLE regress_httpq_admin;
CREATE ROLE regress_httpq_member_a IN ROLE regress_httpq_app_a;
GRANT USAGE ON SCHEMA httpq TO regress_httpq_member_a;
SELECT httpq.grant_role('app', 'regress_httpq_app_a');
SELECT httpq.grant_role('app', 'regress_httpq_app_b');
SELECT httpq.grant_role('worker', 'regress_httpq_worker');
SELECT httpq.grant_role('ops', 'regress_httpq_ops');
SELECT httpq.grant_role('admin', 'regress_httpq_admin');
SELECT role, kind FROM httpq.roles WHERE role LIKE 'regress_httpq_%' ORDER BY 1, 2;
SELECT httpq.grant_role('superuser', 'regress_httpq_app_a');
SELECT httpq.grant_role('app', 'regress_httpq_nobody');

-- A channel made by an enqueue belongs to the enqueuing role
SET ROLE regress_httpq_app_a;
SELECT httpq.enqueue('https://a.example/1', channel => 'tenant-a', dedupe_key => 'order-1', ordering_key => 'customer-1') AS a1 \gset
SELECT httpq.enqueue('https://a.example/2', channel => 'tenant-a', body => '{"secret": "a-body"}') AS a2 \gset
RESET ROLE;
SELECT name, owner FROM httpq.channel WHERE name = 'tenant-a';

-- Another tenant can neither enqueue into it, nor squat or probe its dedupe keys
SET ROLE regress_httpq_app_b;
SELECT httpq.enqueue('https://b.example/1', channel => 'tenant-a');
SELECT httpq.enqueue('https://b.example/1', channel => 'tenant-a', dedupe_key => 'order-1');
SELECT httpq.enqueue('https://b.example/1', channel => 'tenant-a', ordering_key => 'customer-1');
SELECT httpq.enqueue_many(ARRAY[httpq.new_request('https://b.example/1', channel => 'tenant-b'),
                                httpq.new_request('https://b.example/2', channel => 'tenant-a')]);
-- Its own channel has its own key space: the same dedupe key enqueues
SELECT httpq.enqueue('https://b.example/1', channel => 'tenant-b', dedupe_key => 'order-1', ordering_key => 'customer-1') <> :a1 AS own_key_space;
-- It reads only its own channels, and changes only its own settings
SELECT DISTINCT channel FROM httpq.requests ORDER BY 1;
SELECT channel, owner FROM httpq.channels ORDER BY 1;
SELECT count(*) AS foreign_responses FROM httpq.responses WHERE channel = 'tenant-a';
-- Its own channels' figures, as the dashboard and httpq status show them to it
SELECT channel, waiting FROM httpq.stats ORDER BY 1;
SELECT DISTINCT channel FROM httpq.performance ORDER BY 1;
-- The views are security barriers: a condition of the caller's own meets only the rows it
-- may see (without them, this cast would fail quoting tenant a's url and owner)
SELECT count(*) FROM httpq.requests WHERE channel = 'tenant-a' AND url::integer = 0;
SELECT count(*) FROM httpq.channels WHERE channel = 'tenant-a' AND owner::text::integer = 0;
SELECT httpq.set_channel('tenant-a', max_attempts => 3);
SELECT httpq.unset_channel('tenant-a', '{max_attempts}');
SELECT httpq.set_channel('tenant-b', max_attempts => 3);
SELECT httpq.set_channel('tenant-b', allowed_networks => '{10.0.0.0/8}');
SELECT httpq.set_channel('tenant-b', owner => 'regress_httpq_app_b');
SELECT httpq.unset_channel('tenant-b', '{owner}');
-- Worker, ops and admin functions are not an app's
SELECT count(*) FROM httpq.claim('app-b');
SELECT httpq.pause('tenant-b');
SELECT httpq.retry(:a1);
SELECT * FROM httpq.secrets;
RESET ROLE;

-- A member of the owner role acts as the owner
SET ROLE regress_httpq_member_a;
SELECT httpq.enqueue('https://a.example/3', channel => 'tenant-a') > 0 AS member_enqueued;
RESET ROLE;

-- The worker claims and reports for every tenant, and enqueues or reads nothing
SET ROLE regress_httpq_worker;
SELECT channel, url FROM httpq.claim('regress-worker', 10, '{tenant-a,tenant-b}') ORDER BY id;
SELECT httpq.enqueue('https://w.example/', channel => 'tenant-w');
SELECT count(*) FROM httpq.requests;
SELECT httpq.set_channel('tenant-a', max_attempts => 3);
RESET ROLE;
SELECT httpq.report('regress-worker', jsonb_agg(jsonb_build_object('id', id, 'attempt', attempt, 'status', 200,
                                                                  'body', encode('{"answer": "a-response"}', 'base64'))))
FROM httpq.request WHERE state = 'running' AND channel LIKE 'tenant-%';

-- Ops sees every channel and operates it, but no bodies, settings or secrets
SET ROLE regress_httpq_ops;
SELECT channel, count(*) FROM httpq.requests WHERE channel LIKE 'tenant-%' GROUP BY 1 ORDER BY 1;
SELECT channel, status, headers IS NULL AS no_headers, body IS NULL AS no_body FROM httpq.responses
WHERE channel LIKE 'tenant-%' ORDER BY id LIMIT 2;
SELECT httpq.pause('tenant-a');
SELECT httpq.resume('tenant-a');
SELECT httpq.set_channel('tenant-a', max_attempts => 3);
SELECT * FROM httpq.secrets;
SELECT httpq.enqueue('https://o.example/', channel => 'tenant-a');
RESET ROLE;

-- The tenant reads its own responses whole
SET ROLE regress_httpq_app_a;
SELECT status, convert_from(body, 'UTF8') AS body FROM httpq.responses WHERE id = :a1;
RESET ROLE;

-- The admin changes owners: the channel moves to tenant b
SET ROLE regress_httpq_admin;
SELECT httpq.set_channel('tenant-a', owner => 'regress_httpq_app_b');
SELECT httpq.set_channel('tenant-a', owner => 'regress_httpq_no_such_role');
SELECT channel, owner FROM httpq.channels WHERE channel = 'tenant-a';
RESET ROLE;
SET ROLE regress_httpq_app_b;
SELECT httpq.enqueue('https://b.example/3', channel => 'tenant-a') > 0 AS new_owner_enqueued;
RESET ROLE;
SET ROLE regress_httpq_app_a;
SELECT httpq.enqueue('https://a.example/4', channel => 'tenant-a');
RESET ROLE;

-- A shared channel (no owner, as channels made before 0.2.0) takes every app
UPDATE httpq.channel SET owner = NULL WHERE name = 'tenant-a';
SET ROLE regress_httpq_app_a;
SELECT httpq.enqueue('https://a.example/5', channel => 'tenant-a') > 0 AS shared_enqueued;
-- but only an admin changes a shared channel's settings (its signing keys sign for everyone)
SELECT httpq.set_channel('tenant-a', max_attempts => 3);
RESET ROLE;

-- Revoking a kind takes its grants back, keeping those of the role's other kinds
SELECT httpq.grant_role('ops', 'regress_httpq_app_b');
SELECT httpq.revoke_role('ops', 'regress_httpq_app_b');
SELECT has_function_privilege('regress_httpq_app_b', 'httpq.pause(text)', 'EXECUTE') AS pause,
       has_function_privilege('regress_httpq_app_b', 'httpq.enqueue_many(httpq.new_request[])', 'EXECUTE') AS enqueue_many,
       has_table_privilege('regress_httpq_app_b', 'httpq.requests', 'SELECT') AS requests;
SELECT httpq.revoke_role('ops', 'regress_httpq_app_b');

-- Nobody below admin can call any of the admin functions
SELECT r.rolname, p.proname
FROM pg_roles r, pg_proc p
WHERE r.rolname IN ('regress_httpq_app_a', 'regress_httpq_worker', 'regress_httpq_ops')
  AND p.pronamespace = 'httpq'::regnamespace
  AND p.proname IN ('set_secret', 'reseal_secret', 'delete_secret', 'sealed_secrets', 'grant_role', 'revoke_role')
  AND has_function_privilege(r.rolname, p.oid, 'EXECUTE');

-- Clean up
DELETE FROM httpq.request WHERE channel LIKE 'tenant-%';
DELETE FROM httpq.history WHERE channel LIKE 'tenant-%';
DELETE FROM httpq.key_lock WHERE channel LIKE 'tenant-%';
DELETE FROM httpq.channel WHERE name LIKE 'tenant-%';
SELECT httpq.revoke_role(g.kind, g.role) FROM httpq.role_grant g WHERE g.role LIKE 'regress_httpq_%';
REVOKE USAGE ON SCHEMA httpq FROM regress_httpq_member_a;
DROP ROLE regress_httpq_member_a, regress_httpq_app_a, regress_httpq_app_b, regress_httpq_worker, regress_httpq_ops, regress_httpq_admin;
