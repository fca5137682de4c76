-- sql/code/org/010_org.sql: departments and employees (G): API, triggers, policies.
-- One current definition per object; `tianxingd migrate` re-applies this file when it changes
-- (sql/code/ORDER, docs/architecture.md).

-- Optimistic concurrency: `version` counts updates (the ETag), updated_at follows; created_at
-- never changes.
CREATE OR REPLACE FUNCTION org.touch() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  NEW.version := OLD.version + 1;
  NEW.updated_at := now();
  NEW.created_at := OLD.created_at;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION org.touch() FROM PUBLIC;

-- deactivated_at follows `active`; a supervisor chain never loops; a privileged role is gained
-- only through an approved grant (org.role_grants, issue 10 item 9).
CREATE OR REPLACE FUNCTION org.employees_check() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
DECLARE
  v_role text;
BEGIN
  -- The runtime role's writes (every request) need the grant approved in this transaction by
  -- someone else (api.role_grant_decide). The owner's (migrations, the bootstrap of the first
  -- administrator, fixtures) are the operator's and are not requests.
  IF current_user = 'tianxing_app' THEN
    SELECT r INTO v_role
      FROM unnest(NEW.roles) r
     WHERE r = ANY (org.privileged_roles())
       AND (TG_OP = 'INSERT' OR NOT r = ANY (OLD.roles))
       AND NOT EXISTS (SELECT FROM org.role_grants g
                        WHERE g.employee_id = NEW.id AND g.role = r AND g.status = 'approved'
                          AND g.decided_at = now() AND g.decided_by = tx.user_id())
     LIMIT 1;
    IF v_role IS NOT NULL THEN
      RAISE EXCEPTION 'the role % is granted by a second administrator''s approval', v_role
        USING ERRCODE = '42501';
    END IF;
  END IF;
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
REVOKE ALL ON FUNCTION org.employees_check() FROM PUBLIC;

-- API: departments ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION api.department_json(d org.departments) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object('id', d.id, 'code', d.code, 'name', d.name, 'kind', d.kind,
                           'version', d.version, 'created_at', api.ts(d.created_at),
                           'updated_at', api.ts(d.updated_at))
$$;
REVOKE ALL ON FUNCTION api.department_json(org.departments) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.department_json(org.departments) TO tianxing_app;

-- Ordered by code; the cursor is the code of the last item of the previous page.
CREATE OR REPLACE FUNCTION api.department_list(p_limit int, p_cursor text) RETURNS json
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
REVOKE ALL ON FUNCTION api.department_list(integer,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.department_list(integer,text) TO tianxing_app;

-- NULL when the department does not exist or is not visible.
CREATE OR REPLACE FUNCTION api.department_get(p_id uuid) RETURNS json
  LANGUAGE sql STABLE
  AS $$ SELECT api.department_json(d) FROM org.departments d WHERE d.id = p_id $$;
REVOKE ALL ON FUNCTION api.department_get(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.department_get(uuid) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.department_validate(p_body jsonb, p_create boolean)
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
REVOKE ALL ON FUNCTION api.department_validate(jsonb,boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.department_validate(jsonb,boolean) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.department_create(p_body jsonb) RETURNS json
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
REVOKE ALL ON FUNCTION api.department_create(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.department_create(jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.department_update(p_id uuid, p_expected_version int, p_body jsonb)
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
REVOKE ALL ON FUNCTION api.department_update(uuid,integer,jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.department_update(uuid,integer,jsonb) TO tianxing_app;

-- The roles whose grant needs a second person (issue 10 item 9, docs/identity.md): each reads
-- or changes what others cannot (all personnel data, the rules, the audit trail, everything).
CREATE OR REPLACE FUNCTION org.privileged_roles() RETURNS text[]
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT ARRAY['admin', 'hr', 'risk_officer', 'auditor'] $$;
REVOKE ALL ON FUNCTION org.privileged_roles() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION org.privileged_roles() TO tianxing_app;

-- API: employees -----------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION api.employee_json(e org.employees) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object('id', e.id, 'username', e.username, 'display_name', e.display_name,
                           'email', e.email, 'department_id', e.department_id,
                           'supervisor_id', e.supervisor_id, 'roles', to_json(e.roles),
                           'active', e.active, 'deactivated_at', api.ts(e.deactivated_at),
                           'version', e.version, 'created_at', api.ts(e.created_at),
                           'updated_at', api.ts(e.updated_at))
$$;
REVOKE ALL ON FUNCTION api.employee_json(org.employees) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.employee_json(org.employees) TO tianxing_app;

-- The answer of a create or update: the employee and the privileged roles proposed for them and
-- not decided yet (each waits for another administrator: /v1/role-grants).
CREATE OR REPLACE FUNCTION api.employee_with_grants_json(e org.employees) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT (api.employee_json(e)::jsonb
          || jsonb_build_object('pending_grants',
               (SELECT coalesce(jsonb_agg(api.role_grant_json(g)::jsonb ORDER BY g.role), '[]')
                  FROM org.role_grants g
                 WHERE g.employee_id = e.id AND g.status = 'proposed')))::json
$$;
REVOKE ALL ON FUNCTION api.employee_with_grants_json(org.employees) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.employee_with_grants_json(org.employees) TO tianxing_app;

-- Proposes each privileged role of p_roles that the employee does not hold and has no open
-- proposal for; returns p_roles without those roles (what the employee holds now).
CREATE OR REPLACE FUNCTION org.propose_privileged(p_employee_id uuid, p_held text[], p_roles text[])
  RETURNS text[]
  LANGUAGE plpgsql
  AS $$
BEGIN
  INSERT INTO org.role_grants (employee_id, role, proposed_by)
  SELECT p_employee_id, r, tx.user_id()
    FROM (SELECT DISTINCT r FROM unnest(p_roles) r) x
   WHERE r = ANY (org.privileged_roles()) AND NOT r = ANY (p_held)
     AND NOT EXISTS (SELECT FROM org.role_grants g
                      WHERE g.employee_id = p_employee_id AND g.role = x.r
                        AND g.status = 'proposed');
  RETURN ARRAY(SELECT DISTINCT r FROM unnest(p_roles) r
                WHERE NOT (r = ANY (org.privileged_roles()) AND NOT r = ANY (p_held))
                ORDER BY r);
END
$$;
REVOKE ALL ON FUNCTION org.propose_privileged(uuid,text[],text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION org.propose_privileged(uuid,text[],text[]) TO tianxing_app;

-- Ordered by username; the cursor is the username of the last item of the previous page.
CREATE OR REPLACE FUNCTION api.employee_list(p_limit int, p_cursor text, p_department_id uuid,
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
REVOKE ALL ON FUNCTION api.employee_list(integer,text,uuid,boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.employee_list(integer,text,uuid,boolean) TO tianxing_app;

-- NULL when the employee does not exist or is not visible.
CREATE OR REPLACE FUNCTION api.employee_get(p_id uuid) RETURNS json
  LANGUAGE sql STABLE
  AS $$ SELECT api.employee_json(e) FROM org.employees e WHERE e.id = p_id $$;
REVOKE ALL ON FUNCTION api.employee_get(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.employee_get(uuid) TO tianxing_app;

-- Reads and checks the fields of an employee body (absent fields come back NULL: callers look at
-- `p_body ? field` to tell absent from null).
CREATE OR REPLACE FUNCTION api.employee_validate(p_body jsonb, p_create boolean)
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
    -- A UUID-shaped name would stand for another employee's id in a token's sub (tx.begin_request;
    -- the CHECK employees_username_not_uuid of migration 0015 is the last line).
    IF replace(username, '-', '') ~ '^[0-9a-f]{32}$' THEN
      PERFORM api.fail('TXVAL', 'username', 'must not have the form of an id (UUID)');
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
REVOKE ALL ON FUNCTION api.employee_validate(jsonb,boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.employee_validate(jsonb,boolean) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.employee_create(p_body jsonb) RETURNS json
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
  -- Privileged roles are proposals until another administrator approves them (four eyes).
  INSERT INTO org.employees (username, display_name, email, department_id, supervisor_id, roles)
  VALUES (v.username, v.display_name, v.email, v.department_id, v.supervisor_id,
          ARRAY(SELECT DISTINCT r FROM unnest(v.roles) r
                 WHERE NOT r = ANY (org.privileged_roles()) ORDER BY r))
  RETURNING * INTO e;
  PERFORM org.propose_privileged(e.id, e.roles, v.roles);
  RETURN api.employee_with_grants_json(e);
END
$$;
REVOKE ALL ON FUNCTION api.employee_create(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.employee_create(jsonb) TO tianxing_app;

-- PATCH: only the fields present change; null clears email, department_id, supervisor_id. A
-- privileged role in `roles` that the employee does not hold is proposed, not granted.
CREATE OR REPLACE FUNCTION api.employee_update(p_id uuid, p_expected_version int, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  v_roles text[];
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
  -- Roles removed or unprivileged take effect now; privileged ones become proposals.
  v_roles := CASE WHEN p_body ? 'roles' THEN org.propose_privileged(p_id, e.roles, v.roles)
                  ELSE e.roles END;
  UPDATE org.employees x
     SET display_name  = CASE WHEN p_body ? 'display_name' THEN v.display_name ELSE x.display_name END,
         email         = CASE WHEN p_body ? 'email' THEN v.email ELSE x.email END,
         department_id = CASE WHEN p_body ? 'department_id' THEN v.department_id ELSE x.department_id END,
         supervisor_id = CASE WHEN p_body ? 'supervisor_id' THEN v.supervisor_id ELSE x.supervisor_id END,
         roles         = v_roles
   WHERE x.id = p_id
  RETURNING * INTO e;
  RETURN api.employee_with_grants_json(e);
END
$$;
REVOKE ALL ON FUNCTION api.employee_update(uuid,integer,jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.employee_update(uuid,integer,jsonb) TO tianxing_app;

-- POST /v1/employees/{id}/deactivate|activate. Idempotent (no write when already so); an admin
-- cannot deactivate themselves (TXCON). Deactivation revokes the employee's refresh tokens.
CREATE OR REPLACE FUNCTION api.employee_set_active(p_id uuid, p_active boolean) RETURNS json
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
REVOKE ALL ON FUNCTION api.employee_set_active(uuid,boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.employee_set_active(uuid,boolean) TO tianxing_app;

-- API: role grants (issue 10 item 9) -----------------------------------------------------------
CREATE OR REPLACE FUNCTION api.role_grant_json(g org.role_grants) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object('id', g.id, 'employee_id', g.employee_id, 'role', g.role,
                           'status', g.status, 'proposed_by', g.proposed_by,
                           'proposed_at', api.ts(g.proposed_at), 'decided_by', g.decided_by,
                           'decided_at', api.ts(g.decided_at),
                           'decision_reason', g.decision_reason, 'version', g.version)
$$;
REVOKE ALL ON FUNCTION api.role_grant_json(org.role_grants) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.role_grant_json(org.role_grants) TO tianxing_app;

-- GET /v1/role-grants?status=&employee_id=: newest first, one page of at most 200 (admin and
-- auditor read all; others their own, by row-level security).
-- Newest first, keyset pages: the cursor is the id of the previous page's last grant.
-- (The first version of this function, without paging, stopped silently at 200.)
DROP FUNCTION IF EXISTS api.role_grant_list(text, uuid);
CREATE OR REPLACE FUNCTION api.role_grant_list(p_status text, p_employee_id uuid,
                                               p_limit int DEFAULT NULL, p_cursor text DEFAULT NULL)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int;
  v_after org.role_grants;
  v_out json;
BEGIN
  PERFORM api.require_user();
  v_limit := api.page_limit(p_limit);
  IF p_status IS NOT NULL AND p_status NOT IN ('proposed', 'approved', 'rejected') THEN
    PERFORM api.fail('TXVAL', 'status', 'must be proposed, approved or rejected');
  END IF;
  IF p_cursor IS NOT NULL THEN
    IF p_cursor !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
    SELECT * INTO v_after FROM org.role_grants g WHERE g.id = p_cursor::uuid;
    IF NOT FOUND THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
  END IF;
  WITH page AS (
    SELECT g, g.id, row_number() OVER (ORDER BY g.proposed_at DESC, g.id DESC) AS rn
      FROM org.role_grants g
     WHERE (p_status IS NULL OR g.status = p_status)
       AND (p_employee_id IS NULL OR g.employee_id = p_employee_id)
       AND (v_after.id IS NULL OR (g.proposed_at, g.id) < (v_after.proposed_at, v_after.id))
     ORDER BY g.proposed_at DESC, g.id DESC
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(api.role_grant_json(p.g) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN (array_agg(p.id::text) FILTER (WHERE p.rn = v_limit))[1] END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.role_grant_list(text,uuid,int,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.role_grant_list(text,uuid,int,text) TO tianxing_app;

-- POST /v1/role-grants/{id}/approve|reject (admin): never by the proposer nor by the employee
-- concerned (42501: four eyes); TXCON when decided already, or when approving for a deactivated
-- employee; rejecting needs a reason. An approval adds the role to the employee in the same
-- transaction (org.employees_check() lets it through because of this approval only).
CREATE OR REPLACE FUNCTION api.role_grant_decide(p_id uuid, p_approve boolean, p_reason text) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  v_me uuid;
  g org.role_grants;
  e org.employees;
BEGIN
  PERFORM api.require_role('admin');
  v_me := tx.user_id();
  IF p_reason IS NOT NULL AND (btrim(p_reason) = '' OR length(p_reason) > 2000) THEN
    PERFORM api.fail('TXVAL', 'reason', 'must be 1 to 2000 characters');
  END IF;
  IF NOT p_approve AND p_reason IS NULL THEN
    PERFORM api.fail('TXVAL', 'reason', 'is required when rejecting');
  END IF;
  -- Read first without a lock: FOR UPDATE sees only the rows the update policy lets this caller
  -- decide, and the refusals below must say why.
  SELECT * INTO g FROM org.role_grants x WHERE x.id = p_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such role grant' USING ERRCODE = 'P0002';
  END IF;
  IF g.proposed_by = v_me OR g.employee_id = v_me THEN
    RAISE EXCEPTION 'a role grant is decided by an administrator other than its proposer and its grantee'
      USING ERRCODE = '42501';
  END IF;
  SELECT * INTO g FROM org.role_grants x WHERE x.id = p_id AND x.status = 'proposed' FOR UPDATE;
  IF NOT FOUND THEN
    SELECT * INTO g FROM org.role_grants x WHERE x.id = p_id;
    RAISE EXCEPTION 'the role grant is already %', g.status USING ERRCODE = 'TXCON';
  END IF;
  SELECT * INTO e FROM org.employees x WHERE x.id = g.employee_id FOR UPDATE;
  IF p_approve AND NOT e.active THEN
    RAISE EXCEPTION 'the employee is deactivated' USING ERRCODE = 'TXCON';
  END IF;
  UPDATE org.role_grants x
     SET status = CASE WHEN p_approve THEN 'approved' ELSE 'rejected' END,
         decided_by = v_me, decided_at = now(), decision_reason = p_reason
   WHERE x.id = p_id
  RETURNING * INTO g;
  IF p_approve AND NOT g.role = ANY (e.roles) THEN
    UPDATE org.employees x
       SET roles = ARRAY(SELECT r FROM unnest(x.roles || g.role) r ORDER BY r)
     WHERE x.id = e.id;
  END IF;
  RETURN api.role_grant_json(g);
END
$$;
REVOKE ALL ON FUNCTION api.role_grant_decide(uuid,boolean,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.role_grant_decide(uuid,boolean,text) TO tianxing_app;

-- GET /v1/me: the caller, with the effective roles of this request (tx.roles()) and the roles the
-- employee holds. must_change_password: the password was set by somebody else and must be
-- changed (POST /v1/me/password) before anything else is allowed (tx.begin_request); the roles
-- are then the token's, so that the answer of a sign-in still mints a usable token.
CREATE OR REPLACE FUNCTION api.me() RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_pending uuid := tx.claim('password_change_for')::uuid;
  v_me uuid := coalesce(v_pending, api.require_user());
  v_roles text[] := CASE WHEN v_pending IS NULL THEN tx.roles()
                         ELSE string_to_array(coalesce(tx.claim('password_change_roles'), ''), ',')
                    END;
  v_out json;
BEGIN
  SELECT json_build_object(
           'id', e.id, 'username', e.username, 'display_name', e.display_name, 'email', e.email,
           'department', CASE WHEN d.id IS NULL THEN NULL
                              ELSE json_build_object('id', d.id, 'code', d.code, 'name', d.name)
                         END,
           'supervisor_id', e.supervisor_id,
           'roles', to_json(ARRAY(SELECT r FROM unnest(v_roles) r ORDER BY r COLLATE "C")),
           'employee_roles', to_json(e.roles), 'active', e.active, 'version', e.version,
           'must_change_password', v_pending IS NOT NULL)
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
REVOKE ALL ON FUNCTION api.me() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.me() TO tianxing_app;

CREATE OR REPLACE TRIGGER departments_touch BEFORE UPDATE ON org.departments
  FOR EACH ROW EXECUTE FUNCTION org.touch();

CREATE OR REPLACE TRIGGER employees_touch BEFORE UPDATE ON org.employees
  FOR EACH ROW EXECUTE FUNCTION org.touch();

CREATE OR REPLACE TRIGGER employees_check BEFORE INSERT OR UPDATE ON org.employees
  FOR EACH ROW EXECUTE FUNCTION org.employees_check();

-- Departments: every authenticated employee reads them all; admin writes.
DROP POLICY IF EXISTS departments_read ON org.departments;
CREATE POLICY departments_read ON org.departments FOR SELECT
  USING ((SELECT tx.user_id()) IS NOT NULL);

DROP POLICY IF EXISTS departments_admin_insert ON org.departments;
CREATE POLICY departments_admin_insert ON org.departments FOR INSERT
  WITH CHECK ((SELECT tx.has_role('admin')));

DROP POLICY IF EXISTS departments_admin_update ON org.departments;
CREATE POLICY departments_admin_update ON org.departments FOR UPDATE
  USING ((SELECT tx.has_role('admin'))) WITH CHECK ((SELECT tx.has_role('admin')));

-- Employees: admin, hr and auditor read all; a supervisor reads their department and their
-- direct reports; everyone reads themselves, also while their password must change (api.me
-- says so; tx.begin_request). Admin writes.
DROP POLICY IF EXISTS employees_read ON org.employees;
CREATE POLICY employees_read ON org.employees FOR SELECT
  USING (id = (SELECT tx.user_id())
         OR id = (SELECT tx.claim('password_change_for')::uuid)
         OR (SELECT tx.has_role('admin'))
         OR (SELECT tx.has_role('hr'))
         OR (SELECT tx.has_role('auditor'))
         OR ((SELECT tx.has_role('supervisor'))
             AND (department_id = (SELECT tx.department_id())
                  OR supervisor_id = (SELECT tx.user_id()))));

DROP POLICY IF EXISTS employees_admin_insert ON org.employees;
CREATE POLICY employees_admin_insert ON org.employees FOR INSERT
  WITH CHECK ((SELECT tx.has_role('admin')));

DROP POLICY IF EXISTS employees_admin_update ON org.employees;
CREATE POLICY employees_admin_update ON org.employees FOR UPDATE
  USING ((SELECT tx.has_role('admin'))) WITH CHECK ((SELECT tx.has_role('admin')));

-- Role grants: admin and auditor read all, an employee their own; admin proposes as themselves;
-- another admin, not the grantee, decides as themselves.
CREATE OR REPLACE TRIGGER role_grants_touch BEFORE UPDATE ON org.role_grants
  FOR EACH ROW EXECUTE FUNCTION org.touch();

DROP POLICY IF EXISTS role_grants_read ON org.role_grants;
CREATE POLICY role_grants_read ON org.role_grants FOR SELECT
  USING ((SELECT tx.has_role('admin')) OR (SELECT tx.has_role('auditor'))
         OR employee_id = (SELECT tx.user_id()));

DROP POLICY IF EXISTS role_grants_admin_propose ON org.role_grants;
CREATE POLICY role_grants_admin_propose ON org.role_grants FOR INSERT
  WITH CHECK ((SELECT tx.has_role('admin')) AND status = 'proposed'
              AND proposed_by = (SELECT tx.user_id()));

DROP POLICY IF EXISTS role_grants_admin_decide ON org.role_grants;
CREATE POLICY role_grants_admin_decide ON org.role_grants FOR UPDATE
  USING ((SELECT tx.has_role('admin')) AND status = 'proposed'
         AND proposed_by IS DISTINCT FROM (SELECT tx.user_id())
         AND employee_id IS DISTINCT FROM (SELECT tx.user_id()))
  WITH CHECK ((SELECT tx.has_role('admin')) AND status IN ('approved', 'rejected')
              AND decided_by = (SELECT tx.user_id()));

-- tx.begin_request() and auth.login_lookup() find the employee before any claim exists.
DROP POLICY IF EXISTS employees_definer_read ON org.employees;
CREATE POLICY employees_definer_read ON org.employees FOR SELECT TO tianxing_owner USING (true);

CREATE OR REPLACE TRIGGER policy_parameters_touch BEFORE UPDATE ON org.policy_parameters
  FOR EACH ROW EXECUTE FUNCTION org.touch();

CREATE OR REPLACE TRIGGER policy_values_touch BEFORE UPDATE ON org.policy_values
  FOR EACH ROW EXECUTE FUNCTION org.touch();

CREATE OR REPLACE TRIGGER customers_touch BEFORE UPDATE ON cust.customers
  FOR EACH ROW EXECUTE FUNCTION org.touch();

CREATE OR REPLACE TRIGGER contracts_touch BEFORE UPDATE ON cust.contracts
  FOR EACH ROW EXECUTE FUNCTION org.touch();
