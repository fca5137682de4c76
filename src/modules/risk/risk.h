/**
 * @file modules/risk/risk.h
 * @brief Module R, risk management (R1.1-R4.3): the register (risks, rounds, assessments,
 * responses, market records), credit, key risk indicators and warnings, monitoring reports and
 * emergency plans. One folder with several route tables, one per part, each registered by its
 * own line in modules/modules.c; each part adds its `extern` lines here.
 */
#ifndef TX_MODULES_RISK_H
#define TX_MODULES_RISK_H

#include <jansson.h>
#include <stdio.h>

#include "core/module.h"

/** @brief The risk register (register.c): risks, assessments, rounds, market records (R1.1-R2.2). */
extern const struct tx_module tx_module_risks;
/** @brief Registers the job kind 'risk.rounds' (register.c); 0, or -1 on failure. */
int tx_risk_rounds_register(void);
/** @brief Risk responses and operational measures (responses.c): R2.1, R2.4. */
extern const struct tx_module tx_module_risk_responses;
/* Part C: key risk indicators (R3.2; kris.c) and warnings (R3.2-R3.3; warnings.c). */
extern const struct tx_module tx_module_kris;
extern const struct tx_module tx_module_risk_warnings;
/** Registers the job kind 'risk.kris' (main.c). 0 on success. */
int tx_risk_kris_register(void);
/* Part B, credit (R2.3): credit.c. */
extern const struct tx_module tx_module_risk_credit;
/* Part E: emergency plans, drills, events and lessons (R4.1-R4.3); job kind risk.plans. */
extern const struct tx_module tx_module_emergency_plans;
int tx_risk_plans_register(void);

/* Part D (reports.c): monitoring reports (R3.1), the heat map, the job kind risk.reports. */
extern const struct tx_module tx_module_risk_reports;
/** Registers the job kind risk.reports; 0 or -1. */
int tx_risk_reports_register(void);
/** Draws the 5x5 heat map of a report or of GET /v1/risk-heatmap (core/formats.h). */
int tx_risk_heatmap_svg(const json_t *j_doc, FILE *out);
/** Draws an indicator's values over time, GET /v1/kris/{id}/trend (kri_trend.c; core/formats.h). */
int tx_kri_trend_svg(const json_t *j_doc, FILE *out);

#endif
