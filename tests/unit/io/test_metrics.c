/*
 * The metrics endpoint's text and requests: every counter SIGUSR1 prints
 * is found, with its value, in the exposition text through the one
 * mapping table (metrics_print_map), the text follows the format's rules,
 * and each request gets its route.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "io/counters.h"
#include "io/main/metrics.h"
#include "io/main/server.h"
#include "io/udp/worker.h"

enum { TEXT_MAX = 1 << 17, WORKERS = 3 };

static char scrape[TEXT_MAX], usr1[TEXT_MAX], map[TEXT_MAX];
static struct metrics_view view;
static uint64_t worker_rx[WORKERS] = {11, 22, 33}, worker_tx[WORKERS] = {7, 8, 9};

/* Distinct values everywhere, a code no status sends among them. */
static void fill(void)
{
    memset(&view, 0, sizeof(view));
    for (int i = 0; i < IO_EVENT_COUNT; i++)
        view.total.event[i] = 1000 + (uint64_t)i * 7;
    for (int i = 0; i < STUN_STATUS_COUNT; i++)
        view.total.status[i] = 5000 + (uint64_t)i * 13;
    view.total.code[400 - COUNTERS_CODE_MIN] = 41;
    view.total.code[431 - COUNTERS_CODE_MIN] = 43;
    view.total.code[699 - COUNTERS_CODE_MIN] = 3; /* sent by no status: shown once counted */
    view.workers = WORKERS;
    view.worker_rx = worker_rx;
    view.worker_tx = worker_tx;
    view.has_heap = true;
    view.heap_mallocs = 1234;
    view.has_credentials = true;
    view.credentials = 17;
}

static void render_all(void)
{
    FILE *f = fmemopen(scrape, sizeof(scrape) - 1, "w");
    metrics_render(f, &view);
    fclose(f);
    f = fmemopen(usr1, sizeof(usr1) - 1, "w");
    counters_print(f, "stats", &view.total);
    fclose(f);
    f = fmemopen(map, sizeof(map) - 1, "w");
    metrics_print_map(f);
    fclose(f);
}

/* The selector of usr1 name in the map ("N" standing for number n). */
static bool selector_of(const char *name, char *out, size_t cap)
{
    char line[512];
    const char *p = map;
    while (sscanf(p, "%511[^\n]", line) == 1) {
        p += strlen(line) + 1;
        char *sp = strrchr(line, ' ');
        *sp = '\0';
        const char *n = strchr(line, 'N');
        size_t digits = n != NULL ? strspn(name + (n - line), "0123456789") : 0;
        bool rule = n != NULL && digits > 0 && strncmp(line, name, (size_t)(n - line)) == 0 &&
                    strcmp(n + 1, name + (n - line) + digits) == 0;
        if (strcmp(line, name) == 0 || rule) {
            snprintf(out, cap, "%s", sp + 1);
            if (rule) { /* the number replaces "N" in the labels */
                char number[16];
                sscanf(name + (n - line), "%15[0-9]", number);
                char *at = strstr(out, "\"N\"");
                char rest[256];
                snprintf(rest, sizeof(rest), "%s", at + 3);
                snprintf(at, cap - (size_t)(at - out), "\"%s\"%s", number, rest);
            }
            return true;
        }
    }
    return false;
}

/* Whether every "k=v" pair of want (comma-separated) is in have. */
static bool labels_include(const char *have, const char *want)
{
    char pairs[256];
    snprintf(pairs, sizeof(pairs), "%s", want);
    for (char *save, *pair = strtok_r(pairs, ",", &save); pair; pair = strtok_r(NULL, ",", &save))
        if (strstr(have, pair) == NULL)
            return false;
    return true;
}

/* The sum of the scrape's series of selector "name{k="v",...}"; -1: none. */
static long long select_sum(const char *selector)
{
    char name[128], want[256] = "";
    sscanf(selector, "%127[^{]{%255[^}]}", name, want);
    long long sum = -1;
    char line[512];
    for (const char *p = scrape; sscanf(p, "%511[^\n]", line) == 1; p += strlen(line) + 1) {
        if (line[0] == '#')
            continue;
        size_t n = strcspn(line, "{ ");
        if (n != strlen(name) || strncmp(line, name, n) != 0)
            continue;
        const char *labels = line[n] == '{' ? line + n : "";
        if (!labels_include(labels, want))
            continue;
        sum = (sum < 0 ? 0 : sum) + strtoll(strrchr(line, ' ') + 1, NULL, 10);
    }
    return sum;
}

Test(metrics, every_sigusr1_counter_is_in_the_scrape_with_its_value)
{
    fill();
    render_all();
    char line[256];
    int checked = 0;
    for (const char *p = usr1; sscanf(p, "%255[^\n]", line) == 1; p += strlen(line) + 1) {
        char name[128];
        long long value;
        cr_assert_eq(sscanf(line, "stats %127s %lld", name, &value), 2, "%s", line);
        char selector[384];
        cr_assert(selector_of(name, selector, sizeof(selector)), "%s: not in the map:\n%s", name,
                  map);
        cr_expect_eq(select_sum(selector), value, "%s -> %s: %lld in the scrape, %lld in SIGUSR1",
                     name, selector, select_sum(selector), value);
        checked++;
    }
    cr_expect_geq(checked, IO_EVENT_COUNT + STUN_STATUS_COUNT + 9 + 3, "%d", checked);
    /* The lines print_counters adds: per worker, and the heap. */
    for (unsigned i = 0; i < WORKERS; i++) {
        char name[32], selector[384];
        snprintf(name, sizeof(name), "worker.%u rx", i);
        cr_assert(selector_of(name, selector, sizeof(selector)), "%s", name);
        cr_expect_eq(select_sum(selector), (long long)worker_rx[i], "%s", selector);
        snprintf(name, sizeof(name), "worker.%u tx", i);
        cr_assert(selector_of(name, selector, sizeof(selector)), "%s", name);
        cr_expect_eq(select_sum(selector), (long long)worker_tx[i], "%s", selector);
    }
    char selector[384];
    cr_assert(selector_of("heap_mallocs", selector, sizeof(selector)));
    cr_expect_eq(select_sum(selector), 1234);
}

Test(metrics, required_series_present)
{
    fill();
    render_all();
    static const char *const want[] = {
        "stunring_requests_total{transport=\"udp\"}",
        "stunring_requests_total{transport=\"tcp\"}",
        "stunring_requests_total{transport=\"tls\"}",
        "stunring_responses_total{class=\"error\",code=\"401\"}",
        "stunring_responses_total{class=\"success\",code=\"none\"}",
        "stunring_dropped_total{reason=\"short\"}",
        "stunring_kernel_drops_total",
        "stunring_tls_handshakes_total{result=\"completed\"}",
        "stunring_credentials",
        "stunring_workers",
        "stunring_build_info{version=",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        char needle[160];
        snprintf(needle, sizeof(needle), "\n%s", want[i]);
        cr_expect_not_null(strstr(scrape, needle), "%s missing", want[i]);
    }
    cr_expect_not_null(strstr(scrape, "\nstunring_credentials 17\n"));
    cr_expect_not_null(strstr(scrape, "\nstunring_workers 3\n"));
    cr_expect_not_null(strstr(scrape, "code=\"699\"} 3\n"), "a code counted is shown");
}

/* Each sample follows its own TYPE line; names are valid, counters end
 * in _total, and no series appears twice. */
Test(metrics, exposition_format_rules)
{
    fill();
    render_all();
    char line[512], typed[128] = "", seen[4096][160];
    int n_seen = 0;
    for (const char *p = scrape; sscanf(p, "%511[^\n]", line) == 1; p += strlen(line) + 1) {
        char name[128], type[32];
        if (sscanf(line, "# TYPE %127s %31s", name, type) == 2) {
            snprintf(typed, sizeof(typed), "%s", name);
            size_t len = strlen(name);
            if (strcmp(type, "counter") == 0)
                cr_expect(len > 6 && strcmp(name + len - 6, "_total") == 0, "%s", name);
            continue;
        }
        if (line[0] == '#')
            continue;
        size_t len = strcspn(line, "{ ");
        cr_expect(len == strlen(typed) && strncmp(line, typed, len) == 0,
                  "sample %s not under its TYPE (%s)", line, typed);
        for (size_t i = 0; i < len; i++)
            cr_expect(isalnum((unsigned char)line[i]) || line[i] == '_', "%s", line);
        size_t key = strcspn(line, " ");
        cr_assert_lt(n_seen, 4096);
        for (int i = 0; i < n_seen; i++)
            cr_expect(strncmp(seen[i], line, key) != 0 || seen[i][key] != '\0', "twice: %s", line);
        snprintf(seen[n_seen++], sizeof(seen[0]), "%.*s", (int)key, line);
    }
    cr_expect_gt(n_seen, 80, "%d series", n_seen);
}

static enum metrics_route route(const char *req) { return metrics_parse_request(req, strlen(req)); }

Test(metrics, request_routes)
{
    cr_expect_eq(route("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), METRICS_METRICS);
    cr_expect_eq(route("GET /metrics?name[]=a HTTP/1.0\r\n\r\n"), METRICS_METRICS);
    cr_expect_eq(route("GET /healthz HTTP/1.1\n\n"), METRICS_HEALTHZ);
    cr_expect_eq(route("GET / HTTP/1.1\r\n\r\n"), METRICS_NOT_FOUND);
    cr_expect_eq(route("GET /metricsx HTTP/1.1\r\n\r\n"), METRICS_NOT_FOUND);
    cr_expect_eq(route("POST /metrics HTTP/1.1\r\n\r\n"), METRICS_BAD_METHOD);
    cr_expect_eq(route("HEAD /healthz HTTP/1.1\r\n\r\n"), METRICS_BAD_METHOD);
    cr_expect_eq(route("GET /metrics HTTP/2.0\r\n\r\n"), METRICS_BAD_REQUEST);
    cr_expect_eq(route("GET metrics HTTP/1.1\r\n\r\n"), METRICS_BAD_REQUEST);
    cr_expect_eq(route("GET /metrics\r\n\r\n"), METRICS_BAD_REQUEST);
    cr_expect_eq(route("\x16\x03\x01 garbage\r\n\r\n"), METRICS_BAD_REQUEST);
    cr_expect_eq(route(" /metrics HTTP/1.1\r\n\r\n"), METRICS_BAD_REQUEST);
    cr_expect_eq(route("GET /metrics HTTP/1.1\r\nHost: x\r\n"), METRICS_INCOMPLETE);
    cr_expect_eq(route(""), METRICS_INCOMPLETE);
    static char big[METRICS_REQUEST_MAX];
    memset(big, 'a', sizeof(big));
    cr_expect_eq(metrics_parse_request(big, sizeof(big)), METRICS_TOO_LARGE);
    cr_expect_eq(metrics_parse_request(big, sizeof(big) - 1), METRICS_INCOMPLETE);
}

Test(metrics, healthz_503_while_draining_stopping_or_a_worker_failed)
{
    static struct server_shared shared;
    static struct worker workers[2];
    struct metrics_sources src = {.shared = &shared, .workers = workers, .n_workers = 2};
    cr_expect(metrics_healthy(&src), "every worker armed: 200");
    shared.draining = 1;
    cr_expect(!metrics_healthy(&src), "draining: 503");
    shared.draining = 0;
    shared.stop = 1;
    cr_expect(!metrics_healthy(&src), "stopping: 503");
    shared.stop = 0;
    workers[1].failed = 1;
    cr_expect(!metrics_healthy(&src), "a worker failed: 503");
    workers[1].failed = 0;
    cr_expect(metrics_healthy(&src));
}
