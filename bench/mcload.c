/*
 * mcload - a small, pipelined memcached ASCII-protocol load generator.
 *
 * Part of memcached-sdt's benchmark tooling (bench/).  Single file, no
 * dependencies beyond libc and pthreads:
 *
 *     cc -O2 -Wall -Wextra -o mcload mcload.c -lpthread
 *
 * Model: N worker threads, each with its own epoll instance, share C
 * connections round-robin.  Every connection keeps up to D requests in
 * flight (pipeline depth) and refills as replies complete.  Replies are
 * parsed exactly (VALUE/END/STORED lines, value byte counts, trailing
 * CRLF, returned keys checked against the requested ones); anything that
 * does not fit is a protocol desync: it is counted, reported on stderr,
 * and the connection is re-opened.
 *
 * Run "mcload -h" for the options.  The last line on stdout is a single
 * machine-parsable summary of key=value pairs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE        2048            /* longest reply line we accept */
#define RBUF_SIZE       (64 * 1024)
#define MAX_EVENTS      256
#define MAX_RECONNECTS  10
#define MAX_KEY_LEN     250             /* memcached's limit */
#define MAX_VALUE       (64u * 1024 * 1024)
#define MAX_MGET        1000
#define MAX_DEPTH       4096

/* ------------------------------------------------------------------ */
/* Options                                                             */

struct options {
    const char *host;
    const char *port;
    int threads;
    int conns;
    int depth;
    uint64_t keys;          /* key space size */
    uint64_t key_base;      /* first key id */
    const char *prefix;
    double zipf;            /* 0 = uniform */
    uint64_t hot;           /* >0: the first key is this many times as popular as each other */
    uint32_t vmin, vmax;    /* value size range */
    unsigned get_w, set_w;  /* get:set weights */
    unsigned mget_min, mget_max;
    double duration;        /* seconds; 0 = use op count */
    uint64_t nops;          /* total ops; 0 = use duration */
    double warmup;
    double drain;           /* seconds to wait for in-flight replies */
    bool prefill;
    bool prefill_only;
    bool quiet;
    uint64_t seed;
    long server_pid;        /* -C: sample this process's CPU time */
};

static struct options opt = {
    .host = "127.0.0.1",
    .port = "11211",
    .threads = 1,
    .conns = 1,
    .depth = 1,
    .keys = 100000,
    .key_base = 1,
    .prefix = "key:",
    .zipf = 0.0,
    .vmin = 32, .vmax = 32,
    .get_w = 90, .set_w = 10,
    .mget_min = 1, .mget_max = 1,
    .duration = 0.0,
    .nops = 0,
    .warmup = 0.0,
    .drain = 2.0,
    .prefill = false,
    .prefill_only = false,
    .quiet = false,
    .seed = 0,
};

static size_t prefix_len;

static double proc_cpu_seconds(long pid);

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mcload: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void info(const char *fmt, ...)
{
    if (opt.quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("mcload: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory (%zu bytes)", n);
    return p;
}

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p)
        die("out of memory");
    return p;
}

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------ */
/* Random numbers: splitmix64 for seeding, xorshift64* for the stream. */

struct rng { uint64_t s; };

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
    uint64_t x = seed;
    r->s = splitmix64(&x);
    if (r->s == 0)
        r->s = 0x2545f4914f6cdd1dull;
}

static inline uint64_t rng_next(struct rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* uniform double in [0, 1) */
static inline double rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* uniform integer in [0, n); n fits in 64 bits */
static inline uint64_t rng_below(struct rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/* uniform integer in [lo, hi] */
static inline uint64_t rng_range(struct rng *r, uint64_t lo, uint64_t hi)
{
    if (hi <= lo)
        return lo;
    return lo + rng_below(r, hi - lo + 1);
}

/* ------------------------------------------------------------------ */
/* Zipf sampler over ranks 1..n with P(k) proportional to k^-theta.
 *
 * Rejection-inversion: draw from the continuous density x^-theta by
 * inverting its integral, round to the nearest rank and accept unless the
 * draw fell into the sliver where the continuous hat overshoots the
 * discrete mass.  O(1) setup and O(1) expected time per sample for any
 * theta > 0 (including theta == 1, handled by the log/expm1 forms below).
 */

struct zipf {
    double theta;
    double n;
    double hi1;     /* Hint(1.5) - 1 */
    double hin;     /* Hint(n + 0.5) */
    double squeeze; /* ranks closer than this to the draw are accepted outright */
    uint64_t mult;  /* rank -> key scrambling multiplier, coprime with n */
};

/* The build line links no libm, so the few transcendental functions the
 * sampler needs are done here: exp by range reduction to |r| <= ln2/2 and
 * a Taylor polynomial, log via the atanh series of the mantissa.  Both
 * are good to a few ulp for the arguments used here. */

static const double LN2_HI = 6.93147180369123816490e-01;
static const double LN2_LO = 1.90821492927058770002e-10;
static const double LOG2E = 1.44269504088896338700e+00;

static inline double m_fabs(double x) { return x < 0 ? -x : x; }

static inline double bits_to_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

static inline uint64_t double_to_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

/* s + s^3/3 + s^5/5 + ... = atanh(s), for |s| <= 1/3 */
static double atanh_series(double s)
{
    double s2 = s * s, term = s, sum = s;
    for (int n = 3; n < 200; n += 2) {
        term *= s2;
        double add = term / n;
        sum += add;
        if (m_fabs(add) <= 1e-18 * m_fabs(sum))
            break;
    }
    return sum;
}

static double m_exp(double x)
{
    if (x != x)
        return x;
    if (x > 709.78)
        return __builtin_inf();
    if (x < -745.2)
        return 0.0;
    double kf = x * LOG2E;
    int64_t k = (int64_t)(kf + (kf >= 0 ? 0.5 : -0.5));
    double r = (x - (double)k * LN2_HI) - (double)k * LN2_LO;
    double p = 1.0;
    for (int i = 16; i >= 1; i--)
        p = 1.0 + r * p / i;
    while (k > 1023) {
        p *= bits_to_double((uint64_t)(1023 + 1023) << 52);
        k -= 1023;
    }
    while (k < -1022) {
        p *= bits_to_double((uint64_t)1 << 52);     /* 2^-1022 */
        k += 1022;
    }
    return p * bits_to_double((uint64_t)(k + 1023) << 52);
}

static double m_log(double x)
{
    if (!(x > 0.0))
        return x == 0.0 ? -__builtin_inf() : (x - x) / (x - x);
    if (x == __builtin_inf())
        return x;
    int e = 0;
    if (x < 2.2250738585072014e-308) {      /* subnormal: scale up first */
        x *= 18014398509481984.0;           /* 2^54 */
        e = -54;
    }
    uint64_t u = double_to_bits(x);
    e += (int)((u >> 52) & 0x7ff) - 1023;
    double m = bits_to_double((u & 0x000fffffffffffffull) | 0x3ff0000000000000ull);
    if (m > 1.4142135623730951) {
        m *= 0.5;
        e++;
    }
    double lm = 2.0 * atanh_series((m - 1.0) / (m + 1.0));
    return ((double)e * LN2_LO + lm) + (double)e * LN2_HI;
}

/* log(1+t)/t, continuous at t = 0; t > -1 */
static double log1p_div(double t)
{
    if (m_fabs(t) < 1e-300)
        return 1.0;
    if (m_fabs(t) <= 0.5)
        return 2.0 * atanh_series(t / (2.0 + t)) / t;
    return m_log(1.0 + t) / t;
}

/* (exp(t)-1)/t, continuous at t = 0 */
static double expm1_div(double t)
{
    if (m_fabs(t) <= 0.5) {
        /* sum of t^n / (n+1)! */
        double term = 1.0, sum = 1.0;
        for (int n = 1; n < 40; n++) {
            term *= t / (n + 1);
            sum += term;
            if (m_fabs(term) <= 1e-18 * m_fabs(sum))
                break;
        }
        return sum;
    }
    return (m_exp(t) - 1.0) / t;
}

/* density x^-theta */
static double zipf_h(const struct zipf *z, double x)
{
    return m_exp(-z->theta * m_log(x));
}

/* integral of the density: (x^(1-theta) - 1) / (1 - theta), or log(x) */
static double zipf_hint(const struct zipf *z, double x)
{
    double lx = m_log(x);
    return expm1_div((1.0 - z->theta) * lx) * lx;
}

/* inverse of zipf_hint */
static double zipf_hint_inv(const struct zipf *z, double y)
{
    double t = (1.0 - z->theta) * y;
    if (t <= -1.0)
        t = -1.0 + 1e-12;
    return m_exp(log1p_div(t) * y);
}

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static void zipf_init(struct zipf *z, uint64_t n, double theta)
{
    z->theta = theta;
    z->n = (double)n;
    z->hi1 = zipf_hint(z, 1.5) - 1.0;
    z->hin = zipf_hint(z, z->n + 0.5);
    z->squeeze = 2.0 - zipf_hint_inv(z, zipf_hint(z, 2.5) - zipf_h(z, 2.0));
    /* Spread hot ranks over the key space (a bijection on [0, n)). */
    uint64_t m = 0x9e3779b1ull % (n ? n : 1);
    if (m < 2)
        m = 1;
    while (n > 1 && gcd64(m, n) != 1)
        m++;
    z->mult = m;
}

/* returns a rank in [1, n] */
static uint64_t zipf_rank(const struct zipf *z, struct rng *r)
{
    for (;;) {
        double u = z->hin + rng_unit(r) * (z->hi1 - z->hin);
        double x = zipf_hint_inv(z, u);
        double k = (double)(int64_t)(x + 0.5);   /* x > 0 */
        if (k < 1.0)
            k = 1.0;
        else if (k > z->n)
            k = z->n;
        if (k - x <= z->squeeze || u >= zipf_hint(z, k + 0.5) - zipf_h(z, k))
            return (uint64_t)k;
    }
}

/* returns a key offset in [0, n) */
static inline uint64_t zipf_key(const struct zipf *z, struct rng *r, uint64_t n)
{
    uint64_t rank = zipf_rank(z, r) - 1;
    return (uint64_t)(((unsigned __int128)rank * z->mult) % n);
}

static struct zipf g_zipf;

/* ------------------------------------------------------------------ */
/* Latency histogram: log-linear buckets over nanoseconds, 64 linear
 * sub-buckets per power of two (about 1.6% relative resolution). */

#define HSUB_BITS 6
#define HSUB      (1u << HSUB_BITS)
#define HBUCKETS  ((64 - HSUB_BITS + 1) * HSUB)

struct hist {
    uint64_t n[HBUCKETS];
    uint64_t count;
    uint64_t max;
};

static inline unsigned hist_index(uint64_t v)
{
    if (v < HSUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - HSUB_BITS;
    return (shift + 1) * HSUB + (unsigned)((v >> shift) & (HSUB - 1));
}

/* midpoint of the values that land in bucket i */
static double hist_value(unsigned i)
{
    if (i < HSUB)
        return (double)i;
    unsigned shift = i / HSUB - 1;
    uint64_t sub = i % HSUB;
    uint64_t lo = (HSUB + sub) << shift;
    return (double)lo + ((double)(1ull << shift) - 1.0) / 2.0;
}

static inline void hist_add(struct hist *h, uint64_t v)
{
    h->n[hist_index(v)]++;
    h->count++;
    if (v > h->max)
        h->max = v;
}

static void hist_merge(struct hist *dst, const struct hist *src)
{
    for (unsigned i = 0; i < HBUCKETS; i++)
        dst->n[i] += src->n[i];
    dst->count += src->count;
    if (src->max > dst->max)
        dst->max = src->max;
}

static double hist_pct(const struct hist *h, double p)
{
    if (h->count == 0)
        return 0.0;
    double wantf = p * (double)h->count;
    uint64_t want = (uint64_t)wantf;
    if ((double)want < wantf)
        want++;
    if (want < 1)
        want = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HBUCKETS; i++) {
        seen += h->n[i];
        if (seen >= want) {
            double v = hist_value(i);
            return v > (double)h->max ? (double)h->max : v;
        }
    }
    return (double)h->max;
}

/* ------------------------------------------------------------------ */
/* Per-thread counters                                                 */

struct stats {
    uint64_t ops;        /* completed commands (a multi-get is one) */
    uint64_t gets;       /* get commands */
    uint64_t sets;       /* set commands */
    uint64_t get_keys;   /* keys asked for by gets */
    uint64_t hits;       /* VALUEs returned */
    uint64_t misses;     /* keys asked for but not returned */
    uint64_t errors;     /* failed commands: error replies, lost replies */
    uint64_t desyncs;    /* protocol violations seen */
    uint64_t reconnects;
    struct hist lat;
};

static void stats_merge(struct stats *d, const struct stats *s)
{
    d->ops += s->ops;
    d->gets += s->gets;
    d->sets += s->sets;
    d->get_keys += s->get_keys;
    d->hits += s->hits;
    d->misses += s->misses;
    d->errors += s->errors;
    d->desyncs += s->desyncs;
    d->reconnects += s->reconnects;
    hist_merge(&d->lat, &s->lat);
}

/* ------------------------------------------------------------------ */
/* Connections                                                         */

enum req_type { REQ_GET = 1, REQ_SET = 2 };

struct req {
    uint8_t type;
    uint16_t nkeys;
    uint32_t key_pos;       /* first key's slot in the conn's key ring */
    uint64_t t_sent;
};

enum pstate { P_LINE, P_DATA, P_DATA_END };

struct thread;

struct conn {
    int fd;
    int id;
    bool dead;
    unsigned reconnects;
    struct thread *th;

    char *rbuf;
    size_t rpos, rlen;

    char *wbuf;
    size_t wcap, wpos, wlen;

    struct req *reqs;       /* ring of in-flight requests, FIFO */
    unsigned rq_head, rq_count;

    uint64_t *keys;         /* ring of key ids asked for by in-flight gets */
    unsigned key_cap, key_head, key_count;

    /* reply parser */
    enum pstate ps;
    uint64_t data_left;
    unsigned crlf_seen;
    unsigned values_seen;   /* VALUEs seen for the head get */
    unsigned key_cursor;    /* next expected key slot (offset in head get) */
};

enum phase { PH_PREFILL, PH_LOAD };

struct thread {
    int idx;
    pthread_t tid;
    int epfd;
    struct conn **conns;
    int nconns;
    int nalive;             /* connections not given up on */
    struct rng rng;
    uint64_t now;

    enum phase phase;
    bool stopping;
    uint64_t inflight;
    uint64_t issued;        /* commands issued in this phase */
    uint64_t quota;         /* load phase op budget for -n; 0 = none */
    uint64_t seq_next, seq_end;   /* prefill key range */
    uint64_t drain_deadline;

    struct stats pre;       /* prefill phase */
    struct stats st;        /* load phase, measured window */
    struct stats *cur;      /* where completions are counted */
};

static struct addrinfo *g_addr;
static char *g_value;                  /* value bytes for sets */
static volatile sig_atomic_t g_interrupted;
static pthread_barrier_t g_barrier;
static uint64_t g_t_start, g_t_measure, g_t_end;   /* load phase clock */
static int g_desync_reports;
static pthread_mutex_t g_report_lock = PTHREAD_MUTEX_INITIALIZER;

static int open_conn(void)
{
    for (struct addrinfo *ai = g_addr; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            int fl = fcntl(fd, F_GETFL);
            fcntl(fd, F_SETFL, fl | O_NONBLOCK);
            return fd;
        }
        int e = errno;
        close(fd);
        errno = e;
    }
    return -1;
}

static void conn_watch(struct conn *c)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = c;
    if (epoll_ctl(c->th->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
}

static void conn_reset_state(struct conn *c)
{
    c->rpos = c->rlen = 0;
    c->wpos = c->wlen = 0;
    c->rq_head = c->rq_count = 0;
    c->key_head = c->key_count = 0;
    c->ps = P_LINE;
    c->data_left = 0;
    c->crlf_seen = 0;
    c->values_seen = 0;
    c->key_cursor = 0;
}

/* A connection broke (desync, EOF, socket error): everything in flight on
 * it is lost and counted as failed; then try to open a fresh one. */
static void conn_fail(struct conn *c, const char *why, bool desync)
{
    struct thread *th = c->th;
    if (desync)
        th->cur->desyncs++;
    th->cur->errors += c->rq_count;
    th->inflight -= c->rq_count;

    pthread_mutex_lock(&g_report_lock);
    if (g_desync_reports < 10) {
        fprintf(stderr, "mcload: conn %d: %s%s (%u in flight lost)\n", c->id,
                desync ? "protocol desync: " : "", why, c->rq_count);
    } else if (g_desync_reports == 10) {
        fprintf(stderr, "mcload: further connection errors not reported\n");
    }
    g_desync_reports++;
    pthread_mutex_unlock(&g_report_lock);

    close(c->fd);
    c->fd = -1;
    conn_reset_state(c);
    if (!g_interrupted && c->reconnects < MAX_RECONNECTS) {
        c->reconnects++;
        th->cur->reconnects++;
        c->fd = open_conn();
        if (c->fd >= 0) {
            conn_watch(c);
            return;
        }
    }
    c->dead = true;
    th->nalive--;
}

/* ------------------------------------------------------------------ */
/* Request generation                                                  */

static inline size_t fmt_key(char *dst, uint64_t id)
{
    memcpy(dst, opt.prefix, prefix_len);
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + id % 10);
        id /= 10;
    } while (id);
    while (n < 9)
        tmp[n++] = '0';
    char *p = dst + prefix_len;
    while (n)
        *p++ = tmp[--n];
    return (size_t)(p - dst);
}

static inline char *fmt_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static inline void wbuf_reserve(struct conn *c, size_t need)
{
    if (c->wlen + need <= c->wcap)
        return;
    if (c->wpos > 0) {
        memmove(c->wbuf, c->wbuf + c->wpos, c->wlen - c->wpos);
        c->wlen -= c->wpos;
        c->wpos = 0;
        if (c->wlen + need <= c->wcap)
            return;
    }
    size_t ncap = c->wcap * 2;
    while (ncap < c->wlen + need)
        ncap *= 2;
    char *nb = realloc(c->wbuf, ncap);
    if (!nb)
        die("out of memory");
    c->wbuf = nb;
    c->wcap = ncap;
}

static inline uint64_t pick_key(struct thread *th)
{
    uint64_t off;
    if (opt.hot > 0) {
        /* keys - 1 ordinary keys of weight 1 and the first of weight hot */
        uint64_t w = rng_below(&th->rng, opt.keys - 1 + opt.hot);
        off = w < opt.hot ? 0 : w - opt.hot + 1;
    } else if (opt.zipf > 0.0)
        off = zipf_key(&g_zipf, &th->rng, opt.keys);
    else
        off = rng_below(&th->rng, opt.keys);
    return opt.key_base + off;
}

static inline struct req *push_req(struct conn *c, enum req_type type, unsigned nkeys)
{
    struct req *r = &c->reqs[(c->rq_head + c->rq_count) % (unsigned)opt.depth];
    c->rq_count++;
    r->type = (uint8_t)type;
    r->nkeys = (uint16_t)nkeys;
    r->key_pos = (c->key_head + c->key_count) % c->key_cap;
    r->t_sent = c->th->now;
    c->th->inflight++;
    c->th->issued++;
    return r;
}

static void gen_set(struct conn *c, uint64_t key)
{
    struct thread *th = c->th;
    uint32_t vlen = (uint32_t)rng_range(&th->rng, opt.vmin, opt.vmax);
    wbuf_reserve(c, 4 + prefix_len + 24 + 32 + vlen + 2);
    char *p = c->wbuf + c->wlen;
    memcpy(p, "set ", 4);
    p += 4;
    p += fmt_key(p, key);
    memcpy(p, " 0 0 ", 5);
    p += 5;
    p = fmt_u64(p, vlen);
    *p++ = '\r';
    *p++ = '\n';
    memcpy(p, g_value, vlen);
    p += vlen;
    *p++ = '\r';
    *p++ = '\n';
    c->wlen = (size_t)(p - c->wbuf);
    push_req(c, REQ_SET, 0);
}

static void gen_get(struct conn *c)
{
    struct thread *th = c->th;
    unsigned n = (unsigned)rng_range(&th->rng, opt.mget_min, opt.mget_max);
    wbuf_reserve(c, 5 + (size_t)n * (prefix_len + 24) + 2);
    struct req *r = push_req(c, REQ_GET, n);
    char *p = c->wbuf + c->wlen;
    memcpy(p, "get", 3);
    p += 3;
    unsigned pos = r->key_pos;
    for (unsigned i = 0; i < n; i++) {
        uint64_t k = pick_key(th);
        *p++ = ' ';
        p += fmt_key(p, k);
        c->keys[pos] = k;
        if (++pos == c->key_cap)
            pos = 0;
    }
    c->key_count += n;
    *p++ = '\r';
    *p++ = '\n';
    c->wlen = (size_t)(p - c->wbuf);
}

/* true if this thread may issue one more command */
static inline bool can_issue(struct thread *th)
{
    if (th->stopping || g_interrupted)
        return false;
    if (th->phase == PH_PREFILL)
        return th->seq_next < th->seq_end;
    if (th->quota && th->issued >= th->quota)
        return false;
    return true;
}

static void conn_fill(struct conn *c)
{
    struct thread *th = c->th;
    if (c->dead)
        return;
    th->now = now_ns();
    while (c->rq_count < (unsigned)opt.depth && can_issue(th)) {
        if (th->phase == PH_PREFILL) {
            gen_set(c, th->seq_next++);
        } else if (rng_below(&th->rng, opt.get_w + opt.set_w) < opt.get_w) {
            gen_get(c);
        } else {
            gen_set(c, pick_key(th));
        }
    }
}

static void conn_flush(struct conn *c)
{
    while (!c->dead && c->wpos < c->wlen) {
        ssize_t n = send(c->fd, c->wbuf + c->wpos, c->wlen - c->wpos, MSG_NOSIGNAL);
        if (n > 0) {
            c->wpos += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        } else {
            conn_fail(c, n < 0 ? strerror(errno) : "short send", false);
            return;
        }
    }
    if (c->wpos == c->wlen)
        c->wpos = c->wlen = 0;
}

/* ------------------------------------------------------------------ */
/* Reply parsing                                                       */

static void complete_head(struct conn *c, bool failed)
{
    struct thread *th = c->th;
    struct req *r = &c->reqs[c->rq_head];
    struct stats *s = th->cur;

    /* In the load phase only completions inside the measured window count. */
    if (th->phase == PH_LOAD && opt.duration > 0.0 &&
        (th->now < g_t_measure || th->now >= g_t_end))
        s = NULL;

    if (s) {
        s->ops++;
        if (failed)
            s->errors++;
        if (r->type == REQ_GET) {
            s->gets++;
            s->get_keys += r->nkeys;
            if (!failed) {
                s->hits += c->values_seen;
                s->misses += r->nkeys - c->values_seen;
            }
        } else {
            s->sets++;
        }
        hist_add(&s->lat, th->now - r->t_sent);
    }

    if (r->type == REQ_GET) {
        c->key_head = (c->key_head + r->nkeys) % c->key_cap;
        c->key_count -= r->nkeys;
    }
    c->rq_head = (c->rq_head + 1) % (unsigned)opt.depth;
    c->rq_count--;
    th->inflight--;
    c->values_seen = 0;
    c->key_cursor = 0;
}

static bool line_is(const char *line, size_t len, const char *word)
{
    size_t wl = strlen(word);
    return len == wl && memcmp(line, word, wl) == 0;
}

static bool line_starts(const char *line, size_t len, const char *word)
{
    size_t wl = strlen(word);
    return len >= wl && memcmp(line, word, wl) == 0;
}

static bool is_error_line(const char *line, size_t len)
{
    return line_is(line, len, "ERROR") ||
           line_starts(line, len, "ERROR ") ||
           line_starts(line, len, "CLIENT_ERROR") ||
           line_starts(line, len, "SERVER_ERROR");
}

/* parse an unsigned decimal of [p, end); returns pointer past it or NULL */
static const char *parse_u64(const char *p, const char *end, uint64_t *out)
{
    if (p >= end || *p < '0' || *p > '9')
        return NULL;
    uint64_t v = 0;
    while (p < end && *p >= '0' && *p <= '9') {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return NULL;
        v = v * 10 + d;
        p++;
    }
    *out = v;
    return p;
}

/* Is key id `id` among the keys of the head get?  Memcached answers in
 * request order, so look forward from the cursor first, then anywhere. */
static bool match_key(struct conn *c, const struct req *r, uint64_t id)
{
    for (unsigned i = c->key_cursor; i < r->nkeys; i++) {
        if (c->keys[(r->key_pos + i) % c->key_cap] == id) {
            c->key_cursor = i + 1;
            return true;
        }
    }
    for (unsigned i = 0; i < c->key_cursor && i < r->nkeys; i++)
        if (c->keys[(r->key_pos + i) % c->key_cap] == id)
            return true;
    return false;
}

/* "VALUE <key> <flags> <bytes>[ <cas>]" ; returns false on malformed */
static bool parse_value_line(struct conn *c, const struct req *r,
                             const char *line, size_t len, const char **why)
{
    const char *p = line + 6, *end = line + len;
    const char *ks = p;
    while (p < end && *p != ' ')
        p++;
    size_t klen = (size_t)(p - ks);
    if (klen == 0 || klen > MAX_KEY_LEN || p >= end) {
        *why = "bad key in VALUE line";
        return false;
    }
    uint64_t id;
    if (klen <= prefix_len || memcmp(ks, opt.prefix, prefix_len) != 0 ||
        parse_u64(ks + prefix_len, ks + klen, &id) != ks + klen) {
        *why = "VALUE for a key we never asked for";
        return false;
    }
    if (!match_key(c, r, id)) {
        *why = "VALUE for a key not in this request";
        return false;
    }
    uint64_t flags, bytes, cas;
    p++;
    p = parse_u64(p, end, &flags);
    if (!p || p >= end || *p != ' ' || flags > UINT32_MAX) {
        *why = "bad flags in VALUE line";
        return false;
    }
    p = parse_u64(p + 1, end, &bytes);
    if (!p || bytes > MAX_VALUE) {
        *why = "bad length in VALUE line";
        return false;
    }
    if (p < end) {
        if (*p != ' ' || !(p = parse_u64(p + 1, end, &cas)) || p != end) {
            *why = "trailing junk in VALUE line";
            return false;
        }
    }
    c->data_left = bytes;
    return true;
}

/* Parse whatever complete reply pieces sit in rbuf.  Returns -1 if the
 * connection was failed (desync). */
static int conn_parse(struct conn *c)
{
    const char *why = NULL;
    while (c->rpos < c->rlen) {
        if (c->ps == P_DATA) {
            size_t avail = c->rlen - c->rpos;
            size_t take = avail < c->data_left ? avail : (size_t)c->data_left;
            c->rpos += take;
            c->data_left -= take;
            if (c->data_left == 0) {
                c->ps = P_DATA_END;
                c->crlf_seen = 0;
            }
            continue;
        }
        if (c->ps == P_DATA_END) {
            char ch = c->rbuf[c->rpos++];
            if (ch != (c->crlf_seen == 0 ? '\r' : '\n')) {
                why = "value data not followed by CRLF (length mismatch)";
                goto desync;
            }
            if (++c->crlf_seen == 2)
                c->ps = P_LINE;
            continue;
        }

        /* P_LINE */
        char *start = c->rbuf + c->rpos;
        char *nl = memchr(start, '\n', c->rlen - c->rpos);
        if (!nl) {
            if (c->rlen - c->rpos > MAX_LINE) {
                why = "reply line too long";
                goto desync;
            }
            break;
        }
        size_t len = (size_t)(nl - start);
        c->rpos += len + 1;
        if (len == 0 || start[len - 1] != '\r') {
            why = "reply line not terminated by CRLF";
            goto desync;
        }
        len--;
        if (c->rq_count == 0) {
            why = "reply with no request outstanding";
            goto desync;
        }
        struct req *r = &c->reqs[c->rq_head];
        if (r->type == REQ_GET) {
            if (line_is(start, len, "END")) {
                complete_head(c, false);
            } else if (line_starts(start, len, "VALUE ")) {
                if (c->values_seen >= r->nkeys) {
                    why = "more VALUEs than keys requested";
                    goto desync;
                }
                if (!parse_value_line(c, r, start, len, &why))
                    goto desync;
                c->values_seen++;
                c->ps = c->data_left ? P_DATA : P_DATA_END;
                c->crlf_seen = 0;
            } else if (is_error_line(start, len)) {
                complete_head(c, true);
            } else {
                why = "unexpected line in get reply";
                goto desync;
            }
        } else {
            if (line_is(start, len, "STORED")) {
                complete_head(c, false);
            } else if (is_error_line(start, len) ||
                       line_is(start, len, "NOT_STORED") ||
                       line_is(start, len, "EXISTS") ||
                       line_is(start, len, "NOT_FOUND")) {
                complete_head(c, true);
            } else {
                why = "unexpected line in set reply";
                goto desync;
            }
        }
    }
    if (c->rpos == c->rlen) {
        c->rpos = c->rlen = 0;
    } else if (c->rpos > 0 && RBUF_SIZE - c->rlen < MAX_LINE + 1) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    return 0;

desync:
    conn_fail(c, why, true);
    return -1;
}

static void conn_read(struct conn *c)
{
    while (!c->dead) {
        size_t space = RBUF_SIZE - c->rlen;
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, space, 0);
        if (n > 0) {
            c->rlen += (size_t)n;
            c->th->now = now_ns();
            if (conn_parse(c) < 0)
                return;
            if ((size_t)n < space)
                return;     /* socket drained; edge trigger will tell us more */
        } else if (n == 0) {
            conn_fail(c, "server closed the connection", false);
            return;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else {
            conn_fail(c, strerror(errno), false);
            return;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Worker threads                                                      */

static void run_phase(struct thread *th, enum phase ph)
{
    struct epoll_event evs[MAX_EVENTS];

    th->phase = ph;
    th->stopping = false;
    th->issued = 0;
    th->cur = ph == PH_PREFILL ? &th->pre : &th->st;
    th->now = now_ns();

    for (int i = 0; i < th->nconns; i++) {
        conn_fill(th->conns[i]);
        conn_flush(th->conns[i]);
    }

    for (;;) {
        th->now = now_ns();
        if (!th->stopping) {
            bool stop = g_interrupted != 0;
            if (ph == PH_LOAD && opt.duration > 0.0 && th->now >= g_t_end)
                stop = true;
            if (!can_issue(th))
                stop = true;
            if (stop) {
                th->stopping = true;
                th->drain_deadline = th->now + (uint64_t)(opt.drain * 1e9);
            }
        }
        if (th->stopping) {
            if (th->inflight == 0)
                break;
            if (th->now >= th->drain_deadline) {
                /* replies that never came are failures */
                for (int i = 0; i < th->nconns; i++) {
                    struct conn *c = th->conns[i];
                    if (!c->dead && c->rq_count)
                        conn_fail(c, "no reply before the drain timeout", false);
                }
                info("thread %d: gave up waiting for replies after %.1fs", th->idx, opt.drain);
                break;
            }
        }

        if (th->nalive == 0) {
            info("thread %d: no connections left", th->idx);
            break;
        }

        int n = epoll_wait(th->epfd, evs, MAX_EVENTS, 5);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->dead)
                continue;
            uint32_t e = evs[i].events;
            if (e & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
                conn_read(c);
            if (c->dead)
                continue;
            conn_fill(c);
            conn_flush(c);
        }
    }
}

static void *thread_main(void *arg)
{
    struct thread *th = arg;
    pthread_barrier_wait(&g_barrier);          /* go: prefill */
    if (opt.prefill)
        run_phase(th, PH_PREFILL);
    pthread_barrier_wait(&g_barrier);          /* prefill done */
    pthread_barrier_wait(&g_barrier);          /* go: load */
    if (!opt.prefill_only)
        run_phase(th, PH_LOAD);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Command line                                                        */

static void usage(FILE *f)
{
    fprintf(f,
"usage: mcload [options]\n"
"Pipelined load generator for memcached's ASCII protocol.\n"
"\n"
"target:\n"
"  -s HOST      server address (default 127.0.0.1)\n"
"  -p PORT      server port (default 11211)\n"
"concurrency:\n"
"  -t N         worker threads, each with its own epoll loop (default 1)\n"
"  -c N         connections in total, spread over the threads (default 1)\n"
"  -d N         requests kept in flight per connection (default 1)\n"
"keys and values:\n"
"  -k N         key space size (default 100000)\n"
"  -b N         first key id (default 1); keys are PREFIX + 9-digit id,\n"
"               e.g. key:000000001\n"
"  -x PREFIX    key prefix (default \"key:\")\n"
"  -z THETA     zipfian key popularity with exponent THETA (> 0);\n"
"               default 0 = uniform\n"
"  -H FACTOR    one hot key: the first key id is read and written FACTOR\n"
"               times as often as each other key (e.g. -k 501 -H 10)\n"
"  -v N|MIN-MAX value size in bytes, fixed or uniform in range (default 32)\n"
"workload:\n"
"  -r G:S       get:set ratio (default 90:10; 100:0 = gets only)\n"
"  -m MIN-MAX   keys per get, uniform in range: multi-get (default 1)\n"
"  -D SEC       run for SEC seconds (default 5 when -n is not given)\n"
"  -n N         run until N commands have completed instead\n"
"  -w SEC       warm-up seconds before the measured -D window (default 0)\n"
"  -P           prefill: set every key of the key space once, then run\n"
"  -O           prefill only: set keys b .. b+k-1 once and exit\n"
"other:\n"
"  -T SEC       seconds to wait for outstanding replies at the end (default 2)\n"
"  -S SEED      random seed (default: from the clock)\n"
"  -C PID       also report the CPU use of process PID (the server) over\n"
"               the measured window: server_cpu (cores) and\n"
"               ops_per_server_cpu_s; client_cpu (this program) and\n"
"               other_cpu (all other processes) are always reported\n"
"  -q           quiet: no progress messages on stderr\n"
"  -h           this help\n"
"\n"
"Output: one line on stdout of key=value pairs:\n"
"  ops ops_per_sec gets sets get_keys keys_per_sec hits misses hit_rate\n"
"  errors desyncs reconnects p50_us p90_us p99_us p999_us max_us elapsed_s\n"
"  threads conns depth client_cpu [server_cpu ops_per_server_cpu_s] other_cpu\n"
"A multi-get counts as one op; get_keys/keys_per_sec count its keys.\n"
"Latency is per command, from queueing it to its last reply byte.\n"
"With -P, a line for the prefill phase (phase=prefill) goes to stderr.\n"
"Exit status: 0 ok, 1 usage or setup failure, 3 the run saw errors.\n");
}

static uint64_t parse_num(const char *s, const char *what, uint64_t lo, uint64_t hi)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
        die("bad %s '%s' (want %llu..%llu)", what, s,
            (unsigned long long)lo, (unsigned long long)hi);
    return (uint64_t)v;
}

static double parse_dbl(const char *s, const char *what, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        die("bad %s '%s' (want %g..%g)", what, s, lo, hi);
    return v;
}

static void parse_range(const char *s, const char *what, uint64_t lo, uint64_t hi,
                        uint64_t *min, uint64_t *max)
{
    char buf[64];
    if (strlen(s) >= sizeof(buf))
        die("bad %s '%s'", what, s);
    strcpy(buf, s);
    char *dash = strchr(buf, '-');
    if (dash) {
        *dash = '\0';
        *min = parse_num(buf, what, lo, hi);
        *max = parse_num(dash + 1, what, lo, hi);
        if (*max < *min)
            die("bad %s '%s': range upside down", what, s);
    } else {
        *min = *max = parse_num(buf, what, lo, hi);
    }
}

static void parse_args(int argc, char **argv)
{
    int ch;
    bool have_d = false;
    uint64_t a, b;
    while ((ch = getopt(argc, argv, "s:p:t:c:d:k:b:x:z:H:v:r:m:D:n:w:POT:S:C:qh")) != -1) {
        switch (ch) {
        case 's': opt.host = optarg; break;
        case 'p': opt.port = optarg; break;
        case 't': opt.threads = (int)parse_num(optarg, "thread count", 1, 256); break;
        case 'c': opt.conns = (int)parse_num(optarg, "connection count", 1, 100000); break;
        case 'd': opt.depth = (int)parse_num(optarg, "pipeline depth", 1, MAX_DEPTH); break;
        case 'k': opt.keys = parse_num(optarg, "key count", 1, 1000000000000ull); break;
        case 'b': opt.key_base = parse_num(optarg, "first key id", 0, 1000000000000ull); break;
        case 'x': opt.prefix = optarg; break;
        case 'z': opt.zipf = parse_dbl(optarg, "zipf theta", 0.0, 10.0); break;
        case 'H': opt.hot = parse_num(optarg, "hot key factor", 1, 1000000000ull); break;
        case 'v':
            parse_range(optarg, "value size", 0, MAX_VALUE, &a, &b);
            opt.vmin = (uint32_t)a;
            opt.vmax = (uint32_t)b;
            break;
        case 'r': {
            const char *colon = strchr(optarg, ':');
            if (!colon)
                die("bad ratio '%s' (want GET:SET, e.g. 90:10)", optarg);
            char g[32];
            size_t gl = (size_t)(colon - optarg);
            if (gl == 0 || gl >= sizeof(g))
                die("bad ratio '%s'", optarg);
            memcpy(g, optarg, gl);
            g[gl] = '\0';
            opt.get_w = (unsigned)parse_num(g, "get weight", 0, 1000000);
            opt.set_w = (unsigned)parse_num(colon + 1, "set weight", 0, 1000000);
            if (opt.get_w + opt.set_w == 0)
                die("ratio '%s' has no operations", optarg);
            break;
        }
        case 'm':
            parse_range(optarg, "keys per get", 1, MAX_MGET, &a, &b);
            opt.mget_min = (unsigned)a;
            opt.mget_max = (unsigned)b;
            break;
        case 'D': opt.duration = parse_dbl(optarg, "duration", 0.001, 86400.0); have_d = true; break;
        case 'n': opt.nops = parse_num(optarg, "op count", 1, UINT64_MAX); break;
        case 'w': opt.warmup = parse_dbl(optarg, "warm-up", 0.0, 3600.0); break;
        case 'P': opt.prefill = true; break;
        case 'O': opt.prefill = opt.prefill_only = true; break;
        case 'T': opt.drain = parse_dbl(optarg, "drain timeout", 0.0, 3600.0); break;
        case 'S': opt.seed = parse_num(optarg, "seed", 0, UINT64_MAX); break;
        case 'C':
            opt.server_pid = (long)parse_num(optarg, "server pid", 1, 4194304);
            if (proc_cpu_seconds(opt.server_pid) < 0)
                die("cannot read /proc/%ld/stat", opt.server_pid);
            break;
        case 'q': opt.quiet = true; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(1);
        }
    }
    if (optind < argc)
        die("unexpected argument '%s' (see -h)", argv[optind]);
    if (have_d && opt.nops)
        die("give either -D or -n, not both");
    if (!have_d && !opt.nops)
        opt.duration = 5.0;
    if (opt.nops)
        opt.duration = 0.0;
    if (opt.threads > opt.conns)
        opt.threads = opt.conns;
    if (opt.hot > 0 && opt.zipf > 0.0)
        die("give either -H or -z, not both");
    if (opt.hot > 0 && opt.keys < 2)
        die("-H needs at least 2 keys (-k)");
    prefix_len = strlen(opt.prefix);
    if (prefix_len + 12 > MAX_KEY_LEN)
        die("key prefix too long");
    for (const char *p = opt.prefix; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            die("key prefix may not contain spaces or control characters");
    if (opt.seed == 0)
        opt.seed = now_ns() ^ ((uint64_t)getpid() << 32);
}

static void raise_nofile(int need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    rlim_t want = (rlim_t)need;
    if (rl.rlim_cur >= want)
        return;
    if (rl.rlim_max < want) {
        struct rlimit r2 = { want, want };
        if (setrlimit(RLIMIT_NOFILE, &r2) == 0)
            return;
        want = rl.rlim_max;
    }
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || want < (rlim_t)need)
        fprintf(stderr, "mcload: warning: could only raise the open file limit to %llu, "
                "%d wanted\n", (unsigned long long)want, need);
}

static void on_signal(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

/* CPU seconds used so far by process `pid` (from /proc), or -1 */
static double proc_cpu_seconds(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1.0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* fields after the last ')': state(3) ... utime(14) stime(15) */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1.0;
    unsigned long long ut = 0, st = 0;
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1.0;
    long hz = sysconf(_SC_CLK_TCK);
    return (double)(ut + st) / (double)(hz > 0 ? hz : 100);
}

static double self_cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0)
        return -1.0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* CPU seconds all processes on the machine have used (user, nice,
 * system, steal; not irq/softirq time, which our own loopback traffic
 * inflates and which no process is charged for), or -1 */
static double machine_cpu_seconds(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1.0;
    unsigned long long v[8] = { 0 };
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
                   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 8)
        return -1.0;
    long hz = sysconf(_SC_CLK_TCK);
    return (double)(v[0] + v[1] + v[2] + v[7]) / (double)(hz > 0 ? hz : 100);
}

struct cpu_sample { uint64_t wall; double self, server, machine; };

static void cpu_sample(struct cpu_sample *cs)
{
    cs->wall = now_ns();
    cs->self = self_cpu_seconds();
    cs->server = opt.server_pid ? proc_cpu_seconds(opt.server_pid) : -1.0;
    cs->machine = machine_cpu_seconds();
}

/* sleep until CLOCK_MONOTONIC reaches t (ns) or we are interrupted */
static void sleep_until(uint64_t t)
{
    while (!g_interrupted) {
        uint64_t now = now_ns();
        if (now >= t)
            return;
        uint64_t d = t - now;
        if (d > 50000000)
            d = 50000000;
        struct timespec ts = { (time_t)(d / 1000000000u), (long)(d % 1000000000u) };
        nanosleep(&ts, NULL);
    }
}

static struct cpu_sample g_cpu0, g_cpu1;
static bool g_have_cpu;

static void print_cpu(FILE *f, uint64_t ops)
{
    if (!g_have_cpu || g_cpu1.wall <= g_cpu0.wall)
        return;
    double wall = (double)(g_cpu1.wall - g_cpu0.wall) / 1e9;
    double client = -1.0, server = -1.0;
    if (g_cpu0.self >= 0 && g_cpu1.self >= 0) {
        client = (g_cpu1.self - g_cpu0.self) / wall;
        fprintf(f, " client_cpu=%.2f", client);
    }
    if (g_cpu0.server >= 0 && g_cpu1.server >= 0) {
        double used = g_cpu1.server - g_cpu0.server;
        server = used / wall;
        fprintf(f, " server_cpu=%.2f ops_per_server_cpu_s=%.0f", server,
                used > 0 ? (double)ops / used : 0.0);
    }
    if (g_cpu0.machine >= 0 && g_cpu1.machine >= 0 && client >= 0) {
        /* what everything else on the machine used meanwhile */
        double other = (g_cpu1.machine - g_cpu0.machine) / wall - client -
                       (server >= 0 ? server : 0.0);
        fprintf(f, " other_cpu=%.2f", other > 0 ? other : 0.0);
    }
}

static void print_summary(FILE *f, const char *phase, const struct stats *s, double secs)
{
    double rate = secs > 0 ? (double)s->ops / secs : 0.0;
    double krate = secs > 0 ? (double)s->get_keys / secs : 0.0;
    double hr = s->get_keys ? (double)s->hits / (double)s->get_keys : 0.0;
    fprintf(f,
            "%s%s%sops=%llu ops_per_sec=%.0f gets=%llu sets=%llu get_keys=%llu "
            "keys_per_sec=%.0f hits=%llu misses=%llu hit_rate=%.4f errors=%llu "
            "desyncs=%llu reconnects=%llu p50_us=%.1f p90_us=%.1f p99_us=%.1f "
            "p999_us=%.1f max_us=%.1f elapsed_s=%.3f threads=%d conns=%d depth=%d",
            phase ? "phase=" : "", phase ? phase : "", phase ? " " : "",
            (unsigned long long)s->ops, rate,
            (unsigned long long)s->gets, (unsigned long long)s->sets,
            (unsigned long long)s->get_keys, krate,
            (unsigned long long)s->hits, (unsigned long long)s->misses, hr,
            (unsigned long long)s->errors, (unsigned long long)s->desyncs,
            (unsigned long long)s->reconnects,
            hist_pct(&s->lat, 0.50) / 1e3, hist_pct(&s->lat, 0.90) / 1e3,
            hist_pct(&s->lat, 0.99) / 1e3, hist_pct(&s->lat, 0.999) / 1e3,
            (double)s->lat.max / 1e3, secs, opt.threads, opt.conns, opt.depth);
    if (!phase)
        print_cpu(f, s->ops);
    fputc('\n', f);
    fflush(f);
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    raise_nofile(opt.conns + opt.threads + 64);

    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(opt.host, opt.port, &hints, &g_addr);
    if (gai)
        die("cannot resolve %s:%s: %s", opt.host, opt.port, gai_strerror(gai));

    if (opt.zipf > 0.0)
        zipf_init(&g_zipf, opt.keys, opt.zipf);

    g_value = xmalloc(opt.vmax + 1);
    for (uint32_t i = 0; i < opt.vmax; i++)
        g_value[i] = (char)('a' + i % 26);

    struct thread *ths = xcalloc((size_t)opt.threads, sizeof(*ths));
    for (int t = 0; t < opt.threads; t++) {
        struct thread *th = &ths[t];
        th->idx = t;
        th->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (th->epfd < 0)
            die("epoll_create1: %s", strerror(errno));
        th->nconns = opt.conns / opt.threads + (t < opt.conns % opt.threads);
        th->conns = xcalloc((size_t)th->nconns, sizeof(*th->conns));
        th->nalive = th->nconns;
        uint64_t sx = opt.seed + (uint64_t)t * 0x632be59bd9b4e019ull;
        rng_seed(&th->rng, splitmix64(&sx));
        if (opt.nops)
            th->quota = opt.nops / (uint64_t)opt.threads +
                        ((uint64_t)t < opt.nops % (uint64_t)opt.threads);
        th->seq_next = opt.key_base + opt.keys * (uint64_t)t / (uint64_t)opt.threads;
        th->seq_end = opt.key_base + opt.keys * (uint64_t)(t + 1) / (uint64_t)opt.threads;
    }

    unsigned key_cap = (unsigned)opt.depth * opt.mget_max;
    for (int i = 0; i < opt.conns; i++) {
        struct thread *th = &ths[i % opt.threads];
        struct conn *c = xcalloc(1, sizeof(*c));
        c->id = i;
        c->th = th;
        c->fd = open_conn();
        if (c->fd < 0)
            die("cannot connect to %s port %s (connection %d): %s",
                opt.host, opt.port, i, strerror(errno));
        c->rbuf = xmalloc(RBUF_SIZE);
        c->wcap = 4096;
        c->wbuf = xmalloc(c->wcap);
        c->reqs = xcalloc((size_t)opt.depth, sizeof(*c->reqs));
        c->key_cap = key_cap;
        c->keys = xcalloc(key_cap, sizeof(*c->keys));
        conn_reset_state(c);
        th->conns[i / opt.threads] = c;
        conn_watch(c);
    }

    if (pthread_barrier_init(&g_barrier, NULL, (unsigned)opt.threads + 1))
        die("pthread_barrier_init failed");
    for (int t = 0; t < opt.threads; t++)
        if (pthread_create(&ths[t].tid, NULL, thread_main, &ths[t]))
            die("pthread_create failed");

    struct stats *total = xcalloc(1, sizeof(*total));
    int rc = 0;

    uint64_t t0 = now_ns();
    pthread_barrier_wait(&g_barrier);           /* go: prefill */
    pthread_barrier_wait(&g_barrier);           /* prefill done */
    if (opt.prefill) {
        double secs = (double)(now_ns() - t0) / 1e9;
        for (int t = 0; t < opt.threads; t++)
            stats_merge(total, &ths[t].pre);
        if (total->errors || total->desyncs)
            rc = 3;
        if (opt.prefill_only)
            print_summary(stdout, NULL, total, secs);
        else if (!opt.quiet)
            print_summary(stderr, "prefill", total, secs);
        memset(total, 0, sizeof(*total));
    }

    g_t_start = now_ns();
    g_t_measure = g_t_start + (uint64_t)(opt.warmup * 1e9);
    g_t_end = g_t_measure + (uint64_t)(opt.duration * 1e9);
    pthread_barrier_wait(&g_barrier);           /* go: load */
    if (!opt.prefill_only) {
        /* CPU use over the measured window (whole run with -n) */
        g_have_cpu = true;
        if (opt.duration > 0.0) {
            sleep_until(g_t_measure);
            cpu_sample(&g_cpu0);
            sleep_until(g_t_end);
            cpu_sample(&g_cpu1);
        } else {
            cpu_sample(&g_cpu0);
        }
    }
    for (int t = 0; t < opt.threads; t++)
        pthread_join(ths[t].tid, NULL);
    if (!opt.prefill_only && opt.duration <= 0.0)
        cpu_sample(&g_cpu1);

    if (!opt.prefill_only) {
        uint64_t t1 = now_ns();
        double secs;
        if (opt.duration > 0.0) {
            uint64_t end = t1 < g_t_end ? t1 : g_t_end;   /* interrupted early? */
            secs = end > g_t_measure ? (double)(end - g_t_measure) / 1e9 : 0.0;
        } else {
            secs = (double)(t1 - g_t_start) / 1e9;
        }
        for (int t = 0; t < opt.threads; t++)
            stats_merge(total, &ths[t].st);
        if (total->errors || total->desyncs)
            rc = 3;
        print_summary(stdout, NULL, total, secs);
    }
    if (g_interrupted)
        info("interrupted");

    for (int t = 0; t < opt.threads; t++) {
        struct thread *th = &ths[t];
        for (int i = 0; i < th->nconns; i++) {
            struct conn *c = th->conns[i];
            if (c->fd >= 0)
                close(c->fd);
            free(c->rbuf);
            free(c->wbuf);
            free(c->reqs);
            free(c->keys);
            free(c);
        }
        free(th->conns);
        close(th->epfd);
    }
    free(ths);
    free(total);
    free(g_value);
    freeaddrinfo(g_addr);
    pthread_barrier_destroy(&g_barrier);
    return rc;
}
