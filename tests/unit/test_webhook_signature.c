/* Unit tests: Standard Webhooks signatures (modules/events/signature.c), against the test vector
 * published with the specification (standard-webhooks, spec/standard-webhooks.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "modules/events/signature.h"

static const char secret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
static const char msg_id[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
static const char body[] = "{\"test\": 2432232314}";

static void specification_vector(void **state)
{
  (void)state;
  char sig[TX_WEBHOOK_SIG_MAX];
  assert_int_equal(tx_webhook_sign(secret, msg_id, 1614265330, body, strlen(body), sig, sizeof sig), 0);
  assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

static void every_input_counts(void **state)
{
  (void)state;
  char a[TX_WEBHOOK_SIG_MAX], b[TX_WEBHOOK_SIG_MAX];
  assert_int_equal(tx_webhook_sign(secret, msg_id, 1614265330, body, strlen(body), a, sizeof a), 0);
  assert_int_equal(tx_webhook_sign(secret, msg_id, 1614265331, body, strlen(body), b, sizeof b), 0);
  assert_string_not_equal(a, b); /* the timestamp */
  assert_int_equal(tx_webhook_sign(secret, "msg_other", 1614265330, body, strlen(body), b, sizeof b), 0);
  assert_string_not_equal(a, b); /* the id */
  assert_int_equal(tx_webhook_sign(secret, msg_id, 1614265330, body, strlen(body) - 1, b, sizeof b), 0);
  assert_string_not_equal(a, b); /* every byte of the body */
  assert_int_equal(tx_webhook_sign("whsec_AfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", msg_id, 1614265330, body,
                                   strlen(body), b, sizeof b), 0);
  assert_string_not_equal(a, b); /* the key */
}

static void refuses_bad_secrets(void **state)
{
  (void)state;
  char sig[TX_WEBHOOK_SIG_MAX];
  assert_int_equal(tx_webhook_sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", msg_id, 1, body, strlen(body), sig, sizeof sig), -1);
  assert_int_equal(tx_webhook_sign("whsec_", msg_id, 1, body, strlen(body), sig, sizeof sig), -1);
  assert_int_equal(tx_webhook_sign("whsec_not base64!", msg_id, 1, body, strlen(body), sig, sizeof sig), -1);
  assert_int_equal(tx_webhook_sign(NULL, msg_id, 1, body, strlen(body), sig, sizeof sig), -1);
  assert_int_equal(tx_webhook_sign(secret, msg_id, 1, body, strlen(body), sig, 20), -1); /* too short */
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(specification_vector),
    cmocka_unit_test(every_input_counts),
    cmocka_unit_test(refuses_bad_secrets),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
