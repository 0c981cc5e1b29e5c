-- 48_claim_position.sql: where a claim starts reading a channel's waiting requests.
--
-- A claim reads request_claimable_idx from the front of each channel. The front is the
-- entries of the requests claimed since the last vacuum: dead, skipped, and marked so by
-- the first scan that passes them, which costs nothing once. But while any transaction in
-- the database holds back the xmin horizon (an idle-in-transaction session, a long report,
-- a pg_dump), no entry can be marked, and every claim walks every request claimed since:
-- 150,000 entries after 150 s at 1,000 a second.
--
-- So a claim remembers, per channel and in its session, the last request it took: its
-- position (priority, run_at, id). While reading from the front stays cheap, every claim
-- does (nothing changes, nothing is remembered). Once three claims in a row spend 2 ms or
-- more each finding their channels and requests from the front, the session's claims read
-- from the remembered positions instead, and from the front only every 25 times that long
-- (at most every 2 s). Reading from the position takes the
-- requests after it, and those of the same priority whose run_at is at most 100 ms before
-- it (an enqueue that committed a little after a later one). A request that falls further
-- behind (promoted in its ordering key, a higher priority, a release, an enqueue in a long
-- transaction) waits for the next read from the front; so does a channel that gets work
-- while no read from the front has seen it (httpq.claim of all channels).
--
-- Session settings (custom, per connection): httpq.claim_front_read_at and
-- httpq.claim_front_period, when a claim last read from the front and how long until the
-- next one does; httpq.claim_channels, the channels the last read from the front
-- found; httpq.claim_slow_reads, how many reads from the front in a row were slow;
-- httpq.claim_position_<hash>, one channel's position. httpq.claim_front_every, an
-- interval, fixes the period (tests use it to read from positions on purpose).

-- A request's place in request_claimable_idx within its channel.
CREATE TYPE httpq._position AS (
    priority integer,
    run_at   timestamptz,
    id       bigint
);

-- Whether this claim reads from the front of each channel.
CREATE FUNCTION httpq._claim_reads_front() RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    every interval := coalesce(nullif(current_setting('httpq.claim_front_every', true), ''),
                               nullif(current_setting('httpq.claim_front_period', true), ''), '0')::interval;
BEGIN
    -- Always under the test clock (which tests move at will), unless the period is fixed.
    RETURN coalesce(current_setting('httpq.claim_front_read_at', true), '') = ''
        OR current_setting('httpq.claim_front_read_at')::timestamptz + every <= clock_timestamp()
        OR (coalesce(current_setting('httpq.now', true), '') <> ''
            AND coalesce(current_setting('httpq.claim_front_every', true), '') = '');
END;
$$;
COMMENT ON FUNCTION httpq._claim_reads_front() IS 'Whether the session''s next claim reads each channel from its front.';

-- A claim read from the front in `took`: how long until the next one does.
CREATE FUNCTION httpq._claim_read_front(took interval) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    slow integer := CASE WHEN took < interval '2 milliseconds' THEN 0
                         ELSE coalesce(nullif(current_setting('httpq.claim_slow_reads', true), '')::integer, 0) + 1 END;
BEGIN
    IF slow = 0 AND coalesce(current_setting('httpq.claim_slow_reads', true), '') IN ('', '0')
       AND coalesce(current_setting('httpq.claim_front_every', true), '') = '' THEN
        RETURN;   -- cheap, and it was: every claim reads from the front, nothing to note
    END IF;
    -- Three slow reads in a row: one alone is more likely a session's first claim (which
    -- plans its statements) or a busy machine than a front that stays costly.
    PERFORM set_config('httpq.claim_slow_reads', slow::text, false);
    PERFORM set_config('httpq.claim_front_period',
                       CASE WHEN slow < 3 THEN interval '0' ELSE least(took * 25, interval '2 seconds') END::text, false);
    PERFORM set_config('httpq.claim_front_read_at', clock_timestamp()::text, false);
END;
$$;
COMMENT ON FUNCTION httpq._claim_read_front(interval) IS 'Sets when the session''s next claim reads from the front again.';

-- The session setting that holds a channel's position.
CREATE FUNCTION httpq._position_setting(channel text) RETURNS text
LANGUAGE sql IMMUTABLE
-- No SET clause, every name qualified: inlined into its callers (see httpq._now).
AS $$
    SELECT 'httpq.claim_position_' OPERATOR(pg_catalog.||)
           (pg_catalog.hashtext(channel) OPERATOR(pg_catalog.&) 2147483647)::pg_catalog.text
$$;
COMMENT ON FUNCTION httpq._position_setting(text) IS 'The name of the session setting with a channel''s claim position.';

-- The position of the last request this session claimed from a channel, or NULL.
CREATE FUNCTION httpq._claim_position(channel text) RETURNS httpq._position
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- channel, priority, run_at, id; names never hold a line break (httpq._problem)
    parts text[] := string_to_array(current_setting(httpq._position_setting(channel), true), E'\n');
BEGIN
    IF parts[1] IS DISTINCT FROM channel THEN
        RETURN NULL;   -- none, or another channel's under the same hash
    END IF;
    RETURN ROW(parts[2]::integer, parts[3]::timestamptz, parts[4]::bigint)::httpq._position;
END;
$$;
COMMENT ON FUNCTION httpq._claim_position(text) IS 'The session''s claim position in a channel, or NULL.';

-- Remembers the last request this session claimed from a channel.
CREATE FUNCTION httpq._claim_remember(channel text, pos httpq._position) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM set_config(httpq._position_setting(channel),
                       concat_ws(E'\n', channel, pos.priority, pos.run_at, pos.id), false);
END;
$$;
COMMENT ON FUNCTION httpq._claim_remember(text, httpq._position) IS 'Remembers the session''s claim position in a channel.';

-- Of the named channels, up to max_count unpaused ones not held by their circuit breaker
-- (sql/57_breaker.sql), least recently served first: the channels a claim visits, those
-- httpq._waiting_channels found with work or, reading from positions, those found before.
-- One primary-key probe per name (OFFSET 0 keeps it a nested probe: as a join, the planner
-- may read the whole channel table, whose size follows every channel ever used; seen:
-- 1,934 pages with 50,000 channels).
CREATE FUNCTION httpq._known_channels(names text[], max_count integer) RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (SELECT array_agg(c.name ORDER BY c.served_at, c.name)
    FROM (
        SELECT c.name, c.served_at
        FROM unnest(names) AS n(name)
        CROSS JOIN LATERAL (SELECT c.name, c.served_at, c.paused, c.breaker_state, c.breaker_probe_at FROM httpq.channel c
                            WHERE c.name = n.name OFFSET 0) AS c
        WHERE NOT c.paused AND (c.breaker_state = 'closed' OR c.breaker_probe_at <= httpq._now())
        ORDER BY c.served_at, c.name
        LIMIT max_count
    ) AS c);
END;
$$;
COMMENT ON FUNCTION httpq._known_channels(text[], integer)
    IS 'Unpaused channels among those named, not held by their breaker, least recently served first.';
