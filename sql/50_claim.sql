-- 50_claim.sql: handing a worker its next batch, fairly and within every channel's limits.
--
-- Writes httpq.request (scheduled -> waiting once due; waiting -> running, with attempt,
-- worker and lease) and the
-- channel bookkeeping (served_at, tokens). Invariants: a request is claimed by one worker
-- at a time (FOR UPDATE SKIP LOCKED); a channel's running requests never exceed its
-- max_concurrency and its claims never outrun its rate, across all workers, because claims
-- of a limited channel happen under its row lock; channels with ready work share each
-- claim; a request past its deadline is never sent.

-- Puts running requests whose lease has passed (their worker died) back to waiting; the
-- attempt they used counts, and is counted as retried in httpq.rollup. Out of attempts or
-- past the deadline, they are dead.
CREATE FUNCTION httpq._expire_leases(now timestamptz) RETURNS integer
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

-- Makes scheduled requests whose run_at has come waiting (claimable), oldest first, at
-- most max_count of them (of the named channels, or all); returns how many. Rows another
-- transaction holds (a cancel, a concurrent claim waking them) are left to the next claim.
CREATE FUNCTION httpq._wake_scheduled(channels text[], max_count integer, now timestamptz) RETURNS integer
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
COMMENT ON FUNCTION httpq._waiting_channels() IS 'The channels that have waiting requests (a skip scan of request_claimable_idx).';

-- Up to max_count of the named channels, unpaused and not held by their circuit breaker,
-- with a waiting request, least recently served first. Probed one by one: a worker that
-- serves some channels never reads the others. (A claim of all channels finds them by
-- httpq._waiting_channels.)
CREATE FUNCTION httpq._ready_channels(channels text[], max_count integer) RETURNS text[]
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

-- Claims up to max_count requests for a worker, leased until now() + lease, with bodies
-- of at most max_bytes in all (but always one request, when any is ready). A worker keeps
-- one channel from taking all its transfers with per_channel, the most one channel may
-- get, and channel_room, less for the channels named: {"channel": n, ...}.
CREATE FUNCTION httpq.claim(
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
CREATE FUNCTION httpq.next_run_at(channels text[] DEFAULT NULL) RETURNS timestamptz
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
