-- 30_validate.sql: what makes a request acceptable, as pure functions.
--
-- Owns no table. httpq.enqueue_many runs every new request through httpq._problem before
-- it writes anything, so a bad request is rejected whole, with the field and the rule
-- named, and nothing of its batch is enqueued.

-- The value of a header, found by case-insensitive name (HTTP header names are).
CREATE FUNCTION httpq._header(headers jsonb, name text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(
        headers ->> name,
        (SELECT h.value #>> '{}' FROM jsonb_each(headers) AS h WHERE lower(h.key) = lower(name) LIMIT 1))
$$;
COMMENT ON FUNCTION httpq._header(jsonb, text) IS 'A header''s value by case-insensitive name, or NULL.';

-- What is wrong with a new request, as {sqlstate, message}, or NULL when nothing is.
CREATE FUNCTION httpq._problem(r httpq.new_request) RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN r.url IS NULL THEN
            ARRAY['22004', 'url must not be NULL']
        WHEN length(r.url) > 8192 THEN
            ARRAY['22023', 'url must be at most 8192 characters, got ' || length(r.url)]
        WHEN r.url !~* '^https?://' THEN
            ARRAY['22023', 'url must start with http:// or https://, got ' || quote_literal(left(r.url, 100))]
        WHEN r.url !~* '^https?://([^/?#@[:space:]]+@)?(\[[0-9a-f:.]+\]|[a-z0-9._~%!$&''()*+,;=-]+)(:[0-9]{1,5})?([/?#][^[:space:][:cntrl:]]*)?$' THEN
            ARRAY['22023', 'url must be an absolute http(s) URL with a host and no spaces, got ' || quote_literal(left(r.url, 100))]
        WHEN r.method IS NULL THEN
            ARRAY['22004', 'method must not be NULL']
        WHEN r.method NOT IN ('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS') THEN
            ARRAY['22023', 'method must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS (upper case), got ' || quote_literal(r.method)]
        WHEN r.method = 'HEAD' AND r.body IS NOT NULL THEN
            ARRAY['22023', 'body must be NULL for method HEAD']
        WHEN r.headers IS NULL THEN
            ARRAY['22004', 'headers must not be NULL (use ''{}'' for none)']
        WHEN jsonb_typeof(r.headers) <> 'object' THEN
            ARRAY['22023', 'headers must be a JSON object of strings, got a JSON ' || jsonb_typeof(r.headers)]
        WHEN EXISTS (SELECT 1 FROM jsonb_each(r.headers) AS h WHERE jsonb_typeof(h.value) <> 'string') THEN
            ARRAY['22023', 'headers must be a JSON object of strings: header '
                || (SELECT quote_literal(h.key) FROM jsonb_each(r.headers) AS h WHERE jsonb_typeof(h.value) <> 'string' LIMIT 1)
                || ' is not a string']
        WHEN EXISTS (SELECT 1 FROM jsonb_object_keys(r.headers) AS k WHERE k !~ '^[!#$%&''*+.^_`|~0-9A-Za-z-]+$') THEN
            ARRAY['22023', 'headers: ' || (SELECT quote_literal(k) FROM jsonb_object_keys(r.headers) AS k
                WHERE k !~ '^[!#$%&''*+.^_`|~0-9A-Za-z-]+$' LIMIT 1) || ' is not a valid header name']
        WHEN EXISTS (SELECT 1 FROM jsonb_each_text(r.headers) AS h WHERE h.value ~ '[\r\n]') THEN
            ARRAY['22023', 'headers: the value of ' || (SELECT quote_literal(h.key) FROM jsonb_each_text(r.headers) AS h
                WHERE h.value ~ '[\r\n]' LIMIT 1) || ' must not contain a line break']
        WHEN (SELECT count(DISTINCT lower(k)) <> count(*) FROM jsonb_object_keys(r.headers) AS k) THEN
            ARRAY['22023', 'headers must not name the same header twice (names are case-insensitive)']
        WHEN EXISTS (SELECT 1 FROM jsonb_object_keys(r.headers) AS k WHERE lower(k) IN ('content-length', 'transfer-encoding', 'connection')) THEN
            ARRAY['22023', 'headers must not set Content-Length, Transfer-Encoding or Connection: the worker sets them']
        WHEN r.idempotency_key IS NOT NULL AND r.idempotency_key !~ '^[\x21-\x7e]{1,255}$' THEN
            ARRAY['22023', 'idempotency_key must be 1 to 255 visible ASCII characters']
        WHEN r.idempotency_key <> httpq._header(r.headers, 'Idempotency-Key') THEN
            ARRAY['22023', 'idempotency_key and the Idempotency-Key header disagree: give one of them']
        WHEN r.channel IS NULL THEN
            ARRAY['22004', 'channel must not be NULL']
        WHEN r.channel !~ '^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,199}$' THEN
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
    END
$$;
COMMENT ON FUNCTION httpq._problem(httpq.new_request) IS 'Why a new request is not acceptable, as {sqlstate, message}; NULL when it is.';
