\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';

-- Two tenants, an ops role and an admin
CREATE ROLE regress_httpq_topic_a;
CREATE ROLE regress_httpq_topic_b;
CREATE ROLE regress_httpq_topic_ops;
CREATE ROLE regress_httpq_topic_admin;
SELECT httpq.grant_role('app', 'regress_httpq_topic_a');
SELECT httpq.grant_role('app', 'regress_httpq_topic_b');
SELECT httpq.grant_role('ops', 'regress_httpq_topic_ops');
SELECT httpq.grant_role('admin', 'regress_httpq_topic_admin');
-- Publishes an event, then names the urls it was enqueued for, in the order of the ids
-- publish returned (a statement of its own reads them: one statement sees no rows it wrote)
CREATE FUNCTION public.published_to(topic text, event_type text DEFAULT NULL, body jsonb DEFAULT '{}') RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[] := ARRAY(SELECT httpq.publish(topic, body, event_type));
BEGIN
    RETURN (SELECT array_agg(r.url ORDER BY array_position(ids, r.id)) FROM httpq.requests r WHERE r.id = ANY (ids));
END $$;

-- Subscribing makes the topic, owned by the caller, and each subscription a channel of its own
SET ROLE regress_httpq_topic_a;
SELECT httpq.subscribe('topic-orders', 'https://all.example/hook') AS s_all \gset
SELECT httpq.subscribe('topic-orders', 'https://orders.example/hook', event_types => '{order.*}',
                       headers => '{"Authorization": "Bearer t0k"}') AS s_prefix \gset
SELECT httpq.subscribe('topic-orders', 'https://paid.example/hook', event_types => '{order.paid, refund.paid}',
                       channel => 'topic-shared', method => 'PUT') AS s_paid \gset
SELECT httpq.subscribe('topic-orders', 'https://shared.example/hook', channel => 'topic-shared') AS s_shared \gset
RESET ROLE;
SELECT name, owner FROM httpq.topic WHERE name = 'topic-orders';
SELECT id = :s_all AS s_all, id = :s_prefix AS s_prefix, id = :s_paid AS s_paid, id = :s_shared AS s_shared,
       topic, owner, url, method, headers, event_types, paused,
       channel = CASE WHEN channel = 'topic-shared' THEN channel ELSE 'topic-orders/' || id END AS channel_as_expected
FROM httpq.subscriptions WHERE topic = 'topic-orders' ORDER BY id;
SELECT c.name = 'topic-shared' AS shared, c.owner FROM httpq.channel c
WHERE c.name IN ('topic-shared', 'topic-orders/' || :s_all, 'topic-orders/' || :s_prefix) ORDER BY 1, 2;

-- Event-type filters: exact, prefix with *, none; an event without a type reaches only the unfiltered
SET ROLE regress_httpq_topic_a;
SELECT published_to('topic-orders', 'order.paid', body => '{"n": 1}') AS order_paid;
SELECT published_to('topic-orders', 'order.created', body => '{"n": 2}') AS order_created;
SELECT published_to('topic-orders', 'refund.paid', body => '{"n": 3}') AS refund_paid;
SELECT published_to('topic-orders', 'orders', body => '{"n": 4}') AS orders_prefix_only;
SELECT published_to('topic-orders', body => '{"n": 5}') AS no_type;
RESET ROLE;
-- Each delivery is a request of its own: the subscription's method, headers and channel, the event's body
SELECT q.url, q.method, q.headers ->> 'Authorization' AS authorization, q.headers ->> 'Content-Type' AS content_type,
       convert_from(q.body, 'UTF8') AS body, q.channel = 'topic-shared' AS in_shared, q.ordering_key, q.dedupe_key
FROM httpq.request q
WHERE q.channel LIKE 'topic-%' AND convert_from(q.body, 'UTF8') = '{"n": 1}' ORDER BY q.id;
-- A topic without subscriptions enqueues nothing (publish makes an unknown topic, the caller's)
SET ROLE regress_httpq_topic_a;
SELECT count(*) AS enqueued FROM httpq.publish('topic-empty', '{}', 'order.paid');
RESET ROLE;
SELECT name, owner FROM httpq.topic WHERE name = 'topic-empty';

-- Publish is part of the caller's transaction: rolled back, nothing is enqueued
SELECT count(*) AS before FROM httpq.request WHERE channel LIKE 'topic-%' \gset
BEGIN;
SET LOCAL ROLE regress_httpq_topic_a;
SELECT count(*) AS enqueued FROM httpq.publish('topic-orders', '{"n": 6}', 'order.paid');
ROLLBACK;
SELECT count(*) - :before AS kept_after_rollback FROM httpq.request WHERE channel LIKE 'topic-%';

-- Ordering keys apply per subscription: each has its own head, even two in one channel
DELETE FROM httpq.request WHERE channel LIKE 'topic-%';
SET ROLE regress_httpq_topic_a;
SELECT array_agg(p.id) AS first_ids FROM httpq.publish('topic-orders', '{"n": 7}', 'order.paid', ordering_key => 'customer-9') AS p(id) \gset
SELECT array_agg(p.id) AS second_ids FROM httpq.publish('topic-orders', '{"n": 8}', 'order.paid', ordering_key => 'customer-9') AS p(id) \gset
RESET ROLE;
SELECT r.id = ANY (:'first_ids'::bigint[]) AS first, r.state, r.blocked, r.ordering_key = s.id || ':customer-9' AS key_scoped
FROM httpq.requests r
JOIN httpq.subscriptions s ON s.url = r.url
WHERE r.id = ANY (:'first_ids'::bigint[] || :'second_ids'::bigint[])
ORDER BY s.id, r.id;
-- One subscription's failures hold up no other: its head dies, the others are delivered
SELECT count(*) AS claimed, bool_and(id = ANY (:'first_ids'::bigint[])) AS the_heads
FROM httpq.claim('w', 100, ARRAY(SELECT DISTINCT channel FROM httpq.subscriptions WHERE topic = 'topic-orders'));
SELECT httpq.report('w', jsonb_agg(jsonb_build_object('id', id, 'attempt', attempt,
                                   'status', CASE WHEN url LIKE '%orders.example%' THEN 400 ELSE 200 END)))
FROM httpq.request WHERE id = ANY (:'first_ids'::bigint[]) AND state = 'running';
SELECT r.url, r.state FROM httpq.requests r WHERE r.id = ANY (:'first_ids'::bigint[]) ORDER BY r.id;
SELECT r.url, r.state, r.blocked FROM httpq.requests r WHERE r.id = ANY (:'second_ids'::bigint[]) ORDER BY r.id;

-- Dedupe keys apply per subscription: publishing again returns the same ids and enqueues nothing
SET ROLE regress_httpq_topic_a;
SELECT array_agg(p.id) AS deduped_ids FROM httpq.publish('topic-orders', '{"n": 9}', 'order.paid', dedupe_key => 'event-42') AS p(id) \gset
SELECT count(*) AS before FROM httpq.requests WHERE channel LIKE 'topic-%' \gset
SELECT array_agg(p.id) = :'deduped_ids'::bigint[] AS same_ids
FROM httpq.publish('topic-orders', '{"n": 9}', 'order.paid', dedupe_key => 'event-42') AS p(id);
SELECT count(*) - :before AS enqueued_again FROM httpq.requests WHERE channel LIKE 'topic-%';
SELECT count(DISTINCT r.dedupe_key) AS distinct_keys, bool_and(r.dedupe_key = s.id || ':event-42') AS key_scoped
FROM httpq.requests r JOIN httpq.subscriptions s ON s.url = r.url
WHERE r.id = ANY (:'deduped_ids'::bigint[]);
RESET ROLE;

-- A paused subscription is skipped (nothing is kept for it), and delivered to again once resumed
SET ROLE regress_httpq_topic_a;
SELECT httpq.pause_subscription(:s_all);
SELECT httpq.pause_subscription(:s_all);
SELECT paused, paused_at = '2030-01-01 00:00:00+00' AS paused_now FROM httpq.subscriptions WHERE id = :s_all;
SELECT published_to('topic-orders', body => '{"n": 10}') AS while_paused;
SELECT httpq.resume_subscription(:s_all);
SELECT paused FROM httpq.subscriptions WHERE id = :s_all;
SELECT published_to('topic-orders', body => '{"n": 11}') AS resumed;
RESET ROLE;

-- Another tenant may neither publish to the topic, subscribe to it, nor change or see its subscriptions
SET ROLE regress_httpq_topic_b;
SELECT httpq.publish('topic-orders', '{}');
SELECT httpq.subscribe('topic-orders', 'https://b.example/hook');
SELECT httpq.pause_subscription(:s_all);
SELECT httpq.unsubscribe(:s_prefix);
SELECT count(*) AS visible FROM httpq.subscriptions WHERE topic = 'topic-orders';
-- ... nor deliver its own topic into a channel of tenant a
SELECT httpq.subscribe('topic-b', 'https://b.example/hook', channel => 'topic-shared');
-- ... nor take a subscription's default channel name for a topic of its own
\set VERBOSITY sqlstate
SELECT httpq.subscribe('topic-b', 'https://b.example/hook', channel => 'topic-orders/' || :s_all);
\set VERBOSITY terse
-- Its own topic is its own
SELECT httpq.subscribe('topic-b', 'https://b.example/hook') > 0 AS subscribed;
SELECT count(*) AS enqueued FROM httpq.publish('topic-b', '{}');
SELECT topic, owner FROM httpq.subscriptions ORDER BY id;
RESET ROLE;

-- Ops see every subscription but not its headers, and may pause and resume it, but not publish or end it
SET ROLE regress_httpq_topic_ops;
SELECT topic, headers FROM httpq.subscriptions WHERE topic LIKE 'topic-%' ORDER BY id;
SELECT httpq.pause_subscription(:s_prefix);
SELECT httpq.resume_subscription(:s_prefix);
SELECT httpq.unsubscribe(:s_prefix);
SELECT httpq.publish('topic-orders', '{}');
RESET ROLE;

-- Admins act on any topic, and may make one for another role
SET ROLE regress_httpq_topic_admin;
SELECT count(*) AS enqueued FROM httpq.publish('topic-b', '{}');
SELECT httpq.subscribe('topic-made', 'https://made.example/hook', owner => 'regress_httpq_topic_b') AS s_made \gset
SELECT httpq.subscribe('topic-made', 'https://made.example/hook2', owner => 'regress_httpq_topic_a');
SELECT httpq.subscribe('topic-made', 'https://made.example/hook2', owner => 'regress_httpq_nobody');
RESET ROLE;
SELECT t.owner AS topic_owner, c.owner AS channel_owner
FROM httpq.topic t, httpq.channel c WHERE t.name = 'topic-made' AND c.name = 'topic-made/' || :s_made;
SET ROLE regress_httpq_topic_a;
SELECT httpq.subscribe('topic-x', 'https://x.example/hook', owner => 'regress_httpq_topic_a');
RESET ROLE;

-- Bad input: each error names the field and the rule
SET ROLE regress_httpq_topic_a;
SELECT httpq.subscribe(NULL, 'https://x.example/hook');
SELECT httpq.subscribe('bad topic', 'https://x.example/hook');
SELECT httpq.subscribe(repeat('t', 181), 'https://x.example/hook');
SELECT httpq.subscribe('topic-orders', NULL);
SELECT httpq.subscribe('topic-orders', 'ftp://x.example/hook');
SELECT httpq.subscribe('topic-orders', 'https://x.example/hook', method => 'post');
SELECT httpq.subscribe('topic-orders', 'https://x.example/hook', method => 'HEAD');
SELECT httpq.subscribe('topic-orders', 'https://x.example/hook', headers => NULL);
SELECT httpq.subscribe('topic-orders', 'https://x.example/hook', headers => '{"Host": "y.example"}');
SELECT httpq.subscribe('topic-orders', 'https://x.example/hook', headers => '{"Idempotency-Key": "k"}');
SELECT httpq.subscribe('topic-orders', 'https://x.example/hook', headers => '{"Authorization": {"secret": "topic-missing"}}');
SELECT httpq.subscribe('topic-orders', 'https://x.example/hook', channel => 'bad channel');
SELECT httpq.subscribe('topic-orders', 'https://x.example/hook', event_types => '{}');
SELECT httpq.subscribe('topic-orders', 'https://x.example/hook', event_types => '{order.paid, NULL}');
SELECT httpq.subscribe('topic-orders', 'https://x.example/hook', event_types => '{""}');
SELECT httpq.subscribe('topic-orders', 'https://x.example/hook', event_types => '{order.*.paid}');
SELECT httpq.publish(NULL, '{}');
SELECT httpq.publish('topic-orders', '{}', event_type => 'order.*');
SELECT httpq.publish('topic-orders', '{}', event_type => '');
SELECT httpq.publish('topic-orders', '{}', ordering_key => '');
SELECT httpq.publish('topic-orders', '{}', dedupe_key => repeat('k', 981));
SELECT httpq.publish('topic-orders', '{}', run_at => '2032-01-01');
SELECT httpq.pause_subscription(-1);
SELECT httpq.resume_subscription(NULL);
-- Nothing was left behind by the refused calls
SELECT count(*) AS subscriptions FROM httpq.subscriptions WHERE topic = 'topic-orders';
RESET ROLE;
SELECT count(*) AS topics FROM httpq.topic WHERE name NOT IN ('topic-orders', 'topic-empty', 'topic-b', 'topic-made');

-- Unsubscribing stops deliveries; what was published stays queued
SET ROLE regress_httpq_topic_a;
SELECT count(*) AS queued_before FROM httpq.requests WHERE url = 'https://orders.example/hook' AND state <> 'dead' \gset
SELECT httpq.unsubscribe(:s_prefix);
SELECT httpq.unsubscribe(:s_prefix);
SELECT published_to('topic-orders', 'order.paid', body => '{"n": 12}') AS after_unsubscribe;
SELECT count(*) = :queued_before AND :queued_before > 0 AS still_queued FROM httpq.requests WHERE url = 'https://orders.example/hook' AND state <> 'dead';
RESET ROLE;

-- Clean up
DELETE FROM httpq.subscription WHERE topic LIKE 'topic-%';
DELETE FROM httpq.topic WHERE name LIKE 'topic-%';
DELETE FROM httpq.request WHERE channel LIKE 'topic-%';
DELETE FROM httpq.history WHERE channel LIKE 'topic-%';
DELETE FROM httpq.key_lock WHERE channel LIKE 'topic-%';
DELETE FROM httpq.held_key WHERE channel LIKE 'topic-%';
DELETE FROM httpq.channel WHERE name LIKE 'topic-%';
DROP FUNCTION public.published_to(text, text, jsonb);
SELECT httpq.revoke_role(g.kind, g.role) FROM httpq.role_grant g WHERE g.role LIKE 'regress_httpq_topic_%';
DROP ROLE regress_httpq_topic_a, regress_httpq_topic_b, regress_httpq_topic_ops, regress_httpq_topic_admin;
