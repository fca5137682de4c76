-- Module R, part C (sql/code/risk/050_kris.sql, migration 0032): the seven key risk indicators
-- computed from operational data, the measurement that raises a warning at once on reaching a
-- threshold (R3.2, inclusive, by direction), the no-flapping rule and the job's body
-- risk.measure_due, as the runtime role. Operational data (customers, a case started with its
-- milestone deadlines, an escalation) is made through the real api functions; each indicator is
-- read at moments chosen so that the expected figure is known by hand (now, and weeks later when
-- the deadlines have passed and the customers are due for review).
-- Run by tests/sql/run as tianxing_app. Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(85);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');
\ir lib/session.psql
\ir lib/customers.psql
\ir lib/cases_catalogue.psql

-- Definitions ------------------------------------------------------------------------------
SELECT ok(p.prosecdef AND pg_get_userbyid(p.proowner) = 'tianxing_owner'
          AND p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'],
          format('risk.%s is SECURITY DEFINER, owned by tianxing_owner, search_path pinned', p.proname))
  FROM pg_proc p
 WHERE p.pronamespace = 'risk'::regnamespace
   AND p.proname IN ('kri_overdue_milestones', 'kri_rework_rate', 'kri_stale_customers',
                     'kri_contracts_under_prepayment', 'kri_credit_expiring',
                     'kri_receivables_overdue', 'kri_open_escalations', 'measure', 'measure_at',
                     'measure_due', 'kris_job', 'kri_compute');
SELECT ok(NOT has_function_privilege('tianxing_app', 'risk.measure_at(uuid, numeric, text, text, timestamptz)', 'EXECUTE'),
  'the runtime role cannot store a measurement behind risk.measure''s checks');
SELECT ok(NOT has_table_privilege('tianxing_app', t, 'INSERT,UPDATE,DELETE,TRUNCATE'),
          format('the runtime role writes %s only through the functions', t))
  FROM unnest(ARRAY['risk.kris', 'risk.kri_measurements', 'risk.warnings']) t;

-- The seven indicators (R3.2; migration 0032) ----------------------------------------------------
SELECT pg_temp.be('risk', 'risk_officer');
SELECT is(ARRAY(SELECT code FROM risk.kris WHERE source = 'computed' ORDER BY code),
          ARRAY(SELECT k FROM jsonb_object_keys(org.policy_value('kri_thresholds')) k ORDER BY k),
          'the seven indicators are shipped, one per code of kri_thresholds');
SELECT is((SELECT count(*)::int FROM risk.kris k
            WHERE k.compute = 'risk.kri_' || k.code
              AND to_regprocedure(k.compute || '(timestamptz)') IS NOT NULL), 7,
          'each computes with risk.kri_<code>(timestamptz)');
INSERT INTO ids SELECT code, id FROM risk.kris;

-- An empty company: every indicator is 0.
SELECT is(risk.kri_compute(pg_temp.id(c), now()), 0::numeric, c || ' is 0 without data')
  FROM unnest(ARRAY['overdue_milestones', 'rework_rate', 'stale_customers', 'contracts_under_prepayment',
                    'credit_expiring', 'receivables_overdue', 'open_escalations']) c;

-- Operational data through the real api functions -------------------------------------------------
-- Two customers of staff.a2: customer 1 verified now, customer 2 never verified.
SELECT pg_temp.be('staff.a2', 'staff');
CREATE FUNCTION pg_temp.rc_customer(n int, verified boolean) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object(
    'id', pg_temp.c(n), 'name', '風險' || n, 'company_name', '天星風險' || n || '有限公司',
    'business_scope', '報關代理', 'status', 'active',
    'address_enc', pg_temp.ct(40, 'raddr' || n),
    'credit_code_enc', pg_temp.ct(36, 'rcc' || n), 'credit_code_bidx', pg_temp.bi('rcc' || n),
    'contacts', jsonb_build_array(jsonb_build_object(
      'id', pg_temp.k(n), 'name', '林' || n, 'position', '經理',
      'phone_enc', pg_temp.ct(41, 'rph' || n), 'phone_bidx', pg_temp.bi('rph' || n),
      'email_enc', pg_temp.ct(50, 'rem' || n), 'email_bidx', pg_temp.bi('rem' || n))),
    'dek', jsonb_build_object('key_id', 'mk1', 'wrapped', pg_temp.ct(60, 'rdek' || n)))
    || CASE WHEN verified THEN '{"verified": true}'::jsonb ELSE '{}' END $$;
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.rc_customer(1, true)) $$, 'customer 1 (verified)');
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.rc_customer(2, false)) $$, 'customer 2 (never verified)');

-- stale_customers (C4.1, percent; review period 180 days): none now; in 181 days both are due
-- (the verified one's verification is 181 days old, the other counts from its creation).
SELECT is(risk.kri_stale_customers(now()), 0::numeric, 'stale_customers: 0 % today');
SELECT is(risk.kri_stale_customers(now() + interval '181 days'), 100::numeric,
          'stale_customers: 100 % when both are past the review period');
SELECT is(risk.kri_stale_customers(now() - interval '1 day'), 0::numeric,
          'stale_customers: 0 % before the customers existed (no division by zero)');

-- A case of customer 1 brought to work (fx-audit: milestones gather 3, prepare 5, followup 2
-- working days, cumulative): staff.a2 receives it, sup.a approves and assigns staff.a1.
DO $$
DECLARE v uuid;
BEGIN
  PERFORM pg_temp.be('staff.a2', 'staff');
  v := (api.case_create(jsonb_build_object('customer_id', pg_temp.c(1), 'raised_at', api.ts(now() - interval '1 hour'),
                                           'channel', 'phone', 'need', '需要年度審計報告')) ->> 'id')::uuid;
  INSERT INTO ids VALUES ('case', v);
  PERFORM api.case_assess(v, jsonb_build_object('in_scope', true, 'business_type_id', pg_temp.id('audit')));
  PERFORM api.case_intake(v, (api.case_json(v) ->> 'version')::int,
                          jsonb_build_object('requirements', '2025 年度財務報表審計'));
  PERFORM api.case_submit(v);
  PERFORM pg_temp.be('sup.a', 'staff,supervisor');
  PERFORM api.case_decide(v, 'approve', '{"comment": "同意"}');
  PERFORM api.case_assign(v, jsonb_build_object('lead', pg_temp.emp('staff.a1'), 'members', '[]'::jsonb));
END
$$;
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT is((SELECT count(*)::int FROM cases.deadlines d
            WHERE d.case_id = pg_temp.id('case') AND d.kind = 'milestone' AND d.met_at IS NULL), 3,
          'the started case has its three milestone deadlines');

-- overdue_milestones (P2.2): none is due yet; 60 days on, all three have passed unmet.
SELECT is(risk.kri_overdue_milestones(now()), 0::numeric, 'overdue_milestones: 0 today');
SELECT is(risk.kri_overdue_milestones(now() + interval '60 days'), 3::numeric,
          'overdue_milestones: 3 when the three deadlines have passed');
SELECT is(risk.kri_overdue_milestones(
            (SELECT min(d.due_at) FROM cases.deadlines d WHERE d.case_id = pg_temp.id('case') AND d.kind = 'milestone')
            + interval '1 second'), 1::numeric,
          'overdue_milestones: 1 just after the first deadline');

-- open_escalations (P2.3): the lead escalates a problem.
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok($$ SELECT api.case_escalation_raise(pg_temp.id('case'), '{"problem": "客戶資料不全"}') $$,
                'staff.a1 escalates a problem of the case');
SELECT is(risk.kri_open_escalations(now()), 1::numeric, 'open_escalations: 1');
SELECT is(risk.kri_open_escalations(now() - interval '1 hour'), 0::numeric,
          'open_escalations: 0 an hour ago, before it was raised');

-- The credit indicators without credit data (part B writes it): nothing to count.
SELECT is(risk.kri_contracts_under_prepayment(now()), 0::numeric, 'contracts_under_prepayment: no contracts');
SELECT is(risk.kri_credit_expiring(now()), 0::numeric, 'credit_expiring: no assessments');
SELECT is(risk.kri_receivables_overdue(now()), 0::numeric, 'receivables_overdue: no receivables');
SELECT is(risk.kri_rework_rate(now()), 0::numeric, 'rework_rate: no review decided');

-- Bands (R3.2 達到: inclusive, by direction) -------------------------------------------------------
SELECT is(risk.kri_band(9.99, 'up', 10, 30), 'normal', 'up: under the warning threshold is normal');
SELECT is(risk.kri_band(10, 'up', 10, 30), 'warning', 'up: reaching the warning threshold is a warning');
SELECT is(risk.kri_band(30, 'up', 10, 30), 'critical', 'up: reaching the critical threshold is critical');
SELECT is(risk.kri_band(50, 'down', 50, 20), 'warning', 'down: falling to the warning threshold is a warning');
SELECT is(risk.kri_band(20, 'down', 50, 20), 'critical', 'down: falling to the critical threshold is critical');
SELECT is(risk.kri_band(50.01, 'down', 50, 20), 'normal', 'down: above the warning threshold is normal');
SELECT is(risk.kri_band(5, 'up', NULL, NULL), 'unset', 'no thresholds: unset');

-- Who measures ---------------------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok($$ SELECT risk.measure(pg_temp.id('open_escalations'), NULL, 'request', NULL) $$, '42501', NULL,
  'staff may not measure an indicator');
SELECT pg_temp.be('risk', 'risk_officer');
SELECT throws_ok($$ SELECT risk.measure(pg_temp.id('open_escalations'), 5, 'job', NULL) $$, '42501', NULL,
  'a person does not measure as the job');
SELECT throws_ok($$ SELECT risk.measure(pg_temp.id('open_escalations'), 5, 'manual', NULL) $$, 'TXVAL', NULL,
  'a computed indicator takes no value by hand');
SELECT throws_ok($$ SELECT risk.measure(pg_temp.id('open_escalations'), 5, 'request', NULL) $$, 'TXVAL', NULL,
  'nor on request: the value is computed');
SELECT throws_ok($$ SELECT risk.measure('00000000-0000-4000-8000-0000000000ff', NULL, 'request', NULL) $$, 'P0002', NULL,
  'an unknown indicator is not found');
SELECT is((SELECT count(*)::int FROM risk.kri_measurements), 0, 'nothing was stored by the refusals');
SELECT is((risk.measure(pg_temp.id('open_escalations'), NULL, 'request', '月中抽查')).value, 1::numeric,
          'a risk officer measures a computed indicator now: its value from the data');
SELECT is((SELECT m.entered_by FROM risk.kri_measurements m WHERE m.kri_id = pg_temp.id('open_escalations')),
          pg_temp.emp('risk'), 'the measurement records who asked for it');

-- Raising at once, one open per indicator, no flapping (R3.2) -----------------------------------
-- overdue_milestones: warning 10, critical 30, rearm 2 (kri_thresholds), up. Values as the job.
-- rc_m(v): the job measures v (no person signed in), then the risk officer reads again.
CREATE FUNCTION pg_temp.rc_m(v numeric) RETURNS text LANGUAGE plpgsql AS $$
DECLARE b text;
BEGIN
  PERFORM pg_temp.anon();
  b := (risk.measure(pg_temp.id('overdue_milestones'), v, 'job', NULL)).band;
  PERFORM pg_temp.be('risk', 'risk_officer');
  RETURN b;
END $$;
CREATE FUNCTION pg_temp.rc_warnings() RETURNS int LANGUAGE sql AS $$
  SELECT count(*)::int FROM risk.warnings w WHERE w.kri_id = pg_temp.id('overdue_milestones') $$;
SELECT is(pg_temp.rc_m(9), 'normal', '9: normal');
SELECT is(pg_temp.rc_warnings(), 0, 'no warning under the threshold');
SELECT is(pg_temp.rc_m(10), 'warning', '10 reaches the warning threshold');
SELECT is(pg_temp.rc_warnings(), 1, 'a warning is raised at once by that measurement');
SELECT is((SELECT row(w.level, w.value, w.threshold, w.status)::text FROM risk.warnings w
            WHERE w.kri_id = pg_temp.id('overdue_milestones')),
          row('warning', 10.0000, 10.0000, 'open')::text, 'the warning: level, value, threshold, open');
SELECT is((SELECT w.measurement_id FROM risk.warnings w WHERE w.kri_id = pg_temp.id('overdue_milestones')),
          (SELECT m.id FROM risk.kri_measurements m WHERE m.kri_id = pg_temp.id('overdue_milestones') AND m.value = 10),
          'it names the measurement that raised it');
SELECT is((SELECT row(m.warning_threshold, m.critical_threshold)::text FROM risk.kri_measurements m
            WHERE m.kri_id = pg_temp.id('overdue_milestones') AND m.value = 10),
          row(10.0000, 30.0000)::text, 'the measurement keeps the thresholds in force');
SELECT is(ARRAY[pg_temp.rc_m(9.5), pg_temp.rc_m(10), pg_temp.rc_m(11), pg_temp.rc_m(9)],
          ARRAY['normal', 'warning', 'warning', 'normal'], 'hovering at the threshold: the bands are recorded');
SELECT is(pg_temp.rc_warnings(), 1, 'hovering raises nothing more');
SELECT is((SELECT armed FROM risk.kris WHERE id = pg_temp.id('overdue_milestones')), false,
          'the indicator stays disarmed: 9 is not back by the rearm margin (<= 8)');
SELECT is(pg_temp.rc_m(30), 'critical', '30 reaches the critical threshold');
SELECT is(pg_temp.rc_warnings(), 1, 'the open warning is escalated, not doubled');
SELECT is((SELECT row(w.level, w.threshold, w.escalated_at IS NOT NULL)::text FROM risk.warnings w
            WHERE w.kri_id = pg_temp.id('overdue_milestones')),
          row('critical', 30.0000, true)::text, 'escalated to critical at the critical threshold');
SELECT is(pg_temp.rc_m(8), 'normal', '8: back by the rearm margin');
SELECT is((SELECT armed FROM risk.kris WHERE id = pg_temp.id('overdue_milestones')), true, 're-armed');
SELECT is(pg_temp.rc_m(12), 'warning', '12: in the warning band again');
SELECT is(pg_temp.rc_warnings(), 1, 'still one warning: it is open (one open per indicator)');
SELECT throws_ok($$ SELECT pg_temp.rc_m(1e15) $$, 'TXVAL', NULL, 'a value out of range is refused');
SELECT pg_temp.be('risk', 'risk_officer');
SELECT is((SELECT count(*)::int FROM risk.kri_measurements m WHERE m.kri_id = pg_temp.id('overdue_milestones')), 9,
          'every measurement is kept (nine)');
SELECT throws_ok($$ UPDATE risk.kri_measurements SET value = 0 $$, '42501', NULL,
  'measurements are not the runtime role''s to change');

-- The job's body: measure_due (frequency: daily, or weekly for rework_rate and stale_customers) --
SELECT pg_temp.be('risk', 'risk_officer');
SELECT throws_ok($$ SELECT risk.measure_due(now()) $$, '42501', NULL, 'a person does not run the job');
SELECT pg_temp.anon();
SELECT is(risk.measure_due(now(), true), 7, 'forced: the seven computed indicators are measured');
SELECT is(risk.measure_due(now()), 0, 'nothing is due again the same day');
SELECT is(risk.measure_due(now() + interval '1 day'), 5, 'the next day: the five daily ones');
SELECT is(risk.measure_due(now() + interval '7 days'), 7, 'a week on: all seven');
SELECT is((risk.kris_job('{}'::jsonb) ->> 'measured')::int, 0, 'the job now: nothing due (measured "later" above)');
SELECT throws_ok($$ SELECT risk.kris_job('{"force": "yes"}') $$, '22023', NULL, 'the job refuses a malformed payload');
SELECT pg_temp.be('risk', 'risk_officer');
SELECT is((SELECT m.value FROM risk.kri_measurements m
            WHERE m.kri_id = pg_temp.id('stale_customers') AND m.source = 'job'
            ORDER BY m.measured_at DESC LIMIT 1), 0::numeric,
          'the job stored the computed value (stale customers: 0 % a week on)');

SELECT * FROM finish();
ROLLBACK;
