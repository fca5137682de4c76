-- Module R, part D: monitoring reports (R3.1 建立風險監控機制,定期對業務風險狀況進行監控和分析)
-- and the register's heat map. docs/risk-reports.md explains the report; tables: risk.reports
-- (0029, 0033).
--
-- A report is made by risk.make_report(kind, at): the state of the register AS OF `at`, rebuilt
-- from the history (a risk's status from fsm.log, its level from risk.assessments), so that a
-- report says what was true at its instant whatever happened after; and what changed between the
-- previous report's instant and `at`. It is stored whole (body), hashed (body_sha256 = SHA-256 of
-- the body's jsonb text) and never changed (append_only trigger, 000_access.sql). Reports form
-- one chain: each names the one before (previous_id, unique), made under a lock so that two at
-- once cannot both follow the same one.
--
-- Who: the job 'risk.reports' (role system) makes the regular ones (R3.1 定期); risk officers and
-- admin make an ad hoc one at any time. Risk officers, admin, auditors and supervisors read them
-- (policy reports_read): a report is the whole register's state, by design the same for each
-- reader. The live heat map (GET /v1/risk-heatmap) is the register as the caller sees it.

-- The register as of p_at (SECURITY INVOKER: inside make_report the owner sees every risk; the
-- live heat map uses its own query under the caller's policies). A risk's status at p_at is the
-- state its last move up to p_at led to, else the state its first later move left (it was there
-- all along), else today's; its inherent and residual levels are those of its latest assessment
-- of each kind made by p_at (R1.2: the history is never overwritten, so this is exact).
CREATE OR REPLACE FUNCTION risk.register_at(p_at timestamptz)
  RETURNS TABLE (id uuid, code text, title text, category text, status text, likelihood int,
                 impact int, level text, residual_level text, created_at timestamptz)
  LANGUAGE sql STABLE
  AS $$
  SELECT r.id, r.code, r.title, r.category,
         coalesce((SELECT l.to_state FROM fsm.log l
                    WHERE l.machine = 'risk' AND l.entity_id = r.id AND l.at <= p_at
                    ORDER BY l.id DESC LIMIT 1),
                  (SELECT l.from_state FROM fsm.log l
                    WHERE l.machine = 'risk' AND l.entity_id = r.id AND l.at > p_at
                    ORDER BY l.id LIMIT 1),
                  r.status),
         a.likelihood, a.impact, a.level, ra.level, r.created_at
    FROM risk.risks r
    LEFT JOIN LATERAL (SELECT x.likelihood, x.impact, x.level FROM risk.assessments x
                        WHERE x.risk_id = r.id AND x.kind = 'inherent' AND x.assessed_at <= p_at
                        ORDER BY x.assessed_at DESC, x.id DESC LIMIT 1) a ON true
    LEFT JOIN LATERAL (SELECT x.level FROM risk.assessments x
                        WHERE x.risk_id = r.id AND x.kind = 'residual' AND x.assessed_at <= p_at
                        ORDER BY x.assessed_at DESC, x.id DESC LIMIT 1) ra ON true
   WHERE r.created_at <= p_at
$$;
REVOKE ALL ON FUNCTION risk.register_at(timestamptz) FROM PUBLIC;

-- The rows of a register kept as JSON (risk.report_body computes the register once and reads it
-- many times: each risk's status costs look-ups in fsm.log).
CREATE OR REPLACE FUNCTION risk.register_rows(p_rows jsonb)
  RETURNS TABLE (id uuid, code text, title text, category text, status text, likelihood int,
                 impact int, level text, residual_level text, created_at timestamptz)
  LANGUAGE sql IMMUTABLE
  AS $$
  SELECT x.id, x.code, x.title, x.category, x.status, x.likelihood, x.impact, x.level,
         x.residual_level, x.created_at
    FROM jsonb_to_recordset(coalesce(p_rows, '[]')) AS x(id uuid, code text, title text, category text,
                                                        status text, likelihood int, impact int, level text,
                                                        residual_level text, created_at timestamptz)
$$;
REVOKE ALL ON FUNCTION risk.register_rows(jsonb) FROM PUBLIC;

-- The 5x5 heat map of a set of (likelihood, impact) points: counts[l-1][i-1] and the matrix's
-- levels[l-1][i-1] (risk_matrix, R1.2), likelihood down the rows, impact across.
CREATE OR REPLACE FUNCTION risk.heatmap_of(p_likelihood int[], p_impact int[], p_matrix jsonb)
  RETURNS jsonb
  LANGUAGE sql IMMUTABLE
  AS $$
  SELECT jsonb_build_object(
           'counts', (SELECT jsonb_agg(rw ORDER BY l)
                        FROM (SELECT l, jsonb_agg((SELECT count(*) FROM unnest(p_likelihood, p_impact) p(pl, pi)
                                                    WHERE p.pl = l AND p.pi = i) ORDER BY i) rw
                                FROM generate_series(1, 5) l CROSS JOIN generate_series(1, 5) i
                               GROUP BY l) x),
           'levels', p_matrix -> 'cells',
           'total', coalesce(cardinality(p_likelihood), 0))
$$;
REVOKE ALL ON FUNCTION risk.heatmap_of(int[], int[], jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.heatmap_of(int[], int[], jsonb) TO tianxing_app;

-- A risk as a report names it.
CREATE OR REPLACE FUNCTION risk.report_risk(p_id uuid, p_code text, p_title text, p_category text)
  RETURNS jsonb
  LANGUAGE sql IMMUTABLE
  AS $$ SELECT jsonb_build_object('id', p_id, 'code', p_code, 'title', p_title, 'category', p_category) $$;
REVOKE ALL ON FUNCTION risk.report_risk(uuid, text, text, text) FROM PUBLIC;

-- The body of a report covering (p_from, p_to] (R3.1): the register as of p_to by category,
-- level and status, its heat map, the changes in the window, overdue and missing responses (R2.1),
-- the indicators' latest values and the warnings (R3.2, R3.3). Lists are ordered so that the
-- same history always gives the same body (and hash).
CREATE OR REPLACE FUNCTION risk.report_body(p_from timestamptz, p_to timestamptz) RETURNS jsonb
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_zone text := org.company_time_zone(p_to);
  v_day date := (p_to AT TIME ZONE org.company_time_zone(p_to))::date;
  v_matrix jsonb := org.policy_value('risk_matrix', (p_to AT TIME ZONE org.company_time_zone(p_to))::date);
  v_required text := org.policy_value('risk_response_rules',
                                      (p_to AT TIME ZONE org.company_time_zone(p_to))::date)
                     ->> 'required_from_level';
  v_rows jsonb;
  v_register jsonb;
  v_heatmap jsonb;
  v_changes jsonb;
  v_responses jsonb;
  v_indicators jsonb;
  v_warnings jsonb;
BEGIN
  SELECT jsonb_agg(to_jsonb(x)) INTO v_rows FROM risk.register_at(p_to) x;
  -- The register (open = neither closed nor dismissed), by category x level and by status.
  SELECT jsonb_build_object(
           'open', count(*) FILTER (WHERE r.status NOT IN ('closed', 'dismissed')),
           'by_level', jsonb_build_object(
              'low', count(*) FILTER (WHERE r.status NOT IN ('closed', 'dismissed') AND r.level = 'low'),
              'medium', count(*) FILTER (WHERE r.status NOT IN ('closed', 'dismissed') AND r.level = 'medium'),
              'high', count(*) FILTER (WHERE r.status NOT IN ('closed', 'dismissed') AND r.level = 'high'),
              'critical', count(*) FILTER (WHERE r.status NOT IN ('closed', 'dismissed') AND r.level = 'critical'),
              'unassessed', count(*) FILTER (WHERE r.status NOT IN ('closed', 'dismissed') AND r.level IS NULL)),
           'by_status', jsonb_build_object(
              'identified', count(*) FILTER (WHERE r.status = 'identified'),
              'assessed', count(*) FILTER (WHERE r.status = 'assessed'),
              'treated', count(*) FILTER (WHERE r.status = 'treated'),
              'closed', count(*) FILTER (WHERE r.status = 'closed'),
              'dismissed', count(*) FILTER (WHERE r.status = 'dismissed')))
    INTO v_register
    FROM risk.register_rows(v_rows) r;
  v_register := v_register || jsonb_build_object('by_category', (
    SELECT jsonb_agg(x.o ORDER BY x.n)
      FROM (SELECT c.n, jsonb_build_object(
                     'category', c.category,
                     'open', count(r.id),
                     'low', count(r.id) FILTER (WHERE r.level = 'low'),
                     'medium', count(r.id) FILTER (WHERE r.level = 'medium'),
                     'high', count(r.id) FILTER (WHERE r.level = 'high'),
                     'critical', count(r.id) FILTER (WHERE r.level = 'critical'),
                     'unassessed', count(r.id) FILTER (WHERE r.level IS NULL)) AS o
              FROM (VALUES (1, 'market'), (2, 'credit'), (3, 'operational'), (4, 'other')) c(n, category)
              LEFT JOIN risk.register_rows(v_rows) r
                     ON r.category = c.category AND r.status NOT IN ('closed', 'dismissed')
             GROUP BY c.n, c.category) x));

  SELECT risk.heatmap_of(coalesce(array_agg(r.likelihood), '{}'), coalesce(array_agg(r.impact), '{}'),
                         v_matrix)
    INTO v_heatmap
    FROM risk.register_rows(v_rows) r
   WHERE r.status NOT IN ('closed', 'dismissed') AND r.likelihood IS NOT NULL;

  -- What changed since the previous report: new risks, moves that end or revive one (fsm.log),
  -- levels that differ from those at p_from (risk.assessments, per kind).
  v_changes := jsonb_build_object(
    'new', (SELECT coalesce(jsonb_agg(risk.report_risk(r.id, r.code, r.title, r.category)
                                      || jsonb_build_object('level', r.level, 'status', r.status,
                                                            'at', api.ts(r.created_at))
                                      ORDER BY r.created_at, r.code), '[]')
              FROM risk.register_rows(v_rows) r WHERE r.created_at > p_from),
    'closed', (SELECT coalesce(jsonb_agg(risk.report_risk(r.id, r.code, r.title, r.category)
                                         || jsonb_build_object('action', l.action, 'at', api.ts(l.at),
                                                               'reason', l.reason)
                                         ORDER BY l.id), '[]')
                 FROM fsm.log l JOIN risk.register_rows(v_rows) r ON r.id = l.entity_id
                WHERE l.machine = 'risk' AND l.to_state = 'closed' AND l.at > p_from AND l.at <= p_to),
    'dismissed', (SELECT coalesce(jsonb_agg(risk.report_risk(r.id, r.code, r.title, r.category)
                                            || jsonb_build_object('at', api.ts(l.at), 'reason', l.reason)
                                            ORDER BY l.id), '[]')
                    FROM fsm.log l JOIN risk.register_rows(v_rows) r ON r.id = l.entity_id
                   WHERE l.machine = 'risk' AND l.to_state = 'dismissed' AND l.at > p_from AND l.at <= p_to),
    'reopened', (SELECT coalesce(jsonb_agg(risk.report_risk(r.id, r.code, r.title, r.category)
                                           || jsonb_build_object('at', api.ts(l.at), 'reason', l.reason)
                                           ORDER BY l.id), '[]')
                   FROM fsm.log l JOIN risk.register_rows(v_rows) r ON r.id = l.entity_id
                  WHERE l.machine = 'risk' AND l.action = 'reopen' AND l.at > p_from AND l.at <= p_to),
    'level_changed', (
      SELECT coalesce(jsonb_agg(risk.report_risk(r.id, r.code, r.title, r.category)
                                || jsonb_build_object('kind', k.kind, 'from', b.level, 'to', n.level,
                                                      'at', api.ts(n.assessed_at))
                                ORDER BY r.code, k.kind), '[]')
        FROM risk.register_rows(v_rows) r
        CROSS JOIN (VALUES ('inherent'), ('residual')) k(kind)
        JOIN LATERAL (SELECT x.level, x.assessed_at FROM risk.assessments x
                       WHERE x.risk_id = r.id AND x.kind = k.kind AND x.assessed_at <= p_to
                       ORDER BY x.assessed_at DESC, x.id DESC LIMIT 1) n ON n.assessed_at > p_from
        LEFT JOIN LATERAL (SELECT x.level FROM risk.assessments x
                            WHERE x.risk_id = r.id AND x.kind = k.kind AND x.assessed_at <= p_from
                            ORDER BY x.assessed_at DESC, x.id DESC LIMIT 1) b ON true
       WHERE b.level IS DISTINCT FROM n.level));

  -- Responses (R2.1) as of p_to: not done by their due day (company day of p_to), and the open
  -- risks at or above the required level without any response that is not cancelled.
  v_responses := jsonb_build_object(
    'overdue', (
      SELECT coalesce(jsonb_agg(jsonb_build_object(
               'id', s.id, 'risk', risk.report_risk(r.id, r.code, r.title, r.category),
               'strategy', s.strategy, 'owner_id', s.owner_id, 'due_on', s.due_on,
               'status', s.st, 'days_overdue', v_day - s.due_on)
               ORDER BY s.due_on, r.code, s.id), '[]')
        FROM (SELECT x.*, coalesce((SELECT l.to_state FROM fsm.log l
                                     WHERE l.machine = 'risk_response' AND l.entity_id = x.id
                                       AND l.at <= p_to ORDER BY l.id DESC LIMIT 1),
                                   (SELECT l.from_state FROM fsm.log l
                                     WHERE l.machine = 'risk_response' AND l.entity_id = x.id
                                       AND l.at > p_to ORDER BY l.id LIMIT 1),
                                   x.status) AS st
                FROM risk.responses x
               WHERE x.created_at <= p_to AND x.due_on < v_day) s
        JOIN risk.register_rows(v_rows) r ON r.id = s.risk_id
       WHERE s.st IN ('proposed', 'planned', 'in_progress')),
    'required_from_level', v_required,
    'missing', (
      SELECT coalesce(jsonb_agg(risk.report_risk(r.id, r.code, r.title, r.category)
                                || jsonb_build_object('level', r.level, 'status', r.status)
                                ORDER BY r.code), '[]')
        FROM risk.register_rows(v_rows) r
       WHERE r.status NOT IN ('closed', 'dismissed')
         AND risk.level_rank(r.level) >= risk.level_rank(v_required)
         AND NOT EXISTS (  -- in place, as risk.response_missing counts it: approved or further
               SELECT FROM risk.responses s
                WHERE s.risk_id = r.id AND s.created_at <= p_to
                  AND coalesce((SELECT l.to_state FROM fsm.log l
                                 WHERE l.machine = 'risk_response' AND l.entity_id = s.id
                                   AND l.at <= p_to ORDER BY l.id DESC LIMIT 1),
                               (SELECT l.from_state FROM fsm.log l
                                 WHERE l.machine = 'risk_response' AND l.entity_id = s.id
                                   AND l.at > p_to ORDER BY l.id LIMIT 1),
                               s.status) IN ('planned', 'in_progress', 'done', 'reviewed'))));

  -- Indicators (R3.2): each active one with its latest measurement made by p_to (null: none yet).
  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'id', k.id, 'code', k.code, 'name', k.name, 'unit', k.unit, 'direction', k.direction,
           'category', k.category, 'value', m.value, 'band', m.band,
           'warning_threshold', m.warning_threshold, 'critical_threshold', m.critical_threshold,
           'measured_at', api.ts(m.measured_at)) ORDER BY k.code), '[]')
    INTO v_indicators
    FROM risk.kris k
    LEFT JOIN LATERAL (SELECT x.value, x.band, x.warning_threshold, x.critical_threshold, x.measured_at
                         FROM risk.kri_measurements x
                        WHERE x.kri_id = k.id AND x.measured_at <= p_to
                        ORDER BY x.measured_at DESC, x.id DESC LIMIT 1) m ON true
   WHERE k.active AND k.created_at <= p_to;

  -- Warnings (R3.2, R3.3): those open at p_to (by their history) and those raised in the window.
  WITH w AS (
    SELECT x.id, x.level, x.value, x.threshold, x.raised_at, x.escalated_at, k.code, k.name,
           coalesce((SELECT l.to_state FROM fsm.log l
                      WHERE l.machine = 'risk_warning' AND l.entity_id = x.id AND l.at <= p_to
                      ORDER BY l.id DESC LIMIT 1),
                    (SELECT l.from_state FROM fsm.log l
                      WHERE l.machine = 'risk_warning' AND l.entity_id = x.id AND l.at > p_to
                      ORDER BY l.id LIMIT 1),
                    x.status) AS st
      FROM risk.warnings x JOIN risk.kris k ON k.id = x.kri_id
     WHERE x.raised_at <= p_to)
  SELECT jsonb_build_object(
           'open', coalesce(jsonb_agg(jsonb_build_object(
                      'id', w.id, 'kri_code', w.code, 'kri_name', w.name, 'level', w.level,
                      'value', w.value, 'threshold', w.threshold, 'status', w.st,
                      'raised_at', api.ts(w.raised_at))
                      ORDER BY w.raised_at, w.id) FILTER (WHERE w.st <> 'closed'), '[]'),
           'raised', coalesce(jsonb_agg(jsonb_build_object(
                      'id', w.id, 'kri_code', w.code, 'kri_name', w.name, 'level', w.level,
                      'value', w.value, 'threshold', w.threshold, 'status', w.st,
                      'raised_at', api.ts(w.raised_at))
                      ORDER BY w.raised_at, w.id) FILTER (WHERE w.raised_at > p_from), '[]'))
    INTO v_warnings
    FROM w;

  RETURN jsonb_build_object(
    'as_of', api.ts(p_to), 'covers_from', api.ts(p_from), 'company_day', v_day,
    'time_zone', v_zone, 'register', v_register, 'heatmap', v_heatmap, 'changes', v_changes,
    'responses', v_responses, 'indicators', v_indicators, 'warnings', v_warnings);
END
$$;
REVOKE ALL ON FUNCTION risk.report_body(timestamptz, timestamptz) FROM PUBLIC;

-- Makes and stores a report as of p_at with the regular day p_scheduled_on (NULL: ad hoc). The
-- chain is serialised by a transaction lock: the previous report is the latest, and p_at may not
-- be before it (nor in the future: a report states facts).
CREATE OR REPLACE FUNCTION risk.make_report_on(p_kind text, p_at timestamptz, p_scheduled_on date)
  RETURNS risk.reports
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_prev risk.reports;
  v_from timestamptz;
  v_body jsonb;
  v_row risk.reports;
  v_months int;
BEGIN
  IF NOT (tx.has_role('system') OR tx.has_role('risk_officer') OR tx.has_role('admin')) THEN
    RAISE EXCEPTION 'this needs the role risk_officer or admin' USING ERRCODE = '42501';
  END IF;
  IF p_kind IS NULL OR p_kind NOT IN ('regular', 'ad_hoc') THEN
    PERFORM api.fail('TXVAL', 'kind', 'is regular or ad_hoc');
  END IF;
  -- a regular report is the job's (R3.1 定期): one per scheduled day, made by nobody else, so
  -- that a person calling this granted function cannot move the schedule
  IF p_kind = 'regular' AND NOT tx.has_role('system') THEN
    RAISE EXCEPTION 'only the job makes regular reports' USING ERRCODE = '42501';
  END IF;
  -- (the clock, not the transaction's start: a report made after writes in the same transaction
  -- states them, as A's assessments are stamped with clock_timestamp())
  IF p_at IS NULL OR p_at > clock_timestamp() THEN
    PERFORM api.fail('TXVAL', 'at', 'must be an instant that has come');
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('risk.reports'));
  -- the chain's tail: the one report no other names as its previous
  SELECT * INTO v_prev FROM risk.reports r
   WHERE NOT EXISTS (SELECT FROM risk.reports n WHERE n.previous_id = r.id);
  IF FOUND AND p_at < v_prev.covers_to THEN
    PERFORM api.fail('TXVAL', 'at', format('must not be before the previous report''s instant %s',
                                           api.ts(v_prev.covers_to)));
  END IF;
  IF FOUND THEN
    v_from := v_prev.covers_to;
  ELSE
    -- The first report looks back one reporting period (risk_schedules.report_every_months).
    v_months := (org.policy_value('risk_schedules',
                                  (p_at AT TIME ZONE org.company_time_zone(p_at))::date)
                 ->> 'report_every_months')::int;
    v_from := p_at - make_interval(months => coalesce(v_months, 1));
  END IF;
  v_body := risk.report_body(v_from, p_at);
  INSERT INTO risk.reports (kind, covers_from, covers_to, previous_id, body, body_sha256, made_by,
                            scheduled_on)
  VALUES (p_kind, v_from, p_at, v_prev.id, v_body, sha256(convert_to(v_body::text, 'UTF8')),
          tx.user_id(), CASE WHEN p_kind = 'regular' THEN p_scheduled_on END)
  RETURNING * INTO v_row;
  RETURN v_row;
END
$$;
REVOKE ALL ON FUNCTION risk.make_report_on(text, timestamptz, date) FROM PUBLIC;

-- R3.1: makes and stores a monitoring report as of p_at (the job's body; a risk officer's ad hoc
-- report). A regular one is for the company day of p_at.
CREATE OR REPLACE FUNCTION risk.make_report(p_kind text, p_at timestamptz) RETURNS risk.reports
  LANGUAGE sql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT risk.make_report_on(p_kind, p_at,
                             (p_at AT TIME ZONE org.company_time_zone(p_at))::date)
$$;
REVOKE ALL ON FUNCTION risk.make_report(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.make_report(text, timestamptz) TO tianxing_app;

-- The job 'risk.reports' (daily; R3.1 定期): the regular report when none was made yet, or when
-- risk_schedules.report_every_months have passed since the day of the last regular one. Payload
-- {"today": "YYYY-MM-DD"} names the company day (a catch-up run); the report is as of now. Runs
-- once per day at most (reports_regular_key), so a retried or repeated run makes nothing twice.
CREATE OR REPLACE FUNCTION risk.reports_job(p_payload jsonb) RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_today date;
  v_last date;
  v_months int;
  v_due date;
  v_row risk.reports;
BEGIN
  IF NOT tx.has_role('system') THEN
    RAISE EXCEPTION 'risk.reports runs as the scheduler' USING ERRCODE = '42501';
  END IF;
  IF p_payload IS NOT NULL AND p_payload ? 'today' THEN
    BEGIN
      IF jsonb_typeof(p_payload -> 'today') <> 'string'
         OR (p_payload ->> 'today') !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
        RAISE EXCEPTION USING ERRCODE = '22007';
      END IF;
      v_today := (p_payload ->> 'today')::date;
    EXCEPTION WHEN data_exception THEN
      RAISE EXCEPTION 'risk.reports: today must be a date YYYY-MM-DD' USING ERRCODE = '22023';
    END;
  ELSE
    v_today := (now() AT TIME ZONE org.company_time_zone())::date;
  END IF;
  v_months := (org.policy_value('risk_schedules', v_today) ->> 'report_every_months')::int;
  SELECT max(r.scheduled_on) INTO v_last FROM risk.reports r WHERE r.kind = 'regular';
  v_due := CASE WHEN v_last IS NULL THEN v_today
                ELSE (v_last + make_interval(months => v_months))::date END;
  IF v_today < v_due THEN
    RETURN jsonb_build_object('today', v_today, 'last', v_last, 'due_on', v_due, 'made', NULL);
  END IF;
  v_row := risk.make_report_on('regular', clock_timestamp(), v_today);
  RETURN jsonb_build_object('today', v_today, 'last', v_last, 'due_on', v_due, 'made', v_row.id);
END
$$;
REVOKE ALL ON FUNCTION risk.reports_job(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.reports_job(jsonb) TO tianxing_app;

-- POST /v1/risk-reports (risk_officer, admin; R3.1): an ad hoc report, {"at"?} (default now).
CREATE OR REPLACE FUNCTION risk.report_create(p_body jsonb) RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_at timestamptz;
  v_row risk.reports;
BEGIN
  PERFORM api.require_role('risk_officer', 'admin');
  PERFORM api.body_keys(coalesce(p_body, '{}'), ARRAY['at']);
  v_at := coalesce(api.body_timestamp(coalesce(p_body, '{}'), 'at', false), clock_timestamp());
  v_row := risk.make_report_on('ad_hoc', v_at, NULL);
  RETURN v_row.id;
END
$$;
REVOKE ALL ON FUNCTION risk.report_create(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.report_create(jsonb) TO tianxing_app;

-- API --------------------------------------------------------------------------------------------
-- A report as the caller sees it (NULL when not visible). p_body: with the whole body.
CREATE OR REPLACE FUNCTION api.risk_report_json(p_id uuid, p_body boolean DEFAULT true) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object(
           'id', r.id, 'kind', r.kind, 'scheduled_on', r.scheduled_on,
           'covers_from', api.ts(r.covers_from), 'covers_to', api.ts(r.covers_to),
           'previous_id', r.previous_id, 'made_by', r.made_by, 'made_at', api.ts(r.made_at),
           'body_sha256', encode(r.body_sha256, 'hex'),
           'summary', json_build_object(
              'open', (r.body #> '{register,open}')::int,
              'by_level', r.body #> '{register,by_level}',
              'new', jsonb_array_length(r.body #> '{changes,new}'),
              'closed', jsonb_array_length(r.body #> '{changes,closed}'),
              'level_changed', jsonb_array_length(r.body #> '{changes,level_changed}'),
              'overdue_responses', jsonb_array_length(r.body #> '{responses,overdue}'),
              'missing_responses', jsonb_array_length(r.body #> '{responses,missing}'),
              'open_warnings', jsonb_array_length(r.body #> '{warnings,open}'),
              'raised_warnings', jsonb_array_length(r.body #> '{warnings,raised}')),
           'body', CASE WHEN p_body THEN r.body END)
    FROM risk.reports r WHERE r.id = p_id
$$;
REVOKE ALL ON FUNCTION api.risk_report_json(uuid, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_report_json(uuid, boolean) TO tianxing_app;

-- GET /v1/risk-reports (R3.1): newest first, without bodies; filter kind; keyset on the last id.
CREATE OR REPLACE FUNCTION api.risk_report_list(p_kind text, p_limit int, p_cursor text) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_after risk.reports;
  v_out json;
BEGIN
  PERFORM api.require_role('risk_officer', 'admin', 'auditor', 'supervisor');
  IF p_kind IS NOT NULL AND p_kind NOT IN ('regular', 'ad_hoc') THEN
    PERFORM api.fail('TXVAL', 'kind', 'is regular or ad_hoc');
  END IF;
  IF p_cursor IS NOT NULL THEN
    IF p_cursor !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
    SELECT * INTO v_after FROM risk.reports r WHERE r.id = p_cursor::uuid;
    IF NOT FOUND THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
  END IF;
  SELECT json_build_object(
           'items', coalesce(json_agg(api.risk_report_json(x.id, false) ORDER BY x.made_at DESC, x.id DESC)
                               FILTER (WHERE x.rn <= v_limit), '[]'),
           'next_cursor', max(x.id::text) FILTER (WHERE x.rn = v_limit AND x.total > v_limit))
    INTO v_out
    FROM (SELECT r.id, r.made_at, row_number() OVER (ORDER BY r.made_at DESC, r.id DESC) AS rn,
                 count(*) OVER () AS total
            FROM risk.reports r
           WHERE (p_kind IS NULL OR r.kind = p_kind)
             AND (p_cursor IS NULL OR (r.made_at, r.id) < (v_after.made_at, v_after.id))
           ORDER BY r.made_at DESC, r.id DESC
           LIMIT v_limit + 1) x;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.risk_report_list(text, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_report_list(text, int, text) TO tianxing_app;

-- GET /v1/risk-reports/{id} (R3.1): the whole report; 404 when unknown or not visible.
CREATE OR REPLACE FUNCTION api.risk_report_get(p_id uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE v json;
BEGIN
  PERFORM api.require_role('risk_officer', 'admin', 'auditor', 'supervisor');
  v := api.risk_report_json(p_id, true);
  IF v IS NULL THEN
    RAISE EXCEPTION 'no such risk report' USING ERRCODE = 'P0002';
  END IF;
  RETURN v;
END
$$;
REVOKE ALL ON FUNCTION api.risk_report_get(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_report_get(uuid) TO tianxing_app;

-- POST /v1/risk-reports (risk_officer, admin): 201 with the report.
CREATE OR REPLACE FUNCTION api.risk_report_create(p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE v uuid;
BEGIN
  v := risk.report_create(p_body);
  RETURN api.risk_report_json(v, true);
END
$$;
REVOKE ALL ON FUNCTION api.risk_report_create(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_report_create(jsonb) TO tianxing_app;

-- GET /v1/risk-heatmap (R3.1, R1.2): today's register as the caller sees it (policy risks_read):
-- the open risks (neither closed nor dismissed) on the 5x5 matrix by their latest inherent
-- assessment, counts by level, and how many are not assessed yet.
CREATE OR REPLACE FUNCTION api.risk_heatmap() RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE v jsonb;
BEGIN
  PERFORM api.require_user();
  SELECT jsonb_build_object(
           'as_of', api.ts(now()),
           'open', count(*),
           'unassessed', count(*) FILTER (WHERE a.level IS NULL),
           'by_level', jsonb_build_object(
              'low', count(*) FILTER (WHERE a.level = 'low'),
              'medium', count(*) FILTER (WHERE a.level = 'medium'),
              'high', count(*) FILTER (WHERE a.level = 'high'),
              'critical', count(*) FILTER (WHERE a.level = 'critical')),
           'heatmap', risk.heatmap_of(coalesce(array_agg(a.likelihood) FILTER (WHERE a.level IS NOT NULL), '{}'),
                                      coalesce(array_agg(a.impact) FILTER (WHERE a.level IS NOT NULL), '{}'),
                                      org.policy_value('risk_matrix',
                                                       (now() AT TIME ZONE org.company_time_zone())::date)))
    INTO v
    FROM risk.risks r
    LEFT JOIN LATERAL (SELECT x.likelihood, x.impact, x.level FROM risk.assessments x
                        WHERE x.risk_id = r.id AND x.kind = 'inherent'
                        ORDER BY x.assessed_at DESC, x.id DESC LIMIT 1) a ON true
   WHERE r.status NOT IN ('closed', 'dismissed');
  RETURN v::json;
END
$$;
REVOKE ALL ON FUNCTION api.risk_heatmap() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.risk_heatmap() TO tianxing_app;
