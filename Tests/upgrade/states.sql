-- states.sql: requests in every state a 0.1.0 queue can hold, made with 0.1.0's own functions,
-- for the upgrade to carry over.
--
--   psql -v sink=http://127.0.0.1:PORT -v lease='3 seconds' -v scheduled_in='5 seconds' -f states.sql
--
-- Records each request in public.upgrade_case (outside schema httpq, so no catalog dump sees
-- it): a label, its id, and the state it must end in once a worker has run after the
-- upgrade. One request is left running, claimed by a worker that never comes back with a
-- lease of :lease, for the new worker to take over when the lease has passed.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE TABLE public.upgrade_case (
    label  text PRIMARY KEY,
    id     bigint NOT NULL UNIQUE,
    final  text NOT NULL,                   -- delivered, dead or canceled after the worker
    revive boolean NOT NULL DEFAULT false   -- retried with httpq.retry after the upgrade
);

-- One attempt of the request waiting in a channel, by worker "setup", answered with status.
CREATE FUNCTION pg_temp.attempt(channel text, status integer) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    c httpq.claimed;
BEGIN
    SELECT * INTO STRICT c FROM httpq.claim('setup', 1, ARRAY[channel]);
    IF httpq.report('setup', jsonb_build_array(jsonb_build_object('id', c.id, 'attempt', c.attempt,
                                                                  'status', status))) <> 1 THEN
        RAISE EXCEPTION 'the report of request % was not applied', c.id;
    END IF;
END;
$$;

-- Channels with settings: every setting 0.1.0 has, somewhere.
SELECT httpq.set_channel('up.settings', max_concurrency => 4, rate_per_second => 50, max_attempts => 5,
                         backoff_base => '1 second', backoff_max => '2 seconds', timeout_ms => 5000,
                         retention => '1 day');
SELECT httpq.set_channel('up.retry', backoff_base => '1 second', backoff_max => '1 second');
SELECT httpq.set_channel('up.hold', ordering_on_dead => 'hold');

-- Waiting: a JSON body, a dedupe key and a priority; a binary body; scheduled for later.
INSERT INTO public.upgrade_case (label, id, final)
SELECT 'waiting', httpq.enqueue(:'sink' || '/waiting', '{"n": 1}', channel => 'up.settings',
                                dedupe_key => 'once', priority => 1), 'delivered';
INSERT INTO public.upgrade_case (label, id, final)
SELECT 'waiting-bytes', httpq.enqueue_bytes(:'sink' || '/waiting-bytes', '\x00ff10'::bytea,
                                            content_type => 'application/octet-stream',
                                            channel => 'up.settings'), 'delivered';
INSERT INTO public.upgrade_case (label, id, final)
SELECT 'scheduled', httpq.enqueue(:'sink' || '/scheduled', '{"n": 2}', channel => 'up.settings',
                                  run_at => now() + :'scheduled_in'), 'delivered';

-- Waiting to be retried: one attempt answered 503, back off.
INSERT INTO public.upgrade_case (label, id, final)
SELECT 'retrying', httpq.enqueue(:'sink' || '/retrying', '{"n": 3}', channel => 'up.retry'), 'delivered';
SELECT pg_temp.attempt('up.retry', 503);

-- Finished: dead (400), delivered (200), canceled.
INSERT INTO public.upgrade_case (label, id, final)
SELECT 'dead', httpq.enqueue(:'sink' || '/dead', '{"n": 4}', channel => 'up.dead'), 'dead';
SELECT pg_temp.attempt('up.dead', 400);
INSERT INTO public.upgrade_case (label, id, final)
SELECT 'delivered', httpq.enqueue(:'sink' || '/delivered', '{"n": 5}', channel => 'up.done'), 'delivered';
SELECT pg_temp.attempt('up.done', 200);
INSERT INTO public.upgrade_case (label, id, final)
SELECT 'canceled', httpq.enqueue(:'sink' || '/canceled', '{"n": 6}', channel => 'up.cancel'), 'canceled';
SELECT httpq.cancel(id) FROM public.upgrade_case WHERE label = 'canceled';

-- Blocked: the second request of an ordering key, behind its head.
INSERT INTO public.upgrade_case (label, id, final)
SELECT 'key-head', httpq.enqueue(:'sink' || '/key-head', '{"n": 7}', channel => 'up.order', ordering_key => 'k'),
       'delivered';
INSERT INTO public.upgrade_case (label, id, final)
SELECT 'key-blocked', httpq.enqueue(:'sink' || '/key-blocked', '{"n": 8}', channel => 'up.order', ordering_key => 'k'),
       'delivered';

-- Held: a dead head holds its key (ordering_on_dead = 'hold'), so the next stays blocked
-- until the dead one is retried, which the check does after the upgrade.
INSERT INTO public.upgrade_case (label, id, final, revive)
SELECT 'held-dead', httpq.enqueue(:'sink' || '/held-dead', '{"n": 9}', channel => 'up.hold', ordering_key => 'h'),
       'delivered', true;
INSERT INTO public.upgrade_case (label, id, final)
SELECT 'held-blocked', httpq.enqueue(:'sink' || '/held-blocked', '{"n": 10}', channel => 'up.hold',
                                     ordering_key => 'h'), 'delivered';
SELECT pg_temp.attempt('up.hold', 400);

-- Deferred and running, from one last claim (a claim promotes deferred keys, so none may follow).
INSERT INTO public.upgrade_case (label, id, final)
SELECT 'deferred-head', httpq.enqueue(:'sink' || '/deferred-head', '{"n": 11}', channel => 'up.defer',
                                      ordering_key => 'd'), 'delivered';
INSERT INTO public.upgrade_case (label, id, final)
SELECT 'deferred-next', httpq.enqueue(:'sink' || '/deferred-next', '{"n": 12}', channel => 'up.defer',
                                      ordering_key => 'd'), 'delivered';
INSERT INTO public.upgrade_case (label, id, final)
SELECT 'running', httpq.enqueue(:'sink' || '/running', '{"n": 13}', channel => 'up.run'), 'delivered';
SELECT c.id AS deferred_id, c.attempt AS deferred_attempt
FROM httpq.claim('old-worker', 10, ARRAY['up.defer', 'up.run'], :'lease') AS c
WHERE c.channel = 'up.defer' \gset

-- Deferred: the head is delivered while an application transaction (a second session)
-- holds its key's lock, so the next one cannot be promoted now and waits for a claim.
CREATE EXTENSION dblink;
SELECT dblink_connect('app', format('host=%s port=%s dbname=%s user=%s',
                                    split_part(current_setting('unix_socket_directories'), ',', 1),
                                    current_setting('port'), current_database(), current_user));
SELECT dblink_exec('app', 'BEGIN');
SELECT * FROM dblink('app', format('SELECT pg_advisory_xact_lock(1752461425, %s)::text',
                                   httpq._key_lock('up.defer', 'd'))) AS l(locked text);
SELECT httpq.report('old-worker', format('[{"id": %s, "attempt": %s, "status": 200}]',
                                         :deferred_id, :deferred_attempt)::jsonb) AS applied;
SELECT dblink_exec('app', 'COMMIT');
SELECT dblink_disconnect('app');
DROP EXTENSION dblink;

-- Each state is there, or this setup is wrong (not the upgrade).
DO $$
DECLARE
    missing text;
BEGIN
    SELECT string_agg(s, ', ') INTO missing
    FROM (VALUES
        ('waiting',       EXISTS (SELECT 1 FROM httpq.request r JOIN public.upgrade_case u USING (id)
                                  WHERE u.label = 'waiting' AND r.state = 'waiting')),
        ('scheduled',     EXISTS (SELECT 1 FROM httpq.request r JOIN public.upgrade_case u USING (id)
                                  WHERE u.label = 'scheduled' AND r.run_at > now())),
        ('retrying',      EXISTS (SELECT 1 FROM httpq.request r JOIN public.upgrade_case u USING (id)
                                  WHERE u.label = 'retrying' AND r.state = 'waiting' AND r.attempt = 1)),
        ('running',       EXISTS (SELECT 1 FROM httpq.request r JOIN public.upgrade_case u USING (id)
                                  WHERE u.label = 'running' AND r.state = 'running' AND r.worker = 'old-worker')),
        ('blocked',       EXISTS (SELECT 1 FROM httpq.request r JOIN public.upgrade_case u USING (id)
                                  WHERE u.label = 'key-blocked' AND r.state = 'blocked')),
        ('dead',          EXISTS (SELECT 1 FROM httpq.history h JOIN public.upgrade_case u USING (id)
                                  WHERE u.label = 'dead' AND h.state = 'dead')),
        ('delivered',     EXISTS (SELECT 1 FROM httpq.history h JOIN public.upgrade_case u USING (id)
                                  WHERE u.label = 'delivered' AND h.state = 'delivered')),
        ('canceled',      EXISTS (SELECT 1 FROM httpq.history h JOIN public.upgrade_case u USING (id)
                                  WHERE u.label = 'canceled' AND h.state = 'canceled')),
        ('held key',      EXISTS (SELECT 1 FROM httpq.held_key k JOIN public.upgrade_case u ON u.id = k.request_id
                                  WHERE u.label = 'held-dead')),
        ('deferred key',  EXISTS (SELECT 1 FROM httpq.deferred_key k WHERE k.channel = 'up.defer'))
    ) AS t(s, ok)
    WHERE NOT ok;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'the 0.1.0 setup did not reach: %', missing;
    END IF;
END;
$$;
