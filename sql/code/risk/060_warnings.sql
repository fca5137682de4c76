-- Module R, part C: warnings (R3.2 預警信號, R3.3). A warning is raised by a measurement
-- (sql/code/risk/050_kris.sql, risk.measure); here: how it is shown, listed, and brought through
-- its machine risk_warning (migration 0029): open -> analysed (deep analysis: root cause,
-- analyst; R3.3 深入分析) -> handled (the measures taken, optionally a new risk in the register
-- through part A's risk.report; R3.3 採取相應的措施) -> closed with an outcome.
-- Writers are SECURITY DEFINER: they find the warning as the caller sees it (404 otherwise),
-- check the move against the caller's roles and the state (fsm.transition: 403, 409 with
-- allowed_actions), validate the body (422), record what the guard needs, then move.

-- The warning as the API shows it; NULL when the caller cannot see it.
CREATE OR REPLACE FUNCTION api.warning_json(p_id uuid) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object(
           'id', w.id,
           'kri', json_build_object('id', k.id, 'code', k.code, 'name', k.name, 'unit', k.unit,
                                    'direction', k.direction, 'category', k.category),
           'measurement_id', w.measurement_id, 'level', w.level, 'value', w.value,
           'threshold', w.threshold, 'status', w.status, 'owner_id', w.owner_id,
           'raised_at', api.ts(w.raised_at), 'escalated_at', api.ts(w.escalated_at),
           'root_cause', w.root_cause, 'analysis', w.analysis, 'analyst_id', w.analyst_id,
           'analysed_at', api.ts(w.analysed_at), 'measures', w.measures, 'risk_id', w.risk_id,
           'handled_by', w.handled_by, 'handled_at', api.ts(w.handled_at),
           'outcome', w.outcome, 'outcome_note', w.outcome_note, 'closed_by', w.closed_by,
           'closed_at', api.ts(w.closed_at),
           'allowed_actions', to_json(fsm.allowed_actions('risk_warning', w.status)),
           'version', w.version, 'created_at', api.ts(w.created_at),
           'updated_at', api.ts(w.updated_at))
    FROM risk.warnings w JOIN risk.kris k ON k.id = w.kri_id
   WHERE w.id = p_id
$$;
REVOKE ALL ON FUNCTION api.warning_json(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.warning_json(uuid) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.warning_get(p_id uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE v json;
BEGIN
  PERFORM api.require_user();
  v := api.warning_json(p_id);
  IF v IS NULL THEN
    RAISE EXCEPTION 'no such warning' USING ERRCODE = 'P0002';
  END IF;
  RETURN v;
END
$$;
REVOKE ALL ON FUNCTION api.warning_get(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.warning_get(uuid) TO tianxing_app;

-- GET /v1/warnings?status=&level=&kri_id=&limit=&cursor= : the warnings the caller may see
-- (risk officers, admin, auditors, supervisors: all; others: those they own), newest first;
-- keyset, the cursor is the last item's id. CSV (src/modules/risk/warnings.c).
CREATE OR REPLACE FUNCTION api.warning_list(p_status text, p_level text, p_kri uuid, p_limit int,
                                            p_cursor text) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  c risk.warnings;
  v_out json;
BEGIN
  PERFORM api.require_user();
  IF p_status IS NOT NULL AND p_status NOT IN ('open', 'analysed', 'handled', 'closed') THEN
    PERFORM api.fail('TXVAL', 'status', 'is open, analysed, handled or closed');
  END IF;
  IF p_level IS NOT NULL AND p_level NOT IN ('warning', 'critical') THEN
    PERFORM api.fail('TXVAL', 'level', 'is warning or critical');
  END IF;
  IF p_cursor IS NOT NULL THEN
    IF p_cursor !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
    SELECT * INTO c FROM risk.warnings w WHERE w.id = p_cursor::uuid;
    IF NOT FOUND THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
  END IF;
  WITH page AS (
    SELECT w.id, row_number() OVER (ORDER BY w.raised_at DESC, w.id DESC) AS rn
      FROM risk.warnings w
     WHERE (p_status IS NULL OR w.status = p_status)
       AND (p_level IS NULL OR w.level = p_level)
       AND (p_kri IS NULL OR w.kri_id = p_kri)
       AND (c.id IS NULL OR (w.raised_at, w.id) < (c.raised_at, c.id))
     ORDER BY w.raised_at DESC, w.id DESC
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(api.warning_json(p.id) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN (max(p.id::text) FILTER (WHERE p.rn = v_limit)) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.warning_list(text, text, uuid, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.warning_list(text, text, uuid, int, text) TO tianxing_app;

-- The caller may see warning p_id (the policy warnings_read, asked from a SECURITY DEFINER
-- writer, which itself sees every row).
CREATE OR REPLACE FUNCTION risk.may_read_warning(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce(
           (SELECT tx.has_role('risk_officer') OR tx.has_role('admin') OR tx.has_role('auditor')
                   OR tx.has_role('supervisor') OR w.owner_id = tx.user_id()
              FROM risk.warnings w WHERE w.id = p_id),
           false)
$$;
REVOKE ALL ON FUNCTION risk.may_read_warning(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.may_read_warning(uuid) TO tianxing_app;

-- The warning p_id, locked, after the checks every move shares: signed in, visible (404), the
-- move p_action is one of the caller's roles' (403) from its state (409 with allowed_actions).
CREATE OR REPLACE FUNCTION risk.warning_for_move(p_id uuid, p_action text) RETURNS risk.warnings
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE w risk.warnings;
BEGIN
  PERFORM api.require_user();
  IF NOT risk.may_read_warning(p_id) THEN
    RAISE EXCEPTION 'no such warning' USING ERRCODE = 'P0002';
  END IF;
  SELECT * INTO w FROM risk.warnings x WHERE x.id = p_id FOR UPDATE;
  PERFORM fsm.transition('risk_warning', w.status, p_action);
  RETURN w;
END
$$;
REVOKE ALL ON FUNCTION risk.warning_for_move(uuid, text) FROM PUBLIC;

-- POST /v1/warnings/{id}/analyse (supervisor, risk_officer, admin; R3.3 深入分析):
-- {root_cause, analysis?}. The caller is recorded as the analyst.
CREATE OR REPLACE FUNCTION risk.warning_analyse(p_id uuid, p_body jsonb) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  w risk.warnings := risk.warning_for_move(p_id, 'analyse');
  v_cause text;
  v_analysis text;
BEGIN
  PERFORM api.body_keys(p_body, ARRAY['root_cause', 'analysis']);
  v_cause := api.body_text(p_body, 'root_cause', true, 4000);
  v_analysis := api.body_text(p_body, 'analysis', false, 8000);
  UPDATE risk.warnings x
     SET root_cause = v_cause, analysis = v_analysis, analyst_id = tx.user_id(), analysed_at = now(),
         version = x.version + 1, updated_at = now()
   WHERE x.id = w.id;
  PERFORM fsm.move('risk_warning', w.id, 'analyse', NULL);
END
$$;
REVOKE ALL ON FUNCTION risk.warning_analyse(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.warning_analyse(uuid, jsonb) TO tianxing_app;

-- POST /v1/warnings/{id}/handle (supervisor, risk_officer, admin; R3.3 採取相應的措施, 防范風險擴大):
-- {measures, new_risk?}. new_risk is the body of a new risk for the register (part A's
-- risk.report, which checks it and that the caller may report it; the risk records this warning
-- as its origin and the warning the risk).
CREATE OR REPLACE FUNCTION risk.warning_handle(p_id uuid, p_body jsonb) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  w risk.warnings := risk.warning_for_move(p_id, 'handle');
  v_measures text;
  v_risk uuid;
BEGIN
  PERFORM api.body_keys(p_body, ARRAY['measures', 'new_risk']);
  v_measures := api.body_text(p_body, 'measures', true, 8000);
  IF p_body ? 'new_risk' AND jsonb_typeof(p_body -> 'new_risk') <> 'null' THEN
    IF jsonb_typeof(p_body -> 'new_risk') <> 'object' THEN
      PERFORM api.fail('TXVAL', 'new_risk', 'must be a JSON object (the body of a new risk)');
    END IF;
    v_risk := (risk.report(p_body -> 'new_risk', w.id)).id;
  END IF;
  UPDATE risk.warnings x
     SET measures = v_measures, risk_id = v_risk, handled_by = tx.user_id(), handled_at = now(),
         version = x.version + 1, updated_at = now()
   WHERE x.id = w.id;
  PERFORM fsm.move('risk_warning', w.id, 'handle', NULL);
END
$$;
REVOKE ALL ON FUNCTION risk.warning_handle(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.warning_handle(uuid, jsonb) TO tianxing_app;

-- POST /v1/warnings/{id}/close (risk_officer, admin; R3.3): {outcome, outcome_note?}: resolved,
-- mitigated, accepted or false_alarm; accepting the situation or calling it a false alarm says
-- why (outcome_note required). Closing frees the indicator for a new warning, which the
-- no-flapping rule still holds back until a reading is back on the safe side (050_kris.sql).
CREATE OR REPLACE FUNCTION risk.warning_close(p_id uuid, p_body jsonb) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  w risk.warnings := risk.warning_for_move(p_id, 'close');
  v_outcome text;
  v_note text;
BEGIN
  PERFORM api.body_keys(p_body, ARRAY['outcome', 'outcome_note']);
  v_outcome := api.body_text(p_body, 'outcome', true, 20);
  IF v_outcome NOT IN ('resolved', 'mitigated', 'accepted', 'false_alarm') THEN
    PERFORM api.fail('TXVAL', 'outcome', 'is resolved, mitigated, accepted or false_alarm');
  END IF;
  v_note := api.body_text(p_body, 'outcome_note', v_outcome IN ('accepted', 'false_alarm'), 4000);
  UPDATE risk.warnings x
     SET outcome = v_outcome, outcome_note = v_note, closed_by = tx.user_id(), closed_at = now(),
         version = x.version + 1, updated_at = now()
   WHERE x.id = w.id;
  PERFORM fsm.move('risk_warning', w.id, 'close', NULL);
END
$$;
REVOKE ALL ON FUNCTION risk.warning_close(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.warning_close(uuid, jsonb) TO tianxing_app;

-- The routes' functions (SECURITY INVOKER): the write, then the warning as the caller sees it.
CREATE OR REPLACE FUNCTION api.warning_analyse(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM risk.warning_analyse(p_id, p_body);
  RETURN api.warning_json(p_id);
END
$$;
REVOKE ALL ON FUNCTION api.warning_analyse(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.warning_analyse(uuid, jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.warning_handle(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM risk.warning_handle(p_id, p_body);
  RETURN api.warning_json(p_id);
END
$$;
REVOKE ALL ON FUNCTION api.warning_handle(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.warning_handle(uuid, jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.warning_close(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM risk.warning_close(p_id, p_body);
  RETURN api.warning_json(p_id);
END
$$;
REVOKE ALL ON FUNCTION api.warning_close(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.warning_close(uuid, jsonb) TO tianxing_app;

-- GET /v1/warnings/{id}/transitions: the warning's moves, oldest first.
CREATE OR REPLACE FUNCTION api.warning_transitions(p_id uuid, p_limit int, p_cursor text) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  PERFORM api.require_user();
  IF NOT EXISTS (SELECT FROM risk.warnings w WHERE w.id = p_id) THEN
    RAISE EXCEPTION 'no such warning' USING ERRCODE = 'P0002';
  END IF;
  RETURN fsm.history('risk_warning', p_id, p_limit, p_cursor);
END
$$;
REVOKE ALL ON FUNCTION api.warning_transitions(uuid, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.warning_transitions(uuid, int, text) TO tianxing_app;
