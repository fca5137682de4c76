-- The two roles of the security model (DESIGN.md; sql/bootstrap.sql, migration 0001):
-- tianxing_app, the runtime role, has no dangerous attribute, owns nothing and can create nothing,
-- so row-level security always applies to it; tianxing_owner owns the schemas.
-- Run by tests/sql/run as tianxing_app.
BEGIN;
SELECT plan(35);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');

-- Attributes.
SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'tianxing_app'), false, 'tianxing_app is not superuser');
SELECT is((SELECT rolbypassrls FROM pg_roles WHERE rolname = 'tianxing_app'), false, 'tianxing_app is not BYPASSRLS');
SELECT is((SELECT rolcreaterole FROM pg_roles WHERE rolname = 'tianxing_app'), false, 'tianxing_app cannot create roles');
SELECT is((SELECT rolcreatedb FROM pg_roles WHERE rolname = 'tianxing_app'), false, 'tianxing_app cannot create databases');
SELECT is((SELECT rolreplication FROM pg_roles WHERE rolname = 'tianxing_app'), false, 'tianxing_app is not a replication role');
SELECT is_empty(
  $$ SELECT r.rolname::text FROM pg_roles r
     WHERE r.rolname <> 'tianxing_app' AND pg_has_role('tianxing_app', r.oid, 'MEMBER') $$,
  'tianxing_app is a member of no other role (it cannot borrow one''s privileges)');
SELECT throws_ok('CREATE ROLE tx_sql_test_intruder', '42501', NULL, 'CREATE ROLE is refused');
SELECT throws_ok('ALTER ROLE tianxing_app BYPASSRLS', '42501', NULL, 'tianxing_app cannot give itself BYPASSRLS');
SELECT throws_ok('SET ROLE tianxing_owner', '42501', NULL, 'tianxing_app cannot become the owner');
SELECT is((SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = 'tianxing_owner'), false,
  'tianxing_owner is neither superuser nor BYPASSRLS');

-- Ownership.
SELECT is_empty(
  $$ SELECT 'schema ' || nspname FROM pg_namespace WHERE nspowner = 'tianxing_app'::regrole
     UNION ALL
     SELECT 'relation ' || c.oid::regclass FROM pg_class c
       WHERE c.relowner = 'tianxing_app'::regrole AND c.relpersistence <> 't'
     UNION ALL
     SELECT 'function ' || p.oid::regprocedure FROM pg_proc p WHERE p.proowner = 'tianxing_app'::regrole
       AND p.pronamespace <> pg_my_temp_schema()
     UNION ALL
     SELECT 'type ' || t.oid::regtype FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
       WHERE t.typowner = 'tianxing_app'::regrole
         AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
     UNION ALL
     SELECT 'database ' || datname FROM pg_database WHERE datdba = 'tianxing_app'::regrole
     UNION ALL
     SELECT 'extension ' || extname FROM pg_extension WHERE extowner = 'tianxing_app'::regrole
     UNION ALL
     SELECT 'large object ' || oid FROM pg_largeobject_metadata WHERE lomowner = 'tianxing_app'::regrole $$,
  'tianxing_app owns no schema, relation, function, type, database, extension or large object');
SELECT is((SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = current_database()),
  'tianxing_owner', 'tianxing_owner owns the database');
SELECT schema_owner_is('tx', 'tianxing_owner', 'tianxing_owner owns schema tx');
SELECT schema_owner_is('tx_meta', 'tianxing_owner', 'tianxing_owner owns schema tx_meta');
SELECT table_owner_is('tx_meta', 'schema_migrations', 'tianxing_owner', 'tianxing_owner owns the ledger');
SELECT is_empty(
  $$ SELECT 'relation ' || c.oid::regclass FROM pg_class c
       WHERE c.relnamespace IN ('tx'::regnamespace, 'tx_meta'::regnamespace)
         AND c.relowner <> 'tianxing_owner'::regrole
     UNION ALL
     SELECT 'function ' || p.oid::regprocedure FROM pg_proc p
       WHERE p.pronamespace IN ('tx'::regnamespace, 'tx_meta'::regnamespace)
         AND p.proowner <> 'tianxing_owner'::regrole $$,
  'everything in tx and tx_meta belongs to tianxing_owner');

-- No CREATE anywhere.
SELECT ok(NOT has_database_privilege('tianxing_app', current_database(), 'CREATE'),
  'tianxing_app has no CREATE on the database');
SELECT ok(NOT has_schema_privilege('tianxing_app', 'public', 'CREATE'), 'no CREATE on schema public');
SELECT ok(NOT has_schema_privilege('tianxing_app', 'tx', 'CREATE'), 'no CREATE on schema tx');
SELECT ok(NOT has_schema_privilege('tianxing_app', 'tx_meta', 'CREATE'), 'no CREATE on schema tx_meta');
SELECT throws_ok('CREATE SCHEMA intruder', '42501', NULL, 'CREATE SCHEMA is refused');
SELECT throws_ok('CREATE TABLE public.intruder (id int)', '42501', NULL, 'CREATE TABLE in public is refused');
SELECT throws_ok('CREATE TABLE tx.intruder (id int)', '42501', NULL, 'CREATE TABLE in tx is refused');
SELECT throws_ok('CREATE TABLE tx_meta.intruder (id int)', '42501', NULL, 'CREATE TABLE in tx_meta is refused');
SELECT throws_ok('CREATE FUNCTION tx.intruder() RETURNS int LANGUAGE sql AS $f$ SELECT 1 $f$', '42501', NULL,
  'CREATE FUNCTION in tx is refused');
SELECT throws_ok('CREATE VIEW public.intruder AS SELECT 1 AS x', '42501', NULL, 'CREATE VIEW in public is refused');

-- The migration ledger: readable, not writable.
SELECT isnt_empty('SELECT version FROM tx_meta.schema_migrations', 'tianxing_app can read the ledger');
SELECT throws_ok(
  $$ INSERT INTO tx_meta.schema_migrations (version, name, checksum)
     VALUES (9000, '9000_forged.sql', repeat('0', 64)) $$,
  '42501', NULL, 'INSERT into the ledger is denied');
SELECT throws_ok($$ UPDATE tx_meta.schema_migrations SET checksum = repeat('0', 64) $$, '42501', NULL,
  'UPDATE of the ledger is denied');
SELECT throws_ok('DELETE FROM tx_meta.schema_migrations', '42501', NULL, 'DELETE from the ledger is denied');
SELECT throws_ok('TRUNCATE tx_meta.schema_migrations', '42501', NULL, 'TRUNCATE of the ledger is denied');
SELECT throws_ok('ALTER TABLE tx_meta.schema_migrations DISABLE ROW LEVEL SECURITY', '42501', NULL,
  'ALTER TABLE on the ledger is denied');
SELECT throws_ok('LOCK TABLE tx_meta.schema_migrations IN ACCESS EXCLUSIVE MODE', '42501', NULL,
  'tianxing_app cannot take a write lock on the ledger');
SELECT is_empty(
  $$ SELECT privilege_type FROM information_schema.table_privileges
     WHERE grantee IN ('tianxing_app', 'PUBLIC') AND table_schema = 'tx_meta'
       AND table_name = 'schema_migrations' AND privilege_type <> 'SELECT' $$,
  'SELECT is the only privilege on the ledger granted to tianxing_app or PUBLIC');

SELECT * FROM finish();
ROLLBACK;
