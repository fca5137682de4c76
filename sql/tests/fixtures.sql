-- Fixtures of the sql tier: loaded by tests/sql/run with psql AS tianxing_owner after migrating,
-- before pg_prove (this file is not a test; the runner leaves it out). Written through the same
-- policies as a request: the owner role is subject to FORCE ROW LEVEL SECURITY, so the claims of
-- an administrator are set first. Fixed ids, so that tests can name rows.
--
-- Departments  A 10000000-0000-4000-8000-00000000000a (business)
--              B 10000000-0000-4000-8000-00000000000b (business)
--              HR 10000000-0000-4000-8000-00000000000c (hr)
-- Employees 20000000-0000-4000-8000-0000000000NN:
--   01 admin     {admin}                 no department
--   02 hr        {hr}                    HR
--   03 risk      {risk_officer}          no department
--   04 auditor   {auditor}               no department
--   05 sup.a     {staff,supervisor}      A
--   06 sup.b     {supervisor}            B
--   07 staff.a1  {staff}                 A, supervisor sup.a      password hash $scrypt$fixture-a1
--   08 staff.a2  {staff}                 A, supervisor sup.a
--   09 staff.b1  {staff}                 B, supervisor sup.b
--   10 gone      {staff}                 A, inactive              password hash $scrypt$fixture-gone
--   11 admin2    {admin,hr}              HR
--   12 staff.x   {staff}                 no department, supervisor sup.a
-- Refresh tokens (SHA-256 of the strings below):
--   'expired-a1'  staff.a1, expired in 2020           family 30000000-0000-4000-8000-000000000001
--   'live-gone'   gone, not revoked (as if it had been issued before a revocation was missed)
--                                                     family 30000000-0000-4000-8000-000000000002
\set ON_ERROR_STOP 1
BEGIN;
SELECT set_config('tx.user_id', '20000000-0000-4000-8000-000000000001', true),
       set_config('tx.roles', 'admin', true),
       set_config('tx.department_id', '', true),
       set_config('tx.request_id', 'sql-fixtures', true);

INSERT INTO org.departments (id, code, name, kind) VALUES
  ('10000000-0000-4000-8000-00000000000a', 'A', '業務一部 Business A', 'business'),
  ('10000000-0000-4000-8000-00000000000b', 'B', '業務二部 Business B', 'business'),
  ('10000000-0000-4000-8000-00000000000c', 'HR', '人力資源部 Human resources', 'hr');

INSERT INTO org.employees (id, username, display_name, email, department_id, supervisor_id, roles)
VALUES
  ('20000000-0000-4000-8000-000000000001', 'admin', 'Admin', 'admin@example.test', NULL, NULL,
   '{admin}'),
  ('20000000-0000-4000-8000-000000000002', 'hr', 'HR Officer', NULL,
   '10000000-0000-4000-8000-00000000000c', NULL, '{hr}'),
  ('20000000-0000-4000-8000-000000000003', 'risk', 'Risk Officer', NULL, NULL, NULL,
   '{risk_officer}'),
  ('20000000-0000-4000-8000-000000000004', 'auditor', 'Auditor', NULL, NULL, NULL, '{auditor}'),
  ('20000000-0000-4000-8000-000000000005', 'sup.a', 'Supervisor A', NULL,
   '10000000-0000-4000-8000-00000000000a', NULL, '{staff,supervisor}'),
  ('20000000-0000-4000-8000-000000000006', 'sup.b', 'Supervisor B', NULL,
   '10000000-0000-4000-8000-00000000000b', NULL, '{supervisor}'),
  ('20000000-0000-4000-8000-000000000007', 'staff.a1', 'Staff A1', 'a1@example.test',
   '10000000-0000-4000-8000-00000000000a', '20000000-0000-4000-8000-000000000005', '{staff}'),
  ('20000000-0000-4000-8000-000000000008', 'staff.a2', 'Staff A2', NULL,
   '10000000-0000-4000-8000-00000000000a', '20000000-0000-4000-8000-000000000005', '{staff}'),
  ('20000000-0000-4000-8000-000000000009', 'staff.b1', 'Staff B1', NULL,
   '10000000-0000-4000-8000-00000000000b', '20000000-0000-4000-8000-000000000006', '{staff}'),
  ('20000000-0000-4000-8000-000000000010', 'gone', 'Former Staff', NULL,
   '10000000-0000-4000-8000-00000000000a', '20000000-0000-4000-8000-000000000005', '{staff}'),
  ('20000000-0000-4000-8000-000000000011', 'admin2', 'Second Admin', NULL,
   '10000000-0000-4000-8000-00000000000c', NULL, '{admin,hr}'),
  ('20000000-0000-4000-8000-000000000012', 'staff.x', 'Staff X', NULL, NULL,
   '20000000-0000-4000-8000-000000000005', '{staff}');

SELECT auth.set_password('20000000-0000-4000-8000-000000000007', '$scrypt$fixture-a1');
SELECT auth.set_password('20000000-0000-4000-8000-000000000010', '$scrypt$fixture-gone');

UPDATE org.employees SET active = false WHERE id = '20000000-0000-4000-8000-000000000010';

-- Tokens the functions cannot make: an expired one, and a live one of an inactive employee.
INSERT INTO auth.refresh_tokens (family_id, employee_id, token_hash, issued_at, expires_at) VALUES
  ('30000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000007',
   sha256('expired-a1'), '2020-01-01T00:00:00Z', '2020-01-02T00:00:00Z'),
  ('30000000-0000-4000-8000-000000000002', '20000000-0000-4000-8000-000000000010',
   sha256('live-gone'), now(), now() + interval '1 day');
COMMIT;
