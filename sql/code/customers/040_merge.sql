-- sql/code/customers/040_merge.sql: team changes and merging customers.
-- One current definition per object; `tianxingd migrate` re-applies this file when it changes
-- (sql/code/ORDER, docs/architecture.md).

-- 0010 customers: the team that works on a customer, and merging two records of one customer.
--
-- Team (C2.3): staff see the customers they own or work on; the team says who works on one.
-- Merge (C2.1 one record per customer; issue 4): duplicates found late are merged into one
-- record. The C side re-seals the source's PII under the target's data key (the keys differ and
-- every sealed field is bound to its customer), then api.customer_merge moves everything in one
-- transaction. The source stays as a tombstone (status 'merged', merged_into the target) so both
-- histories remain: the audit trail keeps every entry of both, and the target's history shows
-- the source's entries too.

-- Team ---------------------------------------------------------------------------------------

-- Staff read only themselves in org.employees (0003), yet a staff owner names colleagues for the
-- team and everyone who sees the customer sees who works on it: these two SECURITY DEFINER
-- helpers answer exactly that and nothing more.
CREATE OR REPLACE FUNCTION cust.team_candidate(p_employee uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT EXISTS (SELECT FROM org.employees x
                  WHERE x.id = p_employee AND x.active AND x.roles && ARRAY['staff', 'supervisor'])
$$;
REVOKE ALL ON FUNCTION cust.team_candidate(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.team_candidate(uuid) TO tianxing_app;

-- The members of a team; callers check first that the customer is visible to them.
CREATE OR REPLACE FUNCTION cust.team_members(p_customer uuid)
  RETURNS TABLE (id uuid, username text, display_name text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT e.id, e.username, e.display_name
    FROM cust.team t JOIN org.employees e ON e.id = t.employee_id
   WHERE t.customer_id = p_customer
$$;
REVOKE ALL ON FUNCTION cust.team_members(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.team_members(uuid) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.customer_team(p_id uuid) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT CASE WHEN EXISTS (SELECT FROM cust.customers c WHERE c.id = p_id) THEN
    json_build_object('customer_id', p_id, 'members',
      coalesce((SELECT json_agg(json_build_object('id', m.id, 'username', m.username,
                                                  'display_name', m.display_name)
                                ORDER BY m.username)
                  FROM cust.team_members(p_id) m), '[]'::json))
  END
$$;
REVOKE ALL ON FUNCTION api.customer_team(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.customer_team(uuid) TO tianxing_app;

-- PUT /v1/customers/{id}/team {"members": [employee id, ...]}: the whole team at once. Who may:
-- admin, the owner, the department's supervisor (cust.manages_team, as the table's policies).
CREATE OR REPLACE FUNCTION api.customer_team_set(p_id uuid, p jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  c cust.customers;
  v_ids uuid[] := '{}';
  e jsonb;
  i int := -1;
  v uuid;
BEGIN
  c := cust.writable(p_id);
  IF NOT cust.manages_team(p_id) THEN
    RAISE EXCEPTION 'only the owner, the department''s supervisor or an administrator may change the team'
      USING ERRCODE = '42501';
  END IF;
  PERFORM api.body_keys(p, ARRAY['members']);
  IF jsonb_typeof(p -> 'members') IS DISTINCT FROM 'array' THEN
    PERFORM api.fail('TXVAL', 'members', 'must be an array of employee ids');
  END IF;
  IF jsonb_array_length(p -> 'members') > 50 THEN
    PERFORM api.fail('TXVAL', 'members', 'must have at most 50 members');
  END IF;
  FOR e IN SELECT x FROM jsonb_array_elements(p -> 'members') x LOOP
    i := i + 1;
    IF jsonb_typeof(e) <> 'string' OR (e #>> '{}') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
      PERFORM api.fail('TXVAL', format('members[%s]', i), 'must be an employee id');
    END IF;
    v := (e #>> '{}')::uuid;
    IF NOT cust.team_candidate(v) THEN
      PERFORM api.fail('TXVAL', format('members[%s]', i), 'must be an active employee with the role staff or supervisor');
    END IF;
    IF v = c.owner_id THEN
      PERFORM api.fail('TXVAL', format('members[%s]', i), 'is the owner already');
    END IF;
    IF NOT v = ANY (v_ids) THEN
      v_ids := v_ids || v;
    END IF;
  END LOOP;
  DELETE FROM cust.team t WHERE t.customer_id = p_id AND NOT t.employee_id = ANY (v_ids);
  INSERT INTO cust.team (customer_id, employee_id)
  SELECT p_id, x FROM unnest(v_ids) x
   WHERE NOT EXISTS (SELECT FROM cust.team t WHERE t.customer_id = p_id AND t.employee_id = x);
  RETURN api.customer_team(p_id);
END
$$;
REVOKE ALL ON FUNCTION api.customer_team_set(uuid,jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.customer_team_set(uuid,jsonb) TO tianxing_app;

-- A merged record never changes again (its data lives on in the target).
CREATE OR REPLACE FUNCTION cust.customers_merged() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF OLD.status = 'merged'
     AND (to_jsonb(NEW) - '{department_id,version,updated_at}'::text[])
         IS DISTINCT FROM (to_jsonb(OLD) - '{department_id,version,updated_at}'::text[]) THEN
    RAISE EXCEPTION 'the customer was merged into %: change that record instead', OLD.merged_into
      USING ERRCODE = 'TXCON';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION cust.customers_merged() FROM PUBLIC;

-- POST /v1/customers/{id}/merge: p = {source_version, target_version, contacts: [sealed contacts
-- re-sealed for the target, as in create], address_enc?, credit_code_enc?, credit_code_bidx?}
-- (the last three only when the target has none). Both records must be writable by the caller
-- and unchanged since C read them (versions: TXPRE).
-- Who may (issue 10 item 4; docs/customers.md, "Merging"): a merge hands the source's data to the
-- target's owner, so it is a change of owner and needs what that needs: an administrator; or,
-- within one department (both records owned there), the source's owner or that department's
-- supervisor. A team member may not merge a colleague's customer away, and nobody but an
-- administrator may merge a customer into another department's record (TXDEN: 403 saying why).
-- Consents move with their ids, dates and revocations (cust.revoke_only allows exactly that
-- move); the disclosure ledger keeps the record it was written for, and the target's ledger
-- shows the source's rows too (api.disclosure_list, issue 10 item 5).
-- Cases move too, but for archived ones (cases.move_customer_cases, issue 11).
CREATE OR REPLACE FUNCTION api.customer_merge(p_target uuid, p_source uuid, p jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  t cust.customers;
  s cust.customers;
  v_contacts cust.contact_input[];
  v_out json;
BEGIN
  IF p_target = p_source THEN
    PERFORM api.fail('TXVAL', 'source_id', 'must be another customer');
  END IF;
  t := cust.writable(p_target);
  s := cust.writable(p_source);
  -- Lock in id order, so that two merges of the same pair cannot deadlock.
  PERFORM 1 FROM cust.customers x WHERE x.id IN (p_target, p_source) ORDER BY x.id FOR UPDATE;
  SELECT * INTO t FROM cust.customers x WHERE x.id = p_target;
  SELECT * INTO s FROM cust.customers x WHERE x.id = p_source;
  PERFORM api.body_keys(p, ARRAY['source_version', 'target_version', 'contacts', 'address_enc',
                                 'credit_code_enc', 'credit_code_bidx']);
  IF (p ->> 'target_version')::int IS DISTINCT FROM t.version
     OR (p ->> 'source_version')::int IS DISTINCT FROM s.version THEN
    RAISE EXCEPTION 'one of the customers changed while merging: read them again' USING ERRCODE = 'TXPRE';
  END IF;
  IF NOT tx.has_role('admin') THEN
    IF NOT cust.manages_team(p_source) THEN
      RAISE EXCEPTION 'merging a customer into another record needs its owner, its department''s supervisor or an administrator'
        USING ERRCODE = 'TXDEN';
    END IF;
    IF s.department_id IS DISTINCT FROM t.department_id OR s.department_id IS NULL THEN
      RAISE EXCEPTION 'a merge keeps a customer in its department: both records must be owned in the same department (else an administrator merges them)'
        USING ERRCODE = 'TXDEN';
    END IF;
  END IF;
  IF s.legal_hold_reason IS NOT NULL THEN
    RAISE EXCEPTION 'the source customer is under a legal hold: it cannot be merged' USING ERRCODE = 'TXCON';
  END IF;

  -- The source's contacts and indexes go first, so that the re-sealed copies (same blind
  -- indexes) can take their place on the target.
  DELETE FROM cust.contacts k WHERE k.customer_id = p_source;
  UPDATE cust.customers x
     SET status = 'merged', merged_into = p_target, address_enc = NULL, credit_code_enc = NULL,
         credit_code_bidx = NULL
   WHERE x.id = p_source;
  DELETE FROM cust.data_keys d WHERE d.customer_id = p_source;

  v_contacts := cust.read_contacts(coalesce(p -> 'contacts', '[]'::jsonb));
  -- Contacts the target already has (same phone or e-mail) are not copied twice.
  PERFORM cust.insert_contacts(p_target, ARRAY(
    SELECT ROW(k.seq + coalesce((SELECT max(c.seq) + 1 FROM cust.contacts c WHERE c.customer_id = p_target), 0),
               k.id, k.name, k.position, k.phone_enc, k.phone_bidx, k.email_enc, k.email_bidx)::cust.contact_input
      FROM unnest(v_contacts) k
     WHERE NOT EXISTS (SELECT FROM cust.contacts c
                        WHERE c.customer_id = p_target
                          AND (c.phone_bidx = k.phone_bidx OR c.email_bidx = k.email_bidx))));
  IF t.address_enc IS NULL AND p ? 'address_enc' THEN
    UPDATE cust.customers x SET address_enc = api.body_bytea(p, 'address_enc', false, 30, 2029)
     WHERE x.id = p_target;
  END IF;
  IF t.credit_code_enc IS NULL AND p ? 'credit_code_enc' THEN
    UPDATE cust.customers x
       SET credit_code_enc = api.body_bytea(p, 'credit_code_enc', false, 30, 47),
           credit_code_bidx = api.body_bytea(p, 'credit_code_bidx', false, 32, 32)
     WHERE x.id = p_target;
  END IF;

  UPDATE cust.follow_ups f SET customer_id = p_target WHERE f.customer_id = p_source;
  UPDATE cust.contracts k SET customer_id = p_target WHERE k.customer_id = p_source;
  UPDATE cust.consents k SET customer_id = p_target WHERE k.customer_id = p_source;
  -- The source's cases follow it (issue 11; sql/code/cases/095_customers.sql: the one change of
  -- a case's customer; archived cases stay with the archive, their snapshots stay as they were).
  PERFORM cases.move_customer_cases(p_source, p_target);
  INSERT INTO cust.team (customer_id, employee_id)
  SELECT p_target, x.employee_id FROM cust.team x
   WHERE x.customer_id = p_source AND x.employee_id <> t.owner_id
     AND NOT EXISTS (SELECT FROM cust.team y WHERE y.customer_id = p_target AND y.employee_id = x.employee_id);
  DELETE FROM cust.team x WHERE x.customer_id = p_source;

  SELECT * INTO t FROM cust.customers x WHERE x.id = p_target;
  v_out := cust.customer_json(t);
  IF v_out ->> 'pii_access' = 'full' THEN
    INSERT INTO cust.pii_reads (customer_id, reader_id, request_id)
    VALUES (t.id, tx.user_id(), tx.request_id());
  END IF;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.customer_merge(uuid,uuid,jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.customer_merge(uuid,uuid,jsonb) TO tianxing_app;

CREATE OR REPLACE TRIGGER customers_merged BEFORE UPDATE ON cust.customers
  FOR EACH ROW EXECUTE FUNCTION cust.customers_merged();

DROP POLICY IF EXISTS follow_ups_merge ON cust.follow_ups;
CREATE POLICY follow_ups_merge ON cust.follow_ups FOR UPDATE
  USING (EXISTS (SELECT FROM cust.customers c
                  WHERE c.id = customer_id
                    AND ((SELECT tx.has_role('admin'))
                         OR cust.is_related(c.owner_id, c.department_id, c.id))));

DROP POLICY IF EXISTS consents_merge ON cust.consents;
CREATE POLICY consents_merge ON cust.consents FOR UPDATE
  USING (EXISTS (SELECT FROM cust.customers c
                  WHERE c.id = customer_id
                    AND ((SELECT tx.has_role('admin'))
                         OR cust.is_related(c.owner_id, c.department_id, c.id))));

DROP POLICY IF EXISTS data_keys_merged ON cust.data_keys;
CREATE POLICY data_keys_merged ON cust.data_keys FOR DELETE
  USING (EXISTS (SELECT FROM cust.customers c
                  WHERE c.id = customer_id AND c.status = 'merged'
                    AND ((SELECT tx.has_role('admin'))
                         OR cust.is_related(c.owner_id, c.department_id, c.id))));
