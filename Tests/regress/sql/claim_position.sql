\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;

-- A session whose claims read from their positions (as they do once reading from the front
-- has become costly, sql/48_claim_position.sql): the first claim reads from the front, the
-- others, for the next hour, from where this session's last claim of the channel stopped
SET httpq.claim_front_every = '1 hour';
SELECT count(*) AS enqueued FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/pos/' || g, channel => 'pos') FROM generate_series(1, 6) AS g));
SELECT replace(url, 'https://example.com/pos/', '') AS front FROM httpq.claim('w1', 2, '{pos}') ORDER BY id;
SELECT replace(url, 'https://example.com/pos/', '') AS onward FROM httpq.claim('w1', 2, '{pos}') ORDER BY id;

-- What sorts before the position: a higher priority, a request 10 s older (both wait for the
-- next read from the front), and one 50 ms older (taken: an enqueue that committed late)
SELECT max(run_at) AS pos_run_at FROM httpq.request WHERE channel = 'pos' AND state = 'running' \gset
SELECT httpq.enqueue('https://example.com/pos/urgent', channel => 'pos', priority => -1) > 0 AS urgent,
       httpq.enqueue('https://example.com/pos/older', channel => 'pos', run_at => :'pos_run_at'::timestamptz - interval '10 seconds') > 0 AS older,
       httpq.enqueue('https://example.com/pos/late', channel => 'pos', run_at => :'pos_run_at'::timestamptz - interval '50 milliseconds') > 0 AS late;
SELECT replace(url, 'https://example.com/pos/', '') AS from_position FROM httpq.claim('w1', 10, '{pos}') ORDER BY id;
SELECT replace(url, 'https://example.com/pos/', '') AS left_behind FROM httpq.request
WHERE channel = 'pos' AND state = 'waiting' ORDER BY id;

-- The next read from the front takes them, most urgent first
SET httpq.claim_front_every = '0';
SELECT replace(url, 'https://example.com/pos/', '') AS front_again FROM httpq.claim('w1', 10, '{pos}');
SELECT count(*) AS waiting FROM httpq.request WHERE channel = 'pos' AND state = 'waiting';

-- A rolled-back claim keeps no position: the session's next claim takes the same requests
SELECT httpq.enqueue('https://example.com/pos/r' || g, channel => 'pos-rollback') > 0 AS enqueued FROM generate_series(1, 2) AS g;
SET httpq.claim_front_every = '1 hour';
BEGIN;
SELECT count(*) AS claimed FROM httpq.claim('w1', 1, '{pos-rollback}');
ROLLBACK;
SELECT replace(url, 'https://example.com/pos/', '') AS again FROM httpq.claim('w1', 10, '{pos-rollback}') ORDER BY id;

RESET httpq.claim_front_every;
DELETE FROM httpq.request WHERE channel LIKE 'pos%';
DELETE FROM httpq.history WHERE channel LIKE 'pos%';
DELETE FROM httpq.channel WHERE name LIKE 'pos%';
