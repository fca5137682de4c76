-- Rows in every table of a database at 0012, made through the API functions as the service would
-- (run by tests/api/upgrade.test.mjs as tianxing_app, after sql/tests/fixtures.sql). The test
-- refuses to go on when a table is still empty, so a new table needs a line here.
\set ON_ERROR_STOP 1
BEGIN;
\ir ../../sql/tests/lib/session.psql
CREATE FUNCTION pg_temp.ct(n int, seed text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT '\x01' || encode(substr(sha512(convert_to(seed, 'UTF8')) || sha512(convert_to(seed || '+', 'UTF8')), 1, n - 1), 'hex') $$;
CREATE FUNCTION pg_temp.bi(seed text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT '\x' || encode(sha256(convert_to('bidx:' || seed, 'UTF8')), 'hex') $$;
CREATE FUNCTION pg_temp.c(n int) RETURNS uuid LANGUAGE sql IMMUTABLE AS $$
  SELECT ('49000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid $$;
CREATE FUNCTION pg_temp.body(n int) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object(
    'id', pg_temp.c(n), 'name', '升級' || n, 'company_name', '升級貿易' || n || '有限公司',
    'business_scope', '進出口貿易', 'status', 'active', 'needs', '低價', 'concerns', '交期',
    'address_enc', pg_temp.ct(40, 'addr' || n),
    'credit_code_enc', pg_temp.ct(36, 'cc' || n), 'credit_code_bidx', pg_temp.bi('cc' || n),
    'verified', true,
    'contacts', jsonb_build_array(jsonb_build_object(
      'id', ('49100000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid, 'name', '李四' || n, 'position', '經理',
      'phone_enc', pg_temp.ct(41, 'ph' || n), 'phone_bidx', pg_temp.bi('ph' || n),
      'email_enc', pg_temp.ct(50, 'em' || n), 'email_bidx', pg_temp.bi('em' || n))),
    'dek', jsonb_build_object('key_id', 'mk1', 'wrapped', pg_temp.ct(60, 'dek' || n))) $$;

-- Customers, a contract, a follow-up, a team member, a full read (the PII read log).
SELECT pg_temp.be('staff.a1', 'staff');
SELECT api.customer_create(pg_temp.body(1));
SELECT api.customer_create(pg_temp.body(2));
SELECT api.contract_create(pg_temp.c(1), '{"amount": "12000.00", "currency": "CNY", "signed_on": "2024-03-01"}');
SELECT api.follow_up_create(pg_temp.c(1), '{"on": "2024-03-01", "channel": "visit", "summary": "upgrade"}');
SELECT api.customer_get(pg_temp.c(1));
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT api.customer_team_set(pg_temp.c(1), '{"members": ["20000000-0000-4000-8000-000000000008"]}');

-- A recipient with an NDA; a consent; a disclosure.
SELECT pg_temp.be('admin', 'admin');
INSERT INTO ids SELECT 'acme', (api.recipient_create('{"name": "Upgrade Credit", "kind": "company"}') ->> 'id')::uuid;
SELECT api.nda_create((SELECT id FROM ids WHERE name = 'acme'),
  jsonb_build_object('signed_on', current_date - 10, 'expires_on', current_date + 365,
                     'document_sha256', encode(sha256('nda'), 'hex')));
SELECT pg_temp.be('staff.a1', 'staff');
SELECT api.consent_create(pg_temp.c(1), jsonb_build_object(
  'recipient_id', (SELECT id FROM ids WHERE name = 'acme'), 'purpose', 'Credit check',
  'allowed_fields', '["name"]'::jsonb, 'document_sha256', encode(sha256('consent'), 'hex'),
  'valid_from', current_date, 'valid_until', current_date + 30));
SELECT api.disclosure_create(pg_temp.c(1), (SELECT id FROM ids WHERE name = 'acme'), 'Credit check');

-- A regulation acknowledged; a policy value proposed; an idempotent response kept.
SELECT api.regulation_acknowledge((SELECT id FROM org.regulations ORDER BY code LIMIT 1));
SELECT tx.idempotency_store('upgrade-key', 'POST /v1/customers', repeat('a', 64), 201, '{}', pg_temp.c(2)::text);
COMMIT;
