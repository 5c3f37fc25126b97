/* conn.h: one client connection: its socket, read buffer, outgoing reply
 * and the state of the request being served. A connection belongs to one
 * worker thread, which alone touches it. */
#ifndef MC_CONN_H
#define MC_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "ops.h"
#include "proto_binary.h"
#include "reply.h"

struct worker;
struct udp_peer;
struct conn;

enum conn_state {
    CONN_PARSE,     /* look for a complete request in the read buffer */
    CONN_READ,      /* wait for and read more request bytes */
    CONN_NREAD,     /* read a value block into the pending item */
    CONN_SWALLOW,   /* discard a value block that will not be stored */
    CONN_WRITE,     /* send the queued reply, then go on to next_state */
    CONN_CLOSE      /* close the connection */
};

enum conn_protocol {
    PROTO_NEGOTIATE,    /* not yet known: the first byte decides */
    PROTO_ASCII,        /* text and meta commands */
    PROTO_BINARY        /* binary packets */
};

/* A storage command waiting for its value bytes. */
struct pending_store {
    item *it;               /* the item being filled (our reference) */
    uint32_t filled;        /* value bytes read into it so far */
    size_t left;            /* value bytes (incl. "\r\n") still to read */
    enum store_op op;
    uint64_t req_cas;
    bool noreply;
    op_request rq;
    /* For the meta and binary protocols: protocol-specific completion. */
    void (*complete)(struct conn *c);
    void *proto_state;
};

typedef struct conn {
    int sfd;
    enum conn_state state;
    enum conn_state next_state;     /* after CONN_WRITE */
    enum conn_protocol protocol;
    const char *transport;          /* "tcp", "unix", "udp" */
    char peer[64];                  /* client address as text */
    struct event *event;
    short ev_flags;                 /* events currently waited for */
    struct worker *worker;
    char *rbuf;                     /* read buffer */
    size_t rsize;                   /* its size */
    char *rcurr;                    /* first unparsed byte */
    size_t rbytes;                  /* unparsed bytes */
    reply out;
    struct pending_store store;
    struct bin_request bin;         /* binary protocol: the packet being served */
    size_t swallow_left;            /* bytes to discard in CONN_SWALLOW */
    int reqs_left;                  /* requests left in this event (-R) */
    rel_time_t last_cmd_time;       /* for idle_timeout and stats conns */
    const char *close_reason;       /* for conn__close */
    bool authenticated;             /* false until an ASCII login with -Y
                                     * or a binary SASL login with -S */
    uint32_t auth_value_len;        /* -Y login: size of the value block awaited (incl. "\r\n"); 0: none */
    const char *listen_addr;        /* stats conns: the listener's address text */
    bool seen_data;                 /* stats conns: conn_new_cmd until first read */
    struct udp_peer *udp;           /* UDP socket: sender of the current
                                     * datagram (NULL for stream sockets) */
    int udp_reads_left;             /* UDP: datagrams left in this event (-R) */
    struct tls_conn *tls;           /* TLS session (tls.c), or NULL for plain */
    struct sasl_session *sasl;      /* -S: SASL session (sasl.c), or NULL */
    int stacked;                    /* ASCII requests served since the replies
                                     * were last flushed ("watch" and
                                     * "lru_crawler metadump" must come first) */
    unsigned watch_kinds;           /* "watch": on close, the socket goes to
                                     * the logger (logger.h) with these kinds */
    struct conn *next, *prev;       /* the worker's list */
} conn;

/* Creates a connection for an accepted socket on worker w; NULL on failure
 * (the socket is closed; the caller counts the client out). listen_addr:
 * the listener's stats text, static. */
conn *conn_new(int sfd, struct worker *w, const char *transport, const char *peer,
               const char *listen_addr);

/* Creates the connection that serves a UDP socket on worker w (it lives
 * until shutdown); local_addr: the socket's stats text, static. */
conn *conn_new_udp(int sfd, struct worker *w, const char *local_addr);

/* Shutdown: a connection with replies pending sends them, then closes;
 * any other closes now. Reason "shutdown". Worker thread only. */
void conn_shutdown(conn *c);

/* -o idle_timeout: closes c if it has waited for a request for longer
 * than the timeout (reason "idle_timeout", counts idle_kicks). */
void conn_check_idle(conn *c);

/* Closes and frees the connection. reason: static string for conn__close. */
void conn_close(conn *c, const char *reason);

/* Sets a value block of n bytes to be read and thrown away (after an error). */
void conn_swallow(conn *c, size_t n);

/* Queues an error reply ("ERROR", "CLIENT_ERROR ...", "SERVER_ERROR ...")
 * and fires protocol__error. line has no "\r\n". */
void conn_error(conn *c, const char *line);

/* Client connection accounting for the -c limit. The listener counts a
 * client in as soon as it accepts it (conn_count_add, listener thread
 * only), so the limit sees it before a worker has set it up; conn_close
 * counts it out, and so must whoever drops it before (conn_count_sub). */
void conn_count_add(void);
void conn_count_sub(void);
/* Number of open client connections (UDP sockets not included). */
int conn_count(void);

#endif
