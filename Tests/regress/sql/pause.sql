\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';

-- A paused channel is not claimed; its requests keep waiting
SELECT count(*) FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/' || g, channel => 'paused') FROM generate_series(1, 3) AS g));
SELECT httpq.enqueue('https://example.com/other', channel => 'paused-not') AS other \gset
SELECT httpq.pause('paused');
SELECT paused FROM httpq.stats WHERE channel = 'paused';
SELECT channel, count(*) FROM httpq.claim('w1', 10, '{paused,paused-not}') GROUP BY channel;
SELECT state, count(*) FROM httpq.requests WHERE channel = 'paused' GROUP BY state;

-- Enqueueing to a paused channel still works
SELECT httpq.enqueue('https://example.com/4', channel => 'paused') IS NOT NULL AS enqueued;
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{paused}');

-- Pausing twice is harmless
SELECT httpq.pause('paused');

-- Resuming lets it be claimed again
SELECT httpq.resume('paused');
SELECT paused FROM httpq.stats WHERE channel = 'paused';
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{paused}');

-- Pausing a channel that does not exist yet creates it, paused; its first request waits
SELECT httpq.pause('paused-new');
SELECT httpq.enqueue('https://example.com/new', channel => 'paused-new') IS NOT NULL AS enqueued;
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{paused-new}');

-- Running requests of a paused channel run on and can still report
SELECT httpq.enqueue('https://example.com/r', channel => 'paused-run') AS r \gset
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{paused-run}');
SELECT httpq.pause('paused-run');
SELECT httpq.report('w1', jsonb_build_array(jsonb_build_object('id', :r, 'attempt', 1, 'status', 200))) AS applied;
SELECT state FROM httpq.requests WHERE id = :r;

-- A bad channel name is refused
SELECT httpq.pause('no spaces');
SELECT httpq.resume(NULL);
