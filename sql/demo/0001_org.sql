-- Demo organization: loaded by deploy/local/run AS tianxing_owner after migrating, on every run
-- (idempotent: existing rows are left alone, so a password changed later stays changed). NEVER
-- loaded by migrations: production starts with no employees but the ones its admin creates.
--
-- Every demo user signs in with the password `tianxing-demo`. The hash below was made by
-- `echo tianxing-demo | tianxingd hash-password`; pass -v demo_password_hash=... to use another.
--
-- Departments A, B (business) and HR (hr); users:
--   admin (admin), hr (hr, HR), risk (risk_officer), auditor (auditor),
--   sup.a (supervisor, A), sup.b (supervisor, B),
--   staff.a1, staff.a2 (staff, A, supervised by sup.a), staff.b1, staff.b2 (staff, B, by sup.b).
\set ON_ERROR_STOP 1
\if :{?demo_password_hash}
\else
\set demo_password_hash '$scrypt$ln=15,r=8,p=1$XOUEq8S5BVq6C94TumbTCg$3rJwquL7yO5zPEprjIdHUK9uk0AHk0ohgxp4Z39Q6VA'
\endif

BEGIN;
-- The owner role is subject to FORCE ROW LEVEL SECURITY: write with the demo admin's claims,
-- through the same policies as a request.
SELECT set_config('tx.user_id', 'e0000000-0000-4000-8000-000000000001', true),
       set_config('tx.roles', 'admin', true),
       set_config('tx.department_id', '', true),
       set_config('tx.request_id', 'demo-data', true);

INSERT INTO org.departments (id, code, name, kind) VALUES
  ('d0000000-0000-4000-8000-00000000000a', 'A', '業務一部 Business A', 'business'),
  ('d0000000-0000-4000-8000-00000000000b', 'B', '業務二部 Business B', 'business'),
  ('d0000000-0000-4000-8000-00000000000c', 'HR', '人力資源部 Human resources', 'hr')
ON CONFLICT DO NOTHING;

-- Supervisors before their staff (supervisor_id references them).
INSERT INTO org.employees (id, username, display_name, email, department_id, supervisor_id, roles)
VALUES
  ('e0000000-0000-4000-8000-000000000001', 'admin', '系統管理員 Admin', 'admin@tianxing.example',
   NULL, NULL, '{admin}'),
  ('e0000000-0000-4000-8000-000000000002', 'hr', '人資專員 HR Officer', 'hr@tianxing.example',
   (SELECT id FROM org.departments WHERE code = 'HR'), NULL, '{hr}'),
  ('e0000000-0000-4000-8000-000000000003', 'risk', '風控專員 Risk Officer',
   'risk@tianxing.example', NULL, NULL, '{risk_officer}'),
  ('e0000000-0000-4000-8000-000000000004', 'auditor', '稽核 Auditor', 'auditor@tianxing.example',
   NULL, NULL, '{auditor}'),
  ('e0000000-0000-4000-8000-000000000005', 'sup.a', '業務主管甲 Supervisor A',
   'sup.a@tianxing.example', (SELECT id FROM org.departments WHERE code = 'A'), NULL,
   '{supervisor}'),
  ('e0000000-0000-4000-8000-000000000006', 'sup.b', '業務主管乙 Supervisor B',
   'sup.b@tianxing.example', (SELECT id FROM org.departments WHERE code = 'B'), NULL,
   '{supervisor}')
ON CONFLICT DO NOTHING;

INSERT INTO org.employees (id, username, display_name, email, department_id, supervisor_id, roles)
VALUES
  ('e0000000-0000-4000-8000-000000000007', 'staff.a1', '業務員甲一 Staff A1',
   'staff.a1@tianxing.example', (SELECT id FROM org.departments WHERE code = 'A'),
   (SELECT id FROM org.employees WHERE username = 'sup.a'), '{staff}'),
  ('e0000000-0000-4000-8000-000000000008', 'staff.a2', '業務員甲二 Staff A2',
   'staff.a2@tianxing.example', (SELECT id FROM org.departments WHERE code = 'A'),
   (SELECT id FROM org.employees WHERE username = 'sup.a'), '{staff}'),
  ('e0000000-0000-4000-8000-000000000009', 'staff.b1', '業務員乙一 Staff B1',
   'staff.b1@tianxing.example', (SELECT id FROM org.departments WHERE code = 'B'),
   (SELECT id FROM org.employees WHERE username = 'sup.b'), '{staff}'),
  ('e0000000-0000-4000-8000-000000000010', 'staff.b2', '業務員乙二 Staff B2',
   'staff.b2@tianxing.example', (SELECT id FROM org.departments WHERE code = 'B'),
   (SELECT id FROM org.employees WHERE username = 'sup.b'), '{staff}')
ON CONFLICT DO NOTHING;

-- Passwords only for demo users that have none yet (the owner may write credentials directly:
-- migration 0003's policies for the SECURITY DEFINER functions' owner).
INSERT INTO auth.credentials (employee_id, password_hash)
SELECT e.id, :'demo_password_hash'
  FROM org.employees e
 WHERE e.username IN ('admin', 'hr', 'risk', 'auditor', 'sup.a', 'sup.b', 'staff.a1', 'staff.a2',
                      'staff.b1', 'staff.b2')
ON CONFLICT DO NOTHING;
COMMIT;
