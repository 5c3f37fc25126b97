/* listener.h: where a connection came from. listen.c fills one struct
 * listener per listening socket (and per UDP socket) when it opens it; the
 * pointer travels through thread dispatch into conn_new and stays with the
 * connection, which reads from it its transport, TLS mode and protocol
 * instead of asking listen.c. Header only. */
#ifndef MC_LISTENER_H
#define MC_LISTENER_H

#include "protocol.h"
#include "tls.h"

#define LISTENER_ADDR_TEXT 128

enum transport {
    TRANSPORT_TCP,
    TRANSPORT_UNIX,
    TRANSPORT_UDP
};

/* Written once by listen.c (main thread) before the socket accepts or is
 * handed to a worker; read-only after, by any thread, for the life of the
 * process. */
struct listener {
    enum transport transport;
    enum tls_listen_mode tls;       /* TLS_LISTEN_OFF: plain (always for UNIX
                                     * and UDP) */
    enum conn_protocol protocol;    /* what its clients speak: a proto[...]
                                     * prefix, else -B (PROTO_NEGOTIATE: auto) */
    char addr[LISTENER_ADDR_TEXT];  /* stats text: "tcp:127.0.0.1:11211",
                                     * "tcp6:[::1]:11211", "unix:/path",
                                     * "udp:127.0.0.1:11211" */
};

/* The transport's name in probes (conn__open) and logs: "tcp", "unix",
 * "udp". */
static inline const char *transport_name(enum transport t)
{
    return t == TRANSPORT_UNIX ? "unix" : t == TRANSPORT_UDP ? "udp" : "tcp";
}

#endif
