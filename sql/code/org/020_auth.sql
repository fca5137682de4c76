-- sql/code/org/020_auth.sql: request claims, logins, credentials and refresh tokens.
-- One current definition per object; `tianxingd migrate` re-applies this file when it changes
-- (sql/code/ORDER, docs/architecture.md).

-- Deactivating an employee ends their sessions: every refresh-token family is revoked.
CREATE OR REPLACE FUNCTION auth.revoke_on_deactivate() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  UPDATE auth.refresh_tokens SET revoked_at = now()
   WHERE employee_id = NEW.id AND revoked_at IS NULL;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION auth.revoke_on_deactivate() FROM PUBLIC;

-- Claims ------------------------------------------------------------------------------------
-- The start of every authenticated request (docs/identity.md, "Claims per transaction"): finds the
-- employee by id (sub is a uuid) or username; TXAUT when missing or inactive. Sets the claims
-- transaction-locally; the effective roles are the token's roles that the employee still holds,
-- sorted, comma-separated, and are also the result.
CREATE OR REPLACE FUNCTION tx.begin_request(sub text, token_roles text, request_id text) RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_id uuid;
  v_roles text[];
  v_department uuid;
  v_active boolean;
  v_must_change boolean;
  v_effective text;
BEGIN
  IF sub IS NULL OR sub = '' THEN
    RAISE EXCEPTION 'unauthorized' USING ERRCODE = 'TXAUT';
  END IF;
  IF sub ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    SELECT e.id, e.roles, e.department_id, e.active INTO v_id, v_roles, v_department, v_active
      FROM org.employees e WHERE e.id = sub::uuid;
  ELSE
    SELECT e.id, e.roles, e.department_id, e.active INTO v_id, v_roles, v_department, v_active
      FROM org.employees e WHERE e.username = sub;
  END IF;
  IF v_id IS NULL OR NOT v_active THEN
    RAISE EXCEPTION 'unauthorized' USING ERRCODE = 'TXAUT';
  END IF;
  SELECT coalesce(string_agg(s.r, ',' ORDER BY s.r COLLATE "C"), '') INTO v_effective
    FROM (SELECT DISTINCT btrim(t.raw) AS r
            FROM unnest(string_to_array(coalesce(token_roles, ''), ',')) AS t(raw)) s
   WHERE s.r = ANY (v_roles);
  -- A password set by somebody else (issue 10 item 9): until the employee chooses their own,
  -- the request runs without an employee and without roles, so every API function refuses it
  -- (api.require_user: TXDEN) and row-level security shows nothing; only api.me() (which says
  -- so) and auth.change_own_password() read who it is, from tx.password_change_for.
  SELECT c.must_change INTO v_must_change FROM auth.credentials c WHERE c.employee_id = v_id;
  IF coalesce(v_must_change, false) THEN
    PERFORM set_config('tx.user_id', '', true),
            set_config('tx.roles', '', true),
            set_config('tx.department_id', '', true),
            set_config('tx.password_change_for', v_id::text, true),
            set_config('tx.password_change_roles', v_effective, true),
            set_config('tx.request_id', coalesce(request_id, ''), true);
    RETURN v_effective;
  END IF;
  PERFORM set_config('tx.password_change_for', '', true);
  PERFORM set_config('tx.user_id', v_id::text, true),
          set_config('tx.roles', v_effective, true),
          set_config('tx.department_id', coalesce(v_department::text, ''), true),
          set_config('tx.request_id', coalesce(request_id, ''), true);
  RETURN v_effective;
END
$$;
REVOKE ALL ON FUNCTION tx.begin_request(text,text,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tx.begin_request(text,text,text) TO tianxing_app;

-- Authentication (SECURITY DEFINER, owner; the C auth core is the only caller) ----------------

-- The login candidate: zero rows when the username or its credentials do not exist. Inactive
-- employees are returned (active = false) so that the caller answers them like a wrong password.
CREATE OR REPLACE FUNCTION auth.login_lookup(p_username text)
  RETURNS TABLE (employee_id uuid, password_hash text, failed_count int,
                 locked_until timestamptz, active boolean)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT e.id, c.password_hash, c.failed_count, c.locked_until, e.active
    FROM org.employees e
    JOIN auth.credentials c ON c.employee_id = e.id
   WHERE e.username = lower(p_username)
$$;
REVOKE ALL ON FUNCTION auth.login_lookup(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth.login_lookup(text) TO tianxing_app;

-- One more failed attempt. Zero rows when the employee has no credentials.
--   * at p_lock_threshold consecutive failures the account locks for p_lock_seconds and the
--     counter starts again (failed_count 0 with locked_until set: "account_locked");
--   * from the third failure below the threshold, a short wait is imposed (throttling):
--     locked_until = now() + least(2^(n-2), 30, p_lock_seconds) seconds after the n-th failure
--     (2, 4, 8, 16, 30 s), with failed_count kept (non-zero count with a lock: "login_throttled").
--     A longer lock already running is never shortened.
-- The caller does not count attempts made while locked_until is in the future.
CREATE OR REPLACE FUNCTION auth.login_failed(p_employee_id uuid, p_lock_threshold int, p_lock_seconds int)
  RETURNS TABLE (failed_count int, locked_until timestamptz)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF p_lock_threshold IS NULL OR p_lock_threshold < 1 THEN
    RAISE EXCEPTION 'p_lock_threshold must be at least 1' USING ERRCODE = '22023';
  END IF;
  IF p_lock_seconds IS NULL OR p_lock_seconds < 0 THEN
    RAISE EXCEPTION 'p_lock_seconds must not be negative' USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
  UPDATE auth.credentials c
     SET failed_count = CASE WHEN c.failed_count + 1 >= p_lock_threshold THEN 0
                             ELSE c.failed_count + 1 END,
         locked_until = CASE
           WHEN c.failed_count + 1 >= p_lock_threshold
             THEN now() + make_interval(secs => p_lock_seconds)
           WHEN c.failed_count + 1 >= 3 AND p_lock_seconds > 0
             THEN greatest(c.locked_until,
                           now() + make_interval(secs => least(power(2, least(c.failed_count - 1, 10))::int,
                                                               30, p_lock_seconds)))
           ELSE c.locked_until END,
         last_failed_at = now(),
         updated_at = now()
   WHERE c.employee_id = p_employee_id
  RETURNING c.failed_count, c.locked_until;
END
$$;
REVOKE ALL ON FUNCTION auth.login_failed(uuid,integer,integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth.login_failed(uuid,integer,integer) TO tianxing_app;

-- A successful login clears the counter and any lock (no write when there is nothing to clear).
CREATE OR REPLACE FUNCTION auth.login_succeeded(p_employee_id uuid) RETURNS void
  LANGUAGE sql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  UPDATE auth.credentials
     SET failed_count = 0, locked_until = NULL, updated_at = now()
   WHERE employee_id = p_employee_id AND (failed_count <> 0 OR locked_until IS NOT NULL)
$$;
REVOKE ALL ON FUNCTION auth.login_succeeded(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth.login_succeeded(uuid) TO tianxing_app;

-- Stores a new refresh token (its SHA-256) in family p_family_id, or in a new family when NULL;
-- returns the family id. TXAUT when the employee is missing or inactive.
CREATE OR REPLACE FUNCTION auth.refresh_issue(p_employee_id uuid, p_family_id uuid, p_token_hash bytea,
                                   p_ttl_seconds int)
  RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE v_family uuid := coalesce(p_family_id, gen_random_uuid());
BEGIN
  IF p_ttl_seconds IS NULL OR p_ttl_seconds < 1 THEN
    RAISE EXCEPTION 'p_ttl_seconds must be positive' USING ERRCODE = '22023';
  END IF;
  IF p_token_hash IS NULL OR octet_length(p_token_hash) <> 32 THEN
    RAISE EXCEPTION 'p_token_hash must be a SHA-256 (32 bytes)' USING ERRCODE = '22023';
  END IF;
  IF NOT EXISTS (SELECT FROM org.employees e WHERE e.id = p_employee_id AND e.active) THEN
    RAISE EXCEPTION 'unauthorized' USING ERRCODE = 'TXAUT';
  END IF;
  IF p_family_id IS NOT NULL AND EXISTS (
       SELECT FROM auth.refresh_tokens t
        WHERE t.family_id = p_family_id
          AND (t.employee_id <> p_employee_id OR t.revoked_at IS NOT NULL)) THEN
    RAISE EXCEPTION 'refresh token family % is revoked or not this employee''s', p_family_id
      USING ERRCODE = '22023';
  END IF;
  INSERT INTO auth.refresh_tokens (family_id, employee_id, token_hash, expires_at)
  VALUES (v_family, p_employee_id, p_token_hash, now() + make_interval(secs => p_ttl_seconds));
  RETURN v_family;
END
$$;
REVOKE ALL ON FUNCTION auth.refresh_issue(uuid,uuid,bytea,integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth.refresh_issue(uuid,uuid,bytea,integer) TO tianxing_app;

-- Rotation: exchanges a refresh token for a new one in the same family.
--   ok        the old token is now used, the new one issued (employee_id = its employee)
--   reused    the old token had been used already: a copy is in someone else's hands, so the
--             whole family is revoked (employee_id = its employee, for the log)
--   invalid   unknown, expired or revoked (employee_id NULL)
--   inactive  the employee was deactivated: the family is revoked
-- The row lock makes concurrent rotations of one token queue: the second sees it used ('reused').
-- The caller must COMMIT whatever the outcome (a revocation is a write).
CREATE OR REPLACE FUNCTION auth.refresh_rotate(p_old_hash bytea, p_new_hash bytea, p_ttl_seconds int)
  RETURNS TABLE (employee_id uuid, outcome text)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  t auth.refresh_tokens%ROWTYPE;
BEGIN
  IF p_ttl_seconds IS NULL OR p_ttl_seconds < 1 THEN
    RAISE EXCEPTION 'p_ttl_seconds must be positive' USING ERRCODE = '22023';
  END IF;
  IF p_new_hash IS NULL OR octet_length(p_new_hash) <> 32 THEN
    RAISE EXCEPTION 'p_new_hash must be a SHA-256 (32 bytes)' USING ERRCODE = '22023';
  END IF;
  SELECT * INTO t FROM auth.refresh_tokens r WHERE r.token_hash = p_old_hash FOR UPDATE;
  IF NOT FOUND OR t.revoked_at IS NOT NULL THEN
    RETURN QUERY SELECT NULL::uuid, 'invalid'::text;
    RETURN;
  END IF;
  IF t.used_at IS NOT NULL THEN
    UPDATE auth.refresh_tokens r SET revoked_at = now()
     WHERE r.family_id = t.family_id AND r.revoked_at IS NULL;
    RETURN QUERY SELECT t.employee_id, 'reused'::text;
    RETURN;
  END IF;
  IF t.expires_at <= now() THEN
    RETURN QUERY SELECT NULL::uuid, 'invalid'::text;
    RETURN;
  END IF;
  IF NOT EXISTS (SELECT FROM org.employees e WHERE e.id = t.employee_id AND e.active) THEN
    UPDATE auth.refresh_tokens r SET revoked_at = now()
     WHERE r.family_id = t.family_id AND r.revoked_at IS NULL;
    RETURN QUERY SELECT t.employee_id, 'inactive'::text;
    RETURN;
  END IF;
  UPDATE auth.refresh_tokens r SET used_at = now() WHERE r.id = t.id;
  INSERT INTO auth.refresh_tokens (family_id, employee_id, token_hash, expires_at)
  VALUES (t.family_id, t.employee_id, p_new_hash, now() + make_interval(secs => p_ttl_seconds));
  RETURN QUERY SELECT t.employee_id, 'ok'::text;
END
$$;
REVOKE ALL ON FUNCTION auth.refresh_rotate(bytea,bytea,integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth.refresh_rotate(bytea,bytea,integer) TO tianxing_app;

-- Logout: revokes the token's whole family. false when the token is unknown.
CREATE OR REPLACE FUNCTION auth.refresh_revoke(p_token_hash bytea) RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE v_family uuid;
BEGIN
  SELECT r.family_id INTO v_family FROM auth.refresh_tokens r WHERE r.token_hash = p_token_hash;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  UPDATE auth.refresh_tokens r SET revoked_at = now()
   WHERE r.family_id = v_family AND r.revoked_at IS NULL;
  RETURN true;
END
$$;
REVOKE ALL ON FUNCTION auth.refresh_revoke(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth.refresh_revoke(bytea) TO tianxing_app;

-- Admin sets a password (PUT /v1/employees/{id}/password): stores the hash made by the C side
-- ($scrypt$...), clears the lockout and ends the employee's sessions (a reset password must not
-- leave old refresh tokens working). 42501 without the admin claim; P0002 when there is no such
-- employee. A password set through the service (the runtime role's session) for somebody else
-- must be changed at its first use (must_change, tx.begin_request); the operator's bootstrap and
-- fixtures, run as the owner, set final passwords.
CREATE OR REPLACE FUNCTION auth.set_password(p_employee_id uuid, p_hash text) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF NOT tx.has_role('admin') THEN
    RAISE EXCEPTION 'setting a password needs the role admin' USING ERRCODE = '42501';
  END IF;
  IF p_hash IS NULL OR NOT starts_with(p_hash, '$scrypt$') THEN
    RAISE EXCEPTION 'p_hash must be a $scrypt$ hash' USING ERRCODE = '22023';
  END IF;
  IF NOT EXISTS (SELECT FROM org.employees e WHERE e.id = p_employee_id) THEN
    RAISE EXCEPTION 'no such employee' USING ERRCODE = 'P0002';
  END IF;
  INSERT INTO auth.credentials AS c (employee_id, password_hash, must_change)
  VALUES (p_employee_id, p_hash,
          session_user = 'tianxing_app' AND p_employee_id IS DISTINCT FROM tx.user_id())
  ON CONFLICT (employee_id) DO UPDATE
    SET password_hash = EXCLUDED.password_hash, failed_count = 0, locked_until = NULL,
        must_change = EXCLUDED.must_change, updated_at = now();
  UPDATE auth.refresh_tokens r SET revoked_at = now()
   WHERE r.employee_id = p_employee_id AND r.revoked_at IS NULL;
END
$$;
REVOKE ALL ON FUNCTION auth.set_password(uuid,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth.set_password(uuid,text) TO tianxing_app;

-- POST /v1/me/password, step 1: the caller's current hash (the C side verifies the current
-- password against it and hashes the new one). The caller is the request's employee, or the one
-- whose password must change (tx.begin_request). TXAUT without either, P0002 without credentials.
CREATE OR REPLACE FUNCTION auth.own_password_hash() RETURNS text
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_me uuid := coalesce(tx.user_id(), tx.claim('password_change_for')::uuid);
  v_hash text;
BEGIN
  IF v_me IS NULL THEN
    RAISE EXCEPTION 'authentication required' USING ERRCODE = 'TXAUT';
  END IF;
  SELECT c.password_hash INTO v_hash FROM auth.credentials c WHERE c.employee_id = v_me;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no credentials' USING ERRCODE = 'P0002';
  END IF;
  RETURN v_hash;
END
$$;
REVOKE ALL ON FUNCTION auth.own_password_hash() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth.own_password_hash() TO tianxing_app;

-- POST /v1/me/password, step 2: replaces p_old_hash (what step 1 read: TXCON if it changed since)
-- by p_new_hash, clears must_change and ends every session (the caller signs in again).
-- p_current_ok: the current password was right (else TXVAL current_password); p_same: the new
-- password equals the current one (TXVAL new_password).
CREATE OR REPLACE FUNCTION auth.change_own_password(p_old_hash text, p_new_hash text,
                                                    p_current_ok boolean, p_same boolean)
  RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_me uuid := coalesce(tx.user_id(), tx.claim('password_change_for')::uuid);
BEGIN
  IF v_me IS NULL THEN
    RAISE EXCEPTION 'authentication required' USING ERRCODE = 'TXAUT';
  END IF;
  IF NOT coalesce(p_current_ok, false) THEN
    RAISE EXCEPTION USING ERRCODE = 'TXVAL', COLUMN = 'current_password',
      MESSAGE = 'current_password: is not your current password';
  END IF;
  IF coalesce(p_same, true) THEN
    RAISE EXCEPTION USING ERRCODE = 'TXVAL', COLUMN = 'new_password',
      MESSAGE = 'new_password: must differ from the current password';
  END IF;
  IF p_new_hash IS NULL OR NOT starts_with(p_new_hash, '$scrypt$') THEN
    RAISE EXCEPTION 'p_new_hash must be a $scrypt$ hash' USING ERRCODE = '22023';
  END IF;
  UPDATE auth.credentials c
     SET password_hash = p_new_hash, must_change = false, failed_count = 0, locked_until = NULL,
         updated_at = now()
   WHERE c.employee_id = v_me AND c.password_hash = p_old_hash;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'the password changed meanwhile' USING ERRCODE = 'TXCON';
  END IF;
  UPDATE auth.refresh_tokens r SET revoked_at = now()
   WHERE r.employee_id = v_me AND r.revoked_at IS NULL;
END
$$;
REVOKE ALL ON FUNCTION auth.change_own_password(text,text,boolean,boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth.change_own_password(text,text,boolean,boolean) TO tianxing_app;

CREATE OR REPLACE TRIGGER employees_revoke_tokens AFTER UPDATE OF active ON org.employees
  FOR EACH ROW WHEN (OLD.active AND NOT NEW.active)
  EXECUTE FUNCTION auth.revoke_on_deactivate();

-- Credentials and refresh tokens: only the SECURITY DEFINER auth.* functions (owner) touch them.
DROP POLICY IF EXISTS credentials_definer ON auth.credentials;
CREATE POLICY credentials_definer ON auth.credentials FOR ALL TO tianxing_owner
  USING (true) WITH CHECK (true);

DROP POLICY IF EXISTS refresh_tokens_definer ON auth.refresh_tokens;
CREATE POLICY refresh_tokens_definer ON auth.refresh_tokens FOR ALL TO tianxing_owner
  USING (true) WITH CHECK (true);
