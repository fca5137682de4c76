-- sql/code/cases/095_customers.sql: module C meets module P (issue 11; READINGS.md, P, last
-- bullet): a disposed or merged customer gets no new case; a customer with an open case cannot be
-- deactivated or disposed of; merging customers moves their cases; the customer's history shows
-- its cases (sql/code/customers/030_history.sql).
-- One current definition per object; `tianxingd migrate` re-applies this file when it changes
-- (sql/code/ORDER, docs/architecture.md).

-- Open cases ------------------------------------------------------------------------------------

-- A case is open until it ends: out of scope (P1.2), rejected (P1.4), cancelled (the customer
-- withdrew) or archived (P4.1). Every other state of the machine `case` is open, whatever state a
-- later migration adds.
CREATE OR REPLACE FUNCTION cases.is_open_status(p_status text) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT NOT cases.is_final_state(p_status) $$;
REVOKE ALL ON FUNCTION cases.is_open_status(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.is_open_status(text) TO tianxing_app;

-- The open cases of a customer, every one, oldest received first: [{id, status}] ([] when none).
-- SECURITY DEFINER: whoever may change a customer must learn what stops its deactivation or
-- disposal, including cases they may not read (another department's, say); they learn the id and
-- the state and nothing else (reading such a case still answers 404).
CREATE OR REPLACE FUNCTION cases.customer_open_cases(p_customer uuid) RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce(jsonb_agg(jsonb_build_object('id', c.id, 'status', c.status)
                            ORDER BY c.received_at, c.id), '[]'::jsonb)
    FROM cases.cases c
   WHERE c.customer_id = p_customer AND cases.is_open_status(c.status)
$$;
REVOKE ALL ON FUNCTION cases.customer_open_cases(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.customer_open_cases(uuid) TO tianxing_app;

-- No new case for a disposed (C4.3) or merged (C2.1) customer, whoever inserts (B's
-- api.case_create runs as the owner): TXCON, as cust.writable refuses any other change of such a
-- customer, with errors[0] {field customer_id, code customer_disposed | customer_merged} as part
-- B's api.case_create answers; a merged one names the record to use instead (merged_into). The
-- customer row is read FOR SHARE, so that a disposal, deactivation or merge running at the same
-- time is waited for, and no case slips in beside their "no open case" check (below).
CREATE OR REPLACE FUNCTION cases.refuse_closed_customer() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_status text;
  v_into uuid;
BEGIN
  SELECT c.status, c.merged_into INTO v_status, v_into
    FROM cust.customers c WHERE c.id = NEW.customer_id FOR SHARE;
  IF v_status = 'disposed' THEN
    RAISE EXCEPTION 'the customer has been disposed of (C4.3): no new case can be opened for it'
      USING ERRCODE = 'TXCON',
            DETAIL = jsonb_build_object('errors', jsonb_build_array(api.field_error(
              'customer_id', 'customer_disposed', 'the customer was disposed of')))::text;
  END IF;
  IF v_status = 'merged' THEN
    RAISE EXCEPTION 'the customer was merged into %: open the case for that record', v_into
      USING ERRCODE = 'TXCON',
            DETAIL = jsonb_build_object('merged_into', v_into,
                                        'errors', jsonb_build_array(api.field_error(
              'customer_id', 'customer_merged', 'the customer was merged into ' || v_into)))::text;
  END IF;
  RETURN NEW; -- an unknown customer: the foreign key says so
END
$$;
REVOKE ALL ON FUNCTION cases.refuse_closed_customer() FROM PUBLIC;

CREATE OR REPLACE TRIGGER customer_accepts_cases BEFORE INSERT ON cases.cases
  FOR EACH ROW EXECUTE FUNCTION cases.refuse_closed_customer();

-- A customer with an open case is neither deactivated nor disposed of (C4.3: the relationship has
-- not ended), whichever route asks (POST .../deactivate, PATCH status, POST .../dispose, a
-- definer): TXCON naming the cases in the extension member open_cases [{id, status}]. Fires after
-- cust.customers_disposal (trigger names sort), whose refusals (role, four eyes, contracts, legal
-- hold, not inactive) come first. The case inserts above lock the customer FOR SHARE, so the
-- count below sees every case committed before this update got the row.
CREATE OR REPLACE FUNCTION cases.refuse_closing_customer() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
DECLARE v_open jsonb := cases.customer_open_cases(NEW.id);
BEGIN
  IF jsonb_array_length(v_open) > 0 THEN
    RAISE EXCEPTION USING ERRCODE = 'TXCON',
      MESSAGE = format('the customer has %s open case(s): it cannot be %s until they end (archived, cancelled, rejected or out of scope)',
                       jsonb_array_length(v_open),
                       CASE NEW.status WHEN 'disposed' THEN 'disposed of' ELSE 'deactivated' END),
      DETAIL = jsonb_build_object('open_cases', v_open)::text;
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION cases.refuse_closing_customer() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.refuse_closing_customer() TO tianxing_app;

CREATE OR REPLACE TRIGGER customers_open_cases BEFORE UPDATE OF status ON cust.customers
  FOR EACH ROW
  WHEN (NEW.status IN ('inactive', 'disposed') AND OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION cases.refuse_closing_customer();

-- Merging moves the cases ------------------------------------------------------------------------

-- The customer of a case never changes (part B's trigger on cases.cases, 035_intake_rules.sql,
-- refuses it unless the new customer is the one the old was merged into), except in a merge
-- (api.customer_merge, sql/code/customers/040_merge.sql): the source's cases move to the target.
-- The stricter test, for that trigger to use: this is true exactly when the old customer has been
-- merged into the new one (cust.customers: status 'merged', merged_into the new one) AND
-- cases.move_customer_cases announced this very move in the transaction (the setting
-- cases.customer_move = '<old>><new>'). Either alone is not enough: any session can set a
-- setting, and a merged record's cases should move only through the function below.
CREATE OR REPLACE FUNCTION cases.customer_move_allowed(p_from uuid, p_to uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT p_from IS NOT NULL AND p_to IS NOT NULL
         AND current_setting('cases.customer_move', true) = p_from::text || '>' || p_to::text
         AND EXISTS (SELECT FROM cust.customers c
                      WHERE c.id = p_from AND c.status = 'merged' AND c.merged_into = p_to)
$$;
REVOKE ALL ON FUNCTION cases.customer_move_allowed(uuid,uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.customer_move_allowed(uuid,uuid) TO tianxing_app;

-- Moves the cases of p_source, merged into p_target a moment ago by api.customer_merge (which
-- checked who may merge), to p_target; returns how many moved. Called by the runtime role, so it
-- refuses (TXCON) unless p_source is merged into p_target: it cannot move cases otherwise.
-- * Archived cases stay where they are: the archive is immutable (P4.2-P4.3) and its index
--   names the customer it was made for; the target's history still lists them (the merged
--   lineage, api.customer_history).
-- * customer_snapshot stays as it was: it is the case's stable view of the customer at intake.
-- * Each moved case gets an event customer.merged {from, to}; the audit trail has the update.
CREATE OR REPLACE FUNCTION cases.move_customer_cases(p_source uuid, p_target uuid) RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE v_moved int;
BEGIN
  IF NOT EXISTS (SELECT FROM cust.customers c
                  WHERE c.id = p_source AND c.status = 'merged' AND c.merged_into = p_target) THEN
    RAISE EXCEPTION 'cases move to another customer only when their customer is merged into it'
      USING ERRCODE = 'TXCON';
  END IF;
  PERFORM set_config('cases.customer_move', p_source::text || '>' || p_target::text, true);
  WITH moved AS (
    UPDATE cases.cases c
       SET customer_id = p_target, version = c.version + 1, updated_at = now()
     WHERE c.customer_id = p_source AND c.status <> 'archived'
    RETURNING c.id)
  INSERT INTO cases.events (case_id, type, actor_id, data)
  SELECT m.id, 'customer.merged', tx.user_id(), jsonb_build_object('from', p_source, 'to', p_target)
    FROM moved m;
  GET DIAGNOSTICS v_moved = ROW_COUNT;
  PERFORM set_config('cases.customer_move', '', true);
  RETURN v_moved;
END
$$;
REVOKE ALL ON FUNCTION cases.move_customer_cases(uuid,uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.move_customer_cases(uuid,uuid) TO tianxing_app;

-- The customer's history shows its cases --------------------------------------------------------

-- The cases of a customer and of the records merged into it that the caller may read (the
-- policy of cases.cases: this is not SECURITY DEFINER), newest received first, as
-- api.customer_history shows them: {items: the first 100 ({id, customer_id, status,
-- business_type {id, code, name} or null (not assessed yet), received_at}), more: whether there
-- are others (GET /v1/cases?customer_id= pages through all of them): never cut silently}.
CREATE OR REPLACE FUNCTION cases.customer_cases_json(p_customer uuid) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object(
           'items', coalesce(json_agg(json_build_object(
                      'id', k.id, 'customer_id', k.customer_id, 'status', k.status,
                      'business_type', CASE WHEN b.id IS NOT NULL THEN
                                         json_build_object('id', b.id, 'code', b.code, 'name', b.name) END,
                      'received_at', api.ts(k.received_at))
                    ORDER BY k.received_at DESC, k.id DESC) FILTER (WHERE k.rn <= 100), '[]'::json),
           'more', count(*) > 100)
    FROM (SELECT c.*, row_number() OVER (ORDER BY c.received_at DESC, c.id DESC) AS rn
            FROM cases.cases c
           WHERE c.customer_id IN (SELECT cust.merged_lineage(p_customer))
           ORDER BY c.received_at DESC, c.id DESC
           LIMIT 101) k
    LEFT JOIN cases.business_types b ON b.id = k.business_type_id
$$;
REVOKE ALL ON FUNCTION cases.customer_cases_json(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.customer_cases_json(uuid) TO tianxing_app;
