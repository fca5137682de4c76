/**
 * @file modules/org/routes.c
 * @brief Module G: departments, employees, regulations, policy parameters. Every route of the module is a row here;
 * main.c registers tx_module_org.
 */
#include "core/call.h"
#include "core/module.h"
#include "modules/org/org.h"

/*
 * The rows (struct tx_route, core/routes.h), one per method and path:
 *   {METHOD, PATH, ROLES, CLAUSES, .handler = FUNCTION}        code of its own, or
 *   {METHOD, PATH, ROLES, CLAUSES, .call = &(const struct tx_call){SQL, READ_ONLY, STATUS,
 *                                   LOCATION, BODY_SPEC, BODY_NSPEC, {ARGS...}}}
 * ROLES: comma-separated roles that may call it, "*" anyone signed in, "" public (no token).
 * CLAUSES: comma-separated clause IDs of REGULATIONS.md the route serves (G2, C1.3, ...).
 * A .call row is one SQL API function and no C code (core/call.h): SQL selects (json text,
 * version or NULL, id or NULL); READ_ONLY runs it in a read-only transaction; STATUS is 200, or
 * 201 for a create (which then honours Idempotency-Key, and answers Location = LOCATION + id
 * when LOCATION is set); BODY_SPEC (core/json_spec.h) checks the body first when set; ARGS say
 * where each $n comes from (enum tx_arg_kind: path, query, body, If-Match, a constant).
 * The order of the rows is the order `tianxingd routes` prints.
 */


static const struct tx_sql sql_org_departments_list = {
  "org_departments_list", "SELECT api.department_list($1::int, $2)::text", 2};
static const struct tx_sql sql_org_departments_create = {
  "org_departments_create", "SELECT j::text, j->>'version', j->>'id' FROM " "api.department_create($1::jsonb) j", 1};
static const struct tx_sql sql_org_department_get = {"org_department_get", "SELECT j::text, j->>'version', j->>'id' FROM " "api.department_get($1::uuid) j", 1};
static const struct tx_sql sql_org_department_update = {
  "org_department_update", "SELECT j::text, j->>'version', j->>'id' FROM " "api.department_update($1::uuid, $2::int, $3::jsonb) j", 3};
static const struct tx_sql sql_org_employee_set_active = {
  "org_employee_set_active", "SELECT j::text, j->>'version', j->>'id' FROM " "api.employee_set_active($1::uuid, $2::boolean) j", 2};
static const struct tx_sql sql_org_employees_list = {
  "org_employees_list", "SELECT api.employee_list($1::int, $2, $3::uuid, $4::boolean)::text", 4};
static const struct tx_sql sql_org_employees_create = {
  "org_employees_create", "SELECT j::text, j->>'version', j->>'id' FROM " "api.employee_create($1::jsonb) j", 1};
static const struct tx_sql sql_org_employee_get = {"org_employee_get", "SELECT j::text, j->>'version', j->>'id' FROM " "api.employee_get($1::uuid) j", 1};
static const struct tx_sql sql_org_employee_update = {
  "org_employee_update", "SELECT j::text, j->>'version', j->>'id' FROM " "api.employee_update($1::uuid, $2::int, $3::jsonb) j", 3};
static const struct tx_sql sql_org_policy_parameters_list = {
  "org_policy_parameters_list", "SELECT api.policy_parameter_list($1::date)::text", 1};
static const struct tx_sql sql_org_policy_parameter_get = {
  "org_policy_parameter_get", "SELECT api.policy_parameter_get($1, $2::date)::text", 2};
static const struct tx_sql sql_org_policy_propose = {
  "org_policy_propose", "SELECT j::text, j->>'version', j->>'id' FROM " "api.policy_propose($1, $2::jsonb) j", 2};
static const struct tx_sql sql_org_policy_decide = {
  "org_policy_decide", "SELECT j::text, j->>'version', j->>'id' FROM " "api.policy_decide($1::uuid, $2::boolean, $3) j", 3};
static const struct tx_field policy_parameters_decide_spec[] = {
  {.name = "reason", .type = TX_J_STRING, .min_len = 1, .max_len = 1000, .multiline = true},
};
static const struct tx_sql sql_org_regulation_publish = {
  "org_regulation_publish", "SELECT j::text, j->>'version', j->>'id' FROM " "api.regulation_publish($1::uuid, $2::date) j", 2};
static const struct tx_sql sql_org_regulation_acknowledge = {
  "org_regulation_acknowledge", "SELECT api.regulation_acknowledge($1::uuid)::text", 1};
static const struct tx_sql sql_org_regulation_acknowledgements = {
  "org_regulation_acknowledgements",
  "SELECT api.regulation_acknowledgements($1::uuid, coalesce($2::boolean, false), $3::int, $4)::text",
  4};
static const struct tx_field regulation_actions_publish_spec[] = {
  {.name = "effective_from", .type = TX_J_DATE},
};
static const struct tx_sql sql_org_regulations_list = {
  "org_regulations_list", "SELECT api.regulation_list($1::int, $2)::text", 2};
static const struct tx_sql sql_org_regulations_create = {
  "org_regulations_create", "SELECT j::text, j->>'version', j->>'id' FROM " "api.regulation_create($1::jsonb) j", 1};
static const struct tx_sql sql_org_regulation_current = {
  "org_regulation_current", "SELECT j::text, j->>'version', j->>'id' FROM " "api.regulation_current(coalesce($1, 'business-management')) j", 1};
static const struct tx_sql sql_org_regulation_get = {"org_regulation_get", "SELECT j::text, j->>'version', j->>'id' FROM " "api.regulation_get($1::uuid) j", 1};

static const struct tx_route routes[] = {
  /* Module G: the organization (G2: applies to all employees and departments) */
  {"GET", "/v1/departments", "*", "G2",
   .call = &(const struct tx_call){&sql_org_departments_list, true, 200, NULL, NULL, 0,
     {{TX_ARG_QUERY_INT, "limit"}, {TX_ARG_QUERY_TEXT, "cursor"}}}},
  {"POST", "/v1/departments", "admin", "G2",
   .call = &(const struct tx_call){&sql_org_departments_create, false, 201, "/v1/departments/", NULL, 0,
     {{TX_ARG_BODY, NULL}}}},
  {"GET", "/v1/departments/{id}", "*", "G2",
   .call = &(const struct tx_call){&sql_org_department_get, true, 200, NULL, NULL, 0, {{TX_ARG_PATH_UUID, "id"}}}},
  {"PATCH", "/v1/departments/{id}", "admin", "G2",
   .call = &(const struct tx_call){
     &sql_org_department_update, false, 200, NULL, NULL, 0,
     {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_IF_MATCH, NULL}, {TX_ARG_BODY, NULL}}}},
  {"GET", "/v1/employees", "*", "G2",
   .call = &(const struct tx_call){&sql_org_employees_list, true, 200, NULL, NULL, 0,
     {{TX_ARG_QUERY_INT, "limit"},
     {TX_ARG_QUERY_TEXT, "cursor"},
     {TX_ARG_QUERY_UUID, "department_id"},
     {TX_ARG_QUERY_BOOL, "active"}}}},
  {"POST", "/v1/employees", "admin", "G2",
   .call = &(const struct tx_call){&sql_org_employees_create, false, 201, "/v1/employees/", NULL, 0,
     {{TX_ARG_BODY, NULL}}}},
  {"GET", "/v1/employees/{id}", "*", "G2",
   .call = &(const struct tx_call){&sql_org_employee_get, true, 200, NULL, NULL, 0, {{TX_ARG_PATH_UUID, "id"}}}},
  {"PATCH", "/v1/employees/{id}", "admin", "G2",
   .call = &(const struct tx_call){
     &sql_org_employee_update, false, 200, NULL, NULL, 0,
     {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_IF_MATCH, NULL}, {TX_ARG_BODY, NULL}}}},
  {"POST", "/v1/employees/{id}/deactivate", "admin", "G2",
   .call = &(const struct tx_call){&sql_org_employee_set_active, false, 200, NULL, NULL, 0,
     {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_CONST, "false"}}}},
  {"POST", "/v1/employees/{id}/activate", "admin", "G2",
   .call = &(const struct tx_call){&sql_org_employee_set_active, false, 200, NULL, NULL, 0,
     {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_CONST, "true"}}}},
  {"PUT", "/v1/employees/{id}/password", "admin", "G2", .handler = tx_org_employee_password},

  /* Module G: the regulations (S1: HR interprets and publishes; G2: everyone acknowledges) */
  {"GET", "/v1/regulations", "*", "G1,G2",
   .call = &(const struct tx_call){&sql_org_regulations_list, true, 200, NULL, NULL, 0,
     {{TX_ARG_QUERY_INT, "limit"}, {TX_ARG_QUERY_TEXT, "cursor"}}}},
  {"POST", "/v1/regulations", "hr", "S1",
   .call = &(const struct tx_call){&sql_org_regulations_create, false, 201, "/v1/regulations/", NULL, 0,
     {{TX_ARG_BODY, NULL}}}},
  {"GET", "/v1/regulations/current", "*", "G1,G2",
   .call = &(const struct tx_call){&sql_org_regulation_current, true, 200, NULL, NULL, 0,
     {{TX_ARG_QUERY_TEXT, "code"}}}},
  {"GET", "/v1/regulations/{id}", "*", "G1,G2",
   .call = &(const struct tx_call){&sql_org_regulation_get, true, 200, NULL, NULL, 0, {{TX_ARG_PATH_UUID, "id"}}}},
  {"POST", "/v1/regulations/{id}/publish", "hr", "S1",
   .call = &(const struct tx_call){&sql_org_regulation_publish, false, 200, NULL, regulation_actions_publish_spec, 1,
     {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_MEMBER, "effective_from"}}}},
  {"POST", "/v1/regulations/{id}/acknowledge", "*", "G2",
   .call = &(const struct tx_call){&sql_org_regulation_acknowledge, false, 200, NULL, NULL, 0,
     {{TX_ARG_PATH_UUID, "id"}}}},
  {"GET", "/v1/regulations/{id}/acknowledgements", "hr,admin,auditor", "G2,S1",
   .call = &(const struct tx_call){&sql_org_regulation_acknowledgements, true, 200, NULL, NULL, 0,
     {{TX_ARG_PATH_UUID, "id"},
     {TX_ARG_QUERY_BOOL, "pending"},
     {TX_ARG_QUERY_INT, "limit"},
     {TX_ARG_QUERY_TEXT, "cursor"}}}},

  /* Module G: policy parameters the regulations leave to the company (G3: reasonable, effective) */
  {"GET", "/v1/policy-parameters", "*", "G3",
   .call = &(const struct tx_call){&sql_org_policy_parameters_list, true, 200, NULL, NULL, 0, {{TX_ARG_QUERY_DATE, "at"}}}},
  {"GET", "/v1/policy-parameters/{name}", "*", "G3",
   .call = &(const struct tx_call){&sql_org_policy_parameter_get, true, 200, NULL, NULL, 0,
     {{TX_ARG_PATH_TEXT, "name"}, {TX_ARG_QUERY_DATE, "at"}}}},
  {"POST", "/v1/policy-parameters/{name}/proposals", "hr", "G3,S1",
   .call = &(const struct tx_call){&sql_org_policy_propose, false, 201, NULL, NULL, 0,
     {{TX_ARG_PATH_TEXT, "name"}, {TX_ARG_BODY, NULL}}}},
  {"POST", "/v1/policy-proposals/{id}/approve", "admin", "G3",
   .call = &(const struct tx_call){&sql_org_policy_decide, false, 200, NULL, policy_parameters_decide_spec, 1,
     {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_CONST, "true"},
     {TX_ARG_MEMBER, "reason"}}}},
  {"POST", "/v1/policy-proposals/{id}/reject", "admin", "G3",
   .call = &(const struct tx_call){&sql_org_policy_decide, false, 200, NULL, policy_parameters_decide_spec, 1,
     {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_CONST, "false"},
     {TX_ARG_MEMBER, "reason"}}}},
};

const struct tx_module tx_module_org = {
  .name = "org",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};
