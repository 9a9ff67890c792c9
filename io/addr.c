#include "io/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

void addr_to_stun(const struct sockaddr_storage *ss, struct stun_addr *out)
{
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        out->family = STUN_FAMILY_IPV6;
        out->port = ntohs(s6->sin6_port);
        memcpy(out->ip, &s6->sin6_addr, 16);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        out->family = STUN_FAMILY_IPV4;
        out->port = ntohs(s4->sin_port);
        memcpy(out->ip, &s4->sin_addr, 4);
        memset(out->ip + 4, 0, 12);
    }
}

socklen_t addr_from_stun(const struct stun_addr *a, struct sockaddr_storage *out)
{
    /* Only the bytes the family uses are written: this runs per packet. */
    if (a->family == STUN_FAMILY_IPV6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
        *s6 = (struct sockaddr_in6){.sin6_family = AF_INET6, .sin6_port = htons(a->port)};
        memcpy(&s6->sin6_addr, a->ip, 16);
        return sizeof(*s6);
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)out;
    *s4 = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(a->port)};
    memcpy(&s4->sin_addr, a->ip, 4);
    return sizeof(*s4);
}

socklen_t addr_len(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

const char *addr_format(const struct sockaddr_storage *ss, char *buf)
{
    char ip[INET6_ADDRSTRLEN];
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        snprintf(buf, ADDR_TEXT_MAX, "[%s]:%u", ip, ntohs(s6->sin6_port));
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
        snprintf(buf, ADDR_TEXT_MAX, "%s:%u", ip, ntohs(s4->sin_port));
    }
    return buf;
}

int addr_parse_ip(const char *text, uint16_t port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, text, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        return 0;
    }
    if (inet_pton(AF_INET6, text, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        return 0;
    }
    return -EINVAL;
}

bool addr_is_wildcard(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
    return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
}

void addr_set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
    else
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
}

void addr_keep_scope(struct sockaddr_storage *dest, const struct sockaddr_storage *src)
{
    if (dest->ss_family != AF_INET6 || src->ss_family != AF_INET6)
        return;
    struct sockaddr_in6 *d6 = (struct sockaddr_in6 *)dest;
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)src;
    if (s6->sin6_scope_id != 0 && IN6_ARE_ADDR_EQUAL(&d6->sin6_addr, &s6->sin6_addr))
        d6->sin6_scope_id = s6->sin6_scope_id;
}
