-- 00_schema.sql: the httpq schema, the composite types shared with callers, and the
-- one source of time.
--
-- The same file opens both install paths: CREATE EXTENSION, which creates the schema
-- named in httpq.control before running this script, and a plain `psql -f` on managed
-- Postgres, where this block creates it. (CREATE SCHEMA IF NOT EXISTS would fail under
-- CREATE EXTENSION: the schema exists but is not a member of the extension.)
--
-- Under CREATE EXTENSION the extension's pg_extension row exists when the script runs
-- (the creating_extension flag is not visible from SQL), and Postgres's own rules for an
-- existing schema apply. A plain install reuses an existing schema httpq only when the
-- installing role owns it (a schema's owner can drop or replace anything in it) and it is
-- empty, as a DBA may create it for httpq: other objects would sit among httpq's, under
-- its names and privileges. Neither kind of install goes over an httpq install;
-- `httpq install` upgrades one.
DO $$
DECLARE
    schema       oid := (SELECT oid FROM pg_namespace WHERE nspname = 'httpq');
    schema_owner name := (SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE oid = schema);
    extension    boolean := EXISTS (SELECT FROM pg_extension WHERE extname = 'httpq');
    found        text;
    others       bigint;
BEGIN
    IF schema IS NULL THEN
        CREATE SCHEMA httpq;
        RETURN;
    END IF;
    -- From the catalogs: to_regclass and friends need USAGE on the schema, which may be another role's.
    IF EXISTS (SELECT FROM pg_proc WHERE pronamespace = schema AND proname = 'version' AND pronargs = 0)
       OR EXISTS (SELECT FROM pg_class WHERE relnamespace = schema AND relname = 'request') THEN
        RAISE EXCEPTION 'httpq is already installed in schema httpq: this script installs into a new or empty schema'
            USING ERRCODE = 'duplicate_schema',
                  HINT = 'Run `httpq install`, which upgrades it (or does nothing when it is current); see Upgrading in the README.';
    END IF;
    IF extension THEN
        RETURN;  -- inside CREATE EXTENSION
    END IF;
    IF schema_owner <> current_user THEN
        RAISE EXCEPTION 'schema httpq belongs to role %, but % is installing httpq: a plain install uses only a schema the installing role owns',
                        quote_ident(schema_owner), quote_ident(current_user)
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('Install as role %s, or have that role run ALTER SCHEMA httpq OWNER TO %s.',
                                quote_ident(schema_owner), quote_ident(current_user));
    END IF;
    SELECT pg_describe_object(classid, objid, objsubid), count(*) OVER () INTO found, others
    FROM pg_depend
    WHERE refclassid = 'pg_namespace'::regclass AND refobjid = schema
    ORDER BY 1
    LIMIT 1;
    IF found IS NOT NULL THEN
        found := found || CASE others WHEN 1 THEN '' WHEN 2 THEN ' and 1 other object'
                                      ELSE format(' and %s other objects', others - 1) END;
        RAISE EXCEPTION 'schema httpq already holds %, which httpq did not create: a plain install uses only an empty schema',
                        found
            USING ERRCODE = 'duplicate_schema',
                  HINT = 'Rename that schema (ALTER SCHEMA httpq RENAME TO ...) or drop it, then install again.';
    END IF;
END;
$$;

COMMENT ON SCHEMA httpq IS 'httpq: a transactional outbox for HTTP. Use the functions and views; tables are not a public interface.';

-- A request as an application describes it: what httpq.enqueue_many takes. Build one
-- with httpq.new_request(...) or httpq.new_request_bytes(...), which fill in defaults.
CREATE TYPE httpq.new_request AS (
    url             text,
    method          text,
    headers         jsonb,
    body            bytea,
    channel         text,
    ordering_key    text,
    run_at          timestamptz,
    max_attempts    integer,
    deadline        timestamptz,
    idempotency_key text,
    dedupe_key      text,
    priority        integer,
    timeout_ms      integer,
    notify          boolean   -- announce the request on channel httpq_finished when it finishes (0.2.0, so last)
);

-- What httpq.claim hands a worker: everything needed to send one attempt, and no more.
-- This type is the contract between the SQL and the worker.
CREATE TYPE httpq.claimed AS (
    id         bigint,
    attempt    integer,
    channel    text,
    method     text,
    url        text,
    headers    jsonb,     -- the final set to send, Content-Type and Idempotency-Key included
    body       bytea,
    timeout_ms integer,
    allowed_networks cidr[],  -- the channel's: where the worker may connect beyond public addresses
    signing_keys     text[],  -- the channel's: secrets that sign the attempt (Standard Webhooks), in order
    secrets          jsonb,   -- the sealed secrets the headers, signing_keys and aws_credentials name: {"name": {"key_id", "sealed"}}
    aws_sigv4        text,    -- the channel's: the CURLOPT_AWS_SIGV4 provider string, or NULL
    aws_credentials  text     -- the channel's: the secret that holds the AWS credentials, or NULL
);

-- A request as it finished, delivered or dead: what a channel's on_finish hook is called
-- with (httpq.set_channel), in the transaction that records it. attempts counts the
-- attempts made, status/headers/body are the last response (NULL without one), error the
-- last attempt's failure and reason why it died.
CREATE TYPE httpq.finished AS (
    id              bigint,
    channel         text,
    state           text,         -- delivered or dead
    attempts        integer,
    status          integer,
    headers         jsonb,
    body            bytea,
    error           text,
    reason          text,
    method          text,
    url             text,
    ordering_key    text,
    dedupe_key      text,
    idempotency_key text,
    created_at      timestamptz,
    finished_at     timestamptz
);

-- How a request leaves the live queue: the input of httpq._finish.
CREATE TYPE httpq._ending AS (
    id       bigint,
    state    text,        -- delivered, dead or canceled
    reason   text,        -- why it ended, in words (null when delivered)
    status   integer,     -- the last response, when there was one
    headers  jsonb,
    body     bytea,
    error    text,
    attempt  jsonb        -- the last attempt's log entry, appended to the request's log
);

-- The current time for every queue decision: now(), unless the test-only setting
-- httpq.now names another instant in a superuser's session. Any role can set a custom
-- setting, and the API functions run as their owner, so a role allowed only to claim must
-- not be able to move the queue's clock (and expire everyone's leases).
-- Whether the session's own role (not the function owner a SECURITY DEFINER call runs as)
-- is a superuser.
CREATE FUNCTION httpq._session_is_superuser() RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = session_user), false)
$$;
COMMENT ON FUNCTION httpq._session_is_superuser() IS 'Whether the session user is a superuser.';

CREATE FUNCTION httpq._now() RETURNS timestamptz
LANGUAGE sql STABLE
-- No SET clause, and every name qualified: the planner then inlines the body into each
-- statement that calls it, instead of planning it anew on every call (a SQL function that
-- pins search_path is never inlined). Nor a subquery, which also keeps it from inlining:
-- the superuser check is a function, called only when the setting is given.
AS $$
    SELECT coalesce(
        CASE WHEN coalesce(pg_catalog.current_setting('httpq.now', true), '') OPERATOR(pg_catalog.<>) ''
                  AND httpq._session_is_superuser()
             THEN pg_catalog.current_setting('httpq.now')::pg_catalog.timestamptz END,
        pg_catalog.now())
$$;
COMMENT ON FUNCTION httpq._now() IS 'Transaction time, or the test-only setting httpq.now when set.';

-- The installed version. A plain install has no pg_extension row to say it, and `httpq
-- install` reads this to pick the upgrade scripts for it; each upgrade script replaces it.
-- A function rather than a row: it is catalog, not data, so it travels with the schema in
-- a dump, the upgrade check compares it like any other function, and it reads the same for
-- both kinds of install. 0.1.0 has none. Equals default_version in httpq.control.
CREATE FUNCTION httpq.version() RETURNS text
LANGUAGE sql IMMUTABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT '0.2.0'
$$;
COMMENT ON FUNCTION httpq.version() IS 'The installed version of httpq.';
