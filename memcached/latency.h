/* latency.h: request latency histograms, per command. Owns the fixed
 * bucket bounds, the command list, each worker's histograms (written by
 * that worker only, no lock, no allocation) and their sums. A leaf below
 * the protocols: it renders nothing and knows no connection; conn.h's
 * request frame records into it, and the stats reporter and the metrics
 * exporter read it through latency_sum.
 *
 * Buckets (the same on every server, so histograms from many servers add):
 * bucket 0 holds latencies <= 1 us; then 4 linear sub-buckets per power of
 * two, upper bounds 2^k * (1 + j/4) us for k = 0..19, j = 1..4 (1.25 us,
 * 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 5, ... 2^20 us = 1.048576 s); the last
 * bucket is everything above, +Inf. A bucket holds (lower, upper]. */
#ifndef MC_LATENCY_H
#define MC_LATENCY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Number of buckets: <= 1 us, 80 log-linear ones up to 2^20 us, +Inf. */
#define LATENCY_BUCKETS 82

/* Upper bound of bucket b (0 <= b < LATENCY_BUCKETS) in seconds; the last
 * is +Inf (INFINITY). */
double latency_bucket_le_seconds(int b);

/* The commands histograms are kept for (0 <= cmd < latency_ncmds()).
 * ASCII commands by their name, meta commands by their verb; binary
 * packets by opcode family, named "bin_" + family:
 *   GET GETQ GETK GETKQ -> bin_get      SET SETQ -> bin_set (a CAS too)
 *   ADD ADDQ -> bin_add                 REPLACE REPLACEQ -> bin_replace
 *   APPEND APPENDQ -> bin_append        PREPEND PREPENDQ -> bin_prepend
 *   DELETE DELETEQ -> bin_delete        INCREMENT INCREMENTQ -> bin_incr
 *   DECREMENT DECREMENTQ -> bin_decr    TOUCH -> bin_touch
 *   GAT GATQ GATK GATKQ -> bin_gat      FLUSH FLUSHQ -> bin_flush
 *   NOOP -> bin_noop   VERSION -> bin_version   STAT -> bin_stat
 *   QUIT QUITQ -> bin_quit   VERBOSITY -> bin_verbosity
 *   SASL_LIST_MECHS SASL_AUTH SASL_STEP -> bin_sasl
 *   any other opcode -> bin_other
 * Any other ASCII line (unknown commands, errors, the debug and admin
 * commands) counts as "other"; a -Y login under the command it is sent
 * as (set). */
#define LATENCY_COMMANDS(X) \
    X(GET, "get") X(GETS, "gets") X(GAT, "gat") X(GATS, "gats") \
    X(SET, "set") X(ADD, "add") X(REPLACE, "replace") X(APPEND, "append") \
    X(PREPEND, "prepend") X(CAS, "cas") X(DELETE, "delete") X(INCR, "incr") \
    X(DECR, "decr") X(TOUCH, "touch") X(FLUSH_ALL, "flush_all") \
    X(MG, "mg") X(MS, "ms") X(MD, "md") X(MA, "ma") X(MN, "mn") X(ME, "me") \
    X(STATS, "stats") X(VERSION, "version") X(VERBOSITY, "verbosity") \
    X(OTHER, "other") \
    X(BIN_GET, "bin_get") X(BIN_SET, "bin_set") X(BIN_ADD, "bin_add") \
    X(BIN_REPLACE, "bin_replace") X(BIN_APPEND, "bin_append") \
    X(BIN_PREPEND, "bin_prepend") X(BIN_DELETE, "bin_delete") \
    X(BIN_INCR, "bin_incr") X(BIN_DECR, "bin_decr") X(BIN_TOUCH, "bin_touch") \
    X(BIN_GAT, "bin_gat") X(BIN_FLUSH, "bin_flush") X(BIN_NOOP, "bin_noop") \
    X(BIN_VERSION, "bin_version") X(BIN_STAT, "bin_stat") X(BIN_QUIT, "bin_quit") \
    X(BIN_VERBOSITY, "bin_verbosity") X(BIN_SASL, "bin_sasl") \
    X(BIN_OTHER, "bin_other")

enum latency_cmd {
#define LATENCY_CMD_ENUM(id, name) LAT_##id,
    LATENCY_COMMANDS(LATENCY_CMD_ENUM)
#undef LATENCY_CMD_ENUM
    LAT_NCMDS
};

/* Number of commands (LAT_NCMDS). */
int latency_ncmds(void);

/* The command's name ("get", "mg", "bin_get", ...); NULL out of range. */
const char *latency_cmd_name(int cmd);

/* One command's histogram, summed over the workers. */
struct latency_totals {
    uint64_t count;                     /* requests recorded */
    uint64_t sum_ns;                    /* their latencies added, in ns */
    uint64_t buckets[LATENCY_BUCKETS];  /* requests per bucket (not
                                         * cumulative); they add up to count */
};

/* Whether latencies are recorded (-o latency_stats). Any thread. */
extern _Atomic bool latency_on;
static inline bool latency_enabled(void)
{
    return atomic_load_explicit(&latency_on, memory_order_relaxed);
}

/* Turns recording on or off (options, at start-up). */
void latency_set_enabled(bool on);

/* Sums the workers' histograms of cmd since start or the last
 * latency_reset into *out (all zero for a cmd out of range). Any thread;
 * takes a mutex the writers never take, so a sum is not a snapshot of one
 * instant: count and the buckets may differ by requests recorded while it
 * ran. */
void latency_sum(int cmd, struct latency_totals *out);

/* stats reset: the sums start again from zero. Any thread. */
void latency_reset(void);

/* ---- The writer side: conn.h's request frame ---- */

/* The command an ASCII request line (len bytes, the first token its
 * command) or a binary opcode counts under. */
int latency_cmd_text(const char *line, size_t len);
int latency_cmd_binary(uint8_t opcode);

/* Now, in ns of CLOCK_MONOTONIC (never 0). */
int64_t latency_now_ns(void);

/* Records one request of cmd that began at start_ns (latency_now_ns):
 * reads the clock once. Worker threads only (each writes its own
 * histograms); the first call of a thread claims its slot. */
void latency_record(int cmd, int64_t start_ns);

/* The bucket a latency of ns nanoseconds falls in. */
int latency_bucket_of(uint64_t ns);

#endif
