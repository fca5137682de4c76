/**
 * @file modules/cases/delivery.c
 * @brief One-time confirmation links (P3.4; docs/cases.md, "Confirmation links"), made and
 * answered as core/one_time_link.h says: the token is shown once, the database keeps its SHA-256.
 * Unforgeable because unguessable, and usable once, until its expiry, unless revoked: the row
 * decides (060_delivery.sql says why no HMAC is added).
 */
#include "core/call.h"
#include "core/json_spec.h"
#include "core/module.h"
#include "core/one_time_link.h"
#include "modules/cases/review.h"


static const struct tx_sql sql_link_create = {
  "case_confirmation_link_create",
  "SELECT api.case_confirmation_link_create($1::uuid, $2)::text", 2};

int tx_case_confirmation_link_create(struct tx_req *r)
{
  return tx_link_mint(r, &sql_link_create, "/v1/confirmations/");
}

static const struct tx_sql sql_view = {"confirmation_view",
                                       "SELECT api.confirmation_view($1)::text", 1};

int tx_confirmation_view(struct tx_req *r)
{
  return tx_link_view(r, &sql_view);
}

static const char *const outcomes[] = {"confirmed", "objected", NULL};
static const struct tx_field answer_spec[] = {
  {.name = "outcome", .type = TX_J_STRING, .required = true, .one_of = outcomes},
  {.name = "rating", .type = TX_J_INTEGER, .required = true, .min = 1, .max = 5},
  {.name = "comment", .type = TX_J_STRING, .min_len = 1, .max_len = 2000, .multiline = true},
};
static const struct tx_sql sql_answer = {"confirmation_answer",
                                         "SELECT api.confirmation_answer($1, $2::jsonb)::text", 2};

int tx_confirmation_answer(struct tx_req *r)
{
  return tx_link_answer(r, answer_spec, TX_COUNT(answer_spec), &sql_answer);
}
