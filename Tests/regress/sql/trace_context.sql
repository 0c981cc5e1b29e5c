\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;

\set tp '''00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'''
\set tp2 '''00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00'''

-- A trace context given to enqueue is kept as the request's traceparent and tracestate headers
SELECT httpq.enqueue('https://example.com/a', '{}', channel => 'trace', traceparent => :tp,
                     tracestate => 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7') AS a \gset
SELECT httpq.enqueue_bytes('https://example.com/b', 'x', channel => 'trace', traceparent => :tp2) AS b \gset
SELECT id = :a AS a, headers - 'Idempotency-Key' AS headers FROM httpq.request WHERE id IN (:a, :b) ORDER BY id;

-- None given, none set: no trace headers
SELECT httpq.enqueue('https://example.com/plain', channel => 'trace') AS plain \gset
SELECT headers ? 'traceparent' OR headers ? 'tracestate' AS traced FROM httpq.request WHERE id = :plain;

-- Through enqueue_many: new_request and new_request_bytes take them
SELECT array_agg(id) AS many FROM httpq.enqueue_many(ARRAY[
    httpq.new_request('https://example.com/m1', channel => 'trace', traceparent => :tp, tracestate => 'k=v'),
    httpq.new_request_bytes('https://example.com/m2', 'x', channel => 'trace', ordering_key => 'o', traceparent => :tp2)]) AS id \gset
SELECT headers ->> 'traceparent' AS traceparent, headers ->> 'tracestate' AS tracestate
FROM httpq.request WHERE id = ANY (:'many') ORDER BY id;

-- A version above 00 may carry more after a '-' (forward compatibility); exactly 55 characters too
SELECT count(*) AS accepted FROM (VALUES
    (httpq.enqueue('https://example.com/v', channel => 'trace', traceparent => '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future-part')),
    (httpq.enqueue('https://example.com/v', channel => 'trace', traceparent => 'cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09'))
) AS v(id);

-- Each rule of traceparent, named with the parameter
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', traceparent => '');
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', traceparent => '0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', traceparent => 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', traceparent => '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra');
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', traceparent => '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1');
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', traceparent => '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01');
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', traceparent => '00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01');
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', traceparent => '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x');
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', traceparent => '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7');
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', traceparent => '00-00000000000000000000000000000000-00f067aa0ba902b7-01');
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', traceparent => '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01');
\echo :LAST_ERROR_SQLSTATE

-- tracestate: optional whitespace and empty members, multi-tenant keys, 32 members, 512 characters
SELECT count(*) AS accepted FROM (VALUES
    (httpq.enqueue('https://example.com/s', channel => 'trace', traceparent => :tp, tracestate => ' a=1 ,, b=x y	,')),
    (httpq.enqueue('https://example.com/s', channel => 'trace', traceparent => :tp, tracestate => 'tenant_1@sys-2*/=v,0t@s=v')),
    (httpq.enqueue('https://example.com/s', channel => 'trace', traceparent => :tp,
                   tracestate => (SELECT string_agg('k' || i || '=v', ',') FROM generate_series(1, 32) AS i))),
    (httpq.enqueue('https://example.com/s', channel => 'trace', traceparent => :tp,
                   tracestate => 'a=' || repeat('v', 256) || ',b=' || repeat('w', 251)))
) AS v(id);

-- Each rule of tracestate, named with the parameter
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', traceparent => :tp, tracestate => '');
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', traceparent => :tp, tracestate => ' , ');
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', traceparent => :tp,
                     tracestate => 'a=' || repeat('v', 256) || ',b=' || repeat('w', 252));
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', traceparent => :tp,
                     tracestate => (SELECT string_agg('k' || i || '=v', ',') FROM generate_series(1, 33) AS i));
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', traceparent => :tp, tracestate => 'a=1,novalue');
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', traceparent => :tp, tracestate => 'Upper=1');
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', traceparent => :tp, tracestate => '1key=1');
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', traceparent => :tp, tracestate => 't@systemistoolong=1');
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', traceparent => :tp, tracestate => 'a=');
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', traceparent => :tp, tracestate => 'a=b=c');
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', traceparent => :tp, tracestate => 'a=é');
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', traceparent => :tp, tracestate => 'a=' || repeat('v', 257));
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', tracestate => 'a=1');
\echo :LAST_ERROR_SQLSTATE

-- Given both as a parameter and in headers (any case): an error, not a choice
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', headers => jsonb_build_object('TraceParent', :tp), traceparent => :tp);
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', headers => jsonb_build_object('traceparent', :tp, 'tracestate', 'a=1'),
                     tracestate => 'a=1');

-- Given in headers only: kept as given, checked by the same rules
SELECT httpq.enqueue('https://example.com/h', channel => 'trace', headers => jsonb_build_object('Traceparent', :tp, 'TraceState', 'a=1')) AS h \gset
SELECT headers - 'Idempotency-Key' AS headers FROM httpq.request WHERE id = :h;
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', headers => '{"traceparent": "00-abc"}');
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', headers => jsonb_build_object('traceparent', :tp, 'tracestate', 'A=1'));
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', headers => '{"tracestate": "a=1"}');
SELECT httpq.enqueue('https://example.com/x', channel => 'trace', headers => '{"traceparent": {"secret": "s"}}');
SELECT count(*) FROM httpq.enqueue_many(ARRAY[
    httpq.new_request('https://example.com/m1', channel => 'trace'),
    httpq.new_request('https://example.com/m2', channel => 'trace', headers => '{"traceparent": "00-abc"}')]);

-- The session settings: every enqueue of the transaction without a traceparent of its own
-- joins the trace, a trigger's too; a parameter or a header wins over them.
CREATE TABLE trace_orders (id serial PRIMARY KEY);
CREATE FUNCTION trace_order_created() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM httpq.enqueue('https://example.com/order/' || NEW.id, channel => 'trace-session');
    RETURN NEW;
END;
$$;
CREATE TRIGGER trace_order_created AFTER INSERT ON trace_orders FOR EACH ROW EXECUTE FUNCTION trace_order_created();
BEGIN;
SET LOCAL httpq.traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
SET LOCAL httpq.tracestate = 'congo=t61rcWkgMzE';
INSERT INTO trace_orders DEFAULT VALUES;
SELECT count(*) FROM (VALUES
    (httpq.enqueue('https://example.com/own', channel => 'trace-session', traceparent => :tp2)),
    (httpq.enqueue('https://example.com/own-state', channel => 'trace-session', tracestate => 'mine=1')),
    (httpq.enqueue('https://example.com/header', channel => 'trace-session', headers => jsonb_build_object('traceparent', :tp2)))
) AS v(id);
SELECT count(*) FROM httpq.enqueue_many(ARRAY[httpq.new_request('https://example.com/many', channel => 'trace-session'),
                                              httpq.new_request('https://example.com/many', channel => 'trace-session')]);
COMMIT;
SELECT url, headers ->> 'traceparent' AS traceparent, headers ->> 'tracestate' AS tracestate
FROM httpq.request WHERE channel = 'trace-session' ORDER BY id;

-- After the transaction the settings are empty again: no trace
SELECT current_setting('httpq.traceparent') AS traceparent;
SELECT httpq.enqueue('https://example.com/after', channel => 'trace-session') AS after \gset
SELECT headers ? 'traceparent' AS traced FROM httpq.request WHERE id = :after;

-- A bad setting is an error naming the setting, never dropped
BEGIN;
SET LOCAL httpq.traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7';
SELECT httpq.enqueue('https://example.com/x', channel => 'trace-session');
ROLLBACK;
BEGIN;
SET LOCAL httpq.traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
SET LOCAL httpq.tracestate = 'a=1,,B=2';
SELECT httpq.enqueue('https://example.com/x', channel => 'trace-session');
ROLLBACK;
BEGIN;
SET LOCAL httpq.tracestate = 'a=1';
SELECT httpq.enqueue('https://example.com/x', channel => 'trace-session');
ROLLBACK;

-- publish: every subscription's request carries the trace context; a bad one is refused
-- even when no subscription takes it
SELECT httpq.subscribe('trace-topic', 'https://one.example/hook') AS s1 \gset
SELECT httpq.subscribe('trace-topic', 'https://two.example/hook') AS s2 \gset
SELECT array_agg(id) AS published FROM httpq.publish('trace-topic', '{"n": 1}', traceparent => :tp, tracestate => 'k=v') AS id \gset
SELECT url, headers ->> 'traceparent' AS traceparent, headers ->> 'tracestate' AS tracestate
FROM httpq.request WHERE id = ANY (:'published') ORDER BY id;
BEGIN;
SET LOCAL httpq.traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
SELECT count(*) FROM httpq.publish('trace-topic', '{"n": 2}');
SELECT headers ->> 'traceparent' AS traceparent FROM httpq.request
WHERE url LIKE 'https://%.example/hook' ORDER BY id DESC LIMIT 2;
ROLLBACK;
SELECT httpq.publish('trace-topic-empty', '{}', traceparent => 'nonsense');

-- The claim hands the worker the headers as stored
SELECT c.url, c.headers ->> 'traceparent' AS traceparent, c.headers ->> 'tracestate' AS tracestate
FROM httpq.claim('regress-trace', 1, '{trace}') AS c;

DROP TABLE trace_orders;
DROP FUNCTION trace_order_created();
