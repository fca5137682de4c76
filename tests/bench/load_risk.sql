-- The facts the key risk indicators of module R read (tests/bench/run, the risk scenario; issue
-- 13: "the benchmark evaluates every indicator over 1 000 000 customers and 100 000 cases"), on
-- top of the loaded customers (tests/bench/load.c) and cases (load_cases.sql, load_assessment.sql):
--
--   contracts (cust.contracts)      a fifth of the customers have one, one in 25 a second; some
--                                   closed; the prepayment ratio their rating requires, at
--                                   least the company minimum (risk_warning_thresholds
--                                   .prepayment_ratio_min, 0.3: many exactly at it), about 3 %
--                                   below it and about 1 % with none recorded (contracts signed
--                                   before module R)
--   credit assessments              every customer with a contract and 8 % more: the current
--                                   one made within the last 380 days, valid a year (so about 8 %
--                                   expiring within credit_rating_policy.expiring_within_days and
--                                   4 % expired); one in ten has the previous year's one too,
--                                   renewed 20 days before it ran out (a superseded assessment
--                                   still "valid" for a few days: it must not count as expiring)
--   guarantees                      a quarter of the C- and D-rated contracts: for the contract,
--                                   some released, some run out
--   receivables                     per contract the prepayment (paid at signing) and one to three
--                                   instalments 90 days apart; past ones paid (some late), about
--                                   3 % unpaid, so some past credit_overdue_days (30) and some
--                                   not yet; a closed contract's all paid
--   escalations (cases.escalations) about a tenth of the approved-and-later cases (not archived): resolved,
--                                   climbed to level 2 (still open), open at level 1, or
--                                   withdrawn; an open one has its open 'escalation' deadline,
--                                   not yet due (the running service's deadline job would climb
--                                   it while the benchmark measures)
--   review rounds (cases.reviews)   what load_cases.sql's review_round implies: under review =
--                                   round 1 undecided, rectifying = round 1 failed, passed to
--                                   confirmed = round 1 passed, or (one in six) failed then round
--                                   2 passed (review_round set to 2); not for archived cases
--   overdue marks                   the deadline job's: every open deadline due more than an hour
--                                   before the load is marked overdue (cases.deadlines.overdue_at)
--                                   as the job running every few minutes would have; those due
--                                   within the last hour are not yet (the indicator must not
--                                   depend on when the job last ran)
--
-- Which customer gets what comes from a hash of its id (h below), so that every mix holds at any
-- size. Run by a superuser with session_replication_role = replica, as the other loaders, not as
-- the owner: the owner is under the forced row-level security of cust.* and risk.* (cust.contracts
-- admits an insert only from a signed-in person related to the customer), and every audited row
-- would take the audit chain's lock and trigger (minutes for a million rows). In replica mode no
-- ordinary trigger runs: not the audit trail, not module R's credit gate on contracts (the
-- contracts below the minimum are the ones signed before it, which is what the indicator is there
-- to find); the ENABLE ALWAYS ones do (archived cases refuse every change, so none is touched
-- here). Set-based: one INSERT ... SELECT per table, all in one transaction. Every recorded time
-- is at most now(): the indicators count rows recorded by the instant they measure, and a row
-- stamped later in the company's day would be left out at some hours and not at others.
BEGIN;
SET LOCAL session_replication_role = replica;

CREATE TEMP TABLE bench_r_today ON COMMIT DROP AS
SELECT (now() AT TIME ZONE 'Asia/Taipei')::date AS today,
       (SELECT id FROM org.employees WHERE username = 'risk') AS assessor_id,
       (SELECT id FROM org.employees WHERE username = 'admin') AS admin_id;

-- The customers that have dealings: a contract (h % 100 < 20; a second one when < 4) or an
-- assessment only (20..27). rating from another part of the hash: A 40 %, B 35 %, C 20 %, D 5 %.
CREATE TEMP TABLE bench_r_customer ON COMMIT DROP AS
SELECT c.id, c.owner_id, c.created_at, g.h,
       CASE WHEN g.h / 100 % 100 < 40 THEN 'A' WHEN g.h / 100 % 100 < 75 THEN 'B'
            WHEN g.h / 100 % 100 < 95 THEN 'C' ELSE 'D' END AS rating,
       -- the current assessment: made 0..379 days ago, valid 365 days
       t.today - (g.h / 10000 % 380)::int AS assessed_on
  FROM cust.customers c
 CROSS JOIN LATERAL (SELECT hashtext(c.id::text)::bigint & 2147483647 AS h) g
 CROSS JOIN bench_r_today t
 WHERE g.h % 100 < 28;

INSERT INTO risk.credit_assessments (id, customer_id, rating, score, limit_amount, currency, method,
                                     assessed_on, valid_until, assessor_id, at)
SELECT overlay(overlay(md5('tianxing-bench-credit:' || c.id || ':' || n) placing '4' from 13) placing '8' from 17)::uuid,
       c.id, c.rating, 900 - (ascii(c.rating) - 65) * 200 - (c.h / 1000 % 100)::int,
       (50 + c.h / 7 % 20 * 50) * 10000, 'CNY', '財務報表與付款紀錄分析',
       a.on_date, a.on_date + 365, t.assessor_id,
       -- recorded at 10:00 that day, never later than now: an assessment of today made before
       -- 10:00 Taipei is not in the future (the indicators count what was recorded by then)
       least((a.on_date + time '10:00') AT TIME ZONE 'Asia/Taipei', now())
  FROM bench_r_customer c
 CROSS JOIN bench_r_today t
 CROSS JOIN LATERAL (VALUES (1, c.assessed_on), (0, c.assessed_on - 345)) a(n, on_date)
 WHERE a.n = 1 OR c.h % 10 = 0;

-- Contracts: number k = 1 (h % 100 < 20) and 2 (h % 100 < 4); hk: the contract's own hash. One
-- in five of those whose last instalment (day 270) is a month past is closed.
CREATE TEMP TABLE bench_r_contract ON COMMIT DROP AS
SELECT s.*,
       CASE WHEN s.hk / 1000000 % 5 = 0 AND s.signed_on + 300 < t.today THEN 'closed' ELSE 'open' END AS status
  FROM (SELECT overlay(overlay(md5('tianxing-bench-contract:' || c.id || ':' || k) placing '4' from 13) placing '8' from 17)::uuid AS id,
               c.id AS customer_id, c.owner_id, c.rating, k, hk,
               (20 + hk % 480) * 1000::numeric AS amount,
               -- signed between the customer's creation and yesterday
               greatest(c.created_at::date, t.today - 1 - (hk / 1000 % 900)::int) AS signed_on,
               CASE WHEN hk / 100 % 100 < 3 THEN (ARRAY[0.1, 0.2, 0.25])[hk / 10000 % 3 + 1]   -- under the minimum
                    WHEN hk / 100 % 100 < 4 THEN NULL                                       -- none recorded
                    ELSE least(1, greatest(0.3, CASE c.rating WHEN 'A' THEN 0 WHEN 'B' THEN 0.2 WHEN 'C' THEN 0.5 ELSE 1 END)
                                  + CASE WHEN hk / 100 % 100 < 60 THEN 0 ELSE 0.1 END)      -- at the minimum or above
               END AS prepayment_ratio
          FROM bench_r_customer c
         CROSS JOIN bench_r_today t
         CROSS JOIN LATERAL (SELECT k, hashtext(c.id::text || ':' || k)::bigint & 2147483647 AS hk
                               FROM generate_series(1, 2) k) kk
         WHERE c.h % 100 < 20 AND (k = 1 OR c.h % 100 < 4)) s
 CROSS JOIN bench_r_today t;

INSERT INTO cust.contracts (id, customer_id, amount, currency, prepayment_ratio, term_months, signed_on,
                            status, created_by, created_at, updated_at)
SELECT k.id, k.customer_id, k.amount, 'CNY', k.prepayment_ratio, 12, k.signed_on, k.status, k.owner_id,
       least((k.signed_on + time '15:00') AT TIME ZONE 'Asia/Taipei', now()), least((k.signed_on + time '15:00') AT TIME ZONE 'Asia/Taipei', now())
  FROM bench_r_contract k;

-- Guarantees: a quarter of the C and D contracts, for the contract, two years from signing; one
-- in five released (200 days after signing, when that is past), and the older ones have run out.
INSERT INTO risk.guarantees (id, customer_id, contract_id, type, guarantor, amount, currency, valid_from,
                             valid_until, document_sha256, released_at, release_reason, created_by, created_at,
                             updated_at)
SELECT g.id, k.customer_id, k.id, (ARRAY['bank_guarantee', 'letter_of_credit', 'deposit', 'corporate'])[k.hk % 4 + 1],
       '基準擔保銀行' || (k.hk % 50), round(k.amount * 0.5, 2), 'CNY', k.signed_on, k.signed_on + 730,
       sha256(convert_to(g.id::text, 'UTF8')),
       CASE WHEN k.hk / 10 % 5 = 0 AND k.signed_on + 200 < t.today THEN (k.signed_on + 200 + time '11:00') AT TIME ZONE 'Asia/Taipei' END,
       CASE WHEN k.hk / 10 % 5 = 0 AND k.signed_on + 200 < t.today THEN '合同款項已結清' END,
       t.assessor_id, least((k.signed_on + time '09:00') AT TIME ZONE 'Asia/Taipei', now()), least((k.signed_on + time '09:00') AT TIME ZONE 'Asia/Taipei', now())
  FROM bench_r_contract k
 CROSS JOIN bench_r_today t
 CROSS JOIN LATERAL (SELECT overlay(overlay(md5('tianxing-bench-guarantee:' || k.id) placing '4' from 13) placing '8' from 17)::uuid AS id) g
 WHERE k.rating IN ('C', 'D') AND k.hk / 10 % 4 = 0;

-- Receivables: the prepayment (n = 0, when there is one) due and paid at signing; instalments n =
-- 1..m (m = 1 + hk % 3) due every 90 days. A past instalment is paid on time, or late by up to
-- 20 days; about 3 % of the open contracts' past ones are still unpaid. Future ones are unpaid.
INSERT INTO risk.receivables (id, contract_id, customer_id, kind, amount, currency, due_on, paid_on, paid_amount,
                              created_by, created_at, updated_at)
SELECT overlay(overlay(md5('tianxing-bench-receivable:' || k.id || ':' || n) placing '4' from 13) placing '8' from 17)::uuid,
       k.id, k.customer_id,
       CASE WHEN n = 0 THEN 'prepayment' WHEN n = 1 + k.hk % 3 THEN 'final' ELSE 'instalment' END,
       r.amount, 'CNY', r.due_on,
       CASE WHEN r.paid THEN r.due_on + r.late END,
       CASE WHEN r.paid THEN r.amount END,
       k.owner_id, least((k.signed_on + time '15:00') AT TIME ZONE 'Asia/Taipei', now()), now()
  FROM bench_r_contract k
 CROSS JOIN bench_r_today t
 CROSS JOIN LATERAL generate_series(CASE WHEN coalesce(k.prepayment_ratio, 0) > 0 THEN 0 ELSE 1 END, (1 + k.hk % 3)::int) n
 CROSS JOIN LATERAL (SELECT hashtext(k.id::text || ':' || n)::bigint & 2147483647 AS hr) x
 CROSS JOIN LATERAL (
   SELECT CASE WHEN n = 0 THEN round(k.amount * k.prepayment_ratio, 2)
               ELSE round(k.amount * (1 - coalesce(k.prepayment_ratio, 0)) / (1 + k.hk % 3), 2) END AS amount,
          k.signed_on + n * 90 AS due_on,
          CASE WHEN n = 0 THEN 0 WHEN x.hr % 4 = 0 THEN (x.hr / 4 % 20)::int + 1 ELSE -(x.hr / 4 % 3)::int END AS late
 ) r0
 CROSS JOIN LATERAL (
   SELECT r0.amount, r0.due_on, r0.late,
          n = 0 OR k.status = 'closed'
          OR (r0.due_on + r0.late <= t.today - 1 AND x.hr / 100 % 100 >= 3) AS paid
 ) r
 WHERE r.amount > 0;

-- Escalations (P2.3) on about a tenth of the cases approved or later (but archived: see the
-- review rounds below): what happened to each by
-- the case's state and the hash: resolved in a day; or (cases at work) open at level 1, or
-- climbed after its deadline to level 2 and open there; a cancelled case's open one withdrawn.
CREATE TEMP TABLE bench_r_escalation ON COMMIT DROP AS
SELECT c.id AS case_id, c.status, c.received_by, c.approved_by, c.started_at, e.he,
       overlay(overlay(md5('tianxing-bench-escalation:' || c.id) placing '4' from 13) placing '8' from 17)::uuid AS id,
       overlay(overlay(md5('tianxing-bench-escalation2:' || c.id) placing '4' from 13) placing '8' from 17)::uuid AS id2,
       -- open at level 1: raised 1 to 12 hours ago, due a day after; climbed: level 1 raised 25 to
       -- 36 hours ago, climbed a day after, level 2 due a day later. So no loaded escalation is
       -- past its due time and open: the running service's deadline job would climb it while the
       -- benchmark measures. A settled one: a day after the work started.
       CASE WHEN c.status IN ('in_progress', 'under_review', 'rectifying') AND e.he / 10 % 3 = 0
            THEN now() - make_interval(hours => (1 + e.he / 30 % 12)::int)
            WHEN c.status IN ('in_progress', 'under_review', 'rectifying') AND e.he / 10 % 3 = 1
            THEN now() - make_interval(hours => (25 + e.he / 30 % 12)::int)
            ELSE least(c.started_at + interval '1 day', now() - interval '10 minutes') END AS raised_at,
       CASE WHEN c.status IN ('in_progress', 'under_review', 'rectifying') AND e.he / 10 % 3 = 0 THEN 'open'
            WHEN c.status IN ('in_progress', 'under_review', 'rectifying') AND e.he / 10 % 3 = 1 THEN 'climbed'
            WHEN c.status = 'cancelled' THEN 'withdrawn'
            ELSE 'resolved' END AS outcome
  FROM cases.cases c
 CROSS JOIN LATERAL (SELECT hashtext(c.id::text || ':escalation')::bigint & 2147483647 AS he) e
 WHERE c.approved_by IS NOT NULL AND c.started_at IS NOT NULL AND c.status <> 'archived' AND e.he % 10 = 0;

INSERT INTO cases.escalations (id, case_id, problem, raised_by, raised_at, addressed_to, level, climbed_from,
                               due_at, status, solution, resolved_by, resolved_at)
SELECT e.id, e.case_id, '客戶提供的發票金額與合同不符,需主管決定如何處理。', e.received_by, e.raised_at,
       e.approved_by, 1, NULL, e.raised_at + interval '1 day', e.outcome,
       CASE WHEN e.outcome = 'resolved' THEN '以合同金額為準,請客戶補正發票。' END,
       CASE WHEN e.outcome = 'resolved' THEN e.approved_by END,
       CASE WHEN e.outcome = 'resolved' THEN least(e.raised_at + interval '5 hours', now()) END
  FROM bench_r_escalation e
UNION ALL
SELECT e.id2, e.case_id, '客戶提供的發票金額與合同不符,需主管決定如何處理。', e.received_by,
       e.raised_at + interval '1 day', t.admin_id, 2, e.id, e.raised_at + interval '2 days', 'open', NULL, NULL, NULL
  FROM bench_r_escalation e CROSS JOIN bench_r_today t
 WHERE e.outcome = 'climbed';

-- The open escalations' deadlines (whose it is to answer), as the escalation writer makes them.
INSERT INTO cases.deadlines (case_id, kind, subject_id, owner_id, starts_at, due_at)
SELECT e.case_id, 'escalation', CASE WHEN e.outcome = 'open' THEN e.id ELSE e.id2 END,
       CASE WHEN e.outcome = 'open' THEN e.approved_by ELSE t.admin_id END,
       CASE WHEN e.outcome = 'open' THEN e.raised_at ELSE e.raised_at + interval '1 day' END,
       CASE WHEN e.outcome = 'open' THEN e.raised_at + interval '1 day' ELSE e.raised_at + interval '2 days' END
  FROM bench_r_escalation e CROSS JOIN bench_r_today t
 WHERE e.outcome IN ('open', 'climbed');

-- Review rounds of load_cases.sql's cases (load_assessment.sql writes its own). One in six of
-- those past review failed round 1 and passed round 2. Not for an archived case: nothing of it
-- may change any more, rows added included (cases.archived_immutable fires even in replica mode),
-- so the archived fifth keeps load_cases.sql's review_round without rows; the indicators that
-- read reviews look at recent decisions, which archived cases rarely have.
UPDATE cases.cases c SET review_round = 2
 WHERE c.status IN ('passed', 'delivered', 'confirmed') AND c.review_round = 1
   AND NOT EXISTS (SELECT FROM cases.reviews r WHERE r.case_id = c.id)
   AND (hashtext(c.id::text || ':review')::bigint & 2147483647) % 6 = 0;

INSERT INTO cases.reviews (case_id, round, submitted_by, submitted_at, rectification_note, reviewer_id, outcome,
                           comment, decided_at)
SELECT c.id, 1, c.received_by, c.started_at + interval '5 days', NULL,
       CASE WHEN c.status <> 'under_review' THEN c.approved_by END,
       CASE WHEN c.status = 'under_review' THEN NULL
            WHEN c.status = 'rectifying' OR c.review_round = 2 THEN 'failed' ELSE 'passed' END,
       CASE WHEN c.status = 'rectifying' OR c.review_round = 2 THEN '報關單品名與發票不一致' END,
       CASE WHEN c.status <> 'under_review' THEN c.started_at + interval '5 days 4 hours' END
  FROM cases.cases c
 WHERE c.status IN ('under_review', 'rectifying', 'passed', 'delivered', 'confirmed')
   AND c.review_round >= 1 AND c.started_at IS NOT NULL
   AND NOT EXISTS (SELECT FROM cases.reviews r WHERE r.case_id = c.id)
UNION ALL
SELECT c.id, 2, c.received_by, c.started_at + interval '5 days 8 hours', '已更正品名', c.approved_by, 'passed', NULL,
       c.started_at + interval '6 days'
  FROM cases.cases c
 WHERE c.review_round = 2 AND c.status IN ('passed', 'delivered', 'confirmed')
   AND c.started_at IS NOT NULL
   AND NOT EXISTS (SELECT FROM cases.reviews r WHERE r.case_id = c.id);

-- The deadline job's overdue marks (P2.2): every open deadline due over an hour ago.
UPDATE cases.deadlines SET overdue_at = due_at + interval '3 minutes'
 WHERE met_at IS NULL AND closed_at IS NULL AND overdue_at IS NULL AND due_at < now() - interval '1 hour';

COMMIT;
