/* proto_meta.c: the meta commands (mg, ms, md, ma, mn, me). A command line
 * is split into tokens, its flags checked in memcached 1.6's order (same
 * errors, same precedence), the request served through the operations layer
 * and the reply built with the return flags in the order they were asked. */
#include "config.h"
#include "proto_meta.h"
#include "tokens.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "conn.h"
#include "items.h"
#include "ops.h"
#include "reply.h"
#include "thread.h"
#include "util.h"

#define META_MAX_TOKENS 24      /* as the text tokenizer: the last one holds the rest */
#define META_SCANNED_TOKENS 23  /* tokens whose first byte is checked */
#define META_MAX_LINE_TOKENS 20 /* more tokens: "options flags are too long" */
#define META_MAX_FLAGS 18       /* so at most this many flags (mg, md, ma) */
#define META_OPAQUE_MAX 32      /* longest O token, the O included */
#define META_REPLY_FIXED 64     /* a reply line's code, VA size, Z X W, "\r\n", a number */
#define META_FLAG_ROOM 24       /* room per flag besides its token: " c" and 20 digits */

#define ERR_FORMAT "CLIENT_ERROR bad command line format"
#define ERR_BAD_TOKEN "CLIENT_ERROR bad token in command line format"

typedef token mtoken;

/* One parsed meta request. Token pointers point into the read buffer.
 * Everything before tok is reset for each request. */
struct meta_req {
    int ntok;
    int first_flag;                 /* index of the first flag token */
    const char *key;                /* the key, base64-decoded with b */
    size_t nkey;
    uint64_t seen[2];               /* flag letters given, by byte value */
    bool b, q, v, u, I, x;
    bool has_N, has_T, has_R, has_E, has_C, has_D, has_J, has_F, has_M;
    int pos_N, pos_T, pos_R;        /* token index, for flags that act in order */
    int32_t N, T, R;
    uint64_t E, C, D, J;
    uint32_t F;
    char mode;                      /* M's argument byte ('\0' when bare) */
    const mtoken *opaque;           /* the O token */
    mtoken tok[META_MAX_TOKENS];
    char keybuf[KEY_MAX_LENGTH];
};

/* What a value-carrying ms keeps while its data block is read: the line
 * is gone by then. Allocated once per connection (c->store.proto_state). */
struct meta_pending {
    char out_flags[META_MAX_FLAGS]; /* return flags, in request order */
    int nout;
    char opaque[META_OPAQUE_MAX];
    size_t nopaque;
    bool b, q;
};

/* ---- tokens and numbers ---- */


/* Digits only, no sign; the whole string, at most max. */
static bool parse_unsigned(const char *s, uint64_t max, uint64_t *out)
{
    return util_parse_u64(s, UTIL_NUL_TERMINATED, 0, max, out);
}

/* An optional '-' then digits, within int32 ("+5" is refused); "-"
 * alone is 0, as memcached reads it. */
static bool parse_int32(const char *s, int32_t *out)
{
    int64_t v = 0;
    if (strcmp(s, "-") != 0 &&
        !util_parse_i64(s, UTIL_NUL_TERMINATED, UTIL_NUM_MINUS, INT32_MIN, INT32_MAX, &v))
        return false;
    *out = (int32_t)v;
    return true;
}

/* A flag token must start with a digit or a byte from 'A' to 'z'; any
 * other first byte makes the line malformed. */
static bool flag_byte_ok(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'z');
}

/* ---- base64 (keys with the b flag) ---- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The value of a base64 digit, 0 for the pad '=', -1 for any other byte. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    if (c == '=')
        return 0;
    return -1;
}

/* Decodes as memcached does: bytes outside the alphabet are skipped, the
 * digits and pads left must come in groups of four, and a group with pads
 * (at most two) ends the input. Returns the decoded length, 0 on failure. */
static size_t b64_decode(const char *src, size_t len, char *out, size_t room)
{
    size_t digits = 0;
    for (size_t i = 0; i < len; i++)
        if (b64_value((unsigned char)src[i]) >= 0)
            digits++;
    if (digits == 0 || digits % 4 != 0 || digits / 4 * 3 > room)
        return 0;
    size_t n = 0;
    int group[4], filled = 0, pads = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)src[i]);
        if (v < 0)
            continue;
        if (src[i] == '=')
            pads++;
        group[filled++] = v;
        if (filled < 4)
            continue;
        out[n++] = (char)((group[0] << 2) | (group[1] >> 4));
        out[n++] = (char)(((group[1] & 0x0f) << 4) | (group[2] >> 2));
        out[n++] = (char)(((group[2] & 0x03) << 6) | group[3]);
        filled = 0;
        if (pads > 0) {
            if (pads > 2)
                return 0;
            n -= (size_t)pads;
            break;
        }
    }
    return n;
}

/* Writes the base64 form of src[0..len) at out; returns its length
 * (4 per 3 bytes, rounded up). */
static size_t b64_encode(const char *src, size_t len, char *out)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t n = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        out[n++] = b64_alphabet[s[i] >> 2];
        out[n++] = b64_alphabet[((s[i] & 0x03) << 4) | (s[i + 1] >> 4)];
        out[n++] = b64_alphabet[((s[i + 1] & 0x0f) << 2) | (s[i + 2] >> 6)];
        out[n++] = b64_alphabet[s[i + 2] & 0x3f];
    }
    if (i < len) {
        out[n++] = b64_alphabet[s[i] >> 2];
        if (i + 1 < len) {
            out[n++] = b64_alphabet[((s[i] & 0x03) << 4) | (s[i + 1] >> 4)];
            out[n++] = b64_alphabet[(s[i + 1] & 0x0f) << 2];
        } else {
            out[n++] = b64_alphabet[(s[i] & 0x03) << 4];
            out[n++] = '=';
        }
        out[n++] = '=';
    }
    return n;
}

/* ---- flags ---- */

static bool seen_flag(struct meta_req *m, unsigned char c)
{
    uint64_t bit = 1ull << (c & 63);
    bool was = (m->seen[c >> 6] & bit) != 0;
    m->seen[c >> 6] |= bit;
    return was;
}

/* Reads the flag tokens. A repeated or unknown flag fails at once; a bad
 * argument (or base64 key) is noted and the scan goes on, the last such
 * error being the one reported; a bad F has no message of its own and
 * shows only when nothing else went wrong (memcached's precedence). NULL
 * when all is well. */
static const char *meta_parse_flags(struct meta_req *m)
{
    const char *soft = NULL;
    bool bad_flags = false;
    for (int i = m->first_flag; i < m->ntok; i++) {
        unsigned char c = (unsigned char)m->tok[i].value[0];
        const char *arg = m->tok[i].value + 1;
        uint64_t u = 0;
        if (seen_flag(m, c))
            return "CLIENT_ERROR duplicate flag";
        switch (c) {
        case 'N':
            m->has_N = true;
            m->pos_N = i;
            if (!parse_int32(arg, &m->N))
                soft = ERR_BAD_TOKEN;
            break;
        case 'T':
            m->has_T = true;
            m->pos_T = i;
            if (!parse_int32(arg, &m->T))
                soft = ERR_BAD_TOKEN;
            break;
        case 'R':
            m->has_R = true;
            m->pos_R = i;
            if (!parse_int32(arg, &m->R))
                soft = ERR_BAD_TOKEN;
            break;
        case 'E':
            m->has_E = true;
            if (!parse_unsigned(arg, UINT64_MAX, &m->E))
                soft = ERR_BAD_TOKEN;
            break;
        case 'C':
            m->has_C = true;
            if (!parse_unsigned(arg, UINT64_MAX, &m->C))
                soft = ERR_BAD_TOKEN;
            break;
        case 'F':
            m->has_F = true;
            if (!parse_unsigned(arg, UINT32_MAX, &u))
                bad_flags = true;
            m->F = (uint32_t)u;
            break;
        case 'D':
            m->has_D = true;
            if (!parse_unsigned(arg, UINT64_MAX, &m->D))
                soft = "CLIENT_ERROR invalid numeric delta value";
            break;
        case 'J':
            m->has_J = true;
            if (!parse_unsigned(arg, UINT64_MAX, &m->J))
                soft = "CLIENT_ERROR invalid numeric initial value";
            break;
        case 'M':
            m->has_M = true;
            m->mode = arg[0];
            break;
        case 'O':
            m->opaque = &m->tok[i];
            break;
        case 'b':
            /* Decoded here: a bad key is one more error the scan goes on past. */
            m->b = true;
            m->nkey = b64_decode(m->tok[1].value, m->tok[1].length, m->keybuf,
                                 sizeof(m->keybuf));
            if (m->nkey == 0)
                soft = "CLIENT_ERROR error decoding key";
            m->key = m->keybuf;
            break;
        case 'q': m->q = true; break;
        case 'v': m->v = true; break;
        case 'u': m->u = true; break;
        case 'I': m->I = true; break;
        case 'x': m->x = true; break;
        case 'c': case 'f': case 'h': case 'k': case 'l': case 's': case 't':
        case 'L': case 'P':
            break;      /* return flags, read again when replying; P and L are for proxies */
        default:
            return "CLIENT_ERROR invalid flag";
        }
    }
    return soft != NULL ? soft : bad_flags ? ERR_FORMAT : NULL;
}

/* Tokenizes and runs the first check every meta command shares: a flag
 * token starting with a byte no flag can start with makes the line
 * malformed, before anything else is looked at (an ms then has no length
 * to skip its data block by). The first_flag'th token starts the flags.
 * Returns NULL or the error line. */
static const char *meta_parse_line(struct meta_req *m, char *line, size_t len, int first_flag)
{
    memset(m, 0, offsetof(struct meta_req, tok));
    m->first_flag = first_flag;
    m->ntok = tokenize(line, len, m->tok, META_MAX_TOKENS);
    if (m->ntok < first_flag)
        return ERR_FORMAT;
    int scanned = m->ntok < META_SCANNED_TOKENS ? m->ntok : META_SCANNED_TOKENS;
    for (int i = first_flag; i < scanned; i++)
        if (!flag_byte_ok((unsigned char)m->tok[i].value[0]))
            return ERR_FORMAT;
    return NULL;
}

/* The checks after the ms length: key length, token count, flags (with
 * the key's decoding). NULL when the request is well formed. */
static const char *meta_parse_rest(struct meta_req *m)
{
    if (m->tok[1].length > KEY_MAX_LENGTH)
        return ERR_FORMAT;
    if (m->ntok > META_MAX_LINE_TOKENS)
        return "CLIENT_ERROR options flags are too long";
    m->key = m->tok[1].value;
    m->nkey = m->tok[1].length;
    return meta_parse_flags(m);
}

static bool opaque_too_long(const struct meta_req *m)
{
    return m->opaque != NULL && m->opaque->length > META_OPAQUE_MAX;
}

/* Room enough for a reply line answering m about a key of nkey bytes
 * (base64 takes 4/3 of it, and " b"). Sized to the request, so reply
 * blocks are not used up by worst cases. */
static size_t reply_room(const struct meta_req *m, size_t nkey)
{
    size_t n = META_REPLY_FIXED + 2 * nkey;
    for (int i = m->first_flag; i < m->ntok; i++)
        n += m->tok[i].length + META_FLAG_ROOM;
    return n;
}

/* rel time of a protocol TTL, as the storage commands take it. */
static rel_time_t ttl_time(int32_t ttl) { return clock_realtime(ttl); }

/* The t flag's text for an exptime: -1 when none, else the seconds left
 * (shown modulo 2^32 when already past, as memcached shows them). */
static int put_ttl(char *p, rel_time_t exptime)
{
    if (exptime == 0)
        return sprintf(p, " t-1");
    return sprintf(p, " t%u", (unsigned)(exptime - current_time));
}

/* Writes " k<key>", base64-encoded and followed by " b" when b64. */
static int put_key(char *p, const char *key, size_t nkey, bool b64)
{
    int n = 0;
    p[n++] = ' ';
    p[n++] = 'k';
    if (b64) {
        n += (int)b64_encode(key, nkey, p + n);
        p[n++] = ' ';
        p[n++] = 'b';
    } else {
        memcpy(p + n, key, nkey);
        n += (int)nkey;
    }
    return n;
}

static int put_opaque(char *p, const char *s, size_t n)
{
    p[0] = ' ';
    memcpy(p + 1, s, n);
    return (int)n + 1;
}

/* The exptime a created item has at token index pos: N and T apply in the
 * order they were given, starting from none. */
static rel_time_t created_exptime_at(const struct meta_req *m, int pos)
{
    bool n_before = m->has_N && m->pos_N < pos;
    bool t_before = m->has_T && m->pos_T < pos;
    if (n_before && (!t_before || m->pos_N > m->pos_T))
        return ttl_time(m->N);
    return t_before ? ttl_time(m->T) : 0;
}

/* The exptime an existing item has at token index pos: T applies where
 * it was given. */
static rel_time_t existing_exptime_at(const struct meta_req *m, int pos, rel_time_t before)
{
    return (m->has_T && m->pos_T < pos) ? ttl_time(m->T) : before;
}

/* ---- mg ---- */

static void meta_get(conn *c, char *line, size_t len)
{
    struct meta_req m;
    op_request rq;
    conn_op_request(c, &rq, "mg", true);
    const char *err = meta_parse_line(&m, line, len, 2);
    if (err == NULL)
        err = meta_parse_rest(&m);
    if (err != NULL) {
        conn_error(c, err);
        if (m.ntok >= 2)
            op_request_error(&rq, m.tok[1].value,
                             m.tok[1].length > KEY_MAX_LENGTH ? KEY_MAX_LENGTH : m.tok[1].length);
        return;
    }

    /* memcached applies T and N while writing the reply, in flag order, and
     * hands out the token after it: an over-long opaque stops all that
     * where it stands (the lookup itself has happened). */
    int stop = opaque_too_long(&m) ? (int)(m.opaque - m.tok) : META_MAX_TOKENS;
    struct op_get_opts o = {
        .no_bump = m.u,
        .touch = m.has_T && m.pos_T < stop,
        .touch_exptime = m.has_T ? ttl_time(m.T) : 0,
        .recache_before = m.has_R ? ttl_time(m.R) : 0,
        .recache_sees_touch = m.has_T && m.has_R && m.pos_T < m.pos_R,
        .vivify = m.has_N,
        .vivify_exptime = created_exptime_at(&m, stop),
        .has_new_cas = m.has_E,
        .new_cas = m.E,
        .no_token = stop != META_MAX_TOKENS,
    };
    struct op_get_result r;
    op_get_ex(&rq, m.key, m.nkey, &o, &r);
    item *it = r.it;

    if (stop != META_MAX_TOKENS) {
        if (it != NULL)
            item_release(it);
        conn_error(c, "CLIENT_ERROR opaque token too long");
        return;
    }
    if (it == NULL) {
        if (m.q)
            return;     /* quiet: a miss says nothing */
        char *p = reply_space(&c->out, reply_room(&m, m.nkey));
        if (p == NULL)
            return;
        int n = sprintf(p, "EN");
        for (int i = m.first_flag; i < m.ntok; i++) {
            const mtoken *t = &m.tok[i];
            if (t->value[0] == 'O')
                n += put_opaque(p + n, t->value, t->length);
            else if (t->value[0] == 'k')
                n += put_key(p + n, m.key, m.nkey, m.b);
        }
        memcpy(p + n, "\r\n", 2);
        reply_commit(&c->out, (size_t)n + 2);
        return;
    }

    uint64_t cas = item_get_cas(it);
    bool with_value = m.v && !(m.has_C && m.C == cas);
    char *p = reply_space(&c->out, reply_room(&m, it->nkey));
    if (p == NULL) {
        item_release(it);
        return;
    }
    int n = with_value ? sprintf(p, "VA %u", it->nbytes - 2) : sprintf(p, "HD");
    for (int i = m.first_flag; i < m.ntok; i++) {
        const mtoken *t = &m.tok[i];
        switch (t->value[0]) {
        case 'c':
            n += sprintf(p + n, " c%llu", (unsigned long long)cas);
            break;
        case 'f':
            n += sprintf(p + n, " f%u", it->client_flags);
            break;
        case 'h':
            n += sprintf(p + n, " h%d", r.fetched_before ? 1 : 0);
            break;
        case 'k':
            n += put_key(p + n, item_key(it), it->nkey, (it->it_flags & ITEM_KEY_BINARY) != 0);
            break;
        case 'l':
            n += sprintf(p + n, " l%u", (unsigned)(current_time - r.time_before));
            break;
        case 'O':
            n += put_opaque(p + n, t->value, t->length);
            break;
        case 's':
            n += sprintf(p + n, " s%u", it->nbytes - 2);
            break;
        case 't':
            n += put_ttl(p + n, r.created ? created_exptime_at(&m, i)
                                          : existing_exptime_at(&m, i, r.exptime_before));
            break;
        }
    }
    if (r.token_sent_before)
        n += sprintf(p + n, " Z");
    if (r.stale)
        n += sprintf(p + n, " X");
    if (r.won)
        n += sprintf(p + n, " W");
    memcpy(p + n, "\r\n", 2);
    reply_commit(&c->out, (size_t)n + 2);
    if (with_value)
        reply_item_value(&c->out, it, it->nbytes);
    else
        item_release(it);
}

/* ---- ms ---- */

/* The ms reply once the value is in (or was refused). */
static void meta_set_reply(conn *c, const struct meta_pending *mp, enum store_result r,
                           const struct op_store_out *so, const char *key, size_t nkey)
{
    const char *code;
    switch (r) {
    case STORE_STORED:
        if (mp->q)
            return;
        code = "HD";
        break;
    case STORE_NOT_STORED: code = "NS"; break;
    case STORE_EXISTS: code = "EX"; break;
    case STORE_NOT_FOUND: code = "NF"; break;
    default:
        conn_error(c, "SERVER_ERROR out of memory storing object");
        return;
    }
    char *p = reply_space(&c->out, META_REPLY_FIXED + 2 * nkey + mp->nopaque +
                                   (size_t)mp->nout * META_FLAG_ROOM);
    if (p == NULL)
        return;
    int n = sprintf(p, "%s", code);
    for (int i = 0; i < mp->nout; i++) {
        switch (mp->out_flags[i]) {
        case 'O':
            n += put_opaque(p + n, mp->opaque, mp->nopaque);
            break;
        case 'k':
            n += put_key(p + n, key, nkey, mp->b);
            break;
        case 'c':
            n += sprintf(p + n, " c%llu", (unsigned long long)so->cas);
            break;
        case 's':
            n += sprintf(p + n, " s%u", so->size);
            break;
        }
    }
    memcpy(p + n, "\r\n", 2);
    reply_commit(&c->out, (size_t)n + 2);
}

/* ms's reply once its value is in (conn_stored_fn). */
static void meta_set_stored(conn *c, enum store_result r, const struct op_store_out *so,
                            item *it)
{
    if (r == STORE_BAD_DATA)
        conn_error(c, "CLIENT_ERROR bad data chunk");
    else
        meta_set_reply(c, c->store.proto_state, r, so, item_key(it), it->nkey);
}

static bool store_op_for_mode(const struct meta_req *m, enum store_op *op)
{
    switch (m->has_M ? m->mode : 'S') {
    case 'S': *op = m->has_C ? STORE_CAS : STORE_SET; return true;
    case 'E': *op = STORE_ADD; return true;
    case 'R': *op = m->has_C ? STORE_CAS : STORE_REPLACE; return true;
    case 'A': *op = STORE_APPEND; return true;
    case 'P': *op = STORE_PREPEND; return true;
    default: return false;
    }
}

static void meta_set(conn *c, char *line, size_t len)
{
    struct meta_req m;
    op_request rq;
    conn_op_request(c, &rq, "ms", true);
    const char *err = meta_parse_line(&m, line, len, 3);
    int32_t vlen = -1;
    enum store_op op = STORE_SET;
    if (err == NULL && (!parse_int32(m.tok[2].value, &vlen) || vlen < 0 || vlen > INT32_MAX - 2))
        err = ERR_FORMAT;   /* no length: the data block cannot be skipped */
    if (err == NULL) {
        err = meta_parse_rest(&m);
        if (err == NULL && !store_op_for_mode(&m, &op))
            err = "CLIENT_ERROR invalid mode for ms M token";
        if (err == NULL && opaque_too_long(&m))
            err = "CLIENT_ERROR opaque token too long";
        if (err != NULL)
            conn_swallow(c, (size_t)vlen + 2);
    }
    if (err != NULL) {
        conn_error(c, err);
        if (m.ntok >= 2)
            op_request_error(&rq, m.tok[1].value,
                             m.tok[1].length > KEY_MAX_LENGTH ? KEY_MAX_LENGTH : m.tok[1].length);
        return;
    }

    enum alloc_failure why;
    item *it = op_alloc(&rq, m.key, m.nkey, m.has_F ? m.F : 0, m.has_T ? ttl_time(m.T) : 0,
                        (uint32_t)vlen + 2, &why);
    if (it == NULL) {
        /* As memcached, which finds out about chunks while reading the
         * value: q hides that error (and the old value stays, see
         * op_store_refused). */
        c->out.suppress = why == ALLOC_NO_MEMORY_CHUNKED && m.q;
        conn_error(c, why == ALLOC_NO_MEMORY_CHUNKED ? "SERVER_ERROR Out of memory during read" :
                      why == ALLOC_TOO_LARGE ? "SERVER_ERROR object too large for cache"
                                             : "SERVER_ERROR out of memory storing object");
        c->out.suppress = false;
        conn_store_refused(c, &rq, m.key, m.nkey, op, why, (size_t)vlen + 2);
        return;
    }
    if (m.b)
        item_flags_set(it, ITEM_KEY_BINARY);

    struct pending_store *ps = &c->store;
    struct meta_pending *mp = ps->proto_state;
    if (mp == NULL) {
        mp = malloc(sizeof(*mp));
        if (mp == NULL) {
            item_release(it);
            conn_error(c, "SERVER_ERROR out of memory storing object");
            conn_swallow(c, (size_t)vlen + 2);
            return;
        }
        ps->proto_state = mp;
    }
    mp->nout = 0;
    for (int i = m.first_flag; i < m.ntok; i++) {
        char f = m.tok[i].value[0];
        if (f == 'O' || f == 'k' || f == 'c' || f == 's')
            mp->out_flags[mp->nout++] = f;
    }
    mp->nopaque = 0;
    if (m.opaque != NULL) {
        mp->nopaque = m.opaque->length;
        memcpy(mp->opaque, m.opaque->value, mp->nopaque);
    }
    mp->b = m.b;
    mp->q = m.q;
    struct value_request vr = {
        .len = (size_t)vlen + 2,
        .rq = rq,
        .opts = {
            .op = op,
            .req_cas = m.has_C ? m.C : 0,
            .invalidate = m.I,
            .vivify = m.has_N,
            .vivify_exptime = m.has_N ? ttl_time(m.N) : 0,
            .new_cas = m.has_E ? m.E : 0,     /* for ms, E0 means a fresh one (as memcached) */
        },
        .stored = meta_set_stored,
    };
    conn_expect_value(c, it, &vr);
}

/* ---- md ---- */

static void meta_delete(conn *c, char *line, size_t len)
{
    struct meta_req m;
    op_request rq;
    conn_op_request(c, &rq, "md", true);
    const char *err = meta_parse_line(&m, line, len, 2);
    if (err == NULL)
        err = meta_parse_rest(&m);
    if (err == NULL && opaque_too_long(&m))
        err = "CLIENT_ERROR opaque token too long";
    if (err != NULL) {
        conn_error(c, err);
        if (m.ntok >= 2)
            op_request_error(&rq, m.tok[1].value,
                             m.tok[1].length > KEY_MAX_LENGTH ? KEY_MAX_LENGTH : m.tok[1].length);
        return;
    }
    struct op_delete_opts o = {
        .has_cas = m.has_C,
        .req_cas = m.C,
        .invalidate = m.I,
        .touch = m.has_T && (m.I || m.x),
        .touch_exptime = m.has_T ? ttl_time(m.T) : 0,
        .remove_value = m.x,
        .has_new_cas = m.has_E,
        .new_cas = m.E,
    };
    enum delete_result r = op_delete_ex(&rq, m.key, m.nkey, &o);
    if (r == DELETE_DELETED && m.q)
        return;
    char *p = reply_space(&c->out, reply_room(&m, m.nkey));
    if (p == NULL)
        return;
    int n = sprintf(p, "%s", r == DELETE_DELETED ? "HD" : r == DELETE_EXISTS ? "EX" : "NF");
    for (int i = m.first_flag; i < m.ntok; i++) {
        const mtoken *t = &m.tok[i];
        if (t->value[0] == 'O')
            n += put_opaque(p + n, t->value, t->length);
        else if (t->value[0] == 'k')
            n += put_key(p + n, m.key, m.nkey, m.b);
    }
    memcpy(p + n, "\r\n", 2);
    reply_commit(&c->out, (size_t)n + 2);
}

/* ---- ma ---- */

static void meta_arith(conn *c, char *line, size_t len)
{
    struct meta_req m;
    op_request rq;
    conn_op_request(c, &rq, "ma", true);
    const char *err = meta_parse_line(&m, line, len, 2);
    bool incr = true;
    if (err == NULL && meta_parse_rest(&m) != NULL)
        err = "CLIENT_ERROR invalid or duplicate flag";    /* ma says only this */
    if (err == NULL && m.has_M) {
        if (m.mode == 'D' || m.mode == '-')
            incr = false;
        else if (m.mode != 'I' && m.mode != '+')
            err = "CLIENT_ERROR invalid mode for ma M token";
    }
    if (err != NULL) {
        conn_error(c, err);
        if (m.ntok >= 2)
            op_request_error(&rq, m.tok[1].value,
                             m.tok[1].length > KEY_MAX_LENGTH ? KEY_MAX_LENGTH : m.tok[1].length);
        return;
    }

    /* As mg: an over-long opaque stops T and N where it stands. */
    int stop = opaque_too_long(&m) ? (int)(m.opaque - m.tok) : META_MAX_TOKENS;
    struct arith_opts o = {
        .req_cas = m.has_C ? m.C : 0,   /* C0 checks nothing, as memcached's ma */
        .autovivify = m.has_N,
        .initial = m.has_J ? m.J : 0,
        .exptime = created_exptime_at(&m, stop),
        .touch = m.has_T && m.pos_T < stop,
        .touch_exptime = m.has_T ? ttl_time(m.T) : 0,
        .has_new_cas = m.has_E,
        .new_cas = m.E,
    };
    struct arith_out ao;
    enum arith_result r = op_arith_ex(&rq, m.key, m.nkey, incr, m.has_D ? m.D : 1, &o, &ao);

    const char *code;
    switch (r) {
    case ARITH_OK: code = NULL; break;
    case ARITH_NOT_FOUND: code = "NF"; break;
    case ARITH_EXISTS: code = "EX"; break;
    case ARITH_NON_NUMERIC:
        conn_error(c, "CLIENT_ERROR cannot increment or decrement non-numeric value");
        return;
    default:
        conn_error(c, "SERVER_ERROR out of memory");
        return;
    }
    if (stop != META_MAX_TOKENS) {
        /* memcached finds this out while replying, after the change. */
        conn_error(c, "CLIENT_ERROR opaque token too long");
        return;
    }
    if (code == NULL && m.q)
        return;
    char digits[24];
    int ndigits = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)ao.value);
    char *p = reply_space(&c->out, reply_room(&m, m.nkey) + sizeof(digits) + 2);
    if (p == NULL)
        return;
    int n;
    if (code != NULL)
        n = sprintf(p, "%s", code);
    else if (m.v)
        n = sprintf(p, "VA %d", ndigits);
    else
        n = sprintf(p, "HD");
    for (int i = m.first_flag; i < m.ntok; i++) {
        const mtoken *t = &m.tok[i];
        switch (t->value[0]) {
        case 'O':
            n += put_opaque(p + n, t->value, t->length);
            break;
        case 'k':
            n += put_key(p + n, m.key, m.nkey, m.b);
            break;
        case 'c':
            if (code == NULL)
                n += sprintf(p + n, " c%llu", (unsigned long long)ao.cas);
            break;
        case 't':
            if (code == NULL)
                n += put_ttl(p + n, ao.created ? created_exptime_at(&m, i)
                                               : existing_exptime_at(&m, i, ao.exptime_before));
            break;
        }
    }
    memcpy(p + n, "\r\n", 2);
    n += 2;
    if (code == NULL && m.v) {
        memcpy(p + n, digits, (size_t)ndigits);
        n += ndigits;
        memcpy(p + n, "\r\n", 2);
        n += 2;
    }
    reply_commit(&c->out, (size_t)n);
}

/* ---- me ---- */

static void meta_debug(conn *c, char *line, size_t len)
{
    struct meta_req m;
    op_request rq;
    conn_op_request(c, &rq, "me", true);
    const char *err = meta_parse_line(&m, line, len, 2);
    if (err == NULL && m.tok[1].length > KEY_MAX_LENGTH)
        err = ERR_FORMAT;
    const char *key = m.tok[1].value;
    size_t nkey = m.tok[1].length;
    /* memcached decodes the key only when a token follows the b. */
    if (err == NULL && m.ntok >= 4 && m.tok[2].length == 1 && m.tok[2].value[0] == 'b') {
        nkey = b64_decode(m.tok[1].value, m.tok[1].length, m.keybuf, sizeof(m.keybuf));
        if (nkey == 0)
            err = ERR_FORMAT;
        key = m.keybuf;
    }
    if (err != NULL) {
        conn_error(c, err);
        return;
    }
    struct op_item_info info;
    if (!op_meta_debug(&rq, key, nkey, &info)) {
        reply_str(&c->out, "EN\r\n");
        return;
    }
    char *p = reply_space(&c->out, 2 * META_REPLY_FIXED + 2 * nkey);
    if (p == NULL)
        return;
    int n = sprintf(p, "ME ");
    if (info.key_binary)
        n += (int)b64_encode(key, nkey, p + n);
    else {
        memcpy(p + n, key, nkey);
        n += (int)nkey;
    }
    n += sprintf(p + n, " exp=%d la=%u cas=%llu fetch=%s cls=%u size=%zu\r\n",
                 info.exptime == 0 ? -1 : (int)(info.exptime - current_time),
                 (unsigned)(current_time - info.time), (unsigned long long)info.cas,
                 info.fetched ? "yes" : "no", info.clsid, info.ntotal);
    reply_commit(&c->out, (size_t)n);
}

void proto_meta_command(conn *c, char *line, size_t len)
{
    switch (line[1]) {
    case 'g': meta_get(c, line, len); break;
    case 's': meta_set(c, line, len); break;
    case 'd': meta_delete(c, line, len); break;
    case 'a': meta_arith(c, line, len); break;
    case 'e': meta_debug(c, line, len); break;
    case 'n':
        /* mn is a flush point: the replies so far are sent before the
         * next request is read from the buffer (as memcached does). */
        reply_str(&c->out, "MN\r\n");
        conn_flush(c);
        break;
    }
}

void proto_meta_mgdump_item(item *it, void *arg)
{
    reply *r = arg;
    char *p = reply_space(r, 2 * (size_t)it->nkey + 16);
    if (p == NULL)
        return;
    int n = 3;
    memcpy(p, "mg ", 3);
    if (it->it_flags & ITEM_KEY_BINARY) {
        n += (int)b64_encode(item_key(it), it->nkey, p + n);
        memcpy(p + n, " b", 2);
        n += 2;
    } else {
        memcpy(p + n, item_key(it), it->nkey);
        n += it->nkey;
    }
    memcpy(p + n, "\r\n", 2);
    reply_commit(r, (size_t)n + 2);
}
