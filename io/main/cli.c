#include "io/main/cli.h"

#include "io/addr.h"

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cli_program = "stunring";

void cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", cli_program);
    vfprintf(stderr, fmt, ap);
    fputs(" (see --help)\n", stderr);
    va_end(ap);
    exit(CLI_EXIT_USAGE);
}

int cli_next_flag(int argc, char **argv, const struct option *flags)
{
    opterr = 0; /* our messages, not getopt's */
    int flag = getopt_long(argc, argv, "", flags, NULL);
    if (flag == '?') {
        const char *bad = argv[optind - 1];
        if (optopt != 0)
            cli_usage_error("%s: missing value or not a flag", bad);
        cli_usage_error("unknown flag '%s'", bad);
    }
    if (flag == -1 && optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);
    return flag;
}

unsigned long long cli_number(const char *flag, const char *text, unsigned long long min,
                              unsigned long long max)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < min || v > max)
        cli_usage_error("%s: want a whole number from %llu to %llu, got '%s'", flag, min, max,
                        text);
    return v;
}

void cli_host_port(const char *flag, const char *text, struct sockaddr_storage *out)
{
    char ip[64];
    bool v6 = text[0] == '[';
    const char *ip_start = v6 ? text + 1 : text;
    const char *ip_end = v6 ? strchr(text, ']') : strchr(text, ':');
    const char *colon = v6 && ip_end != NULL ? ip_end + 1 : ip_end;
    size_t ip_len = ip_end != NULL ? (size_t)(ip_end - ip_start) : 0;
    bool shaped = ip_end != NULL && *colon == ':' && ip_len > 0 && ip_len < sizeof(ip) &&
                  strchr(colon + 1, ':') == NULL;
    if (shaped) {
        memcpy(ip, ip_start, ip_len);
        ip[ip_len] = '\0';
    }
    if (!shaped || addr_parse_ip(ip, 0, out) != 0 || out->ss_family != (v6 ? AF_INET6 : AF_INET))
        cli_usage_error("%s: want IPv4:PORT or [IPv6]:PORT, got '%s'", flag, text);
    addr_set_port(out, (uint16_t)cli_number(flag, colon + 1, 1, 65535));
}

unsigned cli_cpus(const char *flag, const char *text, int *cpus, unsigned max)
{
    cpu_set_t allowed;
    char copy[1024];
    if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
        cli_usage_error("%s: cannot read this process's CPUs: %s", flag, strerror(errno));
    size_t len = strlen(text);
    if (len == 0 || len >= sizeof(copy) || strstr(text, ",,") || text[0] == ',' ||
        text[len - 1] == ',')
        cli_usage_error("%s: want a list like 0-3,8 under %zu bytes, got '%.40s'", flag,
                        sizeof(copy), text);
    snprintf(copy, sizeof(copy), "%s", text);
    unsigned n = 0;
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item != NULL;
         item = strtok_r(NULL, ",", &save)) {
        char *dash = strchr(item, '-');
        if (dash != NULL)
            *dash = '\0';
        unsigned long lo = (unsigned long)cli_number(flag, item, 0, CPU_SETSIZE - 1);
        unsigned long hi =
            dash ? (unsigned long)cli_number(flag, dash + 1, lo, CPU_SETSIZE - 1) : lo;
        for (unsigned long cpu = lo; cpu <= hi; cpu++) {
            if (!CPU_ISSET(cpu, &allowed))
                cli_usage_error("%s: CPU %lu is not online or not allowed here", flag, cpu);
            if (n == max)
                cli_usage_error("%s: more than %u CPUs", flag, max);
            cpus[n++] = (int)cpu;
        }
    }
    if (n == 0)
        cli_usage_error("%s: empty list '%s'", flag, text);
    return n;
}
