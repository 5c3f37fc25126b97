/* counters.h: the server's own counters, and nothing else: per-worker
 * counters (struct thread_stats, one writer each) and process-wide ones
 * (global_stats, any thread). A leaf: it knows no output format and calls
 * no other module; the reporter (stats.h) reads these and renders them.
 * Every list is declared once, as an X-macro, for the struct and the sums. */
#ifndef MC_COUNTERS_H
#define MC_COUNTERS_H

#include <stdatomic.h>
#include <stdint.h>

/* X(field): per-thread counters, all monotonic until stats reset. */
#define THREAD_STATS(X) \
    X(get_cmds)        /* keys looked up by get-type commands */ \
    X(get_hits)        /* ... found */ \
    X(get_misses)      /* ... not found */ \
    X(get_expired)     /* ... found expired */ \
    X(get_flushed)     /* ... found invalidated by flush_all */ \
    X(set_cmds)        /* storage commands */ \
    X(touch_cmds)      /* touch and gat keys */ \
    X(touch_hits)      /* ... found */ \
    X(touch_misses)    /* ... not found */ \
    X(delete_hits)     /* deletes of a present key */ \
    X(delete_misses)   /* deletes of a missing key */ \
    X(incr_hits)       /* incr of a present key */ \
    X(incr_misses)     /* incr of a missing key */ \
    X(decr_hits)       /* decr of a present key */ \
    X(decr_misses)     /* decr of a missing key */ \
    X(cas_hits)        /* cas that stored */ \
    X(cas_misses)      /* cas on a missing key */ \
    X(cas_badval)      /* cas with a stale unique */ \
    X(meta_cmds)       /* meta protocol commands */ \
    X(flush_cmds)      /* flush_all */ \
    X(store_too_large) /* stores refused: over -I */ \
    X(store_no_memory) /* stores refused: out of memory */ \
    X(auth_cmds)       /* authentication attempts (SASL, ASCII auth) */ \
    X(auth_errors)     /* ... that failed */ \
    X(bytes_read)      /* from client sockets */ \
    X(bytes_written)   /* to client sockets */ \
    X(conn_yields)     /* -R limit reached */ \
    X(idle_kicks)      /* idle_timeout closes */

/* X(field): per-slab-class operation counters, in memcached's order of
 * stats slabs. */
#define SLAB_OP_STATS(X) \
    X(get_hits)        /* gets that found an item of the class */ \
    X(cmd_set)         /* items of the class stored */ \
    X(delete_hits)     /* items of the class deleted */ \
    X(incr_hits)       /* incr of an item of the class */ \
    X(decr_hits)       /* decr of an item of the class */ \
    X(cas_hits)        /* cas that stored an item of the class */ \
    X(cas_badval)      /* cas refused on an item of the class */ \
    X(touch_hits)      /* touch of an item of the class */

/* Per-class slots in struct thread_stats (slab class ids are below this). */
#define COUNTERS_CLASSES 64

struct slab_op_counters {
#define SLAB_OP_FIELD(name) _Atomic uint64_t name;
    SLAB_OP_STATS(SLAB_OP_FIELD)
#undef SLAB_OP_FIELD
};
/* A plain copy of one class's sums. */
struct slab_op_counts {
#define SLAB_OP_FIELD(name) uint64_t name;
    SLAB_OP_STATS(SLAB_OP_FIELD)
#undef SLAB_OP_FIELD
};

/* One worker's counters: written by that worker only (STAT_ADD), read by
 * any thread with relaxed loads. */
struct thread_stats {
#define STAT_FIELD(name) _Atomic uint64_t name;
    THREAD_STATS(STAT_FIELD)
#undef STAT_FIELD
    /* Hits by slab class and LRU segment (HOT, WARM, COLD, TEMP), for the
     * hits_to_* lines of stats items. */
    _Atomic uint64_t lru_hits[COUNTERS_CLASSES][4];
    struct slab_op_counters slab_ops[COUNTERS_CLASSES];   /* by slab class */
};

/* A plain (non-atomic) copy of the THREAD_STATS sums. */
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

/* X(type, field): process-wide counters and gauges, written with atomic
 * operations by any thread. As memcached counts them, listening and UDP
 * sockets are connections too: curr_conns and total_conns include them. */
#define GLOBAL_STATS(X) \
    X(uint64_t, curr_conns)          /* gauge: open clients + listening/UDP sockets */ \
    X(uint64_t, total_conns)         /* accepted since start or reset (+ listeners) */ \
    X(uint64_t, rejected_conns)      /* refused by the -c limit */ \
    X(uint64_t, conn_structs)        /* gauge: peak of curr_conns */ \
    X(uint64_t, listen_disabled_num) /* times accepts were paused */ \
    X(uint64_t, time_in_listen_disabled_us) /* how long they were paused */ \
    X(int, accepting_conns)          /* gauge: 1 unless paused by the limit */ \
    X(int64_t, read_buf_count)       /* gauge: read buffers allocated */ \
    X(int64_t, read_buf_bytes)       /* gauge: their size */ \
    X(uint64_t, read_buf_oom)        /* a read buffer could not be had */ \
    X(int64_t, response_obj_count)   /* gauge: reply text blocks allocated */ \
    X(int64_t, response_obj_bytes)   /* gauge: their size */ \
    X(uint64_t, response_obj_oom)    /* a reply block could not be had */

struct global_stats {
#define GLOBAL_FIELD(type, name) _Atomic type name;
    GLOBAL_STATS(GLOBAL_FIELD)
#undef GLOBAL_FIELD
};
/* The process's counters; accepting_conns starts at 1, the rest at 0. */
extern struct global_stats global_stats;

/* stats reset, process-wide part: zeroes the counters memcached zeroes
 * (total_conns, rejected_conns, listen_disabled_num,
 * time_in_listen_disabled_us); gauges keep their values. Any thread. */
void global_stats_reset(void);

#endif
