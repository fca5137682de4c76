-- Backups (migration 0040, sql/code/ops/010_backups.sql; issue 14, C2.2): the policy parameter's
-- schema, what the runtime role may see and do, tx_meta.backup_status() on a database without
-- backups. A fresh and a stale backup are covered by the restore drill
-- (tests/faults/restore_drill.test.mjs), which records real ones as the superuser.
-- Run by tests/sql/run as tianxing_app. Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(9);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');

\ir lib/session.psql

-- The policy: hours, 1 to 744 (a month), an integer; 26 in force.
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(org.policy_value('backup_max_age_hours'), '26'::jsonb, 'backup_max_age_hours = 26');
SELECT results_eq(
  $$ SELECT org.json_schema_problem((SELECT schema FROM org.policy_parameters
                                      WHERE name = 'backup_max_age_hours'), v.x) IS NOT NULL
       FROM (VALUES (1, '0'::jsonb), (2, '745'), (3, '1.5'), (4, '"26"'), (5, '1'), (6, '744')) v(n, x)
      ORDER BY v.n $$,
  $$ VALUES (true), (true), (true), (true), (false), (false) $$,
  'the schema refuses 0, 745, 1.5 and "26"; takes 1 and 744');

-- Without anyone signed in (the probes /readyz and /metrics): the status, nothing else.
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', '', true);
SELECT throws_ok('SELECT * FROM tx_meta.backups', '42501', NULL, 'the runtime role cannot read the table');
SELECT throws_ok($$ INSERT INTO tx_meta.backups (label, kind, started_at, stopped_at)
                    VALUES ('x', 'full', now(), now()) $$, '42501', NULL, 'nor write it');
SELECT is((tx_meta.backup_status() ->> 'stale')::boolean, true, 'no backup recorded: stale');
SELECT ok(tx_meta.backup_status()::jsonb -> 'age_seconds' = 'null'::jsonb, 'no age without a backup');
SELECT is((tx_meta.backup_status() ->> 'max_age_seconds')::bigint, 93600::bigint,
          'the limit in seconds, read without a user (SECURITY DEFINER)');
SELECT is(tx_meta.backup_status()::jsonb ? 'last_label', true, 'the members are there, null when unknown');

SELECT * FROM finish();
ROLLBACK;
