-- The row-level-security guard: every ordinary or partitioned table outside the system schemas,
-- tx_meta (the migration ledger, read-only to the runtime role) and extension members must have
-- row-level security ENABLED and FORCED, so that no business table can be added without policies
-- applying to the runtime role (and to the owner). Later migrations must keep this test green.
-- Run by tests/sql/run as tianxing_app.
BEGIN;
SELECT plan(9);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');

-- The guard, as a function of this session only (tianxing_app may create temporary objects, not
-- permanent ones). only_ns = NULL: the real guard, over every permanent schema; only_ns = a schema
-- oid: the same predicate over that schema alone (used to prove the guard can fail).
CREATE FUNCTION pg_temp.rls_offenders(only_ns oid DEFAULT NULL) RETURNS SETOF text
  LANGUAGE sql STABLE AS $$
  SELECT format('%I.%I', n.nspname, c.relname)
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p')
    AND NOT (c.relrowsecurity AND c.relforcerowsecurity)
    AND CASE WHEN only_ns IS NULL THEN
          n.nspname NOT IN ('pg_catalog', 'information_schema', 'tx_meta', 'pg_toast')
          AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
          -- tables that belong to an extension (e.g. pgTAP's, PostGIS's spatial_ref_sys)
          AND NOT EXISTS (SELECT FROM pg_depend d
                          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                            AND d.deptype = 'e')
        ELSE n.oid = only_ns END
  ORDER BY 1
$$;

SELECT is_empty('SELECT * FROM pg_temp.rls_offenders()',
  'every table has row-level security enabled and forced');

-- The runtime role sees the same catalog as the owner would: the guard cannot pass merely because
-- tables are hidden from it (pg_class is readable by everyone).
SELECT isnt_empty($$ SELECT FROM pg_class WHERE relname = 'schema_migrations' $$,
  'the catalog is visible to the runtime role');

-- Self-check: the guard flags a table without RLS, then one with RLS not forced, and accepts it
-- once forced. A temporary table stands in for a business table (the only kind this role can make).
-- (pgTAP keeps its own scratch tables in the temporary schema too: look at the probes only.)
CREATE FUNCTION pg_temp.probe_offenders() RETURNS SETOF text LANGUAGE sql STABLE AS $$
  SELECT o FROM pg_temp.rls_offenders(pg_my_temp_schema()) o WHERE o ~ '\.guard_probe' ORDER BY 1
$$;
CREATE TEMP TABLE guard_probe (id int);
CREATE TEMP TABLE guard_probe_part (id int) PARTITION BY RANGE (id);
SELECT is(
  (SELECT array_agg(o ORDER BY o) FROM pg_temp.probe_offenders() o),
  (SELECT ARRAY[format('%I.guard_probe', nspname), format('%I.guard_probe_part', nspname)]
     FROM pg_namespace WHERE oid = pg_my_temp_schema()),
'the guard flags an ordinary and a partitioned table without row-level security');

ALTER TABLE guard_probe ENABLE ROW LEVEL SECURITY;
ALTER TABLE guard_probe_part ENABLE ROW LEVEL SECURITY;
SELECT is((SELECT count(*)::int FROM pg_temp.probe_offenders()), 2,
  'enabled but not forced is still flagged (the owner would bypass its policies)');

ALTER TABLE guard_probe FORCE ROW LEVEL SECURITY;
SELECT is((SELECT count(*)::int FROM pg_temp.probe_offenders()), 1,
  'forcing row-level security clears the ordinary table');
ALTER TABLE guard_probe_part FORCE ROW LEVEL SECURITY;
SELECT is_empty('SELECT * FROM pg_temp.probe_offenders()',
  'enabled and forced: nothing flagged');

-- Views and other relation kinds are not tables: the guard ignores them.
CREATE TEMP VIEW guard_probe_view AS SELECT 1 AS x;
SELECT is_empty('SELECT * FROM pg_temp.probe_offenders()', 'views are not flagged');

-- And the real guard never looks at temporary schemas (sessions' scratch tables are not data).
CREATE TEMP TABLE scratch (id int);
SELECT is_empty('SELECT * FROM pg_temp.rls_offenders()', 'the guard ignores temporary tables');

SELECT * FROM finish();
ROLLBACK;
