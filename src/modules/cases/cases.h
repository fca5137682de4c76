/**
 * @file modules/cases/cases.h
 * @brief Module P, business process (P1.1-P4.3): a customer's request followed from reception to
 * archive. The module is one folder with several route tables, one per part of the process, each
 * registered by its own line in modules/modules.c.
 */
#ifndef TX_MODULES_CASES_H
#define TX_MODULES_CASES_H

#include "core/http.h"
#include "core/module.h"

#include <jansson.h>
#include <stdio.h>

/** @brief The business-type catalogue (catalogue.c): P1.2, P2.2, P3.2, P4.2. */
extern const struct tx_module tx_module_catalogue;
/** @brief Cases from request to assignment (cases.c): P1.1-P2.1. */
extern const struct tx_module tx_module_cases;
/** @brief Work records, escalations, submission for review (work.c): P2.2-P2.4, P3.3. */
extern const struct tx_module tx_module_case_work;
/** @brief Review rounds, files, delivery and the customer's confirmation: P3.1-P3.4. */
extern const struct tx_module tx_module_case_review;
/** @brief The archive and its index (archive.c): P4.1-P4.3. */
extern const struct tx_module tx_module_archive;
/** @brief The working-day calendar, deadlines and work queues (calendar.c, queues.c). */
extern const struct tx_module tx_module_case_time;
/** @brief The personal work queues, GET /v1/me/queues/... (queues.c): P1.4, P2.1-P2.3, P3.1. */
extern const struct tx_module tx_module_case_queues;
/** @brief Case throughput and overdue by week, JSON and SVG (charts.c): P1.1, P2.2. */
extern const struct tx_module tx_module_case_charts;
/** @brief Draws the JSON of GET /v1/case-stats/weekly as SVG (core/formats.h tx_svg_renderer). */
int tx_case_weekly_svg(const json_t *j_doc, FILE *out);
/** @brief Registers the job kind 'cases.deadlines' (deadlines.c); 0, or -1 on failure. */
int tx_cases_deadlines_register(void);

#endif
