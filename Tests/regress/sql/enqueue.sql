\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;

-- Enqueue returns an id and the request waits in the live queue
SELECT httpq.enqueue('https://example.com/hook', '{"order": 1}', channel => 'enq') AS id1 \gset
SELECT state, attempts, method, url, channel, blocked FROM httpq.requests WHERE id = :id1;

-- The channel is created on first use, with the defaults
SELECT name, max_concurrency, rate_per_second, max_attempts, backoff_base, backoff_max, timeout_ms, ordering_on_dead, paused
FROM httpq.channel WHERE name = 'enq';

-- A JSON body gets Content-Type: application/json and an Idempotency-Key
SELECT headers ->> 'Content-Type' AS content_type,
       headers ->> 'Idempotency-Key' = idempotency_key AS idempotency_header_matches,
       length(idempotency_key) = 36 AS generated_uuid,
       convert_from(body, 'UTF8')::jsonb = '{"order": 1}' AS body_is_json
FROM httpq.request WHERE id = :id1;

-- A Content-Type header given in any case is kept, and no second one is added
SELECT httpq.enqueue('https://example.com/hook', '{"a": 1}', headers => '{"content-type": "application/vnd.api+json"}',
                     channel => 'enq') AS id2 \gset
SELECT headers ?| ARRAY['Content-Type'] AS added, headers ->> 'content-type' AS content_type FROM httpq.request WHERE id = :id2;

-- No body, no Content-Type
SELECT httpq.enqueue('https://example.com/ping', method => 'GET', channel => 'enq') AS id3 \gset
SELECT body IS NULL AS no_body, NOT headers ? 'Content-Type' AS no_content_type, method FROM httpq.request WHERE id = :id3;

-- An idempotency_key given is the Idempotency-Key header sent
SELECT httpq.enqueue('https://example.com/hook', '{}', idempotency_key => 'order-42', channel => 'enq') AS id4 \gset
SELECT headers ->> 'Idempotency-Key' AS header, idempotency_key FROM httpq.request WHERE id = :id4;

-- An Idempotency-Key header given is the request's idempotency key
SELECT httpq.enqueue('https://example.com/hook', '{}', headers => '{"idempotency-key": "k-7"}', channel => 'enq') AS id5 \gset
SELECT headers, idempotency_key FROM httpq.request WHERE id = :id5;

-- A non-JSON body: enqueue_bytes with its content type
SELECT httpq.enqueue_bytes('https://example.com/form', convert_to('a=1&b=2', 'UTF8'),
                           'application/x-www-form-urlencoded', channel => 'enq') AS id6 \gset
SELECT headers ->> 'Content-Type' AS content_type, convert_from(body, 'UTF8') AS body, method FROM httpq.request WHERE id = :id6;

-- enqueue_bytes defaults to application/octet-stream
SELECT httpq.enqueue_bytes('https://example.com/blob', '\x00ff'::bytea, channel => 'enq') AS id7 \gset
SELECT headers ->> 'Content-Type' AS content_type, body FROM httpq.request WHERE id = :id7;

-- enqueue_bytes rejects a content_type that disagrees with the Content-Type header
SELECT httpq.enqueue_bytes('https://example.com/blob', '\x00'::bytea, 'text/plain',
                           headers => '{"Content-Type": "text/csv"}', channel => 'enq');

-- NULL settings take the channel's defaults at claim; given ones are kept
SELECT httpq.enqueue('https://example.com/t', channel => 'enq', max_attempts => 3, timeout_ms => 500, priority => 5) AS id8 \gset
SELECT max_attempts, timeout_ms, priority FROM httpq.request WHERE id = :id8;
SELECT max_attempts IS NULL AS max_attempts_from_channel, timeout_ms IS NULL AS timeout_from_channel
FROM httpq.request WHERE id = :id1;

-- A rolled-back enqueue leaves nothing: no request, no channel
BEGIN;
SELECT httpq.enqueue('https://example.com/rollback', channel => 'enq-rolled-back') AS id_rb \gset
SELECT count(*) AS inside_the_transaction FROM httpq.request WHERE id = :id_rb;
ROLLBACK;
SELECT count(*) AS requests FROM httpq.requests WHERE id = :id_rb;
SELECT count(*) AS channels FROM httpq.channel WHERE name = 'enq-rolled-back';

-- Ids grow in enqueue order
SELECT :id1 < :id2 AND :id2 < :id3 AND :id3 < :id4 AS ids_increase;

-- A request scheduled for later waits with its run_at
SELECT httpq.enqueue('https://example.com/later', channel => 'enq', run_at => now() + interval '1 hour') AS id9 \gset
SELECT run_at > now() AS scheduled, state FROM httpq.requests WHERE id = :id9;

-- Every request of this file is waiting in channel enq
SELECT state, count(*) FROM httpq.requests WHERE channel = 'enq' GROUP BY state;
