\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';

-- A channel limited to 100 claims a second: bursts of at most a tenth of a second's worth
SELECT httpq.set_channel('rate', rate_per_second => 100);
SELECT count(*) FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/' || g, channel => 'rate') FROM generate_series(1, 500) AS g));
SELECT count(*) AS claimed FROM httpq.claim('w1', 100, '{rate}');

-- No token left at the same instant, for any worker
SELECT count(*) AS claimed FROM httpq.claim('w2', 100, '{rate}');

-- Tokens come back at the rate: 50 ms earn 5
SET httpq.now = '2030-01-01 00:00:00.05+00';
SELECT count(*) AS claimed FROM httpq.claim('w2', 100, '{rate}');
SELECT count(*) AS claimed FROM httpq.claim('w1', 100, '{rate}');

-- The bucket never holds more than the burst, however long the channel was idle
SET httpq.now = '2030-01-01 00:01:00+00';
SELECT count(*) AS claimed FROM httpq.claim('w1', 100, '{rate}');

-- The worker learns when the next token comes
SELECT httpq.next_run_at('{rate}') = '2030-01-01 00:01:00.01+00' AS next_token_in_10ms;

-- Over one second of claims every 10 ms, at most the rate plus one burst are claimed
CREATE TEMP TABLE tick (n integer);
DO $$
DECLARE
    total integer := 0;
    got integer;
BEGIN
    FOR g IN 1 .. 100 LOOP
        PERFORM set_config('httpq.now', ('2030-01-01 00:02:00+00'::timestamptz + make_interval(secs => g / 100.0))::text, true);
        SELECT count(*) INTO got FROM httpq.claim('w1', 100, '{rate}');
        total := total + got;
    END LOOP;
    INSERT INTO tick VALUES (total);
END;
$$;
SELECT n BETWEEN 100 AND 110 AS within_rate, n FROM tick;

-- A slow rate: a new channel's bucket starts full (one request), then one every two seconds
SELECT httpq.set_channel('rate-slow', rate_per_second => 0.5);
SELECT count(*) FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('https://example.com/s' || g, channel => 'rate-slow') FROM generate_series(1, 5) AS g));
SET httpq.now = '2030-01-01 00:00:00+00';
SELECT count(*) AS claimed FROM httpq.claim('w1', 100, '{rate-slow}');
SET httpq.now = '2030-01-01 00:00:01+00';
SELECT count(*) AS claimed FROM httpq.claim('w1', 100, '{rate-slow}');
SET httpq.now = '2030-01-01 00:00:02+00';
SELECT count(*) AS claimed FROM httpq.claim('w1', 100, '{rate-slow}');
SET httpq.now = '2030-01-01 00:00:03+00';
SELECT count(*) AS claimed FROM httpq.claim('w1', 100, '{rate-slow}');
SET httpq.now = '2030-01-01 00:00:04+00';
SELECT count(*) AS claimed FROM httpq.claim('w1', 100, '{rate-slow}');

-- Lifting the limit
SELECT httpq.unset_channel('rate-slow', '{rate_per_second}');
SELECT count(*) AS claimed FROM httpq.claim('w1', 100, '{rate-slow}');
