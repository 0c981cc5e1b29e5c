\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';

-- A channel at its concurrency limit (one running, more waiting)
SELECT httpq.set_channel('starve-slow', max_concurrency => 1);
SELECT count(*) AS enqueued FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/slow/' || g, channel => 'starve-slow') FROM generate_series(1, 5) AS g));
SELECT count(*) AS claimed FROM httpq.claim('w1', 1, '{starve-slow}', '1 day');

-- Another channel with waiting requests
SELECT count(*) AS enqueued FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/fast/' || g, channel => 'starve-fast') FROM generate_series(1, 10) AS g));

-- Claims of one keep getting work from the other channel: never two empty claims in a row
CREATE TEMP TABLE turns (turn serial, claimed text);
INSERT INTO turns (claimed) SELECT coalesce((SELECT channel FROM httpq.claim('w1', 1, '{starve-slow,starve-fast}', '1 day')), 'none');
INSERT INTO turns (claimed) SELECT coalesce((SELECT channel FROM httpq.claim('w1', 1, '{starve-slow,starve-fast}', '1 day')), 'none');
INSERT INTO turns (claimed) SELECT coalesce((SELECT channel FROM httpq.claim('w1', 1, '{starve-slow,starve-fast}', '1 day')), 'none');
INSERT INTO turns (claimed) SELECT coalesce((SELECT channel FROM httpq.claim('w1', 1, '{starve-slow,starve-fast}', '1 day')), 'none');
INSERT INTO turns (claimed) SELECT coalesce((SELECT channel FROM httpq.claim('w1', 1, '{starve-slow,starve-fast}', '1 day')), 'none');
INSERT INTO turns (claimed) SELECT coalesce((SELECT channel FROM httpq.claim('w1', 1, '{starve-slow,starve-fast}', '1 day')), 'none');
SELECT count(*) FILTER (WHERE claimed = 'starve-fast') >= 3 AS fast_served,
       count(*) FILTER (WHERE claimed = 'starve-slow') AS slow_over_limit,
       NOT EXISTS (SELECT 1 FROM turns a JOIN turns b ON b.turn = a.turn + 1
                   WHERE a.claimed = 'none' AND b.claimed = 'none') AS never_two_empty_in_a_row
FROM turns;

-- The limited channel still runs one at a time
SELECT count(*) AS running FROM httpq.request WHERE channel = 'starve-slow' AND state = 'running';
