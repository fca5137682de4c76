-- Module Q, part A: the five indicators of Q1 (formula version 1), the composite and the grade
-- (Q1, Q2.1), the annual combination (Q2.2), and the computation of a period. The readings of
-- formula version 1 are written out in docs/assessment.md; each function below cites the one it
-- implements. Everything here reads stored facts only (module P's cases, assignments, review
-- rounds, milestone deadlines and confirmations; survey answers; the supervisor's rating), so
-- computing a period twice from the same facts gives the same figures and the same evidence hash.
--
-- The writers are SECURITY DEFINER (owner tianxing_owner, search_path pinned, names qualified):
-- the runtime role reads module Q's tables under their policies and writes nothing itself; the
-- facts they count (cases of other departments, other people's answers) are read as the owner.

-- The formula version these functions implement; stored with every indicator row and assessment.
CREATE OR REPLACE FUNCTION assessment.formula_version() RETURNS int
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT 1 $$;
REVOKE ALL ON FUNCTION assessment.formula_version() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.formula_version() TO tianxing_app;

-- Functions of earlier cuts, replaced by the set-based period_facts and team_cases below (only
-- the facts of a person while employed count: an active span with the role staff at the fact's
-- instant, spans half-open [valid_from, valid_to); the credit split: every employee ever assigned
-- to a case shares it equally, cancelled cases left out).
DROP FUNCTION IF EXISTS assessment.employed_at(uuid, timestamptz);
DROP FUNCTION IF EXISTS assessment.credited_cases(uuid);

-- The four indicators computed from facts (Q1 items 1-4) for the employees p_employees over the
-- instants (p_from, p_to] -- the period: a fact at the period's end instant (the first moment of
-- the next day in the company's zone, which is how deadlines fall due at the end of a working day)
-- is the period's; one at its start belongs to the period before. One row per employee and
-- indicator, with its figure (2 decimals) or its mark, the numerator and denominator, and the
-- evidence sorted by kind then id.
--
-- Set-based: the period's facts are found once, by time (the indexes of migration 0023), and
-- credited to everyone at once, so a month for a thousand people reads each fact of the month
-- once instead of each person's whole history (tests/bench, scenario assessment_month). One
-- employee's figures (a correction's recomputation) are the same query with one id.
CREATE OR REPLACE FUNCTION assessment.period_facts(p_from timestamptz, p_to timestamptz,
                                                   p_employees uuid[])
  RETURNS TABLE (employee_id uuid, indicator text, figure numeric, numerator numeric,
                 denominator numeric, marked text, evidence jsonb)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  WITH emp AS (SELECT DISTINCT e AS employee_id FROM unnest(p_employees) e),
  -- when each was employed: an active span with the role staff, half-open [valid_from, valid_to)
  employed AS (
    SELECT s.employee_id, s.valid_from, coalesce(s.valid_to, 'infinity') AS valid_to
      FROM org.employee_spans s
     WHERE s.employee_id IN (SELECT emp.employee_id FROM emp) AND s.active AND 'staff' = ANY (s.roles)
       AND s.valid_from <= p_to AND (s.valid_to IS NULL OR s.valid_to > p_from)),
  -- milestone deadlines due in the period and not closed (efficiency; completion's candidates)
  due_dl AS (
    SELECT dl.id, dl.case_id, dl.due_at, (dl.met_at IS NOT NULL AND dl.met_at <= dl.due_at) AS met
      FROM cases.deadlines dl
     WHERE dl.kind = 'milestone' AND dl.closed_at IS NULL
       AND dl.due_at > p_from AND dl.due_at <= p_to),
  -- cases due in the period: due = the latest due_at of their milestone deadlines not closed
  due_case AS (
    SELECT d.case_id, max(d.due_at) AS due_at
      FROM cases.deadlines d
     WHERE d.kind = 'milestone' AND d.closed_at IS NULL
       AND d.case_id IN (SELECT x.case_id FROM due_dl x)
     GROUP BY d.case_id
    HAVING max(d.due_at) <= p_to),
  rev AS (
    SELECT r.id, r.case_id, r.round, r.outcome, r.decided_at
      FROM cases.reviews r
     WHERE r.decided_at > p_from AND r.decided_at <= p_to),
  conf AS (
    SELECT cf.id, cf.case_id, cf.rating, cf.at
      FROM cases.confirmations cf
     WHERE cf.rating IS NOT NULL AND cf.at > p_from AND cf.at <= p_to),
  -- the credit split (Q1): every employee ever assigned to a case these facts are about shares it
  -- equally; cancelled cases count for nobody
  credit AS (
    SELECT x.case_id, x.employee_id, 1::numeric / count(*) OVER (PARTITION BY x.case_id) AS weight
      FROM (SELECT DISTINCT a.case_id, a.employee_id
              FROM cases.assignments a
             WHERE a.case_id IN (SELECT case_id FROM due_dl UNION SELECT case_id FROM rev
                                 UNION SELECT case_id FROM conf)) x
      JOIN cases.cases c ON c.id = x.case_id AND c.status <> 'cancelled'),
  mine AS (
    SELECT k.* FROM credit k WHERE k.employee_id IN (SELECT emp.employee_id FROM emp)),
  agg AS (
    -- 1. completion_rate: weighted; passed = review passed by the period's end
    SELECT k.employee_id, 'completion_rate' AS indicator,
           sum(k.weight) FILTER (WHERE x.passed) AS num, sum(k.weight) AS den,
           jsonb_agg(jsonb_build_object('kind', 'case', 'id', x.case_id,
                                        'weight', round(k.weight, 4),
                                        'due_at', api.ts(x.due_at), 'passed', x.passed)
                     ORDER BY x.case_id) AS ev
      FROM (SELECT dc.case_id, dc.due_at, (c.passed_at IS NOT NULL AND c.passed_at <= p_to) AS passed
              FROM due_case dc JOIN cases.cases c ON c.id = dc.case_id) x
      JOIN mine k ON k.case_id = x.case_id
     WHERE EXISTS (SELECT FROM employed w WHERE w.employee_id = k.employee_id AND w.valid_from <= x.due_at AND x.due_at < w.valid_to)
     GROUP BY k.employee_id
    UNION ALL
    -- 2. satisfaction: the confirmations' ratings, (rating - 1) x 25, and the survey answers'
    -- scores attributed to the employee (already 0-100)
    SELECT y.employee_id, 'satisfaction', sum(y.value), count(*),
           jsonb_agg(y.ev ORDER BY y.kind, y.id)
      FROM (SELECT k.employee_id, 'confirmation' AS kind, cf.id,
                   ((cf.rating - 1) * 25)::numeric AS value,
                   jsonb_build_object('kind', 'confirmation', 'id', cf.id, 'case_id', cf.case_id,
                                      'rating', cf.rating, 'value', (cf.rating - 1) * 25) AS ev
              FROM conf cf JOIN mine k ON k.case_id = cf.case_id
             WHERE EXISTS (SELECT FROM employed w WHERE w.employee_id = k.employee_id AND w.valid_from <= cf.at AND cf.at < w.valid_to)
            UNION ALL
            SELECT sa.employee_id, 'answer', an.id, an.score,
                   jsonb_build_object('kind', 'answer', 'id', an.id, 'value', an.score)
              FROM assessment.survey_answers an
              JOIN assessment.survey_attributions sa ON sa.answer_id = an.id
              JOIN assessment.survey_sends ss ON ss.id = an.send_id
              LEFT JOIN cases.cases c ON c.id = coalesce(sa.case_id, ss.case_id)
             WHERE an.score IS NOT NULL AND an.at > p_from AND an.at <= p_to
               AND sa.employee_id IN (SELECT emp.employee_id FROM emp)
               AND c.status IS DISTINCT FROM 'cancelled'
               AND EXISTS (SELECT FROM employed w WHERE w.employee_id = sa.employee_id AND w.valid_from <= an.at AND an.at < w.valid_to)) y
     GROUP BY y.employee_id
    UNION ALL
    -- 3. accuracy (first-pass share): review rounds decided in the period, passed / decided
    SELECT k.employee_id, 'accuracy', count(*) FILTER (WHERE r.outcome = 'passed'), count(*),
           jsonb_agg(jsonb_build_object('kind', 'review', 'id', r.id, 'case_id', r.case_id,
                                        'round', r.round, 'passed', r.outcome = 'passed')
                     ORDER BY r.id)
      FROM rev r JOIN mine k ON k.case_id = r.case_id
     WHERE EXISTS (SELECT FROM employed w WHERE w.employee_id = k.employee_id AND w.valid_from <= r.decided_at AND r.decided_at < w.valid_to)
     GROUP BY k.employee_id
    UNION ALL
    -- 4. efficiency (on-time share): milestone deadlines due in the period, met by their due_at
    SELECT k.employee_id, 'efficiency', count(*) FILTER (WHERE d.met), count(*),
           jsonb_agg(jsonb_build_object('kind', 'deadline', 'id', d.id, 'case_id', d.case_id,
                                        'due_at', api.ts(d.due_at), 'met', d.met)
                     ORDER BY d.id)
      FROM due_dl d JOIN mine k ON k.case_id = d.case_id
     WHERE EXISTS (SELECT FROM employed w WHERE w.employee_id = k.employee_id AND w.valid_from <= d.due_at AND d.due_at < w.valid_to)
     GROUP BY k.employee_id)
  -- Nothing counted: no figure, a mark (satisfaction: no answers; the others: no data), never 0.
  SELECT e.employee_id, i.indicator,
         CASE WHEN g.den > 0 THEN
           round(CASE i.indicator WHEN 'satisfaction' THEN g.num / g.den
                                  ELSE 100 * coalesce(g.num, 0) / g.den END, 2) END,
         round(coalesce(g.num, 0), 4), round(coalesce(g.den, 0), 4),
         CASE WHEN g.den > 0 THEN NULL
              WHEN i.indicator = 'satisfaction' THEN 'no_answers' ELSE 'no_data' END,
         coalesce(g.ev, '[]')
    FROM emp e
   CROSS JOIN (VALUES ('completion_rate'), ('satisfaction'), ('accuracy'), ('efficiency')) i(indicator)
    LEFT JOIN agg g ON g.employee_id = e.employee_id AND g.indicator = i.indicator
$$;
REVOKE ALL ON FUNCTION assessment.period_facts(timestamptz, timestamptz, uuid[]) FROM PUBLIC;
DROP FUNCTION IF EXISTS assessment.fact_indicators(uuid, timestamptz, timestamptz);

-- 5. teamwork's evidence, for the employees p_employees: the team cases (2 or more distinct
-- assignees, not cancelled) each held an assignment on during the period (assigned by its end,
-- not ended before its start) while the case was open in it (started by the period's end, not
-- archived or closed before its start: an archived case of years ago is no longer team work),
-- with the number of assignees. One row per employee (an empty array when none). Set-based like
-- period_facts: a month for everyone reads the month's open team cases once.
CREATE OR REPLACE FUNCTION assessment.team_cases(p_from timestamptz, p_to timestamptz,
                                                 p_employees uuid[])
  RETURNS TABLE (employee_id uuid, evidence jsonb)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  WITH held AS (
    SELECT DISTINCT a.employee_id, a.case_id
      FROM cases.assignments a
      JOIN cases.cases c ON c.id = a.case_id
     WHERE a.employee_id = ANY (p_employees)
       AND a.assigned_at <= p_to AND (a.ended_at IS NULL OR a.ended_at > p_from)
       AND c.status <> 'cancelled' AND c.started_at <= p_to
       AND (c.archived_at IS NULL OR c.archived_at > p_from)
       AND (c.closed_at IS NULL OR c.closed_at > p_from)),
  team AS (
    SELECT h.employee_id, h.case_id, n.assignees
      FROM held h
      CROSS JOIN LATERAL (SELECT count(DISTINCT a.employee_id)::int AS assignees
                            FROM cases.assignments a WHERE a.case_id = h.case_id) n
     WHERE n.assignees >= 2)
  SELECT e.e,
         coalesce(jsonb_agg(jsonb_build_object('kind', 'case', 'id', t.case_id,
                                               'assignees', t.assignees) ORDER BY t.case_id)
                    FILTER (WHERE t.case_id IS NOT NULL), '[]')
    FROM (SELECT DISTINCT x AS e FROM unnest(p_employees) x) e
    LEFT JOIN team t ON t.employee_id = e.e
   GROUP BY e.e
$$;
REVOKE ALL ON FUNCTION assessment.team_cases(timestamptz, timestamptz, uuid[]) FROM PUBLIC;
DROP FUNCTION IF EXISTS assessment.teamwork_evidence(uuid, timestamptz, timestamptz);

-- Writes indicator rows (insert, or update only when something differs: the audit trail shows
-- real changes, not recomputations that found the same), in one statement: a month's computation
-- writes its thousands of rows at once (issue 15), one employee's recomputation one by one
-- through put_indicator below. formula_version is this formula's whatever the rows say.
CREATE OR REPLACE FUNCTION assessment.put_indicators(p_rows assessment.indicator_values[])
  RETURNS void
  LANGUAGE sql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  INSERT INTO assessment.indicator_values AS iv
         (assessment_id, indicator, figure, numerator, denominator, marked, formula_version, evidence)
  SELECT r.assessment_id, r.indicator, r.figure, r.numerator, r.denominator, r.marked,
         assessment.formula_version(), r.evidence
    FROM unnest(p_rows) r
  ON CONFLICT (assessment_id, indicator) DO UPDATE
     SET figure = EXCLUDED.figure, numerator = EXCLUDED.numerator,
         denominator = EXCLUDED.denominator, marked = EXCLUDED.marked,
         formula_version = EXCLUDED.formula_version, evidence = EXCLUDED.evidence
   WHERE (iv.figure, iv.numerator, iv.denominator, iv.marked, iv.formula_version, iv.evidence)
         IS DISTINCT FROM
         (EXCLUDED.figure, EXCLUDED.numerator, EXCLUDED.denominator, EXCLUDED.marked,
          EXCLUDED.formula_version, EXCLUDED.evidence)
$$;
REVOKE ALL ON FUNCTION assessment.put_indicators(assessment.indicator_values[]) FROM PUBLIC;

-- One indicator row (put_indicators).
CREATE OR REPLACE FUNCTION assessment.put_indicator(p_assessment uuid, p_indicator text,
                                                    p_figure numeric, p_numerator numeric,
                                                    p_denominator numeric, p_marked text,
                                                    p_evidence jsonb) RETURNS void
  LANGUAGE sql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT assessment.put_indicators(ARRAY[ROW(p_assessment, p_indicator, p_figure, p_numerator,
                                             p_denominator, p_marked, assessment.formula_version(),
                                             p_evidence)::assessment.indicator_values])
$$;
REVOKE ALL ON FUNCTION assessment.put_indicator(uuid, text, numeric, numeric, numeric, text, jsonb) FROM PUBLIC;

-- The teamwork indicator row of an assessment with the given evidence (the team cases): its
-- figure from the rating already given, (rating - 1) x 25, else marked not_rated (score() writes
-- it again at the evaluation).
CREATE OR REPLACE FUNCTION assessment.teamwork_row(p_assessment assessment.assessments,
                                                   p_evidence jsonb)
  RETURNS assessment.indicator_values
  LANGUAGE sql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT ROW(p_assessment.id, 'teamwork',
             CASE WHEN p_assessment.teamwork_rating IS NOT NULL
                  THEN ((p_assessment.teamwork_rating - 1) * 25)::numeric END,
             p_assessment.teamwork_rating,
             CASE WHEN p_assessment.teamwork_rating IS NOT NULL THEN 1 END,
             CASE WHEN p_assessment.teamwork_rating IS NULL THEN 'not_rated' END,
             assessment.formula_version(), p_evidence)::assessment.indicator_values
$$;
REVOKE ALL ON FUNCTION assessment.teamwork_row(assessment.assessments, jsonb) FROM PUBLIC;
DROP FUNCTION IF EXISTS assessment.put_teamwork(uuid, jsonb);

-- The grade of a composite: the first band (highest first) whose min it reaches; none: NULL.
CREATE OR REPLACE FUNCTION assessment.grade_of(p_bands jsonb, p_composite numeric) RETURNS text
  LANGUAGE sql IMMUTABLE
  AS $$
  SELECT b.value ->> 'grade'
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p_bands) = 'array' THEN p_bands ELSE '[]' END)
         WITH ORDINALITY b
   WHERE p_composite IS NOT NULL AND (b.value ->> 'min')::numeric <= p_composite
   ORDER BY b.ordinality
   LIMIT 1
$$;
REVOKE ALL ON FUNCTION assessment.grade_of(jsonb, numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.grade_of(jsonb, numeric) TO tianxing_app;

-- The canonical text the evidence hash is taken of (month): each indicator row as jsonb text
-- (jsonb orders its keys itself), in the order of the indicator names, one per line. SECURITY
-- INVOKER: a caller reads the rows of the assessments they may see (anyone may check a hash).
CREATE OR REPLACE FUNCTION assessment.evidence_text(p_assessment uuid) RETURNS text
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce(string_agg(jsonb_build_object('indicator', iv.indicator, 'figure', iv.figure,
                                                'numerator', iv.numerator,
                                                'denominator', iv.denominator,
                                                'marked', iv.marked,
                                                'formula_version', iv.formula_version,
                                                'evidence', iv.evidence)::text,
                             E'\n' ORDER BY iv.indicator COLLATE "C"), '')
    FROM assessment.indicator_values iv WHERE iv.assessment_id = p_assessment
$$;
REVOKE ALL ON FUNCTION assessment.evidence_text(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.evidence_text(uuid) TO tianxing_app;

-- The year's evidence (Q2.2): the employee's monthly revisions of that year that are published
-- or later (live: not superseded, rejected or a pending correction), with their composites.
CREATE OR REPLACE FUNCTION assessment.year_months(p_year_period uuid, p_employee uuid)
  RETURNS TABLE (assessment_id uuid, label text, composite numeric)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT a.id, m.label, a.composite
    FROM assessment.periods y
    JOIN assessment.periods m ON m.kind = 'month' AND m.starts_on >= y.starts_on
                             AND m.ends_on <= y.ends_on
    JOIN assessment.assessments a ON a.period_id = m.id AND a.employee_id = p_employee
   WHERE y.id = p_year_period AND y.kind = 'year'
     AND a.status IN ('published', 'acknowledged', 'appealed', 'appeal_dismissed', 'appeal_upheld')
   ORDER BY m.label
$$;
REVOKE ALL ON FUNCTION assessment.year_months(uuid, uuid) FROM PUBLIC;

-- The composite and the evidence hash of monthly assessments from their indicator rows as
-- written (Q1): composite = sum(weight x figure) / sum(weight) over the indicators with a figure
-- (a marked indicator's weight is spread over the others), weights the period's; the hash is
-- SHA-256 of evidence_text. One query for a whole month (compute_period) or one assessment
-- (score).
CREATE OR REPLACE FUNCTION assessment.month_scores(p_assessments uuid[])
  RETURNS TABLE (assessment_id uuid, composite numeric, evidence_hash bytea)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT a.id,
         (SELECT round(sum((p.parameters -> 'assessment_weights' ->> iv.indicator)::numeric * iv.figure)
                       / NULLIF(sum((p.parameters -> 'assessment_weights' ->> iv.indicator)::numeric), 0), 2)
            FROM assessment.indicator_values iv
           WHERE iv.assessment_id = a.id AND iv.figure IS NOT NULL),
         sha256(convert_to(assessment.evidence_text(a.id), 'UTF8'))
    FROM assessment.assessments a
    JOIN assessment.periods p ON p.id = a.period_id
   WHERE a.id = ANY (p_assessments)
$$;
REVOKE ALL ON FUNCTION assessment.month_scores(uuid[]) FROM PUBLIC;

-- assessment.score(assessment): the part of the computation that follows the supervisor (Q1
-- item 5, Q1 composite, Q2.2). For B's writers: after the evaluation sets teamwork_rating (month)
-- or supervisor_score (year), this writes
--   month: the teamwork indicator ((rating - 1) x 25, or marked not_rated; its evidence the team
--          cases), the composite = sum(weight x figure) / sum(weight) over the indicators with a
--          figure (a marked indicator's weight is spread over the others), the grade, the hash;
--   year:  the composite = annual_weights.monthly x monthly_mean + annual_weights.supervisor x
--          supervisor_score (renormalized the same way when one of them is missing; NULL before
--          the supervisor's score), the grade, the hash of the months used.
-- Weights and bands are the period's (copied when it opened).
CREATE OR REPLACE FUNCTION assessment.score(p_assessment uuid) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  a assessment.assessments;
  p assessment.periods;
  v_from timestamptz;
  v_to timestamptz;
  v_composite numeric;
  v_weights jsonb;
  v_hash bytea;
  v_team jsonb;
BEGIN
  SELECT * INTO a FROM assessment.assessments x WHERE x.id = p_assessment FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such assessment' USING ERRCODE = 'P0002';
  END IF;
  SELECT * INTO p FROM assessment.periods x WHERE x.id = a.period_id;
  IF p.kind = 'month' THEN
    v_from := assessment.period_start(p.id);
    v_to := assessment.period_end(p.id);
    -- the team cases were written with the other indicators when the period was computed (the
    -- facts of a past period do not change); found again only for an assessment without them
    v_team := (SELECT iv.evidence FROM assessment.indicator_values iv
                WHERE iv.assessment_id = a.id AND iv.indicator = 'teamwork');
    IF v_team IS NULL THEN
      v_team := (SELECT t.evidence FROM assessment.team_cases(v_from, v_to, ARRAY[a.employee_id]) t);
    END IF;
    PERFORM assessment.put_indicators(ARRAY[assessment.teamwork_row(a, v_team)]);
    SELECT s.composite, s.evidence_hash INTO v_composite, v_hash
      FROM assessment.month_scores(ARRAY[a.id]) s;
  ELSE
    v_weights := p.parameters -> 'assessment_annual_weights';
    SELECT round(sum(x.w * x.v) / NULLIF(sum(x.w), 0), 2) INTO v_composite
      FROM (VALUES ((v_weights ->> 'monthly')::numeric, a.monthly_mean),
                   ((v_weights ->> 'supervisor')::numeric, a.supervisor_score)) x(w, v)
     WHERE x.v IS NOT NULL AND a.supervisor_score IS NOT NULL;
    v_hash := sha256(convert_to(jsonb_build_object(
                'months', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                   'assessment_id', m.assessment_id, 'label', m.label,
                                   'composite', m.composite) ORDER BY m.label), '[]')
                             FROM assessment.year_months(p.id, a.employee_id) m
                            WHERE m.composite IS NOT NULL),
                'monthly_mean', a.monthly_mean, 'supervisor_score', a.supervisor_score,
                'formula_version', assessment.formula_version())::text, 'UTF8'));
  END IF;
  UPDATE assessment.assessments x
     SET composite = v_composite,
         grade = assessment.grade_of(p.parameters -> 'assessment_grade_bands', v_composite),
         evidence_hash = v_hash, formula_version = assessment.formula_version()
   WHERE x.id = a.id
     AND (x.composite, x.grade, x.evidence_hash, x.formula_version) IS DISTINCT FROM
         (v_composite, assessment.grade_of(p.parameters -> 'assessment_grade_bands', v_composite),
          v_hash, assessment.formula_version());
END
$$;
REVOKE ALL ON FUNCTION assessment.score(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.score(uuid) TO tianxing_app;

-- Computes one assessment from the facts: month, the four fact indicators then score(); year,
-- the months assessed and their mean then score().
CREATE OR REPLACE FUNCTION assessment.compute_assessment(p_assessment uuid) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  a assessment.assessments;
  p assessment.periods;
  r record;
  v_months int;
  v_mean numeric;
BEGIN
  SELECT * INTO a FROM assessment.assessments x WHERE x.id = p_assessment FOR UPDATE;
  SELECT * INTO p FROM assessment.periods x WHERE x.id = a.period_id;
  IF p.kind = 'month' THEN
    FOR r IN SELECT * FROM assessment.period_facts(assessment.period_start(p.id),
                                                   assessment.period_end(p.id),
                                                   ARRAY[a.employee_id]) LOOP
      PERFORM assessment.put_indicator(a.id, r.indicator, r.figure, r.numerator, r.denominator,
                                       r.marked, r.evidence);
    END LOOP;
    PERFORM assessment.put_indicators(ARRAY[assessment.teamwork_row(a, t.evidence)])
       FROM assessment.team_cases(assessment.period_start(p.id), assessment.period_end(p.id),
                                  ARRAY[a.employee_id]) t;
  ELSE
    -- Q2.2: the mean of the monthly composites, months assessed only (a published month whose
    -- every indicator was marked has no composite and is not a month assessed)
    SELECT count(*), round(avg(m.composite), 2) INTO v_months, v_mean
      FROM assessment.year_months(p.id, a.employee_id) m WHERE m.composite IS NOT NULL;
    UPDATE assessment.assessments x SET months_assessed = v_months, monthly_mean = v_mean
     WHERE x.id = a.id
       AND (x.months_assessed, x.monthly_mean) IS DISTINCT FROM (v_months, v_mean);
  END IF;
  UPDATE assessment.assessments x SET computed_at = now() WHERE x.id = a.id;
  PERFORM assessment.score(a.id);
END
$$;
REVOKE ALL ON FUNCTION assessment.compute_assessment(uuid) FROM PUBLIC;

-- Who is assessed in a period (READINGS.md Q): the employees with a span overlapping it that is
-- active and has the role staff; employed_from/to = the part of the period they were so (company
-- dates); department and supervisor = those of the last such span in the period (the supervisor
-- at the period's end, or when they left, evaluates).
CREATE OR REPLACE FUNCTION assessment.assessed(p_period uuid)
  RETURNS TABLE (employee_id uuid, department_id uuid, supervisor_id uuid,
                 employed_from date, employed_to date)
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  p assessment.periods;
  v_from timestamptz := assessment.period_start(p_period);
  v_to timestamptz := assessment.period_end(p_period);
  v_tz text;
BEGIN
  SELECT * INTO p FROM assessment.periods x WHERE x.id = p_period;
  v_tz := assessment.period_zone(p_period);
  RETURN QUERY
  SELECT s.employee_id,
         (array_agg(s.department_id ORDER BY s.valid_from DESC, s.id DESC))[1],
         (array_agg(s.supervisor_id ORDER BY s.valid_from DESC, s.id DESC))[1],
         greatest(p.starts_on, min((s.valid_from AT TIME ZONE v_tz)::date)),
         least(p.ends_on, max(CASE WHEN s.valid_to IS NULL THEN p.ends_on
                                   ELSE ((s.valid_to - interval '1 microsecond') AT TIME ZONE v_tz)::date
                              END))
    FROM org.employee_spans s
   WHERE s.active AND 'staff' = ANY (s.roles)
     AND s.valid_from < v_to AND (s.valid_to IS NULL OR s.valid_to > v_from)
     -- a span of no time (two changes in one transaction) employed nobody
     AND (s.valid_to IS NULL OR s.valid_to > s.valid_from)
   GROUP BY s.employee_id;
END
$$;
REVOKE ALL ON FUNCTION assessment.assessed(uuid) FROM PUBLIC;

-- assessment.compute_period(period) (Q2.1, Q2.2): creates the missing assessments (revision 1,
-- computed) of the people assessed in the period, recomputes those still 'computed' (a
-- self-assessed or later one is left as its people saw it), and returns how many it created or
-- recomputed. Months before the year: the year reads the months' published composites. The
-- period row is locked, so the job and HR computing at once take turns.
-- A month is computed set-based, a statement per step for everyone (issue 15: the cost follows
-- the month's facts and the number of people, not a call per person and row): the assessments,
-- the month's facts once for everyone (period_facts, team_cases) written as one insert of every
-- indicator row, then one update of every composite, grade and hash (month_scores). The figures
-- are those of compute_assessment, person by person (pgTAP assessment_scale compares the two);
-- computed_at and the scores are one update, so a new assessment is at version 2, not 3.
CREATE OR REPLACE FUNCTION assessment.compute_period(p_period uuid) RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  p assessment.periods;
  v_id uuid;
  v_ids uuid[];
  v_emps uuid[];
  v_from timestamptz;
  v_to timestamptz;
BEGIN
  SELECT * INTO p FROM assessment.periods x WHERE x.id = p_period FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such assessment period' USING ERRCODE = 'P0002';
  END IF;
  IF p.status <> 'open' THEN
    PERFORM fsm.refuse('assessment_period', p.status, 'a closed period is not computed again');
  END IF;
  -- Each one assessed: their live revision (the latest not superseded or rejected); none, a new
  -- one; a computed one, its department, supervisor and days employed brought up to date; any
  -- later status, left alone.
  WITH who AS (
    SELECT w.employee_id, w.department_id, w.supervisor_id, w.employed_from, w.employed_to,
           cur.id AS cur_id, cur.status AS cur_status
      FROM assessment.assessed(p.id) w
      LEFT JOIN LATERAL (SELECT a.id, a.status FROM assessment.assessments a
                          WHERE a.period_id = p.id AND a.employee_id = w.employee_id
                            AND a.status NOT IN ('superseded', 'rejected')
                          ORDER BY a.revision DESC LIMIT 1) cur ON true),
  created AS (
    INSERT INTO assessment.assessments (period_id, employee_id, revision, status, department_id,
                                        supervisor_id, employed_from, employed_to,
                                        formula_version)
    SELECT p.id, w.employee_id, 1, 'computed', w.department_id, w.supervisor_id,
           w.employed_from, w.employed_to, assessment.formula_version()
      FROM who w WHERE w.cur_id IS NULL
     ORDER BY w.employee_id
    RETURNING assessment.assessments.id, assessment.assessments.employee_id),
  refreshed AS (
    UPDATE assessment.assessments a
       SET department_id = w.department_id, supervisor_id = w.supervisor_id,
           employed_from = w.employed_from, employed_to = w.employed_to
      FROM who w
     WHERE a.id = w.cur_id AND w.cur_status = 'computed'
       AND (a.department_id, a.supervisor_id, a.employed_from, a.employed_to) IS DISTINCT FROM
           (w.department_id, w.supervisor_id, w.employed_from, w.employed_to)
    RETURNING a.id)
  SELECT coalesce(array_agg(x.id ORDER BY x.employee_id), '{}'),
         coalesce(array_agg(x.employee_id ORDER BY x.employee_id), '{}')
    INTO v_ids, v_emps
    FROM (SELECT c.id, c.employee_id FROM created c
          UNION ALL
          SELECT w.cur_id, w.employee_id FROM who w WHERE w.cur_status = 'computed') x;
  IF p.kind = 'month' THEN
    v_from := assessment.period_start(p.id);
    v_to := assessment.period_end(p.id);
    PERFORM assessment.put_indicators(ARRAY(
      SELECT ROW(x.id, f.indicator, f.figure, f.numerator, f.denominator, f.marked,
                 assessment.formula_version(), f.evidence)::assessment.indicator_values
        FROM assessment.period_facts(v_from, v_to, v_emps) f
        JOIN unnest(v_ids, v_emps) x(id, employee_id) ON x.employee_id = f.employee_id
      UNION ALL
      SELECT assessment.teamwork_row(a, t.evidence)
        FROM assessment.team_cases(v_from, v_to, v_emps) t
        JOIN unnest(v_ids, v_emps) x(id, employee_id) ON x.employee_id = t.employee_id
        JOIN assessment.assessments a ON a.id = x.id));
    UPDATE assessment.assessments a
       SET computed_at = now(), composite = s.composite,
           grade = assessment.grade_of(p.parameters -> 'assessment_grade_bands', s.composite),
           evidence_hash = s.evidence_hash, formula_version = assessment.formula_version()
      FROM assessment.month_scores(v_ids) s
     WHERE a.id = s.assessment_id;
  ELSE
    FOREACH v_id IN ARRAY v_ids LOOP
      PERFORM assessment.compute_assessment(v_id);
    END LOOP;
  END IF;
  UPDATE assessment.periods x SET computed_at = now() WHERE x.id = p.id;
  RETURN cardinality(v_ids);
END
$$;
REVOKE ALL ON FUNCTION assessment.compute_period(uuid) FROM PUBLIC;
