-- kept.sql: after the upgrade, before any worker, each request is still there as it was:
-- same id, channel, url, body, ordering and idempotency keys and attempt count, and the
-- same state or one the upgrade may legitimately move it to (a running request handed
-- back to waiting; a blocked one promoted). Prints one line per problem; nothing when kept.

\set ON_ERROR_STOP 1

SELECT format('request %s (%s): %s', coalesce(b.id, a.id), coalesce(u.label, 'not set up'), p.problem)
FROM public.upgrade_before b
FULL JOIN public.upgrade_after a ON a.id = b.id
LEFT JOIN public.upgrade_case u ON u.id = coalesce(b.id, a.id)
CROSS JOIN LATERAL (VALUES
    (CASE WHEN a.id IS NULL THEN 'gone after the upgrade' END),
    (CASE WHEN b.id IS NULL THEN 'appeared with the upgrade' END),
    (CASE WHEN a.id IS NOT NULL AND b.id IS NOT NULL
               AND (a.state, a.blocked) IS DISTINCT FROM (b.state, b.blocked)
               AND NOT (b.state = 'running' AND a.state = 'waiting' AND NOT a.blocked)
               AND NOT (b.state = 'waiting' AND b.blocked AND a.state = 'waiting' AND NOT a.blocked)
          THEN format('state %s%s -> %s%s', b.state, CASE WHEN b.blocked THEN ' (blocked)' ELSE '' END,
                      a.state, CASE WHEN a.blocked THEN ' (blocked)' ELSE '' END) END),
    (CASE WHEN a.channel <> b.channel THEN format('channel %s -> %s', b.channel, a.channel) END),
    (CASE WHEN a.url <> b.url THEN format('url %s -> %s', b.url, a.url) END),
    (CASE WHEN a.body_md5 IS DISTINCT FROM b.body_md5 THEN 'body changed' END),
    (CASE WHEN a.attempts <> b.attempts THEN format('attempts %s -> %s', b.attempts, a.attempts) END),
    (CASE WHEN a.ordering_key IS DISTINCT FROM b.ordering_key
          THEN format('ordering key %s -> %s', b.ordering_key, a.ordering_key) END),
    (CASE WHEN a.idempotency_key <> b.idempotency_key THEN 'idempotency key changed' END)
) AS p(problem)
WHERE p.problem IS NOT NULL
ORDER BY 1;
