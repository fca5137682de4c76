-- Module Q, part A (sql/code/assessment/020_periods.sql, 030_indicators.sql): periods and the five
-- indicators of formula version 1 (Q1, Q2.1, Q2.2; docs/assessment.md), as the runtime role.
-- A HAND CALCULATION: four cases are brought through module P's real api functions (intake,
-- approval, assignment, work records, review rounds, delivery, the customer's confirmation,
-- cancellation), the month that holds them is opened by the job 'assessment.periods' and
-- computed, and every figure is checked against the arithmetic written out below. Edge cases: an
-- employee who joins, moves department or leaves in the period (org.employee_spans), a month
-- without answers (marked, not zero), a team case (credit split), a cancelled case (excluded),
-- computing twice (same figures, same evidence hash).
--
-- Dates: the facts are stamped now() (one instant: the file is one transaction); the milestone
-- deadlines fall due one working day after the work started, which may be in the next month. The
-- file therefore names two periods: pf, the month of the facts (reviews, confirmations), and pd,
-- the month the milestones are due (completion, efficiency); on most days they are the same
-- month, and the expectations below say what each indicator is in each case.
-- Run by tests/sql/run as tianxing_app. Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(114);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');
\ir lib/session.psql
\ir lib/periods.psql

-- Definitions ------------------------------------------------------------------------------
SELECT ok(NOT p.prosecdef, format('api.%s is SECURITY INVOKER', p.proname))
  FROM pg_proc p
 WHERE p.pronamespace = 'api'::regnamespace
   AND p.proname IN ('period_json', 'period_get', 'period_list', 'period_open', 'period_compute',
                     'period_close', 'period_transitions');
SELECT ok(p.prosecdef AND pg_get_userbyid(p.proowner) = 'tianxing_owner'
          AND p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'],
          format('assessment.%s is SECURITY DEFINER, owned by tianxing_owner, search_path pinned', p.proname))
  FROM pg_proc p
 WHERE p.pronamespace = 'assessment'::regnamespace
   AND p.proname IN ('compute_period', 'score', 'period_end', 'periods_job', 'period_open_hr',
                     'period_close_hr', 'period_compute_hr');
SELECT ok(NOT has_function_privilege('tianxing_app', 'assessment.open_period(text, uuid, date)', 'EXECUTE'),
  'the runtime role cannot open a period behind the job''s and HR''s backs');
SELECT ok(NOT has_function_privilege('tianxing_app', 'assessment.compute_period(uuid)', 'EXECUTE'),
  'nor compute one (HR''s route and the job do, as the owner)');
SELECT ok(NOT has_table_privilege('tianxing_app', t, 'INSERT,UPDATE,DELETE'),
          format('the runtime role writes %s only through the functions', t))
  FROM unnest(ARRAY['assessment.periods', 'assessment.assessments', 'assessment.indicator_values']) t;

-- Setup: a business type with one required milestone of 1 working day ----------
SELECT pg_temp.be('admin', 'admin');
INSERT INTO ids SELECT 'type', (api.business_type_create(jsonb_build_object(
  'code', 'qa-std', 'name', '記帳 Bookkeeping',
  'milestones', jsonb_build_array(jsonb_build_object('code', 'work', 'name', '作業 Work', 'standard_days', 1)),
  'checklist', jsonb_build_array(jsonb_build_object('code', 'accuracy', 'name', '準確性 Accuracy'),
                                 jsonb_build_object('code', 'compliance', 'name', '合規性 Compliance'),
                                 jsonb_build_object('code', 'completeness', 'name', '完整性 Completeness')),
  'documents', jsonb_build_array(jsonb_build_object('code', 'report', 'name', '報告 Report')))) ->> 'id')::uuid;
SELECT pg_temp.be('staff.a1', 'staff');
INSERT INTO ids VALUES ('cu', '4c000000-0000-4000-8000-0000000000e1');
SELECT lives_ok(format($$ SELECT api.customer_create(%L) $$, jsonb_build_object('id', pg_temp.id('cu'), 'name', '陳美玲',
  'dek', jsonb_build_object('key_id', 'mk1', 'wrapped', '\x01' || repeat('ab', 59)))), 'setup: staff.a1 creates a customer');

-- walk(assignees (lead first), rounds, rating, cancel): a case through P's api functions.
--   rounds 0: assigned and in progress, no work recorded (its milestone deadline stays open);
--   rounds 1: the milestone recorded, review passed at the first round;
--   rounds 2: failed at round 1, passed at round 2;
--   rating: delivered and confirmed by the customer with this satisfaction (1-5);
--   cancel: cancelled by the lead after the assignment.
CREATE FUNCTION pg_temp.walk(p_team text[], p_rounds int, p_rating int, p_cancel boolean DEFAULT false)
  RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
  c uuid;
  f uuid;
  pass jsonb := '{"verdicts": [{"criterion": "accuracy", "verdict": "pass"}, {"criterion": "compliance", "verdict": "pass"},
                                {"criterion": "completeness", "verdict": "pass"}]}';
BEGIN
  PERFORM pg_temp.be('staff.a1', 'staff');
  c := (api.case_create(jsonb_build_object('customer_id', pg_temp.id('cu'), 'raised_at', api.ts(now() - interval '1 hour'),
                                           'channel', 'phone', 'need', '每月記帳')) ->> 'id')::uuid;
  PERFORM api.case_assess(c, jsonb_build_object('in_scope', true, 'business_type_id', pg_temp.id('type')));
  PERFORM api.case_intake(c, (api.case_json(c) ->> 'version')::int, '{"requirements": "記帳與報表"}');
  PERFORM api.case_submit(c);
  PERFORM pg_temp.be('sup.a', 'staff,supervisor');
  PERFORM api.case_decide(c, 'approve', '{}');
  PERFORM api.case_assign(c, jsonb_build_object('lead', pg_temp.emp(p_team[1]),
            'members', coalesce((SELECT jsonb_agg(pg_temp.emp(m)) FROM unnest(p_team[2:]) m), '[]')));
  PERFORM pg_temp.be(p_team[1], 'staff');
  IF p_cancel THEN
    PERFORM api.case_cancel(c, '{"reason": "客戶撤回 withdrawn"}');
    RETURN c;
  END IF;
  IF p_rounds = 0 THEN
    RETURN c;
  END IF;
  PERFORM api.case_work_record_add(c, jsonb_build_object('milestone_code', 'work', 'content', '記帳',
            'result', '完成', 'started_at', api.ts(now() + interval '1 second'),
            'finished_at', api.ts(now() + interval '2 seconds'), 'hours', 3));
  PERFORM api.case_submit_review(c, '{}');
  PERFORM pg_temp.be('sup.a', 'staff,supervisor');
  IF p_rounds = 2 THEN
    PERFORM api.case_review_decide(c, '{"verdicts": [{"criterion": "accuracy", "verdict": "fail", "comment": "差錯"},
      {"criterion": "compliance", "verdict": "pass"}, {"criterion": "completeness", "verdict": "pass"}], "comment": "請更正"}');
    PERFORM pg_temp.be(p_team[1], 'staff');
    PERFORM api.case_submit_review(c, '{"rectification_note": "已更正"}');
    PERFORM pg_temp.be('sup.a', 'staff,supervisor');
  END IF;
  PERFORM api.case_review_decide(c, pass);
  IF p_rating IS NOT NULL THEN
    PERFORM pg_temp.be(p_team[1], 'staff');
    f := (api.case_file_add(c, '{"name": "r.pdf", "purpose": "deliverable", "media_type": "application/pdf", "content": "aGVsbG8="}') ->> 'id')::uuid;
    PERFORM api.case_deliver(c, jsonb_build_object('method', 'email', 'file_ids', jsonb_build_array(f)));
    PERFORM api.case_confirmation_record(c, jsonb_build_object('outcome', 'confirmed', 'rating', p_rating,
              'evidence', '客戶電話確認 confirmed by phone'));
  END IF;
  RETURN c;
END $$;

INSERT INTO ids VALUES ('c1', pg_temp.walk(ARRAY['staff.a1'], 1, 4));
INSERT INTO ids VALUES ('c2', pg_temp.walk(ARRAY['staff.a1', 'staff.a2'], 2, 2));
INSERT INTO ids VALUES ('c3', pg_temp.walk(ARRAY['staff.a1', 'staff.a2'], 0, NULL));
INSERT INTO ids VALUES ('c4', pg_temp.walk(ARRAY['staff.a1', 'staff.a2'], 0, NULL, true));
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT is((SELECT array_agg(c.status ORDER BY n.name) FROM cases.cases c JOIN ids n ON n.id = c.id WHERE n.name ~ '^c[0-9]$'),
  ARRAY['confirmed', 'confirmed', 'in_progress', 'cancelled'], 'setup: c1, c2 confirmed, c3 in progress, c4 cancelled');

-- People: one joins, one moves department, one leaves (all in the facts' month) -----------------
SELECT pg_temp.be('admin', 'admin');
INSERT INTO ids SELECT 'staff.new', (api.employee_create(jsonb_build_object('username', 'staff.new',
  'display_name', 'Staff New', 'department_id', '10000000-0000-4000-8000-00000000000a',
  'supervisor_id', pg_temp.emp('sup.a'), 'roles', jsonb_build_array('staff'))) ->> 'id')::uuid;
SELECT lives_ok(format($$ SELECT api.employee_update(%L, %s, %L) $$, pg_temp.emp('staff.a2'),
  (SELECT version FROM org.employees WHERE id = pg_temp.emp('staff.a2')),
  jsonb_build_object('department_id', '10000000-0000-4000-8000-00000000000b', 'supervisor_id', pg_temp.emp('sup.b'))),
  'setup: staff.a2 moves to department B under sup.b');
SELECT lives_ok(format($$ SELECT api.employee_set_active(%L, false) $$, pg_temp.emp('staff.b1')),
  'setup: staff.b1 leaves');

-- The periods: opened by the job on the first working day after each month -------------------
-- (HR reads no case: the department's supervisor notes the facts the expectations need)
SELECT pg_temp.be('sup.a', 'staff,supervisor');
CREATE TEMP TABLE f_conf AS SELECT cf.id, cf.case_id, cf.rating FROM cases.confirmations cf;
CREATE TEMP TABLE f_rev AS SELECT r.id, r.case_id, r.outcome FROM cases.reviews r;
CREATE TEMP TABLE f_dl AS SELECT d.id, d.case_id, d.kind, d.due_at FROM cases.deadlines d;
CREATE TEMP TABLE f_case AS SELECT c.id, c.passed_at FROM cases.cases c;
CREATE TEMP TABLE m AS
SELECT tz, to_char(now() AT TIME ZONE tz, 'YYYY-MM') AS pf,
       -- a deadline due at the first instant of a month is due at the end of the month before
       to_char((d.due - interval '1 microsecond') AT TIME ZONE tz, 'YYYY-MM') AS pd,
       d.due
  FROM (SELECT org.company_time_zone() AS tz) z,
       (SELECT max(due_at) AS due FROM f_dl WHERE case_id = pg_temp.id('c1') AND kind = 'milestone') d;
SELECT is((SELECT count(DISTINCT due_at)::int FROM f_dl
            WHERE kind = 'milestone' AND case_id IN (pg_temp.id('c1'), pg_temp.id('c2'), pg_temp.id('c3'))), 1,
  'setup: every milestone fell due at one instant (the work of all cases started at now())');
SELECT is(assessment.periods_job(jsonb_build_object('today', pg_temp.first_workday_after(m.pf))) -> 'opened' -> 0,
          to_jsonb(m.pf), 'the job, on the first working day of the next month, opens the facts'' month')
  FROM m;
SELECT pg_temp.be('hr', 'hr');
-- The fixtures create 'gone' active and deactivate it at once: assessed only if that span was not
-- empty (a span of no time employs nobody).
ALTER TABLE m ADD COLUMN gone boolean;
UPDATE m SET gone = EXISTS (SELECT FROM org.employee_spans s WHERE s.employee_id = pg_temp.emp('gone')
                                AND s.active AND s.valid_to > s.valid_from);
ALTER TABLE m ADD COLUMN n int;
UPDATE m SET n = 6 + gone::int;
SELECT assessment.periods_job(jsonb_build_object('today', pg_temp.first_workday_after(m.pd))) FROM m WHERE m.pd <> m.pf;
INSERT INTO ids SELECT 'pf', id FROM assessment.periods, m WHERE label = m.pf;
INSERT INTO ids SELECT 'pd', id FROM assessment.periods, m WHERE label = m.pd;
SELECT is((SELECT count(*)::int FROM ids WHERE name IN ('pf', 'pd')), 2, 'both periods are open (or the one month twice)');

-- ind(employee, indicator): the row of the period its facts fall in (completion and efficiency in
-- pd, the others in pf).
CREATE FUNCTION pg_temp.ind(p_emp text, p_ind text) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('figure', iv.figure, 'numerator', iv.numerator, 'denominator', iv.denominator,
                            'marked', iv.marked)
    FROM assessment.indicator_values iv JOIN assessment.assessments a ON a.id = iv.assessment_id
   WHERE a.employee_id = pg_temp.emp(p_emp) AND iv.indicator = p_ind
     AND a.period_id = pg_temp.id(CASE WHEN p_ind IN ('completion_rate', 'efficiency') THEN 'pd' ELSE 'pf' END) $$;
CREATE FUNCTION pg_temp.ev(p_emp text, p_ind text) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT iv.evidence FROM assessment.indicator_values iv JOIN assessment.assessments a ON a.id = iv.assessment_id
   WHERE a.employee_id = pg_temp.emp(p_emp) AND iv.indicator = p_ind
     AND a.period_id = pg_temp.id(CASE WHEN p_ind IN ('completion_rate', 'efficiency') THEN 'pd' ELSE 'pf' END) $$;
CREATE FUNCTION pg_temp.a(p_emp text, p_period text) RETURNS assessment.assessments LANGUAGE sql STABLE AS $$
  SELECT a FROM assessment.assessments a WHERE a.employee_id = pg_temp.emp(p_emp) AND a.period_id = pg_temp.id(p_period) $$;

-- Who is assessed ----------------------------------------------------------------------------
SELECT is((SELECT array_agg(e.username ORDER BY e.username) FROM assessment.assessments a
             JOIN org.employees e ON e.id = a.employee_id WHERE a.period_id = pg_temp.id('pf')),
          CASE WHEN m.gone THEN ARRAY['gone'] ELSE '{}' END || ARRAY['staff.a1', 'staff.a2', 'staff.b1', 'staff.new', 'staff.x', 'sup.a'],
  'assessed: the active staff of the month, the leaver too; not hr, sup.b (no staff role)') FROM m;
SELECT is((SELECT array_agg(DISTINCT a.status) FROM assessment.assessments a WHERE a.period_id = pg_temp.id('pf')),
  ARRAY['computed'], 'every new assessment starts computed, revision 1');
SELECT is((SELECT count(*)::int FROM assessment.indicator_values iv JOIN assessment.assessments a ON a.id = iv.assessment_id
            WHERE a.period_id = pg_temp.id('pf')), m.n * 5, 'five indicator rows per assessment') FROM m;
SELECT is((pg_temp.a('staff.a2', 'pf')).department_id, '10000000-0000-4000-8000-00000000000b'::uuid,
  'a mover is assessed in the department of their last span in the month (B)');
SELECT is((pg_temp.a('staff.a2', 'pf')).supervisor_id, pg_temp.emp('sup.b'), '... by the supervisor of that span');
SELECT is((pg_temp.a('staff.new', 'pf')).employed_from, (now() AT TIME ZONE m.tz)::date,
  'a joiner is employed from the day they joined') FROM m;
SELECT is((pg_temp.a('staff.new', 'pf')).employed_to, (SELECT ends_on FROM assessment.periods WHERE id = pg_temp.id('pf')),
  '... to the end of the month');
SELECT is((pg_temp.a('staff.b1', 'pf')).employed_to, ((now() - interval '1 microsecond') AT TIME ZONE m.tz)::date,
  'a leaver is employed until the day they left') FROM m;
SELECT is((pg_temp.a('staff.a1', 'pf')).employed_from,
          greatest(to_date(m.pf, 'YYYY-MM'),
                   (SELECT (min(valid_from) AT TIME ZONE m.tz)::date FROM org.employee_spans WHERE employee_id = pg_temp.emp('staff.a1'))),
  'employed_from: the later of the month''s first day and the first span') FROM m;

-- The hand calculation ----------------------------------------------------------------------
-- staff.a1 holds c1 (alone), c2 and c3 (with staff.a2), c4 (with staff.a2, cancelled).
-- Credit split: weight = 1 / distinct assignees: c1 1, c2 1/2, c3 1/2; c4 excluded.
-- 1. completion_rate (due: c1, c2, c3; passed: c1, c2):
--      (1 + 0.5) / (1 + 0.5 + 0.5) = 1.5 / 2 -> 75.00
SELECT is(pg_temp.ind('staff.a1', 'completion_rate'),
  '{"figure": 75.00, "numerator": 1.5000, "denominator": 2.0000, "marked": null}'::jsonb,
  'staff.a1 completion_rate = 100 x 1.5 / 2 = 75.00 (team cases count half, c4 cancelled)');
-- 2. satisfaction: c1 rated 4 -> (4 - 1) x 25 = 75; c2 rated 2 -> (2 - 1) x 25 = 25;
--      (75 + 25) / 2 -> 50.00
SELECT is(pg_temp.ind('staff.a1', 'satisfaction'),
  '{"figure": 50.00, "numerator": 100.0000, "denominator": 2, "marked": null}'::jsonb,
  'staff.a1 satisfaction = (75 + 25) / 2 = 50.00');
-- 3. accuracy: rounds decided c1#1 passed, c2#1 failed, c2#2 passed: 2 / 3 -> 66.67
SELECT is(pg_temp.ind('staff.a1', 'accuracy'),
  '{"figure": 66.67, "numerator": 2, "denominator": 3, "marked": null}'::jsonb,
  'staff.a1 accuracy = 100 x 2 / 3 = 66.67');
-- 4. efficiency: milestone deadlines c1 met, c2 met, c3 open (not met by its due_at): 2 / 3 -> 66.67
SELECT is(pg_temp.ind('staff.a1', 'efficiency'),
  '{"figure": 66.67, "numerator": 2, "denominator": 3, "marked": null}'::jsonb,
  'staff.a1 efficiency = 100 x 2 / 3 = 66.67 (c4''s deadline closed with the case)');
-- 5. teamwork: not rated before the evaluation; evidence the team cases c2, c3 (not c4)
SELECT is(pg_temp.ind('staff.a1', 'teamwork'),
  '{"figure": null, "numerator": null, "denominator": null, "marked": "not_rated"}'::jsonb,
  'staff.a1 teamwork is marked not_rated before the evaluation');
SELECT is(pg_temp.ev('staff.a1', 'teamwork'),
  (SELECT jsonb_agg(jsonb_build_object('kind', 'case', 'id', x, 'assignees', 2) ORDER BY x)
     FROM unnest(ARRAY[pg_temp.id('c2'), pg_temp.id('c3')]) x),
  'teamwork evidence: the team cases c2 and c3, each with its 2 assignees; not the cancelled c4');
-- Composite (weights 0.3, 0.25, 0.2, 0.15, 0.1; teamwork marked: its 0.1 spread over the rest):
--   one month:  (0.3 x 75 + 0.25 x 50 + 0.2 x 66.67 + 0.15 x 66.67) / 0.9
--             = (22.5 + 12.5 + 13.334 + 10.0005) / 0.9 = 58.3345 / 0.9 = 64.8161 -> 64.82, grade D (>= 60)
--   months apart: pf (satisfaction, accuracy): (0.25 x 50 + 0.2 x 66.67) / 0.45 = 25.834 / 0.45
--                 = 57.4089 -> 57.41, grade E;
--                 pd (completion, efficiency): (0.3 x 75 + 0.15 x 66.67) / 0.45 = 32.5005 / 0.45
--                 = 72.2233 -> 72.22, grade C
SELECT is(ARRAY[(pg_temp.a('staff.a1', 'pf')).composite::text, (pg_temp.a('staff.a1', 'pf')).grade],
          CASE WHEN m.pf = m.pd THEN ARRAY['64.82', 'D'] ELSE ARRAY['57.41', 'E'] END,
  'staff.a1 composite renormalized over the four figures, and its grade') FROM m;
SELECT is(ARRAY[(pg_temp.a('staff.a1', 'pd')).composite::text, (pg_temp.a('staff.a1', 'pd')).grade],
          CASE WHEN m.pf = m.pd THEN ARRAY['64.82', 'D'] ELSE ARRAY['72.22', 'C'] END,
  'staff.a1 composite of the month the milestones fell due') FROM m;

-- staff.a2 (moved to B after the facts; active throughout) holds c2, c3 (c4 cancelled):
-- 1. completion_rate: (0.5) / (0.5 + 0.5) -> 50.00
SELECT is(pg_temp.ind('staff.a2', 'completion_rate'),
  '{"figure": 50.00, "numerator": 0.5000, "denominator": 1.0000, "marked": null}'::jsonb,
  'staff.a2 completion_rate = 100 x 0.5 / 1 = 50.00');
-- 2. satisfaction: c2 rated 2 -> 25 -> 25.00
SELECT is(pg_temp.ind('staff.a2', 'satisfaction'),
  '{"figure": 25.00, "numerator": 25.0000, "denominator": 1, "marked": null}'::jsonb,
  'staff.a2 satisfaction = 25 / 1 = 25.00 (the confirmation of c2 counts for each assignee)');
-- 3. accuracy: c2#1 failed, c2#2 passed: 1 / 2 -> 50.00
SELECT is(pg_temp.ind('staff.a2', 'accuracy'),
  '{"figure": 50.00, "numerator": 1, "denominator": 2, "marked": null}'::jsonb, 'staff.a2 accuracy = 1 / 2');
-- 4. efficiency: c2 met, c3 open: 1 / 2 -> 50.00
SELECT is(pg_temp.ind('staff.a2', 'efficiency'),
  '{"figure": 50.00, "numerator": 1, "denominator": 2, "marked": null}'::jsonb, 'staff.a2 efficiency = 1 / 2');
-- Composite: one month (0.3 x 50 + 0.25 x 25 + 0.2 x 50 + 0.15 x 50) / 0.9 = 38.75 / 0.9
--            = 43.0556 -> 43.06, E;
--            months apart: pf (0.25 x 25 + 0.2 x 50) / 0.45 = 16.25 / 0.45 = 36.1111 -> 36.11, E
SELECT is(ARRAY[(pg_temp.a('staff.a2', 'pf')).composite::text, (pg_temp.a('staff.a2', 'pf')).grade],
          CASE WHEN m.pf = m.pd THEN ARRAY['43.06', 'E'] ELSE ARRAY['36.11', 'E'] END,
  'staff.a2 composite and grade') FROM m;

-- Evidence: the rows counted, by id, sorted by kind then id
SELECT is(pg_temp.ev('staff.a1', 'completion_rate'),
  (SELECT jsonb_agg(jsonb_build_object('kind', 'case', 'id', c.id, 'weight', w.weight, 'due_at', api.ts(m.due),
                                       'passed', c.passed_at IS NOT NULL) ORDER BY c.id)
     FROM f_case c
     JOIN (VALUES (pg_temp.id('c1'), 1.0000), (pg_temp.id('c2'), 0.5000), (pg_temp.id('c3'), 0.5000)) w(id, weight) ON w.id = c.id, m),
  'completion evidence: c1 (weight 1), c2 and c3 (weight 0.5 each), with due instant and passed; no c4');
SELECT is((SELECT array_agg(e ->> 'kind' || ':' || (e ->> 'rating') || ':' || (e ->> 'value') ORDER BY e ->> 'id')
             FROM jsonb_array_elements(pg_temp.ev('staff.a1', 'satisfaction')) e),
          (SELECT array_agg(x ORDER BY i) FROM (SELECT cf.id::text AS i, 'confirmation:' || cf.rating || ':' || (cf.rating - 1) * 25 AS x
                                                  FROM f_conf cf WHERE cf.case_id IN (pg_temp.id('c1'), pg_temp.id('c2'))) y),
  'satisfaction evidence: the two confirmations with their rating and normalized value');
SELECT is((SELECT array_agg((e ->> 'passed') ORDER BY e ->> 'id') FROM jsonb_array_elements(pg_temp.ev('staff.a1', 'accuracy')) e),
          (SELECT array_agg((r.outcome = 'passed')::text ORDER BY r.id::text) FROM f_rev r
            WHERE r.case_id IN (pg_temp.id('c1'), pg_temp.id('c2'))),
  'accuracy evidence: the three rounds decided, by id');
SELECT is((SELECT count(*)::int FROM jsonb_array_elements(pg_temp.ev('staff.a1', 'efficiency')) e
            WHERE e ->> 'kind' = 'deadline' AND (e ->> 'case_id')::uuid = pg_temp.id('c4')), 0,
  'efficiency evidence leaves out the cancelled case''s deadline');
SELECT is((SELECT a.evidence_hash FROM assessment.assessments a WHERE a.id = (pg_temp.a('staff.a1', 'pf')).id),
          sha256(convert_to(assessment.evidence_text((pg_temp.a('staff.a1', 'pf')).id), 'UTF8')),
  'evidence_hash = SHA-256 of the canonical text of the indicator rows');
SELECT is(assessment.evidence_text((pg_temp.a('staff.a1', 'pf')).id) ~ '^\{.*"indicator": "accuracy".*\n.*"completion_rate".*\n.*"efficiency".*\n.*"satisfaction".*\n.*"teamwork"', true,
  'the canonical text: one jsonb row per indicator, by name');

-- A month without answers: marked, not zero ---------------------------------------------------
SELECT is(pg_temp.ind('staff.b1', 'satisfaction'),
  '{"figure": null, "numerator": 0, "denominator": 0, "marked": "no_answers"}'::jsonb,
  'no answers: satisfaction is marked no_answers, not 0');
SELECT is((SELECT array_agg(iv.marked ORDER BY iv.indicator) FROM assessment.indicator_values iv
            WHERE iv.assessment_id = (pg_temp.a('staff.b1', 'pf')).id),
  ARRAY['no_data', 'no_data', 'no_data', 'no_answers', 'not_rated'], 'nothing to count: every indicator marked');
SELECT is(ARRAY[(pg_temp.a('staff.b1', 'pf')).composite::text, (pg_temp.a('staff.b1', 'pf')).grade],
  ARRAY[NULL, NULL]::text[], 'no figure: no composite, no grade (not a zero)');
SELECT is((pg_temp.a('staff.new', 'pf')).composite, NULL, 'the joiner has nothing yet: no composite');

-- Computing twice: the same figures and the same hash ------------------------------------------
CREATE TEMP TABLE before AS
SELECT a.id, a.composite, a.grade, a.evidence_hash, assessment.evidence_text(a.id) AS txt
  FROM assessment.assessments a WHERE a.period_id IN (pg_temp.id('pf'), pg_temp.id('pd'));
SELECT pg_temp.be('hr', 'hr');
SELECT is((api.period_compute(pg_temp.id('pf')) ->> 'computed')::int, m.n, 'recomputing recomputes every assessment still computed') FROM m;
SELECT api.period_compute(pg_temp.id('pd')) FROM m WHERE m.pd <> m.pf;
SELECT is_empty($$ SELECT b.id FROM before b JOIN assessment.assessments a ON a.id = b.id
                    WHERE (a.composite, a.grade, a.evidence_hash, assessment.evidence_text(a.id))
                          IS DISTINCT FROM (b.composite, b.grade, b.evidence_hash, b.txt) $$,
  'computing twice from the same facts: the same figures, evidence and hash');
SELECT is((SELECT count(*)::int FROM assessment.assessments a WHERE a.period_id = pg_temp.id('pf')), m.n,
  'recomputing creates no second assessment') FROM m;
SELECT is(assessment.periods_job(jsonb_build_object('today', pg_temp.first_workday_after(m.pf))),
          jsonb_build_object('today', pg_temp.first_workday_after(m.pf), 'first_workday', true, 'opened', '[]'::jsonb, 'computed', 0),
  'the job run again that day opens nothing: a period opens once') FROM m;
SELECT is(assessment.periods_job(jsonb_build_object('today', pg_temp.first_workday_after(m.pf) + 1)) ->> 'first_workday',
  'false', 'the day after the first working day is not one') FROM m;
SELECT throws_ok($$ SELECT assessment.periods_job('{"today": "2026-02-30"}') $$, '22023', NULL,
  'the job refuses a date that does not exist');
SELECT throws_ok($$ SELECT assessment.periods_job('{"today": 20260201}') $$, '22023', NULL,
  'the job refuses a today that is no string');

-- The year (Q2.2): opened by the job in January after its December; nothing published yet ------
-- (the months' assessments are all still computed: no month assessed, no mean, and no composite
-- before the supervisor's score)
SELECT assessment.periods_job(jsonb_build_object('today', pg_temp.first_workday_after(to_char(now() AT TIME ZONE m.tz, 'YYYY') || '-12')))
  FROM m;
INSERT INTO ids SELECT 'py', p.id FROM assessment.periods p, m WHERE p.label = to_char(now() AT TIME ZONE m.tz, 'YYYY');
SELECT is((SELECT kind || ' ' || starts_on || ' ' || ends_on FROM assessment.periods WHERE id = pg_temp.id('py')),
  format('year %s-01-01 %s-12-31', to_char(now() AT TIME ZONE m.tz, 'YYYY'), to_char(now() AT TIME ZONE m.tz, 'YYYY')),
  'the job opened the year in January') FROM m;
SELECT is((SELECT count(*)::int FROM assessment.assessments WHERE period_id = pg_temp.id('py')), m.n,
  'the people of the year: those of its months') FROM m;
SELECT is(ARRAY[(pg_temp.a('staff.a1', 'py')).months_assessed::text, (pg_temp.a('staff.a1', 'py')).monthly_mean::text,
                (pg_temp.a('staff.a1', 'py')).composite::text, (pg_temp.a('staff.a1', 'py')).grade],
  ARRAY['0', NULL, NULL, NULL], 'no month published: 0 months assessed, no mean, no composite, no grade');
SELECT is((SELECT count(*)::int FROM assessment.indicator_values iv JOIN assessment.assessments a ON a.id = iv.assessment_id
            WHERE a.period_id = pg_temp.id('py')), 0, 'a year has no indicator rows of its own');
-- the year's hash: SHA-256 of the canonical jsonb text of the months used and the scores
SELECT is((pg_temp.a('staff.a1', 'py')).evidence_hash,
  sha256(convert_to('{"months": [], "monthly_mean": null, "formula_version": 1, "supervisor_score": null}', 'UTF8')),
  'the year''s evidence hash, written out');

-- period_end and the period's bounds ----------------------------------------------------------
SELECT is(assessment.period_end(pg_temp.id('pf')),
          ((to_date(m.pf, 'YYYY-MM') + interval '1 month')::date)::timestamp AT TIME ZONE m.tz,
  'period_end: the first instant after the month''s last day, company time') FROM m;
SELECT is(assessment.period_start(pg_temp.id('pf')), to_date(m.pf, 'YYYY-MM')::timestamp AT TIME ZONE m.tz,
  'period_start: the month''s first instant, company time') FROM m;
SELECT is((SELECT parameters -> 'assessment_weights' FROM assessment.periods WHERE id = pg_temp.id('pf')),
  org.policy_value('assessment_weights', (SELECT ends_on FROM assessment.periods WHERE id = pg_temp.id('pf'))),
  'the period holds the weights in force at its last day');
SELECT is((SELECT parameters ->> 'company_time_zone' FROM assessment.periods WHERE id = pg_temp.id('pf')), m.tz,
  'and the company''s time zone') FROM m;

-- api.period_json and the routes' functions ---------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is((api.period_json(pg_temp.id('pf'))::jsonb - ARRAY['id', 'parameters', 'opened_at', 'computed_at', 'created_at',
                                                             'updated_at', 'starts_at', 'ends_at']),
          jsonb_build_object('kind', 'month', 'label', m.pf, 'starts_on', to_date(m.pf, 'YYYY-MM'),
                             'ends_on', (to_date(m.pf, 'YYYY-MM') + interval '1 month - 1 day')::date,
                             'status', 'open', 'opened_by', NULL, 'closed_at', NULL,
                             'assessments', jsonb_build_object('total', 1, 'by_status', jsonb_build_object('computed', 1)),
                             'allowed_actions', '[]'::jsonb, 'version', 1),
  'period_json for staff: the month, opened by the job, the one assessment they see, no action for them') FROM m;
SELECT is((api.period_json(pg_temp.id('pf')) ->> 'ends_at'), api.ts(assessment.period_end(pg_temp.id('pf'))),
  'ends_at is period_end');
SELECT is(api.period_json('7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e')::jsonb, NULL, 'period_json of no period is NULL');
SELECT throws_ok($$ SELECT api.period_get('7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e') $$, 'P0002', 'no such assessment period',
  'an unknown period: 404');
SELECT throws_ok($$ SELECT api.period_open('{"label": "2020-01"}') $$, '42501', NULL, 'staff do not open periods');
SELECT throws_ok(format($$ SELECT api.period_compute(%L) $$, pg_temp.id('pf')), '42501', NULL, 'staff do not compute');
SELECT throws_ok(format($$ SELECT api.period_close(%L, '{}') $$, pg_temp.id('pf')), '42501', NULL, 'staff do not close');
SELECT is(json_array_length(api.period_list(NULL, NULL, NULL, NULL) -> 'items') >= 1, true, 'everyone signed in lists the periods');

SELECT pg_temp.be('hr', 'hr');
SELECT is(api.period_json(pg_temp.id('pf'))::jsonb -> 'allowed_actions', '["close"]'::jsonb,
  'hr may close an open period');
SELECT is(api.period_json(pg_temp.id('pf'))::jsonb -> 'assessments',
          jsonb_build_object('total', m.n, 'by_status', jsonb_build_object('computed', m.n)),
  'hr counts every assessment of the period') FROM m;
INSERT INTO ids SELECT 'a.b1', (pg_temp.a('staff.b1', 'pf')).id;
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT is((api.period_json(pg_temp.id('pf'))::jsonb #>> '{assessments,total}')::int,
          (SELECT count(*)::int FROM assessment.assessments WHERE period_id = pg_temp.id('pf')),
  'a supervisor counts what the policies let them see');
SELECT is(assessment.evidence_text(pg_temp.id('a.b1')), '',
  'the canonical text is read under the policies: sup.a does not read staff.b1''s rows');
SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok(format($$ SELECT api.period_open(jsonb_build_object('label', %L)) $$, to_char(now() AT TIME ZONE m.tz + interval '2 months', 'YYYY-MM')),
  'TXVAL', NULL, 'a month that has not ended is not opened') FROM m;
SELECT throws_ok(format($$ SELECT api.period_open(jsonb_build_object('label', %L)) $$, to_char(now() AT TIME ZONE m.tz + interval '1 year', 'YYYY')),
  'TXVAL', NULL, 'nor a year that has not ended') FROM m;
SELECT throws_ok($$ SELECT api.period_open('{"label": "2026-13"}') $$, 'TXVAL', NULL, 'a malformed label: 422');
SELECT throws_ok($$ SELECT api.period_open('{"label": "2026-01", "extra": 1}') $$, 'TXVAL', NULL, 'an unknown member: 422');
SELECT throws_ok($$ SELECT api.period_open('{}') $$, 'TXVAL', NULL, 'the label is required');
SELECT throws_ok(format($$ SELECT api.period_open(jsonb_build_object('label', %L)) $$, m.pf), 'TXDUP', NULL,
  'a period already open: 409 with existing_id') FROM m;
SELECT is((pg_temp.err(format($$ SELECT api.period_open(jsonb_build_object('label', %L)) $$, m.pf)) -> 'detail' ->> 'existing_id')::uuid,
  pg_temp.id('pf'), '... naming it') FROM m;
SELECT is((SELECT count(*)::int FROM assessment.periods WHERE label = '2026-13'), 0, 'a refused opening writes nothing');
-- HR opens an ended month by hand: 2024-01 (no facts then): opened by hr, computed
SELECT is((api.period_open('{"label": "2024-01"}')::jsonb - ARRAY['id', 'parameters', 'opened_at', 'computed_at', 'created_at',
                                                                  'updated_at', 'starts_at', 'ends_at', 'assessments', 'opened_by']),
  '{"kind": "month", "label": "2024-01", "starts_on": "2024-01-01", "ends_on": "2024-01-31", "status": "open",
    "closed_at": null, "allowed_actions": ["close"], "version": 1}'::jsonb, 'hr opens an ended month');
SELECT is((SELECT opened_by FROM assessment.periods WHERE label = '2024-01'), pg_temp.emp('hr'), '... opened by hr');
SELECT is((api.period_open('{"label": "2024"}') ->> 'kind'), 'year', 'hr opens an ended year');
SELECT is((api.period_compute(pg_temp.id('pf')) ->> 'computed')::int, m.n, 'hr recomputes: how many were recomputed') FROM m;
SELECT throws_ok(format($$ SELECT api.period_close(%L, '{}') $$, pg_temp.id('pf')), 'TXTRN', NULL,
  'a period with assessments on their way does not close (guard period_complete)');
SELECT is(pg_temp.err(format($$ SELECT api.period_close(%L, '{}') $$, pg_temp.id('pf'))) -> 'detail' -> 'allowed_actions',
  '["close"]'::jsonb, '... with allowed_actions');
-- 2024-01 has nobody assessed (nobody was employed then): it closes
SELECT is((api.period_close((SELECT id FROM assessment.periods WHERE label = '2024-01'), '{"reason": "完成"}') ->> 'status'),
  'closed', 'hr closes a complete period');
SELECT throws_ok(format($$ SELECT api.period_compute(%L) $$, (SELECT id FROM assessment.periods WHERE label = '2024-01')),
  'TXTRN', NULL, 'a closed period is not computed again');
SELECT is((api.period_transitions((SELECT id FROM assessment.periods WHERE label = '2024-01'), NULL, NULL) -> 'items' -> 0 ->> 'action'),
  'close', 'the close is in the transitions');
SELECT throws_ok($$ SELECT api.period_transitions('7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e', NULL, NULL) $$, 'P0002', NULL,
  'transitions of no period: 404');
SELECT is((SELECT array_agg(DISTINCT i ->> 'kind') FROM json_array_elements(api.period_list('year', NULL, NULL, NULL) -> 'items') i),
  ARRAY['year'], 'the list filters by kind');
SELECT is(json_array_length(api.period_list(NULL, 'closed', NULL, NULL) -> 'items'), 1, 'and by status');
SELECT is((api.period_list(NULL, NULL, 1, '2024-01') -> 'items' -> 0 ->> 'label'), '2024', 'pages on: after 2024-01 comes 2024');
SELECT throws_ok($$ SELECT api.period_list(NULL, NULL, NULL, 'x') $$, 'TXVAL', 'cursor: is not a cursor of this list', 'a malformed cursor: 422');
SELECT throws_ok($$ SELECT api.period_list('week', NULL, NULL, NULL) $$, 'TXVAL', NULL, 'an unknown kind: 422');

-- The set-based month against the per-person computation (issue 15) -----------------------------
-- compute_period computes a month with one statement per step for everyone (period_facts and
-- team_cases over all the people at once, one insert of every indicator row); a correction with
-- recompute computes one assessment alone (compute_assessment: the same facts for that one
-- employee, row by row, then score). From the same facts both give the same indicator rows, and
-- so the same composite, grade and hash. staff.a1 and staff.a2 share the team case and have facts
-- in all four indicators: each is walked to published (rating 4) and corrected with recompute.
CREATE FUNCTION pg_temp.recomputed(p_emp text) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE v_id uuid := (pg_temp.a(p_emp, 'pf')).id;
BEGIN
  PERFORM pg_temp.be(p_emp, 'staff');
  PERFORM api.assessment_self_assess(v_id, (pg_temp.a(p_emp, 'pf')).version, '{"went_well": "x", "shortcomings": "y"}');
  -- the supervisor at the period's end evaluates (staff.a2 moved to B: sup.b)
  IF (pg_temp.a(p_emp, 'pf')).supervisor_id = pg_temp.emp('sup.b') THEN
    PERFORM pg_temp.be('sup.b', 'supervisor');
  ELSE
    PERFORM pg_temp.be('sup.a', 'staff,supervisor');
  END IF;
  PERFORM api.assessment_evaluate(v_id, (pg_temp.a(p_emp, 'pf')).version, '{"teamwork_rating": 4}');
  PERFORM pg_temp.be('hr', 'hr');
  PERFORM api.assessment_check(v_id, (pg_temp.a(p_emp, 'pf')).version, '{}');
  PERFORM api.assessment_publish(v_id, (pg_temp.a(p_emp, 'pf')).version);
  RETURN (api.assessment_correction_propose(v_id, (pg_temp.a(p_emp, 'pf')).version,
                                            '{"reason": "重新計算", "recompute": true}') ->> 'id')::uuid;
END $$;
CREATE TEMP TABLE set_based AS
SELECT e.name, a.id FROM (VALUES ('staff.a1'), ('staff.a2')) e(name), LATERAL pg_temp.a(e.name, 'pf') a;
INSERT INTO ids SELECT 'r2:' || s.name, pg_temp.recomputed(s.name) FROM set_based s;
CREATE FUNCTION pg_temp.rows_of(p_id uuid) RETURNS TABLE (indicator text, figure numeric, numerator numeric,
    denominator numeric, marked text, formula_version int, evidence jsonb) LANGUAGE sql STABLE AS $$
  SELECT iv.indicator, iv.figure, iv.numerator, iv.denominator, iv.marked, iv.formula_version, iv.evidence
    FROM assessment.indicator_values iv WHERE iv.assessment_id = p_id $$;
SELECT ok((SELECT count(*) FROM pg_temp.rows_of(s.id) r
            WHERE r.figure IS NOT NULL AND r.indicator IN ('accuracy', 'satisfaction')) = 2,
          format('%s has figures from facts (reviews, confirmations: the comparison below compares figures)', s.name))
  FROM set_based s;
SELECT set_eq(format('SELECT * FROM pg_temp.rows_of(%L)', pg_temp.id('r2:' || s.name)),
              format('SELECT * FROM pg_temp.rows_of(%L)', s.id),
              format('%s: recomputed alone, the same five indicator rows as the month computed for everyone', s.name))
  FROM set_based s;

SELECT * FROM finish();
ROLLBACK;
