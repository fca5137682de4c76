-- Module C, sharing and disposal (migration 0007_customer_sharing.sql, docs/customers.md "Second
-- slice"): recipients and NDAs (C3.3), written consents with scope and purpose (C3.2), the
-- append-only disclosures ledger and its refusals (C3.1, TXDEN), legal hold, deactivation and
-- disposal by crypto-shredding (C4.3), row-level security per role on the new tables.
-- Run by tests/sql/run as tianxing_app. Fixtures: sql/tests/fixtures.sql (employees and
-- departments only; customers are made here through api.customer_create).
BEGIN;
SELECT plan(148);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');

-- Helpers ------------------------------------------------------------------------------------
\ir lib/session.psql
\ir lib/customers.psql
\ir lib/risk_credit.psql
-- A complete customer n with one contact, owned by the caller.
CREATE FUNCTION pg_temp.shared_customer_body(n int, status text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object(
    'id', pg_temp.c(n), 'name', '王小明' || n, 'company_name', '天星貿易' || n || '有限公司',
    'business_scope', '進出口貿易', 'status', status, 'needs', '低價', 'concerns', '交期',
    'address_enc', pg_temp.ct(40, 'addr' || n),
    'credit_code_enc', pg_temp.ct(36, 'cc' || n), 'credit_code_bidx', pg_temp.bi('cc' || n),
    'verified', true,
    'contacts', jsonb_build_array(jsonb_build_object(
      'id', pg_temp.k(n), 'name', '李四' || n, 'position', '經理',
      'phone_enc', pg_temp.ct(41, 'ph' || n), 'phone_bidx', pg_temp.bi('ph' || n),
      'email_enc', pg_temp.ct(50, 'em' || n), 'email_bidx', pg_temp.bi('em' || n))),
    'dek', jsonb_build_object('key_id', 'mk1', 'wrapped', pg_temp.ct(60, 'dek' || n))) $$;
CREATE FUNCTION pg_temp.sha(seed text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT encode(sha256(convert_to(seed, 'UTF8')), 'hex') $$;
-- Ids made during the run, by name.
CREATE FUNCTION pg_temp.keep(p text, j json) RETURNS json LANGUAGE sql AS $$
  INSERT INTO ids VALUES (p, (j ->> 'id')::uuid) RETURNING j $$;
CREATE FUNCTION pg_temp.consent(recipient text, purpose text, fields text[], valid_from date, valid_until date) RETURNS jsonb
  LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('recipient_id', pg_temp.id(recipient), 'purpose', purpose, 'allowed_fields', to_jsonb(fields),
                            'document_sha256', pg_temp.sha('consent ' || recipient || purpose),
                            'valid_from', valid_from, 'valid_until', valid_until) $$;
CREATE FUNCTION pg_temp.disclose(n int, recipient text, purpose text) RETURNS json LANGUAGE sql AS $$
  SELECT api.disclosure_create(pg_temp.c(n), pg_temp.id(recipient), purpose) $$;

-- Customers (staff.a1 owns 1, 2 and 3; 1 gets a contract) ------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.shared_customer_body(1, 'active')) $$, 'customer 1 (active)');
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.shared_customer_body(2, 'active')) $$, 'customer 2 (active)');
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.shared_customer_body(3, 'prospect')) $$, 'customer 3 (prospect)');
SELECT pg_temp.be('risk', 'risk_officer');
SELECT pg_temp.credit_rate(pg_temp.c(1));
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok($$ SELECT api.contract_create(pg_temp.c(1), '{"amount": "12000.00", "currency": "CNY", "signed_on": "2024-03-01"}') $$,
  'customer 1 has an open contract');
SELECT lives_ok($$ SELECT api.follow_up_create(pg_temp.c(2), '{"on": "2024-03-01", "channel": "visit", "summary": "last visit"}') $$,
  'customer 2 has a follow-up');

-- Structure ----------------------------------------------------------------------------------
SELECT is((SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_class c
            WHERE c.relnamespace = 'cust'::regnamespace AND c.relname IN ('recipients', 'ndas', 'consents', 'disclosures')
              AND c.relrowsecurity AND c.relforcerowsecurity),
  ARRAY['consents', 'disclosures', 'ndas', 'recipients'], 'the new tables have row-level security enabled and forced');
SELECT is((SELECT count(*)::int FROM pg_trigger t
            WHERE t.tgrelid IN ('cust.recipients'::regclass, 'cust.ndas'::regclass, 'cust.consents'::regclass, 'cust.disclosures'::regclass)
              AND t.tgname IN ('audit_row', 'audit_truncate') AND t.tgfoid = 'audit.capture()'::regprocedure),
  8, 'the new tables are audited');
SELECT is((SELECT array_agg(privilege_type::text ORDER BY privilege_type) FROM information_schema.table_privileges
            WHERE grantee = 'tianxing_app' AND table_schema = 'cust' AND table_name = 'disclosures'),
  ARRAY['INSERT', 'SELECT'], 'the ledger: INSERT and SELECT only for the runtime role');
SELECT has_trigger('cust', 'disclosures', 'disclosures_append_only', 'the ledger refuses UPDATE and DELETE by trigger too');
SELECT has_trigger('cust', 'disclosures', 'disclosures_no_truncate', 'and TRUNCATE');
SELECT is((SELECT prosecdef FROM pg_proc WHERE oid = 'api.disclosure_create(uuid,uuid,text)'::regprocedure), false,
  'api.disclosure_create is SECURITY INVOKER');

-- Recipients and NDAs: every employee reads, supervisor and admin write ----------------------
SELECT throws_ok($$ SELECT api.recipient_create('{"name": "Acme", "kind": "company"}') $$, '42501', NULL, 'staff cannot add a recipient');
SELECT throws_ok($$ INSERT INTO cust.recipients (name, kind, created_by) VALUES ('Acme', 'company', '20000000-0000-4000-8000-000000000007') $$,
  '42501', NULL, 'staff: INSERT refused by row-level security');
SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok($$ SELECT api.recipient_create('{"name": "Acme", "kind": "company"}') $$, '42501', NULL, 'hr cannot add a recipient');
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT throws_ok($$ SELECT api.recipient_create('{"name": "Acme", "kind": "bank"}') $$, 'TXVAL',
  'kind: must be one of company, person, government', 'kind is checked');
SELECT throws_ok($$ SELECT api.recipient_create('{"kind": "company"}') $$, 'TXVAL', 'name: is required', 'name is required');
SELECT throws_ok($$ SELECT api.recipient_create('{"name": "Acme", "kind": "company", "vip": true}') $$, 'TXVAL', 'vip: unknown field',
  'unknown members are refused');
SELECT is((pg_temp.keep('acme', api.recipient_create('{"name": " Acme Credit ", "kind": "company", "contact": "ops@acme.test"}'))::jsonb
           - 'id' - 'created_at'),
  jsonb_build_object('name', 'Acme Credit', 'kind', 'company', 'contact', 'ops@acme.test', 'created_by', pg_temp.emp('sup.a'),
                     'nda_valid', false, 'ndas', '[]'::jsonb),
  'a supervisor adds a recipient');
SELECT pg_temp.keep('bank', api.recipient_create('{"name": "Bank of Trust", "kind": "company"}'));
SELECT pg_temp.keep('nonda', api.recipient_create('{"name": "No NDA Ltd", "kind": "company"}'));
SELECT pg_temp.keep('oldnda', api.recipient_create('{"name": "Old NDA Ltd", "kind": "company"}'));
SELECT pg_temp.be('admin', 'admin');
SELECT pg_temp.keep('gov', api.recipient_create('{"name": "Tax Bureau", "kind": "government"}'));

-- NDAs
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok(format($$ SELECT api.nda_create(%L, %L) $$, pg_temp.id('acme'),
                        jsonb_build_object('signed_on', current_date - 10, 'expires_on', current_date + 365, 'document_sha256', pg_temp.sha('nda'))),
  '42501', NULL, 'staff cannot record an NDA');
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT throws_ok(format($$ SELECT api.nda_create(%L, %L) $$, pg_temp.id('acme'),
                        jsonb_build_object('signed_on', current_date - 10, 'expires_on', current_date + 365, 'document_sha256', 'abc')),
  'TXVAL', 'document_sha256: must be 64 hexadecimal characters (a SHA-256)', 'document_sha256: 64 hex characters');
SELECT throws_ok(format($$ SELECT api.nda_create(%L, %L) $$, pg_temp.id('acme'),
                        jsonb_build_object('signed_on', current_date - 10, 'expires_on', current_date + 365,
                                           'document_sha256', repeat('g', 64))),
  'TXVAL', 'document_sha256: must be 64 hexadecimal characters (a SHA-256)', 'document_sha256: hex only');
SELECT throws_ok(format($$ SELECT api.nda_create(%L, %L) $$, pg_temp.id('acme'),
                        jsonb_build_object('signed_on', current_date - 10, 'expires_on', current_date - 10, 'document_sha256', pg_temp.sha('nda'))),
  'TXVAL', 'expires_on: must be after signed_on', 'expires_on > signed_on');
SELECT throws_ok(format($$ SELECT api.nda_create(%L, %L) $$, pg_temp.id('acme'),
                        jsonb_build_object('signed_on', '2024-02-30', 'expires_on', '2025-01-01', 'document_sha256', pg_temp.sha('nda'))),
  'TXVAL', 'signed_on: must be a date YYYY-MM-DD', 'signed_on must be a calendar date');
SELECT throws_ok(format($$ SELECT api.nda_create(%L, %L) $$, pg_temp.id('acme'),
                        jsonb_build_object('signed_on', current_date + 1, 'expires_on', current_date + 365, 'document_sha256', pg_temp.sha('nda'))),
  'TXVAL', 'signed_on: must not be in the future', 'signed_on not in the future');
SELECT throws_ok(format($$ SELECT api.nda_create(%L, %L) $$, pg_temp.id('acme'),
                        jsonb_build_object('signed_on', current_date - 10, 'expires_on', current_date + 365)),
  'TXVAL', 'document_sha256: is required', 'document_sha256 is required');
SELECT throws_ok(format($$ SELECT api.nda_create(%L, %L) $$, '47900000-0000-4000-8000-000000000000',
                        jsonb_build_object('signed_on', current_date - 10, 'expires_on', current_date + 365, 'document_sha256', pg_temp.sha('nda'))),
  'P0002', NULL, 'an NDA for no recipient: P0002');
SELECT is((pg_temp.keep('nda.acme', api.nda_create(pg_temp.id('acme'),
             jsonb_build_object('signed_on', current_date - 10, 'expires_on', current_date + 365,
                                'document_sha256', upper(pg_temp.sha('nda acme')))))::jsonb - 'id' - 'created_at'),
  jsonb_build_object('recipient_id', pg_temp.id('acme'), 'signed_on', current_date - 10, 'expires_on', current_date + 365,
                     'document_sha256', pg_temp.sha('nda acme'), 'status', 'valid', 'created_by', pg_temp.emp('sup.a'),
                     'revoked_at', NULL, 'revoked_by', NULL),
  'a supervisor records an NDA (the hash kept as bytes, shown in lower case)');
SELECT is(octet_length((SELECT document_sha256 FROM cust.ndas WHERE id = pg_temp.id('nda.acme'))), 32, 'document_sha256 stored as 32 bytes');
SELECT pg_temp.keep('nda.bank', api.nda_create(pg_temp.id('bank'),
  jsonb_build_object('signed_on', current_date, 'expires_on', current_date + 1, 'document_sha256', pg_temp.sha('nda bank'))));
SELECT pg_temp.keep('nda.old', api.nda_create(pg_temp.id('oldnda'),
  jsonb_build_object('signed_on', '2020-01-01', 'expires_on', '2021-01-01', 'document_sha256', pg_temp.sha('nda old'))));
SELECT pg_temp.keep('nda.gov', api.nda_create(pg_temp.id('gov'),
  jsonb_build_object('signed_on', current_date - 1, 'expires_on', current_date + 30, 'document_sha256', pg_temp.sha('nda gov'))));
SELECT is((SELECT status FROM json_to_record(api.nda_create(pg_temp.id('oldnda'),
             jsonb_build_object('signed_on', '2019-01-01', 'expires_on', '2020-01-01', 'document_sha256', pg_temp.sha('nda older')))) AS x(status text)),
  'expired', 'an expired NDA may be recorded (history), and says so');

SELECT pg_temp.be('staff.b1', 'staff');
SELECT is((SELECT count(*)::int FROM cust.recipients), 5, 'every employee reads every recipient');
SELECT is((SELECT count(*)::int FROM cust.ndas), 5, '... and every NDA');
SELECT is(json_array_length(api.recipient_list(NULL, NULL) -> 'items'), 5, 'recipient_list: all of them');
SELECT is((SELECT array_agg(e ->> 'name') FROM json_array_elements(api.recipient_list(2, NULL) -> 'items') e),
  ARRAY['Acme Credit', 'Bank of Trust'], 'recipient_list: by name, a page of 2');
SELECT is((SELECT array_agg(e ->> 'name') FROM json_array_elements(
             api.recipient_list(2, api.recipient_list(2, NULL) ->> 'next_cursor') -> 'items') e),
  ARRAY['No NDA Ltd', 'Old NDA Ltd'], 'recipient_list: the next page');
SELECT is((SELECT e -> 'nda_valid' FROM json_array_elements(api.recipient_list(NULL, NULL) -> 'items') e WHERE e ->> 'name' = 'Old NDA Ltd')::text,
  'false', 'a recipient with expired NDAs only has no valid NDA');
SELECT throws_ok($$ SELECT api.recipient_list(NULL, 'garbage') $$, 'TXVAL', 'cursor: is not a cursor of this list', 'a bad cursor');
SELECT throws_ok(format($$ UPDATE cust.ndas SET revoked_at = now(), revoked_by = %L WHERE id = %L $$, '20000000-0000-4000-8000-000000000009', pg_temp.id('nda.gov')),
  '42501', NULL, 'staff cannot revoke an NDA directly');
SELECT throws_ok(format($$ SELECT api.nda_revoke(%L) $$, pg_temp.id('nda.gov')), '42501', NULL, 'nor through the API');
SELECT pg_temp.anon();
SELECT is((SELECT count(*)::int FROM cust.recipients) + (SELECT count(*)::int FROM cust.ndas), 0, 'without a signed-in employee: nothing');
SELECT throws_ok($$ SELECT api.recipient_list(NULL, NULL) $$, 'TXAUT', NULL, 'recipient_list needs an employee');

-- Consents: created and revoked by who may update the customer -------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok(format($$ SELECT api.consent_create(%L, %L) $$, pg_temp.c(1),
                        pg_temp.consent('acme', 'Credit check', ARRAY['name', 'salary'], current_date, current_date + 30)),
  'TXVAL', 'allowed_fields: salary is not a field that can be shared: use name, company_name, business_scope, address, credit_code, contacts.name, contacts.position, contacts.phone, contacts.email',
  'allowed_fields: a subset of the shareable fields');
SELECT throws_ok(format($$ SELECT api.consent_create(%L, %L) $$, pg_temp.c(1),
                        pg_temp.consent('acme', 'Credit check', ARRAY[]::text[], current_date, current_date + 30)),
  'TXVAL', 'allowed_fields: must name at least one field', 'allowed_fields: not empty');
SELECT throws_ok(format($$ SELECT api.consent_create(%L, %L) $$, pg_temp.c(1),
                        pg_temp.consent('acme', 'Credit check', ARRAY['name'], current_date, current_date - 1)),
  'TXVAL', 'valid_until: must not be before valid_from', 'valid_until >= valid_from');
SELECT throws_ok(format($$ SELECT api.consent_create(%L, %L) $$, pg_temp.c(1),
                        pg_temp.consent('acme', 'Credit check', ARRAY['name'], current_date, current_date) - 'document_sha256'),
  'TXVAL', 'document_sha256: is required', 'the written consent''s hash is required');
SELECT throws_ok(format($$ SELECT api.consent_create(%L, %L) $$, pg_temp.c(1),
                        pg_temp.consent('acme', 'Credit check', ARRAY['name'], current_date, current_date) || '{"document_sha256": "xyz"}'),
  'TXVAL', 'document_sha256: must be 64 hexadecimal characters (a SHA-256)', 'the hash is 64 hex characters');
SELECT throws_ok(format($$ SELECT api.consent_create(%L, %L) $$, pg_temp.c(1),
                        pg_temp.consent('acme', 'Credit check', ARRAY['name'], current_date, current_date) || '{"valid_from": "tomorrow"}'),
  'TXVAL', 'valid_from: must be a date YYYY-MM-DD', 'valid_from is a date');
SELECT throws_ok(format($$ SELECT api.consent_create(%L, %L) $$, pg_temp.c(1),
                        pg_temp.consent('acme', 'Credit check', ARRAY['name'], current_date, current_date) || '{"recipient_id": "47900000-0000-4000-8000-000000000000"}'),
  'TXVAL', 'recipient_id: no such recipient', 'the recipient must exist');
SELECT throws_ok(format($$ SELECT api.consent_create(%L, %L) $$, pg_temp.c(1),
                        pg_temp.consent('acme', '   ', ARRAY['name'], current_date, current_date)),
  'TXVAL', 'purpose: must not be empty', 'a purpose is required');
SELECT is((pg_temp.keep('k.acme', api.consent_create(pg_temp.c(1),
             pg_temp.consent('acme', '  Credit check ', ARRAY['contacts.phone', 'name', 'company_name', 'name'], current_date - 1, current_date + 30)))::jsonb
           - 'id' - 'created_at'),
  jsonb_build_object('customer_id', pg_temp.c(1), 'recipient', jsonb_build_object('id', pg_temp.id('acme'), 'name', 'Acme Credit'),
                     'purpose', 'Credit check', 'allowed_fields', jsonb_build_array('name', 'company_name', 'contacts.phone'),
                     'document_sha256', pg_temp.sha('consent acme  Credit check '), 'valid_from', current_date - 1,
                     'valid_until', current_date + 30, 'status', 'active', 'created_by', pg_temp.emp('staff.a1'),
                     'revoked_at', NULL, 'revoked_by', NULL),
  'the owner records a consent: purpose trimmed, fields deduplicated in their canonical order');
SELECT pg_temp.keep('k.nonda', api.consent_create(pg_temp.c(1), pg_temp.consent('nonda', 'Credit check', ARRAY['name'], current_date, current_date + 30)));
SELECT pg_temp.keep('k.oldnda', api.consent_create(pg_temp.c(1), pg_temp.consent('oldnda', 'Credit check', ARRAY['name'], current_date, current_date + 30)));
SELECT pg_temp.keep('k.bank', api.consent_create(pg_temp.c(1), pg_temp.consent('bank', 'Loan application', ARRAY['name', 'credit_code'], current_date, current_date)));
SELECT pg_temp.keep('k.gov.old', api.consent_create(pg_temp.c(1), pg_temp.consent('gov', 'Tax audit', ARRAY['name'], '2020-01-01', '2020-12-31')));
SELECT pg_temp.keep('k.gov.next', api.consent_create(pg_temp.c(1), pg_temp.consent('gov', 'Statistics', ARRAY['name'], current_date + 1, current_date + 30)));
SELECT is((SELECT array_agg(cust.consent_status(k, current_date) ORDER BY cust.consent_status(k, current_date)) FROM cust.consents k),
  ARRAY['active', 'active', 'active', 'active', 'expired', 'pending'], 'consent statuses: active, expired (2020), pending (from tomorrow)');

SELECT pg_temp.be('sup.a', 'supervisor');
SELECT lives_ok(format($$ SELECT api.consent_create(%L, %L) $$, pg_temp.c(2),
                       pg_temp.consent('acme', 'Credit check', ARRAY['name'], current_date, current_date + 30)),
  'the department''s supervisor records a consent');
SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok(format($$ SELECT api.consent_create(%L, %L) $$, pg_temp.c(1),
                        pg_temp.consent('acme', 'Other', ARRAY['name'], current_date, current_date)),
  '42501', NULL, 'hr sees the customer but may not record a consent');
SELECT pg_temp.be('auditor', 'auditor');
SELECT throws_ok(format($$ SELECT api.consent_create(%L, %L) $$, pg_temp.c(1),
                        pg_temp.consent('acme', 'Other', ARRAY['name'], current_date, current_date)),
  '42501', NULL, 'nor may an auditor');
SELECT pg_temp.be('staff.b1', 'staff');
SELECT throws_ok(format($$ SELECT api.consent_create(%L, %L) $$, pg_temp.c(1),
                        pg_temp.consent('acme', 'Other', ARRAY['name'], current_date, current_date)),
  'P0002', NULL, 'staff of another department do not see the customer: P0002');
SELECT throws_ok(format($$ INSERT INTO cust.consents (customer_id, recipient_id, purpose, allowed_fields, document_sha256, valid_from, valid_until, created_by)
                           VALUES (%L, %L, 'x', '{name}', sha256('x'), current_date, current_date, '20000000-0000-4000-8000-000000000009') $$,
                        pg_temp.c(1), pg_temp.id('acme')),
  '42501', NULL, 'their direct INSERT is refused by row-level security');
SELECT is((SELECT count(*)::int FROM cust.consents), 0, 'staff of another department see no consent');
SELECT throws_ok(format($$ SELECT api.consent_list(%L) $$, pg_temp.c(1)), 'P0002', NULL, 'consent_list: P0002 for them');
SELECT throws_ok(format($$ SELECT api.consent_revoke(%L) $$, pg_temp.id('k.acme')), 'P0002', NULL, 'consent_revoke: P0002 for them');
SELECT pg_temp.be('hr', 'hr');
SELECT is(json_array_length(api.consent_list(pg_temp.c(1)) -> 'items'), 6, 'hr sees the consents with the customer');
SELECT throws_ok(format($$ SELECT api.consent_revoke(%L) $$, pg_temp.id('k.acme')), '42501', NULL, 'hr may not revoke');
SELECT is_empty(format($$ UPDATE cust.consents SET revoked_at = now(), revoked_by = %L WHERE id = %L RETURNING id $$,
                       '20000000-0000-4000-8000-000000000002', pg_temp.id('k.acme')),
  'hr: a direct UPDATE changes nothing');
SELECT pg_temp.be('risk', 'risk_officer');
SELECT is(json_array_length(api.consent_list(pg_temp.c(1)) -> 'items'), 6, 'the risk officer sees them too');
SELECT pg_temp.be('staff.a1', 'staff');
-- (One transaction: every created_at is the same; the id breaks the tie.)
SELECT is((SELECT array_agg((e ->> 'id')::uuid) FROM json_array_elements(api.consent_list(pg_temp.c(1)) -> 'items') e),
  ARRAY(SELECT id FROM cust.consents WHERE customer_id = pg_temp.c(1) ORDER BY created_at DESC, id DESC), 'consent_list: newest first');
SELECT throws_ok(format($$ UPDATE cust.consents SET purpose = 'Anything' WHERE id = %L $$, pg_temp.id('k.acme')),
  '42501', NULL, 'a consent''s content cannot be changed (no grant)');

-- Disclosures: refused (TXDEN with the reason) ----------------------------------------------
SELECT throws_ok($$ SELECT pg_temp.disclose(3, 'acme', 'Credit check') $$, 'TXDEN',
  'no valid consent for this recipient and purpose', 'refused without any consent of the customer');
SELECT throws_ok($$ SELECT pg_temp.disclose(1, 'acme', 'Marketing') $$, 'TXDEN',
  'no valid consent for this recipient and purpose', 'refused for another purpose');
SELECT throws_ok($$ SELECT pg_temp.disclose(1, 'bank', 'Credit check') $$, 'TXDEN',
  'no valid consent for this recipient and purpose', 'refused for another recipient (the consent names acme)');
SELECT throws_ok($$ SELECT pg_temp.disclose(1, 'nonda', 'Credit check') $$, 'TXDEN',
  'the recipient has signed no NDA (confidentiality agreement)', 'refused without an NDA (C3.3)');
SELECT throws_ok($$ SELECT pg_temp.disclose(1, 'oldnda', 'Credit check') $$, 'TXDEN',
  'the recipient''s NDA has expired', 'refused with an expired NDA');
SELECT throws_ok($$ SELECT pg_temp.disclose(1, 'gov', 'Tax audit') $$, 'TXDEN',
  'the customer''s consent for this recipient and purpose expired on 2020-12-31', 'refused with an expired consent');
SELECT throws_ok($$ SELECT pg_temp.disclose(1, 'gov', 'statistics') $$, 'TXDEN',
  format('the customer''s consent for this recipient and purpose is valid from %s', current_date + 1), 'refused before the consent is valid');
SELECT throws_ok($$ SELECT pg_temp.disclose(1, 'acme', '') $$, 'TXVAL', 'purpose: is required', 'a purpose is required');
SELECT throws_ok(format($$ SELECT api.disclosure_create(%L, '47900000-0000-4000-8000-000000000000', 'Credit check') $$, pg_temp.c(1)),
  'TXVAL', 'recipient_id: no such recipient', 'the recipient must exist');
SELECT is((SELECT count(*)::int FROM cust.disclosures), 0, 'refusals leave no ledger row');

-- Allowed within scope, and ledgered
SELECT is((SELECT count(*)::int FROM cust.pii_reads), 0, 'no PII read logged yet');
SELECT pg_temp.keep('d1', json_build_object('id', (pg_temp.disclose(1, 'acme', '  credit CHECK ') ->> 'disclosure_id')));
SELECT results_eq($$ SELECT customer_id, recipient_id, consent_id, nda_id, purpose, fields, disclosed_by, request_id FROM cust.disclosures $$,
  format($$ VALUES (%L::uuid, %L::uuid, %L::uuid, %L::uuid, 'Credit check'::text, '{name,company_name,contacts.phone}'::text[], %L::uuid, 'req-staff.a1'::text) $$,
         pg_temp.c(1), pg_temp.id('acme'), pg_temp.id('k.acme'), pg_temp.id('nda.acme'), pg_temp.emp('staff.a1')),
  'allowed (purpose matched case-insensitively after trim); the ledger row holds the fields disclosed = allowed_fields');
SELECT is((SELECT count(*)::int FROM cust.pii_reads WHERE customer_id = pg_temp.c(1)), 1, 'the full read of the document is logged');
CREATE TEMP TABLE shown AS SELECT pg_temp.disclose(1, 'acme', 'Credit check')::jsonb AS j;
SELECT is((SELECT j - 'disclosure_id' - 'at' - 'customer' FROM shown),
  jsonb_build_object('consent_id', pg_temp.id('k.acme'), 'nda_id', pg_temp.id('nda.acme'),
                     'recipient', jsonb_build_object('id', pg_temp.id('acme'), 'name', 'Acme Credit'),
                     'purpose', 'Credit check', 'allowed_fields', jsonb_build_array('name', 'company_name', 'contacts.phone')),
  'disclosure_create: the consent, the NDA, the recipient, the purpose and the allowed fields');
SELECT is((SELECT j -> 'customer' FROM shown), api.customer_get(pg_temp.c(1))::jsonb,
  '... and the customer document exactly as customer_get gives it');
SELECT is((SELECT j #>> '{customer,pii_access}' FROM shown) || ' ' || (SELECT (j #> '{customer,dek}' ? 'wrapped')::text FROM shown)
          || ' ' || (SELECT j #>> '{customer,address_enc}' FROM shown),
  'full true ' || pg_temp.ct(40, 'addr1'), '... sealed, with the data key, for the C side to open');
SELECT is((SELECT count(*)::int FROM cust.disclosures), 2, 'each disclosure is one ledger row');

-- The ledger's own check, for a direct INSERT
SELECT throws_ok(format($$ INSERT INTO cust.disclosures (customer_id, recipient_id, consent_id, nda_id, purpose, fields, disclosed_by)
                           VALUES (%L, %L, %L, %L, 'Credit check', '{name,address}', %L) $$,
                        pg_temp.c(1), pg_temp.id('acme'), pg_temp.id('k.acme'), pg_temp.id('nda.acme'), pg_temp.emp('staff.a1')),
  'TXDEN', 'no valid consent covers this disclosure', 'a direct INSERT cannot disclose more than the consent allows');
SELECT throws_ok(format($$ INSERT INTO cust.disclosures (customer_id, recipient_id, consent_id, nda_id, purpose, fields, disclosed_by)
                           VALUES (%L, %L, %L, %L, 'Credit check', '{name}', %L) $$,
                        pg_temp.c(1), pg_temp.id('oldnda'), pg_temp.id('k.oldnda'), pg_temp.id('nda.old'), pg_temp.emp('staff.a1')),
  'TXDEN', 'no valid NDA covers this disclosure', 'nor rely on an expired NDA');
SELECT throws_ok(format($$ INSERT INTO cust.disclosures (customer_id, recipient_id, consent_id, nda_id, purpose, fields, disclosed_by)
                           VALUES (%L, %L, %L, %L, 'Credit check', '{name}', %L) $$,
                        pg_temp.c(1), pg_temp.id('acme'), pg_temp.id('k.acme'), pg_temp.id('nda.bank'), pg_temp.emp('staff.a1')),
  'TXDEN', 'no valid NDA covers this disclosure', 'nor pair a recipient with another recipient''s NDA');

-- Append-only
SELECT throws_ok($$ UPDATE cust.disclosures SET fields = '{name}' $$, '42501', NULL, 'the ledger refuses UPDATE');
SELECT throws_ok($$ DELETE FROM cust.disclosures $$, '42501', NULL, 'the ledger refuses DELETE');
SELECT throws_ok($$ TRUNCATE cust.disclosures $$, '42501', NULL, 'the ledger refuses TRUNCATE');

-- Who reads the ledger: whoever sees the customer
SELECT is(json_array_length(api.disclosure_list(pg_temp.c(1), NULL, NULL) -> 'items'), 2, 'the owner reads the ledger');
SELECT is((SELECT array_agg(e ->> 'id') FROM json_array_elements(api.disclosure_list(pg_temp.c(1), 1, NULL) -> 'items') e)
          || (SELECT array_agg(e ->> 'id') FROM json_array_elements(
                api.disclosure_list(pg_temp.c(1), 1, api.disclosure_list(pg_temp.c(1), 1, NULL) ->> 'next_cursor') -> 'items') e),
  ARRAY(SELECT id::text FROM cust.disclosures ORDER BY at DESC, id DESC), 'disclosure_list: newest first, keyset pages');
SELECT is((api.disclosure_list(pg_temp.c(1), 1, NULL) -> 'items' -> 0)::jsonb - 'id' - 'at',
  jsonb_build_object('customer_id', pg_temp.c(1), 'recipient', jsonb_build_object('id', pg_temp.id('acme'), 'name', 'Acme Credit'),
                     'consent_id', pg_temp.id('k.acme'), 'nda_id', pg_temp.id('nda.acme'), 'purpose', 'Credit check',
                     'fields', jsonb_build_array('name', 'company_name', 'contacts.phone'),
                     'disclosed_by', pg_temp.emp('staff.a1'), 'request_id', 'req-staff.a1'),
  'disclosure_list: an item');
SELECT pg_temp.be('auditor', 'auditor');
SELECT is((SELECT count(*)::int FROM cust.disclosures), 2, 'the auditor reads the ledger');
SELECT throws_ok($$ SELECT pg_temp.disclose(1, 'acme', 'Credit check') $$, '42501', NULL, 'but cannot disclose (masked access)');
SELECT pg_temp.be('hr', 'hr');
SELECT is((SELECT count(*)::int FROM cust.disclosures), 2, 'hr reads the ledger (sees the customer)');
SELECT throws_ok($$ SELECT pg_temp.disclose(1, 'acme', 'Credit check') $$, '42501', NULL, 'but cannot disclose (no PII access)');
SELECT pg_temp.be('staff.b1', 'staff');
SELECT is((SELECT count(*)::int FROM cust.disclosures), 0, 'staff of another department read nothing');
SELECT throws_ok(format($$ SELECT api.disclosure_list(%L, NULL, NULL) $$, pg_temp.c(1)), 'P0002', NULL, 'disclosure_list: P0002 for them');
SELECT throws_ok($$ SELECT pg_temp.disclose(1, 'acme', 'Credit check') $$, 'P0002', NULL, 'disclose: P0002 for them');
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT is((SELECT count(*)::int FROM cust.disclosures), 2, 'the department''s supervisor reads the ledger');

-- Revocation stops disclosures at once
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok($$ SELECT pg_temp.disclose(1, 'bank', 'Loan application') $$, 'the bank''s consent works (its NDA is in force today)');
SELECT is((api.consent_revoke(pg_temp.id('k.bank'))::jsonb - 'revoked_at' ->> 'status'), 'revoked', 'the owner revokes the consent');
SELECT throws_ok($$ SELECT pg_temp.disclose(1, 'bank', 'Loan application') $$, 'TXDEN',
  'the customer''s consent for this recipient and purpose has been revoked', 'refused after revocation, at once');
SELECT throws_ok(format($$ SELECT api.consent_revoke(%L) $$, pg_temp.id('k.bank')), 'TXCON', 'the consent was revoked already', 'revoking twice: TXCON');
SELECT throws_ok(format($$ INSERT INTO cust.disclosures (customer_id, recipient_id, consent_id, nda_id, purpose, fields, disclosed_by)
                           VALUES (%L, %L, %L, %L, 'Loan application', '{name}', %L) $$,
                        pg_temp.c(1), pg_temp.id('bank'), pg_temp.id('k.bank'), pg_temp.id('nda.bank'), pg_temp.emp('staff.a1')),
  'TXDEN', 'no valid consent covers this disclosure', 'a direct INSERT on a revoked consent is refused too');
-- A revoked NDA stops them as well
SELECT pg_temp.be('admin', 'admin');
SELECT is((api.nda_revoke(pg_temp.id('nda.acme')) ->> 'status'), 'revoked', 'an admin revokes the acme NDA');
SELECT throws_ok(format($$ SELECT api.nda_revoke(%L) $$, pg_temp.id('nda.acme')), 'TXCON', 'the NDA was revoked already', 'revoking an NDA twice: TXCON');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok($$ SELECT pg_temp.disclose(1, 'acme', 'Credit check') $$, 'TXDEN', 'the recipient''s NDA has been revoked',
  'refused once the NDA is revoked');

-- Legal hold: admin and risk_officer ---------------------------------------------------------
SELECT throws_ok(format($$ SELECT api.customer_set_legal_hold(%L, 'litigation') $$, pg_temp.c(2)), '42501', NULL, 'staff cannot set a legal hold');
SELECT pg_temp.be('risk', 'risk_officer');
SELECT throws_ok(format($$ SELECT api.customer_set_legal_hold(%L, '  ') $$, pg_temp.c(2)), 'TXVAL',
  'reason: must be 1 to 2000 characters (null clears the hold)', 'the reason must not be empty');
SELECT throws_ok($$ SELECT api.customer_set_legal_hold('47000000-0000-4000-8000-000000000099', 'x') $$, 'P0002', NULL, 'unknown customer: P0002');
SELECT is(api.customer_set_legal_hold(pg_temp.c(2), ' Litigation 2024-17 ')::jsonb - 'updated_at' - 'version',
  jsonb_build_object('customer_id', pg_temp.c(2), 'legal_hold', true, 'legal_hold_reason', 'Litigation 2024-17', 'status', 'active'),
  'a risk officer sets a legal hold');
SELECT is_empty(format($$ UPDATE cust.customers SET name = 'changed' WHERE id = %L RETURNING id $$, pg_temp.c(2)),
  'the risk officer still cannot update the customer directly');
SELECT throws_ok(format($$ UPDATE cust.customers SET legal_hold_reason = NULL WHERE id = %L $$, pg_temp.c(2)),
  '42501', NULL, 'nor the hold itself, but through the API');

-- Deactivation and disposal ------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok(format($$ SELECT api.customer_deactivate(%L) $$, pg_temp.c(1)), 'TXCON',
  'the customer has 1 open contract(s): it cannot be deactivated', 'deactivation refused while a contract is open');
SELECT is(api.customer_deactivate(pg_temp.c(2)) ->> 'status', 'inactive', 'the owner deactivates customer 2');
SELECT is(api.customer_deactivate(pg_temp.c(2)) ->> 'status', 'inactive', 'deactivating again is harmless');
SELECT throws_ok(format($$ SELECT api.customer_dispose(%L) $$, pg_temp.c(2)), '42501', NULL, 'the owner cannot dispose');
SELECT throws_ok(format($$ UPDATE cust.customers SET status = 'disposed', disposed_at = now(), disposed_by = %L, name = 'disposed customer',
                                  needs = NULL, concerns = NULL, address_enc = NULL, credit_code_enc = NULL, credit_code_bidx = NULL
                            WHERE id = %L $$, pg_temp.emp('staff.a1'), pg_temp.c(2)),
  '42501', 'disposing of a customer needs the role admin', 'nor by a direct UPDATE');
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT throws_ok(format($$ SELECT api.customer_dispose(%L) $$, pg_temp.c(2)), '42501', NULL,
  'the department''s supervisor cannot dispose either (admin only)');
SELECT pg_temp.be('admin', 'admin');
SELECT throws_ok(format($$ SELECT api.customer_dispose(%L) $$, pg_temp.c(1)), 'TXCON',
  'the customer has 1 open contract(s): it cannot be disposed of', 'disposal refused with an open contract');
SELECT throws_ok(format($$ SELECT api.customer_dispose(%L) $$, pg_temp.c(2)), 'TXCON',
  'the customer is under a legal hold: it cannot be disposed of', 'disposal refused under a legal hold');
SELECT throws_ok(format($$ SELECT api.customer_dispose(%L) $$, pg_temp.c(3)), 'TXCON',
  'only an inactive customer can be disposed of (this one is prospect): deactivate it first', 'disposal refused unless inactive');
SELECT throws_ok($$ SELECT api.customer_dispose('47000000-0000-4000-8000-000000000099') $$, 'P0002', NULL, 'disposal of no customer: P0002');
SELECT is_empty(format($$ DELETE FROM cust.data_keys WHERE customer_id = %L RETURNING customer_id $$, pg_temp.c(2)),
  'the data key of a customer not disposed of cannot be deleted, even by an admin');
SELECT throws_ok(format($$ SELECT api.customer_set_legal_hold(%L, NULL) $$, pg_temp.c(2)), 'TXDEN',
  'clearing a legal hold needs the role risk_officer', 'an admin cannot clear the hold (issue 10 item 9: four eyes)');
SELECT pg_temp.be('risk', 'risk_officer');
SELECT is((api.customer_set_legal_hold(pg_temp.c(2), NULL) ->> 'legal_hold'), 'false', 'a risk officer clears the hold');
SELECT is(cust.last_hold_clearer(pg_temp.c(2)), pg_temp.emp('risk'), 'who cleared it is recorded');
SELECT pg_temp.be('admin', 'admin');
SELECT is((SELECT count(*)::int FROM cust.data_keys WHERE customer_id = pg_temp.c(2)), 1, 'customer 2 has its data key');
SELECT is(api.customer_dispose(pg_temp.c(2))::jsonb - 'disposed_at',
  jsonb_build_object('customer_id', pg_temp.c(2), 'disposed_by', pg_temp.emp('admin'),
                     'destroyed', jsonb_build_array('data_key', 'sealed_fields', 'blind_indexes', 'personal_fields'),
                     'kept', jsonb_build_array('company_name', 'business_scope', 'contracts', 'follow_ups')),
  'the admin disposes of customer 2: the certificate body');
SELECT is((SELECT count(*)::int FROM cust.data_keys WHERE customer_id = pg_temp.c(2)), 0, 'the data key row is gone (crypto-shredding)');
SELECT results_eq(format($$ SELECT status, name, address_enc, credit_code_enc, credit_code_bidx, needs, concerns, company_name, business_scope,
                                   disposed_by, disposed_at IS NOT NULL FROM cust.customers WHERE id = %L $$, pg_temp.c(2)),
  format($$ VALUES ('disposed'::text, 'disposed customer'::text, NULL::bytea, NULL::bytea, NULL::bytea, NULL::text, NULL::text,
                    '天星貿易2有限公司'::text, '進出口貿易'::text, %L::uuid, true) $$, pg_temp.emp('admin')),
  'sealed columns and blind indexes are NULL, personal fields replaced, the business record kept');
SELECT results_eq(format($$ SELECT name, position, phone_enc, phone_bidx, email_enc, email_bidx FROM cust.contacts WHERE customer_id = %L $$, pg_temp.c(2)),
  $$ VALUES ('disposed'::text, NULL::text, NULL::bytea, NULL::bytea, NULL::bytea, NULL::bytea) $$,
  'contacts: name replaced, sealed fields and blind indexes NULL');
SELECT is((SELECT count(*)::int FROM cust.follow_ups WHERE customer_id = pg_temp.c(2)), 1, 'follow-ups are kept');
SELECT is((SELECT array_agg(cust.consent_status(k, current_date)) FROM cust.consents k WHERE customer_id = pg_temp.c(2)), ARRAY['revoked'],
  'its consents end with it');
SELECT is((SELECT j ->> 'status' || ' ' || coalesce(j ->> 'dek', 'no key') || ' ' || coalesce(j ->> 'address_enc', 'no address')
             FROM (SELECT api.customer_get(pg_temp.c(2))::jsonb AS j) s),
  'disposed no key no address', 'customer_get: disposed, no data key, nothing sealed');
SELECT throws_ok(format($$ SELECT api.customer_update(%L, (SELECT version FROM cust.customers WHERE id = %L), '{"needs": "again"}') $$,
                        pg_temp.c(2), pg_temp.c(2)),
  'TXCON', 'the customer has been disposed of (C4.3) and can no longer change', 'a disposed customer can no longer be updated');
SELECT throws_ok(format($$ SELECT api.contract_create(%L, '{"amount": "1.00", "currency": "CNY", "signed_on": "2024-03-01"}') $$, pg_temp.c(2)),
  'TXCON', 'the customer has been disposed of (C4.3) and can no longer change', 'nor given contracts');
SELECT throws_ok(format($$ SELECT api.follow_up_create(%L, '{"on": "2024-03-02", "channel": "phone", "summary": "x"}') $$, pg_temp.c(2)),
  'TXCON', 'the customer has been disposed of (C4.3) and can no longer change', 'nor follow-ups');
SELECT throws_ok(format($$ SELECT api.consent_create(%L, %L) $$, pg_temp.c(2),
                        pg_temp.consent('gov', 'Tax audit', ARRAY['name'], current_date, current_date)),
  'TXCON', 'the customer has been disposed of (C4.3) and can no longer change', 'nor consents');
SELECT throws_ok(format($$ SELECT api.disclosure_create(%L, %L, 'Credit check') $$, pg_temp.c(2), pg_temp.id('acme')),
  'TXCON', 'the customer has been disposed of (C4.3): nothing is left to disclose', 'nor disclosed');
SELECT throws_ok(format($$ SELECT api.customer_set_legal_hold(%L, 'late') $$, pg_temp.c(2)),
  'TXCON', 'the customer has been disposed of (C4.3) and can no longer change', 'nor put under a legal hold');
SELECT throws_ok(format($$ SELECT api.customer_deactivate(%L) $$, pg_temp.c(2)),
  'TXCON', 'the customer has been disposed of (C4.3) and can no longer change', 'nor deactivated');
SELECT throws_ok(format($$ SELECT api.customer_dispose(%L) $$, pg_temp.c(2)), 'TXCON', 'the customer has been disposed of already',
  'disposing twice: TXCON');
SELECT throws_ok(format($$ UPDATE cust.customers SET tags = '{x}' WHERE id = %L $$, pg_temp.c(2)),
  'TXCON', 'the customer has been disposed of (C4.3) and can no longer change', 'a direct UPDATE is refused too');
SELECT throws_ok(format($$ INSERT INTO cust.data_keys (customer_id, key_id, wrapped) VALUES (%L, 'mk1', %L) $$,
                        pg_temp.c(2), decode(substr(pg_temp.ct(60, 'new'), 3), 'hex')),
  'TXCON', 'the customer has been disposed of (C4.3): nothing can be added to it', 'no new data key for a disposed customer');
SELECT lives_ok(format($$ SELECT api.employee_update(%L, (SELECT version FROM org.employees WHERE id = %L), '{"department_id": "10000000-0000-4000-8000-00000000000b"}') $$,
                       pg_temp.emp('staff.a1'), pg_temp.emp('staff.a1')),
  'the owner of a disposed customer can still move to another department');
SELECT is((SELECT department_id FROM cust.customers WHERE id = pg_temp.c(2)), '10000000-0000-4000-8000-00000000000b'::uuid,
  '... and the disposed customer''s department follows (nothing else changes)');
SELECT is((SELECT count(*)::int FROM cust.disclosures WHERE customer_id = pg_temp.c(1)), 3, 'the ledger of customer 1 is untouched');

SELECT * FROM finish();
ROLLBACK;
