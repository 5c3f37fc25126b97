/* tls.c: TLS for TCP clients (-Z). Owns the ssl_* settings and the one
 * SSL_CTX all connections share, the -l TLS prefixes, and each TLS
 * connection's session: a non-blocking handshake driven by the first reads,
 * SSL_read for conn.c and a write buffer for reply.c (SSL_write must be
 * retried with the same bytes after it would block). */
#include "config.h"     /* ENABLE_TLS */
#include "tls.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

/* -l "notls:", "btls:", "mtls:" are recognised (and refused without -Z) in
 * every build, as memcached does. */
static bool tls_flag;               /* -Z */

bool tls_enabled(void) { return tls_flag; }

enum tls_listen_mode tls_listen_default(void)
{
    return tls_flag ? TLS_LISTEN_DEFAULT : TLS_LISTEN_OFF;
}

int tls_listen_prefix(char **entry)
{
    static const struct { const char *prefix; const char *name; enum tls_listen_mode mode; } p[] = {
        { "notls", "notls", TLS_LISTEN_OFF },
        { "btls", "btls", TLS_LISTEN_NOPEER },
        { "mtls", "otls", TLS_LISTEN_PEER },   /* memcached's message says 'otls' */
    };
    for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
        size_t len = strlen(p[i].prefix);
        if (strncmp(*entry, p[i].prefix, len) != 0)
            continue;
        if (!tls_flag) {
            fprintf(stderr, "'%s' option is valid only when SSL is enabled\n", p[i].name);
            return -1;
        }
        *entry += len;
        if (**entry == ':')
            (*entry)++;
        return (int)p[i].mode;
    }
    return (int)tls_listen_default();
}

#ifdef ENABLE_TLS

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sysexits.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "conn.h"
#include "listener.h"
#include "reply.h"
#include "settings.h"
#include "util.h"

#define SESSION_CONTEXT "memcached"     /* session-id context for the cache */

/* The ssl_* settings, memcached's defaults. verify_mode and keyformat hold
 * OpenSSL's values, which "stats settings" shows as memcached does. */
static struct {
    char *chain_cert;
    char *key;
    int keyformat;
    int verify_mode;
    char *ciphers;
    char *ca_cert;
    unsigned wbuf_size;         /* bytes (the option takes kilobytes) */
    bool session_cache;
    bool kernel_tls;
    int min_version;
} opt = {
    .keyformat = SSL_FILETYPE_PEM,
    .verify_mode = SSL_VERIFY_NONE,
    .wbuf_size = 16 * 1024,
    .min_version = TLS1_2_VERSION,
};

static SSL_CTX *ctx;
/* Held to create a session from ctx and to replace ctx (refresh_certs). */
static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic rel_time_t last_cert_refresh;
static _Atomic uint64_t handshake_errors, proto_errors, new_sessions;

/* One connection's TLS session. */
struct tls_conn {
    SSL *ssl;
    char *wbuf;                 /* ciphertext-to-be: plaintext copied from the reply */
    size_t wpending;            /* bytes in wbuf an SSL_write is still owed */
    short read_wants;           /* event the last blocked read waits for (0: none) */
    short write_wants;          /* same for the last blocked write */
    bool failed;                /* fatal error: no close_notify */
};

bool tls_built(void) { return true; }

bool tls_enable(void)
{
    tls_flag = true;
    return true;
}

/* memcached's number parsing (util.h's UTIL_NUM_SAFE): blanks, a sign,
 * digits of a long, then the end or a blank. */
static bool parse_long(const char *s, long *out)
{
    int64_t v;
    if (!util_parse_i64(s, UTIL_NUL_TERMINATED, UTIL_NUM_SAFE, LONG_MIN, LONG_MAX, &v))
        return false;
    *out = (long)v;
    return true;
}

static int verify_flags(long mode)
{
    switch (mode) {
    case 0: return SSL_VERIFY_NONE;
    case 1: return SSL_VERIFY_PEER;
    case 2: return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    case 3: return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT | SSL_VERIFY_CLIENT_ONCE;
    default: return -1;
    }
}

static int version_of(long n)
{
    static const int versions[] = { TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION };
    return n >= 0 && n < 4 ? versions[n] : -1;
}

static const char *version_text(int version)
{
    switch (version) {
    case TLS1_VERSION: return "tlsv1.0";
    case TLS1_1_VERSION: return "tlsv1.1";
    case TLS1_2_VERSION: return "tlsv1.2";
    case TLS1_3_VERSION: return "tlsv1.3";
    default: return "unknown";
    }
}

int tls_option(const char *name, const char *value)
{
#define MISSING(opt_name) \
    if (value == NULL) { fprintf(stderr, "Missing " opt_name " argument\n"); return 0; }
    long n;
    if (strcmp(name, "ssl_chain_cert") == 0) {
        MISSING("ssl_chain_cert")
        free(opt.chain_cert);
        opt.chain_cert = strdup(value);
    } else if (strcmp(name, "ssl_key") == 0) {
        MISSING("ssl_key")
        free(opt.key);
        opt.key = strdup(value);
    } else if (strcmp(name, "ssl_verify_mode") == 0) {
        MISSING("ssl_verify_mode")
        if (!parse_long(value, &n)) {
            fprintf(stderr, "could not parse argument to ssl_verify_mode\n");
            return 0;
        }
        if (verify_flags(n) < 0) {
            fprintf(stderr, "Invalid ssl_verify_mode. Use help to see valid options.\n");
            return 0;
        }
        opt.verify_mode = verify_flags(n);
    } else if (strcmp(name, "ssl_keyformat") == 0) {
        MISSING("ssl_keyformat")
        if (!parse_long(value, &n) || n < INT_MIN || n > INT_MAX) {
            fprintf(stderr, "could not parse argument to ssl_keyformat\n");
            return 0;
        }
        opt.keyformat = (int)n;
    } else if (strcmp(name, "ssl_ciphers") == 0) {
        MISSING("ssl_ciphers")
        free(opt.ciphers);
        opt.ciphers = strdup(value);
    } else if (strcmp(name, "ssl_ca_cert") == 0) {
        MISSING("ssl_ca_cert")
        free(opt.ca_cert);
        opt.ca_cert = strdup(value);
    } else if (strcmp(name, "ssl_wbuf_size") == 0) {
        MISSING("ssl_wbuf_size")
        if (!parse_long(value, &n) || n < 0 || n > UINT_MAX / 1024) {
            fprintf(stderr, "could not parse argument to ssl_wbuf_size\n");
            return 0;
        }
        opt.wbuf_size = (unsigned)n * 1024;
    } else if (strcmp(name, "ssl_session_cache") == 0) {
        opt.session_cache = true;
    } else if (strcmp(name, "ssl_kernel_tls") == 0) {
        opt.kernel_tls = true;
    } else if (strcmp(name, "ssl_min_version") == 0) {
        MISSING("ssl_min_version")
        if (!parse_long(value, &n)) {
            fprintf(stderr, "could not parse argument to ssl_min_version\n");
            return 0;
        }
        if (version_of(n) < 0) {
            fprintf(stderr, "Invalid ssl_min_version. Use help to see valid options.\n");
            return 0;
        }
        opt.min_version = version_of(n);
    } else {
        return -1;
    }
    return 1;
#undef MISSING
}

/* The first queued OpenSSL error as text ("" if none); clears the queue. */
static void ssl_error_text(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();
    buf[0] = '\0';
    if (e != 0)
        ERR_error_string_n(e, buf, len);
    ERR_clear_error();
}

/* Loads the certificate chain, the key and the CA file into c. */
static bool load_certs(SSL_CTX *c, char *err, size_t errlen)
{
    char why[256];
    ERR_clear_error();
    /* Without ssl_key the key is looked for in the chain file (as -h says). */
    const char *key = opt.key ? opt.key : opt.chain_cert;
    if (opt.chain_cert == NULL) {
        /* memcached hands OpenSSL a NULL path here; say what is missing. */
        snprintf(err, errlen, "Error loading the certificate chain: (null) : "
                 "no file given (-o ssl_chain_cert)");
    } else if (SSL_CTX_use_certificate_chain_file(c, opt.chain_cert) != 1) {
        ssl_error_text(why, sizeof(why));
        snprintf(err, errlen, "Error loading the certificate chain: %s : %s",
                 opt.chain_cert, why);
    } else if (SSL_CTX_use_PrivateKey_file(c, key, opt.keyformat) != 1) {
        ssl_error_text(why, sizeof(why));
        snprintf(err, errlen, "Error loading the key: %s : %s", key, why);
    } else if (SSL_CTX_check_private_key(c) != 1) {
        ssl_error_text(why, sizeof(why));
        snprintf(err, errlen, "Error validating the certificate: %s", why);
    } else if (opt.ca_cert && SSL_CTX_load_verify_locations(c, opt.ca_cert, NULL) != 1) {
        ssl_error_text(why, sizeof(why));
        snprintf(err, errlen, "Error loading the CA certificate: %s : %s", opt.ca_cert, why);
    } else {
        if (opt.ca_cert)
            SSL_CTX_set_client_CA_list(c, SSL_load_client_CA_file(opt.ca_cert));
        return true;
    }
    return false;
}

static int count_new_session(SSL *ssl, SSL_SESSION *session)
{
    (void)ssl;
    (void)session;
    atomic_fetch_add(&new_sessions, 1);
    return 0;   /* the cache keeps no extra reference */
}

/* A complete context from the options, or NULL with the reason in err.
 * Start-up and refresh_certs both build one, so a failed reload leaves
 * the running context untouched. */
static SSL_CTX *build_ctx(char *err, size_t errlen)
{
    SSL_CTX *c = SSL_CTX_new(TLS_server_method());
    if (c == NULL) {
        snprintf(err, errlen, "Failed to create the TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(c, opt.min_version);
    if (!load_certs(c, err, errlen))
        goto fail;
    SSL_CTX_set_verify(c, opt.verify_mode, NULL);
    if (opt.ciphers && SSL_CTX_set_cipher_list(c, opt.ciphers) != 1) {
        snprintf(err, errlen, "Error setting the provided cipher(s): %s", opt.ciphers);
        goto fail;
    }
    if (opt.session_cache) {
        SSL_CTX_sess_set_new_cb(c, count_new_session);
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
        SSL_CTX_set_session_id_context(c, (const unsigned char *)SESSION_CONTEXT,
                                       (unsigned)strlen(SESSION_CONTEXT));
    } else {
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    }
    if (opt.kernel_tls) {
#ifdef SSL_OP_ENABLE_KTLS
        SSL_CTX_set_options(c, SSL_OP_ENABLE_KTLS);
#else
        snprintf(err, errlen, "Kernel TLS offload is not available");
        goto fail;
#endif
    }
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    /* A client that closes without close_notify just ends the session. */
    SSL_CTX_set_options(c, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
    return c;
fail:
    ERR_clear_error();
    SSL_CTX_free(c);
    return NULL;
}

void tls_init(void)
{
    OPENSSL_init_ssl(0, NULL);
    char err[1024];
    ctx = build_ctx(err, sizeof(err));
    if (ctx == NULL) {
        fprintf(stderr, "%s\r\n", err);
        exit(EX_USAGE);
    }
    atomic_store(&last_cert_refresh, current_time);
}

/* A TLS session's transport (conn.h). */
static const struct conn_io tls_io = {
    .read = tls_read,
    .writev = tls_writev,
    .wait_flags = tls_wait_flags,
};

bool tls_conn_start(conn *c)
{
    if (!tls_flag || c->udp != NULL)
        return true;
    enum tls_listen_mode mode = c->listener->tls;
    if (mode == TLS_LISTEN_OFF)
        return true;
    struct tls_conn *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return false;
    pthread_mutex_lock(&ctx_lock);
    t->ssl = SSL_new(ctx);
    pthread_mutex_unlock(&ctx_lock);
    if (t->ssl == NULL || SSL_set_fd(t->ssl, c->sfd) != 1) {
        ERR_clear_error();
        if (t->ssl)
            SSL_free(t->ssl);
        free(t);
        return false;
    }
    SSL_set_accept_state(t->ssl);
    if (mode == TLS_LISTEN_NOPEER)
        SSL_set_verify(t->ssl, SSL_VERIFY_NONE, NULL);
    else if (mode == TLS_LISTEN_PEER)
        SSL_set_verify(t->ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    c->tls = t;
    c->io = &tls_io;
    return true;
}

/* Sorts out an SSL call that returned ret <= 0: errno EAGAIN and *wants set
 * when it must wait; 0 returned for the end of the session; else -1 with
 * errno set and the failure counted in *counter. */
static int ssl_outcome(struct conn *c, int ret, short *wants, _Atomic uint64_t *counter,
                       const char *what)
{
    struct tls_conn *t = c->tls;
    int saved_errno = errno;
    int e = SSL_get_error(t->ssl, ret);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        *wants = EV_READ;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        *wants = EV_WRITE;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    default:
        break;
    }
    t->failed = true;
    char why[256];
    if (e == SSL_ERROR_SYSCALL) {
        ERR_clear_error();
        if (saved_errno == 0)
            return 0;       /* the peer went away mid-record */
        snprintf(why, sizeof(why), "%s", strerror(saved_errno));
    } else {
        ssl_error_text(why, sizeof(why));
        saved_errno = EPROTO;
    }
    atomic_fetch_add(counter, 1);
    if (settings.verbose > 0)
        fprintf(stderr, "<%d TLS %s error: %s\n", c->sfd, what, why);
    errno = saved_errno;
    return -1;
}

ssize_t tls_read(conn *c, char *dest, size_t room)
{
    struct tls_conn *t = c->tls;
    t->read_wants = 0;
    ERR_clear_error();
    if (!SSL_is_init_finished(t->ssl)) {
        errno = 0;
        int r = SSL_do_handshake(t->ssl);
        if (r != 1) {
            /* 0: the client left before finishing (not counted). */
            return ssl_outcome(c, r, &t->read_wants, &handshake_errors, "handshake");
        }
    }
    size_t total = 0;
    do {
        size_t want = room - total;
        errno = 0;
        int n = SSL_read(t->ssl, dest + total, want > INT_MAX ? INT_MAX : (int)want);
        if (n > 0) {
            total += (size_t)n;
            continue;
        }
        if (total > 0) {
            /* Report the data now; the next read meets the condition again. */
            ERR_clear_error();
            break;
        }
        return ssl_outcome(c, n, &t->read_wants, &proto_errors, "read");
    } while (total < room && SSL_pending(t->ssl) > 0);
    return (ssize_t)total;
}

ssize_t tls_writev(void *arg, const struct iovec *iov, int iovcnt)
{
    conn *c = arg;
    struct tls_conn *t = c->tls;
    size_t cap = opt.wbuf_size >= 1024 ? opt.wbuf_size : 1024;
    t->write_wants = 0;
    if (t->wpending == 0) {
        /* A new chunk: copy the leading bytes of iov. After a blocked
         * SSL_write the caller offers the same leading bytes again, and
         * wbuf still holds them. */
        if (t->wbuf == NULL && (t->wbuf = malloc(cap)) == NULL) {
            errno = ENOMEM;
            return -1;
        }
        for (int i = 0; i < iovcnt && t->wpending < cap; i++) {
            size_t n = iov[i].iov_len;
            if (n > cap - t->wpending)
                n = cap - t->wpending;
            memcpy(t->wbuf + t->wpending, iov[i].iov_base, n);
            t->wpending += n;
        }
        if (t->wpending == 0)
            return 0;
    }
    ERR_clear_error();
    errno = 0;
    int n = SSL_write(t->ssl, t->wbuf, (int)t->wpending);
    if (n > 0) {
        t->wpending = 0;
        return n;
    }
    int out = ssl_outcome(c, n, &t->write_wants, &proto_errors, "write");
    if (out == 0) {
        errno = EPIPE;
        t->failed = true;
    }
    return -1;
}

short tls_wait_flags(conn *c, short flags)
{
    struct tls_conn *t = c->tls;
    if (flags == EV_READ && t->read_wants == EV_WRITE)
        return EV_WRITE;
    if (flags == EV_WRITE && t->write_wants == EV_READ)
        return EV_READ;
    return flags;
}

void tls_conn_close(conn *c)
{
    struct tls_conn *t = c->tls;
    if (t == NULL)
        return;
    if (!t->failed && SSL_is_init_finished(t->ssl))
        SSL_shutdown(t->ssl);       /* close_notify, best effort, never waits */
    ERR_clear_error();
    SSL_free(t->ssl);
    free(t->wbuf);
    free(t);
    c->tls = NULL;
}

bool tls_refresh_certs(char *err, size_t errlen)
{
    if (!tls_flag) {
        snprintf(err, errlen, "Error TLS not enabled");
        return false;
    }
    SSL_CTX *fresh = build_ctx(err, errlen);
    if (fresh == NULL)
        return false;
    /* Sessions already made keep a reference to the old context. */
    pthread_mutex_lock(&ctx_lock);
    SSL_CTX *old = ctx;
    ctx = fresh;
    pthread_mutex_unlock(&ctx_lock);
    SSL_CTX_free(old);
    atomic_store(&last_cert_refresh, current_time);
    return true;
}

void tls_stats(struct tls_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!tls_flag)
        return;
    out->enabled = true;
    out->session_cache = opt.session_cache;
    out->new_sessions = atomic_load(&new_sessions);
    out->handshake_errors = atomic_load(&handshake_errors);
    out->proto_errors = atomic_load(&proto_errors);
    out->secs_since_cert_refresh = (unsigned)(current_time - atomic_load(&last_cert_refresh));
}

void tls_stats_settings(struct tls_settings *out)
{
    *out = (struct tls_settings){
        .built = true,
        .enabled = tls_flag,
        .chain_cert = opt.chain_cert,
        .key = opt.key,
        .verify_mode = opt.verify_mode,
        .keyformat = opt.keyformat,
        .ciphers = opt.ciphers,
        .ca_cert = opt.ca_cert,
        .wbuf_size = opt.wbuf_size,
        .session_cache = opt.session_cache,
        .kernel_tls = opt.kernel_tls,
        .min_version = version_text(opt.min_version),
    };
}

void tls_usage_listen(void)
{
    printf("                          with -Z, a 'notls:', 'btls:' or 'mtls:' prefix makes that\n"
           "                          listener plain TCP, TLS without client certificates, or\n"
           "                          TLS requiring a client certificate (-l notls:127.0.0.1:11212)\n");
}

void tls_usage_flag(void)
{
    printf("-Z, --enable-ssl          enable TLS/SSL\n");
}

void tls_usage_options(void)
{
    printf("   - ssl_chain_cert:      certificate chain file in PEM format\n"
           "   - ssl_key:             private key, if not part of the -ssl_chain_cert\n"
           "   - ssl_keyformat:       private key format (PEM, DER or ENGINE) (default: PEM)\n"
           "   - ssl_verify_mode:     peer certificate verification mode, default is 0(None).\n"
           "                          valid values are 0(None), 1(Request), 2(Require)\n"
           "                          or 3(Once)\n"
           "   - ssl_ciphers:         specify cipher list to be used\n"
           "   - ssl_ca_cert:         PEM format file of acceptable client CA's\n"
           "   - ssl_wbuf_size:       size in kilobytes of per-connection SSL output buffer\n"
           "                          (default: %u)\n"
           "   - ssl_session_cache:   enable server-side SSL session cache, to support session\n"
           "                          resumption\n"
           "   - ssl_kernel_tls:      enable kernel TLS offload\n"
           "   - ssl_min_version:     minimum protocol version to accept (default: %s)\n"
           "                          valid values are 0(tlsv1.0), 1(tlsv1.1), 2(tlsv1.2), or 3(tlsv1.3).\n",
           opt.wbuf_size / 1024, version_text(opt.min_version));
}

#else /* !ENABLE_TLS: the stubs of a build without TLS */

bool tls_built(void) { return false; }
bool tls_enable(void) { return false; }
int tls_option(const char *name, const char *value) { (void)name; (void)value; return -1; }
void tls_init(void) {}
bool tls_conn_start(struct conn *c) { (void)c; return true; }
ssize_t tls_read(struct conn *c, char *dest, size_t room)
{
    (void)c; (void)dest; (void)room;
    errno = ENOTSUP;
    return -1;
}
ssize_t tls_writev(void *ctx, const struct iovec *iov, int iovcnt)
{
    (void)ctx; (void)iov; (void)iovcnt;
    errno = ENOTSUP;
    return -1;
}
short tls_wait_flags(struct conn *c, short flags) { (void)c; return flags; }
void tls_conn_close(struct conn *c) { (void)c; }
bool tls_refresh_certs(char *err, size_t errlen)
{
    snprintf(err, errlen, "ERROR");
    return false;
}
void tls_stats(struct tls_stats *out) { memset(out, 0, sizeof(*out)); }
void tls_stats_settings(struct tls_settings *out) { *out = (struct tls_settings){ .built = false }; }
void tls_usage_listen(void) {}
void tls_usage_flag(void) {}
void tls_usage_options(void) {}

#endif
