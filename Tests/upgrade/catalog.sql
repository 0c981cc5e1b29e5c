-- catalog.sql: httpq's catalog as sorted text lines, one fact a line, for `diff`: an upgraded
-- database and a fresh install must print the same lines.
--
--   psql -XAtq -v membership=on -f catalog.sql    an extension install (the default)
--   psql -XAtq -v membership=off -f catalog.sql   a plain install: no pg_extension row, no
--                                                 members, no initial privileges
--
-- Covers schema httpq: relations (kind, access method, storage parameters of the table and its
-- TOAST table, row security, partitioning, owner, grants, comment), columns (position, name,
-- type, not-null, default, identity, generated, collation, storage, comment), constraints,
-- indexes, views, sequences, types and domains, functions (arguments, result, language,
-- volatility, strictness, security definer, parallel safety, cost, settings, body, owner,
-- grants, comment), triggers, rules, policies, statistics objects, default privileges;
-- with membership on, the extension's members, extconfig/extcondition and pg_init_privs.
--
-- Some servers stamp every column they create with an attribute option pg_attver=<n> that
-- differs from one install to the next; it says nothing about httpq and is left out.
--
-- Function bodies and view definitions print one line per source line, in source order, so
-- a diff shows the changed lines. Partitions of httpq.history named after a day
-- (history_YYYYMMDD, history_<word>_YYYYMMDD) come and go as days pass: they are left out,
-- and each prints a line only where it is not made like history_default, the model for them,
-- so installs made on different days compare equal and a partition made wrong still shows.

\if :{?membership}
\else
\set membership on
\endif

-- Sorted ACL items: the order GRANTs happened to run in is no difference. (A NULL ACL, the
-- default, is compared as the default it stands for.)
CREATE FUNCTION pg_temp.acl(a aclitem[]) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$ SELECT string_agg(i::text, ',' ORDER BY i::text) FROM unnest(a) AS i $$;

-- A dated partition's name without its day: history_before_20261202 -> history_before_YYYYMMDD.
CREATE FUNCTION pg_temp.undated(name text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$ SELECT regexp_replace(name, '[0-9]{8}', 'YYYYMMDD') $$;

WITH
ns AS (SELECT oid FROM pg_namespace WHERE nspname = 'httpq'),
rel AS (
    SELECT c.*, c.oid::regclass::text AS name
    FROM pg_class c WHERE c.relnamespace = (SELECT oid FROM ns)
),
fn AS (
    SELECT p.*, p.oid::regproc::text || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS name
    FROM pg_proc p WHERE p.pronamespace = (SELECT oid FROM ns)
),
ext AS (SELECT * FROM pg_extension WHERE extname = 'httpq' AND :'membership' = 'on'),
lines(key, n, line, rel) AS (
    -- The schema itself.
    SELECT 'schema', 0, concat_ws(' ', 'schema', n.nspname, 'owner=' || n.nspowner::regrole,
                                  'acl=' || pg_temp.acl(coalesce(n.nspacl, acldefault('n', n.nspowner))),
                                  'comment=' || quote_literal(obj_description(n.oid, 'pg_namespace'))),
           NULL::oid
    FROM pg_namespace n WHERE n.nspname = 'httpq'

    -- Relations, but indexes (below) and the row types' relations of composite types (types).
    UNION ALL
    SELECT 'relation ' || r.name, 0,
           concat_ws(' ', 'relation', r.name, 'kind=' || r.relkind::text, 'persistence=' || r.relpersistence::text,
                     'am=' || (SELECT amname FROM pg_am WHERE oid = r.relam),
                     'options=' || array_to_string(r.reloptions, ','),
                     'toast.options=' || (SELECT array_to_string(t.reloptions, ',') FROM pg_class t
                                          WHERE t.oid = r.reltoastrelid),
                     'rowsecurity=' || r.relrowsecurity, 'forcerowsecurity=' || r.relforcerowsecurity,
                     'replident=' || r.relreplident::text, 'owner=' || r.relowner::regrole,
                     'partkey=' || pg_get_partkeydef(r.oid),
                     'partof=' || (SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = r.oid),
                     'acl=' || pg_temp.acl(coalesce(r.relacl, acldefault(CASE WHEN r.relkind = 'S' THEN 's' ELSE 'r' END::"char", r.relowner))),
                     'comment=' || quote_literal(obj_description(r.oid, 'pg_class'))),
           r.oid
    FROM rel r WHERE r.relkind NOT IN ('i', 'I', 'c')
    UNION ALL
    SELECT 'relation ' || r.name, 1, 'relation ' || r.name || ' bound=' || pg_get_expr(r.relpartbound, r.oid), r.oid
    FROM rel r WHERE r.relispartition AND r.relkind NOT IN ('i', 'I')

    -- Columns of tables, views and composite types, in order.
    UNION ALL
    SELECT 'relation ' || r.name || ' column', a.attnum,
           concat_ws(' ', 'column', r.name,
                     row_number() OVER (PARTITION BY r.oid ORDER BY a.attnum), a.attname,
                     format_type(a.atttypid, a.atttypmod),
                     CASE WHEN a.attnotnull THEN 'not-null' END,
                     'default=' || pg_get_expr(d.adbin, d.adrelid),
                     'identity=' || nullif(a.attidentity::text, ''), 'generated=' || nullif(a.attgenerated::text, ''),
                     'collation=' || CASE WHEN a.attcollation <> t.typcollation THEN a.attcollation::regcollation::text END,
                     'storage=' || a.attstorage::text, 'compression=' || nullif(a.attcompression::text, ''),
                     'options=' || (SELECT string_agg(o, ',') FROM unnest(a.attoptions) AS o
                                    WHERE o NOT LIKE 'pg_attver=%'),
                     'acl=' || pg_temp.acl(a.attacl),
                     'comment=' || quote_literal(col_description(r.oid, a.attnum))),
           r.oid
    FROM rel r
    JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
    JOIN pg_type t ON t.oid = a.atttypid
    LEFT JOIN pg_attrdef d ON d.adrelid = r.oid AND d.adnum = a.attnum
    WHERE r.relkind NOT IN ('i', 'I', 'S')

    -- Constraints on tables and domains.
    UNION ALL
    SELECT 'constraint ' || coalesce(c.conrelid::regclass::text, c.contypid::regtype::text) || ' ' || c.conname, 0,
           concat_ws(' ', 'constraint', coalesce(c.conrelid::regclass::text, c.contypid::regtype::text), c.conname,
                     pg_get_constraintdef(c.oid), CASE WHEN NOT c.conislocal THEN 'inherited' END,
                     'comment=' || quote_literal(obj_description(c.oid, 'pg_constraint'))),
           c.conrelid
    FROM pg_constraint c WHERE c.connamespace = (SELECT oid FROM ns)

    -- Indexes.
    UNION ALL
    SELECT 'index ' || r.name, 0,
           concat_ws(' ', 'index', pg_get_indexdef(r.oid),
                     CASE WHEN i.indisclustered THEN 'clustered' END,
                     CASE WHEN i.indisreplident THEN 'replica-identity' END,
                     CASE WHEN NOT i.indisvalid THEN 'invalid' END,
                     'partof=' || (SELECT h.inhparent::regclass::text FROM pg_inherits h WHERE h.inhrelid = r.oid),
                     'comment=' || quote_literal(obj_description(r.oid, 'pg_class'))),
           i.indrelid
    FROM rel r JOIN pg_index i ON i.indexrelid = r.oid

    -- Views, line by line.
    UNION ALL
    SELECT 'relation ' || r.name || ' view', v.n::int, 'view ' || r.name || ' | ' || v.line, r.oid
    FROM rel r, regexp_split_to_table(pg_get_viewdef(r.oid, true), E'\n') WITH ORDINALITY AS v(line, n)
    WHERE r.relkind IN ('v', 'm')

    -- Sequences.
    UNION ALL
    SELECT 'sequence ' || r.name, 0,
           concat_ws(' ', 'sequence', r.name, format_type(s.seqtypid, NULL), 'start=' || s.seqstart,
                     'increment=' || s.seqincrement, 'min=' || s.seqmin, 'max=' || s.seqmax,
                     'cache=' || s.seqcache, 'cycle=' || s.seqcycle,
                     'owned-by=' || (SELECT d.refobjid::regclass::text || '.' || a.attname
                                     FROM pg_depend d
                                     JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                                     WHERE d.classid = 'pg_class'::regclass AND d.objid = r.oid
                                       AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))),
           r.oid
    FROM rel r JOIN pg_sequence s ON s.seqrelid = r.oid

    -- Types: composites (their columns are above), domains, enums, ranges; not the array
    -- types Postgres makes for each, nor the row types of tables and views.
    UNION ALL
    SELECT 'type ' || t.oid::regtype::text, 0,
           concat_ws(' ', 'type', t.oid::regtype::text, 'kind=' || t.typtype::text,
                     'base=' || CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END,
                     CASE WHEN t.typnotnull THEN 'not-null' END, 'default=' || t.typdefault,
                     'labels=' || (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                                   FROM pg_enum e WHERE e.enumtypid = t.oid),
                     'subtype=' || (SELECT g.rngsubtype::regtype::text FROM pg_range g WHERE g.rngtypid = t.oid),
                     'owner=' || t.typowner::regrole, 'acl=' || pg_temp.acl(coalesce(t.typacl, acldefault('T', t.typowner))),
                     'comment=' || quote_literal(obj_description(t.oid, 'pg_type'))),
           NULL
    FROM pg_type t
    WHERE t.typnamespace = (SELECT oid FROM ns)
      AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = t.oid)
      AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')

    -- Functions and procedures: the signature's line, then the body line by line.
    UNION ALL
    SELECT 'function ' || f.name, 0,
           concat_ws(' ', 'function', f.name, 'kind=' || f.prokind::text,
                     'arguments=' || quote_literal(pg_get_function_arguments(f.oid)),
                     'returns=' || quote_literal(pg_get_function_result(f.oid)),
                     'language=' || (SELECT lanname FROM pg_language WHERE oid = f.prolang),
                     'volatility=' || f.provolatile::text, 'strict=' || f.proisstrict,
                     'security-definer=' || f.prosecdef, 'leakproof=' || f.proleakproof,
                     'parallel=' || f.proparallel::text, 'cost=' || f.procost, 'rows=' || f.prorows,
                     'config=' || quote_literal(array_to_string(f.proconfig, ',')),
                     'owner=' || f.proowner::regrole, 'acl=' || pg_temp.acl(coalesce(f.proacl, acldefault('f', f.proowner))),
                     'comment=' || quote_literal(obj_description(f.oid, 'pg_proc'))),
           NULL
    FROM fn f
    UNION ALL
    SELECT 'function ' || f.name, b.n::int, 'function ' || f.name || ' | ' || b.line, NULL
    FROM fn f, regexp_split_to_table(f.prosrc, E'\n') WITH ORDINALITY AS b(line, n)

    -- Triggers, rules (other than views' own), policies, statistics objects.
    UNION ALL
    SELECT 'trigger ' || t.tgrelid::regclass::text || ' ' || t.tgname, 0,
           concat_ws(' ', 'trigger', pg_get_triggerdef(t.oid), 'enabled=' || t.tgenabled::text,
                     'comment=' || quote_literal(obj_description(t.oid, 'pg_trigger'))),
           t.tgrelid
    FROM pg_trigger t JOIN rel r ON r.oid = t.tgrelid WHERE NOT t.tgisinternal
    UNION ALL
    SELECT 'rule ' || w.ev_class::regclass::text || ' ' || w.rulename, 0,
           'rule ' || pg_get_ruledef(w.oid) || ' enabled=' || w.ev_enabled::text, w.ev_class
    FROM pg_rewrite w JOIN rel r ON r.oid = w.ev_class WHERE w.rulename <> '_RETURN'
    UNION ALL
    SELECT 'policy ' || p.polrelid::regclass::text || ' ' || p.polname, 0,
           concat_ws(' ', 'policy', p.polrelid::regclass::text, p.polname, 'command=' || p.polcmd::text,
                     'permissive=' || p.polpermissive, 'roles=' || p.polroles::text,
                     'using=' || pg_get_expr(p.polqual, p.polrelid),
                     'check=' || pg_get_expr(p.polwithcheck, p.polrelid)),
           p.polrelid
    FROM pg_policy p JOIN rel r ON r.oid = p.polrelid
    UNION ALL
    SELECT 'statistics ' || s.stxname, 0, 'statistics ' || pg_get_statisticsobjdef(s.oid), s.stxrelid
    FROM pg_statistic_ext s WHERE s.stxnamespace = (SELECT oid FROM ns)
    UNION ALL
    SELECT 'default-acl', 0, concat_ws(' ', 'default-acl', d.defaclrole::regrole, d.defaclobjtype::text,
                                       pg_temp.acl(d.defaclacl)), NULL
    FROM pg_default_acl d WHERE d.defaclnamespace = (SELECT oid FROM ns)

    -- The extension: its row, its configuration tables, its members, their initial grants.
    UNION ALL
    SELECT 'extension', 0, concat_ws(' ', 'extension', e.extname, 'version=' || e.extversion,
                                     'schema=' || e.extnamespace::regnamespace, 'relocatable=' || e.extrelocatable,
                                     'owner=' || e.extowner::regrole), NULL
    FROM ext e
    UNION ALL
    SELECT 'extension config', 0, 'extension config ' || c.tab::regclass::text || ' condition=' || quote_literal(c.cond), c.tab
    FROM ext e, unnest(e.extconfig, e.extcondition) AS c(tab, cond)
    UNION ALL
    SELECT 'extension member', 0, 'extension member ' || pg_describe_object(d.classid, d.objid, d.objsubid),
           CASE WHEN d.classid = 'pg_class'::regclass THEN d.objid END
    FROM ext e JOIN pg_depend d ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid AND d.deptype = 'e'
    UNION ALL
    SELECT 'extension init-privs', 0,
           concat_ws(' ', 'extension init-privs', pg_describe_object(i.classoid, i.objoid, i.objsubid),
                     'type=' || i.privtype::text, 'acl=' || pg_temp.acl(i.initprivs)),
           CASE WHEN i.classoid = 'pg_class'::regclass THEN i.objoid END
    FROM ext e
    JOIN pg_depend d ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid AND d.deptype = 'e'
    JOIN pg_init_privs i ON i.classoid = d.classid AND i.objoid = d.objid
),
-- Partitions of httpq.history named after a day: made as days pass (and by an upgrade, for
-- the rows it keeps), so their number and names are no part of the catalog. What is: that
-- each is made like the model, history_default (columns, constraints, indexes, storage).
dated AS (
    SELECT c.oid, c.relname
    FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid
    WHERE i.inhparent = to_regclass('httpq.history') AND c.relname ~ '[0-9]{8}'
),
model AS (
    SELECT replace(l.line, 'history_default', '<partition>') AS line
    FROM lines l
    WHERE l.rel = to_regclass('httpq.history_default') AND l.key NOT LIKE 'extension%'
      AND l.line NOT LIKE 'relation % bound=%'
),
unlike_model AS (
    SELECT d.relname, x.line, x.what
    FROM dated d
    CROSS JOIN LATERAL (
        (SELECT replace(l.line, d.relname, '<partition>') AS line, 'has' AS what
         FROM lines l
         WHERE l.rel = d.oid AND l.key NOT LIKE 'extension%' AND l.line NOT LIKE 'relation % bound=%'
         EXCEPT
         SELECT m.line, 'has' FROM model m)
        UNION ALL
        (SELECT m.line, 'lacks' FROM model m
         EXCEPT
         SELECT replace(l.line, d.relname, '<partition>'), 'lacks'
         FROM lines l
         WHERE l.rel = d.oid AND l.key NOT LIKE 'extension%' AND l.line NOT LIKE 'relation % bound=%')
    ) AS x
    -- The 0.1.0 table an upgrade attaches keeps its key on id alone: stricter than the days'
    -- (id, finished_at), and rebuilding it would hold the upgrade for an index build over
    -- the whole history. Every other difference of it still shows.
    WHERE NOT (d.relname ~ '^history_before_[0-9]{8}$' AND x.line LIKE '%<partition>_pkey%')
)
SELECT line FROM (
    SELECT DISTINCT key, n, line FROM lines
    WHERE rel IS NULL OR rel NOT IN (SELECT oid FROM dated)
    UNION
    SELECT DISTINCT 'dated partition', 0,
           format('dated partition %s %s, unlike history_default: %s', pg_temp.undated(u.relname), u.what, u.line)
    FROM unlike_model u
) AS l
ORDER BY key COLLATE "C", n, line COLLATE "C";
