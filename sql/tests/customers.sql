-- Module C, customers (migration 0006_customers.sql, docs/customers.md): row-level security per
-- role and relation, pii_access, ciphertext stored as given (SQL never sees plaintext),
-- duplicates (TXDUP with the existing id when visible, else its department), completeness and the contract gate
-- (TXINC), the review queue and its policy parameter, the bigram name search and its index,
-- keyset pages, optimistic concurrency (TXPRE), the log of full-PII reads, the audit trail.
-- Run by tests/sql/run as tianxing_app. Fixtures: sql/tests/fixtures.sql (employees and
-- departments only; the customers are made here, through the API functions).
BEGIN;
SELECT plan(215);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');

-- Helpers ------------------------------------------------------------------------------------
\ir lib/session.psql
\ir lib/customers.psql
\ir lib/risk_credit.psql
-- A stand-in for what the C side sends: "ciphertext" of n bytes (0x01 || pseudo-random bytes
-- derived from seed) and a 32-byte "blind index", as bytes and as the JSON's "\x<hex>" text.
-- SQL is never given plaintext; these are what it stores and returns.
CREATE FUNCTION pg_temp.ct_bytes(n int, seed text) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT '\x01'::bytea || substr(sha512(convert_to(seed, 'UTF8')) || sha512(convert_to(seed || '+', 'UTF8')), 1, n - 1) $$;
CREATE FUNCTION pg_temp.bi_bytes(seed text) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT sha256(convert_to('bidx:' || seed, 'UTF8')) $$;
CREATE FUNCTION pg_temp.hx(b bytea) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT '\x' || encode(b, 'hex') $$;
CREATE FUNCTION pg_temp.contact(n int, name text, phone text, email text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'id', pg_temp.k(n), 'name', name,
    'phone_enc', CASE WHEN phone IS NOT NULL THEN pg_temp.hx(pg_temp.ct_bytes(41, 'phone:' || phone)) END,
    'phone_bidx', CASE WHEN phone IS NOT NULL THEN pg_temp.hx(pg_temp.bi_bytes('phone:' || phone)) END,
    'email_enc', CASE WHEN email IS NOT NULL THEN pg_temp.hx(pg_temp.ct_bytes(50, 'email:' || email)) END,
    'email_bidx', CASE WHEN email IS NOT NULL THEN pg_temp.hx(pg_temp.bi_bytes('email:' || email)) END)) $$;
-- A create body: id, name, a data key, and more.
CREATE FUNCTION pg_temp.customer_body(n int, name text, more jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('id', pg_temp.c(n), 'name', name,
                            'dek', jsonb_build_object('key_id', 'mk1', 'wrapped', pg_temp.hx(pg_temp.ct_bytes(60, 'dek' || n))))
         || more $$;
-- (pg_temp.err: lib/session.psql.)
-- The DETAIL of TXDUP and of TXINC, written out (not through api.field_error).
CREATE FUNCTION pg_temp.dup(existing uuid, field text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('existing_id', existing, 'errors', jsonb_build_array(
    jsonb_build_object('field', field, 'code', 'duplicate', 'message', field || ': duplicate'))) $$;
-- The same for a customer the caller cannot see (issue 10 item 7): its department, not its id.
CREATE FUNCTION pg_temp.dup_hidden(dept text, field text) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('owner_department',
    (SELECT jsonb_build_object('id', d.id, 'name', d.name) FROM org.departments d WHERE d.code = dept),
    'errors', jsonb_build_array(
    jsonb_build_object('field', field, 'code', 'duplicate', 'message', field || ': duplicate'))) $$;
CREATE FUNCTION pg_temp.dup_hidden_message(dept text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT format('A record with the same identifying data exists in department %s, which you cannot see: ask that department''s supervisor.',
                (SELECT d.name FROM org.departments d WHERE d.code = dept)) $$;
CREATE FUNCTION pg_temp.inc(fields text[]) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('errors', jsonb_agg(
    jsonb_build_object('field', f, 'code', 'missing', 'message', 'is missing or not verified') ORDER BY i))
    FROM unnest(fields) WITH ORDINALITY AS u(f, i) $$;
-- The ids of a list's items, in order.
CREATE FUNCTION pg_temp.ids(j json) RETURNS uuid[] LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(array_agg((e ->> 'id')::uuid ORDER BY i), '{}') FROM json_array_elements(j -> 'items') WITH ORDINALITY AS a(e, i) $$;
-- What the caller sees of the customers, in id order.
CREATE FUNCTION pg_temp.visible() RETURNS uuid[] LANGUAGE sql STABLE AS $$
  SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM cust.customers $$;
-- The customer list with only some arguments.
CREATE FUNCTION pg_temp.list(p_limit int DEFAULT NULL, p_cursor text DEFAULT NULL, p_owner uuid DEFAULT NULL,
                             p_department uuid DEFAULT NULL, p_tag text DEFAULT NULL, p_status text DEFAULT NULL,
                             p_stale boolean DEFAULT NULL, p_q text DEFAULT NULL, p_phone bytea DEFAULT NULL,
                             p_email bytea DEFAULT NULL, p_sort text DEFAULT NULL) RETURNS json LANGUAGE sql AS $$
  SELECT api.customer_list(p_limit, p_cursor, p_owner, p_department, p_tag, p_status, p_stale, p_q, p_phone, p_email, p_sort) $$;
-- The newest audit entry for a table, row and operation, read as the auditor (then back to the caller).
CREATE FUNCTION pg_temp.audit_entry(p_table text, p_key text, p_op text) RETURNS audit.log LANGUAGE plpgsql AS $$
DECLARE
  saved text[] := ARRAY[current_setting('tx.user_id', true), current_setting('tx.roles', true),
                        current_setting('tx.department_id', true), current_setting('tx.request_id', true)];
  r audit.log;
BEGIN
  PERFORM tx.begin_request('auditor', 'auditor', 'req-read');
  SELECT * INTO r FROM audit.log WHERE table_name = p_table AND row_key = p_key AND op = p_op ORDER BY id DESC LIMIT 1;
  PERFORM set_config('tx.user_id', coalesce(saved[1], ''), true), set_config('tx.roles', coalesce(saved[2], ''), true),
          set_config('tx.department_id', coalesce(saved[3], ''), true), set_config('tx.request_id', coalesce(saved[4], ''), true);
  RETURN r;
END $$;
-- The number of full-PII reads logged (read as the admin, then back to the caller).
CREATE FUNCTION pg_temp.pii_reads(p_customer uuid) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  saved text[] := ARRAY[current_setting('tx.user_id', true), current_setting('tx.roles', true),
                        current_setting('tx.department_id', true), current_setting('tx.request_id', true)];
  n int;
BEGIN
  PERFORM tx.begin_request('admin', 'admin', 'req-read');
  SELECT count(*) INTO n FROM cust.pii_reads WHERE customer_id = p_customer;
  PERFORM set_config('tx.user_id', coalesce(saved[1], ''), true), set_config('tx.roles', coalesce(saved[2], ''), true),
          set_config('tx.department_id', coalesce(saved[3], ''), true), set_config('tx.request_id', coalesce(saved[4], ''), true);
  RETURN n;
END $$;
CREATE FUNCTION pg_temp.plan(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text; o text := '';
BEGIN
  FOR r IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP o := o || r || E'\n'; END LOOP;
  RETURN o;
END $$;

-- Structure and privileges -----------------------------------------------------------------
SELECT has_table('cust', 'customers', 'cust.customers exists');
SELECT has_table('cust', 'contacts', 'cust.contacts exists');
SELECT has_table('cust', 'team', 'cust.team exists');
SELECT has_table('cust', 'data_keys', 'cust.data_keys exists');
SELECT has_table('cust', 'follow_ups', 'cust.follow_ups exists');
SELECT has_table('cust', 'contracts', 'cust.contracts exists');
SELECT has_table('cust', 'pii_reads', 'cust.pii_reads exists');
SELECT is((SELECT amname::text FROM pg_class i JOIN pg_am a ON a.oid = i.relam WHERE i.oid = 'cust.customers_search_idx'::regclass),
  'gin', 'search_bigrams has a GIN index');
SELECT ok((SELECT indisunique FROM pg_index WHERE indexrelid = 'cust.customers_credit_code_bidx_key'::regclass)
          AND (SELECT indisunique FROM pg_index WHERE indexrelid = 'cust.contacts_phone_bidx_key'::regclass)
          AND (SELECT indisunique FROM pg_index WHERE indexrelid = 'cust.contacts_email_bidx_key'::regclass),
  'blind indexes are unique (the last line of defence against duplicates)');
SELECT is(ARRAY(SELECT format_type(atttypid, atttypmod) FROM pg_attribute
                 WHERE attrelid IN ('cust.customers'::regclass, 'cust.contacts'::regclass) AND attname ~ '_(enc|bidx)$' ORDER BY attname),
  ARRAY['bytea', 'bytea', 'bytea', 'bytea', 'bytea', 'bytea', 'bytea'], 'encrypted fields and blind indexes are bytea');
SELECT ok(NOT has_table_privilege('tianxing_app', 'cust.customers', 'DELETE')
          AND NOT has_table_privilege('tianxing_app', 'cust.data_keys', 'UPDATE')
          AND NOT has_table_privilege('tianxing_app', 'cust.pii_reads', 'DELETE')
          AND NOT has_table_privilege('tianxing_app', 'cust.follow_ups', 'UPDATE'),
  'no DELETE of customers, no UPDATE of data keys or follow-ups, no DELETE of the PII read log');
SELECT ok(NOT has_column_privilege('tianxing_app', 'cust.customers', 'department_id', 'UPDATE')
          AND NOT has_column_privilege('tianxing_app', 'cust.customers', 'version', 'UPDATE')
          AND NOT has_column_privilege('tianxing_app', 'cust.customers', 'search_bigrams', 'UPDATE'),
  'department_id, version and search_bigrams are derived, not set');
SELECT ok(ARRAY['cust.find_duplicate(text,bytea,uuid)', 'cust.first_duplicate(bytea,cust.contact_input[],uuid)',
               'cust.follow_owner_department()', 'cust.manages_team(uuid)',
               'cust.owner_department(uuid)',
               'cust.search_page(text,text,timestamp with time zone,uuid,uuid,uuid,text,text,boolean,text,bytea,bytea,interval,integer)']
          <@ ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = 'cust'::regnamespace AND p.prosecdef),
  'the duplicate look-up, the search, team management and the owner''s department are SECURITY DEFINER');
SELECT is_empty($$ SELECT p.oid::regprocedure::text FROM pg_proc p
                    WHERE p.pronamespace = 'cust'::regnamespace AND p.prosecdef
                      AND (p.proconfig[1] IS DISTINCT FROM 'search_path=pg_catalog, pg_temp'
                           OR NOT p.proconfig[2:] <@ ARRAY['plan_cache_mode=force_generic_plan']
                           OR pg_get_userbyid(p.proowner) <> 'tianxing_owner') $$,
  '... each pins search_path (and nothing else but, where it says why, the generic plan) and belongs to tianxing_owner');
SELECT is_empty($$ SELECT p.oid::regprocedure::text FROM pg_proc p
                    WHERE p.pronamespace = 'cust'::regnamespace
                      AND (p.proacl IS NULL OR EXISTS (SELECT FROM aclexplode(p.proacl) a
                                                        WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')) $$,
  'PUBLIC may execute no cust function');
SELECT throws_ok($$ SELECT cust.find_duplicate('phone', '\x00', NULL) $$, '42501', NULL,
  'anonymous: the duplicate look-up is refused');

-- Create: validation ------------------------------------------------------------------------
SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok($$ SELECT api.customer_create(pg_temp.customer_body(99, 'X')) $$, '42501', NULL, 'hr cannot create customers');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok($$ SELECT api.customer_create(pg_temp.customer_body(99, 'X') - 'id') $$, 'TXVAL', 'id: is required', 'id (chosen by C) is required');
SELECT throws_ok($$ SELECT api.customer_create(pg_temp.customer_body(99, 'X') - 'dek') $$, 'TXVAL', 'dek: is required', 'a data key is required');
SELECT throws_ok($$ SELECT api.customer_create(pg_temp.customer_body(99, 'X', '{"dek": {"key_id": "mk1", "wrapped": "\\x0102"}}')) $$,
  'TXVAL', 'dek.wrapped: must be 60 bytes', 'the wrapped key is 12 + 32 + 16 bytes');
SELECT throws_ok($$ SELECT api.customer_create(pg_temp.customer_body(99, 'X', '{"dek": {"key_id": "mk 1", "wrapped": "\\x00"}}')) $$,
  'TXVAL', 'dek.key_id: must be 1 to 64 letters, digits, ., _, : or -', 'the key id is checked');
SELECT throws_ok($$ SELECT api.customer_create(pg_temp.customer_body(99, 'X', '{"address_enc": "12 Main Street"}')) $$,
  'TXVAL', 'address_enc: must be bytes written "\x" and hex digits', 'plaintext where ciphertext belongs is refused');
SELECT throws_ok($$ SELECT api.customer_create(pg_temp.customer_body(99, 'X', jsonb_build_object('address_enc', pg_temp.hx(pg_temp.ct_bytes(29, 'a'))))) $$,
  'TXVAL', 'address_enc: must be 30 to 2029 bytes', 'ciphertext shorter than nonce + tag + 1 byte is refused');
SELECT throws_ok($$ SELECT api.customer_create(pg_temp.customer_body(99, 'X', jsonb_build_object('credit_code_enc', pg_temp.hx(pg_temp.ct_bytes(47, 'cc'))))) $$,
  'TXVAL', 'credit_code_bidx: credit_code_enc and credit_code_bidx go together', 'a credit code needs its blind index');
SELECT throws_ok($$ SELECT api.customer_create(pg_temp.customer_body(99, 'X', jsonb_build_object('credit_code_enc', pg_temp.hx(pg_temp.ct_bytes(47, 'cc')),
                                                                                          'credit_code_bidx', pg_temp.hx(pg_temp.ct_bytes(31, 'cc'))))) $$,
  'TXVAL', 'credit_code_bidx: must be 32 bytes', 'a blind index is 32 bytes');
SELECT throws_ok($$ SELECT api.customer_create(pg_temp.customer_body(99, 'X', '{"status": "vip"}')) $$,
  'TXVAL', 'status: must be one of prospect, active, inactive', 'status is checked');
SELECT throws_ok($$ SELECT api.customer_create(pg_temp.customer_body(99, repeat('名', 101))) $$,
  'TXVAL', 'name: must be at most 100 characters', 'name is at most 100 characters');
SELECT throws_ok($$ SELECT api.customer_create(pg_temp.customer_body(99, 'X', jsonb_build_object('tags', to_jsonb(ARRAY(SELECT 't' || i FROM generate_series(1, 21) i))))) $$,
  'TXVAL', 'tags: at most 20 tags', 'at most 20 tags');
SELECT throws_ok($$ SELECT api.customer_create(pg_temp.customer_body(99, 'X', '{"contacts": [{"id": "41000000-0000-4000-8000-000000000099"}]}')) $$,
  'TXVAL', 'contacts[0]: needs a name, a phone or an e-mail', 'an empty contact is refused, naming it');
SELECT throws_ok($$ SELECT api.customer_create(pg_temp.customer_body(99, 'X', jsonb_build_object('contacts', jsonb_build_array(
                      pg_temp.contact(98, 'A', NULL, NULL), pg_temp.contact(99, NULL, '+8613800000099', NULL) - 'phone_bidx')))) $$,
  'TXVAL', 'contacts[1].phone_bidx: phone_enc and phone_bidx go together', 'errors name the contact and its field');
SELECT throws_ok($$ SELECT api.customer_create(pg_temp.customer_body(99, 'X', jsonb_build_object('contacts', jsonb_build_array(
                      pg_temp.contact(98, NULL, '+8613800000099', NULL), pg_temp.contact(99, NULL, '+8613800000099', NULL))))) $$,
  'TXVAL', 'contacts[1].phone: is repeated', 'the same phone twice in one body');
SELECT throws_ok($$ SELECT api.customer_create(pg_temp.customer_body(99, 'X', jsonb_build_object('contacts', jsonb_build_array(
                      pg_temp.contact(98, 'A', NULL, NULL), pg_temp.contact(98, 'B', NULL, NULL))))) $$,
  'TXVAL', 'contacts[1].id: is repeated', 'the same contact id twice in one body');
SELECT throws_ok($$ SELECT api.customer_create(pg_temp.customer_body(99, 'X', jsonb_build_object('contacts', jsonb_build_array(
                      pg_temp.contact(97, NULL, NULL, 'a@example.com'), pg_temp.contact(98, 'B', NULL, NULL),
                      pg_temp.contact(99, NULL, NULL, 'a@example.com'))))) $$,
  'TXVAL', 'contacts[2].email: is repeated', 'the same e-mail twice in one body, a contact without one between');
SELECT throws_ok($$ SELECT api.customer_create(pg_temp.customer_body(99, 'X', jsonb_build_object('owner_id', pg_temp.emp('staff.a2')))) $$,
  '42501', 'owner_id: only a supervisor or an administrator assigns another owner', 'staff cannot make someone else the owner');
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT throws_ok($$ SELECT api.customer_create(pg_temp.customer_body(99, 'X', jsonb_build_object('owner_id', pg_temp.emp('staff.b1')))) $$,
  'TXVAL', 'owner_id: must be an active employee with the role staff or supervisor',
  'a supervisor assigns owners within their department only');
SELECT pg_temp.be('admin', 'admin');
SELECT throws_ok($$ SELECT api.customer_create(pg_temp.customer_body(99, 'X')) $$, 'TXVAL', NULL,
  'an admin without the staff role cannot be the owner: owner_id is needed');
SELECT throws_ok($$ SELECT api.customer_create(pg_temp.customer_body(99, 'X', jsonb_build_object('owner_id', pg_temp.emp('gone')))) $$,
  'TXVAL', 'owner_id: must be an active employee with the role staff or supervisor', 'an inactive owner is refused');
SELECT throws_ok($$ SELECT api.customer_create(pg_temp.customer_body(99, 'X', jsonb_build_object('owner_id', pg_temp.emp('hr')))) $$,
  'TXVAL', NULL, 'an owner without the role staff or supervisor is refused');

-- Create: the customers of this file ---------------------------------------------------------
--  1 天星科技 / 天星苑有限公司  staff.a1 (A)  complete, phone 1, credit code 1, tags vip+software
--  2 星河貿易                   staff.a2 (A)  name only, a contact without phone or e-mail
--  3 Beta Trading / Beta Ltd    staff.b1 (B)  e-mail 3, credit code 3, tag vip
--  4 abc cb                     staff.a1      (the search's recheck)
--  5 Gamma                      staff.a2, created by sup.a; phone 5
--  6 Delta, 7 Epsilon           staff.a1      (pages)
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(api.customer_create(pg_temp.customer_body(1, '天星科技', jsonb_build_object(
            'company_name', '天星苑有限公司', 'business_scope', '軟件開發', 'status', 'active', 'tags', jsonb_build_array('vip', 'software', 'vip'),
            'source', 'referral', 'needs', '雲端部署', 'address_enc', pg_temp.hx(pg_temp.ct_bytes(60, 'address1')),
            'credit_code_enc', pg_temp.hx(pg_temp.ct_bytes(47, 'cc1')), 'credit_code_bidx', pg_temp.hx(pg_temp.bi_bytes('cc1')),
            'contacts', jsonb_build_array(pg_temp.contact(1, '王小明', '+8613812345678', NULL)))))::jsonb
          @> jsonb_build_object('id', pg_temp.c(1), 'name', '天星科技', 'company_name', '天星苑有限公司', 'business_scope', '軟件開發',
    'status', 'active', 'tags', jsonb_build_array('vip', 'software'), 'source', 'referral', 'needs', '雲端部署', 'concerns', NULL,
    'owner_id', pg_temp.emp('staff.a1'), 'department_id', '10000000-0000-4000-8000-00000000000a', 'last_verified_at', NULL,
    'stale', false, 'version', 1, 'pii_access', 'full',
    'address_enc', pg_temp.hx(pg_temp.ct_bytes(60, 'address1')), 'credit_code_enc', pg_temp.hx(pg_temp.ct_bytes(47, 'cc1')),
    'contacts', jsonb_build_array(jsonb_build_object('id', pg_temp.k(1), 'name', '王小明', 'position', NULL,
                                                     'phone_enc', pg_temp.hx(pg_temp.ct_bytes(41, 'phone:+8613812345678')), 'email_enc', NULL)),
    'dek', jsonb_build_object('key_id', 'mk1', 'wrapped', pg_temp.hx(pg_temp.ct_bytes(60, 'dek1'))),
    'completeness', jsonb_build_object('score', 100, 'missing', '[]'::jsonb, 'unverified', jsonb_build_array('last_verified_at'))),
  true, 'customer_create: the customer as customer_get shows it; owner = the caller; department = the owner''s; bytes as "\x<hex>"');
SELECT api.customer_create(pg_temp.customer_body(4, 'abc cb'));
SELECT api.customer_create(pg_temp.customer_body(6, 'Delta', '{"tags": ["retail"]}'));
SELECT api.customer_create(pg_temp.customer_body(7, 'Epsilon', '{"status": "inactive"}'));
SELECT pg_temp.be('staff.a2', 'staff');
SELECT api.customer_create(pg_temp.customer_body(2, '星河貿易', jsonb_build_object('contacts', jsonb_build_array(pg_temp.contact(2, '李四', NULL, NULL)))));
SELECT pg_temp.be('staff.b1', 'staff');
SELECT api.customer_create(pg_temp.customer_body(3, 'Beta Trading', jsonb_build_object(
  'company_name', 'Beta Ltd', 'business_scope', 'import', 'tags', jsonb_build_array('vip'),
  'credit_code_enc', pg_temp.hx(pg_temp.ct_bytes(47, 'cc3')), 'credit_code_bidx', pg_temp.hx(pg_temp.bi_bytes('cc3')),
  'contacts', jsonb_build_array(pg_temp.contact(3, 'Jo', NULL, 'jo@beta.test')))));
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT is(api.customer_create(pg_temp.customer_body(5, 'Gamma', jsonb_build_object('owner_id', pg_temp.emp('staff.a2'),
            'contacts', jsonb_build_array(pg_temp.contact(5, NULL, '+8613900000005', NULL)))))::jsonb ->> 'owner_id',
  pg_temp.emp('staff.a2')::text, 'a supervisor creates a customer for someone in their department');

-- Ciphertext is stored as given; no plaintext anywhere ---------------------------------------
SELECT pg_temp.be('admin', 'admin');
SELECT ok((SELECT address_enc = pg_temp.ct_bytes(60, 'address1') AND credit_code_enc = pg_temp.ct_bytes(47, 'cc1')
                  AND credit_code_bidx = pg_temp.bi_bytes('cc1') FROM cust.customers WHERE id = pg_temp.c(1)),
  'the raw customer columns hold exactly the ciphertext and blind index sent');
SELECT ok((SELECT phone_enc = pg_temp.ct_bytes(41, 'phone:+8613812345678') AND phone_bidx = pg_temp.bi_bytes('phone:+8613812345678')
           FROM cust.contacts WHERE id = pg_temp.k(1)),
  'the raw contact columns hold exactly the ciphertext and blind index sent');
SELECT ok((SELECT key_id = 'mk1' AND wrapped = pg_temp.ct_bytes(60, 'dek1') FROM cust.data_keys WHERE customer_id = pg_temp.c(1)),
  'the wrapped data key is stored as sent');
SELECT is_empty($$ SELECT 1 FROM cust.customers c JOIN cust.contacts k ON k.customer_id = c.id
                    WHERE (row_to_json(c)::text || row_to_json(k)::text) ~ '(13812345678|jo@beta\.test)'
                       OR position(convert_to('13812345678', 'UTF8') IN k.phone_enc) > 0 $$,
  'the phone number and e-mail the C side encrypted appear nowhere in the rows, in text or in bytes');

-- Visibility per role and relation -----------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(pg_temp.visible(), ARRAY[pg_temp.c(1), pg_temp.c(4), pg_temp.c(6), pg_temp.c(7)], 'staff.a1: their own customers only');
SELECT is(api.customer_get(pg_temp.c(2))::jsonb, NULL, 'staff.a1: a colleague''s customer is invisible (NULL -> 404)');
SELECT is(api.customer_get(pg_temp.c(3))::jsonb, NULL, 'staff.a1: another department''s customer is invisible');
-- The PII read log has no foreign keys (0050: their checks locked the customer's and the reader's
-- rows on every read); its insert policy is what keeps its rows pointing at real ones.
SELECT throws_ok($$ INSERT INTO cust.pii_reads (customer_id, reader_id) VALUES (pg_temp.c(3), pg_temp.emp('staff.a1')) $$,
  '42501', NULL, 'staff.a1 cannot log a read of a customer they cannot see');
SELECT throws_ok($$ INSERT INTO cust.pii_reads (customer_id, reader_id) VALUES (gen_random_uuid(), pg_temp.emp('staff.a1')) $$,
  '42501', NULL, '... nor of a customer that does not exist');
SELECT throws_ok($$ INSERT INTO cust.pii_reads (customer_id, reader_id) VALUES (pg_temp.c(1), pg_temp.emp('staff.b1')) $$,
  '42501', NULL, '... nor in another employee''s name');
SELECT is(ARRAY(SELECT conname::text FROM pg_constraint WHERE conrelid = 'cust.pii_reads'::regclass AND contype = 'f'),
  '{}'::text[], 'the PII read log takes no row lock on its customer or reader (no foreign key, 0050)');
SELECT is_empty($$ SELECT 1 FROM cust.contacts WHERE customer_id <> ALL (ARRAY[pg_temp.c(1), pg_temp.c(4), pg_temp.c(6), pg_temp.c(7)]) $$,
  'staff.a1: no contacts of invisible customers');
SELECT pg_temp.be('staff.a2', 'staff');
SELECT is(pg_temp.visible(), ARRAY[pg_temp.c(2), pg_temp.c(5)], 'staff.a2: their own (one assigned by the supervisor)');
SELECT pg_temp.be('staff.b1', 'staff');
SELECT is(pg_temp.visible(), ARRAY[pg_temp.c(3)], 'staff.b1: their own');
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT is(pg_temp.visible(), ARRAY[pg_temp.c(1), pg_temp.c(2), pg_temp.c(4), pg_temp.c(5), pg_temp.c(6), pg_temp.c(7)],
  'supervisor A: department A''s customers');
SELECT is(api.customer_get(pg_temp.c(2))::jsonb ->> 'pii_access', 'full', 'supervisor A: full PII of the department''s customers');
SELECT pg_temp.be('sup.a', 'staff');
SELECT is(pg_temp.visible(), '{}'::uuid[], 'the supervisor with a token carrying only staff: owns none, sees none');
SELECT pg_temp.be('sup.b', 'supervisor');
SELECT is(pg_temp.visible(), ARRAY[pg_temp.c(3)], 'supervisor B: department B''s customers');
SELECT pg_temp.be('admin', 'admin');
SELECT is(cardinality(pg_temp.visible()), 7, 'admin: all customers');
SELECT is(api.customer_get(pg_temp.c(3))::jsonb ->> 'pii_access', 'full', 'admin: full PII');

SELECT pg_temp.be('auditor', 'auditor');
SELECT is(cardinality(pg_temp.visible()), 7, 'auditor: all customers');
SELECT is(api.customer_get(pg_temp.c(1))::jsonb ->> 'pii_access', 'masked', 'auditor: pii_access masked');
SELECT ok((SELECT j ? 'address_enc' AND j ? 'dek' AND j -> 'contacts' -> 0 ? 'phone_enc'
             FROM (SELECT api.customer_get(pg_temp.c(1))::jsonb AS j) s),
  'auditor: ciphertext and data key are returned (the C side masks)');
SELECT is((SELECT count(*)::int FROM cust.data_keys), 7, 'auditor: every data key is readable');

SELECT pg_temp.be('hr', 'hr');
SELECT is(cardinality(pg_temp.visible()), 7, 'hr: all customers');
SELECT is(api.customer_get(pg_temp.c(1))::jsonb ->> 'pii_access', 'none', 'hr: pii_access none');
SELECT ok((SELECT NOT (j ? 'address_enc' OR j ? 'credit_code_enc' OR j ? 'dek' OR j -> 'contacts' -> 0 ? 'phone_enc'
                       OR j -> 'contacts' -> 0 ? 'email_enc')
             FROM (SELECT api.customer_get(pg_temp.c(1))::jsonb AS j) s),
  'hr: no ciphertext, no data key in the customer');
SELECT is_empty('SELECT 1 FROM cust.data_keys', 'hr: no data key readable at all');
SELECT pg_temp.be('risk', 'risk_officer');
SELECT is(cardinality(pg_temp.visible()), 7, 'risk officer: all customers');
SELECT is(api.customer_get(pg_temp.c(3))::jsonb ->> 'pii_access', 'none', 'risk officer: pii_access none');
SELECT is_empty('SELECT 1 FROM cust.data_keys', 'risk officer: no data key readable');
SELECT pg_temp.be('admin2', 'hr');
SELECT is(api.customer_get(pg_temp.c(1))::jsonb ->> 'pii_access', 'none', 'admin2 signed in with hr only: none');
SELECT pg_temp.be('admin2', 'admin,hr');
SELECT is(api.customer_get(pg_temp.c(1))::jsonb ->> 'pii_access', 'full', 'admin2 with admin and hr: the most open role wins');
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', '', true);
SELECT is_empty('SELECT 1 FROM cust.customers', 'anonymous: nothing visible');
SELECT throws_ok($$ SELECT api.customer_get('40000000-0000-4000-8000-000000000001') $$, 'TXAUT', NULL, 'anonymous: customer_get is TXAUT');

-- Direct writes are held by row-level security too
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok($$ INSERT INTO cust.customers (id, name, owner_id) VALUES (pg_temp.c(98), 'X', pg_temp.emp('staff.a2')) $$,
  '42501', NULL, 'staff: a customer owned by someone else cannot be inserted directly');
SELECT is_empty($$ UPDATE cust.customers SET name = 'x' WHERE id = pg_temp.c(2) RETURNING id $$,
  'staff: another''s customer cannot be updated directly');
SELECT pg_temp.be('auditor', 'auditor');
SELECT is_empty($$ UPDATE cust.customers SET name = 'x' RETURNING id $$, 'auditor: read-only');

-- Duplicates -----------------------------------------------------------------------------------
SELECT pg_temp.be('staff.b1', 'staff');
SELECT is(pg_temp.err(format($$ SELECT api.customer_create(%L) $$, pg_temp.customer_body(90, 'Copy', jsonb_build_object(
            'credit_code_enc', pg_temp.hx(pg_temp.ct_bytes(47, 'cc1-again')), 'credit_code_bidx', pg_temp.hx(pg_temp.bi_bytes('cc1')))))),
  jsonb_build_object('state', 'TXDUP', 'message', pg_temp.dup_hidden_message('A'), 'column', 'credit_code',
    'detail', pg_temp.dup_hidden('A', 'credit_code')),
  'the same credit code: TXDUP naming the owning department, not the id staff.b1 cannot see');
SELECT is(pg_temp.err(format($$ SELECT api.customer_create(%L) $$, pg_temp.customer_body(90, 'Copy', jsonb_build_object(
            'contacts', jsonb_build_array(pg_temp.contact(90, 'x', '+8613900000090', NULL), pg_temp.contact(91, NULL, '+8613812345678', NULL)))))),
  jsonb_build_object('state', 'TXDUP', 'message', pg_temp.dup_hidden_message('A'), 'column', 'contacts[1].phone',
    'detail', pg_temp.dup_hidden('A', 'contacts[1].phone')),
  'a phone of another customer: TXDUP naming the contact');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(pg_temp.err(format($$ SELECT api.customer_create(%L) $$, pg_temp.customer_body(90, 'Copy', jsonb_build_object(
            'credit_code_enc', pg_temp.hx(pg_temp.ct_bytes(47, 'cc1-again')), 'credit_code_bidx', pg_temp.hx(pg_temp.bi_bytes('cc1')))))),
  jsonb_build_object('state', 'TXDUP', 'message', 'A record with the same identifying data exists.', 'column', 'credit_code',
    'detail', pg_temp.dup(pg_temp.c(1), 'credit_code')),
  'the same credit code: TXDUP with the existing id for staff.a1, who sees that customer');
SELECT is(pg_temp.err(format($$ SELECT api.customer_create(%L) $$, pg_temp.customer_body(90, 'Copy', jsonb_build_object(
            'contacts', jsonb_build_array(pg_temp.contact(90, 'x', NULL, 'jo@beta.test')))))),
  jsonb_build_object('state', 'TXDUP', 'message', pg_temp.dup_hidden_message('B'), 'column', 'contacts[0].email',
    'detail', pg_temp.dup_hidden('B', 'contacts[0].email')),
  'an e-mail of another department''s customer: TXDUP naming that department');
-- Several duplicates in one body: the first in the API's order is reported (the credit code, then
-- the contacts in the body's order, a phone before an e-mail), one look-up for all of them.
SELECT is(pg_temp.err(format($$ SELECT api.customer_create(%L) $$, pg_temp.customer_body(90, 'Copy', jsonb_build_object(
            'credit_code_enc', pg_temp.hx(pg_temp.ct_bytes(47, 'cc1-again')), 'credit_code_bidx', pg_temp.hx(pg_temp.bi_bytes('cc1')),
            'contacts', jsonb_build_array(pg_temp.contact(90, 'x', NULL, 'jo@beta.test'), pg_temp.contact(91, NULL, '+8613812345678', NULL))))))->>'column',
  'credit_code', 'several duplicates: the credit code first');
SELECT is(pg_temp.err(format($$ SELECT api.customer_create(%L) $$, pg_temp.customer_body(90, 'Copy', jsonb_build_object(
            'contacts', jsonb_build_array(pg_temp.contact(90, 'x', '+8613900000090', 'jo@beta.test'), pg_temp.contact(91, NULL, '+8613812345678', NULL))))))->>'column',
  'contacts[0].email', '... then the first contact with one, before a later contact''s phone');
SELECT is(pg_temp.err(format($$ SELECT api.customer_update(%L, 1, %L) $$, pg_temp.c(4),
            jsonb_build_object('contacts', jsonb_build_array(pg_temp.contact(40, NULL, '+8613900000005', NULL)))))->'detail',
  pg_temp.dup_hidden('A', 'contacts[0].phone'), 'customer_update: a phone of another customer is a duplicate too');
SELECT pg_temp.be('admin', 'admin');
SELECT throws_ok($$ INSERT INTO cust.contacts (id, customer_id, seq, phone_enc, phone_bidx)
                    VALUES (pg_temp.k(97), pg_temp.c(4), 0, pg_temp.ct_bytes(41, 'x'), pg_temp.bi_bytes('phone:+8613812345678')) $$,
  '23505', NULL, 'bypassing the API, the unique index still refuses a second holder of a phone');
SELECT throws_ok($$ UPDATE cust.customers SET credit_code_enc = pg_temp.ct_bytes(47, 'x'), credit_code_bidx = pg_temp.bi_bytes('cc3')
                     WHERE id = pg_temp.c(4) $$,
  '23505', NULL, '... and of a credit code');

-- Update ---------------------------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok($$ SELECT api.customer_update(pg_temp.c(1), 9, '{"needs": "x"}') $$, 'TXPRE', NULL, 'a stale version (ETag) is TXPRE');
SELECT throws_ok($$ SELECT api.customer_update(pg_temp.c(1), NULL, '{"needs": "x"}') $$, 'TXVAL', NULL, 'the expected version is required');
SELECT throws_ok($$ SELECT api.customer_update(pg_temp.c(2), 1, '{"needs": "x"}') $$, 'P0002', NULL, 'an invisible customer: P0002');
SELECT throws_ok($$ SELECT api.customer_update(pg_temp.c(1), 1, '{"dek": null}') $$, 'TXVAL', 'dek: unknown field',
  'the data key does not change by update');
SELECT throws_ok($$ SELECT api.customer_update(pg_temp.c(1), 1, '{"name": null}') $$, 'TXVAL', 'name: must not be null', 'name stays');
SELECT throws_ok($$ SELECT api.customer_update(pg_temp.c(1), 1, '{"status": "prospect"}') $$, 'TXVAL',
  'status: cannot go back from active to prospect', 'status does not go back to prospect');
SELECT throws_ok($$ SELECT api.customer_update(pg_temp.c(1), 1, '{"verified": false}') $$, 'TXVAL', NULL, 'verified is only ever true');
SELECT throws_ok($$ SELECT api.customer_update(pg_temp.c(1), 1, jsonb_build_object('owner_id', pg_temp.emp('staff.a2'))) $$,
  '42501', NULL, 'the owner (staff) cannot hand the customer over');
SELECT is((api.customer_update(pg_temp.c(1), 1, jsonb_build_object('concerns', '價格', 'needs', NULL, 'credit_code_enc', pg_temp.hx(pg_temp.ct_bytes(47, 'cc1')),
             'credit_code_bidx', pg_temp.hx(pg_temp.bi_bytes('cc1'))))::jsonb - 'created_at' - 'updated_at')
           @> jsonb_build_object('concerns', '價格', 'needs', NULL, 'version', 2, 'name', '天星科技'),
  true, 'customer_update: fields given change, null clears, the others stay; its own credit code is no duplicate; version 2');
SELECT is(api.customer_update(pg_temp.c(1), 2, jsonb_build_object('contacts', jsonb_build_array(
            pg_temp.contact(11, '陳大文', '+8613812345678', 'chan@tianxing.test'), pg_temp.contact(12, '助理', NULL, NULL))))::jsonb -> 'contacts',
  jsonb_build_array(
    jsonb_build_object('id', pg_temp.k(11), 'name', '陳大文', 'position', NULL, 'phone_enc', pg_temp.hx(pg_temp.ct_bytes(41, 'phone:+8613812345678')),
                       'email_enc', pg_temp.hx(pg_temp.ct_bytes(50, 'email:chan@tianxing.test'))),
    jsonb_build_object('id', pg_temp.k(12), 'name', '助理', 'position', NULL, 'phone_enc', NULL, 'email_enc', NULL)),
  'contacts given replace the list, in the order given (the kept phone is not a duplicate of itself)');
SELECT is_empty($$ SELECT 1 FROM cust.contacts WHERE id = pg_temp.k(1) $$, 'the former contact is gone');
SELECT is((SELECT last_verified_at FROM cust.customers WHERE id = pg_temp.c(1)), NULL, 'not verified yet');
SELECT is(api.customer_update(pg_temp.c(1), 3, '{"verified": true}')::jsonb ->> 'last_verified_at', api.ts(now()),
  'verified: true sets last_verified_at (C4.1, C4.2)');
SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok($$ SELECT api.customer_update(pg_temp.c(1), 4, '{"needs": "x"}') $$, '42501', NULL, 'hr: visible, not writable: 42501');
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT is(api.customer_update(pg_temp.c(6), 1, jsonb_build_object('owner_id', pg_temp.emp('staff.a2')))::jsonb ->> 'owner_id',
  pg_temp.emp('staff.a2')::text, 'the department''s supervisor reassigns a customer within the department');
SELECT pg_temp.be('admin', 'admin');
SELECT is(api.customer_update(pg_temp.c(6), 2, jsonb_build_object('owner_id', pg_temp.emp('staff.b1')))::jsonb ->> 'department_id',
  '10000000-0000-4000-8000-00000000000b', 'admin moves a customer to staff.b1: department_id follows the owner (B)');
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT is(api.customer_get(pg_temp.c(6))::jsonb, NULL, 'supervisor A no longer sees it');
SELECT pg_temp.be('sup.b', 'supervisor');
SELECT is(api.customer_get(pg_temp.c(6))::jsonb ->> 'pii_access', 'full', 'supervisor B does');

-- Team -----------------------------------------------------------------------------------------
SELECT pg_temp.be('staff.a2', 'staff');
SELECT throws_ok($$ INSERT INTO cust.team (customer_id, employee_id) VALUES (pg_temp.c(1), pg_temp.emp('staff.a2')) $$,
  '42501', NULL, 'nobody joins a team of their own accord');
SELECT pg_temp.be('staff.a1', 'staff');
INSERT INTO cust.team (customer_id, employee_id) VALUES (pg_temp.c(1), pg_temp.emp('staff.b1'));
SELECT pg_temp.be('staff.b1', 'staff');
SELECT is(pg_temp.visible(), ARRAY[pg_temp.c(1), pg_temp.c(3), pg_temp.c(6)], 'a team member sees the customer (another department''s)');
SELECT is(api.customer_get(pg_temp.c(1))::jsonb ->> 'pii_access', 'full', '... with full PII');
SELECT is(api.customer_update(pg_temp.c(1), 4, '{"needs": "雲端部署"}')::jsonb ->> 'version', '5', '... and may update it');
SELECT throws_ok($$ SELECT api.customer_update(pg_temp.c(1), 5, jsonb_build_object('owner_id', pg_temp.emp('staff.b1'))) $$,
  '42501', NULL, '... but not take it over');

-- Completeness and the contract gate (C1.3) -----------------------------------------------------
-- A contract also needs a current credit assessment (R2.3): customers 1 and 3 are assessed,
-- customer 2 is not (its refusal names both kinds of gap in one error).
SELECT pg_temp.be('risk', 'risk_officer');
SELECT pg_temp.credit_rate(pg_temp.c(1));
SELECT pg_temp.credit_rate(pg_temp.c(3));
SELECT pg_temp.be('staff.a2', 'staff');
SELECT is(api.customer_completeness(pg_temp.c(2))::jsonb,
  '{"score": 20, "missing": ["company_name", "business_scope", "contacts", "credit_code"], "unverified": ["last_verified_at"]}'::jsonb,
  'completeness: a contact without phone or e-mail does not count; 1 of 5 present is 20');
SELECT is(pg_temp.err($$ SELECT api.contract_create(pg_temp.c(2), '{"amount": "12000.00", "currency": "CNY", "signed_on": "2024-05-01"}') $$),
  jsonb_build_object('state', 'TXINC',
                     'detail', jsonb_build_object('errors',
                       (pg_temp.inc(ARRAY['company_name', 'business_scope', 'contacts', 'credit_code', 'last_verified_at']) -> 'errors')
                       || jsonb_build_array(api.field_error('credit_assessment', 'missing',
                            format('the customer has no credit assessment valid on %s (R2.3)', risk.credit_today())))),
                     'column', '', 'message',
                     'the customer''s information is incomplete or unverified: company_name, business_scope, contacts, credit_code, last_verified_at'
                     || '; the customer''s credit does not allow this contract (R2.3): credit_assessment'),
  'contract_create: TXINC, DETAIL = an error for exactly each missing field, and last_verified_at while never verified, then the credit gate''s (R2.3)');
SELECT is(api.customer_completeness(pg_temp.c(5))::jsonb ->> 'score', '40', 'completeness rounds down (2 of 5)');
SELECT pg_temp.be('staff.b1', 'staff');
SELECT is(pg_temp.err($$ SELECT api.contract_create(pg_temp.c(3), '{"amount": "12000.00", "currency": "CNY", "signed_on": "2024-05-01"}') $$) -> 'detail',
  pg_temp.inc(ARRAY['last_verified_at']), 'complete but never verified: TXINC lists last_verified_at only');
SELECT is(api.customer_completeness(pg_temp.c(2))::jsonb, NULL, 'completeness of an invisible customer: NULL');
SELECT throws_ok($$ SELECT api.contract_create(pg_temp.c(2), '{"amount": "1.00", "currency": "CNY", "signed_on": "2024-05-01"}') $$,
  'P0002', NULL, 'contract_create: an invisible customer is P0002');
SELECT pg_temp.be('auditor', 'auditor');
SELECT throws_ok($$ SELECT api.contract_create(pg_temp.c(1), '{"amount": "1.00", "currency": "CNY", "signed_on": "2024-05-01"}') $$,
  '42501', NULL, 'contract_create: the auditor may not');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(api.customer_completeness(pg_temp.c(1))::jsonb, '{"score": 100, "missing": [], "unverified": []}'::jsonb,
  'complete and verified');
SELECT throws_ok($$ SELECT api.contract_create(pg_temp.c(1), '{"amount": "0.00", "currency": "CNY", "signed_on": "2024-05-01"}') $$,
  'TXVAL', 'amount: must be greater than 0', 'amount > 0');
SELECT throws_ok($$ SELECT api.contract_create(pg_temp.c(1), '{"amount": 12000, "currency": "CNY", "signed_on": "2024-05-01"}') $$,
  'TXVAL', 'amount: must be a string', 'amount is a decimal string');
SELECT throws_ok($$ SELECT api.contract_create(pg_temp.c(1), '{"amount": "12.345", "currency": "CNY", "signed_on": "2024-05-01"}') $$,
  'TXVAL', NULL, 'amount: at most 2 decimals');
SELECT throws_ok($$ SELECT api.contract_create(pg_temp.c(1), '{"amount": "1.00", "currency": "cny", "signed_on": "2024-05-01"}') $$,
  'TXVAL', 'currency: must be three capital letters (ISO 4217)', 'currency ^[A-Z]{3}$');
SELECT throws_ok($$ SELECT api.contract_create(pg_temp.c(1), '{"amount": "1.00", "currency": "CNY", "prepayment_ratio": 1.5, "signed_on": "2024-05-01"}') $$,
  'TXVAL', 'prepayment_ratio: must be a number from 0 to 1 (at most 4 decimals)', 'prepayment_ratio 0..1');
SELECT throws_ok($$ SELECT api.contract_create(pg_temp.c(1), '{"amount": "1.00", "currency": "CNY", "term_months": 601, "signed_on": "2024-05-01"}') $$,
  'TXVAL', 'term_months: must be a whole number from 1 to 600', 'term_months 1..600');
SELECT throws_ok(format($$ SELECT api.contract_create(pg_temp.c(1), '{"amount": "1.00", "currency": "CNY", "signed_on": "%s"}') $$, current_date + 1),
  'TXVAL', 'signed_on: must not be in the future', 'signed_on not in the future');
SELECT is(api.contract_create(pg_temp.c(1), '{"amount": "12000.5", "currency": "CNY", "prepayment_ratio": 0.3, "term_months": 12, "signed_on": "2024-05-01"}')::jsonb
            - 'id' - 'created_at' - 'updated_at',
  jsonb_build_object('customer_id', pg_temp.c(1), 'amount', '12000.50', 'currency', 'CNY', 'prepayment_ratio', 0.3000,
                     'term_months', 12, 'signed_on', '2024-05-01', 'status', 'open', 'created_by', pg_temp.emp('staff.a1'), 'version', 1),
  'contract_create: complete and verified, the contract is made (amount as a decimal string)');

-- The required fields are a policy parameter: hr proposes, another admin approves, in force today.
SELECT pg_temp.be('hr', 'hr');
CREATE TEMP TABLE prop AS SELECT (api.policy_propose('customer_required_fields',
  jsonb_build_object('value', '["name", "needs", "contacts"]'::jsonb, 'effective_from', current_date, 'reason', 'test')) ->> 'id')::uuid AS id;
SELECT pg_temp.be('admin', 'admin');
SELECT api.policy_decide((SELECT id FROM prop), true, NULL);
SELECT pg_temp.be('staff.a2', 'staff');
SELECT is(api.customer_completeness(pg_temp.c(2))::jsonb, '{"score": 33, "missing": ["needs", "contacts"], "unverified": ["last_verified_at"]}'::jsonb,
  'completeness follows customer_required_fields in force today');

-- Review queue (C4.1): customer_review_period_days ----------------------------------------------
-- Verification dates in the past are set directly (as admin); creation dates cannot be, so a
-- never-verified customer made in this transaction is never due.
SELECT pg_temp.be('admin', 'admin');
UPDATE cust.customers SET last_verified_at = now() - interval '100 days' WHERE id = pg_temp.c(1);
UPDATE cust.customers SET last_verified_at = now() - interval '200 days' WHERE id = pg_temp.c(2);
UPDATE cust.customers SET last_verified_at = now() - interval '120 days' WHERE id = pg_temp.c(4);
UPDATE cust.customers SET last_verified_at = now() WHERE id = pg_temp.c(3);
SELECT is(pg_temp.ids(api.customer_review_queue(NULL, NULL)), ARRAY[pg_temp.c(2)], 'period 180 days: only the customer verified 200 days ago is due');
SELECT is((api.customer_review_queue(NULL, NULL) -> 'items' -> 0 ->> 'review_due_at'),
  api.ts((now() - interval '200 days') + interval '180 days'), 'its review was due 180 days after that verification');
SELECT pg_temp.be('hr', 'hr');
CREATE TEMP TABLE prop2 AS SELECT (api.policy_propose('customer_review_period_days',
  jsonb_build_object('value', 90, 'effective_from', current_date, 'reason', 'test')) ->> 'id')::uuid AS id;
SELECT pg_temp.be('admin', 'admin');
SELECT api.policy_decide((SELECT id FROM prop2), true, NULL);
SELECT is(pg_temp.ids(api.customer_review_queue(NULL, NULL)), ARRAY[pg_temp.c(2), pg_temp.c(4), pg_temp.c(1)],
  'period 90 days (the new value in force): three due, the longest overdue first; never verified but new: not due');
SELECT is(pg_temp.ids(api.customer_review_queue(1, NULL)), ARRAY[pg_temp.c(2)], 'review queue: a page of one');
SELECT is(pg_temp.ids(api.customer_review_queue(1, api.customer_review_queue(1, NULL) ->> 'next_cursor')), ARRAY[pg_temp.c(4)], '... the next page');
SELECT is(api.customer_review_queue(2, api.customer_review_queue(1, NULL) ->> 'next_cursor') ->> 'next_cursor', NULL, '... the last page has no cursor');
SELECT is(pg_temp.ids(pg_temp.list(p_stale => true, p_sort => 'name')),
  ARRAY(SELECT id FROM cust.customers WHERE id IN (pg_temp.c(1), pg_temp.c(2), pg_temp.c(4)) ORDER BY name, id),
  'customer_list stale=true: the same three');
SELECT is(cardinality(pg_temp.ids(pg_temp.list(p_stale => false))), 4, 'customer_list stale=false: the others');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(pg_temp.ids(api.customer_review_queue(NULL, NULL)), ARRAY[pg_temp.c(4), pg_temp.c(1)], 'staff.a1: their own due customers only');
SELECT is(api.customer_completeness(pg_temp.c(1))::jsonb -> 'unverified', '["last_verified_at"]'::jsonb,
  'verified 100 days ago, period 90: unverified again');
SELECT is(pg_temp.err($$ SELECT api.contract_create(pg_temp.c(1), '{"amount": "1.00", "currency": "CNY", "signed_on": "2024-05-01"}') $$) -> 'detail',
  pg_temp.inc(ARRAY['last_verified_at']), '... and no contract until it is verified again');
SELECT throws_ok($$ SELECT api.customer_review_queue(NULL, 'bm90IGEgY3Vyc29y') $$, 'TXVAL', 'cursor: is not a cursor of this list', 'a bad cursor: TXVAL');

-- Name search: bigrams, the GIN index ------------------------------------------------------------
SELECT is(cust.bigrams(lower('天星 Ab')), ARRAY['ab', '天星'], 'bigrams: pairs of characters, lower-cased, none across white space');
SELECT is(cust.bigrams('天星天星'), ARRAY['天星', '星天'], 'bigrams: distinct');
SELECT pg_temp.be('admin', 'admin');
SELECT ok((SELECT search_bigrams @> ARRAY['天星', '苑有', '公司'] AND NOT search_bigrams @> ARRAY['技 '] FROM cust.customers WHERE id = pg_temp.c(1)),
  'search_bigrams hold the bigrams of name and company name');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(pg_temp.ids(pg_temp.list(p_q => '天星')), ARRAY[pg_temp.c(1)], 'q=天星: a two-character Chinese query finds the customer');
SELECT is(pg_temp.ids(pg_temp.list(p_q => '有限公司')), ARRAY[pg_temp.c(1)], 'q matches the company name too');
SELECT is(pg_temp.ids(pg_temp.list(p_q => ' ABC ')), ARRAY[pg_temp.c(4)], 'q is trimmed and case-insensitive');
SELECT is(pg_temp.ids(pg_temp.list(p_q => 'abcb')), '{}'::uuid[],
  'every bigram of q present (ab, bc, cb in "abc cb") but not in a row: the recheck drops it');
SELECT is(pg_temp.ids(pg_temp.list(p_q => 'Beta')), '{}'::uuid[], 'the search finds visible customers only');
SELECT throws_ok($$ SELECT pg_temp.list(p_q => '天') $$, 'TXVAL', 'q: must be 2 to 100 characters', 'a one-character q is TXVAL');
SELECT throws_ok($$ SELECT pg_temp.list(p_q => 'a b c') $$, 'TXVAL', 'q: must hold two characters in a row that are not spaces',
  'a q without two characters in a row (no index term: it would read every customer) is TXVAL');
SELECT pg_temp.be('hr', 'hr');
SELECT is(pg_temp.ids(pg_temp.list(p_q => 'beta')), ARRAY[pg_temp.c(3)], 'hr: searches all customers');
-- The index. As the runtime role, row-level security keeps the planner from using the GIN index
-- for `search_bigrams @> ...` in a query on cust.customers (arraycontains is not leakproof, so it
-- may only run after the policy): the plan below is a scan with a filter even with sequential
-- scans off. That is why customer_list takes the page from cust.search_page (0012), which runs
-- as the owner role. With so few rows the planner would scan the table there too:
-- enable_seqscan = off (this transaction only) makes it show its index plan, and the
-- transaction's index statistics show that customer_list's search used the index.
SET LOCAL enable_seqscan = off;
SET LOCAL enable_indexscan = off;
SET LOCAL enable_indexonlyscan = off;
SELECT unalike(pg_temp.plan($$ SELECT id FROM cust.customers WHERE search_bigrams @> ARRAY['天星'] $$), '%customers_search_idx%',
  'a direct query as the runtime role cannot use the GIN index (row-level security, non-leakproof @>)');
-- (The sorts by updated_at walk cust.search_terms instead since 0044: sql/tests/customer_search.sql.)
CREATE TEMP TABLE scans AS SELECT pg_stat_get_xact_numscans('cust.customers_search_idx'::regclass) AS n;
SELECT is(pg_temp.ids(pg_temp.list(p_q => '天星', p_sort => 'name')), ARRAY[pg_temp.c(1)], 'hr: q=天星');
SELECT cmp_ok(pg_stat_get_xact_numscans('cust.customers_search_idx'::regclass), '>', (SELECT n FROM scans),
  'customer_list''s two-character Chinese search by name scanned the GIN index customers_search_idx');
RESET enable_seqscan;
RESET enable_indexscan;
RESET enable_indexonlyscan;
-- The list without q walks customers_updated_idx in its order; the columns the visibility rule
-- reads stay included as 0012 made them. Not the search's bigrams (0052): since 0044 no search
-- walks this index, and they made each entry about four times as wide (339 against 109 MB at a
-- million customers).
SELECT is(ARRAY(SELECT a.attname::text FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)
                  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n
                 WHERE i.indexrelid = 'cust.customers_updated_idx'::regclass ORDER BY k.o),
  ARRAY['updated_at', 'id', 'owner_id', 'department_id', 'status'],
  'customers_updated_idx: (updated_at, id) including what the visibility rule reads, not the bigrams');
-- cust.search_page adds the read policies taken from the catalog (0012): for every role and every query
-- below, the page it returns is exactly the visible customers containing q, in the list's order.
CREATE FUNCTION pg_temp.search_agrees(p_q text, p_sort text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE expected uuid[];
BEGIN
  EXECUTE format('SELECT ARRAY(SELECT c.id FROM cust.customers c
                   WHERE position(lower($1) IN lower(c.name || '' '' || coalesce(c.company_name, ''''))) > 0
                   ORDER BY %s)', cust.list_order(p_sort)) INTO expected USING p_q;
  RETURN expected = cust.search_page(p_sort, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, p_q, NULL, NULL,
                                     '180 days', 100);
END $$;
CREATE TEMP TABLE search_agreement (who text, ok boolean);
DO $$
DECLARE u text[]; q text; s text;
BEGIN
  FOREACH u SLICE 1 IN ARRAY ARRAY[['admin', 'admin'], ['auditor', 'auditor'], ['hr', 'hr'], ['risk', 'risk_officer'],
                                   ['sup.a', 'supervisor'], ['sup.b', 'supervisor'], ['staff.a1', 'staff'],
                                   ['staff.a2', 'staff'], ['staff.b1', 'staff'], ['staff.x', 'staff']] LOOP
    PERFORM pg_temp.be(u[1], u[2]);
    FOREACH q IN ARRAY ARRAY['天星', '星河', 'be', 'ab', 'ga', 'De', 'ep', 'ta', '有限公司', 'zz'] LOOP
      FOREACH s IN ARRAY ARRAY['-updated_at', 'updated_at', 'name'] LOOP
        INSERT INTO search_agreement VALUES (u[1] || ' ' || q || ' ' || s, pg_temp.search_agrees(q, s));
      END LOOP;
    END LOOP;
  END LOOP;
END $$;
SELECT is(ARRAY(SELECT who FROM search_agreement WHERE ok IS NOT TRUE), '{}'::text[],
  'search_page agrees with the row-level-security policy for every role, query and sort (staff.b1 via the team)');
SELECT cmp_ok((SELECT count(*) FROM search_agreement), '=', 300::bigint, '... 300 cases checked');
-- With filters: the list with q is the list without q, keeping the customers that contain q (the
-- filters are applied by search_page alone, 0012).
CREATE FUNCTION pg_temp.q_filters_agree(p_q text, p_owner uuid, p_tag text, p_status text, p_stale boolean, p_sort text)
  RETURNS int LANGUAGE plpgsql AS $$
DECLARE got uuid[]; expected uuid[];
BEGIN
  got := pg_temp.ids(pg_temp.list(p_limit => 200, p_owner => p_owner, p_tag => p_tag, p_status => p_status,
                                  p_stale => p_stale, p_q => p_q, p_sort => p_sort));
  expected := ARRAY(SELECT u.x FROM unnest(pg_temp.ids(pg_temp.list(p_limit => 200, p_owner => p_owner, p_tag => p_tag,
                                                                      p_status => p_status, p_stale => p_stale, p_sort => p_sort)))
                                     WITH ORDINALITY u(x, i)
                      JOIN cust.customers c ON c.id = u.x
                     WHERE position(lower(p_q) IN lower(c.name || ' ' || coalesce(c.company_name, ''))) > 0 ORDER BY u.i);
  RETURN CASE WHEN got = expected THEN cardinality(got) ELSE -1 END;
END $$;
CREATE TEMP TABLE filter_agreement (who text, n int);
DO $$
DECLARE u text[]; q text; f int;
BEGIN
  FOREACH u SLICE 1 IN ARRAY ARRAY[['hr', 'hr'], ['sup.a', 'supervisor'], ['staff.a1', 'staff']] LOOP
    PERFORM pg_temp.be(u[1], u[2]);
    FOREACH q IN ARRAY ARRAY['天星', 'ta', 'be', 'ab', 'ep'] LOOP
      FOR f IN 1..6 LOOP
        INSERT INTO filter_agreement
        SELECT u[1] || ' ' || q || ' filter ' || f,
               pg_temp.q_filters_agree(q, CASE WHEN f = 1 THEN pg_temp.emp('staff.a1') END,
                                       CASE WHEN f = 2 THEN 'vip' END, CASE WHEN f = 3 THEN 'active' END,
                                       CASE f WHEN 4 THEN true WHEN 5 THEN false END,
                                       CASE WHEN f = 6 THEN 'name' ELSE '-updated_at' END);
      END LOOP;
    END LOOP;
  END LOOP;
END $$;
SELECT is(ARRAY(SELECT who FROM filter_agreement WHERE n < 0), '{}'::text[],
  'with q, every filter (owner, tag, status, stale) and sort gives the list without q minus what does not contain q');
SELECT cmp_ok((SELECT sum(n) FROM filter_agreement), '>', 10::bigint, '... over 90 cases, not all of them empty');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(cust.search_page('-updated_at', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'Beta', NULL, NULL, '180 days', 10),
  '{}'::uuid[], 'search_page returns no id of a customer the caller cannot see');
SELECT pg_temp.be('hr', 'hr');
SELECT is(cardinality(cust.search_page('name', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'ta', NULL, NULL, '180 days', 1)), 1,
  'search_page stops after p_limit ids');
SELECT is(pg_temp.ids(pg_temp.list(p_limit => 1, p_q => 'ta', p_sort => 'name'))
          || pg_temp.ids(pg_temp.list(p_limit => 1, p_q => 'ta', p_sort => 'name',
               p_cursor => pg_temp.list(p_limit => 1, p_q => 'ta', p_sort => 'name') ->> 'next_cursor')),
  ARRAY(SELECT id FROM cust.customers WHERE position('ta' IN lower(name || ' ' || coalesce(company_name, ''))) > 0 ORDER BY name, id),
  'a search pages with the cursor like the list (sort=name, pages of one)');
SELECT is(pg_temp.ids(pg_temp.list(p_limit => 1, p_q => 'ta'))
          || pg_temp.ids(pg_temp.list(p_limit => 1, p_q => 'ta',
               p_cursor => pg_temp.list(p_limit => 1, p_q => 'ta') ->> 'next_cursor')),
  ARRAY(SELECT id FROM cust.customers WHERE position('ta' IN lower(name || ' ' || coalesce(company_name, ''))) > 0
         ORDER BY updated_at DESC, id DESC),
  '... and with the default sort -updated_at');
SELECT throws_ok($$ SELECT cust.search_page('id; --', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'ta', NULL, NULL, '1 day', 10) $$,
  '22023', NULL, 'search_page refuses a sort that is not the list''s');
SELECT throws_ok($$ SELECT cust.search_page('name', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'ta', NULL, NULL, '1 day', 202) $$,
  '22023', NULL, '... and a limit above the largest page (200) and one');
-- The longest names (100 + 200 characters) of the widest characters make the longest bigram arrays,
-- which customers_updated_idx holds (0012): created, then undone, whatever the characters.
CREATE FUNCTION pg_temp.creates(p_name text, p_company text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    PERFORM api.customer_create(pg_temp.customer_body(90, p_name, jsonb_build_object('company_name', p_company)));
    RAISE EXCEPTION 'undo' USING ERRCODE = 'TXUND';
  EXCEPTION WHEN SQLSTATE 'TXUND' THEN
    RETURN 'created';
  END;
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE FUNCTION pg_temp.random_text(p_seed text, p_len int, p_base int, p_span int) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(chr(p_base + (('x' || substr(md5(p_seed || i), 1, 7))::bit(28)::int % p_span)), '' ORDER BY i)
    FROM generate_series(1, p_len) i $$;
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(ARRAY[pg_temp.creates(pg_temp.random_text('n4', 100, 131072, 42000), pg_temp.random_text('c4', 200, 131072, 42000)),
                pg_temp.creates(pg_temp.random_text('n3', 100, 19968, 20900), pg_temp.random_text('c3', 200, 19968, 20900)),
                pg_temp.creates(pg_temp.random_text('nx', 100, 65536, 1000000), pg_temp.random_text('cx', 200, 65536, 1000000)),
                pg_temp.creates(pg_temp.random_text('nm', 100, 160, 55000), pg_temp.random_text('cm', 200, 160, 55000))],
  ARRAY['created', 'created', 'created', 'created'],
  'the longest names of 4-byte, 3-byte and mixed characters fit the search index');

-- Lists: keyset pages, sorts, filters --------------------------------------------------------
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT is(pg_temp.ids(pg_temp.list(p_limit => 2, p_sort => 'name')) || pg_temp.ids(pg_temp.list(p_limit => 2, p_sort => 'name',
            p_cursor => pg_temp.list(p_limit => 2, p_sort => 'name') ->> 'next_cursor'))
          || pg_temp.ids(pg_temp.list(p_limit => 2, p_sort => 'name', p_cursor => pg_temp.list(p_limit => 2, p_sort => 'name',
            p_cursor => pg_temp.list(p_limit => 2, p_sort => 'name') ->> 'next_cursor') ->> 'next_cursor')),
  ARRAY(SELECT id FROM cust.customers ORDER BY name, id), 'sort=name: three pages of two are the whole list, in order');
CREATE TEMP TABLE pages AS SELECT pg_temp.list(p_limit => 3) AS p1;
SELECT is(pg_temp.ids((SELECT p1 FROM pages)) || pg_temp.ids(pg_temp.list(p_limit => 3, p_cursor => (SELECT p1 ->> 'next_cursor' FROM pages))),
  ARRAY(SELECT id FROM cust.customers ORDER BY updated_at DESC, id DESC), 'default sort -updated_at: pages of three, ties broken by id');
SELECT is(pg_temp.list(p_limit => 3, p_cursor => (SELECT p1 ->> 'next_cursor' FROM pages)) ->> 'next_cursor', NULL, 'the last page has no cursor');
SELECT is(pg_temp.ids(pg_temp.list(p_limit => 50, p_sort => 'updated_at')), ARRAY(SELECT id FROM cust.customers ORDER BY updated_at, id),
  'sort=updated_at');
SELECT ok((SELECT p1 ->> 'next_cursor' ~ '^[A-Za-z0-9_-]+$' FROM pages), 'cursors are opaque base64url');
SELECT throws_ok(format($$ SELECT pg_temp.list(p_limit => 3, p_sort => 'name', p_cursor => %L) $$, (SELECT p1 ->> 'next_cursor' FROM pages)),
  'TXVAL', 'cursor: is not a cursor of this list', 'a cursor of another sort is refused');
SELECT throws_ok($$ SELECT pg_temp.list(p_cursor => 'garbage!') $$, 'TXVAL', 'cursor: is not a cursor of this list', 'a garbage cursor is refused');
SELECT throws_ok($$ SELECT pg_temp.list(p_sort => 'id') $$, 'TXVAL', 'sort: must be one of -updated_at, updated_at, name', 'sort is checked');
SELECT throws_ok($$ SELECT pg_temp.list(p_status => 'vip') $$, 'TXVAL', 'status: must be one of prospect, active, inactive', 'status filter is checked');
SELECT throws_ok($$ SELECT pg_temp.list(p_limit => 0) $$, 'TXVAL', 'limit: must be between 1 and 200', 'limit is checked');
SELECT is(pg_temp.ids(pg_temp.list(p_owner => pg_temp.emp('staff.a2'), p_sort => 'name')),
  ARRAY(SELECT id FROM cust.customers WHERE owner_id = pg_temp.emp('staff.a2') ORDER BY name, id), 'filter owner_id');
SELECT is(pg_temp.ids(pg_temp.list(p_tag => 'vip')), ARRAY[pg_temp.c(1)], 'filter tag');
SELECT is(pg_temp.ids(pg_temp.list(p_status => 'inactive')), ARRAY[pg_temp.c(7)], 'filter status');
SELECT is(pg_temp.ids(pg_temp.list(p_phone => pg_temp.bi_bytes('phone:+8613900000005'))), ARRAY[pg_temp.c(5)], 'filter phone_bidx');
SELECT is(pg_temp.ids(pg_temp.list(p_email => pg_temp.bi_bytes('email:chan@tianxing.test'))), ARRAY[pg_temp.c(1)], 'filter email_bidx');
SELECT is(pg_temp.ids(pg_temp.list(p_email => pg_temp.bi_bytes('email:jo@beta.test'))), '{}'::uuid[], 'filter email_bidx: only visible customers');
SELECT pg_temp.be('admin', 'admin');
SELECT is(pg_temp.ids(pg_temp.list(p_department => '10000000-0000-4000-8000-00000000000b', p_sort => 'name')),
  ARRAY(SELECT id FROM cust.customers WHERE department_id = '10000000-0000-4000-8000-00000000000b' ORDER BY name, id), 'filter department_id');
SELECT ok((SELECT array_agg(k) @> ARRAY['id', 'name', 'company_name', 'status', 'tags', 'owner_id', 'department_id', 'last_verified_at',
                                         'stale', 'version', 'updated_at']
                 AND NOT array_agg(k) && ARRAY['address_enc', 'credit_code_enc', 'credit_code_bidx', 'contacts', 'dek', 'pii_access',
                                               'business_scope', 'needs', 'concerns']
            FROM json_object_keys(pg_temp.list(p_limit => 1) -> 'items' -> 0) k),
  'list items carry no PII and no ciphertext');

-- An owner moving to another department takes their customers along ------------------------------
SELECT api.employee_update(pg_temp.emp('staff.a2'), 1, '{"department_id": "10000000-0000-4000-8000-00000000000b"}');
SELECT is((SELECT array_agg(DISTINCT department_id) FROM cust.customers WHERE owner_id = pg_temp.emp('staff.a2')),
  ARRAY['10000000-0000-4000-8000-00000000000b'::uuid], 'the customers of an employee who moved to B are department B''s');

-- Follow-ups -----------------------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok($$ SELECT api.follow_up_create(pg_temp.c(1), '{"on": "2024-05-01", "channel": "fax", "summary": "s"}') $$,
  'TXVAL', 'channel: must be one of visit, phone, email, message, meeting, other', 'channel is checked');
SELECT throws_ok($$ SELECT api.follow_up_create(pg_temp.c(1), '{"on": "2024-05-01", "channel": "visit", "summary": "s", "next_on": "2024-04-30"}') $$,
  'TXVAL', 'next_on: must not be before on', 'next_on >= on');
SELECT throws_ok(format($$ SELECT api.follow_up_create(pg_temp.c(1), '{"on": "2024-05-01", "channel": "visit", "summary": "%s"}') $$, repeat('x', 2001)),
  'TXVAL', 'summary: must be at most 2000 characters', 'summary at most 2000 characters');
SELECT throws_ok($$ SELECT api.follow_up_create(pg_temp.c(1), '{"channel": "visit", "summary": "s"}') $$, 'TXVAL', 'on: is required', 'on is required');
SELECT is(api.follow_up_create(pg_temp.c(1), '{"on": "2024-05-01", "channel": "visit", "summary": "拜訪", "next_on": "2024-06-01"}')::jsonb
            - 'id' - 'at',
  jsonb_build_object('customer_id', pg_temp.c(1), 'on', '2024-05-01', 'channel', 'visit', 'summary', '拜訪', 'next_on', '2024-06-01',
                     'author_id', pg_temp.emp('staff.a1')),
  'follow_up_create: recorded by the caller');
SELECT api.follow_up_create(pg_temp.c(1), '{"on": "2024-05-03", "channel": "phone", "summary": "電話"}');
SELECT api.follow_up_create(pg_temp.c(1), '{"on": "2024-05-02", "channel": "email", "summary": "郵件"}');
SELECT is((SELECT array_agg(e ->> 'on' ORDER BY i) FROM json_array_elements(api.follow_up_list(pg_temp.c(1), 2, NULL) -> 'items') WITH ORDINALITY a(e, i))
          || (SELECT array_agg(e ->> 'on' ORDER BY i) FROM json_array_elements(
                api.follow_up_list(pg_temp.c(1), 2, api.follow_up_list(pg_temp.c(1), 2, NULL) ->> 'next_cursor') -> 'items') WITH ORDINALITY a(e, i)),
  ARRAY['2024-05-03', '2024-05-02', '2024-05-01'], 'follow_up_list: newest first, keyset pages');
SELECT throws_ok($$ SELECT api.follow_up_list(pg_temp.c(3), NULL, NULL) $$, 'P0002', NULL, 'follow_up_list: an invisible customer is P0002');
SELECT pg_temp.be('risk', 'risk_officer');
SELECT throws_ok($$ SELECT api.follow_up_create(pg_temp.c(1), '{"on": "2024-05-01", "channel": "visit", "summary": "s"}') $$,
  '42501', NULL, 'follow_up_create: the risk officer may not');
SELECT is(json_array_length(api.follow_up_list(pg_temp.c(1), NULL, NULL) -> 'items'), 3, 'follow_up_list: the risk officer reads them');

-- The log of full-PII reads --------------------------------------------------------------------
CREATE TEMP TABLE reads AS SELECT pg_temp.pii_reads(pg_temp.c(3)) AS n;
SELECT pg_temp.be('staff.b1', 'staff');
SELECT api.customer_get(pg_temp.c(3));
SELECT is(pg_temp.pii_reads(pg_temp.c(3)), (SELECT n + 1 FROM reads), 'a full read (the owner) is logged');
SELECT pg_temp.be('admin', 'admin');
SELECT ok(EXISTS (SELECT FROM cust.pii_reads WHERE customer_id = pg_temp.c(3) AND reader_id = pg_temp.emp('staff.b1')
                                                AND request_id = 'req-staff.b1'),
  '... with the reader and the request id');
SELECT pg_temp.be('auditor', 'auditor');
SELECT api.customer_get(pg_temp.c(3));
SELECT pg_temp.be('hr', 'hr');
SELECT api.customer_get(pg_temp.c(3));
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT api.customer_get(pg_temp.c(3));
SELECT pg_temp.list();
SELECT is(pg_temp.pii_reads(pg_temp.c(3)), (SELECT n + 1 FROM reads), 'masked (auditor), none (hr), invisible and list reads are not logged');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is_empty($$ SELECT 1 FROM cust.pii_reads WHERE reader_id <> tx.user_id() $$, 'staff see only their own reads in the log');

-- Audit ----------------------------------------------------------------------------------------
SELECT pg_temp.be('admin', 'admin');
SELECT ok((SELECT actor_id = pg_temp.emp('staff.a1') AND request_id = 'req-staff.a1' AND changes ->> 'name' = '[redacted]'
             FROM pg_temp.audit_entry('cust.customers', pg_temp.c(1)::text, 'INSERT')),
  'audit: the customer''s creation, with actor and request id');
SELECT is(ARRAY(SELECT jsonb_object_keys((pg_temp.audit_entry('cust.customers', pg_temp.c(1)::text, 'UPDATE')).changes) ORDER BY 1),
  ARRAY['last_verified_at', 'version'], 'audit: an update records the fields it changed (the last one: last_verified_at)');
SELECT is((pg_temp.audit_entry('cust.contacts', pg_temp.k(11)::text, 'INSERT')).changes ->> 'phone_enc',
  pg_temp.hx(pg_temp.ct_bytes(41, 'phone:+8613812345678')), 'audit: a contact''s entry holds its ciphertext ...');
SELECT unalike((pg_temp.audit_entry('cust.contacts', pg_temp.k(11)::text, 'INSERT')).changes::text, '%13812345678%',
  '... never the plaintext');
SELECT ok((pg_temp.audit_entry('cust.contacts', pg_temp.k(1)::text, 'DELETE')).changes ? 'phone_bidx', 'audit: replaced contacts leave a DELETE entry');
SELECT is((pg_temp.audit_entry('cust.data_keys', pg_temp.c(1)::text, 'INSERT')).changes ->> 'wrapped', '[redacted]',
  'audit: the wrapped data key is redacted (destroying the key must leave nothing readable)');
SELECT is((pg_temp.audit_entry('cust.pii_reads', (SELECT id::text FROM cust.pii_reads WHERE customer_id = pg_temp.c(3) AND reader_id = pg_temp.emp('staff.b1') LIMIT 1), 'INSERT')).id, NULL,
  'audit: PII reads are not in the chain (0011: their own append-only log, so reads do not queue for the chain lock)');
SELECT is(ARRAY(SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'cust.pii_reads'::regclass AND NOT tgisinternal ORDER BY tgname),
  ARRAY['CREATE TRIGGER pii_reads_append_only BEFORE DELETE OR UPDATE ON cust.pii_reads FOR EACH ROW EXECUTE FUNCTION cust.ledger_refuse_change()',
        'CREATE TRIGGER pii_reads_no_truncate BEFORE TRUNCATE ON cust.pii_reads FOR EACH STATEMENT EXECUTE FUNCTION cust.ledger_refuse_change()',
        'CREATE TRIGGER pii_reads_number BEFORE INSERT ON cust.pii_reads FOR EACH ROW EXECUTE FUNCTION audit.pii_read_number()'],
  'the PII read log refuses UPDATE, DELETE and TRUNCATE, whoever asks (its triggers; 0007''s ledger function); its rows are numbered for the chain''s digest (0043)');
SELECT throws_ok($$ DELETE FROM cust.pii_reads $$, '42501', NULL, 'the runtime role may not delete from the PII read log (no grant)');
SELECT isnt((pg_temp.audit_entry('cust.team', pg_temp.c(1) || ',' || pg_temp.emp('staff.b1'), 'INSERT')).id, NULL,
  'audit: team changes');
SELECT isnt((pg_temp.audit_entry('cust.follow_ups', (SELECT id::text FROM cust.follow_ups WHERE summary = '拜訪'), 'INSERT')).id, NULL,
  'audit: follow-ups');
SELECT isnt((pg_temp.audit_entry('cust.contracts', (SELECT id::text FROM cust.contracts LIMIT 1), 'INSERT')).id, NULL,
  'audit: contracts');
-- The create's answer is the document a read gives the same caller, to the byte: cust.created_doc
-- assembles it from the rows the create has just written, cust.customer_doc from the rows read
-- back under the caller's policies (issue 15 target 3). Contacts with a phone, with a name only,
-- with an e-mail only, and none; the owner creating, a supervisor and an administrator creating
-- for another owner.
CREATE TEMP TABLE created_answers (n int PRIMARY KEY, answer json);
SELECT pg_temp.be('staff.a1', 'staff');
INSERT INTO created_answers SELECT 120, api.customer_create(pg_temp.customer_body(120, '文档甲',
  jsonb_build_object('company_name', '文档甲有限公司', 'tags', jsonb_build_array('新客户', '制造业'),
    'business_scope', '软件', 'source', '展会', 'needs', '降本', 'concerns', '交期', 'verified', true,
    'address_enc', pg_temp.ct(64, 'addr:120'), 'credit_code_enc', pg_temp.ct(40, 'cc:120'),
    'credit_code_bidx', pg_temp.bi('cc:120'),
    'contacts', jsonb_build_array(pg_temp.contact(120, '甲', '+8613800000120', NULL),
                                  pg_temp.contact(121, '乙', NULL, NULL),
                                  pg_temp.contact(122, NULL, NULL, 'doc120@example.com')))));
SELECT is(api.customer_get(pg_temp.c(120))::text, (SELECT answer::text FROM created_answers WHERE n = 120),
  'create: the answer is the document a read gives the owner (three kinds of contact, every field)');
INSERT INTO created_answers SELECT 121, api.customer_create(pg_temp.customer_body(121, '文档乙'));
SELECT is(api.customer_get(pg_temp.c(121))::text, (SELECT answer::text FROM created_answers WHERE n = 121),
  'create: the same for a customer without contacts (completeness missing them)');
SELECT pg_temp.be('sup.a', 'supervisor');
INSERT INTO created_answers SELECT 122, api.customer_create(pg_temp.customer_body(122, '文档丙',
  jsonb_build_object('owner_id', pg_temp.emp('staff.a1'),
                     'contacts', jsonb_build_array(pg_temp.contact(123, '丙', '+8613800000123', 'doc122@example.com')))));
SELECT is(api.customer_get(pg_temp.c(122))::text, (SELECT answer::text FROM created_answers WHERE n = 122),
  'create: the same for a supervisor creating for another owner of the department');
SELECT pg_temp.be('admin', 'admin');
INSERT INTO created_answers SELECT 123, api.customer_create(pg_temp.customer_body(123, '文档丁',
  jsonb_build_object('owner_id', pg_temp.emp('staff.b1'),
                     'contacts', jsonb_build_array(pg_temp.contact(124, '丁', NULL, 'doc123@example.com')))));
SELECT is(api.customer_get(pg_temp.c(123))::text, (SELECT answer::text FROM created_answers WHERE n = 123),
  'create: the same for an administrator creating for another department''s owner');
SELECT pg_temp.be('auditor', 'auditor');
SELECT is((SELECT intact FROM json_to_record(api.audit_verify()) AS r(intact boolean)), true, 'the audit chain verifies');

SELECT * FROM finish();
ROLLBACK;
