/* protocol.h: what a wire protocol offers a connection. conn.c serves each
 * request through the `struct protocol` its connection speaks, taken from
 * a table that the program fills at start-up (conn_register_protocol); the
 * connection names no parser, and the parsers drive it only through the
 * calls conn.h documents. Header only. */
#ifndef MC_PROTOCOL_H
#define MC_PROTOCOL_H

struct conn;

/* Which entry of the protocol table a connection speaks. */
enum conn_protocol {
    PROTO_NEGOTIATE,    /* not yet known: the first byte decides */
    PROTO_ASCII,        /* text and meta commands */
    PROTO_BINARY,       /* binary packets */
    PROTO_COUNT
};

enum parse_result {
    PARSE_DONE,         /* one request consumed (the connection's state may
                           have moved on: reading a value, closing, ...) */
    PARSE_NEED_MORE     /* no complete request buffered: nothing consumed */
};

/* One wire protocol (text with its meta commands, binary). Static data. */
struct protocol {
    const char *name;               /* "ascii", "binary": for messages */
    int first_byte;                 /* -B auto: a client whose first byte is
                                     * this one speaks this protocol; -1: the
                                     * one spoken when no other claims it */
    /* Serves the next request in c's read buffer (c->rcurr, c->rbytes), in
     * state CONN_PARSE with at least one byte buffered. Queues its reply on
     * c->out and moves c only with the transition calls of conn.h. */
    enum parse_result (*process)(struct conn *c);
};

#endif
