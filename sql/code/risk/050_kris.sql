-- Module R, part C: key risk indicators (R3.2). The seven computed indicators (migration 0032
-- seeds them), the measurement that raises a warning at once on reaching a threshold (R3.2
-- 達到, inclusive, in the indicator's direction), the no-flapping rule, the job 'risk.kris' that
-- measures what is due, and the routes' functions of /v1/kris (docs/risk-indicators.md).
--
-- The indicators are SECURITY DEFINER (owner tianxing_owner): they count over every row of the
-- operational data whoever asks (the job has no person); they return one number and nothing of
-- the rows. Each is one set-based statement (part F runs them over 1 000 000 customers and
-- 100 000 cases). p_at is the moment measured: rows are counted as they stood then, as far as
-- the data keeps its history; "today" is p_at's date in the company time zone. The policy values
-- and the day are read once per call (MATERIALIZED: inlined, the planner would evaluate them for
-- every row it filters; 3 minutes instead of a second at 120 000 credit assessments).

-- The cust.contracts policies admit only the people related to a customer; the owner reads every
-- contract for contracts_under_prepayment (and for nothing else of this file).
DROP POLICY IF EXISTS contracts_kri_read ON cust.contracts;
CREATE POLICY contracts_kri_read ON cust.contracts FOR SELECT TO tianxing_owner USING (true);

-- The indicators (R3.2) -------------------------------------------------------------------------
-- Overdue case milestones (P2.2): milestone deadlines still open (neither met nor closed with
-- their case) whose due time has passed.
CREATE OR REPLACE FUNCTION risk.kri_overdue_milestones(p_at timestamptz) RETURNS numeric
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT count(*)::numeric FROM cases.deadlines d
   WHERE d.kind = 'milestone' AND d.met_at IS NULL AND d.closed_at IS NULL
     AND d.due_at < p_at AND d.starts_at <= p_at
$$;

-- Rework rate (P3.1-P3.3), percent: of the review decisions of the 30 days up to p_at, those that
-- failed the case back to its workers. 0 when nothing was decided (no evidence of rework).
-- Percentages keep the 4 decimals a measurement stores: the band is decided on them (19.996 has
-- not reached 20), and clients round for display.
CREATE OR REPLACE FUNCTION risk.kri_rework_rate(p_at timestamptz) RETURNS numeric
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce(round(100.0 * count(*) FILTER (WHERE r.outcome = 'failed') / nullif(count(*), 0), 4), 0)
    FROM cases.reviews r
   WHERE r.decided_at IS NOT NULL AND r.decided_at > p_at - interval '30 days' AND r.decided_at <= p_at
$$;

-- Stale customers (C4.1), percent: of the customers that exist at p_at (not disposed of, not
-- merged into another), those not verified within the review period customer_review_period_days
-- (never verified counts from creation, as cust.is_stale). 0 without customers.
CREATE OR REPLACE FUNCTION risk.kri_stale_customers(p_at timestamptz) RETURNS numeric
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  WITH p AS MATERIALIZED (
    SELECT make_interval(days => coalesce(
             (org.policy_value('customer_review_period_days', org.company_date(p_at)))::int, 180)) AS period)
  SELECT coalesce(round(100.0 * count(*) FILTER (WHERE coalesce(c.last_verified_at, c.created_at) < p_at - p.period)
                        / nullif(count(*), 0), 4), 0)
    FROM cust.customers c CROSS JOIN p
   WHERE c.status <> 'disposed' AND c.merged_into IS NULL AND c.created_at <= p_at
$$;

-- Contracts under the prepayment minimum (R2.3): open contracts whose prepayment ratio (none
-- recorded: 0) is below the company minimum risk_warning_thresholds.prepayment_ratio_min or, when
-- higher, what the customer's current credit rating requires (credit_rating_policy; the current
-- assessment as the contract gate reads it, risk.current_credit: the latest assessed valid on the
-- day) -- a contract signed under a better rating counts once the customer is downgraded; unless
-- valid, unreleased guarantees of the contract (or of all the customer's contracts) in its
-- currency cover the gap amount x (required - ratio).
CREATE OR REPLACE FUNCTION risk.kri_contracts_under_prepayment(p_at timestamptz) RETURNS numeric
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  WITH d AS MATERIALIZED (SELECT org.company_date(p_at) AS day),
  pol AS MATERIALIZED (
    SELECT org.policy_value('credit_rating_policy', d.day) -> 'ratings' AS ratings,
           coalesce((org.policy_value('risk_warning_thresholds', d.day) ->> 'prepayment_ratio_min')::numeric, 0) AS min_ratio
      FROM d),
  rating AS (
    SELECT x ->> 'rating' AS rating, (x ->> 'prepayment_ratio')::numeric AS ratio
      FROM pol CROSS JOIN jsonb_array_elements(pol.ratings) x),
  cur AS (
    SELECT DISTINCT ON (a.customer_id) a.customer_id, a.rating
      FROM risk.credit_assessments a CROSS JOIN d
     WHERE a.at <= p_at AND a.assessed_on <= d.day AND a.valid_until >= d.day
     ORDER BY a.customer_id, a.assessed_on DESC, a.seq DESC),
  req AS (
    SELECT k.id, k.customer_id, k.amount, k.currency, coalesce(k.prepayment_ratio, 0) AS ratio,
           greatest(pol.min_ratio, coalesce(rating.ratio, pol.min_ratio)) AS required
      FROM cust.contracts k
      CROSS JOIN d CROSS JOIN pol
      LEFT JOIN cur ON cur.customer_id = k.customer_id
      LEFT JOIN rating ON rating.rating = cur.rating
     WHERE k.status = 'open' AND k.signed_on <= d.day AND k.created_at <= p_at)
  SELECT count(*)::numeric
    FROM req CROSS JOIN d
   WHERE req.ratio < req.required
     AND coalesce((SELECT sum(g.amount) FROM risk.guarantees g
                    WHERE g.customer_id = req.customer_id
                      AND (g.contract_id = req.id OR g.contract_id IS NULL)
                      AND g.currency = req.currency
                      AND g.valid_from <= d.day AND g.valid_until >= d.day
                      AND g.created_at <= p_at
                      AND (g.released_at IS NULL OR g.released_at > p_at)), 0)
         < req.amount * (req.required - req.ratio)
$$;

-- Credit assessments expiring (R2.3): customers whose current assessment (as of p_at: the latest
-- assessed valid on the day, as risk.current_credit) expires within
-- credit_rating_policy.expiring_within_days. A renewed customer's older assessment does not
-- count.
CREATE OR REPLACE FUNCTION risk.kri_credit_expiring(p_at timestamptz) RETURNS numeric
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  WITH d AS MATERIALIZED (
    SELECT org.company_date(p_at) AS day,
           coalesce((org.policy_value('credit_rating_policy', org.company_date(p_at))
                       ->> 'expiring_within_days')::int, 30) AS within),
  cur AS (
    SELECT DISTINCT ON (a.customer_id) a.customer_id, a.valid_until
      FROM risk.credit_assessments a CROSS JOIN d
     WHERE a.at <= p_at AND a.assessed_on <= d.day AND a.valid_until >= d.day
     ORDER BY a.customer_id, a.assessed_on DESC, a.seq DESC)
  SELECT count(*)::numeric FROM cur CROSS JOIN d
   WHERE cur.valid_until <= d.day + d.within
$$;

-- Overdue receivables (R2.3): receivables unpaid on the day more than
-- risk_warning_thresholds.credit_overdue_days after their due date. Two branches so that the
-- usual case (still unpaid) reads the partial index of open receivables.
CREATE OR REPLACE FUNCTION risk.kri_receivables_overdue(p_at timestamptz) RETURNS numeric
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  WITH d AS MATERIALIZED (
    SELECT org.company_date(p_at) AS day,
           coalesce((org.policy_value('risk_warning_thresholds', org.company_date(p_at))
                       ->> 'credit_overdue_days')::int, 30) AS days)
  SELECT ((SELECT count(*) FROM risk.receivables r CROSS JOIN d
            WHERE r.paid_on IS NULL AND r.due_on < d.day - d.days AND r.created_at <= p_at)
        + (SELECT count(*) FROM risk.receivables r CROSS JOIN d
            WHERE r.paid_on > d.day AND r.due_on < d.day - d.days AND r.created_at <= p_at))::numeric
$$;

-- Open escalations (P2.3): raised by p_at and still waiting for an answer (not resolved, climbed
-- or withdrawn; a climbed one is counted once, as the row one level up).
CREATE OR REPLACE FUNCTION risk.kri_open_escalations(p_at timestamptz) RETURNS numeric
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT count(*)::numeric FROM cases.escalations e WHERE e.status = 'open' AND e.raised_at <= p_at
$$;

DO $$
DECLARE f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['kri_overdue_milestones', 'kri_rework_rate', 'kri_stale_customers',
                           'kri_contracts_under_prepayment', 'kri_credit_expiring',
                           'kri_receivables_overdue', 'kri_open_escalations'] LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION risk.%I(timestamptz) FROM PUBLIC', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION risk.%I(timestamptz) TO tianxing_app', f);
  END LOOP;
END
$$;

-- Measuring (R3.2) ------------------------------------------------------------------------------
-- The thresholds of indicator p_code in force on p_on: its entry of kri_thresholds
-- ({warning, critical, rearm, frequency}), NULL when the policy has none (band 'unset').
CREATE OR REPLACE FUNCTION risk.kri_policy(p_code text, p_on date) RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT org.policy_value('kri_thresholds', p_on) -> p_code $$;
REVOKE ALL ON FUNCTION risk.kri_policy(text,date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.kri_policy(text,date) TO tianxing_app;

-- The band of a value (R3.2 達到: reaching a threshold counts, inclusive). Direction 'up':
-- critical when value >= critical, warning when value >= warning; 'down' mirrored (<=).
CREATE OR REPLACE FUNCTION risk.kri_band(p_value numeric, p_direction text, p_warning numeric,
                                         p_critical numeric) RETURNS text
  LANGUAGE sql IMMUTABLE
  AS $$
  SELECT CASE
           WHEN p_warning IS NULL OR p_critical IS NULL THEN 'unset'
           WHEN p_direction = 'up' AND p_value >= p_critical THEN 'critical'
           WHEN p_direction = 'up' AND p_value >= p_warning THEN 'warning'
           WHEN p_direction = 'down' AND p_value <= p_critical THEN 'critical'
           WHEN p_direction = 'down' AND p_value <= p_warning THEN 'warning'
           ELSE 'normal'
         END
$$;
REVOKE ALL ON FUNCTION risk.kri_band(numeric,text,numeric,numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.kri_band(numeric,text,numeric,numeric) TO tianxing_app;

-- The value of computed indicator p_kri at p_at (its compute function; the name is checked by
-- the table's CHECK and must be a function of schema risk taking a timestamptz).
CREATE OR REPLACE FUNCTION risk.kri_compute(p_kri uuid, p_at timestamptz) RETURNS numeric
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_compute text;
  v numeric;
BEGIN
  SELECT k.compute INTO v_compute FROM risk.kris k WHERE k.id = p_kri;
  IF v_compute IS NULL OR to_regprocedure(v_compute || '(timestamptz)') IS NULL THEN
    RAISE EXCEPTION 'indicator % has no function to compute it', p_kri USING ERRCODE = 'TXCON';
  END IF;
  EXECUTE format('SELECT risk.%I($1)', substr(v_compute, 6)) INTO v USING p_at;
  RETURN coalesce(v, 0);
END
$$;
REVOKE ALL ON FUNCTION risk.kri_compute(uuid,timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.kri_compute(uuid,timestamptz) TO tianxing_app;

-- Stores a measurement of p_kri taken at p_at with the thresholds in force that day and its band,
-- and raises or escalates the indicator's warning at once (R3.2 及時). The caller has checked
-- who may measure (risk.measure). The rule against flapping (docs/risk-indicators.md):
--   * one warning is open per indicator (unique index): a reading in a band while one is open
--     raises nothing new; a critical reading escalates an open 'warning' to 'critical';
--   * a warning disarms the indicator (kris.armed = false); it re-arms only when a reading is
--     back on the safe side of the warning threshold by the policy's `rearm` margin
--     (up: value <= warning - rearm; down: value >= warning + rearm). While disarmed, readings at
--     or over the warning threshold raise nothing: a value hovering at the threshold gives one
--     warning, not one per reading, even after that warning is closed;
--   * exception: disarmed with no open warning, a critical reading raises a new (critical)
--     warning when the indicator's last warning never reached critical: a worsening is a new
--     signal, a plateau is not.
CREATE OR REPLACE FUNCTION risk.measure_at(p_kri uuid, p_value numeric, p_source text, p_note text,
                                           p_at timestamptz) RETURNS risk.kri_measurements
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  k risk.kris;
  pol jsonb;
  v_warn numeric;
  v_crit numeric;
  v_rearm numeric;
  v_band text;
  m risk.kri_measurements;
  w risk.warnings;
  v_last_level text;
  v_armed boolean;
BEGIN
  -- one measurement of an indicator at a time: the armed flag and the open warning are read
  -- and written under this lock
  SELECT * INTO k FROM risk.kris x WHERE x.id = p_kri FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such indicator' USING ERRCODE = 'P0002';
  END IF;
  pol := risk.kri_policy(k.code, org.company_date(p_at));
  v_warn := (pol ->> 'warning')::numeric;
  v_crit := (pol ->> 'critical')::numeric;
  v_rearm := coalesce((pol ->> 'rearm')::numeric, 0);
  v_band := risk.kri_band(p_value, k.direction, v_warn, v_crit);

  INSERT INTO risk.kri_measurements (kri_id, value, measured_at, source, entered_by, note,
                                     warning_threshold, critical_threshold, band)
  VALUES (k.id, p_value, p_at, p_source,
          CASE WHEN p_source = 'job' THEN NULL ELSE tx.user_id() END, p_note,
          v_warn, v_crit, v_band)
  RETURNING * INTO m;

  v_armed := k.armed;
  IF v_band IN ('warning', 'critical') THEN
    SELECT * INTO w FROM risk.warnings x WHERE x.kri_id = k.id AND x.status <> 'closed' FOR UPDATE;
    IF FOUND THEN
      IF v_band = 'critical' AND w.level = 'warning' THEN
        UPDATE risk.warnings x
           SET level = 'critical', threshold = v_crit, escalated_at = p_at,
               version = x.version + 1, updated_at = now()
         WHERE x.id = w.id;
      END IF;
      v_armed := false;
    ELSE
      SELECT x.level INTO v_last_level FROM risk.warnings x
       WHERE x.kri_id = k.id ORDER BY x.raised_at DESC, x.id DESC LIMIT 1;
      IF k.armed OR (v_band = 'critical' AND v_last_level = 'warning') THEN
        INSERT INTO risk.warnings (kri_id, measurement_id, level, value, threshold, status,
                                   owner_id, raised_at)
        VALUES (k.id, m.id, v_band, p_value,
                CASE v_band WHEN 'critical' THEN v_crit ELSE v_warn END, 'open', k.owner_id, p_at);
      END IF;
      v_armed := false;
    END IF;
  ELSIF v_band = 'normal'
        AND ((k.direction = 'up' AND p_value <= v_warn - v_rearm)
             OR (k.direction = 'down' AND p_value >= v_warn + v_rearm)) THEN
    v_armed := true;
  END IF;

  UPDATE risk.kris x
     SET armed = v_armed, last_measured_at = greatest(x.last_measured_at, p_at)
   WHERE x.id = k.id;
  RETURN m;
END
$$;
REVOKE ALL ON FUNCTION risk.measure_at(uuid,numeric,text,text,timestamptz) FROM PUBLIC;

-- Measures indicator p_kri now (R3.2), the writer every measurement goes through:
--   'job'     the job (no person signed in); a computed indicator's value is computed when
--             p_value is NULL; a value given is stored as the job's (tests, imports);
--   'manual'  a hand-entered indicator's value, by a risk officer, admin or the indicator's owner;
--   'request' a computed indicator measured now on a person's request (same people); the value
--             is computed here, never given.
-- Returns the measurement; its warning, if it raised or escalated one, is the indicator's open
-- warning (risk.warnings.measurement_id for a raise).
CREATE OR REPLACE FUNCTION risk.measure(p_kri uuid, p_value numeric, p_source text, p_note text)
  RETURNS risk.kri_measurements
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  k risk.kris;
  v_value numeric := p_value;
  v_at timestamptz := now();
BEGIN
  SELECT * INTO k FROM risk.kris x WHERE x.id = p_kri;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such indicator' USING ERRCODE = 'P0002';
  END IF;
  IF p_source IS NULL OR p_source NOT IN ('job', 'manual', 'request') THEN
    PERFORM api.fail('TXVAL', 'source', 'must be job, manual or request');
  END IF;
  IF p_source = 'job' THEN
    IF tx.user_id() IS NOT NULL THEN
      RAISE EXCEPTION 'only the job measures as the job' USING ERRCODE = '42501';
    END IF;
  ELSIF NOT (tx.has_role('risk_officer') OR tx.has_role('admin')
             OR (k.owner_id IS NOT NULL AND k.owner_id = tx.user_id())) THEN
    RAISE EXCEPTION 'an indicator is measured by a risk officer, admin or its owner'
      USING ERRCODE = '42501';
  END IF;
  IF NOT k.active THEN
    RAISE EXCEPTION 'the indicator is inactive' USING ERRCODE = 'TXCON';
  END IF;
  IF p_note IS NOT NULL AND (btrim(p_note) = '' OR length(p_note) > 2000) THEN
    PERFORM api.fail('TXVAL', 'note', 'must be 1 to 2000 characters');
  END IF;
  IF p_source = 'manual' AND k.source <> 'manual' THEN
    PERFORM api.fail('TXVAL', 'value', 'the indicator is computed from data: measure it without a value');
  END IF;
  IF p_source = 'request' AND k.source <> 'computed' THEN
    PERFORM api.fail('TXVAL', 'value', 'the indicator is entered by hand: a value is required');
  END IF;
  IF p_source = 'request' AND p_value IS NOT NULL THEN
    PERFORM api.fail('TXVAL', 'value', 'the indicator is computed from data: measure it without a value');
  END IF;
  IF v_value IS NULL THEN
    IF k.source = 'manual' THEN
      PERFORM api.fail('TXVAL', 'value', 'is required');
    END IF;
    v_value := risk.kri_compute(k.id, v_at);
  END IF;
  IF abs(v_value) >= 1e14 THEN
    PERFORM api.fail('TXVAL', 'value', 'must be less than 10^14 in magnitude');
  END IF;
  RETURN risk.measure_at(k.id, v_value, p_source, p_note, v_at);
END
$$;
REVOKE ALL ON FUNCTION risk.measure(uuid,numeric,text,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.measure(uuid,numeric,text,text) TO tianxing_app;

-- Measures every active computed indicator due at p_now by its policy frequency (all of them
-- with p_force), as the job, each at p_now; returns how many. Due compares company dates, so
-- that a daily run a few seconds earlier than yesterday's still measures: daily when last
-- measured on an earlier day, weekly 7 days after, monthly a month after; an indicator without
-- a policy entry is measured daily (band 'unset'). The job's body.
CREATE OR REPLACE FUNCTION risk.measure_due(p_now timestamptz, p_force boolean DEFAULT false)
  RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_today date;
  v_n int := 0;
  v_due boolean;
  k record;
BEGIN
  IF tx.user_id() IS NOT NULL THEN
    RAISE EXCEPTION 'only the job measures as the job' USING ERRCODE = '42501';
  END IF;
  v_today := org.company_date(p_now);
  FOR k IN
    SELECT x.id, x.last_measured_at,
           coalesce(risk.kri_policy(x.code, v_today) ->> 'frequency', 'daily') AS frequency
      FROM risk.kris x
     WHERE x.active AND x.source = 'computed'
     ORDER BY x.code
  LOOP
    v_due := p_force OR k.last_measured_at IS NULL
             OR CASE k.frequency
                  WHEN 'weekly' THEN org.company_date(k.last_measured_at) + 7 <= v_today
                  WHEN 'monthly' THEN (org.company_date(k.last_measured_at) + interval '1 month')::date <= v_today
                  ELSE org.company_date(k.last_measured_at) < v_today
                END;
    IF v_due THEN
      PERFORM risk.measure_at(k.id, risk.kri_compute(k.id, p_now), 'job', NULL, p_now);
      v_n := v_n + 1;
    END IF;
  END LOOP;
  RETURN v_n;
END
$$;
REVOKE ALL ON FUNCTION risk.measure_due(timestamptz,boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.measure_due(timestamptz,boolean) TO tianxing_app;

-- The job 'risk.kris' (daily 02:15 company time, migration 0029; src/modules/risk/kris.c).
-- Payload (optional): {"force": true} measures every computed indicator whatever its frequency.
CREATE OR REPLACE FUNCTION risk.kris_job(p_payload jsonb) RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE v_force boolean := false;
BEGIN
  IF p_payload IS NOT NULL AND p_payload ? 'force' THEN
    IF jsonb_typeof(p_payload -> 'force') <> 'boolean' THEN
      RAISE EXCEPTION 'risk.kris: force must be a boolean' USING ERRCODE = '22023';
    END IF;
    v_force := (p_payload ->> 'force')::boolean;
  END IF;
  RETURN jsonb_build_object('measured', risk.measure_due(now(), v_force));
END
$$;
REVOKE ALL ON FUNCTION risk.kris_job(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.kris_job(jsonb) TO tianxing_app;

-- The routes of /v1/kris (R3.2) -----------------------------------------------------------------
-- A measurement as the API shows it (built from the row: the person who entered a value may not
-- read the measurements' table).
CREATE OR REPLACE FUNCTION api.kri_measurement_json(m risk.kri_measurements) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object(
           'id', m.id, 'kri_id', m.kri_id, 'value', m.value, 'measured_at', api.ts(m.measured_at),
           'source', m.source, 'entered_by', m.entered_by, 'note', m.note,
           'warning_threshold', m.warning_threshold, 'critical_threshold', m.critical_threshold,
           'band', m.band)
$$;
REVOKE ALL ON FUNCTION api.kri_measurement_json(risk.kri_measurements) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.kri_measurement_json(risk.kri_measurements) TO tianxing_app;

-- An indicator: its definition, the thresholds in force today (policy kri_thresholds; null when
-- it has no entry), whether it is armed (the no-flapping rule), its latest measurement and its
-- open warning as the caller may see them. NULL when the caller cannot see it.
CREATE OR REPLACE FUNCTION api.kri_json(p_id uuid) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object(
           'id', k.id, 'code', k.code, 'name', k.name, 'measures', k.measures,
           'source', k.source, 'compute', k.compute, 'unit', k.unit, 'direction', k.direction,
           'category', k.category, 'owner_id', k.owner_id, 'active', k.active, 'armed', k.armed,
           'thresholds', risk.kri_policy(k.code, org.company_date(now())),
           'last_measured_at', api.ts(k.last_measured_at),
           'latest', (SELECT api.kri_measurement_json(m) FROM risk.kri_measurements m
                       WHERE m.kri_id = k.id ORDER BY m.measured_at DESC, m.id DESC LIMIT 1),
           'open_warning_id', (SELECT w.id FROM risk.warnings w
                                WHERE w.kri_id = k.id AND w.status <> 'closed'),
           'created_by', k.created_by, 'version', k.version,
           'created_at', api.ts(k.created_at), 'updated_at', api.ts(k.updated_at))
    FROM risk.kris k WHERE k.id = p_id
$$;
REVOKE ALL ON FUNCTION api.kri_json(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.kri_json(uuid) TO tianxing_app;

-- GET /v1/kris?active=&category= : every signed-in employee (R3.2: the indicators are known to
-- all); by code. A short list (tens): no paging, {items}.
CREATE OR REPLACE FUNCTION api.kri_list(p_active boolean, p_category text) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  PERFORM api.require_user();
  IF p_category IS NOT NULL AND p_category NOT IN ('market', 'credit', 'operational', 'other') THEN
    PERFORM api.fail('TXVAL', 'category', 'is market, credit, operational or other');
  END IF;
  RETURN json_build_object('items', coalesce(
           (SELECT json_agg(api.kri_json(k.id) ORDER BY k.code) FROM risk.kris k
             WHERE (p_active IS NULL OR k.active = p_active)
               AND (p_category IS NULL OR k.category = p_category)), '[]'::json));
END
$$;
REVOKE ALL ON FUNCTION api.kri_list(boolean, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.kri_list(boolean, text) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.kri_get(p_id uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE v json;
BEGIN
  PERFORM api.require_user();
  v := api.kri_json(p_id);
  IF v IS NULL THEN
    RAISE EXCEPTION 'no such indicator' USING ERRCODE = 'P0002';
  END IF;
  RETURN v;
END
$$;
REVOKE ALL ON FUNCTION api.kri_get(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.kri_get(uuid) TO tianxing_app;

-- The owner of an indicator (notified of its warnings): an active employee; NULL = the risk
-- officers.
CREATE OR REPLACE FUNCTION risk.kri_owner_check(p_owner uuid) RETURNS void
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF p_owner IS NOT NULL AND NOT EXISTS (SELECT FROM org.employees e WHERE e.id = p_owner AND e.active) THEN
    PERFORM api.fail('TXVAL', 'owner_id', 'is not an active employee');
  END IF;
END
$$;
REVOKE ALL ON FUNCTION risk.kri_owner_check(uuid) FROM PUBLIC;

-- POST /v1/kris (risk_officer, admin; R3.2): a new indicator {code, name, measures, source,
-- compute?, unit, direction, category, owner_id?}. A computed one names an existing function
-- risk.kri_<...>(timestamptz); its thresholds are the policy kri_thresholds' entry for its code
-- (four-eyes, effective-dated): until the policy has one, its measurements are 'unset' and raise
-- nothing. A code in use: 409 (TXDUP, existing_id).
CREATE OR REPLACE FUNCTION risk.kri_create(p_body jsonb) RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_code text;
  v_source text;
  v_compute text;
  v_direction text;
  v_category text;
  v_owner uuid;
  v_existing uuid;
  v_id uuid;
BEGIN
  PERFORM api.require_role('risk_officer', 'admin');
  PERFORM api.body_keys(p_body, ARRAY['code', 'name', 'measures', 'source', 'compute', 'unit',
                                      'direction', 'category', 'owner_id']);
  v_code := api.body_text(p_body, 'code', true, 48);
  IF v_code !~ '^[a-z][a-z0-9_]{1,47}$' THEN
    PERFORM api.fail('TXVAL', 'code', 'must be 2 to 48 characters: a lowercase letter, then lowercase letters, digits or _');
  END IF;
  v_source := api.body_text(p_body, 'source', true, 20);
  IF v_source NOT IN ('computed', 'manual') THEN
    PERFORM api.fail('TXVAL', 'source', 'is computed or manual');
  END IF;
  v_compute := api.body_text(p_body, 'compute', false, 80);
  IF v_source = 'manual' AND v_compute IS NOT NULL THEN
    PERFORM api.fail('TXVAL', 'compute', 'a manual indicator has no function');
  END IF;
  IF v_source = 'computed' AND (v_compute IS NULL OR v_compute !~ '^risk\.kri_[a-z0-9_]+$'
                                OR to_regprocedure(v_compute || '(timestamptz)') IS NULL) THEN
    PERFORM api.fail('TXVAL', 'compute', 'must name an existing function risk.kri_<name>(timestamptz)');
  END IF;
  v_direction := api.body_text(p_body, 'direction', true, 10);
  IF v_direction NOT IN ('up', 'down') THEN
    PERFORM api.fail('TXVAL', 'direction', 'is up (higher is worse) or down');
  END IF;
  v_category := api.body_text(p_body, 'category', true, 20);
  IF v_category NOT IN ('market', 'credit', 'operational', 'other') THEN
    PERFORM api.fail('TXVAL', 'category', 'is market, credit, operational or other');
  END IF;
  v_owner := api.body_uuid(p_body, 'owner_id', false);
  PERFORM risk.kri_owner_check(v_owner);
  SELECT k.id INTO v_existing FROM risk.kris k WHERE k.code = v_code;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'TXDUP',
      MESSAGE = format('an indicator with the code %s exists', v_code),
      DETAIL = jsonb_build_object('existing_id', v_existing,
                 'errors', jsonb_build_array(api.field_error('code', 'duplicate',
                                                             'this code is in use')))::text;
  END IF;
  INSERT INTO risk.kris (code, name, measures, source, compute, unit, direction, category,
                         owner_id, created_by)
  VALUES (v_code, api.body_text(p_body, 'name', true, 200), api.body_text(p_body, 'measures', true, 2000),
          v_source, v_compute, api.body_text(p_body, 'unit', true, 40), v_direction, v_category,
          v_owner, tx.user_id())
  RETURNING id INTO v_id;
  RETURN v_id;
END
$$;
REVOKE ALL ON FUNCTION risk.kri_create(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.kri_create(jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.kri_create(p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE v uuid;
BEGIN
  v := risk.kri_create(p_body);
  RETURN api.kri_json(v);
END
$$;
REVOKE ALL ON FUNCTION api.kri_create(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.kri_create(jsonb) TO tianxing_app;

-- PATCH /v1/kris/{id} (risk_officer, admin; If-Match): name, measures, unit, category, owner_id,
-- active. The code, source, function and direction define what the measurements mean: a change
-- of those is a new indicator.
CREATE OR REPLACE FUNCTION risk.kri_update(p_id uuid, p_version int, p_body jsonb) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  k risk.kris;
  v_category text;
  v_owner uuid;
BEGIN
  PERFORM api.require_user();
  SELECT * INTO k FROM risk.kris x WHERE x.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such indicator' USING ERRCODE = 'P0002';
  END IF;
  PERFORM api.require_role('risk_officer', 'admin');
  PERFORM api.body_keys(p_body, ARRAY['name', 'measures', 'unit', 'category', 'owner_id', 'active']);
  PERFORM api.check_version(p_version, k.version);
  IF p_body ? 'category' THEN
    v_category := api.body_text(p_body, 'category', true, 20);
    IF v_category NOT IN ('market', 'credit', 'operational', 'other') THEN
      PERFORM api.fail('TXVAL', 'category', 'is market, credit, operational or other');
    END IF;
  END IF;
  IF p_body ? 'owner_id' THEN
    v_owner := api.body_uuid(p_body, 'owner_id', false);
    PERFORM risk.kri_owner_check(v_owner);
  END IF;
  IF p_body ? 'active' AND jsonb_typeof(p_body -> 'active') <> 'boolean' THEN
    PERFORM api.fail('TXVAL', 'active', 'must be true or false');
  END IF;
  UPDATE risk.kris x
     SET name = CASE WHEN p_body ? 'name' THEN api.body_text(p_body, 'name', true, 200) ELSE x.name END,
         measures = CASE WHEN p_body ? 'measures' THEN api.body_text(p_body, 'measures', true, 2000) ELSE x.measures END,
         unit = CASE WHEN p_body ? 'unit' THEN api.body_text(p_body, 'unit', true, 40) ELSE x.unit END,
         category = CASE WHEN p_body ? 'category' THEN v_category ELSE x.category END,
         owner_id = CASE WHEN p_body ? 'owner_id' THEN v_owner ELSE x.owner_id END,
         active = CASE WHEN p_body ? 'active' THEN (p_body ->> 'active')::boolean ELSE x.active END,
         version = x.version + 1, updated_at = now()
   WHERE x.id = p_id;
END
$$;
REVOKE ALL ON FUNCTION risk.kri_update(uuid, int, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.kri_update(uuid, int, jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.kri_update(p_id uuid, p_version int, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM risk.kri_update(p_id, p_version, p_body);
  RETURN api.kri_json(p_id);
END
$$;
REVOKE ALL ON FUNCTION api.kri_update(uuid, int, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.kri_update(uuid, int, jsonb) TO tianxing_app;

-- GET /v1/kris/{id}/measurements (risk_officer, admin, auditor, supervisor: the people who
-- watch them): newest first; keyset, the cursor is the last item's id.
CREATE OR REPLACE FUNCTION api.kri_measurements(p_id uuid, p_limit int, p_cursor text) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  c risk.kri_measurements;
  v_out json;
BEGIN
  PERFORM api.require_user();
  IF NOT EXISTS (SELECT FROM risk.kris k WHERE k.id = p_id) THEN
    RAISE EXCEPTION 'no such indicator' USING ERRCODE = 'P0002';
  END IF;
  PERFORM api.require_role('risk_officer', 'admin', 'auditor', 'supervisor');
  IF p_cursor IS NOT NULL THEN
    IF p_cursor !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
    SELECT * INTO c FROM risk.kri_measurements m WHERE m.id = p_cursor::uuid AND m.kri_id = p_id;
    IF NOT FOUND THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
  END IF;
  WITH page AS (
    SELECT m, m.id, row_number() OVER (ORDER BY m.measured_at DESC, m.id DESC) AS rn
      FROM risk.kri_measurements m
     WHERE m.kri_id = p_id
       AND (c.id IS NULL OR (m.measured_at, m.id) < (c.measured_at, c.id))
     ORDER BY m.measured_at DESC, m.id DESC
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(api.kri_measurement_json(p.m) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN (max(p.id::text) FILTER (WHERE p.rn = v_limit)) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.kri_measurements(uuid, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.kri_measurements(uuid, int, text) TO tianxing_app;

-- POST /v1/kris/{id}/measurements (risk_officer, admin, the indicator's owner; R3.2):
-- {value, note?} for a hand-entered indicator; {note?} for a computed one, measured from the data
-- now. 201 with the measurement and `warning`: the warning this measurement raised or escalated
-- (at once, R3.2 及時), with `warning_action` raised | escalated; null when it did neither.
CREATE OR REPLACE FUNCTION risk.kri_measure_request(p_id uuid, p_body jsonb) RETURNS risk.kri_measurements
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  k risk.kris;
  v_value numeric;
BEGIN
  PERFORM api.require_user();
  SELECT * INTO k FROM risk.kris x WHERE x.id = p_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such indicator' USING ERRCODE = 'P0002';
  END IF;
  IF NOT (tx.has_role('risk_officer') OR tx.has_role('admin')
          OR (k.owner_id IS NOT NULL AND k.owner_id = tx.user_id())) THEN
    RAISE EXCEPTION 'an indicator is measured by a risk officer, admin or its owner'
      USING ERRCODE = '42501';
  END IF;
  PERFORM api.body_keys(p_body, ARRAY['value', 'note']);
  IF p_body ? 'value' AND jsonb_typeof(p_body -> 'value') <> 'null' THEN
    IF jsonb_typeof(p_body -> 'value') <> 'number' THEN
      PERFORM api.fail('TXVAL', 'value', 'must be a number');
    END IF;
    v_value := (p_body ->> 'value')::numeric;
  END IF;
  RETURN risk.measure(p_id, v_value, CASE k.source WHEN 'manual' THEN 'manual' ELSE 'request' END,
                      api.body_text(p_body, 'note', false, 2000));
END
$$;
REVOKE ALL ON FUNCTION risk.kri_measure_request(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.kri_measure_request(uuid, jsonb) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.kri_measure(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  m risk.kri_measurements;
  r record;
BEGIN
  m := risk.kri_measure_request(p_id, p_body);
  SELECT * INTO r FROM risk.kri_warning_of(m.id);
  RETURN (api.kri_measurement_json(m)::jsonb
          || jsonb_build_object('warning', CASE WHEN r.warning_id IS NOT NULL
                                                THEN api.warning_json(r.warning_id) END,
                                'warning_action', r.action))::json;
END
$$;
REVOKE ALL ON FUNCTION api.kri_measure(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.kri_measure(uuid, jsonb) TO tianxing_app;

-- The warning measurement p_measurement raised (its measurement_id) or escalated (escalated at
-- its time), and which.
CREATE OR REPLACE FUNCTION risk.kri_warning_of(p_measurement uuid)
  RETURNS TABLE (warning_id uuid, action text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT w.id, CASE WHEN w.measurement_id = m.id THEN 'raised' ELSE 'escalated' END
    FROM risk.kri_measurements m
    JOIN risk.warnings w ON w.kri_id = m.kri_id
                        AND (w.measurement_id = m.id OR w.escalated_at = m.measured_at)
   WHERE m.id = p_measurement
   LIMIT 1
$$;
REVOKE ALL ON FUNCTION risk.kri_warning_of(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.kri_warning_of(uuid) TO tianxing_app;
