/* conn_stats.h: what "stats conns" shows of each listening socket, UDP
 * socket and client connection, as data; the reporter (stats.c) renders
 * it. */
#ifndef MC_CONN_STATS_H
#define MC_CONN_STATS_H

#include <stdbool.h>

/* One socket, as memcached describes it. */
struct conn_stats_entry {
    int fd;                     /* the socket */
    bool udp;                   /* a UDP socket (memcached adds a "UDP" line) */
    const char *addr;           /* "tcp:127.0.0.1:40000", "udp:...", "?:<AF 0>" */
    const char *listen_addr;    /* clients: their listener's text; else NULL */
    const char *state;          /* memcached's state name: "conn_listening", ... */
    unsigned secs;              /* since the last request (listeners: since opened) */
};

/* Calls fn(ctx, entry) for every listening socket, UDP socket and client
 * connection, in descriptor order; the entry lives only during the call.
 * Takes each worker's conns_lock briefly, and holds none while calling fn.
 * Returns false, calling fn for none, when out of memory. Any thread. */
bool conn_stats_foreach(void (*fn)(void *ctx, const struct conn_stats_entry *e), void *ctx);

#endif
