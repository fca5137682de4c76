-- 0007 customer sharing and disposal: module C, second slice (docs/customers.md, "Second slice"):
-- recipients and their NDAs (C3.3), the customers' written consents with scope and purpose
-- (C3.2), the append-only ledger of disclosures (C3.1: nothing leaves without a ledger row), the
-- legal hold, deactivation and disposal by crypto-shredding (C4.3).
-- Runs as tianxing_owner inside one transaction opened by `tianxingd migrate`. Builds on 0006.
--
-- Errors, besides those of 0002 and 0006:
--   TXDEN  a disclosure refused; MESSAGE = the reason, safe to show             -> 403 forbidden
--   TXCON  disposal or deactivation refused (open contracts, legal hold, status), a disposed
--          customer changed, a consent or NDA revoked twice                      -> 409 conflict
--
-- Who may do what (RLS and the API functions):
--   recipients, NDAs   read: every signed-in employee; create (and revoke an NDA): supervisor,
--                      admin.
--   consents           read: whoever sees the customer; create and revoke: whoever may update
--                      the customer (admin, owner, team, the department's supervisor).
--   disclosures        read: whoever sees the customer; create: whoever has full access to the
--                      customer's PII (pii_access "full" = the same people who may update it).
--                      Append-only: no UPDATE/DELETE/TRUNCATE grant, and triggers refuse them.
--   legal hold         admin, risk_officer (risk officers may not update customers otherwise:
--                      the write goes through cust.set_legal_hold, SECURITY DEFINER, one column).
--   deactivate         whoever may update the customer.
--   dispose            admin only (irreversible; the department's supervisor may deactivate,
--                      which is the business decision, but not destroy). Enforced by the API
--                      and by the trigger cust.customers_disposal().
--
-- Disposal = crypto-shredding: the data key row goes (its wrapped bytes never entered the audit
-- trail: 0006 redacts them), so every ciphertext, the trail's included, is unreadable; sealed
-- columns and blind indexes become NULL; the personal plain fields are replaced. The business
-- record stays (company, scope, contracts, follow-ups). A disposed customer never changes again.
--
-- Concurrency ("revoking a consent stops disclosures at once"): a disclosure reads the consent and
-- the NDA it relies on FOR SHARE; a revocation updates that row, so it waits for disclosures in
-- flight, and a disclosure that starts after the revocation committed sees it (READ COMMITTED:
-- every statement a new snapshot, and a row locked while being revoked is re-checked).

-- Customers: legal hold, disposal -------------------------------------------------------------

ALTER TABLE cust.customers
  ADD COLUMN legal_hold_reason text CHECK (length(legal_hold_reason) BETWEEN 1 AND 2000),
  ADD COLUMN disposed_at timestamptz,
  ADD COLUMN disposed_by uuid REFERENCES org.employees (id);
ALTER TABLE cust.customers DROP CONSTRAINT customers_status_check;
ALTER TABLE cust.customers ADD CONSTRAINT customers_status_check
  CHECK (status IN ('prospect', 'active', 'inactive', 'disposed'));
-- A disposed customer holds nothing personal any more. The unique index on credit_code_bidx
-- (0006) thereby is "unique among customers not disposed of": disposed rows hold NULL.
ALTER TABLE cust.customers ADD CONSTRAINT customers_disposed_check
  CHECK ((status = 'disposed') = (disposed_at IS NOT NULL)
         AND (disposed_at IS NULL) = (disposed_by IS NULL)
         AND (status <> 'disposed'
              OR (name = 'disposed customer' AND address_enc IS NULL AND credit_code_enc IS NULL
                  AND credit_code_bidx IS NULL AND needs IS NULL AND concerns IS NULL
                  AND legal_hold_reason IS NULL)));

-- The life cycle rules of disposal, for every writer (the API, a definer, the owner):
--   * a disposed customer never changes again (TXCON), except for its department following its
--     owner's (cust.follow_owner_department, 0006: an owner moving must not fail on it);
--   * becoming disposed needs an administrator (42501), no legal hold, no open contract, and the
--     status inactive (TXCON, in that order of the messages).
-- Runs before customers_touch; after customers_derive (which only refuses "back to prospect").
CREATE FUNCTION cust.customers_disposal() RETURNS trigger
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
CREATE TRIGGER customers_disposal BEFORE UPDATE ON cust.customers
  FOR EACH ROW EXECUTE FUNCTION cust.customers_disposal();

-- Nothing is added to a disposed customer (contacts, team, data key, follow-ups, contracts,
-- consents, disclosures): TXCON. The customer row is read FOR SHARE, so that a disposal running
-- at the same time is waited for (and no contract slips in beside the "no open contract" check).
-- A caller who may not update the customer does not get the row (FOR SHARE applies the update
-- policy): the child table's own insert policy refuses them anyway.
CREATE FUNCTION cust.refuse_if_disposed() RETURNS trigger
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
CREATE TRIGGER contacts_not_disposed BEFORE INSERT ON cust.contacts
  FOR EACH ROW EXECUTE FUNCTION cust.refuse_if_disposed();
CREATE TRIGGER team_not_disposed BEFORE INSERT ON cust.team
  FOR EACH ROW EXECUTE FUNCTION cust.refuse_if_disposed();
CREATE TRIGGER data_keys_not_disposed BEFORE INSERT ON cust.data_keys
  FOR EACH ROW EXECUTE FUNCTION cust.refuse_if_disposed();
CREATE TRIGGER follow_ups_not_disposed BEFORE INSERT ON cust.follow_ups
  FOR EACH ROW EXECUTE FUNCTION cust.refuse_if_disposed();
CREATE TRIGGER contracts_not_disposed BEFORE INSERT ON cust.contracts
  FOR EACH ROW EXECUTE FUNCTION cust.refuse_if_disposed();

-- Disposal's writes on 0006's tables, for administrators only and only once the customer is
-- marked disposed: the contacts are scrubbed (and nothing else: the WITH CHECK), the data key
-- deleted.
CREATE POLICY contacts_dispose ON cust.contacts FOR UPDATE
  USING ((SELECT tx.has_role('admin'))
         AND EXISTS (SELECT FROM cust.customers c
                      WHERE c.id = customer_id AND c.status = 'disposed'))
  WITH CHECK ((SELECT tx.has_role('admin')) AND name = 'disposed' AND position IS NULL
              AND phone_enc IS NULL AND phone_bidx IS NULL AND email_enc IS NULL
              AND email_bidx IS NULL);
CREATE POLICY data_keys_dispose ON cust.data_keys FOR DELETE
  USING ((SELECT tx.has_role('admin'))
         AND EXISTS (SELECT FROM cust.customers c
                      WHERE c.id = customer_id AND c.status = 'disposed'));
GRANT UPDATE (disposed_at, disposed_by) ON cust.customers TO tianxing_app;
GRANT UPDATE (name, position, phone_enc, phone_bidx, email_enc, email_bidx) ON cust.contacts
  TO tianxing_app;
GRANT DELETE ON cust.data_keys TO tianxing_app;

-- Writes of a disposed customer are refused in cust.writable itself (with TXCON, before anything
-- else is looked at): see its final form in 0010, which also refuses merged customers.

-- Tables --------------------------------------------------------------------------------------

-- Who customer information may be shared with.
CREATE TABLE cust.recipients (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  kind       text NOT NULL CHECK (kind IN ('company', 'person', 'government')),
  contact    text CHECK (length(contact) BETWEEN 1 AND 500),
  created_by uuid NOT NULL REFERENCES org.employees (id),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recipients_name_idx ON cust.recipients (name, id);

-- Confidentiality agreements signed with a recipient (C3.3): in force from signed_on (included)
-- to expires_on (excluded), unless revoked. document_sha256: SHA-256 of the signed document.
CREATE TABLE cust.ndas (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  recipient_id    uuid NOT NULL REFERENCES cust.recipients (id),
  signed_on       date NOT NULL,
  expires_on      date NOT NULL,
  document_sha256 bytea NOT NULL CHECK (octet_length(document_sha256) = 32),
  created_by      uuid NOT NULL REFERENCES org.employees (id),
  created_at      timestamptz NOT NULL DEFAULT now(),
  revoked_at      timestamptz,
  revoked_by      uuid REFERENCES org.employees (id),
  UNIQUE (id, recipient_id),
  CHECK (expires_on > signed_on),
  CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE INDEX ndas_recipient_idx ON cust.ndas (recipient_id, created_at DESC);

-- The customer's written consent (C3.2) to share allowed_fields with a recipient for a purpose,
-- valid from valid_from to valid_until (both included), unless revoked. purpose is stored
-- trimmed and matched case-insensitively.
CREATE TABLE cust.consents (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id     uuid NOT NULL REFERENCES cust.customers (id),
  recipient_id    uuid NOT NULL REFERENCES cust.recipients (id),
  purpose         text NOT NULL CHECK (length(purpose) BETWEEN 1 AND 500 AND purpose = btrim(purpose)),
  allowed_fields  text[] NOT NULL
                  CHECK (cardinality(allowed_fields) >= 1
                         AND array_position(allowed_fields, NULL) IS NULL
                         AND allowed_fields <@ ARRAY['name', 'company_name', 'business_scope',
                                                     'address', 'credit_code', 'contacts.name',
                                                     'contacts.position', 'contacts.phone',
                                                     'contacts.email']::text[]),
  document_sha256 bytea NOT NULL CHECK (octet_length(document_sha256) = 32),
  valid_from      date NOT NULL,
  valid_until     date NOT NULL,
  created_by      uuid NOT NULL REFERENCES org.employees (id),
  created_at      timestamptz NOT NULL DEFAULT now(),
  revoked_at      timestamptz,
  revoked_by      uuid REFERENCES org.employees (id),
  UNIQUE (id, customer_id, recipient_id),
  CHECK (valid_until >= valid_from),
  CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE INDEX consents_lookup_idx ON cust.consents (customer_id, recipient_id, lower(purpose));
CREATE INDEX consents_recipient_idx ON cust.consents (recipient_id);

-- The ledger (C3.1): one row per disclosure, with the consent and the NDA it relied on (of the
-- same customer and recipient: composite foreign keys) and the fields that left.
CREATE TABLE cust.disclosures (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id  uuid NOT NULL REFERENCES cust.customers (id),
  recipient_id uuid NOT NULL REFERENCES cust.recipients (id),
  consent_id   uuid NOT NULL,
  nda_id       uuid NOT NULL,
  purpose      text NOT NULL CHECK (length(purpose) BETWEEN 1 AND 500),
  fields       text[] NOT NULL CHECK (cardinality(fields) >= 1),
  disclosed_by uuid NOT NULL REFERENCES org.employees (id),
  at           timestamptz NOT NULL DEFAULT now(),
  request_id   text,
  FOREIGN KEY (consent_id, customer_id, recipient_id)
    REFERENCES cust.consents (id, customer_id, recipient_id),
  FOREIGN KEY (nda_id, recipient_id) REFERENCES cust.ndas (id, recipient_id)
);
CREATE INDEX disclosures_customer_idx ON cust.disclosures (customer_id, at DESC, id DESC);
CREATE INDEX disclosures_recipient_idx ON cust.disclosures (recipient_id, at);
CREATE INDEX disclosures_consent_idx ON cust.disclosures (consent_id);
CREATE INDEX disclosures_nda_idx ON cust.disclosures (nda_id);

-- Validity, one definition for the API, the statuses and the ledger's check.
CREATE FUNCTION cust.shareable_fields() RETURNS text[]
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$
  SELECT ARRAY['name', 'company_name', 'business_scope', 'address', 'credit_code',
               'contacts.name', 'contacts.position', 'contacts.phone', 'contacts.email']
$$;

CREATE FUNCTION cust.consent_status(k cust.consents, p_day date) RETURNS text
  LANGUAGE sql IMMUTABLE
  AS $$
  SELECT CASE WHEN k.revoked_at IS NOT NULL THEN 'revoked'
              WHEN p_day < k.valid_from THEN 'pending'
              WHEN p_day > k.valid_until THEN 'expired'
              ELSE 'active' END
$$;

CREATE FUNCTION cust.nda_status(n cust.ndas, p_day date) RETURNS text
  LANGUAGE sql IMMUTABLE
  AS $$
  SELECT CASE WHEN n.revoked_at IS NOT NULL THEN 'revoked'
              WHEN p_day < n.signed_on THEN 'pending'
              WHEN p_day >= n.expires_on THEN 'expired'
              ELSE 'valid' END
$$;

-- Consents and NDAs change only by being revoked, once.
CREATE FUNCTION cust.revoke_only() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
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
CREATE TRIGGER ndas_revoke_only BEFORE UPDATE ON cust.ndas
  FOR EACH ROW EXECUTE FUNCTION cust.revoke_only();
CREATE TRIGGER consents_revoke_only BEFORE UPDATE ON cust.consents
  FOR EACH ROW EXECUTE FUNCTION cust.revoke_only();
CREATE TRIGGER consents_not_disposed BEFORE INSERT ON cust.consents
  FOR EACH ROW EXECUTE FUNCTION cust.refuse_if_disposed();

-- The ledger's own check, whoever inserts: the consent and the NDA cover today, the fields are
-- within the consent, the purpose is the consent's; the time and request are the database's.
CREATE FUNCTION cust.disclosures_check() RETURNS trigger
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
CREATE TRIGGER disclosures_check BEFORE INSERT ON cust.disclosures
  FOR EACH ROW EXECUTE FUNCTION cust.disclosures_check();
CREATE TRIGGER disclosures_not_disposed BEFORE INSERT ON cust.disclosures
  FOR EACH ROW EXECUTE FUNCTION cust.refuse_if_disposed();

-- Append-only: no UPDATE, DELETE or TRUNCATE of the ledger, whoever asks (the runtime role has no
-- such grant either).
CREATE FUNCTION cust.ledger_refuse_change() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  RAISE EXCEPTION 'cust.%: % is not allowed: the ledger is append-only', TG_TABLE_NAME, TG_OP
    USING ERRCODE = '42501';
END
$$;
CREATE TRIGGER disclosures_append_only BEFORE UPDATE OR DELETE ON cust.disclosures
  FOR EACH ROW EXECUTE FUNCTION cust.ledger_refuse_change();
CREATE TRIGGER disclosures_no_truncate BEFORE TRUNCATE ON cust.disclosures
  FOR EACH STATEMENT EXECUTE FUNCTION cust.ledger_refuse_change();

SELECT audit.attach('cust.recipients');
SELECT audit.attach('cust.ndas');
SELECT audit.attach('cust.consents');
SELECT audit.attach('cust.disclosures');

-- Row-level security --------------------------------------------------------------------------
ALTER TABLE cust.recipients ENABLE ROW LEVEL SECURITY;
ALTER TABLE cust.recipients FORCE ROW LEVEL SECURITY;
ALTER TABLE cust.ndas ENABLE ROW LEVEL SECURITY;
ALTER TABLE cust.ndas FORCE ROW LEVEL SECURITY;
ALTER TABLE cust.consents ENABLE ROW LEVEL SECURITY;
ALTER TABLE cust.consents FORCE ROW LEVEL SECURITY;
ALTER TABLE cust.disclosures ENABLE ROW LEVEL SECURITY;
ALTER TABLE cust.disclosures FORCE ROW LEVEL SECURITY;

-- Recipients and NDAs: every signed-in employee reads them; supervisors and admins record them,
-- as themselves.
CREATE POLICY recipients_read ON cust.recipients FOR SELECT
  USING ((SELECT tx.user_id()) IS NOT NULL);
CREATE POLICY recipients_insert ON cust.recipients FOR INSERT
  WITH CHECK (((SELECT tx.has_role('supervisor')) OR (SELECT tx.has_role('admin')))
              AND created_by = (SELECT tx.user_id()));
CREATE POLICY ndas_read ON cust.ndas FOR SELECT
  USING ((SELECT tx.user_id()) IS NOT NULL);
CREATE POLICY ndas_insert ON cust.ndas FOR INSERT
  WITH CHECK (((SELECT tx.has_role('supervisor')) OR (SELECT tx.has_role('admin')))
              AND created_by = (SELECT tx.user_id()) AND revoked_at IS NULL);
-- Revoking: supervisors and admins (WITH CHECK). The USING admits every signed-in employee only
-- because a disclosure reads its NDA FOR SHARE, which applies this policy's USING: an UPDATE by
-- anyone else fails the WITH CHECK (42501).
CREATE POLICY ndas_revoke ON cust.ndas FOR UPDATE
  USING ((SELECT tx.user_id()) IS NOT NULL)
  WITH CHECK (((SELECT tx.has_role('supervisor')) OR (SELECT tx.has_role('admin')))
              AND revoked_by = (SELECT tx.user_id()));

-- Consents: visible with their customer; recorded and revoked by those who may update it.
CREATE POLICY consents_read ON cust.consents FOR SELECT
  USING (EXISTS (SELECT FROM cust.customers c WHERE c.id = customer_id));
CREATE POLICY consents_insert ON cust.consents FOR INSERT
  WITH CHECK (created_by = (SELECT tx.user_id()) AND revoked_at IS NULL
              AND EXISTS (SELECT FROM cust.customers c
                           WHERE c.id = customer_id
                             AND ((SELECT tx.has_role('admin'))
                                  OR cust.is_related(c.owner_id, c.department_id, c.id))));
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

-- Disclosures: read by whoever sees the customer (auditors, hr and risk officers included);
-- written by those with full access to it, as themselves.
CREATE POLICY disclosures_read ON cust.disclosures FOR SELECT
  USING (EXISTS (SELECT FROM cust.customers c WHERE c.id = customer_id));
CREATE POLICY disclosures_insert ON cust.disclosures FOR INSERT
  WITH CHECK (disclosed_by = (SELECT tx.user_id())
              AND EXISTS (SELECT FROM cust.customers c
                           WHERE c.id = customer_id
                             AND ((SELECT tx.has_role('admin'))
                                  OR cust.is_related(c.owner_id, c.department_id, c.id))));

REVOKE ALL ON cust.recipients, cust.ndas, cust.consents, cust.disclosures FROM PUBLIC;
GRANT SELECT, INSERT ON cust.recipients, cust.ndas, cust.consents, cust.disclosures
  TO tianxing_app;
GRANT UPDATE (revoked_at, revoked_by) ON cust.ndas, cust.consents TO tianxing_app;

-- Helpers of the API ----------------------------------------------------------------------------

-- A SHA-256 given as 64 hexadecimal characters (either case).
CREATE FUNCTION cust.body_sha256(p_body jsonb, p_field text, p_required boolean) RETURNS bytea
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

CREATE FUNCTION cust.nda_json(n cust.ndas) RETURNS jsonb
  LANGUAGE sql STABLE
  AS $$
  SELECT jsonb_build_object('id', n.id, 'recipient_id', n.recipient_id, 'signed_on', n.signed_on,
                            'expires_on', n.expires_on,
                            'document_sha256', encode(n.document_sha256, 'hex'),
                            'status', cust.nda_status(n, current_date),
                            'created_by', n.created_by, 'created_at', api.ts(n.created_at),
                            'revoked_at', api.ts(n.revoked_at), 'revoked_by', n.revoked_by)
$$;

-- A recipient with its NDAs (newest first) and whether one is in force today.
CREATE FUNCTION cust.recipient_json(r cust.recipients) RETURNS jsonb
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

CREATE FUNCTION cust.consent_json(k cust.consents) RETURNS jsonb
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

CREATE FUNCTION cust.disclosure_json(d cust.disclosures) RETURNS jsonb
  LANGUAGE sql STABLE
  AS $$
  SELECT jsonb_build_object('id', d.id, 'customer_id', d.customer_id,
                            'recipient', (SELECT jsonb_build_object('id', r.id, 'name', r.name)
                                            FROM cust.recipients r WHERE r.id = d.recipient_id),
                            'consent_id', d.consent_id, 'nda_id', d.nda_id, 'purpose', d.purpose,
                            'fields', to_jsonb(d.fields), 'disclosed_by', d.disclosed_by,
                            'at', api.ts(d.at), 'request_id', d.request_id)
$$;

-- Sets or clears (p_reason NULL) the legal hold, for admin and risk_officer. SECURITY DEFINER
-- (owner, through 0006's customers_definer_* policies): risk officers may not update customers
-- otherwise, and this writes the one column. Returns the hold as the API shows it; NULL when no
-- such customer.
CREATE FUNCTION cust.set_legal_hold(p_id uuid, p_reason text) RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE c cust.customers;
BEGIN
  IF tx.user_id() IS NULL OR NOT (tx.has_role('admin') OR tx.has_role('risk_officer')) THEN
    RAISE EXCEPTION 'a legal hold needs the role admin or risk_officer' USING ERRCODE = '42501';
  END IF;
  SELECT * INTO c FROM cust.customers x WHERE x.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF c.legal_hold_reason IS DISTINCT FROM p_reason THEN
    UPDATE cust.customers x SET legal_hold_reason = p_reason WHERE x.id = p_id RETURNING * INTO c;
  END IF;
  RETURN jsonb_build_object('customer_id', c.id, 'legal_hold', c.legal_hold_reason IS NOT NULL,
                            'legal_hold_reason', c.legal_hold_reason, 'status', c.status,
                            'version', c.version, 'updated_at', api.ts(c.updated_at));
END
$$;

-- API: recipients and NDAs ----------------------------------------------------------------------

-- POST /v1/recipients (supervisor, admin): {name, kind: company|person|government, contact?}.
CREATE FUNCTION api.recipient_create(p jsonb) RETURNS json
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

-- GET /v1/recipients: by name (then id), keyset pages.
CREATE FUNCTION api.recipient_list(p_limit int, p_cursor text) RETURNS json
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

-- POST /v1/recipients/{id}/ndas (supervisor, admin): {signed_on, expires_on, document_sha256}
-- (64 hex characters). signed_on not in the future; expires_on after signed_on.
CREATE FUNCTION api.nda_create(p_recipient_id uuid, p jsonb) RETURNS json
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

-- Revokes an NDA (supervisor, admin): disclosures to the recipient stop unless another NDA is in
-- force. TXCON when revoked already. (No route in docs/customers.md yet.)
CREATE FUNCTION api.nda_revoke(p_nda_id uuid) RETURNS json
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

-- API: consents ---------------------------------------------------------------------------------

-- POST /v1/customers/{id}/consents (whoever may update the customer): {recipient_id, purpose,
-- allowed_fields: [...], document_sha256, valid_from, valid_until}. allowed_fields: a non-empty
-- subset of cust.shareable_fields(), stored in that order.
CREATE FUNCTION api.consent_create(p_customer_id uuid, p jsonb) RETURNS json
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

-- GET /v1/customers/{id}/consents: every consent of a visible customer, newest first (one page:
-- a customer has few). P0002 when the customer is not visible.
CREATE FUNCTION api.consent_list(p_customer_id uuid) RETURNS json
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

-- POST /v1/consents/{id}/revoke (whoever may update the customer): disclosures relying on it stop
-- at once. P0002 when not visible, TXCON when revoked already.
CREATE FUNCTION api.consent_revoke(p_consent_id uuid) RETURNS json
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

-- API: disclosures ------------------------------------------------------------------------------

-- POST /v1/customers/{id}/disclosures: {recipient_id, purpose}. Who: full access to the customer's
-- PII (42501 otherwise). Refused with TXDEN, MESSAGE = the reason, unless
--   * a consent of the customer for this recipient and purpose (trimmed, case-insensitive) is in
--     force today and not revoked (the newest such consent is used), and
--   * an NDA of the recipient is in force today (signed_on <= today < expires_on), not revoked.
-- Then, in this transaction: the customer document exactly as api.customer_get gives it to a
-- full-access caller (the PII read is logged), and the ledger row with fields = the consent's
-- allowed_fields. The C side opens the document and returns only those fields.
CREATE FUNCTION api.disclosure_create(p_customer_id uuid, p_recipient_id uuid, p_purpose text)
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

-- GET /v1/customers/{id}/disclosures: the ledger of a visible customer, newest first; keyset
-- pages. P0002 when the customer is not visible.
CREATE FUNCTION api.disclosure_list(p_customer_id uuid, p_limit int, p_cursor text) RETURNS json
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
     WHERE d.customer_id = p_customer_id
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

-- API: legal hold, deactivation, disposal -------------------------------------------------------

-- PUT /v1/customers/{id}/legal-hold (admin, risk_officer): sets the hold with its reason
-- (1..2000 characters), or clears it (NULL). Returns {customer_id, legal_hold, legal_hold_reason,
-- status, version, updated_at}. P0002 when not visible, TXCON when disposed.
CREATE FUNCTION api.customer_set_legal_hold(p_id uuid, p_reason text) RETURNS json
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

-- Deactivation (whoever may update the customer): status inactive, the step before disposal.
-- Refused (TXCON) while a contract is open or when disposed. Idempotent. Returns the customer as
-- api.customer_get does (the read is logged likewise).
CREATE FUNCTION api.customer_deactivate(p_id uuid) RETURNS json
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

-- POST /v1/customers/{id}/dispose (admin): C4.3 by crypto-shredding. Refused (TXCON) while a
-- contract is open, a legal hold is set, or the status is not inactive (the checks live in the
-- trigger cust.customers_disposal), and when disposed already. Returns the certificate body the C
-- side signs.
CREATE FUNCTION api.customer_dispose(p_id uuid) RETURNS json
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

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA cust FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA cust TO tianxing_app;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA api FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA api TO tianxing_app;
