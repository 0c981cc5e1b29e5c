\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';

-- Worker names and leases are bounded, in claim, heartbeat, release and report alike
SELECT * FROM httpq.claim(repeat('w', 201));
SELECT * FROM httpq.claim('w' || chr(27) || '[2J');
SELECT * FROM httpq.claim('w', lease => '0.5 seconds');
SELECT * FROM httpq.claim('w', lease => '25 hours');
SELECT httpq.heartbeat('w', '{1}', '{1}', '2 days');
SELECT httpq.release(repeat('w', 201), '{1}', '{1}');
SELECT httpq.report('w' || chr(7), '[]');
SELECT * FROM httpq.claim('w', max_bytes => 0);
SELECT * FROM httpq.claim('w', per_channel => 0);
SELECT * FROM httpq.claim('w', channel_room => '{"a": -1}');
SELECT * FROM httpq.claim('w', channel_room => '[1]');
SELECT * FROM httpq.claim('w', channel_room => '{"a": 1.5}');

-- A claim is bounded in bytes: it stops before the body that would pass max_bytes, but a
-- claim always takes its first request, whatever its size
SELECT count(httpq.enqueue_bytes('https://example.com/' || g, decode(repeat('00', 400000), 'hex'), channel => 'bytes'))
FROM generate_series(1, 4) AS g;
SELECT count(*) AS claimed, sum(octet_length(body)) AS bytes FROM httpq.claim('w', 10, '{bytes}', max_bytes => 1000000);
SELECT count(*) AS claimed, sum(octet_length(body)) AS bytes FROM httpq.claim('w', 10, '{bytes}', max_bytes => 1);
SELECT count(*) AS claimed FROM httpq.claim('w', 10, '{bytes}', max_bytes => 1);

-- A worker's share per channel: per_channel for every channel, channel_room for those named
SELECT count(httpq.enqueue('https://example.com/a', channel => 'share-a')), count(httpq.enqueue('https://example.com/b', channel => 'share-b'))
FROM generate_series(1, 20);
SELECT channel, count(*) FROM httpq.claim('w', 20, '{share-a,share-b}', per_channel => 3) GROUP BY channel ORDER BY channel;
SELECT channel, count(*) FROM httpq.claim('w', 20, '{share-a,share-b}', per_channel => 5, channel_room => '{"share-a": 0}') GROUP BY channel ORDER BY channel;
SELECT channel, count(*) FROM httpq.claim('w', 20, '{share-a,share-b}', per_channel => 5, channel_room => '{"share-a": 1}') GROUP BY channel ORDER BY channel;
-- A claim of all channels keeps the shares too
SELECT channel, count(*) FROM httpq.claim('w', 20, per_channel => 2) WHERE channel LIKE 'share-%' GROUP BY channel ORDER BY channel;

-- allowed_networks: a channel setting the claim hands to the worker; cidr values only
SELECT httpq.set_channel('nets', allowed_networks => '{127.0.0.0/8, ::1/128}');
SELECT channel, allowed_networks FROM httpq.channels WHERE channel = 'nets';
SELECT httpq.enqueue('http://127.0.0.1:9/', channel => 'nets') AS nets_id \gset
SELECT id = :nets_id AS same, allowed_networks FROM httpq.claim('w', 1, '{nets}');
SELECT httpq.set_channel('nets', allowed_networks => '{127.0.0.1/8}');
SELECT httpq.set_channel('nets', allowed_networks => ARRAY[NULL]::cidr[]);
SELECT httpq.unset_channel('nets', '{allowed_networks}');
SELECT allowed_networks FROM httpq.channels WHERE channel = 'nets';

-- A refused attempt (the worker would not connect to the address) is dead at once, never retried
SELECT httpq.report('w', jsonb_build_array(jsonb_build_object('id', :nets_id, 'attempt', 1, 'status', NULL,
    'error', 'refused to connect to 127.0.0.1 port 9: loopback address', 'refused', true))) AS applied;
SELECT state, attempts, reason FROM httpq.requests WHERE id = :nets_id;

-- report takes each outcome on its own: a bad one is a failed attempt that says why, the others apply
SELECT count(httpq.enqueue('https://example.com/' || g, channel => 'outcomes')) FROM generate_series(1, 6) AS g;
SELECT count(*) AS claimed FROM httpq.claim('w', 10, '{outcomes}');
SELECT min(id) AS first FROM httpq.requests WHERE channel = 'outcomes' \gset
SELECT httpq.report('w', jsonb_build_array(
    jsonb_build_object('id', :first, 'attempt', 1, 'status', 200, 'headers', '{}'::jsonb, 'body', 'b2s='),
    jsonb_build_object('id', :first + 1, 'attempt', 1, 'status', 999),
    jsonb_build_object('id', :first + 2, 'attempt', 1, 'status', 200, 'headers', '{"a": 1}'::jsonb),
    jsonb_build_object('id', :first + 3, 'attempt', 1, 'status', 200, 'body', 'not base64!'),
    jsonb_build_object('id', :first + 4, 'attempt', 1, 'status', 'two hundred'),
    jsonb_build_object('id', 'nonsense', 'attempt', 1, 'status', 200),
    jsonb_build_object('id', :first + 5, 'attempt', 1, 'status', NULL, 'error', 'timeout', 'refused', 'maybe'))) AS applied;
-- A batch that reads as typed takes the same checks: a status out of range, headers not of strings
SELECT count(httpq.enqueue('https://example.com/typed/' || g, channel => 'outcomes-typed')) FROM generate_series(1, 3) AS g;
SELECT count(*) AS claimed FROM httpq.claim('w', 10, '{outcomes-typed}');
SELECT min(id) AS typed FROM httpq.requests WHERE channel = 'outcomes-typed' \gset
SELECT httpq.report('w', jsonb_build_array(
    jsonb_build_object('id', :typed, 'attempt', 1, 'status', 204, 'headers', '{"a": "1"}'::jsonb),
    jsonb_build_object('id', :typed + 1, 'attempt', 1, 'status', 99),
    jsonb_build_object('id', :typed + 2, 'attempt', 1, 'status', 200, 'headers', '{"a": ["1"]}'::jsonb))) AS applied;
SELECT id - :typed AS n, state, last_status, last_error FROM httpq.requests WHERE channel = 'outcomes-typed' ORDER BY id;
SELECT id - :first AS n, state, last_status, last_error FROM httpq.requests WHERE channel = 'outcomes' ORDER BY id;

-- Retry-After is obeyed up to the channel's retry_after_max (by default its backoff_max)
SELECT httpq.enqueue('https://example.com/', channel => 'later') AS later_id \gset
SELECT count(*) FROM httpq.claim('w', 1, '{later}');
SELECT httpq.report('w', jsonb_build_array(jsonb_build_object('id', :later_id, 'attempt', 1, 'status', 429,
    'headers', '{"retry-after": "999999999"}'::jsonb))) AS applied;
SELECT state, run_at - '2030-01-01 00:00:00+00' AS after FROM httpq.requests WHERE id = :later_id;
SELECT httpq.set_channel('later', retry_after_max => '10 minutes');
SET httpq.now = '2030-01-01 02:00:00+00';
SELECT count(*) FROM httpq.claim('w', 1, '{later}');
SELECT httpq.report('w', jsonb_build_array(jsonb_build_object('id', :later_id, 'attempt', 2, 'status', 503,
    'headers', '{"retry-after": "Fri, 01 Jan 2100 00:00:00 GMT"}'::jsonb))) AS applied;
SELECT state, run_at - '2030-01-01 02:00:00+00' AS after FROM httpq.requests WHERE id = :later_id;
SELECT channel, backoff_max, retry_after_max FROM httpq.channels WHERE channel IN ('later', 'outcomes') ORDER BY channel;
SELECT httpq.set_channel('later', retry_after_max => '0 seconds');
