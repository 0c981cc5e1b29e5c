-- 35_enqueue.sql: putting requests on the queue, inside the caller's transaction.
--
-- Writes httpq.request (and httpq.channel, for channels seen the first time). Every
-- path ends in httpq.enqueue_many: one validation, one set-based INSERT, one NOTIFY per
-- transaction. Invariants kept here: a request is checked whole before anything is
-- written; its headers carry Content-Type (JSON bodies) and Idempotency-Key; a request with
-- an ordering_key is the key's head only when the key has no unfinished request and is
-- not held; a dedupe_key that matches an unfinished request enqueues nothing.

-- A new request's headers with its trace context (W3C Trace Context): traceparent and
-- tracestate as given or, for a request given no traceparent at all, the session settings
-- httpq.traceparent and httpq.tracestate (so one SET LOCAL puts every enqueue of a
-- transaction, those of triggers too, into the trace). They are sent as the headers of the
-- same names. Raises on a bad value, naming where it came from, and on a value given both
-- here and in headers.
CREATE FUNCTION httpq._traced_headers(headers jsonb, traceparent text, tracestate text) RETURNS jsonb
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

-- Raises the error for a body larger than its channel's max_body_bytes (place: which of a
-- batch, such as 'request 2 of 5'; NULL for a request alone).
CREATE FUNCTION httpq._refuse_body(channel text, size bigint, max_body integer, place text) RETURNS void
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

-- One request without ordering or dedupe key, the commonest enqueue: the row and the checks
-- of httpq.enqueue_many's set-based path, in a third of the statements (half the CPU of
-- the whole enqueue transaction, measured). Keys need the set-based path's locking.
CREATE FUNCTION httpq._enqueue_one(r httpq.new_request, now_at timestamptz) RETURNS bigint
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

-- Enqueues many requests in one statement; returns their ids in the order given. A
-- request whose dedupe_key matches an unfinished request returns that request's id.
CREATE FUNCTION httpq.enqueue_many(requests httpq.new_request[]) RETURNS SETOF bigint
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
