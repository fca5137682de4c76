-- State machines as data (issue 9 item 4; docs/architecture.md, "State machines"); the tables
-- are in migration 0014, which explains the model and the errors (TXTRN -> 409
-- invalid_transition with {state, allowed_actions[, guard]}). fsm.move is the one call an API
-- function makes; fsm.enforce, a trigger on each machine's table, refuses every other change of
-- the state column and writes fsm.log.

-- The machine of a name; 42704 (a bug of ours) when there is none.
CREATE OR REPLACE FUNCTION fsm.machine(p_machine text) RETURNS fsm.machines
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE m fsm.machines;
BEGIN
  SELECT * INTO m FROM fsm.machines x WHERE x.machine = p_machine;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'fsm: no state machine %', p_machine USING ERRCODE = '42704';
  END IF;
  RETURN m;
END
$$;

-- Whether the caller can see the entity (its table's row-level security decides). Dynamic SQL
-- over a regclass from fsm.machines, never over caller text.
CREATE OR REPLACE FUNCTION fsm.visible(p_machine text, p_id uuid) RETURNS boolean
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  m fsm.machines := fsm.machine(p_machine);
  v boolean;
BEGIN
  EXECUTE format('SELECT EXISTS (SELECT FROM %s x WHERE x.id = $1)', m.entity) INTO v USING p_id;
  RETURN v;
END
$$;

-- The entity's current state as the caller sees it; P0002 when missing or invisible.
CREATE OR REPLACE FUNCTION fsm.state(p_machine text, p_id uuid) RETURNS text
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  m fsm.machines := fsm.machine(p_machine);
  v text;
BEGIN
  EXECUTE format('SELECT x.%I FROM %s x WHERE x.id = $1', m.state_column, m.entity)
    INTO v USING p_id;
  IF v IS NULL THEN
    RAISE EXCEPTION 'no such %', p_machine USING ERRCODE = 'P0002';
  END IF;
  RETURN v;
END
$$;

-- The actions the caller may ask for from p_state, sorted (guards not evaluated, internal moves
-- left out).
CREATE OR REPLACE FUNCTION fsm.allowed_actions(p_machine text, p_state text) RETURNS text[]
  LANGUAGE sql STABLE
  AS $$
  SELECT coalesce(array_agg(t.action ORDER BY t.action), '{}')
    FROM fsm.transitions t
   WHERE t.machine = p_machine AND t.from_state = p_state AND NOT t.internal
     AND t.roles && tx.roles()
$$;

-- Raises TXTRN: MESSAGE for people, DETAIL the agreed JSON object (state, allowed_actions, guard).
CREATE OR REPLACE FUNCTION fsm.refuse(p_machine text, p_state text, p_message text,
                                      p_guard text DEFAULT NULL)
  RETURNS void
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'TXTRN', MESSAGE = p_message,
    DETAIL = (jsonb_build_object('state', p_state,
                                 'allowed_actions', to_jsonb(fsm.allowed_actions(p_machine, p_state)))
              || CASE WHEN p_guard IS NULL THEN '{}'::jsonb
                      ELSE jsonb_build_object('guard', p_guard) END)::text;
END
$$;

-- The move p_action from p_from, checked against the caller's roles. 42501 when no move of that
-- action admits the caller in any state ("you may never"), TXTRN when there is none from this
-- state or it is not the caller's here ("not now"), 42704 for an action the machine lacks.
CREATE OR REPLACE FUNCTION fsm.transition(p_machine text, p_from text, p_action text)
  RETURNS fsm.transitions
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  t fsm.transitions;
  v_roles text[];
BEGIN
  SELECT array_agg(DISTINCT r ORDER BY r) INTO v_roles
    FROM fsm.transitions x, unnest(x.roles) r
   WHERE x.machine = p_machine AND x.action = p_action;
  IF v_roles IS NULL THEN
    RAISE EXCEPTION 'fsm: state machine % has no action %', p_machine, p_action
      USING ERRCODE = '42704';
  END IF;
  IF NOT (v_roles && tx.roles()) THEN
    RAISE EXCEPTION '% needs the role %', p_action, array_to_string(v_roles, ' or ')
      USING ERRCODE = '42501';
  END IF;
  SELECT * INTO t FROM fsm.transitions x
   WHERE x.machine = p_machine AND x.from_state = p_from AND x.action = p_action
     AND x.roles && tx.roles();
  IF NOT FOUND THEN
    PERFORM fsm.refuse(p_machine, p_from,
                       format('%s is not possible: the %s is %s', p_action, p_machine, p_from));
  END IF;
  RETURN t;
END
$$;

-- The guard's function, checked to be (uuid) RETURNS boolean; NULL when there is none.
CREATE OR REPLACE FUNCTION fsm.guard_proc(p_guard text) RETURNS regprocedure
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE v regprocedure;
BEGIN
  IF p_guard IS NULL THEN
    RETURN NULL;
  END IF;
  SELECT p.oid INTO v FROM pg_proc p
   WHERE p.oid = to_regprocedure(p_guard) AND p.prorettype = 'boolean'::regtype
     AND p.pronargs = 1 AND p.proargtypes[0] = 'uuid'::regtype;
  IF v IS NULL THEN
    RAISE EXCEPTION 'fsm: guard % is not a function (uuid) RETURNS boolean', p_guard
      USING ERRCODE = '42883';
  END IF;
  RETURN v;
END
$$;

-- TXTRN naming the guard when it does not return true for the entity. The call is built from
-- the catalog's schema and name of a resolved function, quoted: no text of a row runs as SQL.
CREATE OR REPLACE FUNCTION fsm.check_guard(t fsm.transitions, p_id uuid) RETURNS void
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_proc regprocedure := fsm.guard_proc(t.guard);
  v_name text;
  v_call text;
  v_ok boolean;
BEGIN
  IF v_proc IS NULL THEN
    RETURN;
  END IF;
  SELECT n.nspname || '.' || p.proname, format('SELECT %I.%I($1)', n.nspname, p.proname)
    INTO v_name, v_call
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = v_proc;
  EXECUTE v_call INTO v_ok USING p_id;
  IF v_ok IS NOT TRUE THEN
    PERFORM fsm.refuse(t.machine, t.from_state,
                       format('%s is not possible: the guard %s refused', t.action, v_name)
                       || coalesce(' (' || obj_description(v_proc, 'pg_proc') || ')', ''),
                       v_name);
  END IF;
END
$$;

-- Would p_action be possible now for this caller? Raises as fsm.move would (P0002, 42501,
-- TXTRN, guard included); returns the state it leads to. For API functions that must refuse
-- an illegal move before they validate the rest of the request or make other changes.
CREATE OR REPLACE FUNCTION fsm.check(p_machine text, p_id uuid, p_action text) RETURNS text
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE t fsm.transitions;
BEGIN
  t := fsm.transition(p_machine, fsm.state(p_machine, p_id), p_action);
  PERFORM fsm.check_guard(t, p_id);
  RETURN t.to_state;
END
$$;

-- THE way to change a state: moves the entity by p_action, also setting the columns of p_set
-- (a JSON object: column -> value, read with jsonb_populate_record, e.g. {"published_at": ...})
-- in the same UPDATE, so that CHECK constraints tying state and columns hold. p_reason goes to
-- the log. Returns the new state. It runs as the caller: the table's policies apply. The
-- trigger fsm.enforce() checks the move again and logs it.
CREATE OR REPLACE FUNCTION fsm.move(p_machine text, p_id uuid, p_action text,
                                    p_reason text DEFAULT NULL, p_set jsonb DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql
  AS $$
DECLARE
  m fsm.machines := fsm.machine(p_machine);
  v_from text := fsm.state(p_machine, p_id);
  t fsm.transitions := fsm.transition(p_machine, v_from, p_action);
  v_sets text := '';
  v_locked text;
  k text;
  n bigint;
BEGIN
  -- Lock the row (the table's UPDATE policy applies: a row the caller sees but may not change is
  -- 42501), so that of two moves at once the second decides on the state the first left.
  EXECUTE format('SELECT x.%I FROM %s x WHERE x.id = $1 FOR UPDATE', m.state_column, m.entity)
    INTO v_locked USING p_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n = 0 THEN
    RAISE EXCEPTION 'this % cannot be changed by the caller', p_machine USING ERRCODE = '42501';
  END IF;
  IF v_locked IS DISTINCT FROM v_from THEN
    v_from := v_locked;
    t := fsm.transition(p_machine, v_from, p_action);
  END IF;
  IF p_set IS NOT NULL AND jsonb_typeof(p_set) <> 'object' THEN
    RAISE EXCEPTION 'fsm.move: p_set must be a JSON object' USING ERRCODE = '42703';
  END IF;
  FOR k IN SELECT jsonb_object_keys(coalesce(p_set, '{}')) ORDER BY 1 LOOP
    IF k IN ('id', m.state_column) OR NOT EXISTS (
         SELECT FROM pg_attribute a
          WHERE a.attrelid = m.entity AND a.attname = k AND a.attnum > 0 AND NOT a.attisdropped)
    THEN
      RAISE EXCEPTION 'fsm.move: % is not a column % may set', k, m.entity USING ERRCODE = '42703';
    END IF;
    v_sets := v_sets || format(', %1$I = s.%1$I', k);
  END LOOP;
  -- Announce the move to fsm.enforce(), which consumes it on this row's UPDATE.
  PERFORM set_config('fsm.armed', jsonb_build_object('machine', p_machine, 'id', p_id,
                                                     'from', v_from, 'action', p_action,
                                                     'reason', p_reason)::text, true);
  EXECUTE format('UPDATE %1$s x SET %2$I = $1%3$s FROM jsonb_populate_record(NULL::%1$s, $3) s'
                 ' WHERE x.id = $2', m.entity, m.state_column, v_sets)
    USING t.to_state, p_id, coalesce(p_set, '{}');
  GET DIAGNOSTICS n = ROW_COUNT;
  PERFORM set_config('fsm.armed', '', true);
  IF n = 0 THEN
    RAISE EXCEPTION 'this % cannot be changed by the caller', p_machine USING ERRCODE = '42501';
  END IF;
  RETURN t.to_state;
END
$$;

-- The generic trigger, BEFORE INSERT OR UPDATE on every machine's table (TG_ARGV[0]: the
-- machine). INSERT: the row starts in an initial state. UPDATE: a change of the state column is
-- refused unless fsm.move announced it for this row; an announced move is checked again here,
-- against the row's state as locked by this UPDATE (a concurrent move answers TXTRN), the
-- caller's roles and the guard, and logged. SECURITY DEFINER (owner) only so that it can write
-- fsm.log, which the runtime role cannot: claims (tx.*) are the caller's, and the policies the
-- guard's reads go through apply to the owner as well (FORCE ROW LEVEL SECURITY).
-- Named zz_state_machine on each table so that it fires after the table's other BEFORE triggers
-- (alphabetical order), which could otherwise still change the state.
CREATE OR REPLACE FUNCTION fsm.enforce() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  m fsm.machines;
  t fsm.transitions;
  v_new text;
  v_old text;
  v_id uuid;
  v_armed jsonb;
BEGIN
  SELECT * INTO m FROM fsm.machines x WHERE x.machine = TG_ARGV[0] AND x.entity = TG_RELID;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'fsm: % is not the table of state machine %', TG_RELID::regclass, TG_ARGV[0]
      USING ERRCODE = '42704';
  END IF;
  v_new := to_jsonb(NEW) ->> m.state_column;
  v_id := (to_jsonb(NEW) ->> 'id')::uuid;
  IF TG_OP = 'INSERT' THEN
    IF v_new IS NULL OR NOT v_new = ANY (m.initial_states) THEN
      RAISE EXCEPTION 'fsm: a new % starts as %, not %', m.machine,
        array_to_string(m.initial_states, ' or '), coalesce(v_new, 'NULL') USING ERRCODE = '55000';
    END IF;
    RETURN NEW;
  END IF;
  v_old := to_jsonb(OLD) ->> m.state_column;
  v_armed := NULLIF(current_setting('fsm.armed', true), '')::jsonb;
  IF v_armed IS NULL OR v_armed ->> 'machine' IS DISTINCT FROM m.machine
     OR (v_armed ->> 'id')::uuid IS DISTINCT FROM v_id THEN
    IF v_new IS DISTINCT FROM v_old THEN
      RAISE EXCEPTION 'fsm: the % of % % changes only through fsm.move', m.state_column,
        m.machine, v_id USING ERRCODE = '55000';
    END IF;
    RETURN NEW;
  END IF;
  PERFORM set_config('fsm.armed', '', true); -- one announcement, one move
  IF v_old IS DISTINCT FROM v_armed ->> 'from' THEN
    PERFORM fsm.refuse(m.machine, v_old,
                       format('%s is not possible: the %s is %s now (it was %s)',
                              v_armed ->> 'action', m.machine, v_old, v_armed ->> 'from'));
  END IF;
  t := fsm.transition(m.machine, v_old, v_armed ->> 'action');
  IF t.to_state IS DISTINCT FROM v_new THEN
    RAISE EXCEPTION 'fsm: % of % leads to %, not %', t.action, m.machine, t.to_state, v_new
      USING ERRCODE = '55000';
  END IF;
  PERFORM fsm.check_guard(t, v_id);
  INSERT INTO fsm.log (machine, entity_id, from_state, action, to_state, actor_id, actor_roles,
                       reason, request_id)
  VALUES (m.machine, v_id, v_old, t.action, v_new, tx.user_id(), tx.roles(),
          v_armed ->> 'reason', tx.request_id());
  RETURN NEW;
END
$$;

-- Append-only: no UPDATE, DELETE or TRUNCATE of the log, whoever asks (the audit trail shows a
-- superuser who disables this).
CREATE OR REPLACE FUNCTION fsm.refuse_change() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  RAISE EXCEPTION 'fsm.%: % is not allowed: the transition log is append-only', TG_TABLE_NAME,
    TG_OP USING ERRCODE = '42501';
END
$$;
CREATE OR REPLACE TRIGGER log_append_only BEFORE UPDATE OR DELETE ON fsm.log
  FOR EACH ROW EXECUTE FUNCTION fsm.refuse_change();
CREATE OR REPLACE TRIGGER log_no_truncate BEFORE TRUNCATE ON fsm.log
  FOR EACH STATEMENT EXECUTE FUNCTION fsm.refuse_change();

-- A move is visible with its entity; auditors and administrators read every move (they read the
-- audit trail, which holds the same facts, anyway). fsm.enforce() (owner) appends.
DROP POLICY IF EXISTS log_read ON fsm.log;
CREATE POLICY log_read ON fsm.log FOR SELECT
  USING ((SELECT tx.has_role('auditor')) OR (SELECT tx.has_role('admin'))
         OR fsm.visible(machine, entity_id));
DROP POLICY IF EXISTS log_definer_insert ON fsm.log;
CREATE POLICY log_definer_insert ON fsm.log FOR INSERT TO tianxing_owner WITH CHECK (true);

-- What is wrong with the definitions, one line each (sql/tests/state_machines.sql wants none): a
-- table without `id uuid` or the state column, without the zz_state_machine trigger, a guard
-- that does not resolve to a function (uuid) RETURNS boolean the runtime role may execute, an
-- initial state no move leaves or reaches.
CREATE OR REPLACE FUNCTION fsm.lint() RETURNS SETOF text
  LANGUAGE sql STABLE
  AS $$
  SELECT format('%s: %s has no uuid column id', m.machine, m.entity) FROM fsm.machines m
   WHERE NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = m.entity AND a.attname = 'id'
                       AND a.atttypid = 'uuid'::regtype AND NOT a.attisdropped)
  UNION ALL
  SELECT format('%s: %s has no text column %s', m.machine, m.entity, m.state_column)
    FROM fsm.machines m
   WHERE NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = m.entity
                       AND a.attname = m.state_column AND a.atttypid = 'text'::regtype
                       AND NOT a.attisdropped)
  UNION ALL
  SELECT format('%s: %s has no enabled trigger zz_state_machine running fsm.enforce(%L)',
                m.machine, m.entity, m.machine)
    FROM fsm.machines m
   WHERE NOT EXISTS (SELECT FROM pg_trigger g
                      WHERE g.tgrelid = m.entity AND g.tgname = 'zz_state_machine'
                        AND g.tgfoid = 'fsm.enforce()'::regprocedure AND g.tgenabled <> 'D'
                        AND g.tgtype & 2 <> 0      -- BEFORE
                        AND g.tgtype & 4 <> 0      -- INSERT
                        AND g.tgtype & 16 <> 0     -- UPDATE
                        AND g.tgattr::text = '' -- every UPDATE, not UPDATE OF some columns
                        AND encode(g.tgargs, 'escape') = m.machine || '\000')
  UNION ALL
  SELECT format('%s: %s --%s--> has guard %s, not a function (uuid) RETURNS boolean that '
                'tianxing_app may execute', t.machine, t.from_state, t.action, t.guard)
    FROM fsm.transitions t
   WHERE t.guard IS NOT NULL
     AND NOT EXISTS (SELECT FROM pg_proc p
                      WHERE p.oid = to_regprocedure(t.guard) AND p.prorettype = 'boolean'::regtype
                        AND p.pronargs = 1 AND p.proargtypes[0] = 'uuid'::regtype
                        AND has_function_privilege('tianxing_app', p.oid, 'EXECUTE'))
  UNION ALL
  SELECT format('%s: initial state %s has no move', m.machine, s)
    FROM fsm.machines m, unnest(m.initial_states) s
   WHERE NOT EXISTS (SELECT FROM fsm.transitions t WHERE t.machine = m.machine AND t.from_state = s)
$$;

-- One page of an entity's moves, oldest first (the caller must be able to see the entity: the
-- log's policy asks its table). Keyset: the cursor is the id of the last move of the page before.
CREATE OR REPLACE FUNCTION fsm.history(p_machine text, p_id uuid, p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_after bigint;
  v_out json;
BEGIN
  IF p_cursor IS NOT NULL THEN
    IF p_cursor !~ '^[0-9]{1,18}$' THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
    v_after := p_cursor::bigint;
  END IF;
  WITH page AS (
    SELECT l, l.id, row_number() OVER (ORDER BY l.id) AS rn
      FROM fsm.log l
     WHERE l.machine = p_machine AND l.entity_id = p_id AND (v_after IS NULL OR l.id > v_after)
     ORDER BY l.id
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(json_build_object(
                               'id', (p.l).id, 'from_state', (p.l).from_state,
                               'action', (p.l).action, 'to_state', (p.l).to_state,
                               'actor_id', (p.l).actor_id, 'at', api.ts((p.l).at),
                               'reason', (p.l).reason, 'request_id', (p.l).request_id)
                             ORDER BY p.rn) FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN (max(p.id) FILTER (WHERE p.rn = v_limit))::text END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA fsm FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fsm.machine(text), fsm.visible(text, uuid), fsm.state(text, uuid),
  fsm.allowed_actions(text, text), fsm.refuse(text, text, text, text),
  fsm.transition(text, text, text), fsm.guard_proc(text), fsm.check_guard(fsm.transitions, uuid),
  fsm.check(text, uuid, text), fsm.move(text, uuid, text, text, jsonb), fsm.lint(),
  fsm.history(text, uuid, int, text)
  TO tianxing_app;
