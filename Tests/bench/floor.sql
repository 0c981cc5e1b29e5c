-- pgbench: the database's floor for a queue. Claim 100 rows of the same shape as
-- httpq.request through the same partial index, and delete them, in one transaction.
WITH c AS (
    SELECT id FROM bench_floor
    WHERE state = 'waiting' AND channel = 'default'
    ORDER BY priority, run_at, id
    LIMIT 100
    FOR UPDATE SKIP LOCKED
)
DELETE FROM bench_floor f USING c WHERE f.id = c.id;
