/* Unit tests: module registration and the merged route table, route matching, the error registry,
 * problem documents, SQLSTATE mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "core/call.h"
#include "core/module.h"
#include "core/problem.h"
#include "core/http.h"
#include "core/routes.h"
#include "db/tx.h"
#include "modules/customers/customers.h"
#include "modules/modules.h"

/* The modules main.c registers (the one list, modules/modules.c). */
static int register_all(void **state)
{
  char err[512];
  if (tx_modules_register_all(err, sizeof err)) {
    print_error("%s\n", err);
    return -1;
  }
  return 0;
}

static int forget_all(void **state)
{
  tx_modules_reset();
  return 0;
}

/* The clause IDs of REGULATIONS.md: G1-G3; C1.1-C4.3; P1.1-P4.4; Q1, Q2.1, Q2.2, Q3, Q4;
 * R1.1-R4.4; S1. A route cites one or more, comma-separated, without spaces. */
static const char clause_pattern[] =
  "^(G[1-3]|C[1-4]\\.[1-3]|P[1-4]\\.[1-4]|Q[134]|Q2\\.[12]|R[1-4]\\.[1-4]|S1)"
  "(,(G[1-3]|C[1-4]\\.[1-3]|P[1-4]\\.[1-4]|Q[134]|Q2\\.[12]|R[1-4]\\.[1-4]|S1))*$";

static bool clauses_valid(const char *clauses)
{
  regex_t re;
  assert_int_equal(regcomp(&re, clause_pattern, REG_EXTENDED | REG_NOSUB), 0);
  bool ok = regexec(&re, clauses, 0, NULL, 0) == 0;
  regfree(&re);
  return ok;
}

static void clause_pattern_refuses_what_is_no_clause(void **state)
{
  assert_true(clauses_valid("G1"));
  assert_true(clauses_valid("C1.3"));
  assert_true(clauses_valid("P3.3"));
  assert_true(clauses_valid("S1"));
  assert_true(clauses_valid("C3.1,C3.2,C3.3"));
  assert_true(clauses_valid("Q2.2,R3.2"));
  assert_false(clauses_valid(""));
  assert_false(clauses_valid("x"));
  assert_false(clauses_valid("G4"));
  assert_false(clauses_valid("C1"));
  assert_false(clauses_valid("C1.4"));
  assert_false(clauses_valid("C1.3 "));
  assert_false(clauses_valid("G1, G2"));
  assert_false(clauses_valid("G1,"));
  assert_false(clauses_valid("S2"));
  assert_false(clauses_valid("c1.3"));
}

static void match_known_and_unknown(void **state)
{
  const struct tx_route *rt = NULL;
  char allow[64];
  assert_int_equal(tx_route_match("GET", "/v1/version", &rt, allow, sizeof allow, NULL), TX_MATCH_OK);
  assert_string_equal(rt->path, "/v1/version");
  assert_string_equal(allow, "GET, HEAD");
  assert_int_equal(tx_route_match("HEAD", "/healthz", &rt, allow, sizeof allow, NULL), TX_MATCH_OK);
  assert_string_equal(rt->method, "GET");
  assert_int_equal(tx_route_match("POST", "/healthz", &rt, allow, sizeof allow, NULL),
                   TX_MATCH_PATH_ONLY);
  assert_string_equal(allow, "GET, HEAD");
  assert_int_equal(tx_route_match("GET", "/healthz/", &rt, allow, sizeof allow, NULL), TX_MATCH_NONE);
  assert_int_equal(tx_route_match("GET", "/v1/versio", &rt, allow, sizeof allow, NULL), TX_MATCH_NONE);
  assert_int_equal(tx_route_match("GET", "/", &rt, allow, sizeof allow, NULL), TX_MATCH_NONE);
  assert_int_equal(tx_route_match("GET", "//healthz", &rt, allow, sizeof allow, NULL), TX_MATCH_NONE);
  assert_string_equal(allow, "");
}

static void every_route_is_well_formed(void **state)
{
  assert_true(tx_routes_count >= 60); /* every module registered its rows */
  for (size_t i = 0; i < tx_routes_count; i++) {
    assert_int_equal(tx_routes[i].path[0], '/');
    /* code or a declarative call, never both */
    assert_true(!tx_routes[i].handler != !tx_routes[i].call);
    /* every route cites the clauses it serves, by their IDs */
    if (!clauses_valid(tx_routes[i].clauses))
      fail_msg("%s %s cites \"%s\"", tx_routes[i].method, tx_routes[i].path, tx_routes[i].clauses);
    for (size_t j = i + 1; j < tx_routes_count; j++)
      assert_false(!strcmp(tx_routes[i].method, tx_routes[j].method) &&
                   !strcmp(tx_routes[i].path, tx_routes[j].path));
  }
}

static int noop(struct tx_req *r)
{
  return 0;
}

static void registration_refuses_bad_modules(void **state)
{
  char err[256];
  size_t before = tx_routes_count;
  /* a method and path another module has */
  static const struct tx_route taken[] = {{"GET", "/healthz", "", "G3", .handler = noop}};
  static const struct tx_module m_taken = {.name = "taken", .routes = taken, .nroutes = 1};
  assert_int_equal(tx_module_register(&m_taken, err, sizeof err), -1);
  assert_non_null(strstr(err, "GET /healthz"));
  /* neither code nor call; no clause; a path that is no path; no method; roles with a space;
   * both code and call */
  static const struct tx_sql sql = {"t_x6", "SELECT 1", 0};
  static const struct tx_call call = {.sql = &sql, .read_only = true, .status = 200};
  static const struct tx_sql sql2 = {"t_x7", "SELECT $1, $2", 2};
  static const struct tx_call too_few = {.sql = &sql2, .read_only = true, .status = 200,
                                         .args = {{TX_ARG_QUERY_INT, "a"}}};
  static const struct tx_call too_many = {.sql = &sql, .read_only = true, .status = 200,
                                          .args = {{TX_ARG_QUERY_INT, "a"}}};
  static const struct tx_call bad_status = {.sql = &sql, .read_only = true, .status = 204};
  /* a report on the read replica must be a read-only GET: a hot standby refuses writes */
  static const struct tx_call replica_rw = {.sql = &sql, .replica = true, .status = 200};
  static const struct tx_call replica_ro = {.sql = &sql, .read_only = true, .replica = true,
                                            .status = 200};
  static const struct tx_route bad[][1] = {
    {{"GET", "/v1/x1", "", "G3", .handler = NULL}},
    {{"GET", "/v1/x2", "", "", .handler = noop}},
    {{"GET", "v1/x3", "", "G3", .handler = noop}},
    {{"FETCH", "/v1/x4", "", "G3", .handler = noop}},
    {{"GET", "/v1/x5", "a, b", "G3", .handler = noop}},
    {{"GET", "/v1/x6", "", "G3", .handler = noop, .call = &call}},
    {{"GET", "/v1/x7", "", "G3", .call = &too_few}},
    {{"GET", "/v1/x8", "", "G3", .call = &too_many}},
    {{"GET", "/v1/x9", "", "G3", .call = &bad_status}},
    {{"GET", "/v1/x11", "", "G3", .call = &replica_rw}},
    {{"POST", "/v1/x12", "", "G3", .call = &replica_ro}},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct tx_module m = {.name = "bad", .routes = bad[i], .nroutes = 1};
    if (tx_module_register(&m, err, sizeof err) != -1)
      fail_msg("%s was accepted", bad[i][0].path);
  }
  /* a command name taken */
  static const struct tx_command cmds[] = {{"rotate-master-key", "", tx_cust_rotate_master_key}};
  static const struct tx_module m_cmd = {.name = "cmd", .commands = cmds, .ncommands = 1};
  assert_int_equal(tx_module_register(&m_cmd, err, sizeof err), -1);
  assert_int_equal(tx_routes_count, before); /* nothing of a refused module stays */
  assert_non_null(tx_command_find("rotate-master-key"));
  assert_null(tx_command_find("no-such-command"));
  /* and a well-formed call row is accepted */
  static const struct tx_route good[] = {{"GET", "/v1/x10", "", "G3", .call = &call},
                                         {"GET", "/v1/x13", "", "G3", .call = &replica_ro}};
  static const struct tx_module m_good = {.name = "good", .routes = good, .nroutes = 2};
  assert_int_equal(tx_module_register(&m_good, err, sizeof err), 0);
  assert_int_equal(tx_routes_count, before + 2);
}

static void registry_is_consistent(void **state)
{
  for (int i = 0; i < TX_E__COUNT; i++) {
    const struct tx_error_info *e = tx_error_info((enum tx_code)i);
    assert_true(e->status >= 400 && e->status <= 599);
    assert_true(strlen(e->title_zh) > 0);
    for (int j = i + 1; j < TX_E__COUNT; j++)
      assert_string_not_equal(e->code, tx_error_info((enum tx_code)j)->code);
  }
  assert_int_equal(tx_error_info(TX_E_NOT_FOUND)->status, 404);
  assert_int_equal(tx_error_info((enum tx_code)9999)->status, 500);
}

static void problem_document(void **state)
{
  json_t *j_errors = json_array();
  tx_problem_add_field(j_errors, "name", "required", "name is required");
  json_t *j_p = tx_problem_new(TX_E_VALIDATION_FAILED, 0, "Bad input.", "rid-1", "/v1/x", j_errors);
  assert_string_equal(json_string_value(json_object_get(j_p, "code")), "validation_failed");
  assert_int_equal(json_integer_value(json_object_get(j_p, "status")), 422);
  assert_string_equal(json_string_value(json_object_get(j_p, "type")),
                      "urn:tianxing:problem:validation_failed");
  assert_string_equal(json_string_value(json_object_get(j_p, "request_id")), "rid-1");
  assert_string_equal(
    json_string_value(json_object_get(json_array_get(json_object_get(j_p, "errors"), 0), "field")),
    "name");
  json_decref(j_p);

  /* Invalid UTF-8 in a detail never yields an invalid document. */
  j_p = tx_problem_new(TX_E_NOT_FOUND, 1, "bad \xff byte", NULL, "/\xfe", NULL);
  assert_string_equal(json_string_value(json_object_get(j_p, "detail")), "找不到資源");
  assert_string_equal(json_string_value(json_object_get(j_p, "title")), "找不到資源");
  assert_string_equal(json_string_value(json_object_get(j_p, "instance")), "/%FE");
  json_decref(j_p);
}

/* The problem a failed run with SQLSTATE @p sqlstate, MESSAGE @p msg and DETAIL @p detail yields. */
static json_t *db_problem(const char *sqlstate, const char *msg, const char *field, const char *detail)
{
  struct tx_db_outcome out;
  memset(&out, 0, sizeof out);
  snprintf(out.sqlstate, sizeof out.sqlstate, "%s", sqlstate);
  out.code = tx_db_map_sqlstate(sqlstate);
  snprintf(out.detail, sizeof out.detail, "%s", msg);
  snprintf(out.field, sizeof out.field, "%s", field);
  out.extra = detail ? strdup(detail) : NULL;
  json_t *j_p = tx_problem_from_db(&out, 0, "rid", "/v1/x");
  tx_db_outcome_free(&out);
  tx_db_outcome_free(&out); /* a second release does nothing */
  return j_p;
}

static const char *member(const json_t *j_p, const char *name)
{
  return json_string_value(json_object_get(j_p, name));
}

static void db_detail_object_becomes_members(void **state)
{
  /* errors join errors[] (malformed entries dropped), other members are copied, the document's
   * own members are never overwritten */
  json_t *j_p = db_problem("TXCON", "Not now.", "",
                           "{\"errors\":[{\"field\":\"a\",\"code\":\"c\",\"message\":\"m\"},{\"field\":1}],"
                           "\"allowed_actions\":[\"publish\"],\"existing_id\":\"e1\",\"status\":200,"
                           "\"type\":\"x\",\"code\":\"ok\",\"title\":\"t\",\"detail\":\"d\","
                           "\"request_id\":\"r\",\"instance\":\"i\"}");
  assert_int_equal(json_integer_value(json_object_get(j_p, "status")), 409);
  assert_string_equal(member(j_p, "code"), "conflict");
  assert_string_equal(member(j_p, "type"), "urn:tianxing:problem:conflict");
  assert_string_equal(member(j_p, "title"), tx_error_info(TX_E_CONFLICT)->title_en);
  assert_string_equal(member(j_p, "detail"), "Not now.");
  assert_string_equal(member(j_p, "request_id"), "rid");
  assert_string_equal(member(j_p, "instance"), "/v1/x");
  assert_string_equal(member(j_p, "existing_id"), "e1");
  assert_string_equal(json_string_value(json_array_get(json_object_get(j_p, "allowed_actions"), 0)),
                      "publish");
  json_t *j_errors = json_object_get(j_p, "errors");
  assert_int_equal(json_array_size(j_errors), 1);
  assert_string_equal(member(json_array_get(j_errors, 0), "field"), "a");
  json_decref(j_p);

  /* a DETAIL longer than any fixed buffer arrives whole */
  char big[4096];
  int n = snprintf(big, sizeof big, "{\"note\":\"");
  memset(big + n, 'x', 3000);
  snprintf(big + n + 3000, sizeof big - (size_t)n - 3000, "\"}");
  j_p = db_problem("TXCON", "Long.", "", big);
  assert_int_equal(strlen(member(j_p, "note")), 3000);
  json_decref(j_p);

  /* TXVAL keeps its field error, and a DETAIL's errors come after it */
  j_p = db_problem("TXVAL", "too long", "name",
                   "{\"errors\":[{\"field\":\"b\",\"code\":\"c\",\"message\":\"m\"}]}");
  assert_int_equal(json_array_size(json_object_get(j_p, "errors")), 2);
  assert_string_equal(member(json_array_get(json_object_get(j_p, "errors"), 0), "field"), "name");
  json_decref(j_p);
}

static void db_detail_not_an_object_is_never_shown(void **state)
{
  const char *details[] = {"plain text", "[\"a\"]", "{\"a\":1,\"a\":2}", "{broken", "\"s\""};
  for (size_t i = 0; i < sizeof details / sizeof details[0]; i++) {
    json_t *j_p = db_problem("TXCON", "No.", "", details[i]);
    assert_int_equal(json_object_size(j_p), 7); /* type title status code detail request_id instance */
    json_decref(j_p);
  }
  /* only our own errors (TX*) show their DETAIL */
  json_t *j_p = db_problem("23505", "", "", "{\"existing_id\":\"e\"}");
  assert_null(json_object_get(j_p, "existing_id"));
  json_decref(j_p);
}

static void sqlstate_mapping(void **state)
{
  assert_int_equal(tx_db_map_sqlstate("23505"), TX_E_CONFLICT);
  assert_int_equal(tx_db_map_sqlstate("TXTRN"), TX_E_INVALID_TRANSITION); /* fsm: 409 */
  assert_int_equal(tx_db_map_sqlstate("TXBIG"), TX_E_PAYLOAD_TOO_LARGE); /* a file over its cap */
  assert_int_equal(tx_db_map_sqlstate("55000"), TX_E_INTERNAL_ERROR); /* fsm bypassed: a bug */
  assert_int_equal(tx_db_map_sqlstate("23503"), TX_E_REFERENCE_NOT_FOUND);
  assert_int_equal(tx_db_map_sqlstate("23514"), TX_E_CONSTRAINT_VIOLATION);
  assert_int_equal(tx_db_map_sqlstate("23502"), TX_E_CONSTRAINT_VIOLATION);
  assert_int_equal(tx_db_map_sqlstate("42501"), TX_E_FORBIDDEN);
  assert_int_equal(tx_db_map_sqlstate("P0002"), TX_E_NOT_FOUND);
  assert_int_equal(tx_db_map_sqlstate("22P02"), TX_E_VALIDATION_FAILED);
  assert_int_equal(tx_db_map_sqlstate("54000"), TX_E_VALIDATION_FAILED); /* index entry too big */
  assert_int_equal(tx_db_map_sqlstate("40001"), TX_E_SERVICE_BUSY);
  assert_int_equal(tx_db_map_sqlstate("57014"), TX_E_DATABASE_TIMEOUT);
  assert_int_equal(tx_db_map_sqlstate("57P01"), TX_E_DATABASE_UNAVAILABLE);
  assert_int_equal(tx_db_map_sqlstate("08006"), TX_E_DATABASE_UNAVAILABLE);
  assert_int_equal(tx_db_map_sqlstate("42P01"), TX_E_INTERNAL_ERROR);
  assert_int_equal(tx_db_map_sqlstate("XX000"), TX_E_INTERNAL_ERROR);
  assert_int_equal(tx_db_map_sqlstate(NULL), TX_E_INTERNAL_ERROR);
  assert_int_equal(tx_db_map_sqlstate("235"), TX_E_INTERNAL_ERROR);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(clause_pattern_refuses_what_is_no_clause),
    cmocka_unit_test(match_known_and_unknown), cmocka_unit_test(every_route_is_well_formed),
    cmocka_unit_test(registration_refuses_bad_modules),
    cmocka_unit_test(registry_is_consistent),  cmocka_unit_test(problem_document),
    cmocka_unit_test(db_detail_object_becomes_members),
    cmocka_unit_test(db_detail_not_an_object_is_never_shown),
    cmocka_unit_test(sqlstate_mapping),
  };
  return cmocka_run_group_tests(tests, register_all, forget_all);
}
