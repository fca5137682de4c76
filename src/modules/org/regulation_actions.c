/**
 * @file modules/org/regulation_actions.c
 * @brief POST /v1/regulations/{id}/publish (S1: only HR), POST /v1/regulations/{id}/acknowledge
 * (G2: every employee acknowledges the version in force), GET
 * /v1/regulations/{id}/acknowledgements (HR sees who has not) and GET
 * /v1/regulations/{id}/transitions (who published or superseded a version, when: fsm.log).
 */
#include "core/call.h"
#include "modules/org/org.h"

#define ROW "SELECT j::text, j->>'version', j->>'id' FROM "

static const struct tx_sql sql_publish = {
  "org_regulation_publish", ROW "api.regulation_publish($1::uuid, $2::date) j", 2};
static const struct tx_sql sql_acknowledge = {
  "org_regulation_acknowledge", "SELECT api.regulation_acknowledge($1::uuid)::text", 1};
static const struct tx_sql sql_acknowledgements = {
  "org_regulation_acknowledgements",
  "SELECT api.regulation_acknowledgements($1::uuid, coalesce($2::boolean, false), $3::int, $4)::text",
  4};
static const struct tx_sql sql_transitions = {
  "org_regulation_transitions", "SELECT api.regulation_transitions($1::uuid, $2::int, $3)::text", 3};

static const struct tx_field publish_spec[] = {
  {.name = "effective_from", .type = TX_J_DATE},
};

int tx_org_regulation_publish(struct tx_req *r)
{
  static const struct tx_call c = {&sql_publish, false, 200, NULL, publish_spec, 1,
                                   {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_MEMBER, "effective_from"}}};
  return tx_call_run(r, &c);
}

int tx_org_regulation_acknowledge(struct tx_req *r)
{
  static const struct tx_call c = {&sql_acknowledge, false, 200, NULL, NULL, 0,
                                   {{TX_ARG_PATH_UUID, "id"}}};
  return tx_call_run(r, &c);
}

int tx_org_regulation_acknowledgements(struct tx_req *r)
{
  static const struct tx_call c = {&sql_acknowledgements, true, 200, NULL, NULL, 0,
                                   {{TX_ARG_PATH_UUID, "id"},
                                    {TX_ARG_QUERY_BOOL, "pending"},
                                    {TX_ARG_QUERY_INT, "limit"},
                                    {TX_ARG_QUERY_TEXT, "cursor"}}};
  return tx_call_run(r, &c);
}

int tx_org_regulation_transitions(struct tx_req *r)
{
  static const struct tx_call c = {&sql_transitions, true, 200, NULL, NULL, 0,
                                   {{TX_ARG_PATH_UUID, "id"},
                                    {TX_ARG_QUERY_INT, "limit"},
                                    {TX_ARG_QUERY_TEXT, "cursor"}}};
  return tx_call_run(r, &c);
}
