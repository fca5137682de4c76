-- sql/code/org/030_regulations.sql: regulations (draft, published, acknowledged).
-- One current definition per object; `tianxingd migrate` re-applies this file when it changes
-- (sql/code/ORDER, docs/architecture.md).

-- 0004 regulations: the regulation text the service implements, in versions (G1-G3, S1), staff
-- acknowledgements (G2: the regulations apply to all staff) and the API functions of module G's
-- regulations routes. HR interprets the regulations (S1): only hr creates drafts and publishes.
-- Runs as tianxing_owner inside one transaction opened by `tianxingd migrate`.
--
-- A regulation is identified by `code` and numbered by `version` (1, 2, ...). At most one version
-- per code is published at a time; publishing a draft supersedes the published one. Published
-- and superseded versions are read-only. `row_version` is the optimistic-concurrency counter
-- (the API's "version" / ETag); the API calls the regulation's number "regulation_version".
CREATE OR REPLACE FUNCTION org.touch_row_version() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  NEW.row_version := OLD.row_version + 1;
  NEW.updated_at := now();
  NEW.created_at := OLD.created_at;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION org.touch_row_version() FROM PUBLIC;

-- Guard of publish.
CREATE OR REPLACE FUNCTION org.regulation_has_clauses(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE
  AS $$ SELECT EXISTS (SELECT FROM org.regulation_clauses c WHERE c.regulation_id = p_id) $$;
COMMENT ON FUNCTION org.regulation_has_clauses(uuid) IS
  'a regulation without clauses cannot be published';
REVOKE ALL ON FUNCTION org.regulation_has_clauses(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION org.regulation_has_clauses(uuid) TO tianxing_app;

-- Published and superseded versions are read-only. (Which status follows which is no longer
-- written here: fsm.transitions says it, zz_state_machine enforces it.)
CREATE OR REPLACE FUNCTION org.regulations_lifecycle() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF OLD.status <> 'draft'
     AND (NEW.code, NEW.version, NEW.title, NEW.effective_from, NEW.based_on, NEW.published_at,
          NEW.published_by, NEW.created_by)
         IS DISTINCT FROM
         (OLD.code, OLD.version, OLD.title, OLD.effective_from, OLD.based_on, OLD.published_at,
          OLD.published_by, OLD.created_by) THEN
    RAISE EXCEPTION 'regulation % version % is % and cannot change', OLD.code, OLD.version,
      OLD.status USING ERRCODE = 'TXCON';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION org.regulations_lifecycle() FROM PUBLIC;

-- Clauses of a published or superseded version never change.
CREATE OR REPLACE FUNCTION org.regulation_clauses_frozen() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF TG_OP <> 'INSERT' AND EXISTS (SELECT FROM org.regulations r
                                    WHERE r.id = OLD.regulation_id AND r.status <> 'draft') THEN
    RAISE EXCEPTION 'the clauses of a published regulation cannot change' USING ERRCODE = 'TXCON';
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  IF EXISTS (SELECT FROM org.regulations r WHERE r.id = NEW.regulation_id AND r.status <> 'draft')
  THEN
    RAISE EXCEPTION 'the clauses of a published regulation cannot change' USING ERRCODE = 'TXCON';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION org.regulation_clauses_frozen() FROM PUBLIC;

-- API: regulations ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION api.regulation_clause_json(c org.regulation_clauses) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object('clause_id', c.clause_id, 'module', c.module, 'title', c.title,
                           'text_zh', c.text_zh, 'text_en', c.text_en, 'position', c.position)
$$;
REVOKE ALL ON FUNCTION api.regulation_clause_json(org.regulation_clauses) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.regulation_clause_json(org.regulation_clauses) TO tianxing_app;

-- One regulation version; with its clauses when p_with_clauses, else with their count.
CREATE OR REPLACE FUNCTION api.regulation_json(r org.regulations, p_with_clauses boolean) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object(
           'id', r.id, 'code', r.code, 'regulation_version', r.version, 'title', r.title,
           'status', r.status, 'effective_from', r.effective_from, 'based_on', r.based_on,
           'published_at', api.ts(r.published_at), 'published_by', r.published_by,
           'superseded_at', api.ts(r.superseded_at), 'created_by', r.created_by,
           'created_at', api.ts(r.created_at), 'updated_at', api.ts(r.updated_at),
           'version', r.row_version,
           'clause_count', (SELECT count(*) FROM org.regulation_clauses c
                             WHERE c.regulation_id = r.id),
           'clauses', CASE WHEN p_with_clauses THEN
             (SELECT coalesce(json_agg(api.regulation_clause_json(c) ORDER BY c.position),
                              '[]'::json)
                FROM org.regulation_clauses c WHERE c.regulation_id = r.id) END)
$$;
REVOKE ALL ON FUNCTION api.regulation_json(org.regulations,boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.regulation_json(org.regulations,boolean) TO tianxing_app;

-- Ordered by code, newest version first. The cursor is "<code>:<regulation_version>" of the last
-- item of the previous page.
CREATE OR REPLACE FUNCTION api.regulation_list(p_limit int, p_cursor text) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_code text;
  v_version int;
  v_out json;
BEGIN
  PERFORM api.require_user();
  IF p_cursor IS NOT NULL THEN
    IF p_cursor !~ '^[a-z0-9][a-z0-9-]{1,63}:[0-9]{1,9}$' THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
    v_code := split_part(p_cursor, ':', 1);
    v_version := split_part(p_cursor, ':', 2)::int;
  END IF;
  WITH page AS (
    SELECT r, r.code, r.version,
           row_number() OVER (ORDER BY r.code, r.version DESC) AS rn
      FROM org.regulations r
     WHERE v_code IS NULL OR r.code > v_code OR (r.code = v_code AND r.version < v_version)
     ORDER BY r.code, r.version DESC
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(api.regulation_json(p.r, false) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN min(p.code || ':' || p.version) FILTER (WHERE p.rn = v_limit)
                          END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.regulation_list(integer,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.regulation_list(integer,text) TO tianxing_app;

-- The published version of a code (default 'business-management') with its clauses; NULL when
-- there is none.
CREATE OR REPLACE FUNCTION api.regulation_current(p_code text) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT api.regulation_json(r, true) FROM org.regulations r
   WHERE r.code = coalesce(p_code, 'business-management') AND r.status = 'published'
$$;
REVOKE ALL ON FUNCTION api.regulation_current(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.regulation_current(text) TO tianxing_app;

-- One version with its clauses; NULL when it does not exist or is not visible (drafts: hr, admin).
CREATE OR REPLACE FUNCTION api.regulation_get(p_id uuid) RETURNS json
  LANGUAGE sql STABLE
  AS $$ SELECT api.regulation_json(r, true) FROM org.regulations r WHERE r.id = p_id $$;
REVOKE ALL ON FUNCTION api.regulation_get(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.regulation_get(uuid) TO tianxing_app;

-- POST /v1/regulations (hr): a new draft version. Body: {code, title, clauses: [{clause_id,
-- module?, title?, text_zh, text_en?}]} or {based_on: <id>, title?}: a copy of that version's
-- clauses (code and title from it unless given; a given code must be the same).
CREATE OR REPLACE FUNCTION api.regulation_create(p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  v_me uuid;
  v_code text;
  v_title text;
  v_based_on uuid;
  v_src org.regulations;
  v_clauses jsonb;
  v_clause jsonb;
  v_i int := 0;
  v_cid text;
  v_module text;
  v_seen text[] := '{}';
  v_field text;
  v_msg text;
  r org.regulations;
BEGIN
  PERFORM api.require_role('hr');
  v_me := tx.user_id();
  PERFORM api.body_keys(p_body, ARRAY['code', 'title', 'clauses', 'based_on']);
  v_code := api.body_text(p_body, 'code', false, 64);
  IF v_code IS NOT NULL AND v_code !~ '^[a-z0-9][a-z0-9-]{1,63}$' THEN
    PERFORM api.fail('TXVAL', 'code', 'must be 2 to 64 lower-case letters, digits or -');
  END IF;
  v_title := api.body_text(p_body, 'title', false, 200);
  v_based_on := api.body_uuid(p_body, 'based_on', false);
  IF v_based_on IS NOT NULL THEN
    IF p_body ? 'clauses' THEN
      PERFORM api.fail('TXVAL', 'clauses', 'give either clauses or based_on');
    END IF;
    SELECT * INTO v_src FROM org.regulations x WHERE x.id = v_based_on;
    IF NOT FOUND THEN
      PERFORM api.fail('TXVAL', 'based_on', 'no such regulation');
    END IF;
    IF v_code IS NOT NULL AND v_code <> v_src.code THEN
      PERFORM api.fail('TXVAL', 'code', 'must be the code of the based_on regulation');
    END IF;
    v_code := v_src.code;
    v_title := coalesce(v_title, v_src.title);
  ELSE
    IF v_code IS NULL THEN
      PERFORM api.fail('TXVAL', 'code', 'is required');
    END IF;
    IF v_title IS NULL THEN
      PERFORM api.fail('TXVAL', 'title', 'is required');
    END IF;
    v_clauses := p_body -> 'clauses';
    IF v_clauses IS NULL OR jsonb_typeof(v_clauses) = 'null' THEN
      PERFORM api.fail('TXVAL', 'clauses', 'is required');
    END IF;
    IF jsonb_typeof(v_clauses) <> 'array' OR jsonb_array_length(v_clauses) = 0 THEN
      PERFORM api.fail('TXVAL', 'clauses', 'must be a non-empty array');
    END IF;
    IF jsonb_array_length(v_clauses) > 500 THEN
      PERFORM api.fail('TXVAL', 'clauses', 'at most 500 clauses');
    END IF;
  END IF;

  INSERT INTO org.regulations (code, version, title, status, based_on, created_by)
  VALUES (v_code,
          (SELECT coalesce(max(x.version), 0) + 1 FROM org.regulations x WHERE x.code = v_code),
          v_title, 'draft', v_based_on, v_me)
  RETURNING * INTO r;

  IF v_based_on IS NOT NULL THEN
    INSERT INTO org.regulation_clauses (regulation_id, clause_id, module, title, text_zh,
                                        text_en, position)
    SELECT r.id, c.clause_id, c.module, c.title, c.text_zh, c.text_en, c.position
      FROM org.regulation_clauses c WHERE c.regulation_id = v_based_on;
  ELSE
    FOR v_clause IN SELECT e FROM jsonb_array_elements(v_clauses) e LOOP
      v_i := v_i + 1;
      BEGIN
        -- errors name the clause: clauses[<index>].<field>
        IF jsonb_typeof(v_clause) <> 'object' THEN
          RAISE EXCEPTION 'must be an object' USING ERRCODE = 'TXVAL';
        END IF;
        PERFORM api.body_keys(v_clause,
                              ARRAY['clause_id', 'module', 'title', 'text_zh', 'text_en']);
        v_cid := api.body_text(v_clause, 'clause_id', true, 16);
        IF v_cid !~ '^[GCPQRS][0-9]{1,3}(\.[0-9]{1,3})?$' THEN
          PERFORM api.fail('TXVAL', 'clause_id', 'must look like G1 or C1.3');
        END IF;
        IF v_cid = ANY (v_seen) THEN
          PERFORM api.fail('TXVAL', 'clause_id', 'is repeated');
        END IF;
        v_seen := v_seen || v_cid;
        v_module := coalesce(api.body_text(v_clause, 'module', false, 1), left(v_cid, 1));
        IF v_module <> left(v_cid, 1) THEN
          PERFORM api.fail('TXVAL', 'module', 'must be the first letter of clause_id');
        END IF;
        INSERT INTO org.regulation_clauses (regulation_id, clause_id, module, title, text_zh,
                                            text_en, position)
        VALUES (r.id, v_cid, v_module,
                api.body_text(v_clause, 'title', false, 200),
                api.body_text(v_clause, 'text_zh', true, 10000),
                api.body_text(v_clause, 'text_en', false, 10000),
                v_i);
      EXCEPTION WHEN SQLSTATE 'TXVAL' THEN
        GET STACKED DIAGNOSTICS v_field = COLUMN_NAME, v_msg = MESSAGE_TEXT;
        IF v_field <> '' THEN
          v_msg := substr(v_msg, length(v_field) + 3);
        END IF;
        PERFORM api.fail('TXVAL', format('clauses[%s]', v_i - 1)
                                  || CASE WHEN v_field <> '' THEN '.' || v_field ELSE '' END,
                         v_msg);
      END;
    END LOOP;
  END IF;
  RETURN api.regulation_json(r, true);
END
$$;
REVOKE ALL ON FUNCTION api.regulation_create(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.regulation_create(jsonb) TO tianxing_app;

-- POST /v1/regulations/{id}/publish (hr, S1): the draft becomes the published version from
-- p_effective_from (default today); the version published before is superseded. TXTRN (409
-- invalid_transition) when it is not a draft or has no clauses (guard), checked before the date
-- so that a second publish answers 409 whatever the body; TXVAL when it would take effect in the
-- future or before the current version.
CREATE OR REPLACE FUNCTION api.regulation_publish(p_id uuid, p_effective_from date) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  r org.regulations;
  v_prev org.regulations;
  v_from date := coalesce(p_effective_from, current_date);
BEGIN
  PERFORM api.require_role('hr');
  SELECT * INTO r FROM org.regulations x WHERE x.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such regulation' USING ERRCODE = 'P0002';
  END IF;
  PERFORM fsm.check('regulation', r.id, 'publish');
  -- Publishing puts the version in force and supersedes the previous one at once, so it cannot
  -- take effect later: HR publishes on the day a version takes effect (or with an earlier date).
  IF v_from > current_date THEN
    PERFORM api.fail('TXVAL', 'effective_from', 'must not be in the future: publish the version on the day it takes effect');
  END IF;
  SELECT * INTO v_prev FROM org.regulations x
   WHERE x.code = r.code AND x.status = 'published' FOR UPDATE;
  IF FOUND THEN
    IF v_prev.effective_from > v_from THEN
      PERFORM api.fail('TXVAL', 'effective_from',
                       format('must not be before %s, when the current version took effect',
                              v_prev.effective_from));
    END IF;
    PERFORM fsm.move('regulation', v_prev.id, 'supersede',
                     format('version %s was published', r.version),
                     jsonb_build_object('superseded_at', now()));
  END IF;
  PERFORM fsm.move('regulation', r.id, 'publish', NULL,
                   jsonb_build_object('effective_from', v_from, 'published_at', now(),
                                      'published_by', tx.user_id()));
  SELECT * INTO r FROM org.regulations x WHERE x.id = p_id;
  RETURN api.regulation_json(r, true);
END
$$;
REVOKE ALL ON FUNCTION api.regulation_publish(uuid,date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.regulation_publish(uuid,date) TO tianxing_app;

-- GET /v1/regulations/{id}/transitions (whoever may read the version): its moves, oldest first.
CREATE OR REPLACE FUNCTION api.regulation_transitions(p_id uuid, p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  PERFORM api.require_user();
  IF NOT EXISTS (SELECT FROM org.regulations x WHERE x.id = p_id) THEN
    RAISE EXCEPTION 'no such regulation' USING ERRCODE = 'P0002';
  END IF;
  RETURN fsm.history('regulation', p_id, p_limit, p_cursor);
END
$$;
REVOKE ALL ON FUNCTION api.regulation_transitions(uuid, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.regulation_transitions(uuid, int, text) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.regulation_ack_json(a org.regulation_acknowledgements) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object('regulation_id', a.regulation_id, 'employee_id', a.employee_id,
                           'acknowledged_at', api.ts(a.acknowledged_at))
$$;
REVOKE ALL ON FUNCTION api.regulation_ack_json(org.regulation_acknowledgements) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.regulation_ack_json(org.regulation_acknowledgements) TO tianxing_app;

-- POST /v1/regulations/{id}/acknowledge (every employee, G2): the caller acknowledges a published
-- version. Idempotent: a second call returns the first acknowledgement ("created": false).
CREATE OR REPLACE FUNCTION api.regulation_acknowledge(p_id uuid) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  v_me uuid := api.require_user();
  r org.regulations;
  a org.regulation_acknowledgements;
  v_created boolean := false;
BEGIN
  SELECT * INTO r FROM org.regulations x WHERE x.id = p_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such regulation' USING ERRCODE = 'P0002';
  END IF;
  IF r.status <> 'published' THEN
    RAISE EXCEPTION 'only the published version can be acknowledged (this one is %)', r.status
      USING ERRCODE = 'TXCON';
  END IF;
  INSERT INTO org.regulation_acknowledgements (regulation_id, employee_id)
  VALUES (p_id, v_me)
  ON CONFLICT (regulation_id, employee_id) DO NOTHING
  RETURNING * INTO a;
  v_created := FOUND;
  IF NOT v_created THEN
    SELECT * INTO a FROM org.regulation_acknowledgements x
     WHERE x.regulation_id = p_id AND x.employee_id = v_me;
  END IF;
  RETURN (api.regulation_ack_json(a)::jsonb || jsonb_build_object('created', v_created))::json;
END
$$;
REVOKE ALL ON FUNCTION api.regulation_acknowledge(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.regulation_acknowledge(uuid) TO tianxing_app;

-- GET /v1/regulations/{id}/acknowledgements (hr, admin, auditor): who acknowledged, or with p_pending the
-- active employees who have not. Ordered by username; the cursor is the username of the last
-- item of the previous page.
CREATE OR REPLACE FUNCTION api.regulation_acknowledgements(p_id uuid, p_pending boolean, p_limit int,
                                                p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int;
  v_out json;
BEGIN
  PERFORM api.require_role('hr', 'admin', 'auditor');
  v_limit := api.page_limit(p_limit);
  IF NOT EXISTS (SELECT FROM org.regulations x WHERE x.id = p_id) THEN
    RAISE EXCEPTION 'no such regulation' USING ERRCODE = 'P0002';
  END IF;
  WITH cand AS (
    SELECT e.id, e.username, e.display_name, e.department_id, a.acknowledged_at
      FROM org.employees e
      LEFT JOIN org.regulation_acknowledgements a
        ON a.regulation_id = p_id AND a.employee_id = e.id
     WHERE CASE WHEN coalesce(p_pending, false) THEN e.active AND a.employee_id IS NULL
                ELSE a.employee_id IS NOT NULL END
       AND (p_cursor IS NULL OR e.username > p_cursor)
     ORDER BY e.username
     LIMIT v_limit + 1),
  page AS (SELECT cand.*, row_number() OVER (ORDER BY cand.username) AS rn FROM cand)
  SELECT json_build_object(
           'items', coalesce(json_agg(json_build_object(
                               'employee_id', p.id, 'username', p.username,
                               'display_name', p.display_name, 'department_id', p.department_id,
                               'acknowledged_at', api.ts(p.acknowledged_at)) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN min(p.username) FILTER (WHERE p.rn = v_limit) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.regulation_acknowledgements(uuid,boolean,integer,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.regulation_acknowledgements(uuid,boolean,integer,text) TO tianxing_app;

CREATE OR REPLACE TRIGGER regulations_touch BEFORE UPDATE ON org.regulations
  FOR EACH ROW EXECUTE FUNCTION org.touch_row_version();

CREATE OR REPLACE TRIGGER regulations_lifecycle BEFORE UPDATE ON org.regulations
  FOR EACH ROW EXECUTE FUNCTION org.regulations_lifecycle();

-- Which status follows which: the machine `regulation` (fsm.transitions, migration 0014).
CREATE OR REPLACE TRIGGER zz_state_machine BEFORE INSERT OR UPDATE ON org.regulations
  FOR EACH ROW EXECUTE FUNCTION fsm.enforce('regulation');

-- From here on, published clauses are frozen (the seed above was written before).
CREATE OR REPLACE TRIGGER regulation_clauses_frozen BEFORE INSERT OR UPDATE OR DELETE
  ON org.regulation_clauses FOR EACH ROW EXECUTE FUNCTION org.regulation_clauses_frozen();

-- Every employee reads published (and superseded) versions; hr and admin read drafts too.
DROP POLICY IF EXISTS regulations_read ON org.regulations;
CREATE POLICY regulations_read ON org.regulations FOR SELECT
  USING ((SELECT tx.user_id()) IS NOT NULL
         AND (status <> 'draft' OR (SELECT tx.has_role('hr')) OR (SELECT tx.has_role('admin'))));

-- Only hr writes (S1): drafts, created by themselves; publishing and superseding.
DROP POLICY IF EXISTS regulations_hr_insert ON org.regulations;
CREATE POLICY regulations_hr_insert ON org.regulations FOR INSERT
  WITH CHECK ((SELECT tx.has_role('hr')) AND status = 'draft'
              AND created_by = (SELECT tx.user_id()));

DROP POLICY IF EXISTS regulations_hr_update ON org.regulations;
CREATE POLICY regulations_hr_update ON org.regulations FOR UPDATE
  USING ((SELECT tx.has_role('hr'))) WITH CHECK ((SELECT tx.has_role('hr')));

-- Clauses are visible with their regulation (its policy applies inside the subquery).
DROP POLICY IF EXISTS regulation_clauses_read ON org.regulation_clauses;
CREATE POLICY regulation_clauses_read ON org.regulation_clauses FOR SELECT
  USING (EXISTS (SELECT FROM org.regulations r WHERE r.id = regulation_id));

DROP POLICY IF EXISTS regulation_clauses_hr_insert ON org.regulation_clauses;
CREATE POLICY regulation_clauses_hr_insert ON org.regulation_clauses FOR INSERT
  WITH CHECK ((SELECT tx.has_role('hr'))
              AND EXISTS (SELECT FROM org.regulations r
                           WHERE r.id = regulation_id AND r.status = 'draft'));

-- Each employee acknowledges for themselves, a published version only (G2); hr, admin and auditor
-- read all acknowledgements, everyone else their own.
DROP POLICY IF EXISTS regulation_acks_read ON org.regulation_acknowledgements;
CREATE POLICY regulation_acks_read ON org.regulation_acknowledgements FOR SELECT
  USING (employee_id = (SELECT tx.user_id())
         OR (SELECT tx.has_role('hr')) OR (SELECT tx.has_role('admin'))
         OR (SELECT tx.has_role('auditor')));

DROP POLICY IF EXISTS regulation_acks_insert_own ON org.regulation_acknowledgements;
CREATE POLICY regulation_acks_insert_own ON org.regulation_acknowledgements FOR INSERT
  WITH CHECK (employee_id = (SELECT tx.user_id())
              AND EXISTS (SELECT FROM org.regulations r
                           WHERE r.id = regulation_id AND r.status = 'published'));
