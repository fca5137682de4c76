/**
 * @file modules/events/address.c
 * @brief The webhook address guard (address.h): address classes after the IANA special-purpose
 * registries (RFC 6890 and its updates), and the operator's allow-list.
 */
#include "modules/events/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tx_addr_class_name(enum tx_addr_class c)
{
  switch (c) {
  case TX_ADDR_PUBLIC: return "public";
  case TX_ADDR_LOOPBACK: return "loopback";
  case TX_ADDR_PRIVATE: return "private";
  case TX_ADDR_CGNAT: return "shared (CGNAT)";
  case TX_ADDR_LINK_LOCAL: return "link-local";
  case TX_ADDR_UNIQUE_LOCAL: return "unique-local";
  case TX_ADDR_MULTICAST: return "multicast";
  case TX_ADDR_UNSPECIFIED: return "unspecified";
  case TX_ADDR_RESERVED: return "reserved";
  }
  return "reserved";
}

/* ::ffff:a.b.c.d is the IPv4 address a.b.c.d on a dual-stack socket: one form for both. */
static void normalise(struct tx_ip *ip)
{
  static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (ip->family == AF_INET6 && !memcmp(ip->b, mapped, 12)) {
    memmove(ip->b, ip->b + 12, 4);
    memset(ip->b + 4, 0, 12);
    ip->family = AF_INET;
  }
}

int tx_ip_from_sockaddr(const struct sockaddr *sa, size_t len, struct tx_ip *out)
{
  memset(out, 0, sizeof *out);
  if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
    out->family = AF_INET;
    memcpy(out->b, &((const struct sockaddr_in *)sa)->sin_addr, 4);
  } else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
    out->family = AF_INET6;
    memcpy(out->b, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    normalise(out);
  } else {
    return -1;
  }
  return 0;
}

int tx_ip_from_text(const char *host, struct tx_ip *out)
{
  char buf[INET6_ADDRSTRLEN + 16];
  size_t len = strlen(host);
  memset(out, 0, sizeof *out);
  if (len >= 2 && host[0] == '[' && host[len - 1] == ']') { /* URL form of IPv6 */
    host++;
    len -= 2;
  }
  if (len == 0 || len >= sizeof buf)
    return -1;
  memcpy(buf, host, len);
  buf[len] = '\0';
  char *zone = strchr(buf, '%'); /* fe80::1%eth0: the zone does not change the class */
  if (zone)
    *zone = '\0';
  if (inet_pton(AF_INET6, buf, out->b) == 1) {
    out->family = AF_INET6;
    normalise(out);
    return 0;
  }
  /* inet_aton, not inet_pton: it takes what resolvers take as an IPv4 literal too ("2130706433",
   * "0x7f.1", "127.1"), the forms an attacker would use to slip a loopback past a text check. */
  struct in_addr a4;
  if (!zone && inet_aton(buf, &a4)) {
    out->family = AF_INET;
    memcpy(out->b, &a4, 4);
    return 0;
  }
  return -1;
}

void tx_ip_text(const struct tx_ip *ip, char *out, size_t len)
{
  if (!inet_ntop(ip->family, ip->b, out, (socklen_t)len))
    snprintf(out, len, "?");
}

/* Whether the first @p bits bits of a and b agree (both hold at least ceil(bits / 8) bytes). */
static bool prefix_eq(const unsigned char *a, const unsigned char *b, int bits)
{
  int whole = bits / 8, rest = bits % 8;
  if (memcmp(a, b, (size_t)whole))
    return false;
  if (!rest)
    return true;
  unsigned char mask = (unsigned char)(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

static enum tx_addr_class classify4(const unsigned char *b)
{
  static const struct {
    unsigned char net[4];
    int bits;
    enum tx_addr_class c;
  } table[] = {
    {{0, 0, 0, 0}, 8, TX_ADDR_UNSPECIFIED},
    {{10, 0, 0, 0}, 8, TX_ADDR_PRIVATE},
    {{100, 64, 0, 0}, 10, TX_ADDR_CGNAT},
    {{127, 0, 0, 0}, 8, TX_ADDR_LOOPBACK},
    {{169, 254, 0, 0}, 16, TX_ADDR_LINK_LOCAL},
    {{172, 16, 0, 0}, 12, TX_ADDR_PRIVATE},
    {{192, 0, 0, 0}, 24, TX_ADDR_RESERVED},     /* IETF protocol assignments */
    {{192, 0, 2, 0}, 24, TX_ADDR_RESERVED},     /* documentation (TEST-NET-1) */
    {{192, 88, 99, 0}, 24, TX_ADDR_RESERVED},   /* 6to4 relay anycast (deprecated) */
    {{192, 168, 0, 0}, 16, TX_ADDR_PRIVATE},
    {{198, 18, 0, 0}, 15, TX_ADDR_RESERVED},    /* benchmarking */
    {{198, 51, 100, 0}, 24, TX_ADDR_RESERVED},  /* documentation (TEST-NET-2) */
    {{203, 0, 113, 0}, 24, TX_ADDR_RESERVED},   /* documentation (TEST-NET-3) */
    {{224, 0, 0, 0}, 4, TX_ADDR_MULTICAST},
    {{240, 0, 0, 0}, 4, TX_ADDR_RESERVED},      /* future use, and 255.255.255.255 broadcast */
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (prefix_eq(b, table[i].net, table[i].bits))
      return table[i].c;
  return TX_ADDR_PUBLIC;
}

enum tx_addr_class tx_addr_classify(const struct tx_ip *ip)
{
  if (ip->family == AF_INET)
    return classify4(ip->b);
  const unsigned char *b = ip->b;
  static const unsigned char zero[16] = {0};
  static const unsigned char one[16] = {[15] = 1};
  static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};          /* 64:ff9b::/96 */
  static const unsigned char nat64_local[6] = {0, 0x64, 0xff, 0x9b, 0, 1}; /* 64:ff9b:1::/48 */
  static const unsigned char discard[8] = {1, 0};                          /* 100::/64 */
  static const unsigned char ietf[3] = {0x20, 0x01, 0};                     /* 2001::/23 */
  static const unsigned char doc[4] = {0x20, 0x01, 0x0d, 0xb8};           /* 2001:db8::/32 */
  static const unsigned char doc2[3] = {0x3f, 0xff, 0};                     /* 3fff::/20 */
  static const unsigned char six_to_four[2] = {0x20, 0x02};                /* 2002::/16 */
  if (!memcmp(b, zero, 16))
    return TX_ADDR_UNSPECIFIED;
  if (!memcmp(b, one, 16))
    return TX_ADDR_LOOPBACK;
  if (b[0] == 0xff)
    return TX_ADDR_MULTICAST;
  if (prefix_eq(b, (const unsigned char[]){0xfe, 0x80}, 10))
    return TX_ADDR_LINK_LOCAL;
  if (prefix_eq(b, (const unsigned char[]){0xfc}, 7))
    return TX_ADDR_UNIQUE_LOCAL;
  /* Forms that carry an IPv4 address reach that address: they take its class. A translator
   * (NAT64) or 6to4 relay would deliver to 64:ff9b::7f00:1 as to 127.0.0.1. */
  if (prefix_eq(b, nat64, 96) || prefix_eq(b, six_to_four, 16)) {
    unsigned char v4[4];
    memcpy(v4, b[1] == 0x02 && b[0] == 0x20 ? b + 2 : b + 12, 4);
    return classify4(v4);
  }
  if (prefix_eq(b, nat64_local, 48))
    return TX_ADDR_PRIVATE;
  if (prefix_eq(b, zero, 96)) /* IPv4-compatible ::a.b.c.d: deprecated, never routed */
    return TX_ADDR_RESERVED;
  if (prefix_eq(b, discard, 64) || prefix_eq(b, doc, 32) || prefix_eq(b, ietf, 23) ||
      prefix_eq(b, doc2, 20))
    return TX_ADDR_RESERVED;
  /* Global unicast is 2000::/3; everything else (fec0::/10 site-local, unassigned) is not. */
  if ((b[0] & 0xe0) != 0x20)
    return TX_ADDR_RESERVED;
  return TX_ADDR_PUBLIC;
}

int tx_cidr_list_parse(const char *text, struct tx_cidr **out, size_t *n, char *err, size_t errlen)
{
  *out = NULL;
  *n = 0;
  if (!text)
    return 0;
  char *copy = strdup(text), *save = NULL;
  struct tx_cidr *list = NULL;
  size_t count = 0;
  if (!copy) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
    while (*item == ' ' || *item == '\t')
      item++;
    size_t len = strlen(item);
    while (len && (item[len - 1] == ' ' || item[len - 1] == '\t'))
      item[--len] = '\0';
    if (!len)
      continue;
    struct tx_cidr c = {0};
    char *slash = strchr(item, '/');
    if (slash)
      *slash = '\0';
    /* inet_pton only: an allow-list is written by an operator, in the canonical forms. */
    int max = 0;
    if (inet_pton(AF_INET, item, c.net.b) == 1) {
      c.net.family = AF_INET;
      max = 32;
    } else if (inet_pton(AF_INET6, item, c.net.b) == 1) {
      c.net.family = AF_INET6;
      max = 128;
      normalise(&c.net);
      if (c.net.family == AF_INET)
        max = 32; /* ::ffff:10.0.0.0/104 would need the prefix shifted: refuse below instead */
    }
    char *end = NULL;
    long bits = slash ? strtol(slash + 1, &end, 10) : max;
    if (!max || (slash && (!slash[1] || *end || bits < 0 || bits > max)) ||
        (slash && c.net.family == AF_INET && strchr(item, ':'))) {
      if (slash)
        *slash = '/';
      snprintf(err, errlen, "TIANXING_WEBHOOK_ALLOW_CIDRS: '%s' is not an address or CIDR (a.b.c.d/n, x:y::/n)",
               item);
      free(list);
      free(copy);
      return -1;
    }
    c.bits = (int)bits;
    struct tx_cidr *grown = realloc(list, (count + 1) * sizeof *list);
    if (!grown) {
      snprintf(err, errlen, "out of memory");
      free(list);
      free(copy);
      return -1;
    }
    list = grown;
    list[count++] = c;
  }
  free(copy);
  *out = list;
  *n = count;
  return 0;
}

bool tx_addr_allowed(const struct tx_ip *ip, const struct tx_cidr *allow, size_t nallow, char *why,
                     size_t whylen)
{
  enum tx_addr_class c = tx_addr_classify(ip);
  if (c == TX_ADDR_PUBLIC)
    return true;
  if (c != TX_ADDR_UNSPECIFIED && c != TX_ADDR_MULTICAST)
    for (size_t i = 0; i < nallow; i++)
      if (allow[i].net.family == ip->family && prefix_eq(ip->b, allow[i].net.b, allow[i].bits))
        return true;
  char text[INET6_ADDRSTRLEN];
  tx_ip_text(ip, text, sizeof text);
  snprintf(why, whylen, "%s is a%s %s address", text,
           c == TX_ADDR_UNSPECIFIED ? "n" : "", tx_addr_class_name(c));
  return false;
}
