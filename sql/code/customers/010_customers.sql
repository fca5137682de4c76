-- sql/code/customers/010_customers.sql: customers, contacts, team, follow-ups, contracts, the C1.3 gate.
-- One current definition per object; `tianxingd migrate` re-applies this file when it changes
-- (sql/code/ORDER, docs/architecture.md).

-- Derived columns and life cycle ------------------------------------------------------------

-- The search terms of a (lower-cased) text: every two consecutive characters, Chinese or not,
-- except pairs with white space; distinct, sorted. PL/pgSQL, not SQL: a SQL body with a sub-select
-- is never inlined, so it was parsed and planned at every call (every customer written); PL/pgSQL
-- keeps the plan for the session. The pairs are cut in a loop (each step a simple expression, no
-- statement) and only their de-duplication and order are a query: half the time of cutting them
-- in SQL with generate_series (33 -> 17 µs a call; issue 15 target 3, docs/performance.md).
CREATE OR REPLACE FUNCTION cust.bigrams(p_text text) RETURNS text[]
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
  AS $$
DECLARE
  v text[] := '{}';
  g text;
BEGIN
  FOR i IN 1 .. coalesce(length(p_text), 0) - 1 LOOP
    g := substr(p_text, i, 2);
    IF g !~ '[[:space:]]' THEN
      v := v || g;
    END IF;
  END LOOP;
  RETURN ARRAY(SELECT x FROM unnest(v) x GROUP BY x ORDER BY x COLLATE "C");
END
$$;
REVOKE ALL ON FUNCTION cust.bigrams(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.bigrams(text) TO tianxing_app;

-- The department of an employee, whoever may see them (the owner of a customer need not be
-- visible to the caller, e.g. after a supervisor assigned them).
-- PL/pgSQL, not SQL: a SQL function that cannot be inlined (this one is SECURITY DEFINER) is
-- parsed and planned again at every call from a trigger; PL/pgSQL keeps its plan for the session.
CREATE OR REPLACE FUNCTION cust.owner_department(p_employee uuid) RETURNS uuid
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  RETURN (SELECT e.department_id FROM org.employees e WHERE e.id = p_employee);
END
$$;
REVOKE ALL ON FUNCTION cust.owner_department(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.owner_department(uuid) TO tianxing_app;

-- department_id is the owner's; search_bigrams follow name and company_name; status moves
-- prospect -> active | inactive, active <-> inactive (never back to prospect).
CREATE OR REPLACE FUNCTION cust.customers_derive() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  NEW.department_id := cust.owner_department(NEW.owner_id);
  NEW.search_bigrams := cust.bigrams(lower(NEW.name || ' ' || coalesce(NEW.company_name, '')));
  IF TG_OP = 'UPDATE' AND NEW.status IS DISTINCT FROM OLD.status AND NEW.status = 'prospect' THEN
    PERFORM api.fail('TXVAL', 'status', format('cannot go back from %s to prospect', OLD.status));
  END IF;
  -- Only a customer with no open business becomes inactive (C4.3), whichever route asks. The
  -- contracts are asked only on that move: as one condition with the sub-select, the whole test
  -- was a query PostgreSQL planned anew for every customer written (issue 15 target 3).
  IF TG_OP = 'UPDATE' AND NEW.status = 'inactive' AND OLD.status IS DISTINCT FROM 'inactive' THEN
    IF EXISTS (SELECT FROM cust.contracts k WHERE k.customer_id = NEW.id AND k.status = 'open') THEN
      RAISE EXCEPTION 'the customer has open contracts: close them first' USING ERRCODE = 'TXCON';
    END IF;
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION cust.customers_derive() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.customers_derive() TO tianxing_app;

-- An owner who moves to another department takes their customers along (department_id stays
-- the owner's). Runs as the owner role: the admin who moves the employee may update customers
-- anyway, but department_id is not a column the runtime role may set.
CREATE OR REPLACE FUNCTION cust.follow_owner_department() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  UPDATE cust.customers c SET department_id = NEW.department_id
   WHERE c.owner_id = NEW.id AND c.department_id IS DISTINCT FROM NEW.department_id;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION cust.follow_owner_department() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.follow_owner_department() TO tianxing_app;

-- Relations between the caller and a customer ---------------------------------------------
-- "Related" (full PII, may write): the owner or a team member (with the role staff or
-- supervisor), or a supervisor of the customer's department. Admin may do the same without a
-- relation. The row-level-security policy of cust.customers spells the same condition out inline
-- (a function call per row would not be inlined: it reads cust.team); tests keep them in step.
-- The condition itself, p_in_team saying whether the caller is in the customer's team: plain SQL,
-- inlined where it is called, so that the team is probed (the argument, written once) only when
-- the roles and the owner leave the answer open.
CREATE OR REPLACE FUNCTION cust.related(p_owner uuid, p_department uuid, p_in_team boolean)
  RETURNS boolean
  LANGUAGE sql STABLE
  AS $$
  SELECT coalesce(((tx.has_role('staff') OR tx.has_role('supervisor'))
                   AND (p_owner = tx.user_id() OR p_in_team))
                  OR (tx.has_role('supervisor') AND p_department = tx.department_id()),
                  false)
$$;
REVOKE ALL ON FUNCTION cust.related(uuid,uuid,boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.related(uuid,uuid,boolean) TO tianxing_app;

CREATE OR REPLACE FUNCTION cust.is_related(p_owner uuid, p_department uuid, p_customer uuid)
  RETURNS boolean
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  RETURN cust.related(p_owner, p_department,
                      EXISTS (SELECT FROM cust.team t
                               WHERE t.customer_id = p_customer AND t.employee_id = tx.user_id()));
END
$$;
REVOKE ALL ON FUNCTION cust.is_related(uuid,uuid,uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.is_related(uuid,uuid,uuid) TO tianxing_app;

-- For the policies of cust.team, which cannot read cust.customers (its policy reads cust.team):
-- true when the caller may manage the customer's team (admin, the owner, the department's
-- supervisor). Reveals nothing but that.
CREATE OR REPLACE FUNCTION cust.manages_team(p_customer uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT tx.has_role('admin')
         OR coalesce((SELECT ((tx.has_role('staff') OR tx.has_role('supervisor'))
                              AND c.owner_id = tx.user_id())
                             OR (tx.has_role('supervisor') AND c.department_id = tx.department_id())
                        FROM cust.customers c WHERE c.id = p_customer), false)
$$;
REVOKE ALL ON FUNCTION cust.manages_team(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.manages_team(uuid) TO tianxing_app;

-- Duplicates (SECURITY DEFINER): the id of a customer, other than p_except, that holds this blind
-- index already -- visible to the caller or not (docs/customers.md: 409 with existing_id).
-- p_kind: credit_code, phone, email. Only for callers who may create customers.
CREATE OR REPLACE FUNCTION cust.find_duplicate(p_kind text, p_bidx bytea, p_except uuid) RETURNS uuid
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v uuid;
BEGIN
  -- One value, asked as cust.first_duplicate asks a body's (its rights and its probes): a credit
  -- code, or a phone or e-mail as a contact of one.
  SELECT d.customer_id INTO v
    FROM cust.first_duplicate(CASE WHEN p_kind = 'credit_code' THEN p_bidx END,
                              CASE p_kind
                                WHEN 'phone' THEN ARRAY[ROW(0, NULL, NULL, NULL, NULL, p_bidx, NULL,
                                                            NULL)::cust.contact_input]
                                WHEN 'email' THEN ARRAY[ROW(0, NULL, NULL, NULL, NULL, NULL, NULL,
                                                            p_bidx)::cust.contact_input]
                              END,
                              p_except) d;
  IF p_bidx IS NOT NULL AND p_kind IS DISTINCT FROM 'credit_code'
     AND p_kind IS DISTINCT FROM 'phone' AND p_kind IS DISTINCT FROM 'email' THEN
    RAISE EXCEPTION 'unknown kind %', p_kind USING ERRCODE = '22023';
  END IF;
  RETURN v;
END
$$;
REVOKE ALL ON FUNCTION cust.find_duplicate(text,bytea,uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.find_duplicate(text,bytea,uuid) TO tianxing_app;

-- The first duplicate among a body's identifying values, in the order the API reports them: the
-- credit code, then each contact in the body's order, its phone before its e-mail. One call and
-- one statement for all of them (issue 15 target 3: a create asked cust.find_duplicate five
-- times, each a definer call of its own; docs/performance.md). The one place of the look-ups'
-- rights and probes (cust.find_duplicate asks it for one value); no row when there is no
-- duplicate. The generic plan always: the custom plans PostgreSQL otherwise keeps choosing for it
-- (a NULL credit code folds a probe away) were planned anew at every call, 0.2 ms each.
CREATE OR REPLACE FUNCTION cust.first_duplicate(p_credit_code_bidx bytea,
                                                p_contacts cust.contact_input[], p_except uuid)
  RETURNS TABLE (kind text, seq int, bidx bytea, customer_id uuid)
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  SET plan_cache_mode = force_generic_plan
  AS $$
BEGIN
  IF tx.user_id() IS NULL
     OR NOT (tx.roles() && ARRAY['staff', 'supervisor', 'admin']) THEN
    RAISE EXCEPTION 'looking for duplicates needs the role staff, supervisor or admin'
      USING ERRCODE = '42501';
  END IF;
  RETURN QUERY
  SELECT p.kind, p.seq, p.bidx, p.found
    FROM (SELECT 0::bigint AS ord, 'credit_code'::text AS kind, NULL::int AS seq,
                 p_credit_code_bidx AS bidx,
                 (SELECT c.id FROM cust.customers c
                   WHERE c.credit_code_bidx = p_credit_code_bidx AND c.id IS DISTINCT FROM p_except
                   LIMIT 1) AS found
          UNION ALL
          SELECT 2 * k.n - 1, 'phone', k.seq, k.phone_bidx,
                 (SELECT t.customer_id FROM cust.contacts t
                   WHERE t.phone_bidx = k.phone_bidx AND t.customer_id IS DISTINCT FROM p_except
                   LIMIT 1)
            FROM unnest(p_contacts) WITH ORDINALITY
                   AS k(seq, id, name, position, phone_enc, phone_bidx, email_enc, email_bidx, n)
          UNION ALL
          SELECT 2 * k.n, 'email', k.seq, k.email_bidx,
                 (SELECT t.customer_id FROM cust.contacts t
                   WHERE t.email_bidx = k.email_bidx AND t.customer_id IS DISTINCT FROM p_except
                   LIMIT 1)
            FROM unnest(p_contacts) WITH ORDINALITY
                   AS k(seq, id, name, position, phone_enc, phone_bidx, email_enc, email_bidx, n)) p
   WHERE p.found IS NOT NULL
   ORDER BY p.ord
   LIMIT 1;
END
$$;
REVOKE ALL ON FUNCTION cust.first_duplicate(bytea,cust.contact_input[],uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.first_duplicate(bytea,cust.contact_input[],uuid) TO tianxing_app;

-- Helpers of the API -------------------------------------------------------------------------

-- Bytes given as a JSON string "\x<hex>" (absent or null: NULL, TXVAL when required), of
-- p_min..p_max bytes.
CREATE OR REPLACE FUNCTION api.body_bytea(p_body jsonb, p_field text, p_required boolean, p_min int,
                               p_max int)
  RETURNS bytea
  LANGUAGE plpgsql IMMUTABLE
  AS $$
DECLARE
  v jsonb := p_body -> p_field;
  b bytea;
BEGIN
  IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
    IF p_required THEN
      PERFORM api.fail('TXVAL', p_field, 'is required');
    END IF;
    RETURN NULL;
  END IF;
  IF jsonb_typeof(v) <> 'string' OR (v #>> '{}') !~ '^\\x([0-9a-fA-F]{2})+$' THEN
    PERFORM api.fail('TXVAL', p_field, 'must be bytes written "\x" and hex digits');
  END IF;
  b := decode(substr(v #>> '{}', 3), 'hex');
  IF octet_length(b) NOT BETWEEN p_min AND p_max THEN
    PERFORM api.fail('TXVAL', p_field,
                     CASE WHEN p_min = p_max THEN format('must be %s bytes', p_min)
                          ELSE format('must be %s to %s bytes', p_min, p_max) END);
  END IF;
  RETURN b;
END
$$;
REVOKE ALL ON FUNCTION api.body_bytea(jsonb,text,boolean,integer,integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.body_bytea(jsonb,text,boolean,integer,integer) TO tianxing_app;

-- Bytes as the API writes them: "\x<hex>".
CREATE OR REPLACE FUNCTION api.hex(p bytea) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT '\x' || encode(p, 'hex') $$;
REVOKE ALL ON FUNCTION api.hex(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.hex(bytea) TO tianxing_app;

-- Opaque list cursors: base64url (no padding) of a JSON array whose first element names the list
-- (and sort order), the others the sort key of the last item of the previous page.
CREATE OR REPLACE FUNCTION cust.cursor_encode(p jsonb) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT translate(encode(convert_to(p::text, 'UTF8'), 'base64'), E'+/=\n', '-_') $$;
REVOKE ALL ON FUNCTION cust.cursor_encode(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.cursor_encode(jsonb) TO tianxing_app;

-- The cursor's elements after the list name; TXVAL (cursor) when it is not a cursor of p_list
-- with p_count key elements.
CREATE OR REPLACE FUNCTION cust.cursor_decode(p_cursor text, p_list text, p_count int) RETURNS jsonb
  LANGUAGE plpgsql IMMUTABLE
  AS $$
DECLARE
  v jsonb;
BEGIN
  BEGIN
    IF length(p_cursor) > 4000 OR p_cursor !~ '^[A-Za-z0-9_-]+$' THEN
      RAISE EXCEPTION 'bad cursor';
    END IF;
    v := convert_from(decode(translate(p_cursor, '-_', '+/')
                             || repeat('=', (4 - length(p_cursor) % 4) % 4), 'base64'),
                      'UTF8')::jsonb;
  EXCEPTION WHEN OTHERS THEN
    v := NULL;
  END;
  IF v IS NULL OR jsonb_typeof(v) <> 'array' OR jsonb_array_length(v) <> p_count + 1
     OR v ->> 0 IS DISTINCT FROM p_list
     OR EXISTS (SELECT FROM jsonb_array_elements(v) e WHERE jsonb_typeof(e) <> 'string') THEN
    PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
  END IF;
  RETURN v - 0;
END
$$;
REVOKE ALL ON FUNCTION cust.cursor_decode(text,text,integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.cursor_decode(text,text,integer) TO tianxing_app;

-- A cursor's timestamp (UTC, microseconds: exact) and its reading back.
CREATE OR REPLACE FUNCTION cust.cursor_ts(p timestamptz) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT to_char(p AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;
REVOKE ALL ON FUNCTION cust.cursor_ts(timestamp with time zone) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.cursor_ts(timestamp with time zone) TO tianxing_app;

CREATE OR REPLACE FUNCTION cust.cursor_parse_ts(p text) RETURNS timestamptz
  LANGUAGE plpgsql IMMUTABLE
  AS $$
BEGIN
  IF p !~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$' THEN
    PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
  END IF;
  RETURN (left(p, 26) || '+00')::timestamptz;
EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
  PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
END
$$;
REVOKE ALL ON FUNCTION cust.cursor_parse_ts(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.cursor_parse_ts(text) TO tianxing_app;

CREATE OR REPLACE FUNCTION cust.cursor_parse_uuid(p text) RETURNS uuid
  LANGUAGE plpgsql IMMUTABLE
  AS $$
BEGIN
  IF p !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
  END IF;
  RETURN p::uuid;
END
$$;
REVOKE ALL ON FUNCTION cust.cursor_parse_uuid(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.cursor_parse_uuid(text) TO tianxing_app;

-- The review period in force today (C4.1), 180 days when the parameter has no value.
CREATE OR REPLACE FUNCTION cust.review_period() RETURNS interval
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  RETURN make_interval(days => coalesce((org.policy_value('customer_review_period_days'))::int, 180));
END
$$;
REVOKE ALL ON FUNCTION cust.review_period() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.review_period() TO tianxing_app;

-- Due for review: not verified within the review period; never verified counts from created_at.
CREATE OR REPLACE FUNCTION cust.is_stale(c cust.customers, p_period interval) RETURNS boolean
  LANGUAGE sql STABLE
  AS $$ SELECT coalesce(c.last_verified_at, c.created_at) < now() - p_period $$;
REVOKE ALL ON FUNCTION cust.is_stale(cust.customers,interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.is_stale(cust.customers,interval) TO tianxing_app;

-- Whether a required field (customer_required_fields) is filled in, given whether the customer
-- has a contact with a phone or an e-mail: the one statement of the rules, for the document's
-- single plan (cust.completeness_of) as for the checks below. Plain SQL without a sub-select, so
-- that PostgreSQL inlines it into the query that calls it. Unknown names are never present.
CREATE OR REPLACE FUNCTION cust.field_present(c cust.customers, p_field text, p_has_contacts boolean)
  RETURNS boolean
  LANGUAGE sql STABLE
  AS $$
  SELECT CASE p_field
    WHEN 'contacts' THEN p_has_contacts
    WHEN 'name' THEN coalesce(btrim(c.name), '') <> ''
    WHEN 'company_name' THEN coalesce(btrim(c.company_name), '') <> ''
    WHEN 'business_scope' THEN coalesce(btrim(c.business_scope), '') <> ''
    WHEN 'source' THEN coalesce(btrim(c.source), '') <> ''
    WHEN 'needs' THEN coalesce(btrim(c.needs), '') <> ''
    WHEN 'concerns' THEN coalesce(btrim(c.concerns), '') <> ''
    WHEN 'address' THEN coalesce(octet_length(c.address_enc), 0) > 0
    WHEN 'credit_code' THEN coalesce(octet_length(c.credit_code_enc), 0) > 0
    WHEN 'tags' THEN cardinality(c.tags) > 0
    WHEN 'status' THEN c.status IS NOT NULL
    WHEN 'owner_id' THEN c.owner_id IS NOT NULL
    ELSE false
  END
$$;
REVOKE ALL ON FUNCTION cust.field_present(cust.customers,text,boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.field_present(cust.customers,text,boolean) TO tianxing_app;

-- The contacts check is a statement of its own: inside one CASE with the other fields, the
-- plan depends on p_field, so PostgreSQL keeps planning it anew per call (a custom plan is
-- always cheaper than the generic one there), row-level-security sub-plans included.
CREATE OR REPLACE FUNCTION cust.field_present(c cust.customers, p_field text) RETURNS boolean
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  IF p_field = 'contacts' THEN
    RETURN EXISTS (SELECT FROM cust.contacts k
                    WHERE k.customer_id = c.id
                      AND (k.phone_enc IS NOT NULL OR k.email_enc IS NOT NULL));
  END IF;
  RETURN cust.field_present(c, p_field, NULL);
END
$$;
REVOKE ALL ON FUNCTION cust.field_present(cust.customers,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.field_present(cust.customers,text) TO tianxing_app;

-- {score, missing, unverified} of a customer, the required fields (p_required, the parameter's
-- value: anything but an array requires nothing) and the review period given: score = 100 *
-- present / required, rounded down (100 when nothing is required); missing in the parameter's
-- order; unverified = ["last_verified_at"] when never verified or not within the review period.
-- One row, set-based and inlinable (a set-returning SQL function): the customer document
-- computes it inside its own plan.
CREATE OR REPLACE FUNCTION cust.completeness_of(c cust.customers, p_period interval, p_required jsonb,
                                                p_has_contacts boolean)
  RETURNS TABLE (completeness jsonb)
  LANGUAGE sql STABLE
  AS $$
  SELECT jsonb_build_object(
    'score', CASE WHEN count(*) = 0 THEN 100
                  ELSE (100 * (count(*) - count(*) FILTER (WHERE NOT f.present))) / count(*) END,
    'missing', coalesce(jsonb_agg(f.name ORDER BY f.i) FILTER (WHERE NOT f.present), '[]'::jsonb),
    'unverified', CASE WHEN c.last_verified_at IS NULL OR c.last_verified_at < now() - p_period
                       THEN '["last_verified_at"]'::jsonb ELSE '[]'::jsonb END)
    FROM (SELECT e #>> '{}' AS name, i, cust.field_present(c, e #>> '{}', p_has_contacts) AS present
            FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p_required) = 'array' THEN p_required
                                           ELSE '[]'::jsonb END) WITH ORDINALITY AS a(e, i)
           WHERE jsonb_typeof(e) = 'string') f
$$;
REVOKE ALL ON FUNCTION cust.completeness_of(cust.customers,interval,jsonb,boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.completeness_of(cust.customers,interval,jsonb,boolean) TO tianxing_app;

-- The completeness with the review period given (contracts, GET .../completeness; the one-argument
-- form below reads the period).
CREATE OR REPLACE FUNCTION cust.completeness(c cust.customers, p_period interval) RETURNS jsonb
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  RETURN (SELECT m.completeness
            FROM cust.completeness_of(c, p_period, org.policy_value('customer_required_fields'),
                                      EXISTS (SELECT FROM cust.contacts k
                                               WHERE k.customer_id = c.id
                                                 AND (k.phone_enc IS NOT NULL
                                                      OR k.email_enc IS NOT NULL))) m);
END
$$;
REVOKE ALL ON FUNCTION cust.completeness(cust.customers,interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.completeness(cust.customers,interval) TO tianxing_app;

-- {score, missing, unverified} per customer_required_fields in force today (cust.completeness_of).
CREATE OR REPLACE FUNCTION cust.completeness(c cust.customers) RETURNS jsonb
  LANGUAGE sql STABLE
  AS $$ SELECT cust.completeness(c, cust.review_period()) $$;
REVOKE ALL ON FUNCTION cust.completeness(cust.customers) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.completeness(cust.customers) TO tianxing_app;

-- What the caller sees of a visible customer's PII, p_related being cust.is_related's answer:
-- full (admin, related), masked (auditor), none (hr, risk_officer); the most open of the
-- caller's roles wins. Plain SQL: inlined into the document's plan.
CREATE OR REPLACE FUNCTION cust.access_level(p_related boolean) RETURNS text
  LANGUAGE sql STABLE
  AS $$
  SELECT CASE WHEN tx.has_role('admin') OR p_related THEN 'full'
              WHEN tx.has_role('auditor') THEN 'masked'
              ELSE 'none' END
$$;
REVOKE ALL ON FUNCTION cust.access_level(boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.access_level(boolean) TO tianxing_app;

CREATE OR REPLACE FUNCTION cust.pii_access(c cust.customers) RETURNS text
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  RETURN cust.access_level(cust.is_related(c.owner_id, c.department_id, c.id));
END
$$;
REVOKE ALL ON FUNCTION cust.pii_access(cust.customers) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.pii_access(cust.customers) TO tianxing_app;

-- A list item: no PII, no ciphertext.
CREATE OR REPLACE FUNCTION cust.customer_item(c cust.customers, p_period interval) RETURNS jsonb
  LANGUAGE sql STABLE
  AS $$
  SELECT jsonb_build_object(
    'id', c.id, 'name', c.name, 'company_name', c.company_name, 'status', c.status,
    'tags', to_jsonb(c.tags), 'source', c.source, 'owner_id', c.owner_id,
    'department_id', c.department_id, 'last_verified_at', api.ts(c.last_verified_at),
    'stale', cust.is_stale(c, p_period),
    'review_due_at', api.ts(coalesce(c.last_verified_at, c.created_at) + p_period),
    'version', c.version, 'created_at', api.ts(c.created_at), 'updated_at', api.ts(c.updated_at))
$$;
REVOKE ALL ON FUNCTION cust.customer_item(cust.customers,interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.customer_item(cust.customers,interval) TO tianxing_app;

-- The customer document assembled from its parts: the row, the review period, the caller's
-- pii_access, the completeness, the contacts' list (cust.contact_item, in seq order) and the data
-- key ({key_id, wrapped}). The one definition of the document's shape, for cust.customer_doc (the
-- parts read under the caller's policies) and cust.created_doc (the parts a create has in hand).
-- Plain SQL without a sub-select, so that PostgreSQL inlines it into the query that calls it: the
-- read stays one plan, and the data key's sub-select is evaluated only when PII is shown.
CREATE OR REPLACE FUNCTION cust.doc_of(c cust.customers, p_period interval, p_access text,
                                       p_completeness jsonb, p_contacts jsonb, p_dek jsonb)
  RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT (cust.customer_item(c, p_period)
          || jsonb_build_object(
               'business_scope', c.business_scope, 'needs', c.needs, 'concerns', c.concerns,
               'pii_access', p_access, 'completeness', p_completeness, 'contacts', p_contacts)
          || CASE WHEN p_access <> 'none' THEN jsonb_build_object(
                 'address_enc', api.hex(c.address_enc), 'credit_code_enc', api.hex(c.credit_code_enc),
                 'dek', p_dek)
                  ELSE '{}'::jsonb END)::json
$$;
REVOKE ALL ON FUNCTION cust.doc_of(cust.customers,interval,text,jsonb,jsonb,jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.doc_of(cust.customers,interval,text,jsonb,jsonb,jsonb) TO tianxing_app;

-- One contact of the document's list: the ciphertexts only when the caller sees PII.
CREATE OR REPLACE FUNCTION cust.contact_item(p_id uuid, p_name text, p_position text,
                                             p_phone_enc bytea, p_email_enc bytea, p_access text)
  RETURNS jsonb
  LANGUAGE sql STABLE
  AS $$
  SELECT jsonb_build_object('id', p_id, 'name', p_name, 'position', p_position)
         || CASE WHEN p_access <> 'none' THEN jsonb_build_object(
                   'phone_enc', api.hex(p_phone_enc), 'email_enc', api.hex(p_email_enc))
                 ELSE '{}'::jsonb END
$$;
REVOKE ALL ON FUNCTION cust.contact_item(uuid,text,text,bytea,bytea,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.contact_item(uuid,text,text,bytea,bytea,text) TO tianxing_app;

-- The customer document (GET /v1/customers/{id}) and the caller's pii_access, in ONE query
-- (issue 15): a set-returning SQL function, so that PostgreSQL inlines it into its caller's
-- statement and the whole read -- the row, the caller's relation (cust.related, the team probed
-- only when it decides), the two policy values, the contacts with their
-- row-level-security check once, the completeness over them, the data key -- is one plan, kept
-- per connection by the PL/pgSQL caller. Before, each part was a PL/pgSQL call with statements
-- and policy sub-plans of its own: about 87 % of a read's database time. Everything is read as
-- the caller, under the same policies. The JSON is the same to the byte: jsonb built the same
-- way, cast to json once (cust.doc_of).
CREATE OR REPLACE FUNCTION cust.customer_doc(c cust.customers)
  RETURNS TABLE (doc json, pii_access text)
  LANGUAGE sql STABLE
  AS $$
  SELECT cust.doc_of(c, p.period, a.access, m.completeness, k.list,
                     (SELECT jsonb_build_object('key_id', d.key_id, 'wrapped', api.hex(d.wrapped))
                        FROM cust.data_keys d WHERE d.customer_id = c.id)),
         a.access
    FROM (SELECT make_interval(days => coalesce((org.policy_value('customer_review_period_days'))::int,
                                                180)) AS period,
                 org.policy_value('customer_required_fields') AS required
           OFFSET 0) p
   CROSS JOIN LATERAL (
     SELECT cust.access_level(cust.related(
              c.owner_id, c.department_id,
              EXISTS (SELECT FROM cust.team t
                       WHERE t.customer_id = c.id AND t.employee_id = tx.user_id()))) AS access
     OFFSET 0) a
   CROSS JOIN LATERAL (
     SELECT coalesce(jsonb_agg(cust.contact_item(k.id, k.name, k.position, k.phone_enc, k.email_enc,
                                                 a.access)
                               ORDER BY k.seq), '[]'::jsonb) AS list,
            coalesce(bool_or(k.phone_enc IS NOT NULL OR k.email_enc IS NOT NULL), false) AS has_contacts
       FROM cust.contacts k WHERE k.customer_id = c.id) k
   CROSS JOIN LATERAL cust.completeness_of(c, p.period, p.required, k.has_contacts) m
$$;
REVOKE ALL ON FUNCTION cust.customer_doc(cust.customers) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.customer_doc(cust.customers) TO tianxing_app;

-- The document of a customer row in hand (create, update, merge: the row just written).
CREATE OR REPLACE FUNCTION cust.customer_json(c cust.customers) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  RETURN (SELECT d.doc FROM cust.customer_doc(c) d);
END
$$;
REVOKE ALL ON FUNCTION cust.customer_json(cust.customers) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.customer_json(cust.customers) TO tianxing_app;

-- The document of a customer just created, from the parts the create has in hand: the row its
-- INSERT returned, the contacts and the data key it wrote (no trigger changes them: the same
-- values a read finds). The same document as cust.customer_doc's, to the byte (both assemble it
-- with cust.doc_of; sql/tests/customers.sql compares the answer with a read), without reading
-- the contacts and the data key back under their policies: 110 µs a call instead of 195 (issue
-- 15 target 3, docs/performance.md, tenth session). The parts are separate steps, not one
-- statement joining them: the contacts' list and the completeness are queries, the rest are
-- expressions.
CREATE OR REPLACE FUNCTION cust.created_doc(c cust.customers, p_contacts cust.contact_input[],
                                            p_key_id text, p_wrapped bytea)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_period interval := cust.review_period();
  v_access text;
  v_list jsonb;
  v_has_contacts boolean;
BEGIN
  v_access := cust.access_level(cust.is_related(c.owner_id, c.department_id, c.id));
  SELECT coalesce(jsonb_agg(cust.contact_item(k.id, k.name, k.position, k.phone_enc, k.email_enc,
                                              v_access)
                            ORDER BY k.seq), '[]'::jsonb),
         coalesce(bool_or(k.phone_enc IS NOT NULL OR k.email_enc IS NOT NULL), false)
    INTO v_list, v_has_contacts
    FROM unnest(p_contacts) k;
  RETURN cust.doc_of(c, v_period, v_access,
                     (SELECT m.completeness
                        FROM cust.completeness_of(c, v_period,
                                                  org.policy_value('customer_required_fields'),
                                                  v_has_contacts) m),
                     v_list,
                     jsonb_build_object('key_id', p_key_id, 'wrapped', api.hex(p_wrapped)));
END
$$;
REVOKE ALL ON FUNCTION cust.created_doc(cust.customers,cust.contact_input[],text,bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.created_doc(cust.customers,cust.contact_input[],text,bytea) TO tianxing_app;

-- The fields of a customer body except id, contacts and dek (absent fields come back NULL:
-- callers look at `p_body ? field`).
CREATE OR REPLACE FUNCTION cust.customer_fields(p_body jsonb, p_create boolean)
  RETURNS TABLE (name text, company_name text, business_scope text, status text, tags text[],
                 source text, needs text, concerns text, owner_id uuid, address_enc bytea,
                 credit_code_enc bytea, credit_code_bidx bytea, verified boolean)
  LANGUAGE plpgsql STABLE
  AS $$
#variable_conflict use_variable
DECLARE
  bad text;
  f text;
BEGIN
  name := api.body_text(p_body, 'name', p_create, 100);
  company_name := api.body_text(p_body, 'company_name', false, 200);
  business_scope := api.body_text(p_body, 'business_scope', false, 2000);
  status := api.body_text(p_body, 'status', false, 20);
  IF status IS NOT NULL AND status NOT IN ('prospect', 'active', 'inactive') THEN
    PERFORM api.fail('TXVAL', 'status', 'must be one of prospect, active, inactive');
  END IF;
  tags := api.body_text_array(p_body, 'tags', false);
  IF cardinality(tags) > 20 THEN
    PERFORM api.fail('TXVAL', 'tags', 'at most 20 tags');
  END IF;
  SELECT t INTO bad FROM unnest(tags) t WHERE btrim(t) = '' OR length(t) > 50 LIMIT 1;
  IF FOUND THEN
    PERFORM api.fail('TXVAL', 'tags', 'each tag must be 1 to 50 characters');
  END IF;
  source := api.body_text(p_body, 'source', false, 200);
  needs := api.body_text(p_body, 'needs', false, 2000);
  concerns := api.body_text(p_body, 'concerns', false, 2000);
  owner_id := api.body_uuid(p_body, 'owner_id', false);
  address_enc := api.body_bytea(p_body, 'address_enc', false, 30, 2029);
  credit_code_enc := api.body_bytea(p_body, 'credit_code_enc', false, 30, 47);
  credit_code_bidx := api.body_bytea(p_body, 'credit_code_bidx', false, 32, 32);
  IF (credit_code_enc IS NULL) <> (credit_code_bidx IS NULL)
     OR (p_body ? 'credit_code_enc') <> (p_body ? 'credit_code_bidx') THEN
    PERFORM api.fail('TXVAL', CASE WHEN credit_code_enc IS NULL THEN 'credit_code_enc'
                                   ELSE 'credit_code_bidx' END,
                     'credit_code_enc and credit_code_bidx go together');
  END IF;
  IF p_body ? 'verified' THEN
    IF jsonb_typeof(p_body -> 'verified') <> 'boolean' THEN
      PERFORM api.fail('TXVAL', 'verified', 'must be true or false');
    END IF;
    verified := (p_body -> 'verified')::boolean;
  END IF;
  IF NOT p_create THEN
    FOREACH f IN ARRAY ARRAY['name', 'status', 'owner_id', 'tags'] LOOP
      IF p_body ? f AND jsonb_typeof(p_body -> f) = 'null' THEN
        PERFORM api.fail('TXVAL', f, 'must not be null');
      END IF;
    END LOOP;
  END IF;
  RETURN NEXT;
END
$$;
REVOKE ALL ON FUNCTION cust.customer_fields(jsonb,boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.customer_fields(jsonb,boolean) TO tianxing_app;

-- The contacts array of a body: errors name the contact, contacts[<index>].<field>.
-- One exception block around the loop, not one per contact (each is a subtransaction), and the
-- repeats found in arrays by expressions PL/pgSQL evaluates without the executor, not by a query
-- per check: a third of its time (issue 15 target 3, docs/performance.md, tenth session). The
-- handler still knows which contact failed: a block's variables keep their values when it fails.
CREATE OR REPLACE FUNCTION cust.read_contacts(p_contacts jsonb) RETURNS cust.contact_input[]
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_out cust.contact_input[] := '{}';
  v_ids uuid[] := '{}';
  v_phones bytea[] := '{}';
  v_emails bytea[] := '{}';
  k cust.contact_input;
  e jsonb;
  i int := -1;
  v_field text;
  v_msg text;
BEGIN
  IF p_contacts IS NULL OR jsonb_typeof(p_contacts) <> 'array' THEN
    PERFORM api.fail('TXVAL', 'contacts', 'must be an array');
  END IF;
  IF jsonb_array_length(p_contacts) > 20 THEN
    PERFORM api.fail('TXVAL', 'contacts', 'at most 20 contacts');
  END IF;
  BEGIN
    FOR n IN 0 .. jsonb_array_length(p_contacts) - 1 LOOP
      i := n;
      e := p_contacts -> n;
      IF jsonb_typeof(e) <> 'object' THEN
        RAISE EXCEPTION 'must be an object' USING ERRCODE = 'TXVAL';
      END IF;
      PERFORM api.body_keys(e, ARRAY['id', 'name', 'position', 'phone_enc', 'phone_bidx',
                                     'email_enc', 'email_bidx']);
      k := ROW(i, api.body_uuid(e, 'id', true), api.body_text(e, 'name', false, 100),
               api.body_text(e, 'position', false, 100),
               api.body_bytea(e, 'phone_enc', false, 30, 45),
               api.body_bytea(e, 'phone_bidx', false, 32, 32),
               api.body_bytea(e, 'email_enc', false, 30, 283),
               api.body_bytea(e, 'email_bidx', false, 32, 32));
      IF (k.phone_enc IS NULL) <> (k.phone_bidx IS NULL) THEN
        PERFORM api.fail('TXVAL', CASE WHEN k.phone_enc IS NULL THEN 'phone_enc' ELSE 'phone_bidx' END,
                         'phone_enc and phone_bidx go together');
      END IF;
      IF (k.email_enc IS NULL) <> (k.email_bidx IS NULL) THEN
        PERFORM api.fail('TXVAL', CASE WHEN k.email_enc IS NULL THEN 'email_enc' ELSE 'email_bidx' END,
                         'email_enc and email_bidx go together');
      END IF;
      IF k.name IS NULL AND k.phone_enc IS NULL AND k.email_enc IS NULL THEN
        RAISE EXCEPTION 'needs a name, a phone or an e-mail' USING ERRCODE = 'TXVAL';
      END IF;
      IF k.id = ANY (v_ids) THEN
        PERFORM api.fail('TXVAL', 'id', 'is repeated');
      END IF;
      IF k.phone_bidx = ANY (v_phones) THEN
        PERFORM api.fail('TXVAL', 'phone', 'is repeated');
      END IF;
      IF k.email_bidx = ANY (v_emails) THEN
        PERFORM api.fail('TXVAL', 'email', 'is repeated');
      END IF;
      v_out := v_out || k;
      v_ids := v_ids || k.id;
      v_phones := v_phones || k.phone_bidx;
      v_emails := v_emails || k.email_bidx;
    END LOOP;
  EXCEPTION WHEN SQLSTATE 'TXVAL' THEN
    GET STACKED DIAGNOSTICS v_field = COLUMN_NAME, v_msg = MESSAGE_TEXT;
    IF v_field <> '' THEN
      v_msg := substr(v_msg, length(v_field) + 3);
    END IF;
    PERFORM api.fail('TXVAL', format('contacts[%s]', i)
                              || CASE WHEN v_field <> '' THEN '.' || v_field ELSE '' END,
                     v_msg);
  END;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION cust.read_contacts(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.read_contacts(jsonb) TO tianxing_app;

-- Who to ask about a duplicate the caller cannot see (issue 10 item 7): the department that owns
-- the customer holding p_bidx, as {id, name}, or JSON null when it has none (then an
-- administrator). SECURITY DEFINER, like cust.find_duplicate: the caller must know the
-- identifying value itself, and learns a department, never the customer.
CREATE OR REPLACE FUNCTION cust.duplicate_department(p_kind text, p_bidx bytea, p_except uuid)
  RETURNS jsonb
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v uuid := cust.find_duplicate(p_kind, p_bidx, p_except);
  v_out jsonb;
BEGIN
  SELECT jsonb_build_object('id', d.id, 'name', d.name) INTO v_out
    FROM cust.customers c JOIN org.departments d ON d.id = c.department_id
   WHERE c.id = v;
  RETURN coalesce(v_out, 'null'::jsonb);
END
$$;
REVOKE ALL ON FUNCTION cust.duplicate_department(text,bytea,uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.duplicate_department(text,bytea,uuid) TO tianxing_app;

-- TXDUP for the first blind index that another customer (than p_except) holds already: DETAIL
-- {"existing_id": id, "errors": [{field, code: "duplicate", message}]} (api.field_error) when
-- the caller can read that customer. Otherwise (issue 10 item 7: the id told staff of another
-- department that a customer they may not see exists, and which) no id: DETAIL
-- {"owner_department": {id, name} | null, "errors": [...]} and the message says whom to ask.
CREATE OR REPLACE FUNCTION cust.check_duplicates(p_credit_code_bidx bytea, p_contacts cust.contact_input[],
                                      p_except uuid)
  RETURNS void
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v uuid;
  v_field text;
  v_kind text;
  v_bidx bytea;
  v_dept jsonb;
  v_errors jsonb;
BEGIN
  SELECT d.kind, d.bidx, d.customer_id,
         CASE d.kind WHEN 'credit_code' THEN 'credit_code'
                     ELSE format('contacts[%s].%s', d.seq, d.kind) END
    INTO v_kind, v_bidx, v, v_field
    FROM cust.first_duplicate(p_credit_code_bidx, p_contacts, p_except) d;
  IF v IS NULL THEN
    RETURN;
  END IF;
  v_errors := jsonb_build_array(api.field_error(v_field, 'duplicate', v_field || ': duplicate'));
  -- Read under the caller's row-level security: visible means the id tells them nothing new.
  IF EXISTS (SELECT FROM cust.customers c WHERE c.id = v) THEN
    RAISE EXCEPTION USING ERRCODE = 'TXDUP',
      MESSAGE = 'A record with the same identifying data exists.',
      DETAIL = jsonb_build_object('existing_id', v, 'errors', v_errors)::text,
      COLUMN = v_field;
  END IF;
  v_dept := cust.duplicate_department(v_kind, v_bidx, p_except);
  RAISE EXCEPTION USING ERRCODE = 'TXDUP',
    MESSAGE = CASE WHEN v_dept = 'null'::jsonb
      THEN 'A record with the same identifying data exists, which you cannot see: ask an administrator.'
      ELSE format('A record with the same identifying data exists in department %s, which you cannot see: ask that department''s supervisor.',
                  v_dept ->> 'name') END,
    DETAIL = jsonb_build_object('owner_department', v_dept, 'errors', v_errors)::text,
    COLUMN = v_field;
END
$$;
REVOKE ALL ON FUNCTION cust.check_duplicates(bytea,cust.contact_input[],uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.check_duplicates(bytea,cust.contact_input[],uuid) TO tianxing_app;

-- The owner of a customer: an active employee holding the role staff or supervisor, whom the
-- caller can see (so a supervisor assigns within their department).
CREATE OR REPLACE FUNCTION cust.check_owner(p_owner uuid) RETURNS void
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM org.employees e
                  WHERE e.id = p_owner AND e.active
                    AND e.roles && ARRAY['staff', 'supervisor']) THEN
    PERFORM api.fail('TXVAL', 'owner_id',
                     'must be an active employee with the role staff or supervisor');
  END IF;
END
$$;
REVOKE ALL ON FUNCTION cust.check_owner(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.check_owner(uuid) TO tianxing_app;

-- Only a supervisor or an admin assigns an owner: on create anyone but the caller
-- (p_reassign false), on update any new owner, the caller included (p_reassign true: a team
-- member does not take a customer over).
CREATE OR REPLACE FUNCTION cust.check_owner_change(p_owner uuid, p_reassign boolean) RETURNS void
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  IF (p_reassign OR p_owner IS DISTINCT FROM tx.user_id())
     AND NOT (tx.has_role('supervisor') OR tx.has_role('admin')) THEN
    RAISE EXCEPTION 'owner_id: only a supervisor or an administrator assigns another owner'
      USING ERRCODE = '42501', COLUMN = 'owner_id';
  END IF;
  -- The caller as the owner with the role staff or supervisor (every create of their own): the
  -- look-up would find them, since tx.begin_request refused an inactive employee and kept only
  -- roles the employee holds, and an employee always sees their own row (issue 15 target 3).
  IF p_owner = tx.user_id() AND (tx.has_role('staff') OR tx.has_role('supervisor')) THEN
    RETURN;
  END IF;
  PERFORM cust.check_owner(p_owner);
END
$$;
REVOKE ALL ON FUNCTION cust.check_owner_change(uuid,boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.check_owner_change(uuid,boolean) TO tianxing_app;

-- PL/pgSQL, not SQL: called by PERFORM, a SQL function's INSERT was parsed and planned anew at
-- every create (about 0.7 ms of its 6, issue 15 target 3); PL/pgSQL keeps the plan.
CREATE OR REPLACE FUNCTION cust.insert_contacts(p_customer uuid, p_contacts cust.contact_input[])
  RETURNS void
  LANGUAGE plpgsql
  AS $$
BEGIN
  INSERT INTO cust.contacts (id, customer_id, seq, name, position, phone_enc, phone_bidx,
                             email_enc, email_bidx)
  SELECT k.id, p_customer, k.seq, k.name, k.position, k.phone_enc, k.phone_bidx, k.email_enc,
         k.email_bidx
    FROM unnest(p_contacts) k;
END
$$;
REVOKE ALL ON FUNCTION cust.insert_contacts(uuid,cust.contact_input[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.insert_contacts(uuid,cust.contact_input[]) TO tianxing_app;

-- Every write of a customer's record (update, contracts, follow-ups, consents, deactivation,
-- team, merge) goes through cust.writable, so a disposed (0007) or merged customer is refused
-- there with TXCON before anything else is looked at: otherwise a contract for a disposed
-- customer would be refused as incomplete (its credit code is gone) rather than as disposed.
-- 0006's body plus those two checks.
CREATE OR REPLACE FUNCTION cust.writable(p_id uuid) RETURNS cust.customers
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE c cust.customers;
BEGIN
  PERFORM api.require_user();
  SELECT * INTO c FROM cust.customers x WHERE x.id = p_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such customer' USING ERRCODE = 'P0002';
  END IF;
  IF NOT (tx.has_role('admin') OR cust.is_related(c.owner_id, c.department_id, c.id)) THEN
    RAISE EXCEPTION 'only the owner, the team, the department''s supervisor or an administrator may change this customer'
      USING ERRCODE = '42501';
  END IF;
  IF c.status = 'disposed' THEN
    RAISE EXCEPTION 'the customer has been disposed of (C4.3) and can no longer change'
      USING ERRCODE = 'TXCON';
  END IF;
  IF c.status = 'merged' THEN
    RAISE EXCEPTION 'the customer was merged into %: change that record instead', c.merged_into
      USING ERRCODE = 'TXCON';
  END IF;
  RETURN c;
END
$$;
REVOKE ALL ON FUNCTION cust.writable(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.writable(uuid) TO tianxing_app;

-- The data key of a customer the caller may change, for sealing new values in C (PATCH). Unlike
-- api.customer_get it reads no PII and so logs no PII read. P0002 when invisible, 42501 when
-- visible but not writable; NULL when the key is gone (disposed).
CREATE OR REPLACE FUNCTION api.customer_dek(p_id uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE c cust.customers;
BEGIN
  c := cust.writable(p_id);
  RETURN (SELECT json_build_object('key_id', d.key_id, 'wrapped', api.hex(d.wrapped))
            FROM cust.data_keys d WHERE d.customer_id = c.id);
END
$$;
REVOKE ALL ON FUNCTION api.customer_dek(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.customer_dek(uuid) TO tianxing_app;

-- API: customers -----------------------------------------------------------------------------

-- POST /v1/customers (staff, supervisor, admin). p = {id, name, company_name, business_scope,
-- status, tags, source, needs, concerns, owner_id, address_enc, credit_code_enc,
-- credit_code_bidx, contacts: [{id, name, position, phone_enc, phone_bidx, email_enc,
-- email_bidx}], dek: {key_id, wrapped}, verified}. Returns the customer as customer_get does
-- (without logging a PII read: the caller sent it).
CREATE OR REPLACE FUNCTION api.customer_create(p jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  v record;
  v_id uuid;
  v_owner uuid;
  v_contacts cust.contact_input[] := '{}';
  v_key_id text;
  v_wrapped bytea;
  v_field text;
  v_msg text;
  c cust.customers;
BEGIN
  PERFORM api.require_role('staff', 'supervisor', 'admin');
  PERFORM api.body_keys(p, ARRAY['id', 'name', 'company_name', 'business_scope', 'status', 'tags',
                                 'source', 'needs', 'concerns', 'owner_id', 'address_enc',
                                 'credit_code_enc', 'credit_code_bidx', 'contacts', 'dek',
                                 'verified']);
  v_id := api.body_uuid(p, 'id', true);
  SELECT * INTO v FROM cust.customer_fields(p, true);
  IF p ? 'contacts' AND jsonb_typeof(p -> 'contacts') <> 'null' THEN
    v_contacts := cust.read_contacts(p -> 'contacts');
  END IF;
  IF p -> 'dek' IS NULL OR jsonb_typeof(p -> 'dek') = 'null' THEN
    PERFORM api.fail('TXVAL', 'dek', 'is required');
  END IF;
  BEGIN
    IF jsonb_typeof(p -> 'dek') <> 'object' THEN
      PERFORM api.fail('TXVAL', NULL, 'must be an object');
    END IF;
    PERFORM api.body_keys(p -> 'dek', ARRAY['key_id', 'wrapped']);
    v_key_id := api.body_text(p -> 'dek', 'key_id', true, 64);
    IF v_key_id !~ '^[A-Za-z0-9._:-]{1,64}$' THEN
      PERFORM api.fail('TXVAL', 'key_id', 'must be 1 to 64 letters, digits, ., _, : or -');
    END IF;
    v_wrapped := api.body_bytea(p -> 'dek', 'wrapped', true, 60, 60);
  EXCEPTION WHEN SQLSTATE 'TXVAL' THEN
    GET STACKED DIAGNOSTICS v_field = COLUMN_NAME, v_msg = MESSAGE_TEXT;
    IF v_field <> '' THEN
      v_msg := substr(v_msg, length(v_field) + 3);
    END IF;
    PERFORM api.fail('TXVAL', 'dek' || CASE WHEN v_field <> '' THEN '.' || v_field ELSE '' END,
                     v_msg);
  END;
  IF v.verified IS FALSE THEN
    PERFORM api.fail('TXVAL', 'verified', 'can only be true (the owner confirms the data)');
  END IF;
  v_owner := coalesce(v.owner_id, tx.user_id());
  PERFORM cust.check_owner_change(v_owner, false);
  -- Duplicates: the unique indexes of the three blind indexes refuse them, and only then is the
  -- first one looked up for the answer (below). Every probe of cust.first_duplicate is one of
  -- those indexes, so the 409 is the one a look-up first would give, for a concurrent duplicate
  -- too; a create that is no duplicate no longer pays for the look-up (77 to 148 µs of its
  -- database time at a million customers, issue 15 target 3: docs/performance.md, ninth session).
  BEGIN
    INSERT INTO cust.customers (id, name, company_name, business_scope, address_enc,
                                credit_code_enc, credit_code_bidx, status, tags, source, needs,
                                concerns, owner_id, last_verified_at)
    VALUES (v_id, v.name, v.company_name, v.business_scope, v.address_enc, v.credit_code_enc,
            v.credit_code_bidx, coalesce(v.status, 'prospect'), coalesce(v.tags, '{}'),
            v.source, v.needs, v.concerns, v_owner,
            CASE WHEN v.verified THEN now() END)
    RETURNING * INTO c;
    INSERT INTO cust.data_keys (customer_id, key_id, wrapped) VALUES (v_id, v_key_id, v_wrapped);
    PERFORM cust.insert_contacts(v_id, v_contacts);
  EXCEPTION WHEN unique_violation THEN
    -- Which of the body's values another customer holds, in the order the API reports them
    -- (TXDUP); the rows above are gone with the block. Nothing found: a unique index of no
    -- blind index (an id), raised as it is.
    PERFORM cust.check_duplicates(v.credit_code_bidx, v_contacts, NULL);
    RAISE;
  END;
  RETURN cust.created_doc(c, v_contacts, v_key_id, v_wrapped);
END
$$;
REVOKE ALL ON FUNCTION api.customer_create(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.customer_create(jsonb) TO tianxing_app;

-- GET /v1/customers/{id}: NULL when not visible. Logs the read when pii_access is full, so it
-- must run in a read-write transaction.
CREATE OR REPLACE FUNCTION api.customer_get(p_id uuid) RETURNS json
  LANGUAGE plpgsql VOLATILE
  AS $$
DECLARE
  v_id uuid;
  v_out json;
  v_access text;
BEGIN
  PERFORM api.require_user();
  -- The row under its policy and its document in one plan (cust.customer_doc is inlined). The
  -- log is a statement of its own, run only for a full read, so that a read that logs nothing
  -- (masked, none, invisible) stays possible in a read-only transaction.
  SELECT x.id, r.doc, r.pii_access INTO v_id, v_out, v_access
    FROM cust.customers x CROSS JOIN LATERAL cust.customer_doc(x) r
   WHERE x.id = p_id;
  IF v_access = 'full' THEN
    INSERT INTO cust.pii_reads (customer_id, reader_id, request_id)
    VALUES (v_id, tx.user_id(), tx.request_id());
  END IF;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.customer_get(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.customer_get(uuid) TO tianxing_app;

-- PATCH /v1/customers/{id} (If-Match): the members of create but id and dek, each changing only
-- when present (null clears the optional ones); contacts, when present, replace the list;
-- "verified": true sets last_verified_at (C4.1, C4.2).
CREATE OR REPLACE FUNCTION api.customer_update(p_id uuid, p_expected_version int, p jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  v_out json;
  v record;
  c cust.customers;
  v_contacts cust.contact_input[];
BEGIN
  c := cust.writable(p_id);
  PERFORM api.body_keys(p, ARRAY['name', 'company_name', 'business_scope', 'status', 'tags',
                                 'source', 'needs', 'concerns', 'owner_id', 'address_enc',
                                 'credit_code_enc', 'credit_code_bidx', 'contacts', 'verified']);
  SELECT * INTO v FROM cust.customer_fields(p, false);
  IF p ? 'contacts' THEN
    v_contacts := cust.read_contacts(p -> 'contacts');
  END IF;
  IF v.verified IS FALSE THEN
    PERFORM api.fail('TXVAL', 'verified', 'can only be true (the owner confirms the data)');
  END IF;
  SELECT * INTO c FROM cust.customers x WHERE x.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such customer' USING ERRCODE = 'P0002';
  END IF;
  PERFORM api.check_version(p_expected_version, c.version);
  IF p ? 'owner_id' AND v.owner_id IS DISTINCT FROM c.owner_id THEN
    PERFORM cust.check_owner_change(v.owner_id, true);
  END IF;
  PERFORM cust.check_duplicates(CASE WHEN p ? 'credit_code_bidx' THEN v.credit_code_bidx END,
                                v_contacts, p_id);
  BEGIN
    UPDATE cust.customers x
       SET name             = CASE WHEN p ? 'name' THEN v.name ELSE x.name END,
           company_name     = CASE WHEN p ? 'company_name' THEN v.company_name ELSE x.company_name END,
           business_scope   = CASE WHEN p ? 'business_scope' THEN v.business_scope ELSE x.business_scope END,
           status           = CASE WHEN p ? 'status' THEN v.status ELSE x.status END,
           tags             = CASE WHEN p ? 'tags' THEN v.tags ELSE x.tags END,
           source           = CASE WHEN p ? 'source' THEN v.source ELSE x.source END,
           needs            = CASE WHEN p ? 'needs' THEN v.needs ELSE x.needs END,
           concerns         = CASE WHEN p ? 'concerns' THEN v.concerns ELSE x.concerns END,
           owner_id         = CASE WHEN p ? 'owner_id' THEN v.owner_id ELSE x.owner_id END,
           address_enc      = CASE WHEN p ? 'address_enc' THEN v.address_enc ELSE x.address_enc END,
           credit_code_enc  = CASE WHEN p ? 'credit_code_enc' THEN v.credit_code_enc ELSE x.credit_code_enc END,
           credit_code_bidx = CASE WHEN p ? 'credit_code_bidx' THEN v.credit_code_bidx ELSE x.credit_code_bidx END,
           last_verified_at = CASE WHEN v.verified THEN now() ELSE x.last_verified_at END
     WHERE x.id = p_id
    RETURNING * INTO c;
    IF p ? 'contacts' THEN
      DELETE FROM cust.contacts k WHERE k.customer_id = p_id;
      PERFORM cust.insert_contacts(p_id, v_contacts);
    END IF;
  EXCEPTION WHEN unique_violation THEN
    PERFORM cust.check_duplicates(CASE WHEN p ? 'credit_code_bidx' THEN v.credit_code_bidx END,
                                  v_contacts, p_id);
    RAISE;
  END;
  -- The answer shows the whole customer, so it is a read like api.customer_get's (C2.3).
  v_out := cust.customer_json(c);
  IF v_out ->> 'pii_access' = 'full' THEN
    INSERT INTO cust.pii_reads (customer_id, reader_id, request_id)
    VALUES (c.id, tx.user_id(), tx.request_id());
  END IF;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.customer_update(uuid,integer,jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.customer_update(uuid,integer,jsonb) TO tianxing_app;

-- The list as in 0006, its conditions from cust.list_conditions, and q answered by
-- cust.search_page: the page's ids, read here under the caller's row-level security.
CREATE OR REPLACE FUNCTION api.customer_list(p_limit int, p_cursor text, p_owner_id uuid,
                                             p_department_id uuid, p_tag text, p_status text,
                                             p_stale boolean, p_q text, p_phone_bidx bytea,
                                             p_email_bidx bytea, p_sort text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_sort text := coalesce(p_sort, '-updated_at');
  v_q text := btrim(p_q);
  v_period interval := cust.review_period();
  v_key jsonb;
  v_after_ts timestamptz;
  v_after_text text;
  v_after_id uuid;
  v_where text[];
  v_ids uuid[];
  v_out json;
BEGIN
  PERFORM api.require_user();
  IF v_sort NOT IN ('-updated_at', 'updated_at', 'name') THEN
    PERFORM api.fail('TXVAL', 'sort', 'must be one of -updated_at, updated_at, name');
  END IF;
  IF p_status IS NOT NULL AND p_status NOT IN ('prospect', 'active', 'inactive') THEN
    PERFORM api.fail('TXVAL', 'status', 'must be one of prospect, active, inactive');
  END IF;
  IF p_q IS NOT NULL AND (length(v_q) < 2 OR length(v_q) > 100) THEN
    PERFORM api.fail('TXVAL', 'q', 'must be 2 to 100 characters');
  END IF;
  -- "a b": no two characters in a row, so no term of the index; it would read every customer.
  IF p_q IS NOT NULL AND cardinality(cust.bigrams(lower(v_q))) = 0 THEN
    PERFORM api.fail('TXVAL', 'q', 'must hold two characters in a row that are not spaces');
  END IF;
  IF p_tag IS NOT NULL AND (btrim(p_tag) = '' OR length(p_tag) > 50) THEN
    PERFORM api.fail('TXVAL', 'tag', 'must be 1 to 50 characters');
  END IF;
  -- A phone number or e-mail address ties a person to a named customer: looking one up needs
  -- full access to personal data (issue 10 item 6), which hr, risk officers (none) and auditors
  -- (masked) do not have (cust.pii_access). 403 naming the filter.
  IF (p_phone_bidx IS NOT NULL OR p_email_bidx IS NOT NULL)
     AND NOT (tx.roles() && ARRAY['staff', 'supervisor', 'admin']) THEN
    RAISE EXCEPTION 'the % filter needs full access to personal data (the roles staff, supervisor or admin)',
      CASE WHEN p_phone_bidx IS NOT NULL THEN 'phone' ELSE 'email' END
      USING ERRCODE = 'TXDEN';
  END IF;
  IF p_phone_bidx IS NOT NULL AND octet_length(p_phone_bidx) <> 32 THEN
    PERFORM api.fail('TXVAL', 'phone_bidx', 'must be 32 bytes');
  END IF;
  IF p_email_bidx IS NOT NULL AND octet_length(p_email_bidx) <> 32 THEN
    PERFORM api.fail('TXVAL', 'email_bidx', 'must be 32 bytes');
  END IF;
  IF p_cursor IS NOT NULL THEN
    v_key := cust.cursor_decode(p_cursor, 'customers' || v_sort, 2);
    v_after_id := cust.cursor_parse_uuid(v_key ->> 1);
    IF v_sort = 'name' THEN
      v_after_text := v_key ->> 0;
    ELSE
      v_after_ts := cust.cursor_parse_ts(v_key ->> 0);
    END IF;
  END IF;

  IF p_q IS NOT NULL THEN
    -- The page itself, one more than asked for (the extra id tells whether there is a next
    -- page): the cursor and every filter are applied there already.
    v_ids := cust.search_page(v_sort, v_after_text, v_after_ts, v_after_id, p_owner_id,
                              p_department_id, p_tag, p_status, p_stale, v_q, p_phone_bidx,
                              p_email_bidx, v_period, v_limit + 1);
    v_where := ARRAY['c.id = ANY ($15)'];
  ELSE
    v_where := cust.list_conditions(v_sort, p_cursor IS NOT NULL, p_owner_id IS NOT NULL,
                                    p_department_id IS NOT NULL, p_tag IS NOT NULL,
                                    p_status IS NOT NULL, p_stale IS NOT NULL,
                                    p_phone_bidx IS NOT NULL, p_email_bidx IS NOT NULL);
  END IF;
  -- Someone who is, say, auditor and staff at once passes the role check above but sees most
  -- customers without full access: the lookup finds only those they have full access to.
  IF p_phone_bidx IS NOT NULL OR p_email_bidx IS NOT NULL THEN
    v_where := v_where || ARRAY['cust.pii_access(c) = ''full'''];
  END IF;

  EXECUTE format($q$
    WITH page AS (
      SELECT c, row_number() OVER (ORDER BY %1$s) AS rn
        FROM cust.customers c
       WHERE %2$s
       ORDER BY %1$s
       LIMIT $13 + 1)
    SELECT json_build_object(
             'items', coalesce(json_agg(cust.customer_item(p.c, $12) ORDER BY p.rn)
                                 FILTER (WHERE p.rn <= $13), '[]'::json),
             'next_cursor', CASE WHEN count(*) > $13 THEN cust.cursor_encode(jsonb_build_array(
                                   $14, min(%3$s) FILTER (WHERE p.rn = $13),
                                   min(((p.c).id)::text) FILTER (WHERE p.rn = $13))) END)
      FROM page p $q$,
    cust.list_order(v_sort),
    CASE WHEN cardinality(v_where) = 0 THEN 'true' ELSE array_to_string(v_where, ' AND ') END,
    CASE WHEN v_sort = 'name' THEN '(p.c).name' ELSE 'cust.cursor_ts((p.c).updated_at)' END)
  INTO v_out
  USING v_after_text, v_after_ts, v_after_id, p_owner_id, p_department_id, p_tag, p_status,
        p_stale, v_q, p_phone_bidx, p_email_bidx, v_period, v_limit, 'customers' || v_sort, v_ids;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.customer_list(integer,text,uuid,uuid,text,text,boolean,text,bytea,bytea,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.customer_list(integer,text,uuid,uuid,text,text,boolean,text,bytea,bytea,text) TO tianxing_app;

-- GET /v1/customers/{id}/completeness: {score, missing, unverified}; NULL when not visible.
CREATE OR REPLACE FUNCTION api.customer_completeness(p_id uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE c cust.customers;
BEGIN
  PERFORM api.require_user();
  SELECT * INTO c FROM cust.customers x WHERE x.id = p_id;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  RETURN cust.completeness(c)::json;
END
$$;
REVOKE ALL ON FUNCTION api.customer_completeness(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.customer_completeness(uuid) TO tianxing_app;

-- GET /v1/customers/review-queue: visible customers due for review (C4.1), the longest overdue
-- first.
CREATE OR REPLACE FUNCTION api.customer_review_queue(p_limit int, p_cursor text) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_period interval := cust.review_period();
  v_key jsonb;
  v_after_ts timestamptz;
  v_after_id uuid;
  v_out json;
BEGIN
  PERFORM api.require_user();
  IF p_cursor IS NOT NULL THEN
    v_key := cust.cursor_decode(p_cursor, 'review', 2);
    v_after_ts := cust.cursor_parse_ts(v_key ->> 0);
    v_after_id := cust.cursor_parse_uuid(v_key ->> 1);
  END IF;
  WITH page AS (
    SELECT c, coalesce(c.last_verified_at, c.created_at) AS since,
           row_number() OVER (ORDER BY coalesce(c.last_verified_at, c.created_at), c.id) AS rn
      FROM cust.customers c
     WHERE coalesce(c.last_verified_at, c.created_at) < now() - v_period
       AND (v_after_id IS NULL
            OR (coalesce(c.last_verified_at, c.created_at), c.id) > (v_after_ts, v_after_id))
     ORDER BY coalesce(c.last_verified_at, c.created_at), c.id
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(cust.customer_item(p.c, v_period) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit THEN cust.cursor_encode(jsonb_build_array(
                                 'review', min(cust.cursor_ts(p.since)) FILTER (WHERE p.rn = v_limit),
                                 min(((p.c).id)::text) FILTER (WHERE p.rn = v_limit))) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.customer_review_queue(integer,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.customer_review_queue(integer,text) TO tianxing_app;

-- API: contracts -----------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION cust.contract_json(k cust.contracts) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object('id', k.id, 'customer_id', k.customer_id, 'amount', k.amount::text,
                           'currency', k.currency, 'prepayment_ratio', k.prepayment_ratio,
                           'term_months', k.term_months, 'signed_on', k.signed_on,
                           'status', k.status, 'created_by', k.created_by, 'version', k.version,
                           'created_at', api.ts(k.created_at), 'updated_at', api.ts(k.updated_at))
$$;
REVOKE ALL ON FUNCTION cust.contract_json(cust.contracts) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.contract_json(cust.contracts) TO tianxing_app;

-- POST /v1/customers/{id}/contracts (owner, team, the department's supervisor, admin):
-- {amount: "12000.00", currency: "CNY", prepayment_ratio?: 0.3, term_months?: 12,
-- signed_on: "YYYY-MM-DD"}. Refused while the customer is incomplete or unverified (C1.3):
-- TXINC, DETAIL {"errors": [{field, code: "missing", message}]}, one per missing field (and
-- "last_verified_at"; api.field_error), and by the credit gate of R2.3 in the same error.
CREATE OR REPLACE FUNCTION api.contract_create(p_customer_id uuid, p jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  c cust.customers;
  v_amount numeric(18, 2);
  v_currency text;
  v_ratio numeric(5, 4);
  v_term int;
  v_signed date;
  v_raw text;
  v_comp jsonb;
  v_missing jsonb;
  v_credit jsonb;
  k cust.contracts;
BEGIN
  c := cust.writable(p_customer_id);
  PERFORM api.body_keys(p, ARRAY['amount', 'currency', 'prepayment_ratio', 'term_months',
                                 'signed_on']);
  v_raw := api.body_text(p, 'amount', true, 20);
  IF v_raw !~ '^[0-9]{1,16}(\.[0-9]{1,2})?$' THEN
    PERFORM api.fail('TXVAL', 'amount', 'must be a decimal string like "12000.00" (at most 2 decimals)');
  END IF;
  v_amount := v_raw::numeric(18, 2);
  IF v_amount <= 0 THEN
    PERFORM api.fail('TXVAL', 'amount', 'must be greater than 0');
  END IF;
  v_currency := api.body_text(p, 'currency', true, 3);
  IF v_currency !~ '^[A-Z]{3}$' THEN
    PERFORM api.fail('TXVAL', 'currency', 'must be three capital letters (ISO 4217)');
  END IF;
  IF p ? 'prepayment_ratio' AND jsonb_typeof(p -> 'prepayment_ratio') <> 'null' THEN
    -- a JSON number or a decimal string; checked step by step before any cast
    v_raw := CASE WHEN jsonb_typeof(p -> 'prepayment_ratio') IN ('number', 'string')
                  THEN p ->> 'prepayment_ratio' END;
    IF v_raw IS NULL OR v_raw !~ '^[0-9]{1,2}(\.[0-9]{1,4})?$' THEN
      PERFORM api.fail('TXVAL', 'prepayment_ratio', 'must be a number from 0 to 1 (at most 4 decimals)');
    END IF;
    v_ratio := v_raw::numeric;
    IF v_ratio > 1 THEN
      PERFORM api.fail('TXVAL', 'prepayment_ratio', 'must be a number from 0 to 1 (at most 4 decimals)');
    END IF;
  END IF;
  IF p ? 'term_months' AND jsonb_typeof(p -> 'term_months') <> 'null' THEN
    v_raw := CASE WHEN jsonb_typeof(p -> 'term_months') = 'number' THEN p ->> 'term_months' END;
    IF v_raw IS NULL OR v_raw !~ '^[0-9]{1,3}$' THEN
      PERFORM api.fail('TXVAL', 'term_months', 'must be a whole number from 1 to 600');
    END IF;
    v_term := v_raw::int;
    IF v_term NOT BETWEEN 1 AND 600 THEN
      PERFORM api.fail('TXVAL', 'term_months', 'must be a whole number from 1 to 600');
    END IF;
  END IF;
  v_signed := api.body_date(p, 'signed_on', true);
  IF v_signed > current_date THEN
    PERFORM api.fail('TXVAL', 'signed_on', 'must not be in the future');
  END IF;
  v_comp := cust.completeness(c);
  v_missing := (v_comp -> 'missing') || (v_comp -> 'unverified');
  -- R2.3: the credit gate (sql/code/risk/040_credit.sql) answers in the same 422, after the
  -- completeness errors; a trigger on cust.contracts holds it for every other writer.
  v_credit := risk.credit_gate(c.id, v_amount, v_currency, v_ratio, risk.credit_today());
  IF jsonb_array_length(v_missing) > 0 OR jsonb_array_length(v_credit) > 0 THEN
    RAISE EXCEPTION USING ERRCODE = 'TXINC',
      MESSAGE = concat_ws('; ',
                  CASE WHEN jsonb_array_length(v_missing) > 0
                       THEN 'the customer''s information is incomplete or unverified: '
                            || array_to_string(ARRAY(SELECT jsonb_array_elements_text(v_missing)), ', ') END,
                  CASE WHEN jsonb_array_length(v_credit) > 0
                       THEN 'the customer''s credit does not allow this contract (R2.3): '
                            || array_to_string(ARRAY(SELECT e ->> 'field' FROM jsonb_array_elements(v_credit) e), ', ') END),
      DETAIL = jsonb_build_object('errors',
                 coalesce((SELECT jsonb_agg(api.field_error(f, 'missing', 'is missing or not verified') ORDER BY i)
                             FROM jsonb_array_elements_text(v_missing) WITH ORDINALITY AS m(f, i)), '[]'::jsonb)
                 || v_credit)::text;
  END IF;
  INSERT INTO cust.contracts (customer_id, amount, currency, prepayment_ratio, term_months,
                              signed_on, created_by)
  VALUES (c.id, v_amount, v_currency, v_ratio, v_term, v_signed, tx.user_id())
  RETURNING * INTO k;
  RETURN cust.contract_json(k);
END
$$;
REVOKE ALL ON FUNCTION api.contract_create(uuid,jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.contract_create(uuid,jsonb) TO tianxing_app;

-- POST /v1/contracts/{id}/close: the business is done; only then can the customer be
-- deactivated and disposed of (C4.3). Who may: as for creating it.
CREATE OR REPLACE FUNCTION api.contract_close(p_id uuid) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE k cust.contracts;
BEGIN
  SELECT * INTO k FROM cust.contracts x WHERE x.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such contract' USING ERRCODE = 'P0002';
  END IF;
  PERFORM cust.writable(k.customer_id);
  IF k.status = 'closed' THEN
    RAISE EXCEPTION 'the contract is closed already' USING ERRCODE = 'TXCON';
  END IF;
  UPDATE cust.contracts x SET status = 'closed' WHERE x.id = p_id RETURNING * INTO k;
  RETURN cust.contract_json(k);
END
$$;
REVOKE ALL ON FUNCTION api.contract_close(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.contract_close(uuid) TO tianxing_app;

-- API: follow-ups ----------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION cust.follow_up_json(f cust.follow_ups) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object('id', f.id, 'customer_id', f.customer_id, 'on', f.on_date,
                           'channel', f.channel, 'summary', f.summary, 'next_on', f.next_on,
                           'author_id', f.author_id, 'at', api.ts(f.at))
$$;
REVOKE ALL ON FUNCTION cust.follow_up_json(cust.follow_ups) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.follow_up_json(cust.follow_ups) TO tianxing_app;

-- POST /v1/customers/{id}/follow-ups (owner, team, the department's supervisor, admin):
-- {on: "YYYY-MM-DD", channel, summary, next_on?}.
CREATE OR REPLACE FUNCTION api.follow_up_create(p_customer_id uuid, p jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  c cust.customers;
  v_on date;
  v_channel text;
  v_summary text;
  v_next date;
  f cust.follow_ups;
BEGIN
  c := cust.writable(p_customer_id);
  PERFORM api.body_keys(p, ARRAY['on', 'channel', 'summary', 'next_on']);
  v_on := api.body_date(p, 'on', true);
  v_channel := api.body_text(p, 'channel', true, 20);
  IF v_channel NOT IN ('visit', 'phone', 'email', 'message', 'meeting', 'other') THEN
    PERFORM api.fail('TXVAL', 'channel',
                     'must be one of visit, phone, email, message, meeting, other');
  END IF;
  v_summary := api.body_text(p, 'summary', true, 2000);
  v_next := api.body_date(p, 'next_on', false);
  IF v_next < v_on THEN
    PERFORM api.fail('TXVAL', 'next_on', 'must not be before on');
  END IF;
  INSERT INTO cust.follow_ups (customer_id, on_date, channel, summary, next_on, author_id)
  VALUES (c.id, v_on, v_channel, v_summary, v_next, tx.user_id())
  RETURNING * INTO f;
  RETURN cust.follow_up_json(f);
END
$$;
REVOKE ALL ON FUNCTION api.follow_up_create(uuid,jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.follow_up_create(uuid,jsonb) TO tianxing_app;

-- GET /v1/customers/{id}/follow-ups: newest first (by on, then when recorded); P0002 when the
-- customer is not visible.
CREATE OR REPLACE FUNCTION api.follow_up_list(p_customer_id uuid, p_limit int, p_cursor text) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_key jsonb;
  v_on date;
  v_at timestamptz;
  v_id uuid;
  v_out json;
BEGIN
  PERFORM api.require_user();
  IF NOT EXISTS (SELECT FROM cust.customers c WHERE c.id = p_customer_id) THEN
    RAISE EXCEPTION 'no such customer' USING ERRCODE = 'P0002';
  END IF;
  IF p_cursor IS NOT NULL THEN
    v_key := cust.cursor_decode(p_cursor, 'follow_ups', 3);
    IF v_key ->> 0 !~ '^\d{4}-\d\d-\d\d$' THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
    v_on := (v_key ->> 0)::date;
    v_at := cust.cursor_parse_ts(v_key ->> 1);
    v_id := cust.cursor_parse_uuid(v_key ->> 2);
  END IF;
  WITH page AS (
    SELECT f, row_number() OVER (ORDER BY f.on_date DESC, f.at DESC, f.id DESC) AS rn
      FROM cust.follow_ups f
     WHERE f.customer_id = p_customer_id
       AND (v_id IS NULL OR (f.on_date, f.at, f.id) < (v_on, v_at, v_id))
     ORDER BY f.on_date DESC, f.at DESC, f.id DESC
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(cust.follow_up_json(p.f) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit THEN cust.cursor_encode(jsonb_build_array(
                                 'follow_ups',
                                 min(((p.f).on_date)::text) FILTER (WHERE p.rn = v_limit),
                                 min(cust.cursor_ts((p.f).at)) FILTER (WHERE p.rn = v_limit),
                                 min(((p.f).id)::text) FILTER (WHERE p.rn = v_limit))) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.follow_up_list(uuid,integer,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.follow_up_list(uuid,integer,text) TO tianxing_app;

-- GET /v1/follow-ups/due?by=YYYY-MM-DD (C1.2; issue 10 item 19): the caller's queue of follow-ups
-- due. The caller's: those they wrote, and those on customers they own. Due: next_on on or
-- before `by` (today when absent), and no later follow-up recorded for that customer since (the
-- next contact happened). Customers inactive or disposed of are left out (the relationship
-- ended); merged records have no follow-ups (they moved to the target). Oldest due first, keyset
-- pages on (next_on, id); only what the caller's row-level security shows. Each item is the
-- follow-up with its customer's name.
CREATE OR REPLACE FUNCTION api.follow_up_due(p_by date, p_limit int, p_cursor text) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_by date := coalesce(p_by, current_date);
  v_me uuid;
  v_key jsonb;
  v_next date;
  v_id uuid;
  v_out json;
BEGIN
  PERFORM api.require_user();
  v_me := tx.user_id();
  IF p_cursor IS NOT NULL THEN
    v_key := cust.cursor_decode(p_cursor, 'follow_ups_due', 2);
    IF v_key ->> 0 !~ '^\d{4}-\d\d-\d\d$' THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
    v_next := (v_key ->> 0)::date;
    v_id := cust.cursor_parse_uuid(v_key ->> 1);
  END IF;
  WITH page AS (
    SELECT f, c.name AS customer_name,
           row_number() OVER (ORDER BY f.next_on, f.id) AS rn
      FROM cust.follow_ups f
      JOIN cust.customers c ON c.id = f.customer_id
     WHERE f.next_on <= v_by
       AND (f.author_id = v_me OR c.owner_id = v_me)
       AND c.status IN ('prospect', 'active')
       AND NOT EXISTS (SELECT FROM cust.follow_ups g
                        WHERE g.customer_id = f.customer_id
                          AND (g.on_date, g.at, g.id) > (f.on_date, f.at, f.id))
       AND (v_id IS NULL OR (f.next_on, f.id) > (v_next, v_id))
     ORDER BY f.next_on, f.id
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'by', v_by,
           'items', coalesce(json_agg((cust.follow_up_json(p.f)::jsonb
                                       || jsonb_build_object('customer_name', p.customer_name))
                                      ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit THEN cust.cursor_encode(jsonb_build_array(
                                 'follow_ups_due',
                                 min(((p.f).next_on)::text) FILTER (WHERE p.rn = v_limit),
                                 min(((p.f).id)::text) FILTER (WHERE p.rn = v_limit))) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.follow_up_due(date,integer,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.follow_up_due(date,integer,text) TO tianxing_app;

CREATE OR REPLACE TRIGGER customers_derive BEFORE INSERT OR UPDATE ON cust.customers
  FOR EACH ROW EXECUTE FUNCTION cust.customers_derive();

CREATE OR REPLACE TRIGGER employees_customers_department AFTER UPDATE OF department_id ON org.employees
  FOR EACH ROW WHEN (OLD.department_id IS DISTINCT FROM NEW.department_id)
  EXECUTE FUNCTION cust.follow_owner_department();

-- Customers. Read: admin, auditor, hr, risk_officer all (what they see of the PII is decided by
-- pii_access and the data keys' policy); staff their own and their teams'; supervisors their
-- department's and their own.
-- Roles that decide together are asked together, one sub-select `tx.roles() && ARRAY['admin',
-- 'auditor', 'hr', 'risk_officer']` instead of one `(SELECT tx.has_role('admin'))` per role: every
-- sub-select is a node PostgreSQL starts for every statement that reads the table, and this
-- policy is planned into every policy that reads a customer (contacts, data keys, the PII read
-- log), four to six times in one read of a customer (issue 15: 13 % less database CPU per read
-- at 10 000 customers; docs/performance.md).
DROP POLICY IF EXISTS customers_read ON cust.customers;
CREATE POLICY customers_read ON cust.customers FOR SELECT
  USING ((SELECT tx.roles() && ARRAY['admin', 'auditor', 'hr', 'risk_officer'])
         OR ((SELECT tx.roles() && ARRAY['staff', 'supervisor'])
             AND (owner_id = (SELECT tx.user_id())
                  OR id IN (SELECT t.customer_id FROM cust.team t
                             WHERE t.employee_id = (SELECT tx.user_id()))))
         OR ((SELECT tx.has_role('supervisor')) AND department_id = (SELECT tx.department_id())));

-- Create: staff for themselves; supervisors for themselves or their department; admin anyone.
DROP POLICY IF EXISTS customers_insert ON cust.customers;
CREATE POLICY customers_insert ON cust.customers FOR INSERT
  WITH CHECK ((SELECT tx.has_role('admin'))
              OR ((SELECT tx.has_role('supervisor'))
                  AND (owner_id = (SELECT tx.user_id())
                       OR department_id = (SELECT tx.department_id())))
              OR ((SELECT tx.has_role('staff')) AND owner_id = (SELECT tx.user_id())));

-- Update: admin, and those related to the customer (before and after the change).
DROP POLICY IF EXISTS customers_update ON cust.customers;
CREATE POLICY customers_update ON cust.customers FOR UPDATE
  USING ((SELECT tx.has_role('admin'))
         OR ((SELECT tx.roles() && ARRAY['staff', 'supervisor'])
             AND (owner_id = (SELECT tx.user_id())
                  OR id IN (SELECT t.customer_id FROM cust.team t
                             WHERE t.employee_id = (SELECT tx.user_id()))))
         OR ((SELECT tx.has_role('supervisor')) AND department_id = (SELECT tx.department_id())))
  WITH CHECK ((SELECT tx.has_role('admin'))
              OR ((SELECT tx.roles() && ARRAY['staff', 'supervisor'])
                  AND (owner_id = (SELECT tx.user_id())
                       OR id IN (SELECT t.customer_id FROM cust.team t
                                  WHERE t.employee_id = (SELECT tx.user_id()))))
              OR ((SELECT tx.has_role('supervisor'))
                  AND department_id = (SELECT tx.department_id())));

-- The SECURITY DEFINER functions above (duplicates, search, team management, owner moves).
DROP POLICY IF EXISTS customers_definer_read ON cust.customers;
CREATE POLICY customers_definer_read ON cust.customers FOR SELECT TO tianxing_owner USING (true);

DROP POLICY IF EXISTS customers_definer_update ON cust.customers;
CREATE POLICY customers_definer_update ON cust.customers FOR UPDATE TO tianxing_owner
  USING (true) WITH CHECK (true);

-- Contacts: visible with their customer; written by whoever may update it.
DROP POLICY IF EXISTS contacts_read ON cust.contacts;
CREATE POLICY contacts_read ON cust.contacts FOR SELECT
  USING (EXISTS (SELECT FROM cust.customers c WHERE c.id = customer_id));

-- The relation in the two insert policies (contacts here, the data key below) is cust.is_related's
-- body, planned with the INSERT, for the reason data_keys_read gives: a create writes both.
DROP POLICY IF EXISTS contacts_insert ON cust.contacts;
CREATE POLICY contacts_insert ON cust.contacts FOR INSERT
  WITH CHECK (EXISTS (SELECT FROM cust.customers c
                       WHERE c.id = customer_id
                         AND ((SELECT tx.has_role('admin'))
                              OR cust.related(c.owner_id, c.department_id,
                                              EXISTS (SELECT FROM cust.team t
                                                       WHERE t.customer_id = c.id
                                                         AND t.employee_id = tx.user_id())))));

DROP POLICY IF EXISTS contacts_delete ON cust.contacts;
CREATE POLICY contacts_delete ON cust.contacts FOR DELETE
  USING (EXISTS (SELECT FROM cust.customers c
                  WHERE c.id = customer_id
                    AND ((SELECT tx.has_role('admin'))
                         OR cust.is_related(c.owner_id, c.department_id, c.id))));

DROP POLICY IF EXISTS contacts_definer_read ON cust.contacts;
CREATE POLICY contacts_definer_read ON cust.contacts FOR SELECT TO tianxing_owner USING (true);

-- Team: members see their own membership; admin, auditor, hr, risk_officer all; the owner and
-- the department's supervisor manage it (through cust.manages_team, which reads the customer).
DROP POLICY IF EXISTS team_read ON cust.team;
CREATE POLICY team_read ON cust.team FOR SELECT
  USING (employee_id = (SELECT tx.user_id())
         OR (SELECT tx.roles() && ARRAY['admin', 'auditor', 'hr', 'risk_officer'])
         OR cust.manages_team(customer_id));

DROP POLICY IF EXISTS team_insert ON cust.team;
CREATE POLICY team_insert ON cust.team FOR INSERT WITH CHECK (cust.manages_team(customer_id));

DROP POLICY IF EXISTS team_delete ON cust.team;
CREATE POLICY team_delete ON cust.team FOR DELETE USING (cust.manages_team(customer_id));

-- Data keys: admin, auditor and the related (never hr or risk_officer: no key, no PII). The
-- relation is cust.is_related's body, written here so that it is planned with the query (the
-- team probed only when the roles and the owner leave it open) instead of a PL/pgSQL call with a
-- statement of its own per key read (issue 15: every full customer read reads its key).
DROP POLICY IF EXISTS data_keys_read ON cust.data_keys;
CREATE POLICY data_keys_read ON cust.data_keys FOR SELECT
  USING (EXISTS (SELECT FROM cust.customers c
                  WHERE c.id = customer_id
                    AND ((SELECT tx.roles() && ARRAY['admin', 'auditor'])
                         OR cust.related(c.owner_id, c.department_id,
                                         EXISTS (SELECT FROM cust.team t
                                                  WHERE t.customer_id = c.id
                                                    AND t.employee_id = tx.user_id())))));

-- `tianxingd rotate-master-key` re-wraps data keys as the owner role with the admin claim; the
-- runtime role never updates a data key (no grant), it only creates and, on disposal, deletes.
DROP POLICY IF EXISTS data_keys_rotate ON cust.data_keys;
CREATE POLICY data_keys_rotate ON cust.data_keys FOR UPDATE TO tianxing_owner
  USING ((SELECT tx.has_role('admin'))) WITH CHECK ((SELECT tx.has_role('admin')));

DROP POLICY IF EXISTS data_keys_insert ON cust.data_keys;
CREATE POLICY data_keys_insert ON cust.data_keys FOR INSERT
  WITH CHECK (EXISTS (SELECT FROM cust.customers c
                       WHERE c.id = customer_id
                         AND ((SELECT tx.has_role('admin'))
                              OR cust.related(c.owner_id, c.department_id,
                                              EXISTS (SELECT FROM cust.team t
                                                       WHERE t.customer_id = c.id
                                                         AND t.employee_id = tx.user_id())))));

-- Follow-ups and contracts: visible with their customer; written by those who may update it, as
-- themselves.
DROP POLICY IF EXISTS follow_ups_read ON cust.follow_ups;
CREATE POLICY follow_ups_read ON cust.follow_ups FOR SELECT
  USING (EXISTS (SELECT FROM cust.customers c WHERE c.id = customer_id));

DROP POLICY IF EXISTS follow_ups_insert ON cust.follow_ups;
CREATE POLICY follow_ups_insert ON cust.follow_ups FOR INSERT
  WITH CHECK (author_id = (SELECT tx.user_id())
              AND EXISTS (SELECT FROM cust.customers c
                           WHERE c.id = customer_id
                             AND ((SELECT tx.has_role('admin'))
                                  OR cust.is_related(c.owner_id, c.department_id, c.id))));

DROP POLICY IF EXISTS contracts_read ON cust.contracts;
CREATE POLICY contracts_read ON cust.contracts FOR SELECT
  USING (EXISTS (SELECT FROM cust.customers c WHERE c.id = customer_id));

DROP POLICY IF EXISTS contracts_insert ON cust.contracts;
CREATE POLICY contracts_insert ON cust.contracts FOR INSERT
  WITH CHECK (created_by = (SELECT tx.user_id())
              AND EXISTS (SELECT FROM cust.customers c
                           WHERE c.id = customer_id
                             AND ((SELECT tx.has_role('admin'))
                                  OR cust.is_related(c.owner_id, c.department_id, c.id))));

-- PII reads: admin and auditor read the log, everyone their own reads; a read is logged by the
-- reader, of a customer they see.
DROP POLICY IF EXISTS contracts_update ON cust.contracts;
CREATE POLICY contracts_update ON cust.contracts FOR UPDATE
  USING (EXISTS (SELECT FROM cust.customers c
                  WHERE c.id = customer_id
                    AND ((SELECT tx.has_role('admin'))
                         OR cust.is_related(c.owner_id, c.department_id, c.id))));

DROP POLICY IF EXISTS pii_reads_read ON cust.pii_reads;
CREATE POLICY pii_reads_read ON cust.pii_reads FOR SELECT
  USING (reader_id = (SELECT tx.user_id())
         OR (SELECT tx.has_role('admin')) OR (SELECT tx.has_role('auditor')));

DROP POLICY IF EXISTS pii_reads_insert ON cust.pii_reads;
CREATE POLICY pii_reads_insert ON cust.pii_reads FOR INSERT
  WITH CHECK (reader_id = (SELECT tx.user_id())
              AND EXISTS (SELECT FROM cust.customers c WHERE c.id = customer_id));
