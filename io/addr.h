/* Socket addresses <-> core's struct stun_addr, and their text forms. */
#ifndef STUNRING_IO_ADDR_H
#define STUNRING_IO_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/attr.h"

/* Room for "[ffff:...:ffff]:65535". */
enum { ADDR_TEXT_MAX = 64 };

void addr_to_stun(const struct sockaddr_storage *ss, struct stun_addr *out);
socklen_t addr_from_stun(const struct stun_addr *a, struct sockaddr_storage *out);
socklen_t addr_len(const struct sockaddr_storage *ss);

/* "1.2.3.4:5" or "[::1]:5" into buf (ADDR_TEXT_MAX bytes); returns buf. */
const char *addr_format(const struct sockaddr_storage *ss, char *buf);

/* Parses an IPv4 or IPv6 literal (no port) into ss with port; 0 or -EINVAL. */
int addr_parse_ip(const char *text, uint16_t port, struct sockaddr_storage *ss);

bool addr_is_wildcard(const struct sockaddr_storage *ss);
void addr_set_port(struct sockaddr_storage *ss, uint16_t port);

/*
 * A link-local IPv6 address names a host only together with its interface:
 * when dest is src's address (the answer goes back to the client), dest
 * takes src's scope id, without which the kernel cannot send to it.
 */
void addr_keep_scope(struct sockaddr_storage *dest, const struct sockaddr_storage *src);

#endif
