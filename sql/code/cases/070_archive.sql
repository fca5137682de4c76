-- sql/code/cases/070_archive.sql: the archive of a case and its index (P4.1-P4.3; C2.2 for
-- paper items). One current definition per object; `tianxingd migrate` re-applies this file when
-- it changes (sql/code/ORDER, docs/architecture.md).
--
-- What is here:
--   * the guard cases.archive_complete(uuid) of the move `archive` (migration 0018);
--   * the archive number TX-YYYY-NNNNNN, sequential per year WITHOUT GAPS: the year's counter
--     row of cases.archive_counters is incremented (INSERT ... ON CONFLICT DO UPDATE RETURNING)
--     in the archiving transaction and stays locked until it ends, so two archivings of one year
--     take numbers one after the other and a rolled-back archiving gives its number back;
--   * the package manifest and its hashes (P4.1, P4.2), built from the stored rows by ONE
--     function, cases.archive_manifest, which the verification runs again (below, "Manifest");
--   * POST /v1/cases/{id}/archive (api.case_archive), the index GET /v1/archive (P4.3),
--     GET /v1/archive/{archive_number} and its verification;
--   * immutability (P4.2, issue 11: "an archived case is immutable, even to its owner role's
--     functions"): triggers on cases.cases and every table hanging off a case refuse INSERT,
--     UPDATE and DELETE for an archived case, whoever writes (SQLSTATE TXARC, 409 case_archived).
--
-- Manifest (what an auditor recomputes) -----------------------------------------------------
-- cases.archives.manifest is a JSON object:
--   {"format": "tianxing-archive/1", "archive_number", "case_id", "archived_at", "archived_by",
--    "retain_until", "parts": {NAME: {"sha256": HEX, "content": CONTENT}, ...}}
-- with the parts intake (the intake form: request, scope assessment, the intake fields and the
-- customer_snapshot), approvals, assignments, work_records, escalations, reviews (each round with
-- its verdicts), files (deliverables, documents and evidence: name, medium, size, SHA-256 of the
-- content as hex, physical location for paper), deliveries and confirmations. Rows are in a fixed
-- order (time, then id), timestamps are RFC 3339 UTC with milliseconds (api.ts), ids UUID text,
-- numbers without trailing zeros (hours 2.5, not 2.50: trim_scale), so that a reader that parses
-- numbers as doubles and prints them back gets the same text.
--
-- Canonical form and hashes: a JSON value's canonical text is PostgreSQL's jsonb output of it
-- (`value::jsonb::text`: object keys sorted by length then bytewise, one space after ':' and ',',
-- nothing else; equal jsonb values always print alike), encoded in UTF-8.
--   part.sha256       = lower-case hex SHA-256 of the canonical text of part.content;
--   manifest_sha256   = SHA-256 of the canonical text of the whole manifest object (its parts'
--                       hashes included), stored as bytes in cases.archives.manifest_sha256 and
--                       shown as hex.
-- In SQL: encode(sha256(convert_to(manifest::text, 'UTF8')), 'hex').

-- Errors ----------------------------------------------------------------------------------------

-- TXARC -> 409 case_archived (src/db/sqlstate.c): the case is archived and nothing of it changes.
CREATE OR REPLACE FUNCTION cases.refuse_archived(p_case uuid, p_what text) RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'TXARC',
    MESSAGE = format('case %s is archived: its %s cannot change (P4.2)', p_case, p_what);
END
$$;
REVOKE ALL ON FUNCTION cases.refuse_archived(uuid, text) FROM PUBLIC;

-- Immutability (P4.2) -------------------------------------------------------------------------
-- When is a case archived for its tables? The case row itself: when the row being changed is
-- archived already (OLD.status = 'archived'): the move archive itself (confirmed -> archived,
-- with archived_at) is the last change a case row gets. The tables hanging off it: when the case
-- has its row in cases.archives. cases.archive_case inserts that row after the move, as the last
-- step of the archiving transaction, so that what the move sets off in the same transaction (the
-- deadline 'archiving' met by part F's trigger) still goes through; from then on nothing does.
-- cases.archives itself: inserted once, when the case's status is archived, then never changed.
--
-- Concurrency: the check takes a KEY SHARE lock on the case row, which conflicts with the FOR
-- UPDATE lock cases.archive_case holds from before it reads the rows for the manifest until it
-- commits. A writer racing an archiving therefore waits, then sees the archive and is refused: no
-- row can slip in after the manifest was built.
--
-- SECURITY DEFINER so that the check reads the case whatever the writer may see.
CREATE OR REPLACE FUNCTION cases.case_is_archived(p_case uuid) RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF p_case IS NULL THEN
    RETURN false;
  END IF;
  PERFORM FROM cases.cases c WHERE c.id = p_case FOR KEY SHARE;
  RETURN EXISTS (SELECT FROM cases.archives a WHERE a.case_id = p_case);
END
$$;
REVOKE ALL ON FUNCTION cases.case_is_archived(uuid) FROM PUBLIC;

-- The trigger of every table with a case_id column (TG_ARGV: none).
CREATE OR REPLACE FUNCTION cases.archived_immutable() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_old uuid;
  v_new uuid;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    v_old := (to_jsonb(OLD) ->> 'case_id')::uuid;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    v_new := (to_jsonb(NEW) ->> 'case_id')::uuid;
  END IF;
  -- The one write an archived case still gets: the deadline 'archiving' marked met (part F),
  -- should it come after the archive row (it normally comes with the move, before it). Only
  -- met_at, from NULL; nothing else of the row.
  IF TG_TABLE_NAME = 'deadlines' AND TG_OP = 'UPDATE' THEN
    IF to_jsonb(OLD) ->> 'kind' = 'archiving' AND to_jsonb(OLD) ->> 'met_at' IS NULL
       AND to_jsonb(NEW) ->> 'met_at' IS NOT NULL
       AND (to_jsonb(NEW) - 'met_at') = (to_jsonb(OLD) - 'met_at') THEN
      RETURN NEW;
    END IF;
  END IF;
  IF cases.case_is_archived(v_old) THEN
    PERFORM cases.refuse_archived(v_old, TG_TABLE_NAME);
  END IF;
  IF v_new IS DISTINCT FROM v_old AND cases.case_is_archived(v_new) THEN
    PERFORM cases.refuse_archived(v_new, TG_TABLE_NAME);
  END IF;
  RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;
REVOKE ALL ON FUNCTION cases.archived_immutable() FROM PUBLIC;

-- review_verdicts hang off a case through their review.
CREATE OR REPLACE FUNCTION cases.archived_immutable_verdict() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE v_case uuid;
BEGIN
  FOR v_case IN
    SELECT r.case_id FROM cases.reviews r
     WHERE r.id IN (CASE WHEN TG_OP <> 'INSERT' THEN (to_jsonb(OLD) ->> 'review_id')::uuid END,
                    CASE WHEN TG_OP <> 'DELETE' THEN (to_jsonb(NEW) ->> 'review_id')::uuid END)
  LOOP
    IF cases.case_is_archived(v_case) THEN
      PERFORM cases.refuse_archived(v_case, TG_TABLE_NAME);
    END IF;
  END LOOP;
  RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;
REVOKE ALL ON FUNCTION cases.archived_immutable_verdict() FROM PUBLIC;

-- The case row: nothing changes once it is archived, and it is never deleted then.
CREATE OR REPLACE FUNCTION cases.archived_immutable_case() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF OLD.status = 'archived' THEN
    PERFORM cases.refuse_archived(OLD.id, 'case row');
  END IF;
  RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;
REVOKE ALL ON FUNCTION cases.archived_immutable_case() FROM PUBLIC;

-- The archive row: inserted once the case is archived (so only by the move's transaction), then
-- never changed or removed.
CREATE OR REPLACE FUNCTION cases.archives_write_once() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NOT EXISTS (SELECT FROM cases.cases c WHERE c.id = NEW.case_id AND c.status = 'archived') THEN
      RAISE EXCEPTION 'an archive is recorded by archiving the case (POST /v1/cases/{id}/archive)'
        USING ERRCODE = '55000';
    END IF;
    RETURN NEW;
  END IF;
  PERFORM cases.refuse_archived(OLD.case_id, 'archive');
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION cases.archives_write_once() FROM PUBLIC;

-- Named aa_* so that they fire before the tables' other BEFORE triggers (alphabetical order):
-- a refused write sets nothing else off.
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['approvals', 'assignments', 'work_records', 'escalations', 'reviews',
                           'files', 'deliveries', 'confirmation_links', 'confirmations',
                           'deadlines'] LOOP
    EXECUTE format('CREATE OR REPLACE TRIGGER aa_archived_immutable '
                   'BEFORE INSERT OR UPDATE OR DELETE ON cases.%I '
                   'FOR EACH ROW EXECUTE FUNCTION cases.archived_immutable()', t);
  END LOOP;
END
$$;
CREATE OR REPLACE TRIGGER aa_archived_immutable BEFORE INSERT OR UPDATE OR DELETE
  ON cases.review_verdicts FOR EACH ROW EXECUTE FUNCTION cases.archived_immutable_verdict();
CREATE OR REPLACE TRIGGER aa_archived_immutable BEFORE UPDATE OR DELETE
  ON cases.cases FOR EACH ROW EXECUTE FUNCTION cases.archived_immutable_case();
CREATE OR REPLACE TRIGGER aa_archived_immutable BEFORE INSERT OR UPDATE OR DELETE
  ON cases.archives FOR EACH ROW EXECUTE FUNCTION cases.archives_write_once();
-- TRUNCATE bypasses row triggers: refused on the tables of a case while any case is archived.
CREATE OR REPLACE FUNCTION cases.refuse_truncate() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF EXISTS (SELECT FROM cases.archives) THEN
    RAISE EXCEPTION 'cases.%: TRUNCATE would remove archived cases (P4.2)', TG_TABLE_NAME
      USING ERRCODE = 'TXARC';
  END IF;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION cases.refuse_truncate() FROM PUBLIC;
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['cases', 'approvals', 'assignments', 'work_records', 'escalations',
                           'reviews', 'review_verdicts', 'files', 'deliveries',
                           'confirmation_links', 'confirmations', 'deadlines', 'archives'] LOOP
    EXECUTE format('CREATE OR REPLACE TRIGGER aa_archived_no_truncate BEFORE TRUNCATE '
                   'ON cases.%I FOR EACH STATEMENT EXECUTE FUNCTION cases.refuse_truncate()', t);
  END LOOP;
END
$$;

-- The guard ---------------------------------------------------------------------------------

-- P4.1-P4.2: the customer confirmed the last delivery, every document the case's type version
-- requires has a file of the case with that document code (electronic, or paper with its
-- location: C2.2), and no escalation of the case is open (P2.3: a problem raised is answered; an
-- archived case is immutable, so one left open could never be resolved afterwards, and the
-- manifest would freeze it unanswered). SECURITY DEFINER so that it counts every row of the case;
-- it says nothing about a case the caller may not read.
CREATE OR REPLACE FUNCTION cases.archive_complete(p_case uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT cases.may_read(p_case)
         AND EXISTS (SELECT FROM cases.confirmations k
                      WHERE k.case_id = p_case AND k.outcome = 'confirmed'
                        AND k.delivery_id = (SELECT d.id FROM cases.deliveries d
                                              WHERE d.case_id = p_case
                                              ORDER BY d.delivered_at DESC, d.id DESC LIMIT 1))
         AND NOT EXISTS (SELECT FROM cases.cases c
                           JOIN cases.required_documents r ON r.type_version_id = c.type_version_id
                          WHERE c.id = p_case
                            AND NOT EXISTS (SELECT FROM cases.files f
                                             WHERE f.case_id = p_case AND f.purpose = 'document'
                                               AND f.document_code = r.code))
         AND NOT EXISTS (SELECT FROM cases.escalations e
                          WHERE e.case_id = p_case AND e.status = 'open')
         AND EXISTS (SELECT FROM cases.cases c WHERE c.id = p_case AND c.type_version_id IS NOT NULL)
$$;
COMMENT ON FUNCTION cases.archive_complete(uuid) IS
  'the customer must have confirmed the last delivery, every document the business type requires must be on file (electronic, or paper with its location), and no escalation of the case may be open';
REVOKE ALL ON FUNCTION cases.archive_complete(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.archive_complete(uuid) TO tianxing_app;

-- What is missing for the archive, in words for the client ('' when nothing is).
CREATE OR REPLACE FUNCTION cases.archive_missing(p_case uuid) RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce(NULLIF(array_to_string(ARRAY[
           CASE WHEN NOT EXISTS (SELECT FROM cases.confirmations k
                                  WHERE k.case_id = p_case AND k.outcome = 'confirmed'
                                    AND k.delivery_id = (SELECT d.id FROM cases.deliveries d
                                                          WHERE d.case_id = p_case
                                                          ORDER BY d.delivered_at DESC, d.id DESC
                                                          LIMIT 1))
                THEN 'the customer has not confirmed the last delivery' END,
           'missing documents: ' || (SELECT string_agg(r.code, ', ' ORDER BY r.seq)
                                       FROM cases.cases c
                                       JOIN cases.required_documents r
                                         ON r.type_version_id = c.type_version_id
                                      WHERE c.id = p_case
                                        AND NOT EXISTS (SELECT FROM cases.files f
                                                         WHERE f.case_id = p_case
                                                           AND f.purpose = 'document'
                                                           AND f.document_code = r.code)),
           'open escalations: ' || (SELECT string_agg(e.id::text, ', ' ORDER BY e.raised_at, e.id)
                                      FROM cases.escalations e
                                     WHERE e.case_id = p_case AND e.status = 'open')],
           '; '), ''), '')
$$;
REVOKE ALL ON FUNCTION cases.archive_missing(uuid) FROM PUBLIC;

-- Numbers -----------------------------------------------------------------------------------

-- The archive year: the calendar year in the company's time zone (Asia/Taipei, as the jobs'
-- schedules), so that a case archived on 1 January at 07:00 there is of the new year.
CREATE OR REPLACE FUNCTION cases.archive_year(p_at timestamptz) RETURNS int
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT extract(year FROM p_at AT TIME ZONE 'Asia/Taipei')::int $$;
REVOKE ALL ON FUNCTION cases.archive_year(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.archive_year(timestamptz) TO tianxing_app;

CREATE OR REPLACE FUNCTION cases.archive_number(p_year int, p_seq int) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT format('TX-%s-%s', lpad(p_year::text, 4, '0'), lpad(p_seq::text, 6, '0')) $$;
REVOKE ALL ON FUNCTION cases.archive_number(int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.archive_number(int, int) TO tianxing_app;

-- The next number of p_year: the counter row is created or incremented and stays locked (row
-- lock of the UPDATE) until the calling transaction ends; a rollback undoes the increment, so the
-- numbers that exist are 1..last without a gap. Owner only: called by cases.archive_case.
CREATE OR REPLACE FUNCTION cases.next_archive_seq(p_year int) RETURNS int
  LANGUAGE sql
  SET search_path = pg_catalog, pg_temp
  AS $$
  INSERT INTO cases.archive_counters AS k (year, last) VALUES (p_year, 1)
  ON CONFLICT (year) DO UPDATE SET last = k.last + 1
  RETURNING k.last
$$;
REVOKE ALL ON FUNCTION cases.next_archive_seq(int) FROM PUBLIC;

-- Manifest ----------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION cases.json_sha256(p jsonb) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT encode(sha256(convert_to(p::text, 'UTF8')), 'hex') $$;
REVOKE ALL ON FUNCTION cases.json_sha256(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.json_sha256(jsonb) TO tianxing_app;

-- The parts' contents, from the stored rows of the case (see the top). Runs as its caller: the
-- owner's api functions below.
CREATE OR REPLACE FUNCTION cases.archive_parts(p_case uuid) RETURNS jsonb
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT jsonb_build_object(
    'intake', (SELECT jsonb_build_object(
                 'case_id', c.id, 'customer_id', c.customer_id, 'department_id', c.department_id,
                 'raised_at', api.ts(c.raised_at), 'received_by', c.received_by,
                 'received_at', api.ts(c.received_at), 'channel', c.channel, 'need', c.need,
                 'in_scope', c.in_scope, 'scope_reason', c.scope_reason, 'scope_by', c.scope_by,
                 'scope_at', api.ts(c.scope_at), 'business_type_id', c.business_type_id,
                 'type_version_id', c.type_version_id,
                 'type_version', (SELECT v.version FROM cases.business_type_versions v
                                   WHERE v.id = c.type_version_id),
                 'customer_snapshot', c.customer_snapshot, 'requirements', c.requirements,
                 'expected_on', c.expected_on, 'prepared_by', c.prepared_by,
                 'prepared_at', api.ts(c.prepared_at), 'submitted_at', api.ts(c.submitted_at),
                 'approved_by', c.approved_by, 'approved_at', api.ts(c.approved_at),
                 'started_at', api.ts(c.started_at), 'passed_at', api.ts(c.passed_at),
                 'delivered_at', api.ts(c.delivered_at), 'confirmed_at', api.ts(c.confirmed_at))
                 FROM cases.cases c WHERE c.id = p_case),
    'approvals', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                    'id', a.id, 'decision', a.decision, 'comment', a.comment,
                    'decided_by', a.decided_by, 'decided_at', api.ts(a.decided_at))
                    ORDER BY a.decided_at, a.id), '[]')
                    FROM cases.approvals a WHERE a.case_id = p_case),
    'assignments', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                      'id', s.id, 'employee_id', s.employee_id, 'role', s.role,
                      'starts_on', s.starts_on, 'ends_on', s.ends_on, 'assigned_by', s.assigned_by,
                      'assigned_at', api.ts(s.assigned_at), 'ended_at', api.ts(s.ended_at))
                      ORDER BY s.assigned_at, s.id), '[]')
                      FROM cases.assignments s WHERE s.case_id = p_case),
    'work_records', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'id', w.id, 'milestone_id', w.milestone_id, 'milestone', m.code,
                       'content', w.content, 'result', w.result,
                       'started_at', api.ts(w.started_at), 'finished_at', api.ts(w.finished_at),
                       'hours', trim_scale(w.hours), 'corrects_id', w.corrects_id, 'author_id', w.author_id,
                       'at', api.ts(w.at))
                       ORDER BY w.at, w.id), '[]')
                       FROM cases.work_records w JOIN cases.milestones m ON m.id = w.milestone_id
                      WHERE w.case_id = p_case),
    'escalations', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                      'id', e.id, 'problem', e.problem, 'raised_by', e.raised_by,
                      'raised_at', api.ts(e.raised_at), 'addressed_to', e.addressed_to,
                      'level', e.level, 'climbed_from', e.climbed_from, 'status', e.status,
                      'solution', e.solution, 'resolved_by', e.resolved_by,
                      'resolved_at', api.ts(e.resolved_at))
                      ORDER BY e.raised_at, e.id), '[]')
                      FROM cases.escalations e WHERE e.case_id = p_case),
    'reviews', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                  'id', r.id, 'round', r.round, 'submitted_by', r.submitted_by,
                  'submitted_at', api.ts(r.submitted_at), 'rectification_note', r.rectification_note,
                  'reviewer_id', r.reviewer_id, 'outcome', r.outcome, 'comment', r.comment,
                  'decided_at', api.ts(r.decided_at),
                  'verdicts', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                 'criterion_id', v.criterion_id, 'criterion', k.code,
                                 'verdict', v.verdict, 'comment', v.comment)
                                 ORDER BY k.seq, k.id), '[]')
                                 FROM cases.review_verdicts v
                                 JOIN cases.checklist_criteria k ON k.id = v.criterion_id
                                WHERE v.review_id = r.id))
                  ORDER BY r.round), '[]')
                  FROM cases.reviews r WHERE r.case_id = p_case),
    'files', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                'id', f.id, 'purpose', f.purpose, 'document_code', f.document_code,
                'name', f.name, 'media_type', f.media_type, 'medium', f.medium, 'size', f.size,
                'sha256', encode(f.sha256, 'hex'), 'location', f.location,
                'added_by', f.added_by, 'added_at', api.ts(f.added_at))
                ORDER BY f.added_at, f.id), '[]')
                FROM cases.files f WHERE f.case_id = p_case),
    'deliveries', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                     'id', d.id, 'method', d.method, 'file_ids', to_jsonb(d.file_ids),
                     'note', d.note, 'delivered_by', d.delivered_by,
                     'delivered_at', api.ts(d.delivered_at))
                     ORDER BY d.delivered_at, d.id), '[]')
                     FROM cases.deliveries d WHERE d.case_id = p_case),
    'confirmations', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'id', k.id, 'delivery_id', k.delivery_id, 'outcome', k.outcome,
                        'rating', k.rating, 'comment', k.comment, 'via', k.via,
                        'recorded_by', k.recorded_by, 'evidence', k.evidence,
                        'evidence_file_id', k.evidence_file_id, 'at', api.ts(k.at))
                        ORDER BY k.at, k.id), '[]')
                        FROM cases.confirmations k WHERE k.case_id = p_case))
$$;
REVOKE ALL ON FUNCTION cases.archive_parts(uuid) FROM PUBLIC;

-- The manifest of a case with the archive's header values (see the top): each part with its
-- hash. The same function builds it at archiving and recomputes it at verification.
CREATE OR REPLACE FUNCTION cases.archive_manifest(p_case uuid, p_number text,
                                                  p_archived_at timestamptz, p_archived_by uuid,
                                                  p_retain_until date)
  RETURNS jsonb
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT jsonb_build_object(
    'format', 'tianxing-archive/1', 'archive_number', p_number, 'case_id', p_case,
    'archived_at', api.ts(p_archived_at), 'archived_by', p_archived_by,
    'retain_until', p_retain_until,
    'parts', (SELECT jsonb_object_agg(p.key, jsonb_build_object('sha256', cases.json_sha256(p.value),
                                                                'content', p.value))
                FROM jsonb_each(cases.archive_parts(p_case)) p))
$$;
REVOKE ALL ON FUNCTION cases.archive_manifest(uuid, text, timestamptz, uuid, date) FROM PUBLIC;

-- JSON of an archive entry: the index's fields; with_manifest adds the manifest.
CREATE OR REPLACE FUNCTION cases.archive_json(a cases.archives, p_with_manifest boolean)
  RETURNS jsonb
  LANGUAGE sql STABLE
  AS $$
  SELECT jsonb_build_object(
    'archive_number', a.archive_number, 'case_id', a.case_id, 'year', a.year, 'seq', a.seq,
    'title', a.title, 'customer_id', a.customer_id, 'business_type_id', a.business_type_id,
    'department_id', a.department_id, 'staff_ids', to_jsonb(a.staff_ids),
    'retain_until', a.retain_until, 'archived_by', a.archived_by,
    'archived_at', api.ts(a.archived_at),
    'manifest_sha256', encode(a.manifest_sha256, 'hex'))
  || CASE WHEN p_with_manifest THEN jsonb_build_object('manifest', a.manifest) ELSE '{}' END
$$;
REVOKE ALL ON FUNCTION cases.archive_json(cases.archives, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.archive_json(cases.archives, boolean) TO tianxing_app;

-- POST /v1/cases/{id}/archive (P4.1, P4.2) --------------------------------------------------

-- Archives a confirmed case: staff assigned to it or a supervisor of its department (the move's
-- roles are staff and supervisor, fsm.transitions). Answers the archive entry with its manifest.
-- The writer is SECURITY DEFINER (owner); api.case_archive below calls it as the caller (api
-- functions run with their caller's rights: sql/tests/org.sql).
CREATE OR REPLACE FUNCTION cases.archive_case(p_id uuid) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_me uuid := api.require_user();
  c cases.cases;
  t fsm.transitions;
  v_at timestamptz := now();
  v_year int;
  v_seq int;
  v_number text;
  v_retain date;
  v_type_name text;
  v_customer text;
  v_title text;
  v_manifest jsonb;
  a cases.archives;
BEGIN
  IF p_id IS NULL OR NOT cases.may_read(p_id) THEN
    RAISE EXCEPTION 'no such case' USING ERRCODE = 'P0002';
  END IF;
  -- Locked until the end: the rows read for the manifest cannot change under it (the
  -- immutability triggers wait for this lock, above), nor can the case move.
  SELECT * INTO c FROM cases.cases x WHERE x.id = p_id FOR UPDATE;
  -- Role and state first (42501, 409 with allowed_actions), then the person, then the guard.
  t := fsm.transition('case', c.status, 'archive');
  IF NOT (EXISTS (SELECT FROM cases.assignments s
                   WHERE s.case_id = p_id AND s.employee_id = v_me AND s.ended_at IS NULL)
          OR (tx.has_role('supervisor') AND c.department_id = tx.department_id())) THEN
    RAISE EXCEPTION 'only staff assigned to the case or a supervisor of its department archive it'
      USING ERRCODE = 'TXDEN';
  END IF;
  IF NOT cases.archive_complete(p_id) THEN
    -- The guard's refusal as fsm.check_guard words it, plus what is missing, for the client.
    RAISE EXCEPTION USING ERRCODE = 'TXTRN',
      MESSAGE = 'archive is not possible: the guard cases.archive_complete refused ('
                || coalesce(NULLIF(cases.archive_missing(p_id), ''),
                            obj_description('cases.archive_complete(uuid)'::regprocedure, 'pg_proc'))
                || ')',
      DETAIL = jsonb_build_object('state', c.status,
                                  'allowed_actions', to_jsonb(fsm.allowed_actions('case', c.status)),
                                  'guard', 'cases.archive_complete')::text;
  END IF;

  v_year := cases.archive_year(v_at);
  v_seq := cases.next_archive_seq(v_year);
  v_number := cases.archive_number(v_year, v_seq);
  SELECT (v_at AT TIME ZONE 'Asia/Taipei')::date + make_interval(years => v.retention_years)
    INTO v_retain
    FROM cases.business_type_versions v WHERE v.id = c.type_version_id;
  SELECT b.name INTO v_type_name FROM cases.business_types b WHERE b.id = c.business_type_id;
  SELECT coalesce(k.name, c.customer_snapshot ->> 'name')
         || coalesce('(' || coalesce(k.company_name, c.customer_snapshot ->> 'company_name') || ')', '')
    INTO v_customer
    FROM cust.customers k WHERE k.id = c.customer_id;
  v_title := left(v_type_name || ' · ' || coalesce(v_customer, c.customer_id::text), 500);
  v_manifest := cases.archive_manifest(p_id, v_number, v_at, v_me, v_retain);

  -- The move (the guard runs again in fsm.enforce); part F's trigger meets the deadline here.
  PERFORM fsm.move('case', p_id, 'archive', v_number,
                   jsonb_build_object('archived_at', v_at));

  -- The archive row last: from here on the case's tables refuse every write.
  INSERT INTO cases.archives (case_id, archive_number, year, seq, manifest, manifest_sha256,
                              retain_until, customer_id, business_type_id, department_id,
                              staff_ids, title, search_bigrams, archived_by, archived_at)
  VALUES (p_id, v_number, v_year, v_seq, v_manifest,
          sha256(convert_to(v_manifest::text, 'UTF8')), v_retain, c.customer_id,
          c.business_type_id, c.department_id,
          ARRAY(SELECT s.employee_id FROM cases.assignments s WHERE s.case_id = p_id
                UNION
                SELECT w.author_id FROM cases.work_records w WHERE w.case_id = p_id
                ORDER BY 1),
          v_title,
          cust.bigrams(lower(v_title || ' ' || coalesce(c.requirements, ''))),
          v_me, v_at)
  RETURNING * INTO a;
  RETURN (cases.archive_json(a, true) || jsonb_build_object('case_status', 'archived'))::json;
END
$$;
REVOKE ALL ON FUNCTION cases.archive_case(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.archive_case(uuid) TO tianxing_app;

-- POST /v1/cases/{id}/archive.
CREATE OR REPLACE FUNCTION api.case_archive(p_id uuid) RETURNS json
  LANGUAGE sql
  AS $$ SELECT cases.archive_case(p_id) $$;
REVOKE ALL ON FUNCTION api.case_archive(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_archive(uuid) TO tianxing_app;

-- The index (P4.3) --------------------------------------------------------------------------

-- One page of the index as case ids, in the list's order (archived_at DESC, case_id DESC),
-- after the cursor, for the filters and the caller's visibility. It runs as the owner (SECURITY
-- DEFINER) so that the planner may use the GIN indexes (as the runtime role, row-level security
-- keeps non-leakproof operators such as @> from the index); the caller's visibility is the
-- archives' read policy's own predicate, cases.may_read, applied here to each candidate.
-- api.archive_list reads the rows of these ids under the caller's row-level security again.
CREATE OR REPLACE FUNCTION cases.archive_page(p_number text, p_customer_id uuid,
                                              p_business_type_id uuid, p_staff_id uuid,
                                              p_from timestamptz, p_to timestamptz, p_q text,
                                              p_after_at timestamptz, p_after_id uuid,
                                              p_limit int)
  RETURNS uuid[]
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_q text := lower(btrim(p_q));
  v_ids uuid[];
BEGIN
  IF tx.user_id() IS NULL THEN
    RAISE EXCEPTION 'authentication required' USING ERRCODE = 'TXAUT';
  END IF;
  IF p_limit IS NULL OR p_limit < 1 OR p_limit > 201 OR length(v_q) > 100 THEN
    RAISE EXCEPTION 'archive_page: limit or q out of range' USING ERRCODE = '22023';
  END IF;
  SELECT ARRAY(
    SELECT a.case_id
      FROM cases.archives a
     WHERE (p_number IS NULL OR a.archive_number = p_number)
       AND (p_customer_id IS NULL OR a.customer_id = p_customer_id)
       AND (p_business_type_id IS NULL OR a.business_type_id = p_business_type_id)
       AND (p_staff_id IS NULL OR a.staff_ids @> ARRAY[p_staff_id])
       AND (p_from IS NULL OR a.archived_at >= p_from)
       AND (p_to IS NULL OR a.archived_at < p_to)
       AND (p_after_id IS NULL OR (a.archived_at, a.case_id) < (p_after_at, p_after_id))
       -- every bigram of q (the index's terms), and q itself unless it is one bigram
       AND (v_q IS NULL OR (a.search_bigrams @> cust.bigrams(v_q)
                            AND (length(v_q) = 2 AND v_q !~ '[[:space:]]'
                                 OR position(v_q IN lower(a.title || ' ' || coalesce(
                                      (SELECT c.requirements FROM cases.cases c
                                        WHERE c.id = a.case_id), ''))) > 0)))
       AND cases.may_read(a.case_id)
     ORDER BY a.archived_at DESC, a.case_id DESC
     LIMIT p_limit) INTO v_ids;
  RETURN v_ids;
END
$$;
REVOKE ALL ON FUNCTION cases.archive_page(text, uuid, uuid, uuid, timestamptz, timestamptz, text, timestamptz, uuid, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.archive_page(text, uuid, uuid, uuid, timestamptz, timestamptz, text, timestamptz, uuid, int) TO tianxing_app;

-- GET /v1/archive: {items, next_cursor}, newest first. q: keywords of 2 to 100 characters with
-- two characters in a row that are not spaces (as the customer search: a 1-character query
-- would match through no term of the index and read every archive; 422 naming q). number: an
-- exact archive number (422 when it is not of the form TX-YYYY-NNNNNN).
CREATE OR REPLACE FUNCTION api.archive_list(p_number text, p_customer_id uuid,
                                            p_business_type_id uuid, p_staff_id uuid,
                                            p_from timestamptz, p_to timestamptz, p_q text,
                                            p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_q text := btrim(p_q);
  v_key jsonb;
  v_after_at timestamptz;
  v_after_id uuid;
  v_ids uuid[];
  v_out json;
BEGIN
  PERFORM api.require_role('staff', 'supervisor', 'admin', 'auditor');
  IF p_number IS NOT NULL AND p_number !~ '^TX-[0-9]{4}-[0-9]{6}$' THEN
    PERFORM api.fail('TXVAL', 'number', 'must look like TX-2026-000123');
  END IF;
  IF p_q IS NOT NULL AND (length(v_q) < 2 OR length(v_q) > 100) THEN
    PERFORM api.fail('TXVAL', 'q', 'must be 2 to 100 characters');
  END IF;
  IF p_q IS NOT NULL AND cardinality(cust.bigrams(lower(v_q))) = 0 THEN
    PERFORM api.fail('TXVAL', 'q', 'must hold two characters in a row that are not spaces');
  END IF;
  IF p_from IS NOT NULL AND p_to IS NOT NULL AND p_from > p_to THEN
    PERFORM api.fail('TXVAL', 'from', 'must not be after to');
  END IF;
  IF p_cursor IS NOT NULL THEN
    v_key := cust.cursor_decode(p_cursor, 'archive', 2);
    v_after_at := cust.cursor_parse_ts(v_key ->> 0);
    v_after_id := cust.cursor_parse_uuid(v_key ->> 1);
  END IF;
  v_ids := cases.archive_page(p_number, p_customer_id, p_business_type_id, p_staff_id, p_from,
                              p_to, v_q, v_after_at, v_after_id, v_limit + 1);
  WITH page AS (
    SELECT a, row_number() OVER (ORDER BY a.archived_at DESC, a.case_id DESC) AS rn
      FROM cases.archives a
     WHERE a.case_id = ANY (v_ids)
     ORDER BY a.archived_at DESC, a.case_id DESC)
  SELECT json_build_object(
           'items', coalesce(json_agg(cases.archive_json(p.a, false) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit THEN cust.cursor_encode(jsonb_build_array(
                                 'archive', min(cust.cursor_ts((p.a).archived_at)) FILTER (WHERE p.rn = v_limit),
                                 min(((p.a).case_id)::text) FILTER (WHERE p.rn = v_limit))) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.archive_list(text, uuid, uuid, uuid, timestamptz, timestamptz, text, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.archive_list(text, uuid, uuid, uuid, timestamptz, timestamptz, text, int, text) TO tianxing_app;

-- GET /v1/archive/{archive_number}: the entry with its manifest; NULL (404) when there is none
-- the caller may read (the archives' policy: cases.may_read).
CREATE OR REPLACE FUNCTION api.archive_get(p_number text) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE a cases.archives;
BEGIN
  PERFORM api.require_role('staff', 'supervisor', 'admin', 'auditor');
  SELECT * INTO a FROM cases.archives x WHERE x.archive_number = p_number;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  RETURN cases.archive_json(a, true)::json;
END
$$;
REVOKE ALL ON FUNCTION api.archive_get(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.archive_get(text) TO tianxing_app;

-- GET /v1/archive/{archive_number}/verify: recomputes the package from the stored rows and
-- compares. For each part: the hash recorded in the manifest, the hash of the content the
-- manifest holds, and the hash of the content rebuilt from today's rows; the manifest's hash
-- against the stored manifest_sha256; the header against the archive row; every electronic file's
-- content against its recorded size and SHA-256. ok is true when everything agrees; mismatches
-- lists what does not (rows changed behind the triggers' back, e.g. by a superuser with triggers
-- off, or a manifest edited). cases.archive_check is SECURITY DEFINER so that it reads every row
-- of the case; it first checks that the caller may read the archive (404 otherwise).
CREATE OR REPLACE FUNCTION cases.archive_check(p_number text) RETURNS json
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  a cases.archives;
  v_again jsonb;
  v_parts jsonb := '[]';
  v_bad jsonb := '[]';
  v_files jsonb;
  v_hash text;
  r record;
BEGIN
  PERFORM api.require_role('staff', 'supervisor', 'admin', 'auditor');
  SELECT * INTO a FROM cases.archives x WHERE x.archive_number = p_number;
  IF NOT FOUND OR NOT cases.may_read(a.case_id) THEN
    RETURN NULL;
  END IF;
  v_again := cases.archive_manifest(a.case_id, a.archive_number, a.archived_at, a.archived_by,
                                    a.retain_until);
  v_hash := encode(sha256(convert_to(a.manifest::text, 'UTF8')), 'hex');
  IF v_hash <> encode(a.manifest_sha256, 'hex') THEN
    v_bad := v_bad || jsonb_build_object('part', 'manifest',
                                         'problem', 'the manifest does not hash to manifest_sha256');
  END IF;
  IF (a.manifest - 'parts') <> (v_again - 'parts') THEN
    v_bad := v_bad || jsonb_build_object('part', 'header',
                                         'problem', 'the manifest''s header differs from the archive row');
  END IF;
  FOR r IN
    SELECT coalesce(s.key, n.key) AS name, s.value -> 'content' AS content,
           s.value ->> 'sha256' AS recorded, n.value ->> 'sha256' AS recomputed
      FROM jsonb_each(a.manifest -> 'parts') s
      FULL JOIN jsonb_each(v_again -> 'parts') n ON n.key = s.key
     ORDER BY 1
  LOOP
    v_parts := v_parts || jsonb_build_object(
      'part', r.name, 'recorded_sha256', r.recorded,
      'content_sha256', CASE WHEN r.content IS NOT NULL THEN cases.json_sha256(r.content) END,
      'recomputed_sha256', r.recomputed,
      'ok', r.recorded IS NOT NULL AND r.recorded = cases.json_sha256(r.content)
            AND r.recorded IS NOT DISTINCT FROM r.recomputed);
    IF r.recorded IS NULL OR r.recomputed IS NULL THEN
      v_bad := v_bad || jsonb_build_object('part', r.name, 'problem', 'the part is missing');
    ELSIF r.recorded <> cases.json_sha256(r.content) THEN
      v_bad := v_bad || jsonb_build_object('part', r.name,
                                           'problem', 'the part''s content does not hash to its recorded sha256');
    ELSIF r.recorded <> r.recomputed THEN
      v_bad := v_bad || jsonb_build_object('part', r.name,
                                           'problem', 'the stored rows no longer give the archived content');
    END IF;
  END LOOP;
  SELECT coalesce(jsonb_agg(jsonb_build_object('part', 'files', 'file_id', f.id,
                                               'problem', 'the content does not match its recorded size and sha256')
                            ORDER BY f.added_at, f.id), '[]')
    INTO v_files
    FROM cases.files f
   WHERE f.case_id = a.case_id AND f.medium = 'electronic'
     AND (sha256(f.content) IS DISTINCT FROM f.sha256
          OR octet_length(f.content) IS DISTINCT FROM f.size);
  v_bad := v_bad || v_files;
  RETURN json_build_object(
    'archive_number', a.archive_number, 'case_id', a.case_id,
    'ok', jsonb_array_length(v_bad) = 0,
    'manifest_sha256', encode(a.manifest_sha256, 'hex'),
    'manifest_recomputed_sha256', v_hash,
    'parts', v_parts, 'mismatches', v_bad, 'verified_at', api.ts(clock_timestamp()));
END
$$;
REVOKE ALL ON FUNCTION cases.archive_check(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.archive_check(text) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.archive_verify(p_number text) RETURNS json
  LANGUAGE sql STABLE
  AS $$ SELECT cases.archive_check(p_number) $$;
REVOKE ALL ON FUNCTION api.archive_verify(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.archive_verify(text) TO tianxing_app;

-- ENABLE ALWAYS: the immutability triggers fire under session_replication_role = replica too (a
-- superuser's bulk load or a logical replica), so turning them off takes an explicit, visible
-- ALTER TABLE ... DISABLE TRIGGER.
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['cases', 'approvals', 'assignments', 'work_records', 'escalations',
                           'reviews', 'review_verdicts', 'files', 'deliveries',
                           'confirmation_links', 'confirmations', 'deadlines', 'archives'] LOOP
    EXECUTE format('ALTER TABLE cases.%I ENABLE ALWAYS TRIGGER aa_archived_immutable', t);
    EXECUTE format('ALTER TABLE cases.%I ENABLE ALWAYS TRIGGER aa_archived_no_truncate', t);
  END LOOP;
END
$$;
