/**
 * @file modules/risk/credit.c
 * @brief Module R, part B (tx_module_risk_credit): credit (R2.3 信用風險). A customer's credit
 * assessments, guarantees, incidents and credit file; receivables with due and paid dates per
 * contract. The contract gate of C1.3 grows the credit check in SQL (risk.credit_gate, asked by
 * api.contract_create and by a trigger on cust.contracts). Every route is one SQL call; the SQL
 * is in sql/code/risk/040_credit.sql, who sees what in sql/code/risk/000_access.sql.
 */
#include "core/call.h"
#include "core/module.h"
#include "modules/risk/risk.h"

static const struct tx_sql sql_credit_file = {
  "risk_credit_file", "SELECT api.credit_file($1::uuid)::text", 1};
static const struct tx_sql sql_credit_assessments = {
  "risk_credit_assessments", "SELECT api.credit_assessment_list($1::uuid)::text", 1};
static const struct tx_sql sql_credit_assess = {
  "risk_credit_assess", TX_CALL_ROW_UNVERSIONED "api.credit_assessment_create($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_guarantees = {
  "risk_guarantees", "SELECT api.guarantee_list($1::uuid)::text", 1};
static const struct tx_sql sql_guarantee_create = {
  "risk_guarantee_create", TX_CALL_ROW_UNVERSIONED "api.guarantee_create($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_guarantee_release = {
  "risk_guarantee_release", "SELECT api.guarantee_release($1::uuid, $2::jsonb)::text", 2};
static const struct tx_sql sql_receivables = {
  "risk_receivables", "SELECT api.receivable_list($1::uuid)::text", 1};
static const struct tx_sql sql_receivable_create = {
  "risk_receivable_create", TX_CALL_ROW_UNVERSIONED "api.receivable_create($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_receivable_payment = {
  "risk_receivable_payment", "SELECT api.receivable_payment($1::uuid, $2::jsonb)::text", 2};
static const struct tx_sql sql_incidents = {
  "risk_credit_incidents", "SELECT api.credit_incident_list($1::uuid)::text", 1};
static const struct tx_sql sql_incident_create = {
  "risk_credit_incident_create", TX_CALL_ROW_UNVERSIONED "api.credit_incident_create($1::uuid, $2::jsonb) j", 2};

/* Readers: risk officers, admin, auditors and the staff related to the customer (row-level
 * security decides which customer: 404 otherwise). Credit managers: risk officers and admin;
 * receivables and payments also the customer's staff, who run its contracts. */
#define CREDIT_READERS "staff,supervisor,risk_officer,admin,auditor"

/* The rows: see src/modules/org/routes.c for the format. */
static const struct tx_route routes[] = {
  {"GET", "/v1/customers/{id}/credit", CREDIT_READERS, "R2.3",
   .call = TX_CALL(.sql = &sql_credit_file, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"GET", "/v1/customers/{id}/credit/assessments", CREDIT_READERS, "R2.3",
   .call = TX_CALL(.sql = &sql_credit_assessments, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"POST", "/v1/customers/{id}/credit/assessments", "risk_officer,admin", "R2.3",
   .call = TX_CALL(.sql = &sql_credit_assess, .status = 201,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  {"GET", "/v1/customers/{id}/credit/guarantees", CREDIT_READERS, "R2.3",
   .call = TX_CALL(.sql = &sql_guarantees, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"POST", "/v1/customers/{id}/credit/guarantees", "risk_officer,admin", "R2.3",
   .call = TX_CALL(.sql = &sql_guarantee_create, .status = 201,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  {"POST", "/v1/guarantees/{id}/release", "risk_officer,admin", "R2.3",
   .call = TX_CALL(.sql = &sql_guarantee_release, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  {"GET", "/v1/contracts/{id}/receivables", CREDIT_READERS, "R2.3",
   .call = TX_CALL(.sql = &sql_receivables, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"POST", "/v1/contracts/{id}/receivables", "staff,supervisor,risk_officer,admin", "R2.3",
   .call = TX_CALL(.sql = &sql_receivable_create, .status = 201,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  {"POST", "/v1/receivables/{id}/payment", "staff,supervisor,risk_officer,admin", "R2.3",
   .call = TX_CALL(.sql = &sql_receivable_payment, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  {"GET", "/v1/customers/{id}/credit/incidents", CREDIT_READERS, "R2.3",
   .call = TX_CALL(.sql = &sql_incidents, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"POST", "/v1/customers/{id}/credit/incidents", "risk_officer,admin", "R2.3",
   .call = TX_CALL(.sql = &sql_incident_create, .status = 201,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
};

const struct tx_module tx_module_risk_credit = {
  .name = "risk_credit",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};
