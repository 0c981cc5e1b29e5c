-- Helpers for the benchmark, in a schema of their own in each benchmark database.
CREATE SCHEMA bench;

-- The request body used everywhere: an order event of about 300 bytes of JSON.
CREATE FUNCTION bench.payload(i bigint) RETURNS jsonb
LANGUAGE sql IMMUTABLE
AS $$
    SELECT jsonb_build_object(
        'event', 'order.created',
        'id', i,
        'customer', jsonb_build_object('id', i % 1000, 'email', 'customer' || i % 1000 || '@example.com'),
        'items', jsonb_build_array(jsonb_build_object('sku', 'SKU-' || i % 97, 'qty', 1 + i % 3, 'price_cents', 1999)),
        'note', repeat('x', 136))
$$;

-- Enqueues n requests to url on a channel through httpq.enqueue_many, in batches of
-- 10,000, in the caller's transaction. Returns how many were enqueued.
CREATE FUNCTION bench.fill(channel text, n integer, url text) RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    done bigint := 0;
    k    integer;
BEGIN
    WHILE done < n LOOP
        k := least(10000, n - done);
        PERFORM count(*) FROM httpq.enqueue_many(ARRAY(
            SELECT httpq.new_request(fill.url, bench.payload(done + i), channel => fill.channel)
            FROM generate_series(1, k) AS i));
        done := done + k;
    END LOOP;
    RETURN done;
END;
$$;

-- Latency of delivered requests on a channel, from their own timestamps: enqueue
-- (created_at) to the report that finished them (finished_at), in milliseconds.
CREATE FUNCTION bench.latency(channel text)
RETURNS TABLE (n bigint, p50_ms numeric, p99_ms numeric, max_ms numeric)
LANGUAGE sql STABLE
AS $$
    SELECT count(*),
           round((1000 * percentile_cont(0.50) WITHIN GROUP (ORDER BY extract(epoch FROM h.finished_at - h.created_at)))::numeric, 3),
           round((1000 * percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM h.finished_at - h.created_at)))::numeric, 3),
           round((1000 * max(extract(epoch FROM h.finished_at - h.created_at)))::numeric, 3)
    FROM httpq.history h
    WHERE h.channel = latency.channel AND h.state = 'delivered'
$$;

-- Grows the waiting backlog of a channel to n rows with a plain INSERT of rows shaped
-- as httpq.enqueue_many writes them (headers with Content-Type and Idempotency-Key). It is
-- set-up, not a measurement: it is several times faster than the API for millions of rows.
CREATE FUNCTION bench.grow_backlog(channel text, n bigint, url text) RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    have bigint;
BEGIN
    SELECT count(*) INTO have FROM httpq.request r WHERE r.channel = grow_backlog.channel;
    INSERT INTO httpq.request (id, channel, state, priority, run_at, method, url, headers, body, idempotency_key)
    SELECT nextval('httpq.request_id_seq'), grow_backlog.channel, 'waiting', 0, now(), 'POST', grow_backlog.url,
           jsonb_build_object('Content-Type', 'application/json', 'Idempotency-Key', k.key),
           convert_to(bench.payload(g)::text, 'UTF8'), k.key
    FROM generate_series(have + 1, n) AS g
    CROSS JOIN LATERAL (SELECT gen_random_uuid()::text) AS k(key);
    RETURN n - have;
END;
$$;

-- The reference for the cost of an enqueue: a plain table as wide as httpq.request, with
-- its columns and defaults and a primary key, nothing else (an application's own table, not
-- a queue: none of httpq.request's partial indexes), into which the benchmark inserts the
-- same rows a plain INSERT would: drive.py's plain mode and the pgbench plain scripts in
-- bench.sh.
CREATE TABLE bench.plain (LIKE httpq.request INCLUDING DEFAULTS INCLUDING IDENTITY, PRIMARY KEY (id));

-- Lets the worker deliver a channel's requests to loopback, where every sink of the
-- benchmark listens: the worker refuses private and loopback addresses unless the channel
-- lists them. Creates the channels that do not exist yet.
CREATE FUNCTION bench.loopback(VARIADIC channels text[]) RETURNS void
LANGUAGE sql
AS $$
    SELECT httpq.set_channel(c, allowed_networks => '{127.0.0.0/8}') FROM unnest(channels) AS c
$$;
