-- 85_rollup.sql: each minute's outcomes per channel, counted as they are recorded.
--
-- Owns httpq.rollup: per minute, channel and server process, the requests delivered and
-- dead, the attempts that failed and will be tried again, and two histograms, of the time
-- from enqueue to delivery of the requests delivered and of each attempt's duration as the
-- worker reported it. httpq._count_outcomes writes it in the transaction that records the
-- outcomes (report counts the attempts to be tried again, _finish how requests ended and
-- the attempts that ended them, _expire_leases the attempts whose lease passed), so it
-- holds exactly the outcomes that committed, and reading a window costs the window's rows,
-- however large the history. httpq.maintain deletes the rows of minutes more than two days
-- old.
--
-- A row's key includes the server process that wrote it (pg_backend_pid): a process runs
-- one transaction at a time, so two transactions never write the same row, and a report
-- never waits for another's to commit.
--
-- Histograms are arrays of counts over fixed buckets whose bounds grow by a factor of √2:
-- bucket 1 counts 0 to 1 ms, bucket i (2 to 55) more than 2^((i-2)/2) ms up to 2^((i-1)/2)
-- ms, bucket 56 everything longer than 2^27 ms (37 hours). An array ends at its last
-- bucket that counted something: most durations are short, and most rows stay small.

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
