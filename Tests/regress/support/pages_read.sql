-- pg_temp.pages_read(statement, tables): the pages of the given tables and their indexes
-- (by default the live queue, httpq.request) that a statement reads. The cost tests compare
-- these counts, which unlike times repeat from run to run.
CREATE FUNCTION pg_temp.pages_read(statement text, tables regclass[] DEFAULT ARRAY['httpq.request'::regclass])
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    relations oid[] := ARRAY(SELECT unnest(tables)::oid
                             UNION ALL
                             SELECT i.indexrelid FROM pg_index i WHERE i.indrelid = ANY (tables));
    before    bigint;
BEGIN
    SELECT sum(pg_stat_get_xact_blocks_fetched(r)) INTO before FROM unnest(relations) AS r;
    EXECUTE statement;
    RETURN (SELECT sum(pg_stat_get_xact_blocks_fetched(r)) FROM unnest(relations) AS r) - before;
END;
$$;
