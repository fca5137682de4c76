-- sql/code/cases/060_delivery.sql: the files of a case, delivery to the customer and the
-- customer's confirmation or objection (P3.4; P4.1 and C2.2 for files and paper items). Module P,
-- part D. One current definition per object; `tianxingd migrate` re-applies this file when it
-- changes (sql/code/ORDER). docs/cases.md, "Confirmation links", explains the links.

-- Files ------------------------------------------------------------------------------------------
-- The states in which a case takes files: from approval (nothing is recorded before it, P1.4)
-- until it is archived (part E makes the archived case immutable); not in a terminal state.
CREATE OR REPLACE FUNCTION cases.takes_files(p_status text) RETURNS boolean
  LANGUAGE sql IMMUTABLE
  AS $$
  SELECT p_status IN ('approved', 'in_progress', 'under_review', 'rectifying', 'passed',
                      'delivered', 'confirmed')
$$;
REVOKE ALL ON FUNCTION cases.takes_files(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.takes_files(text) TO tianxing_app;

-- The cap in force (policy parameter cases_file_max_bytes, migration 0020).
CREATE OR REPLACE FUNCTION cases.file_max_bytes() RETURNS bigint
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT coalesce((org.policy_value('cases_file_max_bytes'))::text::bigint, 524288) $$;
REVOKE ALL ON FUNCTION cases.file_max_bytes() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.file_max_bytes() TO tianxing_app;

-- Rules on files, for every writer: a file is added while the case takes files; its size and
-- SHA-256 are what the database computes from the content (never what a writer claims), within
-- the cap (TXBIG: 413 payload_too_large with max_bytes); a document names a required document of
-- the case's business type; files are facts and never change or go (a new version is a new file).
CREATE OR REPLACE FUNCTION cases.files_rules() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  c cases.cases;
  v_max bigint;
BEGIN
  IF TG_OP <> 'INSERT' THEN
    RAISE EXCEPTION 'the files of a case are never changed or removed; add a new one'
      USING ERRCODE = 'TXCON';
  END IF;
  SELECT * INTO c FROM cases.cases x WHERE x.id = NEW.case_id;
  IF NOT FOUND THEN
    RETURN NEW; -- the foreign key reports it
  END IF;
  IF NOT cases.takes_files(c.status) THEN
    RAISE EXCEPTION 'a % case takes no files', c.status USING ERRCODE = 'TXCON';
  END IF;
  IF NEW.medium = 'electronic' AND NEW.content IS NOT NULL THEN
    v_max := cases.file_max_bytes();
    IF octet_length(NEW.content) > v_max THEN
      RAISE EXCEPTION USING ERRCODE = 'TXBIG',
        MESSAGE = format('the file is %s bytes, over the cap of %s bytes (policy parameter '
                         'cases_file_max_bytes)', octet_length(NEW.content), v_max),
        DETAIL = json_build_object('max_bytes', v_max)::text;
    END IF;
    NEW.size := octet_length(NEW.content);
    NEW.sha256 := sha256(NEW.content);
  END IF;
  IF (NEW.purpose = 'document') <> (NEW.document_code IS NOT NULL) THEN
    PERFORM api.fail('TXVAL', 'document_code',
                     'is required for a document and only for a document');
  END IF;
  IF NEW.document_code IS NOT NULL AND NOT EXISTS (
       SELECT FROM cases.required_documents d
        WHERE d.type_version_id = c.type_version_id AND d.code = NEW.document_code) THEN
    PERFORM api.fail('TXVAL', 'document_code',
                     'is not a required document of the case''s business type');
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION cases.files_rules() FROM PUBLIC;
CREATE OR REPLACE TRIGGER files_rules BEFORE INSERT OR UPDATE OR DELETE ON cases.files
  FOR EACH ROW EXECUTE FUNCTION cases.files_rules();

-- A file's metadata (never its content).
CREATE OR REPLACE FUNCTION api.case_file_json(f cases.files) RETURNS json
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT json_build_object(
           'id', f.id, 'case_id', f.case_id, 'purpose', f.purpose,
           'document_code', f.document_code, 'name', f.name, 'medium', f.medium,
           'media_type', f.media_type, 'size', f.size, 'sha256', encode(f.sha256, 'hex'),
           'location', f.location, 'added_by', f.added_by, 'added_at', api.ts(f.added_at))
$$;
REVOKE ALL ON FUNCTION api.case_file_json(cases.files) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_file_json(cases.files) TO tianxing_app;

-- The caller works on the case (cases.handles_case) or is refused: 403 naming the rule.
CREATE OR REPLACE FUNCTION cases.require_handler(p_case uuid, p_what text) RETURNS void
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF NOT cases.handles_case(p_case) THEN
    RAISE EXCEPTION '% is for the case''s current assignees and its department''s supervisors', p_what
      USING ERRCODE = 'TXDEN';
  END IF;
END
$$;
REVOKE ALL ON FUNCTION cases.require_handler(uuid, text) FROM PUBLIC;

-- POST /v1/cases/{id}/files (current assignees, the department's supervisors; P3.4, P4.1):
-- an electronic file {name, media_type, purpose, document_code, content: standard base64} or a
-- paper item {name, purpose, document_code, location} (C2.2: its physical location). 201 with
-- the metadata, the size and SHA-256 computed here.
CREATE OR REPLACE FUNCTION cases.file_add(p_case uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  c cases.cases;
  f cases.files;
  v_purpose text;
  v_content text;
  v_location text;
  v_media text;
  v_bytes bytea;
BEGIN
  PERFORM api.require_user();
  c := cases.find(p_case);
  PERFORM api.require_role('staff', 'supervisor');
  PERFORM cases.require_handler(c.id, 'adding files');
  IF NOT cases.takes_files(c.status) THEN
    PERFORM fsm.refuse('case', c.status, format('a %s case takes no files', c.status));
  END IF;
  PERFORM api.body_keys(p_body, ARRAY['name', 'purpose', 'document_code', 'media_type', 'content',
                                      'location']);
  v_purpose := api.body_text(p_body, 'purpose', true, 20);
  IF v_purpose NOT IN ('deliverable', 'document', 'evidence') THEN
    PERFORM api.fail('TXVAL', 'purpose', 'must be deliverable, document or evidence');
  END IF;
  IF p_body ? 'content' AND p_body ? 'location' OR NOT (p_body ? 'content' OR p_body ? 'location') THEN
    PERFORM api.fail('TXVAL', 'content',
                     'an electronic file has content, a paper item a location: give exactly one');
  END IF;
  IF p_body ? 'content' THEN
    IF jsonb_typeof(p_body -> 'content') <> 'string' THEN
      PERFORM api.fail('TXVAL', 'content', 'must be a string of standard base64');
    END IF;
    v_content := p_body ->> 'content';
    IF v_content = '' THEN
      PERFORM api.fail('TXVAL', 'content', 'must not be empty');
    END IF;
    IF length(v_content) % 4 <> 0 OR v_content !~ '^[A-Za-z0-9+/]*={0,2}$' THEN
      PERFORM api.fail('TXVAL', 'content', 'must be standard base64 with padding (RFC 4648, section 4)');
    END IF;
    v_bytes := decode(v_content, 'base64');
    v_media := api.body_text(p_body, 'media_type', true, 255);
    IF v_media !~ '^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$' THEN
      PERFORM api.fail('TXVAL', 'media_type', 'must be a media type such as application/pdf');
    END IF;
  ELSE
    v_location := api.body_text(p_body, 'location', true, 500);
    IF p_body ? 'media_type' THEN
      PERFORM api.fail('TXVAL', 'media_type', 'is for electronic files only');
    END IF;
  END IF;
  INSERT INTO cases.files (case_id, purpose, document_code, name, media_type, medium, size,
                           sha256, content, location, added_by)
  VALUES (c.id, v_purpose, api.body_text(p_body, 'document_code', false, 32),
          api.body_text(p_body, 'name', true, 255), lower(v_media),
          CASE WHEN v_bytes IS NULL THEN 'paper' ELSE 'electronic' END,
          octet_length(v_bytes), CASE WHEN v_bytes IS NOT NULL THEN sha256(v_bytes) END, v_bytes,
          v_location, tx.user_id())
  RETURNING * INTO f;
  RETURN api.case_file_json(f);
END
$$;
REVOKE ALL ON FUNCTION cases.file_add(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.file_add(uuid, jsonb) TO tianxing_app;

-- GET /v1/cases/{id}/files (whoever may read the case): metadata, oldest first, keyset pages
-- (the cursor is the id of the last file of the page before).
CREATE OR REPLACE FUNCTION api.case_files(p_case uuid, p_purpose text, p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_after cases.files;
  v_out json;
BEGIN
  PERFORM cases.visible_case(p_case);
  IF p_purpose IS NOT NULL AND p_purpose NOT IN ('deliverable', 'document', 'evidence') THEN
    PERFORM api.fail('TXVAL', 'purpose', 'must be deliverable, document or evidence');
  END IF;
  IF p_cursor IS NOT NULL THEN
    IF p_cursor ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
      SELECT * INTO v_after FROM cases.files f WHERE f.id = p_cursor::uuid AND f.case_id = p_case;
    END IF;
    IF v_after.id IS NULL THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
  END IF;
  WITH page AS (
    SELECT f, f.id, row_number() OVER (ORDER BY f.added_at, f.id) AS rn
      FROM cases.files f
     WHERE f.case_id = p_case AND (p_purpose IS NULL OR f.purpose = p_purpose)
       AND (v_after.id IS NULL OR (f.added_at, f.id) > (v_after.added_at, v_after.id))
     ORDER BY f.added_at, f.id
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(api.case_file_json(p.f) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN (max(p.id::text) FILTER (WHERE p.rn = v_limit)) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.case_files(uuid, text, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_files(uuid, text, int, text) TO tianxing_app;

-- GET /v1/cases/{id}/files/{file_id}/content (whoever may read the case): (media_type, name,
-- content) of an electronic file; P0002 for a file the caller cannot see, TXCON for a paper item
-- (it has a location, not bytes). The C handler sends the bytes with their media type.
CREATE OR REPLACE FUNCTION api.case_file_content(p_case uuid, p_file uuid)
  RETURNS TABLE (media_type text, name text, content bytea)
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE f cases.files;
BEGIN
  PERFORM api.require_user();
  SELECT * INTO f FROM cases.files x WHERE x.id = p_file AND x.case_id = p_case;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such file' USING ERRCODE = 'P0002';
  END IF;
  IF f.medium <> 'electronic' THEN
    RAISE EXCEPTION 'this is a paper item, kept at: %', f.location USING ERRCODE = 'TXCON';
  END IF;
  RETURN QUERY SELECT f.media_type, f.name, f.content;
END
$$;
REVOKE ALL ON FUNCTION api.case_file_content(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_file_content(uuid, uuid) TO tianxing_app;

-- Delivery (P3.4) --------------------------------------------------------------------------------
-- Guard of the move deliver (0018): a delivery was recorded after the case last passed review
-- (an objection reopens rectification: the next pass needs the next delivery).
CREATE OR REPLACE FUNCTION cases.delivery_recorded(p_case uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT EXISTS (
    SELECT FROM cases.deliveries d
     WHERE d.case_id = p_case
       AND d.delivered_at >= (SELECT max(r.decided_at) FROM cases.reviews r
                               WHERE r.case_id = p_case AND r.outcome = 'passed'))
$$;
REVOKE ALL ON FUNCTION cases.delivery_recorded(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.delivery_recorded(uuid) TO tianxing_app;
COMMENT ON FUNCTION cases.delivery_recorded(uuid) IS
  'a delivery (method and deliverables) must be recorded after the case last passed review (P3.4)';

-- Rules on deliveries, for every writer: recorded while the case has passed review and is not
-- delivered yet (P3.4: delivery needs a passed review), naming deliverables of the same case,
-- each once; never changed or removed.
CREATE OR REPLACE FUNCTION cases.deliveries_rules() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE v_status text;
BEGIN
  IF TG_OP <> 'INSERT' THEN
    RAISE EXCEPTION 'deliveries are never changed or removed' USING ERRCODE = 'TXCON';
  END IF;
  SELECT c.status INTO v_status FROM cases.cases c WHERE c.id = NEW.case_id;
  IF v_status IS DISTINCT FROM 'passed' THEN
    RAISE EXCEPTION 'a delivery needs a case that passed review, not %', v_status
      USING ERRCODE = 'TXCON';
  END IF;
  IF (SELECT count(DISTINCT x) FROM unnest(NEW.file_ids) x) <> cardinality(NEW.file_ids) THEN
    PERFORM api.fail('TXVAL', 'file_ids', 'names a file twice');
  END IF;
  IF EXISTS (SELECT FROM unnest(NEW.file_ids) x
              WHERE NOT EXISTS (SELECT FROM cases.files f
                                 WHERE f.id = x AND f.case_id = NEW.case_id
                                   AND f.purpose = 'deliverable')) THEN
    PERFORM api.fail('TXVAL', 'file_ids', 'must be deliverables of this case');
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION cases.deliveries_rules() FROM PUBLIC;
CREATE OR REPLACE TRIGGER deliveries_rules BEFORE INSERT OR UPDATE OR DELETE ON cases.deliveries
  FOR EACH ROW EXECUTE FUNCTION cases.deliveries_rules();

CREATE OR REPLACE FUNCTION api.case_delivery_json(d cases.deliveries) RETURNS json
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT json_build_object(
           'id', d.id, 'case_id', d.case_id, 'method', d.method, 'file_ids', to_json(d.file_ids),
           'note', d.note, 'delivered_by', d.delivered_by, 'delivered_at', api.ts(d.delivered_at))
$$;
REVOKE ALL ON FUNCTION api.case_delivery_json(cases.deliveries) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_delivery_json(cases.deliveries) TO tianxing_app;

-- POST /v1/cases/{id}/deliver (current assignees, the department's supervisors; P3.4):
-- {method, file_ids, note}. Records the delivery and moves the case deliver (passed ->
-- delivered). 201 with the delivery and the case's new status.
CREATE OR REPLACE FUNCTION cases.deliver(p_case uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  c cases.cases;
  d cases.deliveries;
  v_method text;
  v_ids uuid[] := '{}';
  v_item jsonb;
BEGIN
  PERFORM api.require_user();
  c := cases.find(p_case);
  PERFORM api.require_role('staff', 'supervisor');
  PERFORM fsm.transition('case', c.status, 'deliver');
  PERFORM cases.require_handler(c.id, 'delivering');
  PERFORM api.body_keys(p_body, ARRAY['method', 'file_ids', 'note']);
  v_method := api.body_text(p_body, 'method', true, 20);
  IF v_method NOT IN ('email', 'in_person', 'post', 'portal', 'other') THEN
    PERFORM api.fail('TXVAL', 'method', 'must be email, in_person, post, portal or other');
  END IF;
  IF jsonb_typeof(p_body -> 'file_ids') IS DISTINCT FROM 'array'
     OR jsonb_array_length(p_body -> 'file_ids') NOT BETWEEN 1 AND 100 THEN
    PERFORM api.fail('TXVAL', 'file_ids', 'must list 1 to 100 deliverables of this case');
  END IF;
  FOR v_item IN SELECT x FROM jsonb_array_elements(p_body -> 'file_ids') x LOOP
    IF jsonb_typeof(v_item) <> 'string'
       OR (v_item #>> '{}') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
      PERFORM api.fail('TXVAL', 'file_ids', 'must be file ids');
    END IF;
    v_ids := v_ids || (v_item #>> '{}')::uuid;
  END LOOP;
  INSERT INTO cases.deliveries (case_id, method, file_ids, note, delivered_by)
  VALUES (c.id, v_method, v_ids, api.body_text(p_body, 'note', false, 2000), tx.user_id())
  RETURNING * INTO d;
  PERFORM fsm.move('case', c.id, 'deliver', d.note, jsonb_build_object('delivered_at', d.delivered_at));
  RETURN (api.case_delivery_json(d)::jsonb || jsonb_build_object('case_status', 'delivered'))::json;
END
$$;
REVOKE ALL ON FUNCTION cases.deliver(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.deliver(uuid, jsonb) TO tianxing_app;

-- Confirmation links (P3.4; docs/cases.md, "Confirmation links") -------------------------------
-- The service draws 256 random bits (OpenSSL RAND_bytes) and gives them to the customer as a
-- base64url token; the database keeps only SHA-256 of the token's bytes. That is the link's
-- "signature": nobody can make a token the service did not issue (2^-256 per guess), and the
-- stored hashes do not give the tokens away (a leaked table opens no link). An HMAC over (id,
-- expiry) would add nothing: the row must be read anyway to enforce "usable once" and revocation,
-- and the expiry is the row's. The token never reaches SQL: the C handler hashes it.
-- Rules, for every writer: a link is issued for the case's latest delivery while it is delivered;
-- afterwards only used_at or revoked_at is set, once; links are never deleted.
CREATE OR REPLACE FUNCTION cases.confirmation_links_rules() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'confirmation links are never deleted' USING ERRCODE = 'TXCON';
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NOT EXISTS (SELECT FROM cases.cases c WHERE c.id = NEW.case_id AND c.status = 'delivered') THEN
      RAISE EXCEPTION 'a confirmation link is issued for a delivered case' USING ERRCODE = 'TXCON';
    END IF;
    IF NEW.delivery_id IS DISTINCT FROM (SELECT d.id FROM cases.deliveries d
                                          WHERE d.case_id = NEW.case_id
                                          ORDER BY d.delivered_at DESC, d.id DESC LIMIT 1) THEN
      RAISE EXCEPTION 'a confirmation link is for the case''s latest delivery' USING ERRCODE = 'TXCON';
    END IF;
    IF NEW.used_at IS NOT NULL OR NEW.revoked_at IS NOT NULL OR NEW.expires_at <= now() THEN
      RAISE EXCEPTION 'a confirmation link is issued unused and unexpired' USING ERRCODE = 'TXCON';
    END IF;
    RETURN NEW;
  END IF;
  IF (NEW.id, NEW.case_id, NEW.delivery_id, NEW.token_hash, NEW.expires_at, NEW.created_by,
      NEW.created_at) IS DISTINCT FROM
     (OLD.id, OLD.case_id, OLD.delivery_id, OLD.token_hash, OLD.expires_at, OLD.created_by,
      OLD.created_at)
     OR OLD.used_at IS NOT NULL OR OLD.revoked_at IS NOT NULL
     OR (NEW.used_at IS NOT NULL AND NEW.revoked_at IS NOT NULL) THEN
    RAISE EXCEPTION 'a confirmation link is used or revoked once, and nothing else of it changes'
      USING ERRCODE = 'TXCON';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION cases.confirmation_links_rules() FROM PUBLIC;
CREATE OR REPLACE TRIGGER confirmation_links_rules BEFORE INSERT OR UPDATE OR DELETE
  ON cases.confirmation_links FOR EACH ROW EXECUTE FUNCTION cases.confirmation_links_rules();

-- POST /v1/cases/{id}/confirmation-links (current assignees, the department's supervisors;
-- P3.4): p_token_hash is SHA-256 of the token the C handler drew (hex). Revokes the case's
-- earlier open links (one live link per case), issues the new one for the latest delivery,
-- expiring after confirmation_link_days. The handler adds the token and the URL path.
CREATE OR REPLACE FUNCTION cases.confirmation_link_create(p_case uuid, p_token_hash text)
  RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  c cases.cases;
  l cases.confirmation_links;
  v_days int := coalesce((org.policy_value('confirmation_link_days'))::text::int, 14);
BEGIN
  PERFORM api.require_user();
  c := cases.find(p_case);
  PERFORM api.require_role('staff', 'supervisor');
  IF c.status <> 'delivered' THEN
    PERFORM fsm.refuse('case', c.status,
                       format('a confirmation link is issued for a delivered case; this one is %s',
                              c.status));
  END IF;
  PERFORM cases.require_handler(c.id, 'issuing a confirmation link');
  IF p_token_hash IS NULL OR p_token_hash !~ '^[0-9a-f]{64}$' THEN
    RAISE EXCEPTION 'case_confirmation_link_create: the token hash must be 64 hex digits'
      USING ERRCODE = '22023';
  END IF;
  UPDATE cases.confirmation_links x SET revoked_at = now()
   WHERE x.case_id = c.id AND x.used_at IS NULL AND x.revoked_at IS NULL;
  INSERT INTO cases.confirmation_links (case_id, delivery_id, token_hash, expires_at, created_by)
  VALUES (c.id, (SELECT d.id FROM cases.deliveries d WHERE d.case_id = c.id
                  ORDER BY d.delivered_at DESC, d.id DESC LIMIT 1),
          decode(p_token_hash, 'hex'), now() + make_interval(days => v_days), tx.user_id())
  RETURNING * INTO l;
  RETURN json_build_object('id', l.id, 'case_id', l.case_id, 'delivery_id', l.delivery_id,
                           'expires_at', api.ts(l.expires_at), 'created_at', api.ts(l.created_at));
END
$$;
REVOKE ALL ON FUNCTION cases.confirmation_link_create(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.confirmation_link_create(uuid, text) TO tianxing_app;

-- The live link of a token hash, locked; P0002 with one message for unknown, used, revoked and
-- expired tokens and for a case that is no longer delivered (no oracle: an answer never tells a
-- used token from one that never existed).
CREATE OR REPLACE FUNCTION cases.live_link(p_token_hash text, p_lock boolean)
  RETURNS cases.confirmation_links
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE l cases.confirmation_links;
BEGIN
  IF p_token_hash ~ '^[0-9a-f]{64}$' THEN
    SELECT x.* INTO l FROM cases.confirmation_links x JOIN cases.cases c ON c.id = x.case_id
     WHERE x.token_hash = decode(p_token_hash, 'hex') AND x.used_at IS NULL
       AND x.revoked_at IS NULL AND x.expires_at > now() AND c.status = 'delivered';
    IF p_lock AND l.id IS NOT NULL THEN
      -- of two answers at once, the second finds the link used
      SELECT x.* INTO l FROM cases.confirmation_links x
       WHERE x.id = l.id AND x.used_at IS NULL AND x.revoked_at IS NULL FOR UPDATE;
    END IF;
  END IF;
  IF l.id IS NULL THEN
    RAISE EXCEPTION 'no such confirmation link, or it was used or has expired' USING ERRCODE = 'P0002';
  END IF;
  RETURN l;
END
$$;
REVOKE ALL ON FUNCTION cases.live_link(text, boolean) FROM PUBLIC;

-- GET /v1/confirmations/{token} (public: the customer holds the token): what was delivered, for
-- the customer to confirm. No customer data, no staff names, no internal text: the case's id as
-- its reference, the business type's name, the deliverables' names, sizes and SHA-256, when and
-- how it was delivered, and until when the link works.
CREATE OR REPLACE FUNCTION cases.confirmation_view(p_token_hash text) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  l cases.confirmation_links := cases.live_link(p_token_hash, false);
  d cases.deliveries;
BEGIN
  SELECT * INTO d FROM cases.deliveries x WHERE x.id = l.delivery_id;
  RETURN json_build_object(
           'case_reference', l.case_id,
           'business_type', (SELECT t.name FROM cases.cases c
                               JOIN cases.business_types t ON t.id = c.business_type_id
                              WHERE c.id = l.case_id),
           'delivered_at', api.ts(d.delivered_at), 'delivery_method', d.method,
           'deliverables', coalesce((SELECT json_agg(json_build_object(
                                       'name', f.name, 'medium', f.medium,
                                       'media_type', f.media_type, 'size', f.size,
                                       'sha256', encode(f.sha256, 'hex')) ORDER BY x.n)
                                       FROM unnest(d.file_ids) WITH ORDINALITY x(id, n)
                                       JOIN cases.files f ON f.id = x.id), '[]'::json),
           'expires_at', api.ts(l.expires_at));
END
$$;
REVOKE ALL ON FUNCTION cases.confirmation_view(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.confirmation_view(text) TO tianxing_app;

-- Rules on confirmations, for every writer (P3.4): the answer to the case's latest delivery while
-- it is delivered, once per delivery (unique index, 0020); through a live link of that delivery,
-- or recorded by staff with evidence that is a file of the same case; never changed or removed.
CREATE OR REPLACE FUNCTION cases.confirmations_rules() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    RAISE EXCEPTION 'the customer''s answers are never changed or removed' USING ERRCODE = 'TXCON';
  END IF;
  IF NOT EXISTS (SELECT FROM cases.cases c WHERE c.id = NEW.case_id AND c.status = 'delivered') THEN
    RAISE EXCEPTION 'the customer answers a delivered case' USING ERRCODE = 'TXCON';
  END IF;
  IF NEW.delivery_id IS DISTINCT FROM (SELECT d.id FROM cases.deliveries d
                                        WHERE d.case_id = NEW.case_id
                                        ORDER BY d.delivered_at DESC, d.id DESC LIMIT 1) THEN
    RAISE EXCEPTION 'the answer is to the case''s latest delivery' USING ERRCODE = 'TXCON';
  END IF;
  IF NEW.via = 'link' AND NOT EXISTS (
       SELECT FROM cases.confirmation_links l
        WHERE l.id = NEW.link_id AND l.case_id = NEW.case_id AND l.delivery_id = NEW.delivery_id
          AND l.used_at IS NULL AND l.revoked_at IS NULL AND l.expires_at > now()) THEN
    RAISE EXCEPTION 'the link is not a live link of this delivery' USING ERRCODE = 'TXCON';
  END IF;
  IF NEW.evidence_file_id IS NOT NULL AND NOT EXISTS (
       SELECT FROM cases.files f
        WHERE f.id = NEW.evidence_file_id AND f.case_id = NEW.case_id AND f.purpose = 'evidence') THEN
    PERFORM api.fail('TXVAL', 'evidence_file_id', 'must be an evidence file of this case');
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION cases.confirmations_rules() FROM PUBLIC;
CREATE OR REPLACE TRIGGER confirmations_rules BEFORE INSERT OR UPDATE OR DELETE
  ON cases.confirmations FOR EACH ROW EXECUTE FUNCTION cases.confirmations_rules();

-- The answer's members, checked the same for the link and for staff: outcome, rating 1-5 (Q
-- counts satisfaction), comment (required for an objection: what is wrong).
CREATE OR REPLACE FUNCTION cases.answer_check(p_body jsonb) RETURNS void
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF (p_body ->> 'outcome') IS NULL OR jsonb_typeof(p_body -> 'outcome') <> 'string'
     OR (p_body ->> 'outcome') NOT IN ('confirmed', 'objected') THEN
    PERFORM api.fail('TXVAL', 'outcome', 'must be confirmed or objected');
  END IF;
  IF jsonb_typeof(p_body -> 'rating') IS DISTINCT FROM 'number'
     OR (p_body ->> 'rating') !~ '^[1-5]$' THEN
    PERFORM api.fail('TXVAL', 'rating', 'must be a whole number from 1 to 5');
  END IF;
  IF api.body_text(p_body, 'comment', false, 2000) IS NULL AND p_body ->> 'outcome' = 'objected' THEN
    PERFORM api.fail('TXVAL', 'comment', 'is required for an objection: say what is wrong');
  END IF;
END
$$;
REVOKE ALL ON FUNCTION cases.answer_check(jsonb) FROM PUBLIC;

CREATE OR REPLACE FUNCTION api.case_confirmation_json(x cases.confirmations) RETURNS json
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT json_build_object(
           'id', x.id, 'case_id', x.case_id, 'delivery_id', x.delivery_id, 'outcome', x.outcome,
           'rating', x.rating, 'comment', x.comment, 'via', x.via, 'recorded_by', x.recorded_by,
           'evidence', x.evidence, 'evidence_file_id', x.evidence_file_id, 'at', api.ts(x.at))
$$;
REVOKE ALL ON FUNCTION api.case_confirmation_json(cases.confirmations) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_confirmation_json(cases.confirmations) TO tianxing_app;

-- POST /v1/confirmations/{token} (public; P3.4): {outcome, rating, comment}. Records the answer
-- through the link, uses the link up, and moves the case confirm (confirmed) or object
-- (rectifying: an objection reopens rectification). The move is made under the role 'customer'
-- (fsm.transitions of confirm and object list it; 0018): the request carries no employee, so the
-- claim tx.roles is set to 'customer' for this move alone and put back afterwards; fsm.log
-- records the move with no actor and that role.
CREATE OR REPLACE FUNCTION cases.confirmation_answer(p_token_hash text, p_body jsonb) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  l cases.confirmation_links;
  x cases.confirmations;
  v_roles text := current_setting('tx.roles', true);
  v_user text := current_setting('tx.user_id', true);
BEGIN
  -- The body first: a malformed answer is 422 whatever the token (an objection without its
  -- comment included), so the answer to a bad body says nothing about the token (P3.4).
  PERFORM api.body_keys(p_body, ARRAY['outcome', 'rating', 'comment']);
  PERFORM cases.answer_check(p_body);
  -- The customer acts from here on: the answer's row, the link's use and the move are written
  -- under the role customer, so that the audit trail attributes all three to the customer (not
  -- to an anonymous writer), as fsm.log does the move.
  PERFORM set_config('tx.roles', 'customer', true), set_config('tx.user_id', '', true);
  l := cases.live_link(p_token_hash, true);
  INSERT INTO cases.confirmations (case_id, delivery_id, outcome, rating, comment, via, link_id)
  VALUES (l.case_id, l.delivery_id, p_body ->> 'outcome', (p_body ->> 'rating')::int,
          api.body_text(p_body, 'comment', false, 2000), 'link', l.id)
  RETURNING * INTO x;
  UPDATE cases.confirmation_links y SET used_at = now() WHERE y.id = l.id;
  IF x.outcome = 'confirmed' THEN
    PERFORM fsm.move('case', l.case_id, 'confirm', 'confirmed by the customer through the link',
                     jsonb_build_object('confirmed_at', x.at));
  ELSE
    PERFORM fsm.move('case', l.case_id, 'object', 'objected by the customer through the link');
  END IF;
  PERFORM set_config('tx.roles', coalesce(v_roles, ''), true),
          set_config('tx.user_id', coalesce(v_user, ''), true);
  RETURN json_build_object('outcome', x.outcome, 'rating', x.rating, 'recorded_at', api.ts(x.at));
END
$$;
REVOKE ALL ON FUNCTION cases.confirmation_answer(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.confirmation_answer(text, jsonb) TO tianxing_app;

-- POST /v1/cases/{id}/confirmations (current assignees, the department's supervisors; P3.4):
-- the customer's answer received another way, {outcome, rating, comment, evidence,
-- evidence_file_id} with evidence (a text, an evidence file of the case, or both). Revokes the
-- case's open links (the delivery is answered), moves the case confirm or object.
CREATE OR REPLACE FUNCTION cases.confirmation_record(p_case uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  c cases.cases;
  x cases.confirmations;
  v_evidence text;
  v_file uuid;
BEGIN
  PERFORM api.require_user();
  c := cases.find(p_case);
  PERFORM api.require_role('staff', 'supervisor');
  PERFORM fsm.transition('case', c.status, 'confirm');
  PERFORM cases.require_handler(c.id, 'recording the customer''s answer');
  PERFORM api.body_keys(p_body, ARRAY['outcome', 'rating', 'comment', 'evidence',
                                      'evidence_file_id']);
  PERFORM cases.answer_check(p_body);
  v_evidence := api.body_text(p_body, 'evidence', false, 2000);
  v_file := api.body_uuid(p_body, 'evidence_file_id', false);
  IF v_evidence IS NULL AND v_file IS NULL THEN
    PERFORM api.fail('TXVAL', 'evidence',
                     'is required: how the answer was received (a text, an evidence file, or both)');
  END IF;
  INSERT INTO cases.confirmations (case_id, delivery_id, outcome, rating, comment, via,
                                   recorded_by, evidence, evidence_file_id)
  VALUES (c.id, (SELECT d.id FROM cases.deliveries d WHERE d.case_id = c.id
                  ORDER BY d.delivered_at DESC, d.id DESC LIMIT 1),
          p_body ->> 'outcome', (p_body ->> 'rating')::int,
          api.body_text(p_body, 'comment', false, 2000), 'recorded', tx.user_id(), v_evidence,
          v_file)
  RETURNING * INTO x;
  UPDATE cases.confirmation_links y SET revoked_at = now()
   WHERE y.case_id = c.id AND y.used_at IS NULL AND y.revoked_at IS NULL;
  IF x.outcome = 'confirmed' THEN
    PERFORM fsm.move('case', c.id, 'confirm', x.evidence, jsonb_build_object('confirmed_at', x.at));
  ELSE
    PERFORM fsm.move('case', c.id, 'object', x.comment);
  END IF;
  RETURN (api.case_confirmation_json(x)::jsonb
          || jsonb_build_object('case_status', (SELECT y.status FROM cases.cases y
                                                  WHERE y.id = c.id)))::json;
END
$$;
REVOKE ALL ON FUNCTION cases.confirmation_record(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.confirmation_record(uuid, jsonb) TO tianxing_app;

-- The API (SECURITY INVOKER, like every api function: sql/tests/org.sql) -------------------------
-- Each route's function finds the case as the caller sees it (row-level security: a case the
-- caller may not see is 404), then calls the SECURITY DEFINER function above that writes as the
-- owner (the runtime role only reads the cases tables; the rules bind the owner through triggers).
CREATE OR REPLACE FUNCTION api.case_file_add(p_case uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM cases.visible_case(p_case);
  RETURN cases.file_add(p_case, p_body);
END
$$;
REVOKE ALL ON FUNCTION api.case_file_add(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_file_add(uuid, jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.case_deliver(p_case uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM cases.visible_case(p_case);
  RETURN cases.deliver(p_case, p_body);
END
$$;
REVOKE ALL ON FUNCTION api.case_deliver(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_deliver(uuid, jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.case_confirmation_link_create(p_case uuid, p_token_hash text) RETURNS json
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM cases.visible_case(p_case);
  RETURN cases.confirmation_link_create(p_case, p_token_hash);
END
$$;
REVOKE ALL ON FUNCTION api.case_confirmation_link_create(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_confirmation_link_create(uuid, text) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.confirmation_view(p_token_hash text) RETURNS json
  LANGUAGE plpgsql
  AS $$
BEGIN
  RETURN cases.confirmation_view(p_token_hash);
END
$$;
REVOKE ALL ON FUNCTION api.confirmation_view(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.confirmation_view(text) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.confirmation_answer(p_token_hash text, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
BEGIN
  RETURN cases.confirmation_answer(p_token_hash, p_body);
END
$$;
REVOKE ALL ON FUNCTION api.confirmation_answer(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.confirmation_answer(text, jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.case_confirmation_record(p_case uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM cases.visible_case(p_case);
  RETURN cases.confirmation_record(p_case, p_body);
END
$$;
REVOKE ALL ON FUNCTION api.case_confirmation_record(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_confirmation_record(uuid, jsonb) TO tianxing_app;
