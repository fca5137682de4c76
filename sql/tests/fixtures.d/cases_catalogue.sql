-- Catalogue rows the pgTAP files of module P need (reference data, P1.2), loaded by tests/sql/run
-- AS tianxing_owner after sql/tests/fixtures.sql. Until part A's API (api.business_type_*) is on
-- main, the owner writes them here; the CASES themselves go through the api functions and their
-- rules in the tests. Codes start with "fx-" so that lists can tell them apart.
--   51000000-...-01 fx-audit    active, in scope, versions 1 and 2 (current 2)
--   51000000-...-02 fx-tax      active, in scope, version 1
--   51000000-...-03 fx-outside  active, NOT in scope, version 1
--   51000000-...-04 fx-retired  inactive, in scope, version 1
-- Versions 52000000-...-NN: 11, 12 (fx-audit v1, v2), 21, 31, 41.
\set ON_ERROR_STOP 1
BEGIN;
SELECT set_config('tx.user_id', '20000000-0000-4000-8000-000000000001', true),
       set_config('tx.roles', 'admin', true),
       set_config('tx.department_id', '', true),
       set_config('tx.request_id', 'sql-fixtures-cases', true);
INSERT INTO cases.business_types (id, code, name, in_scope, active, current_version) VALUES
  ('51000000-0000-4000-8000-000000000001', 'fx-audit', '審計 Audit', true, true, 2),
  ('51000000-0000-4000-8000-000000000002', 'fx-tax', '稅務 Tax', true, true, 1),
  ('51000000-0000-4000-8000-000000000003', 'fx-outside', '範圍外 Outside', false, true, 1),
  ('51000000-0000-4000-8000-000000000004', 'fx-retired', '停辦 Retired', true, false, 1);
INSERT INTO cases.business_type_versions (id, business_type_id, version) VALUES
  ('52000000-0000-4000-8000-000000000011', '51000000-0000-4000-8000-000000000001', 1),
  ('52000000-0000-4000-8000-000000000012', '51000000-0000-4000-8000-000000000001', 2),
  ('52000000-0000-4000-8000-000000000021', '51000000-0000-4000-8000-000000000002', 1),
  ('52000000-0000-4000-8000-000000000031', '51000000-0000-4000-8000-000000000003', 1),
  ('52000000-0000-4000-8000-000000000041', '51000000-0000-4000-8000-000000000004', 1);
COMMIT;
