/**
 * @file modules/assessment/assessment.h
 * @brief Module Q, quality assessment of staff (Q1-Q4): one folder, one route table per part,
 * each registered by its own line in modules/modules.c.
 */
#ifndef TX_MODULES_ASSESSMENT_H
#define TX_MODULES_ASSESSMENT_H

#include "core/module.h"

/** @brief Use of results (outputs.c): salary bases, bonus list, promotion candidates, training
 * plans (Q4; R2.4). */
extern const struct tx_module tx_module_assessment_outputs;

#endif
