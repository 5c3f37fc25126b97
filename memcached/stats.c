/* stats.c: the reporter: sums the workers' counters, reads each
 * subsystem's figures and hands every stat of a group to a sink, as text
 * values in memcached's formats. Each group's stats are one list, in
 * memcached's order. Renders no protocol and is called by none below it. */
#include "config.h"     /* ENABLE_SECCOMP */

#include "stats.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>

#include "assoc.h"
#include "clock.h"
#include "conn_stats.h"
#include "counters.h"
#include "crawler.h"
#include "items.h"
#include "latency.h"
#include "listen.h"
#include "logger.h"
#include "prefix_stats.h"
#include "probes.h"
#include "settings.h"
#include "slab_mover.h"
#include "slabs.h"
#include "sasl.h"
#include "thread.h"
#include "tls.h"

_Static_assert(SLAB_CLASS_MAX <= COUNTERS_CLASSES, "per-class counters cover every slab class");

/* What stats reset subtracted: thread counters at the last reset. */
static struct thread_stats_sum baseline;
static pthread_mutex_t baseline_lock = PTHREAD_MUTEX_INITIALIZER;

static void sum_threads(struct thread_stats_sum *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < settings.num_threads; i++) {
        struct thread_stats *ts = &workers[i].stats;
#define ADD_FIELD(name) out->name += atomic_load_explicit(&ts->name, memory_order_relaxed);
        THREAD_STATS(ADD_FIELD)
#undef ADD_FIELD
    }
}

/* Sums every thread's per-class operation counts for class id. */
static void stats_slab_ops(unsigned id, struct slab_op_counts *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < settings.num_threads; i++) {
#define SUM_OP(field) out->field += atomic_load_explicit(&workers[i].stats.slab_ops[id].field, \
                                                         memory_order_relaxed);
        SLAB_OP_STATS(SUM_OP)
#undef SUM_OP
    }
}

/* hits_to_* at the last stats reset. */
static uint64_t lru_hits_baseline[SLAB_CLASS_MAX][4];

static void sum_lru_hits(unsigned id, uint64_t out[4])
{
    for (int seg = 0; seg < 4; seg++) {
        out[seg] = 0;
        for (int i = 0; i < settings.num_threads; i++)
            out[seg] += atomic_load_explicit(&workers[i].stats.lru_hits[id][seg],
                                             memory_order_relaxed);
    }
}

/* Every thread's hits for slab class id by LRU segment, less stats reset's
 * baseline. */
static void stats_lru_hits(unsigned id, uint64_t out[4])
{
    sum_lru_hits(id, out);
    pthread_mutex_lock(&baseline_lock);
    for (int seg = 0; seg < 4; seg++)
        out[seg] -= lru_hits_baseline[id][seg];
    pthread_mutex_unlock(&baseline_lock);
}

/* stats reset, storage side: the LRU, mover and crawler counters. */
static void stats_reset_storage(void)
{
    pthread_mutex_lock(&baseline_lock);
    for (unsigned id = 0; id < SLAB_CLASS_MAX; id++)
        sum_lru_hits(id, lru_hits_baseline[id]);
    pthread_mutex_unlock(&baseline_lock);
    items_stats_reset();
    slab_mover_stats_reset();
    crawler_stats_reset();
}

/* Sums every thread's counters into out, less the baseline of stats reset. */
static void stats_aggregate(struct thread_stats_sum *out)
{
    sum_threads(out);
    pthread_mutex_lock(&baseline_lock);
#define SUB_FIELD(name) out->name -= baseline.name;
    THREAD_STATS(SUB_FIELD)
#undef SUB_FIELD
    pthread_mutex_unlock(&baseline_lock);
}

void stats_reset(void)
{
    pthread_mutex_lock(&baseline_lock);
    sum_threads(&baseline);
    pthread_mutex_unlock(&baseline_lock);
    global_stats_reset();
    prefix_stats_clear();
    stats_reset_storage();
    latency_reset();
}

/* Where the stats of one stats_emit call go. */
struct emitter {
    stat_sink *sink;
    void *ctx;
};

#define CTR STAT_COUNTER
#define GAU STAT_GAUGE
#define INF STAT_INFO

/* Hands one stat to the sink; value is printf-formatted and cut at 255
 * bytes. */
static void emit(const struct emitter *e, const char *name, enum stat_kind kind,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void emit(const struct emitter *e, const char *name, enum stat_kind kind,
                 const char *fmt, ...)
{
    char value[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    const struct stat_entry st = { .name = name, .value = value, .kind = kind };
    e->sink(e->ctx, &st);
}

static double timeval_seconds(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

#define U64 "%llu"
#define ULL(x) ((unsigned long long)(x))

/* memcached counts its listening and UDP sockets as connections, and shows
 * one less than it counts. */
static uint64_t curr_connections(void)
{
    uint64_t n = atomic_load(&global_stats.curr_conns);
    return n > 0 ? n - 1 : 0;
}

/* Lines memcached shows only in some configurations: the slab mover's,
 * the LRU crawler's and the LRU maintainer's when each is on. */
static bool general_stat_shown(const char *name)
{
    static const char *const mover[] = {
        "slab_reassign_rescues", "slab_reassign_chunk_rescues", "slab_reassign_inline_reclaim",
        "slab_reassign_busy_items", "slab_reassign_busy_deletes", "slab_reassign_busy_nomem",
        "slab_reassign_last_busy_status", "slab_reassign_running", "slabs_moved", NULL };
    static const char *const crawler[] = { "lru_crawler_running", "lru_crawler_starts", NULL };
    static const char *const maintainer[] = {
        "lru_maintainer_juggles", "evicted_active", "moves_to_cold", "moves_to_warm",
        "moves_within_lru", "direct_reclaims", "lru_bumps_dropped", NULL };
    if (strcmp(name, "rejected_connections") == 0)
        return settings.maxconns_fast;
    if (strcmp(name, "idle_kicks") == 0)
        return settings.idle_timeout > 0;
    const struct { const char *const *names; bool on; } groups[] = {
        { mover, settings.slab_reassign },
        { crawler, settings.lru_crawler },
        { maintainer, settings.lru_maintainer_thread },
    };
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++)
        for (const char *const *n = groups[g].names; *n; n++)
            if (strcmp(name, *n) == 0)
                return groups[g].on;
    return true;
}

/* -Z: the ssl_* counters, at the end of the general group. */
static void emit_tls_stats(const struct emitter *e)
{
    struct tls_stats t;
    tls_stats(&t);
    if (!t.enabled)
        return;
    if (t.session_cache)
        emit(e, "ssl_new_sessions", CTR, U64, ULL(t.new_sessions));
    emit(e, "ssl_handshake_errors", CTR, U64, ULL(t.handshake_errors));
    emit(e, "ssl_proto_errors", CTR, U64, ULL(t.proto_errors));
    emit(e, "time_since_server_cert_refresh", GAU, "%u", t.secs_since_cert_refresh);
}

static void emit_general(const struct emitter *e)
{
    struct thread_stats_sum t;
    struct items_totals it;
    struct rusage usage;
    struct slab_mover_stats mover;
    struct crawler_stats crawler;
    stats_aggregate(&t);
    /* The mover's counters before the item counts: a reply that shows a
     * move done (slabs_moved up, slab_reassign_running 0) then also holds
     * all of that move's evictions in curr_items and evictions. Read the
     * other way round, curr_items could be taken mid-move and evictions
     * after it. */
    slab_mover_stats(&mover);
    items_totals(&it);
    crawler_stats(&crawler);
    uint64_t log_watchers, log_sent, log_skipped;
    logger_stats(&log_watchers, &log_sent, &log_skipped);
    getrusage(RUSAGE_SELF, &usage);

    /* X(name, kind, format, value): one stat each, memcached's order. */
#define GENERAL_STATS(X) \
    X("pid", INF, "%ld", (long)getpid()) \
    X("uptime", CTR, "%u", clock_uptime()) \
    X("time", GAU, "%ld", (long)clock_abstime(current_time)) \
    X("version", INF, "%s", MEMCACHED_VERSION) \
    X("libevent", INF, "%s", event_get_version()) \
    X("pointer_size", INF, "%d", (int)(8 * sizeof(void *))) \
    X("rusage_user", CTR, "%.6f", timeval_seconds(usage.ru_utime)) \
    X("rusage_system", CTR, "%.6f", timeval_seconds(usage.ru_stime)) \
    X("max_connections", GAU, "%d", settings.maxconns) \
    X("curr_connections", GAU, U64, ULL(curr_connections())) \
    X("total_connections", CTR, U64, ULL(atomic_load(&global_stats.total_conns))) \
    X("rejected_connections", CTR, U64, ULL(atomic_load(&global_stats.rejected_conns))) \
    X("connection_structures", GAU, U64, ULL(atomic_load(&global_stats.conn_structs))) \
    X("response_obj_oom", CTR, U64, ULL(atomic_load(&global_stats.response_obj_oom))) \
    X("response_obj_count", GAU, "%lld", (long long)atomic_load(&global_stats.response_obj_count)) \
    X("response_obj_bytes", GAU, "%lld", (long long)atomic_load(&global_stats.response_obj_bytes)) \
    X("read_buf_count", GAU, "%lld", (long long)atomic_load(&global_stats.read_buf_count)) \
    X("read_buf_bytes", GAU, "%lld", (long long)atomic_load(&global_stats.read_buf_bytes)) \
    X("read_buf_bytes_free", GAU, "%d", 0) \
    X("read_buf_oom", CTR, U64, ULL(atomic_load(&global_stats.read_buf_oom))) \
    X("reserved_fds", GAU, "%d", 5 * settings.num_threads) \
    X("cmd_get", CTR, U64, ULL(t.get_cmds)) \
    X("cmd_set", CTR, U64, ULL(t.set_cmds)) \
    X("cmd_flush", CTR, U64, ULL(t.flush_cmds)) \
    X("cmd_touch", CTR, U64, ULL(t.touch_cmds)) \
    X("cmd_meta", CTR, U64, ULL(t.meta_cmds)) \
    X("get_hits", CTR, U64, ULL(t.get_hits)) \
    X("get_misses", CTR, U64, ULL(t.get_misses)) \
    X("get_expired", CTR, U64, ULL(t.get_expired)) \
    X("get_flushed", CTR, U64, ULL(t.get_flushed)) \
    X("delete_misses", CTR, U64, ULL(t.delete_misses)) \
    X("delete_hits", CTR, U64, ULL(t.delete_hits)) \
    X("incr_misses", CTR, U64, ULL(t.incr_misses)) \
    X("incr_hits", CTR, U64, ULL(t.incr_hits)) \
    X("decr_misses", CTR, U64, ULL(t.decr_misses)) \
    X("decr_hits", CTR, U64, ULL(t.decr_hits)) \
    X("cas_misses", CTR, U64, ULL(t.cas_misses)) \
    X("cas_hits", CTR, U64, ULL(t.cas_hits)) \
    X("cas_badval", CTR, U64, ULL(t.cas_badval)) \
    X("touch_hits", CTR, U64, ULL(t.touch_hits)) \
    X("touch_misses", CTR, U64, ULL(t.touch_misses)) \
    X("store_too_large", CTR, U64, ULL(t.store_too_large)) \
    X("store_no_memory", CTR, U64, ULL(t.store_no_memory)) \
    X("auth_cmds", CTR, U64, ULL(t.auth_cmds)) \
    X("auth_errors", CTR, U64, ULL(t.auth_errors)) \
    X("idle_kicks", CTR, U64, ULL(t.idle_kicks)) \
    X("bytes_read", CTR, U64, ULL(t.bytes_read)) \
    X("bytes_written", CTR, U64, ULL(t.bytes_written)) \
    X("limit_maxbytes", GAU, "%zu", settings.maxbytes) \
    X("accepting_conns", GAU, "%d", atomic_load(&global_stats.accepting_conns)) \
    X("listen_disabled_num", CTR, U64, ULL(atomic_load(&global_stats.listen_disabled_num))) \
    X("time_in_listen_disabled_us", CTR, U64, \
      ULL(atomic_load(&global_stats.time_in_listen_disabled_us))) \
    X("threads", GAU, "%d", settings.num_threads) \
    X("conn_yields", CTR, U64, ULL(t.conn_yields)) \
    X("hash_power_level", GAU, "%u", assoc_hashpower()) \
    X("hash_bytes", GAU, "%zu", assoc_hash_bytes()) \
    X("hash_is_expanding", GAU, "%d", assoc_expanding() ? 1 : 0) \
    X("slab_reassign_rescues", CTR, U64, ULL(mover.rescues)) \
    X("slab_reassign_chunk_rescues", CTR, U64, ULL(mover.chunk_rescues)) \
    X("slab_reassign_inline_reclaim", CTR, "%d", 0) \
    X("slab_reassign_busy_items", CTR, U64, ULL(mover.busy_items)) \
    X("slab_reassign_busy_deletes", CTR, "%d", 0) \
    X("slab_reassign_busy_nomem", CTR, "%d", 0) \
    X("slab_reassign_last_busy_status", INF, "%s", "none") \
    X("slab_reassign_running", GAU, "%d", mover.running) \
    X("slabs_moved", CTR, U64, ULL(mover.slabs_moved)) \
    X("lru_crawler_running", GAU, "%d", crawler.running) \
    X("lru_crawler_starts", CTR, U64, ULL(crawler.starts)) \
    X("lru_maintainer_juggles", CTR, U64, ULL(it.lru_maintainer_juggles)) \
    X("malloc_fails", CTR, "%d", 0) \
    X("log_worker_dropped", CTR, "%d", 0) \
    X("log_worker_written", CTR, "%d", 0) \
    X("log_watcher_skipped", CTR, U64, ULL(log_skipped)) \
    X("log_watcher_sent", CTR, U64, ULL(log_sent)) \
    X("log_watchers", GAU, U64, ULL(log_watchers)) \
    X("unexpected_napi_ids", CTR, "%d", 0) \
    X("round_robin_fallback", CTR, "%d", 0) \
    X("bytes", GAU, U64, ULL(it.bytes)) \
    X("curr_items", GAU, U64, ULL(it.curr_items)) \
    X("total_items", CTR, U64, ULL(it.total_items)) \
    X("slab_global_page_pool", GAU, "%zu", slabs_pool_pages()) \
    X("expired_unfetched", CTR, U64, ULL(it.expired_unfetched)) \
    X("evicted_unfetched", CTR, U64, ULL(it.evicted_unfetched)) \
    X("evicted_active", CTR, U64, ULL(it.evicted_active)) \
    X("evictions", CTR, U64, ULL(it.evictions)) \
    X("reclaimed", CTR, U64, ULL(it.reclaimed)) \
    X("crawler_reclaimed", CTR, U64, ULL(it.crawler_reclaimed)) \
    X("crawler_items_checked", CTR, U64, ULL(it.crawler_items_checked)) \
    X("lrutail_reflocked", CTR, "%d", 0) \
    X("moves_to_cold", CTR, U64, ULL(it.moves_to_cold)) \
    X("moves_to_warm", CTR, U64, ULL(it.moves_to_warm)) \
    X("moves_within_lru", CTR, U64, ULL(it.moves_within_lru)) \
    X("direct_reclaims", CTR, U64, ULL(it.direct_reclaims)) \
    X("lru_bumps_dropped", CTR, U64, ULL(it.lru_bumps_dropped))

#define EMIT(name, kind, fmt, value) if (general_stat_shown(name)) emit(e, name, kind, fmt, value);
    GENERAL_STATS(EMIT)
#undef EMIT
    emit_tls_stats(e);
}

#define YESNO(b) ((b) ? "yes" : "no")

static const char *protocol_name(void)
{
    switch (settings.binding_protocol) {
    case PROTOCOL_ASCII: return "ascii";
    case PROTOCOL_BINARY: return "binary";
    default: return "auto-negotiate";
    }
}

/* TLS builds: the ssl_* settings, which memcached lists before
 * num_napi_ids. */
static void emit_tls_settings(const struct emitter *e)
{
    struct tls_settings t;
    tls_stats_settings(&t);
    if (!t.built)
        return;
#define OR(s, none) ((s) ? (s) : (none))
    emit(e, "ssl_enabled", INF, "%s", YESNO(t.enabled));
    emit(e, "ssl_chain_cert", INF, "%s", OR(t.chain_cert, "(null)"));
    emit(e, "ssl_key", INF, "%s", OR(t.key, "(null)"));
    emit(e, "ssl_verify_mode", INF, "%d", t.verify_mode);
    emit(e, "ssl_keyformat", INF, "%d", t.keyformat);
    emit(e, "ssl_ciphers", INF, "%s", OR(t.ciphers, "NULL"));
    emit(e, "ssl_ca_cert", INF, "%s", OR(t.ca_cert, "NULL"));
    emit(e, "ssl_wbuf_size", INF, "%u", t.wbuf_size);
    emit(e, "ssl_session_cache", INF, "%s", YESNO(t.session_cache));
    emit(e, "ssl_kernel_tls", INF, "%s", YESNO(t.kernel_tls));
    emit(e, "ssl_min_version", INF, "%s", OR(t.min_version, "NULL"));
#undef OR
}

/* Every setting is STAT_INFO. */
static void emit_settings(const struct emitter *e)
{
    /* X(name, format, value): one stat each, memcached's order. */
#define SETTINGS_STATS(X) \
    X("maxbytes", "%zu", settings.maxbytes) \
    X("maxconns", "%d", settings.maxconns) \
    X("tcpport", "%d", settings.port) \
    X("udpport", "%d", settings.udpport) \
    X("inter", "%s", settings.inter ? settings.inter : "NULL") \
    X("verbosity", "%d", settings.verbose) \
    X("oldest", "%lu", (unsigned long)items_oldest_live()) \
    X("evictions", "%s", settings.evict_to_free ? "on" : "off") \
    X("domain_socket", "%s", settings.socketpath ? settings.socketpath : "NULL") \
    X("umask", "%o", (unsigned)settings.access) \
    X("shutdown_command", "%s", YESNO(settings.shutdown_command)) \
    X("growth_factor", "%.2f", settings.factor) \
    X("chunk_size", "%d", settings.chunk_size) \
    X("num_threads", "%d", settings.num_threads) \
    X("num_threads_per_udp", "%d", listen_udp_threads()) \
    X("stat_key_prefix", "%c", settings.prefix_delimiter) \
    X("detail_enabled", "%s", YESNO(settings.detail_enabled)) \
    X("reqs_per_event", "%d", settings.reqs_per_event) \
    X("cas_enabled", "%s", YESNO(settings.use_cas)) \
    X("tcp_backlog", "%d", settings.backlog) \
    X("binding_protocol", "%s", protocol_name()) \
    X("auth_enabled_sasl", "%s", YESNO(sasl_enabled())) \
    X("auth_enabled_ascii", "%s", settings.auth_file ? settings.auth_file : "no") \
    X("item_size_max", "%d", settings.item_size_max) \
    X("maxconns_fast", "%s", YESNO(settings.maxconns_fast)) \
    X("hashpower_init", "%d", settings.hashpower_init) \
    X("slab_reassign", "%s", YESNO(settings.slab_reassign)) \
    X("slab_automove", "%d", settings.slab_automove) \
    X("slab_automove_ratio", "%.2f", settings.slab_automove_ratio) \
    X("slab_automove_window", "%d", settings.slab_automove_window) \
    X("slab_chunk_max", "%d", settings.slab_chunk_size_max) \
    X("lru_crawler", "%s", YESNO(settings.lru_crawler)) \
    X("lru_crawler_sleep", "%d", settings.lru_crawler_sleep) \
    X("lru_crawler_tocrawl", "%u", settings.lru_crawler_tocrawl) \
    X("tail_repair_time", "%d", settings.tail_repair_time) \
    X("flush_enabled", "%s", YESNO(settings.flush_enabled)) \
    X("dump_enabled", "%s", YESNO(settings.dump_enabled)) \
    X("hash_algorithm", "%s", settings.hash_algorithm) \
    X("lru_maintainer_thread", "%s", YESNO(settings.lru_maintainer_thread)) \
    X("lru_segmented", "%s", YESNO(settings.lru_segmented)) \
    X("hot_lru_pct", "%d", settings.hot_lru_pct) \
    X("warm_lru_pct", "%d", settings.warm_lru_pct) \
    X("hot_max_factor", "%.2f", settings.hot_max_factor) \
    X("warm_max_factor", "%.2f", settings.warm_max_factor) \
    X("temp_lru", "%s", YESNO(settings.temp_lru)) \
    X("temporary_ttl", "%u", settings.temporary_ttl) \
    X("idle_timeout", "%d", settings.idle_timeout) \
    X("watcher_logbuf_size", "%u", settings.watcher_logbuf_size) \
    X("worker_logbuf_size", "%u", settings.worker_logbuf_size) \
    X("read_buf_mem_limit", "%u", settings.read_buf_mem_limit) \
    X("track_sizes", "%s", YESNO(settings.track_sizes)) \
    X("inline_ascii_response", "%s", "no") \
    DROP_PRIVILEGES_STAT(X) \
    X("num_napi_ids", "%d", settings.num_napi_ids) \
    X("memory_file", "%s", settings.memory_file ? settings.memory_file : "(null)") \
    X("client_flags_size", "%d", 4) \
    X("probe_sample_rate", "%u", settings.probe_sample_rate) \
    X("latency_stats", "%s", YESNO(latency_enabled()))

/* TLS builds list ssl_* where memcached does: before num_napi_ids. */
#ifdef ENABLE_SECCOMP       /* memcached lists it where it can drop privileges */
#define DROP_PRIVILEGES_STAT(X) X("drop_privileges", "%s", YESNO(settings.drop_privileges))
#else
#define DROP_PRIVILEGES_STAT(X)
#endif
#define EMIT(name, fmt, value) \
    if (strcmp(name, "num_napi_ids") == 0) emit_tls_settings(e); \
    emit(e, name, INF, fmt, value);
    SETTINGS_STATS(EMIT)
#undef EMIT
}

static void emit_slabs(const struct emitter *e)
{
    unsigned active = 0;
    for (unsigned id = 1; id <= slabs_class_count(); id++) {
        struct slab_class_stats s;
        slabs_class_stats(id, &s);
        if (s.total_pages == 0)
            continue;
        active++;
        char name[64];
#define SLAB_LINE(field, kind, fmt, value) \
        snprintf(name, sizeof(name), "%u:" field, id); emit(e, name, kind, fmt, value);
        SLAB_LINE("chunk_size", GAU, "%zu", s.chunk_size)
        SLAB_LINE("chunks_per_page", GAU, "%u", s.chunks_per_page)
        SLAB_LINE("total_pages", GAU, U64, ULL(s.total_pages))
        SLAB_LINE("total_chunks", GAU, U64, ULL(s.total_chunks))
        SLAB_LINE("used_chunks", GAU, U64, ULL(s.used_chunks))
        SLAB_LINE("free_chunks", GAU, U64, ULL(s.free_chunks))
        SLAB_LINE("free_chunks_end", GAU, "%d", 0)
        struct slab_op_counts ops;
        stats_slab_ops(id, &ops);
#define SLAB_OP_LINE(field) SLAB_LINE(#field, CTR, U64, ULL(ops.field))
        SLAB_OP_STATS(SLAB_OP_LINE)
#undef SLAB_OP_LINE
#undef SLAB_LINE
    }
    emit(e, "active_slabs", GAU, "%u", active);
    emit(e, "total_malloced", GAU, "%zu", slabs_mem_used());
}

static void emit_items(const struct emitter *e)
{
    for (unsigned id = 1; id <= slabs_class_count(); id++) {
        struct items_class_stats s;
        uint64_t hits[4];
        items_class_stats(id, &s);
        stats_lru_hits(id, hits);
        if (s.number == 0)      /* as memcached: only classes holding items */
            continue;
        char name[64];
        /* X(field, kind, format, value, shown): memcached's "items:<class>:<field>"
         * lines; the segment lines only with the LRU maintainer (segmented
         * at start; "lru mode flat" keeps them), TEMP's only with temporary_ttl. */
        bool seg = settings.lru_maintainer_thread, temp = seg && settings.temp_lru;
#define ITEMS_STATS(X) \
        X("number", GAU, U64, ULL(s.number), true) \
        X("number_hot", GAU, U64, ULL(s.number_hot), seg) \
        X("number_warm", GAU, U64, ULL(s.number_warm), seg) \
        X("number_cold", GAU, U64, ULL(s.number_cold), seg) \
        X("number_temp", GAU, U64, ULL(s.number_temp), temp) \
        X("age_hot", GAU, "%u", (unsigned)s.age_hot, seg) \
        X("age_warm", GAU, "%u", (unsigned)s.age_warm, seg) \
        X("age", GAU, "%u", (unsigned)s.age, true) \
        X("mem_requested", GAU, U64, ULL(s.mem_requested), true) \
        X("evicted", CTR, U64, ULL(s.evicted), true) \
        X("evicted_nonzero", CTR, U64, ULL(s.evicted_nonzero), true) \
        X("evicted_time", GAU, "%u", (unsigned)s.evicted_time, true) \
        X("outofmemory", CTR, U64, ULL(s.outofmemory), true) \
        X("tailrepairs", CTR, "%d", 0, true) \
        X("reclaimed", CTR, U64, ULL(s.reclaimed), true) \
        X("expired_unfetched", CTR, U64, ULL(s.expired_unfetched), true) \
        X("evicted_unfetched", CTR, U64, ULL(s.evicted_unfetched), true) \
        X("evicted_active", CTR, "%d", 0, seg) \
        X("crawler_reclaimed", CTR, U64, ULL(s.crawler_reclaimed), true) \
        X("crawler_items_checked", CTR, U64, ULL(s.crawler_items_checked), true) \
        X("lrutail_reflocked", CTR, "%d", 0, true) \
        X("moves_to_cold", CTR, U64, ULL(s.moves_to_cold), seg) \
        X("moves_to_warm", CTR, U64, ULL(s.moves_to_warm), seg) \
        X("moves_within_lru", CTR, U64, ULL(s.moves_within_lru), seg) \
        X("direct_reclaims", CTR, U64, ULL(s.direct_reclaims), seg) \
        X("hits_to_hot", CTR, U64, ULL(hits[0]), seg) \
        X("hits_to_warm", CTR, U64, ULL(hits[1]), seg) \
        X("hits_to_cold", CTR, U64, ULL(hits[2]), seg) \
        X("hits_to_temp", CTR, U64, ULL(hits[3]), seg)
#define EMIT_ITEM(field, kind, fmt, value, shown) \
        if (shown) { snprintf(name, sizeof(name), "items:%u:" field, id); \
                     emit(e, name, kind, fmt, value); }
        ITEMS_STATS(EMIT_ITEM)
#undef EMIT_ITEM
#undef ITEMS_STATS
    }
}

/* stats sizes with -o track_sizes: live items per 32-byte size bucket,
 * counted by walking every class when asked (memcached keeps the counts
 * up to date instead; the numbers are approximate there too). */
struct size_histogram {
    uint32_t *count;
    size_t buckets;
};

static void count_item_size(item *it, void *arg)
{
    struct size_histogram *h = arg;
    size_t bucket = (item_ntotal(it) + 31) / 32;
    if (bucket < h->buckets)
        h->count[bucket]++;
}

static void emit_sizes(const struct emitter *e)
{
    struct size_histogram h = { NULL, (size_t)settings.item_size_max / 32 + 2 };
    if (settings.track_sizes)
        h.count = calloc(h.buckets, sizeof(*h.count));
    if (h.count == NULL) {
        emit(e, "sizes_status", INF, "%s", "disabled");
        return;
    }
    for (unsigned id = 1; id <= slabs_class_count(); id++)
        items_foreach(id, count_item_size, &h);
    for (size_t b = 0; b < h.buckets; b++) {
        if (h.count[b] == 0)
            continue;
        char name[24];
        snprintf(name, sizeof(name), "%zu", b * 32);
        emit(e, name, GAU, "%u", h.count[b]);
    }
    free(h.count);
}

/* stats probes: who is tracing, from the probes' semaphores. */
static void emit_probes(const struct emitter *e)
{
    unsigned enabled = 0;
#define PROBE_LINE(name, semaphore) \
    { unsigned n = __atomic_load_n(&semaphore, __ATOMIC_RELAXED); \
      emit(e, "probe:" name, GAU, "%u", n); if (n) enabled++; }
    PROBE_TABLE(PROBE_LINE)
#undef PROBE_LINE
    emit(e, "probes_enabled", GAU, "%u", enabled);
}

/* stats conns, per socket: addr, listen_addr (clients only), state and
 * secs_since_last_cmd, after a "UDP" line for UDP sockets. */
static void emit_conn(void *ctx, const struct conn_stats_entry *c)
{
    const struct emitter *e = ctx;
    char name[40];
#define CONN_LINE(field, kind, fmt, value) do { \
    snprintf(name, sizeof(name), "%d:" field, c->fd); emit(e, name, kind, fmt, value); } while (0)
    if (c->udp)
        CONN_LINE("UDP", INF, "%s", "UDP");
    CONN_LINE("addr", INF, "%s", c->addr);
    if (c->listen_addr)
        CONN_LINE("listen_addr", INF, "%s", c->listen_addr);
    CONN_LINE("state", INF, "%s", c->state);
    CONN_LINE("secs_since_last_cmd", GAU, "%u", c->secs);
#undef CONN_LINE
}

/* stats detail dump: one stat per key prefix. */
static void emit_prefix(void *ctx, const struct prefix_counts *p)
{
    emit(ctx, p->prefix, INF, "get " U64 " hit " U64 " set " U64 " del " U64,
         ULL(p->gets), ULL(p->hits), ULL(p->sets), ULL(p->deletes));
}

/* A latency bucket's upper bound as a label: seconds without trailing
 * zeros ("0.00000125", "1.048576"), or "+Inf". */
static void latency_le_label(int b, char *buf, size_t size)
{
    double le = latency_bucket_le_seconds(b);
    if (b == LATENCY_BUCKETS - 1) {
        snprintf(buf, size, "+Inf");
        return;
    }
    snprintf(buf, size, "%.8f", le);
    char *end = buf + strlen(buf);
    while (end[-1] == '0')
        *--end = '\0';
}

/* The p-quantile (0 < p < 1) of t in microseconds, interpolated linearly
 * within its bucket (the lower bound of the +Inf bucket). Needs count > 0. */
static double latency_quantile_us(const struct latency_totals *t, double p)
{
    double want = p * (double)t->count;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want)
        rank++;
    if (rank < 1)
        rank = 1;
    uint64_t below = 0;
    for (int b = 0; b < LATENCY_BUCKETS; b++) {
        uint64_t n = t->buckets[b];
        if (n == 0 || below + n < rank) {
            below += n;
            continue;
        }
        double lo = b > 0 ? latency_bucket_le_seconds(b - 1) * 1e6 : 0.0;
        if (b == LATENCY_BUCKETS - 1)
            return lo;
        double hi = latency_bucket_le_seconds(b) * 1e6;
        return lo + (hi - lo) * (double)(rank - below) / (double)n;
    }
    return latency_bucket_le_seconds(LATENCY_BUCKETS - 2) * 1e6;   /* racing writers */
}

/* stats latency: the commands that have requests, in latency.h's order. */
static void emit_latency(const struct emitter *e)
{
    static const struct { const char *name; double p; } quantiles[] = {
        { "p50_us", 0.5 }, { "p90_us", 0.9 }, { "p99_us", 0.99 }, { "p99.9_us", 0.999 },
    };
    struct latency_totals t;
    char name[64], le[24];
    for (int cmd = 0; cmd < latency_ncmds(); cmd++) {
        latency_sum(cmd, &t);
        if (t.count == 0)
            continue;
        const char *cn = latency_cmd_name(cmd);
        for (int b = 0; b < LATENCY_BUCKETS; b++) {
            if (t.buckets[b] == 0)
                continue;
            latency_le_label(b, le, sizeof(le));
            snprintf(name, sizeof(name), "%s:le_%s", cn, le);
            emit(e, name, CTR, U64, ULL(t.buckets[b]));
        }
        snprintf(name, sizeof(name), "%s:count", cn);
        emit(e, name, CTR, U64, ULL(t.count));
        snprintf(name, sizeof(name), "%s:sum_ns", cn);
        emit(e, name, CTR, U64, ULL(t.sum_ns));
        for (size_t q = 0; q < sizeof(quantiles) / sizeof(quantiles[0]); q++) {
            snprintf(name, sizeof(name), "%s:%s", cn, quantiles[q].name);
            emit(e, name, GAU, "%.2f", latency_quantile_us(&t, quantiles[q].p));
        }
    }
}

bool stats_group_named(const char *name, enum stats_group *out)
{
    static const struct { const char *name; enum stats_group group; } named[] = {
        { "settings", STATS_SETTINGS }, { "slabs", STATS_SLABS }, { "items", STATS_ITEMS },
        { "sizes", STATS_SIZES }, { "conns", STATS_CONNS }, { "probes", STATS_PROBES },
        { "latency", STATS_LATENCY },
    };
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
        if (strcmp(name, named[i].name) == 0 &&
            (named[i].group != STATS_LATENCY || latency_enabled())) {
            *out = named[i].group;
            return true;
        }
    return false;
}

bool stats_emit(enum stats_group group, stat_sink *sink, void *ctx)
{
    const struct emitter e = { sink, ctx };
    switch (group) {
    case STATS_GENERAL: emit_general(&e); break;
    case STATS_SETTINGS: emit_settings(&e); break;
    case STATS_SLABS: emit_slabs(&e); break;
    case STATS_ITEMS: emit_items(&e); break;
    case STATS_SIZES: emit_sizes(&e); break;
    case STATS_CONNS: return conn_stats_foreach(emit_conn, (void *)&e);
    case STATS_PROBES: emit_probes(&e); break;
    case STATS_DETAIL_DUMP: prefix_stats_foreach(emit_prefix, (void *)&e); break;
    case STATS_LATENCY: emit_latency(&e); break;
    }
    return true;
}
