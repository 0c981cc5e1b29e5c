-- 62_tail.sql: a live stream of attempt outcomes, for `httpq tail`.
--
-- Writes httpq.tail. A running tail registers itself and renews its registration (every
-- 10 s, each good for 30 s); while one is live, httpq.report announces the outcomes it
-- records, and httpq._finish the requests it finishes (dead by deadline or lease, canceled),
-- on channel httpq_outcomes as 'id:attempt' items ('id:' for an ending without an attempt).
-- The tail LISTENs and reads those ids through the views, which apply tenancy. With no tail
-- live, reports pay one index probe of an empty table and send nothing. A tail that dies
-- without ending its registration costs at most 30 s of announcements nobody hears.

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
