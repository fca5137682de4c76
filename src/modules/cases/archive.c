/**
 * @file modules/cases/archive.c
 * @brief Module P, part E: archiving a confirmed case (P4.1, P4.2) and the archive index (P4.3).
 * Every route is one SQL API function (sql/code/cases/070_archive.sql); modules/modules.c
 * registers tx_module_archive.
 */
#include "core/call.h"
#include "core/formats.h"
#include "core/module.h"
#include "modules/cases/cases.h"

/* Row format: see src/modules/org/routes.c. */

static const struct tx_sql sql_case_archive = {
  "case_archive", TX_CALL_ROW_UNVERSIONED "api.case_archive($1::uuid) j", 1};
static const struct tx_sql sql_archive_list = {
  "archive_list",
  "SELECT api.archive_list($1, $2::uuid, $3::uuid, $4::uuid, $5::timestamptz, $6::timestamptz,"
  " $7, $8::int, $9)::text",
  9};
static const struct tx_sql sql_archive_get = {
  "archive_get", TX_CALL_ROW_UNVERSIONED "api.archive_get($1) j", 1};
static const struct tx_sql sql_archive_verify = {
  "archive_verify", TX_CALL_ROW_UNVERSIONED "api.archive_verify($1) j", 1};

static const struct tx_route routes[] = {
  /* P4.1, P4.2: the package (manifest with a hash per part and one over it), the archive number
   * without gaps per year, the case immutable from then on; C2.2 for paper items (location). */
  {"POST", "/v1/cases/{id}/archive", "staff,supervisor", "P4.1,P4.2,C2.2",
   .call = TX_CALL(.sql = &sql_case_archive, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  /* P4.3: the archive index, under the same access rules as the case; a search over every
   * archive, on the read replica (the package just archived is in its own answer, and its
   * number reads on the primary below). */
  {"GET", "/v1/archive", "staff,supervisor,admin,auditor", "P4.3",
   .call = TX_CALL(.sql = &sql_archive_list, .read_only = true, .replica = true, .status = 200,
                   .args = {{TX_ARG_QUERY_TEXT, "number"},
                            {TX_ARG_QUERY_UUID, "customer_id"},
                            {TX_ARG_QUERY_UUID, "business_type_id"},
                            {TX_ARG_QUERY_UUID, "staff_id"},
                            {TX_ARG_QUERY_TIME, "from"},
                            {TX_ARG_QUERY_TIME, "to"},
                            {TX_ARG_QUERY_TEXT, "q"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}}),
   /* Accept: text/csv gives the whole filtered index (core/formats.h) */
   .formats = TX_FORMATS(TX_CSV_COLUMNS({"Archive number", "/archive_number"},
                                        {"Case ID", "/case_id"}, {"Year", "/year"},
                                        {"Title", "/title"}, {"Customer ID", "/customer_id"},
                                        {"Department ID", "/department_id"},
                                        {"Retain until", "/retain_until"},
                                        {"Archived at", "/archived_at"}))},
  {"GET", "/v1/archive/{archive_number}", "staff,supervisor,admin,auditor", "P4.3,P4.2",
   .call = TX_CALL(.sql = &sql_archive_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_TEXT, "archive_number"}})},
  /* P4.2: integrity of the archive, recomputed from the stored rows. */
  {"GET", "/v1/archive/{archive_number}/verify", "staff,supervisor,admin,auditor", "P4.2,P4.3",
   .call = TX_CALL(.sql = &sql_archive_verify, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_TEXT, "archive_number"}})},
};

const struct tx_module tx_module_archive = {
  .name = "archive",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};
