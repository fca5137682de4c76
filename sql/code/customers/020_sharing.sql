-- sql/code/customers/020_sharing.sql: recipients, NDAs, consents, disclosures, disposal.
-- One current definition per object; `tianxingd migrate` re-applies this file when it changes
-- (sql/code/ORDER, docs/architecture.md).

-- The life cycle rules of disposal, for every writer (the API, a definer, the owner):
--   * a disposed customer never changes again (TXCON), except for its department following its
--     owner's (cust.follow_owner_department, 0006: an owner moving must not fail on it);
--   * becoming disposed needs an administrator (42501) other than the risk officer who cleared
--     its last legal hold (TXDEN, issue 10 item 9), no legal hold, no open contract, and the
--     status inactive (TXCON, in that order of the messages).
-- Runs before customers_touch; after customers_derive (which only refuses "back to prospect").
CREATE OR REPLACE FUNCTION cust.customers_disposal() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
DECLARE v_open int;
BEGIN
  IF OLD.status = 'disposed' THEN
    IF (to_jsonb(NEW) - '{department_id,version,updated_at}'::text[])
       IS DISTINCT FROM (to_jsonb(OLD) - '{department_id,version,updated_at}'::text[]) THEN
      RAISE EXCEPTION 'the customer has been disposed of (C4.3) and can no longer change'
        USING ERRCODE = 'TXCON';
    END IF;
    RETURN NEW;
  END IF;
  IF NEW.status = 'disposed' THEN
    IF NOT tx.has_role('admin') THEN
      RAISE EXCEPTION 'disposing of a customer needs the role admin' USING ERRCODE = '42501';
    END IF;
    IF cust.last_hold_clearer(OLD.id) = tx.user_id() THEN
      RAISE EXCEPTION 'you cleared this customer''s legal hold: another administrator disposes of it (four eyes)'
        USING ERRCODE = 'TXDEN';
    END IF;
    SELECT count(*) INTO v_open FROM cust.contracts k
     WHERE k.customer_id = OLD.id AND k.status = 'open';
    IF v_open > 0 THEN
      RAISE EXCEPTION 'the customer has % open contract(s): it cannot be disposed of', v_open
        USING ERRCODE = 'TXCON';
    END IF;
    IF OLD.legal_hold_reason IS NOT NULL THEN
      RAISE EXCEPTION 'the customer is under a legal hold: it cannot be disposed of'
        USING ERRCODE = 'TXCON';
    END IF;
    IF OLD.status <> 'inactive' THEN
      RAISE EXCEPTION 'only an inactive customer can be disposed of (this one is %): deactivate it first',
        OLD.status USING ERRCODE = 'TXCON';
    END IF;
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION cust.customers_disposal() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.customers_disposal() TO tianxing_app;

-- Who made the customer's latest legal-hold clearing (NULL: none), for the four-eyes check above.
-- SECURITY DEFINER: the runtime role has no access to cust.legal_hold_clearings.
CREATE OR REPLACE FUNCTION cust.last_hold_clearer(p_customer uuid) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT h.cleared_by FROM cust.legal_hold_clearings h
   WHERE h.customer_id = p_customer
   ORDER BY h.at DESC, h.id DESC
   LIMIT 1
$$;
REVOKE ALL ON FUNCTION cust.last_hold_clearer(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.last_hold_clearer(uuid) TO tianxing_app;

-- Nothing is added to a disposed customer (contacts, team, data key, follow-ups, contracts,
-- consents, disclosures): TXCON. The customer row is read FOR SHARE, so that a disposal running
-- at the same time is waited for (and no contract slips in beside the "no open contract" check).
-- A caller who may not update the customer does not get the row (FOR SHARE applies the update
-- policy): the child table's own insert policy refuses them anyway.
CREATE OR REPLACE FUNCTION cust.refuse_if_disposed() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
DECLARE v_status text;
BEGIN
  SELECT c.status INTO v_status FROM cust.customers c WHERE c.id = NEW.customer_id FOR SHARE;
  IF v_status = 'disposed' THEN
    RAISE EXCEPTION 'the customer has been disposed of (C4.3): nothing can be added to it'
      USING ERRCODE = 'TXCON';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION cust.refuse_if_disposed() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.refuse_if_disposed() TO tianxing_app;

-- Validity, one definition for the API, the statuses and the ledger's check.
CREATE OR REPLACE FUNCTION cust.shareable_fields() RETURNS text[]
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$
  SELECT ARRAY['name', 'company_name', 'business_scope', 'address', 'credit_code',
               'contacts.name', 'contacts.position', 'contacts.phone', 'contacts.email']
$$;
REVOKE ALL ON FUNCTION cust.shareable_fields() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.shareable_fields() TO tianxing_app;

CREATE OR REPLACE FUNCTION cust.consent_status(k cust.consents, p_day date) RETURNS text
  LANGUAGE sql IMMUTABLE
  AS $$
  SELECT CASE WHEN k.revoked_at IS NOT NULL THEN 'revoked'
              WHEN p_day < k.valid_from THEN 'pending'
              WHEN p_day > k.valid_until THEN 'expired'
              ELSE 'active' END
$$;
REVOKE ALL ON FUNCTION cust.consent_status(cust.consents,date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.consent_status(cust.consents,date) TO tianxing_app;

CREATE OR REPLACE FUNCTION cust.nda_status(n cust.ndas, p_day date) RETURNS text
  LANGUAGE sql IMMUTABLE
  AS $$
  SELECT CASE WHEN n.revoked_at IS NOT NULL THEN 'revoked'
              WHEN p_day < n.signed_on THEN 'pending'
              WHEN p_day >= n.expires_on THEN 'expired'
              ELSE 'valid' END
$$;
REVOKE ALL ON FUNCTION cust.nda_status(cust.ndas,date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.nda_status(cust.ndas,date) TO tianxing_app;

-- Consents and NDAs change only by being revoked, once. The one other change: a merge moves a
-- consent, revoked or not, from the source to the target it was merged into (issue 10 item 5:
-- api.customer_merge marks the source merged first), and nothing else about it.
CREATE OR REPLACE FUNCTION cust.revoke_only() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  -- Nested: NEW.customer_id must not be evaluated for cust.ndas, which has no such column.
  IF TG_TABLE_NAME = 'consents' THEN
    IF NEW.customer_id IS DISTINCT FROM OLD.customer_id THEN
      IF NOT EXISTS (SELECT FROM cust.customers c
                      WHERE c.id = OLD.customer_id AND c.status = 'merged'
                        AND c.merged_into = NEW.customer_id)
         OR (to_jsonb(NEW) - 'customer_id') IS DISTINCT FROM (to_jsonb(OLD) - 'customer_id') THEN
        RAISE EXCEPTION 'a consent moves only with a merge of its customer, unchanged'
          USING ERRCODE = 'TXCON';
      END IF;
      RETURN NEW;
    END IF;
  END IF;
  IF OLD.revoked_at IS NOT NULL THEN
    RAISE EXCEPTION 'it was revoked already' USING ERRCODE = 'TXCON';
  END IF;
  IF (to_jsonb(NEW) - '{revoked_at,revoked_by}'::text[])
     IS DISTINCT FROM (to_jsonb(OLD) - '{revoked_at,revoked_by}'::text[]) THEN
    RAISE EXCEPTION '%.% changes only by being revoked', TG_TABLE_SCHEMA, TG_TABLE_NAME
      USING ERRCODE = 'TXCON';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION cust.revoke_only() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.revoke_only() TO tianxing_app;

-- The ledger's own check, whoever inserts: the consent and the NDA cover today, the fields are
-- within the consent, the purpose is the consent's; the time and request are the database's.
CREATE OR REPLACE FUNCTION cust.disclosures_check() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  NEW.at := now();
  NEW.request_id := tx.request_id();
  IF NOT EXISTS (SELECT FROM cust.consents k
                  WHERE k.id = NEW.consent_id AND k.customer_id = NEW.customer_id
                    AND k.recipient_id = NEW.recipient_id
                    AND cust.consent_status(k, current_date) = 'active'
                    AND lower(k.purpose) = lower(NEW.purpose)
                    AND NEW.fields <@ k.allowed_fields) THEN
    RAISE EXCEPTION 'no valid consent covers this disclosure' USING ERRCODE = 'TXDEN';
  END IF;
  IF NOT EXISTS (SELECT FROM cust.ndas n
                  WHERE n.id = NEW.nda_id AND n.recipient_id = NEW.recipient_id
                    AND cust.nda_status(n, current_date) = 'valid') THEN
    RAISE EXCEPTION 'no valid NDA covers this disclosure' USING ERRCODE = 'TXDEN';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION cust.disclosures_check() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.disclosures_check() TO tianxing_app;

-- Append-only: no UPDATE, DELETE or TRUNCATE of the ledger, whoever asks (the runtime role has no
-- such grant either).
CREATE OR REPLACE FUNCTION cust.ledger_refuse_change() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  RAISE EXCEPTION 'cust.%: % is not allowed: the ledger is append-only', TG_TABLE_NAME, TG_OP
    USING ERRCODE = '42501';
END
$$;
REVOKE ALL ON FUNCTION cust.ledger_refuse_change() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.ledger_refuse_change() TO tianxing_app;

-- Helpers of the API ----------------------------------------------------------------------------

-- A SHA-256 given as 64 hexadecimal characters (either case).
CREATE OR REPLACE FUNCTION cust.body_sha256(p_body jsonb, p_field text, p_required boolean) RETURNS bytea
  LANGUAGE plpgsql IMMUTABLE
  AS $$
DECLARE v jsonb := p_body -> p_field;
BEGIN
  IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
    IF p_required THEN
      PERFORM api.fail('TXVAL', p_field, 'is required');
    END IF;
    RETURN NULL;
  END IF;
  IF jsonb_typeof(v) <> 'string' OR (v #>> '{}') !~ '^[0-9a-fA-F]{64}$' THEN
    PERFORM api.fail('TXVAL', p_field, 'must be 64 hexadecimal characters (a SHA-256)');
  END IF;
  RETURN decode(v #>> '{}', 'hex');
END
$$;
REVOKE ALL ON FUNCTION cust.body_sha256(jsonb,text,boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.body_sha256(jsonb,text,boolean) TO tianxing_app;

CREATE OR REPLACE FUNCTION cust.nda_json(n cust.ndas) RETURNS jsonb
  LANGUAGE sql STABLE
  AS $$
  SELECT jsonb_build_object('id', n.id, 'recipient_id', n.recipient_id, 'signed_on', n.signed_on,
                            'expires_on', n.expires_on,
                            'document_sha256', encode(n.document_sha256, 'hex'),
                            'status', cust.nda_status(n, current_date),
                            'created_by', n.created_by, 'created_at', api.ts(n.created_at),
                            'revoked_at', api.ts(n.revoked_at), 'revoked_by', n.revoked_by)
$$;
REVOKE ALL ON FUNCTION cust.nda_json(cust.ndas) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.nda_json(cust.ndas) TO tianxing_app;

-- A recipient with its NDAs (newest first) and whether one is in force today.
CREATE OR REPLACE FUNCTION cust.recipient_json(r cust.recipients) RETURNS jsonb
  LANGUAGE sql STABLE
  AS $$
  SELECT jsonb_build_object('id', r.id, 'name', r.name, 'kind', r.kind, 'contact', r.contact,
                            'created_by', r.created_by, 'created_at', api.ts(r.created_at),
                            'nda_valid', coalesce(bool_or(cust.nda_status(n, current_date) = 'valid')
                                                    FILTER (WHERE n.id IS NOT NULL), false),
                            'ndas', coalesce(jsonb_agg(cust.nda_json(n)
                                                       ORDER BY n.created_at DESC, n.id DESC)
                                               FILTER (WHERE n.id IS NOT NULL), '[]'::jsonb))
    FROM (SELECT 1) AS one
    LEFT JOIN cust.ndas n ON n.recipient_id = r.id
$$;
REVOKE ALL ON FUNCTION cust.recipient_json(cust.recipients) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.recipient_json(cust.recipients) TO tianxing_app;

CREATE OR REPLACE FUNCTION cust.consent_json(k cust.consents) RETURNS jsonb
  LANGUAGE sql STABLE
  AS $$
  SELECT jsonb_build_object('id', k.id, 'customer_id', k.customer_id,
                            'recipient', (SELECT jsonb_build_object('id', r.id, 'name', r.name)
                                            FROM cust.recipients r WHERE r.id = k.recipient_id),
                            'purpose', k.purpose, 'allowed_fields', to_jsonb(k.allowed_fields),
                            'document_sha256', encode(k.document_sha256, 'hex'),
                            'valid_from', k.valid_from, 'valid_until', k.valid_until,
                            'status', cust.consent_status(k, current_date),
                            'created_by', k.created_by, 'created_at', api.ts(k.created_at),
                            'revoked_at', api.ts(k.revoked_at), 'revoked_by', k.revoked_by)
$$;
REVOKE ALL ON FUNCTION cust.consent_json(cust.consents) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.consent_json(cust.consents) TO tianxing_app;

CREATE OR REPLACE FUNCTION cust.disclosure_json(d cust.disclosures) RETURNS jsonb
  LANGUAGE sql STABLE
  AS $$
  SELECT jsonb_build_object('id', d.id, 'customer_id', d.customer_id,
                            'recipient', (SELECT jsonb_build_object('id', r.id, 'name', r.name)
                                            FROM cust.recipients r WHERE r.id = d.recipient_id),
                            'consent_id', d.consent_id, 'nda_id', d.nda_id, 'purpose', d.purpose,
                            'fields', to_jsonb(d.fields), 'disclosed_by', d.disclosed_by,
                            'at', api.ts(d.at), 'request_id', d.request_id)
$$;
REVOKE ALL ON FUNCTION cust.disclosure_json(cust.disclosures) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.disclosure_json(cust.disclosures) TO tianxing_app;

-- Sets (admin, risk_officer) or clears (p_reason NULL; risk_officer only) the legal hold.
-- SECURITY DEFINER (owner, through 0006's customers_definer_* policies): risk officers may not
-- update customers otherwise, and this writes the hold's columns. Returns the hold as the API
-- shows it; NULL when no such customer.
CREATE OR REPLACE FUNCTION cust.set_legal_hold(p_id uuid, p_reason text) RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE c cust.customers;
BEGIN
  IF tx.user_id() IS NULL OR NOT (tx.has_role('admin') OR tx.has_role('risk_officer')) THEN
    RAISE EXCEPTION 'a legal hold needs the role admin or risk_officer' USING ERRCODE = '42501';
  END IF;
  -- Four eyes (issue 10 item 9): only a risk officer clears a hold, and is recorded as having
  -- done so; cust.customers_disposal then refuses that person the disposal.
  IF p_reason IS NULL AND NOT tx.has_role('risk_officer') THEN
    RAISE EXCEPTION 'clearing a legal hold needs the role risk_officer' USING ERRCODE = 'TXDEN';
  END IF;
  SELECT * INTO c FROM cust.customers x WHERE x.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF c.legal_hold_reason IS DISTINCT FROM p_reason THEN
    IF p_reason IS NULL THEN
      INSERT INTO cust.legal_hold_clearings (customer_id, reason, cleared_by)
      VALUES (p_id, c.legal_hold_reason, tx.user_id());
    END IF;
    UPDATE cust.customers x SET legal_hold_reason = p_reason WHERE x.id = p_id RETURNING * INTO c;
  END IF;
  RETURN jsonb_build_object('customer_id', c.id, 'legal_hold', c.legal_hold_reason IS NOT NULL,
                            'legal_hold_reason', c.legal_hold_reason, 'status', c.status,
                            'version', c.version, 'updated_at', api.ts(c.updated_at));
END
$$;
REVOKE ALL ON FUNCTION cust.set_legal_hold(uuid,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.set_legal_hold(uuid,text) TO tianxing_app;

-- Merged records (issue 10 item 5): a merged source keeps its disclosures, which the target
-- shows. The source may no longer be visible to those who see the target (its owner keeps it),
-- so these two SECURITY DEFINER helpers follow merged_into and answer ids only.
-- The record p_customer was merged into, through any chain of merges; p_customer itself when
-- it was not merged.
CREATE OR REPLACE FUNCTION cust.merged_root(p_customer uuid) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  WITH RECURSIVE up (id, merged_into, depth) AS (
    SELECT c.id, c.merged_into, 0 FROM cust.customers c WHERE c.id = p_customer
    UNION ALL
    SELECT c.id, c.merged_into, u.depth + 1
      FROM up u JOIN cust.customers c ON c.id = u.merged_into
     WHERE u.depth < 100)
  SELECT id FROM up ORDER BY depth DESC LIMIT 1
$$;
REVOKE ALL ON FUNCTION cust.merged_root(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.merged_root(uuid) TO tianxing_app;

-- p_customer and every record merged into it, directly or through other merges. Callers check
-- first that p_customer is visible to them.
CREATE OR REPLACE FUNCTION cust.merged_lineage(p_customer uuid) RETURNS SETOF uuid
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  WITH RECURSIVE down (id, depth) AS (
    SELECT p_customer, 0
    UNION ALL
    SELECT c.id, d.depth + 1
      FROM down d JOIN cust.customers c ON c.merged_into = d.id
     WHERE d.depth < 100)
  SELECT id FROM down
$$;
REVOKE ALL ON FUNCTION cust.merged_lineage(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.merged_lineage(uuid) TO tianxing_app;

-- API: recipients and NDAs ----------------------------------------------------------------------

-- POST /v1/recipients (supervisor, admin): {name, kind: company|person|government, contact?}.
CREATE OR REPLACE FUNCTION api.recipient_create(p jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  v_name text;
  v_kind text;
  v_contact text;
  r cust.recipients;
BEGIN
  PERFORM api.require_role('supervisor', 'admin');
  PERFORM api.body_keys(p, ARRAY['name', 'kind', 'contact']);
  v_name := btrim(api.body_text(p, 'name', true, 200));
  v_kind := api.body_text(p, 'kind', true, 20);
  IF v_kind NOT IN ('company', 'person', 'government') THEN
    PERFORM api.fail('TXVAL', 'kind', 'must be one of company, person, government');
  END IF;
  v_contact := btrim(api.body_text(p, 'contact', false, 500));
  INSERT INTO cust.recipients (name, kind, contact, created_by)
  VALUES (v_name, v_kind, v_contact, tx.user_id())
  RETURNING * INTO r;
  RETURN cust.recipient_json(r)::json;
END
$$;
REVOKE ALL ON FUNCTION api.recipient_create(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.recipient_create(jsonb) TO tianxing_app;

-- GET /v1/recipients: by name (then id), keyset pages.
CREATE OR REPLACE FUNCTION api.recipient_list(p_limit int, p_cursor text) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_key jsonb;
  v_name text;
  v_id uuid;
  v_out json;
BEGIN
  PERFORM api.require_user();
  IF p_cursor IS NOT NULL THEN
    v_key := cust.cursor_decode(p_cursor, 'recipients', 2);
    v_name := v_key ->> 0;
    v_id := cust.cursor_parse_uuid(v_key ->> 1);
  END IF;
  WITH page AS (
    SELECT r, row_number() OVER (ORDER BY r.name, r.id) AS rn
      FROM cust.recipients r
     WHERE v_id IS NULL OR (r.name, r.id) > (v_name, v_id)
     ORDER BY r.name, r.id
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(cust.recipient_json(p.r) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit THEN cust.cursor_encode(jsonb_build_array(
                                 'recipients', min((p.r).name) FILTER (WHERE p.rn = v_limit),
                                 min(((p.r).id)::text) FILTER (WHERE p.rn = v_limit))) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.recipient_list(integer,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.recipient_list(integer,text) TO tianxing_app;

-- POST /v1/recipients/{id}/ndas (supervisor, admin): {signed_on, expires_on, document_sha256}
-- (64 hex characters). signed_on not in the future; expires_on after signed_on.
CREATE OR REPLACE FUNCTION api.nda_create(p_recipient_id uuid, p jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  v_signed date;
  v_expires date;
  v_sha bytea;
  n cust.ndas;
BEGIN
  PERFORM api.require_role('supervisor', 'admin');
  IF NOT EXISTS (SELECT FROM cust.recipients r WHERE r.id = p_recipient_id) THEN
    RAISE EXCEPTION 'no such recipient' USING ERRCODE = 'P0002';
  END IF;
  PERFORM api.body_keys(p, ARRAY['signed_on', 'expires_on', 'document_sha256']);
  v_signed := api.body_date(p, 'signed_on', true);
  IF v_signed > current_date THEN
    PERFORM api.fail('TXVAL', 'signed_on', 'must not be in the future');
  END IF;
  v_expires := api.body_date(p, 'expires_on', true);
  IF v_expires <= v_signed THEN
    PERFORM api.fail('TXVAL', 'expires_on', 'must be after signed_on');
  END IF;
  v_sha := cust.body_sha256(p, 'document_sha256', true);
  INSERT INTO cust.ndas (recipient_id, signed_on, expires_on, document_sha256, created_by)
  VALUES (p_recipient_id, v_signed, v_expires, v_sha, tx.user_id())
  RETURNING * INTO n;
  RETURN cust.nda_json(n)::json;
END
$$;
REVOKE ALL ON FUNCTION api.nda_create(uuid,jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.nda_create(uuid,jsonb) TO tianxing_app;

-- Revokes an NDA (supervisor, admin): disclosures to the recipient stop unless another NDA is in
-- force. TXCON when revoked already. POST /v1/ndas/{id}/revoke (issue 10 item 19).
CREATE OR REPLACE FUNCTION api.nda_revoke(p_nda_id uuid) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE n cust.ndas;
BEGIN
  PERFORM api.require_role('supervisor', 'admin');
  SELECT * INTO n FROM cust.ndas x WHERE x.id = p_nda_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such NDA' USING ERRCODE = 'P0002';
  END IF;
  IF n.revoked_at IS NOT NULL THEN
    RAISE EXCEPTION 'the NDA was revoked already' USING ERRCODE = 'TXCON';
  END IF;
  UPDATE cust.ndas x SET revoked_at = now(), revoked_by = tx.user_id()
   WHERE x.id = p_nda_id
  RETURNING * INTO n;
  RETURN cust.nda_json(n)::json;
END
$$;
REVOKE ALL ON FUNCTION api.nda_revoke(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.nda_revoke(uuid) TO tianxing_app;

-- API: consents ---------------------------------------------------------------------------------

-- POST /v1/customers/{id}/consents (whoever may update the customer): {recipient_id, purpose,
-- allowed_fields: [...], document_sha256, valid_from, valid_until}. allowed_fields: a non-empty
-- subset of cust.shareable_fields(), stored in that order.
CREATE OR REPLACE FUNCTION api.consent_create(p_customer_id uuid, p jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  c cust.customers;
  v_recipient uuid;
  v_purpose text;
  v_fields text[];
  v_bad text;
  v_sha bytea;
  v_from date;
  v_until date;
  k cust.consents;
BEGIN
  c := cust.writable(p_customer_id);
  PERFORM api.body_keys(p, ARRAY['recipient_id', 'purpose', 'allowed_fields', 'document_sha256',
                                 'valid_from', 'valid_until']);
  v_recipient := api.body_uuid(p, 'recipient_id', true);
  IF NOT EXISTS (SELECT FROM cust.recipients r WHERE r.id = v_recipient) THEN
    PERFORM api.fail('TXVAL', 'recipient_id', 'no such recipient');
  END IF;
  v_purpose := btrim(api.body_text(p, 'purpose', true, 500));
  v_fields := api.body_text_array(p, 'allowed_fields', true);
  IF cardinality(v_fields) = 0 THEN
    PERFORM api.fail('TXVAL', 'allowed_fields', 'must name at least one field');
  END IF;
  SELECT f INTO v_bad FROM unnest(v_fields) f WHERE NOT f = ANY (cust.shareable_fields()) LIMIT 1;
  IF FOUND THEN
    PERFORM api.fail('TXVAL', 'allowed_fields',
                     format('%s is not a field that can be shared: use %s', v_bad,
                            array_to_string(cust.shareable_fields(), ', ')));
  END IF;
  v_fields := ARRAY(SELECT f FROM unnest(cust.shareable_fields()) WITH ORDINALITY AS s(f, i)
                     WHERE f = ANY (v_fields) ORDER BY i);
  v_sha := cust.body_sha256(p, 'document_sha256', true);
  v_from := api.body_date(p, 'valid_from', true);
  v_until := api.body_date(p, 'valid_until', true);
  IF v_until < v_from THEN
    PERFORM api.fail('TXVAL', 'valid_until', 'must not be before valid_from');
  END IF;
  INSERT INTO cust.consents (customer_id, recipient_id, purpose, allowed_fields, document_sha256,
                             valid_from, valid_until, created_by)
  VALUES (c.id, v_recipient, v_purpose, v_fields, v_sha, v_from, v_until, tx.user_id())
  RETURNING * INTO k;
  RETURN cust.consent_json(k)::json;
END
$$;
REVOKE ALL ON FUNCTION api.consent_create(uuid,jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.consent_create(uuid,jsonb) TO tianxing_app;

-- GET /v1/customers/{id}/consents: every consent of a visible customer, newest first (one page:
-- a customer has few). P0002 when the customer is not visible.
CREATE OR REPLACE FUNCTION api.consent_list(p_customer_id uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE v_out json;
BEGIN
  PERFORM api.require_user();
  IF NOT EXISTS (SELECT FROM cust.customers c WHERE c.id = p_customer_id) THEN
    RAISE EXCEPTION 'no such customer' USING ERRCODE = 'P0002';
  END IF;
  SELECT json_build_object('items', coalesce(json_agg(cust.consent_json(k)
                                                      ORDER BY k.created_at DESC, k.id DESC),
                                             '[]'::json),
                           'next_cursor', NULL)
    INTO v_out
    FROM cust.consents k WHERE k.customer_id = p_customer_id;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.consent_list(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.consent_list(uuid) TO tianxing_app;

-- POST /v1/consents/{id}/revoke (whoever may update the customer): disclosures relying on it stop
-- at once. P0002 when not visible, TXCON when revoked already.
CREATE OR REPLACE FUNCTION api.consent_revoke(p_consent_id uuid) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE k cust.consents;
BEGIN
  PERFORM api.require_user();
  SELECT * INTO k FROM cust.consents x WHERE x.id = p_consent_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such consent' USING ERRCODE = 'P0002';
  END IF;
  PERFORM cust.writable(k.customer_id);
  IF k.revoked_at IS NOT NULL THEN
    RAISE EXCEPTION 'the consent was revoked already' USING ERRCODE = 'TXCON';
  END IF;
  UPDATE cust.consents x SET revoked_at = now(), revoked_by = tx.user_id()
   WHERE x.id = p_consent_id
  RETURNING * INTO k;
  RETURN cust.consent_json(k)::json;
END
$$;
REVOKE ALL ON FUNCTION api.consent_revoke(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.consent_revoke(uuid) TO tianxing_app;

-- API: disclosures ------------------------------------------------------------------------------

-- POST /v1/customers/{id}/disclosures: {recipient_id, purpose}. Who: full access to the customer's
-- PII (42501 otherwise). Refused with TXDEN, MESSAGE = the reason, unless
--   * a consent of the customer for this recipient and purpose (trimmed, case-insensitive) is in
--     force today and not revoked (the newest such consent is used), and
--   * an NDA of the recipient is in force today (signed_on <= today < expires_on), not revoked.
-- Then, in this transaction: the customer document exactly as api.customer_get gives it to a
-- full-access caller (the PII read is logged), and the ledger row with fields = the consent's
-- allowed_fields. The C side opens the document and returns only those fields.
CREATE OR REPLACE FUNCTION api.disclosure_create(p_customer_id uuid, p_recipient_id uuid, p_purpose text)
  RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  c cust.customers;
  r cust.recipients;
  k cust.consents;
  n cust.ndas;
  d cust.disclosures;
  v_purpose text := btrim(p_purpose);
  v_doc json;
BEGIN
  PERFORM api.require_user();
  SELECT * INTO c FROM cust.customers x WHERE x.id = p_customer_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such customer' USING ERRCODE = 'P0002';
  END IF;
  IF cust.pii_access(c) <> 'full' THEN
    RAISE EXCEPTION 'disclosing a customer''s information needs full access to it (the owner, the team, the department''s supervisor or an administrator)'
      USING ERRCODE = '42501';
  END IF;
  IF c.status = 'disposed' THEN
    RAISE EXCEPTION 'the customer has been disposed of (C4.3): nothing is left to disclose'
      USING ERRCODE = 'TXCON';
  END IF;
  IF p_recipient_id IS NULL THEN
    PERFORM api.fail('TXVAL', 'recipient_id', 'is required');
  END IF;
  IF v_purpose IS NULL OR v_purpose = '' THEN
    PERFORM api.fail('TXVAL', 'purpose', 'is required');
  END IF;
  IF length(v_purpose) > 500 THEN
    PERFORM api.fail('TXVAL', 'purpose', 'must be at most 500 characters');
  END IF;
  SELECT * INTO r FROM cust.recipients x WHERE x.id = p_recipient_id;
  IF NOT FOUND THEN
    PERFORM api.fail('TXVAL', 'recipient_id', 'no such recipient');
  END IF;

  -- The consent (C3.2), locked against a concurrent revocation.
  SELECT * INTO k FROM cust.consents x
   WHERE x.customer_id = c.id AND x.recipient_id = r.id AND lower(x.purpose) = lower(v_purpose)
     AND cust.consent_status(x, current_date) = 'active'
   ORDER BY x.created_at DESC, x.id DESC
   LIMIT 1
   FOR SHARE;
  IF NOT FOUND THEN
    -- Why not: after the newest consent for this recipient and purpose, if any.
    SELECT * INTO k FROM cust.consents x
     WHERE x.customer_id = c.id AND x.recipient_id = r.id AND lower(x.purpose) = lower(v_purpose)
     ORDER BY x.created_at DESC, x.id DESC
     LIMIT 1;
    RAISE EXCEPTION USING ERRCODE = 'TXDEN', MESSAGE = CASE
      WHEN k.id IS NULL THEN 'no valid consent for this recipient and purpose'
      WHEN k.revoked_at IS NOT NULL
        THEN 'the customer''s consent for this recipient and purpose has been revoked'
      WHEN current_date < k.valid_from
        THEN format('the customer''s consent for this recipient and purpose is valid from %s',
                    k.valid_from)
      ELSE format('the customer''s consent for this recipient and purpose expired on %s',
                  k.valid_until) END;
  END IF;

  -- The recipient's NDA (C3.3), locked likewise.
  SELECT * INTO n FROM cust.ndas x
   WHERE x.recipient_id = r.id AND cust.nda_status(x, current_date) = 'valid'
   ORDER BY x.created_at DESC, x.id DESC
   LIMIT 1
   FOR SHARE;
  IF NOT FOUND THEN
    SELECT * INTO n FROM cust.ndas x
     WHERE x.recipient_id = r.id
     ORDER BY x.created_at DESC, x.id DESC
     LIMIT 1;
    RAISE EXCEPTION USING ERRCODE = 'TXDEN', MESSAGE = CASE
      WHEN n.id IS NULL THEN 'the recipient has signed no NDA (confidentiality agreement)'
      WHEN n.revoked_at IS NOT NULL THEN 'the recipient''s NDA has been revoked'
      WHEN current_date < n.signed_on
        THEN format('the recipient''s NDA is in force from %s', n.signed_on)
      ELSE 'the recipient''s NDA has expired' END;
  END IF;

  v_doc := api.customer_get(c.id);
  INSERT INTO cust.disclosures (customer_id, recipient_id, consent_id, nda_id, purpose, fields,
                                disclosed_by)
  VALUES (c.id, r.id, k.id, n.id, k.purpose, k.allowed_fields, tx.user_id())
  RETURNING * INTO d;
  RETURN json_build_object('disclosure_id', d.id, 'consent_id', k.id, 'nda_id', n.id,
                           'recipient', json_build_object('id', r.id, 'name', r.name),
                           'purpose', k.purpose, 'allowed_fields', to_json(k.allowed_fields),
                           'at', api.ts(d.at), 'customer', v_doc);
END
$$;
REVOKE ALL ON FUNCTION api.disclosure_create(uuid,uuid,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.disclosure_create(uuid,uuid,text) TO tianxing_app;

-- GET /v1/customers/{id}/disclosures: the ledger of a visible customer, and of the records merged
-- into it (each item names the record it was written for), newest first; keyset pages. P0002
-- when the customer is not visible.
CREATE OR REPLACE FUNCTION api.disclosure_list(p_customer_id uuid, p_limit int, p_cursor text) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_key jsonb;
  v_at timestamptz;
  v_id uuid;
  v_out json;
BEGIN
  PERFORM api.require_user();
  IF NOT EXISTS (SELECT FROM cust.customers c WHERE c.id = p_customer_id) THEN
    RAISE EXCEPTION 'no such customer' USING ERRCODE = 'P0002';
  END IF;
  IF p_cursor IS NOT NULL THEN
    v_key := cust.cursor_decode(p_cursor, 'disclosures', 2);
    v_at := cust.cursor_parse_ts(v_key ->> 0);
    v_id := cust.cursor_parse_uuid(v_key ->> 1);
  END IF;
  WITH page AS (
    SELECT d, row_number() OVER (ORDER BY d.at DESC, d.id DESC) AS rn
      FROM cust.disclosures d
     WHERE d.customer_id IN (SELECT cust.merged_lineage(p_customer_id))
       AND (v_id IS NULL OR (d.at, d.id) < (v_at, v_id))
     ORDER BY d.at DESC, d.id DESC
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(cust.disclosure_json(p.d) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit THEN cust.cursor_encode(jsonb_build_array(
                                 'disclosures',
                                 min(cust.cursor_ts((p.d).at)) FILTER (WHERE p.rn = v_limit),
                                 min(((p.d).id)::text) FILTER (WHERE p.rn = v_limit))) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.disclosure_list(uuid,integer,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.disclosure_list(uuid,integer,text) TO tianxing_app;

-- API: legal hold, deactivation, disposal -------------------------------------------------------

-- PUT /v1/customers/{id}/legal-hold (admin, risk_officer): sets the hold with its reason
-- (1..2000 characters), or clears it (NULL). Returns {customer_id, legal_hold, legal_hold_reason,
-- status, version, updated_at}. P0002 when not visible, TXCON when disposed.
CREATE OR REPLACE FUNCTION api.customer_set_legal_hold(p_id uuid, p_reason text) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  v_reason text := btrim(p_reason);
  v_out jsonb;
BEGIN
  PERFORM api.require_role('admin', 'risk_officer');
  IF p_reason IS NOT NULL AND (v_reason = '' OR length(v_reason) > 2000) THEN
    PERFORM api.fail('TXVAL', 'reason', 'must be 1 to 2000 characters (null clears the hold)');
  END IF;
  IF NOT EXISTS (SELECT FROM cust.customers c WHERE c.id = p_id) THEN
    RAISE EXCEPTION 'no such customer' USING ERRCODE = 'P0002';
  END IF;
  v_out := cust.set_legal_hold(p_id, v_reason);
  IF v_out IS NULL THEN
    RAISE EXCEPTION 'no such customer' USING ERRCODE = 'P0002';
  END IF;
  RETURN v_out::json;
END
$$;
REVOKE ALL ON FUNCTION api.customer_set_legal_hold(uuid,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.customer_set_legal_hold(uuid,text) TO tianxing_app;

-- Deactivation (whoever may update the customer): status inactive, the step before disposal.
-- Refused (TXCON) while a contract is open or when disposed, and while a case is open (the
-- trigger customers_open_cases, sql/code/cases/095_customers.sql: the problem names the cases in
-- open_cases). Idempotent. Returns the customer as api.customer_get does (the read is logged
-- likewise).
CREATE OR REPLACE FUNCTION api.customer_deactivate(p_id uuid) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  c cust.customers;
  v_open int;
BEGIN
  c := cust.writable(p_id);
  SELECT * INTO c FROM cust.customers x WHERE x.id = p_id FOR UPDATE;
  SELECT count(*) INTO v_open FROM cust.contracts k WHERE k.customer_id = p_id AND k.status = 'open';
  IF v_open > 0 THEN
    RAISE EXCEPTION 'the customer has % open contract(s): it cannot be deactivated', v_open
      USING ERRCODE = 'TXCON';
  END IF;
  IF c.status <> 'inactive' THEN
    UPDATE cust.customers x SET status = 'inactive' WHERE x.id = p_id;
  END IF;
  RETURN api.customer_get(p_id);
END
$$;
REVOKE ALL ON FUNCTION api.customer_deactivate(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.customer_deactivate(uuid) TO tianxing_app;

-- POST /v1/customers/{id}/dispose (admin): C4.3 by crypto-shredding. Refused (TXCON) while a
-- contract is open, a legal hold is set, or the status is not inactive (the checks live in the
-- trigger cust.customers_disposal), while a case is open (the trigger customers_open_cases,
-- sql/code/cases/095_customers.sql, with open_cases), and when disposed already. Returns the certificate body the C
-- side signs.
CREATE OR REPLACE FUNCTION api.customer_dispose(p_id uuid) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  c cust.customers;
  v_me uuid;
BEGIN
  PERFORM api.require_role('admin');
  v_me := tx.user_id();
  SELECT * INTO c FROM cust.customers x WHERE x.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such customer' USING ERRCODE = 'P0002';
  END IF;
  IF c.status = 'disposed' THEN
    RAISE EXCEPTION 'the customer has been disposed of already' USING ERRCODE = 'TXCON';
  END IF;
  -- The customer first: the trigger checks the preconditions, and the policies that let the
  -- contacts be scrubbed and the key be deleted require the status disposed.
  UPDATE cust.customers x
     SET status = 'disposed', disposed_at = now(), disposed_by = v_me,
         name = 'disposed customer', needs = NULL, concerns = NULL,
         address_enc = NULL, credit_code_enc = NULL, credit_code_bidx = NULL
   WHERE x.id = p_id
  RETURNING * INTO c;
  UPDATE cust.contacts k
     SET name = 'disposed', position = NULL, phone_enc = NULL, phone_bidx = NULL,
         email_enc = NULL, email_bidx = NULL
   WHERE k.customer_id = p_id;
  DELETE FROM cust.data_keys d WHERE d.customer_id = p_id;
  -- Consents end with the customer.
  UPDATE cust.consents k SET revoked_at = now(), revoked_by = v_me
   WHERE k.customer_id = p_id AND k.revoked_at IS NULL;
  -- Nothing may have been filtered out silently.
  IF EXISTS (SELECT FROM cust.data_keys d WHERE d.customer_id = p_id)
     OR EXISTS (SELECT FROM cust.contacts k
                 WHERE k.customer_id = p_id
                   AND (k.phone_enc IS NOT NULL OR k.email_enc IS NOT NULL
                        OR k.phone_bidx IS NOT NULL OR k.email_bidx IS NOT NULL
                        OR k.name IS DISTINCT FROM 'disposed' OR k.position IS NOT NULL)) THEN
    RAISE EXCEPTION 'disposal of customer % left data behind', p_id;
  END IF;
  RETURN json_build_object(
    'customer_id', c.id, 'disposed_at', api.ts(c.disposed_at), 'disposed_by', c.disposed_by,
    'destroyed', json_build_array('data_key', 'sealed_fields', 'blind_indexes', 'personal_fields'),
    'kept', json_build_array('company_name', 'business_scope', 'contracts', 'follow_ups'));
END
$$;
REVOKE ALL ON FUNCTION api.customer_dispose(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.customer_dispose(uuid) TO tianxing_app;

CREATE OR REPLACE TRIGGER customers_disposal BEFORE UPDATE ON cust.customers
  FOR EACH ROW EXECUTE FUNCTION cust.customers_disposal();

CREATE OR REPLACE TRIGGER contacts_not_disposed BEFORE INSERT ON cust.contacts
  FOR EACH ROW EXECUTE FUNCTION cust.refuse_if_disposed();

CREATE OR REPLACE TRIGGER team_not_disposed BEFORE INSERT ON cust.team
  FOR EACH ROW EXECUTE FUNCTION cust.refuse_if_disposed();

CREATE OR REPLACE TRIGGER data_keys_not_disposed BEFORE INSERT ON cust.data_keys
  FOR EACH ROW EXECUTE FUNCTION cust.refuse_if_disposed();

CREATE OR REPLACE TRIGGER follow_ups_not_disposed BEFORE INSERT ON cust.follow_ups
  FOR EACH ROW EXECUTE FUNCTION cust.refuse_if_disposed();

CREATE OR REPLACE TRIGGER contracts_not_disposed BEFORE INSERT ON cust.contracts
  FOR EACH ROW EXECUTE FUNCTION cust.refuse_if_disposed();

-- Disposal's writes on 0006's tables, for administrators only and only once the customer is
-- marked disposed: the contacts are scrubbed (and nothing else: the WITH CHECK), the data key
-- deleted.
DROP POLICY IF EXISTS contacts_dispose ON cust.contacts;
CREATE POLICY contacts_dispose ON cust.contacts FOR UPDATE
  USING ((SELECT tx.has_role('admin'))
         AND EXISTS (SELECT FROM cust.customers c
                      WHERE c.id = customer_id AND c.status = 'disposed'))
  WITH CHECK ((SELECT tx.has_role('admin')) AND name = 'disposed' AND position IS NULL
              AND phone_enc IS NULL AND phone_bidx IS NULL AND email_enc IS NULL
              AND email_bidx IS NULL);

DROP POLICY IF EXISTS data_keys_dispose ON cust.data_keys;
CREATE POLICY data_keys_dispose ON cust.data_keys FOR DELETE
  USING ((SELECT tx.has_role('admin'))
         AND EXISTS (SELECT FROM cust.customers c
                      WHERE c.id = customer_id AND c.status = 'disposed'));

CREATE OR REPLACE TRIGGER ndas_revoke_only BEFORE UPDATE ON cust.ndas
  FOR EACH ROW EXECUTE FUNCTION cust.revoke_only();

CREATE OR REPLACE TRIGGER consents_revoke_only BEFORE UPDATE ON cust.consents
  FOR EACH ROW EXECUTE FUNCTION cust.revoke_only();

CREATE OR REPLACE TRIGGER consents_not_disposed BEFORE INSERT ON cust.consents
  FOR EACH ROW EXECUTE FUNCTION cust.refuse_if_disposed();

CREATE OR REPLACE TRIGGER disclosures_check BEFORE INSERT ON cust.disclosures
  FOR EACH ROW EXECUTE FUNCTION cust.disclosures_check();

CREATE OR REPLACE TRIGGER disclosures_not_disposed BEFORE INSERT ON cust.disclosures
  FOR EACH ROW EXECUTE FUNCTION cust.refuse_if_disposed();

CREATE OR REPLACE TRIGGER disclosures_append_only BEFORE UPDATE OR DELETE ON cust.disclosures
  FOR EACH ROW EXECUTE FUNCTION cust.ledger_refuse_change();

CREATE OR REPLACE TRIGGER disclosures_no_truncate BEFORE TRUNCATE ON cust.disclosures
  FOR EACH STATEMENT EXECUTE FUNCTION cust.ledger_refuse_change();

-- Recipients and NDAs: every signed-in employee reads them; supervisors and admins record them,
-- as themselves.
DROP POLICY IF EXISTS recipients_read ON cust.recipients;
CREATE POLICY recipients_read ON cust.recipients FOR SELECT
  USING ((SELECT tx.user_id()) IS NOT NULL);

DROP POLICY IF EXISTS recipients_insert ON cust.recipients;
CREATE POLICY recipients_insert ON cust.recipients FOR INSERT
  WITH CHECK (((SELECT tx.has_role('supervisor')) OR (SELECT tx.has_role('admin')))
              AND created_by = (SELECT tx.user_id()));

DROP POLICY IF EXISTS ndas_read ON cust.ndas;
CREATE POLICY ndas_read ON cust.ndas FOR SELECT
  USING ((SELECT tx.user_id()) IS NOT NULL);

DROP POLICY IF EXISTS ndas_insert ON cust.ndas;
CREATE POLICY ndas_insert ON cust.ndas FOR INSERT
  WITH CHECK (((SELECT tx.has_role('supervisor')) OR (SELECT tx.has_role('admin')))
              AND created_by = (SELECT tx.user_id()) AND revoked_at IS NULL);

-- Revoking: supervisors and admins (WITH CHECK). The USING admits every signed-in employee only
-- because a disclosure reads its NDA FOR SHARE, which applies this policy's USING: an UPDATE by
-- anyone else fails the WITH CHECK (42501).
DROP POLICY IF EXISTS ndas_revoke ON cust.ndas;
CREATE POLICY ndas_revoke ON cust.ndas FOR UPDATE
  USING ((SELECT tx.user_id()) IS NOT NULL)
  WITH CHECK (((SELECT tx.has_role('supervisor')) OR (SELECT tx.has_role('admin')))
              AND revoked_by = (SELECT tx.user_id()));

-- Consents: visible with their customer; recorded and revoked by those who may update it.
DROP POLICY IF EXISTS consents_read ON cust.consents;
CREATE POLICY consents_read ON cust.consents FOR SELECT
  USING (EXISTS (SELECT FROM cust.customers c WHERE c.id = customer_id));

DROP POLICY IF EXISTS consents_insert ON cust.consents;
CREATE POLICY consents_insert ON cust.consents FOR INSERT
  WITH CHECK (created_by = (SELECT tx.user_id()) AND revoked_at IS NULL
              AND EXISTS (SELECT FROM cust.customers c
                           WHERE c.id = customer_id
                             AND ((SELECT tx.has_role('admin'))
                                  OR cust.is_related(c.owner_id, c.department_id, c.id))));

DROP POLICY IF EXISTS consents_revoke ON cust.consents;
CREATE POLICY consents_revoke ON cust.consents FOR UPDATE
  USING (EXISTS (SELECT FROM cust.customers c
                  WHERE c.id = customer_id
                    AND ((SELECT tx.has_role('admin'))
                         OR cust.is_related(c.owner_id, c.department_id, c.id))))
  WITH CHECK (revoked_by = (SELECT tx.user_id())
              AND EXISTS (SELECT FROM cust.customers c
                           WHERE c.id = customer_id
                             AND ((SELECT tx.has_role('admin'))
                                  OR cust.is_related(c.owner_id, c.department_id, c.id))));

-- Disclosures: read by whoever sees the customer, or the record it was merged into (auditors, hr
-- and risk officers included);
-- written by those with full access to it, as themselves.
DROP POLICY IF EXISTS disclosures_read ON cust.disclosures;
CREATE POLICY disclosures_read ON cust.disclosures FOR SELECT
  USING (EXISTS (SELECT FROM cust.customers c
                  WHERE c.id = customer_id OR c.id = cust.merged_root(customer_id)));

DROP POLICY IF EXISTS disclosures_insert ON cust.disclosures;
CREATE POLICY disclosures_insert ON cust.disclosures FOR INSERT
  WITH CHECK (disclosed_by = (SELECT tx.user_id())
              AND EXISTS (SELECT FROM cust.customers c
                           WHERE c.id = customer_id
                             AND ((SELECT tx.has_role('admin'))
                                  OR cust.is_related(c.owner_id, c.department_id, c.id))));

-- Legal-hold clearings (0016): written and read by the owner only, through cust.set_legal_hold
-- and cust.last_hold_clearer; append-only.
DROP POLICY IF EXISTS legal_hold_clearings_definer_read ON cust.legal_hold_clearings;
CREATE POLICY legal_hold_clearings_definer_read ON cust.legal_hold_clearings FOR SELECT
  TO tianxing_owner USING (true);
DROP POLICY IF EXISTS legal_hold_clearings_definer_insert ON cust.legal_hold_clearings;
CREATE POLICY legal_hold_clearings_definer_insert ON cust.legal_hold_clearings FOR INSERT
  TO tianxing_owner WITH CHECK (cleared_by = (SELECT tx.user_id()));

CREATE OR REPLACE TRIGGER legal_hold_clearings_append_only BEFORE UPDATE OR DELETE ON cust.legal_hold_clearings
  FOR EACH ROW EXECUTE FUNCTION cust.ledger_refuse_change();

CREATE OR REPLACE TRIGGER pii_reads_append_only BEFORE UPDATE OR DELETE ON cust.pii_reads
  FOR EACH ROW EXECUTE FUNCTION cust.ledger_refuse_change();

CREATE OR REPLACE TRIGGER pii_reads_no_truncate BEFORE TRUNCATE ON cust.pii_reads
  FOR EACH STATEMENT EXECUTE FUNCTION cust.ledger_refuse_change();
