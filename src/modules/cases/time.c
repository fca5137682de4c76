/**
 * @file modules/cases/time.c
 * @brief Module P, part F (tx_module_case_time): the working-day calendar on which the deadlines of
 * cases are counted (GET /v1/calendar, PUT/DELETE /v1/calendar/{day}; P2.2). The SQL is in
 * sql/code/cases/010_calendar.sql. Row format: see src/modules/org/routes.c.
 */
#include "core/call.h"
#include "core/module.h"
#include "modules/cases/cases.h"

static const struct tx_sql sql_calendar_list = {
  "cases_calendar_list", "SELECT api.calendar_list($1::date, $2::date)::text", 2};
static const struct tx_sql sql_calendar_set = {
  "cases_calendar_set", TX_CALL_ROW "api.calendar_set($1, $2::jsonb) j", 2};
static const struct tx_sql sql_calendar_delete = {
  "cases_calendar_delete", TX_CALL_ROW_UNVERSIONED "api.calendar_delete($1) j", 1};

static const struct tx_route routes[] = {
  /* The working-day calendar (P2.2: work is scheduled, and its deadlines counted, in working
   * days; the public holidays and the make-up workdays of 調休 are the admin's rows). */
  {"GET", "/v1/calendar", "*", "P2.2",
   .call = TX_CALL(.sql = &sql_calendar_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_DATE, "from"}, {TX_ARG_QUERY_DATE, "to"}})},
  {"PUT", "/v1/calendar/{day}", "admin", "P2.2",
   .call = TX_CALL(.sql = &sql_calendar_set, .status = 200,
                   .args = {{TX_ARG_PATH_TEXT, "day"}, {TX_ARG_BODY, NULL}})},
  {"DELETE", "/v1/calendar/{day}", "admin", "P2.2",
   .call = TX_CALL(.sql = &sql_calendar_delete, .status = 200,
                   .args = {{TX_ARG_PATH_TEXT, "day"}})},
};

const struct tx_module tx_module_case_time = {
  .name = "case_time",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};
