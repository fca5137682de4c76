-- The minimal reference of the transition scenario (issue 15): the state update and its log row.
-- The claims, the move announced to the state machine's trigger (fsm.armed, as fsm.move does),
-- then ONE UPDATE of the case, received -> intake with what the assessment sets (in scope, by
-- whom and when, the business type and its current version), only if the caller received it;
-- no row updated is an error (1/0), so that a reference that did nothing cannot pass for fast.
-- As the owner (tests/bench/run: PGBENCH_URL): case writes are the owner's SECURITY DEFINER
-- functions, the runtime role holds no UPDATE on cases.cases. What stays: the row-level security
-- of the owner's policy, the triggers on cases.cases -- fsm.enforce (the transition allowed from
-- the locked row's state, its guard, the fsm.log row), the intake rules, the audit trail with its
-- hash chain -- and the constraints. What it leaves out of POST /v1/cases/{id}/assess: the
-- PL/pgSQL function, reading the body, finding the case through the caller's read policy and the
-- P1.2 check as separate steps (the WHERE holds the receiver check; a supervisor of the
-- department, whom P1.2 also admits, is not the caller here), the pre-check of the move and the
-- response document. Same case numbering as pg_transition.sql (its own slices of the pool).
--   :sub, :roles, :reqid  the claims        :type  the business type
\set k :k + 1
\set j :base + :run_no * :per_run + :client_id + :clients * (:k - 1)
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT tx.begin_request(:sub, :roles, :reqid);
SELECT set_config('fsm.armed', json_build_object('machine', 'case', 'id', overlay(overlay(md5('tianxing-bench-case:' || :j) placing '4' from 13) placing '8' from 17)::uuid, 'from', 'received', 'action', 'assess_in_scope', 'reason', NULL)::text, true);
WITH u AS (UPDATE cases.cases c SET status = 'intake', in_scope = true, scope_by = tx.user_id(), scope_at = now(), business_type_id = t.id, type_version_id = v.id FROM cases.business_types t JOIN cases.business_type_versions v ON v.business_type_id = t.id AND v.version = t.current_version WHERE t.id = :type::uuid AND t.active AND t.in_scope AND c.id = overlay(overlay(md5('tianxing-bench-case:' || :j) placing '4' from 13) placing '8' from 17)::uuid AND c.status = 'received' AND c.received_by = tx.user_id() RETURNING c.version) SELECT 1 / count(*) FROM u;
COMMIT;
