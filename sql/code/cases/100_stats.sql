-- Case throughput and overdue by week (issue 16, "For people"): the data of
-- GET /v1/case-stats/weekly, answered as JSON and drawn as SVG by src/modules/cases/charts.c.
--
-- Who sees what: the function is SECURITY INVOKER, so the counts are of the cases the caller may
-- read under the policies of 000_access.sql (the same as GET /v1/cases): staff their own and
-- assigned cases, a supervisor their department's, admin and auditor all. A chart never counts a
-- case its reader could not list.
--
-- A week is an ISO week (Monday to Sunday) of the company's calendar, in the company's time zone
-- today (org.company_time_zone: one zone for the whole range, so every week has seven days):
--   opened  cases received (received_at) in the week (P1.1);
--   closed  cases that reached an end in the week: archived (archived_at, P4.1), or ended with a
--           reason (closed_at: out of scope, rejected, cancelled);
--   overdue cases with at least one deadline (reception, approval, milestone, escalation, review
--           feedback, archiving; P1.1-P4.1) marked overdue in the week (cases.deadlines.overdue_at,
--           stored once by the deadlines job), counted once per week whatever the number of marks.
-- Every week of the range is listed, a week with nothing with zeros.

CREATE OR REPLACE FUNCTION api.case_stats_weekly(p_from date, p_to date, p_business_type uuid,
                                                 p_department uuid)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_zone text := org.company_time_zone(now());
  v_to date := coalesce(p_to, org.company_date());
  -- twelve weeks ending with the week of `to` by default
  v_from date := coalesce(p_from, date_trunc('week', v_to)::date - 77);
  v_first date;
  v_last date;
  v_type_name text;
  v_out json;
BEGIN
  PERFORM api.require_user();
  IF v_from > v_to THEN
    PERFORM api.fail('TXVAL', 'to', 'must not be before from');
  END IF;
  v_first := date_trunc('week', v_from)::date;
  v_last := date_trunc('week', v_to)::date;
  -- a bound on the work and on the picture: two years of weeks
  IF v_last - v_first > 7 * 105 THEN
    PERFORM api.fail('TXVAL', 'from', 'the range spans at most 106 weeks');
  END IF;
  IF p_business_type IS NOT NULL THEN
    SELECT t.name INTO v_type_name FROM cases.business_types t WHERE t.id = p_business_type;
    IF NOT FOUND THEN
      PERFORM api.fail('TXVAL', 'business_type_id', 'is not a business type');
    END IF;
  END IF;
  IF p_department IS NOT NULL AND NOT EXISTS (SELECT FROM org.departments d WHERE d.id = p_department) THEN
    PERFORM api.fail('TXVAL', 'department_id', 'is not a department');
  END IF;

  WITH bounds AS (
    -- the instants where the first week starts and the week after the last one starts
    SELECT (v_first::timestamp AT TIME ZONE v_zone) AS lo,
           ((v_last + 7)::timestamp AT TIME ZONE v_zone) AS hi),
  scope AS (
    -- a case received after the range can neither open, end nor run late in it
    SELECT c.id, c.received_at, coalesce(c.archived_at, c.closed_at) AS ended_at
      FROM cases.cases c, bounds b
     WHERE c.received_at < b.hi
       AND (p_business_type IS NULL OR c.business_type_id = p_business_type)
       AND (p_department IS NULL OR c.department_id = p_department)),
  opened AS (
    SELECT date_trunc('week', s.received_at AT TIME ZONE v_zone)::date AS wk, count(*) AS n
      FROM scope s, bounds b
     WHERE s.received_at >= b.lo AND s.received_at < b.hi
     GROUP BY 1),
  closed AS (
    SELECT date_trunc('week', s.ended_at AT TIME ZONE v_zone)::date AS wk, count(*) AS n
      FROM scope s, bounds b
     WHERE s.ended_at >= b.lo AND s.ended_at < b.hi
     GROUP BY 1),
  overdue AS (
    SELECT date_trunc('week', d.overdue_at AT TIME ZONE v_zone)::date AS wk,
           count(DISTINCT d.case_id) AS n
      FROM cases.deadlines d JOIN scope s ON s.id = d.case_id, bounds b
     WHERE d.overdue_at >= b.lo AND d.overdue_at < b.hi
     GROUP BY 1),
  weeks AS (
    SELECT w::date AS wk FROM generate_series(v_first, v_last, interval '7 days') w)
  SELECT json_build_object(
           'from', v_from, 'to', v_to, 'time_zone', v_zone,
           'business_type_id', p_business_type, 'business_type_name', v_type_name,
           'department_id', p_department,
           'weeks', json_agg(json_build_object(
                      'week', to_char(w.wk, 'IYYY-"W"IW'), 'starts_on', w.wk,
                      'opened', coalesce(o.n, 0), 'closed', coalesce(c.n, 0),
                      'overdue', coalesce(x.n, 0)) ORDER BY w.wk),
           'totals', json_build_object('opened', coalesce(sum(o.n), 0),
                                       'closed', coalesce(sum(c.n), 0),
                                       'overdue', coalesce(sum(x.n), 0)))
    INTO v_out
    FROM weeks w
    LEFT JOIN opened o ON o.wk = w.wk
    LEFT JOIN closed c ON c.wk = w.wk
    LEFT JOIN overdue x ON x.wk = w.wk;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.case_stats_weekly(date, date, uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_stats_weekly(date, date, uuid, uuid) TO tianxing_app;
