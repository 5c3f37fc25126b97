/* proto_auth.c: the -Y login on an ASCII connection. Until it succeeds every
 * line is answered "CLIENT_ERROR unauthenticated" unless it is a "set" line,
 * whose value "<user> <password>" is checked against the password file.
 * Replies, limits and the cases that hang up are memcached's. */
#include "config.h"
#include "proto_auth.h"

#include <string.h>

#include "authfile.h"
#include "conn.h"
#include "counters.h"
#include "thread.h"

#define AUTH_VALUE_MAX 16384        /* longest "<user> <password>" */
#define AUTH_LINE_MIN 6             /* shorter lines cannot be a login: hang up */
#define AUTH_LINE_NO_NEWLINE 2048   /* bytes without "\n" before we hang up */

static enum parse_result hang_up(conn *c)
{
    conn_close_now(c, "auth");
    return PARSE_DONE;
}

/* The value length of a login line "set <key> <flags> <exptime> <len> ...",
 * or -1 if the line is not one. line[0..len) has no "\r\n". */
static int64_t login_value_length(const char *line, size_t len)
{
    if (len < 3 || memcmp(line, "set", 3) != 0)
        return -1;
    const char *p = line, *end = line + len;
    for (int i = 0; i < 5; i++) {
        while (p < end && *p == ' ')
            p++;
        if (p == end)
            return -1;                  /* fewer than five tokens */
        const char *tok = p;
        while (p < end && *p != ' ')
            p++;
        if (i < 4)
            continue;
        /* The fifth token: digits only, 32 bits. */
        uint64_t v = 0;
        for (const char *d = tok; d < p; d++) {
            if (*d < '0' || *d > '9')
                return -1;
            v = v * 10 + (uint64_t)(*d - '0');
            if (v > UINT32_MAX)
                return -1;
        }
        return (int64_t)v;
    }
    return -1;
}

/* Reads the "set" line; sets c->auth_value_len or answers a refusal. */
static enum parse_result read_login_line(conn *c)
{
    if (c->rbytes < 3)
        return PARSE_NEED_MORE;
    char *nl = memchr(c->rcurr, '\n', c->rbytes);
    if (nl == NULL)
        return c->rbytes > AUTH_LINE_NO_NEWLINE ? hang_up(c) : PARSE_NEED_MORE;
    char *line = c->rcurr;
    size_t len = (size_t)(nl - line);
    if (len < AUTH_LINE_MIN)
        return hang_up(c);
    c->rcurr += len + 1;
    c->rbytes -= len + 1;
    if (line[len - 1] == '\r')
        len--;
    line[len] = '\0';

    if (!conn_request_begin(c, line, (int)len))     /* -o read_buf_mem_limit */
        return PARSE_DONE;
    int64_t vlen = login_value_length(line, len);
    if (vlen < 0) {
        conn_error(c, "CLIENT_ERROR unauthenticated");
    } else if (vlen > AUTH_VALUE_MAX) {
        /* The value is not skipped: its lines are refused one by one. */
        conn_error(c, "CLIENT_ERROR auth token too long");
    } else {
        c->auth_value_len = (uint32_t)vlen + 2;
        return PARSE_DONE;
    }
    conn_request_end(c);
    return PARSE_DONE;
}

/* The value "<user> <password>\r\n" is buffered: check it. */
static void check_login(conn *c)
{
    const char *value = c->rcurr;
    size_t n = c->auth_value_len;
    c->rcurr += n;
    c->rbytes -= n;
    c->auth_value_len = 0;

    struct thread_stats *ts = &c->worker->stats;
    if (value[n - 2] != '\r' || value[n - 1] != '\n') {
        conn_error(c, "CLIENT_ERROR bad command line termination");
    } else {
        const char *space = memchr(value, ' ', n - 2);
        if (space == NULL) {
            conn_error(c, "CLIENT_ERROR bad authentication token format");
        } else {
            size_t ulen = (size_t)(space - value);
            STAT_INC(ts, auth_cmds);
            if (authfile_check(value, ulen, space + 1, n - 2 - ulen - 1)) {
                c->authenticated = true;
                reply_str(&c->out, "STORED\r\n");
            } else {
                STAT_INC(ts, auth_errors);
                conn_error(c, "CLIENT_ERROR authentication failure");
            }
        }
    }
    conn_request_end(c);
}

enum parse_result proto_auth_process(conn *c)
{
    if (c->auth_value_len == 0) {
        enum parse_result r = read_login_line(c);
        if (r != PARSE_DONE || c->auth_value_len == 0)
            return r;
    }
    if (c->rbytes < c->auth_value_len)
        return PARSE_NEED_MORE;
    check_login(c);
    return PARSE_DONE;
}
