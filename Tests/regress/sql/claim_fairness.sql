\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';

-- A channel with 10 waiting requests next to one with 5,000
SELECT count(*) AS big FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://big.example.com/' || g, channel => 'fair-big') FROM generate_series(1, 5000) AS g));
SELECT count(*) AS small FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://small.example.com/' || g, channel => 'fair-small') FROM generate_series(1, 10) AS g));

-- A claim of 100 takes all 10 of the small channel and fills up from the big one
SELECT channel, count(*) FROM httpq.claim('w1', 100, '{fair-big,fair-small}') GROUP BY channel ORDER BY channel;

-- The small channel is not starved when its work arrives after the big backlog
SELECT count(*) AS small FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://small.example.com/late/' || g, channel => 'fair-small') FROM generate_series(1, 3) AS g));
SELECT channel, count(*) FROM httpq.claim('w1', 10, '{fair-big,fair-small}') GROUP BY channel ORDER BY channel;

-- Three busy channels share a claim equally
SELECT count(*) FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/' || c || '/' || g, channel => 'fair-' || c)
    FROM unnest(ARRAY['a', 'b', 'c']) AS c, generate_series(1, 50) AS g));
SELECT channel, count(*) FROM httpq.claim('w1', 9, '{fair-a,fair-b,fair-c}') GROUP BY channel ORDER BY channel;

-- A share that does not divide evenly differs by at most one between channels
SELECT max(n) - min(n) AS spread, sum(n) AS claimed
FROM (SELECT channel, count(*) AS n FROM httpq.claim('w1', 10, '{fair-a,fair-b,fair-c}') GROUP BY channel) AS s;

-- Round-robin: claims of one take from each channel in turn, least recently served first
CREATE TEMP TABLE served (round serial, channel text);
INSERT INTO served (channel) SELECT channel FROM httpq.claim('w1', 1, '{fair-a,fair-b,fair-c}');
INSERT INTO served (channel) SELECT channel FROM httpq.claim('w1', 1, '{fair-a,fair-b,fair-c}');
INSERT INTO served (channel) SELECT channel FROM httpq.claim('w1', 1, '{fair-a,fair-b,fair-c}');
INSERT INTO served (channel) SELECT channel FROM httpq.claim('w1', 1, '{fair-a,fair-b,fair-c}');
INSERT INTO served (channel) SELECT channel FROM httpq.claim('w1', 1, '{fair-a,fair-b,fair-c}');
INSERT INTO served (channel) SELECT channel FROM httpq.claim('w1', 1, '{fair-a,fair-b,fair-c}');
SELECT string_agg(channel, ', ' ORDER BY round) AS served,
       count(DISTINCT channel) FILTER (WHERE round <= 3) AS channels_in_first_three,
       count(DISTINCT channel) FILTER (WHERE round > 3) AS channels_in_next_three
FROM served;

-- What one channel cannot use goes to the others
SELECT httpq.set_channel('fair-a', max_concurrency => 1);
SELECT channel, count(*) FROM httpq.claim('w2', 30, '{fair-a,fair-b,fair-c}') GROUP BY channel ORDER BY channel;
