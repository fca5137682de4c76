-- The customer document built in one plan (issue 15, cust.customer_doc) against the document as
-- it was built before, step by step in PL/pgSQL (pg_temp.old_* below: the definitions of commit
-- e1ee86d, kept here only as the oracle): for every caller and every customer, the same JSON to
-- the byte, the same pii_access, the same NULL for an invisible customer and the same PII read
-- log (a row for a full read, none otherwise). Customers: full and minimal, contacts with and
-- without phone or e-mail, none, shared through the team, another owner's, another department's,
-- merged, disposed, verified long ago; under the required fields of the fixtures, then every
-- known field, then a review period of one day.
-- Run by tests/sql/run as tianxing_app.
BEGIN;
SELECT plan(40);

\ir lib/session.psql
\ir lib/customers.psql

-- The oracle: the definitions before issue 15, under other names ------------------------------
CREATE FUNCTION pg_temp.old_is_related(p_owner uuid, p_department uuid, p_customer uuid) RETURNS boolean
  LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN coalesce(
           ((tx.has_role('staff') OR tx.has_role('supervisor'))
            AND (p_owner = tx.user_id()
                 OR EXISTS (SELECT FROM cust.team t
                             WHERE t.customer_id = p_customer AND t.employee_id = tx.user_id())))
           OR (tx.has_role('supervisor') AND p_department = tx.department_id()),
           false);
END $$;
CREATE FUNCTION pg_temp.old_field_present(c cust.customers, p_field text) RETURNS boolean
  LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF p_field = 'contacts' THEN
    RETURN EXISTS (SELECT FROM cust.contacts k
                    WHERE k.customer_id = c.id
                      AND (k.phone_enc IS NOT NULL OR k.email_enc IS NOT NULL));
  END IF;
  RETURN CASE p_field
    WHEN 'name' THEN coalesce(btrim(c.name), '') <> ''
    WHEN 'company_name' THEN coalesce(btrim(c.company_name), '') <> ''
    WHEN 'business_scope' THEN coalesce(btrim(c.business_scope), '') <> ''
    WHEN 'source' THEN coalesce(btrim(c.source), '') <> ''
    WHEN 'needs' THEN coalesce(btrim(c.needs), '') <> ''
    WHEN 'concerns' THEN coalesce(btrim(c.concerns), '') <> ''
    WHEN 'address' THEN coalesce(octet_length(c.address_enc), 0) > 0
    WHEN 'credit_code' THEN coalesce(octet_length(c.credit_code_enc), 0) > 0
    WHEN 'tags' THEN cardinality(c.tags) > 0
    WHEN 'status' THEN c.status IS NOT NULL
    WHEN 'owner_id' THEN c.owner_id IS NOT NULL
    ELSE false
  END;
END $$;
CREATE FUNCTION pg_temp.old_completeness(c cust.customers, p_period interval) RETURNS jsonb
  LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_req jsonb := org.policy_value('customer_required_fields');
  v_total int := 0;
  v_missing text[] := '{}';
  f text;
BEGIN
  IF v_req IS NULL OR jsonb_typeof(v_req) <> 'array' THEN
    v_req := '[]';
  END IF;
  FOR f IN SELECT e #>> '{}' FROM jsonb_array_elements(v_req) WITH ORDINALITY AS a(e, i)
            WHERE jsonb_typeof(e) = 'string' ORDER BY i LOOP
    v_total := v_total + 1;
    IF NOT pg_temp.old_field_present(c, f) THEN
      v_missing := v_missing || f;
    END IF;
  END LOOP;
  RETURN jsonb_build_object(
    'score', CASE WHEN v_total = 0 THEN 100
                  ELSE (100 * (v_total - cardinality(v_missing))) / v_total END,
    'missing', to_jsonb(v_missing),
    'unverified', CASE WHEN c.last_verified_at IS NULL
                            OR c.last_verified_at < now() - p_period
                       THEN '["last_verified_at"]'::jsonb ELSE '[]'::jsonb END);
END $$;
CREATE FUNCTION pg_temp.old_pii_access(c cust.customers) RETURNS text
  LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN CASE WHEN tx.has_role('admin') OR pg_temp.old_is_related(c.owner_id, c.department_id, c.id)
                THEN 'full'
              WHEN tx.has_role('auditor') THEN 'masked'
              ELSE 'none' END;
END $$;
CREATE FUNCTION pg_temp.old_customer_json(c cust.customers) RETURNS json
  LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_access text := pg_temp.old_pii_access(c);
  v_pii boolean := v_access <> 'none';
  v_period interval := make_interval(days => coalesce((org.policy_value('customer_review_period_days'))::int, 180));
  v_out jsonb;
BEGIN
  v_out := cust.customer_item(c, v_period)
    || jsonb_build_object(
         'business_scope', c.business_scope, 'needs', c.needs, 'concerns', c.concerns,
         'pii_access', v_access,
         'completeness', pg_temp.old_completeness(c, v_period),
         'contacts', (SELECT coalesce(jsonb_agg(
                        jsonb_build_object('id', k.id, 'name', k.name, 'position', k.position)
                        || CASE WHEN v_pii THEN jsonb_build_object(
                                  'phone_enc', api.hex(k.phone_enc),
                                  'email_enc', api.hex(k.email_enc))
                                ELSE '{}'::jsonb END
                        ORDER BY k.seq), '[]'::jsonb)
                        FROM cust.contacts k WHERE k.customer_id = c.id));
  IF v_pii THEN
    v_out := v_out || jsonb_build_object(
      'address_enc', api.hex(c.address_enc), 'credit_code_enc', api.hex(c.credit_code_enc),
      'dek', (SELECT jsonb_build_object('key_id', d.key_id, 'wrapped', api.hex(d.wrapped))
                FROM cust.data_keys d WHERE d.customer_id = c.id));
  END IF;
  RETURN v_out::json;
END $$;

-- compare(caller, roles): for every customer the oracle can name (visible or not to the
-- caller), one line per difference between the old and the new document, between the old
-- document and api.customer_get's, and in the PII read log; empty when they agree. compared()
-- counts what was compared, so that an empty answer cannot come from comparing nothing.
CREATE TEMP TABLE compared (caller text, customer uuid, visible boolean, access text);
CREATE FUNCTION pg_temp.compare(p_user text, p_roles text) RETURNS text[]
  LANGUAGE plpgsql AS $$
DECLARE
  v_id uuid;
  c cust.customers;
  v_old json;
  v_new json;
  v_get json;
  v_logged bigint;
  v_bad text[] := '{}';
  v_req text;
BEGIN
  FOR v_id IN SELECT id FROM ids WHERE name LIKE 'doc%' ORDER BY name LOOP
    v_req := format('req-doc-%s-%s-%s', p_user, v_id, (SELECT count(*) FROM compared));
    PERFORM tx.begin_request(p_user, p_roles, v_req);
    SELECT * INTO c FROM cust.customers x WHERE x.id = v_id;
    IF NOT FOUND THEN
      v_get := api.customer_get(v_id);
      IF v_get IS NOT NULL THEN
        v_bad := v_bad || format('%s: invisible, but api.customer_get answered', v_id);
      END IF;
      INSERT INTO compared VALUES (p_user, v_id, false, NULL);
      CONTINUE;
    END IF;
    v_old := pg_temp.old_customer_json(c);
    v_new := cust.customer_json(c);
    IF v_new::text IS DISTINCT FROM v_old::text THEN
      v_bad := v_bad || format('%s: customer_json %s, before %s', v_id, v_new, v_old);
    END IF;
    IF (SELECT d.pii_access FROM cust.customer_doc(c) d) IS DISTINCT FROM v_old ->> 'pii_access' THEN
      v_bad := v_bad || format('%s: customer_doc''s pii_access differs', v_id);
    END IF;
    IF cust.pii_access(c) IS DISTINCT FROM v_old ->> 'pii_access' THEN
      v_bad := v_bad || format('%s: cust.pii_access differs', v_id);
    END IF;
    IF cust.completeness(c) IS DISTINCT FROM (v_old::jsonb -> 'completeness') THEN
      v_bad := v_bad || format('%s: cust.completeness differs', v_id);
    END IF;
    v_get := api.customer_get(v_id);
    IF v_get::text IS DISTINCT FROM v_old::text THEN
      v_bad := v_bad || format('%s: customer_get %s, before %s', v_id, v_get, v_old);
    END IF;
    SELECT count(*) INTO v_logged FROM cust.pii_reads r
     WHERE r.customer_id = v_id AND r.request_id = v_req AND r.reader_id = tx.user_id();
    IF v_logged <> (v_old ->> 'pii_access' = 'full')::int THEN
      v_bad := v_bad || format('%s: %s PII read log rows for pii_access %s', v_id, v_logged,
                               v_old ->> 'pii_access');
    END IF;
    INSERT INTO compared VALUES (p_user, v_id, true, v_old ->> 'pii_access');
  END LOOP;
  RETURN v_bad;
END $$;

-- The customers -------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.doc_contact(n int, name text, pos text, phone boolean, email boolean) RETURNS jsonb
  LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'id', pg_temp.k(n), 'name', name, 'position', pos,
    'phone_enc', CASE WHEN phone THEN pg_temp.ct(41, 'doc-phone' || n) END,
    'phone_bidx', CASE WHEN phone THEN pg_temp.bi('doc-phone' || n) END,
    'email_enc', CASE WHEN email THEN pg_temp.ct(50, 'doc-email' || n) END,
    'email_bidx', CASE WHEN email THEN pg_temp.bi('doc-email' || n) END)) $$;
CREATE FUNCTION pg_temp.doc_body(n int, name text, more jsonb DEFAULT '{}') RETURNS jsonb
  LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('id', pg_temp.c(n), 'name', name,
                            'dek', jsonb_build_object('key_id', 'mk1', 'wrapped', pg_temp.ct(60, 'doc-dek' || n)))
         || more $$;
INSERT INTO ids SELECT 'doc' || lpad(n::text, 2, '0'), pg_temp.c(900 + n) FROM generate_series(1, 12) n;

SELECT pg_temp.be('staff.a1', 'staff');
-- 1: everything filled in, verified, two contacts (one with a phone only), tags.
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.doc_body(901, '华鑫科技 Full', jsonb_build_object(
  'company_name', '上海华鑫科技有限公司', 'business_scope', '软件 "quotes" \ and tabs	here', 'source', 'referral',
  'needs', '需要', 'concerns', 'none', 'tags', jsonb_build_array('a', 'β', 'VIP'), 'status', 'active',
  'address_enc', pg_temp.ct(80, 'doc-addr1'), 'credit_code_enc', pg_temp.ct(40, 'doc-cc1'),
  'credit_code_bidx', pg_temp.bi('doc-cc1'), 'verified', true,
  'contacts', jsonb_build_array(pg_temp.doc_contact(9011, '王五', '经理', true, true),
                                pg_temp.doc_contact(9012, 'Li', NULL, true, false))))) $$, 'customer 1: complete');
-- 2: a name only, no contacts.
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.doc_body(902, 'Minimal')) $$, 'customer 2: a name only');
-- 3: contacts without phone or e-mail (present as contacts, missing as a required field), a
-- blank company name (written directly below: the API refuses blanks, older rows may hold them).
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.doc_body(903, 'No reachable contact', jsonb_build_object(
  'company_name', 'blank soon', 'contacts', jsonb_build_array(pg_temp.doc_contact(9031, 'Nobody', 'clerk', false, false),
                                                       pg_temp.doc_contact(9032, 'Second', NULL, false, false))))) $$,
  'customer 3: contacts without a phone or an e-mail');
-- 4: shared with staff.a2 through the team; an e-mail only.
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.doc_body(904, 'Shared', jsonb_build_object(
  'contacts', jsonb_build_array(pg_temp.doc_contact(9041, 'Mail', NULL, false, true))))) $$, 'customer 4');
SELECT lives_ok(format($$ SELECT api.customer_team_set(%L, jsonb_build_object('members', jsonb_build_array(%L))) $$,
  pg_temp.c(904), pg_temp.emp('staff.a2')), 'customer 4 is shared with staff.a2');
-- 7 and 8: 8 merged into 7.
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.doc_body(907, 'Merge target', jsonb_build_object(
  'contacts', jsonb_build_array(pg_temp.doc_contact(9071, 'T', NULL, true, false))))) $$, 'customer 7');
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.doc_body(908, 'Merge source', jsonb_build_object(
  'needs', 'x', 'contacts', jsonb_build_array(pg_temp.doc_contact(9081, 'S', NULL, false, true))))) $$, 'customer 8');
SELECT lives_ok(format($$ SELECT api.customer_merge(%L, %L, jsonb_build_object('source_version', 1, 'target_version', 1)) $$,
  pg_temp.c(907), pg_temp.c(908)), 'customer 8 is merged into 7');
-- 9: deactivated, then disposed of by admin (the data key is gone).
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.doc_body(909, 'Disposed', jsonb_build_object(
  'address_enc', pg_temp.ct(80, 'doc-addr9'), 'contacts', jsonb_build_array(pg_temp.doc_contact(9091, 'D', NULL, true, true))))) $$,
  'customer 9');
SELECT lives_ok(format($$ SELECT api.customer_deactivate(%L) $$, pg_temp.c(909)), 'customer 9 is deactivated');
SELECT pg_temp.be('admin', 'admin');
SELECT lives_ok(format($$ SELECT api.customer_dispose(%L) $$, pg_temp.c(909)), 'customer 9 is disposed of');
-- 10: verified 400 days ago (due for review).
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.doc_body(910, 'Old', jsonb_build_object(
  'owner_id', pg_temp.emp('staff.a1'), 'verified', true))) $$, 'customer 10');
UPDATE cust.customers SET last_verified_at = now() - interval '400 days' WHERE id = pg_temp.c(910);
-- 5: staff.a2's (department A: its supervisor sees it, staff.a1 does not).
SELECT pg_temp.be('staff.a2', 'staff');
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.doc_body(905, 'Other owner', jsonb_build_object(
  'tags', '[]'::jsonb, 'contacts', jsonb_build_array(pg_temp.doc_contact(9051, 'O', NULL, true, false))))) $$, 'customer 5');
-- 6: staff.b1's, department B.
SELECT pg_temp.be('staff.b1', 'staff');
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.doc_body(906, 'Department B', jsonb_build_object(
  'company_name', 'B Co', 'credit_code_enc', pg_temp.ct(40, 'doc-cc6'), 'credit_code_bidx', pg_temp.bi('doc-cc6')))) $$,
  'customer 6');
-- 11: a supervisor's own customer in department A; 12: an id that names no customer.
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.doc_body(911, 'Supervisor''s', jsonb_build_object(
  'business_scope', 'blank soon', 'source', 'blank soon', 'concerns', 'c'))) $$, 'customer 11');
SELECT pg_temp.be('admin', 'admin');
UPDATE cust.customers SET company_name = '   ' WHERE id = pg_temp.c(903);
UPDATE cust.customers SET business_scope = '  ', source = ' ' WHERE id = pg_temp.c(911);

-- The comparisons -------------------------------------------------------------------------------
CREATE TEMP TABLE callers (username text, roles text, ord int);
INSERT INTO callers VALUES ('staff.a1', 'staff', 1), ('staff.a2', 'staff', 2), ('staff.b1', 'staff', 3),
  ('sup.a', 'supervisor', 4), ('sup.b', 'supervisor', 5), ('admin', 'admin', 6), ('auditor', 'auditor', 7),
  ('hr', 'hr', 8), ('risk', 'risk_officer', 9);

-- Round 1: the fixtures' required fields.
SELECT is(pg_temp.compare(username, roles), '{}'::text[], 'required fields of the fixtures: ' || username)
  FROM callers ORDER BY ord;

-- Round 2: every field the parameter knows, and a review period of one day.
SELECT pg_temp.be('hr', 'hr');
CREATE TEMP TABLE props AS
SELECT (api.policy_propose('customer_required_fields', jsonb_build_object(
          'value', '["contacts", "tags", "name", "company_name", "business_scope", "source", "needs", "concerns", "address", "credit_code", "status", "owner_id"]'::jsonb,
          'effective_from', current_date, 'reason', 'issue 15 test')) ->> 'id')::uuid AS id
UNION ALL
SELECT (api.policy_propose('customer_review_period_days', jsonb_build_object(
          'value', 1, 'effective_from', current_date, 'reason', 'issue 15 test')) ->> 'id')::uuid;
SELECT pg_temp.be('admin', 'admin');
SELECT api.policy_decide(id, true, NULL) FROM props;
SELECT is(org.policy_value('customer_review_period_days'), '1'::jsonb, 'the review period is one day now');
SELECT is(pg_temp.compare(username, roles), '{}'::text[], 'every field required, one-day review period: ' || username)
  FROM callers ORDER BY ord;
-- Customer 1 verified two days ago: due under one day.
SELECT pg_temp.be('admin', 'admin');
UPDATE cust.customers SET last_verified_at = now() - interval '2 days' WHERE id = pg_temp.c(901);
SELECT is(pg_temp.compare('staff.a1', 'staff') || pg_temp.compare('auditor', 'auditor'), '{}'::text[],
  'a verification older than the review period');

-- The comparisons compared something of each kind.
SELECT is((SELECT array_agg(DISTINCT access ORDER BY access) FROM compared WHERE visible),
  ARRAY['full', 'masked', 'none'], 'documents with every pii_access were compared');
SELECT ok((SELECT count(*) FROM compared WHERE visible) >= 150 AND (SELECT count(*) FROM compared WHERE NOT visible) >= 20,
  'visible and invisible customers were compared');
SELECT ok((SELECT bool_and(visible) FROM compared WHERE customer = pg_temp.c(904) AND caller = 'staff.a2')
          AND (SELECT bool_and(access = 'full') FROM compared WHERE customer = pg_temp.c(904) AND caller = 'staff.a2'),
  'the team member reads the shared customer in full');
SELECT pg_temp.be('admin', 'admin');
SELECT is((SELECT status || ' ' || (merged_into = pg_temp.c(907))::text FROM cust.customers WHERE id = pg_temp.c(908)),
  'merged true', 'a merged customer was among them');
SELECT is((SELECT count(*)::int FROM cust.data_keys WHERE customer_id = pg_temp.c(909)), 0,
  'a disposed customer (no data key) was among them');

SELECT * FROM finish();
ROLLBACK;
