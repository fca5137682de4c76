/**
 * @file modules/risk/kris.c
 * @brief Module R, part C: key risk indicators (R3.2) and the job kind 'risk.kris'. Every route
 * is one SQL API function of sql/code/risk/050_kris.sql (which holds the rules and why: the
 * seven computed indicators, the measurement that raises a warning at once, the no-flapping
 * rule); modules/modules.c registers tx_module_kris. Row format: src/modules/org/routes.c.
 *
 * The job (schedule daily 02:15 company time, migration 0029) runs risk.kris_job: it measures
 * every active computed indicator due by its policy frequency (kri_thresholds), each raising its
 * warning at once when it reaches a threshold. Due is judged on company dates, so a retried or
 * repeated run the same day measures nothing twice. Payload {"force": true} measures them all.
 */
#include "core/call.h"
#include "core/formats.h"
#include "core/module.h"
#include "jobs/jobs.h"
#include "modules/risk/risk.h"

static const struct tx_sql sql_kris_list = {
  "risk_kris_list", "SELECT api.kri_list($1::boolean, $2)::text", 2};
static const struct tx_sql sql_kris_create = {
  "risk_kris_create", TX_CALL_ROW "api.kri_create($1::jsonb) j", 1};
static const struct tx_sql sql_kris_get = {
  "risk_kris_get", TX_CALL_ROW "api.kri_get($1::uuid) j", 1};
static const struct tx_sql sql_kris_update = {
  "risk_kris_update", TX_CALL_ROW "api.kri_update($1::uuid, $2::int, $3::jsonb) j", 3};
static const struct tx_sql sql_kris_measurements = {
  "risk_kris_measurements", "SELECT api.kri_measurements($1::uuid, $2::int, $3)::text", 3};
static const struct tx_sql sql_kris_trend = {
  "risk_kris_trend", "SELECT api.kri_trend($1::uuid, $2::date, $3::date)::text, NULL, NULL", 3};
static const struct tx_sql sql_kris_measure = {
  "risk_kris_measure", TX_CALL_ROW_UNVERSIONED "api.kri_measure($1::uuid, $2::jsonb) j", 2};

static const struct tx_route routes[] = {
  /* Everyone signed in knows the indicators and where they stand (R3.2). */
  {"GET", "/v1/kris", "*", "R3.2",
   .call = TX_CALL(.sql = &sql_kris_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_BOOL, "active"}, {TX_ARG_QUERY_TEXT, "category"}})},
  /* Risk officers define indicators; their thresholds are the policy kri_thresholds. */
  {"POST", "/v1/kris", "risk_officer,admin", "R3.2",
   .call = TX_CALL(.sql = &sql_kris_create, .status = 201, .location = "/v1/kris/",
                   .args = {{TX_ARG_BODY, NULL}})},
  {"GET", "/v1/kris/{id}", "*", "R3.2",
   .call = TX_CALL(.sql = &sql_kris_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"PATCH", "/v1/kris/{id}", "risk_officer,admin", "R3.2",
   .call = TX_CALL(.sql = &sql_kris_update, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_IF_MATCH, NULL}, {TX_ARG_BODY, NULL}})},
  /* The history of values, for the people who watch them. */
  {"GET", "/v1/kris/{id}/measurements", "risk_officer,admin,auditor,supervisor", "R3.2",
   .call = TX_CALL(.sql = &sql_kris_measurements, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  /* The values of a range of days, oldest first, for a chart: JSON, or SVG with
   * Accept: image/svg+xml (kri_trend.c); the readers of the history. */
  {"GET", "/v1/kris/{id}/trend", "risk_officer,admin,auditor,supervisor", "R3.2",
   .call = TX_CALL(.sql = &sql_kris_trend, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_QUERY_DATE, "from"},
                            {TX_ARG_QUERY_DATE, "to"}}),
   .formats = TX_FORMATS(.svg = tx_kri_trend_svg)},
  /* A value entered by hand, or a computed indicator measured now; a threshold reached raises
   * the warning in the same transaction (R3.2 及時). The owner of an indicator may measure it:
   * the SQL checks who. */
  {"POST", "/v1/kris/{id}/measurements", "*", "R3.2,R3.3",
   .call = TX_CALL(.sql = &sql_kris_measure, .status = 201,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
};

const struct tx_module tx_module_kris = {
  .name = "kris",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};

/* Seven set-based counts over the operational data: seconds at the benchmark's size, well
 * inside a lease of 10 minutes; a failed run is retried (due-ness makes it idempotent). */
static const struct tx_job_kind risk_kris = {
  .name = "risk.kris",
  .sql = "SELECT risk.kris_job($1::jsonb)",
  .max_attempts = 3,
  .lease_s = 600,
};

int tx_risk_kris_register(void)
{
  return tx_jobs_register(&risk_kris) ? -1 : 0;
}
