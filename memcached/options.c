/* options.c: every -o suboption memcached 1.6.45 accepts (in a build without
 * the proxy or extstore; the ssl_* ones are tls.c's, in TLS builds only),
 * with its value checks and messages, and the
 * start-up cross-checks between flags. Options for features this server
 * does not have are accepted and do nothing; docs/options.md lists which. */
#include "config.h"
#include "options.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "latency.h"
#include "metrics.h"
#include "settings.h"
#include "sasl.h"
#include "slabs.h"
#include "tls.h"
#include "util.h"

#define CHUNK_ALIGN_BYTES 8     /* slab_sizes steps, as slabs.c aligns them */

static bool slab_chunk_max_given;   /* slab_chunk_max (or no_modern's) set it */
static char *slab_sizes_text;       /* slab_sizes, parsed by options_check() */

/* A number as memcached's safe_strtoul reads an option value (util.h's
 * UTIL_NUM_SAFE: blanks, a sign, digits, then the end or a blank; "-N" only
 * where strtoull's result stays below 2^63), kept to its low 32 bits as
 * memcached keeps it on a 64-bit machine: "4294967297" is 1. *out is 0 when
 * the text is refused. */
static bool parse_u32(const char *s, uint32_t *out)
{
    uint64_t v = 0;
    bool ok = util_parse_u64(s, UTIL_NUL_TERMINATED, UTIL_NUM_SAFE, UINT64_MAX, &v);
    *out = (uint32_t)v;
    return ok;
}

/* The same for memcached's safe_strtol: any int64, kept to its low 32 bits. */
static bool parse_i32(const char *s, int32_t *out)
{
    int64_t v = 0;
    bool ok = util_parse_i64(s, UTIL_NUL_TERMINATED, UTIL_NUM_SAFE, INT64_MIN, INT64_MAX, &v);
    *out = (int32_t)(uint32_t)(uint64_t)v;
    return ok;
}

/* Outcome of one suboption. */
enum applied { APPLIED, FAILED, UNKNOWN };

/* Prints a FAILED option's message (a printf format, newline included)
 * and returns FAILED. */
static enum applied refuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static enum applied refuse(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    return FAILED;
}

/* True (after printing msg and a newline) when an option that needs a
 * value has none. */
static bool missing(const char *value, const char *msg)
{
    if (value != NULL)
        return false;
    fprintf(stderr, "%s\n", msg);
    return true;
}

/* ---- switches: a value after '=' is ignored, as memcached ignores it ---- */

static enum applied maxconns_fast(const char *value)
{
    settings.maxconns_fast = true;
    return APPLIED;
}

static enum applied no_maxconns_fast(const char *value)
{
    settings.maxconns_fast = false;
    return APPLIED;
}

static enum applied no_hashexpand(const char *value)
{
    settings.hash_expand = false;
    return APPLIED;
}

static enum applied slab_reassign(const char *value)
{
    settings.slab_reassign = 1;
    return APPLIED;
}

static enum applied no_slab_reassign(const char *value)
{
    settings.slab_reassign = 0;
    return APPLIED;
}

static enum applied no_slab_automove(const char *value)
{
    settings.slab_automove = 0;
    return APPLIED;
}

static enum applied lru_crawler(const char *value)
{
    settings.lru_crawler = true;
    return APPLIED;
}

static enum applied no_lru_crawler(const char *value)
{
    settings.lru_crawler = false;
    return APPLIED;
}

static enum applied lru_maintainer(const char *value)
{
    settings.lru_maintainer_thread = true;
    settings.lru_segmented = true;
    return APPLIED;
}

static enum applied no_lru_maintainer(const char *value)
{
    settings.lru_maintainer_thread = false;
    settings.lru_segmented = false;
    return APPLIED;
}

static enum applied track_sizes(const char *value)
{
    settings.track_sizes = true;
    return APPLIED;
}

static enum applied no_chunked_items(const char *value)
{
    settings.slab_chunk_size_max = settings.slab_page_size;
    return APPLIED;
}

/* inline_ascii_resp, no_inline_ascii_resp (no-ops in memcached too),
 * modern (memcached: "currently: nothing"), and, in memcached-debug,
 * relaxed_privileges (memcached's debug build takes it for its tests;
 * nothing to relax here). */
static enum applied nothing(const char *value)
{
    return APPLIED;
}

/* no_modern: memcached 1.4's defaults. */
static enum applied no_modern(const char *value)
{
    if (!slab_chunk_max_given)
        settings.slab_chunk_size_max = settings.slab_page_size;
    settings.slab_reassign = 0;
    settings.slab_automove = 0;
    settings.maxconns_fast = false;
    settings.lru_segmented = false;
    settings.hash_algorithm = "jenkins";
    settings.lru_crawler = false;
    settings.lru_maintainer_thread = false;
    return APPLIED;
}

static enum applied drop_privileges(const char *value)
{
    settings.drop_privileges = true;
    return APPLIED;
}

static enum applied no_drop_privileges(const char *value)
{
    settings.drop_privileges = false;
    return APPLIED;
}

static enum applied resp_obj_mem_limit(const char *value)
{
    fprintf(stderr, "DEPRECATED: resp_obj_mem_limit no longer used. See read_buf_mem_limit,\n");
    return APPLIED;
}

/* ---- the hash table and slab rebalancing ---- */

static enum applied hashpower(const char *value)
{
    if (missing(value, "Missing numeric argument for hashpower"))
        return FAILED;
    int v = atoi(value);
    if (v < 12)
        return refuse("Initial hashtable multiplier of %d is too low\n", v);
    if (v > 32)
        return refuse("Initial hashtable multiplier of %d is too high\n"
                      "Choose a value based on \"STAT hash_power_level\" from a running instance\n",
                      v);
    settings.hashpower_init = v;
    return APPLIED;
}

static enum applied hash_algorithm(const char *value)
{
    static const char *const known[] = { "jenkins", "murmur3", "xxh3" };
    if (missing(value, "Missing hash_algorithm argument"))
        return FAILED;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(value, known[i]) == 0) {
            settings.hash_algorithm = known[i];
            return APPLIED;
        }
    }
    return refuse("Unknown hash_algorithm option (jenkins, murmur3, xxh3)\n");
}

static enum applied slab_automove(const char *value)
{
    int v = value ? atoi(value) : 1;
    if (v < 0 || v > 2)
        return refuse("slab_automove must be between 0 and 2\n");
    settings.slab_automove = v;
    return APPLIED;
}

static enum applied slab_automove_ratio(const char *value)
{
    if (missing(value, "Missing slab_automove_ratio argument"))
        return FAILED;
    double v = atof(value);
    if (v <= 0 || v > 1)
        return refuse("slab_automove_ratio must be > 0 and < 1\n");
    settings.slab_automove_ratio = v;
    return APPLIED;
}

static enum applied slab_automove_window(const char *value)
{
    if (missing(value, "Missing slab_automove_window argument"))
        return FAILED;
    int v = atoi(value);
    if (v < 3 || v > 1800)
        return refuse("slab_automove_window must be > 2 and < 1800\n");
    settings.slab_automove_window = v;
    return APPLIED;
}

static enum applied slab_automove_freeratio(const char *value)
{
    if (missing(value, "Missing slab_automove_freeratio argument"))
        return FAILED;
    char *end;
    double v = strtod(value, &end);
    if (end == value || *end != '\0')
        return refuse("could not parse argument to slab_automove_freeratio\n");
    settings.slab_automove_freeratio = v;
    return APPLIED;
}

/* ---- the LRU, its maintainer and crawler ---- */

static enum applied tail_repair_time(const char *value)
{
    if (missing(value, "Missing numeric argument for tail_repair_time"))
        return FAILED;
    int v = atoi(value);
    if (v < 10)
        return refuse("Cannot set tail_repair_time to less than 10 seconds\n");
    settings.tail_repair_time = v;
    return APPLIED;
}

static enum applied lru_crawler_sleep(const char *value)
{
    if (missing(value, "Missing lru_crawler_sleep value"))
        return FAILED;
    int v = atoi(value);
    if (v < 0 || v > 1000000)
        return refuse("LRU crawler sleep must be between 0 and 1 second\n");
    settings.lru_crawler_sleep = v;
    return APPLIED;
}

static enum applied lru_crawler_tocrawl(const char *value)
{
    if (missing(value, "Missing lru_crawler_tocrawl value"))
        return FAILED;
    uint32_t v;
    if (!parse_u32(value, &v))
        return refuse("lru_crawler_tocrawl takes a numeric 32bit value\n");
    settings.lru_crawler_tocrawl = v;
    return APPLIED;
}

/* hot_lru_pct and warm_lru_pct. */
static enum applied lru_pct(const char *value, const char *name, _Atomic int *pct)
{
    char msg[40];
    snprintf(msg, sizeof(msg), "Missing %s argument", name);
    if (missing(value, msg))
        return FAILED;
    int v = atoi(value);
    if (v < 1 || v >= 80)
        return refuse("%s must be > 1 and < 80\n", name);
    *pct = v;
    return APPLIED;
}

static enum applied hot_lru_pct(const char *value)
{
    return lru_pct(value, "hot_lru_pct", &settings.hot_lru_pct);
}

static enum applied warm_lru_pct(const char *value)
{
    return lru_pct(value, "warm_lru_pct", &settings.warm_lru_pct);
}

/* hot_max_factor and warm_max_factor. */
static enum applied max_factor(const char *value, const char *name, _Atomic double *factor)
{
    char msg[40];
    snprintf(msg, sizeof(msg), "Missing %s argument", name);
    if (missing(value, msg))
        return FAILED;
    double v = atof(value);
    if (v <= 0)
        return refuse("%s must be > 0\n", name);
    *factor = v;
    return APPLIED;
}

static enum applied hot_max_factor(const char *value)
{
    return max_factor(value, "hot_max_factor", &settings.hot_max_factor);
}

static enum applied warm_max_factor(const char *value)
{
    return max_factor(value, "warm_max_factor", &settings.warm_max_factor);
}

static enum applied temporary_ttl(const char *value)
{
    if (missing(value, "Missing temporary_ttl argument"))
        return FAILED;
    settings.temp_lru = true;
    settings.temporary_ttl = (uint32_t)atoi(value);
    return APPLIED;
}

/* ---- connections and logging ---- */

static enum applied idle_timeout(const char *value)
{
    if (missing(value, "Missing numeric argument for idle_timeout"))
        return FAILED;
    settings.idle_timeout = atoi(value);
    return APPLIED;
}

/* A size given in units of unit bytes (watcher_logbuf_size and
 * worker_logbuf_size in KB, read_buf_mem_limit in MB), into *bytes. */
static enum applied buffer_size(const char *value, const char *name, uint32_t unit,
                                uint32_t *bytes)
{
    char msg[40];
    snprintf(msg, sizeof(msg), "Missing %s argument", name);
    if (missing(value, msg))
        return FAILED;
    uint32_t n;
    if (!parse_u32(value, &n))
        return refuse("could not parse argument to %s\n", name);
    *bytes = n * unit;
    return APPLIED;
}

static enum applied watcher_logbuf_size(const char *value)
{
    return buffer_size(value, "watcher_logbuf_size", 1024, &settings.watcher_logbuf_size);
}

static enum applied worker_logbuf_size(const char *value)
{
    return buffer_size(value, "worker_logbuf_size", 1024, &settings.worker_logbuf_size);
}

static enum applied read_buf_mem_limit(const char *value)
{
    return buffer_size(value, "read_buf_mem_limit", 1024 * 1024, &settings.read_buf_mem_limit);
}

static enum applied sock_cookie_id(const char *value)
{
    if (missing(value, "Missing sock_cookie_id argument"))  /* memcached crashes here */
        return FAILED;
    uint32_t id;
    (void)parse_u32(value, &id);            /* memcached ignores a bad number */
    settings.sock_cookie_id = id;
    return APPLIED;
}

/* -o metrics_listen=HOST:PORT: the Prometheus endpoint (metrics.h). */
static enum applied metrics_listen(const char *value)
{
    if (missing(value, "Missing metrics_listen argument (HOST:PORT)"))
        return FAILED;
    if (!metrics_configure(value))
        return refuse("metrics_listen: bad value \"%s\": want HOST:PORT, [IPv6]:PORT or :PORT "
                      "(port 1-65535, a host that resolves)\n", value);
    return APPLIED;
}

static enum applied probe_sample_rate(const char *value)
{
    if (missing(value, "Missing probe_sample_rate argument"))
        return FAILED;
    uint64_t rate;      /* ours, not memcached's: never truncated */
    if (!util_parse_u64(value, UTIL_NUL_TERMINATED, UTIL_NUM_SAFE, INT32_MAX, &rate))
        return refuse("probe_sample_rate must be between 0 and 2147483647\n");
    settings.probe_sample_rate = (uint32_t)rate;
    return APPLIED;
}

/* This server's own: per-command latency histograms (latency.h). */
static enum applied latency_stats(const char *value)
{
    latency_set_enabled(true);
    return APPLIED;
}

static enum applied no_latency_stats(const char *value)
{
    latency_set_enabled(false);
    return APPLIED;
}

/* ---- slab classes ---- */

static enum applied slab_sizes(const char *value)
{
    if (missing(value, "Missing slab_sizes argument"))     /* memcached crashes here */
        return FAILED;
    free(slab_sizes_text);
    slab_sizes_text = strdup(value);    /* parsed by options_check() */
    return APPLIED;
}

static enum applied slab_chunk_max(const char *value)
{
    if (missing(value, "Missing slab_chunk_max argument"))
        return FAILED;
    int32_t kb;
    if (!parse_i32(value, &kb))
        return refuse("could not parse argument to slab_chunk_max\n");
    if (kb <= 0)
        return refuse("slab_chunk_max must be >= 0\n");
    if (kb > 1024)
        return refuse("slab_chunk_max must be specified in kilobytes.\n");
    settings.slab_chunk_size_max = kb * 1024;
    slab_chunk_max_given = true;
    return APPLIED;
}

/* Every suboption but the ssl_* ones (tls.c's), by name. */
static const struct suboption {
    const char *name;
    enum applied (*apply)(const char *value);   /* value: NULL without '=' */
} suboptions[] = {
    { "maxconns_fast", maxconns_fast },
    { "no_maxconns_fast", no_maxconns_fast },
    { "no_hashexpand", no_hashexpand },
    { "slab_reassign", slab_reassign },
    { "no_slab_reassign", no_slab_reassign },
    { "no_slab_automove", no_slab_automove },
    { "lru_crawler", lru_crawler },
    { "no_lru_crawler", no_lru_crawler },
    { "lru_maintainer", lru_maintainer },
    { "no_lru_maintainer", no_lru_maintainer },
    { "track_sizes", track_sizes },
    { "inline_ascii_resp", nothing },
    { "no_inline_ascii_resp", nothing },
    { "no_chunked_items", no_chunked_items },
    { "modern", nothing },
    { "no_modern", no_modern },
    { "drop_privileges", drop_privileges },
    { "no_drop_privileges", no_drop_privileges },
    { "resp_obj_mem_limit", resp_obj_mem_limit },
#ifdef MC_DEBUG_BUILD
    { "relaxed_privileges", nothing },
#endif
    { "hashpower", hashpower },
    { "slab_automove", slab_automove },
    { "slab_automove_ratio", slab_automove_ratio },
    { "slab_automove_window", slab_automove_window },
    { "slab_automove_freeratio", slab_automove_freeratio },
    { "tail_repair_time", tail_repair_time },
    { "hash_algorithm", hash_algorithm },
    { "lru_crawler_sleep", lru_crawler_sleep },
    { "lru_crawler_tocrawl", lru_crawler_tocrawl },
    { "hot_lru_pct", hot_lru_pct },
    { "warm_lru_pct", warm_lru_pct },
    { "hot_max_factor", hot_max_factor },
    { "warm_max_factor", warm_max_factor },
    { "temporary_ttl", temporary_ttl },
    { "idle_timeout", idle_timeout },
    { "watcher_logbuf_size", watcher_logbuf_size },
    { "worker_logbuf_size", worker_logbuf_size },
    { "read_buf_mem_limit", read_buf_mem_limit },
    { "slab_sizes", slab_sizes },
    { "slab_chunk_max", slab_chunk_max },
    { "probe_sample_rate", probe_sample_rate },
    { "latency_stats", latency_stats },
    { "no_latency_stats", no_latency_stats },
    { "sock_cookie_id", sock_cookie_id },
    { "metrics_listen", metrics_listen },
};

/* Applies name[=value]; value is NULL without '='. Prints the message of
 * a FAILED option (UNKNOWN is reported by the caller). */
static enum applied apply(const char *name, const char *value)
{
    for (size_t i = 0; i < sizeof(suboptions) / sizeof(suboptions[0]); i++)
        if (strcmp(name, suboptions[i].name) == 0)
            return suboptions[i].apply(value);
    int t = tls_option(name, value);   /* ssl_*: TLS builds only */
    return t > 0 ? APPLIED : t == 0 ? FAILED : UNKNOWN;
}

bool options_parse_extended(const char *arg)
{
    char *copy = strdup(arg);
    if (copy == NULL)
        return false;
    bool ok = true;
    char *p = copy;
    while (*p != '\0') {
        /* The unknown-option message shows this option as written, up to
         * its comma, on stderr, as memcached 1.6.45 does (read from arg,
         * which is not modified). */
        const char *as_written = arg + (p - copy);
        char *comma = strchr(p, ',');
        size_t written_len = comma ? (size_t)(comma - p) : strlen(p);
        char *next = comma ? comma + 1 : p + written_len;
        if (comma)
            *comma = '\0';
        char *value = strchr(p, '=');
        if (value)
            *value++ = '\0';
        enum applied r = *p ? apply(p, value) : UNKNOWN;
        if (r == UNKNOWN)
            fprintf(stderr, "Illegal suboption \"%.*s\"\n", (int)written_len, as_written);
        if (r != APPLIED) {
            ok = false;
            break;
        }
        p = next;
    }
    free(copy);
    return ok;
}

/* slab_sizes "s1-s2-...": increasing chunk sizes, each in [-n, slab_chunk_max]
 * and at least CHUNK_ALIGN_BYTES above the previous one. */
static bool parse_slab_sizes(const char *text)
{
    if (*text == '\0')
        return false;
    uint32_t *sizes = calloc(SLAB_CLASS_MAX, sizeof(*sizes));
    char *copy = strdup(text);
    if (sizes == NULL || copy == NULL) {
        free(sizes);
        free(copy);
        return false;
    }
    int n = 0;
    uint32_t last = 0;
    char *save = NULL;
    bool ok = true;
    for (char *tok = strtok_r(copy, "-", &save); tok; tok = strtok_r(NULL, "-", &save)) {
        uint32_t size;
        if (!parse_u32(tok, &size) || size < (uint32_t)settings.chunk_size ||
            size > (uint32_t)settings.slab_chunk_size_max) {
            fprintf(stderr, "slab size %u is out of valid range\n", size);
            ok = false;
            break;
        }
        if (last >= size) {
            fprintf(stderr, "slab size %u cannot be lower than or equal to a previous class size\n",
                    size);
            ok = false;
            break;
        }
        if (size <= last + CHUNK_ALIGN_BYTES) {
            fprintf(stderr, "slab size %u must be at least %d bytes larger than previous class\n",
                    size, CHUNK_ALIGN_BYTES);
            ok = false;
            break;
        }
        sizes[n++] = size;
        last = size;
        /* Room for these and the slab_chunk_max class, with a spare id. */
        if (n >= SLAB_CLASS_MAX - 3) {
            fprintf(stderr, "too many slab classes specified\n");
            ok = false;
            break;
        }
    }
    free(copy);
    if (!ok) {
        free(sizes);
        return false;
    }
    settings.slab_sizes = sizes;
    return true;
}

int options_check(const struct option_facts *facts)
{
    if (settings.num_napi_ids > settings.num_threads) {
        fprintf(stderr, "Number of napi_ids(%d) cannot be greater than number of threads(%d)\n",
                settings.num_napi_ids, settings.num_threads);
        return EX_USAGE;
    }
    if (settings.item_size_max < 1024) {
        fprintf(stderr, "Item max size cannot be less than 1024 bytes.\n");
        return EX_USAGE;
    }
    if ((size_t)settings.item_size_max > settings.maxbytes / 2) {
        fprintf(stderr, "Cannot set item size limit higher than 1/2 of memory max.\n");
        return EX_USAGE;
    }
    if (settings.item_size_max > 1024 * 1024 * 1024) {
        fprintf(stderr, "Cannot set item size limit higher than a gigabyte.\n");
        return EX_USAGE;
    }
    if (settings.item_size_max > 1024 * 1024 && !slab_chunk_max_given)
        settings.slab_chunk_size_max = settings.slab_page_size / 2;
    if (settings.slab_chunk_size_max > settings.item_size_max) {
        fprintf(stderr, "slab_chunk_max (bytes: %d) cannot be larger than -I (item_size_max %d)\n",
                settings.slab_chunk_size_max, settings.item_size_max);
        return EX_USAGE;
    }
    if (settings.item_size_max % settings.slab_chunk_size_max != 0) {
        fprintf(stderr, "-I (item_size_max: %d) must be evenly divisible by slab_chunk_max (bytes: %d)\n",
                settings.item_size_max, settings.slab_chunk_size_max);
        return EX_USAGE;
    }
    if (settings.slab_page_size % settings.slab_chunk_size_max != 0) {
        fprintf(stderr, "slab_chunk_max (bytes: %d) must divide evenly into %d (slab_page_size)\n",
                settings.slab_chunk_size_max, settings.slab_page_size);
        return EX_USAGE;
    }
    if (slab_sizes_text != NULL && !parse_slab_sizes(slab_sizes_text))
        return EX_USAGE;
    if (settings.hot_lru_pct + settings.warm_lru_pct > 80) {
        fprintf(stderr, "hot_lru_pct + warm_lru_pct cannot be more than 80%% combined\n");
        return EX_USAGE;
    }
    if (settings.temp_lru && !settings.lru_maintainer_thread) {
        fprintf(stderr, "temporary_ttl requires lru_maintainer to be enabled\n");
        return EX_USAGE;
    }
    int sasl_status = sasl_check_settings(facts->protocol_given);  /* -S */
    if (sasl_status != 0)
        return sasl_status;
    if (settings.auth_file != NULL) {
        if (!facts->protocol_given) {
            settings.binding_protocol = PROTOCOL_ASCII;
        } else if (settings.binding_protocol != PROTOCOL_ASCII) {
            fprintf(stderr, "ERROR: You cannot allow the BINARY protocol while using ascii authentication tokens.\n");
            return EX_USAGE;
        }
        if (settings.udpport != 0) {
            fprintf(stderr, "Cannot use UDP with ascii authentication enabled (-U 0 to disable)\n");
            return EX_USAGE;
        }
    }
    /* As memcached: only -p is bounded here (-U 65536 binds port 0, and
     * negative ports other than -1 fail when the listeners open). */
    if (settings.port > 65535) {
        fprintf(stderr, "ERROR: Invalid port number %d.\n", settings.port);
        return EX_USAGE;
    }
    return 0;
}
