-- 0014 state machines as data (issue 9, item 4; docs/architecture.md, "State machines").
-- Runs as tianxing_owner inside one transaction opened by `tianxingd migrate`. Numbered 0014:
-- 0013 is another part of issue 9 (jobs); the loader only asks for increasing numbers.
--
-- Every entity with a life cycle (a regulation version now; cases, assessment cycles, warnings and
-- plans of modules P, Q and R next) is a row of fsm.machines naming its table and state column,
-- and its moves are rows of ONE table, fsm.transitions: (machine, from_state, action) -> to_state,
-- the roles that may make the move, and an optional guard (a function of the entity's id that
-- must return true). Nothing else decides whether a state may change:
--   * fsm.move(machine, id, action, reason, set) is what API functions call: it finds the move
--     from the current state, or raises TXTRN (409 invalid_transition) whose DETAIL lists the
--     actions the caller may take from that state; then it updates the row.
--   * the trigger fsm.enforce() on the entity's table refuses any change of the state column that
--     fsm.move did not announce, checks the move again against the table (roles, guard, the
--     state the row really has under its lock) and writes it to fsm.log. So an UPDATE written by
--     hand cannot skip the rules, and a move cannot happen without its log row.
--   * fsm.log is append-only and audited (audit.attach: hash chain) like every business table.
--
-- Errors (SQLSTATE -> problem, src/db/sqlstate.c):
--   TXTRN  the move is not possible now -> 409 invalid_transition. MESSAGE says why, DETAIL is a
--          JSON object: {"state": <current>, "allowed_actions": [...]} (the actions this caller
--          may take from there, never the internal ones), plus "guard": "<schema.function>" when
--          a guard refused. Guards are not evaluated for allowed_actions (they may be costly).
--   42501  the caller holds none of the roles of this action (in any state)   -> 403
--   P0002  the entity does not exist or is not visible                       -> 404
--   55000, 42704, 42703, 42883: a state column changed without fsm.move, an unknown machine,
--          action, column or guard: bugs of ours, answered 500 and logged.
--
-- The guard column is text holding a regprocedure's canonical text ('org.f(uuid)'), resolved
-- with to_regprocedure() on use and never EXECUTEd as written: a column of type regprocedure
-- would make pg_upgrade refuse the cluster (it allows regclass, regtype and regrole only), and
-- with sql/code applied after the migrations a guard may not exist yet when its row is inserted.
-- fsm.lint() lists definitions that do not resolve; sql/tests/state_machines.sql requires none.

CREATE SCHEMA fsm;
REVOKE ALL ON SCHEMA fsm FROM PUBLIC;
GRANT USAGE ON SCHEMA fsm TO tianxing_app;

-- One row per life cycle. The entity table has a uuid primary key `id` and a text state column.
CREATE TABLE fsm.machines (
  machine        text PRIMARY KEY CHECK (machine ~ '^[a-z][a-z0-9_]{0,62}$'),
  entity         regclass NOT NULL UNIQUE,
  state_column   text NOT NULL CHECK (state_column ~ '^[a-z][a-z0-9_]{0,62}$'),
  -- the states a new row may start in (INSERTs in another state are refused)
  initial_states text[] NOT NULL CHECK (cardinality(initial_states) > 0
                                        AND array_position(initial_states, NULL) IS NULL),
  description    text NOT NULL CHECK (length(description) BETWEEN 1 AND 500)
);
COMMENT ON TABLE fsm.machines IS 'Entities with a life cycle: their table and state column.';

CREATE TABLE fsm.transitions (
  machine    text NOT NULL REFERENCES fsm.machines (machine),
  from_state text NOT NULL CHECK (from_state ~ '^[a-z][a-z0-9_]{0,62}$'),
  action     text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_]{0,62}$'),
  to_state   text NOT NULL CHECK (to_state ~ '^[a-z][a-z0-9_]{0,62}$'),
  -- the caller needs one of these roles (tx.roles(): the token's roles the employee still holds)
  roles      text[] NOT NULL CHECK (cardinality(roles) > 0
                                    AND array_position(roles, NULL) IS NULL),
  -- NULL, or a function (uuid) RETURNS boolean as regprocedure text; its COMMENT says, for the
  -- client, what it requires ("the regulation has at least one clause")
  guard      text CHECK (guard ~ '^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\(uuid\)$'),
  -- made by another move or a job, never asked for directly: left out of allowed_actions
  internal   boolean NOT NULL DEFAULT false,
  PRIMARY KEY (machine, from_state, action)
);
COMMENT ON TABLE fsm.transitions IS
  'The moves of every state machine: from_state --action--> to_state, by roles, under a guard.';

-- Every move made: who moved what, from where to where, when, why, in which request.
CREATE TABLE fsm.log (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  machine     text NOT NULL REFERENCES fsm.machines (machine),
  entity_id   uuid NOT NULL,
  from_state  text NOT NULL,
  action      text NOT NULL,
  to_state    text NOT NULL,
  actor_id    uuid,
  actor_roles text[] NOT NULL DEFAULT '{}',
  at          timestamptz NOT NULL DEFAULT now(),
  reason      text CHECK (length(reason) BETWEEN 1 AND 2000),
  request_id  text
);
COMMENT ON TABLE fsm.log IS 'Append-only record of every state change made through fsm.move.';
CREATE INDEX log_entity_idx ON fsm.log (machine, entity_id, id);

SELECT audit.attach('fsm.machines');
SELECT audit.attach('fsm.transitions');
SELECT audit.attach('fsm.log');

-- The regulations' life cycle (0004): HR publishes a draft (S1) when it has clauses; publishing
-- the next version of a code supersedes the published one (internal: no route asks for it).
INSERT INTO fsm.machines (machine, entity, state_column, initial_states, description)
VALUES ('regulation', 'org.regulations', 'status', '{draft}',
        'A version of a regulation: HR drafts and publishes it (S1); the next published version supersedes it.');
INSERT INTO fsm.transitions (machine, from_state, action, to_state, roles, guard, internal) VALUES
  ('regulation', 'draft', 'publish', 'published', '{hr}', 'org.regulation_has_clauses(uuid)', false),
  ('regulation', 'published', 'supersede', 'superseded', '{hr}', NULL, true);

ALTER TABLE fsm.machines ENABLE ROW LEVEL SECURITY;
ALTER TABLE fsm.machines FORCE ROW LEVEL SECURITY;
ALTER TABLE fsm.transitions ENABLE ROW LEVEL SECURITY;
ALTER TABLE fsm.transitions FORCE ROW LEVEL SECURITY;
ALTER TABLE fsm.log ENABLE ROW LEVEL SECURITY;
ALTER TABLE fsm.log FORCE ROW LEVEL SECURITY;

REVOKE ALL ON ALL TABLES IN SCHEMA fsm FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA fsm FROM PUBLIC;
-- Read only: definitions change by migration (owner), log rows come from fsm.enforce() (owner).
GRANT SELECT ON fsm.machines, fsm.transitions, fsm.log TO tianxing_app;

-- ==== code: moves to sql/code/kit/ (and org/) when the schema/code split lands ====
-- Everything below is re-runnable: CREATE OR REPLACE, DROP POLICY IF EXISTS + CREATE POLICY.

-- Definitions are public to every request; only the owner (migrations) writes them.
DROP POLICY IF EXISTS machines_read ON fsm.machines;
CREATE POLICY machines_read ON fsm.machines FOR SELECT USING (true);
DROP POLICY IF EXISTS machines_owner_write ON fsm.machines;
CREATE POLICY machines_owner_write ON fsm.machines FOR ALL TO tianxing_owner
  USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS transitions_read ON fsm.transitions;
CREATE POLICY transitions_read ON fsm.transitions FOR SELECT USING (true);
DROP POLICY IF EXISTS transitions_owner_write ON fsm.transitions;
CREATE POLICY transitions_owner_write ON fsm.transitions FOR ALL TO tianxing_owner
  USING (true) WITH CHECK (true);

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

-- ---------------------------------------------------------------------------------------------
-- Module G: the regulations on the machine `regulation` (goes to sql/code/org/).

-- Guard of publish.
CREATE OR REPLACE FUNCTION org.regulation_has_clauses(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE
  AS $$ SELECT EXISTS (SELECT FROM org.regulation_clauses c WHERE c.regulation_id = p_id) $$;
COMMENT ON FUNCTION org.regulation_has_clauses(uuid) IS
  'a regulation without clauses cannot be published';
REVOKE ALL ON FUNCTION org.regulation_has_clauses(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION org.regulation_has_clauses(uuid) TO tianxing_app;

-- Published and superseded versions are read-only. (Which status follows which is no longer
-- written here: fsm.transitions says it, zz_state_machine enforces it.)
CREATE OR REPLACE FUNCTION org.regulations_lifecycle() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF OLD.status <> 'draft'
     AND (NEW.code, NEW.version, NEW.title, NEW.effective_from, NEW.based_on, NEW.published_at,
          NEW.published_by, NEW.created_by)
         IS DISTINCT FROM
         (OLD.code, OLD.version, OLD.title, OLD.effective_from, OLD.based_on, OLD.published_at,
          OLD.published_by, OLD.created_by) THEN
    RAISE EXCEPTION 'regulation % version % is % and cannot change', OLD.code, OLD.version,
      OLD.status USING ERRCODE = 'TXCON';
  END IF;
  RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER zz_state_machine BEFORE INSERT OR UPDATE ON org.regulations
  FOR EACH ROW EXECUTE FUNCTION fsm.enforce('regulation');

-- POST /v1/regulations/{id}/publish (hr, S1): the draft becomes the published version from
-- p_effective_from (default today); the version published before is superseded. TXTRN (409
-- invalid_transition) when it is not a draft or has no clauses (guard), checked before the date
-- so that a second publish answers 409 whatever the body; TXVAL when it would take effect in the
-- future or before the current version.
CREATE OR REPLACE FUNCTION api.regulation_publish(p_id uuid, p_effective_from date) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  r org.regulations;
  v_prev org.regulations;
  v_from date := coalesce(p_effective_from, current_date);
BEGIN
  PERFORM api.require_role('hr');
  SELECT * INTO r FROM org.regulations x WHERE x.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such regulation' USING ERRCODE = 'P0002';
  END IF;
  PERFORM fsm.check('regulation', r.id, 'publish');
  -- Publishing puts the version in force and supersedes the previous one at once, so it cannot
  -- take effect later: HR publishes on the day a version takes effect (or with an earlier date).
  IF v_from > current_date THEN
    PERFORM api.fail('TXVAL', 'effective_from', 'must not be in the future: publish the version on the day it takes effect');
  END IF;
  SELECT * INTO v_prev FROM org.regulations x
   WHERE x.code = r.code AND x.status = 'published' FOR UPDATE;
  IF FOUND THEN
    IF v_prev.effective_from > v_from THEN
      PERFORM api.fail('TXVAL', 'effective_from',
                       format('must not be before %s, when the current version took effect',
                              v_prev.effective_from));
    END IF;
    PERFORM fsm.move('regulation', v_prev.id, 'supersede',
                     format('version %s was published', r.version),
                     jsonb_build_object('superseded_at', now()));
  END IF;
  PERFORM fsm.move('regulation', r.id, 'publish', NULL,
                   jsonb_build_object('effective_from', v_from, 'published_at', now(),
                                      'published_by', tx.user_id()));
  SELECT * INTO r FROM org.regulations x WHERE x.id = p_id;
  RETURN api.regulation_json(r, true);
END
$$;

-- GET /v1/regulations/{id}/transitions (whoever may read the version): its moves, oldest first.
CREATE OR REPLACE FUNCTION api.regulation_transitions(p_id uuid, p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  PERFORM api.require_user();
  IF NOT EXISTS (SELECT FROM org.regulations x WHERE x.id = p_id) THEN
    RAISE EXCEPTION 'no such regulation' USING ERRCODE = 'P0002';
  END IF;
  RETURN fsm.history('regulation', p_id, p_limit, p_cursor);
END
$$;
REVOKE ALL ON FUNCTION api.regulation_transitions(uuid, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.regulation_transitions(uuid, int, text) TO tianxing_app;
