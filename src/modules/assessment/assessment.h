/**
 * @file modules/assessment/assessment.h
 * @brief Module Q, quality assessment of staff (Q1-Q4): each part's route table, registered by
 * its own line in modules/modules.c.
 */
#ifndef TX_MODULES_ASSESSMENT_H
#define TX_MODULES_ASSESSMENT_H

#include "core/module.h"

#include <jansson.h>
#include <stdio.h>

/** @brief Charts of assessments, JSON or SVG (charts.c): Q1, Q2.1, Q2.2. */
extern const struct tx_module tx_module_assessment_charts;
/** @brief The SVG of an employee's trend (api.assessment_trend's JSON); 0, or -1 (bad shape). */
int tx_chart_trend_svg(const json_t *j_doc, FILE *out);
/** @brief The SVG of a department's grade distribution (api.grade_distribution's JSON). */
int tx_chart_grades_svg(const json_t *j_doc, FILE *out);

#endif
