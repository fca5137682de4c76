-- sql/code/events/010_outbox.sql: the transactional outbox (issue 16; tables in
-- 0041_events.sql): events.emit, the triggers that call it in the transaction of each change, who
-- may read which event (events.visible) and the reader of "events after position N"
-- (events.after) that a Server-Sent Events route or any other consumer pages with.
-- One current definition per object; `tianxingd migrate` re-applies this file when it changes.

-- The resource path of an entity, the envelope's subject ("/v1/cases/<id>"): what a subscriber
-- GETs, with its own rights, to learn more than the event says.
-- PL/pgSQL, not SQL: a SQL function with a SET clause is never inlined, and was parsed and
-- planned at every event (issue 15 target 3); PL/pgSQL keeps the expression's plan.
CREATE OR REPLACE FUNCTION events.subject(p_entity regclass, p_id uuid) RETURNS text
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  RETURN '/v1/' || CASE p_entity::text
                     WHEN 'cust.customers' THEN 'customers'
                     WHEN 'cases.cases' THEN 'cases'
                     WHEN 'assessment.assessments' THEN 'assessments'
                     WHEN 'assessment.periods' THEN 'assessment-periods'
                     WHEN 'assessment.training_plans' THEN 'training-plans'
                     WHEN 'org.regulations' THEN 'regulations'
                     WHEN 'risk.risks' THEN 'risks'
                     WHEN 'risk.rounds' THEN 'risk-rounds'
                     WHEN 'risk.responses' THEN 'risk-responses'
                     WHEN 'risk.warnings' THEN 'warnings'
                     WHEN 'risk.plan_versions' THEN 'plan-versions'
                     WHEN 'risk.exercises' THEN 'exercises'
                     ELSE replace(p_entity::text, '.', '/')
                   END || '/' || p_id;
END
$$;

-- Stages one event of the caller's transaction (events.pending, 0045), without a position: the
-- position, the outbox row and the deliveries are written at commit by events.link below. The
-- caller holds no lock of the outbox until then, so event-producing transactions (every customer
-- create) overlap up to their commit. Returns the event's id (its envelope id; the position is
-- not known before commit). The baseline's emit returned the position: dropped first, as a
-- CREATE OR REPLACE cannot change the result type (its callers PERFORM it, and PL/pgSQL bodies
-- hold no dependency on it).
-- SECURITY DEFINER (owner): the runtime role writes no events table itself.
DROP FUNCTION IF EXISTS events.emit(text, regclass, uuid, jsonb);
CREATE FUNCTION events.emit(p_type text, p_entity regclass, p_entity_id uuid, p_data jsonb)
  RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_id uuid;
BEGIN
  INSERT INTO events.pending (type, subject, entity, entity_id, data, request_id)
  VALUES (p_type, events.subject(p_entity, p_entity_id), p_entity, p_entity_id,
          jsonb_strip_nulls(p_data), tx.request_id())
  RETURNING id INTO v_id;
  RETURN v_id;
END
$$;
REVOKE ALL ON FUNCTION events.emit(text, regclass, uuid, jsonb) FROM PUBLIC;

-- Gives this transaction's staged events their positions, in the order they were staged, and
-- writes them to the outbox with a delivery (and its job) for every active webhook subscribed to
-- the type. Fires at commit (the constraint trigger below is INITIALLY DEFERRED; a session that
-- says SET CONSTRAINTS events.position_at_commit IMMEDIATE numbers at the end of each statement
-- instead, as the pgTAP suites do). The first firing of a transaction moves every staged event;
-- the others find nothing and return; events staged after that (by a later deferred trigger)
-- queue a firing of their own, which PostgreSQL runs before the commit completes.
-- Positions are taken under events.head's row lock, held to the end of the commit: a later
-- committer waits for it, so positions are in commit order (0041: "after N" never misses a late
-- commit; a reader that sees position N sees every lower one that will ever exist). Under
-- REPEATABLE READ a transaction whose snapshot predates the last move of the head fails here
-- with a serialization error instead of reusing a position.
-- LOCK ORDER. Two locks are taken at commit: the audit chain's (audit.link, sql/code/audit/
-- 030_link.sql, an advisory lock on its key 7354010472261181442) and events.head. The deferred
-- triggers fire in the order their rows were staged, which differs between transactions, so this
-- function takes the chain's lock FIRST, before events.head, whether or not audit.link has fired
-- yet (it is needed anyway: the outbox, head and delivery rows written here are audited and are
-- linked by a later firing of audit.link in this same commit). audit.link never takes
-- events.head. So every holder of events.head already holds the chain's lock: no two committers
-- can wait on each other (tests/sql/outbox_race.sh runs concurrent creates and checks both).
-- SECURITY DEFINER (owner): the committing role has no right on the outbox.
-- enable_seqscan off: events.pending is read by key whatever its heap's size, as audit.pending
-- is (the reason: audit.append in sql/code/audit/030_link.sql). It also holds for what this
-- calls (jobs.enqueue, by its unique key).
CREATE OR REPLACE FUNCTION events.link() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  SET enable_seqscan = off
  AS $$
DECLARE
  v_xid xid8 := pg_current_xact_id();
  v_position bigint;
  v_moved int := 0;
  r record;
  d record;
BEGIN
  -- This firing's own row already moved by an earlier firing: nothing to do (by its key, one
  -- index entry; see audit.link for why not "any row of this transaction").
  IF NOT EXISTS (SELECT FROM events.pending p WHERE p.xid = v_xid AND p.seq = NEW.seq) THEN
    RETURN NULL;
  END IF;
  PERFORM pg_advisory_xact_lock(7354010472261181442); -- the audit chain's key: see LOCK ORDER
  SELECT h.position INTO STRICT v_position FROM events.head h WHERE h.id FOR UPDATE;
  FOR r IN
    WITH moved AS (DELETE FROM events.pending p WHERE p.xid = v_xid RETURNING p.*)
    SELECT * FROM moved ORDER BY seq
  LOOP
    v_position := v_position + 1;
    v_moved := v_moved + 1;
    INSERT INTO events.outbox (position, id, type, time, subject, entity, entity_id, data, request_id)
    VALUES (v_position, r.id, r.type, r.time, r.subject, r.entity, r.entity_id, r.data, r.request_id);
    FOR d IN
      INSERT INTO events.deliveries (webhook_id, event_position, next_attempt_at)
      SELECT w.id, v_position, now() FROM events.webhooks w
       WHERE w.active AND r.type = ANY (w.event_types)
      RETURNING id
    LOOP
      PERFORM jobs.enqueue('webhooks.deliver', now(), jsonb_build_object('delivery_id', d.id, 'attempt', 1),
                           NULL, d.id || ':1');
    END LOOP;
  END LOOP;
  IF v_moved > 0 THEN
    UPDATE events.head SET position = v_position WHERE id;
  END IF;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION events.link() FROM PUBLIC;

DROP TRIGGER IF EXISTS position_at_commit ON events.pending;
CREATE CONSTRAINT TRIGGER position_at_commit AFTER INSERT ON events.pending
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION events.link();

-- Customers (C): created, updated (which fields, never their values), disposed. No name,
-- contact, address or credit code ever enters an event: ids, status and field names only.
CREATE OR REPLACE FUNCTION events.on_customer() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_data jsonb := jsonb_build_object('customer_id', NEW.id, 'status', NEW.status,
                                     'owner_id', NEW.owner_id, 'department_id', NEW.department_id,
                                     'version', NEW.version);
  v_changed text[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM events.emit('customer.created', TG_RELID, NEW.id, v_data);
    RETURN NULL;
  END IF;
  IF NEW.status = 'disposed' AND OLD.status IS DISTINCT FROM 'disposed' THEN
    PERFORM events.emit('customer.disposed', TG_RELID, NEW.id, v_data);
    RETURN NULL;
  END IF;
  -- Field names as the API calls them: *_enc holds the encrypted field, *_bidx its blind index
  -- (the same change), bookkeeping columns are no change of the customer.
  SELECT array_agg(DISTINCT regexp_replace(n.key, '_enc$', '') ORDER BY regexp_replace(n.key, '_enc$', ''))
    INTO v_changed
    FROM jsonb_each(to_jsonb(NEW)) n
    JOIN jsonb_each(to_jsonb(OLD)) o USING (key)
   WHERE n.value IS DISTINCT FROM o.value
     AND n.key NOT IN ('version', 'updated_at', 'search_bigrams')
     AND n.key !~ '_bidx$';
  IF v_changed IS NOT NULL THEN
    PERFORM events.emit('customer.updated', TG_RELID, NEW.id,
                        v_data || jsonb_build_object('changed', to_jsonb(v_changed)));
  END IF;
  RETURN NULL;
END
$$;
-- aa_events (zz_events before 0049): AFTER triggers fire in name order, and this one is named to
-- come before audit_row. A transaction's deferred firings run in the order they were queued;
-- with the event staged before the row's audit entry, events.link fires first at commit, and the
-- outbox row's own audit entry is staged while the batch's armed entry still waits, so ONE firing
-- of audit.link links them all (issue 15 target 3). Either order is correct; this one does less
-- under the chain's lock.
DROP TRIGGER IF EXISTS zz_events ON cust.customers;
CREATE OR REPLACE TRIGGER aa_events AFTER INSERT OR UPDATE ON cust.customers
  FOR EACH ROW EXECUTE FUNCTION events.on_customer();

-- Every move of every state machine (fsm.enforce logs each in fsm.log): "<machine>.state_changed",
-- plus the milestones subscribers ask for by name (an assessment published, a warning closed, a
-- plan version in force). A machine added later needs its type in events.types
-- (sql/tests/events.sql fails until it has one).
CREATE OR REPLACE FUNCTION events.on_move() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_entity regclass;
  v_data jsonb;
  v_milestone text;
BEGIN
  SELECT m.entity INTO STRICT v_entity FROM fsm.machines m WHERE m.machine = NEW.machine;
  v_data := jsonb_build_object('id', NEW.entity_id, 'machine', NEW.machine, 'from', NEW.from_state,
                               'action', NEW.action, 'to', NEW.to_state, 'actor_id', NEW.actor_id);
  PERFORM events.emit(NEW.machine || '.state_changed', v_entity, NEW.entity_id, v_data);
  v_milestone := CASE
                   WHEN NEW.machine = 'assessment' AND NEW.to_state = 'published' THEN 'assessment.published'
                   WHEN NEW.machine = 'risk_warning' AND NEW.to_state = 'closed' THEN 'risk_warning.closed'
                   WHEN NEW.machine = 'plan_version' AND NEW.to_state = 'effective' THEN 'plan_version.effective'
                 END;
  IF v_milestone IS NOT NULL THEN
    PERFORM events.emit(v_milestone, v_entity, NEW.entity_id, v_data);
  END IF;
  RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS zz_events ON fsm.log;
CREATE OR REPLACE TRIGGER aa_events AFTER INSERT ON fsm.log
  FOR EACH ROW EXECUTE FUNCTION events.on_move();

-- A case's deadline marked overdue by the job cases.deadlines (P2.2).
CREATE OR REPLACE FUNCTION events.on_deadline() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF NEW.overdue_at IS NOT NULL AND OLD.overdue_at IS NULL THEN
    PERFORM events.emit('case.overdue', 'cases.cases', NEW.case_id,
                        jsonb_build_object('case_id', NEW.case_id, 'deadline_id', NEW.id,
                                           'kind', NEW.kind, 'due_at', api.ts(NEW.due_at),
                                           'overdue_at', api.ts(NEW.overdue_at)));
  END IF;
  RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS zz_events ON cases.deadlines;
CREATE OR REPLACE TRIGGER aa_events AFTER UPDATE OF overdue_at ON cases.deadlines
  FOR EACH ROW EXECUTE FUNCTION events.on_deadline();

-- A warning raised by an indicator's measurement (R3.2).
CREATE OR REPLACE FUNCTION events.on_warning() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  PERFORM events.emit('risk_warning.raised', TG_RELID, NEW.id,
                      jsonb_build_object('id', NEW.id, 'kri_id', NEW.kri_id, 'level', NEW.level,
                                         'value', NEW.value::text, 'threshold', NEW.threshold::text));
  RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS zz_events ON risk.warnings;
CREATE OR REPLACE TRIGGER aa_events AFTER INSERT ON risk.warnings
  FOR EACH ROW EXECUTE FUNCTION events.on_warning();

-- Whether the caller may see the row an event is about: the row's own policies decide (an event
-- about a customer is visible to exactly those who may see the customer), so the events follow
-- every rule of the resources without a second copy of them. SECURITY INVOKER on purpose.
CREATE OR REPLACE FUNCTION events.visible(p_entity regclass, p_id uuid) RETURNS boolean
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE v boolean;
BEGIN
  IF tx.user_id() IS NULL THEN
    RETURN false;
  END IF;
  EXECUTE format('SELECT EXISTS (SELECT FROM %s x WHERE x.id = $1)', p_entity) INTO v USING p_id;
  RETURN v;
END
$$;
REVOKE ALL ON FUNCTION events.visible(regclass, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION events.visible(regclass, uuid) TO tianxing_app;

DROP POLICY IF EXISTS outbox_read ON events.outbox;
CREATE POLICY outbox_read ON events.outbox FOR SELECT TO tianxing_app
  USING (events.visible(entity, entity_id));
-- The counter is no secret: a reader learns how far the log has gone, not what is in it.
DROP POLICY IF EXISTS head_read ON events.head;
CREATE POLICY head_read ON events.head FOR SELECT TO tianxing_app USING (true);
GRANT SELECT ON events.head TO tianxing_app;

-- The envelope as subscribers and front-ends receive it (contract: EventEnvelope).
CREATE OR REPLACE FUNCTION events.envelope(e events.outbox) RETURNS jsonb
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT jsonb_build_object('id', e.id, 'position', e.position, 'type', e.type,
                            'time', api.ts(e.time), 'subject', e.subject, 'data', e.data)
$$;
REVOKE ALL ON FUNCTION events.envelope(events.outbox) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION events.envelope(events.outbox) TO tianxing_app;

-- The events after position p_after that the caller may see, oldest first, at most p_limit
-- (1..500), and `last_position`: where the next call starts. When the page is not full,
-- last_position is the head as this snapshot saw it (every position up to it has committed or
-- never will, 0041), so a reader who sees none of the recent events still moves on instead of
-- scanning them again. A Server-Sent Events route sends `position` as the event id and resumes
-- from Last-Event-ID with this function.
CREATE OR REPLACE FUNCTION events.after(p_after bigint, p_limit int DEFAULT 100) RETURNS jsonb
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_limit int := least(greatest(coalesce(p_limit, 100), 1), 500);
  v_items jsonb;
  v_last bigint;
  v_n int;
BEGIN
  PERFORM api.require_user();
  IF p_after IS NULL OR p_after < 0 THEN
    PERFORM api.fail('TXVAL', 'after', 'must be a position (0 or more)');
  END IF;
  SELECT coalesce(jsonb_agg(events.envelope(p) ORDER BY p.position), '[]'), max(p.position), count(*)
    INTO v_items, v_last, v_n
    FROM (SELECT * FROM events.outbox o WHERE o.position > p_after
           ORDER BY o.position LIMIT v_limit) p;
  IF v_n < v_limit THEN
    SELECT greatest(h.position, p_after) INTO v_last FROM events.head h;
  END IF;
  RETURN jsonb_build_object('items', v_items, 'last_position', coalesce(v_last, p_after));
END
$$;
REVOKE ALL ON FUNCTION events.after(bigint, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION events.after(bigint, int) TO tianxing_app;
