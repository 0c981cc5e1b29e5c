\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;

-- A NULL url: null_value_not_allowed (22004)
SELECT httpq.enqueue(NULL, channel => 'val');
\echo :LAST_ERROR_SQLSTATE

-- A malformed url: invalid_parameter_value (22023)
SELECT httpq.enqueue('not a url', channel => 'val');
\echo :LAST_ERROR_SQLSTATE

-- A url with a scheme other than http or https
SELECT httpq.enqueue('ftp://example.com/file', channel => 'val');
\echo :LAST_ERROR_SQLSTATE

-- A url without a host, or with a space
SELECT httpq.enqueue('https:///path', channel => 'val');
SELECT httpq.enqueue('https://exa mple.com/', channel => 'val');
SELECT httpq.enqueue('http://', channel => 'val');

-- http and https in any case, with port, path and query, are accepted
SELECT count(*) AS accepted FROM (VALUES
    (httpq.enqueue('http://example.com', channel => 'val-ok')),
    (httpq.enqueue('HTTPS://Example.COM:8443/a/b?c=d#e', channel => 'val-ok')),
    (httpq.enqueue('https://example.com:8443/a?b=c#d', channel => 'val-ok')),
    (httpq.enqueue('http://[::1]:8080/x', channel => 'val-ok')),
    (httpq.enqueue('http://127.0.0.1/', channel => 'val-ok'))
) AS v(id);

-- An unknown method, and a lower-case one
SELECT httpq.enqueue('https://example.com/', method => 'FETCH', channel => 'val');
\echo :LAST_ERROR_SQLSTATE
SELECT httpq.enqueue('https://example.com/', method => 'post', channel => 'val');
SELECT httpq.enqueue('https://example.com/', method => NULL, channel => 'val');

-- HEAD with a body
SELECT httpq.enqueue('https://example.com/', '{}', method => 'HEAD', channel => 'val');

-- Headers that are not an object of strings
SELECT httpq.enqueue('https://example.com/', headers => '["a", "b"]', channel => 'val');
\echo :LAST_ERROR_SQLSTATE
SELECT httpq.enqueue('https://example.com/', headers => '{"X-Count": 3}', channel => 'val');
SELECT httpq.enqueue('https://example.com/', headers => '{"X-Obj": {"a": 1}}', channel => 'val');
SELECT httpq.enqueue('https://example.com/', headers => NULL, channel => 'val');
SELECT httpq.enqueue('https://example.com/', headers => '"text"', channel => 'val');

-- Header names and values that HTTP forbids
SELECT httpq.enqueue('https://example.com/', headers => '{"Bad Name": "x"}', channel => 'val');
SELECT httpq.enqueue('https://example.com/', headers => '{"X-Evil": "a\r\nHost: other"}', channel => 'val');
SELECT httpq.enqueue('https://example.com/', headers => '{"X-A": "1", "x-a": "2"}', channel => 'val');
SELECT httpq.enqueue('https://example.com/', headers => '{"Content-Length": "5"}', channel => 'val');

-- Zero or negative max_attempts
SELECT httpq.enqueue('https://example.com/', max_attempts => 0, channel => 'val');
\echo :LAST_ERROR_SQLSTATE
SELECT httpq.enqueue('https://example.com/', max_attempts => -1, channel => 'val');

-- Zero or negative timeout_ms
SELECT httpq.enqueue('https://example.com/', timeout_ms => 0, channel => 'val');
\echo :LAST_ERROR_SQLSTATE
SELECT httpq.enqueue('https://example.com/', timeout_ms => -5, channel => 'val');

-- A deadline not after run_at
SELECT httpq.enqueue('https://example.com/', deadline => now() - interval '1 second', channel => 'val');

-- A NULL or malformed channel
SELECT httpq.enqueue('https://example.com/', channel => NULL);
SELECT httpq.enqueue('https://example.com/', channel => 'has space');
SELECT httpq.enqueue('https://example.com/', channel => '');

-- Empty ordering and dedupe keys
SELECT httpq.enqueue('https://example.com/', ordering_key => '', channel => 'val');
SELECT httpq.enqueue('https://example.com/', dedupe_key => '', channel => 'val');

-- An idempotency key that disagrees with the header, or is not visible ASCII
SELECT httpq.enqueue('https://example.com/', idempotency_key => 'a', headers => '{"Idempotency-Key": "b"}', channel => 'val');
SELECT httpq.enqueue('https://example.com/', idempotency_key => 'has space', channel => 'val');

-- A NULL priority
SELECT httpq.enqueue('https://example.com/', priority => NULL, channel => 'val');

-- Nothing was enqueued by the errors above, and channel val was never created
SELECT count(*) AS requests FROM httpq.requests WHERE channel = 'val';
SELECT count(*) AS channels FROM httpq.channel WHERE name = 'val';
SELECT count(*) AS accepted FROM httpq.requests WHERE channel = 'val-ok';

-- An error inside the caller's transaction aborts it, the good enqueue before it included
BEGIN;
SELECT httpq.enqueue('https://example.com/good', channel => 'val-tx') IS NOT NULL AS enqueued;
SELECT httpq.enqueue('gopher://example.com/', channel => 'val-tx');
ROLLBACK;
SELECT count(*) AS requests FROM httpq.requests WHERE channel = 'val-tx';

-- Unknown channel settings (the hint lists the known ones)
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT httpq.unset_channel('val-ok', '{bogus}');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse
SELECT httpq.unset_channel('val-ok', ARRAY['max_concurrency', NULL]);
SELECT httpq.set_channel('val-ok', ordering_on_dead => 'bogus');
\echo :LAST_ERROR_SQLSTATE

-- Channel settings out of range
SELECT httpq.set_channel('val-ok', max_concurrency => 0);
SELECT httpq.set_channel('val-ok', rate_per_second => -1);
SELECT httpq.set_channel('val-ok', max_attempts => 0);
SELECT httpq.set_channel('val-ok', timeout_ms => 0);
SELECT httpq.set_channel('val-ok', backoff_base => '0 seconds');
SELECT httpq.set_channel('val-ok', backoff_base => '1 minute', backoff_max => '1 second');
SELECT httpq.set_channel('val-ok', retention => '-1 day');

-- A rejected setting changes nothing
SELECT max_concurrency, rate_per_second, max_attempts, timeout_ms, backoff_base, backoff_max, ordering_on_dead
FROM httpq.channel WHERE name = 'val-ok';

-- claim, report, heartbeat reject bad arguments
SELECT * FROM httpq.claim(NULL);
SELECT * FROM httpq.claim('w', max_count => 0);
SELECT * FROM httpq.claim('w', lease => '0 seconds');
SELECT httpq.report('w', '{"id": 1}');
\echo :LAST_ERROR_SQLSTATE
SELECT httpq.report('w', '[1, 2]');
SELECT httpq.heartbeat('w', '{1}', '{1}', '-1 minute');
SELECT httpq.cancel(NULL);
SELECT httpq.retry(NULL);
SELECT httpq.purge(older_than => '-1 day');
SELECT httpq.purge(max_rows => 0);
