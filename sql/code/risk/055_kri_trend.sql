-- A key risk indicator's values over time (R3.2; issue 16, "For people": KPI trends): the data of
-- GET /v1/kris/{id}/trend, answered as JSON and drawn as SVG by src/modules/risk/kri_trend.c.
--
-- Who sees it: those who see the history of values (GET /v1/kris/{id}/measurements, 050_kris.sql):
-- risk officers, admin, auditors, supervisors. The measurements carry the thresholds in force when
-- each was taken, so a threshold changed since is drawn where it was; the indicator's thresholds
-- today come along for the legend.
--
-- The range is of company dates (both included), 90 days to today by default, at most 731 days.
-- A picture of thousands of points says nothing more than one of 500: when the range holds more,
-- the latest 500 are given (oldest first) and `total` says how many there were.

CREATE OR REPLACE FUNCTION api.kri_trend(p_id uuid, p_from date, p_to date) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  k risk.kris;
  v_zone text := org.company_time_zone(now());
  v_to date := coalesce(p_to, org.company_date());
  v_from date := coalesce(p_from, v_to - 90);
  v_out json;
BEGIN
  PERFORM api.require_user();
  SELECT * INTO k FROM risk.kris x WHERE x.id = p_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such indicator' USING ERRCODE = 'P0002';
  END IF;
  PERFORM api.require_role('risk_officer', 'admin', 'auditor', 'supervisor');
  IF v_from > v_to THEN
    PERFORM api.fail('TXVAL', 'to', 'must not be before from');
  END IF;
  IF v_to - v_from > 731 THEN
    PERFORM api.fail('TXVAL', 'from', 'the range spans at most 731 days');
  END IF;
  WITH inrange AS (
    SELECT m.*, row_number() OVER (ORDER BY m.measured_at DESC, m.id DESC) AS rn
      FROM risk.kri_measurements m
     WHERE m.kri_id = k.id
       AND m.measured_at >= (v_from::timestamp AT TIME ZONE v_zone)
       AND m.measured_at < ((v_to + 1)::timestamp AT TIME ZONE v_zone))
  SELECT json_build_object(
           'kri', json_build_object('id', k.id, 'code', k.code, 'name', k.name, 'unit', k.unit,
                                    'direction', k.direction,
                                    'thresholds', risk.kri_policy(k.code, org.company_date(now()))),
           'from', v_from, 'to', v_to, 'time_zone', v_zone,
           -- the instants the range runs between (the start of `from`, the end of `to`)
           'starts_at', api.ts(v_from::timestamp AT TIME ZONE v_zone),
           'ends_at', api.ts((v_to + 1)::timestamp AT TIME ZONE v_zone),
           'total', count(*),
           'points', coalesce(json_agg(json_build_object(
                        'measured_at', api.ts(i.measured_at), 'value', i.value, 'band', i.band,
                        'warning_threshold', i.warning_threshold,
                        'critical_threshold', i.critical_threshold)
                      ORDER BY i.measured_at, i.id) FILTER (WHERE i.rn <= 500), '[]'::json))
    INTO v_out
    FROM inrange i;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.kri_trend(uuid, date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.kri_trend(uuid, date, date) TO tianxing_app;
