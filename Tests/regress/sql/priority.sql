\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';

-- Within a channel a lower priority value is claimed first, then older first
SELECT count(*) FROM httpq.enqueue_many(ARRAY[
    httpq.new_request('https://example.com/p5', channel => 'prio', priority => 5),
    httpq.new_request('https://example.com/p0-first', channel => 'prio'),
    httpq.new_request('https://example.com/p-1', channel => 'prio', priority => -1),
    httpq.new_request('https://example.com/p0-second', channel => 'prio', priority => 0),
    httpq.new_request('https://example.com/p10', channel => 'prio', priority => 10)]);
CREATE TEMP TABLE claimed (round serial, url text);
INSERT INTO claimed (url) SELECT url FROM httpq.claim('w1', 1, '{prio}');
INSERT INTO claimed (url) SELECT url FROM httpq.claim('w1', 1, '{prio}');
INSERT INTO claimed (url) SELECT url FROM httpq.claim('w1', 1, '{prio}');
INSERT INTO claimed (url) SELECT url FROM httpq.claim('w1', 1, '{prio}');
INSERT INTO claimed (url) SELECT url FROM httpq.claim('w1', 1, '{prio}');
SELECT round, replace(url, 'https://example.com/', '') AS claimed FROM claimed ORDER BY round;

-- A batch claim takes the lowest values first
SELECT count(*) FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/b' || g, channel => 'prio-batch', priority => g % 3)
    FROM generate_series(1, 9) AS g));
SELECT array_agg(DISTINCT r.priority) AS claimed_priorities
FROM httpq.claim('w1', 3, '{prio-batch}') AS c JOIN httpq.request r ON r.id = c.id;

-- Priority is within a channel: another channel's low value does not jump the round-robin
SELECT count(*) FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/x' || g, channel => 'prio-x', priority => 100) FROM generate_series(1, 4) AS g));
SELECT count(*) FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/y' || g, channel => 'prio-y', priority => -100) FROM generate_series(1, 4) AS g));
SELECT channel, count(*) FROM httpq.claim('w1', 4, '{prio-x,prio-y}') GROUP BY channel ORDER BY channel;

-- A scheduled request is not claimed before its run_at, whatever its priority
SELECT httpq.enqueue('https://example.com/urgent-later', channel => 'prio-later', priority => -1000,
                     run_at => '2030-01-01 01:00:00+00') AS later \gset
SELECT httpq.enqueue('https://example.com/normal-now', channel => 'prio-later') AS now_id \gset
SELECT id = :now_id AS is_the_due_one FROM httpq.claim('w1', 10, '{prio-later}');
