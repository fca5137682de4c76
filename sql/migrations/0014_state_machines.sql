-- 0014 state machines as data (issue 9, item 4; docs/architecture.md, "State machines"): the
-- tables and the regulations' machine. The functions, triggers and the log's policies are in
-- sql/code/kit/050_state_machines.sql; the regulations' use of them in sql/code/org/030_regulations.sql.
-- Runs as tianxing_owner inside one transaction opened by `tianxingd migrate`.
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

-- Definitions are public to every request; only the owner writes them. These policies live here,
-- not in sql/code (which is applied after all migrations), because later migrations insert the
-- machines and transitions of P, Q and R as the owner under forced row-level security.
CREATE POLICY machines_read ON fsm.machines FOR SELECT USING (true);
CREATE POLICY machines_owner_write ON fsm.machines FOR ALL TO tianxing_owner
  USING (true) WITH CHECK (true);
CREATE POLICY transitions_read ON fsm.transitions FOR SELECT USING (true);
CREATE POLICY transitions_owner_write ON fsm.transitions FOR ALL TO tianxing_owner
  USING (true) WITH CHECK (true);
