\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';

-- A claim hands out a waiting request with everything needed to send it
SELECT httpq.enqueue('https://example.com/c1', '{"x": 1}', channel => 'claim', idempotency_key => 'c1-key') AS id1 \gset
SELECT id = :id1 AS is_id1, attempt, channel, method, url, headers, convert_from(body, 'UTF8') AS body, timeout_ms
FROM httpq.claim('w1', channels => '{claim}');

-- The claimed request is running, leased to the worker until now + lease
SELECT state, attempts, worker, lease_until = '2030-01-01 00:01:00+00' AS leased_one_minute FROM httpq.requests WHERE id = :id1;

-- A running request is not claimed again
SELECT count(*) AS claimed FROM httpq.claim('w2', channels => '{claim}');

-- The request's timeout_ms overrides the channel's; the channel's applies when none is set
SELECT httpq.set_channel('claim', timeout_ms => 1500);
SELECT httpq.enqueue('https://example.com/c2', channel => 'claim', timeout_ms => 250) AS id2 \gset
SELECT httpq.enqueue('https://example.com/c3', channel => 'claim') AS id3 \gset
SELECT id = :id2 AS is_id2, id = :id3 AS is_id3, timeout_ms FROM httpq.claim('w1', channels => '{claim}') ORDER BY id;

-- The lease is the one asked for
SELECT httpq.enqueue('https://example.com/c4', channel => 'claim') AS id4 \gset
SELECT count(*) FROM httpq.claim('w1', channels => '{claim}', lease => '5 minutes');
SELECT lease_until = '2030-01-01 00:05:00+00' AS leased_five_minutes FROM httpq.request WHERE id = :id4;

-- max_count bounds the batch
SELECT count(*) AS enqueued FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/b/' || g, channel => 'claim-batch') FROM generate_series(1, 25) AS g));
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{claim-batch}');
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{claim-batch}');
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{claim-batch}');
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{claim-batch}');

-- A batch is claimed in enqueue order
SELECT count(*) AS enqueued FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/o/' || g, channel => 'claim-order') FROM generate_series(1, 5) AS g ORDER BY g));
SELECT string_agg(replace(url, 'https://example.com/o/', ''), ',' ORDER BY id) AS claimed
FROM httpq.claim('w1', 3, '{claim-order}');

-- A request scheduled for later is not claimed before its run_at
SELECT httpq.enqueue('https://example.com/later', channel => 'claim-later', run_at => '2030-01-01 00:10:00+00') AS id5 \gset
SELECT count(*) AS claimed FROM httpq.claim('w1', channels => '{claim-later}');
SELECT httpq.next_run_at('{claim-later}') = '2030-01-01 00:10:00+00' AS next_run_at_is_its_run_at;
SET httpq.now = '2030-01-01 00:10:00+00';
SELECT id = :id5 AS is_id5 FROM httpq.claim('w1', channels => '{claim-later}');
SELECT httpq.next_run_at('{claim-later}') IS NULL AS nothing_scheduled;

-- The channels argument limits the claim to those channels
SELECT httpq.enqueue('https://example.com/x', channel => 'claim-x') AS idx \gset
SELECT httpq.enqueue('https://example.com/y', channel => 'claim-y') AS idy \gset
SELECT count(*) AS claimed FROM httpq.claim('w1', channels => '{claim-none}');
SELECT id = :idy AS is_idy FROM httpq.claim('w1', channels => '{claim-y}');
SELECT id = :idx AS is_idx FROM httpq.claim('w1', channels => '{claim-x,claim-y}');

-- An uncommitted claim is rolled back with its transaction
SELECT httpq.enqueue('https://example.com/rb', channel => 'claim-rb') AS idrb \gset
BEGIN;
SELECT count(*) AS claimed FROM httpq.claim('w1', channels => '{claim-rb}');
ROLLBACK;
SELECT state, attempts FROM httpq.requests WHERE id = :idrb;

-- The claim reads its batch from the partial index of claimable requests, whatever the backlog
SELECT count(*) AS backlog FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/big/' || g, channel => 'claim-big') FROM generate_series(1, 5000) AS g));
ANALYZE httpq.request;
-- (the statement claim runs to pick a channel's batch, with claim's parameters)
PREPARE pick(text, timestamptz, integer) AS
    SELECT r.id, coalesce(r.deadline <= $2, false) AS late
    FROM httpq.request r
    WHERE r.channel = $1 AND r.state = 'waiting' AND r.run_at <= $2
    ORDER BY r.priority, r.run_at, r.id
    LIMIT $3
    FOR UPDATE SKIP LOCKED;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE pick('claim-big', '2030-01-01 00:10:00+00', 100);
-- It reads 100 index entries for 100 requests out of 5,000
BEGIN;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE pick('claim-big', '2030-01-01 00:10:00+00', 100);
ROLLBACK;
RESET plan_cache_mode;
DEALLOCATE pick;
SELECT count(*) AS claimed FROM httpq.claim('w1', 100, '{claim-big}');
