\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';

-- URLs: the port, the host's characters, user-info, control characters; every error is 22023
SELECT httpq.enqueue('http://example.com:99999/', channel => 'bounds');
\echo :LAST_ERROR_SQLSTATE
SELECT httpq.enqueue('http://example.com:0/', channel => 'bounds');
SELECT httpq.enqueue('http://example.com:/x', channel => 'bounds');
SELECT httpq.enqueue('https://exämple.com/', channel => 'bounds');
SELECT httpq.enqueue('https://ex%41mple.com/', channel => 'bounds');
SELECT httpq.enqueue('http://[::g]/', channel => 'bounds');
SELECT httpq.enqueue('http://[1:2:3:4:5:6:7:8:9]/', channel => 'bounds');
SELECT httpq.enqueue('https://example.com/a' || chr(27) || '[2J', channel => 'bounds');
SELECT httpq.enqueue('https://example.com/a' || chr(127), channel => 'bounds');
SELECT httpq.enqueue('https://example.com/a' || chr(155), channel => 'bounds');
SELECT httpq.enqueue('https://example.com/a' || chr(9), channel => 'bounds');

-- User-info is refused, and no error quotes a password, a path or a query
SELECT httpq.enqueue('https://alice:s3cret@example.com/hook?token=t0ken', channel => 'bounds');
SELECT httpq.enqueue('ftp://alice:s3cret@example.com/hook?token=t0ken', channel => 'bounds');
SELECT httpq.enqueue('https://example.com:70000/hook?token=t0ken', channel => 'bounds');

-- Accepted: punycode, underscores, a trailing dot, IPv4 and IPv6 literals, the numeric forms
-- (the worker judges the address they mean when it connects), the highest port
SELECT count(*) AS accepted FROM (VALUES
    (httpq.enqueue('https://xn--exmple-cua.com/', channel => 'bounds-ok')),
    (httpq.enqueue('https://my_host.example.com./x', channel => 'bounds-ok')),
    (httpq.enqueue('http://[2001:db8::1]:65535/', channel => 'bounds-ok')),
    (httpq.enqueue('http://[::ffff:127.0.0.1]/', channel => 'bounds-ok')),
    (httpq.enqueue('http://2130706433/', channel => 'bounds-ok')),
    (httpq.enqueue('http://0x7f.1/', channel => 'bounds-ok')),
    (httpq.enqueue('http://127.1/', channel => 'bounds-ok'))
) AS v(id);

-- Header names that the worker sets, hop-by-hop and proxy headers are refused
SELECT h AS header, (SELECT m FROM (SELECT 1) AS x,
        LATERAL (SELECT httpq._headers_problem(jsonb_build_object(h, 'x'))) AS p(problem),
        LATERAL (SELECT p.problem[2]) AS y(m)) AS problem
FROM unnest(ARRAY['Host', 'Expect', 'TE', 'Upgrade', 'Keep-Alive', 'Proxy-Authorization', 'Proxy-Connection',
                  'Trailer', 'Connection', 'Transfer-Encoding', 'content-length', 'HTTP2-Settings']) AS h;
SELECT httpq.enqueue('https://example.com/', headers => '{"Host": "internal.example"}', channel => 'bounds');
\echo :LAST_ERROR_SQLSTATE

-- Header values: no control character but tab, not empty; the error names the header, never the value
SELECT httpq.enqueue('https://example.com/', headers => jsonb_build_object('Authorization', 'Bearer s3cret' || chr(27)), channel => 'bounds');
SELECT httpq.enqueue('https://example.com/', headers => jsonb_build_object('Authorization', 'Bearer s3cret' || chr(127)), channel => 'bounds');
SELECT httpq.enqueue('https://example.com/', headers => jsonb_build_object('Authorization', 'Bearer s3cret' || chr(133)), channel => 'bounds');
SELECT httpq.enqueue('https://example.com/', headers => '{"X-Empty": ""}', channel => 'bounds');
SELECT httpq.enqueue('https://example.com/', headers => jsonb_build_object('X-Bad' || chr(27), 'v'), channel => 'bounds');
SELECT count(*) AS accepted FROM (VALUES
    (httpq.enqueue('https://example.com/', headers => jsonb_build_object('X-Tab', 'a' || chr(9) || 'b'), channel => 'bounds-ok')),
    (httpq.enqueue('https://example.com/', headers => '{"X-Unicode": "café"}', channel => 'bounds-ok'))
) AS v(id);

-- All headers together at most 64 KiB
SELECT httpq.enqueue('https://example.com/', headers => jsonb_build_object('X-Big', repeat('a', 70000)), channel => 'bounds');

-- run_at and deadline: finite, at most a year ahead; priority from -1000 to 1000
SELECT httpq.enqueue('https://example.com/', run_at => 'infinity', channel => 'bounds');
SELECT httpq.enqueue('https://example.com/', run_at => '-infinity', channel => 'bounds');
SELECT httpq.enqueue('https://example.com/', run_at => '2031-01-01 00:00:01+00', channel => 'bounds');
SELECT httpq.enqueue('https://example.com/', deadline => 'infinity', channel => 'bounds');
SELECT httpq.enqueue('https://example.com/', deadline => '2032-01-01 00:00:00+00', channel => 'bounds');
SELECT httpq.enqueue('https://example.com/', priority => -2147483648, channel => 'bounds');
SELECT httpq.enqueue('https://example.com/', priority => 1001, channel => 'bounds');
SELECT count(*) AS accepted FROM (VALUES
    (httpq.enqueue('https://example.com/', run_at => '2031-01-01 00:00:00+00', channel => 'bounds-ok')),
    (httpq.enqueue('https://example.com/', deadline => '2030-06-01 00:00:00+00', priority => -1000, channel => 'bounds-ok')),
    (httpq.enqueue('https://example.com/', priority => 1000, channel => 'bounds-ok'))
) AS v(id);

-- Bodies: 1 MiB by default; the channel's max_body_bytes, at most 16 MiB
SELECT httpq.enqueue_bytes('https://example.com/', decode(repeat('00', 1048576), 'hex'), channel => 'bounds-ok') > 0 AS one_mib_accepted;
\set SHOW_CONTEXT never
\set VERBOSITY default
SELECT httpq.enqueue_bytes('https://example.com/', decode(repeat('00', 1048577), 'hex'), channel => 'bounds');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse
SELECT httpq.set_channel('bounds-small', max_body_bytes => 100);
SELECT httpq.enqueue('https://example.com/', jsonb_build_object('a', repeat('x', 100)), channel => 'bounds-small');
SELECT count(*) AS refused_in_batch FROM httpq.enqueue_many(ARRAY[
    httpq.new_request('https://example.com/', '{}', channel => 'bounds-small'),
    httpq.new_request('https://example.com/', jsonb_build_object('a', repeat('x', 100)), channel => 'bounds-small')]);
SELECT httpq.set_channel('bounds-small', max_body_bytes => 16777217);
SELECT httpq.set_channel('bounds-small', max_body_bytes => -1);
SELECT httpq.set_channel('bounds-large', max_body_bytes => 16777216);
SELECT httpq.enqueue_bytes('https://example.com/', decode(repeat('00', 16777217), 'hex'), channel => 'bounds-large');
SELECT channel, max_body_bytes FROM httpq.channels WHERE channel LIKE 'bounds-%' ORDER BY channel;

-- Nothing refused above was stored
SELECT count(*) AS stored FROM httpq.requests WHERE channel IN ('bounds', 'bounds-small', 'bounds-large');

-- Error messages escape the control characters they quote
SELECT httpq._quoted('a' || chr(27) || '[31m' || chr(155) || 'b' || chr(127) || '''') AS quoted;
SELECT httpq.enqueue('https://example.com/', channel => 'bad' || chr(27) || '[2Jname');
