-- sql/code/cases/050_review.sql: review rounds (P3.1-P3.3) and the files of a case (P3.4, P4.1;
-- C2.2 for paper). Module P, part D. One current definition per object; `tianxingd migrate`
-- re-applies this file when it changes (sql/code/ORDER).
--
-- A round is opened by the work side (part C, POST /v1/cases/{id}/submit-review: a row of
-- cases.reviews, undecided) and decided here by one supervisor with a verdict per checklist
-- criterion of the case's business-type version (P3.2: accuracy, compliance, completeness, ...).
-- All pass: the case moves `pass` (passed). Any fail: it moves `fail` (rectifying) with the
-- reviewer's feedback, and part C's resubmission opens the next round (P3.3).
--
-- Who reviews (P3.1; issue 11 "the reviewer is a supervisor who is neither an assignee nor a
-- work-record author (team membership included)"): an active supervisor OF THE CASE'S DEPARTMENT
-- (the department's supervisors are those who review its work: P3.1 業務主管; a supervisor of
-- another department does not see the case at all), who
--   * holds or held no assignment on the case (lead or member: every cases.assignments row, ended
--     ones included, so a person taken off the team before review cannot review their own work),
--   * wrote none of its work records, and
--   * submitted none of its review rounds (whoever put the work forward is on the work side).
-- The rule is one function, cases.reviewer_eligible(case, employee); the guard of the moves
-- pass/fail (cases.reviewer_independent) asks it for the caller, and the trigger on
-- cases.reviews asks it for the reviewer a row names, whoever writes it.

-- The person p_employee may decide a review round of p_case (see the header). SECURITY DEFINER:
-- it reads assignments and records whatever the caller may see.
CREATE OR REPLACE FUNCTION cases.reviewer_eligible(p_case uuid, p_employee uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT p_employee IS NOT NULL
         AND EXISTS (SELECT FROM cases.cases c JOIN org.employees e ON e.id = p_employee
                      WHERE c.id = p_case AND e.active AND 'supervisor' = ANY (e.roles)
                        AND e.department_id = c.department_id)
         AND NOT EXISTS (SELECT FROM cases.assignments a
                          WHERE a.case_id = p_case AND a.employee_id = p_employee)
         AND NOT EXISTS (SELECT FROM cases.work_records w
                          WHERE w.case_id = p_case AND w.author_id = p_employee)
         AND NOT EXISTS (SELECT FROM cases.reviews r
                          WHERE r.case_id = p_case AND r.submitted_by = p_employee)
$$;
REVOKE ALL ON FUNCTION cases.reviewer_eligible(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.reviewer_eligible(uuid, uuid) TO tianxing_app;

-- Guard of the moves pass and fail (0018): the caller, signed in as a supervisor, is eligible.
CREATE OR REPLACE FUNCTION cases.reviewer_independent(p_case uuid) RETURNS boolean
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT tx.has_role('supervisor') AND cases.reviewer_eligible(p_case, tx.user_id())
$$;
REVOKE ALL ON FUNCTION cases.reviewer_independent(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.reviewer_independent(uuid) TO tianxing_app;
COMMENT ON FUNCTION cases.reviewer_independent(uuid) IS
  'the reviewer must be a supervisor of the case''s department who is not and was not assigned '
  'to the case, wrote none of its work records and submitted none of its review rounds (P3.1)';

-- The caller works on p_case now: a current assignee, or a supervisor of its department. Who adds
-- files, delivers and records the customer's answer (P3.4, P4.1). SECURITY DEFINER like
-- cases.is_involved (it reads assignments).
CREATE OR REPLACE FUNCTION cases.handles_case(p_case uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT tx.user_id() IS NOT NULL
         AND ((tx.has_role('staff') OR tx.has_role('supervisor'))
              AND cases.work_assignee(p_case, tx.user_id())
              OR tx.has_role('supervisor')
                 AND EXISTS (SELECT FROM cases.cases c
                              WHERE c.id = p_case AND c.department_id = tx.department_id()))
$$;
REVOKE ALL ON FUNCTION cases.handles_case(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.handles_case(uuid) TO tianxing_app;

-- The case as the caller sees it, locked: cases.find (030_cases.sql; 404 when unknown or
-- invisible). "404 unless visible" for the invoker api functions: cases.visible_case
-- (000_access.sql). This part's copies of both are gone.
DROP FUNCTION IF EXISTS cases.review_case_for(uuid);

-- Rules on review rounds, for every writer (the owner's functions too) ---------------------------
-- A round is opened undecided; it is decided once (reviewer, outcome, comment, time) and is then
-- final; nothing else of it changes; the reviewer is eligible; the decision has a verdict for
-- every criterion of the case's checklist, passed exactly when none failed, and a failed round
-- says what to rectify (P3.3). Rounds are never deleted.
CREATE OR REPLACE FUNCTION cases.reviews_rules() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_missing int;
  v_failed int;
  v_status text;
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'review rounds are never deleted' USING ERRCODE = 'TXCON';
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW.outcome IS NOT NULL OR NEW.reviewer_id IS NOT NULL THEN
      RAISE EXCEPTION 'a review round is opened undecided' USING ERRCODE = 'TXCON';
    END IF;
    RETURN NEW;
  END IF;
  IF OLD.outcome IS NOT NULL THEN
    RAISE EXCEPTION 'review round % of this case is decided and final', OLD.round
      USING ERRCODE = 'TXCON';
  END IF;
  IF (NEW.id, NEW.case_id, NEW.round, NEW.submitted_by, NEW.submitted_at, NEW.rectification_note)
     IS DISTINCT FROM
     (OLD.id, OLD.case_id, OLD.round, OLD.submitted_by, OLD.submitted_at, OLD.rectification_note)
  THEN
    RAISE EXCEPTION 'only the decision of a review round can be recorded' USING ERRCODE = 'TXCON';
  END IF;
  IF NEW.outcome IS NULL THEN
    RETURN NEW;
  END IF;
  SELECT c.status INTO v_status FROM cases.cases c WHERE c.id = NEW.case_id;
  IF v_status IS DISTINCT FROM 'under_review' THEN
    RAISE EXCEPTION 'a review round is decided while the case is under review, not %', v_status
      USING ERRCODE = 'TXCON';
  END IF;
  IF NOT cases.reviewer_eligible(NEW.case_id, NEW.reviewer_id) THEN
    RAISE EXCEPTION 'the reviewer must be a supervisor of the case''s department who is not and '
                    'was not assigned to it, wrote none of its records and submitted none of its '
                    'rounds (P3.1)' USING ERRCODE = 'TXDEN';
  END IF;
  SELECT count(*) FILTER (WHERE v.verdict IS NULL), count(*) FILTER (WHERE v.verdict = 'fail')
    INTO v_missing, v_failed
    FROM cases.cases c
    JOIN cases.checklist_criteria k ON k.type_version_id = c.type_version_id
    LEFT JOIN cases.review_verdicts v ON v.review_id = NEW.id AND v.criterion_id = k.id
   WHERE c.id = NEW.case_id;
  IF v_missing > 0 OR NOT EXISTS (SELECT FROM cases.review_verdicts v WHERE v.review_id = NEW.id) THEN
    RAISE EXCEPTION 'a review decides every criterion of the checklist (P3.2): % without a verdict',
      v_missing USING ERRCODE = 'TXVAL';
  END IF;
  IF (NEW.outcome = 'passed') <> (v_failed = 0) THEN
    RAISE EXCEPTION 'a round passes exactly when no criterion failed' USING ERRCODE = 'TXCON';
  END IF;
  IF NEW.outcome = 'failed' AND NEW.comment IS NULL THEN
    PERFORM api.fail('TXVAL', 'comment', 'is required when the review fails: say what to rectify (P3.3)');
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION cases.reviews_rules() FROM PUBLIC;
CREATE OR REPLACE TRIGGER reviews_rules BEFORE INSERT OR UPDATE OR DELETE ON cases.reviews
  FOR EACH ROW EXECUTE FUNCTION cases.reviews_rules();

-- Verdicts are written while their round is open, for criteria of the case's own checklist, and
-- never changed or removed.
CREATE OR REPLACE FUNCTION cases.review_verdicts_rules() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    RAISE EXCEPTION 'review verdicts are final' USING ERRCODE = 'TXCON';
  END IF;
  IF NOT EXISTS (SELECT FROM cases.reviews r WHERE r.id = NEW.review_id AND r.outcome IS NULL) THEN
    RAISE EXCEPTION 'verdicts are given while their review round is open' USING ERRCODE = 'TXCON';
  END IF;
  IF NOT EXISTS (SELECT FROM cases.reviews r
                   JOIN cases.cases c ON c.id = r.case_id
                   JOIN cases.checklist_criteria k ON k.type_version_id = c.type_version_id
                  WHERE r.id = NEW.review_id AND k.id = NEW.criterion_id) THEN
    RAISE EXCEPTION 'the criterion is not on the checklist of the case''s business type'
      USING ERRCODE = 'TXVAL';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION cases.review_verdicts_rules() FROM PUBLIC;
CREATE OR REPLACE TRIGGER review_verdicts_rules BEFORE INSERT OR UPDATE OR DELETE
  ON cases.review_verdicts FOR EACH ROW EXECUTE FUNCTION cases.review_verdicts_rules();
CREATE OR REPLACE TRIGGER review_verdicts_no_truncate BEFORE TRUNCATE ON cases.review_verdicts
  FOR EACH STATEMENT EXECUTE FUNCTION cases.review_verdicts_rules();

-- Documents -------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION api.case_review_json(r cases.reviews) RETURNS json
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT json_build_object(
           'id', r.id, 'case_id', r.case_id, 'round', r.round,
           'submitted_by', r.submitted_by, 'submitted_at', api.ts(r.submitted_at),
           'rectification_note', r.rectification_note,
           'status', CASE WHEN r.outcome IS NULL THEN 'open' ELSE r.outcome END,
           'reviewer_id', r.reviewer_id, 'comment', r.comment, 'decided_at', api.ts(r.decided_at),
           'verdicts', coalesce((SELECT json_agg(json_build_object(
                                   'criterion', k.code, 'name', k.name, 'verdict', v.verdict,
                                   'comment', v.comment) ORDER BY k.seq)
                                   FROM cases.review_verdicts v
                                   JOIN cases.checklist_criteria k ON k.id = v.criterion_id
                                  WHERE v.review_id = r.id), '[]'::json))
$$;
REVOKE ALL ON FUNCTION api.case_review_json(cases.reviews) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_review_json(cases.reviews) TO tianxing_app;

-- POST /v1/cases/{id}/reviews (supervisor, P3.1-P3.3): decides the open round.
-- Body {verdicts: [{criterion, verdict: pass|fail, comment}], comment}: every criterion of the
-- case's checklist exactly once; a failed criterion says why; a failed round says what to rectify.
-- 404 unseen case, 403 not a supervisor or not an eligible one, 409 not under review, 422 body.
CREATE OR REPLACE FUNCTION cases.review_decide(p_case uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  c cases.cases;
  r cases.reviews;
  v_items jsonb;
  v_item jsonb;
  v_i int := 0;
  v_code text;
  v_verdict text;
  v_comment text;
  v_crit cases.checklist_criteria;
  v_seen text[] := '{}';
  v_failed boolean := false;
  v_outcome text;
  v_missing text;
BEGIN
  PERFORM api.require_user();
  c := cases.find(p_case);
  PERFORM api.require_role('supervisor');
  -- 409 before anything else about the request: the case must be under review
  PERFORM fsm.transition('case', c.status, 'pass');
  IF NOT cases.reviewer_independent(c.id) THEN
    RAISE EXCEPTION 'the reviewer must be a supervisor of the case''s department who is not and '
                    'was not assigned to it, wrote none of its records and submitted none of its '
                    'rounds (P3.1)' USING ERRCODE = 'TXDEN';
  END IF;
  SELECT * INTO r FROM cases.reviews x
   WHERE x.case_id = c.id AND x.outcome IS NULL FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'the case has no open review round' USING ERRCODE = 'TXCON';
  END IF;

  PERFORM api.body_keys(p_body, ARRAY['verdicts', 'comment']);
  v_comment := api.body_text(p_body, 'comment', false, 4000);
  v_items := p_body -> 'verdicts';
  IF v_items IS NULL OR jsonb_typeof(v_items) <> 'array' OR jsonb_array_length(v_items) = 0 THEN
    PERFORM api.fail('TXVAL', 'verdicts', 'is required: one verdict per criterion of the checklist');
  END IF;
  FOR v_item IN SELECT x FROM jsonb_array_elements(v_items) x LOOP
    IF jsonb_typeof(v_item) <> 'object' THEN
      PERFORM api.fail('TXVAL', format('verdicts[%s]', v_i), 'must be an object');
    END IF;
    SELECT k INTO v_code FROM jsonb_object_keys(v_item) k
     WHERE k NOT IN ('criterion', 'verdict', 'comment') ORDER BY k LIMIT 1;
    IF v_code IS NOT NULL THEN
      PERFORM api.fail('TXVAL', format('verdicts[%s].%s', v_i, v_code), 'unknown field');
    END IF;
    v_code := CASE WHEN jsonb_typeof(v_item -> 'criterion') = 'string' THEN v_item ->> 'criterion' END;
    SELECT * INTO v_crit FROM cases.checklist_criteria k
     WHERE k.type_version_id = c.type_version_id AND k.code = v_code;
    IF NOT FOUND THEN
      PERFORM api.fail('TXVAL', format('verdicts[%s].criterion', v_i),
                       'is not a criterion of the checklist of the case''s business type');
    END IF;
    IF v_code = ANY (v_seen) THEN
      PERFORM api.fail('TXVAL', format('verdicts[%s].criterion', v_i),
                       format('%s has a verdict already: one per criterion', v_code));
    END IF;
    v_seen := v_seen || v_code;
    v_verdict := CASE WHEN jsonb_typeof(v_item -> 'verdict') = 'string' THEN v_item ->> 'verdict' END;
    IF v_verdict IS NULL OR v_verdict NOT IN ('pass', 'fail') THEN
      PERFORM api.fail('TXVAL', format('verdicts[%s].verdict', v_i), 'must be pass or fail');
    END IF;
    IF v_item -> 'comment' IS NOT NULL AND jsonb_typeof(v_item -> 'comment') <> 'null'
       AND (jsonb_typeof(v_item -> 'comment') <> 'string' OR btrim(v_item ->> 'comment') = ''
            OR length(v_item ->> 'comment') > 2000) THEN
      PERFORM api.fail('TXVAL', format('verdicts[%s].comment', v_i),
                       'must be a text of 1 to 2000 characters');
    END IF;
    IF v_verdict = 'fail' AND coalesce(btrim(v_item ->> 'comment'), '') = '' THEN
      PERFORM api.fail('TXVAL', format('verdicts[%s].comment', v_i),
                       'is required for a failed criterion: say what is wrong (P3.3)');
    END IF;
    v_failed := v_failed OR v_verdict = 'fail';
    INSERT INTO cases.review_verdicts (review_id, criterion_id, verdict, comment)
    VALUES (r.id, v_crit.id, v_verdict, NULLIF(v_item ->> 'comment', ''));
    v_i := v_i + 1;
  END LOOP;
  SELECT string_agg(k.code, ', ' ORDER BY k.seq) INTO v_missing
    FROM cases.checklist_criteria k
   WHERE k.type_version_id = c.type_version_id AND NOT k.code = ANY (v_seen);
  IF v_missing IS NOT NULL THEN
    PERFORM api.fail('TXVAL', 'verdicts', format('every criterion needs a verdict; missing: %s', v_missing));
  END IF;
  IF v_failed AND v_comment IS NULL THEN
    PERFORM api.fail('TXVAL', 'comment', 'is required when the review fails: say what to rectify (P3.3)');
  END IF;
  v_outcome := CASE WHEN v_failed THEN 'failed' ELSE 'passed' END;

  UPDATE cases.reviews x
     SET reviewer_id = tx.user_id(), outcome = v_outcome, comment = v_comment, decided_at = now()
   WHERE x.id = r.id
  RETURNING * INTO r;
  IF v_failed THEN
    PERFORM fsm.move('case', c.id, 'fail', v_comment);
  ELSE
    PERFORM fsm.move('case', c.id, 'pass', v_comment, jsonb_build_object('passed_at', now()));
  END IF;
  RETURN (api.case_review_json(r)::jsonb
          || jsonb_build_object('case_status', (SELECT x.status FROM cases.cases x
                                                  WHERE x.id = c.id)))::json;
END
$$;
REVOKE ALL ON FUNCTION cases.review_decide(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.review_decide(uuid, jsonb) TO tianxing_app;

-- GET /v1/cases/{id}/reviews (whoever may read the case): every round, oldest first, with its
-- verdicts. A case has few rounds (each one a rework): one list, no paging.
CREATE OR REPLACE FUNCTION api.case_reviews(p_case uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  PERFORM cases.visible_case(p_case);
  RETURN json_build_object(
           'items', coalesce((SELECT json_agg(api.case_review_json(r) ORDER BY r.round)
                                FROM cases.reviews r WHERE r.case_id = p_case), '[]'::json));
END
$$;
REVOKE ALL ON FUNCTION api.case_reviews(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_reviews(uuid) TO tianxing_app;

-- The API (SECURITY INVOKER, like every api function: sql/tests/org.sql) -------------------------
-- Each route's function finds the case as the caller sees it (row-level security: a case the
-- caller may not see is 404), then calls the SECURITY DEFINER function above that writes as the
-- owner (the runtime role only reads the cases tables; the rules bind the owner through triggers).
CREATE OR REPLACE FUNCTION api.case_review_decide(p_case uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM cases.visible_case(p_case);
  RETURN cases.review_decide(p_case, p_body);
END
$$;
REVOKE ALL ON FUNCTION api.case_review_decide(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_review_decide(uuid, jsonb) TO tianxing_app;
