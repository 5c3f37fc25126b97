/* proto_binary.c: memcached's binary protocol. A packet's header is checked
 * the way memcached checks it (a bad magic byte hangs up; a malformed
 * header gets "Invalid arguments" and a hang-up), then the request is served
 * through the operations layer. Reply packets, status codes, error texts,
 * the replies quiet opcodes leave out and the points where pipelined
 * replies are flushed are memcached's. */
#include "config.h"
#include "proto_binary.h"

#include <string.h>

#include "clock.h"
#include "conn.h"
#include "ops.h"
#include "probes.h"
#include "sasl.h"
#include "settings.h"
#include "stats.h"
#include "thread.h"
#include "udp.h"

#define REQ_MAGIC 0x80
#define RES_MAGIC 0x81
#define HEADER_LEN 24
/* memcached refuses, and hangs up on, a body above 1 GB (its largest -I). */
#define BODY_MAX (1024u * 1024u * 1024u)
/* memcached's read buffer: a header with its extras and key must fit. */
#define HEAD_MAX 16384u
/* incr/decr: this exptime means "do not create a missing key". */
#define ARITH_NO_CREATE 0xffffffffu

enum {
    OP_GET = 0x00, OP_SET = 0x01, OP_ADD = 0x02, OP_REPLACE = 0x03,
    OP_DELETE = 0x04, OP_INCREMENT = 0x05, OP_DECREMENT = 0x06, OP_QUIT = 0x07,
    OP_FLUSH = 0x08, OP_GETQ = 0x09, OP_NOOP = 0x0a, OP_VERSION = 0x0b,
    OP_GETK = 0x0c, OP_GETKQ = 0x0d, OP_APPEND = 0x0e, OP_PREPEND = 0x0f,
    OP_STAT = 0x10, OP_SETQ = 0x11, OP_ADDQ = 0x12, OP_REPLACEQ = 0x13,
    OP_DELETEQ = 0x14, OP_INCREMENTQ = 0x15, OP_DECREMENTQ = 0x16, OP_QUITQ = 0x17,
    OP_FLUSHQ = 0x18, OP_APPENDQ = 0x19, OP_PREPENDQ = 0x1a,
    OP_TOUCH = 0x1c, OP_GAT = 0x1d, OP_GATQ = 0x1e, OP_GATK = 0x23, OP_GATKQ = 0x24,
    /* SASL: served with -S (sasl.c), else refused like memcached does. */
    OP_SASL_LIST_MECHS = 0x20, OP_SASL_AUTH = 0x21, OP_SASL_STEP = 0x22
};

enum {
    ST_SUCCESS = 0x0000,
    ST_KEY_ENOENT = 0x0001,
    ST_KEY_EEXISTS = 0x0002,
    ST_E2BIG = 0x0003,
    ST_EINVAL = 0x0004,
    ST_NOT_STORED = 0x0005,
    ST_DELTA_BADVAL = 0x0006,
    ST_AUTH_ERROR = 0x0020,
    ST_AUTH_CONTINUE = 0x0021,
    ST_UNKNOWN_COMMAND = 0x0081,
    ST_ENOMEM = 0x0082
};

/* ---- byte order ---- */

static inline uint16_t get16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}
static inline void put16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)(v >> 8); p[1] = (unsigned char)v; }
static inline void put32(unsigned char *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}
static inline void put64(unsigned char *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

/* ---- opcodes ---- */

/* The opcode a quiet one stands for; *quiet says whether it was quiet. */
static uint8_t base_opcode(uint8_t op, bool *quiet)
{
    *quiet = true;
    switch (op) {
    case OP_GETQ: return OP_GET;
    case OP_GETKQ: return OP_GETK;
    case OP_SETQ: return OP_SET;
    case OP_ADDQ: return OP_ADD;
    case OP_REPLACEQ: return OP_REPLACE;
    case OP_DELETEQ: return OP_DELETE;
    case OP_INCREMENTQ: return OP_INCREMENT;
    case OP_DECREMENTQ: return OP_DECREMENT;
    case OP_QUITQ: return OP_QUIT;
    case OP_FLUSHQ: return OP_FLUSH;
    case OP_APPENDQ: return OP_APPEND;
    case OP_PREPENDQ: return OP_PREPEND;
    case OP_GATQ: return OP_GAT;
    case OP_GATKQ: return OP_GATK;
    default:
        *quiet = false;
        return op;
    }
}

/* Whether a served opcode's extras, key and body lengths are acceptable,
 * as memcached judges them; -1 for an opcode it does not serve. */
static int shape_ok(uint8_t op, const struct bin_request *req)
{
    uint32_t ext = req->extlen, key = req->keylen, body = req->bodylen;
    switch (op) {
    case OP_GET:
    case OP_GETK:
    case OP_DELETE:
        return ext == 0 && key > 0 && body == key;
    case OP_SET:
    case OP_ADD:
    case OP_REPLACE:
        return ext == 8 && key > 0 && body >= key + 8;
    case OP_APPEND:
    case OP_PREPEND:
        return ext == 0 && key > 0;
    case OP_INCREMENT:
    case OP_DECREMENT:
        return ext == 20 && key > 0 && body == key + 20;
    case OP_QUIT:
    case OP_NOOP:
    case OP_VERSION:
        return ext == 0 && key == 0 && body == 0;
    case OP_FLUSH:
        return key == 0 && body == ext && (ext == 0 || ext == 4);
    case OP_STAT:
        return ext == 0;
    case OP_TOUCH:
    case OP_GAT:
    case OP_GATK:
        return ext == 4 && key > 0;
    case OP_SASL_LIST_MECHS:
        return ext == 0 && key == 0 && body == 0;
    case OP_SASL_AUTH:
    case OP_SASL_STEP:
        return ext == 0 && key > 0;
    default:
        return -1;
    }
}

/* ---- replies ---- */

/* Queues a reply header followed by `fixed` body bytes from body; any rest
 * of the body (bodylen - fixed) is the caller's to queue. Returns false
 * when out of memory. */
static bool put_reply(conn *c, uint16_t status, uint8_t extlen, uint16_t keylen,
                      uint32_t bodylen, uint64_t cas, const void *body, size_t fixed)
{
    unsigned char *p = (unsigned char *)reply_space(&c->out, HEADER_LEN + fixed);
    if (p == NULL)
        return false;
    p[0] = RES_MAGIC;
    p[1] = c->bin.opcode;
    put16(p + 2, keylen);
    p[4] = extlen;
    p[5] = 0;
    put16(p + 6, status);
    put32(p + 8, bodylen);
    put32(p + 12, c->bin.opaque);
    put64(p + 16, cas);
    if (fixed > 0)
        memcpy(p + HEADER_LEN, body, fixed);
    reply_commit(&c->out, HEADER_LEN + fixed);
    return true;
}

static void put_success(conn *c, uint64_t cas)
{
    put_reply(c, ST_SUCCESS, 0, 0, 0, cas, NULL, 0);
}

/* Error text memcached sends with a status, and the protocol__error kind
 * (NULL for outcomes that are not protocol errors, like a miss). */
static const char *status_text(uint16_t status, const char **kind)
{
    *kind = NULL;
    switch (status) {
    case ST_KEY_ENOENT: return "Not found";
    case ST_KEY_EEXISTS: return "Data exists for key.";
    case ST_NOT_STORED: return "Not stored.";
    case ST_E2BIG: *kind = "server_error"; return "Too large.";
    case ST_EINVAL: *kind = "client_error"; return "Invalid arguments";
    case ST_DELTA_BADVAL: *kind = "client_error"; return "Non-numeric server-side value for incr or decr";
    case ST_AUTH_ERROR: *kind = "client_error"; return "Auth failure.";
    case ST_UNKNOWN_COMMAND: *kind = "error"; return "Unknown command";
    case ST_ENOMEM: *kind = "server_error"; return "Out of memory";
    default: return "";
    }
}

/* Queues an error reply: status and its text (text NULL: the status's). */
static void put_error_text(conn *c, uint16_t status, const char *text)
{
    const char *kind;
    const char *usual = status_text(status, &kind);
    if (text == NULL)
        text = usual;
    if (kind != NULL && probe_protocol_error_enabled())
        probe_protocol_error(c->sfd, kind, text);
    size_t n = strlen(text);
    put_reply(c, status, 0, 0, (uint32_t)n, 0, text, n);
}

static void put_error(conn *c, uint16_t status) { put_error_text(c, status, NULL); }

/* Queues an error reply and flushes it (conn_flush). memcached flushes
 * after a noop and after most error replies; it matters when a later
 * packet makes it hang up, which drops replies still queued. */
static void send_error(conn *c, uint16_t status)
{
    put_error(c, status);
    conn_flush(c);
}

/* Queues an error reply, sends it and hangs up (a malformed packet). */
static void error_and_close(conn *c, uint16_t status)
{
    put_error(c, status);
    conn_close_after_reply(c, "error");
}

/* Answers "Unknown command" and skips the n bytes that follow (a reply
 * with nothing to skip is flushed, as memcached does). For an opcode it
 * does not serve, memcached skips the whole body length after the extras
 * and key it already consumed, so n may reach into the next packet. */
static void refuse_unknown(conn *c, uint32_t n)
{
    size_t here = c->rbytes < n ? c->rbytes : n;
    c->rcurr += here;
    c->rbytes -= here;
    if (n == 0)
        send_error(c, ST_UNKNOWN_COMMAND);
    else
        put_error(c, ST_UNKNOWN_COMMAND);
    if (n > here)
        conn_swallow(c, n - here);
}

/* UDP: a quiet command that said nothing still answers (udp.h). */
static void note_silence(conn *c)
{
    if (c->udp != NULL && reply_marked_size(&c->out) == 0)
        udp_note_empty(c);
}

static void command_end(conn *c)
{
    note_silence(c);
    conn_request_end(c);
}

/* ---- retrieval ---- */

/* get, getk, gat, gatk and their quiet forms. */
static void bin_get(conn *c, uint8_t op, const unsigned char *ext, const char *key, size_t nkey)
{
    bool touch = op == OP_GAT || op == OP_GATK;
    bool with_key = op == OP_GETK || op == OP_GATK;
    op_request rq;
    conn_op_request(c, &rq, touch ? "gat" : "get", false);
    rel_time_t exptime = touch ? clock_realtime((int64_t)get32(ext)) : 0;
    item *it = op_get(&rq, key, nkey, touch, exptime);
    size_t klen = with_key ? nkey : 0;
    if (it == NULL) {
        if (c->bin.quiet)
            return;
        if (with_key)   /* a key-carrying miss is no error text, no flush */
            put_reply(c, ST_KEY_ENOENT, 0, (uint16_t)nkey, (uint32_t)nkey, 0, key, nkey);
        else
            send_error(c, ST_KEY_ENOENT);
        return;
    }
    uint32_t vlen = it->nbytes - 2;
    unsigned char body[4 + KEY_MAX_LENGTH];
    put32(body, it->client_flags);
    memcpy(body + 4, key, klen);
    if (!put_reply(c, ST_SUCCESS, 4, (uint16_t)klen, (uint32_t)(4 + klen) + vlen,
                   item_get_cas(it), body, 4 + klen)) {
        item_release(it);
        return;
    }
    reply_item_value(&c->out, it, vlen);
}

static void bin_touch(conn *c, const unsigned char *ext, const char *key, size_t nkey)
{
    op_request rq;
    conn_op_request(c, &rq, "touch", false);
    uint32_t flags;
    uint64_t cas;
    if (!op_touch(&rq, key, nkey, clock_realtime((int64_t)get32(ext)), &flags, &cas)) {
        send_error(c, ST_KEY_ENOENT);
        return;
    }
    unsigned char body[4];
    put32(body, flags);
    put_reply(c, ST_SUCCESS, 4, 0, 4, cas, body, 4);
}

/* ---- storage ---- */

/* A storage packet's reply once its value is in (conn_stored_fn). */
static void reply_stored(conn *c, enum store_result r, const struct op_store_out *so, item *it)
{
    (void)it;
    bool quiet;
    uint8_t op = base_opcode(c->bin.opcode, &quiet);
    switch (r) {
    case STORE_STORED:
        if (!quiet)
            put_success(c, so->cas);
        break;
    case STORE_EXISTS:
        send_error(c, ST_KEY_EEXISTS);
        break;
    case STORE_NOT_FOUND:
        send_error(c, ST_KEY_ENOENT);
        break;
    case STORE_NOT_STORED:
    case STORE_NO_MEMORY:
    case STORE_BAD_DATA:    /* not here: the connection writes the "\r\n" */
        send_error(c, op == OP_ADD ? ST_KEY_EEXISTS :
                      op == OP_REPLACE ? ST_KEY_ENOENT : ST_NOT_STORED);
        break;
    }
    note_silence(c);
}

/* set, add, replace, append, prepend (and quiet forms): allocates the item
 * and has the connection read the value into it. */
static void bin_update(conn *c, uint8_t op, const unsigned char *ext, const char *key,
                       size_t nkey)
{
    struct bin_request *req = &c->bin;
    uint32_t vlen = req->bodylen - req->extlen - (uint32_t)nkey;
    uint32_t flags = 0;
    rel_time_t exptime = 0;
    enum store_op sop;
    const char *cmd;
    switch (op) {
    case OP_SET: sop = STORE_SET; cmd = "set"; break;
    case OP_ADD: sop = STORE_ADD; cmd = "add"; break;
    case OP_REPLACE: sop = STORE_REPLACE; cmd = "replace"; break;
    case OP_APPEND: sop = STORE_APPEND; cmd = "append"; break;
    default: sop = STORE_PREPEND; cmd = "prepend"; break;
    }
    if (req->extlen == 8) {
        flags = get32(ext);
        exptime = clock_realtime((int64_t)get32(ext + 4));
    }
    /* A set, add or replace carrying a CAS is a cas (append and prepend
     * check it themselves). */
    if (req->cas != 0 && (sop == STORE_SET || sop == STORE_ADD || sop == STORE_REPLACE)) {
        sop = STORE_CAS;
        cmd = "cas";
    }
    op_request rq;
    conn_op_request(c, &rq, cmd, false);
    rq.binary = true;
    enum alloc_failure why;
    item *it = op_alloc(&rq, key, nkey, flags, exptime, vlen + 2, &why);
    if (it == NULL) {
        /* The value's bytes are skipped; memcached flushes an out of
         * memory reply first, not a too large one. A set carrying a CAS
         * is a set to op_store_refused. */
        conn_store_refused(c, &rq, key, nkey, op == OP_SET ? STORE_SET : sop, why, vlen);
        put_error_text(c, why == ALLOC_TOO_LARGE ? ST_E2BIG : ST_ENOMEM,
                       why == ALLOC_NO_MEMORY_CHUNKED ? "Out of memory during read" : NULL);
        if (why != ALLOC_TOO_LARGE)
            conn_flush(c);
        return;
    }
    struct value_request vr = {
        .len = vlen,
        .add_crlf = true,
        .rq = rq,
        .opts = { .op = sop, .req_cas = req->cas },
        .stored = reply_stored,
    };
    conn_expect_value(c, it, &vr);
}

/* ---- other key commands ---- */

static void bin_delete(conn *c, const char *key, size_t nkey)
{
    op_request rq;
    conn_op_request(c, &rq, "delete", false);
    switch (op_delete(&rq, key, nkey, c->bin.cas)) {
    case DELETE_DELETED:
        if (!c->bin.quiet)
            put_success(c, 0);
        break;
    case DELETE_NOT_FOUND:
        send_error(c, ST_KEY_ENOENT);
        break;
    case DELETE_EXISTS:
        send_error(c, ST_KEY_EEXISTS);
        break;
    }
}

/* incr/decr: extras are delta (8), initial value (8), exptime (4). A miss
 * creates the key holding the initial value unless exptime is all ones. */
static void bin_arith(conn *c, bool incr, const unsigned char *ext, const char *key,
                      size_t nkey)
{
    op_request rq;
    conn_op_request(c, &rq, incr ? "incr" : "decr", false);
    uint32_t expiry = get32(ext + 16);
    struct arith_opts opts = {
        .req_cas = c->bin.cas,
        .autovivify = expiry != ARITH_NO_CREATE,
        .initial = get64(ext + 8),
        .client_flags = 0,
        .exptime = expiry != ARITH_NO_CREATE ? clock_realtime((int64_t)expiry) : 0,
    };
    uint64_t value, cas;
    switch (op_arith(&rq, key, nkey, incr, get64(ext), &opts, &value, &cas, NULL)) {
    case ARITH_OK:
        if (!c->bin.quiet) {
            unsigned char body[8];
            put64(body, value);
            put_reply(c, ST_SUCCESS, 0, 0, 8, cas, body, 8);
        }
        break;
    case ARITH_NOT_FOUND:
        send_error(c, ST_KEY_ENOENT);
        break;
    case ARITH_NON_NUMERIC:
        send_error(c, ST_DELTA_BADVAL);
        break;
    case ARITH_NO_MEMORY:
        send_error(c, ST_ENOMEM);
        break;
    case ARITH_EXISTS:
        send_error(c, ST_KEY_EEXISTS);
        break;
    }
}

/* ---- admin commands ---- */

static void bin_flush(conn *c, const unsigned char *ext)
{
    if (!settings.flush_enabled) {
        send_error(c, ST_AUTH_ERROR);   /* memcached's answer under -F */
        return;
    }
    op_request rq;
    conn_op_request(c, &rq, "flush_all", false);
    op_flush_all(&rq, c->bin.extlen == 4 ? (int64_t)get32(ext) : 0);
    if (!c->bin.quiet)
        put_success(c, 0);
}

/* stats sink (stats.h): one reply packet per stat, the name as its key
 * and the value as its value. ctx is the conn. */
static void stat_packet_sink(void *ctx, const struct stat_entry *s)
{
    conn *c = ctx;
    size_t nlen = strlen(s->name), vlen = strlen(s->value);
    if (put_reply(c, ST_SUCCESS, 0, (uint16_t)nlen, (uint32_t)(nlen + vlen), 0, s->name, nlen))
        reply_text(&c->out, s->value, vlen);
}

/* stats sink: the "PREFIX name value\r\n" lines of the detail dump,
 * queued on the reply ctx. */
static void prefix_line_sink(void *ctx, const struct stat_entry *s)
{
    reply_printf(ctx, "PREFIX %s %s\r\n", s->name, s->value);
}

/* Whether a SASL auth/step packet is served from the read buffer (its
 * data must be buffered whole first) rather than refused. */
static bool sasl_data_wanted(const struct bin_request *req)
{
    return sasl_enabled() && req->keylen <= SASL_MECH_MAX &&
           req->bodylen - req->keylen <= (uint32_t)settings.item_size_max;
}

/* -S: the SASL opcodes (sasl.c runs the exchange). An auth/step packet's
 * data, all buffered (sasl_data_wanted), is consumed here. */
static void bin_sasl(conn *c, uint8_t op, const char *key, size_t nkey)
{
    if (op == OP_SASL_LIST_MECHS) {
        size_t n = 0;
        const char *list = sasl_mechs(c, &n);
        if (list == NULL)
            put_error(c, ST_AUTH_ERROR);
        else
            put_reply(c, ST_SUCCESS, 0, 0, (uint32_t)n, 0, list, n);
        return;
    }
    uint32_t vlen = c->bin.bodylen - (uint32_t)nkey;
    if (!sasl_data_wanted(&c->bin)) {
        /* memcached: a long mechanism name is invalid; data it cannot
         * hold in an item is out of memory. The data is skipped. */
        put_error(c, nkey > SASL_MECH_MAX ? ST_EINVAL : ST_ENOMEM);
        size_t here = c->rbytes < vlen ? c->rbytes : vlen;
        c->rcurr += here;
        c->rbytes -= here;
        if (vlen > here)
            conn_swallow(c, vlen - here);
        return;
    }
    char mech[SASL_MECH_MAX + 1];
    memcpy(mech, key, nkey);
    mech[nkey] = '\0';
    const char *data = c->rcurr;
    c->rcurr += vlen;
    c->rbytes -= vlen;
    const char *out;
    size_t outlen;
    switch (sasl_exchange(c, op == OP_SASL_AUTH, mech, data, vlen, &out, &outlen)) {
    case SASL_RESULT_OK:
        STAT_INC(&c->worker->stats, auth_cmds);
        put_reply(c, ST_SUCCESS, 0, 0, 13, 0, "Authenticated", 13);
        break;
    case SASL_RESULT_CONTINUE:
        put_reply(c, ST_AUTH_CONTINUE, 0, 0, (uint32_t)outlen, 0, out, outlen);
        conn_flush(c);
        break;
    case SASL_RESULT_FAIL:
        STAT_INC(&c->worker->stats, auth_cmds);
        STAT_INC(&c->worker->stats, auth_errors);
        put_error(c, ST_AUTH_ERROR);
        break;
    }
}

/* Whether key[0..nkey) starts with the NUL-terminated word. */
static bool has_prefix(const char *key, size_t nkey, const char *word)
{
    size_t n = strlen(word);
    return nkey >= n && memcmp(key, word, n) == 0;
}

/* stat "detail on|off|dump" (sub: what follows "detail", matched as a
 * prefix as memcached does): on and off answer with the terminator alone;
 * dump sends the whole "PREFIX ...\r\nEND\r\n" text as the value of one
 * stat named "detailed". Under -X, or for anything else: "Not found". */
static void bin_stat_detail(conn *c, const char *sub, size_t nsub)
{
    if (!settings.dump_enabled) {
        send_error(c, ST_KEY_ENOENT);
    } else if (has_prefix(sub, nsub, " dump")) {
        reply text;
        reply_init(&text);
        stats_emit(STATS_DETAIL_DUMP, prefix_line_sink, &text);
        reply_text(&text, "END\r\n", 5);
        size_t n = 0;
        for (int i = 0; i < text.iovcnt; i++)
            n += text.iov[i].iov_len;
        if (put_reply(c, ST_SUCCESS, 0, 8, (uint32_t)(8 + n), 0, "detailed", 8)) {
            for (int i = 0; i < text.iovcnt; i++)
                reply_text(&c->out, text.iov[i].iov_base, text.iov[i].iov_len);
        }
        reply_free(&text);
        put_success(c, 0);
    } else if (has_prefix(sub, nsub, " on")) {
        settings.detail_enabled = true;
        put_success(c, 0);
    } else if (has_prefix(sub, nsub, " off")) {
        settings.detail_enabled = false;
        put_success(c, 0);
    } else {
        send_error(c, ST_KEY_ENOENT);
    }
}

/* stat: no key is the general group; "reset", "settings" and "detail"
 * match as prefixes (as in memcached); other keys name a group. Each stat is a
 * packet, and an empty packet ends the list. */
static void bin_stat(conn *c, const char *key, size_t nkey)
{
    enum stats_group group = STATS_GENERAL;
    bool known = true;
    if (nkey == 0) {
        group = STATS_GENERAL;
    } else if (nkey >= 5 && memcmp(key, "reset", 5) == 0) {
        stats_reset();
        put_success(c, 0);
        return;
    } else if (nkey >= 8 && memcmp(key, "settings", 8) == 0) {
        group = STATS_SETTINGS;
    } else if (nkey >= 6 && memcmp(key, "detail", 6) == 0) {
        bin_stat_detail(c, key + 6, nkey - 6);
        return;
    } else {
        char name[KEY_MAX_LENGTH + 1];
        memcpy(name, key, nkey);
        name[nkey] = '\0';
        /* memcached lists connections to ASCII clients only. */
        known = stats_group_named(name, &group) && group != STATS_CONNS;
    }
    if (known) {
        stats_emit(group, stat_packet_sink, c);
        put_success(c, 0);
    } else {
        send_error(c, ST_KEY_ENOENT);
    }
}

/* ---- dispatch ---- */

enum parse_result proto_binary_process(conn *c)
{
    if (c->rbytes < HEADER_LEN)
        return PARSE_NEED_MORE;
    const unsigned char *h = (const unsigned char *)c->rcurr;
    if (h[0] != REQ_MAGIC) {
        /* memcached hangs up at once, dropping replies not yet sent. */
        conn_close_now(c, "error");
        return PARSE_DONE;
    }
    struct bin_request *req = &c->bin;
    req->opcode = h[1];
    req->keylen = get16(h + 2);
    req->extlen = h[4];
    req->bodylen = get32(h + 8);
    req->opaque = get32(h + 12);
    req->cas = get64(h + 16);
    uint8_t op = base_opcode(req->opcode, &req->quiet);

    /* Header, extras and key are buffered whole before anything is judged
     * (memcached reads them before it looks at the lengths). One that can
     * never fit memcached's read buffer is a hang-up without a reply. */
    size_t head = HEADER_LEN + req->extlen + req->keylen;
    if (c->rbytes < head) {
        if (c->rbytes >= HEAD_MAX) {
            conn_close_now(c, "error");
            return PARSE_DONE;
        }
        return PARSE_NEED_MORE;
    }
    int shape = shape_ok(op, req);

    /* Header faults: answered without reading the body, then hang up. */
    uint16_t fault = 0;
    if (req->bodylen > BODY_MAX)
        fault = ST_EINVAL;
    else if ((uint32_t)req->keylen + req->extlen > req->bodylen)
        fault = ST_UNKNOWN_COMMAND;
    else if (!c->authenticated && sasl_enabled() && op != OP_SASL_LIST_MECHS &&
             op != OP_SASL_AUTH && op != OP_SASL_STEP && op != OP_VERSION)
        fault = ST_AUTH_ERROR;      /* -S: log in first; memcached then hangs up */
    else if (req->keylen > KEY_MAX_LENGTH || shape == 0)
        fault = ST_EINVAL;
    if (fault != 0 || shape < 0) {
        if (!conn_request_begin(c, c->rcurr, (int)head))     /* -o read_buf_mem_limit */
            return PARSE_DONE;
        c->rcurr += head;
        c->rbytes -= head;
        if (fault != 0)
            error_and_close(c, fault);
        else
            refuse_unknown(c, req->bodylen);   /* an opcode memcached does not serve */
        command_end(c);
        return PARSE_DONE;
    }

    if ((op == OP_SASL_AUTH || op == OP_SASL_STEP) && sasl_data_wanted(req) &&
        c->rbytes < HEADER_LEN + (size_t)req->bodylen)
        return PARSE_NEED_MORE;     /* -S: the exchange's data, whole */
    const unsigned char *ext = h + HEADER_LEN;
    const char *key = (const char *)ext + req->extlen;
    size_t nkey = req->keylen;
    if (!conn_request_begin(c, c->rcurr, (int)head))     /* -o read_buf_mem_limit */
        return PARSE_DONE;
    /* Only extras and key are consumed here: a set-type value is read by
     * CONN_NREAD, and memcached parses any other body bytes (which only
     * stat, touch and gat accept) as the next packet. */
    c->rcurr += head;
    c->rbytes -= head;

    switch (op) {
    case OP_GET:
    case OP_GETK:
    case OP_GAT:
    case OP_GATK:
        bin_get(c, op, ext, key, nkey);
        break;
    case OP_TOUCH:
        bin_touch(c, ext, key, nkey);
        break;
    case OP_SET:
    case OP_ADD:
    case OP_REPLACE:
    case OP_APPEND:
    case OP_PREPEND:
        bin_update(c, op, ext, key, nkey);
        break;
    case OP_DELETE:
        bin_delete(c, key, nkey);
        break;
    case OP_INCREMENT:
    case OP_DECREMENT:
        bin_arith(c, op == OP_INCREMENT, ext, key, nkey);
        break;
    case OP_QUIT:
        if (!req->quiet)
            put_success(c, 0);
        conn_close_after_reply(c, "client");
        break;
    case OP_FLUSH:
        bin_flush(c, ext);
        break;
    case OP_NOOP:
        put_success(c, 0);
        conn_flush(c);
        break;
    case OP_VERSION:
        put_reply(c, ST_SUCCESS, 0, 0, (uint32_t)strlen(MEMCACHED_VERSION), 0,
                  MEMCACHED_VERSION, strlen(MEMCACHED_VERSION));
        break;
    case OP_STAT:
        bin_stat(c, key, nkey);
        break;
    case OP_SASL_LIST_MECHS:
    case OP_SASL_AUTH:
    case OP_SASL_STEP:
        if (sasl_enabled())
            bin_sasl(c, op, key, nkey);
        else
            refuse_unknown(c, req->bodylen - (uint32_t)nkey);
        break;
    }
    /* A storage command's end comes once the value is in. */
    if (!conn_awaits_value(c))
        command_end(c);
    return PARSE_DONE;
}

const struct protocol proto_binary_protocol = {
    .name = "binary",
    .first_byte = REQ_MAGIC,
    .process = proto_binary_process,
};
