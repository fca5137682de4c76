/**
 * @file core/problem.h
 * @brief RFC 9457 problem documents built from the registry's codes (base/errors.h).
 */
#ifndef TX_CORE_PROBLEM_H
#define TX_CORE_PROBLEM_H

#include "base/errors.h"

#include <jansson.h>

/**
 * @brief Builds a problem document; new reference.
 * @param detail   human-readable detail, never SQL text or internals (may be NULL)
 * @param j_errors validation errors array, stolen (may be NULL)
 */
json_t *tx_problem_new(enum tx_code c, int zh, const char *detail, const char *request_id,
                       const char *instance, json_t *j_errors);

/** @brief Appends {field, code, message} to @p j_errors (an array). */
void tx_problem_add_field(json_t *j_errors, const char *field, const char *code, const char *message);

/**
 * @brief Copies the members of @p j_ext (an object, borrowed; NULL or anything else: nothing) into
 * problem @p j_p as extension members (RFC 9457 section 3.2), except the members a problem
 * document defines itself (type, title, status, detail, code, request_id, instance, errors),
 * which the registry and the caller own.
 */
void tx_problem_extend(json_t *j_p, const json_t *j_ext);

/** @brief Whether @p name is a member problem documents define themselves. */
int tx_problem_member_reserved(const char *name);

#endif
