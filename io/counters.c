#include "io/counters.h"

#include <stdbool.h>

static const char *const event_names[IO_EVENT_COUNT] = {
    [IO_RX] = "rx",
    [IO_TX] = "tx",
    [IO_TX_FAILED] = "tx_failed",
    [IO_TX_SYNC] = "tx_sync",
    [IO_RX_TRUNCATED] = "rx_truncated",
    [IO_RX_ERRORS] = "rx_errors",
    [IO_RX_KERNEL_DROPS] = "rx_kernel_drops",
    [IO_RING_REARM] = "ring_rearm",
    [IO_RING_NOBUFS] = "ring_nobufs",
    [IO_RING_CQ_DROPPED] = "ring_cq_dropped",
    [IO_RING_ENTER_ERRORS] = "ring_enter_errors",
    [IO_TCP_ACCEPTED] = "tcp_accepted",
    [IO_TCP_REFUSED] = "tcp_refused",
    [IO_TCP_IDLE_CLOSED] = "tcp_idle_closed",
    [IO_TCP_GARBAGE_CLOSED] = "tcp_garbage_closed",
    [IO_TLS_ACCEPTED] = "tls_accepted",
    [IO_TLS_REFUSED] = "tls_refused",
    [IO_TLS_HANDSHAKES] = "tls_handshakes",
    [IO_TLS_HANDSHAKE_FAILED] = "tls_handshake_failed",
    [IO_TLS_HANDSHAKE_TIMEOUT] = "tls_handshake_timeout",
    [IO_TLS_IDLE_CLOSED] = "tls_idle_closed",
    [IO_TLS_ERRORS] = "tls_errors",
    [IO_TLS_RELOADS] = "tls_reloads",
    [IO_TLS_RELOAD_FAILURES] = "tls_reload_failures",
    [IO_USERS_RELOAD_FAILURES] = "users_reload_failures",
    [IO_SECRET_KEY_RELOAD_FAILURES] = "secret_key_reload_failures",
    [IO_STREAM_TOO_LONG] = "stream_too_long",
    [IO_TCP_REFUSED_CLIENT] = "tcp_refused_client",
    [IO_TLS_REFUSED_CLIENT] = "tls_refused_client",
    [IO_TLS_REFUSED_HANDSHAKE_RATE] = "tls_refused_handshake_rate",
    [IO_DROP_RATE_LIMITED] = "drop_rate_limited",
    [IO_TCP_MESSAGES] = "tcp_messages",
    [IO_TLS_MESSAGES] = "tls_messages",
};

const char *counters_event_name(enum io_event e) { return event_names[e]; }

static uint64_t load(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

void counters_add(struct io_counters *sum, const struct io_counters *src)
{
    for (int i = 0; i < STUN_STATUS_COUNT; i++)
        sum->status[i] += load(&src->status[i]);
    for (int i = 0; i < IO_EVENT_COUNT; i++)
        sum->event[i] += load(&src->event[i]);
    for (int i = 0; i < COUNTERS_CODE_SLOTS; i++)
        sum->code[i] += load(&src->code[i]);
}

/* True when some status is answered with code, in either style. */
static bool code_can_be_sent(int code)
{
    for (int i = 0; i < STUN_STATUS_COUNT; i++)
        for (int classic = 0; classic < 2; classic++)
            if (stun_status_error_code((enum stun_status)i, classic) == code)
                return true;
    return false;
}

/* error_CODE for each code the server can send, and any other it did. */
static void print_codes(FILE *out, const char *prefix, const struct io_counters *c)
{
    for (int i = 0; i < COUNTERS_CODE_SLOTS; i++) {
        int code = COUNTERS_CODE_MIN + i;
        if (c->code[i] != 0 || code_can_be_sent(code))
            fprintf(out, "%s error_%d %llu\n", prefix, code, (unsigned long long)c->code[i]);
    }
}

void counters_print(FILE *out, const char *prefix, const struct io_counters *c)
{
    uint64_t dropped = 0, errors = 0, successes = 0;
    for (int i = 0; i < IO_EVENT_COUNT; i++)
        fprintf(out, "%s %s %llu\n", prefix, event_names[i], (unsigned long long)c->event[i]);
    for (int i = 0; i < STUN_STATUS_COUNT; i++) {
        fprintf(out, "%s %s %llu\n", prefix, stun_status_name((enum stun_status)i),
                (unsigned long long)c->status[i]);
        if (stun_status_is_drop((enum stun_status)i))
            dropped += c->status[i];
        else if (stun_status_is_success((enum stun_status)i))
            successes += c->status[i];
        else
            errors += c->status[i];
    }
    dropped += c->event[IO_DROP_RATE_LIMITED]; /* unanswered too, by io/ rather than core/ */
    print_codes(out, prefix, c);
    fprintf(out, "%s answered_success %llu\n", prefix, (unsigned long long)successes);
    fprintf(out, "%s answered_error %llu\n", prefix, (unsigned long long)errors);
    fprintf(out, "%s dropped %llu\n", prefix, (unsigned long long)dropped);
    fflush(out);
}
