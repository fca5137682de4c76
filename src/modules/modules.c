/**
 * @file modules/modules.c
 * @brief The module list (see modules/modules.h): one line per module.
 */
#include "modules/modules.h"
#include "modules/assessment/assessment.h"
#include "modules/audit/audit.h"
#include "modules/cases/cases.h"
#include "modules/auth/auth.h"
#include "modules/customers/customers.h"
#include "modules/events/events.h"
#include "modules/docs/docs.h"
#include "modules/jobs/jobs.h"
#include "modules/ops/ops.h"
#include "modules/org/org.h"
#include "modules/risk/risk.h"

const struct tx_module *const tx_modules[] = {
  &tx_module_ops,
  &tx_module_docs,
  &tx_module_auth,
  &tx_module_org,
  &tx_module_customers,
  &tx_module_audit,
  &tx_module_jobs,
  &tx_module_catalogue,
  &tx_module_case_time,
  &tx_module_cases,
  &tx_module_archive,
  &tx_module_case_work,
  &tx_module_case_review,
  &tx_module_case_queues,
  &tx_module_case_charts,
  &tx_module_assessments,
  &tx_module_assessment_periods,
  &tx_module_assessment_charts,
  &tx_module_surveys,
  &tx_module_assessment_outputs,
  &tx_module_risks,
  &tx_module_risk_responses,
  &tx_module_kris,
  &tx_module_risk_warnings,
  &tx_module_risk_credit,
  &tx_module_emergency_plans,
  &tx_module_risk_reports,
  &tx_module_webhooks,
};
const size_t tx_modules_count = TX_COUNT(tx_modules);

int tx_modules_register_all(char *err, size_t errlen)
{
  for (size_t i = 0; i < tx_modules_count; i++)
    if (tx_module_register(tx_modules[i], err, errlen))
      return -1;
  return 0;
}
