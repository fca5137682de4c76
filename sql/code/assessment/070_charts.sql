-- Module Q, part E: the data of the two charts (issue 12). Each api.* function answers the JSON
-- that GET routes give as is, and that src/modules/assessment/charts.c draws as SVG when Accept
-- asks for image/svg+xml.
--
-- Who sees what (READINGS.md Q, "Who sees what"; as assessments, 000_access.sql):
--   an employee's trend: the employee, their supervisor (today's, or the one an assessment names),
--     hr, auditor; each month's assessment is shown only when the caller may read it
--     (assessment.may_read), so the chart never shows more than GET /v1/assessments/{id} would;
--   a department's grade distribution: hr, auditor, and the supervisors of that department (an
--     aggregate: they see the counts of every member, not only of their own reports).
-- The readers are SECURITY DEFINER (they judge the caller against rows the caller may not read,
-- e.g. another supervisor's report in the same department) and check the caller first; the api.*
-- functions are SECURITY INVOKER and only call them.

-- The caller may see the chart of p_employee: hr, auditor, the employee, their supervisor today,
-- or a supervisor named on one of their assessments (Q2.1 上級評價).
CREATE OR REPLACE FUNCTION assessment.may_chart_employee(p_employee uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT EXISTS (SELECT FROM org.employees e WHERE e.id = p_employee)
         AND (tx.has_role('hr') OR tx.has_role('auditor') OR p_employee = tx.user_id()
              OR assessment.is_report(p_employee)
              OR (tx.has_role('supervisor')
                  AND EXISTS (SELECT FROM assessment.assessments a
                               WHERE a.employee_id = p_employee
                                 AND a.supervisor_id = tx.user_id())))
$$;
REVOKE ALL ON FUNCTION assessment.may_chart_employee(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.may_chart_employee(uuid) TO tianxing_app;

-- Q1, Q2.1: an employee's monthly indicators over a calendar year. One entry per month (1-12):
-- the live revision (not superseded or rejected) of that month's assessment when there is one the
-- caller may read, with each indicator's figure (NULL when marked: the chart leaves a gap, never
-- a zero) and why it is marked, the composite and the grade. A month without an assessment has
-- assessment_id NULL and every figure NULL.
CREATE OR REPLACE FUNCTION assessment.trend(p_employee uuid, p_year int) RETURNS json
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_name text;
BEGIN
  PERFORM api.require_role('staff', 'supervisor', 'hr', 'auditor');
  IF p_year IS NULL THEN
    PERFORM api.fail('TXVAL', 'year', 'is required (e.g. 2026)');
  END IF;
  IF p_year NOT BETWEEN 2000 AND 2100 THEN
    PERFORM api.fail('TXVAL', 'year', 'must be between 2000 and 2100');
  END IF;
  IF NOT assessment.may_chart_employee(p_employee) THEN
    RAISE EXCEPTION 'no such employee' USING ERRCODE = 'P0002';
  END IF;
  SELECT e.display_name INTO v_name FROM org.employees e WHERE e.id = p_employee;
  RETURN json_build_object(
    'employee_id', p_employee,
    'employee_name', v_name,
    'year', p_year,
    'indicators', json_build_array('completion_rate', 'satisfaction', 'accuracy', 'efficiency',
                                   'teamwork'),
    'months', (
      SELECT json_agg(json_build_object(
               'month', m,
               'period_id', p.id,
               'assessment_id', a.id,
               'status', a.status,
               'composite', a.composite,
               'grade', a.grade,
               'values', (SELECT json_object_agg(ind, json_build_object(
                                   'figure', v.figure,
                                   'marked', CASE WHEN a.id IS NULL THEN 'not_assessed'
                                                  ELSE coalesce(v.marked,
                                                                CASE WHEN v.figure IS NULL
                                                                     THEN 'no_data' END) END)
                                   ORDER BY o)
                            FROM unnest(ARRAY['completion_rate', 'satisfaction', 'accuracy',
                                              'efficiency', 'teamwork'])
                                 WITH ORDINALITY AS i(ind, o)
                            LEFT JOIN assessment.indicator_values v
                                   ON v.assessment_id = a.id AND v.indicator = i.ind))
               ORDER BY m)
        FROM generate_series(1, 12) AS m
        LEFT JOIN assessment.periods p
               ON p.kind = 'month' AND p.label = to_char(make_date(p_year, m, 1), 'YYYY-MM')
        LEFT JOIN LATERAL (
               SELECT x.* FROM assessment.assessments x
                WHERE x.period_id = p.id AND x.employee_id = p_employee
                  AND x.status NOT IN ('superseded', 'rejected')
                  AND assessment.may_read(x.id)
                ORDER BY x.revision DESC LIMIT 1) a ON true));
END
$$;
REVOKE ALL ON FUNCTION assessment.trend(uuid, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.trend(uuid, int) TO tianxing_app;

-- GET /v1/employees/{id}/assessment-trend?year=
CREATE OR REPLACE FUNCTION api.assessment_trend(p_employee uuid, p_year int) RETURNS json
  LANGUAGE sql STABLE
  AS $$ SELECT assessment.trend(p_employee, p_year) $$;
REVOKE ALL ON FUNCTION api.assessment_trend(uuid, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.assessment_trend(uuid, int) TO tianxing_app;

-- Q2.2, Q4: how the grades of a department's assessments of a period are spread. Counts the live
-- revisions (not superseded or rejected) whose department (the employee's at the period's end)
-- is p_department, one bar per grade band of the period (its parameters, read when it opened;
-- the policy in force at its end when they lack the bands), highest first; `ungraded` counts the
-- assessments without a grade yet (e.g. an annual one before its evaluation). All statuses count:
-- hr follows the distribution while the period's assessments move to publication; `by_status`
-- says how many are at which step.
CREATE OR REPLACE FUNCTION assessment.grade_distribution(p_department uuid, p_period uuid)
  RETURNS json
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  d org.departments;
  p assessment.periods;
  v_bands jsonb;
BEGIN
  PERFORM api.require_role('supervisor', 'hr', 'auditor');
  SELECT * INTO d FROM org.departments x WHERE x.id = p_department;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such department' USING ERRCODE = 'P0002';
  END IF;
  IF p_period IS NULL THEN
    PERFORM api.fail('TXVAL', 'period_id', 'is required');
  END IF;
  SELECT * INTO p FROM assessment.periods x WHERE x.id = p_period;
  IF NOT FOUND THEN
    PERFORM api.fail('TXVAL', 'period_id', 'is no assessment period');
  END IF;
  IF NOT (tx.has_role('hr') OR tx.has_role('auditor')
          OR (tx.has_role('supervisor')
              AND EXISTS (SELECT FROM org.employees e
                           WHERE e.id = tx.user_id() AND e.department_id = p_department))) THEN
    RAISE EXCEPTION 'only hr, auditors and the department''s supervisors see its grade distribution'
      USING ERRCODE = '42501';
  END IF;
  v_bands := coalesce(p.parameters -> 'assessment_grade_bands',
                      org.policy_value('assessment_grade_bands', p.ends_on));
  RETURN (
    WITH live AS (
      SELECT a.grade, a.status FROM assessment.assessments a
       WHERE a.period_id = p.id AND a.department_id = p_department
         AND a.status NOT IN ('superseded', 'rejected'))
    SELECT json_build_object(
      'department_id', d.id,
      'department_name', d.name,
      'period_id', p.id,
      'period_label', p.label,
      'period_kind', p.kind,
      -- the bands, then any grade no band names (the bands changed since it was given)
      'grades', (SELECT coalesce(json_agg(json_build_object('grade', g.grade, 'min', g.min,
                                                            'count', g.n) ORDER BY g.o), '[]')
                   FROM (SELECT b ->> 'grade' AS grade, (b ->> 'min')::numeric AS min, o,
                                (SELECT count(*) FROM live l WHERE l.grade = b ->> 'grade') AS n
                           FROM jsonb_array_elements(v_bands) WITH ORDINALITY AS t(b, o)
                         UNION ALL
                         SELECT l.grade, NULL, 1000000 + rank() OVER (ORDER BY l.grade), count(*)
                           FROM live l
                          WHERE l.grade IS NOT NULL
                            AND NOT EXISTS (SELECT FROM jsonb_array_elements(v_bands) b
                                             WHERE b ->> 'grade' = l.grade)
                          GROUP BY l.grade) g),
      'ungraded', (SELECT count(*) FROM live l WHERE l.grade IS NULL),
      'total', (SELECT count(*) FROM live),
      'by_status', (SELECT coalesce(json_object_agg(s.status, s.n ORDER BY s.status), '{}')
                      FROM (SELECT l.status, count(*) AS n FROM live l GROUP BY l.status) s)));
END
$$;
REVOKE ALL ON FUNCTION assessment.grade_distribution(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.grade_distribution(uuid, uuid) TO tianxing_app;

-- GET /v1/departments/{id}/grade-distribution?period_id=
CREATE OR REPLACE FUNCTION api.grade_distribution(p_department uuid, p_period uuid) RETURNS json
  LANGUAGE sql STABLE
  AS $$ SELECT assessment.grade_distribution(p_department, p_period) $$;
REVOKE ALL ON FUNCTION api.grade_distribution(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.grade_distribution(uuid, uuid) TO tianxing_app;
