/**
 * @file modules/cases/catalogue.c
 * @brief Module P, the business-type catalogue (P1.2, P2.2, P3.2, P4.2): types with their scope
 * flag and their standard in immutable versions (key milestones with standard durations, the
 * review checklist, the documents the archive needs). Admin and supervisors maintain it; every
 * signed-in employee reads it. The SQL is sql/code/cases/020_business_types.sql.
 */
#include "core/call.h"
#include "core/module.h"
#include "modules/cases/cases.h"

/* Row format: see src/modules/org/routes.c. */

static const struct tx_sql sql_business_types_list = {
  "business_types_list",
  "SELECT api.business_type_list($1::boolean, $2::boolean, $3, $4::int, $5)::text", 5};
static const struct tx_sql sql_business_types_create = {
  "business_types_create", TX_CALL_ROW "api.business_type_create($1::jsonb) j", 1};
static const struct tx_sql sql_business_type_get = {
  "business_type_get", TX_CALL_ROW "api.business_type_get($1::uuid) j", 1};
static const struct tx_sql sql_business_type_update = {
  "business_type_update",
  TX_CALL_ROW "api.business_type_update($1::uuid, $2::int, $3::jsonb) j", 3};
static const struct tx_sql sql_business_type_versions = {
  "business_type_versions",
  "SELECT api.business_type_versions($1::uuid, $2::int, $3)::text", 3};
/* A version never changes, so it has no ETag; its Location is /v1/business-types/{id}/versions/{n}. */
static const struct tx_sql sql_business_type_version_create = {
  "business_type_version_create",
  "SELECT j::text, NULL, (j->>'business_type_id') || '/versions/' || (j->>'version') "
  "FROM api.business_type_version_create($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_business_type_version_get = {
  "business_type_version_get",
  TX_CALL_ROW_UNVERSIONED "api.business_type_version_get($1::uuid, $2) j", 2};

static const struct tx_route routes[] = {
  /* P1.2 (in scope or not), P2.2 (operating standard), P3.2 (review checklist), P4.2 (archive) */
  {"GET", "/v1/business-types", "*", "P1.2,P2.2,P3.2,P4.2",
   .call = TX_CALL(.sql = &sql_business_types_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_BOOL, "in_scope"},
                            {TX_ARG_QUERY_BOOL, "active"},
                            {TX_ARG_QUERY_TEXT, "q"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  {"POST", "/v1/business-types", "admin,supervisor", "P1.2,P2.2,P3.2,P4.2",
   .call = TX_CALL(.sql = &sql_business_types_create, .status = 201,
                   .location = "/v1/business-types/",
                   .args = {{TX_ARG_BODY, NULL}})},
  {"GET", "/v1/business-types/{id}", "*", "P1.2,P2.2,P3.2,P4.2",
   .call = TX_CALL(.sql = &sql_business_type_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"PATCH", "/v1/business-types/{id}", "admin,supervisor", "P1.2",
   .call = TX_CALL(.sql = &sql_business_type_update, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_IF_MATCH, NULL},
                            {TX_ARG_BODY, NULL}})},
  {"GET", "/v1/business-types/{id}/versions", "*", "P2.2,P3.2,P4.2",
   .call = TX_CALL(.sql = &sql_business_type_versions, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  {"POST", "/v1/business-types/{id}/versions", "admin,supervisor", "P2.2,P3.2,P4.2",
   .call = TX_CALL(.sql = &sql_business_type_version_create, .status = 201,
                   .location = "/v1/business-types/",
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  {"GET", "/v1/business-types/{id}/versions/{version}", "*", "P2.2,P3.2,P4.2",
   .call = TX_CALL(.sql = &sql_business_type_version_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_PATH_TEXT, "version"}})},
};

const struct tx_module tx_module_catalogue = {
  .name = "catalogue",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};
