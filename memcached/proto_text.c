/* proto_text.c: the ASCII protocol. One command line at a time is split
 * into tokens in place (the read buffer is ours to modify) and served
 * through the operations layer; replies and error strings are memcached's. */
#include "proto_text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "ops.h"
#include "probes.h"
#include "settings.h"
#include "slabs.h"
#include "stats.h"
#include "thread.h"

#define MAX_TOKENS 24
#define LINE_LIMIT_NO_NEWLINE 2048  /* bytes without "\n" before we give up */

extern void server_shutdown(void);

typedef struct {
    char *value;
    size_t length;
} token;

/* Splits line (NUL-terminated, no "\r\n") on spaces into at most max
 * tokens; the last token holds the rest of the line when there are more.
 * Returns the count. */
static int tokenize(char *line, token *tokens, int max)
{
    int n = 0;
    char *p = line;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        if (n == max - 1) {
            tokens[n].value = p;
            tokens[n].length = strlen(p);
            return n + 1;
        }
        char *start = p;
        while (*p && *p != ' ')
            p++;
        tokens[n].value = start;
        tokens[n].length = (size_t)(p - start);
        if (*p)
            *p++ = '\0';
        n++;
    }
    return n;
}

/* Strict decimal parsers: the whole token must be a number in range. */
static bool parse_u64(const char *s, uint64_t *out)
{
    if (*s == '\0')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE || *end != '\0')
        return false;
    /* strtoull accepts "-5" as a huge number; memcached refuses it for
     * lengths and deltas. */
    for (const char *p = s; p < end; p++)
        if (*p == '-')
            return false;
    *out = v;
    return true;
}

static bool parse_i64(const char *s, int64_t *out)
{
    if (*s == '\0')
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE || *end != '\0')
        return false;
    *out = v;
    return true;
}

static bool parse_i32(const char *s, int32_t *out)
{
    int64_t v;
    if (!parse_i64(s, &v) || v < INT32_MIN || v > INT32_MAX)
        return false;
    *out = (int32_t)v;
    return true;
}

static bool is_noreply(const token *t)
{
    return t->length == 7 && memcmp(t->value, "noreply", 7) == 0;
}

static void out(conn *c, const char *s) { reply_str(&c->out, s); }

static void start_request(conn *c, op_request *rq, const char *cmd)
{
    rq->connid = c->sfd;
    rq->cmd = cmd;
    rq->stats = &c->worker->stats;
    op_request_start(rq);
}

/* ---- retrieval ---- */

static void process_get(conn *c, token *tokens, int ntokens, char *end_of_line,
                        bool return_cas, bool touch, const char *cmd)
{
    op_request rq;
    start_request(c, &rq, cmd);
    int first = touch ? 2 : 1;
    rel_time_t exptime = 0;
    if (ntokens <= first) {
        conn_error(c, "CLIENT_ERROR bad command line format");
        return;
    }
    if (touch) {
        int32_t e;
        if (!parse_i32(tokens[1].value, &e)) {
            conn_error(c, "CLIENT_ERROR invalid exptime argument");
            return;
        }
        exptime = clock_realtime(e);
    }
    /* Keys may be more than MAX_TOKENS: walk the rest of the line, where
     * the tokenizer has turned separators into NULs. */
    char *p = tokens[first].value;
    while (p < end_of_line) {
        while (p < end_of_line && (*p == ' ' || *p == '\0'))
            p++;
        if (p >= end_of_line)
            break;
        char *key = p;
        while (p < end_of_line && *p != ' ' && *p != '\0')
            p++;
        size_t nkey = (size_t)(p - key);
        *p = '\0';     /* at end_of_line this is the line's own NUL */
        if (nkey > KEY_MAX_LENGTH) {
            conn_error(c, "CLIENT_ERROR bad command line format");
            return;
        }
        item *it = op_get(&rq, key, nkey, touch, exptime);
        if (it != NULL) {
            char *hdr = reply_space(&c->out, nkey + 64);
            if (hdr != NULL) {
                int n;
                if (return_cas)
                    n = sprintf(hdr, "VALUE %s %u %u %llu\r\n", key, it->client_flags,
                                it->nbytes - 2, (unsigned long long)item_get_cas(it));
                else
                    n = sprintf(hdr, "VALUE %s %u %u\r\n", key, it->client_flags,
                                it->nbytes - 2);
                reply_commit(&c->out, (size_t)n);
            }
            reply_item_bytes(&c->out, it, item_value(it), it->nbytes);
        }
    }
    out(c, "END\r\n");
}

/* ---- storage ---- */

static void complete_store(conn *c)
{
    struct pending_store *ps = &c->store;
    item *it = ps->it;
    ps->it = NULL;
    char *tail = item_value(it) + it->nbytes - 2;
    if (tail[0] != '\r' || tail[1] != '\n') {
        c->out.suppress = false;
        conn_error(c, "CLIENT_ERROR bad data chunk");
        op_request_error(&ps->rq, item_key(it), it->nkey);
        item_release(it);
        return;
    }
    uint64_t cas = 0;
    enum store_result r = op_store(&ps->rq, it, ps->op, ps->req_cas, &cas);
    item_release(it);
    c->out.suppress = ps->noreply;
    switch (r) {
    case STORE_STORED: out(c, "STORED\r\n"); break;
    case STORE_NOT_STORED: out(c, "NOT_STORED\r\n"); break;
    case STORE_EXISTS: out(c, "EXISTS\r\n"); break;
    case STORE_NOT_FOUND: out(c, "NOT_FOUND\r\n"); break;
    case STORE_NO_MEMORY: conn_error(c, "SERVER_ERROR out of memory storing object"); break;
    }
    c->out.suppress = false;
    if (probe_process_command_end_enabled())
        probe_process_command_end(c->sfd, c->out.mark_first, reply_marked_size(&c->out));
}

static void process_update(conn *c, token *tokens, int ntokens, enum store_op op,
                           const char *cmd)
{
    int need = op == STORE_CAS ? 6 : 5;
    op_request rq;
    start_request(c, &rq, cmd);
    if (ntokens < need) {
        conn_error(c, "CLIENT_ERROR bad command line format");
        return;
    }
    const char *key = tokens[1].value;
    size_t nkey = tokens[1].length;
    uint64_t flags64, req_cas = 0;
    int32_t exptime;
    int32_t vlen;
    if (nkey > KEY_MAX_LENGTH || !parse_u64(tokens[2].value, &flags64) ||
        !parse_i32(tokens[3].value, &exptime) || !parse_i32(tokens[4].value, &vlen) ||
        (op == STORE_CAS && !parse_u64(tokens[5].value, &req_cas))) {
        conn_error(c, "CLIENT_ERROR bad command line format");
        return;
    }
    if (vlen < 0 || vlen > INT32_MAX - 2) {
        conn_error(c, "CLIENT_ERROR bad command line format");
        return;
    }
    bool noreply = ntokens > need && is_noreply(&tokens[ntokens - 1]);
    enum alloc_failure why;
    item *it = op_alloc(&rq, key, nkey, (uint32_t)flags64, clock_realtime(exptime),
                        (uint32_t)vlen + 2, &why);
    if (it == NULL) {
        c->out.suppress = noreply;
        if (why == ALLOC_TOO_LARGE)
            conn_error(c, "SERVER_ERROR object too large for cache");
        else
            conn_error(c, "SERVER_ERROR out of memory storing object");
        c->out.suppress = false;
        op_request_error(&rq, key, nkey);
        /* A failed set must not leave the old value visible. */
        if (op == STORE_SET)
            op_delete(&rq, key, nkey, 0);
        conn_swallow(c, (size_t)vlen + 2);
        return;
    }
    struct pending_store *ps = &c->store;
    ps->it = it;
    ps->dest = item_value(it);
    ps->left = (size_t)vlen + 2;
    ps->op = op;
    ps->req_cas = req_cas;
    ps->noreply = noreply;
    ps->rq = rq;
    ps->complete = complete_store;
    c->state = CONN_NREAD;
}

/* ---- other key commands ---- */

static void process_delete(conn *c, token *tokens, int ntokens)
{
    op_request rq;
    start_request(c, &rq, "delete");
    if (ntokens < 2 || tokens[1].length > KEY_MAX_LENGTH) {
        conn_error(c, "CLIENT_ERROR bad command line format");
        return;
    }
    bool noreply = ntokens > 2 && is_noreply(&tokens[ntokens - 1]);
    enum delete_result r = op_delete(&rq, tokens[1].value, tokens[1].length, 0);
    c->out.suppress = noreply;
    out(c, r == DELETE_DELETED ? "DELETED\r\n" : "NOT_FOUND\r\n");
    c->out.suppress = false;
}

static void process_arith(conn *c, token *tokens, int ntokens, bool incr)
{
    op_request rq;
    start_request(c, &rq, incr ? "incr" : "decr");
    if (ntokens < 3 || tokens[1].length > KEY_MAX_LENGTH) {
        conn_error(c, "CLIENT_ERROR bad command line format");
        return;
    }
    bool noreply = ntokens > 3 && is_noreply(&tokens[ntokens - 1]);
    uint64_t delta;
    c->out.suppress = noreply;
    if (!parse_u64(tokens[2].value, &delta)) {
        conn_error(c, "CLIENT_ERROR invalid numeric delta argument");
        c->out.suppress = false;
        op_request_error(&rq, tokens[1].value, tokens[1].length);
        return;
    }
    uint64_t value, cas;
    switch (op_arith(&rq, tokens[1].value, tokens[1].length, incr, delta, 0, &value, &cas)) {
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
    start_request(c, &rq, "touch");
    if (ntokens < 3 || tokens[1].length > KEY_MAX_LENGTH) {
        conn_error(c, "CLIENT_ERROR bad command line format");
        return;
    }
    bool noreply = ntokens > 3 && is_noreply(&tokens[ntokens - 1]);
    int32_t exptime;
    c->out.suppress = noreply;
    if (!parse_i32(tokens[2].value, &exptime)) {
        conn_error(c, "CLIENT_ERROR invalid exptime argument");
    } else {
        bool found = op_touch(&rq, tokens[1].value, tokens[1].length, clock_realtime(exptime));
        out(c, found ? "TOUCHED\r\n" : "NOT_FOUND\r\n");
    }
    c->out.suppress = false;
}

/* ---- admin commands ---- */

static void process_flush_all(conn *c, token *tokens, int ntokens)
{
    op_request rq;
    start_request(c, &rq, "flush_all");
    bool noreply = ntokens > 1 && is_noreply(&tokens[ntokens - 1]);
    c->out.suppress = noreply;
    if (!settings.flush_enabled) {
        conn_error(c, "CLIENT_ERROR flush_all not allowed");
        c->out.suppress = false;
        return;
    }
    int64_t delay = 0;
    int args = ntokens - 1 - (noreply ? 1 : 0);
    if (args > 0) {
        int32_t d;
        if (!parse_i32(tokens[1].value, &d)) {
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
    settings.verbose = atoi(tokens[1].value);
    if (settings.verbose > 2)
        settings.verbose = 2;
    c->out.suppress = noreply;
    out(c, "OK\r\n");
    c->out.suppress = false;
}

static void process_stats(conn *c, token *tokens, int ntokens)
{
    if (ntokens < 2) {
        stats_general(&c->out);
        out(c, "END\r\n");
        return;
    }
    const char *group = tokens[1].value;
    if (strcmp(group, "reset") == 0) {
        stats_reset();
        out(c, "RESET\r\n");
    } else if (strcmp(group, "settings") == 0) {
        stats_settings(&c->out);
        out(c, "END\r\n");
    } else {
        /* memcached answers an unknown group with an empty list. */
        if (!stats_group(&c->out, group, ntokens > 2 ? tokens[2].value : NULL))
            conn_error(c, "ERROR");
        else
            out(c, "END\r\n");
    }
}

static void process_cache_memlimit(conn *c, token *tokens, int ntokens)
{
    uint64_t mb;
    if (ntokens < 2 || !parse_u64(tokens[1].value, &mb)) {
        conn_error(c, "CLIENT_ERROR bad command line format");
        return;
    }
    bool noreply = is_noreply(&tokens[ntokens - 1]);
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

/* Dispatches one command line (NUL-terminated, without "\r\n"). */
static void process_command(conn *c, char *line, size_t len)
{
    token tokens[MAX_TOKENS];
    char *end_of_line = line + len;
    int ntokens = tokenize(line, tokens, MAX_TOKENS);
    if (ntokens == 0) {
        conn_error(c, "CLIENT_ERROR bad command line format");
        return;
    }
    const char *cmd = tokens[0].value;
    size_t clen = tokens[0].length;

#define IS(name) (clen == sizeof(name) - 1 && memcmp(cmd, name, clen) == 0)
    if (IS("get"))
        process_get(c, tokens, ntokens, end_of_line, false, false, "get");
    else if (IS("gets"))
        process_get(c, tokens, ntokens, end_of_line, true, false, "gets");
    else if (IS("set"))
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
    else if (IS("gat"))
        process_get(c, tokens, ntokens, end_of_line, false, true, "gat");
    else if (IS("gats"))
        process_get(c, tokens, ntokens, end_of_line, true, true, "gats");
    else if (IS("stats"))
        process_stats(c, tokens, ntokens);
    else if (IS("flush_all"))
        process_flush_all(c, tokens, ntokens);
    else if (IS("version"))
        out(c, "VERSION " MEMCACHED_VERSION "\r\n");
    else if (IS("quit")) {
        c->close_reason = "client";
        c->state = CONN_CLOSE;
    } else if (IS("verbosity"))
        process_verbosity(c, tokens, ntokens);
    else if (IS("cache_memlimit"))
        process_cache_memlimit(c, tokens, ntokens);
    else if (IS("shutdown")) {
        if (!settings.shutdown_command) {
            conn_error(c, "ERROR: shutdown not enabled");
        } else {
            server_shutdown();
        }
    } else if (IS("debugtime"))
        process_debugtime(c, tokens, ntokens);
    else
        conn_error(c, "ERROR");
#undef IS
}

enum parse_result proto_text_process(conn *c)
{
    char *nl = memchr(c->rcurr, '\n', c->rbytes);
    if (nl == NULL) {
        if (c->rbytes > LINE_LIMIT_NO_NEWLINE) {
            /* Only a multi-get may be this long; anything else is garbage
             * and memcached hangs up on it. */
            char *p = c->rcurr;
            while (p < c->rcurr + c->rbytes && *p == ' ')
                p++;
            if (strncmp(p, "get ", 4) != 0 && strncmp(p, "gets ", 5) != 0 &&
                strncmp(p, "gat ", 4) != 0 && strncmp(p, "gats ", 5) != 0) {
                c->close_reason = "error";
                c->state = CONN_CLOSE;
                return PARSE_DONE;
            }
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

    reply_mark(&c->out);
    probe_process_command_start(c->sfd, line, (int)len);
    process_command(c, line, len);
    /* Storage commands report their end once the value is in. */
    if (c->state != CONN_NREAD && probe_process_command_end_enabled())
        probe_process_command_end(c->sfd, c->out.mark_first, reply_marked_size(&c->out));
    return PARSE_DONE;
}
