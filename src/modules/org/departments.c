/**
 * @file modules/org/departments.c
 * @brief /v1/departments and /v1/departments/{id} (G2: the departments the regulations name).
 * Everyone signed in reads them; only admins change them (enforced again in SQL and RLS).
 */
#include "core/call.h"
#include "modules/org/org.h"

#define ROW "SELECT j::text, j->>'version', j->>'id' FROM "

static const struct tx_sql sql_list = {
  "org_departments_list", "SELECT api.department_list($1::int, $2)::text", 2};
static const struct tx_sql sql_create = {
  "org_departments_create", ROW "api.department_create($1::jsonb) j", 1};
static const struct tx_sql sql_get = {"org_department_get", ROW "api.department_get($1::uuid) j", 1};
static const struct tx_sql sql_update = {
  "org_department_update", ROW "api.department_update($1::uuid, $2::int, $3::jsonb) j", 3};

int tx_org_departments_list(struct tx_req *r)
{
  static const struct tx_call c = {&sql_list, true, 200, NULL, NULL, 0,
                                   {{TX_ARG_QUERY_INT, "limit"}, {TX_ARG_QUERY_TEXT, "cursor"}}};
  return tx_call_run(r, &c);
}

int tx_org_departments_create(struct tx_req *r)
{
  static const struct tx_call c = {&sql_create, false, 201, "/v1/departments/", NULL, 0,
                                   {{TX_ARG_BODY, NULL}}};
  return tx_call_run(r, &c);
}

int tx_org_department_get(struct tx_req *r)
{
  static const struct tx_call c = {&sql_get, true, 200, NULL, NULL, 0, {{TX_ARG_PATH_UUID, "id"}}};
  return tx_call_run(r, &c);
}

int tx_org_department_update(struct tx_req *r)
{
  static const struct tx_call c = {
    &sql_update, false, 200, NULL, NULL, 0,
    {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_IF_MATCH, NULL}, {TX_ARG_BODY, NULL}}};
  return tx_call_run(r, &c);
}
