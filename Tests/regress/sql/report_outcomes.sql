\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';

-- One request per outcome, each claimed once (410 Gone pauses its channel: breaker.sql)
CREATE TEMP TABLE outcome (status integer, id bigint);
INSERT INTO outcome (status) VALUES
    (200), (201), (204), (299),
    (NULL), (408), (425), (429), (500), (502), (503), (504), (599),
    (301), (302), (304), (400), (401), (403), (404), (409), (422), (451);
UPDATE outcome SET id = httpq.enqueue('https://example.com/' || coalesce(status::text, 'none'), channel => 'outcome');
SELECT count(*) AS claimed FROM httpq.claim('w1', 100, '{outcome}');

-- The worker reports all of them in one batch; each is applied
SELECT httpq.report('w1', jsonb_agg(jsonb_build_object(
           'id', id, 'attempt', 1, 'status', status,
           'headers', jsonb_build_object('content-type', 'text/plain'),
           'body', encode(convert_to('status ' || coalesce(status::text, 'none'), 'UTF8'), 'base64'),
           'error', CASE WHEN status IS NULL THEN 'Could not connect to server' END,
           'duration_ms', 42))) AS applied
FROM outcome;

-- 2xx is delivered; no response, 408, 425, 429 and 5xx wait to be retried; 3xx and other 4xx are dead at once
SELECT o.status, r.state, r.attempts, r.run_at > '2030-01-01 00:00:00+00' AS later, r.last_status, r.last_error, r.reason
FROM outcome o JOIN httpq.requests r ON r.id = o.id
ORDER BY r.state, o.status NULLS FIRST;

-- Retried requests wait for a backoff within the channel's first step (base 2 seconds)
SELECT count(*) AS retried, bool_and(r.run_at BETWEEN '2030-01-01 00:00:00+00' AND '2030-01-01 00:00:02+00') AS within_base
FROM httpq.request r JOIN outcome o ON o.id = r.id;

-- Finished requests left the live table; their response is kept
SELECT count(*) AS live FROM httpq.request r JOIN outcome o ON o.id = r.id WHERE o.status NOT IN (408, 425, 429, 500, 502, 503, 504, 599);
SELECT p.status, p.state, p.headers, convert_from(p.body, 'UTF8') AS body
FROM httpq.responses p JOIN outcome o ON o.id = p.id WHERE o.status IN (201, 404) ORDER BY p.status;

-- Every attempt is logged, with its worker, status, error and duration
SELECT a.attempt, a.worker, a.status, a.error, a.duration_ms
FROM httpq.attempts a JOIN outcome o ON o.id = a.id WHERE o.status IS NULL OR o.status = 204 ORDER BY a.status NULLS FIRST;

-- A second report of the same attempts is ignored
SELECT httpq.report('w1', jsonb_agg(jsonb_build_object('id', id, 'attempt', 1, 'status', 200))) AS applied FROM outcome;

-- A report from another worker, for another attempt, or for an unknown id is ignored
SELECT httpq.enqueue('https://example.com/fenced', channel => 'outcome-fence') AS f \gset
SELECT count(*) AS claimed FROM httpq.claim('w1', 10, '{outcome-fence}');
SELECT httpq.report('w2', jsonb_build_array(jsonb_build_object('id', :f, 'attempt', 1, 'status', 200))) AS other_worker;
SELECT httpq.report('w1', jsonb_build_array(jsonb_build_object('id', :f, 'attempt', 2, 'status', 200))) AS other_attempt;
SELECT httpq.report('w1', jsonb_build_array(jsonb_build_object('id', -1, 'attempt', 1, 'status', 200))) AS unknown_id;
SELECT state, attempts, worker FROM httpq.requests WHERE id = :f;

-- A batch mixing applied and ignored outcomes counts only the applied ones
SELECT httpq.report('w1', jsonb_build_array(
    jsonb_build_object('id', :f, 'attempt', 1, 'status', 200),
    jsonb_build_object('id', -1, 'attempt', 1, 'status', 200))) AS applied;
SELECT state FROM httpq.requests WHERE id = :f;

-- An empty batch applies nothing
SELECT httpq.report('w1', '[]') AS applied;

-- A request that runs out of attempts is dead, with why
SELECT httpq.enqueue('https://example.com/twice', channel => 'outcome', max_attempts => 2) AS t \gset
SELECT count(*) FROM httpq.claim('w1', 100, '{outcome}') WHERE id = :t;
SELECT httpq.report('w1', jsonb_build_array(jsonb_build_object('id', :t, 'attempt', 1, 'status', 500))) AS applied;
SET httpq.now = '2030-01-01 01:00:00+00';
SELECT count(*) FROM httpq.claim('w1', 100, '{outcome}') WHERE id = :t;
SELECT httpq.report('w1', jsonb_build_array(jsonb_build_object('id', :t, 'attempt', 2, 'status', 500))) AS applied;
SELECT state, attempts, last_status, reason FROM httpq.requests WHERE id = :t;

-- The channel's max_attempts applies to requests that set none
SELECT httpq.set_channel('outcome-one', max_attempts => 1);
SELECT httpq.enqueue('https://example.com/once', channel => 'outcome-one') AS o1 \gset
SELECT count(*) FROM httpq.claim('w1', 10, '{outcome-one}');
SELECT httpq.report('w1', jsonb_build_array(jsonb_build_object('id', :o1, 'attempt', 1, 'status', NULL, 'error', 'timeout'))) AS applied;
SELECT state, reason, last_error FROM httpq.requests WHERE id = :o1;

-- The idempotency key is the same on every attempt
SELECT httpq.enqueue('https://example.com/idem', channel => 'outcome-idem') AS i \gset
CREATE TEMP TABLE keys AS SELECT attempt, headers ->> 'Idempotency-Key' AS k FROM httpq.claim('w1', 10, '{outcome-idem}');
SELECT httpq.report('w1', jsonb_build_array(jsonb_build_object('id', :i, 'attempt', 1, 'status', 502))) AS applied;
SET httpq.now = '2030-01-01 02:00:00+00';
INSERT INTO keys SELECT attempt, headers ->> 'Idempotency-Key' FROM httpq.claim('w1', 10, '{outcome-idem}');
SELECT count(*) AS attempts, count(DISTINCT k) AS keys FROM keys;
