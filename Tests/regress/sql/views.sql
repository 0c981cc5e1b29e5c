\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS httpq;
CREATE FUNCTION pg_temp.outcome(id bigint, attempt integer, status integer) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_array(jsonb_build_object('id', id, 'attempt', attempt, 'status', status, 'headers', '{}'::jsonb)) $$;

-- The columns of httpq.requests
SELECT attname FROM pg_attribute WHERE attrelid = 'httpq.requests'::regclass AND attnum > 0 ORDER BY attnum;

-- A channel with one request in each state
SELECT httpq.enqueue('https://example.com/running', channel => 'views') AS r \gset
SELECT id = :r AS is_running_one FROM httpq.claim('w1', 1, '{views}');
SELECT httpq.enqueue('https://example.com/delivered', channel => 'views') AS d \gset
SELECT httpq.enqueue('https://example.com/dead', channel => 'views') AS x \gset
SELECT count(*) AS claimed FROM httpq.claim('w1', 2, '{views}');
SELECT httpq.report('w1', pg_temp.outcome(:d, 1, 200) || pg_temp.outcome(:x, 1, 404)) AS applied;
SELECT httpq.enqueue('https://example.com/waiting', channel => 'views') AS w \gset
SELECT httpq.enqueue('https://example.com/k1', channel => 'views', ordering_key => 'k') AS k1 \gset
SELECT httpq.enqueue('https://example.com/k2', channel => 'views', ordering_key => 'k') AS k2 \gset
SELECT httpq.enqueue('https://example.com/canceled', channel => 'views') AS c \gset
SELECT httpq.enqueue('https://example.com/later', channel => 'views', run_at => now() + interval '1 day') AS l \gset
SELECT httpq.cancel(:c) AS canceled;

-- Every request, live and finished, with its state
SELECT replace(url, 'https://example.com/', '') AS url, state, blocked, attempts, last_status, reason,
       finished_at IS NOT NULL AS finished, worker, lease_until IS NOT NULL AS leased, run_at > now() AS scheduled
FROM httpq.requests WHERE channel = 'views' ORDER BY id;

-- The states the view shows are the five of the contract
SELECT DISTINCT state FROM httpq.requests WHERE channel = 'views' ORDER BY state;

-- A finished request's last response
SELECT id = :x AS is_dead_one, status, state, headers FROM httpq.responses WHERE channel = 'views' ORDER BY id;

-- Per channel: counts by state, oldest waiting age, last hour's deliveries and deaths
SELECT channel, paused, waiting, running, dead, delivered_last_hour, dead_last_hour,
       oldest_waiting_age >= interval '0' AS has_oldest_age, last_error, max_concurrency, rate_per_second
FROM httpq.stats WHERE channel = 'views';

-- A channel with nothing waiting has no oldest age and zero counts
SELECT httpq.set_channel('views-empty', max_concurrency => 3, rate_per_second => 2.5);
SELECT waiting, running, dead, delivered_last_hour, oldest_waiting_age IS NULL AS no_age, max_concurrency, rate_per_second
FROM httpq.stats WHERE channel = 'views-empty';

-- Each attempt: its number, worker, status and error
SELECT id = :d AS is_delivered, attempt, worker, status, error FROM httpq.attempts WHERE id IN (:d, :x) ORDER BY id;

-- The views are read-only summaries: they cannot be written
UPDATE httpq.requests SET state = 'delivered' WHERE id = :w;
