-- 15_tenant.sql: who may do what. Channels belong to an owner role, and httpq knows four
-- kinds of role: app, worker, ops and admin.
--
-- Owns httpq.role_grant. The API functions run as their owner (SECURITY DEFINER), so
-- Postgres's own privileges decide only which functions a role may call; these functions
-- decide whose channels, requests and secrets it may touch. An app role is a tenant: it
-- enqueues into, reads and configures only channels its roles own. Ops roles read and operate
-- every channel without seeing bodies or settings; admin roles do everything.

-- The roles granted a kind with httpq.grant_role: what the per-row checks consult (a role
-- granted the same functions by hand can call them, but is no ops or admin role here).
CREATE TABLE httpq.role_grant (
    role       name NOT NULL,
    kind       text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (role, kind),
    CONSTRAINT kind_known CHECK (kind IN ('app', 'worker', 'ops', 'admin'))
);

-- The role httpq acts for: the session's role (SET ROLE's, or the login role), not the
-- owner of the SECURITY DEFINER function that calls this. A security-definer function may
-- not SET ROLE, so no caller can change the answer from inside one. (An application's own
-- SECURITY DEFINER function that calls httpq acts for its session's role, too.)
CREATE FUNCTION httpq._caller() RETURNS name
LANGUAGE sql STABLE
-- No SET clause, names qualified: inlined into each statement (see httpq._now).
AS $$
    SELECT CASE WHEN pg_catalog.current_setting('role') OPERATOR(pg_catalog.=) 'none'
                THEN pg_catalog.session_user()
                ELSE pg_catalog.current_setting('role')::pg_catalog.name END
$$;
COMMENT ON FUNCTION httpq._caller() IS 'The role httpq acts for: the session''s current role.';

-- Whether role is a member of (or is) of; false when either role does not exist (a dropped
-- owner makes its channels admin-only, not an error for everyone).
CREATE FUNCTION httpq._member(role name, of name) RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF role = of THEN
        RETURN true;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = _member.role)
       OR NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = _member.of) THEN
        RETURN false;
    END IF;
    RETURN pg_has_role(role, of, 'MEMBER');
END;
$$;
COMMENT ON FUNCTION httpq._member(name, name) IS 'Whether a role is a member of another (false when either is missing).';

-- Whether role has a kind through httpq.grant_role (itself or a role it belongs to). A
-- superuser has every kind; admin implies ops.
CREATE FUNCTION httpq._has_kind(role name, kind text) RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN coalesce((SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = _has_kind.role), false)
        OR EXISTS (SELECT 1 FROM httpq.role_grant g
                   WHERE (g.kind = _has_kind.kind OR (g.kind = 'admin' AND _has_kind.kind = 'ops'))
                     AND httpq._member(_has_kind.role, g.role));
END;
$$;
COMMENT ON FUNCTION httpq._has_kind(name, text) IS 'Whether a role is httpq''s app, worker, ops or admin role (admin implies ops).';

-- Whether the caller may act on a channel owned by owner as its tenant: enqueue, read its
-- bodies, change its settings. NULL owner: a shared channel (one made before 0.2.0).
CREATE FUNCTION httpq._owns(owner name) RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    caller constant name := httpq._caller();
BEGIN
    RETURN owner IS NULL OR owner = caller OR httpq._member(caller, owner) OR httpq._has_kind(caller, 'admin');
END;
$$;
COMMENT ON FUNCTION httpq._owns(name) IS 'Whether the caller may act as the tenant of a channel with this owner.';

-- Raises the error for a caller who is not the tenant of a channel.
CREATE FUNCTION httpq._refuse_channel(channel text, action text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'channel % belongs to another role: role % may not % it', quote_literal(channel),
                    quote_ident(httpq._caller()), action
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Use a channel of your own (the first enqueue into a new channel makes the caller its owner), '
                     'or have an admin run SELECT httpq.set_channel(channel, owner => ...).';
END;
$$;
COMMENT ON FUNCTION httpq._refuse_channel(text, text) IS 'Raises insufficient_privilege for a caller who does not own a channel.';

-- Raises unless the caller may act on the given channels as their tenant (missing
-- channels pass: the caller's enqueue creates them as their owner).
CREATE FUNCTION httpq._check_owner(channels text[], action text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    caller  constant name := httpq._caller();
    refused httpq.channel;
BEGIN
    FOR refused IN
        SELECT c.* FROM httpq.channel c
        WHERE c.name = ANY (channels) AND c.owner IS NOT NULL AND c.owner <> caller
        ORDER BY c.name
    LOOP
        IF NOT httpq._owns(refused.owner) THEN
            PERFORM httpq._refuse_channel(refused.name, action);
        END IF;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION httpq._check_owner(text[], text) IS 'Raises unless the caller owns each of the channels (or is an admin).';

-- Raises unless the caller may change a channel's settings: its tenant, or an admin. A
-- shared channel's (no owner) are an admin's: every tenant uses it, and one must not
-- point its signing_keys at a key of its own, or change what the others get.
CREATE FUNCTION httpq._check_settings(channel text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner name := (SELECT c.owner FROM httpq.channel c WHERE c.name = channel);
BEGIN
    IF owner IS NULL THEN
        PERFORM httpq._check_admin('change the settings of shared channel ' || quote_literal(channel));
    ELSIF NOT httpq._owns(owner) THEN
        PERFORM httpq._refuse_channel(channel, 'change the settings of');
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._check_settings(text) IS 'Raises unless the caller may change a channel''s settings (its tenant or an admin).';

-- Raises unless the caller may operate a channel (pause, resume, retry, cancel, replay):
-- its tenant, an ops role or an admin.
CREATE FUNCTION httpq._check_operator(channel text, action text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner name := (SELECT c.owner FROM httpq.channel c WHERE c.name = channel);
BEGIN
    IF NOT httpq._owns(owner) AND NOT httpq._has_kind(httpq._caller(), 'ops') THEN
        PERFORM httpq._refuse_channel(channel, action);
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._check_operator(text, text) IS 'Raises unless the caller owns the channel or is an ops or admin role.';

-- Raises unless the caller is an admin role (or a superuser).
CREATE FUNCTION httpq._check_admin(action text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT httpq._has_kind(httpq._caller(), 'admin') THEN
        RAISE EXCEPTION 'only an httpq admin role may %; role % is none', action, quote_ident(httpq._caller())
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'A superuser or admin makes one: SELECT httpq.grant_role(''admin'', ''role_name'').';
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._check_admin(text) IS 'Raises insufficient_privilege unless the caller is an httpq admin role.';

-- The channels a view shows the caller rows (or bodies) of: NULL for all when the caller
-- has the kind ('ops' for rows, 'admin' for bodies), else the channels it is the tenant of,
-- shared ones included. A view evaluates it once per query.
CREATE FUNCTION httpq._tenant_channels(unless_kind text) RETURNS text[]
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF httpq._has_kind(httpq._caller(), unless_kind) THEN
        RETURN NULL;
    END IF;
    RETURN ARRAY(SELECT c.name FROM httpq.channel c WHERE httpq._owns(c.owner));
END;
$$;
COMMENT ON FUNCTION httpq._tenant_channels(text) IS 'The channels whose rows a view shows the caller; NULL for all when it has the kind.';

-- What each kind of role may call and read, by name (every overload). Views are listed
-- with a leading 'view:'.
CREATE FUNCTION httpq._kind_privileges(kind text) RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE kind
        WHEN 'app' THEN ARRAY['enqueue', 'enqueue_bytes', 'enqueue_many', 'new_request', 'new_request_bytes',
                              'enqueue_sqs', 'new_sqs_message', 'enqueue_sns', 'new_sns_message',
                              'set_channel', 'unset_channel', 'version',
                              'subscribe', 'unsubscribe', 'pause_subscription', 'resume_subscription', 'publish',
                              'outcome', 'wait',
                              'view:requests', 'view:attempts', 'view:responses', 'view:channels', 'view:subscriptions',
                              'view:stats', 'view:performance']
        WHEN 'worker' THEN ARRAY['claim', 'report', 'heartbeat', 'release', 'idle', 'busy', 'next_run_at',
                                 'maintain', 'purge', 'version', 'queue_stats']
        WHEN 'ops' THEN ARRAY['cancel', 'retry', 'replay', 'pause', 'resume', 'retry_schedule', 'version', 'queue_stats',
                              'pause_subscription', 'resume_subscription', 'tail_renew', 'tail_end',
                              'view:requests', 'view:attempts', 'view:responses', 'view:stats', 'view:performance',
                              'view:channels', 'view:subscriptions']
        WHEN 'admin' THEN ARRAY['enqueue', 'enqueue_bytes', 'enqueue_many', 'new_request', 'new_request_bytes',
                                'enqueue_sqs', 'new_sqs_message', 'enqueue_sns', 'new_sns_message',
                                'cancel', 'retry', 'replay', 'pause', 'resume', 'retry_schedule', 'version',
                                'set_channel', 'unset_channel', 'set_secret', 'reseal_secret', 'delete_secret',
                                'sealed_secrets', 'grant_role', 'revoke_role', 'maintain', 'purge',
                                'subscribe', 'unsubscribe', 'pause_subscription', 'resume_subscription', 'publish',
                                'outcome', 'wait', 'tail_renew', 'tail_end', 'queue_stats',
                                'view:requests', 'view:attempts', 'view:responses', 'view:stats', 'view:performance',
                                'view:channels', 'view:subscriptions', 'view:secrets', 'view:roles']
    END
$$;
COMMENT ON FUNCTION httpq._kind_privileges(text) IS 'The functions and views each kind of role is granted.';

-- Grants or revokes the privileges of the named kinds.
CREATE FUNCTION httpq._apply_privileges(role name, kinds text[], give boolean) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    item text;
    fn   regprocedure;
BEGIN
    IF give THEN
        EXECUTE format('GRANT USAGE ON SCHEMA httpq TO %I', role);
    END IF;
    FOR item IN SELECT DISTINCT unnest(httpq._kind_privileges(k)) FROM unnest(kinds) AS k LOOP
        IF item LIKE 'view:%' THEN
            EXECUTE format(CASE WHEN give THEN 'GRANT SELECT ON httpq.%I TO %I' ELSE 'REVOKE SELECT ON httpq.%I FROM %I' END,
                           substr(item, 6), role);
        ELSE
            FOR fn IN SELECT p.oid::regprocedure FROM pg_proc p
                      WHERE p.pronamespace = 'httpq'::regnamespace AND p.proname = item LOOP
                EXECUTE format(CASE WHEN give THEN 'GRANT EXECUTE ON FUNCTION %s TO %I' ELSE 'REVOKE EXECUTE ON FUNCTION %s FROM %I' END,
                               fn, role);
            END LOOP;
        END IF;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION httpq._apply_privileges(name, text[], boolean) IS 'Grants or revokes the privileges of kinds of role.';

-- Makes role an httpq role of a kind: grants what the kind may call and read (see the
-- README, Tenants) and records it. Safe to run again (after an upgrade adds functions).
CREATE FUNCTION httpq.grant_role(kind text, role text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM httpq._check_admin('grant roles');
    IF kind IS NULL OR kind NOT IN ('app', 'worker', 'ops', 'admin') THEN
        RAISE EXCEPTION 'kind must be ''app'', ''worker'', ''ops'' or ''admin'', got %', coalesce(quote_literal(kind), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF role IS NULL OR NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = grant_role.role) THEN
        RAISE EXCEPTION 'role % does not exist', coalesce(quote_ident(role), 'NULL')
            USING ERRCODE = 'undefined_object', HINT = 'Create it first: CREATE ROLE ... ;';
    END IF;
    PERFORM httpq._apply_privileges(role, ARRAY[kind], true);
    INSERT INTO httpq.role_grant (role, kind) VALUES (grant_role.role, grant_role.kind) ON CONFLICT DO NOTHING;
END;
$$;
COMMENT ON FUNCTION httpq.grant_role(text, text) IS 'Makes a role httpq''s app, worker, ops or admin role, with the grants that kind needs.';

-- Takes a kind back from a role; what its other kinds need stays granted.
CREATE FUNCTION httpq.revoke_role(kind text, role text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kept text[];
BEGIN
    PERFORM httpq._check_admin('revoke roles');
    DELETE FROM httpq.role_grant g WHERE g.role = revoke_role.role AND g.kind = revoke_role.kind;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    kept := ARRAY(SELECT g.kind FROM httpq.role_grant g WHERE g.role = revoke_role.role);
    PERFORM httpq._apply_privileges(role, ARRAY[kind], false);
    IF cardinality(kept) > 0 THEN
        PERFORM httpq._apply_privileges(role, kept, true);
    ELSE
        EXECUTE format('REVOKE USAGE ON SCHEMA httpq FROM %I', role);
    END IF;
    RETURN true;
END;
$$;
COMMENT ON FUNCTION httpq.revoke_role(text, text) IS 'Takes a kind back from a role; false when it did not have it.';
