\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';

-- A registration lasts 30 seconds from its last renewal
SELECT httpq.tail_renew('00000000-0000-4000-8000-0000000000a1') AS expires_at;
SET httpq.now = '2030-01-01 00:00:10+00';
SELECT httpq.tail_renew('00000000-0000-4000-8000-0000000000a1') AS expires_at;
SELECT id, role, expires_at FROM httpq.tail ORDER BY id;
SELECT httpq.tail_renew(NULL);

-- A renewal clears the registrations that expired (tails that died without ending)
SELECT httpq.tail_renew('00000000-0000-4000-8000-0000000000a2') IS NOT NULL AS registered;
SET httpq.now = '2030-01-01 00:00:41+00';
SELECT httpq.tail_renew('00000000-0000-4000-8000-0000000000a2') AS expires_at;
SELECT id, expires_at FROM httpq.tail ORDER BY id;

-- Ops and admin roles may tail; an app role may not. A role cannot end or renew another's.
CREATE ROLE regress_httpq_tail_ops;
CREATE ROLE regress_httpq_tail_admin;
CREATE ROLE regress_httpq_tail_app;
SELECT httpq.grant_role('ops', 'regress_httpq_tail_ops');
SELECT httpq.grant_role('admin', 'regress_httpq_tail_admin');
SELECT httpq.grant_role('app', 'regress_httpq_tail_app');
SET ROLE regress_httpq_tail_ops;
SELECT httpq.tail_renew('00000000-0000-4000-8000-0000000000b1') IS NOT NULL AS registered;
SELECT httpq.tail_end('00000000-0000-4000-8000-0000000000a2') AS ended_another;
SELECT httpq.tail_renew('00000000-0000-4000-8000-0000000000a2');
RESET ROLE;
SELECT id, role, expires_at FROM httpq.tail ORDER BY id;
SET ROLE regress_httpq_tail_admin;
SELECT httpq.tail_renew('00000000-0000-4000-8000-0000000000c1') IS NOT NULL AS registered;
SELECT httpq.tail_end('00000000-0000-4000-8000-0000000000c1') AS ended;
SELECT httpq.tail_end('00000000-0000-4000-8000-0000000000c1') AS ended_again;
RESET ROLE;
SET ROLE regress_httpq_tail_app;
SELECT httpq.tail_renew('00000000-0000-4000-8000-0000000000d1');
RESET ROLE;

DELETE FROM httpq.tail;
SELECT httpq.revoke_role('ops', 'regress_httpq_tail_ops');
SELECT httpq.revoke_role('admin', 'regress_httpq_tail_admin');
SELECT httpq.revoke_role('app', 'regress_httpq_tail_app');
DROP ROLE regress_httpq_tail_ops;
DROP ROLE regress_httpq_tail_admin;
DROP ROLE regress_httpq_tail_app;
RESET httpq.now;
