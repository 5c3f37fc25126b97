/* stats.c: aggregation and the text of the stats command groups. Each
 * group's lines are one list, in memcached's order. */
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
#include "conn.h"
#include "crawler.h"
#include "items.h"
#include "listen.h"
#include "logger.h"
#include "prefix_stats.h"
#include "probes.h"
#include "reply.h"
#include "settings.h"
#include "slab_mover.h"
#include "slabs.h"
#include "sasl.h"
#include "thread.h"
#include "tls.h"

struct global_stats global_stats = { .accepting_conns = 1 };

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

void stats_slab_ops(unsigned id, struct slab_op_counts *out)
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

void stats_lru_hits(unsigned id, uint64_t out[4])
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

void stats_aggregate(struct thread_stats_sum *out)
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
    atomic_store(&global_stats.total_conns, 0);
    atomic_store(&global_stats.rejected_conns, 0);
    atomic_store(&global_stats.listen_disabled_num, 0);
    atomic_store(&global_stats.time_in_listen_disabled_us, 0);
    prefix_stats_clear();
    stats_reset_storage();
}

void stats_line(reply *r, const char *name, const char *fmt, ...)
{
    char value[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    reply_printf(r, "STAT %s %s\r\n", name, value);
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

void stats_general(reply *r)
{
    struct thread_stats_sum t;
    struct items_totals it;
    struct rusage usage;
    struct slab_mover_stats mover;
    struct crawler_stats crawler;
    stats_aggregate(&t);
    items_totals(&it);
    slab_mover_stats(&mover);
    crawler_stats(&crawler);
    uint64_t log_watchers, log_sent, log_skipped;
    logger_stats(&log_watchers, &log_sent, &log_skipped);
    getrusage(RUSAGE_SELF, &usage);

    /* X(name, format, value): one line per stat, memcached's order. */
#define GENERAL_STATS(X) \
    X("pid", "%ld", (long)getpid()) \
    X("uptime", "%u", (unsigned)current_time) \
    X("time", "%ld", (long)clock_abstime(current_time)) \
    X("version", "%s", MEMCACHED_VERSION) \
    X("libevent", "%s", event_get_version()) \
    X("pointer_size", "%d", (int)(8 * sizeof(void *))) \
    X("rusage_user", "%.6f", timeval_seconds(usage.ru_utime)) \
    X("rusage_system", "%.6f", timeval_seconds(usage.ru_stime)) \
    X("max_connections", "%d", settings.maxconns) \
    X("curr_connections", U64, ULL(curr_connections())) \
    X("total_connections", U64, ULL(atomic_load(&global_stats.total_conns))) \
    X("rejected_connections", U64, ULL(atomic_load(&global_stats.rejected_conns))) \
    X("connection_structures", U64, ULL(atomic_load(&global_stats.conn_structs))) \
    X("response_obj_oom", U64, ULL(atomic_load(&global_stats.response_obj_oom))) \
    X("response_obj_count", "%lld", (long long)atomic_load(&global_stats.response_obj_count)) \
    X("response_obj_bytes", "%lld", (long long)atomic_load(&global_stats.response_obj_bytes)) \
    X("read_buf_count", "%lld", (long long)atomic_load(&global_stats.read_buf_count)) \
    X("read_buf_bytes", "%lld", (long long)atomic_load(&global_stats.read_buf_bytes)) \
    X("read_buf_bytes_free", "%d", 0) \
    X("read_buf_oom", U64, ULL(atomic_load(&global_stats.read_buf_oom))) \
    X("reserved_fds", "%d", 5 * settings.num_threads) \
    X("cmd_get", U64, ULL(t.get_cmds)) \
    X("cmd_set", U64, ULL(t.set_cmds)) \
    X("cmd_flush", U64, ULL(t.flush_cmds)) \
    X("cmd_touch", U64, ULL(t.touch_cmds)) \
    X("cmd_meta", U64, ULL(t.meta_cmds)) \
    X("get_hits", U64, ULL(t.get_hits)) \
    X("get_misses", U64, ULL(t.get_misses)) \
    X("get_expired", U64, ULL(t.get_expired)) \
    X("get_flushed", U64, ULL(t.get_flushed)) \
    X("delete_misses", U64, ULL(t.delete_misses)) \
    X("delete_hits", U64, ULL(t.delete_hits)) \
    X("incr_misses", U64, ULL(t.incr_misses)) \
    X("incr_hits", U64, ULL(t.incr_hits)) \
    X("decr_misses", U64, ULL(t.decr_misses)) \
    X("decr_hits", U64, ULL(t.decr_hits)) \
    X("cas_misses", U64, ULL(t.cas_misses)) \
    X("cas_hits", U64, ULL(t.cas_hits)) \
    X("cas_badval", U64, ULL(t.cas_badval)) \
    X("touch_hits", U64, ULL(t.touch_hits)) \
    X("touch_misses", U64, ULL(t.touch_misses)) \
    X("store_too_large", U64, ULL(t.store_too_large)) \
    X("store_no_memory", U64, ULL(t.store_no_memory)) \
    X("auth_cmds", U64, ULL(t.auth_cmds)) \
    X("auth_errors", U64, ULL(t.auth_errors)) \
    X("idle_kicks", U64, ULL(t.idle_kicks)) \
    X("bytes_read", U64, ULL(t.bytes_read)) \
    X("bytes_written", U64, ULL(t.bytes_written)) \
    X("limit_maxbytes", "%zu", settings.maxbytes) \
    X("accepting_conns", "%d", atomic_load(&global_stats.accepting_conns)) \
    X("listen_disabled_num", U64, ULL(atomic_load(&global_stats.listen_disabled_num))) \
    X("time_in_listen_disabled_us", U64, \
      ULL(atomic_load(&global_stats.time_in_listen_disabled_us))) \
    X("threads", "%d", settings.num_threads) \
    X("conn_yields", U64, ULL(t.conn_yields)) \
    X("hash_power_level", "%u", assoc_hashpower()) \
    X("hash_bytes", "%zu", assoc_hash_bytes()) \
    X("hash_is_expanding", "%d", assoc_expanding() ? 1 : 0) \
    X("slab_reassign_rescues", U64, ULL(mover.rescues)) \
    X("slab_reassign_chunk_rescues", U64, ULL(mover.chunk_rescues)) \
    X("slab_reassign_inline_reclaim", "%d", 0) \
    X("slab_reassign_busy_items", U64, ULL(mover.busy_items)) \
    X("slab_reassign_busy_deletes", "%d", 0) \
    X("slab_reassign_busy_nomem", "%d", 0) \
    X("slab_reassign_last_busy_status", "%s", "none") \
    X("slab_reassign_running", "%d", mover.running) \
    X("slabs_moved", U64, ULL(mover.slabs_moved)) \
    X("lru_crawler_running", "%d", crawler.running) \
    X("lru_crawler_starts", U64, ULL(crawler.starts)) \
    X("lru_maintainer_juggles", U64, ULL(it.lru_maintainer_juggles)) \
    X("malloc_fails", "%d", 0) \
    X("log_worker_dropped", "%d", 0) \
    X("log_worker_written", "%d", 0) \
    X("log_watcher_skipped", U64, ULL(log_skipped)) \
    X("log_watcher_sent", U64, ULL(log_sent)) \
    X("log_watchers", U64, ULL(log_watchers)) \
    X("unexpected_napi_ids", "%d", 0) \
    X("round_robin_fallback", "%d", 0) \
    X("bytes", U64, ULL(it.bytes)) \
    X("curr_items", U64, ULL(it.curr_items)) \
    X("total_items", U64, ULL(it.total_items)) \
    X("slab_global_page_pool", "%zu", slabs_pool_pages()) \
    X("expired_unfetched", U64, ULL(it.expired_unfetched)) \
    X("evicted_unfetched", U64, ULL(it.evicted_unfetched)) \
    X("evicted_active", U64, ULL(it.evicted_active)) \
    X("evictions", U64, ULL(it.evictions)) \
    X("reclaimed", U64, ULL(it.reclaimed)) \
    X("crawler_reclaimed", U64, ULL(it.crawler_reclaimed)) \
    X("crawler_items_checked", U64, ULL(it.crawler_items_checked)) \
    X("lrutail_reflocked", "%d", 0) \
    X("moves_to_cold", U64, ULL(it.moves_to_cold)) \
    X("moves_to_warm", U64, ULL(it.moves_to_warm)) \
    X("moves_within_lru", U64, ULL(it.moves_within_lru)) \
    X("direct_reclaims", U64, ULL(it.direct_reclaims)) \
    X("lru_bumps_dropped", "%d", 0)

#define EMIT(name, fmt, value) if (general_stat_shown(name)) stats_line(r, name, fmt, value);
    GENERAL_STATS(EMIT)
#undef EMIT
    tls_stats(r);   /* -Z: ssl_* counters */
}

static const char *protocol_name(void)
{
    switch (settings.binding_protocol) {
    case PROTOCOL_ASCII: return "ascii";
    case PROTOCOL_BINARY: return "binary";
    default: return "auto-negotiate";
    }
}

void stats_settings(reply *r)
{
#define YESNO(b) ((b) ? "yes" : "no")
#define SETTINGS_STATS(X) \
    X("maxbytes", "%zu", settings.maxbytes) \
    X("maxconns", "%d", settings.maxconns) \
    X("tcpport", "%d", settings.port) \
    X("udpport", "%d", settings.udpport) \
    X("inter", "%s", settings.inter ? settings.inter : "NULL") \
    X("verbosity", "%d", settings.verbose) \
    X("oldest", "%lu", 0UL) \
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
    X("probe_sample_rate", "%u", settings.probe_sample_rate)

/* TLS builds list ssl_* where memcached does: before num_napi_ids. */
#ifdef ENABLE_SECCOMP       /* memcached lists it where it can drop privileges */
#define DROP_PRIVILEGES_STAT(X) X("drop_privileges", "%s", YESNO(settings.drop_privileges))
#else
#define DROP_PRIVILEGES_STAT(X)
#endif
#define EMIT(name, fmt, value) \
    if (strcmp(name, "num_napi_ids") == 0) tls_stats_settings(r); \
    stats_line(r, name, fmt, value);
    SETTINGS_STATS(EMIT)
#undef EMIT
}

static void stats_slabs(reply *r)
{
    unsigned active = 0;
    for (unsigned id = 1; id <= slabs_class_count(); id++) {
        struct slab_class_stats s;
        slabs_class_stats(id, &s);
        if (s.total_pages == 0)
            continue;
        active++;
        char name[64];
#define SLAB_LINE(field, fmt, value) \
        snprintf(name, sizeof(name), "%u:" field, id); stats_line(r, name, fmt, value);
        SLAB_LINE("chunk_size", "%zu", s.chunk_size)
        SLAB_LINE("chunks_per_page", "%u", s.chunks_per_page)
        SLAB_LINE("total_pages", U64, ULL(s.total_pages))
        SLAB_LINE("total_chunks", U64, ULL(s.total_chunks))
        SLAB_LINE("used_chunks", U64, ULL(s.used_chunks))
        SLAB_LINE("free_chunks", U64, ULL(s.free_chunks))
        SLAB_LINE("free_chunks_end", "%d", 0)
        struct slab_op_counts ops;
        stats_slab_ops(id, &ops);
#define SLAB_OP_LINE(field) SLAB_LINE(#field, U64, ULL(ops.field))
        SLAB_OP_STATS(SLAB_OP_LINE)
#undef SLAB_OP_LINE
#undef SLAB_LINE
    }
    stats_line(r, "active_slabs", "%u", active);
    stats_line(r, "total_malloced", "%zu", slabs_mem_used());
}

static void stats_items(reply *r)
{
    for (unsigned id = 1; id <= slabs_class_count(); id++) {
        struct items_class_stats s;
        uint64_t hits[4];
        items_class_stats(id, &s);
        stats_lru_hits(id, hits);
        if (s.number == 0 && s.evicted == 0 && s.outofmemory == 0)
            continue;
        char name[64];
        /* X(field, format, value, shown): memcached's "items:<class>:<field>"
         * lines; the segment lines only with the segmented LRU, TEMP's only
         * with temporary_ttl. */
        bool seg = settings.lru_segmented, temp = seg && settings.temp_lru;
#define ITEMS_STATS(X) \
        X("number", U64, ULL(s.number), true) \
        X("number_hot", U64, ULL(s.number_hot), seg) \
        X("number_warm", U64, ULL(s.number_warm), seg) \
        X("number_cold", U64, ULL(s.number_cold), seg) \
        X("number_temp", U64, ULL(s.number_temp), temp) \
        X("age_hot", "%u", (unsigned)s.age_hot, seg) \
        X("age_warm", "%u", (unsigned)s.age_warm, seg) \
        X("age", "%u", (unsigned)s.age, true) \
        X("mem_requested", U64, ULL(s.mem_requested), true) \
        X("evicted", U64, ULL(s.evicted), true) \
        X("evicted_nonzero", U64, ULL(s.evicted_nonzero), true) \
        X("evicted_time", "%u", (unsigned)s.evicted_time, true) \
        X("outofmemory", U64, ULL(s.outofmemory), true) \
        X("tailrepairs", "%d", 0, true) \
        X("reclaimed", U64, ULL(s.reclaimed), true) \
        X("expired_unfetched", U64, ULL(s.expired_unfetched), true) \
        X("evicted_unfetched", U64, ULL(s.evicted_unfetched), true) \
        X("evicted_active", "%d", 0, seg) \
        X("crawler_reclaimed", U64, ULL(s.crawler_reclaimed), true) \
        X("crawler_items_checked", U64, ULL(s.crawler_items_checked), true) \
        X("lrutail_reflocked", "%d", 0, true) \
        X("moves_to_cold", U64, ULL(s.moves_to_cold), seg) \
        X("moves_to_warm", U64, ULL(s.moves_to_warm), seg) \
        X("moves_within_lru", U64, ULL(s.moves_within_lru), seg) \
        X("direct_reclaims", U64, ULL(s.direct_reclaims), seg) \
        X("hits_to_hot", U64, ULL(hits[0]), seg) \
        X("hits_to_warm", U64, ULL(hits[1]), seg) \
        X("hits_to_cold", U64, ULL(hits[2]), seg) \
        X("hits_to_temp", U64, ULL(hits[3]), seg)
#define EMIT_ITEM(field, fmt, value, shown) \
        if (shown) { snprintf(name, sizeof(name), "items:%u:" field, id); \
                     stats_line(r, name, fmt, value); }
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

static void stats_sizes(reply *r)
{
    struct size_histogram h = { NULL, (size_t)settings.item_size_max / 32 + 2 };
    if (settings.track_sizes)
        h.count = calloc(h.buckets, sizeof(*h.count));
    if (h.count == NULL) {
        stats_line(r, "sizes_status", "%s", "disabled");
        return;
    }
    for (unsigned id = 1; id <= slabs_class_count(); id++)
        items_foreach(id, count_item_size, &h);
    for (size_t b = 0; b < h.buckets; b++) {
        if (h.count[b] == 0)
            continue;
        char name[24];
        snprintf(name, sizeof(name), "%zu", b * 32);
        stats_line(r, name, "%u", h.count[b]);
    }
    free(h.count);
}

/* stats probes: who is tracing, from the probes' semaphores. */
static void stats_probes(reply *r)
{
    unsigned enabled = 0;
#define PROBE_LINE(name, semaphore) \
    { unsigned n = __atomic_load_n(&semaphore, __ATOMIC_RELAXED); \
      stats_line(r, "probe:" name, "%u", n); if (n) enabled++; }
    PROBE_TABLE(PROBE_LINE)
#undef PROBE_LINE
    stats_line(r, "probes_enabled", "%u", enabled);
}

bool stats_group(reply *r, const char *group, const char *arg)
{
    (void)arg;
    if (strcmp(group, "slabs") == 0)
        stats_slabs(r);
    else if (strcmp(group, "items") == 0)
        stats_items(r);
    else if (strcmp(group, "sizes") == 0)
        stats_sizes(r);
    else if (strcmp(group, "conns") == 0)
        conn_stats_conns(r);
    else if (strcmp(group, "probes") == 0)
        stats_probes(r);
    else
        return false;
    return true;
}
