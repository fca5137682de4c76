/**
 * @file modules/assessment/assessment.h
 * @brief Module Q, quality assessment of staff (Q1-Q4): periods and indicators, the assessment's
 * workflow, surveys, the uses of the results and their charts. One folder with several route
 * tables, one per part, each registered by its own line in modules/modules.c.
 */
#ifndef TX_MODULES_ASSESSMENT_H
#define TX_MODULES_ASSESSMENT_H

#include <jansson.h>
#include <stdio.h>

#include "core/module.h"

/** @brief Assessment periods, monthly and annual (periods.c): Q1, Q2.1, Q2.2. */
extern const struct tx_module tx_module_assessment_periods;
/** @brief Registers the job kind 'assessment.periods' (periods.c); 0, or -1 on failure. */
int tx_assessment_periods_register(void);
/** @brief Use of results (outputs.c): salary bases, bonus list, promotion candidates, training
 * plans (Q4; R2.4). */
extern const struct tx_module tx_module_assessment_outputs;

/** @brief Charts of assessments, JSON or SVG (charts.c): Q1, Q2.1, Q2.2. */
extern const struct tx_module tx_module_assessment_charts;
/** @brief The SVG of an employee's trend (api.assessment_trend's JSON); 0, or -1 (bad shape). */
int tx_chart_trend_svg(const json_t *j_doc, FILE *out);
/** @brief The SVG of a department's grade distribution (api.grade_distribution's JSON). */
int tx_chart_grades_svg(const json_t *j_doc, FILE *out);

/** @brief Customer satisfaction questionnaires, sends, answers, response rates (surveys.c): Q3. */
extern const struct tx_module tx_module_surveys;
/** @brief Registers the job kind 'assessment.surveys' (surveys.c); 0, or -1 on failure. */
int tx_surveys_job_register(void);
/** @brief The workflow of an assessment (assessments.c): Q2.1, Q2.2, Q3. */
extern const struct tx_module tx_module_assessments;

#endif
