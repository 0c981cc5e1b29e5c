-- 99_privileges.sql: nobody but the owner uses httpq until a DBA grants it.
--
-- The API functions are SECURITY DEFINER and reach the tables as their owner, so roles
-- get EXECUTE on the functions they need and never a grant on a table. The README shows
-- the GRANTs for an application role (enqueue) and a worker role (claim, report, ...).
-- No role is created here: roles belong to the cluster, not to a database.

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA httpq FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA httpq FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA httpq FROM PUBLIC;
