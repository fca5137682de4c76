-- sql/code/cases/010_calendar.sql: the working-day calendar and the deadlines computed on it
-- (module P, part F; issue 11, "Deadlines (jobs)" and "/v1/calendar").
-- One current definition per object; `tianxingd migrate` re-applies this file when it changes
-- (sql/code/ORDER, docs/architecture.md).
--
-- The calendar: Monday to Friday are working days, Saturday and Sunday are not, unless a row of
-- org.calendar_days (0018) says otherwise: a 'holiday' on a weekday (a public holiday: 國慶日,
-- the days of a Golden Week), a 'workday' on a weekend (a make-up working day of 調休). The
-- table's CHECK refuses a row that restates the default; admins maintain the rows through
-- PUT/DELETE /v1/calendar/{day}.
--
-- Deadlines (P1.1 reception, P1.4 approval, P2.2 milestones, P2.3 escalation response, P3.3 review
-- feedback, P4.1 archiving) are counted in working days and end at the END of the due working
-- day in the company's time zone (policy parameter company_time_zone, 0021): the instant stored
-- is the first moment of the next day there, so anything done on the due day, up to 23:59:59.999
-- local time, is on time. A deadline is computed once, when its clock starts, and stored
-- (cases.deadlines.due_at, cases.escalations.due_at): a later change of the calendar or of the
-- policy changes only deadlines whose clocks start afterwards.
--
-- The functions below read the calendar and the policy values as the owner (SECURITY DEFINER):
-- they are called from triggers and from the deadlines job, which has no signed-in employee and
-- so sees no row of either table under their read policies. What they reveal (whether a day is
-- a working day, a due instant) is no secret.

-- Is p_day a working day? Monday-Friday unless the calendar says otherwise.
CREATE OR REPLACE FUNCTION org.is_workday(p_day date) RETURNS boolean
  LANGUAGE sql STABLE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce((SELECT c.kind = 'workday' FROM org.calendar_days c WHERE c.day = p_day),
                  extract(isodow FROM p_day) < 6)
$$;
REVOKE ALL ON FUNCTION org.is_workday(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION org.is_workday(date) TO tianxing_app;
COMMENT ON FUNCTION org.is_workday(date) IS
  'Whether the day is a working day: Monday-Friday, unless org.calendar_days makes it a holiday '
  '(weekday) or a make-up workday of 調休 (weekend).';

-- The p_n-th working day after p_day:
--   p_n = 0: p_day itself when it is a working day, else the first working day after it (a clock
--            started on a holiday runs from the next working day);
--   p_n > 0: the p_n-th working day strictly after p_day (p_day itself does not count, whatever it
--            is: a request received on Friday with 1 working day is due on Monday);
--   p_n < 0: refused (22023): deadlines only count forward.
-- The days are read in windows (a few weeks more than p_n working days can need), so a long
-- standard duration costs one or two queries, not one per day.
CREATE OR REPLACE FUNCTION org.add_workdays(p_day date, p_n int) RETURNS date
  LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_start date := CASE WHEN p_n = 0 THEN p_day ELSE p_day + 1 END;
  v_left int := greatest(p_n, 1);  -- working days still to find, counting from v_start
  v_span int := greatest(p_n * 2, 30) + 30;
  v_found date;
  v_count int;
BEGIN
  IF p_n < 0 THEN
    RAISE EXCEPTION 'add_workdays counts forward only (n = %)', p_n USING ERRCODE = '22023';
  END IF;
  LOOP
    SELECT w.d, w.n INTO v_found, v_count
      FROM (SELECT g.d::date AS d, count(*) OVER (ORDER BY g.d) AS n
              FROM generate_series(v_start, v_start + v_span - 1, interval '1 day') AS g (d)
              LEFT JOIN org.calendar_days c ON c.day = g.d::date
             WHERE coalesce(c.kind = 'workday', extract(isodow FROM g.d) < 6)) w
     ORDER BY (w.n = v_left) DESC, w.d DESC
     LIMIT 1;
    IF v_count = v_left THEN
      RETURN v_found;
    END IF;
    v_left := v_left - coalesce(v_count, 0);
    v_start := v_start + v_span;
    -- Holidays only fall on weekdays and a weekend is two days, so a window without a working
    -- day means a calendar that is all holidays; stop rather than search for ever.
    IF v_start > p_day + 36600 THEN
      RAISE EXCEPTION 'no % working day(s) after % within 100 years', p_n, p_day
        USING ERRCODE = '22023';
    END IF;
  END LOOP;
END
$$;
REVOKE ALL ON FUNCTION org.add_workdays(date, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION org.add_workdays(date, int) TO tianxing_app;
COMMENT ON FUNCTION org.add_workdays(date, int) IS
  'The n-th working day after the day (the day itself not counted); n = 0: the day if it is a '
  'working day, else the next one; n < 0 is refused.';

-- Working days in (p_from, p_to]: after p_from, up to and including p_to, so that for a working
-- day p_to after p_from, org.add_workdays(p_from, org.workdays_between(p_from, p_to)) = p_to.
-- Negative when p_to is before p_from (minus the working days in (p_to, p_from]); 0 when equal.
-- At most 100 years apart (22023).
CREATE OR REPLACE FUNCTION org.workdays_between(p_from date, p_to date) RETURNS int
  LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_lo date := least(p_from, p_to);
  v_hi date := greatest(p_from, p_to);
  v_n int;
BEGIN
  IF v_hi - v_lo > 36600 THEN
    RAISE EXCEPTION 'workdays_between: % and % are more than 100 years apart', p_from, p_to
      USING ERRCODE = '22023';
  END IF;
  SELECT count(*) INTO v_n
    FROM generate_series(v_lo + 1, v_hi, interval '1 day') AS g (d)
    LEFT JOIN org.calendar_days c ON c.day = g.d::date
   WHERE coalesce(c.kind = 'workday', extract(isodow FROM g.d) < 6);
  RETURN CASE WHEN p_to >= p_from THEN v_n ELSE -v_n END;
END
$$;
REVOKE ALL ON FUNCTION org.workdays_between(date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION org.workdays_between(date, date) TO tianxing_app;
COMMENT ON FUNCTION org.workdays_between(date, date) IS
  'Working days after the first date up to and including the second (negative when the second '
  'is earlier).';

-- The company's time zone at p_at: the value of company_time_zone in force on p_at's date in
-- UTC (a zone's own date would need the zone first; a change of zone takes effect at 00:00 UTC of
-- its effective date). 22023 when no value is in force (before 2024-01-01).
CREATE OR REPLACE FUNCTION org.company_time_zone(p_at timestamptz DEFAULT now()) RETURNS text
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE v text;
BEGIN
  v := org.policy_value('company_time_zone', (coalesce(p_at, now()) AT TIME ZONE 'UTC')::date) #>> '{}';
  IF v IS NULL THEN
    RAISE EXCEPTION 'no value of company_time_zone is in force at %', p_at USING ERRCODE = '22023';
  END IF;
  RETURN v;
END
$$;
REVOKE ALL ON FUNCTION org.company_time_zone(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION org.company_time_zone(timestamptz) TO tianxing_app;

-- The company's date at p_at (default now): "today" for jobs, due dates and validity in
-- modules Q and R. SECURITY DEFINER: the time zone is a policy value the caller need not read.
CREATE OR REPLACE FUNCTION org.company_date(p_at timestamptz DEFAULT now()) RETURNS date
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT (p_at AT TIME ZONE org.company_time_zone(p_at))::date $$;
REVOKE ALL ON FUNCTION org.company_date(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION org.company_date(timestamptz) TO tianxing_app;
-- earlier names of the same thing (modules Q and R had one each)
DROP FUNCTION IF EXISTS org.company_date();

-- The end of the p_workdays-th working day after p_from's day in the company's zone (the rules of
-- org.add_workdays), as an instant: the first moment of the next day there. Milestones use it with
-- their cumulative standard durations; cases.deadline_at with the policy's numbers.
CREATE OR REPLACE FUNCTION cases.due_after_workdays(p_from timestamptz, p_workdays int)
  RETURNS timestamptz
  LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_zone text := org.company_time_zone(p_from);
BEGIN
  RETURN (org.add_workdays((p_from AT TIME ZONE v_zone)::date, p_workdays) + 1)::timestamp
         AT TIME ZONE v_zone;
END
$$;
REVOKE ALL ON FUNCTION cases.due_after_workdays(timestamptz, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.due_after_workdays(timestamptz, int) TO tianxing_app;

-- The deadline of a step of kind p_kind whose clock starts at p_from: the number of working days
-- of case_deadlines in force on p_from's day (in the company's zone) for that kind, on the
-- calendar, ending at the end of the due working day (cases.due_after_workdays).
--   reception        received -> assessed (P1.1)            reception_workdays
--   approval         submitted -> approve/reject/return (P1.4) approval_workdays
--   escalation       raised -> resolved (P2.3)              escalation_response_workdays
--   review_feedback  submitted for review -> decided (P3.3) review_feedback_workdays
--   archiving        confirmed -> archived (P4.1)           archiving_workdays
-- Milestones (P2.2) have their own standard durations (cases.milestones.standard_days). An
-- unknown kind, or no value in force, raises 22023 (a bug or a missing seed, not a client error).
CREATE OR REPLACE FUNCTION cases.deadline_at(p_kind text, p_from timestamptz) RETURNS timestamptz
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_member text := CASE p_kind
                     WHEN 'reception' THEN 'reception_workdays'
                     WHEN 'approval' THEN 'approval_workdays'
                     WHEN 'escalation' THEN 'escalation_response_workdays'
                     WHEN 'review_feedback' THEN 'review_feedback_workdays'
                     WHEN 'archiving' THEN 'archiving_workdays' END;
  v_zone text;
  v_policy jsonb;
  v_days int;
BEGIN
  IF v_member IS NULL THEN
    RAISE EXCEPTION 'deadline_at: unknown kind % (milestones use their standard durations)', p_kind
      USING ERRCODE = '22023';
  END IF;
  IF p_from IS NULL THEN
    RETURN NULL;
  END IF;
  v_zone := org.company_time_zone(p_from);
  v_policy := org.policy_value('case_deadlines', (p_from AT TIME ZONE v_zone)::date);
  v_days := (v_policy ->> v_member)::int;
  IF v_days IS NULL THEN
    RAISE EXCEPTION 'no value of case_deadlines.% is in force on %', v_member,
                    (p_from AT TIME ZONE v_zone)::date USING ERRCODE = '22023';
  END IF;
  RETURN cases.due_after_workdays(p_from, v_days);
END
$$;
REVOKE ALL ON FUNCTION cases.deadline_at(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.deadline_at(text, timestamptz) TO tianxing_app;
COMMENT ON FUNCTION cases.deadline_at(text, timestamptz) IS
  'When a step of this kind (reception, approval, escalation, review_feedback, archiving) started '
  'at this instant falls due: the working days of policy case_deadlines in force then, on the '
  'calendar, to the end of the due day in company_time_zone.';

-- The API --------------------------------------------------------------------------------------

-- A day of the calendar as the API shows it: whether it is a working day and why (weekday,
-- weekend, or the exception's kind and name).
CREATE OR REPLACE FUNCTION api.calendar_day_json(p_day date, c org.calendar_days) RETURNS jsonb
  LANGUAGE sql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT jsonb_build_object(
           'day', to_char(p_day, 'YYYY-MM-DD'),
           'weekday', (ARRAY['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'])[extract(isodow FROM p_day)::int],
           'workday', coalesce(c.kind = 'workday', extract(isodow FROM p_day) < 6),
           'reason', CASE c.kind WHEN 'holiday' THEN 'holiday'
                                 WHEN 'workday' THEN 'make_up_workday'
                                 ELSE CASE WHEN extract(isodow FROM p_day) < 6 THEN 'weekday'
                                           ELSE 'weekend' END END,
           'name', c.name,
           'version', c.version)
$$;
REVOKE ALL ON FUNCTION api.calendar_day_json(date, org.calendar_days) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.calendar_day_json(date, org.calendar_days) TO tianxing_app;

-- GET /v1/calendar?from=&to= (P2.2): every day from `from` to `to` inclusive, at most 366 days;
-- `from` defaults to today in the company's zone, `to` to 30 days after `from`. Any signed-in
-- employee (deadlines are counted on it).
CREATE OR REPLACE FUNCTION api.calendar_list(p_from date, p_to date) RETURNS json
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_zone text;
  v_from date;
  v_to date;
BEGIN
  PERFORM api.require_user();
  v_zone := org.company_time_zone(now());
  v_from := coalesce(p_from, (now() AT TIME ZONE v_zone)::date);
  v_to := coalesce(p_to, v_from + 30);
  IF v_to < v_from THEN
    PERFORM api.fail('TXVAL', 'to', 'must not be before from');
  END IF;
  IF v_to - v_from + 1 > 366 THEN
    PERFORM api.fail('TXVAL', 'to', 'the range may cover at most 366 days');
  END IF;
  RETURN json_build_object(
    'from', to_char(v_from, 'YYYY-MM-DD'),
    'to', to_char(v_to, 'YYYY-MM-DD'),
    'time_zone', v_zone,
    'workdays', (SELECT count(*) FROM generate_series(v_from, v_to, interval '1 day') g (d)
                  LEFT JOIN org.calendar_days c ON c.day = g.d::date
                 WHERE coalesce(c.kind = 'workday', extract(isodow FROM g.d) < 6)),
    'items', (SELECT json_agg(api.calendar_day_json(g.d::date, c) ORDER BY g.d)
                FROM generate_series(v_from, v_to, interval '1 day') g (d)
                LEFT JOIN org.calendar_days c ON c.day = g.d::date));
END
$$;
REVOKE ALL ON FUNCTION api.calendar_list(date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.calendar_list(date, date) TO tianxing_app;

-- The day of a path (/v1/calendar/{day}): a date YYYY-MM-DD, else 422 naming `day`.
CREATE OR REPLACE FUNCTION api.calendar_path_day(p_day text) RETURNS date
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE d date;
BEGIN
  IF p_day IS NULL OR p_day !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
    PERFORM api.fail('TXVAL', 'day', 'must be a date YYYY-MM-DD');
  END IF;
  BEGIN
    d := p_day::date;
  EXCEPTION WHEN OTHERS THEN
    PERFORM api.fail('TXVAL', 'day', 'must be a date YYYY-MM-DD');
  END;
  IF to_char(d, 'YYYY-MM-DD') <> p_day THEN
    PERFORM api.fail('TXVAL', 'day', 'must be a date YYYY-MM-DD');
  END IF;
  RETURN d;
END
$$;
REVOKE ALL ON FUNCTION api.calendar_path_day(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.calendar_path_day(text) TO tianxing_app;

-- The calendar's only writers: the runtime role reads org.calendar_days and may not write it, so
-- the API functions below (invoker rights, like every api function) write through these two,
-- SECURITY DEFINER, which ask for the admin role themselves. The rule that a row never restates
-- the default is the table's CHECK; api.calendar_set says so first, naming the field.
CREATE OR REPLACE FUNCTION org.calendar_put(p_day date, p_kind text, p_name text)
  RETURNS org.calendar_days
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE c org.calendar_days;
BEGIN
  PERFORM api.require_role('admin');
  INSERT INTO org.calendar_days AS d (day, kind, name, created_by)
  VALUES (p_day, p_kind, p_name, tx.user_id())
  ON CONFLICT (day) DO UPDATE
     SET kind = excluded.kind, name = excluded.name, version = d.version + 1, updated_at = now()
   WHERE (d.kind, d.name) IS DISTINCT FROM (excluded.kind, excluded.name);
  SELECT * INTO c FROM org.calendar_days d WHERE d.day = p_day;
  RETURN c;
END
$$;
REVOKE ALL ON FUNCTION org.calendar_put(date, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION org.calendar_put(date, text, text) TO tianxing_app;

CREATE OR REPLACE FUNCTION org.calendar_remove(p_day date) RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  PERFORM api.require_role('admin');
  DELETE FROM org.calendar_days d WHERE d.day = p_day;
  RETURN FOUND;
END
$$;
REVOKE ALL ON FUNCTION org.calendar_remove(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION org.calendar_remove(date) TO tianxing_app;

-- PUT /v1/calendar/{day} {kind, name} (admin): makes a weekday a holiday or a weekend day a
-- make-up workday (調休), or renames it. A row that restates the default (a holiday on a weekend,
-- a workday on a weekday) is refused with 422 naming `kind`, as the table's CHECK would.
-- Setting what is there already changes nothing (the version stays). Deadlines already computed
-- keep their due instants (they are stored facts).
CREATE OR REPLACE FUNCTION api.calendar_set(p_day text, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  v_day date;
  v_kind text;
  v_name text;
  v_weekend boolean;
BEGIN
  PERFORM api.require_role('admin');
  v_day := api.calendar_path_day(p_day);
  PERFORM api.body_keys(p_body, ARRAY['kind', 'name']);
  v_kind := api.body_text(p_body, 'kind', true, 20);
  IF v_kind NOT IN ('workday', 'holiday') THEN
    PERFORM api.fail('TXVAL', 'kind', 'must be workday or holiday');
  END IF;
  v_name := api.body_text(p_body, 'name', true, 100);
  v_weekend := extract(isodow FROM v_day) >= 6;
  IF v_kind = 'holiday' AND v_weekend THEN
    PERFORM api.fail('TXVAL', 'kind', 'a weekend day is not a working day already: only a make-up workday may be set on it');
  END IF;
  IF v_kind = 'workday' AND NOT v_weekend THEN
    PERFORM api.fail('TXVAL', 'kind', 'a weekday is a working day already: only a holiday may be set on it');
  END IF;
  RETURN api.calendar_day_json(v_day, org.calendar_put(v_day, v_kind, v_name))::json;
END
$$;
REVOKE ALL ON FUNCTION api.calendar_set(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.calendar_set(text, jsonb) TO tianxing_app;

-- DELETE /v1/calendar/{day} (admin): the day goes back to the default (weekday or weekend);
-- answers the day as it now is. NULL (404) when the day has no row.
CREATE OR REPLACE FUNCTION api.calendar_delete(p_day text) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  v_day date;
BEGIN
  PERFORM api.require_role('admin');
  v_day := api.calendar_path_day(p_day);
  IF NOT org.calendar_remove(v_day) THEN
    RETURN NULL;
  END IF;
  RETURN api.calendar_day_json(v_day, NULL)::json;
END
$$;
REVOKE ALL ON FUNCTION api.calendar_delete(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.calendar_delete(text) TO tianxing_app;
