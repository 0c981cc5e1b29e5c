-- 52_outcome.sql: reading the outcomes a worker reports, one by one if need be.
--
-- Owns no table. httpq.report applies what httpq._read_outcomes returns: each outcome
-- typed, its body decoded, and one that a worker got wrong turned into a failed attempt
-- that says what is wrong with it, so the rest of its batch still applies.

-- One outcome as httpq.report applies it.
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
CREATE FUNCTION httpq._read_outcomes(outcomes jsonb) RETURNS httpq._outcome[]
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
