-- 10_channel.sql: channels, their settings and the bookkeeping that fairness and limits need.
--
-- Owns httpq.channel. A channel is a destination or a tenant: requests name one, and it is
-- created with default settings on first use. Invariants: every request's channel has a
-- row here; settings are always set (defaults below); limits, breaker_failures (then no
-- circuit breaker) and retry_after_max (which then follows backoff_max) are NULL when absent.

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
    -- Added in 0.2.0 (so last, as the upgrade adds them). Where the worker may connect beyond
    -- public unicast addresses (README, Security):
    allowed_networks cidr[] NOT NULL DEFAULT '{}',
    max_body_bytes   integer NOT NULL DEFAULT 1048576,   -- 1 MiB
    retry_after_max  interval,                      -- the longest Retry-After obeyed; NULL: backoff_max
    -- The role whose members (and admins) may enqueue into the channel, read its requests and
    -- change its settings (sql/15_tenant.sql); NULL: shared by every role allowed to enqueue
    -- (only channels made before 0.2.0, until an admin gives them an owner).
    owner            name,
    signing_keys     text[] NOT NULL DEFAULT '{}',  -- secrets that sign each attempt (Standard Webhooks)
    on_finish        text,                          -- the hook called as each request finishes: f(httpq.finished)
    -- AWS Signature Version 4 (libcurl's CURLOPT_AWS_SIGV4): the provider string, such as
    -- 'aws:amz:us-east-1:sqs', and the secret holding ACCESS_KEY_ID:SECRET_ACCESS_KEY[:TOKEN].
    aws_sigv4        text,
    aws_credentials  text,
    -- The circuit breaker (sql/57_breaker.sql): it opens after breaker_failures retryable
    -- failures in a row (NULL: never), and then waits a cool-down before one probe: the
    -- first breaker_cooldown, doubled on each reopen up to breaker_cooldown_max.
    breaker_failures     integer DEFAULT 10,
    breaker_cooldown     interval NOT NULL DEFAULT '30 seconds',
    breaker_cooldown_max interval NOT NULL DEFAULT '10 minutes',
    -- Its state, written by report (failures, successes) and claim (the probe sent).
    breaker_state        text NOT NULL DEFAULT 'closed',   -- closed, open or half_open
    breaker_failed       integer NOT NULL DEFAULT 0,       -- retryable failures in a row
    breaker_opened       integer NOT NULL DEFAULT 0,       -- opens in a row without a success
    -- Open: when the probe may go. Half-open: when a probe not reported by then is given up
    -- and another may go.
    breaker_probe_at     timestamptz,
    breaker_reason       text,                             -- why it opened, in words
    breaker_changed_at   timestamptz,
    paused_reason        text,                             -- why paused: httpq.pause's caller, or a 410 Gone
    CONSTRAINT name_is_valid CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._:@/-]*$' AND length(name) <= 200),
    CONSTRAINT max_concurrency_positive CHECK (max_concurrency > 0),
    CONSTRAINT rate_per_second_positive CHECK (rate_per_second > 0),
    CONSTRAINT max_attempts_in_range CHECK (max_attempts BETWEEN 1 AND 1000),
    CONSTRAINT backoff_base_positive CHECK (backoff_base > '0'),
    CONSTRAINT backoff_max_not_below_base CHECK (backoff_max >= backoff_base),
    CONSTRAINT timeout_ms_in_range CHECK (timeout_ms BETWEEN 1 AND 3600000),
    CONSTRAINT ordering_on_dead_known CHECK (ordering_on_dead IN ('continue', 'hold')),
    CONSTRAINT retention_not_negative CHECK (retention >= '0'),
    CONSTRAINT allowed_networks_not_null CHECK (array_position(allowed_networks, NULL) IS NULL),
    CONSTRAINT max_body_bytes_in_range CHECK (max_body_bytes BETWEEN 0 AND 16777216),
    CONSTRAINT retry_after_max_positive CHECK (retry_after_max > '0'),
    CONSTRAINT signing_keys_bounded CHECK (cardinality(signing_keys) <= 10 AND array_position(signing_keys, NULL) IS NULL),
    CONSTRAINT aws_sigv4_is_valid CHECK (aws_sigv4 ~ '^[A-Za-z0-9_-]+:[A-Za-z0-9_-]+:[A-Za-z0-9-]+:[A-Za-z0-9-]+$' AND length(aws_sigv4) <= 200),
    CONSTRAINT aws_sigv4_with_credentials CHECK ((aws_sigv4 IS NULL) = (aws_credentials IS NULL)),
    CONSTRAINT breaker_failures_in_range CHECK (breaker_failures BETWEEN 1 AND 1000000),
    CONSTRAINT breaker_cooldown_in_range CHECK (breaker_cooldown BETWEEN '1 second' AND '1 day'),
    CONSTRAINT breaker_cooldown_max_in_range CHECK (breaker_cooldown_max BETWEEN breaker_cooldown AND '7 days'),
    CONSTRAINT breaker_state_known CHECK (breaker_state IN ('closed', 'open', 'half_open')),
    CONSTRAINT breaker_probe_at_when_not_closed CHECK ((breaker_state = 'closed') = (breaker_probe_at IS NULL))
);
-- Claim rewrites served_at and tokens on every claim: leave room for HOT updates.
ALTER TABLE httpq.channel SET (fillfactor = 50);
-- The channels with a hook: httpq._finish asks whether there are any, once per call.
CREATE INDEX channel_on_finish_idx ON httpq.channel (name) WHERE on_finish IS NOT NULL;
-- The channels whose circuit breaker is not closed, by their next probe: httpq.next_run_at
-- reads the earliest without reading every channel.
CREATE INDEX channel_breaker_idx ON httpq.channel (breaker_probe_at) WHERE breaker_state <> 'closed';

-- The function on_finish names, as its signature, or the error for one that cannot be a
-- hook: it takes one httpq.finished and returns void, and is SECURITY DEFINER (it runs with
-- its owner's rights, never the worker's), owned by the channel's owner (the caller's, for
-- a shared channel) or a role that one belongs to, unless an admin sets it.
CREATE FUNCTION httpq._check_hook(channel text, hook text) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fn    oid;
    proc  pg_proc;
    owner name := coalesce((SELECT c.owner FROM httpq.channel c WHERE c.name = _check_hook.channel), httpq._caller());
BEGIN
    BEGIN
        -- A name alone means the function of that name taking one httpq.finished.
        fn := to_regprocedure(CASE WHEN hook ~ '\(' THEN hook ELSE hook || '(httpq.finished)' END);
    EXCEPTION WHEN OTHERS THEN
        fn := NULL;   -- not a function's name or signature at all
    END;
    IF fn IS NULL THEN
        RAISE EXCEPTION 'on_finish: there is no function %', httpq._quoted(hook)
            USING ERRCODE = 'undefined_function',
                  HINT = 'Name a function taking one httpq.finished, such as ''app.order_notified'' or ''app.order_notified(httpq.finished)''.';
    END IF;
    SELECT * INTO proc FROM pg_proc p WHERE p.oid = fn;
    IF proc.pronargs <> 1 OR proc.proargtypes[0] <> 'httpq.finished'::regtype OR proc.prokind <> 'f' THEN
        RAISE EXCEPTION 'on_finish: function % must take one argument of type httpq.finished', fn::regprocedure
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF proc.prorettype <> 'void'::regtype OR proc.proretset THEN
        RAISE EXCEPTION 'on_finish: function % must return void', fn::regprocedure USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT proc.prosecdef THEN
        RAISE EXCEPTION 'on_finish: function % must be SECURITY DEFINER, so that it runs with its owner''s rights', fn::regprocedure
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'ALTER FUNCTION ... SECURITY DEFINER SET search_path = ...; it is called by the worker''s report.';
    END IF;
    IF NOT httpq._member(owner, pg_get_userbyid(proc.proowner)) AND NOT httpq._has_kind(httpq._caller(), 'admin') THEN
        RAISE EXCEPTION 'on_finish: function % belongs to role %, not to the channel''s owner %', fn::regprocedure,
                        quote_ident(pg_get_userbyid(proc.proowner)), quote_ident(owner)
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN fn::regprocedure::text;
END;
$$;
COMMENT ON FUNCTION httpq._check_hook(text, text) IS 'The signature of the function an on_finish setting names, or the error for one that cannot be a hook.';

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

-- Creates the channels that do not exist yet, with default settings, owned by the caller.
CREATE FUNCTION httpq._ensure_channels(names text[]) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- PL/pgSQL: every enqueue calls it, and its plan is then made once per session.
    -- The NOT EXISTS probe first: the common case (the channel exists) then writes nothing.
    INSERT INTO httpq.channel (name, owner)
    SELECT DISTINCT n, httpq._caller() FROM unnest(names) AS n
    WHERE NOT EXISTS (SELECT 1 FROM httpq.channel c WHERE c.name = n)
    ON CONFLICT (name) DO NOTHING;
END;
$$;
COMMENT ON FUNCTION httpq._ensure_channels(text[]) IS 'Creates missing channels with default settings, owned by the caller.';

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
    retention        interval DEFAULT NULL,
    allowed_networks cidr[] DEFAULT NULL,
    max_body_bytes   integer DEFAULT NULL,
    retry_after_max  interval DEFAULT NULL,
    signing_keys     text[] DEFAULT NULL,
    owner            text DEFAULT NULL,
    on_finish        text DEFAULT NULL,
    aws_sigv4        text DEFAULT NULL,
    aws_credentials  text DEFAULT NULL,
    breaker_failures     integer DEFAULT NULL,
    breaker_cooldown     interval DEFAULT NULL,
    breaker_cooldown_max interval DEFAULT NULL
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
    IF array_position(allowed_networks, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'allowed_networks must not contain NULL' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'List networks such as ''{10.0.0.0/8, fd00::/8}''; ''{}'' allows public addresses only.';
    END IF;
    IF NOT max_body_bytes BETWEEN 0 AND 16777216 THEN
        RAISE EXCEPTION 'max_body_bytes must be between 0 and 16777216 (16 MiB), got %', max_body_bytes
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF retry_after_max <= '0' THEN
        RAISE EXCEPTION 'retry_after_max must be positive, got %', retry_after_max USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF cardinality(signing_keys) > 10 OR array_position(signing_keys, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'signing_keys must name at most 10 secrets, without NULL' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Two sign at once while a key is rotated; ''{}'' signs nothing.';
    END IF;
    IF aws_sigv4 !~ '^[A-Za-z0-9_-]+:[A-Za-z0-9_-]+:[A-Za-z0-9-]+:[A-Za-z0-9-]+$' OR length(aws_sigv4) > 200 THEN
        RAISE EXCEPTION 'aws_sigv4 must be PROVIDER1:PROVIDER2:REGION:SERVICE, got %', quote_literal(aws_sigv4)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example ''aws:amz:us-east-1:sqs'' or ''aws:amz:eu-west-1:sns'' (libcurl''s CURLOPT_AWS_SIGV4).';
    END IF;
    IF NOT breaker_failures BETWEEN 1 AND 1000000 THEN
        RAISE EXCEPTION 'breaker_failures must be between 1 and 1000000, got %', breaker_failures
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'To turn the circuit breaker off: SELECT httpq.unset_channel(''' || channel || ''', ''{breaker_failures}'').';
    END IF;
    IF NOT breaker_cooldown BETWEEN '1 second' AND '1 day' THEN
        RAISE EXCEPTION 'breaker_cooldown must be from 1 second to 1 day, got %', breaker_cooldown
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT breaker_cooldown_max BETWEEN '1 second' AND '7 days' THEN
        RAISE EXCEPTION 'breaker_cooldown_max must be from 1 second to 7 days, got %', breaker_cooldown_max
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF owner IS NOT NULL THEN
        PERFORM httpq._check_admin('change a channel''s owner');
        IF NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = set_channel.owner) THEN
            RAISE EXCEPTION 'owner: role % does not exist', quote_ident(owner) USING ERRCODE = 'undefined_object';
        END IF;
    END IF;
    IF allowed_networks IS NOT NULL THEN
        -- Opening internal networks is the operator's decision, not a tenant's.
        PERFORM httpq._check_admin('set allowed_networks');
    END IF;
    -- Owner checked after the channel surely exists: one another role created meanwhile is
    -- that role's.
    PERFORM httpq._ensure_channels(ARRAY[set_channel.channel]);
    PERFORM httpq._check_settings(set_channel.channel);
    IF on_finish IS NOT NULL THEN
        on_finish := httpq._check_hook(set_channel.channel, on_finish);
    END IF;
    IF cardinality(signing_keys) > 0 THEN
        -- The keys of the channel's owner (the one set now, if any), which claims check again.
        PERFORM httpq._check_secret_use(signing_keys, 'signing_keys',
                                        coalesce(set_channel.owner::name,
                                                 (SELECT c.owner FROM httpq.channel c WHERE c.name = set_channel.channel),
                                                 httpq._caller()));
    END IF;
    IF aws_credentials IS NOT NULL THEN
        PERFORM httpq._check_secret_use(ARRAY[aws_credentials], 'aws_credentials',
                                        coalesce(set_channel.owner::name,
                                                 (SELECT c.owner FROM httpq.channel c WHERE c.name = set_channel.channel),
                                                 httpq._caller()));
    END IF;
    IF EXISTS (SELECT 1 FROM httpq.channel c WHERE c.name = set_channel.channel
               AND (coalesce(set_channel.aws_sigv4, c.aws_sigv4) IS NULL) <> (coalesce(set_channel.aws_credentials, c.aws_credentials) IS NULL)) THEN
        RAISE EXCEPTION 'aws_sigv4 and aws_credentials are set together: one signs with the other'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('SELECT httpq.set_channel(%L, aws_sigv4 => ''aws:amz:REGION:SERVICE'', aws_credentials => ''SECRET'').', channel);
    END IF;
    UPDATE httpq.channel c SET
        max_concurrency  = coalesce(set_channel.max_concurrency, c.max_concurrency),
        rate_per_second  = coalesce(set_channel.rate_per_second, c.rate_per_second),
        max_attempts     = coalesce(set_channel.max_attempts, c.max_attempts),
        backoff_base     = coalesce(set_channel.backoff_base, c.backoff_base),
        backoff_max      = coalesce(set_channel.backoff_max, c.backoff_max),
        timeout_ms       = coalesce(set_channel.timeout_ms, c.timeout_ms),
        ordering_on_dead = coalesce(set_channel.ordering_on_dead, c.ordering_on_dead),
        retention        = coalesce(set_channel.retention, c.retention),
        allowed_networks = coalesce(set_channel.allowed_networks, c.allowed_networks),
        max_body_bytes   = coalesce(set_channel.max_body_bytes, c.max_body_bytes),
        retry_after_max  = coalesce(set_channel.retry_after_max, c.retry_after_max),
        signing_keys     = coalesce(set_channel.signing_keys, c.signing_keys),
        owner            = coalesce(set_channel.owner, c.owner),
        on_finish        = coalesce(set_channel.on_finish, c.on_finish),
        aws_sigv4        = coalesce(set_channel.aws_sigv4, c.aws_sigv4),
        aws_credentials  = coalesce(set_channel.aws_credentials, c.aws_credentials),
        breaker_failures     = coalesce(set_channel.breaker_failures, c.breaker_failures),
        breaker_cooldown     = coalesce(set_channel.breaker_cooldown, c.breaker_cooldown),
        breaker_cooldown_max = coalesce(set_channel.breaker_cooldown_max, c.breaker_cooldown_max)
    WHERE c.name = set_channel.channel;
EXCEPTION WHEN check_violation THEN
    -- Only a pair out of order gets here: each value alone was checked above.
    IF SQLERRM ~ 'breaker_cooldown_max' THEN
        RAISE EXCEPTION 'breaker_cooldown_max must not be below breaker_cooldown for channel %', quote_literal(channel)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RAISE EXCEPTION 'backoff_max must not be below backoff_base for channel %', quote_literal(channel)
        USING ERRCODE = 'invalid_parameter_value';
END;
$$;
COMMENT ON FUNCTION httpq.set_channel(text, integer, numeric, integer, interval, interval, integer, text, interval, cidr[], integer, interval, text[], text, text, text, text, integer, interval, interval)
    IS 'Sets a channel''s defaults and limits, creating the channel if needed; NULL leaves a setting as it is.';

-- Puts named settings of a channel back to their defaults (limits back to none, and
-- breaker_failures to none: no circuit breaker).
CREATE FUNCTION httpq.unset_channel(channel text, settings text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    known constant text[] := ARRAY['max_concurrency', 'rate_per_second', 'max_attempts', 'backoff_base',
                                   'backoff_max', 'timeout_ms', 'ordering_on_dead', 'retention',
                                   'allowed_networks', 'max_body_bytes', 'retry_after_max', 'signing_keys', 'owner',
                                   'on_finish', 'aws_sigv4', 'aws_credentials', 'breaker_failures',
                                   'breaker_cooldown', 'breaker_cooldown_max'];
    unknown text;
BEGIN
    PERFORM httpq._check_channel(unset_channel.channel);
    SELECT s INTO unknown FROM unnest(settings) AS s WHERE s IS NULL OR s <> ALL (known) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unknown channel setting %', coalesce(quote_literal(unknown), 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Channel settings are: ' || array_to_string(known, ', ') || '.';
    END IF;
    IF 'owner' = ANY (settings) THEN
        PERFORM httpq._check_admin('make a channel shared (unset its owner)');
    END IF;
    IF ('aws_sigv4' = ANY (settings)) <> ('aws_credentials' = ANY (settings)) THEN
        RAISE EXCEPTION 'aws_sigv4 and aws_credentials are unset together: one signs with the other'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('SELECT httpq.unset_channel(%L, ''{aws_sigv4, aws_credentials}'').', channel);
    END IF;
    PERFORM httpq._ensure_channels(ARRAY[unset_channel.channel]);
    PERFORM httpq._check_settings(unset_channel.channel);
    -- One statement: settings that go together (aws_sigv4, aws_credentials) go at once.
    -- Each is one of the known column names, checked above. breaker_failures goes to NULL,
    -- not its default: the breaker is off, and closed.
    IF cardinality(settings) > 0 THEN
        EXECUTE format('UPDATE httpq.channel SET %s WHERE name = $1',
                       (SELECT string_agg(CASE WHEN s = 'breaker_failures'
                                               THEN 'breaker_failures = NULL, breaker_state = ''closed'', breaker_failed = 0, '
                                                    'breaker_opened = 0, breaker_probe_at = NULL, breaker_reason = NULL'
                                               ELSE format('%I = DEFAULT', s) END, ', ')
                        FROM (SELECT DISTINCT unnest(settings)) AS d(s)))
            USING unset_channel.channel;
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq.unset_channel(text, text[])
    IS 'Puts the named settings of a channel back to their defaults; limits and breaker_failures go back to none.';

-- Stops claims from a channel; its requests wait. Creates the channel if needed.
CREATE FUNCTION httpq.pause(channel text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM httpq._check_channel(pause.channel);
    PERFORM httpq._ensure_channels(ARRAY[pause.channel]);
    PERFORM httpq._check_operator(pause.channel, 'pause');
    -- The channel's pause fence, exclusive (claims hold it shared while they serve the
    -- channel): this waits for every claim in flight, and turns away the ones that come
    -- meanwhile, so once pause returns no claim takes from the channel. A lock waiting in
    -- line stops later shared requests, so a stream of claims cannot starve it.
    PERFORM pg_advisory_xact_lock(1752461427, hashtext(pause.channel));
    UPDATE httpq.channel c SET paused = true, paused_reason = format('paused by role %s', httpq._caller())
    WHERE c.name = pause.channel;
END;
$$;
COMMENT ON FUNCTION httpq.pause(text) IS 'Stops claims from a channel until httpq.resume; requests keep waiting.';

-- Lets claims take from a paused channel again, closes its circuit breaker (sql/57_breaker.sql)
-- if open, and wakes the workers.
CREATE FUNCTION httpq.resume(channel text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    was text;
BEGIN
    PERFORM httpq._check_channel(resume.channel);
    PERFORM httpq._ensure_channels(ARRAY[resume.channel]);
    PERFORM httpq._check_operator(resume.channel, 'resume');
    SELECT c.breaker_state INTO was FROM httpq.channel c WHERE c.name = resume.channel FOR NO KEY UPDATE;
    UPDATE httpq.channel c
    SET paused = false, paused_reason = NULL,
        breaker_state = 'closed', breaker_failed = 0, breaker_opened = 0, breaker_probe_at = NULL, breaker_reason = NULL,
        breaker_changed_at = CASE WHEN was <> 'closed' THEN httpq._now() ELSE c.breaker_changed_at END
    WHERE c.name = resume.channel;
    IF was <> 'closed' THEN
        RAISE NOTICE 'httpq breaker closed: channel "%": resumed by role %', channel, httpq._caller();
    END IF;
    PERFORM httpq._wake_workers();
END;
$$;
COMMENT ON FUNCTION httpq.resume(text) IS 'Lets workers claim from a paused channel again, and closes its circuit breaker.';
