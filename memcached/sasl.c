/* sasl.c: binary-protocol SASL (-S) on Cyrus SASL. Owns the library set-up
 * (the config directory from SASL_CONF_PATH or /etc/sasl[2]/memcached.conf,
 * logging by verbosity, memcached's optional MEMCACHED_SASL_PWDB password
 * file) and each connection's session; proto_binary.c frames the packets. */
#include "config.h"     /* ENABLE_SASL */
#include "sasl.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "settings.h"

static bool sasl_flag;  /* -S */

bool sasl_enabled(void) { return sasl_flag; }

int sasl_check_settings(bool protocol_given)
{
    if (!sasl_flag)
        return 0;
    if (!protocol_given) {
        settings.binding_protocol = PROTOCOL_BINARY;
    } else if (settings.binding_protocol != PROTOCOL_BINARY) {
        fprintf(stderr, "ERROR: You cannot allow the ASCII protocol while using SASL.\n");
        return EX_USAGE;
    }
    if (settings.udpport != 0) {
        fprintf(stderr, "ERROR: Cannot enable UDP while using binary SASL authentication.\n");
        return EX_USAGE;
    }
    return 0;
}

#ifdef ENABLE_SASL

#include <stdlib.h>
#include <unistd.h>

#include <sasl/sasl.h>
#include <sasl/saslplug.h>

#include "conn.h"

#define PWDB_LINE_MAX 256       /* MEMCACHED_SASL_PWDB: longest user:password line */

/* A connection's session (c->sasl). */
struct sasl_session {
    sasl_conn_t *conn;
    bool started;               /* a SASL_AUTH began the exchange */
};

static char hostname[256];      /* the user realm, as memcached uses it */
static const char *pwdb_path;   /* MEMCACHED_SASL_PWDB, or NULL */

bool sasl_built(void) { return true; }

bool sasl_enable(void)
{
    sasl_flag = true;
    return true;
}

/* Where the library finds memcached.conf: $SASL_CONF_PATH, else the first
 * of /etc/sasl and /etc/sasl2 that has one. */
static int find_conf_dir(void *context, const char **path)
{
    (void)context;
    *path = getenv("SASL_CONF_PATH");
    if (*path == NULL) {
        if (access("/etc/sasl/memcached.conf", F_OK) == 0)
            *path = "/etc/sasl";
        else if (access("/etc/sasl2/memcached.conf", F_OK) == 0)
            *path = "/etc/sasl2";
    }
    if (settings.verbose) {
        if (*path)
            fprintf(stderr, "Reading configuration from: <%s>\n", *path);
        else
            fprintf(stderr, "Failed to locate a config path\n");
    }
    return *path ? SASL_OK : SASL_FAIL;
}

/* Library messages: warnings and failures with -v, the rest with -vv. */
static int log_message(void *context, int level, const char *message)
{
    (void)context;
    int needed = level == SASL_LOG_NONE ? 99 :
                 (level == SASL_LOG_WARN || level == SASL_LOG_FAIL) ? 1 :
                 level == SASL_LOG_ERR ? 0 : 2;
    if (settings.verbose >= needed)
        fprintf(stderr, "SASL (severity %d): %s\n", level, message);
    return SASL_OK;
}

/* Compares without stopping at the first difference. */
static bool same_bytes(const char *a, const char *b, size_t n)
{
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

/* MEMCACHED_SASL_PWDB: "user:password" lines (anything after a further
 * ':' is ignored), read at every check so edits apply at once. */
static int check_pwdb(sasl_conn_t *sconn, void *context, const char *user, const char *pass,
                      unsigned passlen, struct propctx *props)
{
    (void)sconn;
    (void)context;
    (void)props;
    size_t ulen = strlen(user);
    if (ulen + passlen > PWDB_LINE_MAX - 4) {
        fprintf(stderr, "WARNING: Failed to authenticate <%s> due to too long password (%u)\n",
                user, passlen);
        return SASL_NOAUTHZ;
    }
    FILE *f = fopen(pwdb_path, "r");
    if (f == NULL) {
        if (settings.verbose)
            fprintf(stderr, "WARNING: Failed to open sasl database <%s>\n", pwdb_path);
        return SASL_NOAUTHZ;
    }
    char line[PWDB_LINE_MAX];
    bool ok = false;
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t n = strlen(line);
        if (n < ulen + 1 + passlen || line[ulen] != ':' || !same_bytes(line, user, ulen))
            continue;
        char end = line[ulen + 1 + passlen];
        if (same_bytes(line + ulen + 1, pass, passlen) &&
            (end == ':' || end == '\n' || end == '\r' || end == '\0'))
            ok = true;
    }
    fclose(f);
    if (!ok && settings.verbose)
        fprintf(stderr, "INFO: User <%s> failed to authenticate\n", user);
    return ok ? SASL_OK : SASL_NOAUTHZ;
}

/* The library takes every callback as int (*)(void); the cast goes through
 * the generic function pointer type. */
#define CALLBACK(f) ((sasl_callback_ft)(void (*)(void))(f))
static sasl_callback_t callbacks[] = {
    { SASL_CB_SERVER_USERDB_CHECKPASS, CALLBACK(check_pwdb), NULL },
    { SASL_CB_LOG, CALLBACK(log_message), NULL },
    { SASL_CB_GETCONFPATH, CALLBACK(find_conf_dir), NULL },
    { SASL_CB_LIST_END, NULL, NULL }
};

void sasl_init(void)
{
    pwdb_path = getenv("MEMCACHED_SASL_PWDB");
    if (pwdb_path == NULL) {
        if (settings.verbose)
            fprintf(stderr, "INFO: MEMCACHED_SASL_PWDB not specified. "
                    "Internal passwd database disabled\n");
        /* Drop the password-file callback: the list starts at the next. */
        memmove(&callbacks[0], &callbacks[1], sizeof(callbacks) - sizeof(callbacks[0]));
    }
    if (gethostname(hostname, sizeof(hostname) - 1) != 0) {
        if (settings.verbose)
            fprintf(stderr, "Error discovering hostname for SASL\n");
        hostname[0] = '\0';
    }
    if (sasl_server_init(callbacks, "memcached") != SASL_OK) {
        fprintf(stderr, "Error initializing sasl.\n");
        exit(EXIT_FAILURE);
    }
    if (settings.verbose)
        fprintf(stderr, "Initialized SASL.\n");
}

/* c's session, created on first use; NULL if the library refuses. Any SASL
 * command makes the connection unauthenticated until it succeeds. */
static struct sasl_session *session(conn *c)
{
    c->authenticated = false;
    struct sasl_session *s = c->sasl;
    if (s == NULL) {
        s = calloc(1, sizeof(*s));
        if (s == NULL)
            return NULL;
        c->sasl = s;
    }
    if (s->conn == NULL &&
        sasl_server_new("memcached", NULL, hostname[0] ? hostname : NULL, NULL, NULL, NULL,
                        0, &s->conn) != SASL_OK) {
        if (settings.verbose)
            fprintf(stderr, "Failed to initialize SASL conn.\n");
        s->conn = NULL;
        return NULL;
    }
    return s;
}

const char *sasl_mechs(conn *c, size_t *len)
{
    struct sasl_session *s = session(c);
    const char *list = NULL;
    unsigned n = 0;
    if (s == NULL || sasl_listmech(s->conn, NULL, "", " ", "", &list, &n, NULL) != SASL_OK) {
        if (settings.verbose)
            fprintf(stderr, "Failed to list SASL mechanisms.\n");
        return NULL;
    }
    *len = n;
    return list;
}

enum sasl_result sasl_exchange(conn *c, bool start, const char *mech, const char *data,
                               size_t len, const char **out, size_t *outlen)
{
    struct sasl_session *s = session(c);
    const char *challenge = NULL;
    unsigned challenge_len = 0;
    int r = SASL_FAIL;
    *out = NULL;
    *outlen = 0;
    if (s == NULL || len > (size_t)~0u)
        return SASL_RESULT_FAIL;
    if (start) {
        r = sasl_server_start(s->conn, mech, len ? data : NULL, (unsigned)len, &challenge, &challenge_len);
        s->started = r == SASL_OK || r == SASL_CONTINUE;
    } else if (s->started) {
        r = sasl_server_step(s->conn, len ? data : NULL, (unsigned)len, &challenge,
                             &challenge_len);
    } else if (settings.verbose) {
        fprintf(stderr, "%d: SASL_STEP called but sasl_server_start not called for this "
                "connection!\n", c->sfd);
    }
    if (settings.verbose)
        fprintf(stderr, "sasl result code:  %d\n", r);
    if (r == SASL_OK) {
        c->authenticated = true;
        return SASL_RESULT_OK;
    }
    if (r == SASL_CONTINUE) {
        *out = challenge;
        *outlen = challenge_len;
        return SASL_RESULT_CONTINUE;
    }
    return SASL_RESULT_FAIL;
}

void sasl_conn_close(conn *c)
{
    struct sasl_session *s = c->sasl;
    if (s == NULL)
        return;
    if (s->conn)
        sasl_dispose(&s->conn);
    free(s);
    c->sasl = NULL;
}

#else /* !ENABLE_SASL: the stubs of a build without SASL */

bool sasl_built(void) { return false; }
bool sasl_enable(void) { return false; }
void sasl_init(void) {}
const char *sasl_mechs(struct conn *c, size_t *len)
{
    (void)c;
    *len = 0;
    return NULL;
}
enum sasl_result sasl_exchange(struct conn *c, bool start, const char *mech,
                               const char *data, size_t len,
                               const char **out, size_t *outlen)
{
    (void)c; (void)start; (void)mech; (void)data; (void)len;
    *out = NULL;
    *outlen = 0;
    return SASL_RESULT_FAIL;
}
void sasl_conn_close(struct conn *c) { (void)c; }

#endif
