\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
SET httpq.now = '2030-01-01 00:00:00+00';

-- Two tenants, each with AWS credentials in the store (sealed bytes stand in: only the
-- worker opens them)
CREATE ROLE regress_httpq_aws_app;
CREATE ROLE regress_httpq_aws_other;
SELECT httpq.grant_role('app', 'regress_httpq_aws_app');
SELECT httpq.grant_role('app', 'regress_httpq_aws_other');
SELECT httpq.set_secret('aws-app', '00112233445566aa', decode(repeat('ab', 40), 'hex'), 'regress_httpq_aws_app');
SELECT httpq.set_secret('aws-other', '00112233445566aa', decode(repeat('cd', 40), 'hex'), 'regress_httpq_aws_other');

SET ROLE regress_httpq_aws_app;
-- A channel signs with AWS SigV4 only with both settings, a full provider string and a
-- secret of its owner's
SELECT httpq.set_channel('aws-sqs', aws_sigv4 => 'aws:amz:us-east-1:sqs');
SELECT httpq.set_channel('aws-sqs', aws_credentials => 'aws-app');
SELECT httpq.set_channel('aws-sqs', aws_sigv4 => 'aws:amz:us-east-1', aws_credentials => 'aws-app');
SELECT httpq.set_channel('aws-sqs', aws_sigv4 => 'aws:amz:us east:sqs', aws_credentials => 'aws-app');
SELECT httpq.set_channel('aws-sqs', aws_sigv4 => 'aws:amz:us-east-1:sqs', aws_credentials => 'aws-other');
SELECT httpq.set_channel('aws-sqs', aws_sigv4 => 'aws:amz:us-east-1:sqs', aws_credentials => 'aws-app');
SELECT httpq.set_channel('aws-sns', aws_sigv4 => 'aws:amz:us-east-1:sns', aws_credentials => 'aws-app');
SELECT channel, aws_sigv4, aws_credentials FROM httpq.channels WHERE channel LIKE 'aws-%' ORDER BY channel;
SELECT httpq.unset_channel('aws-sns', '{aws_sigv4}');

-- SQS: SendMessage in the JSON protocol, to the queue's endpoint, attributes typed. A FIFO
-- queue takes its group from the ordering key, and its deduplication id from the
-- idempotency key, which stays the same on every retry.
SELECT httpq.enqueue_sqs('https://sqs.us-east-1.amazonaws.com/123456789012/orders', '{"order": 7}',
                         attributes => '{"event": "order.paid", "amount": 12.5, "raw": {"DataType": "Binary", "BinaryValue": "AAEC"}}',
                         delay_seconds => 5, channel => 'aws-sqs') AS standard \gset
SELECT httpq.enqueue_sqs('https://sqs.us-east-1.amazonaws.com/123456789012/orders.fifo', 'paid',
                         ordering_key => 'customer-7', channel => 'aws-sqs') AS fifo \gset
SELECT httpq.enqueue_sqs('https://sqs.us-east-1.amazonaws.com/123456789012/orders.fifo', 'paid',
                         message_group_id => 'g-1', deduplication_id => 'd-1', idempotency_key => 'k-1',
                         ordering_key => 'customer-8', channel => 'aws-sqs', notify => true) AS fifo_given \gset
RESET ROLE;
SELECT method, url, headers - 'Idempotency-Key' AS headers, convert_from(body, 'UTF8')::jsonb AS body
FROM httpq.request WHERE id = :standard;
SELECT ordering_key, convert_from(body, 'UTF8')::jsonb ->> 'MessageGroupId' AS group_id,
       convert_from(body, 'UTF8')::jsonb ->> 'MessageDeduplicationId' = idempotency_key AS dedupe_is_idempotency_key,
       headers ->> 'Idempotency-Key' = idempotency_key AS header_too
FROM httpq.request WHERE id = :fifo;
SELECT convert_from(body, 'UTF8')::jsonb - 'QueueUrl' AS body, idempotency_key, notify FROM httpq.request WHERE id = :fifo_given;
SET ROLE regress_httpq_aws_app;
-- Bad input is refused with the field and the rule
SELECT httpq.enqueue_sqs('https://example.com/orders', 'x', channel => 'aws-sqs');
SELECT httpq.enqueue_sqs('https://sqs.us-east-1.amazonaws.com/123456789012/orders', '', channel => 'aws-sqs');
SELECT httpq.enqueue_sqs('https://sqs.us-east-1.amazonaws.com/123456789012/orders.fifo', 'x', channel => 'aws-sqs');
SELECT httpq.enqueue_sqs('https://sqs.us-east-1.amazonaws.com/123456789012/orders.fifo', 'x', message_group_id => 'has space', channel => 'aws-sqs');
SELECT httpq.enqueue_sqs('https://sqs.us-east-1.amazonaws.com/123456789012/orders.fifo', 'x', ordering_key => 'k', delay_seconds => 5, channel => 'aws-sqs');
SELECT httpq.enqueue_sqs('https://sqs.us-east-1.amazonaws.com/123456789012/orders', 'x', deduplication_id => 'd', channel => 'aws-sqs');
SELECT httpq.enqueue_sqs('https://sqs.us-east-1.amazonaws.com/123456789012/orders', 'x', delay_seconds => 901, channel => 'aws-sqs');
SELECT httpq.enqueue_sqs('https://sqs.us-east-1.amazonaws.com/123456789012/orders', 'x', attributes => '["a"]', channel => 'aws-sqs');
SELECT httpq.enqueue_sqs('https://sqs.us-east-1.amazonaws.com/123456789012/orders', 'x', attributes => '{"ok": true}', channel => 'aws-sqs');
SELECT httpq.enqueue_sqs('https://sqs.us-east-1.amazonaws.com/123456789012/orders', 'x', attributes => '{"AWS.trace": "1"}', channel => 'aws-sqs');
SELECT httpq.enqueue_sqs('https://sqs.us-east-1.amazonaws.com/123456789012/orders', 'x', attributes => '{"empty": ""}', channel => 'aws-sqs');
SELECT httpq.enqueue_sqs('https://sqs.us-east-1.amazonaws.com/123456789012/orders', 'x', attributes => '{"b": {"DataType": "Binary", "StringValue": "x"}}', channel => 'aws-sqs');
SELECT httpq.enqueue_sqs('https://sqs.us-east-1.amazonaws.com/123456789012/orders', 'x',
                         attributes => (SELECT jsonb_object_agg('a' || i, i) FROM generate_series(1, 11) AS i), channel => 'aws-sqs');
-- ... and a channel that does not sign for the service
SELECT httpq.enqueue_sqs('https://sqs.us-east-1.amazonaws.com/123456789012/orders', 'x');
SELECT httpq.enqueue_sqs('https://sqs.us-east-1.amazonaws.com/123456789012/orders', 'x', channel => 'aws-sns');

-- SNS: Publish in the query protocol, form-encoded, to the topic region's endpoint unless
-- another is given
SELECT httpq.enqueue_sns('arn:aws:sns:eu-west-1:123456789012:orders', 'paid & shipped: 12 €', subject => 'Order 7',
                         attributes => '{"event": "order.paid", "amount": 3}', channel => 'aws-sns') AS sns \gset
SELECT httpq.enqueue_sns('arn:aws:sns:us-east-1:123456789012:orders.fifo', 'paid', ordering_key => 'customer-7',
                         deduplication_id => 'd-7', endpoint => 'http://127.0.0.1:4566/', channel => 'aws-sns',
                         notify => true) AS sns_fifo \gset
RESET ROLE;
SELECT url, headers ->> 'Content-Type' AS content_type, convert_from(body, 'UTF8') AS body FROM httpq.request WHERE id = :sns;
SELECT url, convert_from(body, 'UTF8') AS body, notify FROM httpq.request WHERE id = :sns_fifo;
SET ROLE regress_httpq_aws_app;
SELECT httpq.enqueue_sns('arn:aws:sqs:us-east-1:123456789012:orders', 'x', channel => 'aws-sns');
SELECT httpq.enqueue_sns('arn:aws:sns:us-east-1:123456789012:orders', 'x', subject => E'two\nlines', channel => 'aws-sns');
SELECT httpq.enqueue_sns('arn:aws:sns:us-east-1:123456789012:orders.fifo', 'x', channel => 'aws-sns');
-- The builders feed enqueue_many: a batch of both
SELECT count(*) FROM httpq.enqueue_many(ARRAY[
    httpq.new_sqs_message('https://sqs.us-east-1.amazonaws.com/123456789012/orders', 'one', channel => 'aws-sqs'),
    httpq.new_sns_message('arn:aws:sns:us-east-1:123456789012:orders', 'two', channel => 'aws-sns')]);

-- Another tenant cannot use these channels, and learns nothing of their settings
SET ROLE regress_httpq_aws_other;
SELECT httpq.enqueue_sqs('https://sqs.us-east-1.amazonaws.com/123456789012/orders', 'x', channel => 'aws-sqs');
SELECT httpq.set_channel('aws-sqs', aws_sigv4 => 'aws:amz:us-east-1:sqs', aws_credentials => 'aws-other');
RESET ROLE;

-- A secret that signs for AWS cannot be deleted
SELECT httpq.delete_secret('aws-app');

-- The claim hands the worker the provider string, the credentials' name and sealed value
UPDATE httpq.request SET run_at = '2029-12-31 00:00:00+00' WHERE channel LIKE 'aws-%';
UPDATE httpq.request SET state = 'waiting' WHERE channel LIKE 'aws-%' AND state = 'scheduled';
SELECT c.id = :standard AS standard, c.aws_sigv4, c.aws_credentials, jsonb_object_keys(c.secrets) AS sealed_secret
FROM httpq.claim('regress-aws', 1, '{aws-sqs}', '1 minute') AS c;

-- AWS errors on such a channel: the code and message are the attempt's error; throttling
-- and transient errors are retried, the others are dead
CREATE FUNCTION pg_temp.outcome(id bigint, status integer, body text, headers jsonb DEFAULT '{}') RETURNS jsonb
LANGUAGE sql AS $$
    SELECT jsonb_build_object('id', id, 'attempt', 1, 'status', status, 'headers', headers,
                              'body', translate(encode(convert_to(body, 'UTF8'), 'base64'), E'\n', ''))
$$;
SELECT array_agg(c.id ORDER BY c.id) AS claimed FROM httpq.claim('regress-aws', 10, '{aws-sqs,aws-sns}', '1 minute') AS c \gset
SELECT httpq.report('regress-aws', jsonb_build_array(
    pg_temp.outcome(:standard, 400, '{"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "The specified queue does not exist."}',
                    '{"x-amzn-query-error": "AWS.SimpleQueueService.NonExistentQueue;Sender"}'),
    pg_temp.outcome((:'claimed'::bigint[])[1], 400, '{"__type": "com.amazonaws.sqs#ThrottlingException", "message": "Rate exceeded"}'),
    pg_temp.outcome((:'claimed'::bigint[])[2], 403, '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key &amp; signing method.</Message></Error><RequestId>1</RequestId></ErrorResponse>'),
    pg_temp.outcome((:'claimed'::bigint[])[3], 400, '<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>'),
    pg_temp.outcome((:'claimed'::bigint[])[4], 500, '{"__type": "InternalFailure"}'),
    pg_temp.outcome((:'claimed'::bigint[])[5], 400, 'not an AWS answer'),
    pg_temp.outcome((:'claimed'::bigint[])[6], 400, '', '{"x-amzn-errortype": "TooManyRequestsException:http://internal.amazon.com/coral/"}')));
SELECT r.id = :standard AS standard, r.state, r.last_status, r.last_error, a.error AS attempt_error
FROM httpq.requests r JOIN httpq.attempts a USING (id)
WHERE r.id = :standard OR r.id = ANY (:'claimed'::bigint[])
ORDER BY r.id;

-- An AWS-looking answer on a channel that does not sign for AWS is an HTTP status as any other
SELECT httpq.enqueue('https://example.com/plain', channel => 'aws-plain') AS plain \gset
SELECT count(*) FROM httpq.claim('regress-aws', 1, '{aws-plain}', '1 minute');
SELECT httpq.report('regress-aws', jsonb_build_array(pg_temp.outcome(:plain, 400, '{"__type": "ThrottlingException"}')));
SELECT state, last_error FROM httpq.requests WHERE id = :plain;

-- The percent-encoding of form values
SELECT httpq._form_value('a-b_c.d~e f+g&h=i/ü€');

SET ROLE regress_httpq_aws_app;
SELECT httpq.unset_channel('aws-sns', '{aws_sigv4, aws_credentials}');
SELECT channel, aws_sigv4, aws_credentials FROM httpq.channels WHERE channel = 'aws-sns';
RESET ROLE;

-- Clean up
DELETE FROM httpq.request WHERE channel LIKE 'aws-%';
DELETE FROM httpq.history WHERE channel LIKE 'aws-%';
DELETE FROM httpq.key_lock WHERE channel LIKE 'aws-%';
DELETE FROM httpq.channel WHERE name LIKE 'aws-%';
DELETE FROM httpq.secret WHERE name LIKE 'aws-%';
SELECT httpq.revoke_role('app', 'regress_httpq_aws_app'), httpq.revoke_role('app', 'regress_httpq_aws_other');
DROP ROLE regress_httpq_aws_app, regress_httpq_aws_other;
