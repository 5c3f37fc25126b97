/* conn.h: one client connection: its socket, read buffer, outgoing reply
 * and the state of the request being served; the state machine that runs
 * it, the calls through which the protocols drive it (transitions and the
 * request frame), the protocol table and the transport interface. A
 * connection belongs to one worker thread, which alone touches it. */
#ifndef MC_CONN_H
#define MC_CONN_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <event2/event.h>

#include "latency.h"
#include "ops.h"
#include "probes.h"
#include "proto_binary.h"
#include "protocol.h"
#include "reply.h"
#include "thread.h"

struct worker;
struct udp_peer;
struct conn;
struct listener;

/* ---- The connection state machine ----
 *
 * A connection is always in one of the states below. conn.c's driver runs
 * it (conn_drive for stream sockets, conn_drive_udp for a UDP socket) until
 * it must wait for the socket; the parser a request reaches (struct
 * protocol, protocol.h) moves it only through the transition calls further
 * down, never by writing c->state. Who may move a connection where:
 *
 *   PARSE   -> READ     driver: nothing complete is buffered, no reply queued
 *           -> WRITE    driver: nothing complete is buffered, replies queued
 *                       (then READ); -R yield with replies queued (then PARSE)
 *                       parser: conn_flush (then PARSE or SWALLOW),
 *                       conn_close_after_reply (then CLOSE)
 *           -> NREAD    parser: conn_expect_value
 *           -> SWALLOW  parser: conn_swallow
 *           -> CLOSE    parser: conn_close_now
 *   READ    -> PARSE    driver: bytes were read
 *           -> WRITE    driver: the read buffer cannot grow (then CLOSE)
 *           -> CLOSE    driver: end of stream, socket error, shutdown
 *   NREAD   -> PARSE    driver: the value is in; conn_value_in stores it
 *                       and the parser's reply callback runs in PARSE,
 *                       where it may move on as a parser does
 *           -> WRITE    driver: replies are queued and the value's bytes are
 *                       not there yet (then NREAD)
 *           -> CLOSE    driver: end of stream, socket error
 *   SWALLOW -> PARSE    driver: the bytes are skipped
 *           -> WRITE    parser: conn_flush right after conn_swallow (then
 *                       SWALLOW)
 *           -> CLOSE    driver: end of stream, socket error
 *   WRITE   -> next_state   driver: the reply is sent
 *           -> CLOSE    driver: socket error
 *   CLOSE   (final)     driver: conn_close frees the connection
 *   any     -> WRITE    conn_shutdown, with replies queued (then CLOSE)
 *
 * A UDP socket's connection never waits in READ, WRITE or CLOSE: its driver
 * reads a datagram in PARSE and, at the datagram's end, puts the connection
 * back in PARSE from wherever the parser left it (a close request there is
 * a dropped datagram, see udp.h). memcached-debug asserts every transition
 * against this table (conn_set_state in conn.c). */
enum conn_state {
    CONN_PARSE,     /* look for a complete request in the read buffer */
    CONN_READ,      /* wait for and read more request bytes */
    CONN_NREAD,     /* read a value block into the pending item */
    CONN_SWALLOW,   /* discard a value block that will not be stored */
    CONN_WRITE,     /* send the queued reply, then go on to next_state */
    CONN_CLOSE      /* close the connection */
};

/* How a stream connection's bytes move: the transport interface (plain
 * here in conn.c, TLS in tls.c, which tls_conn_start installs; the fuzz
 * targets' in-memory one, see conn_set_io). Static. */
struct conn_io {
    /* read(2) on c: bytes read, 0 at the end of the stream, -1 with errno
     * (EAGAIN, EWOULDBLOCK: nothing yet; EINTR: call again). NULL: conn.c
     * calls read(2) on the socket itself. */
    ssize_t (*read)(struct conn *c, char *dest, size_t room);
    /* The reply's writer (reply.h), given c as its context; NULL: reply.c
     * sends with sendmsg(2) on the socket itself. */
    ssize_t (*writev)(void *ctx, const struct iovec *iov, int iovcnt);
    /* The event c must wait for instead of flags (EV_READ or EV_WRITE);
     * NULL: flags themselves. */
    short (*wait_flags)(struct conn *c, short flags);
};

/* Queues a storage request's reply once its value is stored: r is
 * op_store_ex's result (STORE_BAD_DATA: the block was refused, nothing
 * stored), out what it reported, it the item (still referenced). Runs in
 * CONN_PARSE, like a parser, and may call the transitions below. */
typedef void (*conn_stored_fn)(struct conn *c, enum store_result r,
                               const struct op_store_out *out, item *it);

/* A storage request's value, as its parser describes it to
 * conn_expect_value. */
struct value_request {
    size_t len;                 /* bytes to read: the block, with its "\r\n"
                                 * unless add_crlf */
    bool add_crlf;              /* binary: the block has no "\r\n"; one is
                                 * written after it (the item has room) */
    bool noreply;               /* the reply's text is dropped (c->out.suppress
                                 * while stored runs) */
    op_request rq;              /* the request, started (conn_op_request) */
    struct op_store_opts opts;  /* how ops stores it */
    conn_stored_fn stored;      /* the protocol's reply */
};

/* A storage command waiting for its value bytes. */
struct pending_store {
    item *it;               /* the item being filled (our reference) */
    uint32_t filled;        /* value bytes read into it so far */
    size_t left;            /* value bytes still to read */
    struct value_request req;
    void *proto_state;      /* a parser's own, kept across requests (freed
                             * with the connection) */
};

typedef struct conn {
    int sfd;
    enum conn_state state;          /* relaxed-atomic stores: stats conns reads it */
    enum conn_state next_state;     /* after CONN_WRITE */
    enum conn_protocol protocol;    /* the protocol table's entry it speaks */
    const struct listener *listener;    /* where it came from: transport, TLS
                                         * mode, protocol, stats address */
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
    bool unflushed;                 /* requests (noreply ones too) served since
                                     * the replies were last flushed: flushing
                                     * costs one of -R's requests */
    rel_time_t last_cmd_time;       /* for idle_timeout and stats conns (relaxed-
                                     * atomic stores: stats conns reads it) */
    const char *close_reason;       /* for conn__close */
    bool authenticated;             /* false until an ASCII login with -Y
                                     * or a binary SASL login with -S */
    uint32_t auth_value_len;        /* -Y login: size of the value block awaited (incl. "\r\n"); 0: none */
    bool seen_data;                 /* stats conns: conn_new_cmd until first read
                                     * (relaxed-atomic stores: stats conns reads it) */
    struct udp_peer *udp;           /* UDP socket: sender of the current
                                     * datagram (NULL for stream sockets) */
    int udp_reads_left;             /* UDP: datagrams left in this event (-R) */
    const struct conn_io *io;       /* its transport: plain or TLS (stream sockets) */
    struct tls_conn *tls;           /* TLS session (tls.c), or NULL for plain */
    struct sasl_session *sasl;      /* -S: SASL session (sasl.c), or NULL */
    int stacked;                    /* ASCII requests served since the replies
                                     * were last flushed ("watch" and
                                     * "lru_crawler metadump" must come first) */
    unsigned watch_kinds;           /* "watch": on close, the socket goes to
                                     * the logger (logger.h) with these kinds */
    int64_t lat_start_ns;           /* -o latency_stats: when the open request
                                     * frame began (latency_now_ns); 0: none */
    int lat_cmd;                    /* ... and the command it counts under */
    struct conn *next, *prev;       /* the worker's list */
} conn;

/* Creates a connection for an accepted socket on worker w; NULL on failure
 * (the socket is closed; the caller counts the client out). l: the
 * listener it came from, which outlives it. */
conn *conn_new(int sfd, struct worker *w, const struct listener *l, const char *peer);

/* Creates the connection that serves a UDP socket on worker w (it lives
 * until shutdown); l: the socket's description, which outlives it. */
conn *conn_new_udp(int sfd, struct worker *w, const struct listener *l);

/* Installs io as c's transport: reads go through io->read and the reply's
 * writes through io->writev, given c (conn_new installs the plain one, or
 * TLS's through tls_conn_start; a fuzz target its in-memory one after
 * conn_new). io is static. Before c is first run; worker thread of c. */
void conn_set_io(conn *c, const struct conn_io *io);

#ifdef MC_FUZZ_BUILD
/* Fuzz builds only (configure --enable-fuzzing). Runs c as its event
 * callback does when the events `which` (EV_READ, EV_WRITE) fire: the state
 * machine goes on until c waits for its transport again (c->ev_flags: for
 * what) or closes. Returns false when c was closed (it is freed). For a
 * caller with no event loop: the fuzz targets, whose in-memory transport
 * (conn_set_io) plays the client. Worker thread of c only. */
bool conn_run(conn *c, short which);
#endif

/* Shutdown: a connection with replies pending sends them, then closes;
 * any other closes now. Reason "shutdown". Worker thread only. */
void conn_shutdown(conn *c);

/* -o idle_timeout: closes c if it has waited for a request for longer
 * than the timeout (reason "idle_timeout", counts idle_kicks). */
void conn_check_idle(conn *c);

/* Closes and frees the connection. reason: static string for conn__close.
 * The driver's (and shutdown's) call: a parser asks with conn_close_now. */
void conn_close(conn *c, const char *reason);

/* Queues an error reply ("ERROR", "CLIENT_ERROR ...", "SERVER_ERROR ...")
 * and fires protocol__error. line has no "\r\n". */
void conn_error(conn *c, const char *line);

/* ---- Transitions a parser asks for (see the table above) ----
 * Each needs c in CONN_PARSE (the state a parser, or a value's completion,
 * is called in) unless it says otherwise, and takes effect when the parser
 * returns to the driver. Worker thread of c only. */

/* PARSE -> CLOSE: hang up without sending what is queued (bad input that
 * memcached drops the connection on). reason: static, for conn__close. */
void conn_close_now(conn *c, const char *reason);

/* PARSE -> WRITE -> CLOSE: send what is queued, then close (quit, a
 * malformed binary header, watch). reason: static, for conn__close. */
void conn_close_after_reply(conn *c, const char *reason);

/* Sends what is queued before the next request is parsed (a flush point:
 * mn, binary noop and errors). Needs c in PARSE or SWALLOW, which it comes
 * back to once the reply is out. Does nothing on a UDP socket, whose
 * replies leave per request anyway. */
void conn_flush(conn *c);

/* PARSE -> SWALLOW: the next n bytes (a value block that will not be
 * stored) are read and thrown away; then PARSE. */
void conn_swallow(conn *c, size_t n);

/* PARSE -> NREAD: the next vr->len bytes are read into it (the connection
 * takes over the caller's reference); then, back in PARSE, the value is
 * stored (conn_value_in) and vr->stored queues the reply. The request's
 * frame stays open until then: its end (conn_request_end) comes after.
 * (Inline: what the parser describes is written straight into c.) */
static inline void conn_expect_value(conn *c, item *it, const struct value_request *vr);

/* conn_expect_value's state change (it checks the transition). */
void conn_await_value(conn *c);

/* The value conn_expect_value asked for is read whole (c in PARSE, left 0):
 * checks that the block ends in "\r\n" (else STORE_BAD_DATA, request__done
 * "error"), stores it through ops, has the parser reply, releases the
 * item and ends the request. The driver's call. */
void conn_value_in(conn *c);

/* The request's reply ran out of memory while it was built (reply.failed):
 * it is never sent in part. What the request queued is dropped; on a
 * stream the replies queued before it leave and then the connection
 * closes (reason "error"), as memcached hangs up when it cannot build a
 * response; on UDP only that request's reply is lost. conn_request_end's
 * call. */
void conn_reply_failed(conn *c);

/* True while c waits for a value asked for with conn_expect_value (a
 * storage request whose reply comes once the value is in). */
static inline bool conn_awaits_value(const conn *c) { return c->state == CONN_NREAD; }

static inline void conn_expect_value(conn *c, item *it, const struct value_request *vr)
{
    struct pending_store *ps = &c->store;
    assert(ps->it == NULL);
    ps->it = it;
    ps->filled = 0;
    ps->left = vr->len;
    ps->req = *vr;
    conn_await_value(c);
}

/* ---- The request frame every parser shares ---- */

/* Opens a request's frame: marks the reply (process__command__end measures
 * what is queued from here; reply_rollback drops it) and fires
 * process__command__start with its bytes: an ASCII line, or a binary
 * packet's header. With latency_stats on, stamps the clock (one read) and
 * notes the command the request's latency counts under. Returns false, with
 * the queued replies dropped and the connection set to close, when the
 * worker has no response object left (-o read_buf_mem_limit): memcached
 * hangs up then. */
static inline bool conn_request_begin(conn *c, const char *bytes, int len)
{
    if (!reply_mark(&c->out)) {
        reply_reset(&c->out);
        conn_close_now(c, "error");
        return false;
    }
    probe_process_command_start(c->sfd, bytes, len);
    if (latency_enabled()) {
        c->lat_cmd = c->protocol == PROTO_BINARY ? latency_cmd_binary((uint8_t)bytes[1])
                                                 : latency_cmd_text(bytes, (size_t)len);
        c->lat_start_ns = latency_now_ns();
    }
    return true;
}

/* Closes it: fires process__command__end and records the request's latency
 * (one clock read), unless the request now waits for its value
 * (conn_value_in closes it then). */
static inline void conn_request_end(conn *c)
{
    if (conn_awaits_value(c))
        return;
    if (__builtin_expect(c->out.failed, 0))
        conn_reply_failed(c);
    if (c->lat_start_ns != 0) {
        latency_record(c->lat_cmd, c->lat_start_ns);
        c->lat_start_ns = 0;
    }
    if (probe_process_command_end_enabled())
        probe_process_command_end(c->sfd, c->out.mark_first, reply_marked_size(&c->out));
}

/* Starts an operation for c's request (ops.h): who asks, for probes and
 * stats; meta: a meta command (mg, ms, ...). Stamps the clock when traced;
 * with latency_stats the request probes take the frame's stamp instead. */
static inline void conn_op_request(conn *c, op_request *rq, const char *cmd, bool meta)
{
    rq->connid = c->sfd;
    rq->cmd = cmd;
    rq->stats = &c->worker->stats;
    rq->meta = meta;
    rq->binary = false;   /* proto_binary sets it */
    if (c->lat_start_ns != 0 && (probe_request_done_enabled() || probe_request_sample_enabled()))
        rq->start_ns = c->lat_start_ns;
    else
        op_request_start(rq);
}

/* A storage request whose item could not be allocated (op_alloc's why),
 * once the parser has queued its error reply: applies ops' rule
 * (op_store_refused: request__done, the old value's removal) and skips
 * the value block's skip bytes (conn_swallow). asked: as op_store_refused. */
void conn_store_refused(conn *c, const op_request *rq, const char *key, size_t nkey,
                        enum store_op asked, enum alloc_failure why, size_t skip);
/* Fills the protocol table: connections set to speak `which` (by -B, a
 * listener's proto[] prefix, or by negotiation) are served by p, which
 * must outlive them. Once at start-up, before any connection. */
void conn_register_protocol(enum conn_protocol which, const struct protocol *p);


/* Client connection accounting for the -c limit. The listener counts a
 * client in as soon as it accepts it (conn_count_add, listener thread
 * only), so the limit sees it before a worker has set it up; conn_close
 * counts it out, and so must whoever drops it before (conn_count_sub). */
void conn_count_add(void);
void conn_count_sub(void);
/* Number of open client connections (UDP sockets not included). */
int conn_count(void);

#endif
