\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';
CREATE ROLE regress_httpq_tenant;
CREATE ROLE regress_httpq_other;
SELECT httpq.grant_role('app', 'regress_httpq_tenant');

-- The store takes sealed values only (the CLI seals them) and checks their form
SELECT httpq.set_secret('api-token', '0123456789abcdef', decode(repeat('ab', 40), 'hex'), owner => 'regress_httpq_other');
SELECT httpq.set_secret('whsec-1', 'fedcba9876543210', decode(repeat('cd', 60), 'hex'), owner => 'regress_httpq_tenant');
SELECT httpq.set_secret('bad name', '0123456789abcdef', decode(repeat('ab', 40), 'hex'));
SELECT httpq.set_secret('x', 'not-a-key-id', decode(repeat('ab', 40), 'hex'));
SELECT httpq.set_secret('x', '0123456789abcdef', decode(repeat('ab', 28), 'hex'));
SELECT httpq.set_secret('x', '0123456789abcdef', NULL);
SELECT httpq.set_secret('x', '0123456789abcdef', decode(repeat('ab', 40), 'hex'), owner => 'regress_httpq_none');
SELECT name, owner, key_id, set_by = current_user AS set_by_me FROM httpq.secrets ORDER BY 1;
-- The views and the secrets list never show a value, not even sealed
SELECT count(*) AS columns_with_values FROM information_schema.columns
WHERE table_schema = 'httpq' AND table_name = 'secrets' AND column_name = 'sealed';

-- A header refers to a secret by name, with an optional prefix; its shape is checked
SELECT httpq.enqueue('https://example.com/', headers => '{"Authorization": {"secret": "api-token", "prefix": "Bearer "}}', channel => 'sec') AS s1 \gset
SELECT headers -> 'Authorization' AS authorization, secrets FROM httpq.request WHERE id = :s1;
SELECT httpq.enqueue('https://example.com/', headers => '{"Authorization": {"secret": "api-token", "suffix": "x"}}', channel => 'sec');
SELECT httpq.enqueue('https://example.com/', headers => '{"Authorization": {"name": "api-token"}}', channel => 'sec');
SELECT httpq.enqueue('https://example.com/', headers => '{"Authorization": {"secret": 7}}', channel => 'sec');
SELECT httpq.enqueue('https://example.com/', headers => '{"Authorization": {"secret": "api-token", "prefix": "a\nb"}}', channel => 'sec');
SELECT httpq.enqueue('https://example.com/', headers => '{"Authorization": {"secret": "no-such-secret"}}', channel => 'sec');
SELECT httpq.enqueue('https://example.com/', headers => '{"Idempotency-Key": {"secret": "api-token"}}', channel => 'sec');
SELECT httpq.enqueue_many(ARRAY[httpq.new_request('https://example.com/', channel => 'sec'),
                                httpq.new_request('https://example.com/', headers => '{"X-Key": {"secret": "no-such-secret"}}', channel => 'sec')]);
-- A URL with user-info is refused, pointing to secret headers
SELECT httpq.enqueue('https://user:password@example.com/', channel => 'sec');

-- A tenant may use only the secrets it owns
SET ROLE regress_httpq_tenant;
SELECT httpq.enqueue('https://example.com/', headers => '{"Authorization": {"secret": "api-token"}}', channel => 'tenant-sec');
SELECT httpq.enqueue('https://example.com/', headers => '{"Authorization": {"secret": "whsec-1"}}', channel => 'tenant-sec') > 0 AS own_secret;
SELECT httpq.set_channel('tenant-sec', signing_keys => '{api-token}');
SELECT httpq.set_channel('tenant-sec', signing_keys => '{whsec-1}');
SELECT * FROM httpq.sealed_secrets();
RESET ROLE;

-- Signing keys name secrets that exist; the claim hands the worker the sealed values it needs
SELECT httpq.set_channel('sec', signing_keys => '{whsec-2}');
SELECT httpq.set_channel('sec', signing_keys => '{whsec-1, api-token}');
SELECT httpq.set_channel('sec', signing_keys => '{a,b,c,d,e,f,g,h,i,j,k}');
SELECT id = :s1 AS first, signing_keys, jsonb_object_keys(secrets) AS sealed, secrets -> 'api-token' ->> 'key_id' AS key_id
FROM httpq.claim('w', 10, '{sec}') ORDER BY 1, 3;
SELECT channel, signing_keys FROM httpq.channels WHERE channel = 'sec';
-- A claim hands over only the secrets the channel's owner may use: one given to another
-- role since the request was enqueued is left out (the worker then sends nothing)
UPDATE httpq.secret SET owner = 'regress_httpq_other' WHERE name = 'whsec-1';
SELECT count(*) AS claims, bool_and(secrets ? 'whsec-1') AS whsec_1_handed_over
FROM httpq.claim('w', 10, '{tenant-sec}');
UPDATE httpq.secret SET owner = 'regress_httpq_tenant' WHERE name = 'whsec-1';
-- A secret a channel signs with cannot be deleted
SELECT httpq.delete_secret('whsec-1');
SELECT httpq.unset_channel('sec', '{signing_keys}');

-- Not sent (the worker could not open a secret): the attempt is recorded but does not
-- count, and the request waits a minute (at most backoff_max) for the configuration
SELECT httpq.report('w', jsonb_build_array(jsonb_build_object('id', :s1, 'attempt', 1, 'status', NULL, 'unsent', true,
    'error', 'secret ''api-token'' is sealed with key 0123456789abcdef, which this worker does not have')));
SELECT state, attempt, attempt_floor, run_at - '2030-01-01 00:00:00+00' AS waits, last_error FROM httpq.request WHERE id = :s1;
-- Unsent again for the same reason: the log's last entry counts the repeats
SET httpq.now = '2030-01-01 00:01:00+00';
SELECT attempt FROM httpq.claim('w', 10, '{sec}') WHERE id = :s1;
SELECT httpq.report('w', jsonb_build_array(jsonb_build_object('id', :s1, 'attempt', 2, 'status', NULL, 'unsent', true,
    'error', 'secret ''api-token'' is sealed with key 0123456789abcdef, which this worker does not have')));
SELECT attempt, attempt_floor, jsonb_array_length(log) AS entries, log -> -1 ->> 'repeated' AS repeated,
       log -> -1 ->> 'attempt' AS last_attempt
FROM httpq.request WHERE id = :s1;
SET httpq.now = '2030-01-01 00:00:00+00';

-- Resealing replaces a value only if it did not change since it was read
SELECT httpq.reseal_secret('api-token', '1111111111111111', decode(repeat('ef', 40), 'hex'), decode(repeat('00', 40), 'hex')) AS changed_meanwhile;
SELECT httpq.reseal_secret('api-token', '1111111111111111', decode(repeat('ef', 40), 'hex'), decode(repeat('ab', 40), 'hex')) AS resealed;
SELECT name, key_id FROM httpq.sealed_secrets() ORDER BY 1;
SELECT httpq.delete_secret('api-token'), httpq.delete_secret('api-token');

-- Clean up
DELETE FROM httpq.request WHERE channel IN ('sec', 'tenant-sec');
DELETE FROM httpq.history WHERE channel IN ('sec', 'tenant-sec');
DELETE FROM httpq.channel WHERE name IN ('sec', 'tenant-sec');
DELETE FROM httpq.secret;
SELECT httpq.revoke_role('app', 'regress_httpq_tenant');
DROP ROLE regress_httpq_tenant, regress_httpq_other;
