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

-- A value quoted for an error message: cut at max_length characters, control characters
-- (C0, DEL, C1) shown as \xNN, so an error never carries raw bytes that a terminal or a
-- log reader would act on. Only for values that are no secret: callers never pass a header
-- value or a whole URL.
CREATE FUNCTION httpq._quoted(value text, max_length integer DEFAULT 100) RETURNS text
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

-- What is wrong with a W3C traceparent (Trace Context level 1), as a message that names it
-- by name (where it came from: the parameter, a header, the session setting), or NULL.
-- Version 00 is exactly version-trace_id-parent_id-flags; a higher version may carry more
-- after a '-' following the flags (the spec's forward compatibility). String functions, not
-- a regular expression: one with counted repeats ({32}) cost more than the whole enqueue.
CREATE FUNCTION httpq._traceparent_problem(value text, name text) RETURNS text
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
CREATE FUNCTION httpq._tracestate_problem(value text, name text) RETURNS text
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
CREATE FUNCTION httpq._headers_problem(headers jsonb) RETURNS text[]
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

-- Why a url is not acceptable, in words, once httpq._problem's one regular expression has
-- refused it. Quotes at most the scheme, host or port: a path or query may carry a token,
-- user-info a password.
CREATE FUNCTION httpq._url_problem(url text) RETURNS text
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
CREATE FUNCTION httpq._is_ip_address(value text) RETURNS boolean
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
CREATE FUNCTION httpq._problem(r httpq.new_request, now_at timestamptz) RETURNS text[]
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
CREATE FUNCTION httpq._check_requests(requests httpq.new_request[], now_at timestamptz) RETURNS void
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
