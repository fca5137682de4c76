-- sql/code/assessment/050_surveys.sql: customer satisfaction questionnaires (Q3 客戶反饋), module Q
-- part C. One current definition per object; `tianxingd migrate` re-applies this file when it
-- changes (sql/code/ORDER).
--
-- Questionnaires have immutable versions (hr and admin write them). A send is one version to one
-- customer, about a confirmed case (created by the trigger on the case's confirmation, P3.4, or by
-- staff of the case) or regular (the job 'assessment.surveys', or hr: send now). The customer
-- answers through a one-time link exactly like a case confirmation link (060_delivery.sql): the C
-- handler draws the token, the database keeps only its SHA-256, the public route needs no token
-- of ours, a link answers once, until the send expires, unless replaced. Only the service opens the
-- customer's contacts: no function here returns a contact, a name or an address of a customer.
-- An answer counts (Q1 satisfaction) for the staff who did the work: the case's assignees, or the
-- customer's owner and team for a regular send (survey_attributions).

-- Questions --------------------------------------------------------------------------------------
-- A version's questions, checked and normalized: 1-50 objects {code, text, kind, required}, code
-- [a-z0-9_] unique within the version, text 1-500 characters (Chinese welcome), kind rating (1-5)
-- or text, required a boolean (absent: true). TXVAL naming questions[i].member otherwise.
CREATE OR REPLACE FUNCTION assessment.survey_questions(p_questions jsonb) RETURNS jsonb
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  q jsonb;
  i int := 0;
  k text;
  v_codes text[] := '{}';
  v_out jsonb := '[]';
  v_code text;
  v_text text;
BEGIN
  IF p_questions IS NULL OR jsonb_typeof(p_questions) <> 'array'
     OR jsonb_array_length(p_questions) NOT BETWEEN 1 AND 50 THEN
    PERFORM api.fail('TXVAL', 'questions', 'must be an array of 1 to 50 questions');
  END IF;
  FOR q IN SELECT x FROM jsonb_array_elements(p_questions) x LOOP
    IF jsonb_typeof(q) <> 'object' THEN
      PERFORM api.fail('TXVAL', format('questions[%s]', i), 'must be an object {code, text, kind, required}');
    END IF;
    SELECT x INTO k FROM jsonb_object_keys(q) x
     WHERE x NOT IN ('code', 'text', 'kind', 'required') ORDER BY x LIMIT 1;
    IF k IS NOT NULL THEN
      PERFORM api.fail('TXVAL', format('questions[%s].%s', i, k), 'unknown field');
    END IF;
    v_code := CASE WHEN jsonb_typeof(q -> 'code') = 'string' THEN q ->> 'code' END;
    IF v_code IS NULL OR v_code !~ '^[a-z0-9][a-z0-9_]{0,31}$' THEN
      PERFORM api.fail('TXVAL', format('questions[%s].code', i),
                       'must be 1-32 characters of a-z, 0-9 and _, starting with a letter or digit');
    END IF;
    IF v_code = ANY (v_codes) THEN
      PERFORM api.fail('TXVAL', format('questions[%s].code', i), 'is used by an earlier question');
    END IF;
    v_codes := v_codes || v_code;
    v_text := CASE WHEN jsonb_typeof(q -> 'text') = 'string' THEN q ->> 'text' END;
    IF v_text IS NULL OR btrim(v_text) = '' OR length(v_text) > 500 THEN
      PERFORM api.fail('TXVAL', format('questions[%s].text', i), 'must be a text of 1 to 500 characters');
    END IF;
    IF jsonb_typeof(q -> 'kind') IS DISTINCT FROM 'string' OR q ->> 'kind' NOT IN ('rating', 'text') THEN
      PERFORM api.fail('TXVAL', format('questions[%s].kind', i), 'must be rating or text');
    END IF;
    IF q ? 'required' AND jsonb_typeof(q -> 'required') <> 'boolean' THEN
      PERFORM api.fail('TXVAL', format('questions[%s].required', i), 'must be true or false');
    END IF;
    v_out := v_out || jsonb_build_array(jsonb_build_object(
               'code', v_code, 'text', v_text, 'kind', q ->> 'kind',
               'required', coalesce((q ->> 'required')::boolean, true)));
    i := i + 1;
  END LOOP;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION assessment.survey_questions(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.survey_questions(jsonb) TO tianxing_app;

-- An answer's members against its questions: an object keyed by question code, every required
-- question answered, ratings whole numbers 1-5, texts 1-2000 characters, no unknown code. TXVAL
-- naming answers.<code> otherwise.
CREATE OR REPLACE FUNCTION assessment.survey_answer_check(p_questions jsonb, p_answers jsonb)
  RETURNS void
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  q jsonb;
  k text;
  v jsonb;
BEGIN
  IF p_answers IS NULL OR jsonb_typeof(p_answers) <> 'object' THEN
    PERFORM api.fail('TXVAL', 'answers', 'must be an object keyed by question code');
  END IF;
  SELECT x INTO k FROM jsonb_object_keys(p_answers) x
   WHERE NOT EXISTS (SELECT FROM jsonb_array_elements(p_questions) y WHERE y ->> 'code' = x)
   ORDER BY x LIMIT 1;
  IF k IS NOT NULL THEN
    PERFORM api.fail('TXVAL', 'answers.' || k, 'is not a question of this questionnaire');
  END IF;
  FOR q IN SELECT x FROM jsonb_array_elements(p_questions) x LOOP
    v := p_answers -> (q ->> 'code');
    IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
      IF (q ->> 'required')::boolean THEN
        PERFORM api.fail('TXVAL', 'answers.' || (q ->> 'code'), 'is required');
      END IF;
      CONTINUE;
    END IF;
    IF q ->> 'kind' = 'rating' THEN
      IF jsonb_typeof(v) <> 'number' OR (v #>> '{}') !~ '^[1-5]$' THEN
        PERFORM api.fail('TXVAL', 'answers.' || (q ->> 'code'), 'must be a whole number from 1 to 5');
      END IF;
    ELSIF jsonb_typeof(v) <> 'string' OR btrim(v #>> '{}') = '' OR length(v #>> '{}') > 2000 THEN
      PERFORM api.fail('TXVAL', 'answers.' || (q ->> 'code'), 'must be a text of 1 to 2000 characters');
    END IF;
  END LOOP;
END
$$;
REVOKE ALL ON FUNCTION assessment.survey_answer_check(jsonb, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.survey_answer_check(jsonb, jsonb) TO tianxing_app;

-- The normalized score of an answer (Q1 satisfaction): the mean of (rating - 1) x 25 over its
-- rating answers, as the confirmations' ratings are normalized; NULL when it rated nothing.
CREATE OR REPLACE FUNCTION assessment.survey_answer_score(p_questions jsonb, p_answers jsonb)
  RETURNS numeric
  LANGUAGE sql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT round(avg(((p_answers ->> (q ->> 'code'))::int - 1) * 25.0), 2)
    FROM jsonb_array_elements(p_questions) q
   WHERE q ->> 'kind' = 'rating' AND jsonb_typeof(p_answers -> (q ->> 'code')) = 'number'
$$;
REVOKE ALL ON FUNCTION assessment.survey_answer_score(jsonb, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.survey_answer_score(jsonb, jsonb) TO tianxing_app;

-- Who an answer to the send p_send counts for (Q1 satisfaction; issue 12): every employee with an
-- assignment (lead or member) on the send's case, or the customer's owner and team for a regular
-- send. SECURITY DEFINER: the trigger and the writer ask it whatever the caller may read.
CREATE OR REPLACE FUNCTION assessment.survey_attributees(p_send uuid) RETURNS SETOF uuid
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT DISTINCT a.employee_id FROM assessment.survey_sends s
    JOIN cases.assignments a ON a.case_id = s.case_id
   WHERE s.id = p_send AND s.case_id IS NOT NULL
  UNION
  SELECT x.employee_id FROM assessment.survey_sends s
    JOIN LATERAL (SELECT c.owner_id AS employee_id FROM cust.customers c WHERE c.id = s.customer_id
                  UNION SELECT t.employee_id FROM cust.team t WHERE t.customer_id = s.customer_id) x
      ON true
   WHERE s.id = p_send AND s.case_id IS NULL
$$;
REVOKE ALL ON FUNCTION assessment.survey_attributees(uuid) FROM PUBLIC;

-- A send's state, derived from its facts: answered, revoked, expired (recorded by the job, or
-- past its expiry and not yet swept), else open.
CREATE OR REPLACE FUNCTION assessment.send_status(s assessment.survey_sends) RETURNS text
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT CASE WHEN s.answered_at IS NOT NULL THEN 'answered'
              WHEN s.revoked_at IS NOT NULL THEN 'revoked'
              WHEN s.expired_at IS NOT NULL OR s.expires_at <= now() THEN 'expired'
              ELSE 'open' END
$$;
REVOKE ALL ON FUNCTION assessment.send_status(assessment.survey_sends) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.send_status(assessment.survey_sends) TO tianxing_app;

-- Rules for every writer (triggers) ---------------------------------------------------------------
-- A questionnaire: never removed; its code, purpose and author never change; its current version
-- is one of its versions.
CREATE OR REPLACE FUNCTION assessment.surveys_rules() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'questionnaires are never removed; deactivate one by activating another'
      USING ERRCODE = 'TXCON';
  END IF;
  IF TG_OP = 'UPDATE' THEN
    IF (NEW.id, NEW.code, NEW.purpose, NEW.created_by, NEW.created_at)
       IS DISTINCT FROM (OLD.id, OLD.code, OLD.purpose, OLD.created_by, OLD.created_at) THEN
      RAISE EXCEPTION 'a questionnaire''s code, purpose and author never change' USING ERRCODE = 'TXCON';
    END IF;
    IF NOT EXISTS (SELECT FROM assessment.survey_versions v
                    WHERE v.survey_id = NEW.id AND v.version = NEW.current_version) THEN
      RAISE EXCEPTION 'the current version must be a version of the questionnaire' USING ERRCODE = 'TXCON';
    END IF;
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION assessment.surveys_rules() FROM PUBLIC;
CREATE OR REPLACE TRIGGER surveys_rules BEFORE UPDATE OR DELETE ON assessment.surveys
  FOR EACH ROW EXECUTE FUNCTION assessment.surveys_rules();

-- A version (Q3): immutable once written (a change is the next version); numbered 1, 2, ... per
-- questionnaire; its questions checked and normalized here, whoever writes.
CREATE OR REPLACE FUNCTION assessment.survey_versions_rules() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    RAISE EXCEPTION 'a questionnaire version is immutable: add a new version' USING ERRCODE = 'TXCON';
  END IF;
  IF NEW.version <> coalesce((SELECT max(v.version) FROM assessment.survey_versions v
                               WHERE v.survey_id = NEW.survey_id), 0) + 1 THEN
    RAISE EXCEPTION 'versions of a questionnaire are numbered 1, 2, ... without gaps' USING ERRCODE = 'TXCON';
  END IF;
  NEW.questions := assessment.survey_questions(NEW.questions);
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION assessment.survey_versions_rules() FROM PUBLIC;
CREATE OR REPLACE TRIGGER survey_versions_rules BEFORE INSERT OR UPDATE OR DELETE
  ON assessment.survey_versions FOR EACH ROW EXECUTE FUNCTION assessment.survey_versions_rules();

-- A send: issued open (not answered, revoked or expired, no reminder); its reason is its
-- questionnaire's purpose; a case's send is about a case of that customer whose delivery the
-- customer confirmed (P3.4). Afterwards: the link may be (re)minted while open; a reminder adds
-- one at a later instant while open; it is closed once, by the answer (which must exist), a
-- revocation, or expiry (not before its expires_at); nothing else changes; never removed.
CREATE OR REPLACE FUNCTION assessment.survey_sends_rules() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'survey sends are never removed' USING ERRCODE = 'TXCON';
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW.answered_at IS NOT NULL OR NEW.revoked_at IS NOT NULL OR NEW.expired_at IS NOT NULL
       OR NEW.reminders <> 0 OR NEW.last_reminded_at IS NOT NULL THEN
      RAISE EXCEPTION 'a send is issued open, without reminders' USING ERRCODE = 'TXCON';
    END IF;
    IF NEW.reason IS DISTINCT FROM (SELECT s.purpose FROM assessment.survey_versions v
                                      JOIN assessment.surveys s ON s.id = v.survey_id
                                     WHERE v.id = NEW.survey_version_id) THEN
      RAISE EXCEPTION 'a send''s reason is its questionnaire''s purpose' USING ERRCODE = 'TXCON';
    END IF;
    IF NEW.case_id IS NOT NULL AND NOT EXISTS (
         SELECT FROM cases.cases c WHERE c.id = NEW.case_id AND c.customer_id = NEW.customer_id) THEN
      RAISE EXCEPTION 'a send about a case goes to that case''s customer' USING ERRCODE = 'TXCON';
    END IF;
    IF NEW.reason = 'after_confirmation' AND NOT EXISTS (
         SELECT FROM cases.confirmations x WHERE x.case_id = NEW.case_id AND x.outcome = 'confirmed') THEN
      RAISE EXCEPTION 'a case''s survey follows the customer''s confirmation (P3.4)' USING ERRCODE = 'TXCON';
    END IF;
    RETURN NEW;
  END IF;
  IF (NEW.id, NEW.survey_version_id, NEW.customer_id, NEW.case_id, NEW.reason, NEW.sent_at,
      NEW.expires_at, NEW.created_by)
     IS DISTINCT FROM (OLD.id, OLD.survey_version_id, OLD.customer_id, OLD.case_id, OLD.reason,
                       OLD.sent_at, OLD.expires_at, OLD.created_by) THEN
    RAISE EXCEPTION 'a send''s questionnaire, customer, case, reason and times never change'
      USING ERRCODE = 'TXCON';
  END IF;
  IF OLD.answered_at IS NOT NULL OR OLD.revoked_at IS NOT NULL OR OLD.expired_at IS NOT NULL THEN
    RAISE EXCEPTION 'an answered, revoked or expired send never changes' USING ERRCODE = 'TXCON';
  END IF;
  IF (NEW.token_hash IS NOT DISTINCT FROM OLD.token_hash
      AND (NEW.link_created_at, NEW.link_created_by) IS DISTINCT FROM (OLD.link_created_at, OLD.link_created_by))
     OR (NEW.token_hash IS DISTINCT FROM OLD.token_hash
         AND (NEW.token_hash IS NULL OR NEW.link_created_at IS NULL
              OR NEW.link_created_at < coalesce(OLD.link_created_at, '-infinity'))) THEN
    RAISE EXCEPTION 'a link is minted (replaced) with its time, and only then' USING ERRCODE = 'TXCON';
  END IF;
  IF NEW.reminders NOT IN (OLD.reminders, OLD.reminders + 1)
     OR (NEW.reminders = OLD.reminders) <> (NEW.last_reminded_at IS NOT DISTINCT FROM OLD.last_reminded_at)
     OR (NEW.reminders > OLD.reminders
         AND NEW.last_reminded_at <= coalesce(OLD.last_reminded_at, OLD.sent_at)) THEN
    RAISE EXCEPTION 'a reminder adds one, at a later instant' USING ERRCODE = 'TXCON';
  END IF;
  IF NEW.answered_at IS NOT NULL
     AND NOT EXISTS (SELECT FROM assessment.survey_answers a WHERE a.send_id = NEW.id) THEN
    RAISE EXCEPTION 'a send is answered by its answer' USING ERRCODE = 'TXCON';
  END IF;
  IF NEW.expired_at < OLD.expires_at THEN
    RAISE EXCEPTION 'a send expires at its expiry, not before' USING ERRCODE = 'TXCON';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION assessment.survey_sends_rules() FROM PUBLIC;
CREATE OR REPLACE TRIGGER survey_sends_rules BEFORE INSERT OR UPDATE OR DELETE
  ON assessment.survey_sends FOR EACH ROW EXECUTE FUNCTION assessment.survey_sends_rules();

-- An answer: once per send (unique), to an open send with a live link, checked against its
-- version's questions; its score is computed here from the answers (never what a writer claims);
-- never changed or removed.
CREATE OR REPLACE FUNCTION assessment.survey_answers_rules() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  s assessment.survey_sends;
  v_questions jsonb;
BEGIN
  IF TG_OP <> 'INSERT' THEN
    RAISE EXCEPTION 'a customer''s answer is never changed or removed' USING ERRCODE = 'TXCON';
  END IF;
  SELECT * INTO s FROM assessment.survey_sends x WHERE x.id = NEW.send_id;
  IF s.id IS NULL OR s.token_hash IS NULL OR assessment.send_status(s) <> 'open' THEN
    RAISE EXCEPTION 'an answer is to an open send through its link' USING ERRCODE = 'TXCON';
  END IF;
  SELECT v.questions INTO v_questions FROM assessment.survey_versions v WHERE v.id = s.survey_version_id;
  PERFORM assessment.survey_answer_check(v_questions, NEW.answers);
  NEW.score := assessment.survey_answer_score(v_questions, NEW.answers);
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION assessment.survey_answers_rules() FROM PUBLIC;
CREATE OR REPLACE TRIGGER survey_answers_rules BEFORE INSERT OR UPDATE OR DELETE
  ON assessment.survey_answers FOR EACH ROW EXECUTE FUNCTION assessment.survey_answers_rules();

-- An attribution (Q1): to one of the send's attributees (survey_attributees), with the send's
-- case; never changed or removed.
CREATE OR REPLACE FUNCTION assessment.survey_attributions_rules() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE s assessment.survey_sends;
BEGIN
  IF TG_OP <> 'INSERT' THEN
    RAISE EXCEPTION 'attributions are never changed or removed' USING ERRCODE = 'TXCON';
  END IF;
  SELECT x.* INTO s FROM assessment.survey_sends x
    JOIN assessment.survey_answers a ON a.send_id = x.id WHERE a.id = NEW.answer_id;
  IF NEW.case_id IS DISTINCT FROM s.case_id
     OR NEW.employee_id NOT IN (SELECT assessment.survey_attributees(s.id)) THEN
    RAISE EXCEPTION 'an answer counts for the staff who did the work: the case''s assignees, or the customer''s owner and team'
      USING ERRCODE = 'TXCON';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION assessment.survey_attributions_rules() FROM PUBLIC;
CREATE OR REPLACE TRIGGER survey_attributions_rules BEFORE INSERT OR UPDATE OR DELETE
  ON assessment.survey_attributions FOR EACH ROW EXECUTE FUNCTION assessment.survey_attributions_rules();

-- Sends ------------------------------------------------------------------------------------------
-- Issues a send of the active questionnaire of purpose p_reason to p_customer (about p_case), at
-- p_at, valid survey_schedule.link_days; NULL when no questionnaire of that purpose is active.
CREATE OR REPLACE FUNCTION assessment.survey_send_issue(p_reason text, p_customer uuid, p_case uuid,
                                                        p_at timestamptz, p_by uuid)
  RETURNS assessment.survey_sends
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  s assessment.survey_sends;
  v_version uuid;
  v_days int := coalesce((org.policy_value('survey_schedule') ->> 'link_days')::int, 30);
BEGIN
  SELECT v.id INTO v_version FROM assessment.surveys q
    JOIN assessment.survey_versions v ON v.survey_id = q.id AND v.version = q.current_version
   WHERE q.purpose = p_reason AND q.active;
  IF v_version IS NULL THEN
    RETURN NULL;
  END IF;
  INSERT INTO assessment.survey_sends (survey_version_id, customer_id, case_id, reason, sent_at,
                                       expires_at, created_by)
  VALUES (v_version, p_customer, p_case, p_reason, p_at, p_at + make_interval(days => v_days), p_by)
  RETURNING * INTO s;
  RETURN s;
END
$$;
REVOKE ALL ON FUNCTION assessment.survey_send_issue(text, uuid, uuid, timestamptz, uuid) FROM PUBLIC;

-- P3.4 -> Q3: the customer's confirmation of a case (through the link or recorded by staff)
-- creates the case's survey send, when a questionnaire with purpose after_confirmation is active.
-- One per case (unique index of 0022): a second confirmation adds none.
CREATE OR REPLACE FUNCTION assessment.after_confirmation_send() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF NEW.outcome = 'confirmed' AND NOT EXISTS (
       SELECT FROM assessment.survey_sends s
        WHERE s.case_id = NEW.case_id AND s.reason = 'after_confirmation') THEN
    PERFORM assessment.survey_send_issue('after_confirmation',
              (SELECT c.customer_id FROM cases.cases c WHERE c.id = NEW.case_id), NEW.case_id,
              now(), NULL);
  END IF;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION assessment.after_confirmation_send() FROM PUBLIC;
CREATE OR REPLACE TRIGGER zz_survey_after_confirmation AFTER INSERT ON cases.confirmations
  FOR EACH ROW EXECUTE FUNCTION assessment.after_confirmation_send();

-- JSON -------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION api.survey_json(s assessment.surveys) RETURNS json
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT json_build_object(
           'id', s.id, 'code', s.code, 'title', s.title, 'purpose', s.purpose, 'active', s.active,
           'current_version', s.current_version,
           'questions', (SELECT v.questions FROM assessment.survey_versions v
                          WHERE v.survey_id = s.id AND v.version = s.current_version),
           'created_by', s.created_by, 'created_at', api.ts(s.created_at),
           'updated_at', api.ts(s.updated_at))
$$;
REVOKE ALL ON FUNCTION api.survey_json(assessment.surveys) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.survey_json(assessment.surveys) TO tianxing_app;

-- A send for staff: ids and facts only, never the customer's name or contacts.
CREATE OR REPLACE FUNCTION api.survey_send_json(s assessment.survey_sends) RETURNS json
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT json_build_object(
           'id', s.id, 'survey_id', v.survey_id, 'survey_code', q.code, 'survey_version', v.version,
           'customer_id', s.customer_id, 'case_id', s.case_id, 'reason', s.reason,
           'status', assessment.send_status(s), 'link_created_at', api.ts(s.link_created_at),
           'sent_at', api.ts(s.sent_at), 'expires_at', api.ts(s.expires_at),
           'reminders', s.reminders, 'last_reminded_at', api.ts(s.last_reminded_at),
           'answered_at', api.ts(s.answered_at), 'revoked_at', api.ts(s.revoked_at),
           'expired_at', api.ts(s.expired_at),
           -- under the answers' policy: hr and auditors, and whoever the answer counts for
           'score', (SELECT a.score FROM assessment.survey_answers a WHERE a.send_id = s.id),
           'created_by', s.created_by)
    FROM assessment.survey_versions v JOIN assessment.surveys q ON q.id = v.survey_id
   WHERE v.id = s.survey_version_id
$$;
REVOKE ALL ON FUNCTION api.survey_send_json(assessment.survey_sends) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.survey_send_json(assessment.survey_sends) TO tianxing_app;

-- Questionnaires (Q3) ---------------------------------------------------------------------------
-- POST /v1/surveys (hr, admin): {code, title, purpose, active (default true), questions, note}.
-- Creates the questionnaire and its version 1. An active one replaces the active questionnaire of
-- the same purpose (at most one each: the one sends use), which is deactivated.
CREATE OR REPLACE FUNCTION assessment.survey_create(p_body jsonb) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  s assessment.surveys;
  v_code text;
  v_purpose text;
  v_active boolean;
BEGIN
  PERFORM api.require_role('hr', 'admin');
  PERFORM api.body_keys(p_body, ARRAY['code', 'title', 'purpose', 'active', 'questions', 'note']);
  v_code := api.body_text(p_body, 'code', true, 32);
  IF v_code !~ '^[a-z0-9][a-z0-9_-]{0,31}$' THEN
    PERFORM api.fail('TXVAL', 'code', 'must be 1-32 characters of a-z, 0-9, _ and -');
  END IF;
  v_purpose := api.body_text(p_body, 'purpose', true, 32);
  IF v_purpose NOT IN ('after_confirmation', 'regular') THEN
    PERFORM api.fail('TXVAL', 'purpose', 'must be after_confirmation or regular');
  END IF;
  IF p_body ? 'active' AND jsonb_typeof(p_body -> 'active') <> 'boolean' THEN
    PERFORM api.fail('TXVAL', 'active', 'must be true or false');
  END IF;
  v_active := coalesce((p_body ->> 'active')::boolean, true);
  PERFORM assessment.survey_questions(p_body -> 'questions');
  IF EXISTS (SELECT FROM assessment.surveys x WHERE x.code = v_code) THEN
    RAISE EXCEPTION USING ERRCODE = 'TXDUP', MESSAGE = 'a questionnaire with this code exists',
      DETAIL = json_build_object('existing_id', (SELECT x.id FROM assessment.surveys x WHERE x.code = v_code),
                                 'errors', json_build_array(api.field_error('code', 'duplicate',
                                   'code: a questionnaire with this code exists')))::text;
  END IF;
  IF v_active THEN
    UPDATE assessment.surveys x SET active = false, updated_at = now(), version = x.version + 1
     WHERE x.purpose = v_purpose AND x.active;
  END IF;
  INSERT INTO assessment.surveys (code, title, purpose, active, current_version, created_by)
  VALUES (v_code, api.body_text(p_body, 'title', true, 200), v_purpose, false, 1, tx.user_id())
  RETURNING * INTO s;
  INSERT INTO assessment.survey_versions (survey_id, version, questions, note, created_by)
  VALUES (s.id, 1, p_body -> 'questions', api.body_text(p_body, 'note', false, 2000), tx.user_id());
  IF v_active THEN
    UPDATE assessment.surveys x SET active = true WHERE x.id = s.id RETURNING * INTO s;
  END IF;
  RETURN api.survey_json(s);
END
$$;
REVOKE ALL ON FUNCTION assessment.survey_create(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.survey_create(jsonb) TO tianxing_app;

-- POST /v1/surveys/{id}/versions (hr, admin): {questions, note}. The next version becomes current;
-- earlier versions stay as they were (their sends keep them).
CREATE OR REPLACE FUNCTION assessment.survey_version_add(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE s assessment.surveys;
BEGIN
  PERFORM api.require_user();
  SELECT * INTO s FROM assessment.surveys x WHERE x.id = p_id FOR UPDATE;
  IF s.id IS NULL THEN
    RAISE EXCEPTION 'no such questionnaire' USING ERRCODE = 'P0002';
  END IF;
  PERFORM api.require_role('hr', 'admin');
  PERFORM api.body_keys(p_body, ARRAY['questions', 'note']);
  PERFORM assessment.survey_questions(p_body -> 'questions');
  INSERT INTO assessment.survey_versions (survey_id, version, questions, note, created_by)
  VALUES (s.id, s.current_version + 1, p_body -> 'questions', api.body_text(p_body, 'note', false, 2000),
          tx.user_id());
  UPDATE assessment.surveys x SET current_version = s.current_version + 1, updated_at = now(),
                                  version = x.version + 1
   WHERE x.id = s.id RETURNING * INTO s;
  RETURN api.survey_json(s);
END
$$;
REVOKE ALL ON FUNCTION assessment.survey_version_add(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.survey_version_add(uuid, jsonb) TO tianxing_app;

-- GET /v1/surveys (everyone signed in: staff see what their customers are asked): by code,
-- filters purpose and active; keyset pages (the cursor is the last code).
CREATE OR REPLACE FUNCTION api.survey_list(p_purpose text, p_active boolean, p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_out json;
BEGIN
  PERFORM api.require_user();
  IF p_purpose IS NOT NULL AND p_purpose NOT IN ('after_confirmation', 'regular') THEN
    PERFORM api.fail('TXVAL', 'purpose', 'must be after_confirmation or regular');
  END IF;
  IF p_cursor IS NOT NULL AND NOT EXISTS (SELECT FROM assessment.surveys x WHERE x.code = p_cursor) THEN
    PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
  END IF;
  WITH page AS (
    SELECT s, s.code, row_number() OVER (ORDER BY s.code) AS rn
      FROM assessment.surveys s
     WHERE (p_purpose IS NULL OR s.purpose = p_purpose) AND (p_active IS NULL OR s.active = p_active)
       AND (p_cursor IS NULL OR s.code > p_cursor)
     ORDER BY s.code LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(api.survey_json(p.s) ORDER BY p.rn) FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit THEN max(p.code) FILTER (WHERE p.rn = v_limit) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.survey_list(text, boolean, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.survey_list(text, boolean, int, text) TO tianxing_app;

-- GET /v1/surveys/{id}: the questionnaire with every version (oldest first).
CREATE OR REPLACE FUNCTION api.survey_get(p_id uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE s assessment.surveys;
BEGIN
  PERFORM api.require_user();
  SELECT * INTO s FROM assessment.surveys x WHERE x.id = p_id;
  IF s.id IS NULL THEN
    RAISE EXCEPTION 'no such questionnaire' USING ERRCODE = 'P0002';
  END IF;
  RETURN (api.survey_json(s)::jsonb || jsonb_build_object('versions',
           (SELECT jsonb_agg(jsonb_build_object('version', v.version, 'questions', v.questions,
                                                'note', v.note, 'created_by', v.created_by,
                                                'created_at', api.ts(v.created_at)) ORDER BY v.version)
              FROM assessment.survey_versions v WHERE v.survey_id = s.id)))::json;
END
$$;
REVOKE ALL ON FUNCTION api.survey_get(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.survey_get(uuid) TO tianxing_app;

-- POST /v1/survey-sends: send now. {case_id}: staff or a supervisor who may read the case, once
-- the customer confirmed it (P3.4; the case's one send, usually made by the trigger); {customer_id}:
-- hr, a regular send to a customer who is not inactive. 409 without an active questionnaire of
-- that purpose; TXDUP (409, existing_id) when the case has its send.
CREATE OR REPLACE FUNCTION assessment.survey_send_create(p_body jsonb) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  s assessment.survey_sends;
  c cases.cases;
  v_case uuid;
  v_customer uuid;
  v_status text;
BEGIN
  PERFORM api.require_user();
  PERFORM api.body_keys(p_body, ARRAY['case_id', 'customer_id']);
  v_case := api.body_uuid(p_body, 'case_id', false);
  v_customer := api.body_uuid(p_body, 'customer_id', false);
  IF (v_case IS NULL) = (v_customer IS NULL) THEN
    PERFORM api.fail('TXVAL', 'case_id', 'give exactly one of case_id (a confirmed case) and customer_id (a regular send)');
  END IF;
  IF v_case IS NOT NULL THEN
    IF NOT cases.may_read(v_case) THEN
      RAISE EXCEPTION 'no such case' USING ERRCODE = 'P0002';
    END IF;
    PERFORM api.require_role('staff', 'supervisor');
    SELECT * INTO c FROM cases.cases x WHERE x.id = v_case FOR UPDATE;
    IF c.status NOT IN ('confirmed', 'archived') THEN
      PERFORM fsm.refuse('case', c.status,
                         format('a case''s survey follows the customer''s confirmation (P3.4); this case is %s', c.status));
    END IF;
    SELECT * INTO s FROM assessment.survey_sends x WHERE x.case_id = v_case AND x.reason = 'after_confirmation';
    IF s.id IS NOT NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'TXDUP', MESSAGE = 'the case has its survey send already',
        DETAIL = json_build_object('existing_id', s.id)::text;
    END IF;
    s := assessment.survey_send_issue('after_confirmation', c.customer_id, c.id, now(), tx.user_id());
    IF s.id IS NULL THEN
      RAISE EXCEPTION 'no questionnaire with purpose after_confirmation is active' USING ERRCODE = 'TXCON';
    END IF;
  ELSE
    PERFORM api.require_role('hr');
    SELECT x.status INTO v_status FROM cust.customers x WHERE x.id = v_customer;
    IF v_status IS NULL THEN
      RAISE EXCEPTION 'no such customer' USING ERRCODE = 'P0002';
    END IF;
    IF v_status = 'inactive' THEN
      RAISE EXCEPTION 'the customer is inactive: no survey is sent' USING ERRCODE = 'TXCON';
    END IF;
    s := assessment.survey_send_issue('regular', v_customer, NULL, now(), tx.user_id());
    IF s.id IS NULL THEN
      RAISE EXCEPTION 'no questionnaire with purpose regular is active' USING ERRCODE = 'TXCON';
    END IF;
  END IF;
  RETURN api.survey_send_json(s);
END
$$;
REVOKE ALL ON FUNCTION assessment.survey_send_create(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.survey_send_create(jsonb) TO tianxing_app;

-- POST /v1/survey-sends/{id}/link (staff and supervisors who may read the send's case; hr): mints
-- the one-time link. p_token_hash is SHA-256 of the token the C handler drew (hex); the token is
-- shown once by the handler. Minting again replaces the hash: the earlier token stops working.
-- The link lives until the send's expiry; an answered, revoked or expired send answers 409.
CREATE OR REPLACE FUNCTION assessment.survey_link_create(p_send uuid, p_token_hash text) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE s assessment.survey_sends;
BEGIN
  PERFORM api.require_user();
  SELECT * INTO s FROM assessment.survey_sends x WHERE x.id = p_send FOR UPDATE;
  IF s.id IS NULL OR NOT (tx.has_role('hr') OR tx.has_role('admin') OR tx.has_role('auditor')
                          OR (s.case_id IS NOT NULL AND cases.may_read(s.case_id))) THEN
    RAISE EXCEPTION 'no such survey send' USING ERRCODE = 'P0002';
  END IF;
  PERFORM api.require_role('staff', 'supervisor', 'hr');
  IF assessment.send_status(s) <> 'open' THEN
    RAISE EXCEPTION 'the send is %: no link is minted', assessment.send_status(s) USING ERRCODE = 'TXCON';
  END IF;
  IF p_token_hash IS NULL OR p_token_hash !~ '^[0-9a-f]{64}$' THEN
    RAISE EXCEPTION 'survey_link_create: the token hash must be 64 hex digits' USING ERRCODE = '22023';
  END IF;
  UPDATE assessment.survey_sends x
     SET token_hash = decode(p_token_hash, 'hex'), link_created_at = now(), link_created_by = tx.user_id()
   WHERE x.id = s.id;
  RETURN json_build_object('send_id', s.id, 'expires_at', api.ts(s.expires_at),
                           'created_at', api.ts(now()));
END
$$;
REVOKE ALL ON FUNCTION assessment.survey_link_create(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.survey_link_create(uuid, text) TO tianxing_app;

-- The open send of a token hash (locked for an answer); P0002 with one message for unknown,
-- replaced, answered, revoked and expired tokens (no oracle, as the confirmation links).
CREATE OR REPLACE FUNCTION assessment.live_send(p_token_hash text, p_lock boolean)
  RETURNS assessment.survey_sends
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE s assessment.survey_sends;
BEGIN
  IF p_token_hash ~ '^[0-9a-f]{64}$' THEN
    SELECT * INTO s FROM assessment.survey_sends x WHERE x.token_hash = decode(p_token_hash, 'hex');
    IF p_lock AND s.id IS NOT NULL THEN
      -- of two answers at once, the second finds the send answered
      SELECT * INTO s FROM assessment.survey_sends x
       WHERE x.id = s.id AND x.token_hash = decode(p_token_hash, 'hex') FOR UPDATE;
    END IF;
  END IF;
  IF s.id IS NULL OR assessment.send_status(s) <> 'open' THEN
    RAISE EXCEPTION 'no such survey link, or it was used or has expired' USING ERRCODE = 'P0002';
  END IF;
  RETURN s;
END
$$;
REVOKE ALL ON FUNCTION assessment.live_send(text, boolean) FROM PUBLIC;

-- GET /v1/survey-answers/{token} (public: the customer holds the token): the questionnaire to
-- answer. No customer data, no staff, no case text: the title, whether it follows a case (with the
-- business type's name) or is regular, the questions, and until when the link works.
CREATE OR REPLACE FUNCTION assessment.survey_view(p_token_hash text) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE s assessment.survey_sends := assessment.live_send(p_token_hash, false);
BEGIN
  RETURN (SELECT json_build_object(
            'title', q.title, 'reason', s.reason,
            'business_type', (SELECT t.name FROM cases.cases c
                                JOIN cases.business_types t ON t.id = c.business_type_id
                               WHERE c.id = s.case_id),
            'questions', v.questions, 'expires_at', api.ts(s.expires_at))
            FROM assessment.survey_versions v JOIN assessment.surveys q ON q.id = v.survey_id
           WHERE v.id = s.survey_version_id);
END
$$;
REVOKE ALL ON FUNCTION assessment.survey_view(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.survey_view(text) TO tianxing_app;

-- POST /v1/survey-answers/{token} (public; Q3): {answers: {code: rating | text}}. Checks the
-- answers against the send's version (422 naming answers.<code>, nothing written), records the
-- answer (the trigger computes its score), closes the send and attributes the answer to the staff
-- who did the work. Written under the role 'customer' without an employee, as a confirmation
-- through its link, so the audit trail attributes it to the customer.
CREATE OR REPLACE FUNCTION assessment.survey_answer(p_token_hash text, p_body jsonb) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  s assessment.survey_sends;
  a assessment.survey_answers;
  v_roles text := current_setting('tx.roles', true);
  v_user text := current_setting('tx.user_id', true);
BEGIN
  s := assessment.live_send(p_token_hash, true);
  PERFORM api.body_keys(p_body, ARRAY['answers']);
  PERFORM assessment.survey_answer_check(
            (SELECT v.questions FROM assessment.survey_versions v WHERE v.id = s.survey_version_id),
            p_body -> 'answers');
  PERFORM set_config('tx.roles', 'customer', true), set_config('tx.user_id', '', true);
  INSERT INTO assessment.survey_answers (send_id, answers) VALUES (s.id, p_body -> 'answers')
  RETURNING * INTO a;
  UPDATE assessment.survey_sends x SET answered_at = a.at WHERE x.id = s.id;
  INSERT INTO assessment.survey_attributions (answer_id, employee_id, case_id)
  SELECT a.id, e, s.case_id FROM assessment.survey_attributees(s.id) e;
  PERFORM set_config('tx.roles', coalesce(v_roles, ''), true),
          set_config('tx.user_id', coalesce(v_user, ''), true);
  RETURN json_build_object('answered_at', api.ts(a.at));
END
$$;
REVOKE ALL ON FUNCTION assessment.survey_answer(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.survey_answer(text, jsonb) TO tianxing_app;

-- GET /v1/survey-sends (staff, supervisor: the sends of cases they may read; hr, admin, auditor:
-- all; row-level security decides): newest first, filters survey_id, reason, status, case_id,
-- customer_id, from/to (sent_at, to exclusive); keyset pages (the cursor is the last send's id).
CREATE OR REPLACE FUNCTION api.survey_send_list(p_survey uuid, p_reason text, p_status text,
                                                p_case uuid, p_customer uuid, p_from timestamptz,
                                                p_to timestamptz, p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_after assessment.survey_sends;
  v_out json;
BEGIN
  PERFORM api.require_user();
  IF p_reason IS NOT NULL AND p_reason NOT IN ('after_confirmation', 'regular') THEN
    PERFORM api.fail('TXVAL', 'reason', 'must be after_confirmation or regular');
  END IF;
  IF p_status IS NOT NULL AND p_status NOT IN ('open', 'answered', 'revoked', 'expired') THEN
    PERFORM api.fail('TXVAL', 'status', 'must be open, answered, revoked or expired');
  END IF;
  IF p_from IS NOT NULL AND p_to IS NOT NULL AND p_from >= p_to THEN
    PERFORM api.fail('TXVAL', 'from', 'must be before to');
  END IF;
  IF p_cursor IS NOT NULL THEN
    IF p_cursor ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
      SELECT * INTO v_after FROM assessment.survey_sends x WHERE x.id = p_cursor::uuid;
    END IF;
    IF v_after.id IS NULL THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
  END IF;
  WITH page AS (
    SELECT s, s.id, row_number() OVER (ORDER BY s.sent_at DESC, s.id DESC) AS rn
      FROM assessment.survey_sends s JOIN assessment.survey_versions v ON v.id = s.survey_version_id
     WHERE (p_survey IS NULL OR v.survey_id = p_survey) AND (p_reason IS NULL OR s.reason = p_reason)
       AND (p_status IS NULL OR assessment.send_status(s) = p_status)
       AND (p_case IS NULL OR s.case_id = p_case) AND (p_customer IS NULL OR s.customer_id = p_customer)
       AND (p_from IS NULL OR s.sent_at >= p_from) AND (p_to IS NULL OR s.sent_at < p_to)
       AND (v_after.id IS NULL OR (s.sent_at, s.id) < (v_after.sent_at, v_after.id))
     ORDER BY s.sent_at DESC, s.id DESC LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(api.survey_send_json(p.s) ORDER BY p.rn) FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit THEN (max(p.id::text) FILTER (WHERE p.rn = v_limit)) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.survey_send_list(uuid, text, text, uuid, uuid, timestamptz, timestamptz, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.survey_send_list(uuid, text, text, uuid, uuid, timestamptz, timestamptz, int, text) TO tianxing_app;

-- GET /v1/survey-response-rates?period_id= (hr, admin, auditor; Q3): the sends sent in the period
-- (from the start of starts_on to the end of ends_on in the period's time zone), how many were
-- answered (by now) and expired, and the rate 100 x answered / sent (null without sends); in
-- total and by questionnaire and reason.
CREATE OR REPLACE FUNCTION api.survey_response_rates(p_period uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  p assessment.periods;
  v_from timestamptz;
  v_to timestamptz;
BEGIN
  PERFORM api.require_role('hr', 'admin', 'auditor');
  IF p_period IS NULL THEN
    PERFORM api.fail('TXVAL', 'period_id', 'is required');
  END IF;
  SELECT * INTO p FROM assessment.periods x WHERE x.id = p_period;
  IF p.id IS NULL THEN
    RAISE EXCEPTION 'no such period' USING ERRCODE = 'P0002';
  END IF;
  -- the period's bounds as part A reads them (its time zone as copied at its opening)
  v_from := assessment.period_start(p.id);
  v_to := assessment.period_end(p.id);
  RETURN (
    WITH s AS (
      SELECT q.id AS survey_id, q.code, q.title, x.reason,
             (x.answered_at IS NOT NULL) AS answered, (assessment.send_status(x) = 'expired') AS expired
        FROM assessment.survey_sends x
        JOIN assessment.survey_versions v ON v.id = x.survey_version_id
        JOIN assessment.surveys q ON q.id = v.survey_id
       WHERE x.sent_at >= v_from AND x.sent_at < v_to),
    g AS (
      SELECT survey_id, code, title, reason, count(*) AS sent, count(*) FILTER (WHERE answered) AS answered,
             count(*) FILTER (WHERE expired) AS expired
        FROM s GROUP BY survey_id, code, title, reason)
    SELECT json_build_object(
             'period_id', p.id, 'label', p.label, 'from', api.ts(v_from), 'to', api.ts(v_to),
             'sent', (SELECT count(*) FROM s), 'answered', (SELECT count(*) FILTER (WHERE answered) FROM s),
             'expired', (SELECT count(*) FILTER (WHERE expired) FROM s),
             'rate', (SELECT round(100.0 * count(*) FILTER (WHERE answered) / nullif(count(*), 0), 2) FROM s),
             'items', coalesce((SELECT json_agg(json_build_object(
                                  'survey_id', g.survey_id, 'survey_code', g.code, 'survey_title', g.title,
                                  'reason', g.reason, 'sent', g.sent, 'answered', g.answered,
                                  'expired', g.expired, 'rate', round(100.0 * g.answered / g.sent, 2))
                                  ORDER BY g.code, g.reason) FROM g), '[]'::json)));
END
$$;
REVOKE ALL ON FUNCTION api.survey_response_rates(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.survey_response_rates(uuid) TO tianxing_app;

-- The job kind 'assessment.surveys' (src/modules/assessment/surveys.c; schedule daily 09:00
-- company time, 0022), parameters from survey_schedule. payload.today (YYYY-MM-DD, default today
-- in company_time_zone) makes the pass act at 09:00 of that day (catch-up runs and tests). In
-- order: expiry (sends past expires_at, recorded), revocation of open sends to customers now
-- inactive, reminders (after reminder_after_days since the send or the last reminder, at most
-- max_reminders), then the regular sends: every customer that is not inactive, with a case (not
-- cancelled) received in the last every_months months and no regular send in that time, gets one
-- of the active regular questionnaire. Idempotent for a day. Only the scheduler's identity runs it.
CREATE OR REPLACE FUNCTION assessment.surveys_job(p_payload jsonb) RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_tz text := coalesce(org.policy_value('company_time_zone') #>> '{}', 'Asia/Taipei');
  v_sched jsonb;
  v_today date;
  v_at timestamptz;
  v_months int;
  v_expired int;
  v_revoked int;
  v_reminded int;
  v_sent int := 0;
  v_customer uuid;
BEGIN
  IF NOT tx.has_role('system') THEN
    RAISE EXCEPTION 'assessment.surveys runs as the scheduler' USING ERRCODE = '42501';
  END IF;
  IF p_payload IS NOT NULL AND p_payload ? 'today' THEN
    IF jsonb_typeof(p_payload -> 'today') <> 'string' OR (p_payload ->> 'today') !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
      RAISE EXCEPTION 'assessment.surveys: today must be YYYY-MM-DD' USING ERRCODE = '22023';
    END IF;
    v_today := (p_payload ->> 'today')::date;
    v_at := (v_today + time '09:00') AT TIME ZONE v_tz;
  ELSE
    v_at := now();
    v_today := (now() AT TIME ZONE v_tz)::date;
  END IF;
  v_sched := org.policy_value('survey_schedule', v_today);
  v_months := coalesce((v_sched ->> 'every_months')::int, 3);

  UPDATE assessment.survey_sends x SET expired_at = v_at
   WHERE x.answered_at IS NULL AND x.revoked_at IS NULL AND x.expired_at IS NULL AND x.expires_at <= v_at;
  GET DIAGNOSTICS v_expired = ROW_COUNT;

  UPDATE assessment.survey_sends x SET revoked_at = v_at
   WHERE x.answered_at IS NULL AND x.revoked_at IS NULL AND x.expired_at IS NULL
     AND EXISTS (SELECT FROM cust.customers c WHERE c.id = x.customer_id AND c.status = 'inactive');
  GET DIAGNOSTICS v_revoked = ROW_COUNT;

  UPDATE assessment.survey_sends x SET reminders = x.reminders + 1, last_reminded_at = v_at
   WHERE x.answered_at IS NULL AND x.revoked_at IS NULL AND x.expired_at IS NULL
     AND x.reminders < coalesce((v_sched ->> 'max_reminders')::int, 2)
     AND coalesce(x.last_reminded_at, x.sent_at)
         + make_interval(days => coalesce((v_sched ->> 'reminder_after_days')::int, 7)) <= v_at;
  GET DIAGNOSTICS v_reminded = ROW_COUNT;

  FOR v_customer IN
    SELECT cu.id FROM cust.customers cu
     WHERE cu.status <> 'inactive'
       AND EXISTS (SELECT FROM cases.cases c
                    WHERE c.customer_id = cu.id AND c.status <> 'cancelled'
                      AND c.received_at > v_at - make_interval(months => v_months) AND c.received_at <= v_at)
       AND NOT EXISTS (SELECT FROM assessment.survey_sends s
                        WHERE s.customer_id = cu.id AND s.reason = 'regular'
                          AND s.sent_at > v_at - make_interval(months => v_months))
     ORDER BY cu.id
  LOOP
    EXIT WHEN assessment.survey_send_issue('regular', v_customer, NULL, v_at, NULL) IS NULL;
    v_sent := v_sent + 1;
  END LOOP;
  RETURN jsonb_build_object('today', v_today, 'expired', v_expired, 'revoked', v_revoked,
                            'reminded', v_reminded, 'sent', v_sent);
END
$$;
REVOKE ALL ON FUNCTION assessment.surveys_job(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.surveys_job(jsonb) TO tianxing_app;

-- The API (SECURITY INVOKER, like every api function: sql/tests/org.sql) -------------------------
CREATE OR REPLACE FUNCTION api.survey_create(p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$ BEGIN RETURN assessment.survey_create(p_body); END $$;
REVOKE ALL ON FUNCTION api.survey_create(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.survey_create(jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.survey_version_add(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$ BEGIN RETURN assessment.survey_version_add(p_id, p_body); END $$;
REVOKE ALL ON FUNCTION api.survey_version_add(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.survey_version_add(uuid, jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.survey_send_create(p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$ BEGIN RETURN assessment.survey_send_create(p_body); END $$;
REVOKE ALL ON FUNCTION api.survey_send_create(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.survey_send_create(jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.survey_link_create(p_send uuid, p_token_hash text) RETURNS json
  LANGUAGE plpgsql
  AS $$ BEGIN RETURN assessment.survey_link_create(p_send, p_token_hash); END $$;
REVOKE ALL ON FUNCTION api.survey_link_create(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.survey_link_create(uuid, text) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.survey_answer_view(p_token_hash text) RETURNS json
  LANGUAGE plpgsql
  AS $$ BEGIN RETURN assessment.survey_view(p_token_hash); END $$;
REVOKE ALL ON FUNCTION api.survey_answer_view(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.survey_answer_view(text) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.survey_answer_submit(p_token_hash text, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$ BEGIN RETURN assessment.survey_answer(p_token_hash, p_body); END $$;
REVOKE ALL ON FUNCTION api.survey_answer_submit(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.survey_answer_submit(text, jsonb) TO tianxing_app;
