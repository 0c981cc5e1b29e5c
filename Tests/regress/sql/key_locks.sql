\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';

-- Every ordering key with unfinished requests has its lock row; one left without any
-- loses it to maintenance, and a key held by a dead head keeps it
SELECT httpq.set_channel('keys-hold', ordering_on_dead => 'hold', max_attempts => 1);
SELECT httpq.enqueue('https://example.com/busy', channel => 'keys', ordering_key => 'busy') AS busy \gset
SELECT httpq.enqueue('https://example.com/done', channel => 'keys', ordering_key => 'done') AS done \gset
SELECT httpq.enqueue('https://example.com/held', channel => 'keys-hold', ordering_key => 'held') AS held \gset
SELECT channel, ordering_key FROM httpq.key_lock WHERE channel LIKE 'keys%' ORDER BY 1, 2;
SELECT httpq.cancel(:done);
SELECT count(*) AS claimed FROM httpq.claim('w', 10, '{keys-hold}');
SELECT httpq.report('w', jsonb_build_array(jsonb_build_object('id', :held, 'attempt', 1, 'status', 400)));
SELECT state FROM httpq.requests WHERE id = :held;
SELECT httpq._release_idle_keys(1000) >= 1 AS released;
SELECT channel, ordering_key FROM httpq.key_lock WHERE channel LIKE 'keys%' ORDER BY 1, 2;
-- A key whose row went comes back with its next enqueue
SELECT httpq.enqueue('https://example.com/done-again', channel => 'keys', ordering_key => 'done') > 0 AS enqueued;
SELECT channel, ordering_key FROM httpq.key_lock WHERE channel LIKE 'keys%' ORDER BY 1, 2;
-- Outside READ COMMITTED nothing is released (its check needs a snapshot taken after the lock)
SELECT httpq.cancel(:busy);
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT httpq._release_idle_keys(1000) AS released_in_repeatable_read;
COMMIT;

DELETE FROM httpq.request WHERE channel LIKE 'keys%';
DELETE FROM httpq.history WHERE channel LIKE 'keys%';
DELETE FROM httpq.held_key WHERE channel LIKE 'keys%';
DELETE FROM httpq.key_lock WHERE channel LIKE 'keys%';
