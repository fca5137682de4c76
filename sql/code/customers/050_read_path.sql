-- sql/code/customers/050_read_path.sql: the read path: review period, completeness with a period, PII read log.
-- One current definition per object; `tianxingd migrate` re-applies this file when it changes
-- (sql/code/ORDER, docs/architecture.md).

-- The completeness with the review period given: a customer read has it already, and each
-- org.policy_value is a query. The one-argument form (contracts, GET .../completeness) reads it.
CREATE OR REPLACE FUNCTION cust.completeness(c cust.customers, p_period interval) RETURNS jsonb
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_req jsonb := org.policy_value('customer_required_fields');
  v_total int := 0;
  v_missing text[] := '{}';
  f text;
BEGIN
  IF v_req IS NULL OR jsonb_typeof(v_req) <> 'array' THEN
    v_req := '[]';
  END IF;
  FOR f IN SELECT e #>> '{}' FROM jsonb_array_elements(v_req) WITH ORDINALITY AS a(e, i)
            WHERE jsonb_typeof(e) = 'string' ORDER BY i LOOP
    v_total := v_total + 1;
    IF NOT cust.field_present(c, f) THEN
      v_missing := v_missing || f;
    END IF;
  END LOOP;
  RETURN jsonb_build_object(
    'score', CASE WHEN v_total = 0 THEN 100
                  ELSE (100 * (v_total - cardinality(v_missing))) / v_total END,
    'missing', to_jsonb(v_missing),
    'unverified', CASE WHEN c.last_verified_at IS NULL
                            OR c.last_verified_at < now() - p_period
                       THEN '["last_verified_at"]'::jsonb ELSE '[]'::jsonb END);
END
$$;
REVOKE ALL ON FUNCTION cust.completeness(cust.customers,interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cust.completeness(cust.customers,interval) TO tianxing_app;
