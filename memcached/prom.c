/* prom.c: renders the stats reporter's groups (general, settings, slabs,
 * items, probes) as Prometheus metrics. Each metric is one line of a list:
 * the stat it comes from, its name (the memcached exporter's where it has
 * the figure), type and help. Collects first, then writes each metric's
 * samples together, as the format requires. */
#include "prom.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "latency.h"
#include "slabs.h"      /* SLAB_CLASS_MAX */
#include "stats.h"

/* ---- the buffer ---- */

void prom_buf_add(struct prom_buf *b, const char *s, size_t len)
{
    if (b->failed)
        return;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->len + len)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (d == NULL) {
            b->failed = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, len);
    b->len += len;
}

static void addf(struct prom_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(struct prom_buf *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    prom_buf_add(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

void prom_buf_free(struct prom_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* ---- the metrics ---- */

#define PROM_VALUE 32   /* room for any stat value we export */

/* One-value metrics from the general group ("stats") and the slabs
 * group's totals. X(stat, metric, type, help) */
#define SCALAR_METRICS(X) \
    X("uptime", "memcached_uptime_seconds", "gauge", "Seconds since the server started.") \
    X("time", "memcached_time_seconds", "gauge", "Current UNIX time according to the server.") \
    X("rusage_user", "memcached_process_user_cpu_seconds_total", "counter", \
      "User CPU time the process has used, in seconds.") \
    X("rusage_system", "memcached_process_system_cpu_seconds_total", "counter", \
      "System CPU time the process has used, in seconds.") \
    X("bytes_read", "memcached_read_bytes_total", "counter", "Bytes read from clients.") \
    X("bytes_written", "memcached_written_bytes_total", "counter", "Bytes sent to clients.") \
    X("curr_connections", "memcached_current_connections", "gauge", "Open client connections.") \
    X("max_connections", "memcached_max_connections", "gauge", "Most clients allowed at once (-c).") \
    X("total_connections", "memcached_connections_total", "counter", "Connections opened since start.") \
    X("rejected_connections", "memcached_connections_rejected_total", "counter", \
      "Connections refused at the -c limit with maxconns_fast.") \
    X("conn_yields", "memcached_connections_yielded_total", "counter", \
      "Times a connection yielded after -R requests.") \
    X("listen_disabled_num", "memcached_connections_listener_disabled_total", "counter", \
      "Times the listener stopped accepting at the connection limit.") \
    X("accepting_conns", "memcached_accepting_connections", "gauge", \
      "1 while the server accepts new connections.") \
    X("bytes", "memcached_current_bytes", "gauge", "Bytes used by stored items.") \
    X("limit_maxbytes", "memcached_limit_bytes", "gauge", "Bytes the server may use for items (-m).") \
    X("curr_items", "memcached_current_items", "gauge", "Items stored now.") \
    X("total_items", "memcached_items_total", "counter", "Items stored since start.") \
    X("evictions", "memcached_items_evicted_total", "counter", \
      "Unexpired items removed to make room for new ones.") \
    X("reclaimed", "memcached_items_reclaimed_total", "counter", \
      "Stores that reused the memory of an expired item.") \
    X("store_too_large", "memcached_item_too_large_total", "counter", \
      "Stores refused for exceeding the item size limit.") \
    X("store_no_memory", "memcached_item_no_memory_total", "counter", \
      "Stores refused for want of memory.") \
    X("lru_crawler_starts", "memcached_lru_crawler_starts_total", "counter", \
      "Times the LRU crawler started.") \
    X("crawler_items_checked", "memcached_lru_crawler_items_checked_total", "counter", \
      "Items the LRU crawler examined.") \
    X("crawler_reclaimed", "memcached_lru_crawler_reclaimed_total", "counter", \
      "Items the LRU crawler freed.") \
    X("moves_to_cold", "memcached_lru_crawler_moves_to_cold_total", "counter", \
      "Items moved from HOT or WARM to COLD.") \
    X("moves_to_warm", "memcached_lru_crawler_moves_to_warm_total", "counter", \
      "Items moved from COLD to WARM.") \
    X("moves_within_lru", "memcached_lru_crawler_moves_within_lru_total", "counter", \
      "Items bumped within HOT or WARM.") \
    X("direct_reclaims", "memcached_direct_reclaims_total", "counter", \
      "Times a worker reclaimed or evicted items itself.") \
    X("total_malloced", "memcached_malloced_bytes", "gauge", "Bytes of memory given to slab pages.")

/* Settings ("stats settings") as numbers; yes/no become 1/0.
 * X(stat, metric, help) -- all gauges. */
#define SETTING_METRICS(X) \
    X("lru_crawler", "memcached_lru_crawler_enabled", "1 when the LRU crawler is on.") \
    X("lru_crawler_sleep", "memcached_lru_crawler_sleep", "Microseconds the LRU crawler sleeps between items.") \
    X("lru_crawler_tocrawl", "memcached_lru_crawler_to_crawl", "Most items crawled per class and run.") \
    X("lru_maintainer_thread", "memcached_lru_crawler_maintainer_thread", "1 with the segmented LRU's maintainer.") \
    X("hot_lru_pct", "memcached_lru_crawler_hot_percent", "Percent of a class's memory for the HOT LRU.") \
    X("warm_lru_pct", "memcached_lru_crawler_warm_percent", "Percent of a class's memory for the WARM LRU.") \
    X("hot_max_factor", "memcached_lru_crawler_hot_max_factor", "HOT idle age limit, as a factor of COLD's age.") \
    X("warm_max_factor", "memcached_lru_crawler_warm_max_factor", "WARM idle age limit, as a factor of COLD's age.")

/* memcached_commands_total{command,status}: X(stat, command, status).
 * set is cmd_set less the cas commands (memcached counts cas in cmd_set). */
#define COMMAND_METRICS(X) \
    X("get_hits", "get", "hit") X("get_misses", "get", "miss") \
    X("delete_hits", "delete", "hit") X("delete_misses", "delete", "miss") \
    X("incr_hits", "incr", "hit") X("incr_misses", "incr", "miss") \
    X("decr_hits", "decr", "hit") X("decr_misses", "decr", "miss") \
    X("cas_hits", "cas", "hit") X("cas_misses", "cas", "miss") X("cas_badval", "cas", "badval") \
    X("touch_hits", "touch", "hit") X("touch_misses", "touch", "miss") \
    X("cmd_flush", "flush", "hit")

/* Per slab class, label slab="<id>". X(stat field, metric, type, extra
 * labels, help); from "stats items" (items:<id>:<field>) when ITEMS, else
 * from "stats slabs" (<id>:<field>). A metric's lines are adjacent. */
#define SLAB_METRICS(X) \
    X(true, "number", "memcached_slab_current_items", "gauge", "", "Items stored in the class.") \
    X(true, "age", "memcached_slab_items_age_seconds", "gauge", "", "Age of the class's oldest item.") \
    X(true, "crawler_reclaimed", "memcached_slab_items_crawler_reclaimed_total", "counter", "", \
      "Items of the class the LRU crawler freed.") \
    X(true, "evicted", "memcached_slab_items_evicted_total", "counter", "", \
      "Unexpired items of the class evicted.") \
    X(true, "evicted_nonzero", "memcached_slab_items_evicted_nonzero_total", "counter", "", \
      "Evicted items of the class that had an expiry time.") \
    X(true, "evicted_time", "memcached_slab_items_evicted_time_seconds", "gauge", "", \
      "Seconds since the last access of the class's last evicted item.") \
    X(true, "evicted_unfetched", "memcached_slab_items_evicted_unfetched_total", "counter", "", \
      "Items of the class evicted without ever being fetched.") \
    X(true, "expired_unfetched", "memcached_slab_items_expired_unfetched_total", "counter", "", \
      "Items of the class expired without ever being fetched.") \
    X(true, "outofmemory", "memcached_slab_items_outofmemory_total", "counter", "", \
      "Stores into the class that failed for want of memory.") \
    X(true, "reclaimed", "memcached_slab_items_reclaimed_total", "counter", "", \
      "Stores into the class that reused an expired item.") \
    X(true, "tailrepairs", "memcached_slab_items_tailrepairs_total", "counter", "", \
      "Times the class's LRU tail was repaired.") \
    X(true, "mem_requested", "memcached_slab_mem_requested_bytes", "gauge", "", \
      "Bytes the class's items take up.") \
    X(true, "moves_to_cold", "memcached_slab_items_moves_to_cold", "gauge", "", \
      "Items of the class moved from HOT or WARM to COLD (a count; gauge as the exporter names it).") \
    X(true, "moves_to_warm", "memcached_slab_items_moves_to_warm", "gauge", "", \
      "Items of the class moved from COLD to WARM (a count).") \
    X(true, "moves_within_lru", "memcached_slab_items_moves_within_lru", "gauge", "", \
      "Items of the class bumped within HOT or WARM (a count).") \
    X(true, "number_hot", "memcached_slab_hot_items", "gauge", "", "Items in the class's HOT LRU.") \
    X(true, "number_warm", "memcached_slab_warm_items", "gauge", "", "Items in the class's WARM LRU.") \
    X(true, "number_cold", "memcached_slab_cold_items", "gauge", "", "Items in the class's COLD LRU.") \
    X(true, "number_temp", "memcached_slab_temporary_items", "gauge", "", \
      "Items in the class's TEMP LRU.") \
    X(true, "age_hot", "memcached_slab_hot_age_seconds", "gauge", "", "Age of the oldest HOT item.") \
    X(true, "age_warm", "memcached_slab_warm_age_seconds", "gauge", "", "Age of the oldest WARM item.") \
    X(true, "hits_to_hot", "memcached_slab_lru_hits_total", "counter", ",lru=\"hot\"", \
      "Get hits by the LRU segment of the item.") \
    X(true, "hits_to_warm", "memcached_slab_lru_hits_total", "counter", ",lru=\"warm\"", "") \
    X(true, "hits_to_cold", "memcached_slab_lru_hits_total", "counter", ",lru=\"cold\"", "") \
    X(true, "hits_to_temp", "memcached_slab_lru_hits_total", "counter", ",lru=\"temporary\"", "") \
    X(false, "chunk_size", "memcached_slab_chunk_size_bytes", "gauge", "", "Bytes per chunk in the class.") \
    X(false, "chunks_per_page", "memcached_slab_chunks_per_page", "gauge", "", "Chunks per page in the class.") \
    X(false, "total_pages", "memcached_slab_current_pages", "gauge", "", "Pages given to the class.") \
    X(false, "total_chunks", "memcached_slab_current_chunks", "gauge", "", "Chunks in the class.") \
    X(false, "used_chunks", "memcached_slab_chunks_used", "gauge", "", "Chunks of the class holding an item.") \
    X(false, "free_chunks", "memcached_slab_chunks_free", "gauge", "", "Free chunks of the class.") \
    X(false, "free_chunks_end", "memcached_slab_chunks_free_end", "gauge", "", \
      "Free chunks at the end of the class's last page.") \
    X(false, "get_hits", "memcached_slab_commands_total", "counter", ",command=\"get\",status=\"hit\"", \
      "Requests by command and status, per slab class.") \
    X(false, "delete_hits", "memcached_slab_commands_total", "counter", ",command=\"delete\",status=\"hit\"", "") \
    X(false, "incr_hits", "memcached_slab_commands_total", "counter", ",command=\"incr\",status=\"hit\"", "") \
    X(false, "decr_hits", "memcached_slab_commands_total", "counter", ",command=\"decr\",status=\"hit\"", "") \
    X(false, "cas_hits", "memcached_slab_commands_total", "counter", ",command=\"cas\",status=\"hit\"", "") \
    X(false, "cas_badval", "memcached_slab_commands_total", "counter", ",command=\"cas\",status=\"badval\"", "") \
    X(false, "touch_hits", "memcached_slab_commands_total", "counter", ",command=\"touch\",status=\"hit\"", "") \
    X(false, "cmd_set", "memcached_slab_commands_total", "counter", ",command=\"set\",status=\"hit\"", "")

/* Indexes into the lists above. */
enum {
#define SCALAR_ID(stat, metric, type, help) 1 +
    N_SCALAR = SCALAR_METRICS(SCALAR_ID) 0,
#undef SCALAR_ID
#define SETTING_ID(stat, metric, help) 1 +
    N_SETTING = SETTING_METRICS(SETTING_ID) 0,
#undef SETTING_ID
#define COMMAND_ID(stat, command, status) 1 +
    N_COMMAND = COMMAND_METRICS(COMMAND_ID) 0,
#undef COMMAND_ID
#define SLAB_ID(items, field, metric, type, labels, help) 1 +
    N_SLAB = SLAB_METRICS(SLAB_ID) 0,
#undef SLAB_ID
};

static const char *const scalar_stats[] = {
#define X(stat, metric, type, help) stat,
    SCALAR_METRICS(X)
#undef X
};
static const char *const setting_stats[] = {
#define X(stat, metric, help) stat,
    SETTING_METRICS(X)
#undef X
};
static const char *const command_stats[] = {
#define X(stat, command, status) stat,
    COMMAND_METRICS(X)
#undef X
};
static const struct slab_metric {
    bool items;
    const char *field, *metric, *type, *labels, *help;
} slab_metrics[] = {
#define X(items, field, metric, type, labels, help) { items, field, metric, type, labels, help },
    SLAB_METRICS(X)
#undef X
};

/* A value as collected: text, empty when the server did not show it. */
typedef char value_text[PROM_VALUE];

/* What one render collects from the reporter. */
struct collected {
    value_text scalar[N_SCALAR];
    value_text setting[N_SETTING];
    value_text command[N_COMMAND];
    value_text cmd_set;
    char version[64];
    unsigned probes_enabled;        /* probes with a tracer attached */
    value_text slab[SLAB_CLASS_MAX + 1][N_SLAB];
};

static void keep(value_text dst, const char *value)
{
    snprintf(dst, PROM_VALUE, "%s", value);
}

/* Finds name in a list of n stat names; -1 if absent. */
static int find(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

static void sink_general(void *ctx, const struct stat_entry *s)
{
    struct collected *c = ctx;
    int i;
    if ((i = find(scalar_stats, N_SCALAR, s->name)) >= 0)
        keep(c->scalar[i], s->value);
    else if ((i = find(command_stats, N_COMMAND, s->name)) >= 0)
        keep(c->command[i], s->value);
    else if (strcmp(s->name, "cmd_set") == 0)
        keep(c->cmd_set, s->value);
    else if (strcmp(s->name, "version") == 0)
        snprintf(c->version, sizeof(c->version), "%s", s->value);
}

static void sink_settings(void *ctx, const struct stat_entry *s)
{
    struct collected *c = ctx;
    int i = find(setting_stats, N_SETTING, s->name);
    if (i < 0)
        return;
    if (strcmp(s->value, "yes") == 0 || strcmp(s->value, "no") == 0)
        keep(c->setting[i], s->value[0] == 'y' ? "1" : "0");
    else
        keep(c->setting[i], s->value);
}

/* "items:<id>:<field>" (items true) or "<id>:<field>": the class's slot. */
static void keep_slab(struct collected *c, bool items, const char *name, const char *value)
{
    if (items) {
        if (strncmp(name, "items:", 6) != 0)
            return;
        name += 6;
    }
    char *end;
    unsigned long id = strtoul(name, &end, 10);
    if (end == name || *end != ':' || id == 0 || id > SLAB_CLASS_MAX)
        return;
    for (int i = 0; i < N_SLAB; i++)
        if (slab_metrics[i].items == items && strcmp(slab_metrics[i].field, end + 1) == 0) {
            keep(c->slab[id][i], value);
            return;
        }
}

static void sink_items(void *ctx, const struct stat_entry *s)
{
    keep_slab(ctx, true, s->name, s->value);
}

static void sink_slabs(void *ctx, const struct stat_entry *s)
{
    struct collected *c = ctx;
    int i = find(scalar_stats, N_SCALAR, s->name);   /* total_malloced */
    if (i >= 0)
        keep(c->scalar[i], s->value);
    else
        keep_slab(c, false, s->name, s->value);
}

static void sink_probes(void *ctx, const struct stat_entry *s)
{
    struct collected *c = ctx;
    if (strcmp(s->name, "probes_enabled") == 0)
        c->probes_enabled = (unsigned)strtoul(s->value, NULL, 10);
}

/* True when text is a number Prometheus reads (memcached's integer and
 * fixed-point formats). */
static bool numeric(const char *text)
{
    if (*text == '\0')
        return false;
    char *end;
    (void)strtod(text, &end);
    return *end == '\0';
}

static unsigned long long u64_of(const char *text)
{
    return strtoull(text, NULL, 10);
}

static void header(struct prom_buf *b, const char *metric, const char *type, const char *help)
{
    addf(b, "# HELP %s %s\n# TYPE %s %s\n", metric, help, metric, type);
}

/* Writes text as a label value: backslash, quote and newline escaped. */
static void label_value(struct prom_buf *b, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '\\' || *p == '"')
            prom_buf_add(b, "\\", 1);
        if (*p == '\n')
            prom_buf_add(b, "\\n", 2);
        else
            prom_buf_add(b, p, 1);
    }
}

static void render_scalars(struct prom_buf *b, const struct collected *c)
{
    header(b, "memcached_up", "gauge", "1: the server answered (it is the one answering).");
    addf(b, "memcached_up 1\n");
    header(b, "memcached_version", "gauge", "The server's version, as the label; always 1.");
    prom_buf_add(b, "memcached_version{version=\"", 27);
    label_value(b, c->version);
    addf(b, "\"} 1\n");
#define X(stat, metric, type, help) \
    if (numeric(c->scalar[i])) { header(b, metric, type, help); \
                                 addf(b, metric " %s\n", c->scalar[i]); } \
    i++;
    int i = 0;
    SCALAR_METRICS(X)
#undef X
    i = 0;
#define X(stat, metric, help) \
    if (numeric(c->setting[i])) { header(b, metric, "gauge", help); \
                                  addf(b, metric " %s\n", c->setting[i]); } \
    i++;
    SETTING_METRICS(X)
#undef X
    header(b, "memcached_probes_enabled", "gauge",
           "1 while a tracer is attached to any of the server's USDT probes.");
    addf(b, "memcached_probes_enabled %u\n", c->probes_enabled ? 1u : 0u);
}

static void render_commands(struct prom_buf *b, const struct collected *c)
{
    static const char *const command[] = {
#define X(stat, cmd, status) cmd,
        COMMAND_METRICS(X)
#undef X
    };
    static const char *const status[] = {
#define X(stat, cmd, st) st,
        COMMAND_METRICS(X)
#undef X
    };
    header(b, "memcached_commands_total", "counter",
           "Requests by command (get, set, ...) and status (hit, miss, badval).");
    unsigned long long cas = 0;
    for (int i = 0; i < N_COMMAND; i++) {
        if (!numeric(c->command[i]))
            continue;
        addf(b, "memcached_commands_total{command=\"%s\",status=\"%s\"} %s\n",
             command[i], status[i], c->command[i]);
        if (strcmp(command[i], "cas") == 0)
            cas += u64_of(c->command[i]);
    }
    if (numeric(c->cmd_set)) {
        unsigned long long set = u64_of(c->cmd_set);
        addf(b, "memcached_commands_total{command=\"set\",status=\"hit\"} %llu\n",
             set > cas ? set - cas : 0);
    }
}

static void render_slabs(struct prom_buf *b, const struct collected *c)
{
    int cas_hits = -1, cas_badval = -1;
    for (int i = 0; i < N_SLAB; i++) {
        if (strcmp(slab_metrics[i].field, "cas_hits") == 0)
            cas_hits = i;
        if (strcmp(slab_metrics[i].field, "cas_badval") == 0)
            cas_badval = i;
    }
    for (int i = 0; i < N_SLAB; i++) {
        const struct slab_metric *m = &slab_metrics[i];
        bool any = false;
        for (int id = 1; id <= SLAB_CLASS_MAX && !any; id++)
            any = numeric(c->slab[id][i]);
        /* A metric's header goes with its first line that has samples. */
        bool headed = false;
        for (int j = i - 1; j >= 0 && strcmp(slab_metrics[j].metric, m->metric) == 0; j--)
            for (int id = 1; id <= SLAB_CLASS_MAX && !headed; id++)
                headed = numeric(c->slab[id][j]);
        if (!any)
            continue;
        if (!headed) {
            const char *help = m->help;
            for (int j = i; *help == '\0' && j > 0; j--)
                help = slab_metrics[j - 1].help;
            header(b, m->metric, m->type, help);
        }
        for (int id = 1; id <= SLAB_CLASS_MAX; id++) {
            const char *v = c->slab[id][i];
            if (!numeric(v))
                continue;
            if (strcmp(m->field, "cmd_set") == 0) {    /* less the cas commands */
                unsigned long long set = u64_of(v), cas = 0;
                if (cas_hits >= 0)
                    cas += u64_of(c->slab[id][cas_hits]);
                if (cas_badval >= 0)
                    cas += u64_of(c->slab[id][cas_badval]);
                addf(b, "%s{slab=\"%d\"%s} %llu\n", m->metric, id, m->labels,
                     set > cas ? set - cas : 0);
            } else {
                addf(b, "%s{slab=\"%d\"%s} %s\n", m->metric, id, m->labels, v);
            }
        }
    }
}

/* memcached_request_duration_seconds{command}: the latency module's
 * histograms (latency.h), for the commands seen since start or stats reset,
 * while recording is on. Buckets cumulative, le in seconds as %.9g (the
 * same text on every server, so series from many servers add). _count is
 * the +Inf bucket: a sum is not one instant's snapshot, and this keeps the
 * buckets and the count of one scrape consistent. */
static void render_latency(struct prom_buf *b)
{
    if (!latency_enabled())
        return;
    bool headed = false;
    for (int cmd = 0; cmd < latency_ncmds(); cmd++) {
        struct latency_totals t;
        latency_sum(cmd, &t);
        if (t.count == 0)
            continue;
        if (!headed) {
            header(b, "memcached_request_duration_seconds", "histogram",
                   "Request latency by command, from parsed to reply queued.");
            headed = true;
        }
        const char *name = latency_cmd_name(cmd);
        uint64_t cumulative = 0;
        for (int k = 0; k < LATENCY_BUCKETS; k++) {
            cumulative += t.buckets[k];
            if (k == LATENCY_BUCKETS - 1)
                addf(b, "memcached_request_duration_seconds_bucket{command=\"%s\",le=\"+Inf\"} %llu\n",
                     name, (unsigned long long)cumulative);
            else
                addf(b, "memcached_request_duration_seconds_bucket{command=\"%s\",le=\"%.9g\"} %llu\n",
                     name, latency_bucket_le_seconds(k), (unsigned long long)cumulative);
        }
        addf(b, "memcached_request_duration_seconds_sum{command=\"%s\"} %.9f\n",
             name, (double)t.sum_ns / 1e9);
        addf(b, "memcached_request_duration_seconds_count{command=\"%s\"} %llu\n",
             name, (unsigned long long)cumulative);
    }
}

bool prom_render(struct prom_buf *out)
{
    struct collected *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        out->failed = true;
        return false;
    }
    stats_emit(STATS_GENERAL, sink_general, c);
    stats_emit(STATS_SETTINGS, sink_settings, c);
    stats_emit(STATS_SLABS, sink_slabs, c);
    stats_emit(STATS_ITEMS, sink_items, c);
    stats_emit(STATS_PROBES, sink_probes, c);
    render_scalars(out, c);
    render_commands(out, c);
    render_slabs(out, c);
    render_latency(out);
    free(c);
    return !out->failed;
}
