-- sql/code/kit/030_paging.sql: list paging limits.
-- One current definition per object; `tianxingd migrate` re-applies this file when it changes
-- (sql/code/ORDER, docs/architecture.md).

-- Page size: NULL means 50; 1..200 accepted.
CREATE OR REPLACE FUNCTION api.page_limit(p_limit int) RETURNS int
  LANGUAGE plpgsql IMMUTABLE
  AS $$
BEGIN
  IF p_limit IS NULL THEN
    RETURN 50;
  END IF;
  IF p_limit < 1 OR p_limit > 200 THEN
    PERFORM api.fail('TXVAL', 'limit', 'must be between 1 and 200');
  END IF;
  RETURN p_limit;
END
$$;
REVOKE ALL ON FUNCTION api.page_limit(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.page_limit(integer) TO tianxing_app;

-- A keyset cursor that is the last row's id (lists ordered by id, or by a key that ends with
-- it); anything else is 422 `cursor`, never a cast error.
CREATE OR REPLACE FUNCTION api.cursor_uuid(p_cursor text) RETURNS uuid
  LANGUAGE plpgsql IMMUTABLE
  AS $$
BEGIN
  IF p_cursor IS NULL THEN
    RETURN NULL;
  END IF;
  IF p_cursor !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
  END IF;
  RETURN p_cursor::uuid;
END
$$;
REVOKE ALL ON FUNCTION api.cursor_uuid(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.cursor_uuid(text) TO tianxing_app;
