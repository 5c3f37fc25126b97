/* conn.c: the connection state machine. A worker's event callback drives a
 * connection through parse -> (read value) -> ... -> write until it would
 * block; replies to every request found in one read leave in one write. */
#include "conn.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listen.h"
#include "logger.h"
#include "probes.h"
#include "proto_binary.h"
#include "proto_text.h"
#include "sasl.h"
#include "settings.h"
#include "stats.h"
#include "thread.h"
#include "tls.h"
#include "udp.h"

#define READ_BUFFER_INITIAL 16384
#define READ_BUFFER_MAX (64 * 1024 * 1024)  /* bounds a multi-get line */

static _Atomic int open_conns;

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

/* Waits for `flags` (EV_READ or EV_WRITE) on the socket. */
static bool conn_wait(conn *c, short flags)
{
    if (c->tls)
        flags = tls_wait_flags(c, flags);
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

conn *conn_new(int sfd, struct worker *w, const char *transport, const char *peer,
               const char *listen_addr)
{
    conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(sfd);
        return NULL;
    }
    c->sfd = sfd;
    c->worker = w;
    c->transport = transport;
    c->listen_addr = listen_addr;
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
    int binding = listen_protocol(listen_addr);     /* -B, or the listener's proto[] */
    c->protocol = binding == PROTOCOL_ASCII ? PROTO_ASCII :
                  binding == PROTOCOL_BINARY ? PROTO_BINARY : PROTO_NEGOTIATE;
    c->state = CONN_READ;
    c->last_cmd_time = current_time;
    /* -Y, -S: log in first */
    c->authenticated = settings.auth_file == NULL && !sasl_enabled();
    if (!tls_conn_start(c) || !conn_wait(c, EV_READ)) {
        tls_conn_close(c);
        event_free(c->event);
        free(c->rbuf);
        free(c);
        close(sfd);
        return NULL;
    }
    conn_link(c);
    rbuf_account(1, (int64_t)c->rsize);
    probe_conn_create(c);
    probe_conn_allocate(sfd);
    probe_conn_open(sfd, transport, c->peer);
    if (logger_wants(LOG_CONNEVENTS) && strcmp(transport, "udp") != 0)
        logger_log_conn_new(sfd, c->peer, transport);
    return c;
}

void conn_close(conn *c, const char *reason)
{
    probe_conn_close(c->sfd, reason);
    if (!c->udp && !c->watch_kinds && logger_wants(LOG_CONNEVENTS))
        logger_log_conn_close(c->sfd, c->peer, c->transport, reason);
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

conn *conn_new_udp(int sfd, struct worker *w, const char *local_addr)
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
     * come from anyone. local_addr is "udp:<address>". */
    const char *colon = strchr(local_addr, ':');
    conn *c = conn_new(sfd, w, "udp", colon ? colon + 1 : local_addr, local_addr);
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
    c->state = CONN_PARSE;  /* with nothing buffered: wants a datagram */
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
        c->state = CONN_WRITE;
        c->next_state = CONN_CLOSE;
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
    c->swallow_left = n;
    c->state = CONN_SWALLOW;
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
        ssize_t n = c->tls ? tls_read(c, dest, room) : read(c->sfd, dest, room);
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
    if (!reply_pending(&c->out))
        reply_reset(&c->out);   /* noreply requests' response objects go, as when sent */
    if (reply_pending(&c->out)) {
        c->state = CONN_WRITE;
        c->next_state = CONN_READ;
    } else {
        c->state = CONN_READ;
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
    if (r == 1)
        c->stacked = 0;
    return r;
}

/* Before waiting for a value's bytes, send the replies already queued
 * (the client may be waiting for them). True if a write was scheduled. */
static bool conn_flush_before_wait(conn *c)
{
    if (!reply_pending(&c->out))
        return false;
    c->next_state = c->state;
    c->state = CONN_WRITE;
    return true;
}

/* Serves the request at c->rcurr with the connection's protocol (the
 * first byte decides when it is not yet known). */
static enum parse_result conn_parse_one(conn *c)
{
    if (c->protocol == PROTO_NEGOTIATE)
        c->protocol = (unsigned char)c->rcurr[0] == 0x80 ? PROTO_BINARY : PROTO_ASCII;
    return c->protocol == PROTO_BINARY ? proto_binary_process(c) : proto_text_process(c);
}

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
    c->state = CONN_PARSE;
}

/* Runs a UDP socket's connection: serves up to -R datagrams, each a batch
 * of requests whose replies leave one message per request. */
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

static void conn_drive_udp(conn *c)
{
    int datagrams_left = settings.reqs_per_event;
    bool hung_up = false;   /* the datagram being served ended in a hang-up */
    for (;;) {
        if (c->rbytes == 0) {
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
            c->seen_data = true;
            c->last_cmd_time = current_time;
            if (settings.binding_protocol == PROTOCOL_AUTO)
                c->protocol = PROTO_NEGOTIATE;
        }
        switch (c->state) {
        case CONN_PARSE:
            /* Each request's reply is its own message. */
            if (reply_pending(&c->out))
                udp_send_reply(c);
            if (conn_parse_one(c) == PARSE_NEED_MORE)
                udp_drop_partial(c);
            break;
        case CONN_NREAD: {
            struct pending_store *ps = &c->store;
            nread_from_buffer(c);
            if (ps->left == 0) {
                c->state = CONN_PARSE;
                ps->complete(c);
            }
            break;
        }
        case CONN_SWALLOW: {
            size_t n = c->rbytes < c->swallow_left ? c->rbytes : c->swallow_left;
            c->rcurr += n;
            c->rbytes -= n;
            c->swallow_left -= n;
            if (c->swallow_left == 0)
                c->state = CONN_PARSE;
            break;
        }
        case CONN_WRITE:
        case CONN_CLOSE:
        case CONN_READ:
            /* quit and the like: a UDP socket is never closed by a client. */
            udp_stop_datagram(c, &hung_up);
            break;
        }
    }
}

/* Runs the connection until it has to wait or closes. readable: the socket
 * was reported readable (a read will not just say EAGAIN). */
static void conn_drive(conn *c, bool readable)
{
    /* -R as memcached 1.6.45 counts it (measured): R + 1 requests before
     * a yield, R after one; flushing at the end of a batch costs one. */
    c->reqs_left = settings.reqs_per_event - (c->reqs_left < 0);
    for (;;) {
        switch (c->state) {
        case CONN_PARSE: {
            if (c->rbytes == 0 && c->reqs_left >= 0 && reply_pending(&c->out))
                c->reqs_left--;
            if (c->rbytes == 0 && c->reqs_left >= 0) {
                conn_need_more(c);
                break;
            }
            if (c->reqs_left < 0) {
                /* -R: let the worker's other connections run. */
                STAT_INC(&c->worker->stats, conn_yields);
                probe_conn_yield(c->sfd);
                if (!reply_pending(&c->out))
                    reply_reset(&c->out);   /* as conn_need_more */
                if (reply_pending(&c->out)) {
                    c->state = CONN_WRITE;
                    c->next_state = CONN_PARSE;
                    int r = conn_send(c);
                    if (r < 0) {
                        c->close_reason = "error";
                        c->state = CONN_CLOSE;
                        break;
                    }
                    if (r == 0) {
                        conn_wait(c, EV_WRITE);
                        return;
                    }
                    c->state = CONN_PARSE;
                }
                if (c->rbytes == 0) {   /* nothing left: the next batch gets R + 1 */
                    c->reqs_left = 0;
                    conn_need_more(c);
                    conn_wait(c, EV_READ);
                    return;
                }
                /* Come back through the poller, behind the other ready
                 * sockets (event_active would run us again first). The
                 * socket is writable, so this fires on the next poll. */
                conn_wait(c, EV_WRITE);
                return;
            }
            enum parse_result pr = conn_parse_one(c);
            if (pr == PARSE_NEED_MORE)
                conn_need_more(c);
            else
                c->reqs_left--;
            break;
        }

        case CONN_READ: {
            if (c->worker->stopping) {
                c->close_reason = "shutdown";
                c->state = CONN_CLOSE;
                break;
            }
            if (!readable) {
                conn_wait(c, EV_READ);
                return;
            }
            if (!rbuf_make_room(c)) {
                conn_error(c, "SERVER_ERROR out of memory reading request");
                c->state = CONN_WRITE;
                c->next_state = CONN_CLOSE;
                c->close_reason = "error";
                break;
            }
            ssize_t n = conn_read_into(c, c->rcurr + c->rbytes, c->rsize - c->rbytes);
            if (n == -1) {
                readable = false;
                break;
            }
            if (n <= 0) {
                c->close_reason = n == 0 ? "client" : "error";
                c->state = CONN_CLOSE;
                break;
            }
            /* Read once per wake-up unless the buffer filled; epoll says
             * when more is there. */
            readable = (size_t)n == c->rsize - c->rbytes;
            c->rbytes += (size_t)n;
            c->last_cmd_time = current_time;
            c->seen_data = true;
            c->state = CONN_PARSE;
            break;
        }

        case CONN_NREAD: {
            struct pending_store *ps = &c->store;
            nread_from_buffer(c);
            if (ps->left == 0) {
                c->state = CONN_PARSE;
                ps->complete(c);
                break;
            }
            if (!readable) {
                if (conn_flush_before_wait(c))
                    break;
                conn_wait(c, EV_READ);
                return;
            }
            size_t room;
            char *dest = pending_dest(ps, &room);
            ssize_t n = conn_read_into(c, dest, room);
            if (n == -1) {
                readable = false;
                break;
            }
            if (n <= 0) {
                c->close_reason = n == 0 ? "client" : "error";
                c->state = CONN_CLOSE;
                break;
            }
            pending_advance(ps, (size_t)n);
            break;
        }

        case CONN_SWALLOW: {
            if (c->swallow_left > 0 && c->rbytes > 0) {
                size_t n = c->rbytes < c->swallow_left ? c->rbytes : c->swallow_left;
                c->rcurr += n;
                c->rbytes -= n;
                c->swallow_left -= n;
            }
            if (c->swallow_left == 0) {
                c->state = CONN_PARSE;
                break;
            }
            if (!readable) {
                /* memcached sends nothing while it skips bytes: replies
                 * queued before (a refusal) leave once the skip is done. */
                conn_wait(c, EV_READ);
                return;
            }
            c->rcurr = c->rbuf;
            ssize_t n = conn_read_into(c, c->rbuf, c->rsize);
            if (n == -1) {
                readable = false;
                break;
            }
            if (n <= 0) {
                c->close_reason = n == 0 ? "client" : "error";
                c->state = CONN_CLOSE;
                break;
            }
            c->rbytes = (size_t)n;
            break;
        }

        case CONN_WRITE: {
            int r = conn_send(c);
            if (r < 0) {
                c->close_reason = "error";
                c->state = CONN_CLOSE;
                break;
            }
            if (r == 0) {
                conn_wait(c, EV_WRITE);
                return;
            }
            c->state = c->next_state;
            readable = false;
            if (c->state == CONN_READ) {
                /* Nothing buffered to parse: wait for the client. */
                conn_wait(c, EV_READ);
                return;
            }
            break;
        }

        case CONN_CLOSE:
            conn_close(c, c->close_reason ? c->close_reason : "client");
            return;
        }
    }
}

static void conn_event_cb(evutil_socket_t fd, short which, void *arg)
{
    conn *c = arg;
    (void)fd;
    if (c->udp) {
        conn_drive_udp(c);
        return;
    }
    /* TLS: a read that waited for writability is retried on EV_WRITE. */
    conn_drive(c, (which & EV_READ) != 0 ||
                  (c->tls && (which & EV_WRITE) && tls_wait_flags(c, EV_READ) == EV_WRITE));
}
