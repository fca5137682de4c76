// Credit (R2.3) helpers for the API tests: a contract needs a current credit assessment of its
// customer (the credit gate of sql/code/risk/040_credit.sql), so tests that record contracts
// first have a risk officer (or an admin) assess the customer through the real API.
import assert from 'node:assert/strict';

/**
 * POST /v1/customers/{id}/credit/assessments as `c` (a risk officer or an admin): rating `rating`
 * (A needs no prepayment under the seeded credit_rating_policy), valid for the policy's default
 * months from today. Returns the assessment.
 */
export async function rateCustomer(c, customerId, rating = 'A', over = {}) {
  const res = await c.post(`/v1/customers/${customerId}/credit/assessments`, {
    rating, limit_amount: '1000000.00', currency: 'CNY', method: '財務報表與付款紀錄評估', ...over,
  });
  assert.equal(res.status, 201, `credit assessment: ${res.status} ${res.text}`);
  return res.json;
}
