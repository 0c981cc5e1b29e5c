-- httpq 0.1.0 as released (commit 6296fbc), kept byte for byte so that 0.1.0 can be
-- installed and upgraded from. Do not edit.
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
    timeout_ms integer
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
CREATE FUNCTION httpq._now() RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(
        CASE WHEN current_setting('httpq.now', true) <> ''
                  AND (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = session_user)
             THEN current_setting('httpq.now')::timestamptz END,
        now())
$$;
COMMENT ON FUNCTION httpq._now() IS 'Transaction time, or the test-only setting httpq.now when set.';
-- 10_channel.sql: channels, their settings and the bookkeeping that fairness and limits need.
--
-- Owns httpq.channel. A channel is a destination or a tenant: requests name one, and it is
-- created with default settings on first use. Invariants: every request's channel has a
-- row here; settings are always set (defaults below), limits are NULL when absent.

CREATE TABLE httpq.channel (
    name             text PRIMARY KEY,
    max_concurrency  integer,                      -- running requests at once, all workers together
    rate_per_second  numeric,                      -- claims per second, all workers together
    max_attempts     integer NOT NULL DEFAULT 20,
    backoff_base     interval NOT NULL DEFAULT '2 seconds',
    backoff_max      interval NOT NULL DEFAULT '2 hours',
    timeout_ms       integer NOT NULL DEFAULT 30000,
    ordering_on_dead text NOT NULL DEFAULT 'continue',
    retention        interval NOT NULL DEFAULT '7 days',
    paused           boolean NOT NULL DEFAULT false,
    -- Bookkeeping, written by claim while it holds the row lock.
    served_at        timestamptz NOT NULL DEFAULT '-infinity',  -- round-robin: least recently served first
    tokens           numeric NOT NULL DEFAULT 0,                -- token bucket for rate_per_second
    tokens_at        timestamptz,                               -- NULL: the bucket starts full
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT name_is_valid CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._:@/-]*$' AND length(name) <= 200),
    CONSTRAINT max_concurrency_positive CHECK (max_concurrency > 0),
    CONSTRAINT rate_per_second_positive CHECK (rate_per_second > 0),
    CONSTRAINT max_attempts_in_range CHECK (max_attempts BETWEEN 1 AND 1000),
    CONSTRAINT backoff_base_positive CHECK (backoff_base > '0'),
    CONSTRAINT backoff_max_not_below_base CHECK (backoff_max >= backoff_base),
    CONSTRAINT timeout_ms_in_range CHECK (timeout_ms BETWEEN 1 AND 3600000),
    CONSTRAINT ordering_on_dead_known CHECK (ordering_on_dead IN ('continue', 'hold')),
    CONSTRAINT retention_not_negative CHECK (retention >= '0')
);
-- Claim rewrites served_at and tokens on every claim: leave room for HOT updates.
ALTER TABLE httpq.channel SET (fillfactor = 50);

-- Raises a clear error for a channel name that cannot be one.
CREATE FUNCTION httpq._check_channel(channel text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF channel IS NULL THEN
        RAISE EXCEPTION 'channel must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF channel !~ '^[A-Za-z0-9][A-Za-z0-9._:@/-]*$' OR length(channel) > 200 THEN
        RAISE EXCEPTION 'channel % is not a valid channel name', quote_literal(channel)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use 1 to 200 characters: letters, digits and . _ : @ / -, starting with a letter or digit.';
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._check_channel(text) IS 'Raises invalid_parameter_value for a malformed channel name.';

-- Creates the channels that do not exist yet, with default settings.
CREATE FUNCTION httpq._ensure_channels(names text[]) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    -- The NOT EXISTS probe first: the common case (the channel exists) then writes nothing.
    INSERT INTO httpq.channel (name)
    SELECT DISTINCT n FROM unnest(names) AS n
    WHERE NOT EXISTS (SELECT 1 FROM httpq.channel c WHERE c.name = n)
    ON CONFLICT (name) DO NOTHING
$$;
COMMENT ON FUNCTION httpq._ensure_channels(text[]) IS 'Creates missing channels with default settings.';

-- Sets a channel's defaults and limits; NULL leaves a setting as it is.
CREATE FUNCTION httpq.set_channel(
    channel          text,
    max_concurrency  integer DEFAULT NULL,
    rate_per_second  numeric DEFAULT NULL,
    max_attempts     integer DEFAULT NULL,
    backoff_base     interval DEFAULT NULL,
    backoff_max      interval DEFAULT NULL,
    timeout_ms       integer DEFAULT NULL,
    ordering_on_dead text DEFAULT NULL,
    retention        interval DEFAULT NULL
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM httpq._check_channel(set_channel.channel);
    IF max_concurrency <= 0 THEN
        RAISE EXCEPTION 'max_concurrency must be positive, got %', max_concurrency
            USING ERRCODE = 'invalid_parameter_value', HINT = 'To lift the limit: SELECT httpq.unset_channel(''' || channel || ''', ''{max_concurrency}'').';
    END IF;
    IF rate_per_second <= 0 THEN
        RAISE EXCEPTION 'rate_per_second must be positive, got %', rate_per_second
            USING ERRCODE = 'invalid_parameter_value', HINT = 'To lift the limit: SELECT httpq.unset_channel(''' || channel || ''', ''{rate_per_second}'').';
    END IF;
    IF NOT max_attempts BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'max_attempts must be between 1 and 1000, got %', max_attempts USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF backoff_base <= '0' THEN
        RAISE EXCEPTION 'backoff_base must be positive, got %', backoff_base USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT timeout_ms BETWEEN 1 AND 3600000 THEN
        RAISE EXCEPTION 'timeout_ms must be between 1 and 3600000 (one hour), got %', timeout_ms USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF ordering_on_dead NOT IN ('continue', 'hold') THEN
        RAISE EXCEPTION 'ordering_on_dead must be ''continue'' or ''hold'', got %', quote_literal(ordering_on_dead)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF retention < '0' THEN
        RAISE EXCEPTION 'retention must not be negative, got %', retention USING ERRCODE = 'invalid_parameter_value';
    END IF;

    PERFORM httpq._ensure_channels(ARRAY[set_channel.channel]);
    UPDATE httpq.channel c SET
        max_concurrency  = coalesce(set_channel.max_concurrency, c.max_concurrency),
        rate_per_second  = coalesce(set_channel.rate_per_second, c.rate_per_second),
        max_attempts     = coalesce(set_channel.max_attempts, c.max_attempts),
        backoff_base     = coalesce(set_channel.backoff_base, c.backoff_base),
        backoff_max      = coalesce(set_channel.backoff_max, c.backoff_max),
        timeout_ms       = coalesce(set_channel.timeout_ms, c.timeout_ms),
        ordering_on_dead = coalesce(set_channel.ordering_on_dead, c.ordering_on_dead),
        retention        = coalesce(set_channel.retention, c.retention)
    WHERE c.name = set_channel.channel;
EXCEPTION WHEN check_violation THEN
    -- Only backoff_max below backoff_base gets here: each value alone was checked above.
    RAISE EXCEPTION 'backoff_max must not be below backoff_base for channel %', quote_literal(channel)
        USING ERRCODE = 'invalid_parameter_value';
END;
$$;
COMMENT ON FUNCTION httpq.set_channel(text, integer, numeric, integer, interval, interval, integer, text, interval)
    IS 'Sets a channel''s defaults and limits, creating the channel if needed; NULL leaves a setting as it is.';

-- Puts named settings of a channel back to their defaults (limits back to none).
CREATE FUNCTION httpq.unset_channel(channel text, settings text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    known constant text[] := ARRAY['max_concurrency', 'rate_per_second', 'max_attempts', 'backoff_base',
                                   'backoff_max', 'timeout_ms', 'ordering_on_dead', 'retention'];
    unknown text;
    setting text;
BEGIN
    PERFORM httpq._check_channel(unset_channel.channel);
    SELECT s INTO unknown FROM unnest(settings) AS s WHERE s IS NULL OR s <> ALL (known) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unknown channel setting %', coalesce(quote_literal(unknown), 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Channel settings are: ' || array_to_string(known, ', ') || '.';
    END IF;
    PERFORM httpq._ensure_channels(ARRAY[unset_channel.channel]);
    FOREACH setting IN ARRAY settings LOOP
        -- setting is one of the known column names, checked above.
        EXECUTE format('UPDATE httpq.channel SET %I = DEFAULT WHERE name = $1', setting) USING unset_channel.channel;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION httpq.unset_channel(text, text[])
    IS 'Puts the named settings of a channel back to their defaults; limits go back to none.';

-- Stops claims from a channel; its requests wait. Creates the channel if needed.
CREATE FUNCTION httpq.pause(channel text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM httpq._check_channel(pause.channel);
    PERFORM httpq._ensure_channels(ARRAY[pause.channel]);
    UPDATE httpq.channel c SET paused = true WHERE c.name = pause.channel;
END;
$$;
COMMENT ON FUNCTION httpq.pause(text) IS 'Stops claims from a channel until httpq.resume; requests keep waiting.';

-- Lets claims take from a paused channel again, and wakes the workers.
CREATE FUNCTION httpq.resume(channel text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM httpq._check_channel(resume.channel);
    PERFORM httpq._ensure_channels(ARRAY[resume.channel]);
    UPDATE httpq.channel c SET paused = false WHERE c.name = resume.channel;
    PERFORM pg_notify('httpq', '');
END;
$$;
COMMENT ON FUNCTION httpq.resume(text) IS 'Lets workers claim from a paused channel again.';
-- 20_request.sql: the live queue, the history of finished requests, and held ordering keys.
--
-- httpq.request holds only unfinished requests (waiting, blocked, running), so it stays
-- small and hot whatever the history. A request leaves it for httpq.history when it is
-- delivered, dead or canceled (httpq._finish does that, and only it).
--
-- Internal states: 'waiting' (claimable once run_at has come), 'running' (claimed, leased
-- to a worker until lease_until), 'blocked' (behind an earlier unfinished request with the
-- same ordering_key in its channel; the views show it as waiting). Ordering is settled at
-- enqueue and when a request finishes: per (channel, ordering_key) at most one request is
-- waiting or running, the head; the rest are blocked and promoted one by one, by id.

CREATE TABLE httpq.request (
    id              bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    channel         text NOT NULL,                -- has a row in httpq.channel (enqueue creates it)
    state           text NOT NULL,
    priority        integer NOT NULL DEFAULT 0,
    run_at          timestamptz NOT NULL,
    attempt         integer NOT NULL DEFAULT 0,   -- attempts made so far; the current one while running
    attempt_floor   integer NOT NULL DEFAULT 0,   -- attempts made before the last httpq.retry
    lease_until     timestamptz,
    worker          text,
    method          text NOT NULL,
    url             text NOT NULL,
    headers         jsonb NOT NULL,
    body            bytea,
    ordering_key    text,
    dedupe_key      text,
    idempotency_key text NOT NULL,
    max_attempts    integer,                      -- NULL: the channel's
    timeout_ms      integer,                      -- NULL: the channel's
    deadline        timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_status     integer,
    last_error      text,
    log             jsonb NOT NULL DEFAULT '[]',  -- one entry per finished attempt
    CONSTRAINT state_is_live CHECK (state IN ('waiting', 'blocked', 'running')),
    CONSTRAINT running_iff_leased CHECK ((state = 'running') = (lease_until IS NOT NULL AND worker IS NOT NULL)),
    CONSTRAINT attempt_not_below_floor CHECK (attempt >= attempt_floor AND attempt_floor >= 0),
    CONSTRAINT blocked_has_ordering_key CHECK (state <> 'blocked' OR ordering_key IS NOT NULL)
);
-- A queue table churns: every request is inserted, updated at claim and deleted at
-- report. Free space in each page keeps those updates on the page, and autovacuum runs
-- on a small fraction of dead rows instead of the default 20 %.
ALTER TABLE httpq.request SET (
    fillfactor = 80,
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0.01,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_cost_delay = 0
);

-- Only the claimable are indexed, in the order a channel drains them: a claim reads its
-- batch from here, so its cost follows the batch, not the backlog.
CREATE INDEX request_claimable_idx ON httpq.request (channel, priority, run_at, id) WHERE state = 'waiting';
-- Waiting requests by due time, per channel: which channels have work due now (claim),
-- whatever is in backoff, and the next scheduled run_at (httpq.next_run_at).
CREATE INDEX request_due_idx ON httpq.request (channel, run_at) WHERE state = 'waiting';
-- Running requests by lease expiry: the lease sweep at claim, and per-channel concurrency.
CREATE INDEX request_lease_idx ON httpq.request (lease_until) WHERE state = 'running';
-- The requests blocked behind their key's head, oldest first: the next to promote.
CREATE INDEX request_blocked_idx ON httpq.request (channel, ordering_key, id) WHERE state = 'blocked';
-- Dedupe: one unfinished request per (channel, dedupe_key).
CREATE UNIQUE INDEX request_dedupe_key ON httpq.request (channel, dedupe_key) WHERE dedupe_key IS NOT NULL;
-- At most one head (waiting or running) per ordering key. The key's advisory lock keeps
-- this at enqueue under READ COMMITTED; a REPEATABLE READ snapshot taken before a
-- concurrent enqueue committed cannot see that head, and this index stops it.
CREATE UNIQUE INDEX request_key_head ON httpq.request (channel, ordering_key)
    WHERE ordering_key IS NOT NULL AND state IN ('waiting', 'running');

-- Finished requests: delivered, dead or canceled, with the last response, kept for the
-- channel's retention period (httpq.purge).
CREATE TABLE httpq.history (
    id               bigint PRIMARY KEY,
    channel          text NOT NULL,
    state            text NOT NULL,
    reason           text,
    priority         integer NOT NULL,
    run_at           timestamptz NOT NULL,
    attempt          integer NOT NULL,
    attempt_floor    integer NOT NULL,
    method           text NOT NULL,
    url              text NOT NULL,
    headers          jsonb NOT NULL,
    body             bytea,
    ordering_key     text,
    dedupe_key       text,
    idempotency_key  text NOT NULL,
    max_attempts     integer,
    timeout_ms       integer,
    deadline         timestamptz,
    created_at       timestamptz NOT NULL,
    finished_at      timestamptz NOT NULL,
    last_status      integer,
    last_error       text,
    log              jsonb NOT NULL,
    response_headers jsonb,
    response_body    bytea,
    CONSTRAINT state_is_finished CHECK (state IN ('delivered', 'dead', 'canceled'))
);
ALTER TABLE httpq.history SET (autovacuum_vacuum_insert_scale_factor = 0.05);
-- Per-channel views (httpq.stats, dead lists, replay) and retention by age (httpq.purge
-- reads it per channel and state). One index: every report inserts into this table.
CREATE INDEX history_channel_idx ON httpq.history (channel, state, finished_at);

-- Ordering keys held by a dead head, in channels whose ordering_on_dead is 'hold': no
-- request of the key runs until that request is retried or canceled.
CREATE TABLE httpq.held_key (
    channel      text NOT NULL,
    ordering_key text NOT NULL,
    request_id   bigint NOT NULL UNIQUE,
    PRIMARY KEY (channel, ordering_key)
);

-- Ordering keys whose next request could not be promoted when their head finished,
-- because an application transaction enqueueing to the key held its lock; the next claim
-- promotes them (httpq._promote_deferred).
CREATE TABLE httpq.deferred_key (
    channel      text NOT NULL,
    ordering_key text NOT NULL,
    PRIMARY KEY (channel, ordering_key)
);

-- User data: kept by pg_dump when httpq is an extension (plain installs dump it anyway).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'httpq') THEN
        PERFORM pg_catalog.pg_extension_config_dump('httpq.channel', '');
        PERFORM pg_catalog.pg_extension_config_dump('httpq.request', '');
        PERFORM pg_catalog.pg_extension_config_dump('httpq.history', '');
        PERFORM pg_catalog.pg_extension_config_dump('httpq.held_key', '');
        PERFORM pg_catalog.pg_extension_config_dump('httpq.deferred_key', '');
        PERFORM pg_catalog.pg_extension_config_dump('httpq.request_id_seq', '');
    END IF;
END;
$$;
-- 25_ordering.sql: per-key order, settled at enqueue and when a request finishes.
--
-- Owns the rule "per (channel, ordering_key), at most one request is waiting or running
-- (the head), and the others are blocked behind it", and httpq.deferred_key. Claim never
-- looks at keys. Whoever adds a request to a key or promotes its next request holds the
-- key's transaction-level advisory lock, so two concurrent enqueues cannot both become
-- heads and an enqueue cannot slip in behind a leaving head unseen. A worker never waits
-- for that lock (an application may hold it for as long as its transaction lasts): when
-- the key is busy, its promotion is deferred to the next claim.

-- The advisory lock of an ordering key: httpq's lock space (the first int) and the key.
CREATE FUNCTION httpq._key_lock(channel text, ordering_key text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT hashtext(channel || E'\x1f' || ordering_key)
$$;
COMMENT ON FUNCTION httpq._key_lock(text, text) IS 'The advisory lock id of an ordering key (in lock space 1752461425).';

-- Takes the advisory locks of the given keys, waiting for them, in one global order (no
-- deadlock between two callers locking overlapping sets).
CREATE FUNCTION httpq._lock_keys(channels text[], keys text[]) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT count(pg_advisory_xact_lock(1752461425, k.lock_id))
    FROM (
        SELECT DISTINCT httpq._key_lock(c, k) AS lock_id
        FROM unnest(channels, keys) AS u(c, k)
        WHERE k IS NOT NULL
        ORDER BY 1
    ) AS k
$$;
COMMENT ON FUNCTION httpq._lock_keys(text[], text[]) IS 'Takes the transaction-level advisory locks of ordering keys, in a fixed order.';

-- Takes the locks of the keys an enqueue adds to. Under READ COMMITTED the enqueue's next
-- statement then sees every head committed before the lock was granted. An older snapshot
-- (REPEATABLE READ, SERIALIZABLE) may still see a head that has finished since: locking the
-- heads it sees turns that into a serialization failure (40001) for the application to
-- retry, instead of a request blocked forever behind a head that is gone.
CREATE FUNCTION httpq._lock_keys_to_enqueue(channels text[], keys text[]) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM httpq._lock_keys(channels, keys);
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        -- The row lock is only a probe: its subtransaction is rolled back, so no report or
        -- claim of the head waits for this application's transaction.
        BEGIN
            PERFORM FROM httpq.request h
            JOIN (SELECT DISTINCT c, k FROM unnest(channels, keys) AS u(c, k) WHERE k IS NOT NULL) AS u
              ON h.channel = u.c AND h.ordering_key = u.k
            WHERE h.state IN ('waiting', 'running')
            FOR KEY SHARE OF h;
            RAISE EXCEPTION USING ERRCODE = 'HQ001';
        EXCEPTION WHEN SQLSTATE 'HQ001' THEN
            NULL;
        END;
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._lock_keys_to_enqueue(text[], text[])
    IS 'Takes the locks of keys an enqueue adds to; a stale snapshot that sees a finished head gets a serialization failure.';

-- Makes the oldest blocked request of each given key its head, where the key has no head
-- and is not held. The caller holds the keys' locks. Returns how many were promoted.
CREATE FUNCTION httpq._promote(channels text[], keys text[]) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    promoted integer;
BEGIN
    UPDATE httpq.request r SET state = 'waiting'
    FROM (SELECT DISTINCT c, k FROM unnest(channels, keys) AS u(c, k) WHERE k IS NOT NULL) AS u
    -- One probe of request_blocked_idx per key: the first blocked request at or after the
    -- key in the index's order, which is the key's oldest when it has one. (With equality
    -- on channel and key, ORDER BY id is satisfied by the primary key too, and the planner
    -- may walk it past every other key's requests.)
    CROSS JOIN LATERAL (
        SELECT b.id, b.channel, b.ordering_key FROM httpq.request b
        WHERE b.state = 'blocked' AND (b.channel, b.ordering_key) >= (u.c, u.k)
        ORDER BY b.channel, b.ordering_key, b.id
        LIMIT 1
    ) AS next
    WHERE r.id = next.id AND next.channel = u.c AND next.ordering_key = u.k
      AND NOT EXISTS (SELECT 1 FROM httpq.request h
                      WHERE h.channel = u.c AND h.ordering_key = u.k AND h.state IN ('waiting', 'running'))
      AND NOT EXISTS (SELECT 1 FROM httpq.held_key hk WHERE hk.channel = u.c AND hk.ordering_key = u.k);
    GET DIAGNOSTICS promoted = ROW_COUNT;
    IF promoted > 0 THEN
        PERFORM pg_notify('httpq', '');
    END IF;
    RETURN promoted;
END;
$$;
COMMENT ON FUNCTION httpq._promote(text[], text[]) IS 'Promotes the oldest blocked request of each headless, unheld ordering key.';

-- Promotes the next request of each given key whose lock is free now; a key whose lock is
-- taken (an application transaction enqueueing to it is still open) is deferred to the
-- next claim, so a worker's report never waits for an application.
CREATE FUNCTION httpq._promote_or_defer(channels text[], keys text[]) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    key record;
    free_channels text[] := '{}';
    free_keys text[] := '{}';
BEGIN
    FOR key IN
        SELECT DISTINCT c, k FROM unnest(channels, keys) AS u(c, k) WHERE k IS NOT NULL
    LOOP
        IF pg_try_advisory_xact_lock(1752461425, httpq._key_lock(key.c, key.k)) THEN
            free_channels := free_channels || key.c;
            free_keys := free_keys || key.k;
        ELSE
            INSERT INTO httpq.deferred_key (channel, ordering_key) VALUES (key.c, key.k) ON CONFLICT DO NOTHING;
        END IF;
    END LOOP;
    PERFORM httpq._promote(free_channels, free_keys);
END;
$$;
COMMENT ON FUNCTION httpq._promote_or_defer(text[], text[])
    IS 'Promotes the next request of keys whose lock is free; defers the others to the next claim.';

-- Promotes the keys deferred earlier whose lock is free now (called by claim).
CREATE FUNCTION httpq._promote_deferred() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    key httpq.deferred_key;
BEGIN
    FOR key IN SELECT * FROM httpq.deferred_key FOR UPDATE SKIP LOCKED LOOP
        IF pg_try_advisory_xact_lock(1752461425, httpq._key_lock(key.channel, key.ordering_key)) THEN
            PERFORM httpq._promote(ARRAY[key.channel], ARRAY[key.ordering_key]);
            DELETE FROM httpq.deferred_key d WHERE d.channel = key.channel AND d.ordering_key = key.ordering_key;
        END IF;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION httpq._promote_deferred() IS 'Promotes the deferred ordering keys whose lock is free now.';
-- 30_validate.sql: what makes a request acceptable, as pure functions.
--
-- Owns no table. httpq.enqueue_many checks every new request with httpq._problem, and
-- every distinct set of headers in the batch once with httpq._headers_problem (a batch
-- usually repeats one set), before it writes anything: a bad request is rejected whole,
-- with the field and the rule named, and nothing of its batch is enqueued.
--
-- These run once per enqueued row, so they are PL/pgSQL expressions without subqueries.
-- Measured here: a LANGUAGE sql body ran 4x slower (it cannot be inlined once it pins
-- search_path), and a bounded regex repeat such as {0,199} 20x slower than * plus length().

-- The value of a header, found by case-insensitive name (HTTP header names are). The name
-- is one of httpq's own constants, never user input: it becomes part of a jsonpath.
CREATE FUNCTION httpq._header(headers jsonb, name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF headers ? name THEN
        RETURN headers ->> name;
    END IF;
    -- Cheap test before the jsonpath search: most requests do not carry the header at all.
    IF strpos(lower(headers::text), '"' || lower(name) || '"') = 0 THEN
        RETURN NULL;
    END IF;
    RETURN jsonb_path_query_first(headers, format('$.keyvalue() ? (@.key like_regex "^%s$" flag "i").value', name)::jsonpath)
        #>> '{}';
END;
$$;
COMMENT ON FUNCTION httpq._header(jsonb, text) IS 'A header''s value by case-insensitive name, or NULL.';

-- What is wrong with a set of request headers, as {sqlstate, message}, or NULL.
CREATE FUNCTION httpq._headers_problem(headers jsonb) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    token constant text := '^[!#$%&''*+.^_`|~0-9A-Za-z-]+$';   -- RFC 9110 field-name (also in the jsonpath below)
BEGIN
    IF headers IS NULL THEN
        RETURN ARRAY['22004', 'headers must not be NULL (use ''{}'' for none)'];
    ELSIF jsonb_typeof(headers) <> 'object' THEN
        RETURN ARRAY['22023', 'headers must be a JSON object of strings, got a JSON ' || jsonb_typeof(headers)];
    ELSIF headers = '{}' THEN
        RETURN NULL;
    END IF;
    -- One jsonpath pass finds whether any header is wrong; only then say which and how.
    IF jsonb_path_exists(headers, '$.keyvalue() ? (@.value.type() != "string"
                                   || !(@.key like_regex "^[!#$%&''*+.^_`|~0-9A-Za-z-]+$")
                                   || @.value like_regex "[\r\n]"
                                   || @.key like_regex "^(content-length|transfer-encoding|connection)$" flag "i")') THEN
        RETURN ARRAY['22023', 'headers: ' || (
            SELECT CASE WHEN jsonb_typeof(h.value) <> 'string' THEN format('%L is not a string (headers must be a JSON object of strings)', h.key)
                        WHEN h.key !~ token THEN format('%L is not a valid header name', h.key)
                        WHEN h.value #>> '{}' ~ '[\r\n]' THEN format('the value of %L must not contain a line break', h.key)
                        ELSE format('%L must not be set: the worker sets Content-Length, Transfer-Encoding and Connection', h.key) END
            FROM jsonb_each(headers) AS h
            WHERE jsonb_typeof(h.value) <> 'string' OR h.key !~ token OR h.value #>> '{}' ~ '[\r\n]'
               OR lower(h.key) IN ('content-length', 'transfer-encoding', 'connection')
            LIMIT 1)];
    END IF;
    -- Lower-casing the whole object merges names that differ only in case.
    IF jsonb_array_length(jsonb_path_query_array(headers, '$.keyvalue()'))
       <> jsonb_array_length(jsonb_path_query_array(lower(headers::text)::jsonb, '$.keyvalue()')) THEN
        RETURN ARRAY['22023', 'headers must not name the same header twice (names are case-insensitive)'];
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION httpq._headers_problem(jsonb) IS 'Why a set of request headers is not acceptable, as {sqlstate, message}; NULL when it is.';

-- What is wrong with a new request apart from its headers, as {sqlstate, message}, or NULL.
CREATE FUNCTION httpq._problem(r httpq.new_request) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN CASE
        WHEN r.url IS NULL THEN
            ARRAY['22004', 'url must not be NULL']
        WHEN length(r.url) > 8192 THEN
            ARRAY['22023', 'url must be at most 8192 characters, got ' || length(r.url)]
        WHEN r.url !~* '^https?://([^/?#@[:space:]]+@)?(\[[0-9a-f:.]+\]|[a-z0-9._~%!$&''()*+,;=-]+)(:[0-9]+)?([/?#][^[:space:][:cntrl:]]*)?$' THEN
            CASE WHEN r.url !~* '^https?://'
                 THEN ARRAY['22023', 'url must start with http:// or https://, got ' || quote_literal(left(r.url, 100))]
                 ELSE ARRAY['22023', 'url must be an absolute http(s) URL with a host and no spaces, got ' || quote_literal(left(r.url, 100))] END
        WHEN r.method IS NULL THEN
            ARRAY['22004', 'method must not be NULL']
        WHEN r.method NOT IN ('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS') THEN
            ARRAY['22023', 'method must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS (upper case), got ' || quote_literal(r.method)]
        WHEN r.method = 'HEAD' AND r.body IS NOT NULL THEN
            ARRAY['22023', 'body must be NULL for method HEAD']
        WHEN r.idempotency_key IS NOT NULL AND (r.idempotency_key !~ '^[\x21-\x7e]+$' OR length(r.idempotency_key) > 255) THEN
            ARRAY['22023', 'idempotency_key must be 1 to 255 visible ASCII characters']
        WHEN r.idempotency_key <> httpq._header(r.headers, 'Idempotency-Key') THEN
            ARRAY['22023', 'idempotency_key and the Idempotency-Key header disagree: give one of them']
        WHEN r.channel IS NULL THEN
            ARRAY['22004', 'channel must not be NULL']
        WHEN r.channel !~ '^[A-Za-z0-9][A-Za-z0-9._:@/-]*$' OR length(r.channel) > 200 THEN
            ARRAY['22023', 'channel ' || quote_literal(r.channel)
                || ' is not a valid channel name (1 to 200 of letters, digits and . _ : @ / -, starting with a letter or digit)']
        WHEN r.ordering_key = '' OR length(r.ordering_key) > 1000 THEN
            ARRAY['22023', 'ordering_key must be 1 to 1000 characters, or NULL']
        WHEN r.dedupe_key = '' OR length(r.dedupe_key) > 1000 THEN
            ARRAY['22023', 'dedupe_key must be 1 to 1000 characters, or NULL']
        WHEN r.run_at IS NULL THEN
            ARRAY['22004', 'run_at must not be NULL']
        WHEN r.max_attempts NOT BETWEEN 1 AND 1000 THEN
            ARRAY['22023', 'max_attempts must be between 1 and 1000, got ' || r.max_attempts]
        WHEN r.timeout_ms NOT BETWEEN 1 AND 3600000 THEN
            ARRAY['22023', 'timeout_ms must be between 1 and 3600000 (one hour), got ' || r.timeout_ms]
        WHEN r.deadline <= r.run_at THEN
            ARRAY['22023', 'deadline must be after run_at']
        WHEN r.priority IS NULL THEN
            ARRAY['22004', 'priority must not be NULL']
    END;
END;
$$;
COMMENT ON FUNCTION httpq._problem(httpq.new_request)
    IS 'Why a new request (headers aside: httpq._headers_problem) is not acceptable, as {sqlstate, message}; NULL when it is.';

-- Raises the first problem of a batch of new requests, naming its position in the batch
-- (and nothing for a batch of one); returns quietly when every request is acceptable.
CREATE FUNCTION httpq._check_requests(requests httpq.new_request[]) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n        integer := cardinality(requests);
    problem  text[];
    position bigint;
BEGIN
    -- The first bad request, by its own fields or, checked once per distinct set, its headers.
    SELECT s.problem, s.position INTO problem, position
    FROM (SELECT httpq._problem(x) AS problem, row_number() OVER () AS position FROM unnest(requests) AS x) AS s
    WHERE s.problem IS NOT NULL
    LIMIT 1;
    IF NOT FOUND THEN
        SELECT p.problem, (SELECT u.position FROM unnest(requests) WITH ORDINALITY AS u(url, method, headers, body, channel,
                               ordering_key, run_at, max_attempts, deadline, idempotency_key, dedupe_key, priority,
                               timeout_ms, position)
                           WHERE u.headers IS NOT DISTINCT FROM d.headers ORDER BY u.position LIMIT 1)
        INTO problem, position
        FROM (SELECT DISTINCT x.headers FROM unnest(requests) AS x) AS d,
             LATERAL httpq._headers_problem(d.headers) AS p(problem)
        WHERE p.problem IS NOT NULL
        LIMIT 1;
    END IF;
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION '%', CASE WHEN n = 1 THEN problem[2] ELSE format('request %s of %s: %s', position, n, problem[2]) END
            USING ERRCODE = problem[1];
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._check_requests(httpq.new_request[])
    IS 'Raises the first problem of a batch of new requests, with its position; nothing when all are acceptable.';
-- 35_enqueue.sql: putting requests on the queue, inside the caller's transaction.
--
-- Writes httpq.request (and httpq.channel, for channels seen the first time). Every
-- path ends in httpq.enqueue_many: one validation, one set-based INSERT, one NOTIFY per
-- transaction. Invariants kept here: a request is checked whole before anything is
-- written; its headers carry Content-Type (JSON bodies) and Idempotency-Key; a request with
-- an ordering_key is the key's head only when the key has no unfinished request and is
-- not held; a dedupe_key that matches an unfinished request enqueues nothing.

-- Builds a request with a JSON body (Content-Type: application/json unless a header says
-- otherwise), for httpq.enqueue_many. Nothing is checked or written here.
CREATE FUNCTION httpq.new_request(
    url             text,
    body            jsonb DEFAULT NULL,
    method          text DEFAULT 'POST',
    headers         jsonb DEFAULT '{}',
    channel         text DEFAULT 'default',
    ordering_key    text DEFAULT NULL,
    run_at          timestamptz DEFAULT now(),
    max_attempts    integer DEFAULT NULL,
    deadline        timestamptz DEFAULT NULL,
    idempotency_key text DEFAULT NULL,
    dedupe_key      text DEFAULT NULL,
    priority        integer DEFAULT 0,
    timeout_ms      integer DEFAULT NULL
) RETURNS httpq.new_request
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- PL/pgSQL, not LANGUAGE sql: called once per row of a batch, and a SQL body that
    -- cannot be inlined (it pins search_path) costs several times more per call.
    RETURN ROW(
        url,
        method,
        CASE WHEN body IS NOT NULL AND jsonb_typeof(headers) = 'object'
                  AND httpq._header(headers, 'Content-Type') IS NULL
             THEN headers || '{"Content-Type": "application/json"}'
             ELSE headers END,
        convert_to(body::text, 'UTF8'),
        channel, ordering_key, coalesce(run_at, httpq._now()), max_attempts, deadline,
        idempotency_key, dedupe_key, priority, timeout_ms
    )::httpq.new_request;
END;
$$;
COMMENT ON FUNCTION httpq.new_request(text, jsonb, text, jsonb, text, text, timestamptz, integer, timestamptz, text, text, integer, integer)
    IS 'Builds a request with a JSON body for httpq.enqueue_many; checks and writes nothing.';

-- Builds a request with a body of any type (text, form, binary) and its content type.
CREATE FUNCTION httpq.new_request_bytes(
    url             text,
    body            bytea,
    content_type    text DEFAULT NULL,
    method          text DEFAULT 'POST',
    headers         jsonb DEFAULT '{}',
    channel         text DEFAULT 'default',
    ordering_key    text DEFAULT NULL,
    run_at          timestamptz DEFAULT now(),
    max_attempts    integer DEFAULT NULL,
    deadline        timestamptz DEFAULT NULL,
    idempotency_key text DEFAULT NULL,
    dedupe_key      text DEFAULT NULL,
    priority        integer DEFAULT 0,
    timeout_ms      integer DEFAULT NULL
) RETURNS httpq.new_request
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    header_type text := CASE WHEN jsonb_typeof(headers) = 'object' THEN httpq._header(headers, 'Content-Type') END;
BEGIN
    -- No content_type: the Content-Type header's, else application/octet-stream.
    IF content_type ~ '[\r\n]' OR content_type = '' THEN
        RAISE EXCEPTION 'content_type must be a non-empty header value without line breaks'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF header_type IS NOT NULL AND content_type IS NOT NULL AND header_type <> content_type THEN
        RAISE EXCEPTION 'content_type % and the Content-Type header % disagree', quote_literal(content_type), quote_literal(header_type)
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Give the content type once.';
    END IF;
    RETURN ROW(
        url,
        method,
        CASE WHEN body IS NOT NULL AND header_type IS NULL AND jsonb_typeof(headers) = 'object'
             THEN headers || jsonb_build_object('Content-Type', coalesce(content_type, 'application/octet-stream'))
             ELSE headers END,
        body,
        channel, ordering_key, coalesce(run_at, httpq._now()), max_attempts, deadline,
        idempotency_key, dedupe_key, priority, timeout_ms
    )::httpq.new_request;
END;
$$;
COMMENT ON FUNCTION httpq.new_request_bytes(text, bytea, text, text, jsonb, text, text, timestamptz, integer, timestamptz, text, text, integer, integer)
    IS 'Builds a request with a body of any content type for httpq.enqueue_many; checks and writes nothing.';

-- Enqueues many requests in one statement; returns their ids in the order given. A
-- request whose dedupe_key matches an unfinished request returns that request's id.
CREATE FUNCTION httpq.enqueue_many(requests httpq.new_request[]) RETURNS SETOF bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n        integer := cardinality(requests);
    ids      bigint[];
    inserted integer;
    keyed    boolean;
    deduped  boolean;
BEGIN
    IF requests IS NULL THEN
        RAISE EXCEPTION 'requests must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF n = 0 THEN
        RETURN;
    END IF;

    PERFORM httpq._check_requests(requests);

    SELECT bool_or(x.ordering_key IS NOT NULL), bool_or(x.dedupe_key IS NOT NULL),
           array_agg(nextval('httpq.request_id_seq'))
    INTO keyed, deduped, ids
    FROM unnest(requests) AS x;

    PERFORM httpq._ensure_channels(ARRAY(SELECT DISTINCT x.channel FROM unnest(requests) AS x));
    IF keyed THEN
        PERFORM httpq._lock_keys_to_enqueue(ARRAY(SELECT x.channel FROM unnest(requests) AS x),
                                            ARRAY(SELECT x.ordering_key FROM unnest(requests) AS x));
    END IF;

    INSERT INTO httpq.request AS r (id, channel, state, priority, run_at, method, url, headers, body,
                                    ordering_key, dedupe_key, idempotency_key, max_attempts, timeout_ms, deadline)
    SELECT u.id, u.channel,
           CASE WHEN u.ordering_key IS NULL THEN 'waiting'
                WHEN u.key_rank = 1
                     -- No unfinished request of the key: no head (request_key_head), no
                     -- follower (request_blocked_idx).
                     AND NOT EXISTS (SELECT 1 FROM httpq.request h
                                     WHERE h.channel = u.channel AND h.ordering_key = u.ordering_key
                                       AND h.state IN ('waiting', 'running'))
                     AND NOT EXISTS (SELECT 1 FROM httpq.request h
                                     WHERE h.channel = u.channel AND h.ordering_key = u.ordering_key
                                       AND h.state = 'blocked')
                     AND NOT EXISTS (SELECT 1 FROM httpq.held_key hk
                                     WHERE hk.channel = u.channel AND hk.ordering_key = u.ordering_key)
                THEN 'waiting'
                ELSE 'blocked' END,
           u.priority, u.run_at, u.method, u.url,
           CASE WHEN h.value IS NULL THEN u.headers || jsonb_build_object('Idempotency-Key', k.value) ELSE u.headers END,
           u.body, u.ordering_key, u.dedupe_key, k.value, u.max_attempts, u.timeout_ms, u.deadline
    FROM (
        SELECT y.*,
               CASE WHEN y.ordering_key IS NOT NULL
                    THEN row_number() OVER (PARTITION BY y.channel, y.ordering_key ORDER BY y.ord) END AS key_rank
        FROM (
            SELECT x.*,
                   CASE WHEN x.dedupe_key IS NOT NULL
                        THEN row_number() OVER (PARTITION BY x.channel, x.dedupe_key ORDER BY x.ord) END AS dedupe_rank
            FROM unnest(requests, ids) WITH ORDINALITY
                 AS x(url, method, headers, body, channel, ordering_key, run_at, max_attempts, deadline,
                      idempotency_key, dedupe_key, priority, timeout_ms, id, ord)
        ) AS y
        -- A dedupe_key already unfinished, or earlier in this batch, enqueues nothing; it
        -- must not take a key's head place either, so it is dropped before ranking.
        WHERE y.dedupe_key IS NULL
           OR (y.dedupe_rank = 1
               AND NOT EXISTS (SELECT 1 FROM httpq.request d WHERE d.channel = y.channel AND d.dedupe_key = y.dedupe_key))
    ) AS u
    CROSS JOIN LATERAL (SELECT httpq._header(u.headers, 'Idempotency-Key')) AS h(value)
    CROSS JOIN LATERAL (SELECT coalesce(u.idempotency_key, h.value, gen_random_uuid()::text)) AS k(value)
    ON CONFLICT (channel, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING;
    GET DIAGNOSTICS inserted = ROW_COUNT;

    IF inserted > 0 THEN
        PERFORM pg_notify('httpq', '');   -- merged into one notification per transaction
    END IF;

    -- A key left without a head gets one: a row that would have been its head may have
    -- lost an ON CONFLICT race to a concurrent enqueue of the same dedupe_key. (Cheap: one
    -- index probe per key, under the locks held since above.)
    IF keyed THEN
        PERFORM httpq._promote(ARRAY(SELECT x.channel FROM unnest(requests) AS x),
                               ARRAY(SELECT x.ordering_key FROM unnest(requests) AS x));
    END IF;
    IF NOT deduped THEN
        RETURN QUERY SELECT unnest(ids);
        RETURN;
    END IF;
    RETURN QUERY
        SELECT coalesce(
                   (SELECT r.id FROM httpq.request r WHERE r.id = x.id),
                   (SELECT r.id FROM httpq.request r WHERE r.channel = x.channel AND r.dedupe_key = x.dedupe_key))
        FROM unnest(requests, ids) WITH ORDINALITY
             AS x(url, method, headers, body, channel, ordering_key, run_at, max_attempts, deadline,
                  idempotency_key, dedupe_key, priority, timeout_ms, id, ord)
        ORDER BY x.ord;
END;
$$;
COMMENT ON FUNCTION httpq.enqueue_many(httpq.new_request[])
    IS 'Enqueues many requests in one statement (build them with httpq.new_request); returns their ids in order.';

-- Enqueues one request with a JSON body; returns its id.
CREATE FUNCTION httpq.enqueue(
    url             text,
    body            jsonb DEFAULT NULL,
    method          text DEFAULT 'POST',
    headers         jsonb DEFAULT '{}',
    channel         text DEFAULT 'default',
    ordering_key    text DEFAULT NULL,
    run_at          timestamptz DEFAULT now(),
    max_attempts    integer DEFAULT NULL,
    deadline        timestamptz DEFAULT NULL,
    idempotency_key text DEFAULT NULL,
    dedupe_key      text DEFAULT NULL,
    priority        integer DEFAULT 0,
    timeout_ms      integer DEFAULT NULL
) RETURNS bigint
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT httpq.enqueue_many(ARRAY[httpq.new_request(url, body, method, headers, channel, ordering_key, run_at,
                                                     max_attempts, deadline, idempotency_key, dedupe_key,
                                                     priority, timeout_ms)])
$$;
COMMENT ON FUNCTION httpq.enqueue(text, jsonb, text, jsonb, text, text, timestamptz, integer, timestamptz, text, text, integer, integer)
    IS 'Enqueues one HTTP request with a JSON body inside the caller''s transaction; returns its id.';

-- Enqueues one request with a body of any type (text, form, binary); returns its id.
CREATE FUNCTION httpq.enqueue_bytes(
    url             text,
    body            bytea,
    content_type    text DEFAULT NULL,
    method          text DEFAULT 'POST',
    headers         jsonb DEFAULT '{}',
    channel         text DEFAULT 'default',
    ordering_key    text DEFAULT NULL,
    run_at          timestamptz DEFAULT now(),
    max_attempts    integer DEFAULT NULL,
    deadline        timestamptz DEFAULT NULL,
    idempotency_key text DEFAULT NULL,
    dedupe_key      text DEFAULT NULL,
    priority        integer DEFAULT 0,
    timeout_ms      integer DEFAULT NULL
) RETURNS bigint
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT httpq.enqueue_many(ARRAY[httpq.new_request_bytes(url, body, content_type, method, headers, channel,
                                                           ordering_key, run_at, max_attempts, deadline,
                                                           idempotency_key, dedupe_key, priority, timeout_ms)])
$$;
COMMENT ON FUNCTION httpq.enqueue_bytes(text, bytea, text, text, jsonb, text, text, timestamptz, integer, timestamptz, text, text, integer, integer)
    IS 'Enqueues one HTTP request with a body of any content type inside the caller''s transaction; returns its id.';
-- 40_backoff.sql: what an outcome means and when to try again, as pure functions.
--
-- Owns no table. httpq.report applies these; the README's retry schedule is printed by
-- httpq.retry_schedule, which calls the same httpq._backoff.

-- Whether an attempt that got this status (NULL: no response at all) may be tried again.
CREATE FUNCTION httpq._retryable(status integer) RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- No response (network error, timeout), request timeout, too early, too many requests,
    -- and server errors are worth another try; redirects and other client errors are not.
    SELECT status IS NULL OR status IN (408, 425, 429) OR status BETWEEN 500 AND 599
$$;
COMMENT ON FUNCTION httpq._retryable(integer) IS 'True for outcomes worth another attempt: no response, 408, 425, 429, 5xx.';

-- Capped exponential backoff with full jitter: a delay drawn uniformly (jitter in [0, 1])
-- from [0, min(cap, base * 2^(attempt - 1))].
CREATE FUNCTION httpq._backoff(attempt integer, base interval, cap interval, jitter float8) RETURNS interval
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    -- In seconds as float8, with the exponent bounded, so a large attempt cannot overflow.
    SELECT make_interval(secs => jitter * least(
        extract(epoch FROM cap)::float8,
        extract(epoch FROM base)::float8 * power(2::float8, least(greatest(attempt, 1) - 1, 60))))
$$;
COMMENT ON FUNCTION httpq._backoff(integer, interval, interval, float8)
    IS 'Capped exponential backoff with full jitter: jitter * min(cap, base * 2^(attempt-1)).';

-- The delay a Retry-After header asks for: delta-seconds or an HTTP date; NULL when absent
-- or unreadable (then the backoff applies).
CREATE FUNCTION httpq._retry_after(value text, now timestamptz) RETURNS interval
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF value ~ '^\s*[0-9]{1,9}\s*$' THEN
        RETURN make_interval(secs => trim(value)::float8);
    END IF;
    -- IMF-fixdate, the form RFC 9110 requires senders to use: Sun, 06 Nov 1994 08:49:37 GMT
    IF value ~ '^\s*[A-Za-z]{3}, [0-9]{2} [A-Za-z]{3} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT\s*$' THEN
        BEGIN
            RETURN greatest(trim(value)::timestamptz - now, interval '0');
        EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
            RETURN NULL;
        END;
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION httpq._retry_after(text, timestamptz) IS 'The delay a Retry-After header value asks for (seconds or HTTP date), or NULL.';

-- The decision for one finished attempt: the next state ('delivered', 'waiting' to try
-- again at run_at, or 'dead') and, for dead, why. attempts_used counts this attempt.
CREATE FUNCTION httpq._verdict(
    status        integer,
    retry_after   text,
    attempts_used integer,
    max_attempts  integer,
    deadline      timestamptz,
    base          interval,
    cap           interval,
    jitter        float8,
    now           timestamptz,
    OUT state     text,
    OUT run_at    timestamptz,
    OUT reason    text
)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF status BETWEEN 200 AND 299 THEN
        state := 'delivered';
        RETURN;
    END IF;
    state := 'dead';
    IF NOT httpq._retryable(status) THEN
        reason := CASE WHEN status BETWEEN 300 AND 399 THEN format('HTTP %s: redirects are not followed', status)
                       ELSE format('HTTP %s is not retried', status) END;
        RETURN;
    END IF;
    IF attempts_used >= max_attempts THEN
        reason := format('attempts exhausted (%s of %s)', attempts_used, max_attempts);
        RETURN;
    END IF;
    run_at := now + coalesce(CASE WHEN status IN (429, 503) THEN httpq._retry_after(retry_after, now) END,
                             httpq._backoff(attempts_used, base, cap, jitter));
    IF run_at >= deadline THEN
        reason := 'deadline passed: the next attempt would be after it';
        run_at := NULL;
        RETURN;
    END IF;
    state := 'waiting';
END;
$$;
COMMENT ON FUNCTION httpq._verdict(integer, text, integer, integer, timestamptz, interval, interval, float8, timestamptz)
    IS 'Decides a finished attempt: delivered, waiting (retry at run_at) or dead (with the reason).';

-- The retry schedule of a channel: for each attempt that fails, the range of the delay
-- before the next one, and the latest the next attempt can come. Like every function that
-- names a channel, it creates the channel (with the defaults) when it does not exist.
CREATE FUNCTION httpq.retry_schedule(channel text DEFAULT 'default')
RETURNS TABLE (attempt integer, delay_min interval, delay_max interval, total_max interval)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM httpq._check_channel(retry_schedule.channel);
    PERFORM httpq._ensure_channels(ARRAY[retry_schedule.channel]);
    RETURN QUERY
        SELECT a, httpq._backoff(a, c.backoff_base, c.backoff_max, 0), httpq._backoff(a, c.backoff_base, c.backoff_max, 1),
               sum(httpq._backoff(a, c.backoff_base, c.backoff_max, 1)) OVER (ORDER BY a)
        FROM httpq.channel AS c, generate_series(1, c.max_attempts - 1) AS a
        WHERE c.name = retry_schedule.channel
        ORDER BY a;
END;
$$;
COMMENT ON FUNCTION httpq.retry_schedule(text)
    IS 'The delay range after each failed attempt of a channel, and the latest cumulative time to the next attempt.';
-- 45_finish.sql: how a request leaves the live queue.
--
-- httpq._finish is the one way out of httpq.request: delivered, dead and canceled requests
-- move to httpq.history with their last response, a dead head holds its key where the
-- channel asks for that, and the next request of each key the finished ones headed is
-- promoted. report, claim (deadlines, expired leases) and cancel all end here.

CREATE FUNCTION httpq._finish(endings httpq._ending[]) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    now_at   constant timestamptz := httpq._now();   -- once: a function call per row costs
    moved    integer;
    channels text[];
    keys     text[];
BEGIN
    IF cardinality(endings) IS NULL OR cardinality(endings) = 0 THEN
        RETURN 0;
    END IF;

    WITH gone AS (
        DELETE FROM httpq.request r
        USING unnest(endings) AS e
        WHERE r.id = e.id
        RETURNING r.*, e.state AS final_state, e.reason, e.status AS response_status, e.headers AS response_headers,
                  e.body AS response_body, e.error, e.attempt AS entry
    ), kept AS (
        INSERT INTO httpq.history (id, channel, state, reason, priority, run_at, attempt, attempt_floor, method, url,
                                   headers, body, ordering_key, dedupe_key, idempotency_key, max_attempts, timeout_ms,
                                   deadline, created_at, finished_at, last_status, last_error, log,
                                   response_headers, response_body)
        SELECT g.id, g.channel, g.final_state, g.reason, g.priority, g.run_at, g.attempt, g.attempt_floor, g.method, g.url,
               g.headers, g.body, g.ordering_key, g.dedupe_key, g.idempotency_key, g.max_attempts, g.timeout_ms,
               g.deadline, g.created_at, now_at,
               -- An ending without an attempt (cancel) keeps the last attempt's outcome.
               CASE WHEN g.entry IS NULL THEN g.last_status ELSE g.response_status END,
               CASE WHEN g.entry IS NULL THEN g.last_error ELSE g.error END,
               CASE WHEN g.entry IS NULL THEN g.log ELSE g.log || jsonb_build_array(g.entry) END,
               g.response_headers, g.response_body
        FROM gone AS g
        RETURNING id, channel, ordering_key, state
    ), held AS (
        INSERT INTO httpq.held_key (channel, ordering_key, request_id)
        SELECT k.channel, k.ordering_key, k.id
        FROM kept AS k JOIN httpq.channel c ON c.name = k.channel
        WHERE k.state = 'dead' AND k.ordering_key IS NOT NULL AND c.ordering_on_dead = 'hold'
        ON CONFLICT DO NOTHING
    )
    SELECT count(*), array_agg(k.channel) FILTER (WHERE k.ordering_key IS NOT NULL),
           array_agg(k.ordering_key) FILTER (WHERE k.ordering_key IS NOT NULL)
    INTO moved, channels, keys
    FROM kept AS k;

    -- The heads are gone: promote the next of each key under its lock (a concurrent
    -- enqueue of the key has then either committed behind them or will see them gone), or,
    -- while an application holds the lock, at the next claim.
    IF keys IS NOT NULL THEN
        PERFORM httpq._promote_or_defer(channels, keys);
    END IF;
    RETURN moved;
END;
$$;
COMMENT ON FUNCTION httpq._finish(httpq._ending[])
    IS 'Moves finished requests to httpq.history, holds or promotes their ordering keys.';
-- 50_claim.sql: handing a worker its next batch, fairly and within every channel's limits.
--
-- Writes httpq.request (waiting -> running, with attempt, worker and lease) and the
-- channel bookkeeping (served_at, tokens). Invariants: a request is claimed by one worker
-- at a time (FOR UPDATE SKIP LOCKED); a channel's running requests never exceed its
-- max_concurrency and its claims never outrun its rate, across all workers, because claims
-- of a limited channel happen under its row lock; channels with ready work share each
-- claim; a request past its deadline is never sent.

-- Puts running requests whose lease has passed (their worker died) back to waiting; the
-- attempt they used counts. Out of attempts or past the deadline, they are dead.
CREATE FUNCTION httpq._expire_leases(now timestamptz) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    endings httpq._ending[];
    expired integer;
BEGIN
    WITH expired AS (
        SELECT r.id, r.attempt, r.worker,
               r.attempt - r.attempt_floor < coalesce(r.max_attempts, c.max_attempts)
                   AND (r.deadline IS NULL OR r.deadline > _expire_leases.now) AS again,
               CASE WHEN r.deadline <= _expire_leases.now THEN 'deadline passed'
                    ELSE format('attempts exhausted (%s of %s)', r.attempt - r.attempt_floor,
                                coalesce(r.max_attempts, c.max_attempts)) END AS reason
        FROM httpq.request r JOIN httpq.channel c ON c.name = r.channel
        WHERE r.state = 'running' AND r.lease_until < _expire_leases.now
        FOR UPDATE OF r SKIP LOCKED
    ), requeued AS (
        UPDATE httpq.request r
        SET state = 'waiting', worker = NULL, lease_until = NULL, run_at = _expire_leases.now,
            last_status = NULL, last_error = 'lease expired: the worker did not report',
            log = r.log || jsonb_build_array(jsonb_build_object(
                'attempt', e.attempt, 'at', _expire_leases.now, 'worker', e.worker, 'status', NULL,
                'error', 'lease expired: the worker did not report'))
        FROM expired AS e
        WHERE r.id = e.id AND e.again
    )
    SELECT count(*),
           array_agg(ROW(e.id, 'dead', 'lease expired and ' || e.reason, NULL, NULL, NULL,
                         'lease expired: the worker did not report',
                         jsonb_build_object('attempt', e.attempt, 'at', _expire_leases.now, 'worker', e.worker,
                                            'status', NULL, 'error', 'lease expired: the worker did not report')
                     )::httpq._ending) FILTER (WHERE NOT e.again)
    INTO expired, endings
    FROM expired AS e;
    IF endings IS NOT NULL THEN
        PERFORM httpq._finish(endings);
    END IF;
    RETURN expired;
END;
$$;
COMMENT ON FUNCTION httpq._expire_leases(timestamptz) IS 'Returns requests whose lease has passed to waiting (or dead when out of attempts).';

-- The channels that have waiting requests, by a skip scan of request_due_idx: one index
-- probe per such channel, so the cost follows the channels with work, not every channel
-- ever created.
CREATE FUNCTION httpq._waiting_channels() RETURNS SETOF text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
-- Index scans, not index-only scans, here and in _ready_channels: the front of the index is
-- the entries of requests claimed since the last vacuum. An index scan marks them dead as it
-- passes, so the next claim skips them; an index-only scan never does, and while enqueues
-- keep pages from being all-visible it fetches every one from the heap on every claim
-- (measured: 7.8 ms of a 9.5 ms claim with 12,000 enqueues a second arriving).
SET enable_indexonlyscan = off
AS $$
BEGIN
    -- PL/pgSQL here and in _ready_channels: they run on every claim, and a LANGUAGE sql
    -- body that pins search_path is planned anew on every call.
    RETURN QUERY WITH RECURSIVE w(channel) AS (
        (SELECT r.channel FROM httpq.request r WHERE r.state = 'waiting' ORDER BY r.channel LIMIT 1)
        UNION ALL
        SELECT (SELECT r.channel FROM httpq.request r
                WHERE r.state = 'waiting' AND r.channel > w.channel
                ORDER BY r.channel LIMIT 1)
        FROM w
        WHERE w.channel IS NOT NULL
    )
    SELECT w.channel FROM w WHERE w.channel IS NOT NULL;
END;
$$;
COMMENT ON FUNCTION httpq._waiting_channels() IS 'The channels that have waiting requests (a skip scan of request_due_idx).';

-- Up to max_count unpaused channels (of those named, or all) with a request due at now,
-- least recently served first.
CREATE FUNCTION httpq._ready_channels(channels text[], max_count integer, now timestamptz) RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET enable_indexonlyscan = off   -- see _waiting_channels
AS $$
BEGIN
    RETURN (SELECT array_agg(c.name ORDER BY c.served_at, c.name)
    FROM (
        SELECT c.name, c.served_at
        FROM httpq._waiting_channels() AS w(name)
        JOIN httpq.channel c ON c.name = w.name
        -- One probe of request_due_idx per channel: the earliest waiting request, due or
        -- not, so requests in backoff cost nothing. (As an EXISTS, the planner may hash
        -- every due request instead, a cost that grows with the backlog.)
        CROSS JOIN LATERAL (SELECT 1 FROM httpq.request r
                            WHERE r.channel = c.name AND r.state = 'waiting' AND r.run_at <= _ready_channels.now
                            ORDER BY r.run_at
                            LIMIT 1) AS due
        WHERE NOT c.paused
          AND (_ready_channels.channels IS NULL OR c.name = ANY (_ready_channels.channels))
        ORDER BY c.served_at, c.name
        LIMIT _ready_channels.max_count
    ) AS c);
END;
$$;
COMMENT ON FUNCTION httpq._ready_channels(text[], integer, timestamptz)
    IS 'Unpaused channels with a request due, least recently served first.';

-- How many requests a channel may start now, at most quota: its free concurrency and, for
-- a rate limit, the tokens in its bucket (returned, to be written back less what is taken).
CREATE FUNCTION httpq._allowance(ch httpq.channel, quota integer, now timestamptz,
                                 OUT allowed integer, OUT bucket numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    allowed := quota;
    IF ch.max_concurrency IS NOT NULL THEN
        allowed := least(allowed, ch.max_concurrency -
            (SELECT count(*) FROM httpq.request r WHERE r.channel = ch.name AND r.state = 'running'));
    END IF;
    IF ch.rate_per_second IS NOT NULL THEN
        -- Token bucket: refills at rate_per_second, holds at most a tenth of a second's worth
        -- (at least one), so bursts stay small. A new bucket starts full.
        bucket := least(greatest(ch.rate_per_second / 10, 1),
                        CASE WHEN ch.tokens_at IS NULL THEN greatest(ch.rate_per_second / 10, 1)
                             ELSE ch.tokens + ch.rate_per_second
                                  * greatest(extract(epoch FROM _allowance.now - ch.tokens_at), 0) END);
        allowed := least(allowed, floor(bucket));
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._allowance(httpq.channel, integer, timestamptz)
    IS 'How many requests a channel may start now, within quota, its concurrency and its rate tokens.';

-- Claims up to max_count requests for a worker, leased until now() + lease.
CREATE FUNCTION httpq.claim(
    worker    text,
    max_count integer DEFAULT 100,
    channels  text[] DEFAULT NULL,
    lease     interval DEFAULT '1 minute'
) RETURNS SETOF httpq.claimed
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    now_at   constant timestamptz := httpq._now();
    wanted   integer := max_count;
    ready    text[];
    hungry   text[];
    ch       httpq.channel;
    locked   boolean;
    quota    integer;
    allowed  integer;
    bucket   numeric;
    take_ids bigint[];
    late_ids bigint[];
    got      integer;
BEGIN
    IF worker IS NULL OR worker = '' THEN
        RAISE EXCEPTION 'worker must name the worker (for example host:pid)' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF max_count IS NULL OR max_count NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'max_count must be between 1 and 10000, got %', coalesce(max_count::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lease IS NULL OR lease <= '0' THEN
        RAISE EXCEPTION 'lease must be a positive interval, got %', coalesce(lease::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- A claim need not wait for its commit to reach disk: if a crash loses it, its requests
    -- are waiting again with the attempt not counted, the worker's report of them is
    -- ignored, and they are sent again, which at-least-once delivery allows (same
    -- Idempotency-Key). Applies to the rest of the calling transaction, the worker's own.
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM httpq._expire_leases(now_at);

    PERFORM httpq._promote_deferred();
    ready := httpq._ready_channels(claim.channels, max_count, now_at);

    -- Round-robin: each channel gets an equal share of what is still wanted; what a
    -- channel cannot use goes to those after it, and a second round to those that filled.
    WHILE wanted > 0 AND cardinality(ready) > 0 LOOP
        hungry := '{}';
        FOR i IN 1 .. cardinality(ready) LOOP
            EXIT WHEN wanted = 0;
            quota := ceil(wanted::numeric / (cardinality(ready) - i + 1));
            -- The row lock serializes claims of a limited channel across workers. An
            -- unlimited channel another claimer holds is still served: SKIP LOCKED on its
            -- requests keeps the two apart; only its bookkeeping waits for the next claim.
            SELECT * INTO ch FROM httpq.channel c WHERE c.name = ready[i] FOR NO KEY UPDATE SKIP LOCKED;
            locked := FOUND;
            IF NOT locked THEN
                SELECT * INTO ch FROM httpq.channel c WHERE c.name = ready[i];
                CONTINUE WHEN ch.max_concurrency IS NOT NULL OR ch.rate_per_second IS NOT NULL OR ch.paused;
            END IF;

            SELECT a.allowed, a.bucket INTO allowed, bucket FROM httpq._allowance(ch, quota, now_at) AS a;

            got := 0;
            IF allowed > 0 THEN
                SELECT array_agg(p.id) FILTER (WHERE NOT p.late), array_agg(p.id) FILTER (WHERE p.late)
                INTO take_ids, late_ids
                FROM (
                    SELECT r.id, coalesce(r.deadline <= now_at, false) AS late
                    FROM httpq.request r
                    WHERE r.channel = ch.name AND r.state = 'waiting' AND r.run_at <= now_at
                    ORDER BY r.priority, r.run_at, r.id
                    LIMIT allowed
                    FOR UPDATE SKIP LOCKED
                ) AS p;

                RETURN QUERY
                    UPDATE httpq.request r
                    SET state = 'running', attempt = r.attempt + 1, worker = claim.worker,
                        lease_until = now_at + claim.lease
                    WHERE r.id = ANY (take_ids)
                    RETURNING r.id, r.attempt, r.channel, r.method, r.url, r.headers, r.body,
                              coalesce(r.timeout_ms, ch.timeout_ms);
                GET DIAGNOSTICS got = ROW_COUNT;

                IF late_ids IS NOT NULL THEN
                    PERFORM httpq._finish(ARRAY(
                        SELECT ROW(id, 'dead', 'deadline passed before an attempt could start',
                                   NULL, NULL, NULL, NULL, NULL)::httpq._ending
                        FROM unnest(late_ids) AS id));
                END IF;
                wanted := wanted - got;
                IF got + cardinality(coalesce(late_ids, '{}')) = quota THEN
                    hungry := hungry || ch.name;
                END IF;
            END IF;

            -- A visited channel goes to the back of the line even when its limits gave it
            -- nothing: otherwise a channel at its limit, first in line, would take every
            -- small claim's place and starve the channels behind it.
            IF locked THEN
                UPDATE httpq.channel c
                SET served_at = clock_timestamp(),
                    tokens = CASE WHEN ch.rate_per_second IS NOT NULL THEN bucket - got ELSE c.tokens END,
                    tokens_at = CASE WHEN ch.rate_per_second IS NOT NULL THEN now_at ELSE c.tokens_at END
                WHERE c.name = ch.name;
            END IF;
        END LOOP;
        ready := hungry;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION httpq.claim(text, integer, text[], interval)
    IS 'Claims up to max_count ready requests for a worker: fair across channels, within their limits, leased.';

-- The earliest moment a claim may find new work that is not ready yet: the next
-- scheduled run_at, or when a rate-limited channel with ready work earns its next token.
CREATE FUNCTION httpq.next_run_at(channels text[] DEFAULT NULL) RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT least(
        (SELECT min(next.run_at)
         FROM httpq._waiting_channels() AS w(name)
         CROSS JOIN LATERAL (SELECT r.run_at FROM httpq.request r
                             WHERE r.channel = w.name AND r.state = 'waiting' AND r.run_at > httpq._now()
                             ORDER BY r.run_at
                             LIMIT 1) AS next
         WHERE next_run_at.channels IS NULL OR w.name = ANY (next_run_at.channels)),
        (SELECT min(c.tokens_at + make_interval(secs => ((1 - c.tokens) / c.rate_per_second)::float8))
         FROM httpq.channel c
         WHERE c.rate_per_second IS NOT NULL AND c.tokens < 1 AND NOT c.paused
           AND (next_run_at.channels IS NULL OR c.name = ANY (next_run_at.channels))
           AND EXISTS (SELECT 1 FROM httpq.request r
                       WHERE r.channel = c.name AND r.state = 'waiting' AND r.run_at <= httpq._now())))
$$;
COMMENT ON FUNCTION httpq.next_run_at(text[])
    IS 'When a worker should claim again at the latest: the next scheduled request or rate-limit token.';
-- 55_report.sql: recording what became of the attempts a worker made.
--
-- Writes httpq.request (retries go back to waiting with their next run_at) and, through
-- httpq._finish, httpq.history. Invariant: only the current claim can report. An outcome
-- is applied when (id, attempt, worker) is the request's running claim; anything else (a
-- worker whose lease expired and was taken over, a duplicate) is ignored, so a late worker
-- cannot overwrite the work of the one that took over.

-- Applies a batch of outcomes; returns how many were applied.
CREATE FUNCTION httpq.report(worker text, outcomes jsonb) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    now_at  constant timestamptz := httpq._now();
    retried integer;
    endings httpq._ending[];
BEGIN
    IF worker IS NULL OR worker = '' THEN
        RAISE EXCEPTION 'worker must name the worker that claimed the requests' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF jsonb_typeof(outcomes) IS DISTINCT FROM 'array'
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(outcomes) AS e WHERE jsonb_typeof(e) <> 'object') THEN
        RAISE EXCEPTION 'outcomes must be a JSON array of objects'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Each object: id, attempt, status, headers, body (base64), error, duration_ms.';
    END IF;

    WITH o AS (
        SELECT DISTINCT ON (o.id) o.*
        FROM jsonb_to_recordset(outcomes)
             AS o(id bigint, attempt integer, status integer, headers jsonb, body text, error text, duration_ms numeric)
        ORDER BY o.id
    ), decided AS (
        SELECT r.id, o.status, o.headers, o.body, v.state, v.run_at, v.reason,
               CASE WHEN o.status BETWEEN 200 AND 299 THEN NULL
                    ELSE coalesce(o.error, 'HTTP ' || o.status, 'no response') END AS error,
               jsonb_build_object('attempt', o.attempt, 'at', now_at, 'worker', report.worker,
                                  'status', o.status, 'error', o.error, 'duration_ms', o.duration_ms) AS entry
        FROM o
        -- LATERAL: one primary-key probe per outcome, whatever the planner guesses of the
        -- JSON's row count (a join was planned as a rescan of the outcomes per running row).
        CROSS JOIN LATERAL (
            SELECT r.* FROM httpq.request r
            WHERE r.id = o.id AND r.attempt = o.attempt AND r.worker = report.worker AND r.state = 'running'
            LIMIT 1   -- at most one row by id anyway; it also keeps the subquery from being flattened
            FOR UPDATE
        ) AS r
        JOIN httpq.channel c ON c.name = r.channel
        -- A 2xx needs no decision: the function call is for the others only.
        CROSS JOIN LATERAL (
            SELECT 'delivered', NULL::timestamptz, NULL::text WHERE o.status BETWEEN 200 AND 299
            UNION ALL
            SELECT * FROM httpq._verdict(o.status, o.headers ->> 'retry-after', r.attempt - r.attempt_floor,
                                         coalesce(r.max_attempts, c.max_attempts), r.deadline,
                                         c.backoff_base, c.backoff_max, random(), now_at)
            WHERE o.status IS NULL OR o.status NOT BETWEEN 200 AND 299
        ) AS v(state, run_at, reason)
    ), again AS (
        UPDATE httpq.request r
        SET state = 'waiting', run_at = d.run_at, worker = NULL, lease_until = NULL,
            last_status = d.status, last_error = d.error, log = r.log || jsonb_build_array(d.entry)
        FROM decided AS d
        WHERE r.id = d.id AND d.state = 'waiting'
        RETURNING r.id
    )
    SELECT (SELECT count(*) FROM again),
           array_agg(ROW(d.id, d.state, d.reason, d.status, d.headers, decode(d.body, 'base64'), d.error, d.entry)::httpq._ending)
               FILTER (WHERE d.state <> 'waiting')
    INTO retried, endings
    FROM decided AS d;

    RETURN retried + httpq._finish(endings);
END;
$$;
COMMENT ON FUNCTION httpq.report(text, jsonb)
    IS 'Applies a batch of attempt outcomes from the worker holding the claims; returns how many were applied.';
-- 60_lease.sql: a worker keeping or giving back what it claimed.
--
-- Writes httpq.request rows in state running, and only those the calling worker holds.

-- Extends the leases of a worker's running claims; returns how many were extended.
CREATE FUNCTION httpq.heartbeat(worker text, ids bigint[], lease interval DEFAULT '1 minute') RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    now_at   constant timestamptz := httpq._now();
    extended integer;
BEGIN
    IF lease IS NULL OR lease <= '0' THEN
        RAISE EXCEPTION 'lease must be a positive interval, got %', coalesce(lease::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE httpq.request r
    SET lease_until = now_at + heartbeat.lease
    WHERE r.id = ANY (heartbeat.ids) AND r.worker = heartbeat.worker AND r.state = 'running';
    GET DIAGNOSTICS extended = ROW_COUNT;
    RETURN extended;
END;
$$;
COMMENT ON FUNCTION httpq.heartbeat(text, bigint[], interval)
    IS 'Extends the leases of the worker''s running claims to now() + lease; returns how many.';

-- Hands a worker's claims back (clean shutdown): they wait again, and the attempt they
-- had is given back. Returns how many were released.
CREATE FUNCTION httpq.release(worker text, ids bigint[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    released integer;
BEGIN
    UPDATE httpq.request r
    SET state = 'waiting', attempt = r.attempt - 1, worker = NULL, lease_until = NULL
    WHERE r.id = ANY (release.ids) AND r.worker = release.worker AND r.state = 'running';
    GET DIAGNOSTICS released = ROW_COUNT;
    IF released > 0 THEN
        PERFORM pg_notify('httpq', '');
    END IF;
    RETURN released;
END;
$$;
COMMENT ON FUNCTION httpq.release(text, bigint[])
    IS 'Hands the worker''s running claims back to waiting, giving the attempt back; returns how many.';
-- 65_manage.sql: an operator's hand on single requests: cancel, retry, replay.
--
-- Writes httpq.request, httpq.history and httpq.held_key. A request comes back from
-- history with its id, idempotency key and attempt count kept (attempt numbers stay
-- unique per request, which report's fencing relies on) and a fresh attempt budget.

-- Cancels a request that is not delivered: a waiting, running (a late report is then
-- ignored) or dead one. A dead request that held its ordering key releases it.
CREATE FUNCTION httpq.cancel(id bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    released httpq.held_key;
BEGIN
    IF id IS NULL THEN
        RAISE EXCEPTION 'id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- The key's lock before the row's (the order report and enqueue use): locking the row
    -- first deadlocks with a report promoting this very row.
    PERFORM httpq._lock_keys(ARRAY(SELECT r.channel FROM httpq.request r WHERE r.id = cancel.id),
                             ARRAY(SELECT r.ordering_key FROM httpq.request r WHERE r.id = cancel.id));
    PERFORM FROM httpq.request r WHERE r.id = cancel.id FOR UPDATE;
    IF FOUND THEN
        PERFORM httpq._finish(ARRAY[ROW(cancel.id, 'canceled', 'canceled', NULL, NULL, NULL, NULL, NULL)::httpq._ending]);
        RETURN true;
    END IF;

    UPDATE httpq.history h SET state = 'canceled', reason = 'canceled after it died: ' || coalesce(h.reason, 'unknown')
    WHERE h.id = cancel.id AND h.state = 'dead';
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    DELETE FROM httpq.held_key k WHERE k.request_id = cancel.id RETURNING * INTO released;
    IF FOUND THEN
        PERFORM httpq._lock_keys(ARRAY[released.channel], ARRAY[released.ordering_key]);
        PERFORM httpq._promote(ARRAY[released.channel], ARRAY[released.ordering_key]);
    END IF;
    RETURN true;
END;
$$;
COMMENT ON FUNCTION httpq.cancel(bigint)
    IS 'Cancels a waiting, running or dead request; returns false when there is none to cancel.';

-- Brings a dead or canceled request back to the live queue, or why it cannot come back
-- (NULL when it came back, '' when there is no such dead or canceled request).
CREATE FUNCTION httpq._revive(id bigint) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    h    httpq.history;
    now_at constant timestamptz := httpq._now();
    head boolean := true;
BEGIN
    SELECT * INTO h FROM httpq.history x WHERE x.id = _revive.id AND x.state IN ('dead', 'canceled') FOR UPDATE;
    IF NOT FOUND THEN
        RETURN '';
    END IF;
    IF h.deadline <= now_at THEN
        RETURN format('request %s is past its deadline (%s): it would die again at once', h.id, h.deadline);
    END IF;
    IF EXISTS (SELECT 1 FROM httpq.request r WHERE r.channel = h.channel AND r.dedupe_key = h.dedupe_key) THEN
        RETURN format('request %s has dedupe_key %s, which an unfinished request of channel %s already has',
                      h.id, quote_literal(h.dedupe_key), h.channel);
    END IF;
    PERFORM httpq._ensure_channels(ARRAY[h.channel]);
    IF h.ordering_key IS NOT NULL THEN
        PERFORM httpq._lock_keys(ARRAY[h.channel], ARRAY[h.ordering_key]);
        DELETE FROM httpq.held_key k WHERE k.request_id = h.id;
        head := NOT EXISTS (SELECT 1 FROM httpq.request r WHERE r.channel = h.channel AND r.ordering_key = h.ordering_key
                                                              AND r.state IN ('waiting', 'running'))
                AND NOT EXISTS (SELECT 1 FROM httpq.request r WHERE r.channel = h.channel AND r.ordering_key = h.ordering_key
                                                              AND r.state = 'blocked')
                AND NOT EXISTS (SELECT 1 FROM httpq.held_key k WHERE k.channel = h.channel AND k.ordering_key = h.ordering_key);
    END IF;
    INSERT INTO httpq.request (id, channel, state, priority, run_at, attempt, attempt_floor, method, url, headers, body,
                               ordering_key, dedupe_key, idempotency_key, max_attempts, timeout_ms, deadline,
                               created_at, last_status, last_error, log)
    VALUES (h.id, h.channel, CASE WHEN head THEN 'waiting' ELSE 'blocked' END, h.priority, now_at, h.attempt,
            h.attempt, h.method, h.url, h.headers, h.body, h.ordering_key, h.dedupe_key, h.idempotency_key,
            h.max_attempts, h.timeout_ms, h.deadline, h.created_at, h.last_status, h.last_error, h.log);
    DELETE FROM httpq.history x WHERE x.id = h.id;
    IF NOT head THEN
        -- A key this request held has only blocked requests left: the oldest, often this
        -- one, becomes its head. (A key with a head or another hold promotes nothing.)
        PERFORM httpq._promote(ARRAY[h.channel], ARRAY[h.ordering_key]);
    END IF;
    PERFORM pg_notify('httpq', '');
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION httpq._revive(bigint) IS 'Moves a dead or canceled request back to waiting, or says why it cannot.';

-- Sends a request again: a dead or canceled one goes back to waiting with a fresh attempt
-- budget; a waiting one in backoff is due at once. False when there is nothing to retry
-- (delivered, running, or no such request).
CREATE FUNCTION httpq.retry(id bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    problem text;
BEGIN
    IF id IS NULL THEN
        RAISE EXCEPTION 'id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    UPDATE httpq.request r SET run_at = httpq._now()
    WHERE r.id = retry.id AND r.state = 'waiting' AND r.run_at > httpq._now();
    IF FOUND THEN
        PERFORM pg_notify('httpq', '');
        RETURN true;
    END IF;
    problem := httpq._revive(retry.id);
    IF problem <> '' THEN
        RAISE EXCEPTION '%', problem USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN problem IS NULL;
END;
$$;
COMMENT ON FUNCTION httpq.retry(bigint)
    IS 'Sends a dead or canceled request again (fresh attempt budget), or a waiting one at once.';

-- Replays the dead requests of a channel that died in [since, until); returns how many
-- went back to waiting. Those that cannot (past their deadline, dedupe_key taken) stay
-- dead and are named in a warning.
CREATE FUNCTION httpq.replay(channel text, since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dead_id  bigint;
    problem  text;
    replayed integer := 0;
    skipped  text[] := '{}';
BEGIN
    PERFORM httpq._check_channel(replay.channel);
    FOR dead_id IN
        SELECT h.id FROM httpq.history h
        WHERE h.channel = replay.channel AND h.state = 'dead'
          AND (replay.since IS NULL OR h.finished_at >= replay.since)
          AND (replay.until IS NULL OR h.finished_at < replay.until)
        ORDER BY h.id
    LOOP
        problem := httpq._revive(dead_id);
        IF problem IS NULL THEN
            replayed := replayed + 1;
        ELSE
            skipped := skipped || problem;
        END IF;
    END LOOP;
    IF cardinality(skipped) > 0 THEN
        RAISE WARNING '% dead requests were not replayed', cardinality(skipped)
            USING DETAIL = array_to_string(skipped[1:10], E'\n');
    END IF;
    RETURN replayed;
END;
$$;
COMMENT ON FUNCTION httpq.replay(text, timestamptz, timestamptz)
    IS 'Sends the dead requests of a channel that died in [since, until) again; returns how many.';
-- 80_retention.sql: forgetting finished requests after their channel's retention period.
--
-- Deletes from httpq.history only. A dead request that holds its ordering key is kept
-- whatever its age: it is what an operator retries or cancels to release the key.

-- Deletes finished requests older than older_than (default: each channel's retention),
-- at most max_rows of them (default: all); returns how many.
CREATE FUNCTION httpq.purge(older_than interval DEFAULT NULL, max_rows integer DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    now_at constant timestamptz := httpq._now();
    purged bigint;
BEGIN
    IF older_than < '0' THEN
        RAISE EXCEPTION 'older_than must not be negative, got %', older_than USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_rows <= 0 THEN
        RAISE EXCEPTION 'max_rows must be positive, got %', max_rows USING ERRCODE = 'invalid_parameter_value';
    END IF;
    DELETE FROM httpq.history h
    WHERE h.id IN (
        SELECT x.id
        FROM httpq.channel c
        JOIN httpq.history x
          ON x.channel = c.name AND x.state IN ('delivered', 'dead', 'canceled')   -- history_channel_idx
         AND x.finished_at < now_at - coalesce(purge.older_than, c.retention)
          AND NOT EXISTS (SELECT 1 FROM httpq.held_key k WHERE k.request_id = x.id)
        LIMIT purge.max_rows
    );
    GET DIAGNOSTICS purged = ROW_COUNT;
    RETURN purged;
END;
$$;
COMMENT ON FUNCTION httpq.purge(interval, integer)
    IS 'Deletes finished requests past their channel''s retention (or older_than); returns how many.';
-- 90_views.sql: what operators and applications read.
--
-- Owns the read-only views over the tables: httpq.requests (every request, live and
-- finished), httpq.attempts (each attempt's outcome), httpq.responses (a finished
-- request's last response) and httpq.stats (per channel).

-- Every request, live and finished. A request blocked behind an earlier one of its
-- ordering key is 'waiting' here, with blocked = true.
CREATE VIEW httpq.requests AS
    SELECT r.id, r.channel,
           CASE r.state WHEN 'blocked' THEN 'waiting' ELSE r.state END AS state,
           r.state = 'blocked' AS blocked,
           r.attempt AS attempts, r.priority, r.ordering_key, r.dedupe_key, r.idempotency_key,
           r.method, r.url, r.run_at, r.deadline, r.created_at, NULL::timestamptz AS finished_at,
           r.last_status, r.last_error, NULL::text AS reason, r.worker, r.lease_until
    FROM httpq.request r
    UNION ALL
    SELECT h.id, h.channel, h.state, false, h.attempt, h.priority, h.ordering_key, h.dedupe_key,
           h.idempotency_key, h.method, h.url, h.run_at, h.deadline, h.created_at, h.finished_at,
           h.last_status, h.last_error, h.reason, NULL, NULL
    FROM httpq.history h;
COMMENT ON VIEW httpq.requests IS 'Every request, live and finished, with its state and last outcome.';

-- Each finished attempt of every request: when, by which worker, and what came back.
CREATE VIEW httpq.attempts AS
    SELECT x.id, a.attempt, a.at, a.worker, a.status, a.error, a.duration_ms
    FROM (SELECT r.id, r.log FROM httpq.request r UNION ALL SELECT h.id, h.log FROM httpq.history h) AS x,
         jsonb_to_recordset(x.log) AS a(attempt integer, at timestamptz, worker text, status integer, error text,
                                        duration_ms numeric);
COMMENT ON VIEW httpq.attempts IS 'Each finished attempt of every request: when, which worker, status or error, duration.';

-- The last response of each finished request (body as the worker reported it, capped).
CREATE VIEW httpq.responses AS
    SELECT h.id, h.channel, h.state, h.last_status AS status, h.response_headers AS headers,
           h.response_body AS body, h.finished_at
    FROM httpq.history h;
COMMENT ON VIEW httpq.responses IS 'The last response of each finished request: status, headers, body.';

-- Per channel: what waits, runs and died, how old the oldest waiting request is, and the
-- last hour's deliveries and deaths.
CREATE VIEW httpq.stats AS
    SELECT c.name AS channel, c.paused,
           coalesce(l.waiting, 0) AS waiting,
           coalesce(l.running, 0) AS running,
           (SELECT count(*) FROM httpq.history h WHERE h.channel = c.name AND h.state = 'dead') AS dead,
           (SELECT count(*) FROM httpq.history h
            WHERE h.channel = c.name AND h.state = 'delivered' AND h.finished_at > now() - interval '1 hour')
               AS delivered_last_hour,
           (SELECT count(*) FROM httpq.history h
            WHERE h.channel = c.name AND h.state = 'dead' AND h.finished_at > now() - interval '1 hour')
               AS dead_last_hour,
           now() - l.oldest_waiting AS oldest_waiting_age,
           (SELECT h.last_error FROM httpq.history h
            WHERE h.channel = c.name AND h.state = 'dead' ORDER BY h.finished_at DESC LIMIT 1) AS last_error,
           c.max_concurrency, c.rate_per_second
    FROM httpq.channel c
    LEFT JOIN (
        SELECT r.channel,
               count(*) FILTER (WHERE r.state <> 'running') AS waiting,
               count(*) FILTER (WHERE r.state = 'running') AS running,
               min(r.created_at) FILTER (WHERE r.state <> 'running') AS oldest_waiting
        FROM httpq.request r
        GROUP BY r.channel
    ) AS l ON l.channel = c.name;
COMMENT ON VIEW httpq.stats IS 'Per channel: waiting, running, dead, last hour''s deliveries and deaths, oldest waiting age.';
-- 99_privileges.sql: nobody but the owner uses httpq until a DBA grants it.
--
-- The API functions are SECURITY DEFINER and reach the tables as their owner, so roles
-- get EXECUTE on the functions they need and never a grant on a table. The README shows
-- the GRANTs for an application role (enqueue) and a worker role (claim, report, ...).
-- No role is created here: roles belong to the cluster, not to a database.

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA httpq FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA httpq FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA httpq FROM PUBLIC;
