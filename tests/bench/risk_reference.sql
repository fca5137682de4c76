-- The reference of the risk scenario (tests/bench/run, issue 13 and issue 15's rule: every
-- scenario against the cheapest SQL that does the same job): the seven key risk indicators of
-- module R computed by plain SQL, one statement each, from the same data at the same instant
-- :'at', with the same policy values (read once per statement, as of the company's date of :'at',
-- in a scalar subquery: evaluated once, never per row), no function of module R, no
-- measurement stored, no warning, no audit. Run as the owner (tianxing_owner), as the service's
-- indicators are: they are company-wide figures, computed by SECURITY DEFINER functions owned by
-- it (sql/code/risk/050_kris.sql), and the owner's policies on these tables admit every row; the
-- runtime role would count only what the caller's row-level security lets it see.
--
-- Each statement prints `code|value` (value rounded to the 4 decimals risk.kri_measurements
-- keeps, trailing zeros trimmed); tests/bench/run compares them with risk.kri_<code>(:'at') and
-- the measurements risk.measure_due stored, and fails the run when any differs.
--
-- What each indicator means (migration 0032's `measures`, part C's definitions; "today" is :'at'
-- in the company time zone). Where this file's first reading of the issue differed, the note says
-- so (docs/performance.md, module R):
--   overdue_milestones          open milestone deadlines (P2.2: neither met nor closed) whose due
--                               time has passed at :'at', whether the deadline job has marked them
--                               yet or not
--   rework_rate                 percent of the review rounds decided in the 30 days up to :'at'
--                               that failed; 0 when none; 4 decimals, the precision a measurement
--                               stores and the band is decided on
--   stale_customers             percent of the customers (not disposed of, not merged) not
--                               verified within customer_review_period_days (never verified
--                               counts from created_at, as cust.is_stale); 4 decimals as above
--   contracts_under_prepayment  open contracts whose prepayment ratio (none recorded: 0) is below
--                               the company minimum (risk_warning_thresholds.prepayment_ratio_min)
--                               or, when higher, what the customer's current credit rating
--                               requires (credit_rating_policy; current = the latest assessed
--                               valid today, as the contract gate reads it), unless valid,
--                               unreleased guarantees of the contract or of all the customer's
--                               contracts, in its currency, cover amount x (required - ratio)
--   credit_expiring             customers whose current credit assessment (the latest assessed
--                               valid today, as the contract gate reads it) runs out within
--                               credit_rating_policy.expiring_within_days (valid_until <= today +
--                               days); a superseded one does not count
--   receivables_overdue         receivables unpaid more than credit_overdue_days past due
--                               (today - due_on > days)
--   open_escalations            escalations (P2.3) open at :'at' (a climbed one counts once, as
--                               its row one level up)
-- Part C's functions also bound every row by :'at' (created_at <= p_at and the like, so that a
-- measurement taken for a past moment counts rows as they stood): for a measurement of now, as
-- the job takes, those bounds hold for every row, and the reference leaves them out.

SELECT (:'at'::timestamptz AT TIME ZONE org.company_time_zone(:'at'::timestamptz))::date AS today \gset
\timing on

SELECT 'overdue_milestones', count(*)
  FROM cases.deadlines d
 WHERE d.kind = 'milestone' AND d.met_at IS NULL AND d.closed_at IS NULL AND d.due_at < :'at'::timestamptz;

SELECT 'rework_rate', trim_scale(round(coalesce(100.0 * count(*) FILTER (WHERE r.outcome = 'failed')
                                                / nullif(count(*), 0), 0), 4))
  FROM cases.reviews r
 WHERE r.decided_at > :'at'::timestamptz - interval '30 days' AND r.decided_at <= :'at'::timestamptz;

SELECT 'stale_customers', trim_scale(round(coalesce(100.0 * count(*) FILTER (
         WHERE coalesce(c.last_verified_at, c.created_at)
               < (SELECT :'at'::timestamptz - make_interval(days => coalesce(
                           (org.policy_value('customer_review_period_days', :'today'::date))::int, 180))))
         / nullif(count(*), 0), 0), 4))
  FROM cust.customers c
 WHERE c.status <> 'disposed' AND c.merged_into IS NULL;

-- Per open contract, its customer's current rating by the index (customer_id, assessed_on DESC,
-- seq DESC), then the
-- guarantees of only the contracts found short.
WITH pol AS MATERIALIZED (
  SELECT org.policy_value('credit_rating_policy', :'today'::date) -> 'ratings' AS ratings,
         coalesce((org.policy_value('risk_warning_thresholds', :'today'::date)
                     ->> 'prepayment_ratio_min')::numeric, 0) AS min_ratio),
short AS MATERIALIZED (
  SELECT k.id, k.customer_id, k.currency,
         k.amount * (q.required - coalesce(k.prepayment_ratio, 0)) AS gap
    FROM cust.contracts k
   CROSS JOIN pol
    LEFT JOIN LATERAL (SELECT a.rating FROM risk.credit_assessments a
                        WHERE a.customer_id = k.customer_id AND a.valid_until >= :'today'::date
                          AND a.assessed_on <= :'today'::date
                        ORDER BY a.assessed_on DESC, a.seq DESC LIMIT 1) cur ON true
   CROSS JOIN LATERAL (
     SELECT greatest(pol.min_ratio,
                     coalesce((SELECT (x ->> 'prepayment_ratio')::numeric
                                 FROM jsonb_array_elements(pol.ratings) x WHERE x ->> 'rating' = cur.rating),
                              pol.min_ratio)) AS required) q
   WHERE k.status = 'open' AND coalesce(k.prepayment_ratio, 0) < q.required)
SELECT 'contracts_under_prepayment', count(*)
  FROM short s
 WHERE coalesce((SELECT sum(g.amount) FROM risk.guarantees g
                  WHERE g.customer_id = s.customer_id AND (g.contract_id = s.id OR g.contract_id IS NULL)
                    AND g.currency = s.currency AND g.released_at IS NULL
                    AND g.valid_from <= :'today'::date AND g.valid_until >= :'today'::date), 0) < s.gap;

SELECT 'credit_expiring', count(DISTINCT a.customer_id)
  FROM risk.credit_assessments a
 WHERE a.valid_until BETWEEN :'today'::date
         AND (SELECT :'today'::date + coalesce((org.policy_value('credit_rating_policy', :'today'::date)
                                                  ->> 'expiring_within_days')::int, 30))
   AND a.assessed_on <= :'today'::date
   AND NOT EXISTS (SELECT FROM risk.credit_assessments n
                    WHERE n.customer_id = a.customer_id AND n.assessed_on <= :'today'::date
                      AND n.valid_until >= :'today'::date
                      AND (n.assessed_on, n.seq) > (a.assessed_on, a.seq));

SELECT 'receivables_overdue', count(*)
  FROM risk.receivables r
 WHERE r.paid_on IS NULL
   AND r.due_on < (SELECT :'today'::date - coalesce((org.policy_value('risk_warning_thresholds', :'today'::date)
                                                       ->> 'credit_overdue_days')::int, 30));

SELECT 'open_escalations', count(*)
  FROM cases.escalations e
 WHERE e.status = 'open' AND e.raised_at <= :'at'::timestamptz;
