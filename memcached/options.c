/* options.c: every -o suboption memcached 1.6.45 accepts (in a build without
 * the proxy or extstore; the ssl_* ones are tls.c's, in TLS builds only),
 * with its value checks and messages, and the
 * start-up cross-checks between flags. Options for features this server
 * does not have are accepted and do nothing; docs/options.md lists which. */
#include "options.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

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

/* no_modern: memcached 1.4's defaults. */
static void old_defaults(void)
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
}

/* Outcome of one suboption. */
enum applied { APPLIED, FAILED, UNKNOWN };

/* Applies name[=value]; value is NULL without '='. Prints the message of
 * a FAILED option (UNKNOWN is reported by the caller). */
static enum applied apply(const char *name, const char *value)
{
#define IS(s) (strcmp(name, s) == 0)
/* Returns FAILED with a message when the option has no value. */
#define NEED(msg) \
    if (value == NULL) { fprintf(stderr, "%s\n", msg); return FAILED; }
/* Returns FAILED with a message when cond holds. */
#define REFUSE_IF(cond, ...) \
    if (cond) { fprintf(stderr, __VA_ARGS__); return FAILED; }

    /* Switches: a value after '=' is ignored, as memcached ignores it. */
    if (IS("maxconns_fast")) settings.maxconns_fast = true;
    else if (IS("no_maxconns_fast")) settings.maxconns_fast = false;
    else if (IS("no_hashexpand")) settings.hash_expand = false;
    else if (IS("slab_reassign")) settings.slab_reassign = 1;
    else if (IS("no_slab_reassign")) settings.slab_reassign = 0;
    else if (IS("no_slab_automove")) settings.slab_automove = 0;
    else if (IS("lru_crawler")) settings.lru_crawler = true;
    else if (IS("no_lru_crawler")) settings.lru_crawler = false;
    else if (IS("lru_maintainer")) {
        settings.lru_maintainer_thread = true;
        settings.lru_segmented = true;
    } else if (IS("no_lru_maintainer")) {
        settings.lru_maintainer_thread = false;
        settings.lru_segmented = false;
    } else if (IS("track_sizes")) settings.track_sizes = true;
    else if (IS("inline_ascii_resp") || IS("no_inline_ascii_resp")) {
        /* no-op in memcached too */
    } else if (IS("no_chunked_items")) settings.slab_chunk_size_max = settings.slab_page_size;
    else if (IS("modern")) {
        /* memcached: "currently: nothing" */
    } else if (IS("no_modern")) old_defaults();
    else if (IS("drop_privileges")) settings.drop_privileges = true;
    else if (IS("no_drop_privileges")) settings.drop_privileges = false;
    else if (IS("resp_obj_mem_limit")) {
        fprintf(stderr, "DEPRECATED: resp_obj_mem_limit no longer used. See read_buf_mem_limit,\n");
#ifdef MC_DEBUG_BUILD
    } else if (IS("relaxed_privileges")) {
        /* memcached's debug build takes it for its tests; nothing to relax here */
#endif
    }
    /* Options with a value. */
    else if (IS("hashpower")) {
        NEED("Missing numeric argument for hashpower")
        int v = atoi(value);
        REFUSE_IF(v < 12, "Initial hashtable multiplier of %d is too low\n", v)
        REFUSE_IF(v > 32, "Initial hashtable multiplier of %d is too high\n"
                  "Choose a value based on \"STAT hash_power_level\" from a running instance\n", v)
        settings.hashpower_init = v;
    } else if (IS("slab_automove")) {
        int v = value ? atoi(value) : 1;
        REFUSE_IF(v < 0 || v > 2, "slab_automove must be between 0 and 2\n")
        settings.slab_automove = v;
    } else if (IS("slab_automove_ratio")) {
        NEED("Missing slab_automove_ratio argument")
        double v = atof(value);
        REFUSE_IF(v <= 0 || v > 1, "slab_automove_ratio must be > 0 and < 1\n")
        settings.slab_automove_ratio = v;
    } else if (IS("slab_automove_window")) {
        NEED("Missing slab_automove_window argument")
        int v = atoi(value);
        REFUSE_IF(v < 3 || v > 1800, "slab_automove_window must be > 2 and < 1800\n")
        settings.slab_automove_window = v;
    } else if (IS("slab_automove_freeratio")) {
        NEED("Missing slab_automove_freeratio argument")
        char *end;
        double v = strtod(value, &end);
        REFUSE_IF(end == value || *end != '\0', "could not parse argument to slab_automove_freeratio\n")
        settings.slab_automove_freeratio = v;
    } else if (IS("tail_repair_time")) {
        NEED("Missing numeric argument for tail_repair_time")
        int v = atoi(value);
        REFUSE_IF(v < 10, "Cannot set tail_repair_time to less than 10 seconds\n")
        settings.tail_repair_time = v;
    } else if (IS("hash_algorithm")) {
        NEED("Missing hash_algorithm argument")
        if (strcmp(value, "jenkins") == 0)
            settings.hash_algorithm = "jenkins";
        else if (strcmp(value, "murmur3") == 0)
            settings.hash_algorithm = "murmur3";
        else if (strcmp(value, "xxh3") == 0)
            settings.hash_algorithm = "xxh3";
        else
            REFUSE_IF(true, "Unknown hash_algorithm option (jenkins, murmur3, xxh3)\n")
    } else if (IS("lru_crawler_sleep")) {
        NEED("Missing lru_crawler_sleep value")
        int v = atoi(value);
        REFUSE_IF(v < 0 || v > 1000000, "LRU crawler sleep must be between 0 and 1 second\n")
        settings.lru_crawler_sleep = v;
    } else if (IS("lru_crawler_tocrawl")) {
        NEED("Missing lru_crawler_tocrawl value")
        uint32_t v;
        REFUSE_IF(!parse_u32(value, &v), "lru_crawler_tocrawl takes a numeric 32bit value\n")
        settings.lru_crawler_tocrawl = v;
    } else if (IS("hot_lru_pct")) {
        NEED("Missing hot_lru_pct argument")
        int v = atoi(value);
        REFUSE_IF(v < 1 || v >= 80, "hot_lru_pct must be > 1 and < 80\n")
        settings.hot_lru_pct = v;
    } else if (IS("warm_lru_pct")) {
        NEED("Missing warm_lru_pct argument")
        int v = atoi(value);
        REFUSE_IF(v < 1 || v >= 80, "warm_lru_pct must be > 1 and < 80\n")
        settings.warm_lru_pct = v;
    } else if (IS("hot_max_factor")) {
        NEED("Missing hot_max_factor argument")
        double v = atof(value);
        REFUSE_IF(v <= 0, "hot_max_factor must be > 0\n")
        settings.hot_max_factor = v;
    } else if (IS("warm_max_factor")) {
        NEED("Missing warm_max_factor argument")
        double v = atof(value);
        REFUSE_IF(v <= 0, "warm_max_factor must be > 0\n")
        settings.warm_max_factor = v;
    } else if (IS("temporary_ttl")) {
        NEED("Missing temporary_ttl argument")
        settings.temp_lru = true;
        settings.temporary_ttl = (uint32_t)atoi(value);
    } else if (IS("idle_timeout")) {
        NEED("Missing numeric argument for idle_timeout")
        settings.idle_timeout = atoi(value);
    } else if (IS("watcher_logbuf_size")) {
        NEED("Missing watcher_logbuf_size argument")
        uint32_t kb;
        REFUSE_IF(!parse_u32(value, &kb), "could not parse argument to watcher_logbuf_size\n")
        settings.watcher_logbuf_size = kb * 1024;
    } else if (IS("worker_logbuf_size")) {
        NEED("Missing worker_logbuf_size argument")
        uint32_t kb;
        REFUSE_IF(!parse_u32(value, &kb), "could not parse argument to worker_logbuf_size\n")
        settings.worker_logbuf_size = kb * 1024;
    } else if (IS("read_buf_mem_limit")) {
        NEED("Missing read_buf_mem_limit argument")
        uint32_t mb;
        REFUSE_IF(!parse_u32(value, &mb), "could not parse argument to read_buf_mem_limit\n")
        settings.read_buf_mem_limit = mb * 1024 * 1024;
    } else if (IS("slab_sizes")) {
        NEED("Missing slab_sizes argument")     /* memcached crashes here */
        free(slab_sizes_text);
        slab_sizes_text = strdup(value);
    } else if (IS("slab_chunk_max")) {
        NEED("Missing slab_chunk_max argument")
        int32_t kb;
        REFUSE_IF(!parse_i32(value, &kb), "could not parse argument to slab_chunk_max\n")
        REFUSE_IF(kb <= 0, "slab_chunk_max must be >= 0\n")
        REFUSE_IF(kb > 1024, "slab_chunk_max must be specified in kilobytes.\n")
        settings.slab_chunk_size_max = kb * 1024;
        slab_chunk_max_given = true;
    } else if (IS("probe_sample_rate")) {
        NEED("Missing probe_sample_rate argument")
        uint64_t rate;      /* ours, not memcached's: never truncated */
        REFUSE_IF(!util_parse_u64(value, UTIL_NUL_TERMINATED, UTIL_NUM_SAFE, INT32_MAX, &rate),
                  "probe_sample_rate must be between 0 and 2147483647\n")
        settings.probe_sample_rate = (uint32_t)rate;
    } else if (IS("sock_cookie_id")) {
        NEED("Missing sock_cookie_id argument")  /* memcached crashes here */
        uint32_t id;
        (void)parse_u32(value, &id);            /* memcached ignores a bad number */
        settings.sock_cookie_id = id;
    } else {
        int t = tls_option(name, value);   /* ssl_*: TLS builds only */
        return t > 0 ? APPLIED : t == 0 ? FAILED : UNKNOWN;
    }
    return APPLIED;
#undef IS
#undef NEED
#undef REFUSE_IF
}

bool options_parse_extended(const char *arg)
{
    char *copy = strdup(arg);
    if (copy == NULL)
        return false;
    bool ok = true;
    char *p = copy;
    while (*p != '\0') {
        /* The unknown-option message shows the rest of the argument from
         * this option on, as memcached's does (arg is not modified: no copy
         * per option, which made a long list quadratic). */
        const char *rest = arg + (p - copy);
        char *comma = strchr(p, ',');
        char *next = comma ? comma + 1 : p + strlen(p);
        if (comma)
            *comma = '\0';
        char *value = strchr(p, '=');
        if (value)
            *value++ = '\0';
        enum applied r = *p ? apply(p, value) : UNKNOWN;
        if (r == UNKNOWN)
            printf("Illegal suboption \"%s\"\n", rest);  /* stdout, as memcached */
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
