/**
 * @file modules/assessment/assessment.h
 * @brief Module Q, quality assessment of staff (Q1-Q4): one folder, several route tables, one per
 * part, each registered by its own line in modules/modules.c.
 */
#ifndef TX_MODULES_ASSESSMENT_H
#define TX_MODULES_ASSESSMENT_H

#include "core/module.h"

/** @brief The workflow of an assessment (assessments.c): Q2.1, Q2.2, Q3. */
extern const struct tx_module tx_module_assessments;

#endif
