-- The audit trail (migration 0002_audit.sql, docs/identity.md "Audit"): every write to a business
-- table leaves an entry with the actor, the effective roles, the request id and the changes
-- (secrets redacted); the trail is append-only, readable by auditor and admin only, and its hash
-- chain verifies. (Tampering as a superuser and concurrent appends: tests/sql/tamper.sh.)
-- Run by tests/sql/run as tianxing_app. Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(62);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');

\ir lib/session.psql
-- The newest entry for a table and row (read as the auditor, then back to the caller's claims).
CREATE FUNCTION pg_temp.last_entry(p_table text, p_key text) RETURNS audit.log LANGUAGE plpgsql AS $$
DECLARE
  saved text[] := ARRAY[current_setting('tx.user_id', true), current_setting('tx.roles', true),
                        current_setting('tx.department_id', true), current_setting('tx.request_id', true)];
  r audit.log;
BEGIN
  PERFORM tx.begin_request('auditor', 'auditor', 'req-read');
  SELECT * INTO r FROM audit.log WHERE table_name = p_table AND row_key = p_key ORDER BY id DESC LIMIT 1;
  PERFORM set_config('tx.user_id', coalesce(saved[1], ''), true), set_config('tx.roles', coalesce(saved[2], ''), true),
          set_config('tx.department_id', coalesce(saved[3], ''), true), set_config('tx.request_id', coalesce(saved[4], ''), true);
  RETURN r;
END $$;

-- Structure and privileges -----------------------------------------------------------------
SELECT has_table('audit', 'log', 'audit.log exists');
SELECT schema_owner_is('audit', 'tianxing_audit', 'tianxing_audit owns schema audit');
SELECT table_owner_is('audit', 'log', 'tianxing_audit', 'tianxing_audit owns audit.log');
SELECT is((SELECT rolcanlogin FROM pg_roles WHERE rolname = 'tianxing_audit'), false, 'tianxing_audit cannot log in');
SELECT is((SELECT array_agg(privilege_type::text) FROM information_schema.table_privileges
            WHERE grantee = 'tianxing_app' AND table_schema = 'audit' AND table_name = 'log'),
  ARRAY['SELECT'], 'tianxing_app may only SELECT audit.log');
SELECT ok((SELECT prosecdef FROM pg_proc WHERE oid = 'audit.capture()'::regprocedure), 'the trigger function is SECURITY DEFINER');
SELECT is((SELECT pg_get_userbyid(proowner)::text FROM pg_proc WHERE oid = 'audit.capture()'::regprocedure),
  'tianxing_audit', '... owned by tianxing_audit');
SELECT ok(NOT has_function_privilege('tianxing_app', 'audit.append(text,text,text,jsonb,timestamp with time zone)', 'EXECUTE'),
  'tianxing_app cannot append directly');
SELECT ok(NOT has_function_privilege('tianxing_app', 'audit.attach(regclass,text[])', 'EXECUTE'),
  'tianxing_app cannot attach triggers');
SELECT ok(NOT has_function_privilege('tianxing_app', 'audit.capture()', 'EXECUTE'),
  'tianxing_app cannot use the trigger function (e.g. on a temporary table of its own, to forge entries)');
SELECT throws_ok($$ CREATE TEMP TABLE forge (id int PRIMARY KEY);
                    CREATE TRIGGER audit_row AFTER INSERT ON forge FOR EACH ROW EXECUTE FUNCTION audit.capture('{id}', '{}') $$,
  '42501', NULL, '... and so cannot attach it');
SELECT is_empty($$ SELECT p.oid::regprocedure::text FROM pg_proc p
                    WHERE p.pronamespace = 'audit'::regnamespace
                      AND (p.proacl IS NULL OR EXISTS (SELECT FROM aclexplode(p.proacl) a
                                                        WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')) $$,
  'PUBLIC may execute no audit function');
-- Every business table (RLS-guarded: everything outside the system schemas, tx_meta and audit)
-- carries both audit triggers. Two exceptions: cust.pii_reads is a log itself (who read whose
-- PII), append-only by its own triggers and kept out of the chain so that reads do not queue
-- for the chain's lock (0011; sql/tests/customers.sql checks its triggers; a periodic digest of
-- it enters the chain instead, 0043, sql/tests/audit_link.sql); auth.login_throttle
-- holds counters of failed sign-ins that anonymous callers write at will (0015: auditing them
-- would let anyone grow the chain). And cust.search_terms: derived rows, the customers' bigrams at
-- their updated_at (0044), rewritten by a trigger at every customer update; the customer's own
-- audited row holds all they are made of. So are cases.queue_entries (0046), the personal
-- queue's index, each row an audited assignment of a case not in a final state. events.pending
-- (0045) holds events of transactions in progress only: each becomes an audited outbox row at its
-- commit. events.head (0048): one row counting the outbox's last position, derived from the
-- outbox rows, which are audited with their positions (sql/tests/audit_link.sql checks a create
-- leaves no entry of it).
SELECT is_empty($$
  SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p')
     AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'tx_meta', 'pg_toast', 'audit')
     AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
     AND c.oid NOT IN ('cust.pii_reads'::regclass, 'auth.login_throttle'::regclass,
                         'cust.search_terms'::regclass, 'events.pending'::regclass,
                         'events.head'::regclass, 'cases.queue_entries'::regclass)
     AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
     AND (NOT EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = 'audit_row'
                        AND t.tgfoid = 'audit.capture()'::regprocedure)
          OR NOT EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = 'audit_truncate'
                           AND t.tgfoid = 'audit.capture()'::regprocedure)) $$,
  'every business table is audited (row and TRUNCATE triggers)');
SELECT ok((SELECT count(*) FROM pg_trigger t WHERE t.tgname = 'audit_row') >= 9, 'at least the nine tables of module G');

-- Who reads the trail -------------------------------------------------------------------------
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', '', true);
SELECT is_empty('SELECT * FROM audit.log', 'anonymous: nothing visible');
SELECT pg_temp.be('staff.a1', 'staff', 'r');
SELECT is_empty('SELECT * FROM audit.log', 'staff: nothing visible');
SELECT throws_ok($$ SELECT api.audit_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL) $$, '42501', NULL, 'staff: audit_list refused');
SELECT throws_ok($$ SELECT api.audit_verify() $$, '42501', NULL, 'staff: audit_verify refused');
SELECT pg_temp.be('hr', 'hr', 'r');
SELECT is_empty('SELECT * FROM audit.log', 'hr: nothing visible');
SELECT throws_ok($$ SELECT api.audit_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL) $$, '42501', NULL, 'hr: audit_list refused');
SELECT pg_temp.be('admin2', 'hr', 'r');
SELECT is_empty('SELECT * FROM audit.log', 'an admin whose token carries only hr: nothing visible');
SELECT pg_temp.be('auditor', 'auditor', 'r');
SELECT isnt_empty('SELECT * FROM audit.log', 'auditor: the trail is visible');
SELECT pg_temp.be('admin', 'admin', 'r');
SELECT isnt_empty('SELECT * FROM audit.log', 'admin: the trail is visible');
SELECT ok((SELECT bool_and(row_key IS NOT NULL) FROM audit.log WHERE table_name = 'org.regulation_clauses'),
  'the migrations'' reference data is in the trail');

-- Append-only ----------------------------------------------------------------------------------
SELECT throws_ok($$ INSERT INTO audit.log (at, table_name, op, changes, prev_hash, hash)
                    VALUES (now(), 'x', 'INSERT', '{}', sha256(''), sha256('')) $$, '42501', NULL, 'INSERT refused');
SELECT throws_ok($$ UPDATE audit.log SET changes = '{}' $$, '42501', NULL, 'UPDATE refused');
SELECT throws_ok($$ DELETE FROM audit.log $$, '42501', NULL, 'DELETE refused');
SELECT throws_ok($$ TRUNCATE audit.log $$, '42501', NULL, 'TRUNCATE refused');
SELECT throws_ok($$ UPDATE audit.head SET last_id = 0 $$, '42501', NULL, 'the chain head cannot be moved');
SELECT throws_ok($$ SELECT audit.append('org.departments', 'x', 'INSERT', '{}') $$, '42501', NULL,
  'audit.append cannot be called');
SELECT ok((SELECT count(*) = 2 FROM pg_trigger WHERE tgrelid = 'audit.log'::regclass
            AND tgfoid = 'audit.refuse_change()'::regprocedure AND tgenabled = 'O'),
  'the append-only triggers are on audit.log (for the owner too)');

-- What a write leaves behind ------------------------------------------------------------------
SELECT pg_temp.be('admin', 'admin,hr', 'req-audit-1');
SELECT api.department_create('{"code": "AU", "name": "Audit Test", "kind": "support"}');
CREATE TEMP TABLE t_dept AS SELECT id::text AS id FROM org.departments WHERE code = 'AU';
CREATE FUNCTION pg_temp.first_dept_entry() RETURNS audit.log LANGUAGE sql STABLE AS $$
  SELECT * FROM audit.log WHERE table_name = 'org.departments' AND row_key = (SELECT id FROM t_dept) AND op = 'INSERT' $$;
SELECT is((pg_temp.last_entry('org.departments', (SELECT id FROM t_dept))).op, 'INSERT', 'INSERT: an entry with op INSERT');
SELECT is((pg_temp.last_entry('org.departments', (SELECT id FROM t_dept))).actor_id,
  '20000000-0000-4000-8000-000000000001'::uuid, 'INSERT: the actor');
SELECT is((pg_temp.last_entry('org.departments', (SELECT id FROM t_dept))).actor_roles, ARRAY['admin'],
  'INSERT: the effective roles (the token''s hr is not held)');
SELECT is((pg_temp.last_entry('org.departments', (SELECT id FROM t_dept))).request_id, 'req-audit-1', 'INSERT: the request id');
SELECT is((pg_temp.last_entry('org.departments', (SELECT id FROM t_dept))).changes - 'created_at' - 'updated_at',
  jsonb_build_object('id', (SELECT id FROM t_dept), 'code', 'AU', 'name', 'Audit Test', 'kind', 'support', 'version', 1),
  'INSERT: changes are the new row');
SELECT ok((pg_temp.last_entry('org.departments', (SELECT id FROM t_dept))).changes ->> 'created_at' ~ '\+00:00$',
  'timestamps in changes are rendered in UTC');
-- A key of several columns: its values joined by commas, in the key's column order (0051 joins
-- them in the trigger itself).
SELECT pg_temp.be('staff.a1', 'staff', 'req-audit-ack');
SELECT api.regulation_acknowledge((SELECT id FROM org.regulations WHERE status = 'published' ORDER BY id LIMIT 1));
SELECT is((pg_temp.last_entry('org.regulation_acknowledgements',
                              (SELECT id FROM org.regulations WHERE status = 'published' ORDER BY id LIMIT 1)::text
                              || ',' || pg_temp.emp('staff.a1')::text)).changes ->> 'employee_id',
          pg_temp.emp('staff.a1')::text,
  'a key of two columns: the entry''s row_key is regulation_id,employee_id');
SELECT pg_temp.be('admin', 'admin,hr', 'req-audit-1');

SET LOCAL TimeZone = 'Asia/Taipei';
SET LOCAL DateStyle = 'SQL, DMY';
SELECT pg_temp.be('admin2', 'admin,hr', 'req-audit-2');
SELECT api.department_update((SELECT id::uuid FROM t_dept), 1, '{"name": "Audit Test 2"}');
SELECT is((pg_temp.last_entry('org.departments', (SELECT id FROM t_dept))).op, 'UPDATE', 'UPDATE: op UPDATE');
SELECT is((pg_temp.last_entry('org.departments', (SELECT id FROM t_dept))).actor_roles, ARRAY['admin', 'hr'],
  'UPDATE: the effective roles, sorted');
SELECT is((pg_temp.last_entry('org.departments', (SELECT id FROM t_dept))).request_id, 'req-audit-2', 'UPDATE: the request id');
-- (updated_at is now(), which does not move inside this one transaction: not a change here)
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys((pg_temp.last_entry('org.departments', (SELECT id FROM t_dept))).changes) k),
  ARRAY['name', 'version'], 'UPDATE: only the changed fields');
SELECT is((pg_temp.last_entry('org.departments', (SELECT id FROM t_dept))).changes -> 'name', '["Audit Test", "Audit Test 2"]'::jsonb,
  'UPDATE: [old, new]');
SELECT api.employee_update('20000000-0000-4000-8000-000000000009', 1, '{"display_name": "B One"}');
SELECT ok((SELECT bool_and(v #>> '{}' ~ '^\d{4}-\d\d-\d\dT[0-9:.]+\+00:00$')
             FROM jsonb_array_elements((pg_temp.last_entry('org.employees', '20000000-0000-4000-8000-000000000009')).changes -> 'updated_at') v),
  'UPDATE: timestamps rendered in UTC (ISO) whatever the session''s TimeZone and DateStyle');
RESET TimeZone;
RESET DateStyle;

-- Secrets never reach the trail
SELECT pg_temp.be('admin', 'admin', 'req-audit-pw');
SELECT auth.set_password('20000000-0000-4000-8000-000000000008', '$scrypt$secret-a2');
SELECT is((pg_temp.last_entry('auth.credentials', '20000000-0000-4000-8000-000000000008')).changes ->> 'password_hash', '[redacted]',
  'a new credential: password_hash redacted');
SELECT is((pg_temp.last_entry('auth.credentials', '20000000-0000-4000-8000-000000000008')).actor_id,
  '20000000-0000-4000-8000-000000000001'::uuid, 'the admin who set it is the actor');
SELECT auth.set_password('20000000-0000-4000-8000-000000000008', '$scrypt$secret-a2-bis');
SELECT is((pg_temp.last_entry('auth.credentials', '20000000-0000-4000-8000-000000000008')).changes -> 'password_hash',
  '["[redacted]", "[redacted]"]'::jsonb, 'a changed password_hash: redacted on both sides');
SELECT auth.refresh_issue('20000000-0000-4000-8000-000000000008', NULL, sha256('audit-token'), 60);
SELECT pg_temp.be('auditor', 'auditor', 'r');
SELECT is((SELECT changes ->> 'token_hash' FROM audit.log WHERE table_name = 'auth.refresh_tokens' ORDER BY id DESC LIMIT 1),
  '[redacted]', 'refresh token: token_hash redacted');
SELECT is_empty($$ SELECT id FROM audit.log WHERE changes::text ~ 'secret-a2'
                     OR changes::text ~ encode(sha256('audit-token'), 'hex') $$,
  'no password hash or token hash anywhere in the trail');

-- Deactivation: the employee update and the token revocations it causes are all recorded.
SELECT pg_temp.be('admin', 'admin', 'req-audit-deact');
SELECT api.employee_set_active('20000000-0000-4000-8000-000000000008', false);
SELECT pg_temp.be('auditor', 'auditor', 'r');
SELECT is((SELECT array_agg(table_name || ' ' || op ORDER BY id) FROM audit.log WHERE request_id = 'req-audit-deact'),
  ARRAY['org.employees UPDATE', 'org.employee_spans UPDATE', 'org.employee_spans INSERT',
        'auth.refresh_tokens UPDATE'],
  'one request, every row it changed, in order (the employee''s history follows: org.employee_spans)');

-- The API ------------------------------------------------------------------------------------
SELECT pg_temp.be('auditor', 'auditor', 'r');
SELECT is(json_array_length(api.audit_list('org.departments', (SELECT id FROM t_dept), NULL, NULL, NULL, NULL, NULL) -> 'items'), 2,
  'audit_list: by table and row');
SELECT is((api.audit_list('org.departments', (SELECT id FROM t_dept), NULL, NULL, NULL, 1, NULL) -> 'items' -> 0 ->> 'op'), 'UPDATE',
  'audit_list: newest first');
SELECT is((api.audit_list('org.departments', (SELECT id FROM t_dept), NULL, NULL, NULL, 1, NULL) ->> 'next_cursor'),
          (api.audit_list('org.departments', (SELECT id FROM t_dept), NULL, NULL, NULL, 1, NULL) -> 'items' -> 0 ->> 'id'),
  'audit_list: the cursor is the last id');
SELECT is((api.audit_list('org.departments', (SELECT id FROM t_dept), NULL, NULL, NULL, 1,
             api.audit_list('org.departments', (SELECT id FROM t_dept), NULL, NULL, NULL, 1, NULL) ->> 'next_cursor')::jsonb),
  jsonb_build_object('items', jsonb_build_array(api.audit_entry_json(pg_temp.first_dept_entry())), 'next_cursor', NULL),
  'audit_list: the second page is the INSERT, and the end');
SELECT is(json_array_length(api.audit_list(NULL, NULL, '20000000-0000-4000-8000-000000000011', NULL, NULL, 200, NULL) -> 'items'), 2,
  'audit_list: by actor (admin2''s two updates)');
SELECT is(json_array_length(api.audit_list('org.departments', NULL, NULL, now() + interval '1 hour', NULL, NULL, NULL) -> 'items'), 0,
  'audit_list: from');
SELECT throws_ok($$ SELECT api.audit_list(NULL, NULL, NULL, NULL, NULL, NULL, 'abc') $$, 'TXVAL', 'cursor: is not a cursor of this list',
  'audit_list: a bad cursor');
SELECT throws_ok($$ SELECT api.audit_list(NULL, NULL, NULL, NULL, NULL, 500, NULL) $$, 'TXVAL', NULL, 'audit_list: limit max 200');

-- The chain ----------------------------------------------------------------------------------
SELECT is_empty($$ SELECT id FROM (SELECT id, prev_hash, lag(hash) OVER (ORDER BY id) AS before FROM audit.log) s
                    WHERE before IS NOT NULL AND prev_hash <> before $$,
  'each entry''s prev_hash is the hash of the one before');
SELECT is(api.audit_verify()::jsonb, jsonb_build_object('checked', (SELECT count(*) FROM audit.log), 'intact', true,
                                                         'first_broken_id', NULL, 'reason', NULL),
  'audit_verify: intact, every entry checked');
SET LOCAL TimeZone = 'America/St_Johns';
SET LOCAL DateStyle = 'German';
SET LOCAL extra_float_digits = -3;
SELECT is((api.audit_verify()::jsonb ->> 'intact'), 'true', 'the verification does not depend on session settings');

SELECT * FROM finish();
ROLLBACK;
