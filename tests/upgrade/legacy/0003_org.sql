-- 0003 org: departments and employees (schema org), credentials and refresh tokens (schema auth),
-- tx.begin_request(), the auth.* functions the C auth core calls, and the API functions of
-- departments and employees (docs/identity.md).
-- Runs as tianxing_owner inside one transaction opened by `tianxingd migrate`.
--
-- About the owner role and FORCE ROW LEVEL SECURITY: every table here has RLS enabled AND forced,
-- so the owner is subject to policies too. tianxing_owner never serves a request: it runs
-- migrations and owns the SECURITY DEFINER functions (tx.begin_request, auth.*), which must read
-- an employee before any claim exists (a login, the start of a request) and manage credentials
-- and tokens. Those functions are what the policies "TO tianxing_owner" below are for; each
-- checks what it needs itself. tianxing_app cannot become tianxing_owner (roles.sql proves it).

CREATE SCHEMA org;
REVOKE ALL ON SCHEMA org FROM PUBLIC;
GRANT USAGE ON SCHEMA org TO tianxing_app;

-- No table of schema auth is granted to tianxing_app; USAGE lets it call the auth.* functions.
CREATE SCHEMA auth;
REVOKE ALL ON SCHEMA auth FROM PUBLIC;
GRANT USAGE ON SCHEMA auth TO tianxing_app;

-- Optimistic concurrency: `version` counts updates (the ETag), updated_at follows; created_at
-- never changes.
CREATE FUNCTION org.touch() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  NEW.version := OLD.version + 1;
  NEW.updated_at := now();
  NEW.created_at := OLD.created_at;
  RETURN NEW;
END
$$;

CREATE TABLE org.departments (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  code       text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$'),
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  kind       text NOT NULL CHECK (kind IN ('business', 'support', 'hr', 'risk', 'management')),
  version    int NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER departments_touch BEFORE UPDATE ON org.departments
  FOR EACH ROW EXECUTE FUNCTION org.touch();

CREATE TABLE org.employees (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  username       text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9._-]{2,64}$'),
  display_name   text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  email          text CHECK (length(email) <= 254 AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
  department_id  uuid REFERENCES org.departments (id),
  supervisor_id  uuid REFERENCES org.employees (id),
  roles          text[] NOT NULL DEFAULT '{}'
                 CHECK (roles <@ ARRAY['staff', 'supervisor', 'hr', 'risk_officer', 'auditor',
                                       'admin']::text[]
                        AND array_position(roles, NULL) IS NULL),
  active         boolean NOT NULL DEFAULT true,
  deactivated_at timestamptz,
  version        int NOT NULL DEFAULT 1,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  CHECK (supervisor_id <> id),
  CHECK (active = (deactivated_at IS NULL))
);
CREATE INDEX employees_department_idx ON org.employees (department_id);
CREATE INDEX employees_supervisor_idx ON org.employees (supervisor_id);
CREATE TRIGGER employees_touch BEFORE UPDATE ON org.employees
  FOR EACH ROW EXECUTE FUNCTION org.touch();

-- deactivated_at follows `active`; a supervisor chain never loops.
CREATE FUNCTION org.employees_check() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.active IS DISTINCT FROM OLD.active THEN
    NEW.deactivated_at := CASE WHEN NEW.active THEN NULL ELSE now() END;
  END IF;
  IF NEW.supervisor_id IS NOT NULL
     AND (TG_OP = 'INSERT' OR NEW.supervisor_id IS DISTINCT FROM OLD.supervisor_id) THEN
    IF EXISTS (WITH RECURSIVE up(id) AS (
                 SELECT NEW.supervisor_id
                 UNION
                 SELECT e.supervisor_id FROM org.employees e JOIN up ON e.id = up.id
                  WHERE e.supervisor_id IS NOT NULL)
               SELECT FROM up WHERE up.id = NEW.id) THEN
      PERFORM api.fail('TXVAL', 'supervisor_id', 'would make the employee their own superior');
    END IF;
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER employees_check BEFORE INSERT OR UPDATE ON org.employees
  FOR EACH ROW EXECUTE FUNCTION org.employees_check();

CREATE TABLE auth.credentials (
  employee_id    uuid PRIMARY KEY REFERENCES org.employees (id),
  password_hash  text NOT NULL CHECK (starts_with(password_hash, '$scrypt$')),
  failed_count   int NOT NULL DEFAULT 0 CHECK (failed_count >= 0),
  last_failed_at timestamptz,
  locked_until   timestamptz,
  updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE auth.refresh_tokens (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  family_id   uuid NOT NULL,
  employee_id uuid NOT NULL REFERENCES org.employees (id),
  token_hash  bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
  issued_at   timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  revoked_at  timestamptz,
  CHECK (expires_at > issued_at)
);
CREATE INDEX refresh_tokens_family_idx ON auth.refresh_tokens (family_id);
CREATE INDEX refresh_tokens_employee_idx ON auth.refresh_tokens (employee_id);

-- Deactivating an employee ends their sessions: every refresh-token family is revoked.
CREATE FUNCTION auth.revoke_on_deactivate() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  UPDATE auth.refresh_tokens SET revoked_at = now()
   WHERE employee_id = NEW.id AND revoked_at IS NULL;
  RETURN NULL;
END
$$;
CREATE TRIGGER employees_revoke_tokens AFTER UPDATE OF active ON org.employees
  FOR EACH ROW WHEN (OLD.active AND NOT NEW.active)
  EXECUTE FUNCTION auth.revoke_on_deactivate();

-- Every write is audited; secrets never reach the trail.
SELECT audit.attach('org.departments');
SELECT audit.attach('org.employees');
SELECT audit.attach('auth.credentials', '{password_hash}');
SELECT audit.attach('auth.refresh_tokens', '{token_hash}');

-- Row-level security ------------------------------------------------------------------------
ALTER TABLE org.departments ENABLE ROW LEVEL SECURITY;
ALTER TABLE org.departments FORCE ROW LEVEL SECURITY;
ALTER TABLE org.employees ENABLE ROW LEVEL SECURITY;
ALTER TABLE org.employees FORCE ROW LEVEL SECURITY;
ALTER TABLE auth.credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.credentials FORCE ROW LEVEL SECURITY;
ALTER TABLE auth.refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.refresh_tokens FORCE ROW LEVEL SECURITY;

-- Departments: every authenticated employee reads them all; admin writes.
CREATE POLICY departments_read ON org.departments FOR SELECT
  USING ((SELECT tx.user_id()) IS NOT NULL);
CREATE POLICY departments_admin_insert ON org.departments FOR INSERT
  WITH CHECK ((SELECT tx.has_role('admin')));
CREATE POLICY departments_admin_update ON org.departments FOR UPDATE
  USING ((SELECT tx.has_role('admin'))) WITH CHECK ((SELECT tx.has_role('admin')));

-- Employees: admin, hr and auditor read all; a supervisor reads their department and their
-- direct reports; everyone reads themselves. Admin writes.
CREATE POLICY employees_read ON org.employees FOR SELECT
  USING (id = (SELECT tx.user_id())
         OR (SELECT tx.has_role('admin'))
         OR (SELECT tx.has_role('hr'))
         OR (SELECT tx.has_role('auditor'))
         OR ((SELECT tx.has_role('supervisor'))
             AND (department_id = (SELECT tx.department_id())
                  OR supervisor_id = (SELECT tx.user_id()))));
CREATE POLICY employees_admin_insert ON org.employees FOR INSERT
  WITH CHECK ((SELECT tx.has_role('admin')));
CREATE POLICY employees_admin_update ON org.employees FOR UPDATE
  USING ((SELECT tx.has_role('admin'))) WITH CHECK ((SELECT tx.has_role('admin')));
-- tx.begin_request() and auth.login_lookup() find the employee before any claim exists.
CREATE POLICY employees_definer_read ON org.employees FOR SELECT TO tianxing_owner USING (true);

-- Credentials and refresh tokens: only the SECURITY DEFINER auth.* functions (owner) touch them.
CREATE POLICY credentials_definer ON auth.credentials FOR ALL TO tianxing_owner
  USING (true) WITH CHECK (true);
CREATE POLICY refresh_tokens_definer ON auth.refresh_tokens FOR ALL TO tianxing_owner
  USING (true) WITH CHECK (true);

REVOKE ALL ON ALL TABLES IN SCHEMA org FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA auth FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON org.departments, org.employees TO tianxing_app;

-- Claims ------------------------------------------------------------------------------------
-- The start of every authenticated request (docs/identity.md, "Claims per transaction"): finds the
-- employee by id (sub is a uuid) or username; TXAUT when missing or inactive. Sets the claims
-- transaction-locally; the effective roles are the token's roles that the employee still holds,
-- sorted, comma-separated, and are also the result.
CREATE FUNCTION tx.begin_request(sub text, token_roles text, request_id text) RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_id uuid;
  v_roles text[];
  v_department uuid;
  v_active boolean;
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
  PERFORM set_config('tx.user_id', v_id::text, true),
          set_config('tx.roles', v_effective, true),
          set_config('tx.department_id', coalesce(v_department::text, ''), true),
          set_config('tx.request_id', coalesce(request_id, ''), true);
  RETURN v_effective;
END
$$;
REVOKE ALL ON FUNCTION tx.begin_request(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tx.begin_request(text, text, text) TO tianxing_app;

-- Authentication (SECURITY DEFINER, owner; the C auth core is the only caller) ----------------

-- The login candidate: zero rows when the username or its credentials do not exist. Inactive
-- employees are returned (active = false) so that the caller answers them like a wrong password.
CREATE FUNCTION auth.login_lookup(p_username text)
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

-- One more failed attempt. Zero rows when the employee has no credentials.
--   * at p_lock_threshold consecutive failures the account locks for p_lock_seconds and the
--     counter starts again (failed_count 0 with locked_until set: "account_locked");
--   * from the third failure below the threshold, a short wait is imposed (throttling):
--     locked_until = now() + least(2^(n-2), 30, p_lock_seconds) seconds after the n-th failure
--     (2, 4, 8, 16, 30 s), with failed_count kept (non-zero count with a lock: "login_throttled").
--     A longer lock already running is never shortened.
-- The caller does not count attempts made while locked_until is in the future.
CREATE FUNCTION auth.login_failed(p_employee_id uuid, p_lock_threshold int, p_lock_seconds int)
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

-- A successful login clears the counter and any lock (no write when there is nothing to clear).
CREATE FUNCTION auth.login_succeeded(p_employee_id uuid) RETURNS void
  LANGUAGE sql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  UPDATE auth.credentials
     SET failed_count = 0, locked_until = NULL, updated_at = now()
   WHERE employee_id = p_employee_id AND (failed_count <> 0 OR locked_until IS NOT NULL)
$$;

-- Stores a new refresh token (its SHA-256) in family p_family_id, or in a new family when NULL;
-- returns the family id. TXAUT when the employee is missing or inactive.
CREATE FUNCTION auth.refresh_issue(p_employee_id uuid, p_family_id uuid, p_token_hash bytea,
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

-- Rotation: exchanges a refresh token for a new one in the same family.
--   ok        the old token is now used, the new one issued (employee_id = its employee)
--   reused    the old token had been used already: a copy is in someone else's hands, so the
--             whole family is revoked (employee_id = its employee, for the log)
--   invalid   unknown, expired or revoked (employee_id NULL)
--   inactive  the employee was deactivated: the family is revoked
-- The row lock makes concurrent rotations of one token queue: the second sees it used ('reused').
-- The caller must COMMIT whatever the outcome (a revocation is a write).
CREATE FUNCTION auth.refresh_rotate(p_old_hash bytea, p_new_hash bytea, p_ttl_seconds int)
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

-- Logout: revokes the token's whole family. false when the token is unknown.
CREATE FUNCTION auth.refresh_revoke(p_token_hash bytea) RETURNS boolean
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

-- Admin sets a password (PUT /v1/employees/{id}/password): stores the hash made by the C side
-- ($scrypt$...), clears the lockout and ends the employee's sessions (a reset password must not
-- leave old refresh tokens working). 42501 without the admin claim; P0002 when there is no such
-- employee.
CREATE FUNCTION auth.set_password(p_employee_id uuid, p_hash text) RETURNS void
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
  INSERT INTO auth.credentials AS c (employee_id, password_hash)
  VALUES (p_employee_id, p_hash)
  ON CONFLICT (employee_id) DO UPDATE
    SET password_hash = EXCLUDED.password_hash, failed_count = 0, locked_until = NULL,
        updated_at = now();
  UPDATE auth.refresh_tokens r SET revoked_at = now()
   WHERE r.employee_id = p_employee_id AND r.revoked_at IS NULL;
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA auth FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  auth.login_lookup(text),
  auth.login_failed(uuid, int, int),
  auth.login_succeeded(uuid),
  auth.refresh_issue(uuid, uuid, bytea, int),
  auth.refresh_rotate(bytea, bytea, int),
  auth.refresh_revoke(bytea),
  auth.set_password(uuid, text)
  TO tianxing_app;

-- API: departments ---------------------------------------------------------------------------

CREATE FUNCTION api.department_json(d org.departments) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object('id', d.id, 'code', d.code, 'name', d.name, 'kind', d.kind,
                           'version', d.version, 'created_at', api.ts(d.created_at),
                           'updated_at', api.ts(d.updated_at))
$$;

-- Ordered by code; the cursor is the code of the last item of the previous page.
CREATE FUNCTION api.department_list(p_limit int, p_cursor text) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_out json;
BEGIN
  PERFORM api.require_user();
  WITH page AS (
    SELECT d, d.code, row_number() OVER (ORDER BY d.code) AS rn
      FROM org.departments d
     WHERE p_cursor IS NULL OR d.code > p_cursor
     ORDER BY d.code
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(api.department_json(p.d) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN min(p.code) FILTER (WHERE p.rn = v_limit) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;

-- NULL when the department does not exist or is not visible.
CREATE FUNCTION api.department_get(p_id uuid) RETURNS json
  LANGUAGE sql STABLE
  AS $$ SELECT api.department_json(d) FROM org.departments d WHERE d.id = p_id $$;

CREATE FUNCTION api.department_validate(p_body jsonb, p_create boolean)
  RETURNS TABLE (code text, name text, kind text)
  LANGUAGE plpgsql STABLE
  AS $$
#variable_conflict use_variable
BEGIN
  PERFORM api.body_keys(p_body, ARRAY['code', 'name', 'kind']);
  code := api.body_text(p_body, 'code', p_create, 32);
  IF code IS NOT NULL AND code !~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$' THEN
    PERFORM api.fail('TXVAL', 'code', 'must be letters, digits, _ or - (at most 32)');
  END IF;
  name := api.body_text(p_body, 'name', p_create, 200);
  kind := api.body_text(p_body, 'kind', p_create, 20);
  IF kind IS NOT NULL AND kind NOT IN ('business', 'support', 'hr', 'risk', 'management') THEN
    PERFORM api.fail('TXVAL', 'kind', 'must be one of business, support, hr, risk, management');
  END IF;
  IF NOT p_create THEN
    IF (p_body ? 'code' AND code IS NULL) THEN
      PERFORM api.fail('TXVAL', 'code', 'must not be null');
    ELSIF (p_body ? 'name' AND name IS NULL) THEN
      PERFORM api.fail('TXVAL', 'name', 'must not be null');
    ELSIF (p_body ? 'kind' AND kind IS NULL) THEN
      PERFORM api.fail('TXVAL', 'kind', 'must not be null');
    END IF;
  END IF;
  RETURN NEXT;
END
$$;

CREATE FUNCTION api.department_create(p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  v record;
  d org.departments;
BEGIN
  PERFORM api.require_role('admin');
  SELECT * INTO v FROM api.department_validate(p_body, true);
  IF EXISTS (SELECT FROM org.departments x WHERE x.code = v.code) THEN
    PERFORM api.fail('TXCON', 'code', 'a department with this code exists');
  END IF;
  INSERT INTO org.departments (code, name, kind) VALUES (v.code, v.name, v.kind)
  RETURNING * INTO d;
  RETURN api.department_json(d);
END
$$;

CREATE FUNCTION api.department_update(p_id uuid, p_expected_version int, p_body jsonb)
  RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  v record;
  d org.departments;
BEGIN
  PERFORM api.require_role('admin');
  SELECT * INTO v FROM api.department_validate(p_body, false);
  SELECT * INTO d FROM org.departments x WHERE x.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such department' USING ERRCODE = 'P0002';
  END IF;
  PERFORM api.check_version(p_expected_version, d.version);
  IF v.code IS NOT NULL AND v.code <> d.code
     AND EXISTS (SELECT FROM org.departments x WHERE x.code = v.code) THEN
    PERFORM api.fail('TXCON', 'code', 'a department with this code exists');
  END IF;
  UPDATE org.departments x
     SET code = coalesce(v.code, x.code), name = coalesce(v.name, x.name),
         kind = coalesce(v.kind, x.kind)
   WHERE x.id = p_id
  RETURNING * INTO d;
  RETURN api.department_json(d);
END
$$;

-- API: employees -----------------------------------------------------------------------------

CREATE FUNCTION api.employee_json(e org.employees) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object('id', e.id, 'username', e.username, 'display_name', e.display_name,
                           'email', e.email, 'department_id', e.department_id,
                           'supervisor_id', e.supervisor_id, 'roles', to_json(e.roles),
                           'active', e.active, 'deactivated_at', api.ts(e.deactivated_at),
                           'version', e.version, 'created_at', api.ts(e.created_at),
                           'updated_at', api.ts(e.updated_at))
$$;

-- Ordered by username; the cursor is the username of the last item of the previous page.
CREATE FUNCTION api.employee_list(p_limit int, p_cursor text, p_department_id uuid,
                                  p_active boolean)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_out json;
BEGIN
  PERFORM api.require_user();
  WITH page AS (
    SELECT e, e.username, row_number() OVER (ORDER BY e.username) AS rn
      FROM org.employees e
     WHERE (p_cursor IS NULL OR e.username > p_cursor)
       AND (p_department_id IS NULL OR e.department_id = p_department_id)
       AND (p_active IS NULL OR e.active = p_active)
     ORDER BY e.username
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(api.employee_json(p.e) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN min(p.username) FILTER (WHERE p.rn = v_limit) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;

-- NULL when the employee does not exist or is not visible.
CREATE FUNCTION api.employee_get(p_id uuid) RETURNS json
  LANGUAGE sql STABLE
  AS $$ SELECT api.employee_json(e) FROM org.employees e WHERE e.id = p_id $$;

-- Reads and checks the fields of an employee body (absent fields come back NULL: callers look at
-- `p_body ? field` to tell absent from null).
CREATE FUNCTION api.employee_validate(p_body jsonb, p_create boolean)
  RETURNS TABLE (username text, display_name text, email text, department_id uuid,
                 supervisor_id uuid, roles text[])
  LANGUAGE plpgsql STABLE
  AS $$
#variable_conflict use_variable
DECLARE
  bad text;
BEGIN
  PERFORM api.body_keys(p_body, CASE WHEN p_create
    THEN ARRAY['username', 'display_name', 'email', 'department_id', 'supervisor_id', 'roles']
    ELSE ARRAY['display_name', 'email', 'department_id', 'supervisor_id', 'roles'] END);
  IF p_create THEN
    username := api.body_text(p_body, 'username', true, 64);
    IF username !~ '^[a-z0-9._-]{2,64}$' THEN
      PERFORM api.fail('TXVAL', 'username',
                       'must be 2 to 64 lower-case letters, digits, dots, _ or -');
    END IF;
  END IF;
  display_name := api.body_text(p_body, 'display_name', p_create, 200);
  IF NOT p_create AND p_body ? 'display_name' AND display_name IS NULL THEN
    PERFORM api.fail('TXVAL', 'display_name', 'must not be null');
  END IF;
  email := api.body_text(p_body, 'email', false, 254);
  IF email IS NOT NULL AND email !~ '^[^@[:space:]]+@[^@[:space:]]+$' THEN
    PERFORM api.fail('TXVAL', 'email', 'must be an e-mail address');
  END IF;
  department_id := api.body_uuid(p_body, 'department_id', false);
  IF department_id IS NOT NULL
     AND NOT EXISTS (SELECT FROM org.departments d WHERE d.id = department_id) THEN
    PERFORM api.fail('TXVAL', 'department_id', 'no such department');
  END IF;
  supervisor_id := api.body_uuid(p_body, 'supervisor_id', false);
  IF supervisor_id IS NOT NULL
     AND NOT EXISTS (SELECT FROM org.employees e WHERE e.id = supervisor_id AND e.active) THEN
    PERFORM api.fail('TXVAL', 'supervisor_id', 'no such active employee');
  END IF;
  roles := api.body_text_array(p_body, 'roles', p_create);
  IF NOT p_create AND p_body ? 'roles' AND roles IS NULL THEN
    PERFORM api.fail('TXVAL', 'roles', 'must not be null');
  END IF;
  SELECT r INTO bad FROM unnest(roles) r
   WHERE r NOT IN ('staff', 'supervisor', 'hr', 'risk_officer', 'auditor', 'admin') LIMIT 1;
  IF bad IS NOT NULL THEN
    PERFORM api.fail('TXVAL', 'roles',
                     'must be among staff, supervisor, hr, risk_officer, auditor, admin');
  END IF;
  IF roles IS NOT NULL AND cardinality(roles) = 0 THEN
    PERFORM api.fail('TXVAL', 'roles', 'must hold at least one role');
  END IF;
  RETURN NEXT;
END
$$;

CREATE FUNCTION api.employee_create(p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  v record;
  e org.employees;
BEGIN
  PERFORM api.require_role('admin');
  SELECT * INTO v FROM api.employee_validate(p_body, true);
  IF EXISTS (SELECT FROM org.employees x WHERE x.username = v.username) THEN
    PERFORM api.fail('TXCON', 'username', 'is taken');
  END IF;
  INSERT INTO org.employees (username, display_name, email, department_id, supervisor_id, roles)
  VALUES (v.username, v.display_name, v.email, v.department_id, v.supervisor_id, v.roles)
  RETURNING * INTO e;
  RETURN api.employee_json(e);
END
$$;

-- PATCH: only the fields present change; null clears email, department_id, supervisor_id.
CREATE FUNCTION api.employee_update(p_id uuid, p_expected_version int, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  v record;
  e org.employees;
BEGIN
  PERFORM api.require_role('admin');
  SELECT * INTO v FROM api.employee_validate(p_body, false);
  SELECT * INTO e FROM org.employees x WHERE x.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such employee' USING ERRCODE = 'P0002';
  END IF;
  PERFORM api.check_version(p_expected_version, e.version);
  IF v.supervisor_id = p_id THEN
    PERFORM api.fail('TXVAL', 'supervisor_id', 'an employee cannot supervise themselves');
  END IF;
  UPDATE org.employees x
     SET display_name  = CASE WHEN p_body ? 'display_name' THEN v.display_name ELSE x.display_name END,
         email         = CASE WHEN p_body ? 'email' THEN v.email ELSE x.email END,
         department_id = CASE WHEN p_body ? 'department_id' THEN v.department_id ELSE x.department_id END,
         supervisor_id = CASE WHEN p_body ? 'supervisor_id' THEN v.supervisor_id ELSE x.supervisor_id END,
         roles         = CASE WHEN p_body ? 'roles' THEN v.roles ELSE x.roles END
   WHERE x.id = p_id
  RETURNING * INTO e;
  RETURN api.employee_json(e);
END
$$;

-- POST /v1/employees/{id}/deactivate|activate. Idempotent (no write when already so); an admin
-- cannot deactivate themselves (TXCON). Deactivation revokes the employee's refresh tokens.
CREATE FUNCTION api.employee_set_active(p_id uuid, p_active boolean) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE e org.employees;
BEGIN
  PERFORM api.require_role('admin');
  IF p_active IS NULL THEN
    PERFORM api.fail('TXVAL', 'active', 'is required');
  END IF;
  SELECT * INTO e FROM org.employees x WHERE x.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such employee' USING ERRCODE = 'P0002';
  END IF;
  IF NOT p_active AND p_id = tx.user_id() THEN
    RAISE EXCEPTION 'an administrator cannot deactivate themselves' USING ERRCODE = 'TXCON';
  END IF;
  IF e.active IS DISTINCT FROM p_active THEN
    UPDATE org.employees x SET active = p_active WHERE x.id = p_id RETURNING * INTO e;
  END IF;
  RETURN api.employee_json(e);
END
$$;

-- GET /v1/me: the caller, with the effective roles of this request (tx.roles()) and the roles the
-- employee holds.
CREATE FUNCTION api.me() RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_me uuid := api.require_user();
  v_out json;
BEGIN
  SELECT json_build_object(
           'id', e.id, 'username', e.username, 'display_name', e.display_name, 'email', e.email,
           'department', CASE WHEN d.id IS NULL THEN NULL
                              ELSE json_build_object('id', d.id, 'code', d.code, 'name', d.name)
                         END,
           'supervisor_id', e.supervisor_id,
           'roles', to_json(ARRAY(SELECT r FROM unnest(tx.roles()) r ORDER BY r COLLATE "C")),
           'employee_roles', to_json(e.roles), 'active', e.active, 'version', e.version)
    INTO v_out
    FROM org.employees e
    LEFT JOIN org.departments d ON d.id = e.department_id
   WHERE e.id = v_me;
  IF v_out IS NULL THEN
    RAISE EXCEPTION 'no such employee' USING ERRCODE = 'P0002';
  END IF;
  RETURN v_out;
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA api FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA org FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA api TO tianxing_app;
