/* The Prometheus and health endpoint: the counters' names, and the HTTP thread. */
#include "io/main/metrics.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "io/addr.h"
#include "io/clock.h"
#include "io/credentials.h"
#include "io/front/tcp.h"
#include "io/log.h"
#include "io/main/heap.h"
#include "io/main/server.h"
#include "io/udp/worker.h"

#ifndef STUNRING_VERSION
#define STUNRING_VERSION "0.0.0"
#endif

/* ---- the metric families ---- */

enum family {
    FAM_REQUESTS,
    FAM_RESPONSES,
    FAM_ANSWERS,
    FAM_DROPPED,
    FAM_KERNEL_DROPS,
    FAM_TRUNCATED,
    FAM_RX_ERRORS,
    FAM_UDP_SENDS,
    FAM_UDP_SYNC_SENDS,
    FAM_URING_REARMS,
    FAM_URING_NO_BUFFERS,
    FAM_URING_CQ_OVERFLOWS,
    FAM_URING_ENTER_ERRORS,
    FAM_STREAM_CONNECTIONS,
    FAM_STREAM_CLOSED,
    FAM_STREAM_TOO_LONG,
    FAM_TLS_HANDSHAKES,
    FAM_RELOADS,
    FAM_OTHER_EVENTS,
    FAM_HEAP_MALLOCS,
    FAM_WORKER_RX,
    FAM_WORKER_TX,
    FAM_COUNT
};

static const struct {
    const char *name, *help;
} families[FAM_COUNT] = {
    [FAM_REQUESTS] = {"stunring_requests_total",
                      "STUN messages received: UDP datagrams, TCP and TLS messages."},
    [FAM_RESPONSES] = {"stunring_responses_total",
                       "Responses: successes (code none), errors by the ERROR-CODE sent."},
    [FAM_ANSWERS] = {"stunring_answers_total", "Requests answered, by the handler's reason."},
    [FAM_DROPPED] = {"stunring_dropped_total", "Messages dropped unanswered, by reason."},
    [FAM_KERNEL_DROPS] = {"stunring_kernel_drops_total",
                          "Datagrams the kernel dropped, socket queue full (SO_RXQ_OVFL)."},
    [FAM_TRUNCATED] = {"stunring_truncated_datagrams_total",
                       "Datagrams larger than a receive buffer: dropped."},
    [FAM_RX_ERRORS] = {"stunring_receive_errors_total", "Receive errors other than no data."},
    [FAM_UDP_SENDS] = {"stunring_udp_sends_total", "UDP answers handed to the kernel, by result."},
    [FAM_UDP_SYNC_SENDS] = {"stunring_udp_sync_sends_total",
                            "Of the UDP answers sent, those sent with a plain sendmsg."},
    [FAM_URING_REARMS] = {"stunring_uring_rearms_total",
                          "Multishot receives re-armed after ending."},
    [FAM_URING_NO_BUFFERS] = {"stunring_uring_no_buffers_total",
                              "Receives that found the buffer ring empty."},
    [FAM_URING_CQ_OVERFLOWS] = {"stunring_uring_cq_overflows_total",
                                "Completions the kernel dropped."},
    [FAM_URING_ENTER_ERRORS] = {"stunring_uring_enter_errors_total",
                                "io_uring_enter failures survived and retried."},
    [FAM_STREAM_CONNECTIONS] = {"stunring_stream_connections_total",
                                "TCP and TLS connections, accepted or refused by which cap."},
    [FAM_STREAM_CLOSED] = {"stunring_stream_closed_total",
                           "Stream connections the server closed, by reason."},
    [FAM_STREAM_TOO_LONG] = {"stunring_stream_too_long_total",
                             "Stream messages over 2048 bytes: discarded, requests answered 400."},
    [FAM_TLS_HANDSHAKES] = {"stunring_tls_handshakes_total", "TLS handshakes, by result."},
    [FAM_RELOADS] = {"stunring_reloads_total", "SIGHUP reloads of each file, by result."},
    [FAM_OTHER_EVENTS] = {"stunring_other_events_total", "Events with no metric of their own."},
    [FAM_HEAP_MALLOCS] = {"stunring_heap_mallocs_total", "jemalloc's allocation count."},
    [FAM_WORKER_RX] = {"stunring_worker_datagrams_received_total",
                       "Datagrams received, by worker (--metrics-per-worker)."},
    [FAM_WORKER_TX] = {"stunring_worker_answers_sent_total",
                       "UDP answers handed to the kernel, by worker (--metrics-per-worker)."},
};

/* ---- the SIGUSR1 counters' places ---- */

enum source {
    SRC_EVENT,   /* one event, index */
    SRC_DROPS,   /* rule: each drop status, reason = its name past "drop_" */
    SRC_ANSWERS, /* rule: each answered status, its class and reason */
    SRC_CODES,   /* rule: each ERROR-CODE SIGUSR1 prints, "error_N" */
    SRC_SUM,     /* a SIGUSR1 total: the sum of the family's series with these labels */
    SRC_HEAP,
    SRC_WORKER_RX, /* rule: "worker.N rx", with --metrics-per-worker */
    SRC_WORKER_TX,
};

/*
 * The one table: where each counter SIGUSR1 prints is in /metrics. An
 * event with no row lands in stunring_other_events_total{event="NAME"}.
 */
static const struct usr1_place {
    const char *usr1; /* the SIGUSR1 name, or a rule's form */
    enum source source;
    int event;
    enum family family;
    const char *labels;
} places[] = {
    {"rx", SRC_EVENT, IO_RX, FAM_REQUESTS, "transport=\"udp\""},
    {"tcp_messages", SRC_EVENT, IO_TCP_MESSAGES, FAM_REQUESTS, "transport=\"tcp\""},
    {"tls_messages", SRC_EVENT, IO_TLS_MESSAGES, FAM_REQUESTS, "transport=\"tls\""},
    {"tx", SRC_EVENT, IO_TX, FAM_UDP_SENDS, "result=\"sent\""},
    {"tx_failed", SRC_EVENT, IO_TX_FAILED, FAM_UDP_SENDS, "result=\"failed\""},
    {"tx_sync", SRC_EVENT, IO_TX_SYNC, FAM_UDP_SYNC_SENDS, ""},
    {"rx_truncated", SRC_EVENT, IO_RX_TRUNCATED, FAM_TRUNCATED, ""},
    {"rx_errors", SRC_EVENT, IO_RX_ERRORS, FAM_RX_ERRORS, ""},
    {"rx_kernel_drops", SRC_EVENT, IO_RX_KERNEL_DROPS, FAM_KERNEL_DROPS, ""},
    {"ring_rearm", SRC_EVENT, IO_RING_REARM, FAM_URING_REARMS, ""},
    {"ring_nobufs", SRC_EVENT, IO_RING_NOBUFS, FAM_URING_NO_BUFFERS, ""},
    {"ring_cq_dropped", SRC_EVENT, IO_RING_CQ_DROPPED, FAM_URING_CQ_OVERFLOWS, ""},
    {"ring_enter_errors", SRC_EVENT, IO_RING_ENTER_ERRORS, FAM_URING_ENTER_ERRORS, ""},
    {"tcp_accepted", SRC_EVENT, IO_TCP_ACCEPTED, FAM_STREAM_CONNECTIONS,
     "transport=\"tcp\",result=\"accepted\""},
    {"tcp_refused", SRC_EVENT, IO_TCP_REFUSED, FAM_STREAM_CONNECTIONS,
     "transport=\"tcp\",result=\"refused_max_conns\""},
    {"tcp_refused_client", SRC_EVENT, IO_TCP_REFUSED_CLIENT, FAM_STREAM_CONNECTIONS,
     "transport=\"tcp\",result=\"refused_per_client\""},
    {"tls_accepted", SRC_EVENT, IO_TLS_ACCEPTED, FAM_STREAM_CONNECTIONS,
     "transport=\"tls\",result=\"accepted\""},
    {"tls_refused", SRC_EVENT, IO_TLS_REFUSED, FAM_STREAM_CONNECTIONS,
     "transport=\"tls\",result=\"refused_max_conns\""},
    {"tls_refused_client", SRC_EVENT, IO_TLS_REFUSED_CLIENT, FAM_STREAM_CONNECTIONS,
     "transport=\"tls\",result=\"refused_per_client\""},
    {"tls_refused_handshake_rate", SRC_EVENT, IO_TLS_REFUSED_HANDSHAKE_RATE, FAM_STREAM_CONNECTIONS,
     "transport=\"tls\",result=\"refused_handshake_rate\""},
    {"tcp_idle_closed", SRC_EVENT, IO_TCP_IDLE_CLOSED, FAM_STREAM_CLOSED,
     "transport=\"tcp\",reason=\"idle\""},
    {"tcp_garbage_closed", SRC_EVENT, IO_TCP_GARBAGE_CLOSED, FAM_STREAM_CLOSED,
     "transport=\"tcp\",reason=\"not_stun\""},
    {"tls_idle_closed", SRC_EVENT, IO_TLS_IDLE_CLOSED, FAM_STREAM_CLOSED,
     "transport=\"tls\",reason=\"idle\""},
    {"tls_errors", SRC_EVENT, IO_TLS_ERRORS, FAM_STREAM_CLOSED,
     "transport=\"tls\",reason=\"tls_error\""},
    {"stream_too_long", SRC_EVENT, IO_STREAM_TOO_LONG, FAM_STREAM_TOO_LONG, ""},
    {"tls_handshakes", SRC_EVENT, IO_TLS_HANDSHAKES, FAM_TLS_HANDSHAKES, "result=\"completed\""},
    {"tls_handshake_failed", SRC_EVENT, IO_TLS_HANDSHAKE_FAILED, FAM_TLS_HANDSHAKES,
     "result=\"failed\""},
    {"tls_handshake_timeout", SRC_EVENT, IO_TLS_HANDSHAKE_TIMEOUT, FAM_TLS_HANDSHAKES,
     "result=\"timeout\""},
    {"tls_reloads", SRC_EVENT, IO_TLS_RELOADS, FAM_RELOADS,
     "file=\"certificate\",result=\"reloaded\""},
    {"tls_reload_failures", SRC_EVENT, IO_TLS_RELOAD_FAILURES, FAM_RELOADS,
     "file=\"certificate\",result=\"failed\""},
    {"users_reload_failures", SRC_EVENT, IO_USERS_RELOAD_FAILURES, FAM_RELOADS,
     "file=\"users\",result=\"failed\""},
    {"secret_key_reload_failures", SRC_EVENT, IO_SECRET_KEY_RELOAD_FAILURES, FAM_RELOADS,
     "file=\"secret_key\",result=\"failed\""},
    {"drop_rate_limited", SRC_EVENT, IO_DROP_RATE_LIMITED, FAM_DROPPED, "reason=\"rate_limited\""},
    {"drop_NAME", SRC_DROPS, 0, FAM_DROPPED, "reason=\"NAME\""},
    {"NAME", SRC_ANSWERS, 0, FAM_ANSWERS, "class=\"success|error\",reason=\"NAME\""},
    {"error_N", SRC_CODES, 0, FAM_RESPONSES, "class=\"error\",code=\"N\""},
    {"answered_success", SRC_SUM, 0, FAM_ANSWERS, "class=\"success\""},
    {"answered_error", SRC_SUM, 0, FAM_ANSWERS, "class=\"error\""},
    {"dropped", SRC_SUM, 0, FAM_DROPPED, ""},
    {"heap_mallocs", SRC_HEAP, 0, FAM_HEAP_MALLOCS, ""},
    {"worker.N rx", SRC_WORKER_RX, 0, FAM_WORKER_RX, "worker=\"N\""},
    {"worker.N tx", SRC_WORKER_TX, 0, FAM_WORKER_TX, "worker=\"N\""},
};

enum { PLACE_COUNT = sizeof(places) / sizeof(places[0]) };

/* places' row of each event (NULL: none), built once. */
static const struct usr1_place *place_of_event[IO_EVENT_COUNT];
static pthread_once_t places_indexed = PTHREAD_ONCE_INIT;

static void index_places(void)
{
    for (int i = PLACE_COUNT - 1; i >= 0; i--)
        if (places[i].source == SRC_EVENT)
            place_of_event[places[i].event] = &places[i];
}

static const struct usr1_place *event_place(int event)
{
    pthread_once(&places_indexed, index_places);
    return place_of_event[event];
}

/* The status name past its "drop_" or "reject_" prefix. */
static const char *status_reason(enum stun_status s)
{
    const char *name = stun_status_name(s);
    if (strncmp(name, "drop_", 5) == 0)
        return name + 5;
    if (strncmp(name, "reject_", 7) == 0)
        return name + 7;
    return name;
}

/* sendable[code - 300]: some status is answered with code, in either style
 * (the codes SIGUSR1 always lists). */
static void sendable_codes(bool sendable[COUNTERS_CODE_SLOTS])
{
    memset(sendable, 0, COUNTERS_CODE_SLOTS * sizeof(bool));
    for (int i = 0; i < STUN_STATUS_COUNT; i++)
        for (int classic = 0; classic < 2; classic++) {
            unsigned code = (unsigned)stun_status_error_code((enum stun_status)i, classic);
            if (code - COUNTERS_CODE_MIN < COUNTERS_CODE_SLOTS)
                sendable[code - COUNTERS_CODE_MIN] = true;
        }
}

static void head(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(FILE *out, const char *name, const char *labels, uint64_t value)
{
    if (labels[0] == '\0')
        fprintf(out, "%s %llu\n", name, (unsigned long long)value);
    else
        fprintf(out, "%s{%s} %llu\n", name, labels, (unsigned long long)value);
}

/* The samples of one event row, or of the events no row names. */
static void render_events(FILE *out, enum family f, const struct metrics_view *v)
{
    for (int e = 0; e < IO_EVENT_COUNT; e++) {
        const struct usr1_place *p = event_place(e);
        if (p != NULL && p->family == f)
            sample(out, families[f].name, p->labels, v->total.event[e]);
        if (p == NULL && f == FAM_OTHER_EVENTS) {
            char labels[96];
            snprintf(labels, sizeof(labels), "event=\"%s\"", counters_event_name(e));
            sample(out, families[f].name, labels, v->total.event[e]);
        }
    }
}

/* The labels of status s under the rule row src (SRC_DROPS or
 * SRC_ANSWERS) into buf; false when s is not that rule's. */
static bool status_labels(enum stun_status s, enum source src, char *buf, size_t cap)
{
    if (src == SRC_DROPS && stun_status_is_drop(s))
        snprintf(buf, cap, "reason=\"%s\"", status_reason(s));
    else if (src == SRC_ANSWERS && !stun_status_is_drop(s))
        snprintf(buf, cap, "class=\"%s\",reason=\"%s\"",
                 stun_status_is_success(s) ? "success" : "error", status_reason(s));
    else
        return false;
    return true;
}

static void render_statuses(FILE *out, enum family f, const struct metrics_view *v)
{
    for (int i = 0; i < STUN_STATUS_COUNT; i++) {
        char labels[96];
        if (status_labels((enum stun_status)i, f == FAM_DROPPED ? SRC_DROPS : SRC_ANSWERS, labels,
                          sizeof(labels)))
            sample(out, families[f].name, labels, v->total.status[i]);
    }
}

static void render_responses(FILE *out, const struct metrics_view *v)
{
    uint64_t successes = 0;
    for (int i = 0; i < STUN_STATUS_COUNT; i++)
        if (stun_status_is_success((enum stun_status)i))
            successes += v->total.status[i];
    sample(out, families[FAM_RESPONSES].name, "class=\"success\",code=\"none\"", successes);
    bool sendable[COUNTERS_CODE_SLOTS];
    sendable_codes(sendable);
    for (int i = 0; i < COUNTERS_CODE_SLOTS; i++) {
        int code = COUNTERS_CODE_MIN + i;
        if (v->total.code[i] == 0 && !sendable[i])
            continue;
        char labels[64];
        snprintf(labels, sizeof(labels), "class=\"error\",code=\"%d\"", code);
        sample(out, families[FAM_RESPONSES].name, labels, v->total.code[i]);
    }
}

static void render_per_worker(FILE *out, enum family f, const uint64_t *values, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        char labels[32];
        snprintf(labels, sizeof(labels), "worker=\"%u\"", i);
        sample(out, families[f].name, labels, values[i]);
    }
}

static bool family_present(enum family f, const struct metrics_view *v)
{
    if (f == FAM_HEAP_MALLOCS)
        return v->has_heap;
    if (f == FAM_WORKER_RX || f == FAM_WORKER_TX)
        return v->worker_rx != NULL;
    if (f == FAM_OTHER_EVENTS)
        for (int e = 0; e < IO_EVENT_COUNT; e++)
            if (event_place(e) == NULL)
                return true;
    return f != FAM_OTHER_EVENTS;
}

static void render_family(FILE *out, enum family f, const struct metrics_view *v)
{
    if (!family_present(f, v))
        return;
    head(out, families[f].name, "counter", families[f].help);
    if (f == FAM_DROPPED || f == FAM_ANSWERS) {
        render_statuses(out, f, v);
        render_events(out, f, v); /* what io/ drops beside the handler: the reflection cap */
    } else if (f == FAM_RESPONSES)
        render_responses(out, v);
    else if (f == FAM_HEAP_MALLOCS)
        sample(out, families[f].name, "", v->heap_mallocs);
    else if (f == FAM_WORKER_RX)
        render_per_worker(out, f, v->worker_rx, v->workers);
    else if (f == FAM_WORKER_TX)
        render_per_worker(out, f, v->worker_tx, v->workers);
    else
        render_events(out, f, v);
}

static const char *const route_names[METRICS_ROUTE_COUNT] = {
    [METRICS_METRICS] = "metrics",         [METRICS_HEALTHZ] = "healthz",
    [METRICS_NOT_FOUND] = "not_found",     [METRICS_BAD_METHOD] = "bad_method",
    [METRICS_BAD_REQUEST] = "bad_request", [METRICS_TOO_LARGE] = "too_large",
    [METRICS_INCOMPLETE] = "incomplete"};

/* The endpoint's own: answers by route, connections closed unanswered. */
static void render_http(FILE *out, const uint64_t *http)
{
    head(out, "stunring_metrics_http_requests_total", "counter",
         "Requests to this endpoint, by route (incomplete: closed at the deadline, evicted or "
         "cut off).");
    for (int r = 0; r < METRICS_ROUTE_COUNT; r++) {
        char labels[64];
        snprintf(labels, sizeof(labels), "route=\"%s\"", route_names[r]);
        sample(out, "stunring_metrics_http_requests_total", labels, http[r]);
    }
}

static void render_gauges(FILE *out, const struct metrics_view *v)
{
    if (v->has_credentials) {
        head(out, "stunring_credentials", "gauge",
             "Shared Secret credentials in the table (live, and expired unreclaimed).");
        sample(out, "stunring_credentials", "", v->credentials);
    }
    head(out, "stunring_workers", "gauge", "UDP worker threads.");
    sample(out, "stunring_workers", "", v->workers);
    head(out, "stunring_draining", "gauge", "1 while the server drains (/healthz 503).");
    sample(out, "stunring_draining", "", v->draining);
    head(out, "stunring_build_info", "gauge", "The build: its version, value 1.");
    sample(out, "stunring_build_info", "version=\"" STUNRING_VERSION "\"", 1);
}

static void render_process(FILE *out, const struct metrics_process *p)
{
    head(out, "process_cpu_seconds_total", "counter", "User and system CPU time, in seconds.");
    fprintf(out, "process_cpu_seconds_total %.6f\n", p->cpu_seconds);
    head(out, "process_resident_memory_bytes", "gauge", "Resident memory size, in bytes.");
    fprintf(out, "process_resident_memory_bytes %llu\n", (unsigned long long)p->resident_bytes);
    head(out, "process_open_fds", "gauge", "Open file descriptors.");
    fprintf(out, "process_open_fds %u\n", p->open_fds);
    head(out, "process_max_fds", "gauge", "The limit of open file descriptors.");
    fprintf(out, "process_max_fds %llu\n", (unsigned long long)p->max_fds);
    head(out, "process_start_time_seconds", "gauge",
         "Start time of the process since the epoch, in seconds.");
    fprintf(out, "process_start_time_seconds %.2f\n", p->start_time_seconds);
}

void metrics_render(FILE *out, const struct metrics_view *v)
{
    for (int f = 0; f < FAM_COUNT; f++)
        render_family(out, (enum family)f, v);
    render_gauges(out, v);
    if (v->http != NULL)
        render_http(out, v->http);
    render_process(out, &v->process);
}

/* The rows in table order, a rule row as one line per status; then the
 * events no row names. */
void metrics_print_map(FILE *out)
{
    for (int i = 0; i < PLACE_COUNT; i++) {
        const struct usr1_place *p = &places[i];
        if (p->source != SRC_DROPS && p->source != SRC_ANSWERS) {
            fprintf(out, "%s %s{%s}\n", p->usr1, families[p->family].name, p->labels);
            continue;
        }
        for (int s = 0; s < STUN_STATUS_COUNT; s++) {
            char labels[96];
            if (status_labels((enum stun_status)s, p->source, labels, sizeof(labels)))
                fprintf(out, "%s %s{%s}\n", stun_status_name((enum stun_status)s),
                        families[p->family].name, labels);
        }
    }
    for (int e = 0; e < IO_EVENT_COUNT; e++)
        if (event_place(e) == NULL)
            fprintf(out, "%s %s{event=\"%s\"}\n", counters_event_name(e),
                    families[FAM_OTHER_EVENTS].name, counters_event_name(e));
}

/* ---- a request ---- */

/* The end of the headers ("\r\n\r\n" or "\n\n"), or NULL. */
static const char *headers_end(const char *req, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (req[i] == '\n' && req[i + 1] == '\n')
            return req + i;
        if (i + 3 < len && memcmp(req + i, "\r\n\r\n", 4) == 0)
            return req + i;
    }
    return NULL;
}

/* "METHOD SP TARGET SP HTTP/1.x" of the first line, of line_len bytes. */
static enum metrics_route route_of(const char *line, size_t line_len)
{
    const char *sp1 = memchr(line, ' ', line_len);
    if (sp1 == NULL || sp1 == line)
        return METRICS_BAD_REQUEST;
    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', line_len - (size_t)(target - line));
    if (sp2 == NULL || sp2 == target || *target != '/')
        return METRICS_BAD_REQUEST;
    size_t version_len = line_len - (size_t)(sp2 + 1 - line);
    if (version_len != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || (sp2[8] != '0' && sp2[8] != '1'))
        return METRICS_BAD_REQUEST;
    size_t path_len = (size_t)(sp2 - target);
    const char *query = memchr(target, '?', path_len);
    if (query != NULL)
        path_len = (size_t)(query - target);
    if (sp1 - line != 3 || memcmp(line, "GET", 3) != 0)
        return METRICS_BAD_METHOD;
    if (path_len == 8 && memcmp(target, "/metrics", 8) == 0)
        return METRICS_METRICS;
    if (path_len == 8 && memcmp(target, "/healthz", 8) == 0)
        return METRICS_HEALTHZ;
    return METRICS_NOT_FOUND;
}

enum metrics_route metrics_parse_request(const char *req, size_t len)
{
    if (headers_end(req, len) == NULL)
        return len >= METRICS_REQUEST_MAX ? METRICS_TOO_LARGE : METRICS_INCOMPLETE;
    const char *nl = memchr(req, '\n', len);
    size_t line_len = (size_t)(nl - req);
    if (line_len > 0 && req[line_len - 1] == '\r')
        line_len--;
    for (size_t i = 0; i < line_len; i++)
        if ((unsigned char)req[i] < 0x20 || (unsigned char)req[i] == 0x7f)
            return METRICS_BAD_REQUEST;
    return route_of(req, line_len);
}

/* ---- reading what a scrape shows ---- */

static double process_start_time(void)
{
    char buf[1024];
    unsigned long long start_ticks = 0, btime = 0;
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* past the command name, which may hold spaces */
    /* Fields after ")": state is field 3, starttime field 22. */
    if (p == NULL || sscanf(p + 2,
                            "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
                            "%*d %*d %*d %*d %llu",
                            &start_ticks) != 1)
        return 0;
    f = fopen("/proc/stat", "r");
    while (f != NULL && fgets(buf, sizeof(buf), f) != NULL)
        if (sscanf(buf, "btime %llu", &btime) == 1)
            break;
    if (f)
        fclose(f);
    return (double)btime + (double)start_ticks / (double)sysconf(_SC_CLK_TCK);
}

static unsigned count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    unsigned n = 0;
    if (d == NULL)
        return 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n > 0 ? n - 1 : 0; /* not the directory's own */
}

static void read_process(struct metrics_process *p)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        p->cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL && fscanf(f, "%*s %lu", &pages) == 1)
        p->resident_bytes = (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
    if (f)
        fclose(f);
    p->open_fds = count_open_fds();
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        p->max_fds = rl.rlim_cur;
}

/* ---- the thread ---- */

struct conn {
    int fd; /* -1: free */
    uint64_t opened_ms;
    size_t in_len;
    char in[METRICS_REQUEST_MAX];
    char *out; /* the whole answer, malloc'ed; NULL until the request is read */
    size_t out_len, out_sent;
    bool lingering; /* all sent, write side shut: reading to the peer's EOF */
};

struct metrics {
    struct metrics_sources src;
    bool per_worker;
    int listen_fd, epoll_fd, wake_fd;
    int stop;
    pthread_t thread;
    double start_time;
    uint64_t http[METRICS_ROUTE_COUNT];
    struct conn conns[METRICS_MAX_CONNS];
};

enum { TAG_LISTEN = 0xffffffffu, TAG_WAKE = 0xfffffffeu };

bool metrics_healthy(const struct metrics_sources *src)
{
    const struct server_shared *sh = src->shared;
    if (__atomic_load_n(&sh->draining, __ATOMIC_ACQUIRE) ||
        __atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE))
        return false;
    for (unsigned i = 0; i < src->n_workers; i++)
        if (__atomic_load_n(&src->workers[i].failed, __ATOMIC_ACQUIRE))
            return false;
    return true;
}

/* Everything a scrape shows, read now; returns the per-worker arrays to free. */
static uint64_t *take_view(struct metrics *m, struct metrics_view *v)
{
    memset(v, 0, sizeof(*v));
    const struct metrics_sources *s = &m->src;
    uint64_t *rx = m->per_worker ? calloc(2 * (size_t)s->n_workers, sizeof(uint64_t)) : NULL;
    for (unsigned i = 0; i < s->n_workers; i++) {
        const struct io_counters *c = &s->workers[i].counters;
        counters_add(&v->total, c);
        if (rx != NULL) {
            rx[i] = __atomic_load_n(&c->event[IO_RX], __ATOMIC_RELAXED);
            rx[s->n_workers + i] = __atomic_load_n(&c->event[IO_TX], __ATOMIC_RELAXED);
        }
    }
    v->worker_rx = rx;
    v->worker_tx = rx != NULL ? rx + s->n_workers : NULL;
    if (s->front != NULL)
        tcp_front_counters(s->front, &v->total);
    counters_add(&v->total, s->main_only);
    v->workers = s->n_workers;
    v->has_credentials = s->shared->creds != NULL;
    if (v->has_credentials)
        v->credentials = credentials_count(s->shared->creds);
    v->draining = __atomic_load_n(&s->shared->draining, __ATOMIC_ACQUIRE) != 0;
    v->has_heap = heap_mallocs(&v->heap_mallocs);
    read_process(&v->process);
    v->process.start_time_seconds = m->start_time;
    v->http = m->http;
    return rx;
}

/* status line, headers, body: one malloc'ed answer. */
static void set_answer(struct conn *c, const char *status, const char *type, const char *body,
                       size_t body_len, const char *extra)
{
    char header[256];
    int n = snprintf(header, sizeof(header),
                     "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                     "Connection: close\r\n\r\n",
                     status, type, body_len, extra);
    c->out = malloc((size_t)n + body_len);
    if (c->out == NULL)
        return;
    memcpy(c->out, header, (size_t)n);
    memcpy(c->out + n, body, body_len);
    c->out_len = (size_t)n + body_len;
    c->out_sent = 0;
}

static void answer_metrics(struct metrics *m, struct conn *c)
{
    char *body = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&body, &len);
    if (out == NULL)
        return;
    struct metrics_view v;
    uint64_t *per_worker = take_view(m, &v);
    metrics_render(out, &v);
    fclose(out);
    free(per_worker);
    set_answer(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body, len, "");
    free(body);
}

static void answer(struct metrics *m, struct conn *c, enum metrics_route r)
{
    static const char text[] = "text/plain; charset=utf-8";
    m->http[r]++;
    switch (r) {
    case METRICS_METRICS:
        answer_metrics(m, c);
        break;
    case METRICS_HEALTHZ:
        if (metrics_healthy(&m->src))
            set_answer(c, "200 OK", text, "ok\n", 3, "");
        else
            set_answer(c, "503 Service Unavailable", text, "unavailable\n", 12, "");
        break;
    case METRICS_NOT_FOUND:
        set_answer(c, "404 Not Found", text, "not found\n", 10, "");
        break;
    case METRICS_BAD_METHOD:
        set_answer(c, "405 Method Not Allowed", text, "GET only\n", 9, "Allow: GET\r\n");
        break;
    case METRICS_TOO_LARGE:
        set_answer(c, "431 Request Header Fields Too Large", text, "too large\n", 10, "");
        break;
    default:
        set_answer(c, "400 Bad Request", text, "bad request\n", 12, "");
        break;
    }
}

static void close_conn(struct metrics *m, struct conn *c, bool unanswered)
{
    if (unanswered)
        m->http[METRICS_INCOMPLETE]++;
    close(c->fd); /* leaves the epoll set with it */
    free(c->out);
    c->fd = -1;
    c->out = NULL;
    c->lingering = false;
    c->in_len = c->out_len = c->out_sent = 0;
}

/* Discards what the peer still sends until its EOF (or the deadline): a
 * close with unread bytes would reset the connection, and the answer with it. */
static void linger(struct metrics *m, struct conn *c)
{
    char sink[512];
    for (int reads = 0; reads < 8; reads++) {
        ssize_t n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n <= 0)
            break;
    }
    close_conn(m, c, false);
}

/* Writes what the socket takes; once all is out, shuts the write side. */
static void flush_out(struct metrics *m, struct conn *c)
{
    while (c->out_sent < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0)
            break;
        c->out_sent += (size_t)n;
    }
    if (c->out_sent < c->out_len || shutdown(c->fd, SHUT_WR) < 0) {
        close_conn(m, c, c->out_sent < c->out_len);
        return;
    }
    c->lingering = true;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)(c - m->conns)};
    epoll_ctl(m->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
    linger(m, c);
}

static void on_readable(struct metrics *m, struct conn *c)
{
    for (int reads = 0; reads < 4; reads++) {
        ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n <= 0) {
            close_conn(m, c, true);
            return;
        }
        c->in_len += (size_t)n;
        enum metrics_route r = metrics_parse_request(c->in, c->in_len);
        if (r == METRICS_INCOMPLETE)
            continue;
        answer(m, c, r);
        if (c->out == NULL) { /* out of memory */
            close_conn(m, c, false);
            return;
        }
        struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)(c - m->conns)};
        epoll_ctl(m->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
        flush_out(m, c);
        return;
    }
}

/* A free slot, or the oldest connection's, closed. */
static struct conn *slot_for_new(struct metrics *m)
{
    struct conn *oldest = &m->conns[0];
    for (int i = 0; i < METRICS_MAX_CONNS; i++) {
        if (m->conns[i].fd < 0)
            return &m->conns[i];
        if (m->conns[i].opened_ms < oldest->opened_ms)
            oldest = &m->conns[i];
    }
    close_conn(m, oldest, true);
    return oldest;
}

static void accept_all(struct metrics *m, uint64_t now_ms)
{
    for (int i = 0; i < 2 * METRICS_MAX_CONNS; i++) {
        int fd = accept4(m->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct conn *c = slot_for_new(m);
        c->fd = fd;
        c->opened_ms = now_ms;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)(c - m->conns)};
        if (epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
            close_conn(m, c, true);
    }
}

/* Closes connections past their deadline; ms until the next one (at most 1000). */
static int expire(struct metrics *m, uint64_t now_ms)
{
    uint64_t next = now_ms + 1000;
    for (int i = 0; i < METRICS_MAX_CONNS; i++) {
        struct conn *c = &m->conns[i];
        if (c->fd < 0)
            continue;
        uint64_t deadline = c->opened_ms + METRICS_DEADLINE_MS;
        if (deadline <= now_ms)
            close_conn(m, c, c->out == NULL || c->out_sent < c->out_len);
        else if (deadline < next)
            next = deadline;
    }
    return (int)(next - now_ms);
}

static void *metrics_main(void *arg)
{
    struct metrics *m = arg;
    int timeout = 1000;
    while (!__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE)) {
        struct epoll_event evs[METRICS_MAX_CONNS + 2];
        int n = epoll_wait(m->epoll_fd, evs, METRICS_MAX_CONNS + 2, timeout);
        uint64_t now_ms = monotonic_ms();
        for (int i = 0; i < n; i++) {
            uint32_t tag = evs[i].data.u32;
            if (tag == TAG_LISTEN)
                accept_all(m, now_ms);
            else if (tag < METRICS_MAX_CONNS && m->conns[tag].fd >= 0) {
                struct conn *c = &m->conns[tag];
                if (c->lingering)
                    linger(m, c);
                else if (c->out != NULL)
                    flush_out(m, c);
                else
                    on_readable(m, c);
            }
        }
        timeout = expire(m, monotonic_ms());
    }
    return NULL;
}

static int open_listener(const struct sockaddr_storage *ss, int *out)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)ss, addr_len(ss)) < 0 ||
        listen(fd, METRICS_MAX_CONNS) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    *out = fd;
    return 0;
}

static int watch(int epoll_fd, int fd, uint32_t tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};
    return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void free_metrics(struct metrics *m)
{
    for (int i = 0; i < METRICS_MAX_CONNS; i++)
        if (m->conns[i].fd >= 0)
            close_conn(m, &m->conns[i], false);
    if (m->listen_fd >= 0)
        close(m->listen_fd);
    if (m->epoll_fd >= 0)
        close(m->epoll_fd);
    if (m->wake_fd >= 0)
        close(m->wake_fd);
    free(m);
}

int metrics_start(const void *addr, bool per_worker, const struct metrics_sources *src,
                  struct metrics **out)
{
    const struct sockaddr_storage *ss = addr;
    struct metrics *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return -ENOMEM;
    m->src = *src;
    m->per_worker = per_worker;
    m->listen_fd = m->wake_fd = -1;
    for (int i = 0; i < METRICS_MAX_CONNS; i++)
        m->conns[i].fd = -1;
    m->start_time = process_start_time();
    m->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int err = m->epoll_fd < 0 || m->wake_fd < 0 ? -errno : open_listener(ss, &m->listen_fd);
    char text[ADDR_TEXT_MAX];
    if (err != 0)
        log_msg(LOG_ERROR, "--metrics: cannot listen on tcp %s: %s", addr_format(ss, text),
                strerror(-err));
    if (err == 0)
        err = watch(m->epoll_fd, m->listen_fd, TAG_LISTEN);
    if (err == 0)
        err = watch(m->epoll_fd, m->wake_fd, TAG_WAKE);
    if (err == 0)
        err = -pthread_create(&m->thread, NULL, metrics_main, m);
    if (err != 0) {
        free_metrics(m);
        return err;
    }
    log_msg(LOG_INFO, "metrics: http://%s/metrics and /healthz", addr_format(ss, text));
    *out = m;
    return 0;
}

void metrics_stop(struct metrics *m)
{
    if (m == NULL)
        return;
    __atomic_store_n(&m->stop, 1, __ATOMIC_RELEASE);
    uint64_t one = 1;
    if (write(m->wake_fd, &one, sizeof(one)) < 0)
        log_msg(LOG_WARN, "metrics: waking the thread: %s", strerror(errno));
    pthread_join(m->thread, NULL);
    free_metrics(m);
}
