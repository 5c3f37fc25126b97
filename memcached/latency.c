/* latency.c: the per-command latency histograms: each worker's own slot
 * (written by it alone with relaxed atomics), the command names and
 * bucket bounds, and the sums stats and the exporter read. */
#include "config.h"
#include "latency.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Atomic bool latency_on;

/* One command's histogram in one worker's slot. */
struct lat_hist {
    _Atomic uint64_t count;
    _Atomic uint64_t sum_ns;
    _Atomic uint64_t buckets[LATENCY_BUCKETS];
};

/* One worker's histograms. */
struct lat_slot {
    struct lat_hist cmd[LAT_NCMDS];
};

/* Slots for the first LAT_STATIC_SLOTS recording threads; a thread beyond
 * them allocates its slot once (never freed: a reader may sum it at any
 * time). nslots counts the slots claimed; extra[] holds the allocated. */
#define LAT_STATIC_SLOTS 64
#define LAT_MAX_SLOTS 1024
static struct lat_slot slots[LAT_STATIC_SLOTS];
static struct lat_slot *_Atomic extra[LAT_MAX_SLOTS - LAT_STATIC_SLOTS];
static _Atomic int nslots;
static __thread struct lat_slot *mine;
static __thread bool mine_claimed;

/* stats reset: the raw sums at the last reset, subtracted from every sum
 * (so no thread but a slot's owner ever writes the slot). Under lock. */
static struct latency_totals baseline[LAT_NCMDS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const names[LAT_NCMDS] = {
#define LATENCY_CMD_NAME(id, name) name,
    LATENCY_COMMANDS(LATENCY_CMD_NAME)
#undef LATENCY_CMD_NAME
};

int latency_ncmds(void) { return LAT_NCMDS; }

const char *latency_cmd_name(int cmd)
{
    return cmd >= 0 && cmd < LAT_NCMDS ? names[cmd] : NULL;
}

void latency_set_enabled(bool on)
{
    atomic_store_explicit(&latency_on, on, memory_order_relaxed);
}

double latency_bucket_le_seconds(int b)
{
    if (b <= 0)
        return 1e-6;
    if (b >= LATENCY_BUCKETS - 1)
        return INFINITY;
    int k = (b - 1) / 4, j = (b - 1) % 4 + 1;
    return (double)((4 + j) << k) / 4.0 * 1e-6;
}

int latency_bucket_of(uint64_t ns)
{
    if (ns <= 1000)
        return 0;
    /* In units of 250 ns, rounded up, less one: bucket (k, j) holds
     * m in [2^k (3 + j), 2^k (4 + j) - 1], and m >= 4 here. */
    uint64_t m = (ns + 249) / 250 - 1;
    int k = 63 - __builtin_clzll(m) - 2;
    if (k >= 20)
        return LATENCY_BUCKETS - 1;
    return 1 + 4 * k + (int)(m >> k) - 4;
}

int64_t latency_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + 1;
}

static struct lat_slot *slot_at(int i)
{
    return i < LAT_STATIC_SLOTS ? &slots[i]
                                : atomic_load_explicit(&extra[i - LAT_STATIC_SLOTS],
                                                       memory_order_acquire);
}

/* The calling thread's slot, claimed on its first use; NULL when none is
 * left (the thread then records nothing). */
static struct lat_slot *claim_slot(void)
{
    mine_claimed = true;
    int i = atomic_fetch_add(&nslots, 1);
    if (i < LAT_STATIC_SLOTS)
        return mine = &slots[i];
    if (i >= LAT_MAX_SLOTS)
        return mine = NULL;    /* records nothing */
    struct lat_slot *s = calloc(1, sizeof(*s));
    atomic_store_explicit(&extra[i - LAT_STATIC_SLOTS], s, memory_order_release);
    return mine = s;
}

static inline void add1(_Atomic uint64_t *v, uint64_t n)
{
    atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

void latency_record(int cmd, int64_t start_ns)
{
    int64_t d = latency_now_ns() - start_ns;
    uint64_t ns = d > 0 ? (uint64_t)d : 0;
    struct lat_slot *s = mine;
    if (s == NULL) {
        if (mine_claimed || (s = claim_slot()) == NULL)
            return;
    }
    struct lat_hist *h = &s->cmd[cmd];
    add1(&h->count, 1);
    add1(&h->sum_ns, ns);
    add1(&h->buckets[latency_bucket_of(ns)], 1);
}

/* The raw sums of cmd over every claimed slot. Needs cmd in range. */
static void sum_raw(int cmd, struct latency_totals *out)
{
    memset(out, 0, sizeof(*out));
    int n = atomic_load(&nslots);
    if (n > LAT_MAX_SLOTS)
        n = LAT_MAX_SLOTS;
    for (int i = 0; i < n; i++) {
        struct lat_slot *s = slot_at(i);
        if (s == NULL)
            continue;       /* being allocated: nothing recorded yet */
        const struct lat_hist *h = &s->cmd[cmd];
        out->count += atomic_load_explicit(&h->count, memory_order_relaxed);
        out->sum_ns += atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
        for (int b = 0; b < LATENCY_BUCKETS; b++)
            out->buckets[b] += atomic_load_explicit(&h->buckets[b], memory_order_relaxed);
    }
}

void latency_sum(int cmd, struct latency_totals *out)
{
    if (cmd < 0 || cmd >= LAT_NCMDS) {
        memset(out, 0, sizeof(*out));
        return;
    }
    pthread_mutex_lock(&lock);
    sum_raw(cmd, out);
    const struct latency_totals *z = &baseline[cmd];
    out->count -= z->count;
    out->sum_ns -= z->sum_ns;
    for (int b = 0; b < LATENCY_BUCKETS; b++)
        out->buckets[b] -= z->buckets[b];
    pthread_mutex_unlock(&lock);
}

void latency_reset(void)
{
    pthread_mutex_lock(&lock);
    for (int c = 0; c < LAT_NCMDS; c++)
        sum_raw(c, &baseline[c]);
    pthread_mutex_unlock(&lock);
}

/* Whether the line (len bytes, NUL after them) starts with the token s. */
#define TOKEN_IS(s) (len >= sizeof(s) - 1 && memcmp(line, (s), sizeof(s) - 1) == 0 && \
                     (line[sizeof(s) - 1] == ' ' || len == sizeof(s) - 1))

int latency_cmd_text(const char *line, size_t len)
{
    if (len < 2)
        return LAT_OTHER;
    switch (line[0]) {
    case 'g':
        if (TOKEN_IS("get")) return LAT_GET;
        if (TOKEN_IS("gets")) return LAT_GETS;
        if (TOKEN_IS("gat")) return LAT_GAT;
        if (TOKEN_IS("gats")) return LAT_GATS;
        break;
    case 'm':
        if (len > 2 && line[2] != ' ')
            break;
        switch (line[1]) {
        case 'g': return LAT_MG;
        case 's': return LAT_MS;
        case 'd': return LAT_MD;
        case 'a': return LAT_MA;
        case 'n': return LAT_MN;
        case 'e': return LAT_ME;
        }
        break;
    case 's':
        if (TOKEN_IS("set")) return LAT_SET;
        if (TOKEN_IS("stats")) return LAT_STATS;
        break;
    case 'a':
        if (TOKEN_IS("add")) return LAT_ADD;
        if (TOKEN_IS("append")) return LAT_APPEND;
        break;
    case 'r':
        if (TOKEN_IS("replace")) return LAT_REPLACE;
        break;
    case 'p':
        if (TOKEN_IS("prepend")) return LAT_PREPEND;
        break;
    case 'c':
        if (TOKEN_IS("cas")) return LAT_CAS;
        break;
    case 'd':
        if (TOKEN_IS("delete")) return LAT_DELETE;
        if (TOKEN_IS("decr")) return LAT_DECR;
        break;
    case 'i':
        if (TOKEN_IS("incr")) return LAT_INCR;
        break;
    case 't':
        if (TOKEN_IS("touch")) return LAT_TOUCH;
        break;
    case 'f':
        if (TOKEN_IS("flush_all")) return LAT_FLUSH_ALL;
        break;
    case 'v':
        if (TOKEN_IS("version")) return LAT_VERSION;
        if (TOKEN_IS("verbosity")) return LAT_VERBOSITY;
        break;
    }
    return LAT_OTHER;
}

int latency_cmd_binary(uint8_t opcode)
{
    switch (opcode) {
    case 0x00: case 0x09: case 0x0c: case 0x0d: return LAT_BIN_GET;
    case 0x01: case 0x11: return LAT_BIN_SET;
    case 0x02: case 0x12: return LAT_BIN_ADD;
    case 0x03: case 0x13: return LAT_BIN_REPLACE;
    case 0x0e: case 0x19: return LAT_BIN_APPEND;
    case 0x0f: case 0x1a: return LAT_BIN_PREPEND;
    case 0x04: case 0x14: return LAT_BIN_DELETE;
    case 0x05: case 0x15: return LAT_BIN_INCR;
    case 0x06: case 0x16: return LAT_BIN_DECR;
    case 0x1c: return LAT_BIN_TOUCH;
    case 0x1d: case 0x1e: case 0x23: case 0x24: return LAT_BIN_GAT;
    case 0x08: case 0x18: return LAT_BIN_FLUSH;
    case 0x0a: return LAT_BIN_NOOP;
    case 0x0b: return LAT_BIN_VERSION;
    case 0x10: return LAT_BIN_STAT;
    case 0x07: case 0x17: return LAT_BIN_QUIT;
    case 0x1b: return LAT_BIN_VERBOSITY;
    case 0x20: case 0x21: case 0x22: return LAT_BIN_SASL;
    default: return LAT_BIN_OTHER;
    }
}
