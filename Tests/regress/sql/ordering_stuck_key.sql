\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';

-- A key that somehow lost its head: two requests, both blocked, nothing of it claimable
SELECT httpq.enqueue('https://example.com/s1', channel => 'ord-stuck', ordering_key => 'k') AS s1 \gset
SELECT httpq.enqueue('https://example.com/s2', channel => 'ord-stuck', ordering_key => 'k') AS s2 \gset
UPDATE httpq.request SET state = 'blocked' WHERE id = :s1;
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{ord-stuck}');

-- The next enqueue to the key makes its oldest request the head, and queues behind it
SELECT httpq.enqueue('https://example.com/s3', channel => 'ord-stuck', ordering_key => 'k') AS s3 \gset
SELECT replace(url, 'https://example.com/', '') AS url, state, blocked FROM httpq.requests
WHERE channel = 'ord-stuck' ORDER BY id;
SELECT id = :s1 AS is_s1 FROM httpq.claim('w1', 10, '{ord-stuck}');

-- A batch heals a stuck key too, and leaves the other keys it touches as they were
SELECT httpq.enqueue('https://example.com/t1', channel => 'ord-stuck', ordering_key => 't') AS t1 \gset
SELECT httpq.enqueue('https://example.com/t2', channel => 'ord-stuck', ordering_key => 't') AS t2 \gset
UPDATE httpq.request SET state = 'blocked' WHERE id = :t1;
SELECT count(*) AS enqueued FROM httpq.enqueue_many(ARRAY[
    httpq.new_request('https://example.com/t3', channel => 'ord-stuck', ordering_key => 't'),
    httpq.new_request('https://example.com/s4', channel => 'ord-stuck', ordering_key => 'k'),
    httpq.new_request('https://example.com/u1', channel => 'ord-stuck', ordering_key => 'u')]);
SELECT ordering_key, replace(url, 'https://example.com/', '') AS url, state, blocked FROM httpq.requests
WHERE channel = 'ord-stuck' ORDER BY ordering_key, id;
SELECT ordering_key, count(*) AS heads FROM httpq.request
WHERE channel = 'ord-stuck' AND state IN ('waiting', 'running') GROUP BY ordering_key ORDER BY ordering_key;
