\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';
\i Tests/regress/support/pages_read.sql

-- 20,000 requests of one channel are in backoff until tomorrow, at many priorities; one of another channel is
SELECT count(*) AS in_backoff FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/later/' || g, channel => 'backoff-cost-later',
                             run_at => '2030-01-02 00:00:00+00', priority => g % 100)
    FROM generate_series(1, 20000) AS g));
SELECT httpq.enqueue('https://example.com/single', channel => 'backoff-cost-single',
                     run_at => '2030-01-02 00:00:00+00') > 0 AS enqueued;

-- 20,000 of a third channel are due now, so half of what waits is due
SELECT count(*) AS due FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/due/' || g, channel => 'backoff-cost-due')
    FROM generate_series(1, 20000) AS g));
ANALYZE httpq.request;

-- A claim from the channel with 20,000 requests in backoff gets nothing, and reads no more than one from the channel with one
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{backoff-cost-later}');
SELECT abs(pg_temp.pages_read($$SELECT httpq.claim('w1', 10, '{backoff-cost-later}')$$)
       - pg_temp.pages_read($$SELECT httpq.claim('w1', 10, '{backoff-cost-single}')$$)) < 20 AS flat;

-- A claim of one next to either takes a due request, and reads as much
SELECT channel, count(*) AS claimed FROM httpq.claim('w1', 1, '{backoff-cost-later,backoff-cost-due}') GROUP BY channel;
SELECT abs(pg_temp.pages_read($$SELECT httpq.claim('w1', 1, '{backoff-cost-later,backoff-cost-due}')$$)
       - pg_temp.pages_read($$SELECT httpq.claim('w1', 1, '{backoff-cost-single,backoff-cost-due}')$$)) < 20 AS flat;
SELECT count(*) AS running FROM httpq.request WHERE channel = 'backoff-cost-due' AND state = 'running';

-- The time of the next claim is tomorrow for both, found as cheaply
SELECT httpq.next_run_at('{backoff-cost-later}') = '2030-01-02 00:00:00+00' AS later_tomorrow,
       httpq.next_run_at('{backoff-cost-single}') = '2030-01-02 00:00:00+00' AS single_tomorrow;
SELECT abs(pg_temp.pages_read($$SELECT httpq.next_run_at('{backoff-cost-later}')$$)
       - pg_temp.pages_read($$SELECT httpq.next_run_at('{backoff-cost-single}')$$)) < 20 AS flat;
