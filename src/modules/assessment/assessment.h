/**
 * @file modules/assessment/assessment.h
 * @brief Module Q, quality assessment of staff (Q1-Q4): one route table per part, each
 * registered by its own line in modules/modules.c.
 */
#ifndef TX_MODULES_ASSESSMENT_H
#define TX_MODULES_ASSESSMENT_H

#include "core/http.h"
#include "core/module.h"

/** @brief Customer satisfaction questionnaires, sends, answers, response rates (surveys.c): Q3. */
extern const struct tx_module tx_module_surveys;
/** @brief Registers the job kind 'assessment.surveys' (surveys.c); 0, or -1 on failure. */
int tx_surveys_job_register(void);

#endif
