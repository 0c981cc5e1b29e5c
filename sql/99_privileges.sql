-- 99_privileges.sql: nobody but the owner uses httpq until a DBA grants it.
--
-- The API functions are SECURITY DEFINER and reach the tables as their owner, so roles
-- get EXECUTE on the functions they need and never a grant on a table: httpq.grant_role
-- grants each kind of role (app, worker, ops, admin) its functions and views (README,
-- Tenants). No role is created here: roles belong to the cluster, not to a database.

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA httpq FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA httpq FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA httpq FROM PUBLIC;

-- The views call them to know whose rows the caller may see; they tell a role only that.
GRANT EXECUTE ON FUNCTION httpq._tenant_channels(text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION httpq._tenant_topics(text) TO PUBLIC;
-- httpq.stats and httpq.performance compute with these: the clock (the test-only setting
-- moves it for superusers alone) and a histogram's quantiles. They read no table.
GRANT EXECUTE ON FUNCTION httpq._session_is_superuser() TO PUBLIC;
GRANT EXECUTE ON FUNCTION httpq._now() TO PUBLIC;
GRANT EXECUTE ON FUNCTION httpq._quantile(bigint[], double precision) TO PUBLIC;
