/* Unit tests: the webhook address guard (modules/events/address.c): every special-purpose range
 * on both sides of its edges, the IPv6 forms that carry an IPv4 address, the literal forms a URL
 * host may take, and the operator's allow-list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules/events/address.h"

static enum tx_addr_class class_of(const char *text)
{
  struct tx_ip ip;
  if (tx_ip_from_text(text, &ip)) {
    fail_msg("%s is not a literal address", text);
  }
  return tx_addr_classify(&ip);
}

static void check(const char *text, enum tx_addr_class want)
{
  enum tx_addr_class got = class_of(text);
  if (got != want)
    fail_msg("%s: %s, expected %s", text, tx_addr_class_name(got), tx_addr_class_name(want));
}

static void ipv4_ranges(void **state)
{
  (void)state;
  static const struct {
    const char *addr;
    enum tx_addr_class c;
  } cases[] = {
    {"0.0.0.0", TX_ADDR_UNSPECIFIED},     {"0.255.255.255", TX_ADDR_UNSPECIFIED},
    {"1.0.0.0", TX_ADDR_PUBLIC},          {"9.255.255.255", TX_ADDR_PUBLIC},
    {"10.0.0.0", TX_ADDR_PRIVATE},        {"10.255.255.255", TX_ADDR_PRIVATE},
    {"11.0.0.0", TX_ADDR_PUBLIC},         {"100.63.255.255", TX_ADDR_PUBLIC},
    {"100.64.0.0", TX_ADDR_CGNAT},        {"100.127.255.255", TX_ADDR_CGNAT},
    {"100.128.0.0", TX_ADDR_PUBLIC},      {"126.255.255.255", TX_ADDR_PUBLIC},
    {"127.0.0.0", TX_ADDR_LOOPBACK},      {"127.0.0.1", TX_ADDR_LOOPBACK},
    {"127.255.255.255", TX_ADDR_LOOPBACK},{"128.0.0.0", TX_ADDR_PUBLIC},
    {"169.253.255.255", TX_ADDR_PUBLIC},  {"169.254.0.0", TX_ADDR_LINK_LOCAL},
    {"169.254.169.254", TX_ADDR_LINK_LOCAL}, /* cloud metadata */
    {"169.254.255.255", TX_ADDR_LINK_LOCAL}, {"169.255.0.0", TX_ADDR_PUBLIC},
    {"172.15.255.255", TX_ADDR_PUBLIC},   {"172.16.0.0", TX_ADDR_PRIVATE},
    {"172.31.255.255", TX_ADDR_PRIVATE},  {"172.32.0.0", TX_ADDR_PUBLIC},
    {"192.0.0.0", TX_ADDR_RESERVED},      {"192.0.0.255", TX_ADDR_RESERVED},
    {"192.0.1.0", TX_ADDR_PUBLIC},        {"192.0.2.1", TX_ADDR_RESERVED},
    {"192.88.99.1", TX_ADDR_RESERVED},    {"192.167.255.255", TX_ADDR_PUBLIC},
    {"192.168.0.0", TX_ADDR_PRIVATE},     {"192.168.255.255", TX_ADDR_PRIVATE},
    {"192.169.0.0", TX_ADDR_PUBLIC},      {"198.17.255.255", TX_ADDR_PUBLIC},
    {"198.18.0.0", TX_ADDR_RESERVED},     {"198.19.255.255", TX_ADDR_RESERVED},
    {"198.20.0.0", TX_ADDR_PUBLIC},       {"198.51.100.7", TX_ADDR_RESERVED},
    {"203.0.113.9", TX_ADDR_RESERVED},    {"203.0.114.0", TX_ADDR_PUBLIC},
    {"223.255.255.255", TX_ADDR_PUBLIC},  {"224.0.0.0", TX_ADDR_MULTICAST},
    {"239.255.255.255", TX_ADDR_MULTICAST}, {"240.0.0.0", TX_ADDR_RESERVED},
    {"255.255.255.255", TX_ADDR_RESERVED}, {"8.8.8.8", TX_ADDR_PUBLIC},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    check(cases[i].addr, cases[i].c);
}

static void ipv6_ranges(void **state)
{
  (void)state;
  static const struct {
    const char *addr;
    enum tx_addr_class c;
  } cases[] = {
    {"::", TX_ADDR_UNSPECIFIED},
    {"::1", TX_ADDR_LOOPBACK},
    {"::2", TX_ADDR_RESERVED},                 /* IPv4-compatible, deprecated */
    {"::127.0.0.1", TX_ADDR_RESERVED},
    {"fe80::1", TX_ADDR_LINK_LOCAL},
    {"febf:ffff::1", TX_ADDR_LINK_LOCAL},
    {"fec0::1", TX_ADDR_RESERVED},             /* site-local, deprecated */
    {"fc00::1", TX_ADDR_UNIQUE_LOCAL},
    {"fdff:ffff::1", TX_ADDR_UNIQUE_LOCAL},
    {"fd00:ec2::254", TX_ADDR_UNIQUE_LOCAL},   /* a cloud's IPv6 metadata endpoint */
    {"fbff::1", TX_ADDR_RESERVED},             /* outside 2000::/3 */
    {"ff02::1", TX_ADDR_MULTICAST},
    {"ff0e::1", TX_ADDR_MULTICAST},
    {"2001:db8::1", TX_ADDR_RESERVED},         /* documentation */
    {"2001::1", TX_ADDR_RESERVED},             /* Teredo, in the IETF block */
    {"2001:200::1", TX_ADDR_PUBLIC},           /* just past 2001::/23 */
    {"3fff::1", TX_ADDR_RESERVED},             /* documentation (RFC 9637) */
    {"2606:4700::1111", TX_ADDR_PUBLIC},
    {"2a00:1450:4001::1", TX_ADDR_PUBLIC},
    {"100::1", TX_ADDR_RESERVED},              /* discard */
    {"4000::1", TX_ADDR_RESERVED},
    {"1fff::1", TX_ADDR_RESERVED},
    {"64:ff9b:1::1", TX_ADDR_PRIVATE},         /* NAT64, local use */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    check(cases[i].addr, cases[i].c);
}

/* Forms that carry an IPv4 address are judged by that address: mapped, NAT64, 6to4. */
static void embedded_ipv4(void **state)
{
  (void)state;
  check("::ffff:127.0.0.1", TX_ADDR_LOOPBACK);
  check("::ffff:7f00:1", TX_ADDR_LOOPBACK);
  check("::ffff:10.1.2.3", TX_ADDR_PRIVATE);
  check("::ffff:169.254.169.254", TX_ADDR_LINK_LOCAL);
  check("::ffff:100.64.0.1", TX_ADDR_CGNAT);
  check("::ffff:0.0.0.0", TX_ADDR_UNSPECIFIED);
  check("::ffff:224.0.0.1", TX_ADDR_MULTICAST);
  check("::ffff:8.8.8.8", TX_ADDR_PUBLIC);
  check("64:ff9b::7f00:1", TX_ADDR_LOOPBACK);
  check("64:ff9b::a9fe:a9fe", TX_ADDR_LINK_LOCAL);
  check("64:ff9b::808:808", TX_ADDR_PUBLIC);
  check("2002:c0a8:0101::1", TX_ADDR_PRIVATE);  /* 6to4 of 192.168.1.1 */
  check("2002:0808:0808::1", TX_ADDR_PUBLIC);
  /* A mapped address is held as the IPv4 it is (so an IPv4 allow-list covers it). */
  struct tx_ip ip;
  assert_int_equal(tx_ip_from_text("::ffff:192.168.1.1", &ip), 0);
  assert_int_equal(ip.family, AF_INET);
}

/* What a URL host may hold: brackets, zones, and the IPv4 shorthands resolvers accept. */
static void literal_forms(void **state)
{
  (void)state;
  struct tx_ip ip;
  check("[::1]", TX_ADDR_LOOPBACK);
  check("[fe80::1%25eth0]", TX_ADDR_LINK_LOCAL); /* a zone, percent-encoded in a URL */
  check("fe80::1%eth0", TX_ADDR_LINK_LOCAL);
  check("2130706433", TX_ADDR_LOOPBACK);          /* 127.0.0.1 as one number */
  check("0x7f.1", TX_ADDR_LOOPBACK);
  check("127.1", TX_ADDR_LOOPBACK);
  check("017700000001", TX_ADDR_LOOPBACK);        /* octal */
  check("0xa9fea9fe", TX_ADDR_LINK_LOCAL);
  char text[64];
  assert_int_equal(tx_ip_from_text("0x7f.1", &ip), 0);
  tx_ip_text(&ip, text, sizeof text);
  assert_string_equal(text, "127.0.0.1");
  /* Names are not literals: they are judged when a delivery connects. */
  assert_int_equal(tx_ip_from_text("hooks.example.com", &ip), -1);
  assert_int_equal(tx_ip_from_text("localhost", &ip), -1);
  assert_int_equal(tx_ip_from_text("", &ip), -1);
  assert_int_equal(tx_ip_from_text("[]", &ip), -1);
  assert_int_equal(tx_ip_from_text("1.2.3.4.5", &ip), -1);
}

static void from_sockaddr(void **state)
{
  (void)state;
  struct tx_ip ip;
  struct sockaddr_in in4 = {.sin_family = AF_INET};
  inet_pton(AF_INET, "169.254.169.254", &in4.sin_addr);
  assert_int_equal(tx_ip_from_sockaddr((struct sockaddr *)&in4, sizeof in4, &ip), 0);
  assert_int_equal(tx_addr_classify(&ip), TX_ADDR_LINK_LOCAL);
  struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
  inet_pton(AF_INET6, "::ffff:10.0.0.1", &in6.sin6_addr);
  assert_int_equal(tx_ip_from_sockaddr((struct sockaddr *)&in6, sizeof in6, &ip), 0);
  assert_int_equal(ip.family, AF_INET);
  assert_int_equal(tx_addr_classify(&ip), TX_ADDR_PRIVATE);
  /* A short length or another family is not an address. */
  assert_int_equal(tx_ip_from_sockaddr((struct sockaddr *)&in6, sizeof in4, &ip), -1);
  struct sockaddr un = {.sa_family = AF_UNIX};
  assert_int_equal(tx_ip_from_sockaddr(&un, sizeof un, &ip), -1);
}

static bool allowed(const char *addr, const char *list)
{
  struct tx_cidr *cidrs = NULL;
  size_t n = 0;
  char err[256], why[160];
  struct tx_ip ip;
  assert_int_equal(tx_cidr_list_parse(list, &cidrs, &n, err, sizeof err), 0);
  assert_int_equal(tx_ip_from_text(addr, &ip), 0);
  bool ok = tx_addr_allowed(&ip, cidrs, n, why, sizeof why);
  free(cidrs);
  return ok;
}

static void allow_list(void **state)
{
  (void)state;
  /* Without a list: public only. */
  assert_true(allowed("8.8.8.8", NULL));
  assert_true(allowed("2606:4700::1111", ""));
  assert_false(allowed("127.0.0.1", NULL));
  assert_false(allowed("::1", NULL));
  assert_false(allowed("10.0.0.1", ""));
  /* A list opens exactly its ranges. */
  assert_true(allowed("127.0.0.1", "127.0.0.0/8, ::1/128"));
  assert_true(allowed("::1", "127.0.0.0/8, ::1/128"));
  assert_true(allowed("::ffff:127.0.0.1", "127.0.0.0/8")); /* mapped: judged as IPv4 */
  assert_false(allowed("127.0.0.2", "127.0.0.1"));          /* one host */
  assert_true(allowed("10.20.3.4", "10.20.0.0/16"));
  assert_false(allowed("10.21.0.0", "10.20.0.0/16"));
  assert_true(allowed("10.20.255.255", "10.20.0.0/16"));
  assert_true(allowed("172.16.0.1", "172.16.0.0/12"));
  assert_false(allowed("192.168.0.1", "172.16.0.0/12"));
  assert_true(allowed("172.32.0.1", "172.16.0.0/12")); /* public anyway */
  assert_true(allowed("fd12:3456::1", "fd12:3456::/32"));
  assert_false(allowed("fd12:3457::1", "fd12:3456::/32"));
  assert_false(allowed("169.254.169.254", "10.0.0.0/8"));
  /* Never: unspecified (0.0.0.0 is this host) and multicast, whatever the list says. */
  assert_false(allowed("0.0.0.0", "0.0.0.0/0"));
  assert_false(allowed("::", "::/0"));
  assert_false(allowed("224.0.0.1", "0.0.0.0/0"));
  assert_true(allowed("192.168.1.1", "0.0.0.0/0"));
  /* The refusal says what the address is. */
  struct tx_ip ip;
  char why[160];
  tx_ip_from_text("169.254.169.254", &ip);
  assert_false(tx_addr_allowed(&ip, NULL, 0, why, sizeof why));
  assert_string_equal(why, "169.254.169.254 is a link-local address");
  tx_ip_from_text("fd00::1", &ip);
  assert_false(tx_addr_allowed(&ip, NULL, 0, why, sizeof why));
  assert_string_equal(why, "fd00::1 is a unique-local address");
}

static void bad_lists(void **state)
{
  (void)state;
  static const char *const bad[] = {"10.0.0.0/33", "10.0.0.0/", "10.0.0/8", "::1/129", "fe80::/x",
                                    "localhost", "10.0.0.0/8,,bogus", "::ffff:10.0.0.0/104", "1.2.3.4/-1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct tx_cidr *c = NULL;
    size_t n = 0;
    char err[256] = "";
    if (tx_cidr_list_parse(bad[i], &c, &n, err, sizeof err) != -1)
      fail_msg("'%s' was accepted", bad[i]);
    assert_non_null(strstr(err, "TIANXING_WEBHOOK_ALLOW_CIDRS"));
    assert_null(c);
  }
  struct tx_cidr *c = NULL;
  size_t n = 0;
  char err[256];
  assert_int_equal(tx_cidr_list_parse(" 10.0.0.0/8 ,, ::1 ", &c, &n, err, sizeof err), 0);
  assert_int_equal(n, 2);
  assert_int_equal(c[0].bits, 8);
  assert_int_equal(c[1].bits, 128);
  free(c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(ipv4_ranges),   cmocka_unit_test(ipv6_ranges), cmocka_unit_test(embedded_ipv4),
    cmocka_unit_test(literal_forms), cmocka_unit_test(from_sockaddr), cmocka_unit_test(allow_list),
    cmocka_unit_test(bad_lists),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
