/**
 * @file modules/events/address.h
 * @brief The webhook address guard (SSRF): which IP addresses a delivery may connect to. Only
 * global unicast addresses, unless an operator's allow-list (TIANXING_WEBHOOK_ALLOW_CIDRS) names
 * the range: a subscription must not make the service call its own loopback, the company's
 * private network or a cloud metadata endpoint on an attacker's behalf. Pure (no I/O): the
 * deliverer asks it for the address libcurl is about to connect to (so DNS rebinding cannot
 * pass), the routes for a literal address in a URL. docs/events.md, "Where deliveries may go".
 */
#ifndef TX_MODULES_EVENTS_ADDRESS_H
#define TX_MODULES_EVENTS_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

enum tx_addr_class {
  TX_ADDR_PUBLIC,       /* global unicast */
  TX_ADDR_LOOPBACK,     /* 127/8, ::1 */
  TX_ADDR_PRIVATE,      /* RFC 1918: 10/8, 172.16/12, 192.168/16; NAT64 local use 64:ff9b:1::/48 */
  TX_ADDR_CGNAT,        /* 100.64/10 (RFC 6598) */
  TX_ADDR_LINK_LOCAL,   /* 169.254/16 (cloud metadata), fe80::/10 */
  TX_ADDR_UNIQUE_LOCAL, /* fc00::/7 */
  TX_ADDR_MULTICAST,    /* 224/4, ff00::/8 */
  TX_ADDR_UNSPECIFIED,  /* 0/8 ("this network": 0.0.0.0 reaches the local host), :: */
  TX_ADDR_RESERVED,     /* documentation, benchmarking, broadcast, 240/4, outside 2000::/3, ... */
};

/** An address in one form: IPv4-mapped IPv6 (::ffff:a.b.c.d) is held as the IPv4 it is. */
struct tx_ip {
  int family; /* AF_INET (4 bytes used) or AF_INET6 */
  unsigned char b[16];
};

/** One allowed range. */
struct tx_cidr {
  struct tx_ip net;
  int bits;
};

/** @brief The class's name as the delivery log and problems say it ("loopback", ...). */
const char *tx_addr_class_name(enum tx_addr_class c);

/** @brief The address of a socket address; -1 for another family. */
int tx_ip_from_sockaddr(const struct sockaddr *sa, size_t len, struct tx_ip *out);

/**
 * @brief A literal address in URL host form ("203.0.113.5", "[2001:db8::1]", "::1", and the
 * numeric IPv4 shorthands a resolver accepts: "2130706433", "0x7f.1"); -1 when @p host is a name.
 */
int tx_ip_from_text(const char *host, struct tx_ip *out);

/** @brief Text form of @p ip into @p out (INET6_ADDRSTRLEN is enough). */
void tx_ip_text(const struct tx_ip *ip, char *out, size_t len);

/** @brief The class of @p ip (IPv6 forms that embed an IPv4 address take that address's class). */
enum tx_addr_class tx_addr_classify(const struct tx_ip *ip);

/**
 * @brief Parses a comma-separated list of CIDRs ("127.0.0.0/8, ::1/128, 10.20.0.0/16"; an
 * address without /n is one host). Empty or NULL gives an empty list.
 * @return 0 with *out (free()) and *n; -1 with @p err naming the bad item
 */
int tx_cidr_list_parse(const char *text, struct tx_cidr **out, size_t *n, char *err, size_t errlen);

/**
 * @brief Whether a delivery may connect to @p ip: a public address, or one inside @p allow.
 * Unspecified and multicast addresses never (no HTTP receiver is there; 0.0.0.0 is this host).
 * @return true; false with @p why ("127.0.0.1 is a loopback address")
 */
bool tx_addr_allowed(const struct tx_ip *ip, const struct tx_cidr *allow, size_t nallow, char *why,
                     size_t whylen);

#endif
