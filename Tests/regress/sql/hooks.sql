\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';

-- An application with a schema of its own, its hooks, and another tenant
CREATE ROLE regress_httpq_hook_app;
CREATE ROLE regress_httpq_hook_other;
SELECT httpq.grant_role('app', 'regress_httpq_hook_app');
SELECT httpq.grant_role('app', 'regress_httpq_hook_other');
CREATE SCHEMA hookapp AUTHORIZATION regress_httpq_hook_app;
SET ROLE regress_httpq_hook_app;
CREATE TABLE hookapp.notified (id bigint, state text, status integer, body text, ordering_key text, ran_as name);
CREATE FUNCTION hookapp.done(f httpq.finished) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog
AS $$ INSERT INTO hookapp.notified VALUES (f.id, f.state, f.status, convert_from(f.body, 'UTF8'), f.ordering_key, current_user) $$;
CREATE FUNCTION hookapp.fails(f httpq.finished) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog
AS $$ BEGIN INSERT INTO hookapp.notified VALUES (f.id, 'half-done'); RAISE EXCEPTION 'order not found'; END $$;
CREATE FUNCTION hookapp.picky(f httpq.finished) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog
AS $$ BEGIN
    INSERT INTO hookapp.notified VALUES (f.id, 'picked', f.status);
    IF f.url LIKE '%/bad' THEN RAISE EXCEPTION 'cannot take %', f.url; END IF;
END $$;
CREATE FUNCTION hookapp.invoker(f httpq.finished) RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION hookapp.returns_int(f httpq.finished) RETURNS integer LANGUAGE sql SECURITY DEFINER AS $$ SELECT 1 $$;
CREATE FUNCTION hookapp.two_args(f httpq.finished, x integer) RETURNS void LANGUAGE sql SECURITY DEFINER AS $$ SELECT $$;

-- The hook is checked when it is set
SELECT httpq.enqueue('https://example.com/first', channel => 'hooked') > 0 AS channel_made;
SELECT httpq.set_channel('hooked', on_finish => 'hookapp.missing');
SELECT httpq.set_channel('hooked', on_finish => 'not a name (');
SELECT httpq.set_channel('hooked', on_finish => 'hookapp.invoker');
SELECT httpq.set_channel('hooked', on_finish => 'hookapp.returns_int');
SELECT httpq.set_channel('hooked', on_finish => 'hookapp.two_args(httpq.finished, integer)');
SELECT httpq.set_channel('hooked', on_finish => 'hookapp.done');
SELECT on_finish FROM httpq.channels WHERE channel = 'hooked';
RESET ROLE;
-- Another tenant can neither set this hook on its channel nor change this channel's
SET ROLE regress_httpq_hook_other;
SELECT httpq.enqueue('https://example.com/other', channel => 'hooked-other') > 0 AS channel_made;
SELECT httpq.set_channel('hooked-other', on_finish => 'hookapp.done');
SELECT httpq.unset_channel('hooked', '{on_finish}');
RESET ROLE;

-- Delivered and dead requests are handed to the hook in the report's transaction, which
-- runs it as its owner; a canceled one is not
SET ROLE regress_httpq_hook_app;
SELECT httpq.enqueue('https://example.com/dead', channel => 'hooked', ordering_key => 'order-7') AS dead_id \gset
SELECT httpq.enqueue('https://example.com/canceled', channel => 'hooked', run_at => '2030-01-02') AS canceled_id \gset
RESET ROLE;
SELECT httpq.cancel(:canceled_id);
SELECT count(*) AS claimed FROM httpq.claim('w', 10, '{hooked}');
SELECT httpq.report('w', jsonb_agg(jsonb_build_object('id', id, 'attempt', attempt,
                                   'status', CASE WHEN url LIKE '%dead' THEN 400 ELSE 200 END,
                                   'body', encode(convert_to('answer to ' || url, 'UTF8'), 'base64'))))
FROM httpq.request WHERE channel = 'hooked' AND state = 'running';
SELECT n.state, n.status, n.body, n.ordering_key, n.ran_as, n.id = :dead_id AS is_dead_one
FROM hookapp.notified n ORDER BY n.id;

-- A hook that raises: the outcome is recorded, its own changes are undone, and its error
-- is on the request; it is not called again
SET ROLE regress_httpq_hook_app;
SELECT httpq.set_channel('hooked', on_finish => 'hookapp.fails');
SELECT httpq.enqueue('https://example.com/fails', channel => 'hooked') AS fails_id \gset
RESET ROLE;
SELECT count(*) AS claimed FROM httpq.claim('w', 10, '{hooked}');
SET client_min_messages = error;   -- the hook's warning names the request's id
SELECT httpq.report('w', jsonb_build_array(jsonb_build_object('id', :fails_id, 'attempt', 1, 'status', 204)));
SET client_min_messages = warning;
SELECT state, hook_error FROM httpq.requests WHERE id = :fails_id;
SELECT count(*) AS half_done_rows FROM hookapp.notified WHERE state = 'half-done';

-- One request of a report that makes the hook raise: the others' calls stand, each
-- request's on its own
SET ROLE regress_httpq_hook_app;
SELECT httpq.set_channel('hooked', on_finish => 'hookapp.picky');
SELECT httpq.enqueue('https://example.com/good', channel => 'hooked') AS good_id \gset
SELECT httpq.enqueue('https://example.com/bad', channel => 'hooked') AS bad_id \gset
RESET ROLE;
SELECT count(*) AS claimed FROM httpq.claim('w', 10, '{hooked}');
SET client_min_messages = error;
SELECT httpq.report('w', jsonb_agg(jsonb_build_object('id', id, 'attempt', attempt, 'status', 200)))
FROM httpq.request WHERE channel = 'hooked' AND state = 'running';
SET client_min_messages = warning;
SELECT r.url, r.hook_error, (SELECT count(*) FROM hookapp.notified n WHERE n.id = r.id AND n.state = 'picked') AS picked
FROM httpq.requests r WHERE r.id IN (:good_id, :bad_id) ORDER BY r.id;

-- A hook dropped after it was set fails like one that raises
SET ROLE regress_httpq_hook_app;
SELECT httpq.set_channel('hooked', on_finish => 'hookapp.done');
DROP FUNCTION hookapp.done(httpq.finished);
SELECT httpq.enqueue('https://example.com/dropped', channel => 'hooked') AS dropped_id \gset
RESET ROLE;
SELECT count(*) AS claimed FROM httpq.claim('w', 10, '{hooked}');
SET client_min_messages = error;
SELECT httpq.report('w', jsonb_build_array(jsonb_build_object('id', :dropped_id, 'attempt', 1, 'status', 204)));
SET client_min_messages = warning;
SELECT state, hook_error IS NOT NULL AS hook_failed FROM httpq.requests WHERE id = :dropped_id;
SET ROLE regress_httpq_hook_app;
SELECT httpq.unset_channel('hooked', '{on_finish}');
RESET ROLE;

-- Clean up
DELETE FROM httpq.request WHERE channel LIKE 'hooked%';
DELETE FROM httpq.history WHERE channel LIKE 'hooked%';
DELETE FROM httpq.key_lock WHERE channel LIKE 'hooked%';
DELETE FROM httpq.channel WHERE name LIKE 'hooked%';
DROP SCHEMA hookapp CASCADE;
SELECT httpq.revoke_role('app', 'regress_httpq_hook_app'), httpq.revoke_role('app', 'regress_httpq_hook_other');
DROP ROLE regress_httpq_hook_app, regress_httpq_hook_other;
