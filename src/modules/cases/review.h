/**
 * @file modules/cases/review.h
 * @brief The handlers of module P's part D (review.c, delivery.c) that need C: the bytes of a
 * file, and the one-time confirmation links (P3.4). The route table is in review.c.
 */
#ifndef TX_MODULES_CASES_REVIEW_H
#define TX_MODULES_CASES_REVIEW_H

#include "core/http.h"

/** GET /v1/cases/{id}/files/{file_id}/content: the file's bytes with its media type. */
int tx_case_file_content(struct tx_req *r);
/** POST /v1/cases/{id}/confirmation-links: issues a one-time link (the token is drawn here). */
int tx_case_confirmation_link_create(struct tx_req *r);
/** GET /v1/confirmations/{token} (public): what was delivered, for the customer. */
int tx_confirmation_view(struct tx_req *r);
/** POST /v1/confirmations/{token} (public): the customer confirms or objects. */
int tx_confirmation_answer(struct tx_req *r);

#endif
