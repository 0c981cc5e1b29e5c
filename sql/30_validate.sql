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
