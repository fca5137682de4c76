-- Module G organization (migration 0003_org.sql, docs/identity.md): tx.begin_request(), the
-- row-level security of departments and employees for every role, and the api.department_* /
-- api.employee_* / api.me() functions. Fixtures: sql/tests/fixtures.sql.
-- Run by tests/sql/run as tianxing_app.
BEGIN;
SELECT plan(162);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');

-- Shorthands for the fixture ids: pg_temp.emp (lib/session.psql).
-- Become an employee for the rest of the transaction, the way the service does.
\ir lib/session.psql
-- Anonymous: the claims the service sets for a request without a token.
-- (pg_temp.anon: lib/session.psql.)
CREATE FUNCTION pg_temp.visible_employees() RETURNS text[] LANGUAGE sql STABLE AS $$
  SELECT coalesce(array_agg(username ORDER BY username), '{}') FROM org.employees $$;

-- Structure ---------------------------------------------------------------------------------
SELECT has_table('org', 'departments', 'org.departments exists');
SELECT has_table('org', 'employees', 'org.employees exists');
SELECT has_table('auth', 'credentials', 'auth.credentials exists');
SELECT has_table('auth', 'refresh_tokens', 'auth.refresh_tokens exists');
SELECT has_index('org', 'employees', 'employees_department_idx', 'employees(department_id) is indexed');
SELECT has_index('org', 'employees', 'employees_supervisor_idx', 'employees(supervisor_id) is indexed');
SELECT has_index('auth', 'refresh_tokens', 'refresh_tokens_family_idx', 'refresh_tokens(family_id) is indexed');
SELECT has_index('auth', 'refresh_tokens', 'refresh_tokens_employee_idx', 'refresh_tokens(employee_id) is indexed');
SELECT is((SELECT array_agg(privilege_type::text ORDER BY privilege_type) FROM information_schema.table_privileges
            WHERE grantee = 'tianxing_app' AND table_schema = 'org' AND table_name = 'employees'),
  ARRAY['INSERT', 'SELECT', 'UPDATE'], 'tianxing_app may SELECT, INSERT, UPDATE employees, nothing else');
SELECT is((SELECT array_agg(privilege_type::text ORDER BY privilege_type) FROM information_schema.table_privileges
            WHERE grantee = 'tianxing_app' AND table_schema = 'org' AND table_name = 'departments'),
  ARRAY['INSERT', 'SELECT', 'UPDATE'], 'tianxing_app may SELECT, INSERT, UPDATE departments, nothing else');
SELECT ok(NOT has_table_privilege('tianxing_app', 'org.employees', 'DELETE'), 'no DELETE on employees');
SELECT is_empty($$ SELECT 1 FROM information_schema.table_privileges
                    WHERE grantee IN ('tianxing_app', 'PUBLIC') AND table_schema = 'auth' $$,
  'no privilege on any auth table for tianxing_app or PUBLIC');

-- tx.begin_request ------------------------------------------------------------------------
SELECT ok((SELECT prosecdef FROM pg_proc WHERE oid = 'tx.begin_request(text,text,text)'::regprocedure),
  'tx.begin_request is SECURITY DEFINER');
SELECT is((SELECT proconfig FROM pg_proc WHERE oid = 'tx.begin_request(text,text,text)'::regprocedure),
  ARRAY['search_path=pg_catalog, pg_temp'], 'tx.begin_request pins search_path');
SELECT is((SELECT pg_get_userbyid(proowner)::text FROM pg_proc WHERE oid = 'tx.begin_request(text,text,text)'::regprocedure),
  'tianxing_owner', 'tx.begin_request belongs to tianxing_owner');
SELECT ok(NOT has_function_privilege('public', 'tx.begin_request(text,text,text)', 'EXECUTE'),
  'PUBLIC may not execute tx.begin_request');

SELECT throws_ok($$ SELECT tx.begin_request('nobody', 'staff', 'r1') $$, 'TXAUT', 'unauthorized',
  'an unknown username: TXAUT');
SELECT throws_ok($$ SELECT tx.begin_request('20000000-0000-4000-8000-0000000000ff', 'staff', 'r1') $$, 'TXAUT', NULL,
  'an unknown employee id: TXAUT');
SELECT throws_ok($$ SELECT tx.begin_request('gone', 'staff', 'r1') $$, 'TXAUT', NULL,
  'an inactive employee: TXAUT');
SELECT throws_ok($$ SELECT tx.begin_request('20000000-0000-4000-8000-000000000010', 'staff', 'r1') $$, 'TXAUT', NULL,
  'an inactive employee by id: TXAUT');
SELECT throws_ok($$ SELECT tx.begin_request('', 'staff', 'r1') $$, 'TXAUT', NULL, 'an empty subject: TXAUT');
SELECT throws_ok($$ SELECT tx.begin_request(NULL, 'staff', 'r1') $$, 'TXAUT', NULL, 'no subject: TXAUT');
SELECT throws_ok($$ SELECT tx.begin_request('STAFF.A1', 'staff', 'r1') $$, 'TXAUT', NULL,
  'usernames are exact (lower-case)');

SELECT is(tx.begin_request('staff.a1', 'staff,admin,hr', 'req-1'), 'staff',
  'roles the employee does not hold are dropped from the token''s roles');
SELECT is(tx.user_id(), pg_temp.emp('staff.a1'), 'tx.user_id is the employee');
SELECT is(tx.roles(), ARRAY['staff'], 'tx.roles is the intersection');
SELECT is(tx.department_id(), '10000000-0000-4000-8000-00000000000a'::uuid, 'tx.department_id is the employee''s');
SELECT is(tx.request_id(), 'req-1', 'tx.request_id is set');
SELECT is(tx.begin_request('20000000-0000-4000-8000-000000000005', 'supervisor,staff', 'req-2'), 'staff,supervisor',
  'by id; effective roles sorted');
SELECT is(tx.user_id(), pg_temp.emp('sup.a'), 'a second call replaces the claims');
SELECT is(tx.begin_request('sup.a', ' supervisor , bogus ', 'req-3'), 'supervisor', 'token roles are trimmed; unknown ones dropped');
SELECT is(tx.begin_request('sup.a', '', 'req-4'), '', 'a token without roles: no effective role');
SELECT is(tx.roles(), '{}'::text[], 'tx.roles is empty then');
SELECT is(tx.begin_request('admin', 'admin', NULL), 'admin', 'no request id is fine');
SELECT is(tx.department_id(), NULL, 'no department: tx.department_id() is NULL');
SELECT is(tx.request_id(), NULL, 'tx.request_id() is NULL');

-- Departments: every authenticated employee reads all; admin writes --------------------------
SELECT pg_temp.anon();
SELECT is_empty('SELECT * FROM org.departments', 'anonymous: no department visible');
SELECT pg_temp.be('staff.b1', 'staff');
SELECT is((SELECT count(*)::int FROM org.departments), 3, 'staff: all departments visible');
SELECT throws_ok($$ INSERT INTO org.departments (code, name, kind) VALUES ('Z', 'Z', 'business') $$, '42501', NULL,
  'staff: INSERT refused by row-level security');
SELECT is_empty($$ UPDATE org.departments SET name = 'x' RETURNING id $$, 'staff: UPDATE changes nothing');
SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok($$ INSERT INTO org.departments (code, name, kind) VALUES ('Z', 'Z', 'business') $$, '42501', NULL,
  'hr: INSERT refused');
SELECT pg_temp.be('admin', 'admin');
SELECT lives_ok($$ INSERT INTO org.departments (code, name, kind) VALUES ('Z', 'Zone', 'support') $$, 'admin: INSERT allowed');
SELECT is((SELECT version FROM org.departments WHERE code = 'Z'), 1, 'a new row has version 1');
UPDATE org.departments SET name = 'Zone 2' WHERE code = 'Z';
SELECT is((SELECT version FROM org.departments WHERE code = 'Z'), 2, 'an update bumps version');
SELECT throws_ok($$ DELETE FROM org.departments WHERE code = 'Z' $$, '42501', NULL, 'nobody deletes departments');

-- Employees: visibility per role ----------------------------------------------------------
SELECT pg_temp.anon();
SELECT is(pg_temp.visible_employees(), '{}'::text[], 'anonymous: no employee visible');
SELECT pg_temp.be('admin', 'admin');
SELECT is(cardinality(pg_temp.visible_employees()), 12, 'admin: every employee');
SELECT pg_temp.be('hr', 'hr');
SELECT is(cardinality(pg_temp.visible_employees()), 12, 'hr: every employee');
SELECT pg_temp.be('auditor', 'auditor');
SELECT is(cardinality(pg_temp.visible_employees()), 12, 'auditor: every employee');
SELECT pg_temp.be('sup.a', 'supervisor,staff');
SELECT is(pg_temp.visible_employees(), ARRAY['gone', 'staff.a1', 'staff.a2', 'staff.x', 'sup.a'],
  'supervisor: their department and their direct reports (staff.x is in no department)');
SELECT pg_temp.be('sup.a', 'staff');
SELECT is(pg_temp.visible_employees(), ARRAY['sup.a'], 'the same person with only the staff role in the token: themselves');
SELECT pg_temp.be('sup.b', 'supervisor');
SELECT is(pg_temp.visible_employees(), ARRAY['staff.b1', 'sup.b'], 'supervisor B: department B');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(pg_temp.visible_employees(), ARRAY['staff.a1'], 'staff: themselves only');
SELECT pg_temp.be('risk', 'risk_officer');
SELECT is(pg_temp.visible_employees(), ARRAY['risk'], 'risk officer: themselves only');

-- Employees: writes ----------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok($$ INSERT INTO org.employees (username, display_name, roles) VALUES ('x1', 'X', '{staff}') $$,
  '42501', NULL, 'staff: INSERT refused');
SELECT is_empty($$ UPDATE org.employees SET roles = '{admin}' WHERE id = tx.user_id() RETURNING id $$,
  'staff cannot update even themselves (no self-promotion)');
SELECT pg_temp.be('hr', 'hr');
SELECT is_empty($$ UPDATE org.employees SET display_name = 'x' RETURNING id $$, 'hr: UPDATE changes nothing');
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT is_empty($$ UPDATE org.employees SET display_name = 'x' RETURNING id $$, 'supervisor: UPDATE changes nothing');
SELECT pg_temp.be('admin', 'admin');
SELECT throws_ok($$ INSERT INTO org.employees (username, display_name, roles) VALUES ('x1', 'X', '{boss}') $$,
  '23514', NULL, 'roles are checked against the list');
SELECT throws_ok($$ INSERT INTO org.employees (username, display_name, roles) VALUES ('Bad Name', 'X', '{staff}') $$,
  '23514', NULL, 'usernames are checked');
SELECT throws_ok($$ DELETE FROM org.employees WHERE username = 'staff.a2' $$, '42501', NULL, 'nobody deletes employees');

-- API: departments -------------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(api.department_list(2, NULL)::jsonb -> 'items' -> 0 ->> 'code', 'A', 'department_list: ordered by code');
SELECT is(api.department_list(2, NULL)::jsonb ->> 'next_cursor', 'B', 'a full page gives a cursor');
SELECT is(api.department_list(2, 'HR')::jsonb, jsonb_build_object('items', jsonb_build_array(
            api.department_get((SELECT id FROM org.departments WHERE code = 'Z'))::jsonb), 'next_cursor', NULL),
  'the last page: the rest, no cursor');
SELECT throws_ok($$ SELECT api.department_list(0, NULL) $$, 'TXVAL', 'limit: must be between 1 and 200', 'limit 0: TXVAL');
SELECT throws_ok($$ SELECT api.department_list(201, NULL) $$, 'TXVAL', NULL, 'limit 201: TXVAL');
SELECT is((api.department_get('10000000-0000-4000-8000-00000000000a')::jsonb - 'created_at' - 'updated_at'),
  '{"id": "10000000-0000-4000-8000-00000000000a", "code": "A", "name": "業務一部 Business A", "kind": "business", "version": 1}'::jsonb,
  'department_get: the department');
SELECT ok(api.department_get('10000000-0000-4000-8000-00000000000a')::jsonb ->> 'created_at'
          ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$', 'timestamps are RFC 3339 UTC');
SELECT is(api.department_get('10000000-0000-4000-8000-0000000000ff')::jsonb, NULL, 'department_get: NULL when missing');
SELECT throws_ok($$ SELECT api.department_create('{"code": "Q", "name": "Q", "kind": "business"}') $$, '42501', NULL,
  'department_create: staff refused');
SELECT pg_temp.be('admin', 'admin');
SELECT throws_ok($$ SELECT api.department_create('{"code": "Q", "kind": "business"}') $$, 'TXVAL', 'name: is required',
  'department_create: a missing field is named');
SELECT throws_ok($$ SELECT api.department_create('{"code": "Q", "name": "Q", "kind": "shop"}') $$, 'TXVAL', NULL,
  'department_create: kind is checked');
SELECT throws_ok($$ SELECT api.department_create('{"code": "Q", "name": "Q", "kind": "business", "x": 1}') $$, 'TXVAL',
  'x: unknown field', 'department_create: unknown fields refused');
SELECT throws_ok($$ SELECT api.department_create('[]') $$, 'TXVAL', 'body: must be a JSON object', 'a body must be an object');
SELECT throws_ok($$ SELECT api.department_create('{"code": 5, "name": "Q", "kind": "business"}') $$, 'TXVAL',
  'code: must be a string', 'wrong JSON type named');
SELECT throws_ok($$ SELECT api.department_create('{"code": "A", "name": "Q", "kind": "business"}') $$, 'TXCON', NULL,
  'department_create: a taken code is a conflict');
SELECT is(api.department_create('{"code": "Q", "name": "Quality", "kind": "support"}')::jsonb ->> 'version', '1',
  'department_create: created with version 1');
SELECT throws_ok(format($$ SELECT api.department_update(%L, 9, '{"name": "Q2"}') $$,
                        (SELECT id FROM org.departments WHERE code = 'Q')), 'TXPRE', NULL,
  'department_update: a stale version is TXPRE');
SELECT throws_ok(format($$ SELECT api.department_update(%L, NULL, '{"name": "Q2"}') $$,
                        (SELECT id FROM org.departments WHERE code = 'Q')), 'TXVAL', NULL,
  'department_update: the expected version is required');
SELECT is(api.department_update((SELECT id FROM org.departments WHERE code = 'Q'), 1, '{"name": "Q2"}')::jsonb
            - 'id' - 'created_at' - 'updated_at',
  '{"code": "Q", "name": "Q2", "kind": "support", "version": 2}'::jsonb, 'department_update: patched, version 2');
SELECT throws_ok($$ SELECT api.department_update('10000000-0000-4000-8000-0000000000ff', 1, '{"name": "x"}') $$,
  'P0002', NULL, 'department_update: missing is P0002');
SELECT throws_ok(format($$ SELECT api.department_update(%L, 2, '{"name": null}') $$,
                        (SELECT id FROM org.departments WHERE code = 'Q')), 'TXVAL', 'name: must not be null',
  'department_update: null for a required field is refused');

-- API: employees ----------------------------------------------------------------------------
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT is((SELECT array_agg(e ->> 'username') FROM json_array_elements(api.employee_list(2, NULL, NULL, NULL) -> 'items') e),
  ARRAY['gone', 'staff.a1'], 'employee_list: by username, visible rows only');
SELECT is(api.employee_list(2, NULL, NULL, NULL)::jsonb ->> 'next_cursor', 'staff.a1', 'employee_list: cursor = last username');
SELECT is((SELECT array_agg(e ->> 'username') FROM json_array_elements(api.employee_list(10, 'staff.a1', NULL, NULL) -> 'items') e),
  ARRAY['staff.a2', 'staff.x', 'sup.a'], 'employee_list: the next page');
SELECT is((SELECT array_agg(e ->> 'username') FROM json_array_elements(api.employee_list(10, NULL, NULL, false) -> 'items') e),
  ARRAY['gone'], 'employee_list: active=false filter');
SELECT is(api.employee_get(pg_temp.emp('staff.b1'))::jsonb, NULL, 'employee_get: another department''s employee is invisible (NULL)');
SELECT pg_temp.be('admin', 'admin');
SELECT is((SELECT count(*)::int FROM json_array_elements(
            api.employee_list(50, NULL, '10000000-0000-4000-8000-00000000000b', NULL) -> 'items')), 2,
  'employee_list: department filter');
SELECT is(api.employee_get(pg_temp.emp('staff.a1'))::jsonb - 'created_at' - 'updated_at',
  jsonb_build_object('id', pg_temp.emp('staff.a1'), 'username', 'staff.a1', 'display_name', 'Staff A1',
                     'email', 'a1@example.test', 'department_id', '10000000-0000-4000-8000-00000000000a',
                     'supervisor_id', pg_temp.emp('sup.a'), 'roles', jsonb_build_array('staff'), 'active', true,
                     'deactivated_at', NULL, 'version', 1),
  'employee_get: the employee');
SELECT throws_ok($$ SELECT api.employee_create('{"username": "New", "display_name": "N", "roles": ["staff"]}') $$,
  'TXVAL', NULL, 'employee_create: username format');
SELECT throws_ok($$ SELECT api.employee_create('{"username": "new1", "display_name": "N", "roles": ["boss"]}') $$,
  'TXVAL', NULL, 'employee_create: unknown role');
SELECT throws_ok($$ SELECT api.employee_create('{"username": "new1", "display_name": "N", "roles": []}') $$,
  'TXVAL', 'roles: must hold at least one role', 'employee_create: no role');
SELECT throws_ok($$ SELECT api.employee_create('{"username": "new1", "display_name": "N"}') $$,
  'TXVAL', 'roles: is required', 'employee_create: roles required');
SELECT throws_ok($$ SELECT api.employee_create('{"username": "new1", "display_name": "N", "roles": ["staff"], "email": "nope"}') $$,
  'TXVAL', 'email: must be an e-mail address', 'employee_create: email checked');
SELECT throws_ok($$ SELECT api.employee_create('{"username": "new1", "display_name": "N", "roles": ["staff"], "department_id": "10000000-0000-4000-8000-0000000000ff"}') $$,
  'TXVAL', 'department_id: no such department', 'employee_create: department must exist');
SELECT throws_ok($$ SELECT api.employee_create('{"username": "new1", "display_name": "N", "roles": ["staff"], "supervisor_id": "20000000-0000-4000-8000-000000000010"}') $$,
  'TXVAL', 'supervisor_id: no such active employee', 'employee_create: supervisor must be active');
SELECT throws_ok($$ SELECT api.employee_create('{"username": "staff.a1", "display_name": "N", "roles": ["staff"]}') $$,
  'TXCON', NULL, 'employee_create: a taken username is a conflict');
SELECT is((api.employee_create(format('{"username": "new1", "display_name": "New One", "roles": ["staff", "staff"], "department_id": "%s", "supervisor_id": "%s"}',
            '10000000-0000-4000-8000-00000000000b', pg_temp.emp('sup.b'))::jsonb)::jsonb
          - 'id' - 'created_at' - 'updated_at'),
  jsonb_build_object('username', 'new1', 'display_name', 'New One', 'email', NULL,
                     'department_id', '10000000-0000-4000-8000-00000000000b', 'supervisor_id', pg_temp.emp('sup.b'),
                     'roles', jsonb_build_array('staff'), 'active', true, 'deactivated_at', NULL, 'version', 1,
                     'pending_grants', '[]'::jsonb),
  'employee_create: created (duplicate roles folded)');
SELECT throws_ok(format($$ SELECT api.employee_update(%L, 1, '{"username": "other"}') $$, pg_temp.emp('staff.a2')),
  'TXVAL', 'username: unknown field', 'employee_update: username cannot change');
SELECT throws_ok(format($$ SELECT api.employee_update(%L, 7, '{"display_name": "A2"}') $$, pg_temp.emp('staff.a2')),
  'TXPRE', NULL, 'employee_update: stale version');
SELECT throws_ok(format($$ SELECT api.employee_update(%L, 1, '{"supervisor_id": "%s"}') $$,
                        pg_temp.emp('sup.a'), pg_temp.emp('staff.a1')),
  'TXVAL', 'supervisor_id: would make the employee their own superior', 'employee_update: no supervisor cycles');
SELECT throws_ok(format($$ SELECT api.employee_update(%L, 1, '{"supervisor_id": "%s"}') $$,
                        pg_temp.emp('staff.a2'), pg_temp.emp('staff.a2')),
  'TXVAL', NULL, 'employee_update: nobody supervises themselves');
SELECT is(api.employee_update(pg_temp.emp('staff.a2'), 1, '{"display_name": "A Two", "email": "a2@example.test", "supervisor_id": null}')::jsonb
            - 'id' - 'created_at' - 'updated_at' - 'deactivated_at' - 'department_id' - 'active' - 'roles',
  '{"username": "staff.a2", "display_name": "A Two", "email": "a2@example.test", "supervisor_id": null, "version": 2, "pending_grants": []}'::jsonb,
  'employee_update: only the fields given change; null clears');
SELECT is(api.employee_update(pg_temp.emp('staff.a2'), 2, '{"email": null}')::jsonb ->> 'display_name', 'A Two',
  'employee_update: absent fields keep their value');

-- Deactivation, activation, and what they do to sign-in ------------------------------------
SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok(format($$ SELECT api.employee_set_active(%L, false) $$, pg_temp.emp('staff.a2')), '42501', NULL,
  'employee_set_active: hr refused');
SELECT pg_temp.be('admin', 'admin');
SELECT throws_ok(format($$ SELECT api.employee_set_active(%L, false) $$, pg_temp.emp('admin')), 'TXCON', NULL,
  'an admin cannot deactivate themselves');
SELECT throws_ok($$ SELECT api.employee_set_active('20000000-0000-4000-8000-0000000000ff', false) $$, 'P0002', NULL,
  'employee_set_active: missing is P0002');
SELECT auth.refresh_issue(pg_temp.emp('staff.a2'), NULL, sha256('org-test-a2'), 3600);
SELECT is(api.employee_set_active(pg_temp.emp('staff.a2'), false)::jsonb ->> 'active', 'false', 'deactivated');
SELECT isnt((SELECT deactivated_at FROM org.employees WHERE id = pg_temp.emp('staff.a2')), NULL, 'deactivated_at is set');
SELECT is((SELECT outcome FROM auth.refresh_rotate(sha256('org-test-a2'), sha256('org-test-a2-next'), 60)), 'invalid',
  'deactivation revoked the employee''s refresh tokens');
SELECT throws_ok($$ SELECT tx.begin_request('staff.a2', 'staff', 'r') $$, 'TXAUT', NULL,
  'a deactivated employee''s token stops working at the next request');
SELECT pg_temp.be('admin', 'admin');
SELECT is(api.employee_set_active(pg_temp.emp('staff.a2'), false)::jsonb ->> 'version',
          (SELECT version::text FROM org.employees WHERE id = pg_temp.emp('staff.a2')),
  'deactivating again changes nothing');
SELECT is(api.employee_set_active(pg_temp.emp('staff.a2'), true)::jsonb ->> 'deactivated_at', NULL, 'activated again');
SELECT is(pg_temp.be('staff.a2', 'staff'), 'staff', 'and can sign in again');

-- Role changes count at once --------------------------------------------------------------
SELECT pg_temp.be('admin', 'admin');
SELECT api.employee_update(pg_temp.emp('sup.b'), 1, '{"roles": ["staff"]}');
SELECT is(pg_temp.be('sup.b', 'supervisor,staff'), 'staff', 'a role taken away no longer counts, whatever the token says');

-- Privileged roles need a second administrator (issue 10 item 9) ------------------------------
SELECT pg_temp.be('admin', 'admin');
CREATE TEMP TABLE made AS SELECT api.employee_create('{"username": "new.hr", "display_name": "New HR", "roles": ["staff", "hr"]}')::jsonb AS j;
SELECT is((SELECT j -> 'roles' FROM made), '["staff"]'::jsonb, 'create: a privileged role is not held at once');
SELECT is((SELECT jsonb_path_query_array(j, '$.pending_grants[*].role') FROM made), '["hr"]'::jsonb,
  'create: ... it is proposed');
SELECT is((SELECT array_agg(status || ':' || proposed_by) FROM org.role_grants WHERE employee_id = (SELECT (j ->> 'id')::uuid FROM made)),
  ARRAY['proposed:' || pg_temp.emp('admin')], 'one proposal, by the creating admin');
SELECT throws_ok($$ UPDATE org.employees SET roles = '{staff,hr}' WHERE username = 'new.hr' $$, '42501',
  'the role hr is granted by a second administrator''s approval', 'a direct UPDATE cannot add a privileged role');
SELECT throws_ok($$ INSERT INTO org.employees (username, display_name, roles) VALUES ('sneaky', 'S', '{auditor}') $$, '42501', NULL,
  'nor a direct INSERT');
SELECT throws_ok($$ SELECT api.role_grant_decide((SELECT id FROM org.role_grants WHERE role = 'hr' AND status = 'proposed'), true, NULL) $$,
  '42501', NULL, 'four eyes: the proposer cannot approve');
SELECT is(pg_temp.be('new.hr', 'hr,staff'), 'staff', 'a proposed role does not count in a token');
SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok($$ SELECT api.role_grant_decide((SELECT id FROM org.role_grants WHERE status = 'proposed' LIMIT 1), true, NULL) $$,
  '42501', NULL, 'hr cannot decide');
SELECT pg_temp.be('admin2', 'admin');
SELECT is((api.role_grant_decide((SELECT id FROM org.role_grants WHERE role = 'hr' AND status = 'proposed'), true, 'ok')::jsonb
           ->> 'status'), 'approved', 'another admin approves');
SELECT is((SELECT roles FROM org.employees WHERE username = 'new.hr'), '{hr,staff}'::text[], '... and the role is held');
SELECT is(pg_temp.be('new.hr', 'hr,staff'), 'hr,staff', '... and counts');
SELECT pg_temp.be('admin2', 'admin');
SELECT api.employee_update(pg_temp.emp('staff.b1'), (SELECT version FROM org.employees WHERE id = pg_temp.emp('staff.b1')),
                           '{"roles": ["staff", "admin"]}');
SELECT is((SELECT roles FROM org.employees WHERE id = pg_temp.emp('staff.b1')), '{staff}'::text[], 'update: admin is proposed, not granted');
SELECT pg_temp.be('staff.b1', 'staff');
SELECT throws_ok($$ SELECT api.role_grant_decide((SELECT id FROM org.role_grants WHERE role = 'admin'), true, NULL) $$,
  '42501', NULL, 'the grantee cannot decide (not an admin)');
SELECT pg_temp.be('admin', 'admin');
SELECT throws_ok($$ SELECT api.role_grant_decide((SELECT id FROM org.role_grants WHERE role = 'admin'), false, NULL) $$,
  'TXVAL', 'reason: is required when rejecting', 'rejecting needs a reason');
SELECT is((api.role_grant_decide((SELECT id FROM org.role_grants WHERE role = 'admin'), false, 'no')::jsonb ->> 'status'),
  'rejected', 'another admin rejects');
SELECT is((SELECT roles FROM org.employees WHERE id = pg_temp.emp('staff.b1')), '{staff}'::text[], '... and the role is never held');
SELECT throws_ok($$ SELECT api.role_grant_decide((SELECT id FROM org.role_grants WHERE role = 'admin'), true, NULL) $$,
  'TXCON', NULL, 'a decided grant cannot be decided again');
SELECT is(json_array_length(api.role_grant_list('proposed', NULL) -> 'items'), 0, 'role_grant_list: nothing open');
SELECT is(json_array_length(api.role_grant_list(NULL, pg_temp.emp('staff.b1')) -> 'items'), 1, 'role_grant_list: by employee');
SELECT throws_ok($$ SELECT api.role_grant_list('maybe', NULL) $$, 'TXVAL', NULL, 'role_grant_list: status checked');
SELECT api.employee_update(pg_temp.emp('staff.b1'), (SELECT version FROM org.employees WHERE id = pg_temp.emp('staff.b1')),
                           '{"roles": ["auditor"]}');
SELECT pg_temp.be('admin2', 'admin');
SELECT is((api.role_grant_decide((SELECT id FROM org.role_grants WHERE role = 'auditor'), true, NULL)::jsonb ->> 'status'),
  'approved', 'roles removed go at once, the privileged one added on approval');
SELECT is((SELECT roles FROM org.employees WHERE id = pg_temp.emp('staff.b1')), '{auditor}'::text[], '... so staff.b1 is an auditor only');
SELECT pg_temp.be('staff.b1', 'staff');
SELECT is(json_array_length(api.role_grant_list(NULL, NULL) -> 'items'), 2, 'an employee reads their own grants');

-- A password set by somebody else is changed first (issue 10 item 9) --------------------------
SELECT pg_temp.be('admin', 'admin');
SELECT auth.set_password(pg_temp.emp('staff.a1'), '$scrypt$set-by-admin');
SELECT is(pg_temp.be('staff.a1', 'staff'), 'staff', 'begin_request still accepts the token');
SELECT is((api.me()::jsonb - 'department' - 'version') ->> 'must_change_password', 'true', 'me says the password must change');
SELECT is(api.me()::jsonb -> 'roles', '["staff"]'::jsonb, '... with the token''s roles (a sign-in mints a usable token)');
SELECT throws_ok($$ SELECT api.employee_list(10, NULL, NULL, NULL) $$, 'TXDEN',
  'change the password an administrator set first (POST /v1/me/password)', 'every other API function refuses');
SELECT is_empty($$ SELECT 1 FROM org.departments $$, 'row-level security shows nothing');
SELECT is(tx.user_id(), NULL, 'no employee claim');
SELECT is(auth.own_password_hash(), '$scrypt$set-by-admin', 'own_password_hash: the pending employee''s');
SELECT throws_ok($$ SELECT auth.change_own_password('$scrypt$set-by-admin', '$scrypt$mine', false, false) $$, 'TXVAL',
  'current_password: is not your current password', 'change: the current password must be right');
SELECT throws_ok($$ SELECT auth.change_own_password('$scrypt$set-by-admin', '$scrypt$mine', true, true) $$, 'TXVAL',
  'new_password: must differ from the current password', 'change: a new password');
SELECT throws_ok($$ SELECT auth.change_own_password('$scrypt$other', '$scrypt$mine', true, false) $$, 'TXCON', NULL,
  'change: a password reset meanwhile is a conflict');
SELECT lives_ok($$ SELECT auth.change_own_password('$scrypt$set-by-admin', '$scrypt$mine', true, false) $$, 'change: done');
SELECT is(pg_temp.be('staff.a1', 'staff'), 'staff', 'the next request');
SELECT is(tx.user_id(), pg_temp.emp('staff.a1'), '... is the employee again');
SELECT is(api.me()::jsonb ->> 'must_change_password', 'false', '... and me says so');
SELECT pg_temp.be('admin', 'admin');
SELECT auth.set_password(pg_temp.emp('admin'), '$scrypt$admin-own');
SELECT is(pg_temp.be('admin', 'admin'), 'admin', 'one''s own password set as admin needs no change');
SELECT is(tx.user_id(), pg_temp.emp('admin'), '... the admin stays themselves');

-- api.me ---------------------------------------------------------------------------------
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT is(api.me()::jsonb,
  jsonb_build_object('id', pg_temp.emp('sup.a'), 'username', 'sup.a', 'display_name', 'Supervisor A', 'email', NULL,
                     'department', jsonb_build_object('id', '10000000-0000-4000-8000-00000000000a', 'code', 'A',
                                                      'name', '業務一部 Business A'),
                     'supervisor_id', NULL, 'roles', jsonb_build_array('supervisor'),
                     'employee_roles', jsonb_build_array('staff', 'supervisor'), 'active', true, 'version', 1,
                     'must_change_password', false),
  'me: effective roles and the roles held');
SELECT pg_temp.be('admin', 'admin');
SELECT is(api.me()::jsonb -> 'department', 'null'::jsonb, 'me: no department is null');
SELECT pg_temp.anon();
SELECT throws_ok($$ SELECT api.me() $$, 'TXAUT', NULL, 'me: anonymous is TXAUT');
SELECT throws_ok($$ SELECT api.employee_list(10, NULL, NULL, NULL) $$, 'TXAUT', NULL, 'lists need an employee');

-- Functions: invoker rights, executable by the runtime role only ------------------------------
SELECT is_empty($$ SELECT p.oid::regprocedure::text FROM pg_proc p
                    WHERE p.pronamespace = 'api'::regnamespace AND p.prosecdef $$,
  'every api function is SECURITY INVOKER (row-level security applies)');
SELECT is_empty($$ SELECT p.oid::regprocedure::text FROM pg_proc p
                    WHERE p.pronamespace IN ('api'::regnamespace, 'auth'::regnamespace, 'org'::regnamespace)
                      AND (p.proacl IS NULL OR EXISTS (SELECT FROM aclexplode(p.proacl) a
                                                        WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')) $$,
  'PUBLIC may execute no api, auth or org function');
SELECT is_empty($$ SELECT p.oid::regprocedure::text FROM pg_proc p
                    WHERE p.pronamespace = 'api'::regnamespace
                      AND pg_get_userbyid(p.proowner) <> 'tianxing_owner' $$,
  'api functions belong to tianxing_owner');

SELECT * FROM finish();
ROLLBACK;
