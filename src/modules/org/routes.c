/**
 * @file modules/org/routes.c
 * @brief Module G's routes: departments, employees, role grants, regulations, policy
 * parameters. main.c registers tx_module_org.
 */
#include "core/call.h"
#include "core/module.h"
#include "modules/org/org.h"

/*
 * The rows (struct tx_route, core/routes.h), one per method and path, in the order `tianxingd
 * routes` prints them:
 *   {METHOD, PATH, ROLES, CLAUSES, .handler = FUNCTION}      a route with code of its own, or
 *   {METHOD, PATH, ROLES, CLAUSES, .call = TX_CALL(.sql = &STATEMENT, .status = 200 or 201,
 *                                                  [.read_only = true,] [.location = PREFIX,]
 *                                                  [.body_spec = SPEC, .body_nspec = N,]
 *                                                  .args = {{KIND, NAME}, ...})}
 * ROLES: comma-separated roles that may call it, "*" anyone signed in, "" public (no token).
 * CLAUSES: comma-separated clause IDs of REGULATIONS.md the route serves (G2, C1.3, ...).
 * A .call row is one SQL API function and no C code (core/call.h). STATEMENT (struct tx_sql:
 * a unique prepared-statement name, its text, its parameter count) selects (json text, version or
 * NULL, id or NULL); TX_CALL_ROW writes that select list for an API function returning json j.
 * read_only runs it in a read-only transaction. 201 is a create: it honours Idempotency-Key and
 * answers Location = PREFIX + id when a prefix is set. SPEC (core/json_spec.h) checks the body
 * before anything runs. args say where each $n comes from, in order (enum tx_arg_kind: a path
 * parameter, a query parameter, the body or one of its members, If-Match, a constant).
 */

static const struct tx_sql sql_org_departments_list = {
  "org_departments_list", "SELECT api.department_list($1::int, $2)::text", 2};
static const struct tx_sql sql_org_departments_create = {
  "org_departments_create", TX_CALL_ROW "api.department_create($1::jsonb) j", 1};
static const struct tx_sql sql_org_department_get = {
  "org_department_get",
  TX_CALL_ROW "api.department_get($1::uuid) j", 1};
static const struct tx_sql sql_org_department_update = {
  "org_department_update", TX_CALL_ROW "api.department_update($1::uuid, $2::int, $3::jsonb) j", 3};
static const struct tx_sql sql_org_employee_set_active = {
  "org_employee_set_active", TX_CALL_ROW "api.employee_set_active($1::uuid, $2::boolean) j", 2};
static const struct tx_sql sql_org_employees_list = {
  "org_employees_list", "SELECT api.employee_list($1::int, $2, $3::uuid, $4::boolean)::text", 4};
static const struct tx_sql sql_org_employees_create = {
  "org_employees_create", TX_CALL_ROW "api.employee_create($1::jsonb) j", 1};
static const struct tx_sql sql_org_employee_get = {
  "org_employee_get",
  TX_CALL_ROW "api.employee_get($1::uuid) j", 1};
static const struct tx_sql sql_org_employee_update = {
  "org_employee_update", TX_CALL_ROW "api.employee_update($1::uuid, $2::int, $3::jsonb) j", 3};
static const struct tx_sql sql_org_policy_parameters_list = {
  "org_policy_parameters_list", "SELECT api.policy_parameter_list($1::date)::text", 1};
static const struct tx_sql sql_org_policy_parameter_get = {
  "org_policy_parameter_get", "SELECT api.policy_parameter_get($1, $2::date)::text", 2};
static const struct tx_sql sql_org_policy_propose = {
  "org_policy_propose", TX_CALL_ROW "api.policy_propose($1, $2::jsonb) j", 2};
static const struct tx_sql sql_org_policy_decide = {
  "org_policy_decide", TX_CALL_ROW "api.policy_decide($1::uuid, $2::boolean, $3) j", 3};
static const struct tx_field decide_spec[] = {
  {.name = "reason", .type = TX_J_STRING, .min_len = 1, .max_len = 1000, .multiline = true},
};
static const struct tx_sql sql_org_role_grants_list = {
  "org_role_grants_list", "SELECT api.role_grant_list($1, $2::uuid, $3::int, $4)::text", 4};
static const struct tx_sql sql_org_role_grant_decide = {
  "org_role_grant_decide", TX_CALL_ROW "api.role_grant_decide($1::uuid, $2::boolean, $3) j", 3};
static const struct tx_sql sql_org_regulation_publish = {
  "org_regulation_publish", TX_CALL_ROW "api.regulation_publish($1::uuid, $2::date) j", 2};
static const struct tx_sql sql_org_regulation_acknowledge = {
  "org_regulation_acknowledge", "SELECT api.regulation_acknowledge($1::uuid)::text", 1};
static const struct tx_sql sql_org_regulation_acknowledgements = {
  "org_regulation_acknowledgements",
  "SELECT api.regulation_acknowledgements($1::uuid, coalesce($2::boolean, false), $3::int, $4)::text",
  4};
static const struct tx_field publish_spec[] = {
  {.name = "effective_from", .type = TX_J_DATE},
};
static const struct tx_sql sql_org_regulation_transitions = {
  "org_regulation_transitions", "SELECT api.regulation_transitions($1::uuid, $2::int, $3)::text", 3};
static const struct tx_sql sql_org_regulations_list = {
  "org_regulations_list", "SELECT api.regulation_list($1::int, $2)::text", 2};
static const struct tx_sql sql_org_regulations_create = {
  "org_regulations_create", TX_CALL_ROW "api.regulation_create($1::jsonb) j", 1};
static const struct tx_sql sql_org_regulation_current = {
  "org_regulation_current",
  TX_CALL_ROW "api.regulation_current(coalesce($1, 'business-management')) j", 1};
static const struct tx_sql sql_org_regulation_get = {
  "org_regulation_get", TX_CALL_ROW "api.regulation_get($1::uuid) j", 1};

static const struct tx_route routes[] = {
  /* Module G: the organization (G2: applies to all employees and departments) */
  {"GET", "/v1/departments", "*", "G2",
   .call = TX_CALL(.sql = &sql_org_departments_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_INT, "limit"}, {TX_ARG_QUERY_TEXT, "cursor"}})},
  {"POST", "/v1/departments", "admin", "G2",
   .call = TX_CALL(.sql = &sql_org_departments_create,
                   .status = 201,
                   .location = "/v1/departments/",
                   .args = {{TX_ARG_BODY, NULL}})},
  {"GET", "/v1/departments/{id}", "*", "G2",
   .call = TX_CALL(.sql = &sql_org_department_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"PATCH", "/v1/departments/{id}", "admin", "G2",
   .call = TX_CALL(.sql = &sql_org_department_update, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_IF_MATCH, NULL},
                            {TX_ARG_BODY, NULL}})},
  {"GET", "/v1/employees", "*", "G2",
   .call = TX_CALL(.sql = &sql_org_employees_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"},
                            {TX_ARG_QUERY_UUID, "department_id"},
                            {TX_ARG_QUERY_BOOL, "active"}})},
  {"POST", "/v1/employees", "admin", "G2",
   .call = TX_CALL(.sql = &sql_org_employees_create, .status = 201, .location = "/v1/employees/",
                   .args = {{TX_ARG_BODY, NULL}})},
  {"GET", "/v1/employees/{id}", "*", "G2",
   .call = TX_CALL(.sql = &sql_org_employee_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"PATCH", "/v1/employees/{id}", "admin", "G2",
   .call = TX_CALL(.sql = &sql_org_employee_update, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_IF_MATCH, NULL},
                            {TX_ARG_BODY, NULL}})},
  {"POST", "/v1/employees/{id}/deactivate", "admin", "G2",
   .call = TX_CALL(.sql = &sql_org_employee_set_active, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_CONST, "false"}})},
  {"POST", "/v1/employees/{id}/activate", "admin", "G2",
   .call = TX_CALL(.sql = &sql_org_employee_set_active, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_CONST, "true"}})},
  {"PUT", "/v1/employees/{id}/password", "admin", "G2", .handler = tx_org_employee_password,
   .body = true},
  /* One's own password; the only route open while a password set by somebody else waits to be
   * changed (issue 10 item 9). */
  {"POST", "/v1/me/password", "*", "G2", .handler = tx_org_own_password, .body = true},
  /* Privileged roles are granted by a second administrator (four eyes, issue 10 item 9). */
  {"GET", "/v1/role-grants", "admin,auditor", "G2",
   .call = TX_CALL(.sql = &sql_org_role_grants_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_TEXT, "status"},
                            {TX_ARG_QUERY_UUID, "employee_id"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  {"POST", "/v1/role-grants/{id}/approve", "admin", "G2",
   .call = TX_CALL(.sql = &sql_org_role_grant_decide,
                   .status = 200,
                   .body_spec = decide_spec,
                   .body_nspec = 1,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_CONST, "true"},
                            {TX_ARG_MEMBER, "reason"}})},
  {"POST", "/v1/role-grants/{id}/reject", "admin", "G2",
   .call = TX_CALL(.sql = &sql_org_role_grant_decide,
                   .status = 200,
                   .body_spec = decide_spec,
                   .body_nspec = 1,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_CONST, "false"},
                            {TX_ARG_MEMBER, "reason"}})},

  /* Module G: the regulations (S1: HR interprets and publishes; G2: everyone acknowledges) */
  {"GET", "/v1/regulations", "*", "G1,G2",
   .call = TX_CALL(.sql = &sql_org_regulations_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_INT, "limit"}, {TX_ARG_QUERY_TEXT, "cursor"}})},
  {"POST", "/v1/regulations", "hr", "S1",
   .call = TX_CALL(.sql = &sql_org_regulations_create,
                   .status = 201,
                   .location = "/v1/regulations/",
                   .args = {{TX_ARG_BODY, NULL}})},
  {"GET", "/v1/regulations/current", "*", "G1,G2",
   .call = TX_CALL(.sql = &sql_org_regulation_current, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_TEXT, "code"}})},
  {"GET", "/v1/regulations/{id}", "*", "G1,G2",
   .call = TX_CALL(.sql = &sql_org_regulation_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"POST", "/v1/regulations/{id}/publish", "hr", "S1",
   .call = TX_CALL(.sql = &sql_org_regulation_publish,
                   .status = 200,
                   .body_spec = publish_spec,
                   .body_nspec = 1,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_MEMBER, "effective_from"}})},
  {"POST", "/v1/regulations/{id}/acknowledge", "*", "G2",
   .call = TX_CALL(.sql = &sql_org_regulation_acknowledge, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"GET", "/v1/regulations/{id}/acknowledgements", "hr,admin,auditor", "G2,S1",
   .call = TX_CALL(.sql = &sql_org_regulation_acknowledgements, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_QUERY_BOOL, "pending"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  /* Who published or superseded a version, when and why: the state machine's log (S1). */
  {"GET", "/v1/regulations/{id}/transitions", "*", "S1",
   .call = TX_CALL(.sql = &sql_org_regulation_transitions, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},

  /* Module G: policy parameters the regulations leave to the company (G3: reasonable, effective) */
  {"GET", "/v1/policy-parameters", "*", "G3",
   .call = TX_CALL(.sql = &sql_org_policy_parameters_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_DATE, "at"}})},
  {"GET", "/v1/policy-parameters/{name}", "*", "G3",
   .call = TX_CALL(.sql = &sql_org_policy_parameter_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_TEXT, "name"}, {TX_ARG_QUERY_DATE, "at"}})},
  {"POST", "/v1/policy-parameters/{name}/proposals", "hr", "G3,S1",
   .call = TX_CALL(.sql = &sql_org_policy_propose, .status = 201,
                   .args = {{TX_ARG_PATH_TEXT, "name"}, {TX_ARG_BODY, NULL}})},
  {"POST", "/v1/policy-proposals/{id}/approve", "admin", "G3",
   .call = TX_CALL(.sql = &sql_org_policy_decide,
                   .status = 200,
                   .body_spec = decide_spec,
                   .body_nspec = 1,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_CONST, "true"},
                            {TX_ARG_MEMBER, "reason"}})},
  {"POST", "/v1/policy-proposals/{id}/reject", "admin", "G3",
   .call = TX_CALL(.sql = &sql_org_policy_decide,
                   .status = 200,
                   .body_spec = decide_spec,
                   .body_nspec = 1,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_CONST, "false"},
                            {TX_ARG_MEMBER, "reason"}})},
};

const struct tx_module tx_module_org = {
  .name = "org",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};
