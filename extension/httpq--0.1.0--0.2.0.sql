-- httpq 0.1.0 -> 0.2.0: ALTER EXTENSION httpq UPDATE, or `httpq install --plain` on a
-- plain 0.1.0 install. Brings an installed 0.1.0 to exactly the catalog a fresh 0.2.0
-- install has (make test compares them), keeping every request.
--
-- Runs in one transaction. Workers of 0.1.0 may keep running: their statements wait for
-- the upgrade's locks, then find the 0.2.0 functions (see README, Upgrading).

-- Guard: only a 0.1.0 install takes this script. 0.1.0 has no httpq.version(); a plain
-- install given the script a second time stops here, before anything changes.
DO $$
BEGIN
    IF to_regprocedure('httpq.version()') IS NOT NULL THEN
        RAISE EXCEPTION 'httpq is at version % already; this script upgrades 0.1.0', httpq.version()
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'httpq install upgrades a plain install from whatever version it is at.';
    END IF;
    IF to_regclass('httpq.request') IS NULL THEN
        RAISE EXCEPTION 'httpq 0.1.0 is not installed in this database'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
END;
$$;

-- Every table this script changes, locked up front in the order reports and claims take
-- them (request, then channel and history): a worker's statement in flight then waits for
-- the upgrade instead of deadlocking with it halfway.
LOCK TABLE httpq.request, httpq.channel, httpq.history IN ACCESS EXCLUSIVE MODE;

-- Version marker: httpq.version(), which `httpq install` reads on a plain install (see
-- sql/00_schema.sql). Replaced by each later upgrade script.
CREATE FUNCTION httpq.version() RETURNS text
LANGUAGE sql IMMUTABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT '0.2.0'
$$;
COMMENT ON FUNCTION httpq.version() IS 'The installed version of httpq.';
REVOKE ALL ON FUNCTION httpq.version() FROM PUBLIC;

-- A request's place in request_claimable_idx within its channel (sql/48_claim_position.sql),
-- before the functions below that use it.
CREATE TYPE httpq._position AS (
    priority integer,
    run_at   timestamptz,
    id       bigint
);

-- Live queue: scheduled requests apart from due ones; fencing by (id, attempt)
--
-- A waiting request whose run_at has not come becomes 'scheduled' (the claim makes it
-- waiting once due), so claims never read past requests they cannot take.
ALTER TABLE httpq.request DROP CONSTRAINT state_is_live;
ALTER TABLE httpq.request ADD CONSTRAINT state_is_live CHECK (state IN ('waiting', 'scheduled', 'blocked', 'running'));
DROP INDEX httpq.request_key_head;
UPDATE httpq.request SET state = 'scheduled' WHERE state = 'waiting' AND run_at > now();
CREATE UNIQUE INDEX request_key_head ON httpq.request (channel, ordering_key)
    WHERE ordering_key IS NOT NULL AND state IN ('waiting', 'scheduled', 'running');
DROP INDEX httpq.request_due_idx;
CREATE INDEX request_scheduled_idx ON httpq.request (run_at) WHERE state = 'scheduled';
CREATE INDEX request_scheduled_channel_idx ON httpq.request (channel, run_at, id) WHERE state = 'scheduled';


-- Raises a clear error unless ids and attempts name claims pairwise.
CREATE OR REPLACE FUNCTION httpq._check_claims(ids bigint[], attempts integer[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF ids IS NULL OR attempts IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', CASE WHEN ids IS NULL THEN 'ids' ELSE 'attempts' END
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF cardinality(ids) <> cardinality(attempts) THEN
        RAISE EXCEPTION 'ids and attempts must have the same length, got % and %', cardinality(ids), cardinality(attempts)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'attempts[i] is the attempt number the claim of ids[i] returned.';
    END IF;
    IF array_position(ids, NULL) IS NOT NULL OR array_position(attempts, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'ids and attempts must not contain NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._check_claims(bigint[], integer[])
    IS 'Raises an error unless ids and attempts are two NULL-free arrays of the same length.';

-- Extends the leases of a worker's running claims; returns how many were extended.
CREATE OR REPLACE FUNCTION httpq.heartbeat(worker text, ids bigint[], attempts integer[], lease interval DEFAULT '1 minute')
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan   -- see httpq.claim
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    now_at   constant timestamptz := httpq._now();
    extended integer;
BEGIN
    PERFORM httpq._check_worker(worker);
    PERFORM httpq._check_lease(lease);
    PERFORM httpq._check_claims(ids, attempts);
    UPDATE httpq.request r
    SET lease_until = now_at + heartbeat.lease
    FROM unnest(heartbeat.ids, heartbeat.attempts) AS c(id, attempt)
    -- Running, said as lease_until IS NOT NULL: see httpq.report. id = ANY keeps the
    -- request side a primary-key read whichever side the session's plan puts first.
    WHERE r.id = c.id AND r.attempt = c.attempt AND r.worker = heartbeat.worker AND r.lease_until IS NOT NULL
      AND r.id = ANY (heartbeat.ids);
    GET DIAGNOSTICS extended = ROW_COUNT;
    RETURN extended;
END;
$$;
COMMENT ON FUNCTION httpq.heartbeat(text, bigint[], integer[], interval)
    IS 'Extends the leases of the worker''s running claims (id, attempt) to now() + lease; returns how many.';

-- Hands a worker's claims back unattempted (clean shutdown): they wait again. The attempt
-- does not count against max_attempts, but its number is not reused: the next claim gets a
-- new one, so a late report of the released attempt can never apply to the next.
CREATE OR REPLACE FUNCTION httpq.release(worker text, ids bigint[], attempts integer[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan   -- see httpq.claim
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    now_at   constant timestamptz := httpq._now();
    released integer;
BEGIN
    PERFORM httpq._check_worker(worker);
    PERFORM httpq._check_claims(ids, attempts);
    UPDATE httpq.request r
    SET state = 'waiting', attempt_floor = r.attempt_floor + 1, worker = NULL, lease_until = NULL,
        log = r.log || jsonb_build_array(jsonb_build_object(
            'attempt', r.attempt, 'at', now_at, 'worker', r.worker, 'status', NULL,
            'error', 'released: the worker stopped before it was sent'))
    FROM unnest(release.ids, release.attempts) AS c(id, attempt)
    -- Running, said as lease_until IS NOT NULL, and id = ANY: see httpq.heartbeat.
    WHERE r.id = c.id AND r.attempt = c.attempt AND r.worker = release.worker AND r.lease_until IS NOT NULL
      AND r.id = ANY (release.ids);
    GET DIAGNOSTICS released = ROW_COUNT;
    IF released > 0 THEN
        PERFORM httpq._wake_workers();
    END IF;
    RETURN released;
END;
$$;
COMMENT ON FUNCTION httpq.release(text, bigint[], integer[])
    IS 'Hands the worker''s running claims (id, attempt) back to waiting; the attempt does not count. Returns how many.';

-- Makes scheduled requests whose run_at has come waiting (claimable), oldest first, at
-- most max_count of them (of the named channels, or all); returns how many. Rows another
-- transaction holds (a cancel, a concurrent claim waking them) are left to the next claim.
CREATE OR REPLACE FUNCTION httpq._wake_scheduled(channels text[], max_count integer, now timestamptz) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    woken integer;
BEGIN
    IF channels IS NULL THEN
        UPDATE httpq.request r SET state = 'waiting'
        WHERE r.id IN (SELECT s.id FROM httpq.request s
                       WHERE s.state = 'scheduled' AND s.run_at <= _wake_scheduled.now
                       ORDER BY s.run_at
                       LIMIT max_count
                       FOR UPDATE SKIP LOCKED);
    ELSE
        -- One probe of request_scheduled_channel_idx per named channel.
        UPDATE httpq.request r SET state = 'waiting'
        WHERE r.id IN (SELECT d.id
                       FROM unnest(channels) AS c(name)
                       CROSS JOIN LATERAL (
                           SELECT s.id FROM httpq.request s
                           WHERE s.channel = c.name AND s.state = 'scheduled' AND s.run_at <= _wake_scheduled.now
                           ORDER BY s.run_at, s.id   -- request_scheduled_channel_idx's order (see there)
                           LIMIT max_count
                           FOR UPDATE SKIP LOCKED) AS d);
    END IF;
    GET DIAGNOSTICS woken = ROW_COUNT;
    RETURN woken;
END;
$$;
COMMENT ON FUNCTION httpq._wake_scheduled(text[], integer, timestamptz)
    IS 'Makes scheduled requests whose run_at has come claimable; returns how many.';

-- The channels that have waiting (due) requests, by a skip scan of request_claimable_idx:
-- one index probe per such channel, so the cost follows the channels with work due, not
-- every channel ever created nor those whose requests are all scheduled for later.
CREATE OR REPLACE FUNCTION httpq._waiting_channels() RETURNS SETOF text
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
COMMENT ON FUNCTION httpq._waiting_channels() IS 'The channels that have waiting requests (a skip scan of request_claimable_idx).';

-- Up to max_count of the named channels, unpaused, with a waiting request, least recently
-- served first. Probed one by one: a worker that serves some channels never reads the
-- others. (A claim of all channels finds them by httpq._waiting_channels.)
CREATE OR REPLACE FUNCTION httpq._ready_channels(channels text[], max_count integer) RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET enable_indexonlyscan = off   -- see _waiting_channels
AS $$
BEGIN
    RETURN (SELECT array_agg(c.name ORDER BY c.served_at, c.name)
    FROM (
        SELECT c.name, c.served_at
        FROM httpq.channel c
        WHERE c.name = ANY (_ready_channels.channels) AND NOT c.paused
          AND EXISTS (SELECT 1 FROM httpq.request r WHERE r.channel = c.name AND r.state = 'waiting')
        ORDER BY c.served_at, c.name
        LIMIT _ready_channels.max_count
    ) AS c);
END;
$$;
COMMENT ON FUNCTION httpq._ready_channels(text[], integer)
    IS 'Unpaused channels among those named with a waiting request, least recently served first.';

-- Claims up to max_count requests for a worker, leased until now() + lease, with bodies
-- of at most max_bytes in all (but always one request, when any is ready). A worker keeps
-- one channel from taking all its transfers with per_channel, the most one channel may
-- get, and channel_room, less for the channels named: {"channel": n, ...}.
CREATE OR REPLACE FUNCTION httpq.claim(
    worker       text,
    max_count    integer DEFAULT 100,
    channels     text[] DEFAULT NULL,
    lease        interval DEFAULT '1 minute',
    max_bytes    bigint DEFAULT NULL,
    per_channel  integer DEFAULT NULL,
    channel_room jsonb DEFAULT NULL
) RETURNS SETOF httpq.claimed
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- Generic plans from the first call, here and in the functions it calls: a busy worker
-- claims hundreds of times a second, and custom plans were made anew on every call (0.5 ms
-- of a 1 ms claim of 10, measured). A generic plan lasts the session, so it must not
-- depend on the table's size when it was made: a worker that starts on an empty queue
-- planned its UPDATE by ids as a scan of the whole table, 24 ms a claim once 50,000 waited.
-- So no sequential scans and no hash or merge joins: every statement here reads through
-- an index, whatever the planner believes of the tables. (The same in report, heartbeat,
-- release, _finish and enqueue_many.)
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    now_at   constant timestamptz := httpq._now();
    wanted   integer := max_count;
    ready    text[];
    hungry   text[];
    ch       httpq.channel;
    locked   boolean;
    alone    boolean;
    front    boolean;
    noting   boolean;
    known    text[];
    walk_started timestamptz;
    walked   interval;
    pos      httpq._position;
    last     httpq._position;
    last_priority integer;
    last_run_at   timestamptz;
    last_id       bigint;
    quota    integer;
    room     integer;
    room_left jsonb := coalesce(channel_room, '{}');
    bytes_left bigint := max_bytes;
    took_bytes bigint;
    allowed  integer;
    bucket   numeric;
    sealed   jsonb;
    take_ids bigint[];
    late_ids bigint[];
    got      integer;
BEGIN
    -- The rules of httpq._check_worker and _check_lease, which raise the errors: calling them
    -- on every claim cost 20 and 8 us.
    IF worker IS NULL OR worker = '' OR length(worker) > 200 OR worker ~ '[\x01-\x1f\x7f-\x9f]' THEN
        PERFORM httpq._check_worker(worker);
    END IF;
    IF max_count IS NULL OR max_count NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'max_count must be between 1 and 10000, got %', coalesce(max_count::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lease IS NULL OR lease < interval '1 second' OR lease > interval '1 day' THEN
        PERFORM httpq._check_lease(lease);
    END IF;
    IF max_bytes < 1 THEN
        RAISE EXCEPTION 'max_bytes must be positive or NULL, got %', max_bytes USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF per_channel < 1 THEN
        RAISE EXCEPTION 'per_channel must be positive or NULL, got %', per_channel USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(room_left) <> 'object' OR jsonb_path_exists(room_left, '$.* ? (@.type() != "number" || @ < 0 || @.floor() != @)') THEN
        RAISE EXCEPTION 'channel_room must be a JSON object of channel names and whole numbers of at least 0'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- The claim commits like any transaction (synchronous_commit as configured): a claim
    -- lost in a crash would hand its attempt number out again, and fencing relies on each
    -- (id, attempt) naming one claim only.
    -- Each step only when it has work, which most claims find none of. The earliest lease
    -- and run_at are read in index order (a generic plan of `run_at <= now_at` may scan the
    -- table instead). Leases are looked at once a second per session: a lease expires
    -- only when its worker is gone, and while another transaction holds back vacuum the
    -- front of request_lease_idx is the entries of every request reported since. (Always
    -- under the test clock, which tests move at will.)
    IF coalesce(current_setting('httpq.leases_checked_at', true), '') = ''
       OR current_setting('httpq.leases_checked_at')::timestamptz <= now_at - interval '1 second'
       OR coalesce(current_setting('httpq.now', true), '') <> '' THEN
        IF (SELECT r.lease_until FROM httpq.request r WHERE r.state = 'running' ORDER BY r.lease_until LIMIT 1) < now_at THEN
            PERFORM httpq._expire_leases(now_at);
        END IF;
        PERFORM set_config('httpq.leases_checked_at', now_at::text, false);
    END IF;
    IF (SELECT r.run_at FROM httpq.request r WHERE r.state = 'scheduled' ORDER BY r.run_at LIMIT 1) <= now_at THEN
        PERFORM httpq._wake_scheduled(claim.channels, least(10 * max_count, 10000), now_at);
    END IF;
    PERFORM httpq._promote_deferred();
    -- From the front of each channel, or from where this session last claimed
    -- (sql/48_claim_position.sql).
    -- Positions are noted only once reads from the front have been slow (or the period is fixed).
    noting := coalesce(current_setting('httpq.claim_slow_reads', true), '') NOT IN ('', '0')
              OR coalesce(current_setting('httpq.claim_front_every', true), '') <> '';
    known := CASE WHEN claim.channels IS NULL THEN nullif(current_setting('httpq.claim_channels', true), '')::text[] END;
    -- (A claim of all channels reads from positions only the channels a read from the front
    -- found with work; none known, it reads from the front.)
    front := httpq._claim_reads_front() OR (claim.channels IS NULL AND coalesce(cardinality(known), 0) = 0);
    walk_started := clock_timestamp();
    IF front AND claim.channels IS NULL THEN
        -- Every channel with work (the skip scan), kept for the reads from positions.
        known := ARRAY(SELECT httpq._waiting_channels());
        ready := httpq._known_channels(known, max_count);
        IF noting THEN
            PERFORM set_config('httpq.claim_channels', known::text, false);
        END IF;
    ELSIF front THEN
        ready := httpq._ready_channels(claim.channels, max_count);
    ELSE
        ready := httpq._known_channels(coalesce(claim.channels, known), max_count);
    END IF;
    walked := clock_timestamp() - walk_started;
    -- Fewer channels than asked for means every channel with work is here.
    alone := front AND cardinality(ready) = 1 AND max_count > 1;

    -- Round-robin: each channel gets an equal share of what is still wanted; what a
    -- channel cannot use goes to those after it, and a second round to those that filled.
    WHILE wanted > 0 AND cardinality(ready) > 0 LOOP
        hungry := '{}';
        FOR i IN 1 .. cardinality(ready) LOOP
            EXIT WHEN wanted = 0;
            quota := ceil(wanted::numeric / (cardinality(ready) - i + 1));
            -- What the worker leaves this channel: room_left counts down over the rounds.
            room := coalesce((room_left ->> ready[i])::integer, per_channel);
            IF room IS NOT NULL THEN
                CONTINUE WHEN room = 0;
                quota := least(quota, room);
            END IF;
            -- The channel's pause fence, shared: httpq.pause takes it exclusively, so it
            -- waits for every claim serving the channel, and a claim that comes while pause
            -- waits is refused it and skips the channel. paused is then read after the
            -- fence is held: no claim takes from a channel once pause has returned.
            CONTINUE WHEN NOT pg_try_advisory_xact_lock_shared(1752461427, hashtext(ready[i]));
            -- The row lock serializes claims of a limited channel across workers. An
            -- unlimited channel another claimer holds is still served: SKIP LOCKED on its
            -- requests keeps the two apart; only its bookkeeping waits for the next claim.
            -- The one channel ready, unlimited, needs no bookkeeping at all: its place in line
            -- (served_at) matters only next to others (a write saved on most busy claims).
            SELECT * INTO ch FROM httpq.channel c WHERE c.name = ready[i];
            locked := false;
            IF NOT alone OR ch.max_concurrency IS NOT NULL OR ch.rate_per_second IS NOT NULL THEN
                SELECT * INTO ch FROM httpq.channel c WHERE c.name = ready[i] FOR NO KEY UPDATE SKIP LOCKED;
                locked := FOUND;
                IF NOT locked THEN
                    SELECT * INTO ch FROM httpq.channel c WHERE c.name = ready[i];
                    CONTINUE WHEN ch.max_concurrency IS NOT NULL OR ch.rate_per_second IS NOT NULL;
                END IF;
            END IF;
            CONTINUE WHEN ch.paused;

            SELECT a.allowed, a.bucket INTO allowed, bucket FROM httpq._allowance(ch, quota, now_at) AS a;
            -- The channel's signing keys and AWS credentials, sealed, read once per channel and
            -- handed with each request.
            sealed := CASE WHEN ch.aws_credentials IS NOT NULL THEN httpq._sealed(ch.signing_keys || ch.aws_credentials, ch.owner)
                           WHEN cardinality(ch.signing_keys) > 0 THEN httpq._sealed(ch.signing_keys, ch.owner) END;

            got := 0;
            take_ids := NULL;
            late_ids := NULL;
            pos := CASE WHEN NOT front THEN httpq._claim_position(ch.name) END;
            walk_started := clock_timestamp();
            IF allowed > 0 AND pos IS NULL THEN
                SELECT array_agg(p.id) FILTER (WHERE NOT p.late), array_agg(p.id) FILTER (WHERE p.late),
                       (array_agg(p.priority ORDER BY p.priority DESC, p.run_at DESC, p.id DESC))[1],
                       (array_agg(p.run_at ORDER BY p.priority DESC, p.run_at DESC, p.id DESC))[1],
                       (array_agg(p.id ORDER BY p.priority DESC, p.run_at DESC, p.id DESC))[1],
                       sum(p.size)
                INTO take_ids, late_ids, last_priority, last_run_at, last_id, took_bytes
                FROM (
                    -- The bytes before each request, to stop at bytes_left (see below).
                    SELECT p.*, sum(p.size) OVER (ORDER BY p.priority, p.run_at, p.id) - p.size AS before
                    FROM (
                        SELECT r.id, r.priority, r.run_at, coalesce(r.deadline <= now_at, false) AS late,
                               coalesce(octet_length(r.body), 0) AS size
                        FROM httpq.request r
                        WHERE r.channel = ch.name AND r.state = 'waiting' AND r.run_at <= now_at
                        ORDER BY r.priority, r.run_at, r.id
                        LIMIT allowed
                        FOR UPDATE SKIP LOCKED
                    ) AS p
                ) AS p
                -- Within bytes_left, or the claim's first request, whatever its size.
                WHERE bytes_left IS NULL OR p.before + p.size <= bytes_left OR (p.before = 0 AND bytes_left = max_bytes);
            ELSIF allowed > 0 THEN
                -- From the position: what is after it, and the same priority's requests of the
                -- 100 ms before it, each an index range of its own.
                SELECT array_agg(p.id) FILTER (WHERE NOT p.late), array_agg(p.id) FILTER (WHERE p.late),
                       (array_agg(p.priority ORDER BY p.priority DESC, p.run_at DESC, p.id DESC))[1],
                       (array_agg(p.run_at ORDER BY p.priority DESC, p.run_at DESC, p.id DESC))[1],
                       (array_agg(p.id ORDER BY p.priority DESC, p.run_at DESC, p.id DESC))[1],
                       sum(p.size)
                INTO take_ids, late_ids, last_priority, last_run_at, last_id, took_bytes
                FROM (SELECT p.*, sum(p.size) OVER (ORDER BY p.priority, p.run_at, p.id) - p.size AS before FROM (
                    SELECT * FROM (
                        SELECT r.id, r.priority, r.run_at, coalesce(r.deadline <= now_at, false) AS late,
                               coalesce(octet_length(r.body), 0) AS size
                        FROM httpq.request r
                        WHERE r.channel = ch.name AND r.state = 'waiting' AND r.run_at <= now_at
                          AND r.priority = pos.priority
                          AND r.run_at >= pos.run_at - interval '100 milliseconds'
                          AND (r.run_at, r.id) < (pos.run_at, pos.id)
                        ORDER BY r.priority, r.run_at, r.id
                        LIMIT allowed
                        FOR UPDATE SKIP LOCKED) AS just_before
                    UNION ALL
                    SELECT * FROM (
                        SELECT r.id, r.priority, r.run_at, coalesce(r.deadline <= now_at, false) AS late,
                               coalesce(octet_length(r.body), 0) AS size
                        FROM httpq.request r
                        WHERE r.channel = ch.name AND r.state = 'waiting' AND r.run_at <= now_at
                          AND (r.priority, r.run_at, r.id) > (pos.priority, pos.run_at, pos.id)
                        ORDER BY r.priority, r.run_at, r.id
                        LIMIT allowed
                        FOR UPDATE SKIP LOCKED) AS after
                    ORDER BY 2, 3, 1
                    LIMIT allowed
                ) AS p) AS p
                WHERE bytes_left IS NULL OR p.before + p.size <= bytes_left OR (p.before = 0 AND bytes_left = max_bytes);
            END IF;
            walked := walked + (clock_timestamp() - walk_started);
            IF allowed > 0 THEN
                last := ROW(last_priority, last_run_at, last_id)::httpq._position;   -- the last taken
                IF (noting OR NOT front) AND last_id IS NOT NULL AND (pos IS NULL OR last > pos) THEN
                    PERFORM httpq._claim_remember(ch.name, last);
                END IF;

                RETURN QUERY
                    UPDATE httpq.request r
                    SET state = 'running', attempt = r.attempt + 1, worker = claim.worker,
                        lease_until = now_at + claim.lease
                    WHERE r.id = ANY (take_ids)
                    RETURNING r.id, r.attempt, r.channel, r.method, r.url, r.headers, r.body,
                              coalesce(r.timeout_ms, ch.timeout_ms), ch.allowed_networks, ch.signing_keys,
                              CASE WHEN r.secrets IS NULL THEN sealed
                                   ELSE coalesce(sealed, '{}') || httpq._sealed(r.secrets, ch.owner) END,
                              ch.aws_sigv4, ch.aws_credentials;
                GET DIAGNOSTICS got = ROW_COUNT;
                IF room IS NOT NULL THEN
                    room_left := jsonb_set(room_left, ARRAY[ch.name], to_jsonb(room - got));
                END IF;
                bytes_left := bytes_left - coalesce(took_bytes, 0);

                IF late_ids IS NOT NULL THEN
                    PERFORM httpq._finish(ARRAY(
                        SELECT ROW(id, 'dead', 'deadline passed before an attempt could start',
                                   NULL, NULL, NULL, NULL, NULL)::httpq._ending
                        FROM unnest(late_ids) AS id));
                END IF;
                wanted := CASE WHEN bytes_left < 0 OR bytes_left = 0 THEN 0 ELSE wanted - got END;
                IF got + cardinality(coalesce(late_ids, '{}')) = quota AND (room IS NULL OR room > got) THEN
                    hungry := hungry || ch.name;
                END IF;
            END IF;

            -- A visited channel goes to the back of the line even when its limits gave it
            -- nothing: otherwise a channel at its limit, first in line, would take every
            -- small claim's place and starve the channels behind it.
            -- (Not an unlimited channel that gave nothing: a read from positions visits
            -- channels without work, and each write leaves a row version behind.)
            IF locked AND (got > 0 OR late_ids IS NOT NULL OR ch.max_concurrency IS NOT NULL
                           OR ch.rate_per_second IS NOT NULL) THEN
                UPDATE httpq.channel c
                SET served_at = clock_timestamp(),
                    tokens = CASE WHEN ch.rate_per_second IS NOT NULL THEN bucket - got ELSE c.tokens END,
                    tokens_at = CASE WHEN ch.rate_per_second IS NOT NULL THEN now_at ELSE c.tokens_at END
                WHERE c.name = ch.name;
            END IF;
        END LOOP;
        ready := hungry;
    END LOOP;
    IF front THEN
        -- How long reading the front took: finding the channels and their requests, not
        -- updating and returning what was taken.
        PERFORM httpq._claim_read_front(walked);
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq.claim(text, integer, text[], interval, bigint, integer, jsonb)
    IS 'Claims up to max_count ready requests (max_bytes of bodies) for a worker: fair across channels, within their limits, leased.';

-- The earliest moment a claim may find new work that is not ready yet: the next
-- scheduled run_at, or when a rate-limited channel with waiting work earns its next token.
-- In the past when scheduled requests are due but not yet made waiting.
CREATE OR REPLACE FUNCTION httpq.next_run_at(channels text[] DEFAULT NULL) RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT least(
        CASE WHEN next_run_at.channels IS NULL
             THEN (SELECT min(r.run_at) FROM httpq.request r WHERE r.state = 'scheduled')
             ELSE (SELECT min(next.run_at)
                   FROM unnest(next_run_at.channels) AS c(name)
                   -- Ordered as request_scheduled_channel_idx: by run_at alone, the planner
                   -- may walk the global index past every other channel's scheduled requests.
                   CROSS JOIN LATERAL (SELECT r.run_at FROM httpq.request r
                                       WHERE r.channel = c.name AND r.state = 'scheduled'
                                       ORDER BY r.run_at, r.id
                                       LIMIT 1) AS next) END,
        (SELECT min(c.tokens_at + make_interval(secs => ((1 - c.tokens) / c.rate_per_second)::float8))
         FROM httpq.channel c
         WHERE c.rate_per_second IS NOT NULL AND c.tokens < 1 AND NOT c.paused
           AND (next_run_at.channels IS NULL OR c.name = ANY (next_run_at.channels))
           AND EXISTS (SELECT 1 FROM httpq.request r WHERE r.channel = c.name AND r.state = 'waiting')))
$$;
COMMENT ON FUNCTION httpq.next_run_at(text[])
    IS 'When a worker should claim again at the latest: the next scheduled request or rate-limit token.';

-- Takes the locks of the keys an enqueue adds to. Under READ COMMITTED the enqueue's next
-- statement then sees every head committed before the lock was granted. An older snapshot
-- (REPEATABLE READ, SERIALIZABLE) may still see a head that has finished since: locking the
-- heads it sees turns that into a serialization failure (40001) for the application to
-- retry, instead of a request blocked forever behind a head that is gone.
CREATE OR REPLACE FUNCTION httpq._lock_keys_to_enqueue(channels text[], keys text[]) RETURNS void
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
            WHERE h.state IN ('waiting', 'scheduled', 'running')
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
CREATE OR REPLACE FUNCTION httpq._promote(channels text[], keys text[]) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    now_at   constant timestamptz := httpq._now();
    promoted integer;
BEGIN
    UPDATE httpq.request r SET state = CASE WHEN r.run_at > now_at THEN 'scheduled' ELSE 'waiting' END
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
                      WHERE h.channel = u.c AND h.ordering_key = u.k AND h.state IN ('waiting', 'scheduled', 'running'))
      AND NOT EXISTS (SELECT 1 FROM httpq.held_key hk WHERE hk.channel = u.c AND hk.ordering_key = u.k);
    GET DIAGNOSTICS promoted = ROW_COUNT;
    IF promoted > 0 THEN
        PERFORM httpq._wake_workers();
    END IF;
    RETURN promoted;
END;
$$;
COMMENT ON FUNCTION httpq._promote(text[], text[]) IS 'Promotes the oldest blocked request of each headless, unheld ordering key.';

-- Enqueues many requests in one statement; returns their ids in the order given. A
-- request whose dedupe_key matches an unfinished request returns that request's id.
CREATE OR REPLACE FUNCTION httpq.enqueue_many(requests httpq.new_request[]) RETURNS SETOF bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- Generic plans from the first call: the statements here take whole arrays, so a plan made
-- for one call's values fits every call, and planning the INSERT anew each time cost more
-- than running it (0.5 ms against 0.16 ms for one request). Index reads only, as in
-- httpq.claim (see there).
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    now_at   constant timestamptz := httpq._now();
    n        integer := cardinality(requests);
    ids      bigint[];
    inserted integer;
    keyed    boolean;
    deduped  boolean;
    secret_names text[];
BEGIN
    IF requests IS NULL THEN
        RAISE EXCEPTION 'requests must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF n = 0 THEN
        RETURN;
    END IF;
    IF n = 1 AND requests[1].ordering_key IS NULL AND requests[1].dedupe_key IS NULL THEN
        RETURN NEXT httpq._enqueue_one(requests[1], now_at);
        RETURN;
    END IF;

    PERFORM httpq._check_requests(requests, now_at);

    SELECT bool_or(x.ordering_key IS NOT NULL), bool_or(x.dedupe_key IS NOT NULL),
           array_agg(nextval('httpq.request_id_seq'))
    INTO keyed, deduped, ids
    FROM unnest(requests) AS x;

    PERFORM httpq._ensure_channels(ARRAY(SELECT DISTINCT x.channel FROM unnest(requests) AS x));
    -- Before anything that reads the channel's requests (dedupe keys, ordering keys): a
    -- role may neither squat nor probe another tenant's keys.
    PERFORM httpq._check_owner(ARRAY(SELECT DISTINCT x.channel FROM unnest(requests) AS x), 'enqueue into');
    secret_names := ARRAY(SELECT DISTINCT unnest(httpq._secret_names(h.headers))
                          FROM (SELECT DISTINCT x.headers FROM unnest(requests) AS x) AS h);
    IF cardinality(secret_names) > 0 THEN
        -- Each channel's owner (the caller, for a shared one) must be able to use its secrets.
        PERFORM httpq._check_secret_use(u.names, 'headers', u.role)
        FROM (SELECT coalesce(c.owner, httpq._caller()) AS role, array_agg(DISTINCT n.name) AS names
              FROM unnest(requests) AS x
              JOIN httpq.channel c ON c.name = x.channel
              CROSS JOIN LATERAL unnest(httpq._secret_names(x.headers)) AS n(name)
              GROUP BY 1) AS u;
    END IF;
    PERFORM httpq._refuse_body(x.channel, octet_length(x.body), c.max_body_bytes,
                               CASE WHEN n > 1 THEN format('request %s of %s', x.position, n) END)
    FROM unnest(requests) WITH ORDINALITY AS x(url, method, headers, body, channel, ordering_key, run_at, max_attempts,
                                               deadline, idempotency_key, dedupe_key, priority, timeout_ms, notify, position)
    JOIN httpq.channel c ON c.name = x.channel
    WHERE octet_length(x.body) > c.max_body_bytes;
    IF keyed THEN
        PERFORM httpq._lock_keys_to_enqueue(ARRAY(SELECT x.channel FROM unnest(requests) AS x),
                                            ARRAY(SELECT x.ordering_key FROM unnest(requests) AS x));
    END IF;

    INSERT INTO httpq.request AS r (id, channel, state, priority, run_at, method, url, headers, body,
                                    ordering_key, dedupe_key, idempotency_key, max_attempts, timeout_ms, deadline, secrets,
                                    notify)
    SELECT u.id, u.channel,
           CASE WHEN u.ordering_key IS NULL THEN u.unblocked_state
                WHEN u.key_rank = 1
                     -- No unfinished request of the key: no head (request_key_head), no
                     -- follower (request_blocked_idx).
                     AND NOT EXISTS (SELECT 1 FROM httpq.request h
                                     WHERE h.channel = u.channel AND h.ordering_key = u.ordering_key
                                       AND h.state IN ('waiting', 'scheduled', 'running'))
                     AND NOT EXISTS (SELECT 1 FROM httpq.request h
                                     WHERE h.channel = u.channel AND h.ordering_key = u.ordering_key
                                       AND h.state = 'blocked')
                     AND NOT EXISTS (SELECT 1 FROM httpq.held_key hk
                                     WHERE hk.channel = u.channel AND hk.ordering_key = u.ordering_key)
                THEN u.unblocked_state
                ELSE 'blocked' END,
           u.priority, u.run_at, u.method, u.url,
           CASE WHEN h.value IS NULL THEN u.headers || jsonb_build_object('Idempotency-Key', k.value) ELSE u.headers END,
           u.body, u.ordering_key, u.dedupe_key, k.value, u.max_attempts, u.timeout_ms, u.deadline,
           CASE WHEN cardinality(secret_names) > 0 THEN httpq._secret_names(u.headers) END,
           coalesce(u.notify, false)
    FROM (
        SELECT y.*,
               CASE WHEN y.run_at > now_at THEN 'scheduled' ELSE 'waiting' END AS unblocked_state,
               CASE WHEN y.ordering_key IS NOT NULL
                    THEN row_number() OVER (PARTITION BY y.channel, y.ordering_key ORDER BY y.ord) END AS key_rank
        FROM (
            SELECT x.*,
                   CASE WHEN x.dedupe_key IS NOT NULL
                        THEN row_number() OVER (PARTITION BY x.channel, x.dedupe_key ORDER BY x.ord) END AS dedupe_rank
            FROM unnest(requests, ids) WITH ORDINALITY
                 AS x(url, method, headers, body, channel, ordering_key, run_at, max_attempts, deadline,
                      idempotency_key, dedupe_key, priority, timeout_ms, notify, id, ord)
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
        PERFORM httpq._wake_workers();
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
                  idempotency_key, dedupe_key, priority, timeout_ms, notify, id, ord)
        ORDER BY x.ord;
END;
$$;
COMMENT ON FUNCTION httpq.enqueue_many(httpq.new_request[])
    IS 'Enqueues many requests in one statement (build them with httpq.new_request); returns their ids in order.';

-- Applies a batch of outcomes; returns how many were applied.
CREATE OR REPLACE FUNCTION httpq.report(worker text, outcomes jsonb) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan   -- see httpq.claim
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    now_at  constant timestamptz := httpq._now();
    retried integer;
    endings httpq._ending[];
BEGIN
    -- httpq._check_worker's rule, which raises the error (a call on every report cost 20 us).
    IF worker IS NULL OR worker = '' OR length(worker) > 200 OR worker ~ '[\x01-\x1f\x7f-\x9f]' THEN
        PERFORM httpq._check_worker(worker);
    END IF;
    IF jsonb_typeof(outcomes) IS DISTINCT FROM 'array'
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(outcomes) AS e WHERE jsonb_typeof(e) <> 'object') THEN
        RAISE EXCEPTION 'outcomes must be a JSON array of objects'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Each object: id, attempt, status, headers, body (base64), error, duration_ms, refused, unsent.';
    END IF;

    -- Each outcome is read on its own (httpq._read_outcomes): one a worker got wrong is a
    -- failed attempt that says so, and the rest of the batch applies.
    WITH o AS (
        SELECT * FROM unnest(httpq._read_outcomes(outcomes)) AS o
    ), decided AS (
        SELECT r.id, o.status, o.headers, o.body, v.state, v.run_at, v.reason, o.unsent,
               CASE WHEN o.status BETWEEN 200 AND 299 THEN NULL
                    ELSE coalesce(o.error, aws.error, 'HTTP ' || o.status, 'no response') END AS error,
               jsonb_build_object('attempt', o.attempt, 'at', now_at, 'worker', report.worker,
                                  'status', o.status, 'error', coalesce(o.error, aws.error), 'duration_ms', o.duration_ms)
                   || CASE WHEN o.unsent THEN '{"unsent": true}'::jsonb ELSE '{}' END AS entry
        FROM o
        -- LATERAL: one primary-key probe per outcome, whatever the planner guesses of the
        -- JSON's row count (a join was planned as a rescan of the outcomes per running row).
        CROSS JOIN LATERAL (
            SELECT r.* FROM httpq.request r
            -- lease_until IS NOT NULL means running (running_iff_leased), and unlike state =
            -- 'running' it does not let the planner read request_lease_idx whole for each id:
            -- a generic plan made while few requests ran did (0.3 ms an outcome at 200 running).
            WHERE r.id = o.id AND r.attempt = o.attempt AND r.worker = report.worker AND r.lease_until IS NOT NULL
            LIMIT 1   -- at most one row by id anyway; it also keeps the subquery from being flattened
            FOR UPDATE
        ) AS r
        -- A primary-key probe per outcome too (OFFSET 0 keeps it one): as a join, the plan
        -- cached for the session may read every channel once per outcome.
        CROSS JOIN LATERAL (SELECT c.max_attempts, c.backoff_base, c.backoff_max, c.retry_after_max, c.aws_sigv4 FROM httpq.channel c
                            WHERE c.name = r.channel OFFSET 0) AS c
        -- An AWS error answer on a channel that signs for AWS: its code and message are the
        -- attempt's error, and throttling or a transient error is retried, as a 503 would be.
        CROSS JOIN LATERAL (SELECT e[1] AS code,
                                   CASE WHEN e IS NOT NULL THEN format('AWS %s: %s (HTTP %s)', e[1], coalesce(e[2], 'no message'), o.status) END
                                       AS error
                            FROM (SELECT CASE WHEN c.aws_sigv4 IS NOT NULL AND o.status >= 300
                                              THEN httpq._aws_error(o.headers, o.body) END) AS a(e)) AS aws
        -- A 2xx needs no decision: the function call is for the others only.
        CROSS JOIN LATERAL (
            SELECT 'delivered', NULL::timestamptz, NULL::text WHERE o.status BETWEEN 200 AND 299
            UNION ALL
            SELECT 'dead', NULL::timestamptz, o.error WHERE o.refused
            UNION ALL
            -- Not sent (the worker cannot open a secret it names): the configuration is at
            -- fault, not the request, so the attempt does not count; it waits a minute (at
            -- most backoff_max) for the configuration to be fixed, unless its deadline is past.
            SELECT CASE WHEN r.deadline <= now_at THEN 'dead' ELSE 'waiting' END,
                   CASE WHEN r.deadline > now_at OR r.deadline IS NULL
                        THEN now_at + least(c.backoff_max, interval '1 minute') END,
                   CASE WHEN r.deadline <= now_at THEN 'deadline passed' END
            WHERE o.unsent AND NOT o.refused
            UNION ALL
            SELECT * FROM httpq._verdict(CASE WHEN aws.code IS NOT NULL AND o.status < 500 AND httpq._aws_retryable(aws.code)
                                              THEN 503 ELSE o.status END,
                                         o.headers ->> 'retry-after', r.attempt - r.attempt_floor,
                                         coalesce(r.max_attempts, c.max_attempts), r.deadline,
                                         c.backoff_base, c.backoff_max, coalesce(c.retry_after_max, c.backoff_max),
                                         random(), now_at)
            WHERE (o.status IS NULL OR o.status NOT BETWEEN 200 AND 299) AND NOT o.refused AND NOT o.unsent
        ) AS v(state, run_at, reason)
    ), again AS (
        UPDATE httpq.request r
        SET state = CASE WHEN d.run_at > now_at THEN 'scheduled' ELSE 'waiting' END,
            run_at = d.run_at, worker = NULL, lease_until = NULL,
            attempt_floor = r.attempt_floor + CASE WHEN d.unsent THEN 1 ELSE 0 END,
            last_status = d.status, last_error = d.error,
            -- Unsent again for the same reason: the last entry counts it (repeated), so a
            -- request waiting a day for its secret keeps one entry, not one a minute.
            log = CASE WHEN d.unsent AND r.log -> -1 ->> 'unsent' = 'true' AND r.log -> -1 ->> 'error' = d.error
                       THEN jsonb_set(r.log, '{-1}', d.entry || jsonb_build_object(
                                'repeated', coalesce((r.log -> -1 ->> 'repeated')::integer, 1) + 1))
                       ELSE r.log || jsonb_build_array(d.entry) END
        FROM decided AS d
        WHERE r.id = d.id AND d.state = 'waiting'
        RETURNING r.id
    )
    SELECT (SELECT count(*) FROM again),
           array_agg(ROW(d.id, d.state, d.reason, d.status, d.headers, d.body, d.error, d.entry)::httpq._ending)
               FILTER (WHERE d.state <> 'waiting')
    INTO retried, endings
    FROM decided AS d;

    RETURN retried + httpq._finish(endings);
END;
$$;
COMMENT ON FUNCTION httpq.report(text, jsonb)
    IS 'Applies a batch of attempt outcomes from the worker holding the claims; returns how many were applied.';

-- Brings a dead or canceled request back to the live queue, or why it cannot come back
-- (NULL when it came back, '' when there is no such dead or canceled request).
CREATE OR REPLACE FUNCTION httpq._revive(id bigint) RETURNS text
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
                                                              AND r.state IN ('waiting', 'scheduled', 'running'))
                AND NOT EXISTS (SELECT 1 FROM httpq.request r WHERE r.channel = h.channel AND r.ordering_key = h.ordering_key
                                                              AND r.state = 'blocked')
                AND NOT EXISTS (SELECT 1 FROM httpq.held_key k WHERE k.channel = h.channel AND k.ordering_key = h.ordering_key);
    END IF;
    INSERT INTO httpq.request (id, channel, state, priority, run_at, attempt, attempt_floor, method, url, headers, body,
                               ordering_key, dedupe_key, idempotency_key, max_attempts, timeout_ms, deadline,
                               created_at, last_status, last_error, log, secrets)
    VALUES (h.id, h.channel, CASE WHEN head THEN 'waiting' ELSE 'blocked' END, h.priority, now_at, h.attempt,
            h.attempt, h.method, h.url, h.headers, h.body, h.ordering_key, h.dedupe_key, h.idempotency_key,
            h.max_attempts, h.timeout_ms, h.deadline, h.created_at, h.last_status, h.last_error, h.log,
            httpq._secret_names(h.headers));
    DELETE FROM httpq.history x WHERE x.id = h.id;
    IF NOT head THEN
        -- A key this request held has only blocked requests left: the oldest, often this
        -- one, becomes its head. (A key with a head or another hold promotes nothing.)
        PERFORM httpq._promote(ARRAY[h.channel], ARRAY[h.ordering_key]);
    END IF;
    PERFORM httpq._wake_workers();
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION httpq._revive(bigint) IS 'Moves a dead or canceled request back to waiting, or says why it cannot.';

-- Sends a request again: a dead or canceled one goes back to waiting with a fresh attempt
-- budget; a waiting one in backoff is due at once. False when there is nothing to retry
-- (delivered, running, or no such request).
CREATE OR REPLACE FUNCTION httpq.retry(id bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    problem text;
BEGIN
    IF id IS NULL THEN
        RAISE EXCEPTION 'id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM httpq._check_request_operator(retry.id, 'retry requests of');
    UPDATE httpq.request r SET run_at = httpq._now(), state = 'waiting'
    WHERE r.id = retry.id AND r.state = 'scheduled';
    IF FOUND THEN
        PERFORM httpq._wake_workers();
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

-- Stops claims from a channel; its requests wait. Creates the channel if needed.
CREATE OR REPLACE FUNCTION httpq.pause(channel text) RETURNS void
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
    UPDATE httpq.channel c SET paused = true WHERE c.name = pause.channel;
END;
$$;
COMMENT ON FUNCTION httpq.pause(text) IS 'Stops claims from a channel until httpq.resume; requests keep waiting.';

-- Every request, live and finished. A request scheduled for later, or blocked behind an
-- earlier one of its ordering key, is 'waiting' here (blocked = true for the latter).
CREATE OR REPLACE VIEW httpq.requests AS
    SELECT r.id, r.channel,
           CASE WHEN r.state IN ('blocked', 'scheduled') THEN 'waiting' ELSE r.state END AS state,
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


REVOKE ALL ON FUNCTION httpq._check_claims(bigint[], integer[]), httpq.heartbeat(text, bigint[], integer[], interval),
    httpq.release(text, bigint[], integer[]), httpq._wake_scheduled(text[], integer, timestamptz),
    httpq._ready_channels(text[], integer) FROM PUBLIC;

-- heartbeat and release now take the attempts of the claims they name: the roles that
-- could execute the 0.1.0 functions may execute the new ones, then the old ones go.
DO $$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT CASE p.proname WHEN 'heartbeat' THEN 'httpq.heartbeat(text, bigint[], integer[], interval)'
                              ELSE 'httpq.release(text, bigint[], integer[])' END AS function,
               a.grantee::regrole AS grantee
        FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) AS a
        WHERE p.oid IN ('httpq.heartbeat(text, bigint[], interval)'::regprocedure,
                        'httpq.release(text, bigint[])'::regprocedure)
          AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner AND a.grantee <> 0
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s', g.function, g.grantee);
    END LOOP;
END;
$$;
DROP FUNCTION httpq.heartbeat(text, bigint[], interval);
DROP FUNCTION httpq.release(text, bigint[]);
DROP FUNCTION httpq._ready_channels(text[], integer, timestamptz);

-- History: partitioned by finished_at
--
-- httpq.history becomes a table partitioned by UTC day of finished_at, with a default
-- partition (sql/20_request.sql; the days are httpq.maintain's, sql/80_history.sql). The
-- 0.1.0 table is attached as it is, as one more partition: everything finished before the
-- end of today (or of its last row's day), named history_before_YYYYMMDD. Attaching reads
-- the table once, to check that bound, and writes nothing; a copy would rewrite every row
-- and index while workers wait for this transaction. A copy into the default partition
-- would also keep the default large for a retention period, and creating each day scans
-- the default under a lock that stops the reports landing there. Like the days, the
-- attached table is no member of the extension: maintain trims it row by row as its rows
-- expire (as 0.1.0's purge did) and drops it once nothing in it must be kept. It keeps its
-- key on id, which serves lookups by id as well.
--
-- Objects outside httpq built on the 0.1.0 table (views, materialized views, functions with
-- a SQL-standard body, foreign keys, triggers, policies) would go on reading the old table,
-- or break the upgrade, or later keep maintain from dropping it. The upgrade stops first,
-- naming them; httpq's own views are defined again on the new table below.
DO $$
DECLARE
    own  constant oid[] := ARRAY['httpq.requests'::regclass, 'httpq.attempts'::regclass,
                                 'httpq.responses'::regclass, 'httpq.stats'::regclass]::oid[];
    list text;
BEGIN
    SELECT string_agg(DISTINCT o.what, ', ' ORDER BY o.what) INTO list
    FROM pg_catalog.pg_depend d
    LEFT JOIN pg_catalog.pg_rewrite r ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND r.oid = d.objid
    LEFT JOIN pg_catalog.pg_trigger t ON d.classid = 'pg_catalog.pg_trigger'::regclass AND t.oid = d.objid
    LEFT JOIN pg_catalog.pg_constraint k ON d.classid = 'pg_catalog.pg_constraint'::regclass AND k.oid = d.objid
    CROSS JOIN LATERAL (SELECT CASE WHEN r.rulename = '_RETURN'
                                    THEN pg_catalog.pg_describe_object('pg_catalog.pg_class'::regclass, r.ev_class, 0)
                                    ELSE pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) END) AS o(what)
    WHERE ((d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = 'httpq.history'::regclass)
           OR (d.refclassid = 'pg_catalog.pg_type'::regclass AND d.refobjid = 'httpq.history'::regtype))
      AND (d.deptype = 'n'
           OR (d.deptype = 'a' AND d.classid IN ('pg_catalog.pg_trigger'::regclass, 'pg_catalog.pg_policy'::regclass,
                                                 'pg_catalog.pg_rewrite'::regclass,
                                                 'pg_catalog.pg_publication_rel'::regclass)
               AND t.tgisinternal IS NOT TRUE))
      AND (r.ev_class IS NULL OR r.ev_class <> ALL (own))
      AND k.conrelid IS DISTINCT FROM 'httpq.history'::regclass;   -- its own checks go with it
    IF list IS NOT NULL THEN
        RAISE EXCEPTION 'httpq cannot be upgraded while other objects depend on table httpq.history: %', list
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'The upgrade replaces httpq.history with a table partitioned by day.',
                  HINT = 'Tables are not a public interface: drop those objects, upgrade, then create them again '
                         'on the views httpq.requests, httpq.responses and httpq.attempts, or on the new httpq.history.';
    END IF;
END;
$$;

-- After the request table's changes: reports lock httpq.request before httpq.history, and
-- so does this script, so a report in flight finishes first instead of deadlocking with it.
DO $$
DECLARE
    member  constant boolean := EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'httpq');
    last_at timestamptz;
    bound   timestamptz;
    legacy  text;
    g       record;
BEGIN
    -- The last finished_at, by the channel index per channel and state: no scan of the
    -- table for it. The channels are those of the history itself, found by a skip scan of
    -- the same index (a channel row may have been deleted by hand, its history not).
    WITH RECURSIVE present(channel) AS (
        (SELECT h.channel FROM httpq.history h ORDER BY h.channel LIMIT 1)
        UNION ALL
        SELECT (SELECT h.channel FROM httpq.history h WHERE h.channel > p.channel ORDER BY h.channel LIMIT 1)
        FROM present AS p
        WHERE p.channel IS NOT NULL
    )
    SELECT max(m.at) INTO last_at
    FROM present AS c, unnest(ARRAY['delivered', 'dead', 'canceled']) AS s(state),
         LATERAL (SELECT max(h.finished_at) AS at FROM httpq.history h
                  WHERE h.channel = c.channel AND h.state = s.state) AS m
    WHERE c.channel IS NOT NULL;
    bound := date_trunc('day', greatest(now(), last_at), 'UTC') + interval '24 hours';
    legacy := 'history_before_' || to_char(bound AT TIME ZONE 'UTC', 'YYYYMMDD');

    IF member THEN
        ALTER EXTENSION httpq DROP TABLE httpq.history;   -- also leaves extconfig
    END IF;
    EXECUTE format('ALTER INDEX httpq.history_pkey RENAME TO %I', legacy || '_pkey');
    EXECUTE format('ALTER INDEX httpq.history_channel_idx RENAME TO %I', legacy || '_channel_state_finished_at_idx');
    EXECUTE format('ALTER TABLE httpq.history RENAME TO %I', legacy);

    CREATE TABLE httpq.history (
        id               bigint NOT NULL,
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
    ) PARTITION BY RANGE (finished_at);
    CREATE TABLE httpq.history_default PARTITION OF httpq.history DEFAULT
        WITH (autovacuum_vacuum_insert_scale_factor = 0.05);
    ALTER TABLE httpq.history_default ADD CONSTRAINT history_default_pkey PRIMARY KEY (id, finished_at);
    CREATE INDEX history_default_channel_state_finished_at_idx ON httpq.history_default (channel, state, finished_at);
    REVOKE ALL ON TABLE httpq.history, httpq.history_default FROM PUBLIC;
    -- The grants a DBA gave on the 0.1.0 table (to read the history directly) carry over,
    -- on the table and on columns; its owner's are the owner's anyway.
    FOR g IN
        SELECT a.privilege_type, a.grantee, a.is_grantable, NULL::name AS col
        FROM pg_class c, aclexplode(c.relacl) AS a
        WHERE c.oid = to_regclass('httpq.' || quote_ident(legacy)) AND a.grantee <> c.relowner
        UNION ALL
        SELECT a.privilege_type, a.grantee, a.is_grantable, t.attname
        FROM pg_attribute t, aclexplode(t.attacl) AS a
        WHERE t.attrelid = to_regclass('httpq.' || quote_ident(legacy)) AND t.attnum > 0 AND NOT t.attisdropped
    LOOP
        EXECUTE format('GRANT %s%s ON TABLE httpq.history TO %s%s', g.privilege_type,
                       ' (' || quote_ident(g.col) || ')',
                       CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::regrole::text END,
                       CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
    IF member THEN
        PERFORM pg_extension_config_dump('httpq.history', '');
        PERFORM pg_extension_config_dump('httpq.history_default', '');
    END IF;
    EXECUTE format('ALTER TABLE httpq.history ATTACH PARTITION httpq.%I FOR VALUES FROM (MINVALUE) TO (%L)',
                   legacy, bound);
END;
$$;

-- httpq's views name the old table by its oid: each is defined again, as in
-- sql/90_views.sql, on the new one (CREATE OR REPLACE keeps their grants and comments).
CREATE OR REPLACE VIEW httpq.requests AS
    SELECT r.id, r.channel,
           CASE WHEN r.state IN ('blocked', 'scheduled') THEN 'waiting' ELSE r.state END AS state,
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

CREATE OR REPLACE VIEW httpq.attempts AS
    SELECT x.id, a.attempt, a.at, a.worker, a.status, a.error, a.duration_ms
    FROM (SELECT r.id, r.log FROM httpq.request r UNION ALL SELECT h.id, h.log FROM httpq.history h) AS x,
         jsonb_to_recordset(x.log) AS a(attempt integer, at timestamptz, worker text, status integer, error text,
                                        duration_ms numeric);

CREATE OR REPLACE VIEW httpq.responses AS
    SELECT h.id, h.channel, h.state, h.last_status AS status, h.response_headers AS headers,
           h.response_body AS body, h.finished_at
    FROM httpq.history h;

CREATE OR REPLACE VIEW httpq.stats AS
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

-- Retention on the partitions: httpq.maintain for the worker's maintenance connection, and
-- httpq.purge (same signature) reimplemented on them: as in sql/80_history.sql.

-- The partitions of httpq.history and their bounds: [lower_at, upper_at), with -infinity
-- for no lower bound; the default partition as (-infinity, infinity).
CREATE FUNCTION httpq._history_partitions()
RETURNS TABLE (part regclass, lower_at timestamptz, upper_at timestamptz, is_default boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
AS $$
    SELECT b.part,
           CASE WHEN b.m IS NULL OR b.m[1] = 'MINVALUE' THEN '-infinity' ELSE btrim(b.m[1], '''')::timestamptz END,
           CASE WHEN b.m IS NULL OR b.m[2] = 'MAXVALUE' THEN 'infinity' ELSE btrim(b.m[2], '''')::timestamptz END,
           b.m IS NULL
    FROM (SELECT i.inhrelid::regclass AS part,
                 regexp_match(pg_get_expr(c.relpartbound, c.oid), '^FOR VALUES FROM \((.*)\) TO \((.*)\)$') AS m
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'httpq.history'::regclass) AS b
$$;
COMMENT ON FUNCTION httpq._history_partitions()
    IS 'The partitions of httpq.history with their bounds; the default one as (-infinity, infinity).';

-- Creates the partition of the UTC day starting at day, moving that day's rows out of the
-- default partition: 'created', 'crowded' (the default partition holds more than max_rows
-- rows; NULL: no bound), 'busy' (today, while reports land in the default partition),
-- 'writing' (a day that has begun, while transactions writing the history kept SHARE on it
-- beyond lock_timeout) or 'locked' (the default partition's lock was not granted).
CREATE FUNCTION httpq._history_add_day(day timestamptz, max_rows integer) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '50ms'
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
AS $$
DECLARE
    upper_at  constant timestamptz := day + interval '24 hours';   -- a UTC day has 24
    part_name constant text := 'history_' || to_char(day AT TIME ZONE 'UTC', 'YYYYMMDD');
BEGIN
    -- ATTACH reads the whole default partition under ACCESS EXCLUSIVE (reads of the history
    -- and reports landing there wait): only while it is small. Trimming shrinks it.
    IF max_rows IS NOT NULL
       AND (SELECT count(*) FROM (SELECT 1 FROM httpq.history_default d LIMIT max_rows + 1) AS s) > max_rows THEN
        RETURN 'crowded';
    END IF;
    -- Today's rows already in the default partition: reports land there, and moving them
    -- would hold every report back meanwhile. They stay; the days ahead are made.
    IF day <= httpq._now() AND EXISTS (SELECT 1 FROM httpq.history_default d
                                       WHERE d.finished_at >= day AND d.finished_at < upper_at) THEN
        RETURN 'busy';
    END IF;
    -- A report that began before an ATTACH commits routes its row with the partitions it saw
    -- then. For a day that has begun (or begins within minutes) that is the default partition,
    -- whose constraint, once the ATTACH commits, refuses the row: the report would fail with
    -- 23514, and the worker drops an outcome the database refused as data, so the request
    -- would be sent again after its lease. So such a day is attached only under SHARE on
    -- httpq.history: granted once no transaction that writes the history is running, and
    -- holding new ones back until maintain commits, which it does at once after creating a
    -- day (they then see the new partition). Rows that landed between the check above and
    -- the lock are moved with the day's. Days further ahead take no such lock: no report
    -- writes a day that has not begun.
    IF day <= httpq._now() + interval '5 minutes' THEN
        BEGIN
            LOCK TABLE ONLY httpq.history IN SHARE MODE;
        EXCEPTION WHEN lock_not_available THEN
            RETURN 'writing';
        END;
    END IF;
    -- CREATE TABLE ... PARTITION OF would lock httpq.history ACCESS EXCLUSIVE and queue every
    -- report behind it. A table created apart and then attached locks httpq.history only
    -- SHARE UPDATE EXCLUSIVE (reports and reads go on), and the default partition ACCESS
    -- EXCLUSIVE. Locked before the day's rows are moved: a row committed between the move
    -- and the lock would stay behind, and the ATTACH would fail on it.
    LOCK TABLE httpq.history_default IN ACCESS EXCLUSIVE MODE;
    -- The default partition is the model: columns, checks, key and channel index (named
    -- after the day), and the storage parameter.
    EXECUTE format('CREATE TABLE httpq.%I (LIKE httpq.history_default INCLUDING CONSTRAINTS INCLUDING INDEXES) '
                   'WITH (autovacuum_vacuum_insert_scale_factor = 0.05)', part_name);
    EXECUTE format('WITH moved AS (DELETE FROM httpq.history_default d
                                   WHERE d.finished_at >= $1 AND d.finished_at < $2 RETURNING d.*)
                    INSERT INTO httpq.%I SELECT * FROM moved', part_name)
    USING day, upper_at;
    EXECUTE format('ALTER TABLE httpq.history ATTACH PARTITION httpq.%I FOR VALUES FROM (%L) TO (%L)',
                   part_name, day, upper_at);
    RETURN 'created';
EXCEPTION WHEN lock_not_available THEN
    RETURN 'locked';
END;
$$;
COMMENT ON FUNCTION httpq._history_add_day(timestamptz, integer)
    IS 'Creates the history partition of one UTC day, moving its rows out of the default partition.';

-- Creates the partitions of today (UTC, by httpq._now()) and of the days_ahead days after
-- it that do not exist yet; returns how many it created.
CREATE FUNCTION httpq._history_add(days_ahead integer, max_rows integer) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
AS $$
DECLARE
    today   constant timestamptz := date_trunc('day', httpq._now(), 'UTC');
    day     timestamptz;
    created integer := 0;
BEGIN
    FOR day IN SELECT today + g * interval '24 hours' FROM generate_series(0, days_ahead) AS g LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM httpq._history_partitions() p
                              WHERE NOT p.is_default AND p.lower_at < day + interval '24 hours' AND p.upper_at > day);
        -- Tomorrow is made however crowded the default partition is: without it, reports
        -- would land there after midnight too, and it would never shrink. One long ATTACH a
        -- day at most, while trimming shrinks it.
        CASE httpq._history_add_day(day, CASE WHEN day = today + interval '24 hours' THEN NULL ELSE max_rows END)
            WHEN 'created' THEN created := created + 1;
            WHEN 'locked' THEN EXIT;   -- the next day would wait for the same lock
            ELSE NULL;                 -- crowded, busy or writing: the day stays in the default partition for now
        END CASE;
    END LOOP;
    RETURN created;
END;
$$;
COMMENT ON FUNCTION httpq._history_add(integer, integer)
    IS 'Creates the missing history partitions of today and the days ahead; returns how many.';

-- The partitions of httpq.history (all, or candidate alone) that a DROP may take whole,
-- oldest first: every row in them is past its retention (its channel's, or older_than), and
-- none of them is a dead request holding its ordering key.
CREATE FUNCTION httpq._history_expired(older_than interval, candidate regclass) RETURNS SETOF regclass
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
AS $$
DECLARE
    now_at constant timestamptz := httpq._now();
    p      record;
    whole  boolean;
BEGIN
    FOR p IN
        SELECT x.part, x.upper_at FROM httpq._history_partitions() x
        WHERE NOT x.is_default
          AND (x.part = candidate   -- checked again: the shortest retention is not read again
               OR candidate IS NULL   -- with no channel yet, nothing is kept
                  AND x.upper_at <= now_at - coalesce(older_than, (SELECT min(c.retention) FROM httpq.channel c), '0'))
        ORDER BY x.upper_at
    LOOP
        -- One probe of httpq.channel per channel present in the partition (a skip scan of its
        -- channel index), until one keeps its rows longer than the partition has been closed;
        -- one probe of the key per held request.
        EXECUTE format($q$
            SELECT NOT EXISTS (
                       WITH RECURSIVE present(channel) AS (
                           (SELECT x.channel FROM %1$s x ORDER BY x.channel LIMIT 1)
                           UNION ALL
                           SELECT (SELECT x.channel FROM %1$s x WHERE x.channel > p.channel ORDER BY x.channel LIMIT 1)
                           FROM present p
                           WHERE p.channel IS NOT NULL)
                       SELECT 1 FROM present p
                       WHERE $2 > $1 - coalesce($3, (SELECT c.retention FROM httpq.channel c WHERE c.name = p.channel)))
               AND NOT EXISTS (SELECT 1 FROM httpq.held_key k JOIN %1$s x ON x.id = k.request_id)
            $q$, p.part)
        INTO whole USING now_at, p.upper_at, older_than;
        IF whole THEN
            RETURN NEXT p.part;
        END IF;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION httpq._history_expired(interval, regclass)
    IS 'The history partitions whose every row is past its retention and holds no ordering key.';

-- Deletes finished requests past their retention (their channel's, or older_than), oldest
-- partitions first, at most max_rows (NULL: all); returns how many. Never a dead request
-- holding its ordering key, nor anything in the partitions spared (to be dropped whole).
-- Unless exact, a row whose partition will be dropped within a day of its retention is left
-- for that drop: only channels keeping less than the partition's span, partitions without
-- an end (default, upgraded), and channels whose every row has expired in a partition kept
-- for other channels' rows, are trimmed.
CREATE FUNCTION httpq._history_trim(older_than interval, max_rows bigint, exact boolean, spared regclass[])
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '50ms'
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
AS $$
DECLARE
    now_at constant timestamptz := httpq._now();
    p      record;
    budget bigint := max_rows;   -- NULL: no bound
    n      bigint;
    total  bigint := 0;
BEGIN
    FOR p IN
        SELECT x.part, x.upper_at,
               CASE WHEN NOT x.is_default AND isfinite(x.lower_at) THEN x.upper_at - x.lower_at END AS span
        FROM httpq._history_partitions() x
        WHERE x.part <> ALL (spared)
          AND x.lower_at < now_at - coalesce(older_than, (SELECT min(c.retention) FROM httpq.channel c))
        ORDER BY x.lower_at, x.upper_at
    LOOP
        EXIT WHEN budget <= 0;
        BEGIN
            -- Channel by channel, those present in the partition (a skip scan of its channel
            -- index), each with its retention (one probe of httpq.channel); the rows by ctid,
            -- so the delete reads no index.
            EXECUTE format($q$
                DELETE FROM %1$s h WHERE h.ctid = ANY (ARRAY(
                    WITH RECURSIVE present(channel) AS (
                        (SELECT x.channel FROM %1$s x ORDER BY x.channel LIMIT 1)
                        UNION ALL
                        SELECT (SELECT x.channel FROM %1$s x WHERE x.channel > p.channel ORDER BY x.channel LIMIT 1)
                        FROM present p
                        WHERE p.channel IS NOT NULL)
                    SELECT x.ctid
                    FROM present p
                    CROSS JOIN LATERAL (SELECT coalesce($2, c.retention) AS kept FROM httpq.channel c
                                        WHERE c.name = p.channel LIMIT 1) AS c
                    JOIN %1$s x ON x.channel = p.channel AND x.state IN ('delivered', 'dead', 'canceled')
                               AND x.finished_at < $1 - c.kept
                    WHERE ($3 OR $4 IS NULL OR c.kept < $4 OR $5 <= $1 - c.kept)
                      AND NOT EXISTS (SELECT 1 FROM httpq.held_key k WHERE k.request_id = x.id)
                    LIMIT $6))
                $q$, p.part)
            USING now_at, older_than, exact, p.span, p.upper_at, budget;
            GET DIAGNOSTICS n = ROW_COUNT;
        EXCEPTION WHEN lock_not_available THEN
            n := 0;   -- rows locked by another transaction for longer than lock_timeout: next time
        END;
        total := total + n;
        budget := budget - n;
    END LOOP;
    RETURN total;
END;
$$;
COMMENT ON FUNCTION httpq._history_trim(interval, bigint, boolean, regclass[])
    IS 'Deletes expired finished requests in bounded slices, sparing held keys and given partitions.';

-- Of the given partitions of httpq.history, those that still hold nothing to keep (see
-- httpq._history_expired), locked SHARE until the end of the transaction and so ready to
-- drop, with how many rows each holds (when counted); and those it kept: busy (a report
-- writing to it held the lock past lock_timeout), or holding a row to keep after all.
CREATE FUNCTION httpq._history_doom(parts regclass[], older_than interval, counted boolean,
                                    OUT doomed regclass[], OUT doomed_rows bigint[], OUT kept regclass[])
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '50ms'
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
AS $$
DECLARE
    n bigint;
BEGIN
    doomed := '{}';
    doomed_rows := '{}';
    kept := '{}';
    FOR i IN 1 .. coalesce(cardinality(parts), 0) LOOP
        BEGIN   -- one subtransaction a partition; the lock it takes stays with the caller's
            -- SHARE waits for the reports writing to the partition and keeps new ones out, so
            -- the check sees every row the drop would take: a report begun before midnight
            -- may write into yesterday after it was found expired.
            EXECUTE format('LOCK TABLE %s IN SHARE MODE', parts[i]);
            IF NOT EXISTS (SELECT 1 FROM httpq._history_expired(older_than, parts[i])) THEN
                kept := kept || parts[i];
                CONTINUE;
            END IF;
            n := 0;
            IF counted THEN
                EXECUTE format('SELECT count(*) FROM %s', parts[i]) INTO n;
            END IF;
            doomed := doomed || parts[i];
            doomed_rows := doomed_rows || n;
        EXCEPTION
            WHEN lock_not_available THEN
                kept := kept || parts[i];
        END;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION httpq._history_doom(regclass[], interval, boolean)
    IS 'Locks and checks history partitions to drop; says which hold nothing to keep, and which it kept.';

-- Drops the partitions httpq._history_doom found expired and holds locked, one after the
-- other with nothing in between: each drop locks httpq.history ACCESS EXCLUSIVE until
-- commit, and reports wait for it. Returns how many it dropped, the rows they held, and
-- those it kept: all from the first it could not lock httpq.history for, and those other
-- objects depend on (a warning names them).
CREATE FUNCTION httpq._history_drop(doomed regclass[], doomed_rows bigint[],
                                    OUT dropped integer, OUT dropped_rows bigint, OUT kept regclass[])
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '50ms'
AS $$
DECLARE
    detail text;
BEGIN
    dropped := 0;
    dropped_rows := 0;
    kept := '{}';
    FOR i IN 1 .. coalesce(cardinality(doomed), 0) LOOP
        BEGIN   -- one subtransaction a partition: a failed drop leaves the others' work
            -- DETACH PARTITION takes the same lock as the drop, and its CONCURRENTLY form,
            -- which would not, cannot run inside a transaction block, so inside a function.
            -- The wait is bounded by lock_timeout (which also ends a deadlock with a report
            -- holding httpq.history and waiting for this partition), and the drop reads no row.
            EXECUTE format('DROP TABLE %s', doomed[i]);
            dropped := dropped + 1;
            dropped_rows := dropped_rows + doomed_rows[i];
        EXCEPTION
            WHEN lock_not_available OR object_in_use THEN   -- in use: by the statement calling this one
                kept := kept || doomed[i:];   -- httpq.history is busy: every drop would wait for it
                EXIT;
            WHEN dependent_objects_still_exist THEN
                GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
                RAISE WARNING 'history partition % is past its retention but was not dropped: %',
                              doomed[i], replace(detail, E'\n', '; ')
                    USING HINT = 'Drop those objects; httpq deletes the partition''s rows meanwhile. Tables are '
                                 'not a public interface: build on the views httpq.requests, httpq.responses '
                                 'and httpq.attempts instead.';
                kept := kept || doomed[i];
        END;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION httpq._history_drop(regclass[], bigint[])
    IS 'Drops the history partitions httpq._history_doom locked; says which it kept.';

-- One short step of history upkeep, for the worker's maintenance connection (about once a
-- minute, and again at once while "more" is true) or for cron. Creates the partitions of
-- today and 3 days ahead, then trims at most max_rows rows, then drops expired partitions.
CREATE FUNCTION httpq.maintain(max_rows integer DEFAULT 10000) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
AS $$
DECLARE
    created     integer;
    expired     regclass[];
    deleted     bigint;
    doomed      regclass[];
    doomed_rows bigint[];
    dropped     integer;
    kept        regclass[];
    undropped   regclass[];
BEGIN
    IF max_rows IS NULL OR max_rows <= 0 THEN
        RAISE EXCEPTION 'max_rows must be positive, got %', coalesce(max_rows::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- One maintainer at a time, and a second one never waits: it has nothing to add. The
    -- lock space is httpq's maintenance; the ordering keys' locks use 1752461425.
    IF NOT pg_try_advisory_xact_lock(1752461426, 0) THEN
        RETURN jsonb_build_object('ran', false);
    END IF;
    -- Three days ahead: an idle system, or a worker stopped over a weekend, still finds each
    -- day's partition ready, and reports never land in the default partition.
    created := httpq._history_add(3, max_rows);
    IF created > 0 THEN
        -- The default partition stays locked until commit: trim and drop in the next call.
        RETURN jsonb_build_object('ran', true, 'more', true, 'partitions_created', created,
                                  'partitions_dropped', 0, 'rows_deleted', 0);
    END IF;
    expired := ARRAY(SELECT httpq._history_expired(NULL, NULL));
    deleted := httpq._history_trim(NULL, max_rows, false, expired);
    SELECT d.doomed, d.doomed_rows, d.kept INTO doomed, doomed_rows, kept FROM httpq._history_doom(expired, NULL, false) AS d;
    SELECT d.dropped, d.kept INTO dropped, undropped FROM httpq._history_drop(doomed, doomed_rows) AS d;
    kept := kept || undropped;
    -- Partitions that could not be dropped (a long transaction holding a lock on the
    -- history, objects depending on them) lose their rows at retention all the same, by
    -- trimming; dropped once empty and free. Only while nothing was dropped: a drop holds
    -- httpq.history until commit, and reports would wait for the trim.
    IF dropped = 0 AND cardinality(kept) > 0 AND deleted < max_rows THEN
        deleted := deleted + httpq._history_trim(NULL, max_rows - deleted, false,
                                                 ARRAY(SELECT x.part FROM httpq._history_partitions() x
                                                       WHERE x.part <> ALL (kept)));
    END IF;
    RETURN jsonb_build_object('ran', true, 'more', deleted >= max_rows, 'partitions_created', 0,
                              'partitions_dropped', dropped, 'rows_deleted', deleted);
END;
$$;
COMMENT ON FUNCTION httpq.maintain(integer)
    IS 'One bounded step of history upkeep: creates, trims (at most max_rows rows) and drops partitions.';

-- Deletes finished requests older than older_than (default: each channel's retention), at
-- most max_rows of them (default: all, dropping whole partitions where it can); returns how
-- many. Exact, unlike httpq.maintain: nothing past its retention is left for a later drop.
CREATE OR REPLACE FUNCTION httpq.purge(older_than interval DEFAULT NULL, max_rows integer DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
AS $$
DECLARE
    expired     regclass[] := '{}';
    dropped     integer;
    doomed      regclass[];
    doomed_rows bigint[];
    kept        regclass[];
    whole       bigint;
    purged      bigint;
BEGIN
    IF older_than < '0' THEN
        RAISE EXCEPTION 'older_than must not be negative, got %', older_than USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_rows <= 0 THEN
        RAISE EXCEPTION 'max_rows must be positive, got %', max_rows USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Asked for explicitly, so it waits for a maintain step in progress rather than skip.
    PERFORM pg_advisory_xact_lock(1752461426, 0);
    IF max_rows IS NULL THEN
        expired := ARRAY(SELECT httpq._history_expired(purge.older_than, NULL));
    END IF;
    purged := httpq._history_trim(purge.older_than, purge.max_rows, true, expired);
    SELECT d.doomed, d.doomed_rows, d.kept INTO doomed, doomed_rows, kept
    FROM httpq._history_doom(expired, purge.older_than, true) AS d;
    -- Partitions that cannot be dropped go row by row instead, before any drop: a drop holds
    -- httpq.history until commit, and reports would wait for the deletes.
    IF cardinality(kept) > 0 THEN
        purged := purged + httpq._history_trim(purge.older_than, NULL, true,
                                               ARRAY(SELECT x.part FROM httpq._history_partitions() x
                                                     WHERE x.part <> ALL (kept)));
    END IF;
    SELECT d.dropped, d.dropped_rows, d.kept INTO dropped, whole, kept FROM httpq._history_drop(doomed, doomed_rows) AS d;
    IF cardinality(kept) > 0 AND dropped = 0 THEN
        -- Not one could be dropped (httpq.history busy, or depended on), so no lock is held:
        -- their rows go row by row too.
        purged := purged + httpq._history_trim(purge.older_than, NULL, true,
                                               ARRAY(SELECT x.part FROM httpq._history_partitions() x
                                                     WHERE x.part <> ALL (kept)));
    END IF;
    RETURN purged + whole;
END;
$$;
COMMENT ON FUNCTION httpq.purge(interval, integer)
    IS 'Deletes finished requests past their channel''s retention (or older_than); returns how many.';

REVOKE ALL ON FUNCTION httpq._history_partitions(), httpq._history_add_day(timestamptz, integer),
    httpq._history_add(integer, integer), httpq._history_expired(interval, regclass),
    httpq._history_trim(interval, bigint, boolean, regclass[]), httpq._history_doom(regclass[], interval, boolean), httpq._history_drop(regclass[], bigint[]),
    httpq.maintain(integer) FROM PUBLIC;

-- The roles that could purge may maintain: a worker of this version calls httpq.maintain.
DO $$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT a.grantee::regrole AS grantee
        FROM pg_proc p, aclexplode(p.proacl) AS a
        WHERE p.oid = 'httpq.purge(interval, integer)'::regprocedure
          AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner AND a.grantee <> 0
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION httpq.maintain(integer) TO %s', g.grantee);
    END LOOP;
END;
$$;
-- (end of History: partitioned by finished_at)

-- Speed: wake-ups, claims and enqueues that cost less
--
-- Enqueues notify only while a worker is idle (httpq.idle, httpq.busy); a claim's fixed
-- cost is off the common path; one request takes a short path; plans are made once.


-- The current time for every queue decision: now(), unless the test-only setting
-- httpq.now names another instant in a superuser's session. Any role can set a custom
-- setting, and the API functions run as their owner, so a role allowed only to claim must
-- not be able to move the queue's clock (and expire everyone's leases).
-- Whether the session's own role (not the function owner a SECURITY DEFINER call runs as)
-- is a superuser.
CREATE OR REPLACE FUNCTION httpq._session_is_superuser() RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = session_user), false)
$$;
COMMENT ON FUNCTION httpq._session_is_superuser() IS 'Whether the session user is a superuser.';

CREATE OR REPLACE FUNCTION httpq._now() RETURNS timestamptz
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

-- Creates the channels that do not exist yet, with default settings, owned by the caller.
CREATE OR REPLACE FUNCTION httpq._ensure_channels(names text[]) RETURNS void
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

-- Called by every transaction that makes requests claimable: notifies if a worker is idle.
CREATE OR REPLACE FUNCTION httpq._wake_workers() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Conditions, not PERFORM: PL/pgSQL evaluates them without a round through the executor.
    -- Key 1 taken: a worker is marking itself idle this very moment (microseconds), so
    -- notify rather than wait for it. Never a wait: any session may take any advisory lock,
    -- and one holding key 1 must not stall every enqueue; it can only cost NOTIFYs.
    IF NOT pg_try_advisory_xact_lock_shared(1752461428, 1)
       OR NOT (pg_try_advisory_lock(1752461428, 0) AND pg_advisory_unlock(1752461428, 0)) THEN
        PERFORM pg_notify('httpq', '');   -- a worker is idle; merged into one per transaction
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._wake_workers() IS 'Notifies channel httpq when a worker is idle (httpq.idle).';

-- Whether this session holds the idle mark. Read from the lock table itself, not kept in a
-- setting: a setting rolls back with its transaction and a session lock does not, so the
-- two could disagree.
CREATE OR REPLACE FUNCTION httpq._marked_idle() RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT 1 FROM pg_locks l
                   WHERE l.pid = pg_backend_pid() AND l.locktype = 'advisory' AND l.granted
                     AND l.classid = 1752461428 AND l.objid = 0 AND l.objsubid = 2)
$$;
COMMENT ON FUNCTION httpq._marked_idle() IS 'Whether the calling session holds the idle mark (httpq.idle).';

-- Marks the calling session's worker idle, so that enqueues notify it; returns true when no
-- transaction that could have missed the mark is still running, that is, when a claim made
-- now sees everything it must. On false, claim again a little later and call it again.
-- Calling it again while marked only asks again. Never waits: a mark that cannot be taken
-- at once (an enqueue looking for idle workers holds it for microseconds) answers false.
CREATE OR REPLACE FUNCTION httpq.idle() RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT httpq._marked_idle() AND NOT pg_try_advisory_lock_shared(1752461428, 0) THEN
        RETURN false;
    END IF;
    -- One expression: an interrupt between the two calls would leave key 1 held, and every
    -- enqueue waiting for it.
    RETURN pg_try_advisory_lock(1752461428, 1) AND pg_advisory_unlock(1752461428, 1);
END;
$$;
COMMENT ON FUNCTION httpq.idle()
    IS 'Marks the session''s worker idle (enqueues then notify); true when a claim now sees every request.';

-- Ends the calling session's idle mark: a worker claiming on its own needs no NOTIFY, and
-- enqueues stop sending them once no worker is marked.
CREATE OR REPLACE FUNCTION httpq.busy() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF httpq._marked_idle() THEN
        PERFORM pg_advisory_unlock_shared(1752461428, 0);
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq.busy() IS 'Ends the session''s idle mark (httpq.idle).';

-- One request without ordering or dedupe key, the commonest enqueue: the row and the checks
-- of httpq.enqueue_many's set-based path, in a third of the statements (half the CPU of
-- the whole enqueue transaction, measured). Keys need the set-based path's locking.
CREATE OR REPLACE FUNCTION httpq._enqueue_one(r httpq.new_request, now_at timestamptz) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    problem    text[] := coalesce(httpq._problem(r, now_at), httpq._headers_problem(r.headers));
    max_body   integer;
    owner      name;
    header_key text;
    key        text;
    secret_names text[];
    new_id     bigint;
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION '%', problem[2] USING ERRCODE = problem[1];
    END IF;
    SELECT c.max_body_bytes, c.owner INTO max_body, owner FROM httpq.channel c WHERE c.name = r.channel;
    IF NOT FOUND THEN
        -- Read again: another role may have created it meanwhile (the insert waited for it).
        PERFORM httpq._ensure_channels(ARRAY[r.channel]);
        SELECT c.max_body_bytes, c.owner INTO max_body, owner FROM httpq.channel c WHERE c.name = r.channel;
    END IF;
    IF owner IS NOT NULL AND owner <> httpq._caller() AND NOT httpq._owns(owner) THEN
        PERFORM httpq._refuse_channel(r.channel, 'enqueue into');
    END IF;
    secret_names := httpq._secret_names(r.headers);
    IF secret_names IS NOT NULL THEN
        PERFORM httpq._check_secret_use(secret_names, 'headers', coalesce(owner, httpq._caller()));
    END IF;
    IF octet_length(r.body) > max_body THEN
        PERFORM httpq._refuse_body(r.channel, octet_length(r.body), max_body, NULL);
    END IF;
    header_key := httpq._header(r.headers, 'Idempotency-Key');
    key := coalesce(r.idempotency_key, header_key, gen_random_uuid()::text);
    INSERT INTO httpq.request (channel, state, priority, run_at, method, url, headers, body,
                               idempotency_key, max_attempts, timeout_ms, deadline, secrets, notify)
    VALUES (r.channel, CASE WHEN r.run_at > now_at THEN 'scheduled' ELSE 'waiting' END, r.priority, r.run_at,
            r.method, r.url,
            CASE WHEN header_key IS NULL THEN r.headers || jsonb_build_object('Idempotency-Key', key) ELSE r.headers END,
            r.body, key, r.max_attempts, r.timeout_ms, r.deadline, secret_names, coalesce(r.notify, false))
    RETURNING id INTO new_id;
    PERFORM httpq._wake_workers();
    RETURN new_id;
END;
$$;
COMMENT ON FUNCTION httpq._enqueue_one(httpq.new_request, timestamptz)
    IS 'Enqueues one request without ordering or dedupe key (httpq.enqueue_many''s path for it).';

-- Enqueues one request with a JSON body; returns its id.
CREATE OR REPLACE FUNCTION httpq.enqueue(
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
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r httpq.new_request;
BEGIN
    -- PL/pgSQL: a SQL body that pins search_path is planned anew on every call.
    r := httpq.new_request(url, body, method, headers, channel, ordering_key, run_at,
                           max_attempts, deadline, idempotency_key, dedupe_key,
                           priority, timeout_ms);
    IF r.ordering_key IS NULL AND r.dedupe_key IS NULL THEN
        RETURN httpq._enqueue_one(r, httpq._now());
    END IF;
    RETURN (SELECT httpq.enqueue_many(ARRAY[r]));
END;
$$;
COMMENT ON FUNCTION httpq.enqueue(text, jsonb, text, jsonb, text, text, timestamptz, integer, timestamptz, text, text, integer, integer)
    IS 'Enqueues one HTTP request with a JSON body inside the caller''s transaction; returns its id.';

-- Enqueues one request with a body of any type (text, form, binary); returns its id.
CREATE OR REPLACE FUNCTION httpq.enqueue_bytes(
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
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r httpq.new_request;
BEGIN
    -- PL/pgSQL: a SQL body that pins search_path is planned anew on every call.
    r := httpq.new_request_bytes(url, body, content_type, method, headers, channel,
                                 ordering_key, run_at, max_attempts, deadline,
                                 idempotency_key, dedupe_key, priority, timeout_ms);
    IF r.ordering_key IS NULL AND r.dedupe_key IS NULL THEN
        RETURN httpq._enqueue_one(r, httpq._now());
    END IF;
    RETURN (SELECT httpq.enqueue_many(ARRAY[r]));
END;
$$;
COMMENT ON FUNCTION httpq.enqueue_bytes(text, bytea, text, text, jsonb, text, text, timestamptz, integer, timestamptz, text, text, integer, integer)
    IS 'Enqueues one HTTP request with a body of any content type inside the caller''s transaction; returns its id.';

-- Lets claims take from a paused channel again, and wakes the workers.
CREATE OR REPLACE FUNCTION httpq.resume(channel text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM httpq._check_channel(resume.channel);
    PERFORM httpq._ensure_channels(ARRAY[resume.channel]);
    PERFORM httpq._check_operator(resume.channel, 'resume');
    UPDATE httpq.channel c SET paused = false WHERE c.name = resume.channel;
    PERFORM httpq._wake_workers();
END;
$$;
COMMENT ON FUNCTION httpq.resume(text) IS 'Lets workers claim from a paused channel again.';

-- Puts running requests whose lease has passed (their worker died) back to waiting; the
-- attempt they used counts. Out of attempts or past the deadline, they are dead.
CREATE OR REPLACE FUNCTION httpq._expire_leases(now timestamptz) RETURNS integer
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

-- 45_finish.sql: how a request leaves the live queue.
--
-- httpq._finish is the one way out of httpq.request: delivered, dead and canceled requests
-- move to httpq.history with their last response, a dead head holds its key where the
-- channel asks for that, and the next request of each key the finished ones headed is
-- promoted. report, claim (deadlines, expired leases) and cancel all end here. A delivered
-- or dead request of a channel with an on_finish hook is then handed to it, and one
-- enqueued with notify is announced on channel httpq_finished (sql/47_await.sql).
CREATE OR REPLACE FUNCTION httpq._finish(endings httpq._ending[]) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan   -- see httpq.claim
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    now_at   constant timestamptz := httpq._now();   -- once: a function call per row costs
    moved    integer;
    channels text[];
    keys     text[];
    ended    bigint[];
    announced bigint[];
BEGIN
    IF cardinality(endings) IS NULL OR cardinality(endings) = 0 THEN
        RETURN 0;
    END IF;

    WITH gone AS (
        DELETE FROM httpq.request r
        USING unnest(endings) AS e
        -- id = ANY keeps the request side a primary-key read whichever side the session's
        -- plan puts first (hash and merge joins are off: see httpq.claim).
        WHERE r.id = e.id AND r.id = ANY (ARRAY(SELECT x.id FROM unnest(endings) AS x))
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
           array_agg(k.ordering_key) FILTER (WHERE k.ordering_key IS NOT NULL),
           array_agg(k.id) FILTER (WHERE k.state <> 'canceled'),
           (SELECT array_agg(g.id ORDER BY g.id) FROM gone AS g WHERE g.notify)
    INTO moved, channels, keys, ended, announced
    FROM kept AS k;

    -- The heads are gone: promote the next of each key under its lock (a concurrent
    -- enqueue of the key has then either committed behind them or will see them gone), or,
    -- while an application holds the lock, at the next claim.
    IF keys IS NOT NULL THEN
        PERFORM httpq._promote_or_defer(channels, keys);
    END IF;
    -- One probe of an index that lists only the channels with a hook: none, nothing more.
    IF ended IS NOT NULL AND EXISTS (SELECT 1 FROM httpq.channel c WHERE c.on_finish IS NOT NULL) THEN
        PERFORM httpq._call_hooks(ended, now_at);
    END IF;
    IF announced IS NOT NULL THEN
        PERFORM pg_notify('httpq_finished', p) FROM httpq._finished_payloads(announced) AS p;
    END IF;
    RETURN moved;
END;
$$;
COMMENT ON FUNCTION httpq._finish(httpq._ending[])
    IS 'Moves finished requests to httpq.history, holds or promotes their ordering keys.';

-- Whether this claim reads from the front of each channel.
CREATE OR REPLACE FUNCTION httpq._claim_reads_front() RETURNS boolean
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
CREATE OR REPLACE FUNCTION httpq._claim_read_front(took interval) RETURNS void
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
CREATE OR REPLACE FUNCTION httpq._position_setting(channel text) RETURNS text
LANGUAGE sql IMMUTABLE
-- No SET clause, every name qualified: inlined into its callers (see httpq._now).
AS $$
    SELECT 'httpq.claim_position_' OPERATOR(pg_catalog.||)
           (pg_catalog.hashtext(channel) OPERATOR(pg_catalog.&) 2147483647)::pg_catalog.text
$$;
COMMENT ON FUNCTION httpq._position_setting(text) IS 'The name of the session setting with a channel''s claim position.';

-- The position of the last request this session claimed from a channel, or NULL.
CREATE OR REPLACE FUNCTION httpq._claim_position(channel text) RETURNS httpq._position
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
CREATE OR REPLACE FUNCTION httpq._claim_remember(channel text, pos httpq._position) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM set_config(httpq._position_setting(channel),
                       concat_ws(E'\n', channel, pos.priority, pos.run_at, pos.id), false);
END;
$$;
COMMENT ON FUNCTION httpq._claim_remember(text, httpq._position) IS 'Remembers the session''s claim position in a channel.';

-- Of the named channels, up to max_count unpaused ones, least recently served first: the
-- channels a claim visits, those httpq._waiting_channels found with work or, reading from
-- positions, those found before. One primary-key probe per name (OFFSET 0 keeps it a nested
-- probe: as a join, the planner may read the whole channel table, whose size follows every
-- channel ever used; seen: 1,934 pages with 50,000 channels).
CREATE OR REPLACE FUNCTION httpq._known_channels(names text[], max_count integer) RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (SELECT array_agg(c.name ORDER BY c.served_at, c.name)
    FROM (
        SELECT c.name, c.served_at
        FROM unnest(names) AS n(name)
        CROSS JOIN LATERAL (SELECT c.name, c.served_at, c.paused FROM httpq.channel c
                            WHERE c.name = n.name OFFSET 0) AS c
        WHERE NOT c.paused
        ORDER BY c.served_at, c.name
        LIMIT max_count
    ) AS c);
END;
$$;
COMMENT ON FUNCTION httpq._known_channels(text[], integer)
    IS 'Unpaused channels among those named, least recently served first.';

REVOKE ALL ON FUNCTION httpq._session_is_superuser(), httpq._wake_workers(), httpq._marked_idle(), httpq.idle(), httpq.busy(),
    httpq._enqueue_one(httpq.new_request, timestamptz), httpq._claim_reads_front(), httpq._claim_read_front(interval),
    httpq._position_setting(text), httpq._claim_position(text), httpq._claim_remember(text, httpq._position),
    httpq._known_channels(text[], integer) FROM PUBLIC;

-- The roles that could claim may mark their worker idle and busy: a worker of this version does.
DO $$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT a.grantee::regrole AS grantee
        FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) AS a
        WHERE p.oid = 'httpq.claim(text, integer, text[], interval)'::regprocedure
          AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner AND a.grantee <> 0
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION httpq.idle(), httpq.busy() TO %s', g.grantee);
    END LOOP;
END;
$$;
-- (end of Speed)

-- Hostile input: bounds at enqueue, where a worker may connect, a worker's share
--
-- Three channel settings (sql/10_channel.sql), added last as a fresh install has them: the
-- networks a worker may reach beyond public addresses, the largest body, and the longest
-- Retry-After obeyed. Requests already queued keep what 0.1.0 accepted; the new bounds
-- apply to what is enqueued from now on.
ALTER TABLE httpq.channel
    ADD COLUMN allowed_networks cidr[] NOT NULL DEFAULT '{}',
    ADD COLUMN max_body_bytes integer NOT NULL DEFAULT 1048576,
    ADD COLUMN retry_after_max interval,
    ADD CONSTRAINT allowed_networks_not_null CHECK (array_position(allowed_networks, NULL) IS NULL),
    ADD CONSTRAINT max_body_bytes_in_range CHECK (max_body_bytes BETWEEN 0 AND 16777216),
    ADD CONSTRAINT retry_after_max_positive CHECK (retry_after_max > '0');

-- The claim hands the worker each request's allowed networks.
ALTER TYPE httpq.claimed ADD ATTRIBUTE allowed_networks cidr[];

-- Tenants and secrets (sql/10_channel.sql, 12_secret.sql, 15_tenant.sql, 20_request.sql):
-- a channel's owner and signing keys, added after the settings above as a fresh install
-- has them. Channels of 0.1.0 get no owner: they stay shared by every role allowed to
-- enqueue, as before, until an admin gives each one (README, Upgrading).
ALTER TABLE httpq.channel
    ADD COLUMN owner name,
    ADD COLUMN signing_keys text[] NOT NULL DEFAULT '{}',
    ADD COLUMN on_finish text,
    ADD CONSTRAINT signing_keys_bounded CHECK (cardinality(signing_keys) <= 10 AND array_position(signing_keys, NULL) IS NULL);
ALTER TABLE httpq.request ADD COLUMN secrets text[];
ALTER TYPE httpq.claimed ADD ATTRIBUTE signing_keys text[], ADD ATTRIBUTE secrets jsonb;
-- Completion hooks: the channels that have one, a finished request's hook error, and the
-- request a hook is called with (sql/00_schema.sql, 10_channel.sql, 45_finish.sql).
CREATE INDEX channel_on_finish_idx ON httpq.channel (name) WHERE on_finish IS NOT NULL;
ALTER TABLE httpq.history ADD COLUMN hook_error text;
-- AWS destinations: a channel's SigV4 provider string and the secret holding its AWS
-- credentials, which the claim hands the worker (sql/10_channel.sql, 00_schema.sql).
ALTER TABLE httpq.channel
    ADD COLUMN aws_sigv4 text,
    ADD COLUMN aws_credentials text,
    ADD CONSTRAINT aws_sigv4_is_valid CHECK (aws_sigv4 ~ '^[A-Za-z0-9_-]+:[A-Za-z0-9_-]+:[A-Za-z0-9-]+:[A-Za-z0-9-]+$' AND length(aws_sigv4) <= 200),
    ADD CONSTRAINT aws_sigv4_with_credentials CHECK ((aws_sigv4 IS NULL) = (aws_credentials IS NULL));
ALTER TYPE httpq.claimed ADD ATTRIBUTE aws_sigv4 text, ADD ATTRIBUTE aws_credentials text;
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

CREATE TABLE httpq.secret (
    name   text PRIMARY KEY,
    owner  name NOT NULL,
    key_id text NOT NULL,
    sealed bytea NOT NULL,
    set_at timestamptz NOT NULL DEFAULT now(),
    set_by name NOT NULL,
    CONSTRAINT name_is_valid CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._:@/-]*$' AND length(name) <= 200),
    CONSTRAINT key_id_is_valid CHECK (key_id ~ '^[0-9a-f]{16}$'),
    CONSTRAINT sealed_length CHECK (octet_length(sealed) BETWEEN 29 AND 65564)
);
CREATE TABLE httpq.role_grant (
    role       name NOT NULL,
    kind       text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (role, kind),
    CONSTRAINT kind_known CHECK (kind IN ('app', 'worker', 'ops', 'admin'))
);
-- Ordering keys lock rows of their own now, not advisory locks any session could hold:
-- every key with unfinished, held or deferred requests gets its row.
CREATE TABLE httpq.key_lock (
    channel      text NOT NULL,
    ordering_key text NOT NULL,
    PRIMARY KEY (channel, ordering_key)
);
INSERT INTO httpq.key_lock (channel, ordering_key)
SELECT r.channel, r.ordering_key FROM httpq.request r WHERE r.ordering_key IS NOT NULL
UNION SELECT k.channel, k.ordering_key FROM httpq.held_key k
UNION SELECT k.channel, k.ordering_key FROM httpq.deferred_key k;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'httpq') THEN
        PERFORM pg_catalog.pg_extension_config_dump('httpq.key_lock', '');
        PERFORM pg_catalog.pg_extension_config_dump('httpq.secret', '');
        PERFORM pg_catalog.pg_extension_config_dump('httpq.role_grant', '');
    END IF;
END;
$$;

-- One outcome as httpq.report applies it (sql/52_outcome.sql).
CREATE TYPE httpq._outcome AS (
    id          bigint,
    attempt     integer,
    status      integer,
    headers     jsonb,
    body        bytea,
    error       text,
    duration_ms numeric,
    refused     boolean,
    unsent      boolean   -- the worker could not send it (a secret it cannot open): retried, not counted
);

-- The outcomes of a report, one per id, or a failed attempt for one that cannot be read.
-- An outcome without a readable id and attempt matches no claim and is left out.
CREATE OR REPLACE FUNCTION httpq._read_outcomes(outcomes jsonb) RETURNS httpq._outcome[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan   -- see httpq.claim
AS $$
BEGIN
    -- The common case in one typed pass, which costs a tenth of reading every field as
    -- JSON first. A value of the wrong type or a body that is not base64 raises; only then
    -- is each outcome read on its own (below). Checks that cannot raise are made here.
    BEGIN
        RETURN ARRAY(
            SELECT CASE WHEN p.problem IS NULL
                        THEN ROW(o.id, o.attempt, o.status, o.headers, decode(o.body, 'base64'), o.error, o.duration_ms,
                                 coalesce(o.refused AND o.status IS NULL, false),
                                 coalesce(o.unsent AND o.status IS NULL, false))::httpq._outcome
                        ELSE ROW(o.id, o.attempt, NULL, NULL, NULL,
                                 'the worker reported an outcome httpq cannot read: ' || p.problem, NULL, false, false)::httpq._outcome END
            FROM (SELECT DISTINCT ON (o.id) o.*
                  FROM jsonb_to_recordset(outcomes) AS o(id bigint, attempt integer, status integer, headers jsonb,
                                                         body text, error text, duration_ms numeric, refused boolean,
                                                         unsent boolean)
                  WHERE o.id IS NOT NULL AND o.attempt IS NOT NULL
                  ORDER BY o.id) AS o
            CROSS JOIN LATERAL (SELECT CASE
                WHEN o.status NOT BETWEEN 100 AND 599 THEN 'status must be null or a whole number from 100 to 599'
                -- A value that is not a string shows in the JSON text as ": " and no quote;
                -- that cheap test first, the exact one only when it matches.
                WHEN o.headers IS NOT NULL AND (jsonb_typeof(o.headers) <> 'object'
                                                OR (o.headers::text ~ '": [^"]'
                                                    AND jsonb_path_exists(o.headers, 'strict $.* ? (@.type() != "string")')))
                    THEN 'headers must be null or an object of strings'
                WHEN length(o.body) > 139810136 THEN 'body must be null or the base64 of at most 104857600 bytes'
                END) AS p(problem));
    EXCEPTION WHEN data_exception THEN
        NULL;   -- some outcome is unreadable as typed: read each on its own
    END;
    RETURN ARRAY(
        SELECT CASE WHEN g.problem IS NULL
                    THEN ROW(g.id, g.attempt, (g.status #>> '{}')::integer, g.headers, decode(g.body #>> '{}', 'base64'),
                             g.error #>> '{}', (g.duration_ms #>> '{}')::numeric,
                             coalesce(g.status IS NULL AND g.refused = 'true', false),
                             coalesce(g.status IS NULL AND g.unsent = 'true', false))::httpq._outcome
                    ELSE ROW(g.id, g.attempt, NULL, NULL, NULL,
                             'the worker reported an outcome httpq cannot read: ' || g.problem, NULL, false, false)::httpq._outcome END
        FROM (SELECT DISTINCT ON (g.id) g.*
              FROM (SELECT CASE WHEN jsonb_typeof(g.id) = 'number' AND g.id::text ~ '^[0-9]{1,18}$' THEN g.id::text::bigint END AS id,
                           CASE WHEN jsonb_typeof(g.attempt) = 'number' AND g.attempt::text ~ '^[0-9]{1,9}$'
                                THEN g.attempt::text::integer END AS attempt,
                           g.status, g.headers, g.body, g.error, g.duration_ms, g.refused, g.unsent,
                           CASE WHEN g.status IS NOT NULL AND (jsonb_typeof(g.status) <> 'number' OR g.status::text !~ '^[1-5][0-9][0-9]$')
                                    THEN 'status must be null or a whole number from 100 to 599'
                                WHEN g.headers IS NOT NULL AND (jsonb_typeof(g.headers) <> 'object'
                                                                OR jsonb_path_exists(g.headers, 'strict $.* ? (@.type() != "string")'))
                                    THEN 'headers must be null or an object of strings'
                                -- What decode() takes, so this path cannot raise.
                                WHEN g.body IS NOT NULL AND (jsonb_typeof(g.body) <> 'string' OR length(g.body #>> '{}') > 139810136
                                                             OR regexp_replace(g.body #>> '{}', '\s+', '', 'g')
                                                                !~ '^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$')
                                    THEN 'body must be null or the base64 of at most 104857600 bytes'
                                WHEN g.error IS NOT NULL AND jsonb_typeof(g.error) <> 'string' THEN 'error must be null or a string'
                                WHEN g.duration_ms IS NOT NULL AND jsonb_typeof(g.duration_ms) <> 'number'
                                    THEN 'duration_ms must be null or a number'
                                WHEN g.refused IS NOT NULL AND jsonb_typeof(g.refused) <> 'boolean' THEN 'refused must be null or a boolean'
                                WHEN g.unsent IS NOT NULL AND jsonb_typeof(g.unsent) <> 'boolean' THEN 'unsent must be null or a boolean'
                           END AS problem
                    FROM jsonb_to_recordset(outcomes)
                         AS g(id jsonb, attempt jsonb, status jsonb, headers jsonb, body jsonb, error jsonb, duration_ms jsonb,
                              refused jsonb, unsent jsonb)) AS g
              WHERE g.id IS NOT NULL AND g.attempt IS NOT NULL
              ORDER BY g.id) AS g);
END;
$$;
COMMENT ON FUNCTION httpq._read_outcomes(jsonb)
    IS 'The outcomes of a report, typed, one per id; one that cannot be read becomes a failed attempt saying why.';


-- A value quoted for an error message: cut at max_length characters, control characters
-- (C0, DEL, C1) shown as \xNN, so an error never carries raw bytes that a terminal or a
-- log reader would act on. Only for values that are no secret: callers never pass a header
-- value or a whole URL.
CREATE OR REPLACE FUNCTION httpq._quoted(value text, max_length integer DEFAULT 100) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    shown text := CASE WHEN length(value) > max_length THEN left(value, max_length) || '…' ELSE value END;
    c     text;
BEGIN
    IF shown ~ '[\x01-\x1f\x7f-\x9f]' THEN
        FOR c IN SELECT DISTINCT m[1] FROM regexp_matches(shown, '([\x01-\x1f\x7f-\x9f])', 'g') AS m LOOP
            shown := replace(shown, c, '\x' || lpad(to_hex(ascii(c)), 2, '0'));
        END LOOP;
    END IF;
    RETURN '''' || replace(shown, '''', '''''') || '''';
END;
$$;
COMMENT ON FUNCTION httpq._quoted(text, integer) IS 'A value for an error message: quoted, cut, control characters escaped.';

-- What is wrong with a set of request headers, as {sqlstate, message}, or NULL. Messages
-- name the header, never its value (it may be a credential).
CREATE OR REPLACE FUNCTION httpq._headers_problem(headers jsonb) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    token   constant text := '^[!#$%&''*+.^_`|~0-9A-Za-z-]+$';   -- RFC 9110 field-name (also in the jsonpath below)
    -- Headers the worker sends from the request itself, and hop-by-hop and proxy headers,
    -- which only the next hop may act on (RFC 9110 7.6.1): a sender's own would smuggle
    -- framing, retarget the request, or talk to a proxy the operator did not choose.
    -- (Also in the jsonpath below.)
    refused constant text := '^(host|content-length|transfer-encoding|connection|keep-alive|te|trailer|upgrade|expect'
                             '|proxy-authorization|proxy-authenticate|proxy-connection|http2-settings)$';
    problem text;
BEGIN
    IF headers IS NULL THEN
        RETURN ARRAY['22004', 'headers must not be NULL (use ''{}'' for none)'];
    ELSIF jsonb_typeof(headers) <> 'object' THEN
        RETURN ARRAY['22023', 'headers must be a JSON object of strings or secret references, got a JSON ' || jsonb_typeof(headers)];
    ELSIF headers = '{}' THEN
        RETURN NULL;
    END IF;
    -- One jsonpath pass finds whether any header is wrong; only then say which and how.
    IF jsonb_path_exists(headers, '$.keyvalue() ? (@.value.type() != "string"
                                   || !(@.key like_regex "^[!#$%&''*+.^_`|~0-9A-Za-z-]+$")
                                   || @.value == ""
                                   || @.value like_regex "[\u0001-\u0008\u000a-\u001f\u007f-\u009f]"
                                   || @.key like_regex "^(host|content-length|transfer-encoding|connection|keep-alive|te|trailer|upgrade|expect|proxy-authorization|proxy-authenticate|proxy-connection|http2-settings)$" flag "i")') THEN
        -- A value may also be a secret reference, {"secret": "NAME"} with an optional
        -- "prefix" (such as "Bearer "): the worker sends the prefix and the secret's value.
        SELECT 'headers: ' || p.problem INTO problem
        FROM jsonb_each(headers) AS h
        CROSS JOIN LATERAL (SELECT CASE
            WHEN h.key !~ token THEN httpq._quoted(h.key) || ' is not a valid header name'
            WHEN lower(h.key) = 'host' THEN quote_literal(h.key) || ' must not be set: the worker sends the url''s host'
            WHEN lower(h.key) IN ('content-length', 'transfer-encoding')
                THEN quote_literal(h.key) || ' must not be set: the worker frames the body itself'
            WHEN lower(h.key) ~ refused THEN quote_literal(h.key) || ' must not be set: it is a hop-by-hop or proxy header'
            WHEN jsonb_typeof(h.value) = 'object' THEN CASE
                WHEN lower(h.key) IN ('idempotency-key', 'content-type')
                    THEN quote_literal(h.key) || ' cannot be a secret reference: httpq reads its value'
                WHEN h.value - 'secret' - 'prefix' <> '{}' OR NOT h.value ? 'secret'
                    THEN 'the value of ' || quote_literal(h.key)
                         || ' must be a string or a secret reference {"secret": "NAME"} with an optional "prefix"'
                WHEN jsonb_typeof(h.value -> 'secret') <> 'string'
                     OR h.value ->> 'secret' !~ '^[A-Za-z0-9][A-Za-z0-9._:@/-]*$' OR length(h.value ->> 'secret') > 200
                    THEN 'the secret of ' || quote_literal(h.key) || ' must be a secret name'
                WHEN h.value ? 'prefix' AND (jsonb_typeof(h.value -> 'prefix') <> 'string'
                                             OR h.value ->> 'prefix' ~ '[\x01-\x08\x0a-\x1f\x7f-\x9f]')
                    THEN 'the prefix of ' || quote_literal(h.key) || ' must be a string without control characters'
                END
            WHEN jsonb_typeof(h.value) <> 'string'
                THEN quote_literal(h.key) || ' is not a string (headers must be a JSON object of strings or secret references)'
            WHEN h.value #>> '{}' = '' THEN 'the value of ' || quote_literal(h.key) || ' is empty: leave the header out'
            WHEN h.value #>> '{}' ~ '[\x01-\x08\x0a-\x1f\x7f-\x9f]'
                THEN 'the value of ' || quote_literal(h.key) || ' contains a control character (only tab is allowed)'
            END) AS p(problem)
        WHERE p.problem IS NOT NULL
        LIMIT 1;
        IF problem IS NOT NULL THEN
            RETURN ARRAY['22023', problem];
        END IF;
    END IF;
    IF octet_length(headers::text) > 65536 THEN
        RETURN ARRAY['22023', 'headers must be at most 65536 bytes in all (as JSON), got ' || octet_length(headers::text)];
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

-- Why a url is not acceptable, in words, once httpq._problem's one regular expression has
-- refused it. Quotes at most the scheme, host or port: a path or query may carry a token,
-- user-info a password.
CREATE OR REPLACE FUNCTION httpq._url_problem(url text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    authority text := substring(url FROM '^[A-Za-z]+://([^/?#]*)');
    host      text := substring(authority FROM '^(\[[^]]*\]|[^:]*)');
    port      text := substring(authority FROM '^(?:\[[^]]*\]|[^:]*):(.*)$');
BEGIN
    RETURN CASE
        WHEN url !~* '^https?://' THEN
            'url must start with http:// or https://'
            || coalesce(', got ' || httpq._quoted(substring(url FROM '^[A-Za-z][A-Za-z0-9+.-]{0,19}:')) || '...', '')
        WHEN url ~ '[\x01-\x20\x7f-\x9f]' THEN
            format('url must not contain spaces or control characters (character %s is one): percent-encode them',
                   length(substring(url FROM '^[^\x01-\x20\x7f-\x9f]*')) + 1)
        WHEN authority LIKE '%@%' THEN
            'url must not contain user-info (user:password@): send credentials in a secret header, such as {"Authorization": {"secret": "NAME", "prefix": "Basic "}} (README, Secrets)'
        WHEN host = '' THEN
            'url must name a host'
        WHEN host ~ '[^\x01-\x7e]' THEN
            'url host must be ASCII: write an internationalized domain name in punycode (xn--...)'
        WHEN (host LIKE '[%' AND host !~* '^\[[0-9a-f:.]+\]$')
             OR (host NOT LIKE '[%' AND host !~* '^[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$') THEN
            'url host ' || httpq._quoted(host)
            || ' is not a valid host: letters, digits, ''-'', ''_'' and dots, or an IP address (IPv6 in brackets)'
        WHEN port IS NOT NULL AND (port !~ '^[1-9][0-9]{0,4}$' OR port::integer > 65535) THEN
            'url port must be a number from 1 to 65535, got ' || httpq._quoted(port, 10)
        ELSE
            'url must be an absolute http(s) URL: scheme, host, optional port, then a path, query or nothing'
    END;
END;
$$;
COMMENT ON FUNCTION httpq._url_problem(text) IS 'Why a url refused by httpq._problem is not acceptable, quoting no path, query or user-info.';

-- Whether text is one IP address (the host of a url, in brackets).
CREATE OR REPLACE FUNCTION httpq._is_ip_address(value text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- The subtransaction of an EXCEPTION block is paid only by urls with a bracketed host.
    RETURN masklen(value::inet) = CASE WHEN family(value::inet) = 4 THEN 32 ELSE 128 END AND value NOT LIKE '%/%';
EXCEPTION WHEN invalid_text_representation THEN
    RETURN false;
END;
$$;
COMMENT ON FUNCTION httpq._is_ip_address(text) IS 'Whether text is one IPv4 or IPv6 address.';

-- What is wrong with a new request apart from its headers, as {sqlstate, message}, or NULL.
-- run_at and deadline may be at most a year after now_at.
CREATE OR REPLACE FUNCTION httpq._problem(r httpq.new_request, now_at timestamptz) RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN CASE
        WHEN r.url IS NULL THEN
            ARRAY['22004', 'url must not be NULL']
        WHEN length(r.url) > 8192 THEN
            ARRAY['22023', 'url must be at most 8192 characters, got ' || length(r.url)]
        -- One expression for every acceptable url; only a refused one is looked at closely.
        -- A port from 1 to 65535; after the host, no space nor control character (C0, DEL, C1).
        WHEN r.url !~* ('^https?://(\[[0-9a-f:.]+\]|[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?)'
                        '(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?'
                        '([/?#][^\x01-\x20\x7f-\x9f]*)?$') THEN
            ARRAY['22023', httpq._url_problem(r.url)]
        WHEN r.url ~ '^https?://\[' AND NOT httpq._is_ip_address(substring(r.url FROM '^https?://\[([^]]*)\]')) THEN
            ARRAY['22023', 'url host ' || httpq._quoted(substring(r.url FROM '^https?://(\[[^]]*\])')) || ' is not an IP address']
        WHEN r.method IS NULL THEN
            ARRAY['22004', 'method must not be NULL']
        WHEN r.method NOT IN ('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS') THEN
            ARRAY['22023', 'method must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS (upper case), got '
                           || httpq._quoted(r.method, 20)]
        WHEN r.method = 'HEAD' AND r.body IS NOT NULL THEN
            ARRAY['22023', 'body must be NULL for method HEAD']
        WHEN r.idempotency_key IS NOT NULL AND (r.idempotency_key !~ '^[\x21-\x7e]+$' OR length(r.idempotency_key) > 255) THEN
            ARRAY['22023', 'idempotency_key must be 1 to 255 visible ASCII characters']
        WHEN r.idempotency_key <> httpq._header(r.headers, 'Idempotency-Key') THEN
            ARRAY['22023', 'idempotency_key and the Idempotency-Key header disagree: give one of them']
        WHEN r.channel IS NULL THEN
            ARRAY['22004', 'channel must not be NULL']
        WHEN r.channel !~ '^[A-Za-z0-9][A-Za-z0-9._:@/-]*$' OR length(r.channel) > 200 THEN
            ARRAY['22023', 'channel ' || httpq._quoted(r.channel, 200)
                || ' is not a valid channel name (1 to 200 of letters, digits and . _ : @ / -, starting with a letter or digit)']
        WHEN r.ordering_key = '' OR length(r.ordering_key) > 1000 THEN
            ARRAY['22023', 'ordering_key must be 1 to 1000 characters, or NULL']
        WHEN r.dedupe_key = '' OR length(r.dedupe_key) > 1000 THEN
            ARRAY['22023', 'dedupe_key must be 1 to 1000 characters, or NULL']
        WHEN r.run_at IS NULL THEN
            ARRAY['22004', 'run_at must not be NULL']
        WHEN NOT isfinite(r.run_at) OR r.run_at > now_at + interval '1 year' THEN
            ARRAY['22023', 'run_at must be a finite time at most 1 year from now, got ' || r.run_at]
        WHEN NOT isfinite(r.deadline) OR r.deadline > now_at + interval '1 year' THEN
            ARRAY['22023', 'deadline must be NULL or a finite time at most 1 year from now, got ' || r.deadline]
        WHEN r.max_attempts NOT BETWEEN 1 AND 1000 THEN
            ARRAY['22023', 'max_attempts must be between 1 and 1000, got ' || r.max_attempts]
        WHEN r.timeout_ms NOT BETWEEN 1 AND 3600000 THEN
            ARRAY['22023', 'timeout_ms must be between 1 and 3600000 (one hour), got ' || r.timeout_ms]
        WHEN r.deadline <= r.run_at THEN
            ARRAY['22023', 'deadline must be after run_at']
        WHEN r.priority IS NULL THEN
            ARRAY['22004', 'priority must not be NULL']
        WHEN r.priority NOT BETWEEN -1000 AND 1000 THEN
            ARRAY['22023', 'priority must be between -1000 and 1000, got ' || r.priority]
    END;
END;
$$;
COMMENT ON FUNCTION httpq._problem(httpq.new_request, timestamptz)
    IS 'Why a new request (headers aside: httpq._headers_problem) is not acceptable, as {sqlstate, message}; NULL when it is.';

-- Raises the first problem of a batch of new requests, naming its position in the batch
-- (and nothing for a batch of one); returns quietly when every request is acceptable.
CREATE OR REPLACE FUNCTION httpq._check_requests(requests httpq.new_request[], now_at timestamptz) RETURNS void
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
    FROM (SELECT httpq._problem(x, now_at) AS problem, row_number() OVER () AS position FROM unnest(requests) AS x) AS s
    WHERE s.problem IS NOT NULL
    LIMIT 1;
    IF NOT FOUND THEN
        SELECT p.problem, (SELECT u.position FROM unnest(requests) WITH ORDINALITY AS u(url, method, headers, body, channel,
                               ordering_key, run_at, max_attempts, deadline, idempotency_key, dedupe_key, priority,
                               timeout_ms, notify, position)
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
COMMENT ON FUNCTION httpq._check_requests(httpq.new_request[], timestamptz)
    IS 'Raises the first problem of a batch of new requests, with its position; nothing when all are acceptable.';

-- Raises the error for a body larger than its channel's max_body_bytes (place: which of a
-- batch, such as 'request 2 of 5'; NULL for a request alone).
CREATE OR REPLACE FUNCTION httpq._refuse_body(channel text, size bigint, max_body integer, place text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION '%body is % bytes, more than channel % takes (max_body_bytes %)',
        coalesce(place || ': ', ''),
        size, quote_literal(channel), max_body
        USING ERRCODE = 'program_limit_exceeded',
              HINT = format('A channel takes at most 16777216 bytes: SELECT httpq.set_channel(%L, max_body_bytes => ...).', channel);
END;
$$;
COMMENT ON FUNCTION httpq._refuse_body(text, bigint, integer, text) IS 'Raises the error for a body over its channel''s max_body_bytes.';

-- The decision for one finished attempt: the next state ('delivered', 'waiting' to try
-- again at run_at, or 'dead') and, for dead, why. attempts_used counts this attempt.
CREATE OR REPLACE FUNCTION httpq._verdict(
    status        integer,
    retry_after   text,
    attempts_used integer,
    max_attempts  integer,
    deadline      timestamptz,
    base          interval,
    cap           interval,
    retry_after_max interval,
    jitter        float8,
    now           timestamptz,
    OUT state     text,
    OUT run_at    timestamptz,
    OUT reason    text
)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    delay interval;
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
    -- A Retry-After is obeyed up to retry_after_max: a destination cannot park a request
    -- for years (Retry-After: 999999999).
    delay := CASE WHEN status IN (429, 503) THEN httpq._retry_after(retry_after, now) END;
    run_at := now + coalesce(CASE WHEN delay > retry_after_max THEN retry_after_max ELSE delay END,
                             httpq._backoff(attempts_used, base, cap, jitter));
    IF run_at >= deadline THEN
        reason := 'deadline passed: the next attempt would be after it';
        run_at := NULL;
        RETURN;
    END IF;
    state := 'waiting';
END;
$$;
COMMENT ON FUNCTION httpq._verdict(integer, text, integer, integer, timestamptz, interval, interval, interval, float8, timestamptz)
    IS 'Decides a finished attempt: delivered, waiting (retry at run_at) or dead (with the reason).';

-- Raises a clear error unless worker can name a worker: claims are held under the name,
-- shown in views and logs, so it is bounded and free of control characters.
CREATE OR REPLACE FUNCTION httpq._check_worker(worker text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF worker IS NULL OR worker = '' THEN
        RAISE EXCEPTION 'worker must name the worker (for example host:pid)' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF length(worker) > 200 OR worker ~ '[\x01-\x1f\x7f-\x9f]' THEN
        RAISE EXCEPTION 'worker must be at most 200 characters, without control characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._check_worker(text) IS 'Raises a clear error unless worker is a usable worker name.';

-- Raises a clear error unless lease is a lease a claim or heartbeat may take: from one
-- second (shorter would expire under a busy server's own delays) to a day (longer keeps a
-- dead worker's requests from everyone that long).
CREATE OR REPLACE FUNCTION httpq._check_lease(lease interval) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF lease IS NULL OR lease < interval '1 second' OR lease > interval '1 day' THEN
        RAISE EXCEPTION 'lease must be from 1 second to 1 day, got %', coalesce(lease::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._check_lease(interval) IS 'Raises a clear error unless lease is from 1 second to 1 day.';

-- Sets a channel's defaults and limits; NULL leaves a setting as it is.
CREATE OR REPLACE FUNCTION httpq.set_channel(
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
    aws_credentials  text DEFAULT NULL
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
        aws_credentials  = coalesce(set_channel.aws_credentials, c.aws_credentials)
    WHERE c.name = set_channel.channel;
EXCEPTION WHEN check_violation THEN
    -- Only backoff_max below backoff_base gets here: each value alone was checked above.
    RAISE EXCEPTION 'backoff_max must not be below backoff_base for channel %', quote_literal(channel)
        USING ERRCODE = 'invalid_parameter_value';
END;
$$;
COMMENT ON FUNCTION httpq.set_channel(text, integer, numeric, integer, interval, interval, integer, text, interval, cidr[], integer, interval, text[], text, text, text, text)
    IS 'Sets a channel''s defaults and limits, creating the channel if needed; NULL leaves a setting as it is.';

-- Puts named settings of a channel back to their defaults (limits back to none).
CREATE OR REPLACE FUNCTION httpq.unset_channel(channel text, settings text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    known constant text[] := ARRAY['max_concurrency', 'rate_per_second', 'max_attempts', 'backoff_base',
                                   'backoff_max', 'timeout_ms', 'ordering_on_dead', 'retention',
                                   'allowed_networks', 'max_body_bytes', 'retry_after_max', 'signing_keys', 'owner',
                                   'on_finish', 'aws_sigv4', 'aws_credentials'];
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
    -- Each is one of the known column names, checked above.
    IF cardinality(settings) > 0 THEN
        EXECUTE format('UPDATE httpq.channel SET %s WHERE name = $1',
                       (SELECT string_agg(format('%I = DEFAULT', s), ', ') FROM (SELECT DISTINCT unnest(settings)) AS d(s)))
            USING unset_channel.channel;
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq.unset_channel(text, text[])
    IS 'Puts the named settings of a channel back to their defaults; limits go back to none.';

-- Every channel and its settings, as set_channel left them.
CREATE OR REPLACE VIEW httpq.channels AS
    SELECT c.name AS channel, c.paused, c.max_concurrency, c.rate_per_second, c.max_attempts,
           c.backoff_base, c.backoff_max, c.timeout_ms, c.ordering_on_dead, c.retention,
           c.allowed_networks, c.max_body_bytes, coalesce(c.retry_after_max, c.backoff_max) AS retry_after_max,
           c.created_at
    FROM httpq.channel c;
COMMENT ON VIEW httpq.channels IS 'Every channel and its settings (see httpq.set_channel).';


REVOKE ALL ON FUNCTION httpq._quoted(text, integer), httpq._headers_problem(jsonb), httpq._url_problem(text),
    httpq._read_outcomes(jsonb),
    httpq._is_ip_address(text), httpq._problem(httpq.new_request, timestamptz),
    httpq._check_requests(httpq.new_request[], timestamptz), httpq._refuse_body(text, bigint, integer, text),
    httpq._verdict(integer, text, integer, integer, timestamptz, interval, interval, interval, float8, timestamptz),
    httpq._check_worker(text), httpq._check_lease(interval),
    httpq.set_channel(text, integer, numeric, integer, interval, interval, integer, text, interval, cidr[], integer, interval, text[], text, text, text, text),
    httpq.claim(text, integer, text[], interval, bigint, integer, jsonb) FROM PUBLIC;
REVOKE ALL ON httpq.channels FROM PUBLIC;

-- claim and set_channel take more arguments: the roles that could execute the 0.1.0
-- functions may execute the new ones, then the old ones go, with the helpers they replace.
DO $$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT CASE p.proname
                   WHEN 'claim' THEN 'httpq.claim(text, integer, text[], interval, bigint, integer, jsonb)'
                   ELSE 'httpq.set_channel(text, integer, numeric, integer, interval, interval, integer, text, interval, cidr[], integer, interval, text[], text, text, text, text)'
               END AS function,
               a.grantee::regrole AS grantee
        FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) AS a
        WHERE p.oid IN ('httpq.claim(text, integer, text[], interval)'::regprocedure,
                        'httpq.set_channel(text, integer, numeric, integer, interval, interval, integer, text, interval)'::regprocedure)
          AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner AND a.grantee <> 0
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s', g.function, g.grantee);
    END LOOP;
END;
$$;
DROP FUNCTION httpq.claim(text, integer, text[], interval);
DROP FUNCTION httpq.set_channel(text, integer, numeric, integer, interval, interval, integer, text, interval);
DROP FUNCTION httpq._problem(httpq.new_request);
DROP FUNCTION httpq._check_requests(httpq.new_request[]);
DROP FUNCTION httpq._verdict(integer, text, integer, integer, timestamptz, interval, interval, float8, timestamptz);
-- (end of Hostile input)

-- Tenants and secrets: channel owners and role kinds, the sealed secret store, signing
-- keys and secret headers handed to the worker, and ordering-key locks no other session
-- can hold. (The tables, columns and types are added above, after the channel settings.)

-- Raises a clear error for a secret name, key id or sealed value that cannot be one.
CREATE OR REPLACE FUNCTION httpq._check_secret(name text, key_id text, sealed bytea) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF name IS NULL OR name !~ '^[A-Za-z0-9][A-Za-z0-9._:@/-]*$' OR length(name) > 200 THEN
        RAISE EXCEPTION 'secret name % is not a valid name', coalesce(httpq._quoted(name), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use 1 to 200 characters: letters, digits and . _ : @ / -, starting with a letter or digit.';
    END IF;
    IF key_id IS NULL OR key_id !~ '^[0-9a-f]{16}$' THEN
        RAISE EXCEPTION 'key_id must be the 16 hex digits of the sealing key''s id'
            USING ERRCODE = 'invalid_parameter_value', HINT = '`httpq secret set` seals values and names the key.';
    END IF;
    IF sealed IS NULL OR octet_length(sealed) NOT BETWEEN 29 AND 65564 THEN
        RAISE EXCEPTION 'sealed must be a sealed value of 1 byte to 64 KiB (29 to 65564 bytes sealed), got %',
                        coalesce(octet_length(sealed)::text || ' bytes', 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = '`httpq secret set` seals values.';
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._check_secret(text, text, bytea) IS 'Raises a clear error for a malformed secret name, key id or sealed value.';

-- Stores a sealed secret under a name, replacing its value if it exists. owner: the role
-- whose tenants may use it (NULL: the existing owner, or the caller for a new secret).
-- Use `httpq secret set`, which seals the value; this function never sees it.
CREATE OR REPLACE FUNCTION httpq.set_secret(name text, key_id text, sealed bytea, owner text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM httpq._check_admin('set secrets');
    PERFORM httpq._check_secret(name, key_id, sealed);
    IF owner IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = set_secret.owner) THEN
        RAISE EXCEPTION 'owner: role % does not exist', quote_ident(owner) USING ERRCODE = 'undefined_object';
    END IF;
    INSERT INTO httpq.secret AS s (name, owner, key_id, sealed, set_at, set_by)
    VALUES (set_secret.name, coalesce(set_secret.owner, httpq._caller()), set_secret.key_id, set_secret.sealed,
            httpq._now(), httpq._caller())
    ON CONFLICT ON CONSTRAINT secret_pkey DO UPDATE
        SET owner = coalesce(set_secret.owner, s.owner), key_id = excluded.key_id, sealed = excluded.sealed,
            set_at = excluded.set_at, set_by = excluded.set_by;
END;
$$;
COMMENT ON FUNCTION httpq.set_secret(text, text, bytea, text)
    IS 'Stores a sealed secret (use `httpq secret set`, which seals it); admin only.';

-- Replaces a secret's sealed value with the same value sealed under another key, unless
-- it changed since it was read (previous); true when replaced. For `httpq secret rekey`.
CREATE OR REPLACE FUNCTION httpq.reseal_secret(name text, key_id text, sealed bytea, previous bytea) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM httpq._check_admin('reseal secrets');
    PERFORM httpq._check_secret(name, key_id, sealed);
    UPDATE httpq.secret s SET key_id = reseal_secret.key_id, sealed = reseal_secret.sealed
    WHERE s.name = reseal_secret.name AND s.sealed = reseal_secret.previous;
    RETURN FOUND;
END;
$$;
COMMENT ON FUNCTION httpq.reseal_secret(text, text, bytea, bytea)
    IS 'Replaces a secret''s sealed value by the same value under another key, unless it changed; admin only.';

-- Deletes a secret; false when there is none. A secret a channel signs with is refused:
-- its deliveries would stop.
CREATE OR REPLACE FUNCTION httpq.delete_secret(name text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    users text;
BEGIN
    PERFORM httpq._check_admin('delete secrets');
    SELECT string_agg(quote_literal(c.name), ', ' ORDER BY c.name) INTO users
    FROM httpq.channel c WHERE delete_secret.name = ANY (c.signing_keys) OR delete_secret.name = c.aws_credentials;
    IF users IS NOT NULL THEN
        RAISE EXCEPTION 'secret % signs the deliveries of channel %', quote_literal(name), users
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = 'Take it out of their signing_keys or aws_credentials first: SELECT httpq.set_channel(channel, signing_keys => ...).';
    END IF;
    DELETE FROM httpq.secret s WHERE s.name = delete_secret.name;
    RETURN FOUND;
END;
$$;
COMMENT ON FUNCTION httpq.delete_secret(text) IS 'Deletes a secret; admin only. Refused while a channel signs with it (signing_keys, aws_credentials).';

-- Every secret's sealed value, for `httpq secret rekey` (which opens and seals them again).
CREATE OR REPLACE FUNCTION httpq.sealed_secrets() RETURNS TABLE (name text, key_id text, sealed bytea)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM httpq._check_admin('read sealed secrets');
    RETURN QUERY SELECT s.name, s.key_id, s.sealed FROM httpq.secret s ORDER BY s.name;
END;
$$;
COMMENT ON FUNCTION httpq.sealed_secrets() IS 'Every secret''s sealed value, for re-sealing under a new key; admin only.';

-- The sealed values of the named secrets, for the worker: {"name": {"key_id": ..., "sealed":
-- base64 on one line}}, only of secrets the channel's owner may use (checked again at each
-- claim: a secret's owner may have changed since the request was enqueued; a shared
-- channel, owner NULL, takes any). A name left out is reported by the worker as not in
-- the store, and nothing is sent.
CREATE OR REPLACE FUNCTION httpq._sealed(names text[], channel_owner name) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- PL/pgSQL: a claim calls it per request that names a secret, and a SQL body that pins
    -- search_path is planned anew on every call.
    RETURN (SELECT coalesce(jsonb_object_agg(s.name, jsonb_build_object(
                                'key_id', s.key_id, 'sealed', translate(encode(s.sealed, 'base64'), E'\n', ''))),
                            '{}')
            FROM httpq.secret s
            WHERE s.name = ANY (names)
              AND (channel_owner IS NULL OR s.owner = channel_owner OR httpq._member(channel_owner, s.owner)
                   OR httpq._has_kind(channel_owner, 'admin')));
END;
$$;
COMMENT ON FUNCTION httpq._sealed(text[], name) IS 'The sealed values of the named secrets a channel''s owner may use, as the worker reads them.';

-- The secret names a set of request headers refers to ({"secret": "NAME", "prefix": ...}
-- values), or NULL when none.
CREATE OR REPLACE FUNCTION httpq._secret_names(headers jsonb) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    names text[];
BEGIN
    IF headers IS NULL OR NOT jsonb_path_exists(headers, '$.* ? (@.type() == "object")') THEN
        RETURN NULL;
    END IF;
    names := ARRAY(SELECT DISTINCT h.value ->> 'secret' FROM jsonb_each(headers) AS h
                   WHERE jsonb_typeof(h.value) = 'object' ORDER BY 1);
    RETURN CASE WHEN cardinality(names) > 0 THEN names END;
END;
$$;
COMMENT ON FUNCTION httpq._secret_names(jsonb) IS 'The names of the secrets request headers refer to, or NULL.';

-- Raises unless every named secret exists and role may use it: role owns it (or belongs
-- to its owner), or is an admin. role is the owner of the channel the secrets are for (the
-- caller, for a shared channel), as each claim checks again (httpq._sealed). One message
-- for a missing and a foreign secret: a role cannot learn which of others' secrets exist.
-- what: where the names come from, for the message.
CREATE OR REPLACE FUNCTION httpq._check_secret_use(names text[], what text, role name) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    refused text;
BEGIN
    SELECT n INTO refused FROM unnest(names) AS n
    WHERE NOT EXISTS (SELECT 1 FROM httpq.secret s
                      WHERE s.name = n AND (s.owner = role OR httpq._member(role, s.owner) OR httpq._has_kind(role, 'admin')))
    ORDER BY n LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '%: role % has no secret %', what, quote_ident(role), httpq._quoted(refused)
            USING ERRCODE = 'undefined_object',
                  HINT = 'An admin stores it for the role: httpq secret set NAME --owner ROLE';
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._check_secret_use(text[], text, name) IS 'Raises unless the named secrets exist and a role may use them.';

-- The role httpq acts for: the session's role (SET ROLE's, or the login role), not the
-- owner of the SECURITY DEFINER function that calls this. A security-definer function may
-- not SET ROLE, so no caller can change the answer from inside one. (An application's own
-- SECURITY DEFINER function that calls httpq acts for its session's role, too.)
CREATE OR REPLACE FUNCTION httpq._caller() RETURNS name
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
CREATE OR REPLACE FUNCTION httpq._member(role name, of name) RETURNS boolean
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
CREATE OR REPLACE FUNCTION httpq._has_kind(role name, kind text) RETURNS boolean
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
CREATE OR REPLACE FUNCTION httpq._owns(owner name) RETURNS boolean
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
CREATE OR REPLACE FUNCTION httpq._refuse_channel(channel text, action text) RETURNS void
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
CREATE OR REPLACE FUNCTION httpq._check_owner(channels text[], action text) RETURNS void
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
CREATE OR REPLACE FUNCTION httpq._check_settings(channel text) RETURNS void
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
CREATE OR REPLACE FUNCTION httpq._check_operator(channel text, action text) RETURNS void
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
CREATE OR REPLACE FUNCTION httpq._check_admin(action text) RETURNS void
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
CREATE OR REPLACE FUNCTION httpq._tenant_channels(unless_kind text) RETURNS text[]
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
CREATE OR REPLACE FUNCTION httpq._kind_privileges(kind text) RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE kind
        WHEN 'app' THEN ARRAY['enqueue', 'enqueue_bytes', 'enqueue_many', 'new_request', 'new_request_bytes',
                              'enqueue_sqs', 'new_sqs_message', 'enqueue_sns', 'new_sns_message',
                              'set_channel', 'unset_channel', 'version',
                              'subscribe', 'unsubscribe', 'pause_subscription', 'resume_subscription', 'publish',
                              'outcome', 'wait',
                              'view:requests', 'view:attempts', 'view:responses', 'view:channels', 'view:subscriptions']
        WHEN 'worker' THEN ARRAY['claim', 'report', 'heartbeat', 'release', 'idle', 'busy', 'next_run_at',
                                 'maintain', 'purge', 'version', 'queue_stats']
        WHEN 'ops' THEN ARRAY['cancel', 'retry', 'replay', 'pause', 'resume', 'retry_schedule', 'version', 'queue_stats',
                              'pause_subscription', 'resume_subscription', 'tail_renew', 'tail_end',
                              'view:requests', 'view:attempts', 'view:responses', 'view:stats', 'view:channels',
                              'view:subscriptions']
        WHEN 'admin' THEN ARRAY['enqueue', 'enqueue_bytes', 'enqueue_many', 'new_request', 'new_request_bytes',
                                'enqueue_sqs', 'new_sqs_message', 'enqueue_sns', 'new_sns_message',
                                'cancel', 'retry', 'replay', 'pause', 'resume', 'retry_schedule', 'version',
                                'set_channel', 'unset_channel', 'set_secret', 'reseal_secret', 'delete_secret',
                                'sealed_secrets', 'grant_role', 'revoke_role', 'maintain', 'purge',
                                'subscribe', 'unsubscribe', 'pause_subscription', 'resume_subscription', 'publish',
                                'outcome', 'wait', 'tail_renew', 'tail_end', 'queue_stats',
                                'view:requests', 'view:attempts', 'view:responses', 'view:stats', 'view:channels',
                                'view:subscriptions', 'view:secrets', 'view:roles']
    END
$$;
COMMENT ON FUNCTION httpq._kind_privileges(text) IS 'The functions and views each kind of role is granted.';

-- Grants or revokes the privileges of the named kinds.
CREATE OR REPLACE FUNCTION httpq._apply_privileges(role name, kinds text[], give boolean) RETURNS void
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
CREATE OR REPLACE FUNCTION httpq.grant_role(kind text, role text) RETURNS void
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
CREATE OR REPLACE FUNCTION httpq.revoke_role(kind text, role text) RETURNS boolean
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

-- Takes the locks of the given keys, waiting for them, in one global order (no deadlock
-- between two callers locking overlapping sets): one statement makes each key's
-- httpq.key_lock row or, when it exists, locks it by a no-op update, key after key in
-- order. A row httpq.maintain deletes meanwhile is made again.
CREATE OR REPLACE FUNCTION httpq._lock_keys(channels text[], keys text[]) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- PL/pgSQL: its plan is made once per session (a SQL body pinning search_path is
    -- planned on every call).
    INSERT INTO httpq.key_lock AS l (channel, ordering_key)
    SELECT DISTINCT u.c, u.k FROM unnest(channels, keys) AS u(c, k) WHERE u.k IS NOT NULL ORDER BY 1, 2
    ON CONFLICT (channel, ordering_key) DO UPDATE SET channel = excluded.channel;
END;
$$;
COMMENT ON FUNCTION httpq._lock_keys(text[], text[]) IS 'Takes the row locks of ordering keys (httpq.key_lock), in a fixed order.';

-- Takes the lock of one key if it is free now; true when taken. Never waits: a worker
-- calls it, and an application transaction may hold the lock for as long as it lasts. A
-- key without a row has no unfinished request enqueued, so nobody holds it.
CREATE OR REPLACE FUNCTION httpq._try_lock_key(channel text, ordering_key text) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM FROM httpq.key_lock l WHERE l.channel = _try_lock_key.channel AND l.ordering_key = _try_lock_key.ordering_key
    FOR UPDATE SKIP LOCKED;
    RETURN FOUND OR NOT EXISTS (SELECT 1 FROM httpq.key_lock l
                                WHERE l.channel = _try_lock_key.channel AND l.ordering_key = _try_lock_key.ordering_key);
END;
$$;
COMMENT ON FUNCTION httpq._try_lock_key(text, text) IS 'Takes an ordering key''s row lock if it is free now; never waits.';

-- Promotes the next request of each given key whose lock is free now; a key whose lock is
-- taken (an application transaction enqueueing to it is still open) is deferred to the
-- next claim, so a worker's report never waits for an application.
CREATE OR REPLACE FUNCTION httpq._promote_or_defer(channels text[], keys text[]) RETURNS void
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
        IF httpq._try_lock_key(key.c, key.k) THEN
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
CREATE OR REPLACE FUNCTION httpq._promote_deferred() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    key httpq.deferred_key;
BEGIN
    FOR key IN SELECT * FROM httpq.deferred_key FOR UPDATE SKIP LOCKED LOOP
        IF httpq._try_lock_key(key.channel, key.ordering_key) THEN
            PERFORM httpq._promote(ARRAY[key.channel], ARRAY[key.ordering_key]);
            DELETE FROM httpq.deferred_key d WHERE d.channel = key.channel AND d.ordering_key = key.ordering_key;
        END IF;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION httpq._promote_deferred() IS 'Promotes the deferred ordering keys whose lock is free now.';

-- Raises unless the caller may operate the channel of request id (see
-- httpq._check_operator); no such request passes (the caller then learns nothing).
CREATE OR REPLACE FUNCTION httpq._check_request_operator(id bigint, action text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    channel text := coalesce((SELECT r.channel FROM httpq.request r WHERE r.id = _check_request_operator.id),
                             (SELECT h.channel FROM httpq.history h WHERE h.id = _check_request_operator.id));
BEGIN
    IF channel IS NOT NULL THEN
        PERFORM httpq._check_operator(channel, action);
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._check_request_operator(bigint, text) IS 'Raises unless the caller may operate the channel of a request.';

-- Cancels a request that is not delivered: a waiting, running (a late report is then
-- ignored) or dead one. A dead request that held its ordering key releases it.
CREATE OR REPLACE FUNCTION httpq.cancel(id bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    released httpq.held_key;
BEGIN
    IF id IS NULL THEN
        RAISE EXCEPTION 'id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM httpq._check_request_operator(cancel.id, 'cancel requests of');
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

-- Replays the dead requests of a channel that died in [since, until); returns how many
-- went back to waiting. Those that cannot (past their deadline, dedupe_key taken) stay
-- dead and are named in a warning.
CREATE OR REPLACE FUNCTION httpq.replay(channel text, since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL)
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
    PERFORM httpq._check_operator(replay.channel, 'replay');
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

-- Deletes the httpq.key_lock rows (at most max_rows) of ordering keys without unfinished,
-- held or deferred requests; returns how many. A row some transaction holds is skipped, and
-- nothing is deleted outside READ COMMITTED.
CREATE OR REPLACE FUNCTION httpq._release_idle_keys(max_rows integer) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    channels text[];
    keys     text[];
    released integer;
BEGIN
    -- The check again below needs a snapshot taken after the rows are locked: READ COMMITTED.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RETURN 0;
    END IF;
    SELECT array_agg(l.channel), array_agg(l.ordering_key) INTO channels, keys
    FROM (SELECT l.channel, l.ordering_key FROM httpq.key_lock l
          WHERE NOT EXISTS (SELECT 1 FROM httpq.request r WHERE r.channel = l.channel AND r.ordering_key = l.ordering_key
                                                            AND r.state IN ('waiting', 'scheduled', 'running'))
            AND NOT EXISTS (SELECT 1 FROM httpq.request r WHERE r.channel = l.channel AND r.ordering_key = l.ordering_key
                                                            AND r.state = 'blocked')
            AND NOT EXISTS (SELECT 1 FROM httpq.held_key h WHERE h.channel = l.channel AND h.ordering_key = l.ordering_key)
            AND NOT EXISTS (SELECT 1 FROM httpq.deferred_key d WHERE d.channel = l.channel AND d.ordering_key = l.ordering_key)
          LIMIT max_rows
          FOR UPDATE SKIP LOCKED) AS l;
    -- Checked again now that the rows are locked: this statement sees every request
    -- committed by a transaction that held one of them.
    DELETE FROM httpq.key_lock l
    USING unnest(channels, keys) AS u(c, k)
    WHERE l.channel = u.c AND l.ordering_key = u.k
      AND NOT EXISTS (SELECT 1 FROM httpq.request r WHERE r.channel = u.c AND r.ordering_key = u.k
                                                      AND r.state IN ('waiting', 'scheduled', 'running'))
      AND NOT EXISTS (SELECT 1 FROM httpq.request r WHERE r.channel = u.c AND r.ordering_key = u.k AND r.state = 'blocked')
      AND NOT EXISTS (SELECT 1 FROM httpq.held_key h WHERE h.channel = u.c AND h.ordering_key = u.k)
      AND NOT EXISTS (SELECT 1 FROM httpq.deferred_key d WHERE d.channel = u.c AND d.ordering_key = u.k);
    GET DIAGNOSTICS released = ROW_COUNT;
    RETURN released;
END;
$$;
COMMENT ON FUNCTION httpq._release_idle_keys(integer) IS 'Deletes the lock rows of ordering keys left without requests.';

-- One short step of history upkeep, for the worker's maintenance connection (about once a
-- minute, and again at once while "more" is true) or for cron. Creates the partitions of
-- today and 3 days ahead, then trims at most max_rows rows, then drops expired partitions.
CREATE OR REPLACE FUNCTION httpq.maintain(max_rows integer DEFAULT 10000) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
AS $$
DECLARE
    created     integer;
    expired     regclass[];
    deleted     bigint;
    doomed      regclass[];
    doomed_rows bigint[];
    dropped     integer;
    kept        regclass[];
    undropped   regclass[];
BEGIN
    IF max_rows IS NULL OR max_rows <= 0 THEN
        RAISE EXCEPTION 'max_rows must be positive, got %', coalesce(max_rows::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- One maintainer at a time, and a second one never waits: it has nothing to add. The
    -- lock space is httpq's maintenance.
    IF NOT pg_try_advisory_xact_lock(1752461426, 0) THEN
        RETURN jsonb_build_object('ran', false);
    END IF;
    -- Three days ahead: an idle system, or a worker stopped over a weekend, still finds each
    -- day's partition ready, and reports never land in the default partition.
    created := httpq._history_add(3, max_rows);
    IF created > 0 THEN
        -- The default partition stays locked until commit: trim and drop in the next call.
        RETURN jsonb_build_object('ran', true, 'more', true, 'partitions_created', created,
                                  'partitions_dropped', 0, 'rows_deleted', 0);
    END IF;
    PERFORM httpq._release_idle_keys(max_rows);
    expired := ARRAY(SELECT httpq._history_expired(NULL, NULL));
    deleted := httpq._history_trim(NULL, max_rows, false, expired);
    SELECT d.doomed, d.doomed_rows, d.kept INTO doomed, doomed_rows, kept FROM httpq._history_doom(expired, NULL, false) AS d;
    SELECT d.dropped, d.kept INTO dropped, undropped FROM httpq._history_drop(doomed, doomed_rows) AS d;
    kept := kept || undropped;
    -- Partitions that could not be dropped (a long transaction holding a lock on the
    -- history, objects depending on them) lose their rows at retention all the same, by
    -- trimming; dropped once empty and free. Only while nothing was dropped: a drop holds
    -- httpq.history until commit, and reports would wait for the trim.
    IF dropped = 0 AND cardinality(kept) > 0 AND deleted < max_rows THEN
        deleted := deleted + httpq._history_trim(NULL, max_rows - deleted, false,
                                                 ARRAY(SELECT x.part FROM httpq._history_partitions() x
                                                       WHERE x.part <> ALL (kept)));
    END IF;
    RETURN jsonb_build_object('ran', true, 'more', deleted >= max_rows, 'partitions_created', 0,
                              'partitions_dropped', dropped, 'rows_deleted', deleted);
END;
$$;
COMMENT ON FUNCTION httpq.maintain(integer)
    IS 'One bounded step of history upkeep: creates, trims (at most max_rows rows) and drops partitions.';


-- The function on_finish names, as its signature, or the error for one that cannot be a
-- hook: it takes one httpq.finished and returns void, and is SECURITY DEFINER (it runs with
-- its owner's rights, never the worker's), owned by the channel's owner (the caller's, for
-- a shared channel) or a role that one belongs to, unless an admin sets it.
CREATE OR REPLACE FUNCTION httpq._check_hook(channel text, hook text) RETURNS text
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

-- Calls the on_finish hook of each of the requests (delivered or dead, finished at
-- finished_at) whose channel has one, in id order, inside the transaction that records
-- them. Each hook gets its requests in one statement, in a subtransaction; if that raises,
-- it is undone and the hook is called for each request on its own, again in a
-- subtransaction each: a hook that raises loses its own changes, not the outcome. Its error
-- goes on the request (history.hook_error, shown in httpq.requests) and to the server log
-- as a warning; a failed hook is not called again. The hook runs with its owner's rights
-- (it is SECURITY DEFINER, httpq._check_hook).
CREATE OR REPLACE FUNCTION httpq._call_hooks(ids bigint[], finished_at timestamptz) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    hook     record;
    request  httpq.finished;
    fn       text;
    message  text;
    code     text;
BEGIN
    FOR hook IN
        SELECT c.on_finish,
               array_agg(ROW(h.id, h.channel, h.state, h.attempt, h.last_status, h.response_headers, h.response_body,
                             h.last_error, h.reason, h.method, h.url, h.ordering_key, h.dedupe_key, h.idempotency_key,
                             h.created_at, h.finished_at)::httpq.finished ORDER BY h.id) AS requests
        FROM httpq.history h
        JOIN httpq.channel c ON c.name = h.channel
        -- finished_at prunes the scan to the day's partition.
        WHERE h.id = ANY (ids) AND h.finished_at = _call_hooks.finished_at AND c.on_finish IS NOT NULL
        GROUP BY c.on_finish
    LOOP
        -- The hook's name, quoted, from the signature set_channel checked; NULL for a
        -- function dropped since, which then fails as the hook's error.
        fn := (SELECT quote_ident(n.nspname) || '.' || quote_ident(p.proname)
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE p.oid = to_regprocedure(hook.on_finish));
        BEGIN
            IF fn IS NULL THEN
                RAISE EXCEPTION 'function % does not exist', hook.on_finish USING ERRCODE = 'undefined_function';
            END IF;
            EXECUTE format('SELECT count(%s(f)) FROM unnest($1) AS f', fn) USING hook.requests;
            CONTINUE;
        EXCEPTION WHEN OTHERS THEN
            NULL;   -- some request made it raise: each on its own, below
        END;
        FOREACH request IN ARRAY hook.requests LOOP
            BEGIN
                IF fn IS NULL THEN
                    RAISE EXCEPTION 'function % does not exist', hook.on_finish USING ERRCODE = 'undefined_function';
                END IF;
                EXECUTE format('SELECT %s($1)', fn) USING request;
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS message = MESSAGE_TEXT, code = RETURNED_SQLSTATE;
                UPDATE httpq.history h SET hook_error = format('%s (SQLSTATE %s)', message, code)
                WHERE h.id = request.id AND h.finished_at = _call_hooks.finished_at;
                RAISE WARNING 'httpq: on_finish hook % of channel % failed for request %: %',
                    hook.on_finish, quote_literal(request.channel), request.id, message;
            END;
        END LOOP;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION httpq._call_hooks(bigint[], timestamptz)
    IS 'Calls the on_finish hooks of finished requests, each hook''s in one statement; a failure is recorded on the request.';


-- The ordering keys' advisory lock ids are gone with their locks.
DROP FUNCTION httpq._key_lock(text, text);

-- Every request, live and finished. A request scheduled for later, or blocked behind an
-- earlier one of its ordering key, is 'waiting' here (blocked = true for the latter).
CREATE OR REPLACE VIEW httpq.requests WITH (security_barrier) AS
    -- The union one level down: a view that is itself a UNION ALL is planned as its arms,
    -- and the caller's conditions would then reach them beside the filters.
    SELECT x.* FROM (
        SELECT r.id, r.channel,
               CASE WHEN r.state IN ('blocked', 'scheduled') THEN 'waiting' ELSE r.state END AS state,
               r.state = 'blocked' AS blocked,
               r.attempt AS attempts, r.priority, r.ordering_key, r.dedupe_key, r.idempotency_key,
               r.method, r.url, r.run_at, r.deadline, r.created_at, NULL::timestamptz AS finished_at,
               r.last_status, r.last_error, NULL::text AS reason, r.worker, r.lease_until, NULL::text AS hook_error
        FROM httpq.request r
        WHERE (SELECT httpq._tenant_channels('ops')) IS NULL OR r.channel = ANY ((SELECT httpq._tenant_channels('ops'))::text[])
        UNION ALL
        SELECT h.id, h.channel, h.state, false, h.attempt, h.priority, h.ordering_key, h.dedupe_key,
               h.idempotency_key, h.method, h.url, h.run_at, h.deadline, h.created_at, h.finished_at,
               h.last_status, h.last_error, h.reason, NULL, NULL, h.hook_error
        FROM httpq.history h
        WHERE (SELECT httpq._tenant_channels('ops')) IS NULL OR h.channel = ANY ((SELECT httpq._tenant_channels('ops'))::text[])
    ) AS x;
COMMENT ON VIEW httpq.requests IS 'Every request, live and finished, with its state and last outcome.';

-- Each finished attempt of every request: when, by which worker, and what came back.
CREATE OR REPLACE VIEW httpq.attempts WITH (security_barrier) AS
    SELECT x.id, a.attempt, a.at, a.worker, a.status, a.error, a.duration_ms
    FROM (SELECT r.id, r.channel, r.log FROM httpq.request r
          UNION ALL SELECT h.id, h.channel, h.log FROM httpq.history h) AS x,
         jsonb_to_recordset(x.log) AS a(attempt integer, at timestamptz, worker text, status integer, error text,
                                        duration_ms numeric)
    WHERE (SELECT httpq._tenant_channels('ops')) IS NULL OR x.channel = ANY ((SELECT httpq._tenant_channels('ops'))::text[]);
COMMENT ON VIEW httpq.attempts IS 'Each finished attempt of every request: when, which worker, status or error, duration.';

-- The last response of each finished request (body as the worker reported it, capped).
CREATE OR REPLACE VIEW httpq.responses WITH (security_barrier) AS
    SELECT h.id, h.channel, h.state, h.last_status AS status,
           CASE WHEN (SELECT httpq._tenant_channels('admin')) IS NULL OR h.channel = ANY ((SELECT httpq._tenant_channels('admin'))::text[])
                THEN h.response_headers END AS headers,
           CASE WHEN (SELECT httpq._tenant_channels('admin')) IS NULL OR h.channel = ANY ((SELECT httpq._tenant_channels('admin'))::text[])
                THEN h.response_body END AS body,
           h.finished_at
    FROM httpq.history h
    WHERE (SELECT httpq._tenant_channels('ops')) IS NULL OR h.channel = ANY ((SELECT httpq._tenant_channels('ops'))::text[]);
COMMENT ON VIEW httpq.responses IS 'The last response of each finished request: status, headers, body.';

-- Every channel and its settings, as set_channel left them.
CREATE OR REPLACE VIEW httpq.channels WITH (security_barrier) AS
    SELECT c.name AS channel, c.paused, c.max_concurrency, c.rate_per_second, c.max_attempts,
           c.backoff_base, c.backoff_max, c.timeout_ms, c.ordering_on_dead, c.retention,
           c.allowed_networks, c.max_body_bytes, coalesce(c.retry_after_max, c.backoff_max) AS retry_after_max,
           c.created_at, c.owner, c.signing_keys, c.on_finish, c.aws_sigv4, c.aws_credentials
    FROM httpq.channel c
    WHERE (SELECT httpq._tenant_channels('ops')) IS NULL OR c.name = ANY ((SELECT httpq._tenant_channels('ops'))::text[]);
COMMENT ON VIEW httpq.channels IS 'Every channel and its settings (see httpq.set_channel).';

-- Per channel: what waits, runs and died, how old the oldest waiting request is, and the
-- last hour's deliveries and deaths.
CREATE OR REPLACE VIEW httpq.stats WITH (security_barrier) AS
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
    ) AS l ON l.channel = c.name
    WHERE (SELECT httpq._tenant_channels('ops')) IS NULL OR c.name = ANY ((SELECT httpq._tenant_channels('ops'))::text[]);
COMMENT ON VIEW httpq.stats IS 'Per channel: waiting, running, dead, last hour''s deliveries and deaths, oldest waiting age.';

-- The secret store's names: never a value, not even sealed. Admins only.
CREATE OR REPLACE VIEW httpq.secrets AS
    SELECT s.name, s.owner, s.key_id, s.set_at, s.set_by
    FROM httpq.secret s;
COMMENT ON VIEW httpq.secrets IS 'The stored secrets: name, owner, sealing key id, when and by whom set (never a value).';

-- The roles httpq.grant_role made app, worker, ops or admin roles.
CREATE OR REPLACE VIEW httpq.roles AS
    SELECT g.role, g.kind, g.granted_at
    FROM httpq.role_grant g;
COMMENT ON VIEW httpq.roles IS 'The roles made httpq''s app, worker, ops or admin roles (httpq.grant_role).';


REVOKE ALL ON ALL FUNCTIONS IN SCHEMA httpq FROM PUBLIC;
REVOKE ALL ON httpq.secret, httpq.role_grant, httpq.key_lock, httpq.secrets, httpq.roles FROM PUBLIC;
GRANT EXECUTE ON FUNCTION httpq._tenant_channels(text) TO PUBLIC;
-- (end of Tenants and secrets)

-- AWS destinations (sql/38_aws.sql): the SQS and SNS request builders, and the reading of
-- AWS error answers that httpq.report applies on channels that sign with aws_sigv4.

-- Raises unless channel can carry requests to the AWS service: it signs them with SigV4 for
-- that service. A channel the caller does not own is left to enqueue, which refuses it
-- without telling how it is set up.
CREATE FUNCTION httpq._check_aws_channel(channel text, service text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ch httpq.channel;
BEGIN
    PERFORM httpq._check_channel(_check_aws_channel.channel);
    SELECT * INTO ch FROM httpq.channel c WHERE c.name = _check_aws_channel.channel;
    IF FOUND AND NOT httpq._owns(ch.owner) THEN
        RETURN;
    END IF;
    IF ch.aws_sigv4 IS NULL THEN
        RAISE EXCEPTION 'channel % does not sign with AWS SigV4, which % requires', quote_literal(channel), service
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('SELECT httpq.set_channel(%L, aws_sigv4 => ''aws:amz:REGION:%s'', aws_credentials => ''SECRET NAME'').',
                                channel, service);
    END IF;
    IF split_part(ch.aws_sigv4, ':', 4) <> service THEN
        RAISE EXCEPTION 'channel % signs for service % (aws_sigv4 %), not %', quote_literal(channel),
                        quote_literal(split_part(ch.aws_sigv4, ':', 4)), quote_literal(ch.aws_sigv4), service
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Use a channel of its own for each AWS service.';
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._check_aws_channel(text, text) IS 'Raises unless a channel signs with AWS SigV4 for the given service.';

-- The message attributes of an AWS message, as SQS's JSON protocol writes them:
-- {"name": {"DataType": "String", "StringValue": "..."}}, or NULL for none. A string is a
-- String attribute, a number a Number; an object is the attribute itself (a DataType and a
-- StringValue or a base64 BinaryValue). At most 10, as SQS and SNS take.
CREATE FUNCTION httpq._aws_attributes(attributes jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result jsonb := '{}';
    name   text;
    value  jsonb;
BEGIN
    IF attributes IS NULL OR attributes = '{}' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(attributes) <> 'object' THEN
        RAISE EXCEPTION 'attributes must be a JSON object of attribute names and values, got JSON %', jsonb_typeof(attributes)
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example ''{"event": "order.paid", "amount": 12.5}''.';
    END IF;
    IF (SELECT count(*) FROM jsonb_object_keys(attributes)) > 10 THEN
        RAISE EXCEPTION 'attributes: at most 10, got %', (SELECT count(*) FROM jsonb_object_keys(attributes))
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR name, value IN SELECT * FROM jsonb_each(attributes) LOOP
        IF name !~ '^[A-Za-z0-9_-][A-Za-z0-9_.-]*$' OR length(name) > 256 OR name ~ '\.\.|\.$' OR name ~* '^(aws|amazon)\.' THEN
            RAISE EXCEPTION 'attributes: % is not an attribute name', httpq._quoted(name)
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Up to 256 letters, digits and _ - . (not first, last or twice in a row), not starting with AWS. or Amazon.';
        END IF;
        value := CASE jsonb_typeof(value)
            WHEN 'string' THEN jsonb_build_object('DataType', 'String', 'StringValue', value)
            WHEN 'number' THEN jsonb_build_object('DataType', 'Number', 'StringValue', value #>> '{}')
            WHEN 'object' THEN value END;
        IF value IS NULL
           OR value - ARRAY['DataType', 'StringValue', 'BinaryValue'] <> '{}'
           OR jsonb_typeof(value -> 'DataType') IS DISTINCT FROM 'string'
           OR value ->> 'DataType' !~ '^(String|Number|Binary)(\.[A-Za-z0-9_.-]+)?$'
           OR (value ? 'StringValue') = (value ? 'BinaryValue')
           OR jsonb_typeof(coalesce(value -> 'StringValue', value -> 'BinaryValue')) <> 'string'
           OR (value ? 'BinaryValue') <> (value ->> 'DataType' LIKE 'Binary%') THEN
            RAISE EXCEPTION 'attributes: % must be a string, a number, or {"DataType": ..., "StringValue" or "BinaryValue": ...}',
                            httpq._quoted(name)
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'DataType is String, Number or Binary (optionally with a .suffix); a Binary takes a base64 BinaryValue, the others a StringValue.';
        END IF;
        IF coalesce(value ->> 'StringValue', value ->> 'BinaryValue') = '' THEN
            RAISE EXCEPTION 'attributes: % must not be empty', httpq._quoted(name) USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF value ? 'BinaryValue' AND value ->> 'BinaryValue' !~ '^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$' THEN
            RAISE EXCEPTION 'attributes: the BinaryValue of % must be base64', httpq._quoted(name)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        result := result || jsonb_build_object(name, value);
    END LOOP;
    RETURN result;
END;
$$;
COMMENT ON FUNCTION httpq._aws_attributes(jsonb) IS 'Message attributes in SQS''s JSON form, checked; NULL for none.';

-- A value encoded for an application/x-www-form-urlencoded body: the unreserved characters
-- of RFC 3986 stay, a space becomes +, every other byte of the UTF-8 becomes %XX (as the
-- AWS SDKs write it).
CREATE FUNCTION httpq._form_value(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(string_agg(CASE WHEN c ~ '^[A-Za-z0-9_.~-]$' THEN c
                                    WHEN c = ' ' THEN '+'
                                    ELSE upper(regexp_replace(encode(convert_to(c, 'UTF8'), 'hex'), '(..)', '%\1', 'g')) END,
                               '' ORDER BY t.ord), '')
    FROM regexp_split_to_table(value, '') WITH ORDINALITY AS t(c, ord)
$$;
COMMENT ON FUNCTION httpq._form_value(text) IS 'A value percent-encoded for a form body.';

-- The group id, deduplication id and idempotency key of a message to a FIFO queue or
-- topic (fifo), and the checks they need: a FIFO message belongs to a group (the ordering
-- key's, unless one is given) and is deduplicated by AWS for five minutes by its
-- deduplication id, by default the request's idempotency key, which is the same on every
-- retry. A standard queue or topic takes no deduplication id.
CREATE FUNCTION httpq._aws_fifo(fifo boolean, message_group_id text, deduplication_id text, ordering_key text,
                                idempotency_key text, what text,
                                OUT group_id text, OUT dedupe_id text, OUT key text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    group_id := message_group_id;
    key := idempotency_key;
    IF fifo THEN
        group_id := coalesce(message_group_id, ordering_key);
        IF group_id IS NULL THEN
            RAISE EXCEPTION 'message_group_id: a FIFO % needs one (or an ordering_key, which it then takes)', what
                USING ERRCODE = 'null_value_not_allowed';
        END IF;
        key := coalesce(idempotency_key, gen_random_uuid()::text);
        dedupe_id := coalesce(deduplication_id, key);
    ELSIF deduplication_id IS NOT NULL THEN
        RAISE EXCEPTION 'deduplication_id: only a FIFO % (its name ending in .fifo) takes one', what
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF group_id !~ '^[!-~]+$' OR length(group_id) > 128 THEN
        RAISE EXCEPTION 'message_group_id % must be 1 to 128 printable ASCII characters without spaces%', httpq._quoted(group_id),
                        CASE WHEN message_group_id IS NULL THEN ' (it is the ordering_key unless given)' ELSE '' END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF dedupe_id !~ '^[!-~]+$' OR length(dedupe_id) > 128 THEN
        RAISE EXCEPTION 'deduplication_id % must be 1 to 128 printable ASCII characters without spaces%', httpq._quoted(dedupe_id),
                        CASE WHEN deduplication_id IS NULL THEN ' (it is the idempotency_key unless given)' ELSE '' END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._aws_fifo(boolean, text, text, text, text, text)
    IS 'The group id, deduplication id and idempotency key of an AWS message, checked for a FIFO or standard queue or topic.';

-- Builds an SQS SendMessage request (the JSON protocol) for httpq.enqueue_many; checks it,
-- writes nothing. The request goes to the queue's endpoint, on a channel that signs for sqs.
CREATE FUNCTION httpq.new_sqs_message(
    queue_url        text,
    message_body     text,
    message_group_id text DEFAULT NULL,
    deduplication_id text DEFAULT NULL,
    attributes       jsonb DEFAULT NULL,
    delay_seconds    integer DEFAULT NULL,
    channel          text DEFAULT 'sqs',
    ordering_key     text DEFAULT NULL,
    run_at           timestamptz DEFAULT now(),
    max_attempts     integer DEFAULT NULL,
    deadline         timestamptz DEFAULT NULL,
    idempotency_key  text DEFAULT NULL,
    dedupe_key       text DEFAULT NULL,
    priority         integer DEFAULT 0,
    timeout_ms       integer DEFAULT NULL,
    notify           boolean DEFAULT false
) RETURNS httpq.new_request
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fifo boolean := queue_url LIKE '%.fifo';
    ids  record;
BEGIN
    IF queue_url IS NULL OR queue_url !~ '^https?://[^/?#]+/[0-9]+/[A-Za-z0-9_-]+(\.fifo)?$' THEN
        RAISE EXCEPTION 'queue_url must be an SQS queue URL, such as https://sqs.us-east-1.amazonaws.com/123456789012/orders'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF message_body IS NULL OR message_body = '' THEN
        RAISE EXCEPTION 'message_body must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT delay_seconds BETWEEN 0 AND 900 THEN
        RAISE EXCEPTION 'delay_seconds must be from 0 to 900, got %', delay_seconds
            USING ERRCODE = 'invalid_parameter_value', HINT = 'run_at delays the send by any time.';
    END IF;
    IF fifo AND delay_seconds IS NOT NULL THEN
        RAISE EXCEPTION 'delay_seconds: a FIFO queue takes no delay per message' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'run_at delays the send; the queue''s own DelaySeconds delays every message.';
    END IF;
    ids := httpq._aws_fifo(fifo, message_group_id, deduplication_id, ordering_key, idempotency_key, 'queue');
    PERFORM httpq._check_aws_channel(channel, 'sqs');
    RETURN httpq.new_request(
        url => substring(queue_url from '^https?://[^/]+') || '/',
        body => jsonb_strip_nulls(jsonb_build_object(
                    'QueueUrl', queue_url, 'MessageBody', message_body, 'DelaySeconds', delay_seconds,
                    'MessageAttributes', httpq._aws_attributes(attributes),
                    'MessageGroupId', ids.group_id, 'MessageDeduplicationId', ids.dedupe_id)),
        headers => '{"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.SendMessage"}',
        channel => channel, ordering_key => ordering_key, run_at => run_at, max_attempts => max_attempts,
        deadline => deadline, idempotency_key => ids.key, dedupe_key => dedupe_key, priority => priority,
        timeout_ms => timeout_ms, notify => notify);
END;
$$;
COMMENT ON FUNCTION httpq.new_sqs_message(text, text, text, text, jsonb, integer, text, text, timestamptz, integer, timestamptz, text, text, integer, integer, boolean)
    IS 'Builds an SQS SendMessage request for httpq.enqueue_many; checks it, writes nothing.';

-- Enqueues one message to an SQS queue; returns the request's id.
CREATE FUNCTION httpq.enqueue_sqs(
    queue_url        text,
    message_body     text,
    message_group_id text DEFAULT NULL,
    deduplication_id text DEFAULT NULL,
    attributes       jsonb DEFAULT NULL,
    delay_seconds    integer DEFAULT NULL,
    channel          text DEFAULT 'sqs',
    ordering_key     text DEFAULT NULL,
    run_at           timestamptz DEFAULT now(),
    max_attempts     integer DEFAULT NULL,
    deadline         timestamptz DEFAULT NULL,
    idempotency_key  text DEFAULT NULL,
    dedupe_key       text DEFAULT NULL,
    priority         integer DEFAULT 0,
    timeout_ms       integer DEFAULT NULL,
    notify           boolean DEFAULT false
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (SELECT httpq.enqueue_many(ARRAY[httpq.new_sqs_message(
        queue_url, message_body, message_group_id, deduplication_id, attributes, delay_seconds, channel,
        ordering_key, run_at, max_attempts, deadline, idempotency_key, dedupe_key, priority, timeout_ms, notify)]));
END;
$$;
COMMENT ON FUNCTION httpq.enqueue_sqs(text, text, text, text, jsonb, integer, text, text, timestamptz, integer, timestamptz, text, text, integer, integer, boolean)
    IS 'Enqueues one message to an SQS queue (SendMessage, signed by the channel''s aws_sigv4); returns its id.';

-- Builds an SNS Publish request (the query protocol) for httpq.enqueue_many; checks it,
-- writes nothing. endpoint: where to send it; NULL for the topic region's public endpoint.
CREATE FUNCTION httpq.new_sns_message(
    topic_arn        text,
    message          text,
    subject          text DEFAULT NULL,
    attributes       jsonb DEFAULT NULL,
    message_group_id text DEFAULT NULL,
    deduplication_id text DEFAULT NULL,
    endpoint         text DEFAULT NULL,
    channel          text DEFAULT 'sns',
    ordering_key     text DEFAULT NULL,
    run_at           timestamptz DEFAULT now(),
    max_attempts     integer DEFAULT NULL,
    deadline         timestamptz DEFAULT NULL,
    idempotency_key  text DEFAULT NULL,
    dedupe_key       text DEFAULT NULL,
    priority         integer DEFAULT 0,
    timeout_ms       integer DEFAULT NULL,
    notify           boolean DEFAULT false
) RETURNS httpq.new_request
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parts  text[] := string_to_array(topic_arn, ':');
    ids    record;
    params text[];
BEGIN
    IF topic_arn IS NULL OR topic_arn !~ '^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+(\.fifo)?$' THEN
        RAISE EXCEPTION 'topic_arn must be an SNS topic ARN, such as arn:aws:sns:us-east-1:123456789012:orders'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF message IS NULL OR message = '' THEN
        RAISE EXCEPTION 'message must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF subject = '' OR subject ~ '[\x00-\x1f]' OR length(subject) > 100 THEN
        RAISE EXCEPTION 'subject must be 1 to 100 characters without line breaks or control characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    ids := httpq._aws_fifo(topic_arn LIKE '%.fifo', message_group_id, deduplication_id, ordering_key, idempotency_key, 'topic');
    PERFORM httpq._check_aws_channel(channel, 'sns');
    params := ARRAY['Action', 'Publish', 'Version', '2010-03-31', 'TopicArn', topic_arn, 'Message', message]
              || CASE WHEN subject IS NOT NULL THEN ARRAY['Subject', subject] ELSE '{}' END
              || CASE WHEN ids.group_id IS NOT NULL THEN ARRAY['MessageGroupId', ids.group_id] ELSE '{}' END
              || CASE WHEN ids.dedupe_id IS NOT NULL THEN ARRAY['MessageDeduplicationId', ids.dedupe_id] ELSE '{}' END
              || coalesce((SELECT array_agg(kv.item ORDER BY a.ord, kv.ord)
                           FROM jsonb_each(httpq._aws_attributes(attributes)) WITH ORDINALITY AS a(name, value, ord),
                                LATERAL unnest(ARRAY[
                                    format('MessageAttributes.entry.%s.Name', a.ord), a.name,
                                    format('MessageAttributes.entry.%s.Value.DataType', a.ord), a.value ->> 'DataType',
                                    format('MessageAttributes.entry.%s.Value.%s', a.ord,
                                           CASE WHEN a.value ? 'BinaryValue' THEN 'BinaryValue' ELSE 'StringValue' END),
                                    coalesce(a.value ->> 'StringValue', a.value ->> 'BinaryValue')]) WITH ORDINALITY AS kv(item, ord)),
                          '{}');
    RETURN httpq.new_request_bytes(
        url => coalesce(endpoint, format('https://sns.%s.amazonaws.%s/', parts[4],
                                         CASE WHEN parts[2] = 'aws-cn' THEN 'com.cn' ELSE 'com' END)),
        body => convert_to((SELECT string_agg(httpq._form_value(params[i]) || '=' || httpq._form_value(params[i + 1]), '&' ORDER BY i)
                            FROM generate_series(1, cardinality(params), 2) AS i), 'UTF8'),
        content_type => 'application/x-www-form-urlencoded; charset=utf-8',
        channel => channel, ordering_key => ordering_key, run_at => run_at, max_attempts => max_attempts,
        deadline => deadline, idempotency_key => ids.key, dedupe_key => dedupe_key, priority => priority,
        timeout_ms => timeout_ms, notify => notify);
END;
$$;
COMMENT ON FUNCTION httpq.new_sns_message(text, text, text, jsonb, text, text, text, text, text, timestamptz, integer, timestamptz, text, text, integer, integer, boolean)
    IS 'Builds an SNS Publish request for httpq.enqueue_many; checks it, writes nothing.';

-- Enqueues one message to an SNS topic; returns the request's id.
CREATE FUNCTION httpq.enqueue_sns(
    topic_arn        text,
    message          text,
    subject          text DEFAULT NULL,
    attributes       jsonb DEFAULT NULL,
    message_group_id text DEFAULT NULL,
    deduplication_id text DEFAULT NULL,
    endpoint         text DEFAULT NULL,
    channel          text DEFAULT 'sns',
    ordering_key     text DEFAULT NULL,
    run_at           timestamptz DEFAULT now(),
    max_attempts     integer DEFAULT NULL,
    deadline         timestamptz DEFAULT NULL,
    idempotency_key  text DEFAULT NULL,
    dedupe_key       text DEFAULT NULL,
    priority         integer DEFAULT 0,
    timeout_ms       integer DEFAULT NULL,
    notify           boolean DEFAULT false
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (SELECT httpq.enqueue_many(ARRAY[httpq.new_sns_message(
        topic_arn, message, subject, attributes, message_group_id, deduplication_id, endpoint, channel,
        ordering_key, run_at, max_attempts, deadline, idempotency_key, dedupe_key, priority, timeout_ms, notify)]));
END;
$$;
COMMENT ON FUNCTION httpq.enqueue_sns(text, text, text, jsonb, text, text, text, text, text, timestamptz, integer, timestamptz, text, text, integer, integer, boolean)
    IS 'Enqueues one message to an SNS topic (Publish, signed by the channel''s aws_sigv4); returns its id.';

-- The error code and message of an AWS error answer, {code, message}, or NULL when the
-- answer is not one: the JSON protocols' __type (or the x-amzn-errortype header) and
-- message, or the XML of the query protocols' <Code> and <Message>.
CREATE FUNCTION httpq._aws_error(headers jsonb, body bytea) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    text_body text;
    answer    jsonb;
    code      text;
    message   text;
BEGIN
    BEGIN
        text_body := convert_from(body, 'UTF8');
        IF text_body ~ '^\s*\{' THEN
            answer := text_body::jsonb;
        END IF;
    EXCEPTION WHEN data_exception THEN
        NULL;   -- not UTF-8, or not JSON: no code from the body
    END;
    IF jsonb_typeof(answer) = 'object' THEN
        code := coalesce(answer ->> '__type', answer ->> 'code', answer ->> 'Code');
        message := coalesce(answer ->> 'message', answer ->> 'Message');
    ELSIF text_body ~ '<Code>' THEN
        code := substring(text_body from '<Code>([^<]*)</Code>');
        message := replace(replace(replace(replace(replace(
                       substring(text_body from '<Message>([^<]*)</Message>'),
                       '&lt;', '<'), '&gt;', '>'), '&quot;', '"'), '&apos;', ''''), '&amp;', '&');
    END IF;
    code := coalesce(code, headers ->> 'x-amzn-errortype');
    -- com.amazonaws.sqs#QueueDoesNotExist, or ThrottlingException:http://internal.amazon.com/...
    code := split_part(regexp_replace(code, '^.*#', ''), ':', 1);
    IF code IS NULL OR code = '' THEN
        RETURN NULL;
    END IF;
    RETURN ARRAY[left(code, 100), left(message, 1000)];
END;
$$;
COMMENT ON FUNCTION httpq._aws_error(jsonb, bytea) IS 'The code and message of an AWS error answer, or NULL.';

-- Whether an AWS error code is one to retry: throttling and transient errors, as the AWS
-- SDKs' standard retry mode lists them.
CREATE FUNCTION httpq._aws_retryable(code text) RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT code = ANY (ARRAY[
        'Throttling', 'ThrottlingException', 'ThrottledException', 'RequestThrottledException', 'RequestThrottled',
        'TooManyRequestsException', 'ProvisionedThroughputExceededException', 'TransactionInProgressException',
        'RequestLimitExceeded', 'BandwidthLimitExceeded', 'LimitExceededException', 'SlowDown', 'EC2ThrottledException',
        'PriorRequestNotComplete', 'RequestTimeout', 'RequestTimeoutException', 'InternalError', 'InternalFailure',
        'ServiceUnavailable', 'KmsThrottled', 'KMS.ThrottlingException'])
$$;
COMMENT ON FUNCTION httpq._aws_retryable(text) IS 'Whether an AWS error code is throttling or transient, and so retried.';

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA httpq FROM PUBLIC;
GRANT EXECUTE ON FUNCTION httpq._tenant_channels(text) TO PUBLIC;
-- (end of AWS destinations)

-- Topics and subscriptions (sql/37_topic.sql, 15_tenant.sql, 90_views.sql, 99_privileges.sql):
-- fan-out. New tables and functions, made by the same statements as in a fresh install
-- (httpq._kind_privileges, above, lists them for app, ops and admin roles).

CREATE TABLE httpq.topic (
    name       text PRIMARY KEY,
    owner      name NOT NULL,                  -- the role whose members (and admins) subscribe and publish
    created_at timestamptz NOT NULL DEFAULT now(),
    -- 180, not 200: a subscription's default channel is '<topic>/<id>', a channel name.
    CONSTRAINT name_is_valid CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._:@/-]*$' AND length(name) <= 180)
);

CREATE TABLE httpq.subscription (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    topic       text NOT NULL REFERENCES httpq.topic (name),
    url         text NOT NULL,
    method      text NOT NULL DEFAULT 'POST',
    headers     jsonb NOT NULL DEFAULT '{}',
    channel     text NOT NULL,                 -- has a row in httpq.channel (subscribe creates it)
    event_types text[],                        -- NULL: every event, those published without a type too
    paused_at   timestamptz,                   -- NULL: active; paused, publish skips it
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT event_types_not_empty CHECK (cardinality(event_types) > 0 AND array_position(event_types, NULL) IS NULL)
);
-- Publish reads a topic's subscriptions in id order, the order of the ids it returns.
CREATE INDEX subscription_topic_idx ON httpq.subscription (topic, id);

-- User data: kept by pg_dump when httpq is an extension (see sql/20_request.sql).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'httpq') THEN
        PERFORM pg_catalog.pg_extension_config_dump('httpq.topic', '');
        PERFORM pg_catalog.pg_extension_config_dump('httpq.subscription', '');
        PERFORM pg_catalog.pg_extension_config_dump('httpq.subscription_id_seq', '');
    END IF;
END;
$$;

-- Raises a clear error for a topic name, or an event type (pattern: may end in '*'), that
-- cannot be one. what names the argument for the message.
CREATE FUNCTION httpq._check_name(what text, value text, max_length integer, pattern boolean DEFAULT false) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF value IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', what USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT (value ~ '^[A-Za-z0-9][A-Za-z0-9._:@/-]*$' OR (pattern AND value ~ '^([A-Za-z0-9][A-Za-z0-9._:@/-]*)?\*$'))
       OR length(value) > max_length THEN
        RAISE EXCEPTION '% % is not a valid name', what, httpq._quoted(value, max_length)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Use 1 to %s characters: letters, digits and . _ : @ / -, starting with a letter or digit%s.',
                                max_length, CASE WHEN pattern THEN ', or a prefix ending in * (such as ''order.*'')' ELSE '' END);
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._check_name(text, text, integer, boolean)
    IS 'Raises invalid_parameter_value for a malformed topic name or event type (pattern: may end in *).';

-- A topic's owner, creating the topic (owned by owner) when it does not exist yet.
CREATE FUNCTION httpq._ensure_topic(topic text, owner name) RETURNS name
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found name := (SELECT t.owner FROM httpq.topic t WHERE t.name = _ensure_topic.topic);
BEGIN
    IF found IS NULL THEN
        INSERT INTO httpq.topic (name, owner) VALUES (topic, owner) ON CONFLICT (name) DO NOTHING;
        -- Read again: another role may have created it meanwhile (the insert waited for it).
        found := (SELECT t.owner FROM httpq.topic t WHERE t.name = _ensure_topic.topic);
    END IF;
    RETURN found;
END;
$$;
COMMENT ON FUNCTION httpq._ensure_topic(text, name) IS 'A topic''s owner, creating the topic with the given owner if it is missing.';

-- Raises the error for a caller who is not the tenant of a topic.
CREATE FUNCTION httpq._refuse_topic(topic text, action text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'topic % belongs to another role: role % may not % it', quote_literal(topic),
                    quote_ident(httpq._caller()), action
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Use a topic of your own (the first subscribe or publish of a new topic makes the caller its owner).';
END;
$$;
COMMENT ON FUNCTION httpq._refuse_topic(text, text) IS 'Raises insufficient_privilege for a caller who does not own a topic.';

-- The subscription with this id, for a change by the caller: its topic's tenant, or (if
-- operator) an ops role, or an admin. Raises when there is none, or it is another's.
CREATE FUNCTION httpq._subscription_to_change(id bigint, action text, operator boolean) RETURNS httpq.subscription
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s     httpq.subscription;
    owner name;
BEGIN
    -- Locked: a concurrent unsubscribe or pause of the same one waits for this.
    SELECT * INTO s FROM httpq.subscription x WHERE x.id = _subscription_to_change.id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'there is no subscription %', coalesce(id::text, 'NULL')
            USING ERRCODE = 'no_data_found', HINT = 'SELECT id, topic, url FROM httpq.subscriptions;';
    END IF;
    owner := (SELECT t.owner FROM httpq.topic t WHERE t.name = s.topic);
    IF NOT httpq._owns(owner) AND NOT (operator AND httpq._has_kind(httpq._caller(), 'ops')) THEN
        PERFORM httpq._refuse_topic(s.topic, action || ' a subscription of');
    END IF;
    RETURN s;
END;
$$;
COMMENT ON FUNCTION httpq._subscription_to_change(bigint, text, boolean)
    IS 'The subscription with an id, locked, once the caller may change it; raises otherwise.';

-- Checks what a new subscription would send, as enqueue would, and that the topic's owner
-- may enqueue into its channel and use the secrets its headers name.
CREATE FUNCTION httpq._check_subscription(s httpq.subscription, topic_owner name) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    problem       text[];
    channel_owner name;
    e             text;
BEGIN
    -- The checks an enqueue makes of a request to the subscription: url, method, channel.
    problem := coalesce(httpq._problem(ROW(s.url, s.method, s.headers, NULL, s.channel, NULL, httpq._now(), NULL,
                                           NULL, NULL, NULL, 0, NULL, false)::httpq.new_request, httpq._now()),
                        httpq._headers_problem(s.headers));
    IF problem IS NULL AND s.method = 'HEAD' THEN
        problem := ARRAY['22023', 'method must not be HEAD, which sends no body: publish sends the event''s'];
    END IF;
    IF problem IS NULL AND httpq._header(s.headers, 'Idempotency-Key') IS NOT NULL THEN
        problem := ARRAY['22023', 'headers: ''Idempotency-Key'' must not be set: each delivery gets its own'];
    END IF;
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION '%', problem[2] USING ERRCODE = problem[1];
    END IF;
    IF s.event_types IS NOT NULL THEN
        IF cardinality(s.event_types) = 0 THEN
            RAISE EXCEPTION 'event_types must be NULL (every event) or list at least one event type'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        FOREACH e IN ARRAY s.event_types LOOP
            PERFORM httpq._check_name('event_types: event type', e, 200, true);
        END LOOP;
    END IF;
    -- A channel made here is the topic owner's, who publishes into it.
    INSERT INTO httpq.channel (name, owner) VALUES (s.channel, topic_owner) ON CONFLICT (name) DO NOTHING;
    channel_owner := (SELECT c.owner FROM httpq.channel c WHERE c.name = s.channel);
    IF channel_owner IS NOT NULL AND NOT httpq._member(topic_owner, channel_owner)
       AND NOT httpq._has_kind(topic_owner, 'admin') THEN
        RAISE EXCEPTION 'channel % belongs to role %: the owner of topic %, role %, may not enqueue into it',
                        quote_literal(s.channel), quote_ident(channel_owner), quote_literal(s.topic), quote_ident(topic_owner)
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Leave channel out: each subscription then gets a channel of its own.';
    END IF;
    IF httpq._secret_names(s.headers) IS NOT NULL THEN
        PERFORM httpq._check_secret_use(httpq._secret_names(s.headers), 'headers', coalesce(channel_owner, topic_owner));
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._check_subscription(httpq.subscription, name)
    IS 'Raises unless a new subscription would make acceptable requests into a channel its topic''s owner may use.';

-- Subscribes url to a topic; returns the subscription's id. channel NULL: a channel of its
-- own, '<topic>/<id>', so that a slow subscriber holds up no other. event_types NULL: every
-- event; else exact types or prefixes ending in '*'. owner: for an admin, the owner of a
-- topic made now.
CREATE FUNCTION httpq.subscribe(
    topic       text,
    url         text,
    channel     text DEFAULT NULL,
    headers     jsonb DEFAULT '{}',
    event_types text[] DEFAULT NULL,
    method      text DEFAULT 'POST',
    owner       text DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s           httpq.subscription;
    topic_owner name;
BEGIN
    PERFORM httpq._check_name('topic', subscribe.topic, 180);
    IF owner IS NOT NULL THEN
        PERFORM httpq._check_admin('subscribe on behalf of another role');
        IF NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = subscribe.owner) THEN
            RAISE EXCEPTION 'owner: role % does not exist', quote_ident(owner) USING ERRCODE = 'undefined_object';
        END IF;
    END IF;
    topic_owner := httpq._ensure_topic(subscribe.topic, coalesce(subscribe.owner::name, httpq._caller()));
    IF owner IS NOT NULL AND topic_owner <> owner THEN
        RAISE EXCEPTION 'owner: topic % belongs to role % already', quote_literal(topic), quote_ident(topic_owner)
            USING ERRCODE = 'invalid_parameter_value', HINT = 'owner names the owner of a topic that subscribe creates.';
    END IF;
    IF NOT httpq._owns(topic_owner) THEN
        PERFORM httpq._refuse_topic(subscribe.topic, 'subscribe to');
    END IF;
    s := ROW(nextval('httpq.subscription_id_seq'), subscribe.topic, subscribe.url, subscribe.method, subscribe.headers,
             NULL, subscribe.event_types, NULL, httpq._now())::httpq.subscription;
    s.channel := coalesce(subscribe.channel, subscribe.topic || '/' || s.id);
    PERFORM httpq._check_subscription(s, topic_owner);
    INSERT INTO httpq.subscription (id, topic, url, method, headers, channel, event_types, created_at)
    VALUES (s.id, s.topic, s.url, s.method, s.headers, s.channel, s.event_types, s.created_at);
    RETURN s.id;
END;
$$;
COMMENT ON FUNCTION httpq.subscribe(text, text, text, jsonb, text[], text, text)
    IS 'Subscribes a url to a topic (each published event matching event_types is delivered to it); returns the subscription''s id.';

-- Ends a subscription; false when there is none. What was published to it stays queued.
CREATE FUNCTION httpq.unsubscribe(id bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM httpq.subscription s WHERE s.id = unsubscribe.id) THEN
        RETURN false;
    END IF;
    PERFORM httpq._subscription_to_change(unsubscribe.id, 'end', false);
    DELETE FROM httpq.subscription s WHERE s.id = unsubscribe.id;
    RETURN FOUND;
END;
$$;
COMMENT ON FUNCTION httpq.unsubscribe(bigint)
    IS 'Ends a subscription; its requests already published stay queued. False when there is none.';

-- Pauses a subscription: publish skips it (what it publishes meanwhile is not delivered to
-- it later; to hold deliveries instead, pause its channel with httpq.pause).
CREATE FUNCTION httpq.pause_subscription(id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM httpq._subscription_to_change(pause_subscription.id, 'pause', true);
    UPDATE httpq.subscription s SET paused_at = coalesce(s.paused_at, httpq._now()) WHERE s.id = pause_subscription.id;
END;
$$;
COMMENT ON FUNCTION httpq.pause_subscription(bigint)
    IS 'Pauses a subscription: publish skips it until httpq.resume_subscription (events are not kept for it).';

-- Lets publish deliver to a paused subscription again, from the next publish on.
CREATE FUNCTION httpq.resume_subscription(id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM httpq._subscription_to_change(resume_subscription.id, 'resume', true);
    UPDATE httpq.subscription s SET paused_at = NULL WHERE s.id = resume_subscription.id;
END;
$$;
COMMENT ON FUNCTION httpq.resume_subscription(bigint) IS 'Lets publish deliver to a paused subscription again.';

-- Publishes an event to a topic: enqueues, in one httpq.enqueue_many, one request per
-- unpaused subscription whose event_types match event_type (NULL matches only subscriptions
-- without a filter); returns their ids in subscription id order. ordering_key and
-- dedupe_key apply per subscription: the requests carry '<subscription id>:<key>'.
CREATE FUNCTION httpq.publish(
    topic        text,
    body         jsonb DEFAULT NULL,
    event_type   text DEFAULT NULL,
    ordering_key text DEFAULT NULL,
    dedupe_key   text DEFAULT NULL,
    run_at       timestamptz DEFAULT now(),
    deadline     timestamptz DEFAULT NULL,
    priority     integer DEFAULT 0,
    notify       boolean DEFAULT false,
    traceparent  text DEFAULT NULL,
    tracestate   text DEFAULT NULL
) RETURNS SETOF bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    requests httpq.new_request[];
    problem  text[];
BEGIN
    PERFORM httpq._check_name('topic', publish.topic, 180);
    IF event_type IS NOT NULL THEN
        PERFORM httpq._check_name('event_type', publish.event_type, 200);
    END IF;
    -- Room for the subscription's id in front: a request's keys are at most 1000 characters.
    IF ordering_key = '' OR length(ordering_key) > 980 THEN
        RAISE EXCEPTION 'ordering_key must be 1 to 980 characters, or NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF dedupe_key = '' OR length(dedupe_key) > 980 THEN
        RAISE EXCEPTION 'dedupe_key must be 1 to 980 characters, or NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- run_at, deadline and priority as enqueue checks them, once for every request made.
    problem := httpq._problem(ROW('http://publish', 'POST', '{}', NULL, 'publish', NULL, publish.run_at, NULL,
                                  publish.deadline, NULL, NULL, publish.priority, NULL, false)::httpq.new_request, httpq._now());
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION '%', problem[2] USING ERRCODE = problem[1];
    END IF;
    -- The trace context (given, or the session's) is checked even when no subscription takes it.
    IF traceparent IS NOT NULL OR tracestate IS NOT NULL
       OR current_setting('httpq.traceparent', true) <> '' OR current_setting('httpq.tracestate', true) <> '' THEN
        PERFORM httpq._traced_headers('{}', publish.traceparent, publish.tracestate);
    END IF;
    IF NOT httpq._owns(httpq._ensure_topic(publish.topic, httpq._caller())) THEN
        PERFORM httpq._refuse_topic(publish.topic, 'publish to');
    END IF;
    SELECT array_agg(httpq.new_request(s.url, publish.body, s.method, s.headers, s.channel,
                                       s.id || ':' || publish.ordering_key, publish.run_at, NULL, publish.deadline,
                                       NULL, s.id || ':' || publish.dedupe_key, publish.priority, NULL,
                                       publish.notify, publish.traceparent, publish.tracestate)
                     ORDER BY s.id)
    INTO requests
    FROM httpq.subscription s
    WHERE s.topic = publish.topic AND s.paused_at IS NULL
      AND (s.event_types IS NULL
           OR publish.event_type = ANY (s.event_types)
           OR EXISTS (SELECT 1 FROM unnest(s.event_types) AS e
                      WHERE e LIKE '%*' AND starts_with(publish.event_type, left(e, -1))));
    IF requests IS NOT NULL THEN
        -- The ids come back in the order given: subscription id order.
        RETURN QUERY SELECT httpq.enqueue_many(requests);
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq.publish(text, jsonb, text, text, text, timestamptz, timestamptz, integer, boolean, text, text)
    IS 'Publishes an event: enqueues one request per matching, unpaused subscription of the topic; returns their ids.';

-- The topics a view shows the caller the subscriptions (or headers) of: NULL for all when
-- the caller has the kind ('ops' for rows, 'admin' for headers), else those it is the
-- tenant of. A view evaluates it once per query.
CREATE FUNCTION httpq._tenant_topics(unless_kind text) RETURNS text[]
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF httpq._has_kind(httpq._caller(), unless_kind) THEN
        RETURN NULL;
    END IF;
    RETURN ARRAY(SELECT t.name FROM httpq.topic t WHERE httpq._owns(t.owner));
END;
$$;
COMMENT ON FUNCTION httpq._tenant_topics(text) IS 'The topics whose subscriptions a view shows the caller; NULL for all when it has the kind.';


-- Every subscription of every topic, with its topic's owner. Headers (they may carry a
-- credential) only to the topic's tenant and admins.
CREATE VIEW httpq.subscriptions WITH (security_barrier) AS
    SELECT s.id, s.topic, t.owner, s.url, s.method,
           CASE WHEN (SELECT httpq._tenant_topics('admin')) IS NULL OR s.topic = ANY ((SELECT httpq._tenant_topics('admin'))::text[])
                THEN s.headers END AS headers,
           s.channel, s.event_types, s.paused_at IS NOT NULL AS paused, s.paused_at, s.created_at
    FROM httpq.subscription s
    JOIN httpq.topic t ON t.name = s.topic
    WHERE (SELECT httpq._tenant_topics('ops')) IS NULL OR s.topic = ANY ((SELECT httpq._tenant_topics('ops'))::text[]);
COMMENT ON VIEW httpq.subscriptions IS 'Every subscription: topic, owner, where and how it delivers, event types, paused.';

-- As sql/99_privileges.sql leaves them: the REVOKEs also give the new relations the
-- explicit owner's privileges that a fresh install records as initial privileges.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA httpq FROM PUBLIC;
REVOKE ALL ON httpq.topic, httpq.subscription, httpq.subscriptions FROM PUBLIC;
REVOKE ALL ON SEQUENCE httpq.subscription_id_seq FROM PUBLIC;
GRANT EXECUTE ON FUNCTION httpq._tenant_channels(text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION httpq._tenant_topics(text) TO PUBLIC;
-- (end of Topics and subscriptions)

-- Awaiting outcomes (sql/00_schema.sql, 20_request.sql, 35_enqueue.sql, 45_finish.sql,
-- 47_await.sql): a request may ask to be announced on channel httpq_finished when it
-- finishes (notify), and httpq.outcome and httpq.wait read a finished request's outcome.
-- enqueue, enqueue_bytes, new_request and new_request_bytes take notify, then traceparent and
-- tracestate (section Trace context), last: the roles that could execute the 0.1.0 functions
-- may execute the new ones, then the old ones go.
ALTER TYPE httpq.new_request ADD ATTRIBUTE notify boolean;
ALTER TABLE httpq.request ADD COLUMN notify boolean NOT NULL DEFAULT false;

-- Builds a request with a JSON body (Content-Type: application/json unless a header says
-- otherwise), for httpq.enqueue_many. Nothing is checked or written here.
CREATE OR REPLACE FUNCTION httpq.new_request(
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
    timeout_ms      integer DEFAULT NULL,
    notify          boolean DEFAULT false,
    traceparent     text DEFAULT NULL,
    tracestate      text DEFAULT NULL
) RETURNS httpq.new_request
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- PL/pgSQL, not LANGUAGE sql: called once per row of a batch, and a SQL body that
    -- cannot be inlined (it pins search_path) costs several times more per call.
    IF traceparent IS NOT NULL OR tracestate IS NOT NULL
       OR current_setting('httpq.traceparent', true) <> '' OR current_setting('httpq.tracestate', true) <> '' THEN
        headers := httpq._traced_headers(headers, traceparent, tracestate);
    END IF;
    RETURN ROW(
        url,
        method,
        CASE WHEN body IS NOT NULL AND jsonb_typeof(headers) = 'object'
                  AND httpq._header(headers, 'Content-Type') IS NULL
             THEN headers || '{"Content-Type": "application/json"}'
             ELSE headers END,
        convert_to(body::text, 'UTF8'),
        channel, ordering_key, coalesce(run_at, httpq._now()), max_attempts, deadline,
        idempotency_key, dedupe_key, priority, timeout_ms, coalesce(notify, false)
    )::httpq.new_request;
END;
$$;
COMMENT ON FUNCTION httpq.new_request(text, jsonb, text, jsonb, text, text, timestamptz, integer, timestamptz, text, text, integer, integer, boolean, text, text)
    IS 'Builds a request with a JSON body for httpq.enqueue_many; checks and writes nothing.';
-- Builds a request with a body of any type (text, form, binary) and its content type.
CREATE OR REPLACE FUNCTION httpq.new_request_bytes(
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
    timeout_ms      integer DEFAULT NULL,
    notify          boolean DEFAULT false,
    traceparent     text DEFAULT NULL,
    tracestate      text DEFAULT NULL
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
    IF traceparent IS NOT NULL OR tracestate IS NOT NULL
       OR current_setting('httpq.traceparent', true) <> '' OR current_setting('httpq.tracestate', true) <> '' THEN
        headers := httpq._traced_headers(headers, traceparent, tracestate);
    END IF;
    RETURN ROW(
        url,
        method,
        CASE WHEN body IS NOT NULL AND header_type IS NULL AND jsonb_typeof(headers) = 'object'
             THEN headers || jsonb_build_object('Content-Type', coalesce(content_type, 'application/octet-stream'))
             ELSE headers END,
        body,
        channel, ordering_key, coalesce(run_at, httpq._now()), max_attempts, deadline,
        idempotency_key, dedupe_key, priority, timeout_ms, coalesce(notify, false)
    )::httpq.new_request;
END;
$$;
COMMENT ON FUNCTION httpq.new_request_bytes(text, bytea, text, text, jsonb, text, text, timestamptz, integer, timestamptz, text, text, integer, integer, boolean, text, text)
    IS 'Builds a request with a body of any content type for httpq.enqueue_many; checks and writes nothing.';
-- Enqueues one request with a JSON body; returns its id.
CREATE OR REPLACE FUNCTION httpq.enqueue(
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
    timeout_ms      integer DEFAULT NULL,
    notify          boolean DEFAULT false,
    traceparent     text DEFAULT NULL,
    tracestate      text DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r httpq.new_request;
BEGIN
    -- PL/pgSQL: a SQL body that pins search_path is planned anew on every call.
    r := httpq.new_request(url, body, method, headers, channel, ordering_key, run_at,
                           max_attempts, deadline, idempotency_key, dedupe_key,
                           priority, timeout_ms, notify, traceparent, tracestate);
    IF r.ordering_key IS NULL AND r.dedupe_key IS NULL THEN
        RETURN httpq._enqueue_one(r, httpq._now());
    END IF;
    RETURN (SELECT httpq.enqueue_many(ARRAY[r]));
END;
$$;
COMMENT ON FUNCTION httpq.enqueue(text, jsonb, text, jsonb, text, text, timestamptz, integer, timestamptz, text, text, integer, integer, boolean, text, text)
    IS 'Enqueues one HTTP request with a JSON body inside the caller''s transaction; returns its id.';
-- Enqueues one request with a body of any type (text, form, binary); returns its id.
CREATE OR REPLACE FUNCTION httpq.enqueue_bytes(
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
    timeout_ms      integer DEFAULT NULL,
    notify          boolean DEFAULT false,
    traceparent     text DEFAULT NULL,
    tracestate      text DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r httpq.new_request;
BEGIN
    -- PL/pgSQL: a SQL body that pins search_path is planned anew on every call.
    r := httpq.new_request_bytes(url, body, content_type, method, headers, channel,
                                 ordering_key, run_at, max_attempts, deadline,
                                 idempotency_key, dedupe_key, priority, timeout_ms, notify,
                                 traceparent, tracestate);
    IF r.ordering_key IS NULL AND r.dedupe_key IS NULL THEN
        RETURN httpq._enqueue_one(r, httpq._now());
    END IF;
    RETURN (SELECT httpq.enqueue_many(ARRAY[r]));
END;
$$;
COMMENT ON FUNCTION httpq.enqueue_bytes(text, bytea, text, text, jsonb, text, text, timestamptz, integer, timestamptz, text, text, integer, integer, boolean, text, text)
    IS 'Enqueues one HTTP request with a body of any content type inside the caller''s transaction; returns its id.';

-- The outcome of a finished request, as httpq.outcome and httpq.wait return it.
CREATE TYPE httpq.outcome AS (
    id          bigint,
    state       text,         -- delivered, dead or canceled
    status      integer,      -- the last response's, NULL without one
    headers     jsonb,
    body        bytea,
    error       text,         -- the last attempt's failure
    finished_at timestamptz
);

-- The payloads that announce finished requests on channel httpq_finished: their ids,
-- comma-separated, in as few payloads as fit NOTIFY's 8000-byte limit.
CREATE FUNCTION httpq._finished_payloads(ids bigint[]) RETURNS SETOF text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT string_agg(c.id::text, ',' ORDER BY c.id)
    FROM (SELECT i.id, (sum(length(i.id::text) + 1) OVER (ORDER BY i.id)) / 7900 AS chunk
          FROM unnest(ids) AS i(id)) AS c
    GROUP BY c.chunk
    ORDER BY c.chunk
$$;
COMMENT ON FUNCTION httpq._finished_payloads(bigint[]) IS 'The httpq_finished payloads announcing finished requests: ids, comma-separated, under 8000 bytes each.';

-- The outcome of request id once it finished; NULL while it has not. Raises for a request
-- that does not exist or is another tenant's, in the same words, so that a role learns
-- nothing of others' requests.
CREATE FUNCTION httpq.outcome(id bigint) RETURNS httpq.outcome
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result  httpq.outcome;
    channel text := (SELECT h.channel FROM httpq.history h WHERE h.id = outcome.id);
BEGIN
    IF channel IS NOT NULL THEN
        SELECT h.id, h.state, h.last_status, h.response_headers, h.response_body, h.last_error, h.finished_at
        INTO result
        FROM httpq.history h WHERE h.id = outcome.id;
    ELSE
        SELECT r.channel INTO channel FROM httpq.request r WHERE r.id = outcome.id;
    END IF;
    IF channel IS NULL OR NOT httpq._owns((SELECT c.owner FROM httpq.channel c WHERE c.name = channel)) THEN
        RAISE EXCEPTION 'role % has no request %', quote_ident(httpq._caller()), coalesce(id::text, 'NULL')
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN result;
END;
$$;
COMMENT ON FUNCTION httpq.outcome(bigint) IS 'A finished request''s outcome (state, status, headers, body, error); NULL while unfinished.';

-- Waits up to timeout for request id to finish and returns its outcome, or NULL at the
-- timeout. It polls, a few milliseconds apart at first and at most half a second: it holds
-- a session and its snapshot meanwhile (vacuum waits for it), so keep timeouts short, or
-- LISTEN httpq_finished instead. Each poll must see other transactions' commits, so it
-- refuses to run in a REPEATABLE READ or SERIALIZABLE transaction, or for a request its own
-- transaction enqueued.
CREATE FUNCTION httpq.wait(id bigint, timeout interval DEFAULT '30 seconds') RETURNS httpq.outcome
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    until  timestamptz;
    pause  float8 := 0.005;
    result httpq.outcome;
BEGIN
    IF timeout IS NULL OR timeout < '0' OR timeout > '1 hour' THEN
        RAISE EXCEPTION 'timeout must be from 0 to 1 hour, got %', coalesce(timeout::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For longer waits, LISTEN httpq_finished.';
    END IF;
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'httpq.wait needs a READ COMMITTED transaction, not %', current_setting('transaction_isolation')
            USING ERRCODE = 'active_sql_transaction',
                  HINT = 'Its snapshot would never see the request finish.';
    END IF;
    until := clock_timestamp() + timeout;
    LOOP
        result := httpq.outcome(id);
        IF result.id IS NOT NULL THEN
            RETURN result;
        END IF;
        -- Enqueued by this very transaction: no worker can see it before it commits.
        IF EXISTS (SELECT 1 FROM httpq.request r
                   WHERE r.id = wait.id AND r.xmin = pg_current_xact_id_if_assigned()::text::xid) THEN
            RAISE EXCEPTION 'request % was enqueued in this transaction, which must commit before a worker can send it', id
                USING ERRCODE = 'active_sql_transaction', HINT = 'Commit first, then wait.';
        END IF;
        EXIT WHEN clock_timestamp() >= until;
        PERFORM pg_sleep(least(pause, extract(epoch FROM until - clock_timestamp())));
        pause := least(pause * 2, 0.5);
    END LOOP;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION httpq.wait(bigint, interval) IS 'Waits up to timeout for a request to finish and returns its outcome; NULL at the timeout.';

DO $$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT replace(p.oid::regprocedure::text, ')', ', boolean, text, text)') AS function, a.grantee::regrole AS grantee
        FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) AS a
        WHERE p.oid IN ('httpq.enqueue(text, jsonb, text, jsonb, text, text, timestamptz, integer, timestamptz, text, text, integer, integer)'::regprocedure,
                        'httpq.enqueue_bytes(text, bytea, text, text, jsonb, text, text, timestamptz, integer, timestamptz, text, text, integer, integer)'::regprocedure,
                        'httpq.new_request(text, jsonb, text, jsonb, text, text, timestamptz, integer, timestamptz, text, text, integer, integer)'::regprocedure,
                        'httpq.new_request_bytes(text, bytea, text, text, jsonb, text, text, timestamptz, integer, timestamptz, text, text, integer, integer)'::regprocedure)
          AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner AND a.grantee <> 0
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s', g.function, g.grantee);
    END LOOP;
END;
$$;
DROP FUNCTION httpq.enqueue(text, jsonb, text, jsonb, text, text, timestamptz, integer, timestamptz, text, text, integer, integer);
DROP FUNCTION httpq.enqueue_bytes(text, bytea, text, text, jsonb, text, text, timestamptz, integer, timestamptz, text, text, integer, integer);
DROP FUNCTION httpq.new_request(text, jsonb, text, jsonb, text, text, timestamptz, integer, timestamptz, text, text, integer, integer);
DROP FUNCTION httpq.new_request_bytes(text, bytea, text, text, jsonb, text, text, timestamptz, integer, timestamptz, text, text, integer, integer);
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA httpq FROM PUBLIC;
GRANT EXECUTE ON FUNCTION httpq._tenant_channels(text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION httpq._tenant_topics(text) TO PUBLIC;
-- (end of Awaiting outcomes)

-- Circuit breaker (sql/10_channel.sql, 48_claim_position.sql, 50_claim.sql, 55_report.sql,
-- 57_breaker.sql, 90_views.sql): per channel, breaker settings and state, added after the
-- AWS columns as a fresh install has them, and why a channel is paused. Claims skip a
-- channel whose breaker is open until its probe is due; reports count retryable failures and
-- successes, and a 410 Gone pauses the channel. set_channel takes the breaker settings last:
-- the roles that could execute the one before may execute the new one, then it goes.
ALTER TABLE httpq.channel
    ADD COLUMN breaker_failures integer DEFAULT 10,
    ADD COLUMN breaker_cooldown interval NOT NULL DEFAULT '30 seconds',
    ADD COLUMN breaker_cooldown_max interval NOT NULL DEFAULT '10 minutes',
    ADD COLUMN breaker_state text NOT NULL DEFAULT 'closed',
    ADD COLUMN breaker_failed integer NOT NULL DEFAULT 0,
    ADD COLUMN breaker_opened integer NOT NULL DEFAULT 0,
    ADD COLUMN breaker_probe_at timestamptz,
    ADD COLUMN breaker_reason text,
    ADD COLUMN breaker_changed_at timestamptz,
    ADD COLUMN paused_reason text,
    ADD CONSTRAINT breaker_failures_in_range CHECK (breaker_failures BETWEEN 1 AND 1000000),
    ADD CONSTRAINT breaker_cooldown_in_range CHECK (breaker_cooldown BETWEEN '1 second' AND '1 day'),
    ADD CONSTRAINT breaker_cooldown_max_in_range CHECK (breaker_cooldown_max BETWEEN breaker_cooldown AND '7 days'),
    ADD CONSTRAINT breaker_state_known CHECK (breaker_state IN ('closed', 'open', 'half_open')),
    ADD CONSTRAINT breaker_probe_at_when_not_closed CHECK ((breaker_state = 'closed') = (breaker_probe_at IS NULL));
CREATE INDEX channel_breaker_idx ON httpq.channel (breaker_probe_at) WHERE breaker_state <> 'closed';

-- The cool-down after the breaker's opened-th opening in a row: breaker_cooldown, doubled
-- on each reopen, at most breaker_cooldown_max.
CREATE FUNCTION httpq._breaker_cooldown(cooldown interval, cooldown_max interval, opened integer) RETURNS interval
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    -- In seconds as float8, with the exponent bounded, so many reopens cannot overflow.
    SELECT make_interval(secs => least(extract(epoch FROM cooldown_max)::float8,
                                       extract(epoch FROM cooldown)::float8 * power(2::float8, least(greatest(opened, 1) - 1, 60))))
$$;
COMMENT ON FUNCTION httpq._breaker_cooldown(interval, interval, integer)
    IS 'The cool-down after the opened-th opening in a row: cooldown * 2^(opened-1), at most cooldown_max.';

-- A claim took request id as the probe of channel's open breaker (holding the channel's
-- row lock): the breaker is half-open until the probe's report, or until the probe's
-- time-out and 10 seconds more, when a probe whose worker never reported is given up and
-- another may go.
CREATE FUNCTION httpq._breaker_probe(channel text, id bigint, now timestamptz) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    given_up timestamptz;
BEGIN
    SELECT now + make_interval(secs => coalesce(r.timeout_ms, c.timeout_ms) / 1000.0) + interval '10 seconds'
    INTO given_up
    FROM httpq.request r JOIN httpq.channel c ON c.name = r.channel
    WHERE r.id = _breaker_probe.id;
    UPDATE httpq.channel c
    SET breaker_state = 'half_open', breaker_probe_at = given_up, breaker_changed_at = now
    WHERE c.name = _breaker_probe.channel;
    RAISE NOTICE 'httpq breaker half-open: channel "%": probing with request %; another probe at % unless it is reported',
        channel, id, given_up;
END;
$$;
COMMENT ON FUNCTION httpq._breaker_probe(text, bigint, timestamptz)
    IS 'Makes a channel''s breaker half-open: a claim took request id as its probe.';

-- Applies what a report's outcomes mean to their channels' breakers. news holds an object
-- for each outcome that may change its channel's breaker (as report read it): {channel, id,
-- kind: success | failure | gone, what}; delivered: the report's delivered requests, the
-- successes of those channels. (Requests are still in httpq.request: report calls this
-- before httpq._finish.) Each channel's row is read again under its lock, so reports at
-- once add up.
CREATE FUNCTION httpq._breaker_report(news jsonb, delivered bigint[], now timestamptz) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    b      record;
    ch     httpq.channel;
    failed integer;
    opened integer;
    reason text;
BEGIN
    FOR b IN
        SELECT f.*, s.successes, s.success
        FROM (SELECT o ->> 'channel' AS channel,
                     count(*) FILTER (WHERE o ->> 'kind' = 'failure') AS failures,
                     (array_agg(o ORDER BY (o ->> 'id')::bigint DESC) FILTER (WHERE o ->> 'kind' = 'failure'))[1] AS last_failure,
                     (array_agg(o ORDER BY (o ->> 'id')::bigint) FILTER (WHERE o ->> 'kind' = 'gone'))[1] AS gone
              FROM jsonb_array_elements(news) AS o
              GROUP BY o ->> 'channel') AS f
        CROSS JOIN LATERAL (SELECT count(*) AS successes, min(r.id) AS success FROM httpq.request r
                            WHERE r.id = ANY (delivered) AND r.channel = f.channel) AS s
        ORDER BY f.channel
    LOOP
        IF b.gone IS NOT NULL THEN
            -- The pause fence, as httpq.pause takes it: once this report commits, no claim
            -- takes from the channel.
            PERFORM pg_advisory_xact_lock(1752461427, hashtext(b.channel));
        END IF;
        SELECT * INTO ch FROM httpq.channel c WHERE c.name = b.channel FOR NO KEY UPDATE;

        -- A destination that answers 410 Gone asks its senders to stop (Standard Webhooks):
        -- the channel is paused until httpq.resume. The request waits, its attempt uncounted.
        IF b.gone IS NOT NULL AND NOT ch.paused THEN
            SELECT format('destination answered 410 Gone to request %s (%s %s) at %s', r.id, r.method, left(r.url, 200), now)
            INTO reason
            FROM httpq.request r WHERE r.id = (b.gone ->> 'id')::bigint;
            UPDATE httpq.channel c SET paused = true, paused_reason = reason WHERE c.name = ch.name;
            RAISE NOTICE 'httpq channel paused: channel "%": %', ch.name, reason;
        END IF;

        IF b.successes > 0 THEN
            -- Any success: the endpoint answers again. (A report counts as a success for a
            -- channel when it carries one: its attempts ran at once, in no order.)
            IF ch.breaker_failed > 0 OR ch.breaker_state <> 'closed' THEN
                UPDATE httpq.channel c
                SET breaker_state = 'closed', breaker_failed = 0, breaker_opened = 0, breaker_probe_at = NULL,
                    breaker_reason = NULL,
                    breaker_changed_at = CASE WHEN ch.breaker_state <> 'closed' THEN now ELSE c.breaker_changed_at END
                WHERE c.name = ch.name;
                IF ch.breaker_state <> 'closed' THEN
                    RAISE NOTICE 'httpq breaker closed: channel "%": request % delivered', ch.name, b.success;
                END IF;
            END IF;
        ELSIF b.failures > 0 AND ch.breaker_failures IS NOT NULL AND ch.breaker_state <> 'open' THEN
            -- Failures while open are the attempts sent before it opened: they change nothing.
            failed := ch.breaker_failed + b.failures;
            IF ch.breaker_state = 'half_open' OR failed >= ch.breaker_failures THEN
                -- Opens, or (the probe failed) opens again for twice as long.
                opened := ch.breaker_opened + 1;
                reason := format('%s consecutive failure%s, last: %s from request %s', failed,
                                 CASE WHEN failed > 1 THEN 's' END, b.last_failure ->> 'what', b.last_failure ->> 'id');
                UPDATE httpq.channel c
                SET breaker_state = 'open', breaker_failed = failed, breaker_opened = opened,
                    breaker_probe_at = now + httpq._breaker_cooldown(c.breaker_cooldown, c.breaker_cooldown_max, opened),
                    breaker_reason = reason, breaker_changed_at = now
                WHERE c.name = ch.name
                RETURNING c.* INTO ch;
                RAISE NOTICE 'httpq breaker opened: channel "%": %; probing at %', ch.name, reason, ch.breaker_probe_at;
            ELSE
                UPDATE httpq.channel c SET breaker_failed = failed WHERE c.name = ch.name;
            END IF;
        END IF;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION httpq._breaker_report(jsonb, bigint[], timestamptz)
    IS 'Counts a report''s successes and retryable failures in their channels'' breakers, and pauses a channel that answered 410 Gone.';

-- Of the named channels, up to max_count unpaused ones not held by their circuit breaker
-- (sql/57_breaker.sql), least recently served first: the channels a claim visits, those
-- httpq._waiting_channels found with work or, reading from positions, those found before.
-- One primary-key probe per name (OFFSET 0 keeps it a nested probe: as a join, the planner
-- may read the whole channel table, whose size follows every channel ever used; seen:
-- 1,934 pages with 50,000 channels).
CREATE OR REPLACE FUNCTION httpq._known_channels(names text[], max_count integer) RETURNS text[]
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

-- Up to max_count of the named channels, unpaused and not held by their circuit breaker,
-- with a waiting request, least recently served first. Probed one by one: a worker that
-- serves some channels never reads the others. (A claim of all channels finds them by
-- httpq._waiting_channels.)
CREATE OR REPLACE FUNCTION httpq._ready_channels(channels text[], max_count integer) RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET enable_indexonlyscan = off   -- see _waiting_channels
AS $$
BEGIN
    RETURN (SELECT array_agg(c.name ORDER BY c.served_at, c.name)
    FROM (
        SELECT c.name, c.served_at
        FROM httpq.channel c
        WHERE c.name = ANY (_ready_channels.channels) AND NOT c.paused
          AND (c.breaker_state = 'closed' OR c.breaker_probe_at <= httpq._now())
          AND EXISTS (SELECT 1 FROM httpq.request r WHERE r.channel = c.name AND r.state = 'waiting')
        ORDER BY c.served_at, c.name
        LIMIT _ready_channels.max_count
    ) AS c);
END;
$$;
COMMENT ON FUNCTION httpq._ready_channels(text[], integer)
    IS 'Unpaused channels among those named, not held by their breaker, with a waiting request, least recently served first.';

-- Claims up to max_count requests for a worker, leased until now() + lease, with bodies
-- of at most max_bytes in all (but always one request, when any is ready). A worker keeps
-- one channel from taking all its transfers with per_channel, the most one channel may
-- get, and channel_room, less for the channels named: {"channel": n, ...}.
CREATE OR REPLACE FUNCTION httpq.claim(
    worker       text,
    max_count    integer DEFAULT 100,
    channels     text[] DEFAULT NULL,
    lease        interval DEFAULT '1 minute',
    max_bytes    bigint DEFAULT NULL,
    per_channel  integer DEFAULT NULL,
    channel_room jsonb DEFAULT NULL
) RETURNS SETOF httpq.claimed
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- Generic plans from the first call, here and in the functions it calls: a busy worker
-- claims hundreds of times a second, and custom plans were made anew on every call (0.5 ms
-- of a 1 ms claim of 10, measured). A generic plan lasts the session, so it must not
-- depend on the table's size when it was made: a worker that starts on an empty queue
-- planned its UPDATE by ids as a scan of the whole table, 24 ms a claim once 50,000 waited.
-- So no sequential scans and no hash or merge joins: every statement here reads through
-- an index, whatever the planner believes of the tables. (The same in report, heartbeat,
-- release, _finish and enqueue_many.)
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    now_at   constant timestamptz := httpq._now();
    wanted   integer := max_count;
    ready    text[];
    hungry   text[];
    ch       httpq.channel;
    locked   boolean;
    probing  boolean;
    alone    boolean;
    front    boolean;
    noting   boolean;
    known    text[];
    walk_started timestamptz;
    walked   interval;
    pos      httpq._position;
    last     httpq._position;
    last_priority integer;
    last_run_at   timestamptz;
    last_id       bigint;
    quota    integer;
    room     integer;
    room_left jsonb := coalesce(channel_room, '{}');
    bytes_left bigint := max_bytes;
    took_bytes bigint;
    allowed  integer;
    bucket   numeric;
    sealed   jsonb;
    take_ids bigint[];
    late_ids bigint[];
    got      integer;
BEGIN
    -- The rules of httpq._check_worker and _check_lease, which raise the errors: calling them
    -- on every claim cost 20 and 8 us.
    IF worker IS NULL OR worker = '' OR length(worker) > 200 OR worker ~ '[\x01-\x1f\x7f-\x9f]' THEN
        PERFORM httpq._check_worker(worker);
    END IF;
    IF max_count IS NULL OR max_count NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'max_count must be between 1 and 10000, got %', coalesce(max_count::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lease IS NULL OR lease < interval '1 second' OR lease > interval '1 day' THEN
        PERFORM httpq._check_lease(lease);
    END IF;
    IF max_bytes < 1 THEN
        RAISE EXCEPTION 'max_bytes must be positive or NULL, got %', max_bytes USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF per_channel < 1 THEN
        RAISE EXCEPTION 'per_channel must be positive or NULL, got %', per_channel USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(room_left) <> 'object' OR jsonb_path_exists(room_left, '$.* ? (@.type() != "number" || @ < 0 || @.floor() != @)') THEN
        RAISE EXCEPTION 'channel_room must be a JSON object of channel names and whole numbers of at least 0'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- The claim commits like any transaction (synchronous_commit as configured): a claim
    -- lost in a crash would hand its attempt number out again, and fencing relies on each
    -- (id, attempt) naming one claim only.
    -- Each step only when it has work, which most claims find none of. The earliest lease
    -- and run_at are read in index order (a generic plan of `run_at <= now_at` may scan the
    -- table instead). Leases are looked at once a second per session: a lease expires
    -- only when its worker is gone, and while another transaction holds back vacuum the
    -- front of request_lease_idx is the entries of every request reported since. (Always
    -- under the test clock, which tests move at will.)
    IF coalesce(current_setting('httpq.leases_checked_at', true), '') = ''
       OR current_setting('httpq.leases_checked_at')::timestamptz <= now_at - interval '1 second'
       OR coalesce(current_setting('httpq.now', true), '') <> '' THEN
        IF (SELECT r.lease_until FROM httpq.request r WHERE r.state = 'running' ORDER BY r.lease_until LIMIT 1) < now_at THEN
            PERFORM httpq._expire_leases(now_at);
        END IF;
        PERFORM set_config('httpq.leases_checked_at', now_at::text, false);
    END IF;
    IF (SELECT r.run_at FROM httpq.request r WHERE r.state = 'scheduled' ORDER BY r.run_at LIMIT 1) <= now_at THEN
        PERFORM httpq._wake_scheduled(claim.channels, least(10 * max_count, 10000), now_at);
    END IF;
    PERFORM httpq._promote_deferred();
    -- From the front of each channel, or from where this session last claimed
    -- (sql/48_claim_position.sql).
    -- Positions are noted only once reads from the front have been slow (or the period is fixed).
    noting := coalesce(current_setting('httpq.claim_slow_reads', true), '') NOT IN ('', '0')
              OR coalesce(current_setting('httpq.claim_front_every', true), '') <> '';
    known := CASE WHEN claim.channels IS NULL THEN nullif(current_setting('httpq.claim_channels', true), '')::text[] END;
    -- (A claim of all channels reads from positions only the channels a read from the front
    -- found with work; none known, it reads from the front.)
    front := httpq._claim_reads_front() OR (claim.channels IS NULL AND coalesce(cardinality(known), 0) = 0);
    walk_started := clock_timestamp();
    IF front AND claim.channels IS NULL THEN
        -- Every channel with work (the skip scan), kept for the reads from positions.
        known := ARRAY(SELECT httpq._waiting_channels());
        ready := httpq._known_channels(known, max_count);
        IF noting THEN
            PERFORM set_config('httpq.claim_channels', known::text, false);
        END IF;
    ELSIF front THEN
        ready := httpq._ready_channels(claim.channels, max_count);
    ELSE
        ready := httpq._known_channels(coalesce(claim.channels, known), max_count);
    END IF;
    walked := clock_timestamp() - walk_started;
    -- Fewer channels than asked for means every channel with work is here.
    alone := front AND cardinality(ready) = 1 AND max_count > 1;

    -- Round-robin: each channel gets an equal share of what is still wanted; what a
    -- channel cannot use goes to those after it, and a second round to those that filled.
    WHILE wanted > 0 AND cardinality(ready) > 0 LOOP
        hungry := '{}';
        FOR i IN 1 .. cardinality(ready) LOOP
            EXIT WHEN wanted = 0;
            quota := ceil(wanted::numeric / (cardinality(ready) - i + 1));
            -- What the worker leaves this channel: room_left counts down over the rounds.
            room := coalesce((room_left ->> ready[i])::integer, per_channel);
            IF room IS NOT NULL THEN
                CONTINUE WHEN room = 0;
                quota := least(quota, room);
            END IF;
            -- The channel's pause fence, shared: httpq.pause takes it exclusively, so it
            -- waits for every claim serving the channel, and a claim that comes while pause
            -- waits is refused it and skips the channel. paused is then read after the
            -- fence is held: no claim takes from a channel once pause has returned.
            CONTINUE WHEN NOT pg_try_advisory_xact_lock_shared(1752461427, hashtext(ready[i]));
            -- The row lock serializes claims of a limited channel across workers. An
            -- unlimited channel another claimer holds is still served: SKIP LOCKED on its
            -- requests keeps the two apart; only its bookkeeping waits for the next claim.
            -- The one channel ready, unlimited, needs no bookkeeping at all: its place in line
            -- (served_at) matters only next to others (a write saved on most busy claims).
            SELECT * INTO ch FROM httpq.channel c WHERE c.name = ready[i];
            locked := false;
            IF NOT alone OR ch.max_concurrency IS NOT NULL OR ch.rate_per_second IS NOT NULL THEN
                SELECT * INTO ch FROM httpq.channel c WHERE c.name = ready[i] FOR NO KEY UPDATE SKIP LOCKED;
                locked := FOUND;
                IF NOT locked THEN
                    SELECT * INTO ch FROM httpq.channel c WHERE c.name = ready[i];
                    CONTINUE WHEN ch.max_concurrency IS NOT NULL OR ch.rate_per_second IS NOT NULL;
                END IF;
            END IF;
            CONTINUE WHEN ch.paused;
            -- An open circuit breaker (sql/57_breaker.sql): nothing until its probe is due,
            -- then one request, the probe, taken under the row lock by one claim only.
            probing := ch.breaker_state <> 'closed';
            IF probing THEN
                CONTINUE WHEN ch.breaker_probe_at > now_at;
                IF NOT locked THEN
                    SELECT * INTO ch FROM httpq.channel c WHERE c.name = ready[i] FOR NO KEY UPDATE SKIP LOCKED;
                    locked := FOUND;
                    CONTINUE WHEN NOT locked OR ch.paused OR ch.breaker_probe_at > now_at;
                END IF;
                quota := 1;
            END IF;

            SELECT a.allowed, a.bucket INTO allowed, bucket FROM httpq._allowance(ch, quota, now_at) AS a;
            -- The channel's signing keys and AWS credentials, sealed, read once per channel and
            -- handed with each request.
            sealed := CASE WHEN ch.aws_credentials IS NOT NULL THEN httpq._sealed(ch.signing_keys || ch.aws_credentials, ch.owner)
                           WHEN cardinality(ch.signing_keys) > 0 THEN httpq._sealed(ch.signing_keys, ch.owner) END;

            got := 0;
            take_ids := NULL;
            late_ids := NULL;
            pos := CASE WHEN NOT front THEN httpq._claim_position(ch.name) END;
            walk_started := clock_timestamp();
            IF allowed > 0 AND pos IS NULL THEN
                SELECT array_agg(p.id) FILTER (WHERE NOT p.late), array_agg(p.id) FILTER (WHERE p.late),
                       (array_agg(p.priority ORDER BY p.priority DESC, p.run_at DESC, p.id DESC))[1],
                       (array_agg(p.run_at ORDER BY p.priority DESC, p.run_at DESC, p.id DESC))[1],
                       (array_agg(p.id ORDER BY p.priority DESC, p.run_at DESC, p.id DESC))[1],
                       sum(p.size)
                INTO take_ids, late_ids, last_priority, last_run_at, last_id, took_bytes
                FROM (
                    -- The bytes before each request, to stop at bytes_left (see below).
                    SELECT p.*, sum(p.size) OVER (ORDER BY p.priority, p.run_at, p.id) - p.size AS before
                    FROM (
                        SELECT r.id, r.priority, r.run_at, coalesce(r.deadline <= now_at, false) AS late,
                               coalesce(octet_length(r.body), 0) AS size
                        FROM httpq.request r
                        WHERE r.channel = ch.name AND r.state = 'waiting' AND r.run_at <= now_at
                        ORDER BY r.priority, r.run_at, r.id
                        LIMIT allowed
                        FOR UPDATE SKIP LOCKED
                    ) AS p
                ) AS p
                -- Within bytes_left, or the claim's first request, whatever its size.
                WHERE bytes_left IS NULL OR p.before + p.size <= bytes_left OR (p.before = 0 AND bytes_left = max_bytes);
            ELSIF allowed > 0 THEN
                -- From the position: what is after it, and the same priority's requests of the
                -- 100 ms before it, each an index range of its own.
                SELECT array_agg(p.id) FILTER (WHERE NOT p.late), array_agg(p.id) FILTER (WHERE p.late),
                       (array_agg(p.priority ORDER BY p.priority DESC, p.run_at DESC, p.id DESC))[1],
                       (array_agg(p.run_at ORDER BY p.priority DESC, p.run_at DESC, p.id DESC))[1],
                       (array_agg(p.id ORDER BY p.priority DESC, p.run_at DESC, p.id DESC))[1],
                       sum(p.size)
                INTO take_ids, late_ids, last_priority, last_run_at, last_id, took_bytes
                FROM (SELECT p.*, sum(p.size) OVER (ORDER BY p.priority, p.run_at, p.id) - p.size AS before FROM (
                    SELECT * FROM (
                        SELECT r.id, r.priority, r.run_at, coalesce(r.deadline <= now_at, false) AS late,
                               coalesce(octet_length(r.body), 0) AS size
                        FROM httpq.request r
                        WHERE r.channel = ch.name AND r.state = 'waiting' AND r.run_at <= now_at
                          AND r.priority = pos.priority
                          AND r.run_at >= pos.run_at - interval '100 milliseconds'
                          AND (r.run_at, r.id) < (pos.run_at, pos.id)
                        ORDER BY r.priority, r.run_at, r.id
                        LIMIT allowed
                        FOR UPDATE SKIP LOCKED) AS just_before
                    UNION ALL
                    SELECT * FROM (
                        SELECT r.id, r.priority, r.run_at, coalesce(r.deadline <= now_at, false) AS late,
                               coalesce(octet_length(r.body), 0) AS size
                        FROM httpq.request r
                        WHERE r.channel = ch.name AND r.state = 'waiting' AND r.run_at <= now_at
                          AND (r.priority, r.run_at, r.id) > (pos.priority, pos.run_at, pos.id)
                        ORDER BY r.priority, r.run_at, r.id
                        LIMIT allowed
                        FOR UPDATE SKIP LOCKED) AS after
                    ORDER BY 2, 3, 1
                    LIMIT allowed
                ) AS p) AS p
                WHERE bytes_left IS NULL OR p.before + p.size <= bytes_left OR (p.before = 0 AND bytes_left = max_bytes);
            END IF;
            walked := walked + (clock_timestamp() - walk_started);
            IF allowed > 0 THEN
                last := ROW(last_priority, last_run_at, last_id)::httpq._position;   -- the last taken
                IF (noting OR NOT front) AND last_id IS NOT NULL AND (pos IS NULL OR last > pos) THEN
                    PERFORM httpq._claim_remember(ch.name, last);
                END IF;

                RETURN QUERY
                    UPDATE httpq.request r
                    SET state = 'running', attempt = r.attempt + 1, worker = claim.worker,
                        lease_until = now_at + claim.lease
                    WHERE r.id = ANY (take_ids)
                    RETURNING r.id, r.attempt, r.channel, r.method, r.url, r.headers, r.body,
                              coalesce(r.timeout_ms, ch.timeout_ms), ch.allowed_networks, ch.signing_keys,
                              CASE WHEN r.secrets IS NULL THEN sealed
                                   ELSE coalesce(sealed, '{}') || httpq._sealed(r.secrets, ch.owner) END,
                              ch.aws_sigv4, ch.aws_credentials;
                GET DIAGNOSTICS got = ROW_COUNT;
                IF probing AND got > 0 THEN
                    PERFORM httpq._breaker_probe(ch.name, take_ids[1], now_at);
                END IF;
                IF room IS NOT NULL THEN
                    room_left := jsonb_set(room_left, ARRAY[ch.name], to_jsonb(room - got));
                END IF;
                bytes_left := bytes_left - coalesce(took_bytes, 0);

                IF late_ids IS NOT NULL THEN
                    PERFORM httpq._finish(ARRAY(
                        SELECT ROW(id, 'dead', 'deadline passed before an attempt could start',
                                   NULL, NULL, NULL, NULL, NULL)::httpq._ending
                        FROM unnest(late_ids) AS id));
                END IF;
                wanted := CASE WHEN bytes_left < 0 OR bytes_left = 0 THEN 0 ELSE wanted - got END;
                IF got + cardinality(coalesce(late_ids, '{}')) = quota AND (room IS NULL OR room > got) THEN
                    hungry := hungry || ch.name;
                END IF;
            END IF;

            -- A visited channel goes to the back of the line even when its limits gave it
            -- nothing: otherwise a channel at its limit, first in line, would take every
            -- small claim's place and starve the channels behind it.
            -- (Not an unlimited channel that gave nothing: a read from positions visits
            -- channels without work, and each write leaves a row version behind.)
            IF locked AND (got > 0 OR late_ids IS NOT NULL OR ch.max_concurrency IS NOT NULL
                           OR ch.rate_per_second IS NOT NULL) THEN
                UPDATE httpq.channel c
                SET served_at = clock_timestamp(),
                    tokens = CASE WHEN ch.rate_per_second IS NOT NULL THEN bucket - got ELSE c.tokens END,
                    tokens_at = CASE WHEN ch.rate_per_second IS NOT NULL THEN now_at ELSE c.tokens_at END
                WHERE c.name = ch.name;
            END IF;
        END LOOP;
        ready := hungry;
    END LOOP;
    IF front THEN
        -- How long reading the front took: finding the channels and their requests, not
        -- updating and returning what was taken.
        PERFORM httpq._claim_read_front(walked);
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq.claim(text, integer, text[], interval, bigint, integer, jsonb)
    IS 'Claims up to max_count ready requests (max_bytes of bodies) for a worker: fair across channels, within their limits, leased.';

-- The earliest moment a claim may find new work that is not ready yet: the next
-- scheduled run_at, when a rate-limited channel with waiting work earns its next token, or
-- when an open circuit breaker lets its probe go.
-- In the past when scheduled requests are due but not yet made waiting.
CREATE OR REPLACE FUNCTION httpq.next_run_at(channels text[] DEFAULT NULL) RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT least(
        CASE WHEN next_run_at.channels IS NULL
             THEN (SELECT min(r.run_at) FROM httpq.request r WHERE r.state = 'scheduled')
             ELSE (SELECT min(next.run_at)
                   FROM unnest(next_run_at.channels) AS c(name)
                   -- Ordered as request_scheduled_channel_idx: by run_at alone, the planner
                   -- may walk the global index past every other channel's scheduled requests.
                   CROSS JOIN LATERAL (SELECT r.run_at FROM httpq.request r
                                       WHERE r.channel = c.name AND r.state = 'scheduled'
                                       ORDER BY r.run_at, r.id
                                       LIMIT 1) AS next) END,
        (SELECT min(c.tokens_at + make_interval(secs => ((1 - c.tokens) / c.rate_per_second)::float8))
         FROM httpq.channel c
         WHERE c.rate_per_second IS NOT NULL AND c.tokens < 1 AND NOT c.paused
           AND (next_run_at.channels IS NULL OR c.name = ANY (next_run_at.channels))
           AND EXISTS (SELECT 1 FROM httpq.request r WHERE r.channel = c.name AND r.state = 'waiting')),
        -- An open circuit breaker's probe (sql/57_breaker.sql).
        (SELECT min(c.breaker_probe_at)
         FROM httpq.channel c
         WHERE c.breaker_state <> 'closed' AND NOT c.paused
           AND (next_run_at.channels IS NULL OR c.name = ANY (next_run_at.channels))
           AND EXISTS (SELECT 1 FROM httpq.request r WHERE r.channel = c.name AND r.state = 'waiting')))
$$;
COMMENT ON FUNCTION httpq.next_run_at(text[])
    IS 'When a worker should claim again at the latest: the next scheduled request, rate-limit token or breaker probe.';

-- Applies a batch of outcomes; returns how many were applied.
CREATE OR REPLACE FUNCTION httpq.report(worker text, outcomes jsonb) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan   -- see httpq.claim
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    now_at  constant timestamptz := httpq._now();
    retried integer;
    endings httpq._ending[];
    news    jsonb;
BEGIN
    -- httpq._check_worker's rule, which raises the error (a call on every report cost 20 us).
    IF worker IS NULL OR worker = '' OR length(worker) > 200 OR worker ~ '[\x01-\x1f\x7f-\x9f]' THEN
        PERFORM httpq._check_worker(worker);
    END IF;
    IF jsonb_typeof(outcomes) IS DISTINCT FROM 'array'
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(outcomes) AS e WHERE jsonb_typeof(e) <> 'object') THEN
        RAISE EXCEPTION 'outcomes must be a JSON array of objects'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Each object: id, attempt, status, headers, body (base64), error, duration_ms, refused, unsent.';
    END IF;

    -- Each outcome is read on its own (httpq._read_outcomes): one a worker got wrong is a
    -- failed attempt that says so, and the rest of the batch applies.
    WITH o AS (
        SELECT * FROM unnest(httpq._read_outcomes(outcomes)) AS o
    ), decided AS (
        SELECT r.id, r.channel, o.status, o.headers, o.body, v.state, v.run_at, v.reason, o.unsent,
               o.status = 410 AS gone,
               CASE WHEN o.status BETWEEN 200 AND 299 THEN NULL
                    WHEN o.status = 410 THEN 'HTTP 410 Gone: the channel is paused; the attempt is not counted'
                    ELSE coalesce(o.error, aws.error, 'HTTP ' || o.status, 'no response') END AS error,
               -- What the outcome means to the channel's circuit breaker (sql/57_breaker.sql),
               -- and the breaker as this statement found it: most reports change nothing.
               CASE WHEN o.status BETWEEN 200 AND 299 THEN 'success'
                    WHEN o.refused OR o.unsent THEN NULL
                    WHEN o.status = 410 THEN 'gone'
                    WHEN aws.code IS NOT NULL AND o.status < 500 AND httpq._aws_retryable(aws.code) OR httpq._retryable(o.status)
                        THEN 'failure' END AS breaker_kind,
               c.breaker_failures, c.breaker_state, c.breaker_failed,
               jsonb_build_object('attempt', o.attempt, 'at', now_at, 'worker', report.worker,
                                  'status', o.status,
                                  'error', CASE WHEN o.status = 410 THEN 'HTTP 410 Gone: the channel is paused; the attempt is not counted'
                                                ELSE coalesce(o.error, aws.error) END,
                                  'duration_ms', o.duration_ms)
                   || CASE WHEN o.unsent THEN '{"unsent": true}'::jsonb ELSE '{}' END AS entry
        FROM o
        -- LATERAL: one primary-key probe per outcome, whatever the planner guesses of the
        -- JSON's row count (a join was planned as a rescan of the outcomes per running row).
        CROSS JOIN LATERAL (
            SELECT r.* FROM httpq.request r
            -- lease_until IS NOT NULL means running (running_iff_leased), and unlike state =
            -- 'running' it does not let the planner read request_lease_idx whole for each id:
            -- a generic plan made while few requests ran did (0.3 ms an outcome at 200 running).
            WHERE r.id = o.id AND r.attempt = o.attempt AND r.worker = report.worker AND r.lease_until IS NOT NULL
            LIMIT 1   -- at most one row by id anyway; it also keeps the subquery from being flattened
            FOR UPDATE
        ) AS r
        -- A primary-key probe per outcome too (OFFSET 0 keeps it one): as a join, the plan
        -- cached for the session may read every channel once per outcome.
        CROSS JOIN LATERAL (SELECT c.max_attempts, c.backoff_base, c.backoff_max, c.retry_after_max, c.aws_sigv4,
                                   c.breaker_failures, c.breaker_state, c.breaker_failed
                            FROM httpq.channel c
                            WHERE c.name = r.channel OFFSET 0) AS c
        -- An AWS error answer on a channel that signs for AWS: its code and message are the
        -- attempt's error, and throttling or a transient error is retried, as a 503 would be.
        CROSS JOIN LATERAL (SELECT e[1] AS code,
                                   CASE WHEN e IS NOT NULL THEN format('AWS %s: %s (HTTP %s)', e[1], coalesce(e[2], 'no message'), o.status) END
                                       AS error
                            FROM (SELECT CASE WHEN c.aws_sigv4 IS NOT NULL AND o.status >= 300
                                              THEN httpq._aws_error(o.headers, o.body) END) AS a(e)) AS aws
        -- A 2xx needs no decision: the function call is for the others only.
        CROSS JOIN LATERAL (
            SELECT 'delivered', NULL::timestamptz, NULL::text WHERE o.status BETWEEN 200 AND 299
            UNION ALL
            SELECT 'dead', NULL::timestamptz, o.error WHERE o.refused
            UNION ALL
            -- Not sent (the worker cannot open a secret it names): the configuration is at
            -- fault, not the request, so the attempt does not count; it waits a minute (at
            -- most backoff_max) for the configuration to be fixed, unless its deadline is past.
            SELECT CASE WHEN r.deadline <= now_at THEN 'dead' ELSE 'waiting' END,
                   CASE WHEN r.deadline > now_at OR r.deadline IS NULL
                        THEN now_at + least(c.backoff_max, interval '1 minute') END,
                   CASE WHEN r.deadline <= now_at THEN 'deadline passed' END
            WHERE o.unsent AND NOT o.refused
            UNION ALL
            -- 410 Gone: the destination asks to be sent nothing more, and its channel is
            -- paused (sql/57_breaker.sql). The request is not at fault: it waits, the attempt
            -- uncounted, for httpq.resume, unless its deadline is past.
            SELECT CASE WHEN r.deadline <= now_at THEN 'dead' ELSE 'waiting' END,
                   CASE WHEN r.deadline > now_at OR r.deadline IS NULL THEN now_at END,
                   CASE WHEN r.deadline <= now_at THEN 'deadline passed' END
            WHERE o.status = 410
            UNION ALL
            SELECT * FROM httpq._verdict(CASE WHEN aws.code IS NOT NULL AND o.status < 500 AND httpq._aws_retryable(aws.code)
                                              THEN 503 ELSE o.status END,
                                         o.headers ->> 'retry-after', r.attempt - r.attempt_floor,
                                         coalesce(r.max_attempts, c.max_attempts), r.deadline,
                                         c.backoff_base, c.backoff_max, coalesce(c.retry_after_max, c.backoff_max),
                                         random(), now_at)
            WHERE (o.status IS NULL OR o.status NOT BETWEEN 200 AND 299 AND o.status <> 410) AND NOT o.refused AND NOT o.unsent
        ) AS v(state, run_at, reason)
    ), again AS (
        UPDATE httpq.request r
        SET state = CASE WHEN d.run_at > now_at THEN 'scheduled' ELSE 'waiting' END,
            run_at = d.run_at, worker = NULL, lease_until = NULL,
            attempt_floor = r.attempt_floor + CASE WHEN d.unsent OR d.gone THEN 1 ELSE 0 END,
            last_status = d.status, last_error = d.error,
            -- Unsent again for the same reason: the last entry counts it (repeated), so a
            -- request waiting a day for its secret keeps one entry, not one a minute.
            log = CASE WHEN d.unsent AND r.log -> -1 ->> 'unsent' = 'true' AND r.log -> -1 ->> 'error' = d.error
                       THEN jsonb_set(r.log, '{-1}', d.entry || jsonb_build_object(
                                'repeated', coalesce((r.log -> -1 ->> 'repeated')::integer, 1) + 1))
                       ELSE r.log || jsonb_build_array(d.entry) END
        FROM decided AS d
        WHERE r.id = d.id AND d.state = 'waiting'
        RETURNING r.id
    )
    SELECT (SELECT count(*) FROM again),
           array_agg(ROW(d.id, d.state, d.reason, d.status, d.headers, d.body, d.error, d.entry)::httpq._ending)
               FILTER (WHERE d.state <> 'waiting'),
           jsonb_agg(jsonb_build_object('channel', d.channel, 'id', d.id, 'kind', d.breaker_kind, 'what', left(d.error, 200)))
               FILTER (WHERE d.breaker_kind = 'gone'
                          OR d.breaker_kind = 'failure' AND d.breaker_failures IS NOT NULL AND d.breaker_state <> 'open'
                          OR d.breaker_kind = 'success' AND (d.breaker_failed > 0 OR d.breaker_state <> 'closed'))
    INTO retried, endings, news
    FROM decided AS d;

    IF news IS NOT NULL THEN
        -- With every success of the report: a channel's failures may come with one.
        PERFORM httpq._breaker_report(news, ARRAY(SELECT e.id FROM unnest(endings) AS e WHERE e.state = 'delivered'), now_at);
    END IF;
    RETURN retried + httpq._finish(endings);
END;
$$;
COMMENT ON FUNCTION httpq.report(text, jsonb)
    IS 'Applies a batch of attempt outcomes from the worker holding the claims; returns how many were applied.';

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
CREATE OR REPLACE FUNCTION httpq.unset_channel(channel text, settings text[]) RETURNS void
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
CREATE OR REPLACE FUNCTION httpq.pause(channel text) RETURNS void
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
CREATE OR REPLACE FUNCTION httpq.resume(channel text) RETURNS void
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

-- Every channel and its settings, as set_channel left them.
CREATE OR REPLACE VIEW httpq.channels WITH (security_barrier) AS
    SELECT c.name AS channel, c.paused, c.max_concurrency, c.rate_per_second, c.max_attempts,
           c.backoff_base, c.backoff_max, c.timeout_ms, c.ordering_on_dead, c.retention,
           c.allowed_networks, c.max_body_bytes, coalesce(c.retry_after_max, c.backoff_max) AS retry_after_max,
           c.created_at, c.owner, c.signing_keys, c.on_finish, c.aws_sigv4, c.aws_credentials,
           c.breaker_failures, c.breaker_cooldown, c.breaker_cooldown_max
    FROM httpq.channel c
    WHERE (SELECT httpq._tenant_channels('ops')) IS NULL OR c.name = ANY ((SELECT httpq._tenant_channels('ops'))::text[]);
COMMENT ON VIEW httpq.channels IS 'Every channel and its settings (see httpq.set_channel).';

-- Per channel: what waits, runs and died, how old the oldest waiting request is, the last
-- hour's deliveries and deaths, why it is paused, and its circuit breaker (sql/57_breaker.sql).
CREATE OR REPLACE VIEW httpq.stats WITH (security_barrier) AS
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
           c.max_concurrency, c.rate_per_second,
           c.paused_reason, c.breaker_state, c.breaker_reason, c.breaker_probe_at
    FROM httpq.channel c
    LEFT JOIN (
        SELECT r.channel,
               count(*) FILTER (WHERE r.state <> 'running') AS waiting,
               count(*) FILTER (WHERE r.state = 'running') AS running,
               min(r.created_at) FILTER (WHERE r.state <> 'running') AS oldest_waiting
        FROM httpq.request r
        GROUP BY r.channel
    ) AS l ON l.channel = c.name
    WHERE (SELECT httpq._tenant_channels('ops')) IS NULL OR c.name = ANY ((SELECT httpq._tenant_channels('ops'))::text[]);
COMMENT ON VIEW httpq.stats IS 'Per channel: waiting, running, dead, last hour''s deliveries and deaths, oldest waiting age, why paused, circuit breaker.';

DO $$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT a.grantee::regrole AS grantee
        FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) AS a
        WHERE p.oid = 'httpq.set_channel(text, integer, numeric, integer, interval, interval, integer, text, interval, cidr[], integer, interval, text[], text, text, text, text)'::regprocedure
          AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner AND a.grantee <> 0
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION httpq.set_channel(text, integer, numeric, integer, interval, interval, integer, text, interval, cidr[], integer, interval, text[], text, text, text, text, integer, interval, interval) TO %s', g.grantee);
    END LOOP;
END;
$$;
DROP FUNCTION httpq.set_channel(text, integer, numeric, integer, interval, interval, integer, text, interval, cidr[], integer, interval, text[], text, text, text, text);
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA httpq FROM PUBLIC;
GRANT EXECUTE ON FUNCTION httpq._tenant_channels(text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION httpq._tenant_topics(text) TO PUBLIC;
-- (end of Circuit breaker)


-- Trace context (sql/30_validate.sql, 35_enqueue.sql): a request carries a W3C trace
-- context as its traceparent and tracestate headers, given to enqueue (and new_request,
-- publish) or taken from the session settings httpq.traceparent and httpq.tracestate, and
-- checked wherever it comes from, headers too. The functions that take it are created with
-- their final signatures above (Topics and subscriptions, Awaiting outcomes).
-- What is wrong with a W3C traceparent (Trace Context level 1), as a message that names it
-- by name (where it came from: the parameter, a header, the session setting), or NULL.
-- Version 00 is exactly version-trace_id-parent_id-flags; a higher version may carry more
-- after a '-' following the flags (the spec's forward compatibility). String functions, not
-- a regular expression: one with counted repeats ({32}) cost more than the whole enqueue.
CREATE OR REPLACE FUNCTION httpq._traceparent_problem(value text, name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN CASE
        WHEN length(value) < 3 OR substr(value, 3, 1) <> '-' OR translate(left(value, 2), '0123456789abcdef', '') <> '' THEN
            name || ' must start with its version, 2 lowercase hex digits, then ''-'''
        WHEN starts_with(value, 'ff') THEN
            name || ' has version ff, which is invalid'
        WHEN starts_with(value, '00') AND length(value) <> 55 THEN
            name || ' of version 00 must be exactly 55 characters, got ' || length(value)
        WHEN length(value) < 55 OR substr(value, 36, 1) <> '-' OR substr(value, 53, 1) <> '-'
             OR translate(substr(value, 4, 32) || substr(value, 37, 16) || substr(value, 54, 2), '0123456789abcdef', '') <> ''
             OR (length(value) > 55 AND (substr(value, 56, 1) <> '-' OR substr(value, 57) ~ '[^\x21-\x7e]')) THEN
            name || ' must be version-trace_id-parent_id-flags, of 2, 32, 16 and 2 lowercase hex digits'
            || ' (a version above 00 may add ''-'' and more)'
        WHEN substr(value, 4, 32) = '00000000000000000000000000000000' THEN
            name || ' has a trace_id of all zeros, which is invalid'
        WHEN substr(value, 37, 16) = '0000000000000000' THEN
            name || ' has a parent_id of all zeros, which is invalid'
    END;
END;
$$;
COMMENT ON FUNCTION httpq._traceparent_problem(text, text) IS 'Why a W3C traceparent is not valid, naming it; NULL when it is.';

-- What is wrong with a W3C tracestate (Trace Context level 1), as a message that names it,
-- or NULL: 1 to 32 list members key=value, separated by ',' with optional spaces or tabs
-- around them (empty members are allowed), at most 512 characters in all (the length the
-- spec asks every vendor to pass on). Never quotes the value: it is a vendor's data.
CREATE OR REPLACE FUNCTION httpq._tracestate_problem(value text, name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    member  text;
    members integer := 0;
    key     text;
    val     text;
    problem text;
BEGIN
    IF length(value) > 512 THEN
        RETURN name || ' must be at most 512 characters, got ' || length(value);
    END IF;
    FOREACH member IN ARRAY string_to_array(value, ',') LOOP
        member := btrim(member, E' \t');
        CONTINUE WHEN member = '';
        members := members + 1;
        CONTINUE WHEN problem IS NOT NULL;
        key := left(member, strpos(member, '=') - 1);
        val := substr(member, strpos(member, '=') + 1);
        IF strpos(member, '=') = 0 THEN
            problem := format('%s list member %s must be key=value', name, members);
        ELSIF NOT ((key ~ '^[a-z][a-z0-9_*/-]*$' AND length(key) <= 256)
                   OR (key ~ '^[a-z0-9][a-z0-9_*/-]*@[a-z][a-z0-9_*/-]*$'
                       AND strpos(key, '@') <= 242 AND length(key) - strpos(key, '@') <= 14)) THEN
            problem := format('%s list member %s has an invalid key: a lowercase letter and up to 255 of a-z 0-9 _ - * /,'
                              ' or tenant@system (up to 241 and 14 of them, the system starting with a letter)', name, members);
        ELSIF val !~ '^[\x20-\x2b\x2d-\x3c\x3e-\x7e]*[\x21-\x2b\x2d-\x3c\x3e-\x7e]$' OR length(val) > 256 THEN
            problem := format('%s list member %s has an invalid value: 1 to 256 printable ASCII characters'
                              ' other than '','' and ''='', not ending in a space', name, members);
        END IF;
    END LOOP;
    RETURN CASE
        WHEN members = 0 THEN name || ' must have at least one list member key=value'
        WHEN members > 32 THEN name || ' must have at most 32 list members, got ' || members
        ELSE problem
    END;
END;
$$;
COMMENT ON FUNCTION httpq._tracestate_problem(text, text) IS 'Why a W3C tracestate is not valid, naming it; NULL when it is.';

-- What is wrong with a set of request headers, as {sqlstate, message}, or NULL. Messages
-- name the header, never its value (it may be a credential).
CREATE OR REPLACE FUNCTION httpq._headers_problem(headers jsonb) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    token   constant text := '^[!#$%&''*+.^_`|~0-9A-Za-z-]+$';   -- RFC 9110 field-name (also in the jsonpath below)
    -- Headers the worker sends from the request itself, and hop-by-hop and proxy headers,
    -- which only the next hop may act on (RFC 9110 7.6.1): a sender's own would smuggle
    -- framing, retarget the request, or talk to a proxy the operator did not choose.
    -- (Also in the jsonpath below.)
    refused constant text := '^(host|content-length|transfer-encoding|connection|keep-alive|te|trailer|upgrade|expect'
                             '|proxy-authorization|proxy-authenticate|proxy-connection|http2-settings)$';
    problem text;
BEGIN
    IF headers IS NULL THEN
        RETURN ARRAY['22004', 'headers must not be NULL (use ''{}'' for none)'];
    ELSIF jsonb_typeof(headers) <> 'object' THEN
        RETURN ARRAY['22023', 'headers must be a JSON object of strings or secret references, got a JSON ' || jsonb_typeof(headers)];
    ELSIF headers = '{}' THEN
        RETURN NULL;
    END IF;
    -- One jsonpath pass finds whether any header is wrong; only then say which and how.
    IF jsonb_path_exists(headers, '$.keyvalue() ? (@.value.type() != "string"
                                   || !(@.key like_regex "^[!#$%&''*+.^_`|~0-9A-Za-z-]+$")
                                   || @.value == ""
                                   || @.value like_regex "[\u0001-\u0008\u000a-\u001f\u007f-\u009f]"
                                   || @.key like_regex "^(host|content-length|transfer-encoding|connection|keep-alive|te|trailer|upgrade|expect|proxy-authorization|proxy-authenticate|proxy-connection|http2-settings)$" flag "i")') THEN
        -- A value may also be a secret reference, {"secret": "NAME"} with an optional
        -- "prefix" (such as "Bearer "): the worker sends the prefix and the secret's value.
        SELECT 'headers: ' || p.problem INTO problem
        FROM jsonb_each(headers) AS h
        CROSS JOIN LATERAL (SELECT CASE
            WHEN h.key !~ token THEN httpq._quoted(h.key) || ' is not a valid header name'
            WHEN lower(h.key) = 'host' THEN quote_literal(h.key) || ' must not be set: the worker sends the url''s host'
            WHEN lower(h.key) IN ('content-length', 'transfer-encoding')
                THEN quote_literal(h.key) || ' must not be set: the worker frames the body itself'
            WHEN lower(h.key) ~ refused THEN quote_literal(h.key) || ' must not be set: it is a hop-by-hop or proxy header'
            WHEN jsonb_typeof(h.value) = 'object' THEN CASE
                WHEN lower(h.key) IN ('idempotency-key', 'content-type', 'traceparent', 'tracestate')
                    THEN quote_literal(h.key) || ' cannot be a secret reference: httpq reads its value'
                WHEN h.value - 'secret' - 'prefix' <> '{}' OR NOT h.value ? 'secret'
                    THEN 'the value of ' || quote_literal(h.key)
                         || ' must be a string or a secret reference {"secret": "NAME"} with an optional "prefix"'
                WHEN jsonb_typeof(h.value -> 'secret') <> 'string'
                     OR h.value ->> 'secret' !~ '^[A-Za-z0-9][A-Za-z0-9._:@/-]*$' OR length(h.value ->> 'secret') > 200
                    THEN 'the secret of ' || quote_literal(h.key) || ' must be a secret name'
                WHEN h.value ? 'prefix' AND (jsonb_typeof(h.value -> 'prefix') <> 'string'
                                             OR h.value ->> 'prefix' ~ '[\x01-\x08\x0a-\x1f\x7f-\x9f]')
                    THEN 'the prefix of ' || quote_literal(h.key) || ' must be a string without control characters'
                END
            WHEN jsonb_typeof(h.value) <> 'string'
                THEN quote_literal(h.key) || ' is not a string (headers must be a JSON object of strings or secret references)'
            WHEN h.value #>> '{}' = '' THEN 'the value of ' || quote_literal(h.key) || ' is empty: leave the header out'
            WHEN h.value #>> '{}' ~ '[\x01-\x08\x0a-\x1f\x7f-\x9f]'
                THEN 'the value of ' || quote_literal(h.key) || ' contains a control character (only tab is allowed)'
            END) AS p(problem)
        WHERE p.problem IS NOT NULL
        LIMIT 1;
        IF problem IS NOT NULL THEN
            RETURN ARRAY['22023', problem];
        END IF;
    END IF;
    IF octet_length(headers::text) > 65536 THEN
        RETURN ARRAY['22023', 'headers must be at most 65536 bytes in all (as JSON), got ' || octet_length(headers::text)];
    END IF;
    -- Lower-casing the whole object merges names that differ only in case.
    IF jsonb_array_length(jsonb_path_query_array(headers, '$.keyvalue()'))
       <> jsonb_array_length(jsonb_path_query_array(lower(headers::text)::jsonb, '$.keyvalue()')) THEN
        RETURN ARRAY['22023', 'headers must not name the same header twice (names are case-insensitive)'];
    END IF;
    -- A trace context given in headers is held to the rules of the parameters (httpq._traced_headers).
    IF strpos(lower(headers::text), '"trace') > 0 THEN
        problem := coalesce(httpq._traceparent_problem(httpq._header(headers, 'traceparent'), 'traceparent'),
                            httpq._tracestate_problem(httpq._header(headers, 'tracestate'), 'tracestate'),
                            CASE WHEN httpq._header(headers, 'traceparent') IS NULL AND httpq._header(headers, 'tracestate') IS NOT NULL
                                 THEN 'tracestate needs a traceparent header' END);
        IF problem IS NOT NULL THEN
            RETURN ARRAY['22023', 'headers: ' || problem];
        END IF;
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION httpq._headers_problem(jsonb) IS 'Why a set of request headers is not acceptable, as {sqlstate, message}; NULL when it is.';

-- A new request's headers with its trace context (W3C Trace Context): traceparent and
-- tracestate as given or, for a request given no traceparent at all, the session settings
-- httpq.traceparent and httpq.tracestate (so one SET LOCAL puts every enqueue of a
-- transaction, those of triggers too, into the trace). They are sent as the headers of the
-- same names. Raises on a bad value, naming where it came from, and on a value given both
-- here and in headers.
CREATE OR REPLACE FUNCTION httpq._traced_headers(headers jsonb, traceparent text, tracestate text) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parent_from text := 'traceparent';
    state_from  text := 'tracestate';
    problem     text;
BEGIN
    IF jsonb_typeof(headers) IS DISTINCT FROM 'object' THEN
        RETURN headers;   -- httpq._headers_problem says what is wrong with them
    END IF;
    IF traceparent IS NOT NULL AND httpq._header(headers, 'traceparent') IS NOT NULL THEN
        RAISE EXCEPTION 'traceparent is given both as the parameter and in headers'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Give it once.';
    END IF;
    IF tracestate IS NOT NULL AND httpq._header(headers, 'tracestate') IS NOT NULL THEN
        RAISE EXCEPTION 'tracestate is given both as the parameter and in headers'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Give it once.';
    END IF;
    IF traceparent IS NULL AND httpq._header(headers, 'traceparent') IS NULL THEN
        -- Unset, or reset at the end of a SET LOCAL's transaction: ''.
        traceparent := nullif(current_setting('httpq.traceparent', true), '');
        parent_from := 'setting httpq.traceparent';
        IF tracestate IS NULL AND httpq._header(headers, 'tracestate') IS NULL THEN
            tracestate := nullif(current_setting('httpq.tracestate', true), '');
            state_from := 'setting httpq.tracestate';
        END IF;
        IF traceparent IS NULL AND tracestate IS NOT NULL THEN
            RAISE EXCEPTION '% needs a traceparent (the parameter, a header or the setting httpq.traceparent)', state_from
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    problem := coalesce(httpq._traceparent_problem(traceparent, parent_from), httpq._tracestate_problem(tracestate, state_from));
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION '%', problem
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'W3C Trace Context: traceparent 00-<32 hex trace_id>-<16 hex parent_id>-<2 hex flags>, '
                         'tracestate key=value,... (https://www.w3.org/TR/trace-context/).';
    END IF;
    RETURN headers || jsonb_strip_nulls(jsonb_build_object('traceparent', traceparent, 'tracestate', tracestate));
END;
$$;
COMMENT ON FUNCTION httpq._traced_headers(jsonb, text, text)
    IS 'A new request''s headers with its W3C trace context (given, else the session''s httpq.traceparent and httpq.tracestate).';

REVOKE ALL ON FUNCTION httpq._traceparent_problem(text, text), httpq._tracestate_problem(text, text),
                       httpq._traced_headers(jsonb, text, text) FROM PUBLIC;
-- (end of Trace context)


-- Tail (sql/62_tail.sql, 45_finish.sql, 55_report.sql, 15_tenant.sql): `httpq tail` registers
-- in httpq.tail; while one is live, report and _finish announce outcomes on channel
-- httpq_outcomes (httpq._kind_privileges, above, lists tail_renew and tail_end for ops and
-- admin roles).
-- The tails running now: one row each, live until expires_at.
CREATE TABLE httpq.tail (
    id         uuid PRIMARY KEY,           -- the tail's own, random
    role       name NOT NULL,              -- who runs it
    expires_at timestamptz NOT NULL
);
CREATE INDEX tail_expires_idx ON httpq.tail (expires_at);
COMMENT ON TABLE httpq.tail IS 'The running `httpq tail` sessions, each live until expires_at.';

-- Announces outcomes on channel httpq_outcomes: items 'id:attempt', comma-separated in id
-- order, in as few payloads as fit NOTIFY's 8000-byte limit.
CREATE FUNCTION httpq._announce_outcomes(items text[]) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_notify('httpq_outcomes', string_agg(c.item, ',' ORDER BY c.position))
    FROM (SELECT o.item, o.position, (sum(length(o.item) + 1) OVER (ORDER BY o.position)) / 7900 AS chunk
          FROM (SELECT i.item, row_number() OVER (ORDER BY split_part(i.item, ':', 1)::bigint, i.item) AS position
                FROM unnest(items) AS i(item)) AS o) AS c
    GROUP BY c.chunk
$$;
COMMENT ON FUNCTION httpq._announce_outcomes(text[]) IS 'Announces attempt outcomes (id:attempt items) on channel httpq_outcomes, under 8000 bytes a payload.';

-- Registers a tail, or renews its registration, for 30 seconds from now; returns the
-- expiry. Registrations past their expiry (of tails that died) go at the same time. A
-- tail is its role's: another role cannot renew it.
CREATE FUNCTION httpq.tail_renew(tail uuid) RETURNS timestamptz
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    now_at constant timestamptz := httpq._now();
BEGIN
    IF tail IS NULL THEN
        RAISE EXCEPTION 'tail must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    DELETE FROM httpq.tail t WHERE t.expires_at <= now_at;
    INSERT INTO httpq.tail AS t (id, role, expires_at) VALUES (tail, httpq._caller(), now_at + interval '30 seconds')
    ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at
    WHERE t.role = excluded.role;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tail % is registered by another role', tail
            USING ERRCODE = 'insufficient_privilege', HINT = 'Register a tail of your own: a new random uuid.';
    END IF;
    RETURN now_at + interval '30 seconds';
END;
$$;
COMMENT ON FUNCTION httpq.tail_renew(uuid)
    IS 'Registers (or renews) an `httpq tail` for 30 seconds, so reports announce outcomes on channel httpq_outcomes.';

-- Ends a tail's registration; false when there was none (of the caller's).
CREATE FUNCTION httpq.tail_end(tail uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM httpq.tail t WHERE t.id = tail AND t.role = httpq._caller();
    RETURN FOUND;
END;
$$;
COMMENT ON FUNCTION httpq.tail_end(uuid) IS 'Ends an `httpq tail` registration; false when there was none.';

-- Applies a batch of outcomes; returns how many were applied.
CREATE OR REPLACE FUNCTION httpq.report(worker text, outcomes jsonb) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan   -- see httpq.claim
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    now_at  constant timestamptz := httpq._now();
    retried integer;
    endings httpq._ending[];
    news    jsonb;
BEGIN
    -- httpq._check_worker's rule, which raises the error (a call on every report cost 20 us).
    IF worker IS NULL OR worker = '' OR length(worker) > 200 OR worker ~ '[\x01-\x1f\x7f-\x9f]' THEN
        PERFORM httpq._check_worker(worker);
    END IF;
    IF jsonb_typeof(outcomes) IS DISTINCT FROM 'array'
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(outcomes) AS e WHERE jsonb_typeof(e) <> 'object') THEN
        RAISE EXCEPTION 'outcomes must be a JSON array of objects'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Each object: id, attempt, status, headers, body (base64), error, duration_ms, refused, unsent.';
    END IF;

    -- Each outcome is read on its own (httpq._read_outcomes): one a worker got wrong is a
    -- failed attempt that says so, and the rest of the batch applies.
    WITH o AS (
        SELECT * FROM unnest(httpq._read_outcomes(outcomes)) AS o
    ), decided AS (
        SELECT r.id, r.channel, o.status, o.headers, o.body, v.state, v.run_at, v.reason, o.unsent,
               o.status = 410 AS gone,
               CASE WHEN o.status BETWEEN 200 AND 299 THEN NULL
                    WHEN o.status = 410 THEN 'HTTP 410 Gone: the channel is paused; the attempt is not counted'
                    ELSE coalesce(o.error, aws.error, 'HTTP ' || o.status, 'no response') END AS error,
               -- What the outcome means to the channel's circuit breaker (sql/57_breaker.sql),
               -- and the breaker as this statement found it: most reports change nothing.
               CASE WHEN o.status BETWEEN 200 AND 299 THEN 'success'
                    WHEN o.refused OR o.unsent THEN NULL
                    WHEN o.status = 410 THEN 'gone'
                    WHEN aws.code IS NOT NULL AND o.status < 500 AND httpq._aws_retryable(aws.code) OR httpq._retryable(o.status)
                        THEN 'failure' END AS breaker_kind,
               c.breaker_failures, c.breaker_state, c.breaker_failed,
               jsonb_build_object('attempt', o.attempt, 'at', now_at, 'worker', report.worker,
                                  'status', o.status,
                                  'error', CASE WHEN o.status = 410 THEN 'HTTP 410 Gone: the channel is paused; the attempt is not counted'
                                                ELSE coalesce(o.error, aws.error) END,
                                  'duration_ms', o.duration_ms)
                   || CASE WHEN o.unsent THEN '{"unsent": true}'::jsonb ELSE '{}' END AS entry
        FROM o
        -- LATERAL: one primary-key probe per outcome, whatever the planner guesses of the
        -- JSON's row count (a join was planned as a rescan of the outcomes per running row).
        CROSS JOIN LATERAL (
            SELECT r.* FROM httpq.request r
            -- lease_until IS NOT NULL means running (running_iff_leased), and unlike state =
            -- 'running' it does not let the planner read request_lease_idx whole for each id:
            -- a generic plan made while few requests ran did (0.3 ms an outcome at 200 running).
            WHERE r.id = o.id AND r.attempt = o.attempt AND r.worker = report.worker AND r.lease_until IS NOT NULL
            LIMIT 1   -- at most one row by id anyway; it also keeps the subquery from being flattened
            FOR UPDATE
        ) AS r
        -- A primary-key probe per outcome too (OFFSET 0 keeps it one): as a join, the plan
        -- cached for the session may read every channel once per outcome.
        CROSS JOIN LATERAL (SELECT c.max_attempts, c.backoff_base, c.backoff_max, c.retry_after_max, c.aws_sigv4,
                                   c.breaker_failures, c.breaker_state, c.breaker_failed
                            FROM httpq.channel c
                            WHERE c.name = r.channel OFFSET 0) AS c
        -- An AWS error answer on a channel that signs for AWS: its code and message are the
        -- attempt's error, and throttling or a transient error is retried, as a 503 would be.
        CROSS JOIN LATERAL (SELECT e[1] AS code,
                                   CASE WHEN e IS NOT NULL THEN format('AWS %s: %s (HTTP %s)', e[1], coalesce(e[2], 'no message'), o.status) END
                                       AS error
                            FROM (SELECT CASE WHEN c.aws_sigv4 IS NOT NULL AND o.status >= 300
                                              THEN httpq._aws_error(o.headers, o.body) END) AS a(e)) AS aws
        -- A 2xx needs no decision: the function call is for the others only.
        CROSS JOIN LATERAL (
            SELECT 'delivered', NULL::timestamptz, NULL::text WHERE o.status BETWEEN 200 AND 299
            UNION ALL
            SELECT 'dead', NULL::timestamptz, o.error WHERE o.refused
            UNION ALL
            -- Not sent (the worker cannot open a secret it names): the configuration is at
            -- fault, not the request, so the attempt does not count; it waits a minute (at
            -- most backoff_max) for the configuration to be fixed, unless its deadline is past.
            SELECT CASE WHEN r.deadline <= now_at THEN 'dead' ELSE 'waiting' END,
                   CASE WHEN r.deadline > now_at OR r.deadline IS NULL
                        THEN now_at + least(c.backoff_max, interval '1 minute') END,
                   CASE WHEN r.deadline <= now_at THEN 'deadline passed' END
            WHERE o.unsent AND NOT o.refused
            UNION ALL
            -- 410 Gone: the destination asks to be sent nothing more, and its channel is
            -- paused (sql/57_breaker.sql). The request is not at fault: it waits, the attempt
            -- uncounted, for httpq.resume, unless its deadline is past.
            SELECT CASE WHEN r.deadline <= now_at THEN 'dead' ELSE 'waiting' END,
                   CASE WHEN r.deadline > now_at OR r.deadline IS NULL THEN now_at END,
                   CASE WHEN r.deadline <= now_at THEN 'deadline passed' END
            WHERE o.status = 410
            UNION ALL
            SELECT * FROM httpq._verdict(CASE WHEN aws.code IS NOT NULL AND o.status < 500 AND httpq._aws_retryable(aws.code)
                                              THEN 503 ELSE o.status END,
                                         o.headers ->> 'retry-after', r.attempt - r.attempt_floor,
                                         coalesce(r.max_attempts, c.max_attempts), r.deadline,
                                         c.backoff_base, c.backoff_max, coalesce(c.retry_after_max, c.backoff_max),
                                         random(), now_at)
            WHERE (o.status IS NULL OR o.status NOT BETWEEN 200 AND 299 AND o.status <> 410) AND NOT o.refused AND NOT o.unsent
        ) AS v(state, run_at, reason)
    ), again AS (
        UPDATE httpq.request r
        SET state = CASE WHEN d.run_at > now_at THEN 'scheduled' ELSE 'waiting' END,
            run_at = d.run_at, worker = NULL, lease_until = NULL,
            attempt_floor = r.attempt_floor + CASE WHEN d.unsent OR d.gone THEN 1 ELSE 0 END,
            last_status = d.status, last_error = d.error,
            -- Unsent again for the same reason: the last entry counts it (repeated), so a
            -- request waiting a day for its secret keeps one entry, not one a minute.
            log = CASE WHEN d.unsent AND r.log -> -1 ->> 'unsent' = 'true' AND r.log -> -1 ->> 'error' = d.error
                       THEN jsonb_set(r.log, '{-1}', d.entry || jsonb_build_object(
                                'repeated', coalesce((r.log -> -1 ->> 'repeated')::integer, 1) + 1))
                       ELSE r.log || jsonb_build_array(d.entry) END
        FROM decided AS d
        WHERE r.id = d.id AND d.state = 'waiting'
        RETURNING r.id
    )
    SELECT (SELECT count(*) FROM again),
           array_agg(ROW(d.id, d.state, d.reason, d.status, d.headers, d.body, d.error, d.entry)::httpq._ending)
               FILTER (WHERE d.state <> 'waiting'),
           jsonb_agg(jsonb_build_object('channel', d.channel, 'id', d.id, 'kind', d.breaker_kind, 'what', left(d.error, 200)))
               FILTER (WHERE d.breaker_kind = 'gone'
                          OR d.breaker_kind = 'failure' AND d.breaker_failures IS NOT NULL AND d.breaker_state <> 'open'
                          OR d.breaker_kind = 'success' AND (d.breaker_failed > 0 OR d.breaker_state <> 'closed'))
    INTO retried, endings, news
    FROM decided AS d;

    IF news IS NOT NULL THEN
        -- With every success of the report: a channel's failures may come with one.
        PERFORM httpq._breaker_report(news, ARRAY(SELECT e.id FROM unnest(endings) AS e WHERE e.state = 'delivered'), now_at);
    END IF;

    -- A live `httpq tail` hears of every outcome reported (sql/62_tail.sql); none: one index probe.
    IF EXISTS (SELECT 1 FROM httpq.tail t WHERE t.expires_at > now_at) THEN
        PERFORM httpq._announce_outcomes(ARRAY(
            SELECT (e ->> 'id') || ':' || (e ->> 'attempt') FROM jsonb_array_elements(outcomes) AS e
            WHERE e ->> 'id' ~ '^[0-9]{1,19}$' AND e ->> 'attempt' ~ '^[0-9]{1,10}$'));
    END IF;

    RETURN retried + httpq._finish(endings);
END;
$$;
COMMENT ON FUNCTION httpq.report(text, jsonb)
    IS 'Applies a batch of attempt outcomes from the worker holding the claims; returns how many were applied.';

CREATE OR REPLACE FUNCTION httpq._finish(endings httpq._ending[]) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan   -- see httpq.claim
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    now_at   constant timestamptz := httpq._now();   -- once: a function call per row costs
    moved    integer;
    channels text[];
    keys     text[];
    ended    bigint[];
    announced bigint[];
BEGIN
    IF cardinality(endings) IS NULL OR cardinality(endings) = 0 THEN
        RETURN 0;
    END IF;

    WITH gone AS (
        DELETE FROM httpq.request r
        USING unnest(endings) AS e
        -- id = ANY keeps the request side a primary-key read whichever side the session's
        -- plan puts first (hash and merge joins are off: see httpq.claim).
        WHERE r.id = e.id AND r.id = ANY (ARRAY(SELECT x.id FROM unnest(endings) AS x))
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
           array_agg(k.ordering_key) FILTER (WHERE k.ordering_key IS NOT NULL),
           array_agg(k.id) FILTER (WHERE k.state <> 'canceled'),
           (SELECT array_agg(g.id ORDER BY g.id) FROM gone AS g WHERE g.notify)
    INTO moved, channels, keys, ended, announced
    FROM kept AS k;

    -- The heads are gone: promote the next of each key under its lock (a concurrent
    -- enqueue of the key has then either committed behind them or will see them gone), or,
    -- while an application holds the lock, at the next claim.
    IF keys IS NOT NULL THEN
        PERFORM httpq._promote_or_defer(channels, keys);
    END IF;
    -- One probe of an index that lists only the channels with a hook: none, nothing more.
    IF ended IS NOT NULL AND EXISTS (SELECT 1 FROM httpq.channel c WHERE c.on_finish IS NOT NULL) THEN
        PERFORM httpq._call_hooks(ended, now_at);
    END IF;
    IF announced IS NOT NULL THEN
        PERFORM pg_notify('httpq_finished', p) FROM httpq._finished_payloads(announced) AS p;
    END IF;
    -- A live `httpq tail` hears of every ending, a dead one by deadline or lease or a canceled
    -- one too (sql/62_tail.sql); none: one index probe.
    IF EXISTS (SELECT 1 FROM httpq.tail t WHERE t.expires_at > now_at) THEN
        PERFORM httpq._announce_outcomes(ARRAY(
            SELECT e.id || ':' || coalesce(e.attempt ->> 'attempt', '') FROM unnest(endings) AS e));
    END IF;
    RETURN moved;
END;
$$;
COMMENT ON FUNCTION httpq._finish(httpq._ending[])
    IS 'Moves finished requests to httpq.history, holds or promotes their ordering keys.';

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA httpq FROM PUBLIC;
GRANT EXECUTE ON FUNCTION httpq._tenant_channels(text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION httpq._tenant_topics(text) TO PUBLIC;
REVOKE ALL ON httpq.tail FROM PUBLIC;
-- (end of Tail)


-- Success and latency figures (sql/85_rollup.sql, 45_finish.sql, 50_claim.sql, 55_report.sql,
-- 80_history.sql, 90_views.sql, 15_tenant.sql, 99_privileges.sql): each minute's outcomes
-- per channel, counted in the transaction that records them, and httpq.performance over
-- them. httpq.stats reads its last hour's deliveries and deaths there too. Outcomes recorded
-- before the upgrade are not counted: the figures start empty.

CREATE TABLE httpq.rollup (
    minute    timestamptz NOT NULL,   -- the start of the minute (UTC) the outcomes were recorded in
    channel   text NOT NULL,
    backend   integer NOT NULL,       -- pg_backend_pid() of the process that recorded them
    delivered bigint NOT NULL DEFAULT 0,
    retried   bigint NOT NULL DEFAULT 0,   -- attempts that failed and will be tried again
    dead      bigint NOT NULL DEFAULT 0,
    latency   integer[],              -- enqueue to delivery of the delivered, counts by bucket
    duration  integer[],              -- each reported attempt's duration_ms, counts by bucket
    -- Channel first: a channel's window is one range of the key (httpq.stats and
    -- httpq.performance read each channel's), and upserts find their row by the whole key.
    PRIMARY KEY (channel, minute, backend)
);
-- Every report batch rewrites its minute's row, and the key never changes: room on each
-- page keeps those updates on the page (HOT), off the key's index.
ALTER TABLE httpq.rollup SET (fillfactor = 50);

-- A histogram from bucket numbers and how many values fell in each (a bucket may come
-- more than once); NULL when none.
CREATE FUNCTION httpq._histogram(buckets integer[], counts bigint[]) RETURNS integer[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    histogram integer[];
BEGIN
    IF cardinality(buckets) IS NULL OR cardinality(buckets) = 0 THEN
        RETURN NULL;
    END IF;
    histogram := array_fill(0, ARRAY[(SELECT max(b) FROM unnest(buckets) AS b)]);
    FOR i IN 1 .. cardinality(buckets) LOOP
        histogram[buckets[i]] := histogram[buckets[i]] + counts[i];
    END LOOP;
    RETURN histogram;
END;
$$;
COMMENT ON FUNCTION httpq._histogram(integer[], bigint[]) IS 'A histogram from bucket numbers and their counts.';

-- Adds two histograms, bucket by bucket (either may be NULL or shorter).
CREATE FUNCTION httpq._histogram_add(total integer[], counts integer[]) RETURNS integer[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF total IS NULL THEN
        RETURN counts;
    END IF;
    FOR i IN 1 .. coalesce(cardinality(counts), 0) LOOP
        total[i] := coalesce(total[i], 0) + counts[i];
    END LOOP;
    RETURN total;
END;
$$;
COMMENT ON FUNCTION httpq._histogram_add(integer[], integer[]) IS 'Adds two histograms, bucket by bucket.';

-- The q-quantile (0 < q < 1) of a histogram in milliseconds, NULL when it counted nothing.
-- As Prometheus's histogram_quantile: the bucket holding the rank q × count, and linear
-- interpolation within it; in the last bucket (no upper bound), that bucket's lower bound.
-- The true quantile lies in the same bucket, so the two differ by less than a factor of √2
-- (below 1 ms, by less than 1 ms).
CREATE FUNCTION httpq._quantile(counts bigint[], q double precision) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rank   double precision;
    below  bigint := 0;
    lower  double precision;
    upper  double precision;
BEGIN
    rank := q * (SELECT sum(c) FROM unnest(counts) AS c);
    IF rank IS NULL OR rank = 0 THEN
        RETURN NULL;
    END IF;
    FOR i IN 1 .. cardinality(counts) LOOP
        IF counts[i] > 0 AND below + counts[i] >= rank THEN
            lower := CASE WHEN i = 1 THEN 0 ELSE power(2, (i - 2) / 2.0) END;
            IF i >= 56 THEN
                RETURN lower;
            END IF;
            upper := power(2, (i - 1) / 2.0);
            RETURN lower + (upper - lower) * (rank - below) / counts[i];
        END IF;
        below := below + counts[i];
    END LOOP;
    RETURN NULL;   -- not reached: the last bucket that counted something holds the rank
END;
$$;
COMMENT ON FUNCTION httpq._quantile(bigint[], double precision)
    IS 'A quantile of a histogram in milliseconds, interpolated within its bucket as Prometheus does.';

-- Counts outcomes recorded at a moment into the rollup: element i of the arrays is one
-- outcome of channels[i]: outcomes[i] 'delivered', 'retried', 'dead' or NULL (an attempt
-- counted for its duration only), waited_ms[i] its time from enqueue to delivery,
-- took_ms[i] its attempt's duration (each NULL when not known or not counted). One upsert
-- of one row per channel.
CREATE FUNCTION httpq._count_outcomes(at timestamptz, channels text[], outcomes text[],
                                      waited_ms double precision[], took_ms double precision[]) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan   -- the same plan for every batch (see httpq.claim)
AS $$
BEGIN
    -- Counted by channel and bucket first, set-based: a batch's values fall in a few buckets.
    -- 2.885390081777927 = 2 / ln 2: two buckets per doubling.
    INSERT INTO httpq.rollup AS t (minute, channel, backend, delivered, retried, dead, latency, duration)
    SELECT date_trunc('minute', at, 'UTC'), g.channel, pg_backend_pid(), g.delivered, g.retried, g.dead,
           httpq._histogram(g.latency_buckets, g.latency_counts), httpq._histogram(g.duration_buckets, g.duration_counts)
    FROM (
        SELECT e.channel,
               coalesce(sum(e.n) FILTER (WHERE e.outcome = 'delivered'), 0) AS delivered,
               coalesce(sum(e.n) FILTER (WHERE e.outcome = 'retried'), 0) AS retried,
               coalesce(sum(e.n) FILTER (WHERE e.outcome = 'dead'), 0) AS dead,
               array_agg(e.waited) FILTER (WHERE e.waited IS NOT NULL) AS latency_buckets,
               array_agg(e.n) FILTER (WHERE e.waited IS NOT NULL) AS latency_counts,
               array_agg(e.took) FILTER (WHERE e.took IS NOT NULL) AS duration_buckets,
               array_agg(e.n) FILTER (WHERE e.took IS NOT NULL) AS duration_counts
        FROM (SELECT u.channel, u.outcome,
                     CASE WHEN u.waited_ms > 1 THEN least(56, 1 + ceil(ln(u.waited_ms) * 2.885390081777927)::integer)
                          WHEN u.waited_ms IS NOT NULL THEN 1 END AS waited,
                     CASE WHEN u.took_ms > 1 THEN least(56, 1 + ceil(ln(u.took_ms) * 2.885390081777927)::integer)
                          WHEN u.took_ms IS NOT NULL THEN 1 END AS took,
                     count(*) AS n
              FROM unnest(channels, outcomes, waited_ms, took_ms) AS u(channel, outcome, waited_ms, took_ms)
              WHERE u.channel IS NOT NULL
              GROUP BY 1, 2, 3, 4) AS e
        GROUP BY e.channel
    ) AS g
    ON CONFLICT (minute, channel, backend) DO UPDATE
    SET delivered = t.delivered + excluded.delivered,
        retried = t.retried + excluded.retried,
        dead = t.dead + excluded.dead,
        latency = httpq._histogram_add(t.latency, excluded.latency),
        duration = httpq._histogram_add(t.duration, excluded.duration);
END;
$$;
COMMENT ON FUNCTION httpq._count_outcomes(timestamptz, text[], text[], double precision[], double precision[])
    IS 'Adds outcomes to their minute''s rollup row, one upsert per channel.';

-- Deletes the rollup rows of minutes more than two days old, at most max_rows of them;
-- returns how many. Two days: a day back from any moment of the last one. Channel by
-- channel, those present (a skip scan of the key), each one range of the key.
CREATE FUNCTION httpq._rollup_trim(max_rows integer) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    deleted integer;
BEGIN
    DELETE FROM httpq.rollup t WHERE t.ctid = ANY (ARRAY(
        WITH RECURSIVE present(channel) AS (
            (SELECT o.channel FROM httpq.rollup o ORDER BY o.channel LIMIT 1)
            UNION ALL
            SELECT (SELECT o.channel FROM httpq.rollup o WHERE o.channel > p.channel ORDER BY o.channel LIMIT 1)
            FROM present p
            WHERE p.channel IS NOT NULL)
        SELECT o.ctid
        FROM present p
        JOIN httpq.rollup o ON o.channel = p.channel AND o.minute < httpq._now() - interval '2 days'
        LIMIT max_rows));
    GET DIAGNOSTICS deleted = ROW_COUNT;
    RETURN deleted;
END;
$$;
COMMENT ON FUNCTION httpq._rollup_trim(integer) IS 'Deletes rollup rows older than two days, at most max_rows.';

CREATE OR REPLACE FUNCTION httpq._finish(endings httpq._ending[]) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan   -- see httpq.claim
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    now_at   constant timestamptz := httpq._now();   -- once: a function call per row costs
    moved    integer;
    channels text[];
    keys     text[];
    ended    bigint[];
    announced bigint[];
    counted  text[];              -- the channels, outcomes, latencies and last attempts' durations
    outcomes text[];              -- of the delivered and dead
    waited   double precision[];
    took     double precision[];
BEGIN
    IF cardinality(endings) IS NULL OR cardinality(endings) = 0 THEN
        RETURN 0;
    END IF;

    WITH gone AS (
        DELETE FROM httpq.request r
        USING unnest(endings) AS e
        -- id = ANY keeps the request side a primary-key read whichever side the session's
        -- plan puts first (hash and merge joins are off: see httpq.claim).
        WHERE r.id = e.id AND r.id = ANY (ARRAY(SELECT x.id FROM unnest(endings) AS x))
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
    -- From gone, one row per request as kept has it: the ending's own attempt is there too.
    SELECT count(*), array_agg(g.channel) FILTER (WHERE g.ordering_key IS NOT NULL),
           array_agg(g.ordering_key) FILTER (WHERE g.ordering_key IS NOT NULL),
           array_agg(g.id) FILTER (WHERE g.final_state <> 'canceled'),
           array_agg(g.id ORDER BY g.id) FILTER (WHERE g.notify),
           array_agg(g.channel) FILTER (WHERE g.final_state <> 'canceled'),
           array_agg(g.final_state) FILTER (WHERE g.final_state <> 'canceled'),
           array_agg(CASE WHEN g.final_state = 'delivered' THEN date_part('epoch', now_at - g.created_at) * 1000 END)
               FILTER (WHERE g.final_state <> 'canceled'),
           array_agg(CASE WHEN NOT g.entry ? 'unsent' THEN (g.entry ->> 'duration_ms')::double precision END)
               FILTER (WHERE g.final_state <> 'canceled')
    INTO moved, channels, keys, ended, announced, counted, outcomes, waited, took
    FROM gone AS g;

    -- The heads are gone: promote the next of each key under its lock (a concurrent
    -- enqueue of the key has then either committed behind them or will see them gone), or,
    -- while an application holds the lock, at the next claim.
    IF keys IS NOT NULL THEN
        PERFORM httpq._promote_or_defer(channels, keys);
    END IF;
    -- One probe of an index that lists only the channels with a hook: none, nothing more.
    IF ended IS NOT NULL AND EXISTS (SELECT 1 FROM httpq.channel c WHERE c.on_finish IS NOT NULL) THEN
        PERFORM httpq._call_hooks(ended, now_at);
    END IF;
    IF announced IS NOT NULL THEN
        PERFORM pg_notify('httpq_finished', p) FROM httpq._finished_payloads(announced) AS p;
    END IF;
    IF counted IS NOT NULL THEN
        PERFORM httpq._count_outcomes(now_at, counted, outcomes, waited, took);
    END IF;
    -- A live `httpq tail` hears of every ending, a dead one by deadline or lease or a canceled
    -- one too (sql/62_tail.sql); none: one index probe.
    IF EXISTS (SELECT 1 FROM httpq.tail t WHERE t.expires_at > now_at) THEN
        PERFORM httpq._announce_outcomes(ARRAY(
            SELECT e.id || ':' || coalesce(e.attempt ->> 'attempt', '') FROM unnest(endings) AS e));
    END IF;
    RETURN moved;
END;
$$;
COMMENT ON FUNCTION httpq._finish(httpq._ending[])
    IS 'Moves finished requests to httpq.history, holds or promotes their ordering keys.';

-- Applies a batch of outcomes; returns how many were applied.
CREATE OR REPLACE FUNCTION httpq.report(worker text, outcomes jsonb) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan   -- see httpq.claim
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    now_at  constant timestamptz := httpq._now();
    retried integer;
    endings httpq._ending[];
    news    jsonb;
    again_channels text[];        -- the channels and durations of attempts to be tried again
    again_took     double precision[];
BEGIN
    -- httpq._check_worker's rule, which raises the error (a call on every report cost 20 us).
    IF worker IS NULL OR worker = '' OR length(worker) > 200 OR worker ~ '[\x01-\x1f\x7f-\x9f]' THEN
        PERFORM httpq._check_worker(worker);
    END IF;
    IF jsonb_typeof(outcomes) IS DISTINCT FROM 'array'
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(outcomes) AS e WHERE jsonb_typeof(e) <> 'object') THEN
        RAISE EXCEPTION 'outcomes must be a JSON array of objects'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Each object: id, attempt, status, headers, body (base64), error, duration_ms, refused, unsent.';
    END IF;

    -- Each outcome is read on its own (httpq._read_outcomes): one a worker got wrong is a
    -- failed attempt that says so, and the rest of the batch applies.
    WITH o AS (
        SELECT * FROM unnest(httpq._read_outcomes(outcomes)) AS o
    ), decided AS (
        SELECT r.id, r.channel, o.status, o.headers, o.body, v.state, v.run_at, v.reason, o.unsent, o.duration_ms,
               o.status = 410 AS gone,
               CASE WHEN o.status BETWEEN 200 AND 299 THEN NULL
                    WHEN o.status = 410 THEN 'HTTP 410 Gone: the channel is paused; the attempt is not counted'
                    ELSE coalesce(o.error, aws.error, 'HTTP ' || o.status, 'no response') END AS error,
               -- What the outcome means to the channel's circuit breaker (sql/57_breaker.sql),
               -- and the breaker as this statement found it: most reports change nothing.
               CASE WHEN o.status BETWEEN 200 AND 299 THEN 'success'
                    WHEN o.refused OR o.unsent THEN NULL
                    WHEN o.status = 410 THEN 'gone'
                    WHEN aws.code IS NOT NULL AND o.status < 500 AND httpq._aws_retryable(aws.code) OR httpq._retryable(o.status)
                        THEN 'failure' END AS breaker_kind,
               c.breaker_failures, c.breaker_state, c.breaker_failed,
               jsonb_build_object('attempt', o.attempt, 'at', now_at, 'worker', report.worker,
                                  'status', o.status,
                                  'error', CASE WHEN o.status = 410 THEN 'HTTP 410 Gone: the channel is paused; the attempt is not counted'
                                                ELSE coalesce(o.error, aws.error) END,
                                  'duration_ms', o.duration_ms)
                   || CASE WHEN o.unsent THEN '{"unsent": true}'::jsonb ELSE '{}' END AS entry
        FROM o
        -- LATERAL: one primary-key probe per outcome, whatever the planner guesses of the
        -- JSON's row count (a join was planned as a rescan of the outcomes per running row).
        CROSS JOIN LATERAL (
            SELECT r.* FROM httpq.request r
            -- lease_until IS NOT NULL means running (running_iff_leased), and unlike state =
            -- 'running' it does not let the planner read request_lease_idx whole for each id:
            -- a generic plan made while few requests ran did (0.3 ms an outcome at 200 running).
            WHERE r.id = o.id AND r.attempt = o.attempt AND r.worker = report.worker AND r.lease_until IS NOT NULL
            LIMIT 1   -- at most one row by id anyway; it also keeps the subquery from being flattened
            FOR UPDATE
        ) AS r
        -- A primary-key probe per outcome too (OFFSET 0 keeps it one): as a join, the plan
        -- cached for the session may read every channel once per outcome.
        CROSS JOIN LATERAL (SELECT c.max_attempts, c.backoff_base, c.backoff_max, c.retry_after_max, c.aws_sigv4,
                                   c.breaker_failures, c.breaker_state, c.breaker_failed
                            FROM httpq.channel c
                            WHERE c.name = r.channel OFFSET 0) AS c
        -- An AWS error answer on a channel that signs for AWS: its code and message are the
        -- attempt's error, and throttling or a transient error is retried, as a 503 would be.
        CROSS JOIN LATERAL (SELECT e[1] AS code,
                                   CASE WHEN e IS NOT NULL THEN format('AWS %s: %s (HTTP %s)', e[1], coalesce(e[2], 'no message'), o.status) END
                                       AS error
                            FROM (SELECT CASE WHEN c.aws_sigv4 IS NOT NULL AND o.status >= 300
                                              THEN httpq._aws_error(o.headers, o.body) END) AS a(e)) AS aws
        -- A 2xx needs no decision: the function call is for the others only.
        CROSS JOIN LATERAL (
            SELECT 'delivered', NULL::timestamptz, NULL::text WHERE o.status BETWEEN 200 AND 299
            UNION ALL
            SELECT 'dead', NULL::timestamptz, o.error WHERE o.refused
            UNION ALL
            -- Not sent (the worker cannot open a secret it names): the configuration is at
            -- fault, not the request, so the attempt does not count; it waits a minute (at
            -- most backoff_max) for the configuration to be fixed, unless its deadline is past.
            SELECT CASE WHEN r.deadline <= now_at THEN 'dead' ELSE 'waiting' END,
                   CASE WHEN r.deadline > now_at OR r.deadline IS NULL
                        THEN now_at + least(c.backoff_max, interval '1 minute') END,
                   CASE WHEN r.deadline <= now_at THEN 'deadline passed' END
            WHERE o.unsent AND NOT o.refused
            UNION ALL
            -- 410 Gone: the destination asks to be sent nothing more, and its channel is
            -- paused (sql/57_breaker.sql). The request is not at fault: it waits, the attempt
            -- uncounted, for httpq.resume, unless its deadline is past.
            SELECT CASE WHEN r.deadline <= now_at THEN 'dead' ELSE 'waiting' END,
                   CASE WHEN r.deadline > now_at OR r.deadline IS NULL THEN now_at END,
                   CASE WHEN r.deadline <= now_at THEN 'deadline passed' END
            WHERE o.status = 410
            UNION ALL
            SELECT * FROM httpq._verdict(CASE WHEN aws.code IS NOT NULL AND o.status < 500 AND httpq._aws_retryable(aws.code)
                                              THEN 503 ELSE o.status END,
                                         o.headers ->> 'retry-after', r.attempt - r.attempt_floor,
                                         coalesce(r.max_attempts, c.max_attempts), r.deadline,
                                         c.backoff_base, c.backoff_max, coalesce(c.retry_after_max, c.backoff_max),
                                         random(), now_at)
            WHERE (o.status IS NULL OR o.status NOT BETWEEN 200 AND 299 AND o.status <> 410) AND NOT o.refused AND NOT o.unsent
        ) AS v(state, run_at, reason)
    ), again AS (
        UPDATE httpq.request r
        SET state = CASE WHEN d.run_at > now_at THEN 'scheduled' ELSE 'waiting' END,
            run_at = d.run_at, worker = NULL, lease_until = NULL,
            attempt_floor = r.attempt_floor + CASE WHEN d.unsent OR d.gone THEN 1 ELSE 0 END,
            last_status = d.status, last_error = d.error,
            -- Unsent again for the same reason: the last entry counts it (repeated), so a
            -- request waiting a day for its secret keeps one entry, not one a minute.
            log = CASE WHEN d.unsent AND r.log -> -1 ->> 'unsent' = 'true' AND r.log -> -1 ->> 'error' = d.error
                       THEN jsonb_set(r.log, '{-1}', d.entry || jsonb_build_object(
                                'repeated', coalesce((r.log -> -1 ->> 'repeated')::integer, 1) + 1))
                       ELSE r.log || jsonb_build_array(d.entry) END
        FROM decided AS d
        WHERE r.id = d.id AND d.state = 'waiting'
        RETURNING r.id
    )
    SELECT (SELECT count(*) FROM again),
           array_agg(ROW(d.id, d.state, d.reason, d.status, d.headers, d.body, d.error, d.entry)::httpq._ending)
               FILTER (WHERE d.state <> 'waiting'),
           jsonb_agg(jsonb_build_object('channel', d.channel, 'id', d.id, 'kind', d.breaker_kind, 'what', left(d.error, 200)))
               FILTER (WHERE d.breaker_kind = 'gone'
                          OR d.breaker_kind = 'failure' AND d.breaker_failures IS NOT NULL AND d.breaker_state <> 'open'
                          OR d.breaker_kind = 'success' AND (d.breaker_failed > 0 OR d.breaker_state <> 'closed')),
           array_agg(d.channel) FILTER (WHERE d.state = 'waiting' AND NOT d.unsent),
           array_agg(d.duration_ms::double precision) FILTER (WHERE d.state = 'waiting' AND NOT d.unsent)
    INTO retried, endings, news, again_channels, again_took
    FROM decided AS d;

    -- Attempts to be tried again; _finish counts the others, with how their requests ended.
    IF again_channels IS NOT NULL THEN
        PERFORM httpq._count_outcomes(now_at, again_channels,
                                      array_fill('retried'::text, ARRAY[cardinality(again_channels)]), NULL, again_took);
    END IF;

    IF news IS NOT NULL THEN
        -- With every success of the report: a channel's failures may come with one.
        PERFORM httpq._breaker_report(news, ARRAY(SELECT e.id FROM unnest(endings) AS e WHERE e.state = 'delivered'), now_at);
    END IF;

    -- A live `httpq tail` hears of every outcome reported (sql/62_tail.sql); none: one index probe.
    IF EXISTS (SELECT 1 FROM httpq.tail t WHERE t.expires_at > now_at) THEN
        PERFORM httpq._announce_outcomes(ARRAY(
            SELECT (e ->> 'id') || ':' || (e ->> 'attempt') FROM jsonb_array_elements(outcomes) AS e
            WHERE e ->> 'id' ~ '^[0-9]{1,19}$' AND e ->> 'attempt' ~ '^[0-9]{1,10}$'));
    END IF;

    RETURN retried + httpq._finish(endings);
END;
$$;
COMMENT ON FUNCTION httpq.report(text, jsonb)
    IS 'Applies a batch of attempt outcomes from the worker holding the claims; returns how many were applied.';

-- Puts running requests whose lease has passed (their worker died) back to waiting; the
-- attempt they used counts, and is counted as retried in httpq.rollup. Out of attempts or
-- past the deadline, they are dead.
CREATE OR REPLACE FUNCTION httpq._expire_leases(now timestamptz) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    endings httpq._ending[];
    expired integer;
    retried text[];   -- the channels of the attempts tried again
BEGIN
    WITH expired AS (
        SELECT r.id, r.channel, r.attempt, r.worker,
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
                     )::httpq._ending) FILTER (WHERE NOT e.again),
           array_agg(e.channel) FILTER (WHERE e.again)
    INTO expired, endings, retried
    FROM expired AS e;
    IF retried IS NOT NULL THEN
        PERFORM httpq._count_outcomes(_expire_leases.now, retried,
                                      array_fill('retried'::text, ARRAY[cardinality(retried)]), NULL, NULL);
    END IF;
    IF endings IS NOT NULL THEN
        PERFORM httpq._finish(endings);
    END IF;
    RETURN expired;
END;
$$;
COMMENT ON FUNCTION httpq._expire_leases(timestamptz) IS 'Returns requests whose lease has passed to waiting (or dead when out of attempts).';

-- One short step of history upkeep, for the worker's maintenance connection (about once a
-- minute, and again at once while "more" is true) or for cron. Creates the partitions of
-- today and 3 days ahead, then trims at most max_rows rows, then drops expired partitions.
-- Also deletes at most max_rows rollup rows past their two days (sql/85_rollup.sql): far
-- more than the minute makes (a row per channel and server process that recorded outcomes).
CREATE OR REPLACE FUNCTION httpq.maintain(max_rows integer DEFAULT 10000) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET TimeZone = 'UTC'
AS $$
DECLARE
    created     integer;
    expired     regclass[];
    deleted     bigint;
    doomed      regclass[];
    doomed_rows bigint[];
    dropped     integer;
    kept        regclass[];
    undropped   regclass[];
BEGIN
    IF max_rows IS NULL OR max_rows <= 0 THEN
        RAISE EXCEPTION 'max_rows must be positive, got %', coalesce(max_rows::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- One maintainer at a time, and a second one never waits: it has nothing to add. The
    -- lock space is httpq's maintenance.
    IF NOT pg_try_advisory_xact_lock(1752461426, 0) THEN
        RETURN jsonb_build_object('ran', false);
    END IF;
    -- Three days ahead: an idle system, or a worker stopped over a weekend, still finds each
    -- day's partition ready, and reports never land in the default partition.
    created := httpq._history_add(3, max_rows);
    IF created > 0 THEN
        -- The default partition stays locked until commit: trim and drop in the next call.
        RETURN jsonb_build_object('ran', true, 'more', true, 'partitions_created', created,
                                  'partitions_dropped', 0, 'rows_deleted', 0);
    END IF;
    PERFORM httpq._release_idle_keys(max_rows);
    PERFORM httpq._rollup_trim(max_rows);
    expired := ARRAY(SELECT httpq._history_expired(NULL, NULL));
    deleted := httpq._history_trim(NULL, max_rows, false, expired);
    SELECT d.doomed, d.doomed_rows, d.kept INTO doomed, doomed_rows, kept FROM httpq._history_doom(expired, NULL, false) AS d;
    SELECT d.dropped, d.kept INTO dropped, undropped FROM httpq._history_drop(doomed, doomed_rows) AS d;
    kept := kept || undropped;
    -- Partitions that could not be dropped (a long transaction holding a lock on the
    -- history, objects depending on them) lose their rows at retention all the same, by
    -- trimming; dropped once empty and free. Only while nothing was dropped: a drop holds
    -- httpq.history until commit, and reports would wait for the trim.
    IF dropped = 0 AND cardinality(kept) > 0 AND deleted < max_rows THEN
        deleted := deleted + httpq._history_trim(NULL, max_rows - deleted, false,
                                                 ARRAY(SELECT x.part FROM httpq._history_partitions() x
                                                       WHERE x.part <> ALL (kept)));
    END IF;
    RETURN jsonb_build_object('ran', true, 'more', deleted >= max_rows, 'partitions_created', 0,
                              'partitions_dropped', dropped, 'rows_deleted', deleted);
END;
$$;
COMMENT ON FUNCTION httpq.maintain(integer)
    IS 'One bounded step of history upkeep: creates, trims (at most max_rows rows) and drops partitions.';

-- What each kind of role may call and read, by name (every overload). Views are listed
-- with a leading 'view:'.
CREATE OR REPLACE FUNCTION httpq._kind_privileges(kind text) RETURNS text[]
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

-- Per channel: what waits, runs and died, how old the oldest waiting request is, the last
-- hour's deliveries and deaths (the current minute and the 59 before it, from
-- httpq.rollup), why it is paused, and its circuit breaker (sql/57_breaker.sql).
CREATE OR REPLACE VIEW httpq.stats WITH (security_barrier) AS
    SELECT c.name AS channel, c.paused,
           coalesce(l.waiting, 0) AS waiting,
           coalesce(l.running, 0) AS running,
           (SELECT count(*) FROM httpq.history h WHERE h.channel = c.name AND h.state = 'dead') AS dead,
           (SELECT coalesce(sum(t.delivered), 0)::bigint FROM httpq.rollup t
            WHERE t.channel = c.name AND t.minute > date_trunc('minute', httpq._now(), 'UTC') - interval '1 hour')
               AS delivered_last_hour,
           (SELECT coalesce(sum(t.dead), 0)::bigint FROM httpq.rollup t
            WHERE t.channel = c.name AND t.minute > date_trunc('minute', httpq._now(), 'UTC') - interval '1 hour')
               AS dead_last_hour,
           now() - l.oldest_waiting AS oldest_waiting_age,
           (SELECT h.last_error FROM httpq.history h
            WHERE h.channel = c.name AND h.state = 'dead' ORDER BY h.finished_at DESC LIMIT 1) AS last_error,
           c.max_concurrency, c.rate_per_second,
           c.paused_reason, c.breaker_state, c.breaker_reason, c.breaker_probe_at
    FROM httpq.channel c
    LEFT JOIN (
        SELECT r.channel,
               count(*) FILTER (WHERE r.state <> 'running') AS waiting,
               count(*) FILTER (WHERE r.state = 'running') AS running,
               min(r.created_at) FILTER (WHERE r.state <> 'running') AS oldest_waiting
        FROM httpq.request r
        GROUP BY r.channel
    ) AS l ON l.channel = c.name
    WHERE (SELECT httpq._tenant_channels('ops')) IS NULL OR c.name = ANY ((SELECT httpq._tenant_channels('ops'))::text[]);
COMMENT ON VIEW httpq.stats IS 'Per channel: waiting, running, dead, last hour''s deliveries and deaths, oldest waiting age, why paused, circuit breaker.';

-- Per channel, over the last 5 minutes and the last hour (period: the current minute and
-- the 4 or 59 before it, from httpq.rollup): requests delivered and dead, attempts retried,
-- the share of outcomes that were deliveries, and percentiles in milliseconds of the time
-- from enqueue to delivery (latency) and of attempts' durations (attempt). Milliseconds, as
-- the worker reports durations: numbers that compare, sort and chart as they are. The
-- percentiles are estimates within a factor of √2 (sql/85_rollup.sql); NULL with nothing
-- to estimate from.
CREATE VIEW httpq.performance WITH (security_barrier) AS
    SELECT c.name AS channel, w.period,
           coalesce(t.delivered, 0)::bigint AS delivered,
           coalesce(t.retried, 0)::bigint AS retried,
           coalesce(t.dead, 0)::bigint AS dead,
           round(t.delivered / nullif(t.delivered + t.retried + t.dead, 0), 4) AS success_ratio,
           round(httpq._quantile(s.latency, 0.5)::numeric, 1) AS latency_p50,
           round(httpq._quantile(s.latency, 0.95)::numeric, 1) AS latency_p95,
           round(httpq._quantile(s.latency, 0.99)::numeric, 1) AS latency_p99,
           round(httpq._quantile(s.duration, 0.5)::numeric, 1) AS attempt_p50,
           round(httpq._quantile(s.duration, 0.95)::numeric, 1) AS attempt_p95,
           round(httpq._quantile(s.duration, 0.99)::numeric, 1) AS attempt_p99
    FROM httpq.channel c
    CROSS JOIN (VALUES (interval '5 minutes'), (interval '1 hour')) AS w(period)
    CROSS JOIN LATERAL (
        SELECT sum(r.delivered) AS delivered, sum(r.retried) AS retried, sum(r.dead) AS dead
        FROM httpq.rollup r
        WHERE r.channel = c.name AND r.minute > date_trunc('minute', httpq._now(), 'UTC') - w.period
    ) AS t
    -- The window's histograms, summed bucket by bucket: each row's arrays run from bucket 1
    -- without a gap, so the sums do too.
    CROSS JOIN LATERAL (
        SELECT array_agg(h.n ORDER BY h.bucket) FILTER (WHERE h.latency) AS latency,
               array_agg(h.n ORDER BY h.bucket) FILTER (WHERE NOT h.latency) AS duration
        FROM (SELECT k.latency, u.bucket, sum(u.n) AS n
              FROM httpq.rollup r
              CROSS JOIN LATERAL (VALUES (true, r.latency), (false, r.duration)) AS k(latency, counts)
              CROSS JOIN LATERAL unnest(k.counts) WITH ORDINALITY AS u(n, bucket)
              WHERE r.channel = c.name AND r.minute > date_trunc('minute', httpq._now(), 'UTC') - w.period
              GROUP BY k.latency, u.bucket) AS h
    ) AS s
    WHERE (SELECT httpq._tenant_channels('ops')) IS NULL OR c.name = ANY ((SELECT httpq._tenant_channels('ops'))::text[]);
COMMENT ON VIEW httpq.performance
    IS 'Per channel, last 5 minutes and last hour: delivered, retried, dead, success ratio, latency and attempt percentiles (ms).';

REVOKE ALL ON httpq.rollup, httpq.performance FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA httpq FROM PUBLIC;
GRANT EXECUTE ON FUNCTION httpq._tenant_channels(text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION httpq._tenant_topics(text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION httpq._session_is_superuser() TO PUBLIC;
GRANT EXECUTE ON FUNCTION httpq._now() TO PUBLIC;
GRANT EXECUTE ON FUNCTION httpq._quantile(bigint[], double precision) TO PUBLIC;
-- (end of Success and latency figures)

-- ---------------------------------------------------------------------------------------
-- Queue figures for workers
--
-- httpq.queue_stats: what a worker serving metrics reads for its queue gauges
-- (sql/92_queue_stats.sql). The worker, ops and admin kinds were given it above.
-- ---------------------------------------------------------------------------------------

-- Per channel (all, or those named): paused, waiting and running requests, the age of the
-- oldest waiting one, and the circuit breaker's state.
CREATE FUNCTION httpq.queue_stats(channels text[] DEFAULT NULL)
RETURNS TABLE (channel text, paused boolean, waiting bigint, running bigint, oldest_waiting_age interval,
               breaker_state text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.name, c.paused, coalesce(l.waiting, 0), coalesce(l.running, 0), now() - l.oldest_waiting,
           c.breaker_state
    FROM httpq.channel c
    LEFT JOIN (
        SELECT r.channel,
               count(*) FILTER (WHERE r.state <> 'running') AS waiting,
               count(*) FILTER (WHERE r.state = 'running') AS running,
               min(r.created_at) FILTER (WHERE r.state <> 'running') AS oldest_waiting
        FROM httpq.request r
        WHERE queue_stats.channels IS NULL OR r.channel = ANY (queue_stats.channels)
        GROUP BY r.channel
    ) AS l ON l.channel = c.name
    WHERE queue_stats.channels IS NULL OR c.name = ANY (queue_stats.channels)
    ORDER BY c.name
$$;
COMMENT ON FUNCTION httpq.queue_stats(text[])
    IS 'Per channel: paused, waiting, running, oldest waiting age, breaker state; for a worker''s metrics.';
REVOKE ALL ON FUNCTION httpq.queue_stats(text[]) FROM PUBLIC;

-- (end of Queue figures for workers)


-- Ownership
--
-- What this script created belongs to the role that ran it. Everything in schema httpq
-- goes to the role that owns the install (the owner of httpq.request), as after a fresh
-- install by that role: the SECURITY DEFINER functions run as that owner and must reach
-- every table and function they call. A DBA upgrading an install that an application role
-- owns would otherwise leave claim, report and cancel failing with permission denied.
DO $$
DECLARE
    owner constant regrole := (SELECT c.relowner::regrole FROM pg_catalog.pg_class c
                               WHERE c.oid = 'httpq.request'::regclass);
    stmt  text;
BEGIN
    FOR stmt IN
        SELECT format('ALTER %s %s OWNER TO %s',
                      CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
                      c.oid::regclass, owner)
        FROM pg_catalog.pg_class c
        WHERE c.relnamespace = 'httpq'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm') AND c.relowner <> owner
        UNION ALL
        SELECT format('ALTER FUNCTION %s OWNER TO %s', p.oid::regprocedure, owner)
        FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = 'httpq'::regnamespace AND p.proowner <> owner
        UNION ALL
        SELECT format('ALTER TYPE %s OWNER TO %s', t.oid::regtype, owner)
        FROM pg_catalog.pg_type t JOIN pg_catalog.pg_class c ON c.oid = t.typrelid AND c.relkind = 'c'
        WHERE t.typnamespace = 'httpq'::regnamespace AND t.typowner <> owner
    LOOP
        EXECUTE stmt;
    END LOOP;
END;
$$;

-- Initial privileges
--
-- Under ALTER EXTENSION, every GRANT and REVOKE above is also recorded as the extension's
-- own initial privileges (pg_init_privs), which pg_dump leaves out: the grants carried over
-- to the new heartbeat, release, maintain and history would be lost in a dump and restore,
-- and objects handed to the install's owner would keep the upgrader's. Record what a fresh
-- install by the owner records instead: the owner's own privileges on each member, and the
-- one function every role may call (sql/99_privileges.sql). Writing
-- the catalog takes a superuser; anyone else is told what to grant again after a restore.
DO $$
DECLARE
    owner  constant oid := (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = 'httpq.request'::regclass);
    httpq  constant oid := (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname = 'httpq');
    others text;
BEGIN
    IF httpq IS NULL THEN
        RETURN;   -- a plain install: pg_dump dumps every grant
    END IF;
    IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
        UPDATE pg_catalog.pg_init_privs i
        SET initprivs = f.acl
        FROM (
            SELECT p.classoid, p.objoid, p.objsubid,
                   (SELECT array_agg(x)
                    FROM unnest(CASE p.classoid
                        WHEN 'pg_catalog.pg_proc'::regclass THEN (SELECT o.proacl FROM pg_catalog.pg_proc o WHERE o.oid = p.objoid)
                        WHEN 'pg_catalog.pg_type'::regclass THEN (SELECT o.typacl FROM pg_catalog.pg_type o WHERE o.oid = p.objoid)
                        WHEN 'pg_catalog.pg_namespace'::regclass THEN (SELECT o.nspacl FROM pg_catalog.pg_namespace o WHERE o.oid = p.objoid)
                        WHEN 'pg_catalog.pg_class'::regclass THEN
                            CASE WHEN p.objsubid = 0 THEN (SELECT o.relacl FROM pg_catalog.pg_class o WHERE o.oid = p.objoid)
                                 ELSE (SELECT a.attacl FROM pg_catalog.pg_attribute a
                                       WHERE a.attrelid = p.objoid AND a.attnum = p.objsubid) END
                        END) AS x
                    WHERE EXISTS (SELECT 1 FROM pg_catalog.aclexplode(ARRAY[x]) AS e WHERE e.grantee IN (owner, 0))) AS acl
            FROM pg_catalog.pg_init_privs p
            JOIN pg_catalog.pg_depend d ON d.classid = p.classoid AND d.objid = p.objoid AND d.objsubid = 0
                                        AND d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.refobjid = httpq
                                        AND d.deptype = 'e'
            WHERE p.privtype = 'e'
              AND EXISTS (SELECT 1 FROM unnest(p.initprivs) AS x, pg_catalog.aclexplode(ARRAY[x]) AS e
                          WHERE e.grantee <> owner)
        ) AS f
        WHERE i.classoid = f.classoid AND i.objoid = f.objoid AND i.objsubid = f.objsubid AND f.acl IS NOT NULL;
        RETURN;
    END IF;
    SELECT string_agg(DISTINCT e.grantee::regrole::text, ', ') INTO others
    FROM pg_catalog.pg_init_privs p
    JOIN pg_catalog.pg_depend d ON d.classid = p.classoid AND d.objid = p.objoid AND d.objsubid = 0
                                AND d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.refobjid = httpq
                                AND d.deptype = 'e',
         unnest(p.initprivs) AS x, pg_catalog.aclexplode(ARRAY[x]) AS e
    WHERE p.privtype = 'e' AND e.grantee <> owner AND e.grantee <> 0;
    IF others IS NOT NULL THEN
        RAISE NOTICE 'grants to % on httpq were carried over, but pg_dump will leave them out', others
            USING HINT = 'Run the upgrade as a superuser, or GRANT them again after restoring a dump.';
    END IF;
END;
$$;
