/* Start-up, the main thread's signal loop, and an orderly stop. */
#include "io/main/server.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "crypto/secret_table.h"
#include "io/addr.h"
#include "io/clock.h"
#include "io/credentials.h"
#include "io/front/tcp.h"
#include "io/front/tls.h"
#include "io/log.h"
#include "io/longterm.h"
#include "io/main/cli.h"
#include "io/main/heap.h"
#include "io/main/metrics.h"
#include "io/main/notify.h"
#include "io/ratelimit.h"
#include "io/udp/sockets.h"
#include "io/udp/steer.h"
#include "io/udp/worker.h"

const char *io_backend_name(enum io_backend b)
{
    return b == IO_BACKEND_URING ? "uring" : b == IO_BACKEND_MMSG ? "mmsg" : "auto";
}

/* Workers report their set-up here; the main thread waits for all. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned reported;
    int first_error;
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

void worker_report_ready(struct worker *w, int err)
{
    (void)w;
    pthread_mutex_lock(&gate.lock);
    gate.reported++;
    if (err != 0 && gate.first_error == 0)
        gate.first_error = err;
    pthread_cond_broadcast(&gate.cond);
    pthread_mutex_unlock(&gate.lock);
}

static int wait_for_workers(unsigned n)
{
    pthread_mutex_lock(&gate.lock);
    while (gate.reported < n)
        pthread_cond_wait(&gate.cond, &gate.lock);
    int err = gate.first_error;
    pthread_mutex_unlock(&gate.lock);
    return err;
}

struct server {
    struct server_shared shared;
    struct worker *workers;
    unsigned n_workers, n_started;
    struct tcp_front *tcp;
    struct io_counters tcp_final; /* the front thread's counters once it stopped */
    SSL_CTX *tls_ctx;             /* loaded at start-up, handed to the front thread */
    struct io_counters main;      /* the main thread's own: reload failures */
    struct metrics *metrics;      /* --metrics; NULL: off */
    unsigned reflect_shares;      /* workers, or 1 when --steer source is in effect */
};

/* Endpoint ep of family f: A1 or A2, P1 or P2 (core/handler.h). */
static void endpoint_sockaddr(const struct server_config *cfg, unsigned f, unsigned ep,
                              struct sockaddr_storage *out)
{
    const struct server_family *fam = &cfg->family[f];
    *out = (ep & STUN_EP_ALT_ADDRESS) ? fam->alternate : fam->primary;
    addr_set_port(out, (ep & STUN_EP_ALT_PORT) ? cfg->alt_port : cfg->port);
}

static unsigned endpoint_count(const struct server_config *cfg, unsigned f)
{
    return cfg->family[f].has_alternate ? STUN_EP_COUNT : 1;
}

/* The destination policy: the operator's rules, then our own addresses
 * (a wildcard's stand-in is the arrival address, per request). */
static void build_destinations(struct server_shared *sh, const struct server_config *cfg)
{
    struct stun_dest_policy *p = &sh->destinations;
    stun_dest_policy_init(p);
    for (unsigned i = 0; i < cfg->n_peer_rules; i++)
        stun_dest_add_rule(p, &cfg->peer_rules[i].net, cfg->peer_rules[i].allow);
    for (unsigned f = 0; f < cfg->n_families; f++)
        for (unsigned ep = 0; ep < endpoint_count(cfg, f); ep++)
            stun_dest_add_own(p, &sh->eps[f].addr[ep]);
    sh->handler.destinations = p;
}

static void build_shared(struct server *srv, const struct server_config *cfg)
{
    struct server_shared *sh = &srv->shared;
    sh->cfg = cfg;
    sh->handler.software = cfg->software;
    sh->handler.software_len = cfg->software ? (uint16_t)strlen(cfg->software) : 0;
    memcpy(sh->handler.alternate_server, cfg->alternate_server,
           sizeof(sh->handler.alternate_server));
    sh->handler.alternate_domain = cfg->alternate_domain;
    sh->handler.alternate_domain_len =
        cfg->alternate_domain ? (uint16_t)strlen(cfg->alternate_domain) : 0;
    for (unsigned f = 0; f < cfg->n_families; f++) {
        struct stun_endpoints *eps = &sh->eps[f];
        eps->alternate = cfg->family[f].has_alternate;
        for (unsigned ep = 0; ep < STUN_EP_COUNT; ep++) {
            struct sockaddr_storage ss;
            endpoint_sockaddr(cfg, f, ep < endpoint_count(cfg, f) ? ep : 0, &ss);
            addr_to_stun(&ss, &eps->addr[ep]);
        }
        sh->wildcard[f] = addr_is_wildcard(&cfg->family[f].primary);
    }
    build_destinations(sh, cfg);
}

/* The --secret-key bytes, read once per start-up or reload for every user
 * of them (credential derivation, nonces); len 0: no file given. */
struct fleet_key {
    uint8_t bytes[CREDENTIALS_KEY_MAX + 1];
    int len;
    uint8_t previous[CREDENTIALS_KEY_MAX + 1]; /* --secret-key-previous */
    int previous_len;
};

/* 0, or -errno with the reason in err when the file is given and cannot
 * be used. */
static int read_fleet_key(const struct server_config *cfg, struct fleet_key *k, char *err,
                          size_t err_cap)
{
    k->len = k->previous_len = 0;
    if (cfg->secret_key_file == NULL)
        return 0;
    int len = credentials_read_key(cfg->secret_key_file, k->bytes, sizeof(k->bytes), err, err_cap);
    if (len < 0)
        return len;
    if (cfg->secret_key_previous_file != NULL) {
        char why[400];
        int prev = credentials_read_key(cfg->secret_key_previous_file, k->previous,
                                        sizeof(k->previous), why, sizeof(why));
        if (prev < 0) {
            snprintf(err, err_cap, "(--secret-key-previous) %s", why);
            return prev;
        }
        k->previous_len = prev;
    }
    k->len = len;
    return 0;
}

/* The key's bytes, or NULL for none (a random key then). */
static const void *fleet_bytes(const struct fleet_key *k) { return k->len > 0 ? k->bytes : NULL; }

/* The previous key's bytes, or NULL for none. */
static const void *fleet_previous(const struct fleet_key *k)
{
    return k->previous_len > 0 ? k->previous : NULL;
}

/* What the nonce keys derive from: the fleet keys, or NULL (random). */
static struct longterm_keys nonce_sources(const struct fleet_key *k)
{
    return (struct longterm_keys){fleet_bytes(k), (size_t)k->len, fleet_previous(k),
                                  (size_t)k->previous_len};
}

static void wipe_fleet_key(struct fleet_key *k) { memset(k, 0, sizeof(*k)); }

/*
 * The credentials every authenticated request is checked against, and
 * that TLS mints: needed when TLS is served or --auth is not none.
 */
static int setup_credentials(struct server *srv, const struct server_config *cfg,
                             const struct fleet_key *fk)
{
    struct stun_handler_config *h = &srv->shared.handler;
    h->auth = cfg->auth;
    h->response_address = cfg->response_address;
    if (srv->tls_ctx == NULL && cfg->auth == STUN_AUTH_NONE)
        return 0;
    bool fleet = fk->len > 0;
    int err = credentials_create(&srv->shared.creds, cfg->max_credentials, cfg->credential_ttl_s,
                                 fleet_bytes(fk), (size_t)fk->len, fleet);
    if (err == 0 && fleet_previous(fk) != NULL)
        err = credentials_set_key(srv->shared.creds, fk->bytes, (size_t)fk->len, fleet_previous(fk),
                                  (size_t)fk->previous_len);
    if (err == 0)
        err = credentials_limit_mints(srv->shared.creds,
                                      &(struct mint_limits){cfg->mint_rate, cfg->mint_share,
                                                            cfg->rate_prefix4, cfg->rate_prefix6});
    if (err != 0)
        return err;
    h->lookup = credentials_lookup;
    h->lookup_ctx = srv->shared.creds;
    h->mint = srv->tls_ctx != NULL ? credentials_mint : NULL;
    h->mint_ctx = srv->shared.creds;
    return 0;
}

/* --users and --realm: the long-term mechanism, its nonces keyed by the
 * fleet key when there is one. 0 or an exit code: 2 for a file that does
 * not load, 1 for out of memory. */
static int setup_longterm(struct server *srv, const struct server_config *cfg,
                          const struct fleet_key *fk)
{
    if (cfg->users_file == NULL)
        return 0;
    char err[512];
    struct longterm_keys keys = nonce_sources(fk);
    int rc = longterm_create(&srv->shared.longterm, cfg->users_file, cfg->realm, &keys, err,
                             sizeof(err));
    if (rc != 0) {
        log_msg(LOG_ERROR, "--users %s", err);
        return rc == -ENOMEM ? CLI_EXIT_RUNTIME : CLI_EXIT_USAGE;
    }
    struct stun_handler_config *h = &srv->shared.handler;
    h->realm = cfg->realm;
    h->realm_len = (uint16_t)strlen(cfg->realm);
    h->user_keys = longterm_user_keys;
    h->users_ctx = srv->shared.longterm;
    h->nonce_key = longterm_nonce_key(srv->shared.longterm);
    h->nonce_key_previous = longterm_nonce_key_previous(srv->shared.longterm);
    h->nonce_ttl_s = cfg->nonce_ttl_s;
    return 0;
}

/* What one SIGHUP did: how many files reloaded and how many were kept. */
struct reload_tally {
    unsigned reloaded, failed;
};

/* One line per file, and its failure counted under counter. */
static void reload_outcome(struct server *srv, struct reload_tally *t, const char *what,
                           const char *failure, enum io_event counter)
{
    if (failure == NULL) {
        t->reloaded++;
        log_msg(LOG_INFO, "reload: %s: reloaded", what);
        return;
    }
    t->failed++;
    counters_event(&srv->main, counter);
    log_msg(LOG_ERROR, "reload: %s: failed (%s): keeping the old one", what, failure);
}

/* The users file again, and the nonce key when a fleet key was read. */
static void reload_longterm(struct server *srv, const struct fleet_key *fk, struct reload_tally *t)
{
    char err[512];
    struct longterm_keys keys = nonce_sources(fk);
    int rc = longterm_reload(srv->shared.longterm, fk->len > 0 ? &keys : NULL, err, sizeof(err));
    if (rc == 0) { /* previous first: a worker loads nonce_key, then the previous one */
        struct stun_handler_config *h = &srv->shared.handler;
        __atomic_store_n(&h->nonce_key_previous, longterm_nonce_key_previous(srv->shared.longterm),
                         __ATOMIC_RELEASE);
        __atomic_store_n(&h->nonce_key, longterm_nonce_key(srv->shared.longterm), __ATOMIC_RELEASE);
    }
    reload_outcome(srv, t, "--users", rc == 0 ? NULL : err, IO_USERS_RELOAD_FAILURES);
    if (rc == 0)
        log_msg(LOG_INFO, "reload: --users: %u users", longterm_user_count(srv->shared.longterm));
    if (rc == 0 && longterm_user_count(srv->shared.longterm) == 0)
        log_msg(LOG_WARN, "reload: --users %s: no users: every long-term request will fail",
                srv->shared.cfg->users_file);
}

/* The TLS context when --cert and --key are given: 0 or an exit code. */
static int setup_tls(struct server *srv, const struct server_config *cfg)
{
    if (cfg->cert == NULL || cfg->key == NULL)
        return 0;
    char err[512];
    srv->tls_ctx = tls_context_load(cfg->cert, cfg->key, err, sizeof(err));
    if (srv->tls_ctx == NULL) {
        log_msg(LOG_ERROR, "tls: %s", err);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

static void reload_certificate(struct server *srv, struct reload_tally *t)
{
    const struct server_config *cfg = srv->shared.cfg;
    char err[512];
    SSL_CTX *ctx = tls_context_load(cfg->cert, cfg->key, err, sizeof(err));
    if (ctx != NULL)
        tcp_front_reload_tls(srv->tcp, ctx); /* counted in tls_reloads once swapped in */
    reload_outcome(srv, t, "certificate", ctx != NULL ? NULL : err, IO_TLS_RELOAD_FAILURES);
}

/* The --secret-key file into fk, or len 0 (the old key stays) when it failed. */
static void reload_fleet_key(struct server *srv, struct fleet_key *fk, struct reload_tally *t)
{
    char err[512];
    int rc = read_fleet_key(srv->shared.cfg, fk, err, sizeof(err));
    if (rc == 0 && srv->shared.creds != NULL &&
        credentials_set_key(srv->shared.creds, fk->bytes, (size_t)fk->len, fleet_previous(fk),
                            (size_t)fk->previous_len) != 0) {
        rc = -ENOMEM;
        snprintf(err, sizeof(err), "out of memory");
    }
    if (rc != 0)
        wipe_fleet_key(fk); /* the nonce key stays too */
    reload_outcome(srv, t, "--secret-key", rc == 0 ? NULL : err, IO_SECRET_KEY_RELOAD_FAILURES);
}

/* SIGHUP: a new certificate for new connections, the fleet key, the
 * users. A file that fails to load leaves the old one serving; each says
 * which it was, and the last line never claims a reload that failed. */
static void reload(struct server *srv)
{
    const struct server_config *cfg = srv->shared.cfg;
    struct reload_tally t = {0, 0};
    if (tcp_front_has_tls(srv->tcp))
        reload_certificate(srv, &t);
    struct fleet_key fk = {.len = 0};
    if (cfg->secret_key_file != NULL)
        reload_fleet_key(srv, &fk, &t);
    if (srv->shared.longterm != NULL)
        reload_longterm(srv, &fk, &t);
    wipe_fleet_key(&fk);
    if (t.failed > 0)
        log_msg(LOG_ERROR, "SIGHUP: %u of %u failed to load; the old ones keep serving", t.failed,
                t.failed + t.reloaded);
    else
        log_msg(LOG_INFO, "SIGHUP: reloaded (%u)", t.reloaded);
}

static int check_ports(const struct server_config *cfg)
{
    for (unsigned f = 0; f < cfg->n_families; f++) {
        for (unsigned ep = 0; ep < endpoint_count(cfg, f); ep++) {
            struct sockaddr_storage ss;
            char text[ADDR_TEXT_MAX];
            endpoint_sockaddr(cfg, f, ep, &ss);
            int err = sockets_check_free(&ss, cfg);
            if (err != 0) {
                log_msg(LOG_ERROR, "cannot bind udp %s: %s", addr_format(&ss, text),
                        strerror(-err));
                return err;
            }
        }
    }
    return 0;
}

/*
 * This worker's share of the reflection cap: 1/shares of the rate and of
 * the burst (rounded up). shares is the number of workers when the kernel's
 * hash may spread one prefix's ports over all of them: what it is sent then
 * adds up to at most --rate-burst + --rate-limit x seconds (+ workers - 1
 * of rounding). Under --steer source a prefix only ever reaches one
 * worker: shares is 1, and that worker enforces the cap exactly.
 */
static int open_reflect_limit(const struct server_config *cfg, struct worker *w, unsigned shares)
{
    if (cfg->rate_limit == 0)
        return 0;
    struct rate_limit_spec spec = {
        .sources = cfg->rate_table,
        .milli_rate = (uint64_t)cfg->rate_limit * 1000 / shares,
        .burst = (cfg->rate_burst + shares - 1) / shares,
        .prefix4 = cfg->rate_prefix4,
        .prefix6 = cfg->rate_prefix6,
    };
    int err = rate_limiter_new(&w->reflect_limit, &spec);
    if (err != 0)
        log_msg(LOG_ERROR, "--rate-table %u: %s", cfg->rate_table, strerror(-err));
    return err;
}

static void log_reflect_limit(const struct server_config *cfg, unsigned shares)
{
    if (cfg->rate_limit == 0) {
        log_msg(LOG_WARN, "reflection cap off (--rate-limit 0): any address can be sent "
                          "unlimited answers");
        return;
    }
    size_t bytes = rate_limiter_bytes(cfg->rate_table);
    char share[64] = "all of it on each client's worker (--steer source)";
    if (shares > 1)
        snprintf(share, sizeof(share), "1/%u per worker", shares);
    log_msg(LOG_INFO,
            "reflection cap: %u answers/s, burst %u per client (/%u IPv4, /%u IPv6), "
            "%s; %u prefixes a worker: %zu KiB each, %zu KiB in all",
            cfg->rate_limit, cfg->rate_burst, cfg->rate_prefix4, cfg->rate_prefix6, share,
            cfg->rate_table, bytes >> 10, (bytes * cfg->workers) >> 10);
}

static int open_worker(struct server *srv, struct worker *w, unsigned id)
{
    const struct server_config *cfg = srv->shared.cfg;
    memset(w, 0, sizeof(*w));
    w->worker_id = id;
    w->shared = &srv->shared;
    memset(w->fd, -1, sizeof(w->fd));
    w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w->wake_fd < 0)
        return -errno;
    for (unsigned f = 0; f < cfg->n_families; f++) {
        for (unsigned ep = 0; ep < endpoint_count(cfg, f); ep++) {
            struct sockaddr_storage ss;
            char text[ADDR_TEXT_MAX];
            endpoint_sockaddr(cfg, f, ep, &ss);
            int err = sockets_open_udp(&ss, cfg, true, &w->fd[f][ep]);
            if (err != 0) {
                log_msg(LOG_ERROR, "cannot bind udp %s: %s", addr_format(&ss, text),
                        strerror(-err));
                return err;
            }
        }
    }
    return 0;
}

static void close_worker(struct worker *w)
{
    for (unsigned f = 0; f < SERVER_MAX_FAMILIES; f++)
        for (unsigned ep = 0; ep < STUN_EP_COUNT; ep++)
            if (w->fd[f][ep] >= 0)
                close(w->fd[f][ep]);
    if (w->wake_fd >= 0)
        close(w->wake_fd);
    rate_limiter_destroy(w->reflect_limit);
}

/* The CPU of worker i: --cpus, else the i-th CPU this process may use. */
static int worker_cpu(const struct server_config *cfg, unsigned i)
{
    if (cfg->n_cpus > 0)
        return cfg->cpus[i % cfg->n_cpus];
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0 || CPU_COUNT(&allowed) == 0)
        return -1;
    unsigned nth = i % (unsigned)CPU_COUNT(&allowed);
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &allowed) && nth-- == 0)
            return cpu;
    return -1;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    int err = w->backend == IO_BACKEND_URING ? worker_run_uring(w) : worker_run_mmsg(w);
    if (err != 0 && !worker_should_stop(w)) {
        /* Its sockets stay in their SO_REUSEPORT groups, so the kernel would
         * keep hashing clients to a worker nobody runs: stop the whole
         * server rather than answer only some clients. */
        __atomic_store_n(&w->failed, 1, __ATOMIC_RELEASE);
        kill(getpid(), SIGTERM);
    }
    return NULL;
}

static int start_worker(struct worker *w)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (w->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(w->cpu, &set);
        pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
    }
    int err = -pthread_create(&w->thread, &attr, worker_main, w);
    pthread_attr_destroy(&attr);
    return err;
}

/*
 * --steer: a program on every SO_REUSEPORT group, attached through worker
 * 0's socket once every worker's is in (socket i of a group is worker i's).
 * Then each worker's share of the reflection cap, which depends on it.
 */
static int steer_and_limit(struct server *srv)
{
    const struct server_config *cfg = srv->shared.cfg;
    static int cpus[SERVER_MAX_WORKERS]; /* the main thread's, at start-up */
    struct steer_group groups[SERVER_MAX_FAMILIES * STUN_EP_COUNT];
    unsigned n_groups = 0;
    for (unsigned i = 0; i < srv->n_workers; i++)
        cpus[i] = worker_cpu(cfg, i);
    for (unsigned f = 0; f < cfg->n_families; f++)
        for (unsigned ep = 0; ep < endpoint_count(cfg, f); ep++)
            groups[n_groups++] =
                (struct steer_group){srv->workers[0].fd[f][ep], cfg->family[f].primary.ss_family};
    struct steer_plan plan = {cfg->steer, srv->n_workers, cpus, cfg->rate_prefix4,
                              cfg->rate_prefix6};
    bool by_source = steer_groups(&plan, groups, n_groups) && cfg->steer == STEER_SOURCE;
    srv->reflect_shares = by_source ? 1 : srv->n_workers;
    int err = 0;
    for (unsigned i = 0; i < srv->n_workers && err == 0; i++)
        err = open_reflect_limit(cfg, &srv->workers[i], srv->reflect_shares);
    return err;
}

/* auto: io_uring when this kernel and sandbox allow it, else mmsg, saying why. */
static int choose_backend(const struct server_config *cfg, enum io_backend *out)
{
    *out = cfg->backend;
    if (cfg->backend == IO_BACKEND_MMSG)
        return 0;
    int err = uring_probe();
    if (err == 0) {
        *out = IO_BACKEND_URING;
        return 0;
    }
    if (cfg->backend == IO_BACKEND_URING) {
        log_msg(LOG_ERROR, "--backend uring: io_uring unavailable: %s", strerror(-err));
        return err;
    }
    log_msg(LOG_WARN, "io_uring unavailable (%s): using the mmsg backend", strerror(-err));
    *out = IO_BACKEND_MMSG;
    return 0;
}

static void print_counters(struct server *srv, const char *when)
{
    FILE *out = log_stream(); /* stderr, or JSON lines with --log-format json */
    struct io_counters total = {0};
    for (unsigned i = 0; i < srv->n_started; i++) {
        const struct worker *w = &srv->workers[i];
        fprintf(out, "stats worker.%u rx %llu tx %llu\n", w->worker_id,
                (unsigned long long)__atomic_load_n(&w->counters.event[IO_RX], __ATOMIC_RELAXED),
                (unsigned long long)__atomic_load_n(&w->counters.event[IO_TX], __ATOMIC_RELAXED));
        counters_add(&total, &w->counters);
    }
    if (srv->tcp != NULL)
        tcp_front_counters(srv->tcp, &total);
    counters_add(&total, &srv->main);
    counters_add(&total, &srv->tcp_final);
    fprintf(out, "stats when %s\n", when);
    counters_print(out, "stats", &total);
    uint64_t mallocs;
    if (heap_mallocs(&mallocs))
        fprintf(out, "stats heap_mallocs %llu\n", (unsigned long long)mallocs);
}

/* --metrics, once every worker is armed: 0 or -errno (logged). */
static int start_metrics(struct server *srv)
{
    const struct server_config *cfg = srv->shared.cfg;
    if (cfg->metrics_addr.ss_family == AF_UNSPEC)
        return 0;
    struct metrics_sources src = {&srv->shared, srv->workers, srv->n_started, srv->tcp, &srv->main};
    return metrics_start(&cfg->metrics_addr, cfg->metrics_per_worker, &src, &srv->metrics);
}

/* Sets stop, wakes every thread, joins them; in-flight sends finish first. */
static void stop_all(struct server *srv)
{
    metrics_stop(srv->metrics); /* first: it reads the others' counters */
    srv->metrics = NULL;
    __atomic_store_n(&srv->shared.stop, 1, __ATOMIC_RELEASE);
    uint64_t one = 1;
    for (unsigned i = 0; i < srv->n_started; i++)
        if (write(srv->workers[i].wake_fd, &one, sizeof(one)) < 0)
            log_msg(LOG_WARN, "waking worker %u: %s", i, strerror(errno));
    for (unsigned i = 0; i < srv->n_started; i++)
        pthread_join(srv->workers[i].thread, NULL);
    tcp_front_stop(srv->tcp, &srv->tcp_final);
    srv->tcp = NULL;
}

static void log_ready(const struct server *srv, enum io_backend backend)
{
    const struct server_config *cfg = srv->shared.cfg;
    char line[512] = "", text[ADDR_TEXT_MAX];
    size_t used = 0;
    for (unsigned f = 0; f < cfg->n_families; f++) {
        for (unsigned ep = 0; ep < endpoint_count(cfg, f); ep++) {
            struct sockaddr_storage ss;
            endpoint_sockaddr(cfg, f, ep, &ss);
            used +=
                (size_t)snprintf(line + used, sizeof(line) - used, " %s", addr_format(&ss, text));
            if (used >= sizeof(line))
                used = sizeof(line) - 1;
        }
    }
    char tls[64] = "";
    if (tcp_front_has_tls(srv->tcp))
        snprintf(tls, sizeof(tls), ", tls on port %u", cfg->tls_port);
    log_msg(LOG_INFO, "ready: %u workers, backend %s, udp%s%s%s, auth %s", srv->n_workers,
            io_backend_name(backend), line, cfg->tcp ? ", tcp on the primary port" : "", tls,
            cfg->auth == STUN_AUTH_NONE       ? "none"
            : cfg->auth == STUN_AUTH_OPTIONAL ? "optional"
                                              : "required");
}

void server_block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

static bool any_worker_failed(const struct server *srv)
{
    for (unsigned i = 0; i < srv->n_started; i++)
        if (__atomic_load_n(&srv->workers[i].failed, __ATOMIC_ACQUIRE))
            return true;
    return false;
}

/* SIGUSR2: drain on (every modern request answered 300 naming the
 * alternate of its family) or off. One flag, stored with release: the
 * workers and the front load it per request. */
static void toggle_drain(struct server *srv)
{
    int *draining = &srv->shared.draining;
    int now = !__atomic_load_n(draining, __ATOMIC_RELAXED);
    __atomic_store_n(draining, now, __ATOMIC_RELEASE);
    if (!now) {
        log_msg(LOG_INFO, "drain off");
        return;
    }
    const struct server_config *cfg = srv->shared.cfg;
    char text[2][ADDR_TEXT_MAX] = {"none", "none"};
    for (unsigned i = 0; i < 2; i++) {
        struct sockaddr_storage ss;
        if (cfg->alternate_server[i].family == 0)
            continue;
        addr_from_stun(&cfg->alternate_server[i], &ss);
        addr_format(&ss, text[i]);
    }
    log_msg(LOG_INFO,
            "drain on: answering 300 with ALTERNATE-SERVER %s (IPv4), %s (IPv6); a family "
            "with none, and RFC 3489 requests, are answered as always",
            text[0], text[1]);
}

/* SIGUSR1 prints the counters, SIGHUP reloads, SIGUSR2 toggles drain; SIGTERM or SIGINT returns.
 * Once a second it frees what reloads retired. */
static void signal_loop(struct server *srv, const sigset_t *set)
{
    for (;;) {
        const struct timespec tick = {1, 0};
        int sig = sigtimedwait(set, NULL, &tick);
        if (srv->shared.longterm != NULL)
            longterm_collect(srv->shared.longterm, monotonic_ms());
        if (srv->shared.creds != NULL)
            credentials_collect(srv->shared.creds, monotonic_ms());
        if (sig < 0)
            continue;
        if (sig == SIGUSR1) {
            print_counters(srv, "sigusr1");
            continue;
        }
        if (sig == SIGHUP) {
            reload(srv);
            continue;
        }
        if (sig == SIGUSR2) {
            toggle_drain(srv);
            continue;
        }
        if (any_worker_failed(srv))
            log_msg(LOG_ERROR, "a worker failed (logged above): stopping");
        else
            log_msg(LOG_INFO, "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
        return;
    }
}

static int start(struct server *srv, enum io_backend backend)
{
    const struct server_config *cfg = srv->shared.cfg;
    int err = 0;
    for (unsigned i = 0; i < srv->n_workers && err == 0; i++) {
        srv->workers[i].wake_fd = -1;
        memset(srv->workers[i].fd, -1, sizeof(srv->workers[i].fd));
    }
    for (unsigned i = 0; i < srv->n_workers && err == 0; i++)
        err = open_worker(srv, &srv->workers[i], i);
    if (err == 0)
        err = steer_and_limit(srv);
    if (err == 0 && (cfg->tcp || srv->tls_ctx != NULL)) {
        err = tcp_front_start(&srv->shared, srv->tls_ctx, &srv->tcp);
        srv->tls_ctx = NULL; /* the front owns it, whatever the outcome */
    }
    for (unsigned i = 0; i < srv->n_workers && err == 0; i++) {
        srv->workers[i].backend = backend;
        srv->workers[i].cpu = worker_cpu(cfg, i);
        err = start_worker(&srv->workers[i]);
        if (err == 0)
            srv->n_started++;
    }
    if (err == 0)
        err = wait_for_workers(srv->n_workers);
    return err;
}

/*
 * Every file a flag names, before anything is bound, so that a bad value
 * exits 2 whatever else is wrong: the fleet key, the certificate, the
 * users; then the credential table. 0 or the exit code (logged).
 */
static int load_files(struct server *srv, const struct server_config *cfg)
{
    struct fleet_key fk;
    char err[512];
    int code = 0;
    if (read_fleet_key(cfg, &fk, err, sizeof(err)) != 0) {
        log_msg(LOG_ERROR, "--secret-key %s", err);
        code = CLI_EXIT_USAGE;
    }
    if (code == 0)
        code = setup_tls(srv, cfg);
    if (code == 0)
        code = setup_longterm(srv, cfg, &fk);
    if (code == 0 && setup_credentials(srv, cfg, &fk) != 0)
        code = CLI_EXIT_RUNTIME;
    wipe_fleet_key(&fk);
    return code;
}

/* Flags that do nothing, or less than they seem, as combined: one line each. */
static void warn_misconfigurations(const struct server *srv, enum io_backend backend)
{
    const struct server_config *cfg = srv->shared.cfg;
    if (srv->tcp != NULL && tcp_front_has_tls(srv->tcp) && cfg->auth == STUN_AUTH_NONE)
        log_msg(LOG_WARN, "--cert/--key with --auth none: Shared Secrets are minted, but Binding "
                          "Requests ignore MESSAGE-INTEGRITY and get unsigned answers "
                          "(add --auth optional or required)");
    if (cfg->auth != STUN_AUTH_NONE && !tcp_front_has_tls(srv->tcp) &&
        cfg->secret_key_file == NULL && cfg->users_file == NULL)
        log_msg(LOG_WARN,
                "--auth %s without --cert/--key, --secret-key or --users: no credential can "
                "exist, every authenticated request will be refused",
                cfg->auth == STUN_AUTH_REQUIRED ? "required" : "optional");
    if (cfg->n_cpus > 0 && cfg->n_cpus < cfg->workers)
        log_msg(LOG_WARN,
                "--cpus lists %u CPUs for %u --workers: worker i runs on CPU i mod %u, "
                "several share one",
                cfg->n_cpus, cfg->workers, cfg->n_cpus);
    if (cfg->batch_given && backend != IO_BACKEND_MMSG)
        log_msg(LOG_WARN, "--batch %u: ignored by the %s backend (it sizes mmsg's batches only)",
                cfg->batch, io_backend_name(backend));
    if (cfg->ring_entries_given && backend != IO_BACKEND_URING)
        log_msg(LOG_WARN, "--ring-entries %u: ignored by the %s backend (it sizes io_uring only)",
                cfg->ring_entries, io_backend_name(backend));
    if (srv->shared.longterm != NULL && longterm_user_count(srv->shared.longterm) == 0)
        log_msg(LOG_WARN, "--users %s: no users: every long-term request will fail",
                cfg->users_file);
}

/* What start-up chose, said once it can no longer fail. */
static void log_startup(const struct server *srv, enum io_backend backend)
{
    const struct server_config *cfg = srv->shared.cfg;
    if (!tcp_front_has_tls(srv->tcp))
        log_msg(LOG_INFO, "tls off: no --cert and --key given");
    if (srv->shared.creds != NULL) {
        size_t bytes = secret_table_bytes(cfg->max_credentials);
        log_msg(LOG_INFO, "credentials: table of %zu bytes (%.1f MiB) for --max-credentials %u",
                bytes, (double)bytes / (1 << 20), cfg->max_credentials);
    }
    if (srv->shared.longterm != NULL)
        log_msg(LOG_INFO, "long-term credentials: %u users, realm \"%s\"",
                longterm_user_count(srv->shared.longterm), cfg->realm);
    log_reflect_limit(cfg, srv->reflect_shares);
    warn_misconfigurations(srv, backend);
}

/* What the setup_* steps made, before any thread runs. */
static void free_setup(struct server *srv)
{
    SSL_CTX_free(srv->tls_ctx);
    credentials_destroy(srv->shared.creds);
    longterm_destroy(srv->shared.longterm);
}

int server_run(const struct server_config *cfg)
{
    sigset_t set;
    server_block_signals(&set);

    struct server srv = {.n_workers = cfg->workers};
    build_shared(&srv, cfg);
    enum io_backend backend;
    int code = load_files(&srv, cfg);
    if (code == 0 && (check_ports(cfg) != 0 || choose_backend(cfg, &backend) != 0))
        code = CLI_EXIT_RUNTIME;
    if (code != 0) {
        free_setup(&srv);
        return code;
    }
    srv.workers = calloc(cfg->workers, sizeof(*srv.workers));
    if (srv.workers == NULL) {
        log_msg(LOG_ERROR, "out of memory for %u workers", cfg->workers);
        free_setup(&srv);
        return 1;
    }
    int err = start(&srv, backend);
    if (err == 0)
        err = start_metrics(&srv);
    if (err == 0 && cfg->user.set && privileges_become(&cfg->user) != 0)
        err = -EPERM; /* said; every thread stops */
    if (err == 0) {
        log_startup(&srv, backend);
        log_ready(&srv, backend);
        notify_send("READY=1"); /* Type=notify: every worker is armed */
        signal_loop(&srv, &set);
        notify_send("STOPPING=1");
    }
    stop_all(&srv);
    if (err == 0)
        print_counters(&srv, "exit");
    bool failed = any_worker_failed(&srv);
    for (unsigned i = 0; i < srv.n_workers; i++)
        close_worker(&srv.workers[i]);
    free(srv.workers);
    free_setup(&srv); /* the front thread took tls_ctx over: NULL here */
    return err == 0 && !failed ? 0 : CLI_EXIT_RUNTIME;
}
