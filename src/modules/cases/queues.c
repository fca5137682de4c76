/**
 * @file modules/cases/queues.c
 * @brief Module P, part F: the personal work queues under GET /v1/me/queues/ (P1.4, P2.1-P2.3,
 * P3.1, P3.3): my open cases, the approvals and reviews waiting in my department, my overdue
 * deadlines, the escalations addressed to me. Keyset-paged (limit, cursor); the SQL is in
 * sql/code/cases/090_queues.sql. A module of its own (tx_module_case_queues) beside the calendar's.
 */
#include "core/call.h"
#include "core/module.h"
#include "modules/cases/cases.h"

static const struct tx_sql sql_queue_cases = {
  "cases_queue_cases", "SELECT api.queue_cases($1::int, $2)::text", 2};
static const struct tx_sql sql_queue_approvals = {
  "cases_queue_approvals", "SELECT api.queue_approvals($1::int, $2)::text", 2};
static const struct tx_sql sql_queue_reviews = {
  "cases_queue_reviews", "SELECT api.queue_reviews($1::int, $2)::text", 2};
static const struct tx_sql sql_queue_overdue = {
  "cases_queue_overdue", "SELECT api.queue_overdue($1::int, $2)::text", 2};
static const struct tx_sql sql_queue_escalations = {
  "cases_queue_escalations", "SELECT api.queue_escalations($1::int, $2)::text", 2};

#define QUEUE_ARGS .args = {{TX_ARG_QUERY_INT, "limit"}, {TX_ARG_QUERY_TEXT, "cursor"}}

static const struct tx_route routes[] = {
  /* Open cases I am a current assignee of (P2.1). */
  {"GET", "/v1/me/queues/cases", "staff,supervisor", "P2.1",
   .call = TX_CALL(.sql = &sql_queue_cases, .read_only = true, .status = 200, QUEUE_ARGS)},
  /* Submitted cases of my department awaiting a supervisor, not those I prepared (P1.4). */
  {"GET", "/v1/me/queues/approvals", "supervisor", "P1.4",
   .call = TX_CALL(.sql = &sql_queue_approvals, .read_only = true, .status = 200, QUEUE_ARGS)},
  /* Cases under review in my department that I may review (P3.1, P3.3). */
  {"GET", "/v1/me/queues/reviews", "supervisor", "P3.1,P3.3",
   .call = TX_CALL(.sql = &sql_queue_reviews, .read_only = true, .status = 200, QUEUE_ARGS)},
  /* My overdue open deadlines, milestones first (P2.2, P2.3). */
  {"GET", "/v1/me/queues/overdue", "staff,supervisor", "P2.2,P2.3",
   .call = TX_CALL(.sql = &sql_queue_overdue, .read_only = true, .status = 200, QUEUE_ARGS)},
  /* Open escalations addressed to me (P2.3). */
  {"GET", "/v1/me/queues/escalations", "staff,supervisor,admin", "P2.3",
   .call = TX_CALL(.sql = &sql_queue_escalations, .read_only = true, .status = 200, QUEUE_ARGS)},
};

const struct tx_module tx_module_case_queues = {
  .name = "case_queues",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};
