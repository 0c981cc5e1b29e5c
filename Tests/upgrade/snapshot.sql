-- snapshot.sql: every request as the public view httpq.requests shows it, plus a digest of
-- its body, into public.:"table" (upgrade_before before the upgrade, upgrade_after after).
--
--   psql -v table=upgrade_before -f snapshot.sql

\set ON_ERROR_STOP 1

CREATE TABLE public.:"table" AS
SELECT r.id, r.channel, r.state, r.blocked, r.attempts, r.url, r.ordering_key, r.idempotency_key,
       (SELECT md5(x.body) FROM httpq.request x WHERE x.id = r.id
        UNION ALL
        SELECT md5(x.body) FROM httpq.history x WHERE x.id = r.id) AS body_md5
FROM httpq.requests r;
