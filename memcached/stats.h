/* stats.h: the stats reporter. It reads every subsystem's figures (the
 * counters of counters.h, items, slabs, the slab mover, the crawler, the
 * logger, TLS, connections, key prefixes) and hands each stat of a group,
 * in memcached's order, to a caller's sink as (name, value, kind). It
 * writes no protocol: the text stats command, the binary stat op and any
 * exporter each bring a sink. Only the protocol layer (and above) calls
 * it; nothing it reads calls it back. */
#ifndef MC_STATS_H
#define MC_STATS_H

#include <stdbool.h>

/* What a stat measures, for exporters that type their metrics. */
enum stat_kind {
    STAT_COUNTER,   /* counts events: only grows, until stats reset */
    STAT_GAUGE,     /* a level that goes up and down (bytes, items, conns) */
    STAT_INFO       /* a setting, a name, or other text that is no metric */
};

/* One stat, as memcached shows it. */
struct stat_entry {
    const char *name;       /* "cmd_get", "items:1:number", "17:addr", ... */
    const char *value;      /* the value's text: "42", "0.000123", "yes" */
    enum stat_kind kind;
};

/* Receives one stat. The strings are NUL-terminated, live only during the
 * call, and hold no '\r' or '\n' the reporter added. The sink may be
 * called with locks held: it must not call back into the reporter. */
typedef void stat_sink(void *ctx, const struct stat_entry *s);

/* The groups the stats command and the binary stat op answer with. */
enum stats_group {
    STATS_GENERAL,      /* "stats" */
    STATS_SETTINGS,     /* "stats settings" */
    STATS_SLABS,        /* "stats slabs" */
    STATS_ITEMS,        /* "stats items" */
    STATS_SIZES,        /* "stats sizes" */
    STATS_CONNS,        /* "stats conns" */
    STATS_PROBES,       /* "stats probes": who traces which probe */
    STATS_DETAIL_DUMP,  /* "stats detail dump": name is a key prefix, value
                         * "get N hit N set N del N"; shown as PREFIX lines */
    STATS_LATENCY       /* "stats latency": per command with requests (latency.h),
                         * CMD:le_SECONDS (non-zero buckets, not cumulative),
                         * CMD:count, CMD:sum_ns, CMD:p50_us p90_us p99_us p99.9_us */
};

/* The group "stats <name>" asks for: settings, slabs, items, sizes, conns,
 * probes or latency (only with -o latency_stats: memcached knows no such
 * group, and a server without the option answers as memcached does).
 * Returns false for any other name (the general group and the detail dump
 * have no name of their own). */
bool stats_group_named(const char *name, enum stats_group *out);

/* Calls sink(ctx, stat) for each stat of group, in memcached's order.
 * Returns false when it ran out of memory part way (the stats handed
 * over before stand; stats conns is then empty). Any thread. */
bool stats_emit(enum stats_group group, stat_sink *sink, void *ctx);

/* stats reset: zeroes what memcached zeroes (the counters, not the
 * gauges), and forgets the stats detail prefixes. Any thread. */
void stats_reset(void);

#endif
