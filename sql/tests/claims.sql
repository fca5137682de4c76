-- The claims helpers of migration 0001 that every row-level-security policy reads: tx.claim(),
-- tx.user_id(), tx.roles(), tx.has_role(), tx.department_id(), tx.request_id(). The service sets
-- the claims per transaction with set_config(name, value, true) (src/db/tx.c), '' for "none".
-- Run by tests/sql/run as tianxing_app.
BEGIN;
SELECT plan(45);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');

-- The helpers exist with these signatures and return types.
SELECT has_function('tx', 'claim', ARRAY['text'], 'tx.claim(text) exists');
SELECT function_returns('tx', 'claim', ARRAY['text'], 'text', 'tx.claim(text) returns text');
SELECT function_returns('tx', 'user_id', ARRAY[]::text[], 'uuid', 'tx.user_id() returns uuid');
SELECT function_returns('tx', 'department_id', ARRAY[]::text[], 'uuid', 'tx.department_id() returns uuid');
SELECT function_returns('tx', 'request_id', ARRAY[]::text[], 'text', 'tx.request_id() returns text');
SELECT function_returns('tx', 'roles', ARRAY[]::text[], 'text[]', 'tx.roles() returns text[]');
SELECT function_returns('tx', 'has_role', ARRAY['text'], 'boolean', 'tx.has_role(text) returns boolean');

-- STABLE, so that policies can evaluate them once per statement as (SELECT tx.user_id()).
SELECT is_empty(
  $$ SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'tx'::regnamespace
       AND p.proname IN ('claim', 'user_id', 'roles', 'has_role', 'department_id', 'request_id')
       AND p.provolatile <> 's' $$,
  'the claims helpers are STABLE');
SELECT is((SELECT count(*)::int FROM pg_proc p WHERE p.pronamespace = 'tx'::regnamespace
             AND p.proname IN ('claim', 'user_id', 'roles', 'has_role', 'department_id', 'request_id')),
  6, 'six claims helpers (the STABLE check above looked at all of them)');
-- The one exception (docs/identity.md): tx.begin_request, which looks the employee up before any
-- claim exists (tested in org.sql).
SELECT is_empty(
  $$ SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'tx'::regnamespace AND p.prosecdef
       AND p.oid <> 'tx.begin_request(text,text,text)'::regprocedure $$,
  'no tx function but tx.begin_request is SECURITY DEFINER');

-- Privileges: PUBLIC may execute no tx function (a NULL proacl means the default, which grants
-- EXECUTE to PUBLIC); tianxing_app may execute the helpers.
SELECT is_empty(
  $$ SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'tx'::regnamespace
       AND (p.proacl IS NULL
            OR EXISTS (SELECT FROM aclexplode(p.proacl) a
                       WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')) $$,
  'PUBLIC has no EXECUTE on any tx function');
SELECT ok(has_function_privilege('tianxing_app', 'tx.claim(text)', 'EXECUTE'), 'tianxing_app may execute tx.claim');
SELECT ok(has_function_privilege('tianxing_app', 'tx.has_role(text)', 'EXECUTE'), 'tianxing_app may execute tx.has_role');
SELECT ok(has_schema_privilege('tianxing_app', 'tx', 'USAGE'), 'tianxing_app has USAGE on tx');
SELECT ok(NOT has_schema_privilege('public', 'tx', 'USAGE'), 'PUBLIC has no USAGE on tx');
-- Functions the owner creates later are not executable by PUBLIC either (default privileges).
SELECT ok(
  EXISTS (SELECT FROM pg_default_acl d
          WHERE d.defaclrole = 'tianxing_owner'::regrole AND d.defaclobjtype = 'f'
            AND d.defaclnamespace = 0
            AND NOT EXISTS (SELECT FROM aclexplode(d.defaclacl) a WHERE a.grantee = 0)),
  'default privileges of tianxing_owner grant PUBLIC no EXECUTE on new functions');

-- No claims set: NULL, an empty array, false.
SELECT is(tx.claim('user_id'), NULL, 'no claims: tx.claim(''user_id'') is NULL');
SELECT is(tx.claim('no_such_claim'), NULL, 'an unknown claim is NULL');
SELECT is(tx.user_id(), NULL, 'no claims: tx.user_id() is NULL');
SELECT is(tx.department_id(), NULL, 'no claims: tx.department_id() is NULL');
SELECT is(tx.request_id(), NULL, 'no claims: tx.request_id() is NULL');
SELECT is(tx.roles(), '{}'::text[], 'no claims: tx.roles() is an empty array');
SELECT is(tx.has_role('staff'), false, 'no claims: tx.has_role(''staff'') is false');

-- Claims set the way the service sets them (transaction-local).
SELECT set_config('tx.user_id', '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f', true),
       set_config('tx.roles', 'staff,supervisor', true),
       set_config('tx.department_id', '0a1b2c3d-4e5f-4a6b-9c7d-8e9fa0b1c2d3', true),
       set_config('tx.request_id', 'req-42', true);
SELECT is(tx.claim('user_id'), '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f', 'tx.claim reads tx.<name>');
SELECT is(tx.user_id(), '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f'::uuid, 'tx.user_id() returns the claim as uuid');
SELECT is(tx.department_id(), '0a1b2c3d-4e5f-4a6b-9c7d-8e9fa0b1c2d3'::uuid, 'tx.department_id() returns the claim');
SELECT is(tx.request_id(), 'req-42', 'tx.request_id() returns the claim');
SELECT is(tx.roles(), ARRAY['staff', 'supervisor'], 'tx.roles() splits the comma list');
SELECT is(tx.has_role('staff'), true, 'has_role(''staff'')');
SELECT is(tx.has_role('supervisor'), true, 'has_role(''supervisor'')');
SELECT is(tx.has_role('admin'), false, 'not has_role(''admin'')');
SELECT is(tx.has_role('staff,supervisor'), false, 'the whole list is not a role');
SELECT is(tx.has_role('Staff'), false, 'roles are case-sensitive');
SELECT is(tx.has_role(''), false, 'the empty role is not held');

-- '' (what a pooled connection reads after a claim was once set) means "no claim".
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', '', true),
       set_config('tx.department_id', '', true), set_config('tx.request_id', '', true);
SELECT is(tx.claim('user_id'), NULL, '''''  reads as NULL (NULLIF)');
SELECT is(tx.user_id(), NULL, 'tx.user_id() is NULL for ''''');
SELECT is(tx.department_id(), NULL, 'tx.department_id() is NULL for ''''');
SELECT is(tx.request_id(), NULL, 'tx.request_id() is NULL for ''''');
SELECT is(tx.roles(), '{}'::text[], 'tx.roles() is empty for ''''');
SELECT is(tx.has_role('staff'), false, 'no role held for ''''');

-- A single role; a malformed uuid claim fails closed (an error, never a wrong identity).
SELECT set_config('tx.roles', 'admin', true);
SELECT is(tx.roles(), ARRAY['admin'], 'a single role');
SELECT is(tx.has_role('admin'), true, 'has_role(''admin'') with a single role');
SELECT set_config('tx.user_id', 'not-a-uuid', true);
SELECT throws_ok('SELECT tx.user_id()', '22P02', NULL, 'a malformed user_id claim raises instead of matching');

-- Transaction-local settings end with their (sub)transaction.
SAVEPOINT s;
SELECT set_config('tx.user_id', 'ffffffff-ffff-4fff-bfff-ffffffffffff', true);
ROLLBACK TO SAVEPOINT s;
SELECT is(tx.claim('user_id'), 'not-a-uuid', 'a claim set in a rolled-back savepoint is gone');

SELECT * FROM finish();
ROLLBACK;
