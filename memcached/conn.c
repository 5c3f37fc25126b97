/* conn.c: the connection state machine. A worker's event callback drives a
 * connection through parse -> (read value) -> ... -> write until it would
 * block; replies to every request found in one read leave in one write. */
#include "config.h"
#include "conn.h"

#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listener.h"
#include "logger.h"
#include "probes.h"
#include "sasl.h"
#include "settings.h"
#include "counters.h"
#include "thread.h"
#include "tls.h"
#include "udp.h"

#define READ_BUFFER_INITIAL 16384
#define READ_BUFFER_MAX (64 * 1024 * 1024)  /* bounds a multi-get line */

static _Atomic int open_conns;

/* The protocol table (protocol.h), filled at start-up. */
static const struct protocol *protocols[PROTO_COUNT];

void conn_register_protocol(enum conn_protocol which, const struct protocol *p)
{
    protocols[which] = p;
}

#ifndef NDEBUG
/* Whether conn.h's table lets c go from `from` to `to`. */
static bool transition_legal(const conn *c, enum conn_state from, enum conn_state to)
{
    if (from == to)
        return true;
    if (c->udp != NULL && to == CONN_PARSE)
        return true;    /* the end of a datagram */
    switch (from) {
    case CONN_PARSE:
    case CONN_WRITE:
        return true;
    case CONN_READ:
    case CONN_NREAD:
    case CONN_SWALLOW:
        return to == CONN_PARSE || to == CONN_WRITE || to == CONN_CLOSE;
    case CONN_CLOSE:
        return false;
    }
    return false;
}
#endif

/* Every change of c->state goes through here (or conn_write_then), so that
 * memcached-debug checks it against the table in conn.h. */
static inline void conn_set_state(conn *c, enum conn_state to)
{
    assert(transition_legal(c, c->state, to));
    __atomic_store_n(&c->state, to, __ATOMIC_RELAXED);     /* stats conns reads it */
}

/* -> WRITE; `then` once the queued reply is out. */
static inline void conn_write_then(conn *c, enum conn_state then)
{
    assert(then != CONN_WRITE);
    conn_set_state(c, CONN_WRITE);
    c->next_state = then;
}

int conn_count(void) { return atomic_load(&open_conns); }

void conn_count_add(void)
{
    atomic_fetch_add(&open_conns, 1);
    uint64_t curr = atomic_fetch_add(&global_stats.curr_conns, 1) + 1;
    atomic_fetch_add(&global_stats.total_conns, 1);
    /* The listener is the only thread that adds: a plain peak update. */
    if (curr > atomic_load(&global_stats.conn_structs))
        atomic_store(&global_stats.conn_structs, curr);
}

/* read_buf_count / read_buf_bytes in stats. */
static void rbuf_account(int count, int64_t bytes)
{
    atomic_fetch_add_explicit(&global_stats.read_buf_count, count, memory_order_relaxed);
    atomic_fetch_add_explicit(&global_stats.read_buf_bytes, bytes, memory_order_relaxed);
}

void conn_count_sub(void)
{
    atomic_fetch_sub(&open_conns, 1);
    atomic_fetch_sub(&global_stats.curr_conns, 1);
}

static void conn_event_cb(evutil_socket_t fd, short which, void *arg);

/* A plain socket: read(2) here and sendmsg(2) by reply.c itself, each
 * called directly (no hook set: no indirect call per request). */
static const struct conn_io plain_io = { .read = NULL };

/* Waits for `flags` (EV_READ or EV_WRITE) on the socket. */
static bool conn_wait(conn *c, short flags)
{
    if (c->io->wait_flags)
        flags = c->io->wait_flags(c, flags);
    if (c->ev_flags == flags)
        return true;
    if (c->ev_flags != 0)
        event_del(c->event);
    event_assign(c->event, c->worker->base, c->sfd, flags | EV_PERSIST, conn_event_cb, c);
    c->ev_flags = flags;
    return event_add(c->event, NULL) == 0;
}

/* Links c into its worker's list (under the lock stats conns takes). */
static void conn_link(conn *c)
{
    worker *w = c->worker;
    pthread_mutex_lock(&w->conns_lock);
    c->prev = NULL;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    pthread_mutex_unlock(&w->conns_lock);
}

static void conn_unlink(conn *c)
{
    worker *w = c->worker;
    pthread_mutex_lock(&w->conns_lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&w->conns_lock);
}

void conn_set_io(conn *c, const struct conn_io *io)
{
    c->io = io;
    c->out.writer = io->writev;
    c->out.writer_ctx = c;
}

conn *conn_new(int sfd, struct worker *w, const struct listener *l, const char *peer)
{
    conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(sfd);
        return NULL;
    }
    c->sfd = sfd;
    c->worker = w;
    c->listener = l;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    c->rsize = READ_BUFFER_INITIAL;
    c->rbuf = malloc(c->rsize);
    c->event = event_new(w->base, -1, 0, conn_event_cb, c);
    if (c->rbuf == NULL || c->event == NULL) {
        if (c->rbuf == NULL)
            atomic_fetch_add(&global_stats.read_buf_oom, 1);
        free(c->rbuf);
        if (c->event)
            event_free(c->event);
        free(c);
        close(sfd);
        return NULL;
    }
    c->rcurr = c->rbuf;
    reply_init(&c->out);
    c->protocol = l->protocol;     /* -B, or the listener's proto[] */
    c->state = CONN_READ;   /* the first state: nothing to check it against */
    c->last_cmd_time = current_time;
    /* -Y, -S: log in first */
    c->authenticated = settings.auth_file == NULL && !sasl_enabled();
    c->io = &plain_io;
    if (!tls_conn_start(c) || !conn_wait(c, EV_READ)) {     /* TLS: sets c->io */
        tls_conn_close(c);
        event_free(c->event);
        free(c->rbuf);
        free(c);
        close(sfd);
        return NULL;
    }
    conn_set_io(c, c->io);
    conn_link(c);
    rbuf_account(1, (int64_t)c->rsize);
    probe_conn_create(c);
    probe_conn_allocate(sfd);
    probe_conn_open(sfd, transport_name(l->transport), c->peer);
    if (logger_wants(LOG_CONNEVENTS) && l->transport != TRANSPORT_UDP)
        logger_log_conn_new(sfd, c->peer, l->transport);
    return c;
}

void conn_close(conn *c, const char *reason)
{
    probe_conn_close(c->sfd, reason);
    if (!c->udp && !c->watch_kinds && logger_wants(LOG_CONNEVENTS))
        logger_log_conn_close(c->sfd, c->peer, c->listener->transport, reason);
    event_free(c->event);
    if (c->store.it) {
        item_release(c->store.it);
        c->store.it = NULL;
    }
    free(c->store.proto_state);
    reply_free(&c->out);
    rbuf_account(-1, -(int64_t)c->rsize);
    free(c->rbuf);
    worker *w = c->worker;
    conn_unlink(c);
    probe_conn_release(c->sfd);
    tls_conn_close(c);
    sasl_conn_close(c);
    if (c->watch_kinds)
        logger_add_watcher(c->sfd, c->watch_kinds);     /* it owns the socket now */
    else
        close(c->sfd);
    if (c->udp)
        free(c->udp);   /* a UDP socket is not a client: not counted */
    else
        conn_count_sub();
    probe_conn_destroy(c);
    free(c);
    if (w->stopping && w->conns == NULL)
        event_base_loopbreak(w->base);
}

conn *conn_new_udp(int sfd, struct worker *w, const struct listener *l)
{
    struct udp_peer *up = calloc(1, sizeof(*up));
    char *rbuf = malloc(UDP_READ_BUFFER);
    if (up == NULL || rbuf == NULL) {
        free(up);
        free(rbuf);
        close(sfd);
        return NULL;
    }
    /* conn__open's peer for a UDP socket is its own address: datagrams
     * come from anyone. l->addr is "udp:<address>". */
    const char *colon = strchr(l->addr, ':');
    conn *c = conn_new(sfd, w, l, colon ? colon + 1 : l->addr);
    if (c == NULL) {
        free(up);
        free(rbuf);
        return NULL;
    }
    free(c->rbuf);
    rbuf_account(0, (int64_t)UDP_READ_BUFFER - (int64_t)c->rsize);
    c->rbuf = c->rcurr = rbuf;
    c->rsize = UDP_READ_BUFFER;
    c->udp = up;
    conn_set_state(c, CONN_PARSE);  /* with nothing buffered: wants a datagram */
    if (!reply_track_breaks(&c->out)) {
        conn_close(c, "error");
        return NULL;
    }
    return c;
}

void conn_shutdown(conn *c)
{
    if (c->udp == NULL && (c->state == CONN_WRITE || reply_pending(&c->out))) {
        /* Finish the replies already queued, then close. */
        if (c->state != CONN_WRITE || c->next_state != CONN_CLOSE)
            c->close_reason = "shutdown";
        conn_write_then(c, CONN_CLOSE);
        conn_wait(c, EV_WRITE);
        event_active(c->event, EV_WRITE, 0);
        return;
    }
    conn_close(c, "shutdown");
}

void conn_check_idle(conn *c)
{
    /* Like memcached: only a connection waiting for a request is idle (not
     * one in the middle of a value, nor one whose replies are not read). */
    if (c->udp != NULL || c->state != CONN_READ)
        return;
    if (current_time - c->last_cmd_time <= (rel_time_t)settings.idle_timeout)
        return;
    STAT_INC(&c->worker->stats, idle_kicks);
    conn_close(c, "idle_timeout");
}

void conn_swallow(conn *c, size_t n)
{
    assert(c->state == CONN_PARSE);
    c->swallow_left = n;
    conn_set_state(c, CONN_SWALLOW);
}

void conn_close_now(conn *c, const char *reason)
{
    assert(c->state == CONN_PARSE);
    c->close_reason = reason;
    conn_set_state(c, CONN_CLOSE);
}

void conn_close_after_reply(conn *c, const char *reason)
{
    assert(c->state == CONN_PARSE);
    c->close_reason = reason;
    conn_write_then(c, CONN_CLOSE);
}

void conn_reply_failed(conn *c)
{
    reply_rollback(&c->out);
    c->out.failed = false;
    if (c->udp != NULL || c->state == CONN_CLOSE)
        return;
    c->close_reason = "error";
    if (c->state == CONN_WRITE)
        c->next_state = CONN_CLOSE;
    else
        conn_write_then(c, CONN_CLOSE);
}

void conn_flush(conn *c)
{
    assert(c->state == CONN_PARSE || c->state == CONN_SWALLOW);
    if (c->udp == NULL)
        conn_write_then(c, c->state);
}

void conn_await_value(conn *c)
{
    assert(c->state == CONN_PARSE && c->store.it != NULL);
    conn_set_state(c, CONN_NREAD);
}

void conn_value_in(conn *c)
{
    struct pending_store *ps = &c->store;
    const struct value_request *vr = &ps->req;
    item *it = ps->it;
    ps->it = NULL;
    if (vr->add_crlf)
        item_value_write(it, it->nbytes - 2, "\r\n", 2);
    struct op_store_out so = { 0, 0 };
    enum store_result r = item_value_ends_crlf(it) ? op_store_ex(&vr->rq, it, &vr->opts, &so)
                                                   : STORE_BAD_DATA;
    c->out.suppress = vr->noreply;
    vr->stored(c, r, &so, it);
    c->out.suppress = false;
    if (r == STORE_BAD_DATA)
        op_request_error(&vr->rq, item_key(it), it->nkey);
    item_release(it);
    conn_request_end(c);
}

void conn_store_refused(conn *c, const op_request *rq, const char *key, size_t nkey,
                        enum store_op asked, enum alloc_failure why, size_t skip)
{
    op_store_refused(rq, key, nkey, asked, why);
    conn_swallow(c, skip);
}

void conn_error(conn *c, const char *line)
{
    if (probe_protocol_error_enabled()) {
        const char *kind = strncmp(line, "CLIENT_ERROR", 12) == 0 ? "client_error" :
                           strncmp(line, "SERVER_ERROR", 12) == 0 ? "server_error" : "error";
        const char *msg = strchr(line, ' ');
        probe_protocol_error(c->sfd, kind, msg ? msg + 1 : "");
    }
    reply_str(&c->out, line);
    reply_text(&c->out, "\r\n", 2);
}

/* Makes room to read into: moves unparsed bytes to the front, and grows
 * the buffer when it is full. Returns false if it cannot grow. */
static bool rbuf_make_room(conn *c)
{
    if (c->rcurr != c->rbuf) {
        if (c->rbytes)
            memmove(c->rbuf, c->rcurr, c->rbytes);
        c->rcurr = c->rbuf;
    }
    if (c->rbytes < c->rsize)
        return true;
    if (c->rsize >= READ_BUFFER_MAX)
        return false;
    char *bigger = realloc(c->rbuf, c->rsize * 2);
    if (bigger == NULL) {
        atomic_fetch_add(&global_stats.read_buf_oom, 1);
        return false;
    }
    rbuf_account(0, (int64_t)c->rsize);
    c->rbuf = c->rcurr = bigger;
    c->rsize *= 2;
    return true;
}

/* Shrinks a grown read buffer back once it is empty. */
static void rbuf_shrink(conn *c)
{
    if (c->rsize > READ_BUFFER_INITIAL && c->rbytes == 0) {
        char *smaller = realloc(c->rbuf, READ_BUFFER_INITIAL);
        if (smaller) {
            rbuf_account(0, (int64_t)READ_BUFFER_INITIAL - (int64_t)c->rsize);
            c->rbuf = c->rcurr = smaller;
            c->rsize = READ_BUFFER_INITIAL;
        }
    }
}

/* One read into dest. Returns bytes read, 0 on EOF, -1 would block,
 * -2 on error. */
static ssize_t conn_read_into(conn *c, char *dest, size_t room)
{
    for (;;) {
        ssize_t n = c->io->read ? c->io->read(c, dest, room) : read(c->sfd, dest, room);
        if (n > 0) {
            STAT_ADD(&c->worker->stats, bytes_read, (uint64_t)n);
            probe_conn_read(c->sfd, n);
            return n;
        }
        if (n == 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return -1;
        return -2;
    }
}

/* Called when no complete request is buffered: flush, then wait for bytes. */
static void conn_need_more(conn *c)
{
    rbuf_shrink(c);
    c->stacked = 0;     /* what was queued is sent before the next read */
    c->unflushed = false;
    if (reply_pending(&c->out)) {
        conn_write_then(c, CONN_READ);
    } else {
        reply_reset(&c->out);   /* noreply requests' response objects go, as when sent */
        conn_set_state(c, CONN_READ);
    }
}

/* Sends what the socket takes of the queued reply, counting the bytes.
 * Returns reply_send()'s result: 1 all sent, 0 would block, -1 error. */
static int conn_send(conn *c)
{
    int64_t written;
    int r = reply_send(&c->out, c->sfd, &written);
    if (written > 0) {
        STAT_ADD(&c->worker->stats, bytes_written, (uint64_t)written);
        probe_conn_write(c->sfd, written);
    }
    if (r == 1) {
        c->stacked = 0;
        c->unflushed = false;
    }
    return r;
}

/* Before waiting for a value's bytes, send the replies already queued
 * (the client may be waiting for them). True if a write was scheduled. */
static bool conn_flush_before_wait(conn *c)
{
    if (!reply_pending(&c->out))
        return false;
    conn_write_then(c, c->state);
    return true;
}

/* -B auto: the protocol that claims a client's first byte, else the one
 * that takes what no other claims. */
static enum conn_protocol conn_negotiate(unsigned char first)
{
    enum conn_protocol fallback = PROTO_ASCII;
    for (int i = PROTO_NEGOTIATE + 1; i < PROTO_COUNT; i++) {
        if (protocols[i] == NULL)
            continue;
        if (protocols[i]->first_byte == first)
            return (enum conn_protocol)i;
        if (protocols[i]->first_byte < 0)
            fallback = (enum conn_protocol)i;
    }
    return fallback;
}

/* Serves the request at c->rcurr with the connection's protocol (the
 * first byte decides when it is not yet known). */
static inline __attribute__((always_inline)) enum parse_result conn_parse_one(conn *c)
{
    if (c->protocol == PROTO_NEGOTIATE)
        c->protocol = conn_negotiate((unsigned char)c->rcurr[0]);
    assert(protocols[c->protocol] != NULL);
    return protocols[c->protocol]->process(c);
}

/* ---- Steps on what the read buffer holds (both drivers) ---- */

/* Where the pending value's next bytes go: *room contiguous bytes (fewer
 * than left when a chunked item's value continues in another chunk). */
static char *pending_dest(struct pending_store *ps, size_t *room)
{
    uint32_t run;
    char *dest = item_value_span(ps->it, ps->filled, &run);
    *room = run < ps->left ? run : ps->left;
    return dest;
}

/* Counts n value bytes as read into the pending item. */
static void pending_advance(struct pending_store *ps, size_t n)
{
    ps->filled += (uint32_t)n;
    ps->left -= n;
}

/* Moves what the read buffer holds of a pending value into its item. */
static void nread_from_buffer(conn *c)
{
    struct pending_store *ps = &c->store;
    while (c->rbytes > 0 && ps->left > 0) {
        size_t room;
        char *dest = pending_dest(ps, &room);
        size_t n = c->rbytes < room ? c->rbytes : room;
        memcpy(dest, c->rcurr, n);
        pending_advance(ps, n);
        c->rcurr += n;
        c->rbytes -= n;
    }
}

/* NREAD: takes the buffered part of the value; once it is whole, c goes
 * back to PARSE and the value is stored (true). */
static bool value_from_buffer(conn *c)
{
    nread_from_buffer(c);
    if (c->store.left != 0)
        return false;
    conn_set_state(c, CONN_PARSE);
    conn_value_in(c);
    return true;
}

/* SWALLOW: skips the buffered part of the block; then PARSE (true). */
static bool swallow_from_buffer(conn *c)
{
    size_t n = c->rbytes < c->swallow_left ? c->rbytes : c->swallow_left;
    c->rcurr += n;
    c->rbytes -= n;
    c->swallow_left -= n;
    if (c->swallow_left != 0)
        return false;
    conn_set_state(c, CONN_PARSE);
    return true;
}

/* ---- The UDP driver ---- */

/* UDP: a request whose value did not fit in its datagram is dropped (no
 * reply, as memcached does); so is the unparsed rest of a datagram. */
static void udp_drop_partial(conn *c)
{
    if (c->state == CONN_NREAD && c->store.it) {
        item_release(c->store.it);
        c->store.it = NULL;
    }
    c->swallow_left = 0;
    c->rbytes = 0;
    conn_set_state(c, CONN_PARSE);
}

/* UDP: the rest of the datagram is dropped (c->state is not CONN_PARSE).
 * A quit with nothing to say is an empty reply (udp_note_empty); a
 * hang-up on bad input, or a request the datagram cut short, sets
 * *hung_up, which drops it. */
static void udp_stop_datagram(conn *c, bool *hung_up)
{
    if (c->state == CONN_WRITE && c->next_state == CONN_CLOSE) {
        udp_note_empty(c);
    } else if (c->state == CONN_CLOSE) {
        *hung_up = true;
    } else if (c->state == CONN_NREAD || c->state == CONN_SWALLOW) {
        /* A request cut short by the datagram's end: memcached is still
         * reading it and sends the replies queued behind it never. */
        reply_reset(&c->out);
        *hung_up = true;
    }
    udp_drop_partial(c);
}

/* Serves the requests of the datagram in the buffer; each request's reply
 * leaves as its own message. */
static void udp_serve_datagram(conn *c, bool *hung_up)
{
    while (c->rbytes > 0) {
        switch (c->state) {
        case CONN_PARSE:
            if (reply_pending(&c->out))
                udp_send_reply(c);
            if (conn_parse_one(c) == PARSE_NEED_MORE)
                udp_drop_partial(c);
            break;
        case CONN_NREAD:
            value_from_buffer(c);
            break;
        case CONN_SWALLOW:
            swallow_from_buffer(c);
            break;
        case CONN_WRITE:
        case CONN_CLOSE:
        case CONN_READ:
            /* quit and the like: a UDP socket is never closed by a client. */
            udp_stop_datagram(c, hung_up);
            break;
        }
    }
}

/* Runs a UDP socket's connection: serves up to -R datagrams, each a batch
 * of requests, finishing the previous one's replies before reading the
 * next. */
static void conn_drive_udp(conn *c)
{
    int datagrams_left = settings.reqs_per_event;
    bool hung_up = false;   /* the datagram being served ended in a hang-up */
    for (;;) {
        if (c->state != CONN_PARSE)
            udp_stop_datagram(c, &hung_up);
        if (reply_pending(&c->out))
            udp_send_reply(c);
        udp_end_datagram(c, hung_up);
        hung_up = false;
        if (c->worker->stopping)
            return;
        if (datagrams_left-- <= 0) {
            /* -R: the socket stays readable, so the poller calls again
             * after the worker's other ready sockets. */
            STAT_INC(&c->worker->stats, conn_yields);
            probe_conn_yield(c->sfd);
            return;
        }
        int r = udp_receive(c);
        if (r < 0)
            return;     /* the persistent read event calls again */
        if (r == 0)
            continue;
        __atomic_store_n(&c->seen_data, true, __ATOMIC_RELAXED);
        __atomic_store_n(&c->last_cmd_time, current_time, __ATOMIC_RELAXED);
        c->protocol = c->listener->protocol;    /* -B auto: each datagram decides */
        udp_serve_datagram(c, &hung_up);
    }
}

/* ---- The stream driver: one function per state ----
 * Each runs c in its state and returns true to go on with the state it
 * left c in, false when c now waits for its socket. *readable: the socket
 * is known to have bytes (a read will not just say EAGAIN). */

/* A read that returned n <= 0 other than "would block": the end. */
static void read_ended(conn *c, ssize_t n)
{
    c->close_reason = n == 0 ? "client" : "error";
    conn_set_state(c, CONN_CLOSE);
}

/* Sends c's queued reply (c in WRITE). Returns 1 when all of it is sent,
 * 0 when c now waits for its socket to take more, -1 when c is set to
 * close (a socket error). */
static int send_or_wait(conn *c)
{
    int r = conn_send(c);
    if (r < 0) {
        c->close_reason = "error";
        conn_set_state(c, CONN_CLOSE);
    } else if (r == 0) {
        conn_wait(c, EV_WRITE);
    }
    return r;
}

/* -R: requests are left but this event's share is used up. */
static bool step_yield(conn *c)
{
    /* -R: let the worker's other connections run. */
    STAT_INC(&c->worker->stats, conn_yields);
    probe_conn_yield(c->sfd);
    if (!reply_pending(&c->out)) {
        reply_reset(&c->out);   /* as conn_need_more */
        c->unflushed = false;
    }
    if (reply_pending(&c->out)) {
        conn_write_then(c, CONN_PARSE);
        int r = send_or_wait(c);
        if (r <= 0)
            return r < 0;
        conn_set_state(c, CONN_PARSE);
    }
    if (c->rbytes == 0) {   /* nothing left: the next batch gets R + 1 */
        c->reqs_left = 0;
        conn_need_more(c);
        conn_wait(c, EV_READ);
        return false;
    }
    /* Come back through the poller, behind the other ready
     * sockets (event_active would run us again first). The
     * socket is writable, so this fires on the next poll. */
    conn_wait(c, EV_WRITE);
    return false;
}

static bool step_parse(conn *c)
{
    if (c->rbytes == 0 && c->reqs_left >= 0) {
        /* Sending a batch's replies costs a request, even when all were
         * noreply (memcached still frees their response objects). */
        c->reqs_left -= reply_pending(&c->out) || c->unflushed;
        if (c->reqs_left >= 0) {
            conn_need_more(c);
            return true;
        }
    }
    if (c->reqs_left < 0)
        return step_yield(c);
    enum parse_result pr = conn_parse_one(c);
    if (pr == PARSE_NEED_MORE) {
        /* A request cut at the end of the buffer: flushing the replies
         * before reading its rest costs a request as at the end of a
         * batch, and may use up the event's share. */
        if ((reply_pending(&c->out) || c->unflushed) && --c->reqs_left < 0)
            return step_yield(c);
        conn_need_more(c);
    } else {
        c->reqs_left--;
        c->unflushed = true;
    }
    return true;
}

static bool step_read(conn *c, bool *readable)
{
    if (c->worker->stopping) {
        c->close_reason = "shutdown";
        conn_set_state(c, CONN_CLOSE);
        return true;
    }
    if (!*readable) {
        conn_wait(c, EV_READ);
        return false;
    }
    if (!rbuf_make_room(c)) {
        conn_error(c, "SERVER_ERROR out of memory reading request");
        conn_write_then(c, CONN_CLOSE);
        c->close_reason = "error";
        return true;
    }
    ssize_t n = conn_read_into(c, c->rcurr + c->rbytes, c->rsize - c->rbytes);
    if (n == -1) {
        *readable = false;
        return true;
    }
    if (n <= 0) {
        read_ended(c, n);
        return true;
    }
    /* Read once per wake-up unless the buffer filled; epoll says when
     * more is there. */
    *readable = (size_t)n == c->rsize - c->rbytes;
    c->rbytes += (size_t)n;
    __atomic_store_n(&c->last_cmd_time, current_time, __ATOMIC_RELAXED);
    __atomic_store_n(&c->seen_data, true, __ATOMIC_RELAXED);
    conn_set_state(c, CONN_PARSE);
    return true;
}

static bool step_nread(conn *c, bool *readable)
{
    if (value_from_buffer(c))
        return true;
    if (!*readable) {
        if (conn_flush_before_wait(c))
            return true;
        conn_wait(c, EV_READ);
        return false;
    }
    size_t room;
    char *dest = pending_dest(&c->store, &room);
    ssize_t n = conn_read_into(c, dest, room);
    if (n == -1) {
        *readable = false;
        return true;
    }
    if (n <= 0) {
        read_ended(c, n);
        return true;
    }
    pending_advance(&c->store, (size_t)n);
    return true;
}

static bool step_swallow(conn *c, bool *readable)
{
    if (swallow_from_buffer(c))
        return true;
    if (!*readable) {
        /* memcached sends nothing while it skips bytes: replies queued
         * before (a refusal) leave once the skip is done. */
        conn_wait(c, EV_READ);
        return false;
    }
    c->rcurr = c->rbuf;
    ssize_t n = conn_read_into(c, c->rbuf, c->rsize);
    if (n == -1) {
        *readable = false;
        return true;
    }
    if (n <= 0) {
        read_ended(c, n);
        return true;
    }
    c->rbytes = (size_t)n;
    return true;
}

static bool step_write(conn *c, bool *readable)
{
    int r = send_or_wait(c);
    if (r <= 0)
        return r < 0;
    conn_set_state(c, c->next_state);
    *readable = false;
    if (c->state == CONN_READ) {
        /* Nothing buffered to parse: wait for the client. */
        conn_wait(c, EV_READ);
        return false;
    }
    return true;
}

/* Runs the connection until it has to wait (true) or closes (false: c is
 * freed). readable: the socket was reported readable. */
static bool conn_drive(conn *c, bool readable)
{
    /* -R as memcached 1.6.45 counts it (measured): R + 1 requests before
     * a yield, R after one; flushing at the end of a batch costs one. */
    c->reqs_left = settings.reqs_per_event - (c->reqs_left < 0);
    bool go_on = true;
    while (go_on) {
        switch (c->state) {
        case CONN_PARSE: go_on = step_parse(c); break;
        case CONN_READ: go_on = step_read(c, &readable); break;
        case CONN_NREAD: go_on = step_nread(c, &readable); break;
        case CONN_SWALLOW: go_on = step_swallow(c, &readable); break;
        case CONN_WRITE: go_on = step_write(c, &readable); break;
        case CONN_CLOSE:
            conn_close(c, c->close_reason ? c->close_reason : "client");
            return false;
        }
    }
    return true;
}

/* The event callback's work (conn_run's contract). */
static inline bool conn_serve(conn *c, short which)
{
    if (c->udp) {
        conn_drive_udp(c);
        return true;
    }
    /* TLS: a read that waited for writability is retried on EV_WRITE. */
    return conn_drive(c, (which & EV_READ) != 0 ||
                         (c->io->wait_flags && (which & EV_WRITE) &&
                          c->io->wait_flags(c, EV_READ) == EV_WRITE));
}

static void conn_event_cb(evutil_socket_t fd, short which, void *arg)
{
    (void)fd;
    conn_serve(arg, which);
}

#ifdef MC_FUZZ_BUILD
/* Only fuzz builds have it: a second caller would keep conn_drive from
 * being inlined into the event callback. */
bool conn_run(conn *c, short which)
{
    return conn_serve(c, which);
}
#endif
