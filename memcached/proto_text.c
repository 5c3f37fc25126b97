/* proto_text.c: the ASCII protocol. One command line at a time is split
 * into tokens in place (the read buffer is ours to modify) and served
 * through the operations layer; replies and error strings are memcached's. */
#include "config.h"
#include "proto_text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "crawler.h"
#include "logger.h"
#include "ops.h"
#include "probes.h"
#include "proto_auth.h"
#include "proto_meta.h"
#include "sandbox.h"
#include "settings.h"
#include "shutdown.h"
#include "slab_mover.h"
#include "slabs.h"
#include "stats.h"
#include "thread.h"
#include "tokens.h"
#include "util.h"
#include "tls.h"

#define MAX_TOKENS 24
#define LINE_LIMIT_NO_NEWLINE 2048  /* bytes without "\n" before we give up */
#define LEADING_SPACES_MAX 100      /* before a long multi-get line, at most */

/* Number fields, read as memcached 1.6.45 reads each (util.h); all need
 * a NUL-terminated token and return false, *out untouched, on refusal. */

/* The hot path's shortcut: a token of 1 to 9 decimal digits and nothing
 * else, which every reader below takes as its plain value (within each
 * one's range); false for anything else, left to the full parser. */
static inline bool small_decimal(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    int i = 0;
    for (; i < 9 && (unsigned)(s[i] - '0') < 10; i++)
        v = v * 10 + (uint32_t)(s[i] - '0');
    if (i == 0 || s[i] != '\0')
        return false;
    *out = v;
    return true;
}

/* Digits only, at most 2^64-1: cas unique, incr/decr delta. */
static bool parse_u64(const char *s, uint64_t *out)
{
    return util_parse_u64(s, UTIL_NUL_TERMINATED, 0, UINT64_MAX, out);
}

/* Digits only, at most 2^32-1: verbosity, cache_memlimit, lru_crawler
 * sleep and tocrawl ("+5", " 5", "5\t" refused). */
static bool parse_u32(const char *s, uint64_t *out)
{
    return util_parse_u64(s, UTIL_NUL_TERMINATED, 0, UINT32_MAX, out);
}

#ifdef MC_DEBUG_BUILD
/* strtol's syntax: the debug commands' numbers. */
static bool parse_i64(const char *s, int64_t *out)
{
    return util_parse_i64(s, UTIL_NUL_TERMINATED, UTIL_NUM_STRTOL, INT64_MIN, INT64_MAX, out);
}
#endif

/* An optional '-' then digits, within int32; "-" alone is 0 and "+5" or
 * "\t5" are refused: value length, touch/gat/flush_all exptime, slabs
 * reassign class ids. */
static bool parse_i32(const char *s, int32_t *out)
{
    uint32_t small;
    if (small_decimal(s, &small)) {
        *out = (int32_t)small;
        return true;
    }
    int64_t v = 0;
    if (strcmp(s, "-") != 0 &&
        !util_parse_i64(s, UTIL_NUL_TERMINATED, UTIL_NUM_MINUS, INT32_MIN, INT32_MAX, &v))
        return false;
    *out = (int32_t)v;
    return true;
}

/* True when s is one or more white-space bytes and nothing else: set's
 * flags and exptime read such a token as 0. */
static bool all_space(const char *s)
{
    if (*s == '\0')
        return false;
    while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        s++;
    return *s == '\0';
}

/* A storage command's flags: memcached's safe_strtoull syntax (util.h
 * UTIL_NUM_SAFE, "-N" as 2^64-N), or only white space (0); the caller
 * keeps the low 32 bits, so "4294967296" is 0. */
static bool parse_flags(const char *s, uint64_t *out)
{
    uint32_t small;
    if (small_decimal(s, &small)) {
        *out = small;
        return true;
    }
    if (all_space(s)) {
        *out = 0;
        return true;
    }
    return util_parse_u64(s, UTIL_NUL_TERMINATED, UTIL_NUM_SAFE | UTIL_NUM_MINUS, UINT64_MAX, out);
}

/* A storage command's exptime: memcached's safe_strtol syntax within
 * int64, or only white space (0), cut to its low 32 bits as int32, so
 * "4294967296" is 0 (never expires) and "4294967295" is -1. */
static bool parse_store_exptime(const char *s, int32_t *out)
{
    uint32_t small;
    if (small_decimal(s, &small)) {
        *out = (int32_t)small;
        return true;
    }
    int64_t v = 0;
    if (!all_space(s) &&
        !util_parse_i64(s, UTIL_NUL_TERMINATED, UTIL_NUM_SAFE, INT64_MIN, INT64_MAX, &v))
        return false;
    *out = (int32_t)(uint32_t)(uint64_t)v;
    return true;
}

static bool is_noreply(const token *t)
{
    return t->length == 7 && memcmp(t->value, "noreply", 7) == 0;
}

static void out(conn *c, const char *s) { reply_str(&c->out, s); }

/* ---- retrieval ---- */

/* Writes the decimal digits of v at p; returns how many. */
static int put_u64(char *p, uint64_t v)
{
    if (v < 10) {           /* the usual flags */
        p[0] = (char)('0' + v);
        return 1;
    }
    if (v < 100) {          /* small values' lengths */
        p[0] = (char)('0' + v / 10);
        p[1] = (char)('0' + v % 10);
        return 2;
    }
    int n = 1;
    for (uint64_t t = v; t >= 10; t /= 10)
        n++;
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return n;
}

/* " <flags> <bytes>[ <cas>]\r\n" of a VALUE line, without printf (this is
 * the hottest formatting in the server). Returns the length. */
static int format_value_tail(char *p, uint32_t flags, uint32_t bytes, uint64_t cas, bool with_cas)
{
    int n = 0;
    p[n++] = ' ';
    n += put_u64(p + n, flags);
    p[n++] = ' ';
    n += put_u64(p + n, bytes);
    if (with_cas) {
        p[n++] = ' ';
        n += put_u64(p + n, cas);
    }
    p[n++] = '\r';
    p[n++] = '\n';
    return n;
}

/* get/gets/gat/gats. args..end is the line after the command name (end
 * points at the line's NUL); keys are split on spaces only. */
static void process_get(conn *c, char *args, char *end, bool return_cas, bool touch,
                        const char *cmd)
{
    op_request rq;
    conn_op_request(c, &rq, cmd, false);
    if (probe_request_sample_enabled())     /* idle: no call */
        op_request_keys(&rq, (size_t)(end - args) / 2 + 1);    /* at most this many keys */
    rel_time_t exptime = 0;
    char *p = args;
    if (touch) {
        while (p < end && *p == ' ')
            p++;
        char *e = p;
        while (p < end && *p != ' ')
            p++;
        *p = '\0';
        int32_t seconds;
        bool has_key = false;   /* memcached checks for a key before the exptime */
        for (char *q = p + 1; q < end && !has_key; q++)
            has_key = *q != ' ';
        if (e == p || !has_key) {
            conn_error(c, "CLIENT_ERROR bad command line format");
            return;
        }
        if (!parse_i32(e, &seconds)) {
            conn_error(c, "CLIENT_ERROR invalid exptime argument");
            return;
        }
        if (p < end)
            p++;
        exptime = clock_realtime(seconds);
    }
    int nkeys = 0;
    while (p < end) {
        while (p < end && *p == ' ')
            p++;
        if (p >= end)
            break;
        char *key = p;
        while (p < end && *p != ' ')
            p++;
        size_t nkey = (size_t)(p - key);
        *p = '\0';
        if (p < end)
            p++;
        if (nkey > KEY_MAX_LENGTH) {
            /* As memcached: the replies queued for this and the requests
             * before it since the last flush are dropped, and the error
             * carries an extra empty line. */
            reply_reset(&c->out);
            reply_mark(&c->out);
            conn_error(c, "CLIENT_ERROR bad command line format");
            out(c, "\r\n");
            return;
        }
        if (nkeys > 0 && !reply_take_object(&c->out, c->rsize > REPLY_LIMIT_BUFFER_BYTES)) {
            /* -o read_buf_mem_limit: as memcached, all queued replies go. */
            reply_reset(&c->out);
            reply_mark(&c->out);
            conn_error(c, "SERVER_ERROR out of memory writing get response");
            return;
        }
        nkeys++;
        reply_message_break(&c->out);   /* UDP: one message per key */
        item *it = op_get(&rq, key, nkey, touch, exptime);
        if (it == NULL)
            continue;
        char *hdr = reply_space(&c->out, nkey + 64);
        if (hdr != NULL) {
            memcpy(hdr, "VALUE ", 6);
            memcpy(hdr + 6, key, nkey);
            int n = (int)(6 + nkey);
            if (return_cas)
                n += format_value_tail(hdr + n, it->client_flags, it->nbytes - 2,
                                       item_get_cas(it), true);
            else
                n += format_value_tail(hdr + n, it->client_flags, it->nbytes - 2, 0, false);
            reply_commit(&c->out, (size_t)n);
        }
        reply_item_value(&c->out, it, it->nbytes);
    }
    if (nkeys == 0) {
        conn_error(c, "CLIENT_ERROR bad command line format");
        return;
    }
    out(c, "END\r\n");
}

/* ---- storage ---- */

/* A storage command's reply once its value is in (conn_stored_fn). */
static void reply_stored(conn *c, enum store_result r, const struct op_store_out *so, item *it)
{
    (void)so;
    (void)it;
    switch (r) {
    case STORE_STORED: out(c, "STORED\r\n"); break;
    case STORE_NOT_STORED: out(c, "NOT_STORED\r\n"); break;
    case STORE_EXISTS: out(c, "EXISTS\r\n"); break;
    case STORE_NOT_FOUND: out(c, "NOT_FOUND\r\n"); break;
    case STORE_NO_MEMORY: conn_error(c, "SERVER_ERROR out of memory storing object"); break;
    case STORE_BAD_DATA: conn_error(c, "CLIENT_ERROR bad data chunk"); break;
    }
}

/* Refuses a storage command line. When its length token parses, the data
 * block that follows is skipped, so it is never read as commands. */
static void refuse_update(conn *c, token *tokens, int ntokens, bool noreply)
{
    int32_t vlen;
    c->out.suppress = noreply;
    conn_error(c, "CLIENT_ERROR bad command line format");
    c->out.suppress = false;
    if (ntokens >= 5 && parse_i32(tokens[4].value, &vlen) && vlen >= 0)
        conn_swallow(c, (size_t)vlen + 2);
}

static void process_update(conn *c, token *tokens, int ntokens, enum store_op op,
                           const char *cmd)
{
    int need = op == STORE_CAS ? 6 : 5;
    op_request rq;
    conn_op_request(c, &rq, cmd, false);
    bool noreply = ntokens >= need && is_noreply(&tokens[ntokens - 1]);
    if (ntokens < need) {
        refuse_update(c, tokens, ntokens, false);
        return;
    }
    const char *key = tokens[1].value;
    size_t nkey = tokens[1].length;
    uint64_t flags64, req_cas = 0;
    int32_t exptime;
    int32_t vlen;
    if (!parse_i32(tokens[4].value, &vlen) || vlen < 0 || vlen > INT32_MAX - 2) {
        conn_error(c, "CLIENT_ERROR bad command line format");
        return;
    }
    if (nkey > KEY_MAX_LENGTH || !parse_flags(tokens[2].value, &flags64) ||
        !parse_store_exptime(tokens[3].value, &exptime) ||
        (op == STORE_CAS && !parse_u64(tokens[5].value, &req_cas))) {
        refuse_update(c, tokens, ntokens, noreply);
        return;
    }
    enum alloc_failure why;
    item *it = op_alloc(&rq, key, nkey, (uint32_t)flags64, clock_realtime(exptime),
                        (uint32_t)vlen + 2, &why);
    if (it == NULL) {
        c->out.suppress = noreply;
        if (why == ALLOC_TOO_LARGE)
            conn_error(c, "SERVER_ERROR object too large for cache");
        else if (why == ALLOC_NO_MEMORY)
            conn_error(c, "SERVER_ERROR out of memory storing object");
        else
            conn_error(c, "SERVER_ERROR Out of memory during read");
        c->out.suppress = false;
        conn_store_refused(c, &rq, key, nkey, op, why, (size_t)vlen + 2);
        return;
    }
    struct value_request vr = {
        .len = (size_t)vlen + 2,
        .noreply = noreply,
        .rq = rq,
        .opts = { .op = op, .req_cas = req_cas },
        .stored = reply_stored,
    };
    conn_expect_value(c, it, &vr);
}

/* ---- other key commands ---- */

static void process_delete(conn *c, token *tokens, int ntokens)
{
    op_request rq;
    conn_op_request(c, &rq, "delete", false);
    if (ntokens < 2) {
        conn_error(c, "CLIENT_ERROR bad command line format");
        return;
    }
    if (ntokens > 4) {
        conn_error(c, "ERROR");     /* 1.6.18: not a delete command at all */
        return;
    }
    bool noreply = ntokens > 2 && is_noreply(&tokens[ntokens - 1]);
    /* Arguments as memcached 1.6.18 takes them (the old hold time must be
     * 0), which clients' conformance tests check; 1.6.45 ignores them. */
    bool zero = ntokens > 2 && strcmp(tokens[2].value, "0") == 0;
    if ((ntokens == 3 && !zero && !noreply) || (ntokens == 4 && !(zero && noreply))) {
        c->out.suppress = noreply;
        conn_error(c, "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]");
        c->out.suppress = false;
        return;
    }
    if (tokens[1].length > KEY_MAX_LENGTH) {
        c->out.suppress = noreply;
        conn_error(c, "CLIENT_ERROR bad command line format");
        c->out.suppress = false;
        return;
    }
    enum delete_result r = op_delete(&rq, tokens[1].value, tokens[1].length, 0);
    c->out.suppress = noreply;
    out(c, r == DELETE_DELETED ? "DELETED\r\n" : "NOT_FOUND\r\n");
    c->out.suppress = false;
}

static void process_arith(conn *c, token *tokens, int ntokens, bool incr)
{
    op_request rq;
    conn_op_request(c, &rq, incr ? "incr" : "decr", false);
    if (ntokens < 3 || tokens[1].length > KEY_MAX_LENGTH) {
        conn_error(c, "CLIENT_ERROR bad command line format");
        return;
    }
    bool noreply = is_noreply(&tokens[ntokens - 1]);    /* even as the number */
    uint64_t delta;
    c->out.suppress = noreply;
    if (!parse_u64(tokens[2].value, &delta)) {
        conn_error(c, "CLIENT_ERROR invalid numeric delta argument");
        c->out.suppress = false;
        op_request_error(&rq, tokens[1].value, tokens[1].length);
        return;
    }
    uint64_t value, cas;
    switch (op_arith(&rq, tokens[1].value, tokens[1].length, incr, delta, NULL, &value, &cas,
                     NULL)) {
    case ARITH_OK:
        reply_printf(&c->out, "%llu\r\n", (unsigned long long)value);
        break;
    case ARITH_NOT_FOUND:
    case ARITH_EXISTS:
        out(c, "NOT_FOUND\r\n");
        break;
    case ARITH_NON_NUMERIC:
        conn_error(c, "CLIENT_ERROR cannot increment or decrement non-numeric value");
        break;
    case ARITH_NO_MEMORY:
        conn_error(c, "SERVER_ERROR out of memory");
        break;
    }
    c->out.suppress = false;
}

static void process_touch(conn *c, token *tokens, int ntokens)
{
    op_request rq;
    conn_op_request(c, &rq, "touch", false);
    if (ntokens < 3 || tokens[1].length > KEY_MAX_LENGTH) {
        conn_error(c, "CLIENT_ERROR bad command line format");
        return;
    }
    bool noreply = is_noreply(&tokens[ntokens - 1]);    /* even as the number */
    int32_t exptime;
    c->out.suppress = noreply;
    if (!parse_i32(tokens[2].value, &exptime)) {
        conn_error(c, "CLIENT_ERROR invalid exptime argument");
    } else {
        bool found = op_touch(&rq, tokens[1].value, tokens[1].length, clock_realtime(exptime),
                              NULL, NULL);
        out(c, found ? "TOUCHED\r\n" : "NOT_FOUND\r\n");
    }
    c->out.suppress = false;
}

/* ---- admin commands ---- */

static void process_flush_all(conn *c, token *tokens, int ntokens)
{
    op_request rq;
    conn_op_request(c, &rq, "flush_all", false);
    bool noreply = ntokens > 1 && is_noreply(&tokens[ntokens - 1]);
    c->out.suppress = noreply;
    if (!settings.flush_enabled) {
        STAT_INC(rq.stats, flush_cmds);     /* memcached counts refusals too */
        conn_error(c, "CLIENT_ERROR flush_all not allowed");
        c->out.suppress = false;
        return;
    }
    int64_t delay = 0;
    int args = ntokens - 1 - (noreply ? 1 : 0);
    if (args > 0) {
        int32_t d;
        if (!parse_i32(tokens[1].value, &d)) {
            STAT_INC(rq.stats, flush_cmds);
            conn_error(c, "CLIENT_ERROR invalid exptime argument");
            c->out.suppress = false;
            return;
        }
        delay = d;
    }
    op_flush_all(&rq, delay);
    out(c, "OK\r\n");
    c->out.suppress = false;
}

static void process_verbosity(conn *c, token *tokens, int ntokens)
{
    if (ntokens < 2) {
        conn_error(c, "CLIENT_ERROR bad command line format");
        return;
    }
    bool noreply = is_noreply(&tokens[ntokens - 1]);
    uint64_t level;
    if (!parse_u32(tokens[1].value, &level)) {
        c->out.suppress = noreply;
        conn_error(c, "CLIENT_ERROR bad command line format");
        c->out.suppress = false;
        return;
    }
    settings.verbose = (int)(level > 2 ? 2 : level);
    c->out.suppress = noreply;
    out(c, "OK\r\n");
    c->out.suppress = false;
}

/* probe_sample_rate <n> [noreply]: request__sample's rate from now on
 * (0: never). A missing, negative or non-numeric n, or one above INT32_MAX,
 * gets verbosity's CLIENT_ERROR. */
static void process_probe_sample_rate(conn *c, token *tokens, int ntokens)
{
    bool noreply = ntokens == 3 && is_noreply(&tokens[2]);
    uint64_t rate;
    if (ntokens < 2 || (ntokens > 2 && !noreply) || !parse_u64(tokens[1].value, &rate) ||
        rate > INT32_MAX) {
        c->out.suppress = noreply;
        conn_error(c, "CLIENT_ERROR bad command line format");
        c->out.suppress = false;
        return;
    }
    op_set_sample_rate((uint32_t)rate);
    c->out.suppress = noreply;
    out(c, "OK\r\n");
    c->out.suppress = false;
}

/* watch [kinds...]: "OK", then the connection becomes a log stream: once
 * its replies are sent, conn_close hands the socket to the logger. */
static void process_watch(conn *c, token *tokens, int ntokens)
{
    const char *words[MAX_TOKENS];
    unsigned kinds;
    int n = 0;
    for (int i = 1; i < ntokens && n < MAX_TOKENS; i++)
        words[n++] = tokens[i].value;
    if (!settings.watch_enabled) {
        conn_error(c, "CLIENT_ERROR watch commands not allowed");
    } else if (c->stacked > 0) {
        conn_error(c, "ERROR cannot pipeline other commands before watch");
    } else if (!logger_parse_kinds(words, n, &kinds) || c->udp || c->tls) {
        conn_error(c, "ERROR");     /* a stream needs a plain stream socket */
    } else if (!logger_watcher_room()) {
        out(c, "WATCHER_TOO_MANY log watcher limit reached\r\n");
    } else {
        out(c, "OK\r\n");
        c->watch_kinds = kinds;
        conn_close_after_reply(c, "watch");
    }
}

/* stats sinks (stats.h) writing to a reply: memcached's "STAT name
 * value" lines, and the "PREFIX name value" lines of stats detail dump. */
static void stat_line_sink(void *ctx, const struct stat_entry *s)
{
    reply_printf(ctx, "STAT %s %s\r\n", s->name, s->value);
}

static void prefix_line_sink(void *ctx, const struct stat_entry *s)
{
    reply_printf(ctx, "PREFIX %s %s\r\n", s->name, s->value);
}

/* Queues group's lines and the closing "END". */
static void stats_reply(conn *c, enum stats_group group, stat_sink *sink)
{
    if (!stats_emit(group, sink, &c->out))
        c->out.failed = true;
    out(c, "END\r\n");
}

/* stats detail on|off|dump: the per-prefix counters (refused with -X). */
static void process_stats_detail(conn *c, const char *sub)
{
    if (!settings.dump_enabled) {
        conn_error(c, "CLIENT_ERROR stats detail not allowed");
    } else if (strcmp(sub, "on") == 0) {
        settings.detail_enabled = true;
        out(c, "OK\r\n");
    } else if (strcmp(sub, "off") == 0) {
        settings.detail_enabled = false;
        out(c, "OK\r\n");
    } else if (strcmp(sub, "dump") == 0) {
        stats_reply(c, STATS_DETAIL_DUMP, prefix_line_sink);
    } else {
        conn_error(c, "CLIENT_ERROR usage: stats detail on|off|dump");
    }
}

#define CACHEDUMP_MAX_BYTES (2 * 1024 * 1024)   /* memcached's bound on one dump */

struct cachedump {
    reply *r;
    uint64_t left;      /* lines still wanted; 0: no limit */
    size_t bytes;       /* written so far */
};

/* One "ITEM <key> [<value bytes> b; <exptime> s]" line of stats cachedump. */
static bool cachedump_item(item *it, void *arg)
{
    struct cachedump *d = arg;
    char line[KEY_MAX_LENGTH + 64];
    int n = snprintf(line, sizeof(line), "ITEM %.*s [%u b; %ld s]\r\n", (int)it->nkey,
                     item_key(it), it->nbytes - 2,
                     it->exptime ? (long)clock_abstime(it->exptime) : 0L);
    if (d->bytes + (size_t)n + 5 > CACHEDUMP_MAX_BYTES)
        return false;
    reply_text(d->r, line, (size_t)n);
    d->bytes += (size_t)n;
    return d->left == 0 || --d->left > 0;
}

/* stats cachedump <class> <limit>: the class's COLD items, newest first
 * (limit 0: all, within 2 MB), then "END". Class 0 lists nothing. */
static void process_stats_cachedump(conn *c, token *tokens, int ntokens)
{
    uint64_t id, limit;
    if (!settings.dump_enabled) {
        conn_error(c, "CLIENT_ERROR stats cachedump not allowed");
    } else if (ntokens < 4) {
        conn_error(c, "CLIENT_ERROR bad command line");
    } else if (!parse_u32(tokens[2].value, &id) || !parse_u32(tokens[3].value, &limit)) {
        conn_error(c, "CLIENT_ERROR bad command line format");
    } else if (id >= SLAB_CLASS_MAX) {
        conn_error(c, "CLIENT_ERROR Illegal slab id");
    } else {
        struct cachedump d = { .r = &c->out, .left = limit, .bytes = 0 };
        if (id > 0)
            items_foreach_cold((unsigned)id, cachedump_item, &d);
        out(c, "END\r\n");
    }
}

/* stats [group]: memcached answers a group it does not know with "ERROR". */
static void process_stats(conn *c, token *tokens, int ntokens)
{
    enum stats_group group;
    if (ntokens < 2) {
        stats_reply(c, STATS_GENERAL, stat_line_sink);
    } else if (strcmp(tokens[1].value, "reset") == 0) {
        stats_reset();
        out(c, "RESET\r\n");
    } else if (strcmp(tokens[1].value, "detail") == 0) {
        process_stats_detail(c, ntokens > 2 ? tokens[2].value : "");
    } else if (strcmp(tokens[1].value, "cachedump") == 0) {
        process_stats_cachedump(c, tokens, ntokens);
    } else if (stats_group_named(tokens[1].value, &group)) {
        stats_reply(c, group, stat_line_sink);
    } else {
        conn_error(c, "ERROR");
    }
}

/* refresh_certs (TLS builds): "OK", or memcached's error line as is. */
static void process_refresh_certs(conn *c)
{
    char err[1024];
    if (tls_refresh_certs(err, sizeof(err))) {
        out(c, "OK\r\n");
        return;
    }
    reply_str(&c->out, err);
    reply_text(&c->out, "\r\n", 2);
}

static void process_cache_memlimit(conn *c, token *tokens, int ntokens)
{
    uint64_t mb;
    bool noreply = is_noreply(&tokens[ntokens - 1]);
    if (ntokens < 2 || !parse_u32(tokens[1].value, &mb)) {
        c->out.suppress = noreply;
        conn_error(c, "ERROR");
        c->out.suppress = false;
        return;
    }
    if (mb > 1000000000) {      /* memcached's bound; the limit stays as it was */
        c->out.suppress = noreply;
        conn_error(c, "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes");
        c->out.suppress = false;
        return;
    }
    if (mb < 8) {
        c->out.suppress = noreply;
        conn_error(c, "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m");
        c->out.suppress = false;
        return;
    }
    settings.maxbytes = (size_t)mb * 1024 * 1024;
    slabs_set_limit(settings.maxbytes);
    c->out.suppress = noreply;
    out(c, "OK\r\n");
    c->out.suppress = false;
}

static void process_debugtime(conn *c, token *tokens, int ntokens)
{
#ifdef MC_DEBUG_BUILD
    int64_t seconds;
    if (ntokens < 2 || !parse_i64(tokens[1].value, &seconds) || seconds < 0) {
        conn_error(c, "CLIENT_ERROR bad command line format");
        return;
    }
    clock_advance(seconds);
    out(c, "OK\r\n");
#else
    (void)tokens;
    (void)ntokens;
    conn_error(c, "ERROR");
#endif
}

/* misbehave (debug build only): makes a system call no serving path makes;
 * with -o drop_privileges the filter kills the process, else "OK". */
static void process_misbehave(conn *c)
{
#ifdef MC_DEBUG_BUILD
    if (sandbox_misbehave())
        out(c, "OK\r\n");
    else
        conn_error(c, "ERROR");
#else
    conn_error(c, "ERROR");
#endif
}

/* debugsleep <ms> [key] (debug build only): holds the worker for ms
 * milliseconds, then replies OK; request__done reports it (cmd
 * "debugsleep", status "ok"), so tracing tools can be shown a slow request. */
static void process_debugsleep(conn *c, token *tokens, int ntokens)
{
#ifdef MC_DEBUG_BUILD
    op_request rq;
    conn_op_request(c, &rq, "debugsleep", false);
    int64_t ms;
    if (ntokens < 2 || !parse_i64(tokens[1].value, &ms) || ms < 0 || ms > 60000 ||
        (ntokens > 2 && tokens[2].length > KEY_MAX_LENGTH)) {
        conn_error(c, "CLIENT_ERROR bad command line format");
        return;
    }
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    out(c, "OK\r\n");
    op_request_done(&rq, ntokens > 2 ? tokens[2].value : "", ntokens > 2 ? tokens[2].length : 0,
                    "ok", -1);
#else
    (void)tokens;
    (void)ntokens;
    conn_error(c, "ERROR");
#endif
}

/* Parses "all" or a comma list of slab class ids (1-63; empty elements
 * are skipped, as memcached does) into want[]. A list of commas only
 * selects nothing (the caller answers NOTSTARTED). */
static bool parse_class_list(const char *arg, bool want[SLAB_CLASS_MAX])
{
    memset(want, 0, sizeof(bool) * SLAB_CLASS_MAX);
    if (strcmp(arg, "all") == 0) {
        for (unsigned id = 1; id <= slabs_class_count(); id++)
            want[id] = true;
        return true;
    }
    const char *p = arg;
    while (*p) {
        if (*p == ',') {
            p++;
            continue;
        }
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        uint64_t id;    /* as memcached's safe_strtoul reads it: "1\t" is 1, low 32 bits kept */
        if (!util_parse_u64(p, len, UTIL_NUM_SAFE, UINT64_MAX, &id) ||
            (id = (uint32_t)id) < 1 || id > SLAB_CLASS_MAX - 1)
            return false;
        want[id] = true;
        p += len;
    }
    return true;
}

/* One "key=... exp=... ..." line of lru_crawler metadump. */
static void metadump_item(item *it, void *arg)
{
    reply *r = arg;
    char key[UTIL_ENCODED_KEY_SIZE(KEY_MAX_LENGTH)];
    util_encode_key(item_key(it), it->nkey, key);
    reply_printf(r, "key=%s exp=%ld la=%llu cas=%llu fetch=%s cls=%u size=%lu flags=%u \n",
                 key, item_exptime(it) ? (long)clock_abstime(item_exptime(it)) : -1L,
                 (unsigned long long)clock_abstime(item_time(it)),
                 (unsigned long long)item_get_cas(it),
                 (item_flags(it) & ITEM_FETCHED) ? "yes" : "no", it->slabs_clsid,
                 (unsigned long)item_ntotal(it), it->client_flags);
}

static bool any_class(const bool want[SLAB_CLASS_MAX])
{
    for (unsigned id = 1; id < SLAB_CLASS_MAX; id++)
        if (want[id])
            return true;
    return false;
}

/* lru_crawler crawl|metadump|mgdump|enable|disable|sleep|tocrawl: each
 * takes exactly its arguments; anything more (a trailing noreply too, which
 * only silences the reply) is "ERROR", as memcached answers. */
static void process_lru_crawler(conn *c, token *tokens, int ntokens)
{
    if (ntokens < 2) {
        conn_error(c, "ERROR");
        return;
    }
    const char *sub = tokens[1].value;
    bool want[SLAB_CLASS_MAX];
    if (strcmp(sub, "crawl") == 0 && ntokens == 3) {
        if (!crawler_enabled())
            conn_error(c, "CLIENT_ERROR lru crawler disabled");
        else if (!parse_class_list(tokens[2].value, want))
            out(c, "BADCLASS invalid class id\r\n");
        else if (!any_class(want))
            out(c, "NOTSTARTED no items to crawl\r\n");
        else if (!crawler_request(want))
            out(c, "BUSY currently processing crawler request\r\n");
        else
            out(c, "OK\r\n");
    } else if (strcmp(sub, "metadump") == 0 || strcmp(sub, "mgdump") == 0) {
        bool meta = sub[1] == 'g';
        const char *which = ntokens == 3 ? tokens[2].value : NULL;
        /* "hash" (walk the hash table) lists the same live items as "all". */
        if (which != NULL && strcmp(which, "hash") == 0)
            which = "all";
        if (ntokens != 3) {
            conn_error(c, "ERROR");
        } else if (!crawler_enabled()) {    /* memcached dumps through its crawler */
            conn_error(c, "CLIENT_ERROR lru crawler disabled");
        } else if (!settings.dump_enabled) {
            conn_error(c, meta ? "ERROR key dump not allowed" : "ERROR metadump not allowed");
        } else if (c->stacked > 0) {
            conn_error(c, meta ? "ERROR cannot pipeline other commands before mgdump"
                               : "ERROR cannot pipeline other commands before metadump");
        } else if (!parse_class_list(which, want)) {
            out(c, "BADCLASS invalid class id\r\n");
        } else if (!any_class(want)) {
            out(c, "NOTSTARTED no items to crawl\r\n");
        } else {
            out(c, "OK\r\n");
            for (unsigned id = 1; id <= slabs_class_count(); id++)
                if (want[id])
                    items_foreach(id, meta ? proto_meta_mgdump_item : metadump_item, &c->out);
            out(c, meta ? "EN\r\n" : "END\r\n");
        }
    } else if (strcmp(sub, "enable") == 0 && ntokens == 2) {
        if (crawler_enabled()) {    /* memcached cannot start its thread twice */
            conn_error(c, "ERROR failed to start lru crawler thread");
            return;
        }
        crawler_set_enabled(true);
        out(c, "OK\r\n");
    } else if (strcmp(sub, "disable") == 0 && ntokens == 2) {
        crawler_set_enabled(false);
        out(c, "OK\r\n");
    } else if (strcmp(sub, "sleep") == 0 && ntokens == 3) {
        uint64_t us;
        if (!parse_u32(tokens[2].value, &us)) {
            conn_error(c, "CLIENT_ERROR bad command line format");
            return;
        }
        if (us > 1000000) {
            conn_error(c, "CLIENT_ERROR sleep must be one second or less");
            return;
        }
        settings.lru_crawler_sleep = (int)us;
        out(c, "OK\r\n");
    } else if (strcmp(sub, "tocrawl") == 0 && ntokens == 3) {
        uint64_t n;
        if (!parse_u32(tokens[2].value, &n)) {
            conn_error(c, "CLIENT_ERROR bad command line format");
            return;
        }
        settings.lru_crawler_tocrawl = (uint32_t)n;
        out(c, "OK\r\n");
    } else {
        conn_error(c, "ERROR");
    }
}

/* lru tune <hot pct> <warm pct> <hot factor> <warm factor> | mode
 * flat|segmented | temp_ttl <seconds>: changes what the LRU code reads
 * (atomics in settings.h) from the next item on; mode and temp_ttl only
 * with the LRU maintainer running (after "mode flat" it drains HOT and
 * WARM into COLD). Tokens past the needed ones are ignored, as memcached
 * ignores them. */
static void process_lru(conn *c, token *tokens, int ntokens)
{
    const char *sub = ntokens > 1 ? tokens[1].value : "";
    uint64_t hot, warm;
    int32_t ttl;
    if (strcmp(sub, "tune") == 0 && ntokens >= 6) {
        char *end1, *end2;
        double hot_factor = strtod(tokens[4].value, &end1);
        double warm_factor = strtod(tokens[5].value, &end2);
        if (!parse_u32(tokens[2].value, &hot) || !parse_u32(tokens[3].value, &warm) ||
            end1 == tokens[4].value || *end1 != '\0' || end2 == tokens[5].value ||
            *end2 != '\0') {
            conn_error(c, "ERROR");
        } else if (hot + warm > 80) {
            conn_error(c, "ERROR hot and warm pcts must not exceed 80");
        } else if (hot_factor <= 0 || warm_factor <= 0) {
            conn_error(c, "ERROR hot/warm age factors must be greater than 0");
        } else {
            settings.hot_lru_pct = (int)hot;
            settings.warm_lru_pct = (int)warm;
            settings.hot_max_factor = hot_factor;
            settings.warm_max_factor = warm_factor;
            out(c, "OK\r\n");
        }
    } else if (!settings.lru_maintainer_thread) {
        conn_error(c, "ERROR");     /* mode and temp_ttl need the maintainer */
    } else if (strcmp(sub, "mode") == 0 && ntokens >= 3 &&
               (strcmp(tokens[2].value, "flat") == 0 ||
                strcmp(tokens[2].value, "segmented") == 0)) {
        settings.lru_segmented = tokens[2].value[0] == 's';
        out(c, "OK\r\n");
    } else if (strcmp(sub, "temp_ttl") == 0 && ntokens >= 3 &&
               parse_i32(tokens[2].value, &ttl)) {
        /* A negative ttl switches the TEMP LRU off and keeps the ttl. */
        if (ttl >= 0)
            settings.temporary_ttl = (uint32_t)ttl;
        settings.temp_lru = ttl >= 0;
        out(c, "OK\r\n");
    } else {
        conn_error(c, "ERROR");     /* also a missing or unknown mode (CVE-2019-11596) */
    }
}

static void process_slabs(conn *c, token *tokens, int ntokens)
{
    int args = ntokens - (is_noreply(&tokens[ntokens - 1]) ? 1 : 0);
    if (args == 4 && strcmp(tokens[1].value, "reassign") == 0) {
        int32_t src, dst;
        if (!settings.slab_reassign) {      /* -o no_slab_reassign */
            conn_error(c, "CLIENT_ERROR slab reassignment disabled");
            return;
        }
        if (!parse_i32(tokens[2].value, &src) || !parse_i32(tokens[3].value, &dst)) {
            conn_error(c, "CLIENT_ERROR bad command line format");
            return;
        }
        switch (slab_mover_reassign(src, dst)) {
        case REASSIGN_OK: out(c, "OK\r\n"); break;
        case REASSIGN_RUNNING: out(c, "BUSY currently processing reassign request\r\n"); break;
        case REASSIGN_BADCLASS: out(c, "BADCLASS invalid src or dst class id\r\n"); break;
        case REASSIGN_NOSPARE: out(c, "NOSPARE source class has no spare pages\r\n"); break;
        case REASSIGN_SRC_DST_SAME: out(c, "SAME src and dst class are identical\r\n"); break;
        }
    } else if (ntokens >= 3 && strcmp(tokens[1].value, "automove") == 0) {
        /* slabs automove <0|1|2> | window <3..1800> | ratio <r> | freeratio <r>,
         * with memcached's replies; tokens past the value are ignored. */
        const char *arg = tokens[2].value;
        uint64_t n;
        double r;
        char *end;
        if (strcmp(arg, "ratio") == 0 || strcmp(arg, "freeratio") == 0) {
            if (ntokens < 4 || (r = strtod(tokens[3].value, &end), end == tokens[3].value) ||
                (*end != '\0' && *end != ' ' && (*end < '\t' || *end > '\r'))) {    /* "0.5\t" is fine */
                conn_error(c, "ERROR");
                return;
            }
            if (arg[0] == 'r')
                settings.slab_automove_ratio = r;
            else
                settings.slab_automove_freeratio = r;
            settings.slab_automove_version++;
        } else if (strcmp(arg, "window") == 0) {
            if (ntokens < 4 || !util_parse_u64(tokens[3].value, UTIL_NUL_TERMINATED, 0, UINT32_MAX, &n)) {
                conn_error(c, "CLIENT_ERROR bad command line format");
                return;
            }
            if (n < 3 || n > 1800) {
                conn_error(c, "CLIENT_ERROR automove window too low or too high");
                return;
            }
            settings.slab_automove_window = (int)n;
            settings.slab_automove_version++;
        } else if (!util_parse_u64(arg, UTIL_NUL_TERMINATED, 0, UINT32_MAX, &n)) {
            conn_error(c, "CLIENT_ERROR bad command line format");
            return;
        } else if (n > 2) {
            conn_error(c, "ERROR");
            return;
        } else {
            settings.slab_automove = (int)n;
        }
        out(c, "OK\r\n");
    } else {
        conn_error(c, "ERROR");
    }
}

/* The admin commands (and "ERROR" for one we do not know), with a
 * trailing noreply silencing whatever they answer. */
static void process_admin(conn *c, const char *cmd, size_t clen, token *tokens, int ntokens,
                          bool noreply)
{
#define IS(name) (clen == sizeof(name) - 1 && memcmp(cmd, name, clen) == 0)
    c->out.suppress = noreply;
    if (IS("lru_crawler"))
        process_lru_crawler(c, tokens, ntokens);
    else if (IS("lru"))
        process_lru(c, tokens, ntokens);
    else if (IS("slabs"))
        process_slabs(c, tokens, ntokens);
    else if (IS("shutdown")) {
        /* -A: "shutdown" and "shutdown graceful" both stop the server as
         * SIGTERM does; no reply, the connection closes. */
        if (!settings.shutdown_command) {
            conn_error(c, "SERVER_ERROR: shutdown not enabled");
        } else if (ntokens > 2 || (ntokens == 2 && strcmp(tokens[1].value, "graceful") != 0)) {
            conn_error(c, "CLIENT_ERROR invalid shutdown mode");
        } else {
            conn_close_after_reply(c, "client");
            server_shutdown();
        }
    } else if (IS("refresh_certs") && tls_built())
        process_refresh_certs(c);
    else if (IS("debugtime"))
        process_debugtime(c, tokens, ntokens);
    else if (IS("debugsleep"))
        process_debugsleep(c, tokens, ntokens);
    else if (IS("misbehave"))
        process_misbehave(c);
    else if (tokens[ntokens - 1].length >= 5 &&
             memcmp(tokens[ntokens - 1].value, "HTTP/", 5) == 0) {
        /* Someone pointed a web client at us: hang up, as memcached does. */
        conn_close_now(c, "error");
    } else
        conn_error(c, "ERROR");
    c->out.suppress = false;
#undef IS
}

/* Dispatches one command line line[0..len) (NUL at line[len], no "\r\n"). */
static void process_command(conn *c, char *line, size_t len)
{
    char *end_of_line = line + len;
    char *space = memchr(line, ' ', len);
    size_t clen = space ? (size_t)(space - line) : len;
    const char *cmd = line;

#define IS(name) (clen == sizeof(name) - 1 && memcmp(cmd, name, clen) == 0)
    /* mg, ms, md, ma, mn, me: the meta commands have their own parser. */
    if (proto_meta_is_command(cmd, clen)) {
        proto_meta_command(c, line, len);
        return;
    }
    /* Retrieval takes any number of keys: parsed straight from the line. */
    if (IS("get") || IS("gets") || IS("gat") || IS("gats")) {
        char *args = space ? space + 1 : end_of_line;
        if (IS("get"))
            process_get(c, args, end_of_line, false, false, "get");
        else if (IS("gets"))
            process_get(c, args, end_of_line, true, false, "gets");
        else if (IS("gat"))
            process_get(c, args, end_of_line, false, true, "gat");
        else
            process_get(c, args, end_of_line, true, true, "gats");
        return;
    }

    token tokens[MAX_TOKENS];
    int ntokens = tokenize(line, len, tokens, MAX_TOKENS);
    if (clen == 0 || ntokens == 0) {
        conn_error(c, "ERROR");     /* a line starting with a space */
        return;
    }
    /* memcached: a trailing "noreply" silences every command but stats,
     * watch, version and the retrievals, even one it does not know. The
     * storage commands and the handlers that parse it set suppress
     * themselves; the rest of the admin commands get it here. */
    bool noreply = is_noreply(&tokens[ntokens - 1]);
    if (IS("set"))
        process_update(c, tokens, ntokens, STORE_SET, "set");
    else if (IS("add"))
        process_update(c, tokens, ntokens, STORE_ADD, "add");
    else if (IS("replace"))
        process_update(c, tokens, ntokens, STORE_REPLACE, "replace");
    else if (IS("append"))
        process_update(c, tokens, ntokens, STORE_APPEND, "append");
    else if (IS("prepend"))
        process_update(c, tokens, ntokens, STORE_PREPEND, "prepend");
    else if (IS("cas"))
        process_update(c, tokens, ntokens, STORE_CAS, "cas");
    else if (IS("delete"))
        process_delete(c, tokens, ntokens);
    else if (IS("incr"))
        process_arith(c, tokens, ntokens, true);
    else if (IS("decr"))
        process_arith(c, tokens, ntokens, false);
    else if (IS("touch"))
        process_touch(c, tokens, ntokens);
    else if (IS("stats"))
        process_stats(c, tokens, ntokens);
    else if (IS("flush_all"))
        process_flush_all(c, tokens, ntokens);
    else if (IS("version"))
        out(c, "VERSION " MEMCACHED_VERSION "\r\n");
    else if (IS("quit"))
        conn_close_after_reply(c, "client");
    else if (IS("verbosity"))
        process_verbosity(c, tokens, ntokens);
    else if (IS("watch"))
        process_watch(c, tokens, ntokens);
    else if (IS("probe_sample_rate"))
        process_probe_sample_rate(c, tokens, ntokens);
    else if (IS("cache_memlimit"))
        process_cache_memlimit(c, tokens, ntokens);
    else
        process_admin(c, cmd, clen, tokens, ntokens, noreply);
#undef IS
}

/* Whether buf[0..n), a line with no newline yet, may be the start of a
 * long multi-get: at most LEADING_SPACES_MAX spaces, then "get " or
 * "gets ". Anything else this long is garbage, and memcached hangs up on
 * it. Reads nothing past buf[n-1]. */
static bool may_be_multiget(const char *buf, size_t n)
{
    size_t lead = 0;
    while (lead < n && lead <= LEADING_SPACES_MAX && buf[lead] == ' ')
        lead++;
    if (lead > LEADING_SPACES_MAX)
        return false;
    const char *p = buf + lead;
    size_t rest = n - lead;
    return (rest >= 4 && memcmp(p, "get ", 4) == 0) || (rest >= 5 && memcmp(p, "gets ", 5) == 0);
}

enum parse_result proto_text_process(conn *c)
{
    if (!c->authenticated)
        return proto_auth_process(c);   /* -Y: nothing else before a login */
    char *nl = memchr(c->rcurr, '\n', c->rbytes);
    if (nl == NULL) {
        if (c->rbytes > LINE_LIMIT_NO_NEWLINE && !may_be_multiget(c->rcurr, c->rbytes)) {
            conn_close_now(c, "error");
            return PARSE_DONE;
        }
        return PARSE_NEED_MORE;
    }
    char *line = c->rcurr;
    size_t consumed = (size_t)(nl - line) + 1;
    size_t len = consumed - 1;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    line[len] = '\0';
    c->rcurr += consumed;
    c->rbytes -= consumed;

    if (!conn_request_begin(c, line, (int)len))     /* -o read_buf_mem_limit */
        return PARSE_DONE;
    if (consumed < 4)
        conn_error(c, "CLIENT_ERROR bad command line format");
    else
        process_command(c, line, len);
    c->stacked++;
    conn_request_end(c);    /* a storage command's comes once the value is in */
    return PARSE_DONE;
}

const struct protocol proto_text_protocol = {
    .name = "ascii",
    .first_byte = -1,
    .process = proto_text_process,
};
