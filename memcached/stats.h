/* stats.h: counters. Each worker thread owns a struct thread_stats that only
 * it writes (relaxed atomics, so the stats command may read them from any
 * thread); process-wide counters live in struct global_stats. Every list of
 * counters is declared once, as an X-macro, and used for the struct, the
 * aggregation and the output. */
#ifndef MC_STATS_H
#define MC_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* X(field): per-thread counters. */
#define THREAD_STATS(X) \
    X(get_cmds)        /* keys looked up by get-type commands */ \
    X(get_hits)        /* ... found */ \
    X(get_misses)      /* ... not found */ \
    X(get_expired)     /* ... found expired */ \
    X(get_flushed)     /* ... found invalidated by flush_all */ \
    X(set_cmds)        /* storage commands */ \
    X(touch_cmds)      /* touch and gat keys */ \
    X(touch_hits) \
    X(touch_misses) \
    X(delete_hits) \
    X(delete_misses) \
    X(incr_hits) \
    X(incr_misses) \
    X(decr_hits) \
    X(decr_misses) \
    X(cas_hits)        /* cas that stored */ \
    X(cas_misses)      /* cas on a missing key */ \
    X(cas_badval)      /* cas with a stale unique */ \
    X(meta_cmds)       /* meta protocol commands */ \
    X(flush_cmds)      /* flush_all */ \
    X(store_too_large) /* stores refused: over -I */ \
    X(store_no_memory) /* stores refused: out of memory */ \
    X(auth_cmds) \
    X(auth_errors) \
    X(bytes_read)      /* from client sockets */ \
    X(bytes_written)   /* to client sockets */ \
    X(conn_yields)     /* -R limit reached */ \
    X(idle_kicks)      /* idle_timeout closes */

/* X(field): per-slab-class counters of stats slabs, in memcached's order. */
#define SLAB_OP_STATS(X) \
    X(get_hits) X(cmd_set) X(delete_hits) X(incr_hits) X(decr_hits) \
    X(cas_hits) X(cas_badval) X(touch_hits)

struct slab_op_counters {
#define SLAB_OP_FIELD(name) _Atomic uint64_t name;
    SLAB_OP_STATS(SLAB_OP_FIELD)
#undef SLAB_OP_FIELD
};
struct slab_op_counts {
#define SLAB_OP_FIELD(name) uint64_t name;
    SLAB_OP_STATS(SLAB_OP_FIELD)
#undef SLAB_OP_FIELD
};

struct thread_stats {
#define STAT_FIELD(name) _Atomic uint64_t name;
    THREAD_STATS(STAT_FIELD)
#undef STAT_FIELD
    /* Hits by slab class and LRU segment (HOT, WARM, COLD, TEMP), for the
     * hits_to_* lines of stats items. */
    _Atomic uint64_t lru_hits[64][4];
    struct slab_op_counters slab_ops[64];   /* by slab class */
};

/* Sums every thread's per-class operation counts for class id. */
void stats_slab_ops(unsigned id, struct slab_op_counts *out);

/* Sums every thread's hits for slab class id into out[segment]. */
void stats_lru_hits(unsigned id, uint64_t out[4]);

/* A plain (non-atomic) copy of the sums. */
struct thread_stats_sum {
#define STAT_FIELD(name) uint64_t name;
    THREAD_STATS(STAT_FIELD)
#undef STAT_FIELD
};

/* Adds n to a counter of the calling thread's own stats (single writer). */
#define STAT_ADD(ts, field, n) \
    atomic_store_explicit(&(ts)->field, \
        atomic_load_explicit(&(ts)->field, memory_order_relaxed) + (n), memory_order_relaxed)
#define STAT_INC(ts, field) STAT_ADD(ts, field, 1)

/* Process-wide counters (any thread, atomic). */
struct global_stats {
    /* As memcached counts them, listening sockets and UDP sockets are
     * connections too: curr_conns and total_conns include them (stats shows
     * curr_connections as curr_conns - 1, as memcached does). */
    _Atomic uint64_t curr_conns;        /* open clients + listening/UDP sockets */
    _Atomic uint64_t total_conns;       /* accepted since start (+ listeners) */
    _Atomic uint64_t rejected_conns;    /* refused by the -c limit */
    _Atomic uint64_t conn_structs;      /* peak of curr_conns */
    _Atomic uint64_t listen_disabled_num; /* times accepts were paused */
    _Atomic uint64_t time_in_listen_disabled_us; /* how long they were paused */
    _Atomic int accepting_conns;        /* 1 unless paused by the limit */
    /* Connection buffers (gauges, except the _oom counts). */
    _Atomic int64_t read_buf_count;     /* read buffers allocated */
    _Atomic int64_t read_buf_bytes;     /* their size */
    _Atomic uint64_t read_buf_oom;      /* a read buffer could not be had */
    _Atomic int64_t response_obj_count; /* reply text blocks allocated */
    _Atomic int64_t response_obj_bytes; /* their size */
    _Atomic uint64_t response_obj_oom;  /* a reply block could not be had */
};
extern struct global_stats global_stats;

/* Sums every thread's counters into out, less the baseline of stats reset. */
void stats_aggregate(struct thread_stats_sum *out);

/* stats reset: zeroes what memcached zeroes. */
void stats_reset(void);

struct reply;
/* Appends the general "stats" group (STAT lines, no END). */
void stats_general(struct reply *r);

/* Appends "stats settings" (STAT lines, no END). */
void stats_settings(struct reply *r);

/* Appends a "stats <group> [arg]" group (no END); false if unknown. */
bool stats_group(struct reply *r, const char *group, const char *arg);

/* Appends one "STAT name value\r\n" line; value is printf-formatted. */
void stats_line(struct reply *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
