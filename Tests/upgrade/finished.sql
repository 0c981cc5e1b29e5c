-- finished.sql: after a worker of the new version ran, each request ended where it must:
-- delivered or dead as set up (nothing left waiting, blocked or running), never with fewer
-- attempts than before the upgrade; the request left running by a worker that vanished was
-- taken over once its lease passed (one more attempt); and the requests of an ordering key
-- finished in order. Prints one line per problem; nothing when all is accounted for.

\set ON_ERROR_STOP 1

WITH now_state AS (
    SELECT u.label, u.final, b.id, b.attempts AS attempts_before, r.state, r.attempts, r.finished_at
    FROM public.upgrade_case u
    JOIN public.upgrade_before b USING (id)
    LEFT JOIN httpq.requests r USING (id)
)
SELECT format('request %s (%s): %s', s.id, s.label, p.problem)
FROM now_state s
CROSS JOIN LATERAL (VALUES
    (CASE WHEN s.state IS NULL THEN 'gone' END),
    (CASE WHEN s.state <> s.final THEN format('%s, not %s', s.state, s.final) END),
    (CASE WHEN s.attempts < s.attempts_before
          THEN format('attempts went down: %s -> %s', s.attempts_before, s.attempts) END),
    (CASE WHEN s.label = 'running' AND s.attempts <> s.attempts_before + 1
          THEN format('taken over after its lease: %s attempts, expected %s', s.attempts, s.attempts_before + 1) END)
) AS p(problem)
WHERE p.problem IS NOT NULL
UNION ALL
SELECT format('ordering key: %s finished after %s', first.label, second.label)
FROM (VALUES ('key-head', 'key-blocked'), ('held-dead', 'held-blocked'), ('deferred-head', 'deferred-next'))
     AS k(first_label, second_label)
JOIN now_state first ON first.label = k.first_label
JOIN now_state second ON second.label = k.second_label
WHERE first.finished_at > second.finished_at
UNION ALL
SELECT format('request %s: not set up, now %s', r.id, r.state)
FROM httpq.requests r
WHERE NOT EXISTS (SELECT 1 FROM public.upgrade_case u WHERE u.id = r.id)
ORDER BY 1;
