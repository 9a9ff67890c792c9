/*
 * The counters' printout: error answers by the code they carried, every
 * code the handler can send listed (a zero included), and a code no status
 * produces still shown once counted.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "io/counters.h"

static struct io_counters c;
static char text[1 << 16];

/* counters_print of c into text. */
static void print(void)
{
    FILE *f = fmemopen(text, sizeof(text) - 1, "w");
    cr_assert_not_null(f);
    counters_print(f, "stats", &c);
    fclose(f);
}

/* The value of "stats NAME VALUE" (never the first line), or -1 when
 * there is no such line. */
static long long value_of(const char *name)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "\nstats %s ", name);
    const char *at = strstr(text, needle);
    if (at == NULL)
        return -1;
    return strtoll(at + strlen(needle), NULL, 10);
}

Test(counters, each_code_counted_under_its_own_name)
{
    memset(&c, 0, sizeof(c));
    counters_code(&c, 432);
    counters_code(&c, 432);
    counters_code(&c, 400);
    counters_code(&c, 0); /* a success: nothing */
    print();
    cr_expect_eq(value_of("error_432"), 2, "%s", text);
    cr_expect_eq(value_of("error_400"), 1);
    cr_expect_eq(value_of("error_401"), 0);
}

Test(counters, every_code_a_status_can_send_is_listed)
{
    memset(&c, 0, sizeof(c));
    print();
    for (int s = 0; s < STUN_STATUS_COUNT; s++) {
        for (int classic = 0; classic < 2; classic++) {
            int code = stun_status_error_code((enum stun_status)s, classic);
            if (code == 0)
                continue;
            char name[32];
            snprintf(name, sizeof(name), "error_%d", code);
            cr_expect_eq(value_of(name), 0, "%s (from %s) is listed", name,
                         stun_status_name((enum stun_status)s));
        }
    }
    cr_expect_eq(value_of("error_599"), -1, "a code nothing sends is not listed while zero");
}

Test(counters, an_unexpected_code_still_shows)
{
    memset(&c, 0, sizeof(c));
    counters_code(&c, 599);
    counters_code(&c, 700); /* outside ERROR-CODE's range: not counted */
    counters_code(&c, 299);
    print();
    cr_expect_eq(value_of("error_599"), 1);
    cr_expect_eq(value_of("error_700"), -1);
    cr_expect_eq(value_of("error_299"), -1);
}

Test(counters, sum_adds_codes)
{
    struct io_counters sum;
    memset(&sum, 0, sizeof(sum));
    memset(&c, 0, sizeof(c));
    counters_code(&c, 431);
    counters_add(&sum, &c);
    counters_add(&sum, &c);
    c = sum;
    print();
    cr_expect_eq(value_of("error_431"), 2);
}
