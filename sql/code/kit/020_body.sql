-- sql/code/kit/020_body.sql: checks of request bodies (api.body_*): unknown keys, types, lengths.
-- One current definition per object; `tianxingd migrate` re-applies this file when it changes
-- (sql/code/ORDER, docs/architecture.md).

-- Request bodies: an object whose keys are all in p_allowed.
CREATE OR REPLACE FUNCTION api.body_keys(p_body jsonb, p_allowed text[]) RETURNS void
  LANGUAGE plpgsql IMMUTABLE
  AS $$
DECLARE k text;
BEGIN
  IF p_body IS NULL OR jsonb_typeof(p_body) <> 'object' THEN
    PERFORM api.fail('TXVAL', 'body', 'must be a JSON object');
  END IF;
  -- The object without its allowed keys is empty for every body but a refused one: an
  -- expression, evaluated without the executor; only a refused body asks which key comes first
  -- (every API function checks its body here: issue 15 target 3, docs/performance.md).
  IF p_body - p_allowed <> '{}'::jsonb THEN
    SELECT x INTO k FROM jsonb_object_keys(p_body) x WHERE NOT x = ANY (p_allowed) ORDER BY x LIMIT 1;
    PERFORM api.fail('TXVAL', k, 'unknown field');
  END IF;
END
$$;
REVOKE ALL ON FUNCTION api.body_keys(jsonb,text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.body_keys(jsonb,text[]) TO tianxing_app;

-- A string field: absent or null gives NULL (TXVAL when required); no empty strings, at most
-- p_max characters.
CREATE OR REPLACE FUNCTION api.body_text(p_body jsonb, p_field text, p_required boolean, p_max int DEFAULT 200)
  RETURNS text
  LANGUAGE plpgsql IMMUTABLE
  AS $$
DECLARE v jsonb := p_body -> p_field;
BEGIN
  IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
    IF p_required THEN
      PERFORM api.fail('TXVAL', p_field, 'is required');
    END IF;
    RETURN NULL;
  END IF;
  IF jsonb_typeof(v) <> 'string' THEN
    PERFORM api.fail('TXVAL', p_field, 'must be a string');
  END IF;
  IF btrim(v #>> '{}') = '' THEN
    PERFORM api.fail('TXVAL', p_field, 'must not be empty');
  END IF;
  IF length(v #>> '{}') > p_max THEN
    PERFORM api.fail('TXVAL', p_field, format('must be at most %s characters', p_max));
  END IF;
  -- Bidirectional embeddings, overrides and isolates reorder how a name is shown (issue 10
  -- item 16); core/json_spec.c refuses the same set in bodies it checks.
  IF (v #>> '{}') ~ '[\u202A-\u202E\u2066-\u2069]' THEN
    PERFORM api.fail('TXVAL', p_field, 'must not contain bidirectional embedding, override or isolate characters');
  END IF;
  RETURN v #>> '{}';
END
$$;
REVOKE ALL ON FUNCTION api.body_text(jsonb,text,boolean,integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.body_text(jsonb,text,boolean,integer) TO tianxing_app;

-- A uuid given as a string.
CREATE OR REPLACE FUNCTION api.body_uuid(p_body jsonb, p_field text, p_required boolean) RETURNS uuid
  LANGUAGE plpgsql IMMUTABLE
  AS $$
DECLARE v jsonb := p_body -> p_field;
BEGIN
  IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
    IF p_required THEN
      PERFORM api.fail('TXVAL', p_field, 'is required');
    END IF;
    RETURN NULL;
  END IF;
  IF jsonb_typeof(v) <> 'string'
     OR (v #>> '{}') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    PERFORM api.fail('TXVAL', p_field, 'must be a UUID');
  END IF;
  RETURN (v #>> '{}')::uuid;
END
$$;
REVOKE ALL ON FUNCTION api.body_uuid(jsonb,text,boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.body_uuid(jsonb,text,boolean) TO tianxing_app;

-- A boolean member: true or false; absent or null gives NULL, or TXVAL when p_required. (A
-- string "true" is refused: JSON has booleans, and a lenient reader hides a client's bug.)
CREATE OR REPLACE FUNCTION api.body_bool(p_body jsonb, p_field text, p_required boolean)
  RETURNS boolean
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE v jsonb := p_body -> p_field;
BEGIN
  IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
    IF p_required THEN
      PERFORM api.fail('TXVAL', p_field, 'is required');
    END IF;
    RETURN NULL;
  END IF;
  IF jsonb_typeof(v) <> 'boolean' THEN
    PERFORM api.fail('TXVAL', p_field, 'must be true or false');
  END IF;
  RETURN (v #>> '{}')::boolean;
END
$$;
REVOKE ALL ON FUNCTION api.body_bool(jsonb,text,boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.body_bool(jsonb,text,boolean) TO tianxing_app;

-- A calendar date as "YYYY-MM-DD".
CREATE OR REPLACE FUNCTION api.body_date(p_body jsonb, p_field text, p_required boolean) RETURNS date
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v jsonb := p_body -> p_field;
  d date;
BEGIN
  IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
    IF p_required THEN
      PERFORM api.fail('TXVAL', p_field, 'is required');
    END IF;
    RETURN NULL;
  END IF;
  IF jsonb_typeof(v) <> 'string' OR (v #>> '{}') !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
    PERFORM api.fail('TXVAL', p_field, 'must be a date YYYY-MM-DD');
  END IF;
  BEGIN
    d := to_date(v #>> '{}', 'YYYY-MM-DD');
    IF to_char(d, 'YYYY-MM-DD') <> v #>> '{}' THEN
      RAISE EXCEPTION 'not a calendar date';
    END IF;
  EXCEPTION WHEN OTHERS THEN
    PERFORM api.fail('TXVAL', p_field, 'must be a date YYYY-MM-DD');
  END;
  RETURN d;
END
$$;
REVOKE ALL ON FUNCTION api.body_date(jsonb,text,boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.body_date(jsonb,text,boolean) TO tianxing_app;

-- A timestamp member: an RFC 3339 string with its offset ("Z" or +hh:mm; a local time would be
-- read in the session's zone, silently); absent or null gives NULL (TXVAL when required).
CREATE OR REPLACE FUNCTION api.body_timestamp(p_body jsonb, p_field text, p_required boolean)
  RETURNS timestamptz
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v jsonb := p_body -> p_field;
  t timestamptz;
BEGIN
  IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
    IF p_required THEN
      PERFORM api.fail('TXVAL', p_field, 'is required');
    END IF;
    RETURN NULL;
  END IF;
  IF jsonb_typeof(v) <> 'string'
     OR (v #>> '{}') !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$'
  THEN
    PERFORM api.fail('TXVAL', p_field, 'must be an RFC 3339 timestamp with its offset, e.g. 2026-01-31T09:30:00Z');
  END IF;
  BEGIN
    t := (v #>> '{}')::timestamptz;
  EXCEPTION WHEN data_exception THEN
    PERFORM api.fail('TXVAL', p_field, 'must be an RFC 3339 timestamp with its offset, e.g. 2026-01-31T09:30:00Z');
  END;
  RETURN t;
END
$$;
REVOKE ALL ON FUNCTION api.body_timestamp(jsonb,text,boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.body_timestamp(jsonb,text,boolean) TO tianxing_app;

-- An array of strings (duplicates removed, order kept).
CREATE OR REPLACE FUNCTION api.body_text_array(p_body jsonb, p_field text, p_required boolean)
  RETURNS text[]
  LANGUAGE plpgsql IMMUTABLE
  AS $$
DECLARE v jsonb := p_body -> p_field;
BEGIN
  IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
    IF p_required THEN
      PERFORM api.fail('TXVAL', p_field, 'is required');
    END IF;
    RETURN NULL;
  END IF;
  IF jsonb_typeof(v) <> 'array'
     OR EXISTS (SELECT FROM jsonb_array_elements(v) e WHERE jsonb_typeof(e) <> 'string') THEN
    PERFORM api.fail('TXVAL', p_field, 'must be an array of strings');
  END IF;
  RETURN ARRAY(SELECT e FROM jsonb_array_elements_text(v) WITH ORDINALITY AS a(e, i)
                GROUP BY e ORDER BY min(i));
END
$$;
REVOKE ALL ON FUNCTION api.body_text_array(jsonb,text,boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.body_text_array(jsonb,text,boolean) TO tianxing_app;

-- A money amount as a decimal string ("12000.00": exact, never a binary float), >= 0, at most
-- two decimals and 16 integer digits (numeric(18, 2)); absent or null gives NULL (TXVAL when
-- required). Callers that need more than 0 say so.
CREATE OR REPLACE FUNCTION api.body_money(p_body jsonb, p_field text, p_required boolean)
  RETURNS numeric
  LANGUAGE plpgsql IMMUTABLE
  AS $$
DECLARE v jsonb := p_body -> p_field;
BEGIN
  IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
    IF p_required THEN
      PERFORM api.fail('TXVAL', p_field, 'is required');
    END IF;
    RETURN NULL;
  END IF;
  IF jsonb_typeof(v) <> 'string' OR (v #>> '{}') !~ '^[0-9]{1,16}(\.[0-9]{1,2})?$' THEN
    PERFORM api.fail('TXVAL', p_field, 'must be a decimal string like "12000.00" (at most 2 decimals)');
  END IF;
  RETURN (v #>> '{}')::numeric(18, 2);
END
$$;
REVOKE ALL ON FUNCTION api.body_money(jsonb, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.body_money(jsonb, text, boolean) TO tianxing_app;
