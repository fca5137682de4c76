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

-- Sign-in throttling (docs/identity.md, "Sign-in throttling"; migration 0015): failures are
-- counted per (username as typed, source address), whether the username exists or not, so that
-- an attacker elsewhere cannot lock the owner out and a throttled name does not tell a real
-- account from an unknown one. IPv6 sources count by their /64 (one host usually holds a whole
-- /64); IPv4 by the address.
-- (SECURITY DEFINER only to be like every auth function, sql/tests/auth.sql: it reads nothing.)
CREATE OR REPLACE FUNCTION auth.login_source(p_source inet) RETURNS inet
  LANGUAGE sql IMMUTABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT CASE WHEN family(p_source) = 6 THEN network(set_masklen(p_source, 64))
              ELSE host(p_source)::inet END
$$;
REVOKE ALL ON FUNCTION auth.login_source(inet) FROM PUBLIC;

-- The sign-in candidate: always one row. employee_id and password_hash are NULL when the username
-- or its credentials do not exist; inactive employees are returned (active = false) so that the
-- caller answers them like a wrong password. failed_count and locked_until are the pair's
-- (username, source) throttle state, the same for a real and an unknown name.
CREATE OR REPLACE FUNCTION auth.login_lookup(p_username text, p_source inet)
  RETURNS TABLE (employee_id uuid, password_hash text, active boolean, failed_count int,
                 locked_until timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT e.id, c.password_hash, coalesce(e.active, false), coalesce(t.failed_count, 0),
         t.locked_until
    FROM (SELECT lower(p_username) AS username, auth.login_source(p_source) AS source) k
    LEFT JOIN org.employees e ON e.username = k.username
    LEFT JOIN auth.credentials c ON c.employee_id = e.id
    LEFT JOIN auth.login_throttle t ON t.username = k.username AND t.source = k.source
$$;
REVOKE ALL ON FUNCTION auth.login_lookup(text,inet) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth.login_lookup(text,inet) TO tianxing_app;

-- One more failed attempt of the pair (p_username, p_source), known username or not:
--   * at p_lock_threshold consecutive failures the pair locks for p_lock_seconds and the
--     counter starts again (failed_count 0 with locked_until set: "account_locked");
--   * from the third failure below the threshold, a short wait is imposed (throttling):
--     locked_until = now() + least(2^(n-2), 30, p_lock_seconds) seconds after the n-th failure
--     (2, 4, 8, 16, 30 s), with failed_count kept (non-zero count with a lock: "login_throttled").
--     A longer lock already running is never shortened.
-- The caller does not count attempts made while locked_until is in the future. Pairs without a
-- failure for a day are forgotten here (the table would otherwise keep every name ever tried).
CREATE OR REPLACE FUNCTION auth.login_failed(p_username text, p_source inet,
                                             p_lock_threshold int, p_lock_seconds int)
  RETURNS TABLE (failed_count int, locked_until timestamptz)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
#variable_conflict use_column
DECLARE
  v_username text := lower(p_username);
  v_source inet := auth.login_source(p_source);
  v_count int;
BEGIN
  IF p_lock_threshold IS NULL OR p_lock_threshold < 1 THEN
    RAISE EXCEPTION 'p_lock_threshold must be at least 1' USING ERRCODE = '22023';
  END IF;
  IF p_lock_seconds IS NULL OR p_lock_seconds < 0 THEN
    RAISE EXCEPTION 'p_lock_seconds must not be negative' USING ERRCODE = '22023';
  END IF;
  IF v_username IS NULL OR v_source IS NULL THEN
    RAISE EXCEPTION 'p_username and p_source are required' USING ERRCODE = '22023';
  END IF;
  DELETE FROM auth.login_throttle t
   WHERE t.last_failed_at < now() - interval '1 day'
     AND (t.locked_until IS NULL OR t.locked_until < now());
  INSERT INTO auth.login_throttle AS t (username, source) VALUES (v_username, v_source)
  ON CONFLICT (username, source) DO NOTHING;
  SELECT t.failed_count + 1 INTO v_count FROM auth.login_throttle t
   WHERE t.username = v_username AND t.source = v_source FOR UPDATE;
  RETURN QUERY
  UPDATE auth.login_throttle t
     SET failed_count = CASE WHEN v_count >= p_lock_threshold THEN 0 ELSE v_count END,
         locked_until = CASE
           WHEN v_count >= p_lock_threshold
             THEN now() + make_interval(secs => p_lock_seconds)
           WHEN v_count >= 3 AND p_lock_seconds > 0
             THEN greatest(t.locked_until,
                           now() + make_interval(secs => least(power(2, least(v_count - 2, 10))::int,
                                                               30, p_lock_seconds)))
           ELSE t.locked_until END,
         last_failed_at = now()
   WHERE t.username = v_username AND t.source = v_source
  RETURNING t.failed_count, t.locked_until;
END
$$;
REVOKE ALL ON FUNCTION auth.login_failed(text,inet,integer,integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth.login_failed(text,inet,integer,integer) TO tianxing_app;

-- A successful sign-in clears the pair's count and any wait (no write when there is nothing).
CREATE OR REPLACE FUNCTION auth.login_succeeded(p_username text, p_source inet) RETURNS void
  LANGUAGE sql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  DELETE FROM auth.login_throttle
   WHERE username = lower(p_username) AND source = auth.login_source(p_source)
$$;
REVOKE ALL ON FUNCTION auth.login_succeeded(text,inet) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth.login_succeeded(text,inet) TO tianxing_app;

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
-- ($scrypt$...), clears the sign-in throttle of the employee's username (from every address) and
-- ends the employee's sessions (a reset password must not leave old refresh tokens working).
-- 42501 without the admin claim; P0002 when there is no such employee. A password set through
-- the service (the runtime role's session) for somebody else must be changed at its first use
-- (must_change, tx.begin_request); the operator's bootstrap and fixtures, run as the owner, set
-- final passwords.
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
  DELETE FROM auth.login_throttle t
   WHERE t.username = (SELECT e.username FROM org.employees e WHERE e.id = p_employee_id);
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

DROP POLICY IF EXISTS login_throttle_definer ON auth.login_throttle;
CREATE POLICY login_throttle_definer ON auth.login_throttle FOR ALL TO tianxing_owner
  USING (true) WITH CHECK (true);

-- Kind auth.refresh_tokens.purge: refresh tokens are kept after use or revocation so that a
-- reused one revokes its family (0003). Once every token of a family has been expired for
-- payload.grace_days (default 1), nothing of it can be exchanged any more and revoking it would
-- change nothing: the whole family goes, at most payload.batch (default 5000) tokens per run.
CREATE OR REPLACE FUNCTION auth.refresh_tokens_purge(p_payload jsonb) RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_grace int := coalesce((p_payload ->> 'grace_days')::int, 1);
  v_batch int := coalesce((p_payload ->> 'batch')::int, 5000);
  v_n int;
BEGIN
  PERFORM jobs.require_system();
  DELETE FROM auth.refresh_tokens t
   WHERE t.id IN (
     SELECT r.id FROM auth.refresh_tokens r
      WHERE r.family_id IN (SELECT f.family_id FROM auth.refresh_tokens f GROUP BY f.family_id
                             HAVING max(f.expires_at) < now() - make_interval(days => v_grace))
      ORDER BY r.expires_at LIMIT v_batch);
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END
$$;
REVOKE ALL ON FUNCTION auth.refresh_tokens_purge(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth.refresh_tokens_purge(jsonb) TO tianxing_app;
