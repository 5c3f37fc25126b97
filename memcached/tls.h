/* tls.h: TLS (-Z, configure --enable-tls): the server's SSL context built
 * from the ssl_* options, which TCP listeners speak TLS (-l notls:/btls:/mtls:
 * prefixes), and each TLS connection's handshake, reads and writes, which
 * conn.c and reply.c call through small hooks. Without ENABLE_TLS every
 * function is a stub that reports "not built" or does nothing. */
#ifndef MC_TLS_H
#define MC_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct conn;
struct reply;

/* How a listener treats its clients (-l prefixes, as memcached names them). */
enum tls_listen_mode {
    TLS_LISTEN_OFF,         /* plain TCP ("notls:", or no -Z) */
    TLS_LISTEN_DEFAULT,     /* TLS, client certificates per ssl_verify_mode */
    TLS_LISTEN_NOPEER,      /* "btls:": TLS, no client certificate asked */
    TLS_LISTEN_PEER         /* "mtls:": TLS, a valid client certificate required */
};

/* True when this binary was built with TLS support. */
bool tls_built(void);

/* -Z. False when not built with TLS (main prints memcached's message). */
bool tls_enable(void);

/* True after -Z. */
bool tls_enabled(void);

/* One -o suboption. Returns 1 when applied, 0 when refused (memcached's
 * message printed), -1 when name is not a TLS option (or TLS is not built,
 * so the caller reports it as unknown). value is NULL without '='. */
int tls_option(const char *name, const char *value);

/* Builds the SSL context from the options (loads the certificate chain,
 * key and CA file). Call once after option parsing when tls_enabled();
 * prints memcached's message and exits on failure. */
void tls_init(void);

/* -l entry: strips a "notls:", "btls:" or "mtls:" prefix from *entry and
 * returns the listener's mode (the default follows -Z). Returns -1 after
 * memcached's message when a prefix is used without -Z. */
int tls_listen_prefix(char **entry);

/* The mode of listeners opened without an -l list. */
enum tls_listen_mode tls_listen_default(void);

/* conn_new: gives c a TLS session, and the TLS transport (c->io: the three
 * calls below), when it came from a TLS listener (c->listener->tls).
 * Returns false when that fails (the caller closes the connection). */
bool tls_conn_start(struct conn *c);

/* read(2) on c's TLS session (handshaking first when needed): bytes read,
 * 0 at the end of the session, -1 with errno EAGAIN when it must wait, or
 * -1 with another errno on a failure (counted in ssl_handshake_errors or
 * ssl_proto_errors). Worker thread of c only. */
ssize_t tls_read(struct conn *c, char *dest, size_t room);

/* sendmsg(2)-like write of iov on the TLS session ctx (a struct conn *):
 * bytes of iov consumed, or -1 with errno EAGAIN (call again with the same
 * leading bytes) or another errno. Installed as c->out's writer. */
ssize_t tls_writev(void *ctx, const struct iovec *iov, int iovcnt);

/* The event c must wait for instead of flags (EV_READ or EV_WRITE): TLS
 * may need to write while reading, or read while writing. */
short tls_wait_flags(struct conn *c, short flags);

/* Ends c's TLS session and frees it (conn_close, before the socket closes). */
void tls_conn_close(struct conn *c);

/* refresh_certs: reloads the certificate chain, key and CA file. Returns
 * true, or false with memcached's error line (no "\r\n") in err. */
bool tls_refresh_certs(char *err, size_t errlen);

/* "stats": the TLS counters, shown only with -Z. */
struct tls_stats {
    bool enabled;               /* -Z given */
    bool session_cache;         /* ssl_session_cache: new_sessions is shown */
    uint64_t new_sessions;      /* TLS sessions created */
    uint64_t handshake_errors;  /* handshakes that failed */
    uint64_t proto_errors;      /* TLS failures after the handshake */
    unsigned secs_since_cert_refresh;   /* since start or the last refresh_certs */
};
/* Fills out (all zero without -Z or TLS support). Any thread. */
void tls_stats(struct tls_stats *out);

/* "stats settings": the ssl_* settings, shown by TLS builds only. The
 * strings are NULL when unset and live until exit. */
struct tls_settings {
    bool built;                 /* false: no TLS support, nothing to show */
    bool enabled;               /* -Z given */
    const char *chain_cert;     /* ssl_chain_cert */
    const char *key;            /* ssl_key */
    int verify_mode;            /* ssl_verify_mode, OpenSSL's value */
    int keyformat;              /* ssl_keyformat, OpenSSL's value */
    const char *ciphers;        /* ssl_ciphers */
    const char *ca_cert;        /* ssl_ca_cert */
    unsigned wbuf_size;         /* ssl_wbuf_size, in bytes */
    bool session_cache;         /* ssl_session_cache */
    bool kernel_tls;            /* ssl_kernel_tls */
    const char *min_version;    /* ssl_min_version as text: "tlsv1.2" */
};
/* Fills out (only .built = false without TLS support). Any thread. */
void tls_stats_settings(struct tls_settings *out);

/* -h lines: for -l, for -Z, and the ssl_* -o options (TLS builds only). */
void tls_usage_listen(void);
void tls_usage_flag(void);
void tls_usage_options(void);

#endif
