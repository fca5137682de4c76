/**
 * @file modules/risk/warnings.c
 * @brief Module R, part C: risk warnings (R3.2 預警信號, R3.3): raised by a measurement that
 * reaches a threshold (modules/risk/kris.c), then analysed, handled (optionally with a new risk
 * in the register) and closed with an outcome. Every route is one SQL API function of
 * sql/code/risk/060_warnings.sql; modules/modules.c registers tx_module_risk_warnings. Row
 * format: src/modules/org/routes.c.
 */
#include "core/call.h"
#include "core/formats.h"
#include "core/module.h"
#include "modules/risk/risk.h"

static const struct tx_sql sql_warnings_list = {
  "risk_warnings_list", "SELECT api.warning_list($1, $2, $3::uuid, $4::int, $5)::text", 5};
static const struct tx_sql sql_warnings_get = {
  "risk_warnings_get", TX_CALL_ROW "api.warning_get($1::uuid) j", 1};
static const struct tx_sql sql_warnings_analyse = {
  "risk_warnings_analyse", TX_CALL_ROW "api.warning_analyse($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_warnings_handle = {
  "risk_warnings_handle", TX_CALL_ROW "api.warning_handle($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_warnings_close = {
  "risk_warnings_close", TX_CALL_ROW "api.warning_close($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_warnings_transitions = {
  "risk_warnings_transitions", "SELECT api.warning_transitions($1::uuid, $2::int, $3)::text", 3};

#define MOVE(sqlp) TX_CALL(.sql = (sqlp), .status = 200, \
                           .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})

static const struct tx_route routes[] = {
  /* Risk officers, admin, auditors and supervisors see every warning; others the ones they own
   * (row-level security). CSV for the monitoring file. */
  {"GET", "/v1/warnings", "*", "R3.2,R3.3",
   .call = TX_CALL(.sql = &sql_warnings_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_TEXT, "status"},
                            {TX_ARG_QUERY_TEXT, "level"},
                            {TX_ARG_QUERY_UUID, "kri_id"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}}),
   .formats = TX_FORMATS(TX_CSV_COLUMNS({"Warning ID", "/id"}, {"Indicator", "/kri/code"},
                                        {"Level", "/level"}, {"Value", "/value"},
                                        {"Threshold", "/threshold"}, {"Status", "/status"},
                                        {"Raised at", "/raised_at"},
                                        {"Escalated at", "/escalated_at"},
                                        {"Root cause", "/root_cause"},
                                        {"Measures", "/measures"}, {"Risk ID", "/risk_id"},
                                        {"Outcome", "/outcome"}, {"Closed at", "/closed_at"}))},
  {"GET", "/v1/warnings/{id}", "*", "R3.2,R3.3",
   .call = TX_CALL(.sql = &sql_warnings_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  /* Deep analysis (R3.3 深入分析): root cause, the analyst. */
  {"POST", "/v1/warnings/{id}/analyse", "supervisor,risk_officer,admin", "R3.3",
   .call = MOVE(&sql_warnings_analyse)},
  /* Handling (R3.3 採取相應的措施): the measures, optionally a new risk (R1.1). */
  {"POST", "/v1/warnings/{id}/handle", "supervisor,risk_officer,admin", "R3.3,R1.1",
   .call = MOVE(&sql_warnings_handle)},
  {"POST", "/v1/warnings/{id}/close", "risk_officer,admin", "R3.3",
   .call = MOVE(&sql_warnings_close)},
  {"GET", "/v1/warnings/{id}/transitions", "*", "R3.3",
   .call = TX_CALL(.sql = &sql_warnings_transitions, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
};

const struct tx_module tx_module_risk_warnings = {
  .name = "risk_warnings",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};
