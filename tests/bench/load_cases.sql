-- The cases of the benchmark (tests/bench/run, the case scenarios of issue 11): :n cases spread over
-- the :customers loaded customers (tests/bench/load.c's ids), in the states a running office has,
-- with what each state implies (business type and version, approvals, assignments, open
-- deadlines). Run by a superuser with session_replication_role = replica, as the customer loader
-- is: no trigger runs (not the audit trail, not the state machine's, not the rules of module P),
-- so this file writes what they would have derived itself, and tests/bench/run checks a sample
-- (every status is a state of the machine `case`, every case past intake has its type).
--
-- Case j (0-based) is for customer j % :customers, received by that customer's owner (owners are
-- staff.a1, staff.a2, staff.b1: customer i is owned by owner i % 3, tests/bench/load.c), in that
-- owner's department. Its id is md5('tianxing-bench-case:' || j) with the version and variant
-- nibbles set, so that pgbench can name a case with the same expression.
--   :n          cases to make, spread over the states      :customers  customers loaded
--   :pool       more cases, numbered :n to :n + :pool - 1, all 'received' by staff.a1 for
--               customers of theirs: the transition scenario consumes them (one move each)
SET session_replication_role = replica;

CREATE TEMP TABLE bench_owner (k int PRIMARY KEY, id uuid, department_id uuid, supervisor_id uuid);
INSERT INTO bench_owner
SELECT row_number() OVER (ORDER BY e.username) - 1, e.id, e.department_id,
       (SELECT s.id FROM org.employees s
         WHERE s.department_id = e.department_id AND 'supervisor' = ANY (s.roles) AND s.active
         ORDER BY s.username LIMIT 1)
  FROM org.employees e WHERE e.username IN ('staff.a1', 'staff.a2', 'staff.b1');

-- One business type with its version 1: three milestones, the three criteria of P3.2, two
-- documents.
INSERT INTO cases.business_types (id, code, name, description, created_by)
VALUES ('b0000000-0000-4000-8000-000000000001', 'BENCH-EXPORT', '出口單證代辦', '基準測試用的業務類型',
        (SELECT id FROM org.employees WHERE username = 'admin'))
ON CONFLICT DO NOTHING;
INSERT INTO cases.business_type_versions (id, business_type_id, version, note, retention_years, created_by)
VALUES ('b0000000-0000-4000-8000-000000000002', 'b0000000-0000-4000-8000-000000000001', 1, '初版', 10,
        (SELECT id FROM org.employees WHERE username = 'admin'))
ON CONFLICT DO NOTHING;
INSERT INTO cases.milestones (type_version_id, seq, code, name, required, standard_days)
VALUES ('b0000000-0000-4000-8000-000000000002', 1, 'collect', '收集資料', true, 2),
       ('b0000000-0000-4000-8000-000000000002', 2, 'prepare', '製作單證', true, 3),
       ('b0000000-0000-4000-8000-000000000002', 3, 'file', '遞交申報', false, 1)
ON CONFLICT DO NOTHING;
INSERT INTO cases.checklist_criteria (type_version_id, seq, code, name)
VALUES ('b0000000-0000-4000-8000-000000000002', 1, 'accuracy', '準確性'),
       ('b0000000-0000-4000-8000-000000000002', 2, 'compliance', '合規性'),
       ('b0000000-0000-4000-8000-000000000002', 3, 'completeness', '完整性')
ON CONFLICT DO NOTHING;
INSERT INTO cases.required_documents (type_version_id, seq, code, name)
VALUES ('b0000000-0000-4000-8000-000000000002', 1, 'invoice', '商業發票'),
       ('b0000000-0000-4000-8000-000000000002', 2, 'packing_list', '裝箱單')
ON CONFLICT DO NOTHING;

-- The states, by (j / 7) % 100: an office with a fifth of its cases archived and most of the open
-- ones at work.
CREATE TEMP TABLE bench_state (lo int, hi int, status text);
INSERT INTO bench_state VALUES
  (0, 10, 'received'), (10, 16, 'intake'), (16, 22, 'submitted'), (22, 25, 'returned'),
  (25, 30, 'approved'), (30, 52, 'in_progress'), (52, 58, 'under_review'), (58, 61, 'rectifying'),
  (61, 64, 'passed'), (64, 67, 'delivered'), (67, 72, 'confirmed'), (72, 92, 'archived'),
  (92, 96, 'cancelled'), (96, 98, 'rejected'), (98, 100, 'out_of_scope');

CREATE TEMP TABLE bench_case AS
SELECT j,
       overlay(overlay(md5('tianxing-bench-case:' || j) placing '4' from 13) placing '8' from 17)::uuid AS id,
       overlay(overlay(md5('tianxing-bench:' || (j % :customers)) placing '4' from 13) placing '8' from 17)::uuid
         AS customer_id,
       o.id AS owner_id, o.department_id, o.supervisor_id,
       s.status,
       now() - make_interval(mins => (j % 200000) * 3 + 60) AS received_at
  FROM generate_series(0, :n - 1) j
  JOIN bench_owner o ON o.k = (j % :customers) % 3
  JOIN bench_state s ON (j / 7) % 100 >= s.lo AND (j / 7) % 100 < s.hi
UNION ALL
SELECT j,
       overlay(overlay(md5('tianxing-bench-case:' || j) placing '4' from 13) placing '8' from 17)::uuid,
       overlay(overlay(md5('tianxing-bench:' || (3 * (j % (:customers / 3)))) placing '4' from 13) placing '8' from 17)::uuid,
       o.id, o.department_id, o.supervisor_id, 'received', now() - interval '30 minutes'
  FROM generate_series(:n, :n + :pool - 1) j
  JOIN bench_owner o ON o.k = 0;

INSERT INTO cases.cases (id, status, customer_id, department_id, raised_at, received_by, received_at,
                         channel, need, in_scope, scope_reason, scope_by, scope_at, business_type_id,
                         type_version_id, customer_snapshot, requirements, expected_on, prepared_by,
                         prepared_at, submitted_at, approved_by, approved_at, started_at,
                         review_round, passed_at, delivered_at, confirmed_at, closed_reason,
                         closed_at, archived_at, search_bigrams, created_at, updated_at)
SELECT c.id, c.status, c.customer_id, c.department_id, c.received_at - interval '1 hour', c.owner_id,
       c.received_at, (ARRAY['visit', 'phone', 'email', 'message', 'meeting', 'other'])[c.j % 6 + 1],
       '客戶需要辦理一批出口單證,貨物為電子元件,目的港漢堡,希望兩週內完成。',
       CASE WHEN c.status = 'received' THEN NULL ELSE c.status <> 'out_of_scope' END,
       CASE WHEN c.status = 'out_of_scope' THEN '不屬於公司經營範圍' END,
       CASE WHEN c.status <> 'received' THEN c.owner_id END,
       CASE WHEN c.status <> 'received' THEN c.received_at + interval '2 hours' END,
       CASE WHEN c.status NOT IN ('received', 'out_of_scope') THEN 'b0000000-0000-4000-8000-000000000001'::uuid END,
       CASE WHEN c.status NOT IN ('received', 'out_of_scope') THEN 'b0000000-0000-4000-8000-000000000002'::uuid END,
       CASE WHEN c.status NOT IN ('received', 'out_of_scope', 'intake')
            THEN jsonb_build_object('company_name', '基準客戶' || (c.j % 1000), 'business_scope', '電子元件進出口') END,
       CASE WHEN c.status NOT IN ('received', 'out_of_scope', 'intake') THEN '報關單、原產地證各一份' END,
       CASE WHEN c.status NOT IN ('received', 'out_of_scope') THEN (c.received_at + interval '14 days')::date END,
       CASE WHEN c.status NOT IN ('received', 'out_of_scope', 'intake') THEN c.owner_id END,
       CASE WHEN c.status NOT IN ('received', 'out_of_scope', 'intake') THEN c.received_at + interval '1 day' END,
       CASE WHEN c.status NOT IN ('received', 'out_of_scope', 'intake') THEN c.received_at + interval '1 day' END,
       CASE WHEN c.status NOT IN ('received', 'out_of_scope', 'intake', 'submitted', 'returned', 'rejected', 'cancelled')
            THEN c.supervisor_id END,
       CASE WHEN c.status NOT IN ('received', 'out_of_scope', 'intake', 'submitted', 'returned', 'rejected', 'cancelled')
            THEN c.received_at + interval '2 days' END,
       CASE WHEN c.status IN ('in_progress', 'under_review', 'rectifying', 'passed', 'delivered', 'confirmed', 'archived')
            THEN c.received_at + interval '2 days' END,
       CASE WHEN c.status IN ('under_review', 'passed', 'delivered', 'confirmed', 'archived') THEN 1
            WHEN c.status = 'rectifying' THEN 1 ELSE 0 END,
       CASE WHEN c.status IN ('passed', 'delivered', 'confirmed', 'archived') THEN c.received_at + interval '8 days' END,
       CASE WHEN c.status IN ('delivered', 'confirmed', 'archived') THEN c.received_at + interval '9 days' END,
       CASE WHEN c.status IN ('confirmed', 'archived') THEN c.received_at + interval '10 days' END,
       CASE WHEN c.status IN ('cancelled', 'rejected', 'out_of_scope') THEN '客戶撤回或不符要求' END,
       CASE WHEN c.status IN ('cancelled', 'rejected', 'out_of_scope', 'archived') THEN c.received_at + interval '11 days' END,
       CASE WHEN c.status = 'archived' THEN c.received_at + interval '11 days' END,
       '{}', c.received_at, c.received_at + interval '2 hours'
  FROM bench_case c;

-- The lead of every case that has started: the owner who received it, assigned by the supervisor.
INSERT INTO cases.assignments (case_id, employee_id, role, starts_on, assigned_by, assigned_at)
SELECT c.id, c.owner_id, 'lead', (c.received_at + interval '2 days')::date, c.supervisor_id,
       c.received_at + interval '2 days'
  FROM bench_case c
 WHERE c.status IN ('in_progress', 'under_review', 'rectifying', 'passed', 'delivered', 'confirmed', 'archived');
-- ... and the queue's entries of those that are open (cases.queue_entries_follow, 0046).
INSERT INTO cases.queue_entries (employee_id, case_id, received_at)
SELECT c.owner_id, c.id, c.received_at
  FROM bench_case c
 WHERE c.status IN ('in_progress', 'under_review', 'rectifying', 'passed', 'delivered', 'confirmed');

INSERT INTO cases.approvals (case_id, decision, comment, decided_by, decided_at)
SELECT c.id, CASE c.status WHEN 'rejected' THEN 'reject' WHEN 'returned' THEN 'return' ELSE 'approve' END,
       CASE WHEN c.status IN ('rejected', 'returned') THEN '資料不齊' END, c.supervisor_id,
       c.received_at + interval '2 days'
  FROM bench_case c
 WHERE c.status NOT IN ('received', 'out_of_scope', 'intake', 'submitted', 'cancelled');

-- The open deadlines: reception (received: whoever received it), approval (submitted: the
-- supervisor), a milestone (in progress: the lead).
INSERT INTO cases.deadlines (case_id, kind, owner_id, starts_at, due_at)
SELECT c.id,
       CASE c.status WHEN 'received' THEN 'reception' WHEN 'submitted' THEN 'approval' ELSE 'milestone' END,
       CASE c.status WHEN 'submitted' THEN c.supervisor_id ELSE c.owner_id END,
       c.received_at, c.received_at + interval '3 days'
  FROM bench_case c
 WHERE c.status IN ('received', 'submitted', 'in_progress');

RESET session_replication_role;
