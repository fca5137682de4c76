/**
 * @file modules/org/employees.c
 * @brief /v1/employees and /v1/employees/{id} (G2). Admins see and manage everyone, HR and
 * auditors read everyone, supervisors read their department, everyone reads themselves (RLS).
 */
#include "core/call.h"
#include "modules/org/org.h"

#define ROW "SELECT j::text, j->>'version', j->>'id' FROM "

static const struct tx_sql sql_list = {
  "org_employees_list", "SELECT api.employee_list($1::int, $2, $3::uuid, $4::boolean)::text", 4};
static const struct tx_sql sql_create = {
  "org_employees_create", ROW "api.employee_create($1::jsonb) j", 1};
static const struct tx_sql sql_get = {"org_employee_get", ROW "api.employee_get($1::uuid) j", 1};
static const struct tx_sql sql_update = {
  "org_employee_update", ROW "api.employee_update($1::uuid, $2::int, $3::jsonb) j", 3};

int tx_org_employees_list(struct tx_req *r)
{
  static const struct tx_call c = {&sql_list, true, 200, NULL, NULL, 0,
                                   {{TX_ARG_QUERY_INT, "limit"},
                                    {TX_ARG_QUERY_TEXT, "cursor"},
                                    {TX_ARG_QUERY_UUID, "department_id"},
                                    {TX_ARG_QUERY_BOOL, "active"}}};
  return tx_call_run(r, &c);
}

int tx_org_employees_create(struct tx_req *r)
{
  static const struct tx_call c = {&sql_create, false, 201, "/v1/employees/", NULL, 0,
                                   {{TX_ARG_BODY, NULL}}};
  return tx_call_run(r, &c);
}

int tx_org_employee_get(struct tx_req *r)
{
  static const struct tx_call c = {&sql_get, true, 200, NULL, NULL, 0, {{TX_ARG_PATH_UUID, "id"}}};
  return tx_call_run(r, &c);
}

int tx_org_employee_update(struct tx_req *r)
{
  static const struct tx_call c = {
    &sql_update, false, 200, NULL, NULL, 0,
    {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_IF_MATCH, NULL}, {TX_ARG_BODY, NULL}}};
  return tx_call_run(r, &c);
}
