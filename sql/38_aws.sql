-- 38_aws.sql: AWS destinations: SQS queues and SNS topics, signed with Signature Version 4.
--
-- Owns no table. The builders turn a message into the documented AWS API request
-- (SQS SendMessage in its JSON protocol, SNS Publish in its query protocol), so that an
-- application never writes either by hand; enqueue then treats it as any other request. A
-- channel's aws_sigv4 and aws_credentials (sql/10_channel.sql) have the worker sign it
-- (libcurl's CURLOPT_AWS_SIGV4, with the credentials opened from the secret store), and
-- httpq.report reads AWS's error answers on such a channel (httpq._aws_error): throttling
-- and transient errors are retried, the rest are dead with AWS's code and message.

-- Raises unless channel can carry requests to the AWS service: it signs them with SigV4 for
-- that service. A channel the caller does not own is left to enqueue, which refuses it
-- without telling how it is set up.
CREATE FUNCTION httpq._check_aws_channel(channel text, service text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ch httpq.channel;
BEGIN
    PERFORM httpq._check_channel(_check_aws_channel.channel);
    SELECT * INTO ch FROM httpq.channel c WHERE c.name = _check_aws_channel.channel;
    IF FOUND AND NOT httpq._owns(ch.owner) THEN
        RETURN;
    END IF;
    IF ch.aws_sigv4 IS NULL THEN
        RAISE EXCEPTION 'channel % does not sign with AWS SigV4, which % requires', quote_literal(channel), service
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('SELECT httpq.set_channel(%L, aws_sigv4 => ''aws:amz:REGION:%s'', aws_credentials => ''SECRET NAME'').',
                                channel, service);
    END IF;
    IF split_part(ch.aws_sigv4, ':', 4) <> service THEN
        RAISE EXCEPTION 'channel % signs for service % (aws_sigv4 %), not %', quote_literal(channel),
                        quote_literal(split_part(ch.aws_sigv4, ':', 4)), quote_literal(ch.aws_sigv4), service
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Use a channel of its own for each AWS service.';
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._check_aws_channel(text, text) IS 'Raises unless a channel signs with AWS SigV4 for the given service.';

-- The message attributes of an AWS message, as SQS's JSON protocol writes them:
-- {"name": {"DataType": "String", "StringValue": "..."}}, or NULL for none. A string is a
-- String attribute, a number a Number; an object is the attribute itself (a DataType and a
-- StringValue or a base64 BinaryValue). At most 10, as SQS and SNS take.
CREATE FUNCTION httpq._aws_attributes(attributes jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result jsonb := '{}';
    name   text;
    value  jsonb;
BEGIN
    IF attributes IS NULL OR attributes = '{}' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(attributes) <> 'object' THEN
        RAISE EXCEPTION 'attributes must be a JSON object of attribute names and values, got JSON %', jsonb_typeof(attributes)
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example ''{"event": "order.paid", "amount": 12.5}''.';
    END IF;
    IF (SELECT count(*) FROM jsonb_object_keys(attributes)) > 10 THEN
        RAISE EXCEPTION 'attributes: at most 10, got %', (SELECT count(*) FROM jsonb_object_keys(attributes))
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR name, value IN SELECT * FROM jsonb_each(attributes) LOOP
        IF name !~ '^[A-Za-z0-9_-][A-Za-z0-9_.-]*$' OR length(name) > 256 OR name ~ '\.\.|\.$' OR name ~* '^(aws|amazon)\.' THEN
            RAISE EXCEPTION 'attributes: % is not an attribute name', httpq._quoted(name)
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Up to 256 letters, digits and _ - . (not first, last or twice in a row), not starting with AWS. or Amazon.';
        END IF;
        value := CASE jsonb_typeof(value)
            WHEN 'string' THEN jsonb_build_object('DataType', 'String', 'StringValue', value)
            WHEN 'number' THEN jsonb_build_object('DataType', 'Number', 'StringValue', value #>> '{}')
            WHEN 'object' THEN value END;
        IF value IS NULL
           OR value - ARRAY['DataType', 'StringValue', 'BinaryValue'] <> '{}'
           OR jsonb_typeof(value -> 'DataType') IS DISTINCT FROM 'string'
           OR value ->> 'DataType' !~ '^(String|Number|Binary)(\.[A-Za-z0-9_.-]+)?$'
           OR (value ? 'StringValue') = (value ? 'BinaryValue')
           OR jsonb_typeof(coalesce(value -> 'StringValue', value -> 'BinaryValue')) <> 'string'
           OR (value ? 'BinaryValue') <> (value ->> 'DataType' LIKE 'Binary%') THEN
            RAISE EXCEPTION 'attributes: % must be a string, a number, or {"DataType": ..., "StringValue" or "BinaryValue": ...}',
                            httpq._quoted(name)
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'DataType is String, Number or Binary (optionally with a .suffix); a Binary takes a base64 BinaryValue, the others a StringValue.';
        END IF;
        IF coalesce(value ->> 'StringValue', value ->> 'BinaryValue') = '' THEN
            RAISE EXCEPTION 'attributes: % must not be empty', httpq._quoted(name) USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF value ? 'BinaryValue' AND value ->> 'BinaryValue' !~ '^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$' THEN
            RAISE EXCEPTION 'attributes: the BinaryValue of % must be base64', httpq._quoted(name)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        result := result || jsonb_build_object(name, value);
    END LOOP;
    RETURN result;
END;
$$;
COMMENT ON FUNCTION httpq._aws_attributes(jsonb) IS 'Message attributes in SQS''s JSON form, checked; NULL for none.';

-- A value encoded for an application/x-www-form-urlencoded body: the unreserved characters
-- of RFC 3986 stay, a space becomes +, every other byte of the UTF-8 becomes %XX (as the
-- AWS SDKs write it).
CREATE FUNCTION httpq._form_value(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(string_agg(CASE WHEN c ~ '^[A-Za-z0-9_.~-]$' THEN c
                                    WHEN c = ' ' THEN '+'
                                    ELSE upper(regexp_replace(encode(convert_to(c, 'UTF8'), 'hex'), '(..)', '%\1', 'g')) END,
                               '' ORDER BY t.ord), '')
    FROM regexp_split_to_table(value, '') WITH ORDINALITY AS t(c, ord)
$$;
COMMENT ON FUNCTION httpq._form_value(text) IS 'A value percent-encoded for a form body.';

-- The group id, deduplication id and idempotency key of a message to a FIFO queue or
-- topic (fifo), and the checks they need: a FIFO message belongs to a group (the ordering
-- key's, unless one is given) and is deduplicated by AWS for five minutes by its
-- deduplication id, by default the request's idempotency key, which is the same on every
-- retry. A standard queue or topic takes no deduplication id.
CREATE FUNCTION httpq._aws_fifo(fifo boolean, message_group_id text, deduplication_id text, ordering_key text,
                                idempotency_key text, what text,
                                OUT group_id text, OUT dedupe_id text, OUT key text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    group_id := message_group_id;
    key := idempotency_key;
    IF fifo THEN
        group_id := coalesce(message_group_id, ordering_key);
        IF group_id IS NULL THEN
            RAISE EXCEPTION 'message_group_id: a FIFO % needs one (or an ordering_key, which it then takes)', what
                USING ERRCODE = 'null_value_not_allowed';
        END IF;
        key := coalesce(idempotency_key, gen_random_uuid()::text);
        dedupe_id := coalesce(deduplication_id, key);
    ELSIF deduplication_id IS NOT NULL THEN
        RAISE EXCEPTION 'deduplication_id: only a FIFO % (its name ending in .fifo) takes one', what
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF group_id !~ '^[!-~]+$' OR length(group_id) > 128 THEN
        RAISE EXCEPTION 'message_group_id % must be 1 to 128 printable ASCII characters without spaces%', httpq._quoted(group_id),
                        CASE WHEN message_group_id IS NULL THEN ' (it is the ordering_key unless given)' ELSE '' END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF dedupe_id !~ '^[!-~]+$' OR length(dedupe_id) > 128 THEN
        RAISE EXCEPTION 'deduplication_id % must be 1 to 128 printable ASCII characters without spaces%', httpq._quoted(dedupe_id),
                        CASE WHEN deduplication_id IS NULL THEN ' (it is the idempotency_key unless given)' ELSE '' END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._aws_fifo(boolean, text, text, text, text, text)
    IS 'The group id, deduplication id and idempotency key of an AWS message, checked for a FIFO or standard queue or topic.';

-- Builds an SQS SendMessage request (the JSON protocol) for httpq.enqueue_many; checks it,
-- writes nothing. The request goes to the queue's endpoint, on a channel that signs for sqs.
CREATE FUNCTION httpq.new_sqs_message(
    queue_url        text,
    message_body     text,
    message_group_id text DEFAULT NULL,
    deduplication_id text DEFAULT NULL,
    attributes       jsonb DEFAULT NULL,
    delay_seconds    integer DEFAULT NULL,
    channel          text DEFAULT 'sqs',
    ordering_key     text DEFAULT NULL,
    run_at           timestamptz DEFAULT now(),
    max_attempts     integer DEFAULT NULL,
    deadline         timestamptz DEFAULT NULL,
    idempotency_key  text DEFAULT NULL,
    dedupe_key       text DEFAULT NULL,
    priority         integer DEFAULT 0,
    timeout_ms       integer DEFAULT NULL,
    notify           boolean DEFAULT false
) RETURNS httpq.new_request
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fifo boolean := queue_url LIKE '%.fifo';
    ids  record;
BEGIN
    IF queue_url IS NULL OR queue_url !~ '^https?://[^/?#]+/[0-9]+/[A-Za-z0-9_-]+(\.fifo)?$' THEN
        RAISE EXCEPTION 'queue_url must be an SQS queue URL, such as https://sqs.us-east-1.amazonaws.com/123456789012/orders'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF message_body IS NULL OR message_body = '' THEN
        RAISE EXCEPTION 'message_body must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT delay_seconds BETWEEN 0 AND 900 THEN
        RAISE EXCEPTION 'delay_seconds must be from 0 to 900, got %', delay_seconds
            USING ERRCODE = 'invalid_parameter_value', HINT = 'run_at delays the send by any time.';
    END IF;
    IF fifo AND delay_seconds IS NOT NULL THEN
        RAISE EXCEPTION 'delay_seconds: a FIFO queue takes no delay per message' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'run_at delays the send; the queue''s own DelaySeconds delays every message.';
    END IF;
    ids := httpq._aws_fifo(fifo, message_group_id, deduplication_id, ordering_key, idempotency_key, 'queue');
    PERFORM httpq._check_aws_channel(channel, 'sqs');
    RETURN httpq.new_request(
        url => substring(queue_url from '^https?://[^/]+') || '/',
        body => jsonb_strip_nulls(jsonb_build_object(
                    'QueueUrl', queue_url, 'MessageBody', message_body, 'DelaySeconds', delay_seconds,
                    'MessageAttributes', httpq._aws_attributes(attributes),
                    'MessageGroupId', ids.group_id, 'MessageDeduplicationId', ids.dedupe_id)),
        headers => '{"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.SendMessage"}',
        channel => channel, ordering_key => ordering_key, run_at => run_at, max_attempts => max_attempts,
        deadline => deadline, idempotency_key => ids.key, dedupe_key => dedupe_key, priority => priority,
        timeout_ms => timeout_ms, notify => notify);
END;
$$;
COMMENT ON FUNCTION httpq.new_sqs_message(text, text, text, text, jsonb, integer, text, text, timestamptz, integer, timestamptz, text, text, integer, integer, boolean)
    IS 'Builds an SQS SendMessage request for httpq.enqueue_many; checks it, writes nothing.';

-- Enqueues one message to an SQS queue; returns the request's id.
CREATE FUNCTION httpq.enqueue_sqs(
    queue_url        text,
    message_body     text,
    message_group_id text DEFAULT NULL,
    deduplication_id text DEFAULT NULL,
    attributes       jsonb DEFAULT NULL,
    delay_seconds    integer DEFAULT NULL,
    channel          text DEFAULT 'sqs',
    ordering_key     text DEFAULT NULL,
    run_at           timestamptz DEFAULT now(),
    max_attempts     integer DEFAULT NULL,
    deadline         timestamptz DEFAULT NULL,
    idempotency_key  text DEFAULT NULL,
    dedupe_key       text DEFAULT NULL,
    priority         integer DEFAULT 0,
    timeout_ms       integer DEFAULT NULL,
    notify           boolean DEFAULT false
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (SELECT httpq.enqueue_many(ARRAY[httpq.new_sqs_message(
        queue_url, message_body, message_group_id, deduplication_id, attributes, delay_seconds, channel,
        ordering_key, run_at, max_attempts, deadline, idempotency_key, dedupe_key, priority, timeout_ms, notify)]));
END;
$$;
COMMENT ON FUNCTION httpq.enqueue_sqs(text, text, text, text, jsonb, integer, text, text, timestamptz, integer, timestamptz, text, text, integer, integer, boolean)
    IS 'Enqueues one message to an SQS queue (SendMessage, signed by the channel''s aws_sigv4); returns its id.';

-- Builds an SNS Publish request (the query protocol) for httpq.enqueue_many; checks it,
-- writes nothing. endpoint: where to send it; NULL for the topic region's public endpoint.
CREATE FUNCTION httpq.new_sns_message(
    topic_arn        text,
    message          text,
    subject          text DEFAULT NULL,
    attributes       jsonb DEFAULT NULL,
    message_group_id text DEFAULT NULL,
    deduplication_id text DEFAULT NULL,
    endpoint         text DEFAULT NULL,
    channel          text DEFAULT 'sns',
    ordering_key     text DEFAULT NULL,
    run_at           timestamptz DEFAULT now(),
    max_attempts     integer DEFAULT NULL,
    deadline         timestamptz DEFAULT NULL,
    idempotency_key  text DEFAULT NULL,
    dedupe_key       text DEFAULT NULL,
    priority         integer DEFAULT 0,
    timeout_ms       integer DEFAULT NULL,
    notify           boolean DEFAULT false
) RETURNS httpq.new_request
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parts  text[] := string_to_array(topic_arn, ':');
    ids    record;
    params text[];
BEGIN
    IF topic_arn IS NULL OR topic_arn !~ '^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+(\.fifo)?$' THEN
        RAISE EXCEPTION 'topic_arn must be an SNS topic ARN, such as arn:aws:sns:us-east-1:123456789012:orders'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF message IS NULL OR message = '' THEN
        RAISE EXCEPTION 'message must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF subject = '' OR subject ~ '[\x00-\x1f]' OR length(subject) > 100 THEN
        RAISE EXCEPTION 'subject must be 1 to 100 characters without line breaks or control characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    ids := httpq._aws_fifo(topic_arn LIKE '%.fifo', message_group_id, deduplication_id, ordering_key, idempotency_key, 'topic');
    PERFORM httpq._check_aws_channel(channel, 'sns');
    params := ARRAY['Action', 'Publish', 'Version', '2010-03-31', 'TopicArn', topic_arn, 'Message', message]
              || CASE WHEN subject IS NOT NULL THEN ARRAY['Subject', subject] ELSE '{}' END
              || CASE WHEN ids.group_id IS NOT NULL THEN ARRAY['MessageGroupId', ids.group_id] ELSE '{}' END
              || CASE WHEN ids.dedupe_id IS NOT NULL THEN ARRAY['MessageDeduplicationId', ids.dedupe_id] ELSE '{}' END
              || coalesce((SELECT array_agg(kv.item ORDER BY a.ord, kv.ord)
                           FROM jsonb_each(httpq._aws_attributes(attributes)) WITH ORDINALITY AS a(name, value, ord),
                                LATERAL unnest(ARRAY[
                                    format('MessageAttributes.entry.%s.Name', a.ord), a.name,
                                    format('MessageAttributes.entry.%s.Value.DataType', a.ord), a.value ->> 'DataType',
                                    format('MessageAttributes.entry.%s.Value.%s', a.ord,
                                           CASE WHEN a.value ? 'BinaryValue' THEN 'BinaryValue' ELSE 'StringValue' END),
                                    coalesce(a.value ->> 'StringValue', a.value ->> 'BinaryValue')]) WITH ORDINALITY AS kv(item, ord)),
                          '{}');
    RETURN httpq.new_request_bytes(
        url => coalesce(endpoint, format('https://sns.%s.amazonaws.%s/', parts[4],
                                         CASE WHEN parts[2] = 'aws-cn' THEN 'com.cn' ELSE 'com' END)),
        body => convert_to((SELECT string_agg(httpq._form_value(params[i]) || '=' || httpq._form_value(params[i + 1]), '&' ORDER BY i)
                            FROM generate_series(1, cardinality(params), 2) AS i), 'UTF8'),
        content_type => 'application/x-www-form-urlencoded; charset=utf-8',
        channel => channel, ordering_key => ordering_key, run_at => run_at, max_attempts => max_attempts,
        deadline => deadline, idempotency_key => ids.key, dedupe_key => dedupe_key, priority => priority,
        timeout_ms => timeout_ms, notify => notify);
END;
$$;
COMMENT ON FUNCTION httpq.new_sns_message(text, text, text, jsonb, text, text, text, text, text, timestamptz, integer, timestamptz, text, text, integer, integer, boolean)
    IS 'Builds an SNS Publish request for httpq.enqueue_many; checks it, writes nothing.';

-- Enqueues one message to an SNS topic; returns the request's id.
CREATE FUNCTION httpq.enqueue_sns(
    topic_arn        text,
    message          text,
    subject          text DEFAULT NULL,
    attributes       jsonb DEFAULT NULL,
    message_group_id text DEFAULT NULL,
    deduplication_id text DEFAULT NULL,
    endpoint         text DEFAULT NULL,
    channel          text DEFAULT 'sns',
    ordering_key     text DEFAULT NULL,
    run_at           timestamptz DEFAULT now(),
    max_attempts     integer DEFAULT NULL,
    deadline         timestamptz DEFAULT NULL,
    idempotency_key  text DEFAULT NULL,
    dedupe_key       text DEFAULT NULL,
    priority         integer DEFAULT 0,
    timeout_ms       integer DEFAULT NULL,
    notify           boolean DEFAULT false
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (SELECT httpq.enqueue_many(ARRAY[httpq.new_sns_message(
        topic_arn, message, subject, attributes, message_group_id, deduplication_id, endpoint, channel,
        ordering_key, run_at, max_attempts, deadline, idempotency_key, dedupe_key, priority, timeout_ms, notify)]));
END;
$$;
COMMENT ON FUNCTION httpq.enqueue_sns(text, text, text, jsonb, text, text, text, text, text, timestamptz, integer, timestamptz, text, text, integer, integer, boolean)
    IS 'Enqueues one message to an SNS topic (Publish, signed by the channel''s aws_sigv4); returns its id.';

-- The error code and message of an AWS error answer, {code, message}, or NULL when the
-- answer is not one: the JSON protocols' __type (or the x-amzn-errortype header) and
-- message, or the XML of the query protocols' <Code> and <Message>.
CREATE FUNCTION httpq._aws_error(headers jsonb, body bytea) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    text_body text;
    answer    jsonb;
    code      text;
    message   text;
BEGIN
    BEGIN
        text_body := convert_from(body, 'UTF8');
        IF text_body ~ '^\s*\{' THEN
            answer := text_body::jsonb;
        END IF;
    EXCEPTION WHEN data_exception THEN
        NULL;   -- not UTF-8, or not JSON: no code from the body
    END;
    IF jsonb_typeof(answer) = 'object' THEN
        code := coalesce(answer ->> '__type', answer ->> 'code', answer ->> 'Code');
        message := coalesce(answer ->> 'message', answer ->> 'Message');
    ELSIF text_body ~ '<Code>' THEN
        code := substring(text_body from '<Code>([^<]*)</Code>');
        message := replace(replace(replace(replace(replace(
                       substring(text_body from '<Message>([^<]*)</Message>'),
                       '&lt;', '<'), '&gt;', '>'), '&quot;', '"'), '&apos;', ''''), '&amp;', '&');
    END IF;
    code := coalesce(code, headers ->> 'x-amzn-errortype');
    -- com.amazonaws.sqs#QueueDoesNotExist, or ThrottlingException:http://internal.amazon.com/...
    code := split_part(regexp_replace(code, '^.*#', ''), ':', 1);
    IF code IS NULL OR code = '' THEN
        RETURN NULL;
    END IF;
    RETURN ARRAY[left(code, 100), left(message, 1000)];
END;
$$;
COMMENT ON FUNCTION httpq._aws_error(jsonb, bytea) IS 'The code and message of an AWS error answer, or NULL.';

-- Whether an AWS error code is one to retry: throttling and transient errors, as the AWS
-- SDKs' standard retry mode lists them.
CREATE FUNCTION httpq._aws_retryable(code text) RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT code = ANY (ARRAY[
        'Throttling', 'ThrottlingException', 'ThrottledException', 'RequestThrottledException', 'RequestThrottled',
        'TooManyRequestsException', 'ProvisionedThroughputExceededException', 'TransactionInProgressException',
        'RequestLimitExceeded', 'BandwidthLimitExceeded', 'LimitExceededException', 'SlowDown', 'EC2ThrottledException',
        'PriorRequestNotComplete', 'RequestTimeout', 'RequestTimeoutException', 'InternalError', 'InternalFailure',
        'ServiceUnavailable', 'KmsThrottled', 'KMS.ThrottlingException'])
$$;
COMMENT ON FUNCTION httpq._aws_retryable(text) IS 'Whether an AWS error code is throttling or transient, and so retried.';
