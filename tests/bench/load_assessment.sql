-- The facts of the assessment scenario (tests/bench/run, issue 12: "computes a month for 1 000
-- staff and 100 000 cases"): :staff staff in 20 departments, each department with a supervisor,
-- and :n closed-loop cases spread over the twelve months that end with the month before this one
-- (the month the job would open), each with what an assessment counts: assignments (a lead; a
-- member on about every tenth case: team cases), milestone deadlines met on time or late, review
-- rounds (about every fifth case fails its first round), delivery and the customer's confirmation
-- with a rating. About one case in 50 is cancelled, one in 7 still at work at the month's end.
-- Case j is staff (j % :staff)'s; which month, day and outcome it has come from a hash of j
-- (h below), so that no staff member's cases all fall the same way.
--
-- Run after load_cases.sql by a superuser with session_replication_role = replica: no trigger
-- runs, so the employees' spans (org.employee_spans) are written here too. Customer ids follow
-- tests/bench/load.c (md5 of 'tianxing-bench:' || i).
--   :n  cases   :staff  staff   :customers  customers loaded
SET session_replication_role = replica;

-- The company's month boundaries are in its time zone (policy company_time_zone: Asia/Taipei).
CREATE TEMP TABLE bench_q_month AS
SELECT date_trunc('month', (now() AT TIME ZONE 'Asia/Taipei') - interval '1 month')::date AS first_day;

INSERT INTO org.departments (id, code, name, kind)
SELECT overlay(overlay(md5('tianxing-bench-qdept:' || d) placing '4' from 13) placing '8' from 17)::uuid,
       'QB' || lpad(d::text, 2, '0'), '基準業務' || d || '部', 'business'
  FROM generate_series(1, 20) d;

-- Supervisors first (the staff name them).
INSERT INTO org.employees (id, username, display_name, department_id, roles, created_at)
SELECT overlay(overlay(md5('tianxing-bench-qsup:' || d) placing '4' from 13) placing '8' from 17)::uuid,
       'qsup.' || lpad(d::text, 2, '0'), '主管' || d,
       overlay(overlay(md5('tianxing-bench-qdept:' || d) placing '4' from 13) placing '8' from 17)::uuid,
       '{supervisor}', now() - interval '2 years'
  FROM generate_series(1, 20) d;
INSERT INTO org.employees (id, username, display_name, department_id, supervisor_id, roles, created_at)
SELECT overlay(overlay(md5('tianxing-bench-qstaff:' || k) placing '4' from 13) placing '8' from 17)::uuid,
       'qstaff.' || lpad(k::text, 4, '0'), '職員' || k,
       overlay(overlay(md5('tianxing-bench-qdept:' || (k % 20 + 1)) placing '4' from 13) placing '8' from 17)::uuid,
       overlay(overlay(md5('tianxing-bench-qsup:' || (k % 20 + 1)) placing '4' from 13) placing '8' from 17)::uuid,
       '{staff}', now() - interval '2 years'
  FROM generate_series(0, :staff - 1) k;
INSERT INTO org.employee_spans (employee_id, department_id, supervisor_id, roles, active, valid_from)
SELECT e.id, e.department_id, e.supervisor_id, e.roles, e.active, e.created_at
  FROM org.employees e
 WHERE e.username LIKE 'qsup.%' OR e.username LIKE 'qstaff.%';

CREATE TEMP TABLE bench_q_case AS
SELECT j, h,
       overlay(overlay(md5('tianxing-bench-qcase:' || j) placing '4' from 13) placing '8' from 17)::uuid AS id,
       overlay(overlay(md5('tianxing-bench:' || (j % :customers)) placing '4' from 13) placing '8' from 17)::uuid
         AS customer_id,
       overlay(overlay(md5('tianxing-bench-qstaff:' || (j % :staff)) placing '4' from 13) placing '8' from 17)::uuid
         AS lead_id,
       CASE WHEN h % 10 = 0 THEN
         overlay(overlay(md5('tianxing-bench-qstaff:' || ((j + 1) % :staff)) placing '4' from 13) placing '8' from 17)::uuid
       END AS member_id,
       overlay(overlay(md5('tianxing-bench-qdept:' || ((j % :staff) % 20 + 1)) placing '4' from 13) placing '8' from 17)::uuid
         AS department_id,
       overlay(overlay(md5('tianxing-bench-qsup:' || ((j % :staff) % 20 + 1)) placing '4' from 13) placing '8' from 17)::uuid
         AS supervisor_id,
       CASE WHEN h / 10 % 50 = 0 THEN 'cancelled' WHEN h / 500 % 7 = 0 THEN 'in_progress'
            ELSE 'confirmed' END AS status,
       -- day 0 of the case: within its month, so that every fact of it falls in that month
       ((m.first_day - make_interval(months => (h / 3500 % 12)::int) + make_interval(days => (h / 42000 % 18)::int))::timestamp
          AT TIME ZONE 'Asia/Taipei') + interval '9 hours' AS t0
  FROM (SELECT j, hashint4(j)::bigint & 2147483647 AS h FROM generate_series(0, :n - 1) j) g,
       bench_q_month m;

INSERT INTO cases.cases (id, status, customer_id, department_id, raised_at, received_by, received_at,
                         channel, need, in_scope, scope_by, scope_at, business_type_id, type_version_id,
                         customer_snapshot, requirements, expected_on, prepared_by, prepared_at,
                         submitted_at, approved_by, approved_at, started_at, review_round, passed_at,
                         delivered_at, confirmed_at, closed_reason, closed_at, search_bigrams,
                         created_at, updated_at)
SELECT c.id, c.status, c.customer_id, c.department_id, c.t0 - interval '1 hour', c.lead_id, c.t0, 'phone',
       '客戶需要辦理一批出口單證。', true, c.lead_id, c.t0 + interval '1 hour',
       'b0000000-0000-4000-8000-000000000001', 'b0000000-0000-4000-8000-000000000002',
       jsonb_build_object('company_name', '基準客戶' || (c.j % 1000)), '報關單一份',
       (c.t0 + interval '14 days')::date, c.lead_id, c.t0 + interval '2 hours', c.t0 + interval '2 hours',
       c.supervisor_id, c.t0 + interval '1 day', c.t0 + interval '1 day',
       CASE WHEN c.status = 'confirmed' THEN CASE WHEN c.h / 756000 % 5 = 0 THEN 2 ELSE 1 END ELSE 0 END,
       CASE WHEN c.status = 'confirmed' THEN c.t0 + CASE WHEN c.h / 756000 % 5 = 0 THEN interval '8 days' ELSE interval '7 days' END END,
       CASE WHEN c.status = 'confirmed' THEN c.t0 + interval '8 days 4 hours' END,
       CASE WHEN c.status = 'confirmed' THEN c.t0 + interval '9 days' END,
       CASE WHEN c.status = 'cancelled' THEN '客戶撤回' END,
       CASE WHEN c.status = 'cancelled' THEN c.t0 + interval '2 days' END,
       '{}', c.t0, c.t0 + interval '9 days'
  FROM bench_q_case c;

INSERT INTO cases.assignments (case_id, employee_id, role, starts_on, assigned_by, assigned_at)
SELECT c.id, c.lead_id, 'lead', (c.t0 + interval '1 day')::date, c.supervisor_id, c.t0 + interval '1 day'
  FROM bench_q_case c
UNION ALL
SELECT c.id, c.member_id, 'member', (c.t0 + interval '1 day')::date, c.supervisor_id, c.t0 + interval '1 day'
  FROM bench_q_case c WHERE c.member_id IS NOT NULL;

-- Two required milestones per case: collect (due day 3; late by a day on about a third of the
-- cases) and prepare (due day 6; late on about a quarter; not met yet on a case still at work). A
-- cancelled case's deadlines are closed.
INSERT INTO cases.deadlines (case_id, kind, subject_id, owner_id, starts_at, due_at, met_at, closed_at)
SELECT c.id, 'milestone', m.id, c.lead_id, c.t0 + interval '1 day',
       c.t0 + make_interval(days => m.due_day),
       CASE WHEN c.status = 'cancelled' THEN NULL
            WHEN m.code = 'prepare' AND c.status = 'in_progress' THEN NULL
            WHEN (m.code = 'collect' AND c.h / 3780000 % 3 = 0) OR (m.code = 'prepare' AND c.h / 11340000 % 4 = 0)
              THEN c.t0 + make_interval(days => m.due_day + 1)
            ELSE c.t0 + make_interval(days => m.due_day) - interval '2 hours' END,
       CASE WHEN c.status = 'cancelled' THEN c.t0 + interval '2 days' END
  FROM bench_q_case c
  JOIN (SELECT id, code, CASE code WHEN 'collect' THEN 3 ELSE 6 END AS due_day
          FROM cases.milestones
         WHERE type_version_id = 'b0000000-0000-4000-8000-000000000002' AND required) m ON true;

-- Review rounds of the cases that went to review: round 1 fails on about a fifth of them, round
-- 2 passes it; the department's supervisor reviews.
INSERT INTO cases.reviews (case_id, round, submitted_by, submitted_at, rectification_note, reviewer_id,
                           outcome, comment, decided_at)
SELECT c.id, 1, c.lead_id, c.t0 + interval '6 days', NULL, c.supervisor_id,
       CASE WHEN c.h / 756000 % 5 = 0 THEN 'failed' ELSE 'passed' END,
       CASE WHEN c.h / 756000 % 5 = 0 THEN '單證金額有誤' END, c.t0 + interval '7 days'
  FROM bench_q_case c WHERE c.status = 'confirmed'
UNION ALL
SELECT c.id, 2, c.lead_id, c.t0 + interval '7 days 2 hours', '已更正金額', c.supervisor_id, 'passed', NULL,
       c.t0 + interval '8 days'
  FROM bench_q_case c WHERE c.status = 'confirmed' AND c.h / 756000 % 5 = 0;

INSERT INTO cases.deliveries (id, case_id, method, file_ids, delivered_by, delivered_at)
SELECT overlay(overlay(md5('tianxing-bench-qdelivery:' || c.j) placing '4' from 13) placing '8' from 17)::uuid,
       c.id, 'email', ARRAY[c.id], c.lead_id, c.t0 + interval '8 days 4 hours'
  FROM bench_q_case c WHERE c.status = 'confirmed';

INSERT INTO cases.confirmations (case_id, delivery_id, outcome, rating, via, recorded_by, evidence, at)
SELECT c.id,
       overlay(overlay(md5('tianxing-bench-qdelivery:' || c.j) placing '4' from 13) placing '8' from 17)::uuid,
       'confirmed', 1 + c.h / 45360000 % 5, 'recorded', c.lead_id, '客戶電話確認', c.t0 + interval '9 days'
  FROM bench_q_case c WHERE c.status = 'confirmed';

RESET session_replication_role;
