\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';
\i Tests/regress/support/pages_read.sql

-- A claim of every channel, with one due request of its own; what it reads of the requests
-- and the channels, rolled back
-- (after a vacuum and a first run, so that leftovers of earlier tests cost neither claim)
SELECT httpq.enqueue('https://example.com/due', channel => 'parked-cost-due') AS due \gset
VACUUM ANALYZE httpq.request, httpq.channel;
BEGIN;
SELECT pg_temp.pages_read($$SELECT httpq.claim('w1', 10)$$, '{httpq.request,httpq.channel}') >= 0 AS warmed_up;
ROLLBACK;
BEGIN;
SELECT pg_temp.pages_read($$SELECT httpq.claim('w1', 10)$$, '{httpq.request,httpq.channel}') AS pages_without \gset
ROLLBACK;

-- 50,000 channels, each with a request scheduled a year ahead: they are scheduled, not waiting
SELECT count(*) AS parked FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/parked/' || g, channel => 'parked-cost-' || g,
                             run_at => '2031-01-01 00:00:00+00')
    FROM generate_series(1, 50000) AS g));
SELECT state, count(*) FROM httpq.request WHERE channel LIKE 'parked-cost-%' GROUP BY state ORDER BY state;
VACUUM ANALYZE httpq.request, httpq.channel;
BEGIN;
SELECT pg_temp.pages_read($$SELECT httpq.claim('w1', 10)$$, '{httpq.request,httpq.channel}') >= 0 AS warmed_up;
ROLLBACK;

-- The same claim costs within 1.5 times as much, and takes the same due request
BEGIN;
SELECT pg_temp.pages_read($$SELECT httpq.claim('w1', 10)$$, '{httpq.request,httpq.channel}') AS pages_with \gset
ROLLBACK;
SELECT :pages_with <= 1.5 * :pages_without AS within_one_and_a_half;
SELECT id = :due AS the_due_one FROM httpq.claim('w1', 10) WHERE channel LIKE 'parked-cost-%';

-- A worker serving some channels reads only those: as little for a parked channel as for an empty one
-- (after a first such claim, which makes the session's plans for named channels)
SELECT pg_temp.pages_read($$SELECT httpq.claim('w1', 10, '{parked-cost-none}')$$, '{httpq.request,httpq.channel}') >= 0 AS warmed_up;
SELECT abs(pg_temp.pages_read($$SELECT httpq.claim('w1', 10, '{parked-cost-7}')$$, '{httpq.request,httpq.channel}')
           - pg_temp.pages_read($$SELECT httpq.claim('w1', 10, '{parked-cost-none}')$$, '{httpq.request,httpq.channel}')) < 10 AS flat;

-- The next run is the earliest scheduled one, for all channels, and a year ahead for one
SELECT httpq.next_run_at() = (SELECT min(run_at) FROM httpq.request WHERE state = 'scheduled') AS all_earliest,
       httpq.next_run_at('{parked-cost-7}') = '2031-01-01 00:00:00+00' AS one_next_year;

-- When the year has passed, a claim makes the due requests of its channels waiting and takes them
SET httpq.now = '2031-01-01 00:00:01+00';
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, ARRAY(SELECT 'parked-cost-' || g FROM generate_series(1, 20) AS g));
SELECT state, count(*) FROM httpq.request WHERE channel LIKE 'parked-cost-%' GROUP BY state ORDER BY state;

-- Cleaning up: these channels would otherwise fill every later listing
DELETE FROM httpq.request WHERE channel LIKE 'parked-cost-%';
DELETE FROM httpq.channel WHERE name LIKE 'parked-cost-%';
