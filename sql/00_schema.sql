-- 00_schema.sql: the httpq schema, the composite types shared with callers, and the
-- one source of time.
--
-- The same file opens both install paths: CREATE EXTENSION, which creates the schema
-- named in httpq.control before running this script, and a plain `psql -f` on managed
-- Postgres, where this block creates it. (CREATE SCHEMA IF NOT EXISTS would fail under
-- CREATE EXTENSION: the schema exists but is not a member of the extension.)

DO $$
BEGIN
    IF to_regnamespace('httpq') IS NULL THEN
        CREATE SCHEMA httpq;
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
    timeout_ms      integer
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
    allowed_networks cidr[]   -- the channel's: where the worker may connect beyond public addresses
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
