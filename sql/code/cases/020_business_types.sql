-- sql/code/cases/020_business_types.sql: the business-type catalogue of module P (P1.2, P2.2,
-- P3.2, P4.2): API functions, the rules that hold for every writer, the touch trigger.
-- One current definition per object; `tianxingd migrate` re-applies this file when it changes
-- (sql/code/ORDER, docs/architecture.md).
--
-- A business type (cases.business_types) says whether the business is within the company's scope
-- (P1.2) and carries its standard in numbered versions (cases.business_type_versions): the ordered
-- key milestones with their standard durations in working days, each required or not (P2.2), the
-- review checklist, which always holds accuracy, compliance and completeness (P3.2), and the
-- documents the archive needs with the retention period (P4.2). A case names the version it
-- started under (cases.cases.type_version_id) and is judged by it to the end, so a version never
-- changes once it exists: a change to the standard is a new version, which becomes the type's
-- current one. Only the type's metadata (name, description, in_scope, active) and current_version
-- (forward only) are ever updated; nothing of the catalogue is ever deleted.
--
-- Writes go through the SECURITY DEFINER functions below (admin and supervisors maintain the
-- catalogue); every signed-in employee reads it (policies in 000_access.sql). The triggers at the
-- end bind every writer, the owner's functions included.

-- Body helpers of this file ----------------------------------------------------------------

-- An integer member of an object: absent or null gives NULL (TXVAL when required); a JSON number
-- without a fraction between p_min and p_max.
CREATE OR REPLACE FUNCTION cases.catalogue_int(p_obj jsonb, p_field text, p_required boolean,
                                               p_min int, p_max int)
  RETURNS int
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v jsonb := p_obj -> p_field;
  n numeric;
BEGIN
  IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
    IF p_required THEN
      PERFORM api.fail('TXVAL', p_field, 'is required');
    END IF;
    RETURN NULL;
  END IF;
  IF jsonb_typeof(v) <> 'number' THEN
    PERFORM api.fail('TXVAL', p_field, 'must be an integer');
  END IF;
  n := (v #>> '{}')::numeric;
  IF n <> trunc(n) THEN
    PERFORM api.fail('TXVAL', p_field, 'must be an integer');
  END IF;
  IF n < p_min OR n > p_max THEN
    PERFORM api.fail('TXVAL', p_field, format('must be between %s and %s', p_min, p_max));
  END IF;
  RETURN n::int;
END
$$;
REVOKE ALL ON FUNCTION cases.catalogue_int(jsonb,text,boolean,integer,integer) FROM PUBLIC;

-- A boolean member: absent or null gives p_default.
CREATE OR REPLACE FUNCTION cases.catalogue_bool(p_obj jsonb, p_field text, p_default boolean)
  RETURNS boolean
  LANGUAGE sql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT coalesce(api.body_bool(p_obj, p_field, false), p_default) $$;
REVOKE ALL ON FUNCTION cases.catalogue_bool(jsonb,text,boolean) FROM PUBLIC;

-- The criteria every review checklist holds (P3.2: 審核內容包括業務操作的準確性、合規性、完整性).
CREATE OR REPLACE FUNCTION cases.mandatory_criteria() RETURNS text[]
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT ARRAY['accuracy', 'compliance', 'completeness'] $$;
COMMENT ON FUNCTION cases.mandatory_criteria() IS
  'P3.2: the review checklist of every business-type version holds accuracy (準確性), compliance (合規性) and completeness (完整性)';
REVOKE ALL ON FUNCTION cases.mandatory_criteria() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.mandatory_criteria() TO tianxing_app;

-- One list of the standard (p_list: milestones, checklist or documents), checked and normalized to
-- [{seq, code, name[, required, standard_days]}]. Errors name the item: milestones[2].standard_days.
-- seq is the position in the standard: given, or the item's place in the array (1-based); codes
-- and seqs are unique within the list; at most 100 items (the tables' seq is 1..100).
CREATE OR REPLACE FUNCTION cases.catalogue_items(p_body jsonb, p_list text) RETURNS jsonb
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_arr jsonb := p_body -> p_list;
  v_item jsonb;
  v_i int := 0;
  v_out jsonb := '[]';
  v_norm jsonb;
  v_code text;
  v_seq int;
  v_codes text[] := '{}';
  v_seqs int[] := '{}';
  v_field text;
  v_msg text;
  v_milestone boolean := p_list = 'milestones';
BEGIN
  IF v_arr IS NULL OR jsonb_typeof(v_arr) = 'null' THEN
    IF p_list = 'documents' THEN
      RETURN '[]';
    END IF;
    PERFORM api.fail('TXVAL', p_list, 'is required');
  END IF;
  IF jsonb_typeof(v_arr) <> 'array' THEN
    PERFORM api.fail('TXVAL', p_list, 'must be an array');
  END IF;
  IF v_milestone AND jsonb_array_length(v_arr) = 0 THEN
    -- P2.2: the operating standard is its key milestones
    PERFORM api.fail('TXVAL', p_list, 'must hold at least one key milestone');
  END IF;
  IF jsonb_array_length(v_arr) > 100 THEN
    PERFORM api.fail('TXVAL', p_list, 'at most 100 items');
  END IF;
  FOR v_item IN SELECT e FROM jsonb_array_elements(v_arr) e LOOP
    v_i := v_i + 1;
    BEGIN
      IF jsonb_typeof(v_item) <> 'object' THEN
        RAISE EXCEPTION 'must be an object' USING ERRCODE = 'TXVAL';
      END IF;
      IF v_milestone THEN
        PERFORM api.body_keys(v_item, ARRAY['seq', 'code', 'name', 'required', 'standard_days']);
      ELSE
        PERFORM api.body_keys(v_item, ARRAY['seq', 'code', 'name']);
      END IF;
      v_code := api.body_text(v_item, 'code', true, 32);
      IF v_code !~ '^[a-z][a-z0-9_]{0,31}$' THEN
        PERFORM api.fail('TXVAL', 'code',
                         'must be a lower-case letter, then up to 31 lower-case letters, digits or _');
      END IF;
      IF v_code = ANY (v_codes) THEN
        PERFORM api.fail('TXVAL', 'code', 'is repeated');
      END IF;
      v_seq := coalesce(cases.catalogue_int(v_item, 'seq', false, 1, 100), v_i);
      IF v_seq = ANY (v_seqs) THEN
        PERFORM api.fail('TXVAL', 'seq', format('%s is repeated: the order must be unambiguous', v_seq));
      END IF;
      v_codes := v_codes || v_code;
      v_seqs := v_seqs || v_seq;
      v_norm := jsonb_build_object('seq', v_seq, 'code', v_code,
                                   'name', api.body_text(v_item, 'name', true, 200));
      IF v_milestone THEN
        v_norm := v_norm || jsonb_build_object(
                    'required', cases.catalogue_bool(v_item, 'required', true),
                    -- P2.2: the standard duration, in working days
                    'standard_days', cases.catalogue_int(v_item, 'standard_days', true, 1, 365));
      END IF;
      v_out := v_out || jsonb_build_array(v_norm);
    EXCEPTION WHEN SQLSTATE 'TXVAL' THEN
      GET STACKED DIAGNOSTICS v_field = COLUMN_NAME, v_msg = MESSAGE_TEXT;
      IF v_field <> '' THEN
        v_msg := substr(v_msg, length(v_field) + 3);
      END IF;
      PERFORM api.fail('TXVAL', format('%s[%s]', p_list, v_i - 1)
                                || CASE WHEN v_field <> '' THEN '.' || v_field ELSE '' END,
                       v_msg);
    END;
  END LOOP;
  IF v_milestone AND NOT EXISTS (SELECT FROM jsonb_array_elements(v_out) e
                                  WHERE (e ->> 'required')::boolean) THEN
    PERFORM api.fail('TXVAL', p_list, 'at least one key milestone must be required');
  END IF;
  IF p_list = 'checklist' AND NOT cases.mandatory_criteria() <@ v_codes THEN
    -- P3.2
    PERFORM api.fail('TXVAL', p_list,
                     format('must hold the criteria accuracy (準確性), compliance (合規性) and completeness (完整性); missing: %s',
                            array_to_string(ARRAY(SELECT c FROM unnest(cases.mandatory_criteria()) c
                                                   WHERE NOT c = ANY (v_codes)), ', ')));
  END IF;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION cases.catalogue_items(jsonb,text) FROM PUBLIC;

-- The standard of a new version, checked: {note, retention_years, milestones, checklist,
-- documents}, each list normalized by cases.catalogue_items. Nothing is written.
CREATE OR REPLACE FUNCTION cases.catalogue_standard(p_body jsonb, p_note_required boolean)
  RETURNS jsonb
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  RETURN jsonb_build_object(
    'note', api.body_text(p_body, 'note', p_note_required, 2000),
    -- P4.2: how long the archive of a case of this version is kept
    'retention_years', coalesce(cases.catalogue_int(p_body, 'retention_years', false, 1, 100), 10),
    'milestones', cases.catalogue_items(p_body, 'milestones'),
    'checklist', cases.catalogue_items(p_body, 'checklist'),
    'documents', cases.catalogue_items(p_body, 'documents'));
END
$$;
REVOKE ALL ON FUNCTION cases.catalogue_standard(jsonb,boolean) FROM PUBLIC;

-- Writes version (current_version + 1 of the type, 1 for a new one) with the standard p_std
-- (from cases.catalogue_standard) and makes it the type's current version. Called by the SECURITY
-- DEFINER api functions only, which hold the type's row lock.
CREATE OR REPLACE FUNCTION cases.catalogue_write_version(p_type uuid, p_version int, p_std jsonb)
  RETURNS cases.business_type_versions
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v cases.business_type_versions;
BEGIN
  -- The checks at commit (triggers below) see the whole standard only once it is written: keep
  -- them deferred even when the caller made constraints immediate (SET CONSTRAINTS ALL IMMEDIATE).
  SET CONSTRAINTS cases.business_types_have_standard, cases.business_type_versions_complete DEFERRED;
  INSERT INTO cases.business_type_versions (business_type_id, version, note, retention_years,
                                            created_by)
  VALUES (p_type, p_version, p_std ->> 'note', (p_std ->> 'retention_years')::int, tx.user_id())
  RETURNING * INTO v;
  INSERT INTO cases.milestones (type_version_id, seq, code, name, required, standard_days)
  SELECT v.id, (e ->> 'seq')::int, e ->> 'code', e ->> 'name', (e ->> 'required')::boolean,
         (e ->> 'standard_days')::int
    FROM jsonb_array_elements(p_std -> 'milestones') e;
  INSERT INTO cases.checklist_criteria (type_version_id, seq, code, name)
  SELECT v.id, (e ->> 'seq')::int, e ->> 'code', e ->> 'name'
    FROM jsonb_array_elements(p_std -> 'checklist') e;
  INSERT INTO cases.required_documents (type_version_id, seq, code, name)
  SELECT v.id, (e ->> 'seq')::int, e ->> 'code', e ->> 'name'
    FROM jsonb_array_elements(p_std -> 'documents') e;
  IF p_version > 1 THEN
    UPDATE cases.business_types t SET current_version = p_version WHERE t.id = p_type;
  END IF;
  RETURN v;
END
$$;
REVOKE ALL ON FUNCTION cases.catalogue_write_version(uuid,integer,jsonb) FROM PUBLIC;

-- JSON ---------------------------------------------------------------------------------------

-- One version of a type's standard; with its milestones, checklist and documents when p_full,
-- else with their counts.
CREATE OR REPLACE FUNCTION api.business_type_version_json(v cases.business_type_versions,
                                                          p_full boolean)
  RETURNS json
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT (jsonb_build_object(
            'id', v.id, 'business_type_id', v.business_type_id, 'business_type_code', t.code,
            'version', v.version, 'current', t.current_version = v.version, 'note', v.note,
            'retention_years', v.retention_years, 'created_by', v.created_by,
            'created_at', api.ts(v.created_at),
            'milestone_count', (SELECT count(*) FROM cases.milestones m
                                 WHERE m.type_version_id = v.id),
            'required_milestone_count', (SELECT count(*) FROM cases.milestones m
                                          WHERE m.type_version_id = v.id AND m.required),
            'required_standard_days', (SELECT coalesce(sum(m.standard_days), 0)
                                      FROM cases.milestones m
                                     WHERE m.type_version_id = v.id AND m.required))
          || CASE WHEN p_full THEN jsonb_build_object(
            'milestones', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                     'id', m.id, 'seq', m.seq, 'code', m.code, 'name', m.name,
                                     'required', m.required, 'standard_days', m.standard_days)
                                     ORDER BY m.seq), '[]')
                             FROM cases.milestones m WHERE m.type_version_id = v.id),
            'checklist', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                    'id', c.id, 'seq', c.seq, 'code', c.code, 'name', c.name)
                                    ORDER BY c.seq), '[]')
                            FROM cases.checklist_criteria c WHERE c.type_version_id = v.id),
            'documents', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                    'id', d.id, 'seq', d.seq, 'code', d.code, 'name', d.name)
                                    ORDER BY d.seq), '[]')
                            FROM cases.required_documents d WHERE d.type_version_id = v.id))
          ELSE '{}'::jsonb END)::json
    FROM cases.business_types t WHERE t.id = v.business_type_id
$$;
REVOKE ALL ON FUNCTION api.business_type_version_json(cases.business_type_versions,boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.business_type_version_json(cases.business_type_versions,boolean) TO tianxing_app;

-- A business type; with its current version in full (`standard`) when p_full. `version` is the
-- row's optimistic-concurrency counter (the ETag); `current_version` the number of the standard
-- new cases start under.
CREATE OR REPLACE FUNCTION api.business_type_json(t cases.business_types, p_full boolean)
  RETURNS json
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT (jsonb_build_object(
            'id', t.id, 'code', t.code, 'name', t.name, 'description', t.description,
            'in_scope', t.in_scope, 'active', t.active, 'current_version', t.current_version,
            'current_version_id', v.id, 'version', t.version, 'created_by', t.created_by,
            'created_at', api.ts(t.created_at), 'updated_at', api.ts(t.updated_at))
          || CASE WHEN p_full
                  THEN jsonb_build_object('standard', api.business_type_version_json(v, true))
                  ELSE '{}'::jsonb END)::json
    FROM cases.business_type_versions v
   WHERE v.business_type_id = t.id AND v.version = t.current_version
$$;
REVOKE ALL ON FUNCTION api.business_type_json(cases.business_types,boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.business_type_json(cases.business_types,boolean) TO tianxing_app;

-- Reads (every signed-in employee: P1.2, whoever receives a request assesses it against the
-- catalogue) --------------------------------------------------------------------------------

-- GET /v1/business-types: ordered by code; filters in_scope, active and q (a piece of the name or
-- the code, case-insensitive). The cursor is the code of the last item of the previous page.
CREATE OR REPLACE FUNCTION api.business_type_list(p_in_scope boolean, p_active boolean, p_q text,
                                                  p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_q text := lower(btrim(p_q));
  v_out json;
BEGIN
  PERFORM api.require_user();
  IF p_cursor IS NOT NULL AND p_cursor !~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$' THEN
    PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
  END IF;
  IF v_q = '' THEN
    PERFORM api.fail('TXVAL', 'q', 'must not be empty');
  END IF;
  WITH page AS (
    SELECT t, t.code, row_number() OVER (ORDER BY t.code) AS rn
      FROM cases.business_types t
     WHERE (p_cursor IS NULL OR t.code > p_cursor)
       AND (p_in_scope IS NULL OR t.in_scope = p_in_scope)
       AND (p_active IS NULL OR t.active = p_active)
       AND (v_q IS NULL OR strpos(lower(t.name), v_q) > 0 OR strpos(lower(t.code), v_q) > 0)
     ORDER BY t.code
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(api.business_type_json(p.t, false) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN min(p.code) FILTER (WHERE p.rn = v_limit) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.business_type_list(boolean,boolean,text,integer,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.business_type_list(boolean,boolean,text,integer,text) TO tianxing_app;

-- GET /v1/business-types/{id}: with its current standard in full; NULL (404) when there is none
-- or the caller is not signed in.
CREATE OR REPLACE FUNCTION api.business_type_get(p_id uuid) RETURNS json
  LANGUAGE sql STABLE
  AS $$ SELECT api.business_type_json(t, true) FROM cases.business_types t WHERE t.id = p_id $$;
REVOKE ALL ON FUNCTION api.business_type_get(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.business_type_get(uuid) TO tianxing_app;

-- GET /v1/business-types/{id}/versions: every version of the standard, newest first, without
-- their lists. The cursor is the version number of the last item of the previous page.
CREATE OR REPLACE FUNCTION api.business_type_versions(p_id uuid, p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_after int;
  v_out json;
BEGIN
  PERFORM api.require_user();
  IF p_cursor IS NOT NULL THEN
    IF p_cursor !~ '^[1-9][0-9]{0,8}$' THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
    v_after := p_cursor::int;
  END IF;
  IF NOT EXISTS (SELECT FROM cases.business_types t WHERE t.id = p_id) THEN
    RAISE EXCEPTION 'no such business type' USING ERRCODE = 'P0002';
  END IF;
  WITH page AS (
    SELECT v, v.version, row_number() OVER (ORDER BY v.version DESC) AS rn
      FROM cases.business_type_versions v
     WHERE v.business_type_id = p_id AND (v_after IS NULL OR v.version < v_after)
     ORDER BY v.version DESC
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(api.business_type_version_json(p.v, false) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN min(p.version) FILTER (WHERE p.rn = v_limit)::text END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.business_type_versions(uuid,integer,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.business_type_versions(uuid,integer,text) TO tianxing_app;

-- GET /v1/business-types/{id}/versions/{version}: one version in full, whether current or not
-- (a case is judged by the version it started under); NULL (404) when there is none. p_version
-- is the path segment: anything but a version number is no version.
CREATE OR REPLACE FUNCTION api.business_type_version_get(p_id uuid, p_version text) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT api.business_type_version_json(v, true)
    FROM cases.business_type_versions v
   WHERE v.business_type_id = p_id
     AND v.version = CASE WHEN p_version ~ '^[1-9][0-9]{0,8}$' THEN p_version::int END
$$;
REVOKE ALL ON FUNCTION api.business_type_version_get(uuid,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.business_type_version_get(uuid,text) TO tianxing_app;

-- Writes (admin and supervisors) --------------------------------------------------------------
-- The runtime role only reads the catalogue (sql/code/cases/000_access.sql): the writers are
-- SECURITY DEFINER functions of schema cases, each called by an api function of the same name.

-- POST /v1/business-types: a type with version 1 of its standard. Body: {code, name,
-- description?, in_scope? (true), milestones, checklist, documents? ([]), retention_years? (10),
-- note?}. TXVAL (422) naming the field for any bad input, checked in full before anything is
-- written; TXCON (409) when the code is taken.
CREATE OR REPLACE FUNCTION cases.business_type_create(p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_code text;
  v_name text;
  v_description text;
  v_in_scope boolean;
  v_std jsonb;
  t cases.business_types;
BEGIN
  PERFORM api.require_role('admin', 'supervisor');
  PERFORM api.body_keys(p_body, ARRAY['code', 'name', 'description', 'in_scope', 'milestones',
                                      'checklist', 'documents', 'retention_years', 'note']);
  v_code := api.body_text(p_body, 'code', true, 32);
  IF v_code !~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$' THEN
    PERFORM api.fail('TXVAL', 'code', 'must be a letter or digit, then up to 31 letters, digits, _ or -');
  END IF;
  v_name := api.body_text(p_body, 'name', true, 200);
  v_description := api.body_text(p_body, 'description', false, 2000);
  -- P1.2: whether this business is within the company's scope
  v_in_scope := cases.catalogue_bool(p_body, 'in_scope', true);
  v_std := cases.catalogue_standard(p_body, false);
  IF EXISTS (SELECT FROM cases.business_types x WHERE x.code = v_code) THEN
    PERFORM api.fail('TXCON', 'code', 'a business type with this code exists');
  END IF;
  SET CONSTRAINTS cases.business_types_have_standard, cases.business_type_versions_complete DEFERRED;
  INSERT INTO cases.business_types (code, name, description, in_scope, current_version,
                                    created_by)
  VALUES (v_code, v_name, v_description, v_in_scope, 1, tx.user_id())
  RETURNING * INTO t;
  PERFORM cases.catalogue_write_version(t.id, 1, v_std);
  RETURN api.business_type_json(t, true);
END
$$;
REVOKE ALL ON FUNCTION cases.business_type_create(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.business_type_create(jsonb) TO tianxing_app;
-- The route's function runs as the caller (every api function does; sql/tests/org.sql).
CREATE OR REPLACE FUNCTION api.business_type_create(p_body jsonb) RETURNS json
  LANGUAGE sql
  AS $$ SELECT cases.business_type_create(p_body) $$;
REVOKE ALL ON FUNCTION api.business_type_create(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.business_type_create(jsonb) TO tianxing_app;

-- PATCH /v1/business-types/{id}: the metadata (name, description, in_scope, active); members
-- absent keep their value; description may be null (cleared), the others may not. The standard
-- changes only by a new version. P0002 (404) for an unknown id, then the expected version
-- (If-Match; TXPRE 412 when stale), then the body (TXVAL 422).
CREATE OR REPLACE FUNCTION cases.business_type_update(p_id uuid, p_expected_version int,
                                                    p_body jsonb)
  RETURNS json
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  t cases.business_types;
  v_name text;
  v_description text;
  v_in_scope boolean;
  v_active boolean;
  k text;
BEGIN
  PERFORM api.require_role('admin', 'supervisor');
  SELECT * INTO t FROM cases.business_types x WHERE x.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such business type' USING ERRCODE = 'P0002';
  END IF;
  PERFORM api.check_version(p_expected_version, t.version);
  PERFORM api.body_keys(p_body, ARRAY['name', 'description', 'in_scope', 'active']);
  FOREACH k IN ARRAY ARRAY['name', 'in_scope', 'active'] LOOP
    IF p_body ? k AND jsonb_typeof(p_body -> k) = 'null' THEN
      PERFORM api.fail('TXVAL', k, 'must not be null');
    END IF;
  END LOOP;
  IF (SELECT count(*) FROM jsonb_object_keys(p_body)) = 0 THEN
    PERFORM api.fail('TXVAL', 'body', 'must name at least one of name, description, in_scope, active');
  END IF;
  v_name := api.body_text(p_body, 'name', false, 200);
  v_description := api.body_text(p_body, 'description', false, 2000);
  v_in_scope := cases.catalogue_bool(p_body, 'in_scope', NULL);
  v_active := cases.catalogue_bool(p_body, 'active', NULL);
  UPDATE cases.business_types x
     SET name = coalesce(v_name, x.name),
         description = CASE WHEN p_body ? 'description' THEN v_description ELSE x.description END,
         in_scope = coalesce(v_in_scope, x.in_scope),
         active = coalesce(v_active, x.active)
   WHERE x.id = p_id
  RETURNING * INTO t;
  RETURN api.business_type_json(t, true);
END
$$;
REVOKE ALL ON FUNCTION cases.business_type_update(uuid,integer,jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.business_type_update(uuid,integer,jsonb) TO tianxing_app;
-- The route's function runs as the caller (every api function does; sql/tests/org.sql).
CREATE OR REPLACE FUNCTION api.business_type_update(p_id uuid, p_expected_version int, p_body jsonb) RETURNS json
  LANGUAGE sql
  AS $$ SELECT cases.business_type_update(p_id, p_expected_version, p_body) $$;
REVOKE ALL ON FUNCTION api.business_type_update(uuid,integer,jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.business_type_update(uuid,integer,jsonb) TO tianxing_app;

-- POST /v1/business-types/{id}/versions: a new version of the standard (P2.2, P3.2, P4.2), which
-- becomes the type's current one; cases already started keep theirs. Body: {note (required: why
-- the standard changed), milestones, checklist, documents? ([]), retention_years? (10)}.
CREATE OR REPLACE FUNCTION cases.business_type_version_create(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  t cases.business_types;
  v_std jsonb;
  v cases.business_type_versions;
BEGIN
  PERFORM api.require_role('admin', 'supervisor');
  -- the type's row lock orders concurrent new versions (each becomes current in turn)
  SELECT * INTO t FROM cases.business_types x WHERE x.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such business type' USING ERRCODE = 'P0002';
  END IF;
  PERFORM api.body_keys(p_body, ARRAY['note', 'milestones', 'checklist', 'documents',
                                      'retention_years']);
  v_std := cases.catalogue_standard(p_body, true);
  v := cases.catalogue_write_version(t.id, t.current_version + 1, v_std);
  RETURN api.business_type_version_json(v, true);
END
$$;
REVOKE ALL ON FUNCTION cases.business_type_version_create(uuid,jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.business_type_version_create(uuid,jsonb) TO tianxing_app;
-- The route's function runs as the caller (every api function does; sql/tests/org.sql).
CREATE OR REPLACE FUNCTION api.business_type_version_create(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE sql
  AS $$ SELECT cases.business_type_version_create(p_id, p_body) $$;
REVOKE ALL ON FUNCTION api.business_type_version_create(uuid,jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.business_type_version_create(uuid,jsonb) TO tianxing_app;

-- Rules for every writer (the owner's functions included) -------------------------------------

-- The row xmin (of a row this transaction can see) was written by this transaction or one of its
-- subtransactions: a visible row whose writer is still in progress can only be our own.
CREATE OR REPLACE FUNCTION cases.written_by_this_transaction(p_xmin xid) RETURNS boolean
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_cur bigint := pg_current_xact_id()::text::bigint;
  -- xmin has 32 bits, pg_xact_status wants the full 64-bit id: a live xid is within 2^31 of the
  -- current one (wraparound protection), so take the full id nearest to the current one
  v_diff bigint := p_xmin::text::bigint - (v_cur & 4294967295);
BEGIN
  IF v_diff > 2147483647 THEN
    v_diff := v_diff - 4294967296;
  ELSIF v_diff < -2147483648 THEN
    v_diff := v_diff + 4294967296;
  END IF;
  RETURN coalesce(pg_xact_status((v_cur + v_diff)::text::xid8) = 'in progress', false);
END
$$;
REVOKE ALL ON FUNCTION cases.written_by_this_transaction(xid) FROM PUBLIC;

-- Versions, their milestones, criteria and documents never change and are never deleted: the
-- cases of a version are judged by them (P2.2, P3.2, P4.2). TXCON (409). Also refuses TRUNCATE
-- of the catalogue's tables, business_types included.
CREATE OR REPLACE FUNCTION cases.catalogue_version_frozen() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  RAISE EXCEPTION 'the business-type catalogue keeps what cases are judged by (%.% refuses %): a version never changes, a change to the standard is a new version',
    TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP USING ERRCODE = 'TXCON';
END
$$;
REVOKE ALL ON FUNCTION cases.catalogue_version_frozen() FROM PUBLIC;

-- A milestone, criterion or document joins a version only in the transaction that wrote the
-- version: adding one later would change the standard cases of that version are judged by.
CREATE OR REPLACE FUNCTION cases.catalogue_item_insert() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE v_xmin xid;
BEGIN
  SELECT v.xmin INTO v_xmin FROM cases.business_type_versions v WHERE v.id = NEW.type_version_id;
  IF FOUND AND NOT cases.written_by_this_transaction(v_xmin) THEN
    RAISE EXCEPTION 'version % of a business type exists already: its % cannot grow (publish a new version)',
      NEW.type_version_id, TG_TABLE_NAME USING ERRCODE = 'TXCON';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION cases.catalogue_item_insert() FROM PUBLIC;

-- Versions are numbered 1, 2, ... without gaps per type, and only the next one can be written.
CREATE OR REPLACE FUNCTION cases.catalogue_version_insert() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE v_next int;
BEGIN
  SELECT coalesce(max(v.version), 0) + 1 INTO v_next
    FROM cases.business_type_versions v WHERE v.business_type_id = NEW.business_type_id;
  IF NEW.version <> v_next THEN
    RAISE EXCEPTION 'the next version of business type % is %, not %', NEW.business_type_id,
      v_next, NEW.version USING ERRCODE = 'TXCON';
  END IF;
  NEW.created_at := now();
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION cases.catalogue_version_insert() FROM PUBLIC;

-- A business type: starts at version 1; its code and creation never change; current_version
-- only moves forward, to a version that exists; it is never deleted (deactivate it: cases and
-- the archive refer to it).
CREATE OR REPLACE FUNCTION cases.business_types_rules() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'a business type is never deleted (set active to false)' USING ERRCODE = 'TXCON';
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW.current_version <> 1 THEN
      RAISE EXCEPTION 'a new business type starts at version 1' USING ERRCODE = 'TXCON';
    END IF;
    RETURN NEW;
  END IF;
  IF NEW.id <> OLD.id OR NEW.code <> OLD.code
     OR NEW.created_by IS DISTINCT FROM OLD.created_by THEN
    RAISE EXCEPTION 'the id, code and creator of a business type never change' USING ERRCODE = 'TXCON';
  END IF;
  IF NEW.current_version <> OLD.current_version
     AND (NEW.current_version < OLD.current_version
          OR NOT EXISTS (SELECT FROM cases.business_type_versions v
                          WHERE v.business_type_id = NEW.id AND v.version = NEW.current_version))
  THEN
    RAISE EXCEPTION 'the current version of a business type moves only forward, to a version that exists (% to %)',
      OLD.current_version, NEW.current_version USING ERRCODE = 'TXCON';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION cases.business_types_rules() FROM PUBLIC;

-- At commit: every version written holds a complete standard (P2.2: at least one key milestone,
-- one of them required; P3.2: accuracy, compliance and completeness on the checklist), and
-- every type written has its current version. The api functions check all of this first (422
-- naming the field); these deferred checks hold for any other writer.
CREATE OR REPLACE FUNCTION cases.catalogue_version_complete() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM cases.milestones m WHERE m.type_version_id = NEW.id AND m.required)
  THEN
    RAISE EXCEPTION 'version % of a business type has no required key milestone (P2.2)', NEW.id
      USING ERRCODE = 'TXVAL';
  END IF;
  IF NOT cases.mandatory_criteria() <@ ARRAY(SELECT c.code FROM cases.checklist_criteria c
                                               WHERE c.type_version_id = NEW.id) THEN
    RAISE EXCEPTION 'the checklist of version % of a business type lacks accuracy, compliance or completeness (P3.2)',
      NEW.id USING ERRCODE = 'TXVAL';
  END IF;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION cases.catalogue_version_complete() FROM PUBLIC;

CREATE OR REPLACE FUNCTION cases.business_type_has_standard() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM cases.business_type_versions v
                  WHERE v.business_type_id = NEW.id AND v.version = NEW.current_version) THEN
    RAISE EXCEPTION 'business type % has no version % of its standard', NEW.code,
      NEW.current_version USING ERRCODE = 'TXVAL';
  END IF;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION cases.business_type_has_standard() FROM PUBLIC;

CREATE OR REPLACE TRIGGER business_types_touch BEFORE UPDATE ON cases.business_types
  FOR EACH ROW EXECUTE FUNCTION org.touch();
CREATE OR REPLACE TRIGGER business_types_rules BEFORE INSERT OR UPDATE OR DELETE
  ON cases.business_types FOR EACH ROW EXECUTE FUNCTION cases.business_types_rules();
DROP TRIGGER IF EXISTS business_types_have_standard ON cases.business_types;
CREATE CONSTRAINT TRIGGER business_types_have_standard AFTER INSERT OR UPDATE
  ON cases.business_types DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION cases.business_type_has_standard();

CREATE OR REPLACE TRIGGER business_type_versions_insert BEFORE INSERT
  ON cases.business_type_versions FOR EACH ROW EXECUTE FUNCTION cases.catalogue_version_insert();
DROP TRIGGER IF EXISTS business_type_versions_complete ON cases.business_type_versions;
CREATE CONSTRAINT TRIGGER business_type_versions_complete AFTER INSERT
  ON cases.business_type_versions DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION cases.catalogue_version_complete();

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['business_type_versions', 'milestones', 'checklist_criteria',
                           'required_documents'] LOOP
    EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE UPDATE OR DELETE ON cases.%I '
                   'FOR EACH ROW EXECUTE FUNCTION cases.catalogue_version_frozen()',
                   t || '_frozen', t);
    EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE TRUNCATE ON cases.%I '
                   'FOR EACH STATEMENT EXECUTE FUNCTION cases.catalogue_version_frozen()',
                   t || '_no_truncate', t);
    IF t <> 'business_type_versions' THEN
      EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE INSERT ON cases.%I '
                     'FOR EACH ROW EXECUTE FUNCTION cases.catalogue_item_insert()',
                     t || '_insert', t);
    END IF;
  END LOOP;
END
$$;
CREATE OR REPLACE TRIGGER business_types_no_truncate BEFORE TRUNCATE ON cases.business_types
  FOR EACH STATEMENT EXECUTE FUNCTION cases.catalogue_version_frozen();
