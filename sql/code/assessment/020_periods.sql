-- Module Q, part A: assessment periods (Q2.1 monthly, Q2.2 annual). A period is opened once, by
-- the job 'assessment.periods' on the first working day of the month after it (in January also
-- the year before, after its December), or by HR for a period that has ended; opening copies the
-- policy values in force at its last day into the period (so recomputing later gives the same
-- figures) and computes it. HR recomputes and closes it (guard assessment.period_complete).
-- Every signed-in employee reads the periods (policy periods_read, 000_access.sql).

-- The period's time zone: the company's at its opening (copied into parameters), so that its
-- bounds never move; before a value was copied, the one in force at its last day.
CREATE OR REPLACE FUNCTION assessment.period_zone(p_period uuid) RETURNS text
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE p assessment.periods;
BEGIN
  SELECT * INTO p FROM assessment.periods x WHERE x.id = p_period;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such assessment period' USING ERRCODE = 'P0002';
  END IF;
  RETURN coalesce(p.parameters ->> 'company_time_zone',
                  org.company_time_zone((p.ends_on + 1)::timestamp AT TIME ZONE 'UTC'));
END
$$;
REVOKE ALL ON FUNCTION assessment.period_zone(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.period_zone(uuid) TO tianxing_app;

-- The first instant of starts_on in the company's zone: facts count after it (READINGS.md Q).
CREATE OR REPLACE FUNCTION assessment.period_start(p_period uuid) RETURNS timestamptz
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT p.starts_on::timestamp AT TIME ZONE assessment.period_zone(p.id)
    FROM assessment.periods p WHERE p.id = p_period
$$;
REVOKE ALL ON FUNCTION assessment.period_start(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.period_start(uuid) TO tianxing_app;

-- The end of ends_on in the company's zone (the first instant of the next day there): facts count
-- up to and including it; "passed by period end" is passed_at <= this (Q1 item 1).
CREATE OR REPLACE FUNCTION assessment.period_end(p_period uuid) RETURNS timestamptz
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT (p.ends_on + 1)::timestamp AT TIME ZONE assessment.period_zone(p.id)
    FROM assessment.periods p WHERE p.id = p_period
$$;
REVOKE ALL ON FUNCTION assessment.period_end(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.period_end(uuid) TO tianxing_app;

-- The policy values a period uses, as in force on its last day (migration 0022's comment on
-- assessment.periods.parameters), and the company's time zone then.
CREATE OR REPLACE FUNCTION assessment.period_parameters(p_ends_on date) RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'assessment_weights', org.policy_value('assessment_weights', p_ends_on),
    'assessment_grade_bands', org.policy_value('assessment_grade_bands', p_ends_on),
    'assessment_annual_weights', org.policy_value('assessment_annual_weights', p_ends_on),
    'assessment_training_thresholds', org.policy_value('assessment_training_thresholds', p_ends_on),
    'assessment_bonus_coefficients', org.policy_value('assessment_bonus_coefficients', p_ends_on),
    'assessment_promotion_rule', org.policy_value('assessment_promotion_rule', p_ends_on),
    'company_time_zone', org.company_time_zone((p_ends_on + 1)::timestamp AT TIME ZONE 'UTC')))
$$;
REVOKE ALL ON FUNCTION assessment.period_parameters(date) FROM PUBLIC;

-- The company's "today" is org.company_date() (sql/code/cases/010_calendar.sql), shared with R.
DROP FUNCTION IF EXISTS assessment.company_today();

-- Opens the period p_label ('YYYY-MM' a month, 'YYYY' a year) that ended before p_today, once:
-- returns its id and whether this call opened it. 422 'label' for a malformed label or a period
-- not ended yet. Not granted: the job and HR's writer below call it.
CREATE OR REPLACE FUNCTION assessment.open_period(p_label text, p_by uuid, p_today date,
                                                  OUT period_id uuid, OUT opened boolean)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_kind text;
  v_start date;
  v_end date;
BEGIN
  IF p_label IS NULL OR p_label !~ '^[0-9]{4}(-(0[1-9]|1[0-2]))?$' OR left(p_label, 4)::int < 2000 THEN
    PERFORM api.fail('TXVAL', 'label', 'is YYYY-MM (a month) or YYYY (a year), from 2000');
  END IF;
  IF length(p_label) = 4 THEN
    v_kind := 'year';
    v_start := make_date(left(p_label, 4)::int, 1, 1);
    v_end := (v_start + interval '1 year' - interval '1 day')::date;
  ELSE
    v_kind := 'month';
    v_start := make_date(left(p_label, 4)::int, right(p_label, 2)::int, 1);
    v_end := (v_start + interval '1 month' - interval '1 day')::date;
  END IF;
  SELECT x.id INTO period_id FROM assessment.periods x WHERE x.label = p_label;
  IF FOUND THEN
    opened := false;
    RETURN;
  END IF;
  IF v_end >= p_today THEN
    PERFORM api.fail('TXVAL', 'label', format('the period %s has not ended yet (it ends on %s)',
                                              p_label, v_end));
  END IF;
  INSERT INTO assessment.periods (kind, label, starts_on, ends_on, parameters, opened_by)
  VALUES (v_kind, p_label, v_start, v_end, assessment.period_parameters(v_end), p_by)
  ON CONFLICT (label) DO NOTHING
  RETURNING id INTO period_id;
  opened := period_id IS NOT NULL;
  IF NOT opened THEN
    SELECT x.id INTO period_id FROM assessment.periods x WHERE x.label = p_label;
  END IF;
END
$$;
REVOKE ALL ON FUNCTION assessment.open_period(text, uuid, date) FROM PUBLIC;

-- The job kind 'assessment.periods' (schedule daily 01:00 company time, migration 0022): on the
-- first working day of a month (org.is_workday: no working day before it in that month), opens
-- and computes the month before (Q2.1); in January also the year before, after its December
-- (Q2.2). Idempotent: a period opens once; a run on any other day, or again on the same day,
-- opens nothing. Payload {"today": "YYYY-MM-DD"} for catch-up runs and tests (default: the
-- company's date today). Runs without a signed-in employee; opens only periods that ended.
CREATE OR REPLACE FUNCTION assessment.periods_job(p_payload jsonb) RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_today date;
  v_first boolean;
  v_label text;
  v_opened text[] := '{}';
  v_computed int := 0;
  o record;
BEGIN
  IF p_payload IS NOT NULL AND p_payload ? 'today' THEN
    BEGIN
      IF jsonb_typeof(p_payload -> 'today') <> 'string'
         OR (p_payload ->> 'today') !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
        RAISE EXCEPTION USING ERRCODE = '22007';
      END IF;
      v_today := (p_payload ->> 'today')::date;
    EXCEPTION WHEN data_exception THEN
      RAISE EXCEPTION 'assessment.periods: today must be a date YYYY-MM-DD' USING ERRCODE = '22023';
    END;
  ELSE
    v_today := org.company_date();
  END IF;
  v_first := org.is_workday(v_today)
             AND NOT EXISTS (SELECT FROM generate_series(date_trunc('month', v_today)::date,
                                                         v_today - 1, interval '1 day') d
                              WHERE org.is_workday(d::date));
  IF v_first THEN
    FOREACH v_label IN ARRAY
      ARRAY[to_char(v_today - interval '1 month', 'YYYY-MM')]
      || CASE WHEN extract(month FROM v_today) = 1
              THEN ARRAY[to_char(v_today - interval '1 year', 'YYYY')] ELSE '{}'::text[] END LOOP
      o := assessment.open_period(v_label, NULL, v_today);
      IF o.opened THEN
        v_opened := v_opened || v_label;
        v_computed := v_computed + assessment.compute_period(o.period_id);
      END IF;
    END LOOP;
  END IF;
  RETURN jsonb_build_object('today', v_today, 'first_workday', v_first, 'opened', to_jsonb(v_opened),
                            'computed', v_computed);
END
$$;
REVOKE ALL ON FUNCTION assessment.periods_job(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.periods_job(jsonb) TO tianxing_app;

-- HR's writers -----------------------------------------------------------------------------------

-- POST /v1/assessment-periods (hr; Q2.1, Q2.2): {"label": "YYYY-MM" | "YYYY"}, a period that has
-- ended (company date). Opens and computes it. Already open: 409 (TXDUP, existing_id).
CREATE OR REPLACE FUNCTION assessment.period_open_hr(p_body jsonb) RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_label text;
  o record;
BEGIN
  PERFORM api.require_role('hr');
  PERFORM api.body_keys(p_body, ARRAY['label']);
  v_label := api.body_text(p_body, 'label', true, 7);
  o := assessment.open_period(v_label, tx.user_id(), org.company_date());
  IF NOT o.opened THEN
    RAISE EXCEPTION USING ERRCODE = 'TXDUP',
      MESSAGE = format('the period %s is open already', v_label),
      DETAIL = jsonb_build_object('existing_id', o.period_id,
                 'errors', jsonb_build_array(api.field_error('label', 'duplicate',
                                                             'this period is open already')))::text;
  END IF;
  PERFORM assessment.compute_period(o.period_id);
  RETURN o.period_id;
END
$$;
REVOKE ALL ON FUNCTION assessment.period_open_hr(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.period_open_hr(jsonb) TO tianxing_app;

-- POST /v1/assessment-periods/{id}/compute (hr): recompute an open period (after a late fact, a
-- correction of P's facts, a new employee); returns how many assessments it created or
-- recomputed. A closed period: 409.
CREATE OR REPLACE FUNCTION assessment.period_compute_hr(p_id uuid) RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  PERFORM api.require_user();
  IF NOT EXISTS (SELECT FROM assessment.periods p WHERE p.id = p_id) THEN
    RAISE EXCEPTION 'no such assessment period' USING ERRCODE = 'P0002';
  END IF;
  PERFORM api.require_role('hr');
  RETURN assessment.compute_period(p_id);
END
$$;
REVOKE ALL ON FUNCTION assessment.period_compute_hr(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.period_compute_hr(uuid) TO tianxing_app;

-- POST /v1/assessment-periods/{id}/close (hr): {"reason"?}; the guard period_complete refuses
-- while an assessment is on its way (409 with allowed_actions and the guard).
CREATE OR REPLACE FUNCTION assessment.period_close_hr(p_id uuid, p_body jsonb) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_reason text;
BEGIN
  PERFORM api.require_user();
  IF NOT EXISTS (SELECT FROM assessment.periods p WHERE p.id = p_id) THEN
    RAISE EXCEPTION 'no such assessment period' USING ERRCODE = 'P0002';
  END IF;
  PERFORM api.require_role('hr');
  PERFORM api.body_keys(p_body, ARRAY['reason']);
  v_reason := api.body_text(p_body, 'reason', false, 2000);
  PERFORM fsm.move('assessment_period', p_id, 'close', v_reason,
                   jsonb_build_object('closed_at', now()));
END
$$;
REVOKE ALL ON FUNCTION assessment.period_close_hr(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.period_close_hr(uuid, jsonb) TO tianxing_app;

-- The API (SECURITY INVOKER: the caller reads under the policies) ------------------------------

-- A period as JSON: its dates, bounds as instants, status and parameters, and the count of its
-- assessments the caller may see, by status; allowed_actions for the caller.
CREATE OR REPLACE FUNCTION api.period_json(p_id uuid) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object(
    'id', p.id, 'kind', p.kind, 'label', p.label,
    'starts_on', p.starts_on, 'ends_on', p.ends_on,
    'starts_at', api.ts(assessment.period_start(p.id)), 'ends_at', api.ts(assessment.period_end(p.id)),
    'status', p.status, 'parameters', p.parameters, 'opened_by', p.opened_by,
    'opened_at', api.ts(p.opened_at), 'computed_at', api.ts(p.computed_at),
    'closed_at', api.ts(p.closed_at),
    'assessments', (SELECT json_build_object(
                             'total', coalesce(sum(s.n), 0),
                             'by_status', coalesce(json_object_agg(s.status, s.n), '{}'))
                      FROM (SELECT a.status, count(*) AS n FROM assessment.assessments a
                             WHERE a.period_id = p.id GROUP BY a.status) s),
    'allowed_actions', to_json(fsm.allowed_actions('assessment_period', p.status)),
    'version', p.version, 'created_at', api.ts(p.created_at), 'updated_at', api.ts(p.updated_at))
    FROM assessment.periods p WHERE p.id = p_id
$$;
REVOKE ALL ON FUNCTION api.period_json(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.period_json(uuid) TO tianxing_app;

-- GET /v1/assessment-periods/{id} (every signed-in employee).
CREATE OR REPLACE FUNCTION api.period_get(p_id uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE v json;
BEGIN
  PERFORM api.require_user();
  v := api.period_json(p_id);
  IF v IS NULL THEN
    RAISE EXCEPTION 'no such assessment period' USING ERRCODE = 'P0002';
  END IF;
  RETURN v;
END
$$;
REVOKE ALL ON FUNCTION api.period_get(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.period_get(uuid) TO tianxing_app;

-- GET /v1/assessment-periods?kind=&status=&limit=&cursor= : newest first (starts_on, then the
-- month before its year); keyset, the cursor is the label of the last item.
CREATE OR REPLACE FUNCTION api.period_list(p_kind text, p_status text, p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_start date;
  v_out json;
BEGIN
  PERFORM api.require_user();
  IF p_kind IS NOT NULL AND p_kind NOT IN ('month', 'year') THEN
    PERFORM api.fail('TXVAL', 'kind', 'is month or year');
  END IF;
  IF p_status IS NOT NULL AND p_status NOT IN ('open', 'closed') THEN
    PERFORM api.fail('TXVAL', 'status', 'is open or closed');
  END IF;
  IF p_cursor IS NOT NULL THEN
    IF p_cursor !~ '^[0-9]{4}(-(0[1-9]|1[0-2]))?$' THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
    v_start := make_date(left(p_cursor, 4)::int, coalesce(nullif(substr(p_cursor, 6, 2), '')::int, 1), 1);
  END IF;
  SELECT json_build_object(
           'items', coalesce(json_agg(api.period_json(x.id) ORDER BY x.starts_on DESC, x.label DESC)
                               FILTER (WHERE x.rn <= v_limit), '[]'),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN max(x.label) FILTER (WHERE x.rn = v_limit) END)
    INTO v_out
    FROM (SELECT p.id, p.starts_on, p.label,
                 row_number() OVER (ORDER BY p.starts_on DESC, p.label DESC) AS rn
            FROM assessment.periods p
           WHERE (p_kind IS NULL OR p.kind = p_kind)
             AND (p_status IS NULL OR p.status = p_status)
             AND (p_cursor IS NULL OR (p.starts_on, p.label) < (v_start, p_cursor))
           ORDER BY p.starts_on DESC, p.label DESC
           LIMIT v_limit + 1) x;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.period_list(text, text, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.period_list(text, text, int, text) TO tianxing_app;

-- POST /v1/assessment-periods (hr): 201 with the period, opened and computed.
-- (plpgsql: the JSON is read by a statement after the one that opened it, and so sees it)
CREATE OR REPLACE FUNCTION api.period_open(p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE v uuid;
BEGIN
  v := assessment.period_open_hr(p_body);
  RETURN api.period_json(v);
END
$$;
REVOKE ALL ON FUNCTION api.period_open(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.period_open(jsonb) TO tianxing_app;

-- POST /v1/assessment-periods/{id}/compute (hr): the period with "computed", how many
-- assessments were created or recomputed.
CREATE OR REPLACE FUNCTION api.period_compute(p_id uuid) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE n int;
BEGIN
  n := assessment.period_compute_hr(p_id);
  RETURN (api.period_json(p_id)::jsonb || jsonb_build_object('computed', n))::json;
END
$$;
REVOKE ALL ON FUNCTION api.period_compute(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.period_compute(uuid) TO tianxing_app;

-- POST /v1/assessment-periods/{id}/close (hr).
CREATE OR REPLACE FUNCTION api.period_close(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM assessment.period_close_hr(p_id, p_body);
  RETURN api.period_json(p_id);
END
$$;
REVOKE ALL ON FUNCTION api.period_close(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.period_close(uuid, jsonb) TO tianxing_app;

-- GET /v1/assessment-periods/{id}/transitions: the period's moves, oldest first.
CREATE OR REPLACE FUNCTION api.period_transitions(p_id uuid, p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  PERFORM api.require_user();
  IF NOT EXISTS (SELECT FROM assessment.periods p WHERE p.id = p_id) THEN
    RAISE EXCEPTION 'no such assessment period' USING ERRCODE = 'P0002';
  END IF;
  RETURN fsm.history('assessment_period', p_id, p_limit, p_cursor);
END
$$;
REVOKE ALL ON FUNCTION api.period_transitions(uuid, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.period_transitions(uuid, int, text) TO tianxing_app;
