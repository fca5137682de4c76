-- Authentication functions (migration 0003_org.sql, docs/identity.md): credentials and refresh
-- tokens are reachable only through the SECURITY DEFINER auth.* functions. Login lockout,
-- password setting, refresh-token issue / rotation / reuse detection / revocation.
-- (Two sessions rotating one token at once: tests/sql/tamper.sh.)
-- Run by tests/sql/run as tianxing_app. Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(89);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');

\ir lib/session.psql
-- The login runs before anyone is authenticated: the claims are empty (pg_temp.anon, lib/session.psql).
CREATE FUNCTION pg_temp.family(p_hash bytea) RETURNS uuid LANGUAGE sql AS $$
  SELECT auth.refresh_issue(pg_temp.emp('staff.a1'), NULL, p_hash, 3600) $$;

-- The tables are out of reach ---------------------------------------------------------------
SELECT throws_ok('SELECT * FROM auth.credentials', '42501', NULL, 'no SELECT on auth.credentials');
SELECT throws_ok('SELECT * FROM auth.refresh_tokens', '42501', NULL, 'no SELECT on auth.refresh_tokens');
SELECT throws_ok($$ UPDATE auth.credentials SET failed_count = 0 $$, '42501', NULL, 'no UPDATE on auth.credentials');
SELECT throws_ok($$ INSERT INTO auth.refresh_tokens (family_id, employee_id, token_hash, expires_at)
                    VALUES (gen_random_uuid(), '20000000-0000-4000-8000-000000000007', sha256('x'), now() + interval '1 h') $$,
  '42501', NULL, 'no INSERT on auth.refresh_tokens');

-- The functions: definer rights with a pinned search path, executable by the runtime role only.
SELECT is_empty($$ SELECT p.oid::regprocedure::text FROM pg_proc p
                    WHERE p.pronamespace = 'auth'::regnamespace
                      AND NOT (p.prosecdef AND p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp']) $$,
  'every auth function is SECURITY DEFINER with search_path = pg_catalog, pg_temp');
SELECT is_empty($$ SELECT p.oid::regprocedure::text FROM pg_proc p
                    WHERE p.pronamespace = 'auth'::regnamespace AND pg_get_userbyid(p.proowner) <> 'tianxing_owner' $$,
  'auth functions belong to tianxing_owner');
SELECT ok(has_function_privilege('tianxing_app', 'auth.login_lookup(text,inet)', 'EXECUTE'), 'tianxing_app may call auth.login_lookup');
SELECT ok(NOT has_function_privilege('tianxing_app', 'auth.revoke_on_deactivate()', 'EXECUTE'),
  'the trigger function is not callable');
SELECT function_returns('auth', 'login_lookup', ARRAY['text', 'inet'], 'setof record', 'auth.login_lookup returns rows');
SELECT function_returns('auth', 'login_failed', ARRAY['text', 'inet', 'integer', 'integer'], 'setof record', 'auth.login_failed(text, inet, int, int)');
SELECT function_returns('auth', 'login_succeeded', ARRAY['text', 'inet'], 'void', 'auth.login_succeeded(text, inet)');
SELECT throws_ok('SELECT * FROM auth.login_throttle', '42501', NULL, 'no SELECT on auth.login_throttle');
SELECT is_empty($$ SELECT p.oid::regprocedure::text FROM pg_proc p
                    WHERE p.pronamespace = 'auth'::regnamespace
                      AND p.proname IN ('login_lookup', 'login_failed', 'login_succeeded')
                      AND p.oid::regprocedure::text NOT IN ('auth.login_lookup(text,inet)',
                        'auth.login_failed(text,inet,integer,integer)', 'auth.login_succeeded(text,inet)') $$,
  'the per-account sign-in functions are gone (migration 0015)');
SELECT function_returns('auth', 'refresh_issue', ARRAY['uuid', 'uuid', 'bytea', 'integer'], 'uuid', 'auth.refresh_issue(uuid, uuid, bytea, int)');
SELECT function_returns('auth', 'refresh_rotate', ARRAY['bytea', 'bytea', 'integer'], 'setof record', 'auth.refresh_rotate(bytea, bytea, int)');
SELECT function_returns('auth', 'refresh_revoke', ARRAY['bytea'], 'boolean', 'auth.refresh_revoke(bytea)');
SELECT function_returns('auth', 'set_password', ARRAY['uuid', 'text'], 'void', 'auth.set_password(uuid, text)');

-- Login lookup (always one row: the candidate, or NULLs; the throttle state of the pair) ----------
SELECT pg_temp.anon();
SELECT results_eq($$ SELECT employee_id, password_hash, active, failed_count, locked_until FROM auth.login_lookup('staff.a1', '10.0.0.1') $$,
  $$ VALUES ('20000000-0000-4000-8000-000000000007'::uuid, '$scrypt$fixture-a1'::text, true, 0, NULL::timestamptz) $$,
  'login_lookup: the candidate, anonymously');
SELECT is((SELECT employee_id FROM auth.login_lookup('Staff.A1', '10.0.0.1')), pg_temp.emp('staff.a1'), 'login_lookup: usernames are matched in lower case');
SELECT results_eq($$ SELECT employee_id, password_hash, active, failed_count, locked_until FROM auth.login_lookup('nobody', '10.0.0.1') $$,
  $$ VALUES (NULL::uuid, NULL::text, false, 0, NULL::timestamptz) $$, 'login_lookup: unknown username, one row of NULLs');
SELECT is((SELECT password_hash FROM auth.login_lookup('staff.b1', '10.0.0.1')), NULL, 'login_lookup: no credentials, no hash');
SELECT is((SELECT active FROM auth.login_lookup('gone', '10.0.0.1')), false, 'login_lookup: an inactive employee comes back inactive');
SELECT results_eq($$ SELECT lock_threshold, lock_seconds FROM auth.login_policy() $$, $$ VALUES (5, 900) $$,
  'login_policy: the approved lockout parameters, anonymously');

-- Throttle per (username, source) ---------------------------------------------------------------
SELECT results_eq($$ SELECT failed_count, locked_until FROM auth.login_failed('staff.a1', '10.0.0.1', 3, 600) $$,
  $$ VALUES (1, NULL::timestamptz) $$, 'login_failed: 1');
SELECT is((SELECT failed_count FROM auth.login_failed('STAFF.A1', '10.0.0.1', 3, 600)), 2, 'login_failed: 2 (the name in lower case)');
SELECT results_eq($$ SELECT failed_count, locked_until FROM auth.login_failed('staff.a1', '10.0.0.1', 3, 600) $$,
  $$ VALUES (0, now() + interval '600 seconds') $$, 'login_failed: the threshold locks for p_lock_seconds and resets the count');
SELECT results_eq($$ SELECT failed_count, locked_until FROM auth.login_lookup('staff.a1', '10.0.0.1') $$,
  $$ VALUES (0, now() + interval '600 seconds') $$, 'login_lookup shows the lock');
SELECT results_eq($$ SELECT failed_count, locked_until FROM auth.login_lookup('staff.a1', '10.0.0.2') $$,
  $$ VALUES (0, NULL::timestamptz) $$, 'another source address is not locked');
SELECT is((SELECT failed_count FROM auth.login_failed('staff.a1', '10.0.0.1', 3, 600)), 1,
  'counting starts again after a lock');
SELECT is((SELECT locked_until FROM auth.login_lookup('staff.a1', '10.0.0.1')), now() + interval '600 seconds',
  'a failure below the threshold keeps the lock');
SELECT auth.login_succeeded('staff.a1', '10.0.0.1');
SELECT results_eq($$ SELECT failed_count, locked_until FROM auth.login_lookup('staff.a1', '10.0.0.1') $$,
  $$ VALUES (0, NULL::timestamptz) $$, 'login_succeeded: counter and lock cleared');
-- unknown names are counted exactly alike
SELECT results_eq($$ SELECT failed_count, locked_until FROM auth.login_failed('nobody', '10.0.0.1', 3, 600)
                     UNION ALL SELECT failed_count, locked_until FROM auth.login_failed('nobody', '10.0.0.1', 3, 600)
                     UNION ALL SELECT failed_count, locked_until FROM auth.login_failed('nobody', '10.0.0.1', 3, 600) $$,
  $$ VALUES (1, NULL::timestamptz), (2, NULL::timestamptz), (0, now() + interval '600 seconds') $$,
  'an unknown name: the same counts and the same lock');
SELECT is((SELECT locked_until FROM auth.login_lookup('nobody', '10.0.0.1')), now() + interval '600 seconds',
  'login_lookup shows the lock of an unknown name');
-- IPv6 sources count by their /64; IPv4 by the address
SELECT auth.login_failed('staff.a2', '2001:db8:1:2::10', 3, 600);
SELECT is((SELECT failed_count FROM auth.login_lookup('staff.a2', '2001:db8:1:2:ffff::1')), 1, 'IPv6: the same /64 is one source');
SELECT is((SELECT failed_count FROM auth.login_lookup('staff.a2', '2001:db8:1:3::10')), 0, 'IPv6: another /64 is another');
SELECT is((SELECT failed_count FROM auth.login_lookup('staff.a2', '10.0.0.1')), 0, 'IPv4: per address');
-- throttling below the threshold: from the third failure, a short wait that doubles
SELECT results_eq($$ SELECT failed_count, locked_until FROM auth.login_failed('staff.a1', '10.0.0.1', 5, 600)
                     UNION ALL SELECT failed_count, locked_until FROM auth.login_failed('staff.a1', '10.0.0.1', 5, 600) $$,
  $$ VALUES (1, NULL::timestamptz), (2, NULL::timestamptz) $$, 'two failures: no wait');
SELECT results_eq($$ SELECT failed_count, locked_until FROM auth.login_failed('staff.a1', '10.0.0.1', 5, 600) $$,
  $$ VALUES (3, now() + interval '2 seconds') $$, 'the third failure: a 2 s wait, the count kept (throttled, not locked)');
SELECT results_eq($$ SELECT failed_count, locked_until FROM auth.login_failed('staff.a1', '10.0.0.1', 5, 600) $$,
  $$ VALUES (4, now() + interval '4 seconds') $$, 'the fourth: 4 s');
SELECT results_eq($$ SELECT failed_count, locked_until FROM auth.login_failed('staff.a1', '10.0.0.1', 5, 600) $$,
  $$ VALUES (0, now() + interval '600 seconds') $$, 'the fifth reaches the threshold: the lock');
SELECT auth.login_succeeded('staff.a1', '10.0.0.1');
SELECT is((SELECT max(locked_until) FROM (SELECT (auth.login_failed('staff.a1', '10.0.0.1', 100, 600)).locked_until FROM generate_series(1, 60)) s),
  now() + interval '30 seconds', 'the wait is capped at 30 s');
SELECT is((SELECT max(locked_until) FROM (SELECT (auth.login_failed('staff.a1', '10.0.0.1', 100, 10)).locked_until) s),
  now() + interval '30 seconds', 'a wait already running is not shortened');
SELECT auth.login_succeeded('staff.a1', '10.0.0.1');
SELECT is((SELECT max(locked_until) FROM (SELECT (auth.login_failed('staff.a1', '10.0.0.1', 100, 0)).locked_until FROM generate_series(1, 5)) s),
  NULL, 'no wait when the lock time is 0');
SELECT auth.login_succeeded('staff.a1', '10.0.0.1');
SELECT throws_ok($$ SELECT * FROM auth.login_failed('staff.a1', '10.0.0.1', 0, 600) $$, '22023', NULL,
  'login_failed: the threshold must be positive');
SELECT throws_ok($$ SELECT * FROM auth.login_failed('staff.a1', '10.0.0.1', 3, -1) $$, '22023', NULL,
  'login_failed: the lock time must not be negative');
SELECT throws_ok($$ SELECT * FROM auth.login_failed('staff.a1', NULL, 3, 60) $$, '22023', NULL,
  'login_failed: a source is required');

-- set_password: admin only -------------------------------------------------------------------
SELECT throws_ok($$ SELECT auth.set_password('20000000-0000-4000-8000-000000000009', '$scrypt$new') $$, '42501', NULL,
  'set_password: anonymous refused');
SELECT tx.begin_request('hr', 'hr', 'req-pw');
SELECT throws_ok($$ SELECT auth.set_password('20000000-0000-4000-8000-000000000009', '$scrypt$new') $$, '42501', NULL,
  'set_password: hr refused');
SELECT tx.begin_request('admin2', 'hr', 'req-pw');
SELECT throws_ok($$ SELECT auth.set_password('20000000-0000-4000-8000-000000000009', '$scrypt$new') $$, '42501', NULL,
  'set_password: an admin whose token does not carry admin is refused');
SELECT tx.begin_request('admin', 'admin', 'req-pw');
SELECT throws_ok($$ SELECT auth.set_password('20000000-0000-4000-8000-000000000009', 'plaintext') $$, '22023', NULL,
  'set_password: only $scrypt$ hashes');
SELECT throws_ok($$ SELECT auth.set_password('20000000-0000-4000-8000-0000000000ff', '$scrypt$new') $$, 'P0002', NULL,
  'set_password: unknown employee is P0002');
SELECT lives_ok($$ SELECT auth.set_password('20000000-0000-4000-8000-000000000009', '$scrypt$b1') $$,
  'set_password: creates credentials');
SELECT is((SELECT password_hash FROM auth.login_lookup('staff.b1', '10.0.0.7')), '$scrypt$b1', 'the new hash is used');
SELECT auth.login_failed('staff.b1', '10.0.0.7', 1, 60);
SELECT auth.login_failed('staff.b1', '10.0.0.8', 1, 60);
SELECT isnt((SELECT locked_until FROM auth.login_lookup('staff.b1', '10.0.0.7')), NULL, 'locked');
SELECT auth.refresh_issue(pg_temp.emp('staff.b1'), NULL, sha256('b1-session'), 3600);
SELECT lives_ok($$ SELECT auth.set_password('20000000-0000-4000-8000-000000000009', '$scrypt$b1-2') $$,
  'set_password: replaces the hash');
SELECT results_eq($$ SELECT password_hash, failed_count, locked_until FROM auth.login_lookup('staff.b1', '10.0.0.7')
                     UNION ALL SELECT password_hash, failed_count, locked_until FROM auth.login_lookup('staff.b1', '10.0.0.8') $$,
  $$ VALUES ('$scrypt$b1-2'::text, 0, NULL::timestamptz), ('$scrypt$b1-2'::text, 0, NULL::timestamptz) $$,
  'set_password: new hash, the locks of every address cleared');
SELECT is((SELECT outcome FROM auth.refresh_rotate(sha256('b1-session'), sha256('b1-session-2'), 60)), 'invalid',
  'set_password: the old sessions end');

-- Refresh tokens ---------------------------------------------------------------------------
SELECT pg_temp.anon();
SELECT isnt(pg_temp.family(sha256('t1')), NULL, 'refresh_issue: a new family');
SELECT is(auth.refresh_issue(pg_temp.emp('staff.a1'), '40000000-0000-4000-8000-000000000001', sha256('t-fam'), 60),
  '40000000-0000-4000-8000-000000000001'::uuid, 'refresh_issue: the given family id is kept');
SELECT throws_ok($$ SELECT auth.refresh_issue('20000000-0000-4000-8000-000000000008', '40000000-0000-4000-8000-000000000001', sha256('t-x'), 60) $$,
  '22023', NULL, 'refresh_issue: another employee''s family is refused');
SELECT throws_ok($$ SELECT auth.refresh_issue('20000000-0000-4000-8000-000000000010', NULL, sha256('t-gone'), 60) $$,
  'TXAUT', NULL, 'refresh_issue: an inactive employee gets no token');
SELECT throws_ok($$ SELECT auth.refresh_issue('20000000-0000-4000-8000-0000000000ff', NULL, sha256('t-none'), 60) $$,
  'TXAUT', NULL, 'refresh_issue: an unknown employee gets no token');
SELECT throws_ok($$ SELECT auth.refresh_issue('20000000-0000-4000-8000-000000000007', NULL, '\x0102', 60) $$,
  '22023', NULL, 'refresh_issue: the hash must be 32 bytes');
SELECT throws_ok($$ SELECT auth.refresh_issue('20000000-0000-4000-8000-000000000007', NULL, sha256('t-ttl'), 0) $$,
  '22023', NULL, 'refresh_issue: the lifetime must be positive');
SELECT throws_ok($$ SELECT auth.refresh_issue('20000000-0000-4000-8000-000000000007', NULL, sha256('t1'), 60) $$,
  '23505', NULL, 'refresh_issue: a token hash is unique');

-- rotation: ok, then the same token again is a reuse that revokes the whole family
SELECT results_eq($$ SELECT employee_id, outcome FROM auth.refresh_rotate(sha256('t1'), sha256('t2'), 60) $$,
  $$ VALUES ('20000000-0000-4000-8000-000000000007'::uuid, 'ok'::text) $$, 'refresh_rotate: ok');
SELECT results_eq($$ SELECT employee_id, outcome FROM auth.refresh_rotate(sha256('t2'), sha256('t3'), 60) $$,
  $$ VALUES ('20000000-0000-4000-8000-000000000007'::uuid, 'ok'::text) $$, 'refresh_rotate: the new token rotates in turn');
SELECT results_eq($$ SELECT employee_id, outcome FROM auth.refresh_rotate(sha256('t1'), sha256('t1-evil'), 60) $$,
  $$ VALUES ('20000000-0000-4000-8000-000000000007'::uuid, 'reused'::text) $$,
  'refresh_rotate: a used token presented again is a reuse');
SELECT results_eq($$ SELECT employee_id, outcome FROM auth.refresh_rotate(sha256('t3'), sha256('t4'), 60) $$,
  $$ VALUES (NULL::uuid, 'invalid'::text) $$, 'the reuse revoked the family: the newest token is dead too');
SELECT results_eq($$ SELECT employee_id, outcome FROM auth.refresh_rotate(sha256('t1-evil'), sha256('t5'), 60) $$,
  $$ VALUES (NULL::uuid, 'invalid'::text) $$, 'and the token the reuse asked for was never issued');
SELECT results_eq($$ SELECT employee_id, outcome FROM auth.refresh_rotate(sha256('t-fam'), sha256('t-fam-2'), 60) $$,
  $$ VALUES ('20000000-0000-4000-8000-000000000007'::uuid, 'ok'::text) $$, 'other families are untouched');
SELECT results_eq($$ SELECT employee_id, outcome FROM auth.refresh_rotate(sha256('never-issued'), sha256('t6'), 60) $$,
  $$ VALUES (NULL::uuid, 'invalid'::text) $$, 'refresh_rotate: unknown token is invalid');
SELECT results_eq($$ SELECT employee_id, outcome FROM auth.refresh_rotate(sha256('expired-a1'), sha256('t7'), 60) $$,
  $$ VALUES (NULL::uuid, 'invalid'::text) $$, 'refresh_rotate: expired token is invalid');
SELECT results_eq($$ SELECT employee_id, outcome FROM auth.refresh_rotate(sha256('live-gone'), sha256('t8'), 60) $$,
  $$ VALUES ('20000000-0000-4000-8000-000000000010'::uuid, 'inactive'::text) $$,
  'refresh_rotate: the employee was deactivated');
SELECT results_eq($$ SELECT employee_id, outcome FROM auth.refresh_rotate(sha256('live-gone'), sha256('t9'), 60) $$,
  $$ VALUES (NULL::uuid, 'invalid'::text) $$, '... and that revoked the family');
SELECT throws_ok($$ SELECT * FROM auth.refresh_rotate(sha256('t-fam-2'), '\x01', 60) $$, '22023', NULL,
  'refresh_rotate: the new hash must be 32 bytes');
SELECT ok((SELECT pg_get_functiondef('auth.refresh_rotate(bytea,bytea,integer)'::regprocedure) ~ 'FOR UPDATE'),
  'refresh_rotate locks the token row (concurrent rotations queue; see tamper.sh)');

-- logout
SELECT pg_temp.family(sha256('L1'));
SELECT auth.refresh_rotate(sha256('L1'), sha256('L2'), 60);
SELECT is(auth.refresh_revoke(sha256('L1')), true, 'refresh_revoke: known (even a used token) is true');
SELECT results_eq($$ SELECT employee_id, outcome FROM auth.refresh_rotate(sha256('L2'), sha256('L3'), 60) $$,
  $$ VALUES (NULL::uuid, 'invalid'::text) $$, 'refresh_revoke revoked the whole family');
SELECT is(auth.refresh_revoke(sha256('L-unknown')), false, 'refresh_revoke: unknown is false');
SELECT is(auth.refresh_revoke(sha256('L2')), true, 'refresh_revoke: revoking again is harmless');

-- deactivation revokes every family of the employee
SELECT pg_temp.family(sha256('D1'));
SELECT pg_temp.family(sha256('D2'));
SELECT tx.begin_request('admin', 'admin', 'req-deactivate');
SELECT api.employee_set_active(pg_temp.emp('staff.a1'), false);
SELECT pg_temp.anon();
SELECT is((SELECT outcome FROM auth.refresh_rotate(sha256('D1'), sha256('D1b'), 60)), 'invalid', 'deactivation revoked family 1');
SELECT is((SELECT outcome FROM auth.refresh_rotate(sha256('D2'), sha256('D2b'), 60)), 'invalid', 'deactivation revoked family 2');
SELECT is((SELECT active FROM auth.login_lookup('staff.a1', '10.0.0.1')), false, 'login_lookup reports the deactivation');

-- A username never reads as an id (issue 10 item 10): tx.begin_request takes a UUID-shaped sub
-- for an employee id, so such names are refused, by the API and by the table.
SELECT tx.begin_request('admin', 'admin', 'req-uuid-name');
SELECT throws_ok($$ SELECT api.employee_create('{"username": "20000000-0000-4000-8000-000000000007", "display_name": "X", "roles": ["staff"]}') $$,
  'TXVAL', NULL, 'employee_create: a UUID as username is refused');
SELECT throws_ok($$ SELECT api.employee_create('{"username": "2000000000004000800000000000000a", "display_name": "X", "roles": ["staff"]}') $$,
  'TXVAL', NULL, 'employee_create: a UUID without hyphens too');
SELECT lives_ok($$ SELECT api.employee_create('{"username": "abc-2000000000004000800000000000000a", "display_name": "X", "roles": ["staff"]}') $$,
  'employee_create: hex in a name that cannot read as a UUID is fine');
SELECT throws_ok($$ UPDATE org.employees SET username = '20000000-0000-4000-8000-000000000007' WHERE username = 'staff.a2' $$,
  '23514', NULL, 'the table refuses a UUID-shaped username (employees_username_not_uuid)');

SELECT * FROM finish();
ROLLBACK;
