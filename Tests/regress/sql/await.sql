\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';

-- Two tenants
CREATE ROLE regress_httpq_await_app;
CREATE ROLE regress_httpq_await_other;
SELECT httpq.grant_role('app', 'regress_httpq_await_app');
SELECT httpq.grant_role('app', 'regress_httpq_await_other');

-- notify is kept per request, from every way to enqueue; false unless asked
SET ROLE regress_httpq_await_app;
SELECT httpq.enqueue('https://example.com/asked', channel => 'await', notify => true) AS asked \gset
SELECT httpq.enqueue('https://example.com/not-asked', channel => 'await') AS not_asked \gset
SELECT httpq.enqueue_bytes('https://example.com/bytes', '\x01', channel => 'await', notify => true) AS bytes \gset
SELECT array_agg(id ORDER BY id) AS many FROM httpq.enqueue_many(ARRAY[
    httpq.new_request('https://example.com/many-1', channel => 'await', notify => true),
    httpq.new_request_bytes('https://example.com/many-2', '\x02', channel => 'await', notify => NULL),
    httpq.new_request('https://example.com/many-3', channel => 'await', ordering_key => 'k', notify => true)]) AS id \gset
SELECT httpq.subscribe('await-topic', 'https://example.com/subscriber', channel => 'await') > 0 AS subscribed;
SELECT id AS published FROM httpq.publish('await-topic', '{"event": 1}', notify => true) AS id \gset
RESET ROLE;
SELECT url, notify FROM httpq.request WHERE channel = 'await' ORDER BY id;

-- Unfinished: outcome is NULL, and wait returns NULL at its timeout
SET ROLE regress_httpq_await_app;
SELECT httpq.outcome(:asked) IS NULL AS unfinished;
SELECT httpq.wait(:asked, '30 milliseconds') IS NULL AS timed_out;
RESET ROLE;

-- Once reported, both return the outcome at once
SELECT count(*) AS claimed FROM httpq.claim('regress-await', 10, '{await}');
SELECT httpq.report('regress-await', jsonb_build_array(
    jsonb_build_object('id', :asked, 'attempt', 1, 'status', 201, 'headers', '{"content-type": "application/json"}'::jsonb,
                       'body', encode('{"ok": true}', 'base64')),
    jsonb_build_object('id', :bytes, 'attempt', 1, 'status', 404)));
SET ROLE regress_httpq_await_app;
SELECT id = :asked AS asked, state, status, headers, convert_from(body, 'UTF8') AS body, error, finished_at = '2030-01-01 00:00:00+00' AS finished_now
FROM httpq.outcome(:asked);
SELECT id = :bytes AS bytes, state, status, error FROM httpq.wait(:bytes, '10 seconds');
RESET ROLE;
SELECT httpq.cancel(:not_asked) AS canceled;
SET ROLE regress_httpq_await_app;
SELECT state, status FROM httpq.wait(:not_asked, '0 seconds');

-- Bad input, and a transaction whose snapshot would never see the request finish
SELECT httpq.wait(:asked, '-1 second');
SELECT httpq.wait(:asked, '2 hours');
SELECT httpq.wait(:asked, NULL);
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT httpq.wait(:asked, '1 second');
ROLLBACK;
SELECT httpq.wait(httpq.enqueue('https://example.com/same-transaction', channel => 'await'), '10 seconds');

-- Another tenant's request and one that does not exist get the same answer
SET ROLE regress_httpq_await_other;
SELECT httpq.outcome(:asked);
SELECT httpq.wait(:asked, '1 second');
SELECT httpq.outcome(-1);
RESET ROLE;

-- The announcing payloads: ids comma-separated, none over NOTIFY's 8000 bytes, all ids once
SELECT httpq._finished_payloads(ARRAY[3, 1, 2]::bigint[]);
SELECT count(*) AS payloads, max(octet_length(p)) < 8000 AS fit,
       (SELECT array_agg(x::bigint ORDER BY x::bigint) FROM httpq._finished_payloads(ARRAY(SELECT generate_series(1000000, 1003000)::bigint)) AS q,
               unnest(string_to_array(q, ',')) AS x) = ARRAY(SELECT generate_series(1000000, 1003000)::bigint) AS all_once
FROM httpq._finished_payloads(ARRAY(SELECT generate_series(1000000, 1003000)::bigint)) AS p;

-- Clean up
DELETE FROM httpq.request WHERE channel = 'await';
DELETE FROM httpq.history WHERE channel = 'await';
DELETE FROM httpq.key_lock WHERE channel = 'await';
DELETE FROM httpq.subscription WHERE topic = 'await-topic';
DELETE FROM httpq.topic WHERE name = 'await-topic';
DELETE FROM httpq.channel WHERE name = 'await';
SELECT httpq.revoke_role('app', 'regress_httpq_await_app'), httpq.revoke_role('app', 'regress_httpq_await_other');
DROP ROLE regress_httpq_await_app, regress_httpq_await_other;
