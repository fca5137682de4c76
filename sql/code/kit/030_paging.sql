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
