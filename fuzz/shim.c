/* fuzz/shim.c: the in-memory connection and server state behind every
 * fuzz target (see shim.h). It serves a conn the way conn.c does, but
 * reads come from the input and writes only touch the reply's bytes. */
#include "shim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "assoc.h"
#include "clock.h"
#include "fuzz_inspect.h"
#include "items.h"
#include "listener.h"
#include "proto_binary.h"
#include "proto_text.h"
#include "settings.h"
#include "slabs.h"
#include "stats.h"
#include "thread.h"
#include "udp.h"

/* Small pages and chunks, so inputs of a few KB reach chunked values,
 * several pages per class, page moves and evictions. */
#define SHIM_CACHE_BYTES (4u * 1024 * 1024)
#define SHIM_PAGE_BYTES (64 * 1024)
#define SHIM_CHUNK_MAX (4 * 1024)

static const struct listener tcp_listener = {
    .transport = TRANSPORT_TCP, .protocol = PROTO_NEGOTIATE, .addr = "tcp:127.0.0.1:0",
};
static const struct listener udp_listener = {
    .transport = TRANSPORT_UDP, .protocol = PROTO_NEGOTIATE, .addr = "udp:127.0.0.1:0",
};

static struct settings initial_settings;
static struct event_base *base;
static bool ready;

/* shutdown.c's would signal the fuzzer: the shutdown command (-A) does
 * nothing here (the link takes this one, see -u in Makefile.am). */
void server_shutdown(void);
void server_shutdown(void) {}

void fuzz_require(bool ok, const char *msg)
{
    if (!ok) {
        fprintf(stderr, "fuzz invariant broken: %s\n", msg);
        abort();
    }
}

void shim_init(void)
{
    if (ready)
        return;
    settings_init();
    settings.maxbytes = SHIM_CACHE_BYTES;
    settings.slab_page_size = SHIM_PAGE_BYTES;
    settings.slab_chunk_size_max = SHIM_CHUNK_MAX;
    settings.item_size_max = 256 * 1024;
    settings.num_threads = 1;
    settings.port = 0;
    settings.shutdown_command = true;   /* served by the no-op above */
    clock_init();
    slabs_init(settings.maxbytes);
    items_init();
    assoc_init((int)item_lock_power() + 1);  /* few buckets: the check walks them all */
    base = event_base_new();
    workers = calloc(1, sizeof(worker));
    if (base == NULL || workers == NULL)
        abort();
    workers[0].base = base;
    pthread_mutex_init(&workers[0].conns_lock, NULL);
    pthread_mutex_init(&workers[0].queue_lock, NULL);
    initial_settings = settings;
    ready = true;
}

static void noop_cb(evutil_socket_t fd, short which, void *arg)
{
    (void)fd;
    (void)which;
    (void)arg;
}

static conn *conn_alloc(size_t rsize)
{
    conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->sfd = -1;
    c->worker = &workers[0];
    c->listener = &tcp_listener;
    snprintf(c->peer, sizeof(c->peer), "127.0.0.1:4242");
    c->rsize = rsize;
    c->rbuf = c->rcurr = rsize ? malloc(rsize) : NULL;
    c->event = event_new(base, -1, 0, noop_cb, c);
    reply_init(&c->out);
    c->state = CONN_READ;
    c->last_cmd_time = current_time;
    /* conn_close unlinks and counts the client out: link and count it in. */
    pthread_mutex_lock(&workers[0].conns_lock);
    c->next = workers[0].conns;
    if (c->next)
        c->next->prev = c;
    workers[0].conns = c;
    pthread_mutex_unlock(&workers[0].conns_lock);
    return c;
}

conn *shim_conn_new(enum conn_protocol proto, bool authenticated)
{
    shim_init();
    conn *c = conn_alloc(0);
    c->protocol = proto;
    c->authenticated = authenticated;
    conn_count_add();
    return c;
}

void shim_conn_close(conn *c)
{
    c->watch_kinds = 0;     /* no logger thread here to take the socket */
    conn_close(c, "client");
}

/* Every byte of the queued reply is read (so ASan sees a value sent from
 * a freed or overrun item), then the reply is dropped as if sent. */
volatile unsigned char shim_sink;
extern volatile unsigned char shim_sink;
static void reply_drain(reply *r)
{
    unsigned char acc = 0;
    for (int i = r->sent_iov; i < r->iovcnt; i++) {
        const unsigned char *p = r->iov[i].iov_base;
        for (size_t k = 0; k < r->iov[i].iov_len; k++)
            acc ^= p[k];
    }
    shim_sink = acc;
    reply_reset(r);
}

static enum parse_result parse_one(conn *c)
{
    if (c->protocol == PROTO_NEGOTIATE)
        c->protocol = (unsigned char)c->rcurr[0] == 0x80 ? PROTO_BINARY : PROTO_ASCII;
    return c->protocol == PROTO_BINARY ? proto_binary_process(c) : proto_text_process(c);
}

/* Moves what the buffer holds of a pending value into its item. */
static void nread_from_buffer(conn *c)
{
    struct pending_store *ps = &c->store;
    while (c->rbytes > 0 && ps->left > 0) {
        uint32_t run;
        char *dest = item_value_span(ps->it, ps->filled, &run);
        size_t room = run < ps->left ? run : ps->left;
        size_t n = c->rbytes < room ? c->rbytes : room;
        memcpy(dest, c->rcurr, n);
        ps->filled += (uint32_t)n;
        ps->left -= n;
        c->rcurr += n;
        c->rbytes -= n;
    }
}

/* Serves what is buffered. Returns false when the connection closed. */
static bool serve(conn *c)
{
    for (;;) {
        switch (c->state) {
        case CONN_READ:
            return true;
        case CONN_PARSE:
            if (c->rbytes == 0) {
                reply_drain(&c->out);
                c->state = CONN_READ;
                return true;
            }
            if (parse_one(c) == PARSE_NEED_MORE) {
                reply_drain(&c->out);
                c->state = CONN_READ;
                return true;
            }
            break;
        case CONN_NREAD:
            nread_from_buffer(c);
            if (c->store.left != 0)
                return true;
            c->state = CONN_PARSE;
            conn_value_in(c);
            break;
        case CONN_SWALLOW: {
            size_t n = c->rbytes < c->swallow_left ? c->rbytes : c->swallow_left;
            c->rcurr += n;
            c->rbytes -= n;
            c->swallow_left -= n;
            if (c->swallow_left != 0)
                return true;
            c->state = CONN_PARSE;
            break;
        }
        case CONN_WRITE:
            reply_drain(&c->out);
            c->state = c->next_state;
            if (c->state == CONN_READ)
                c->state = c->rbytes ? CONN_PARSE : CONN_READ;
            break;
        case CONN_CLOSE:
            reply_drain(&c->out);
            shim_conn_close(c);
            return false;
        }
    }
}

/* One read: the unparsed bytes and the new ones, in a buffer of exactly
 * that size, so a parser reading past what it was given is caught. */
static void deliver(conn *c, const uint8_t *data, size_t n)
{
    char *buf = malloc(c->rbytes + n);
    if (buf == NULL)
        abort();
    if (c->rbytes)
        memcpy(buf, c->rcurr, c->rbytes);
    memcpy(buf + c->rbytes, data, n);
    free(c->rbuf);
    c->rbuf = c->rcurr = buf;
    c->rsize = c->rbytes + n;
    c->rbytes += n;
    c->last_cmd_time = current_time;
    c->seen_data = true;
    if (c->state == CONN_READ)
        c->state = CONN_PARSE;
}

bool shim_feed(conn *c, const uint8_t *data, size_t n, size_t chunk)
{
    if (chunk == 0)
        chunk = n ? n : 1;
    while (n > 0) {
        size_t take = n < chunk ? n : chunk;
        deliver(c, data, take);
        data += take;
        n -= take;
        if (!serve(c))
            return false;
    }
    return true;
}

conn *shim_udp_new(void)
{
    shim_init();
    conn *c = conn_alloc(UDP_READ_BUFFER);
    c->listener = &udp_listener;
    c->udp = calloc(1, sizeof(*c->udp));
    if (c->udp == NULL || !reply_track_breaks(&c->out))
        abort();
    c->protocol = PROTO_NEGOTIATE;
    c->authenticated = settings.auth_file == NULL;
    c->state = CONN_PARSE;
    return c;
}

/* conn.c's udp_drop_partial: what did not fit in the datagram is dropped. */
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

void shim_udp_datagram(conn *c, const uint8_t *data, size_t n)
{
    if (n > c->rsize - 1)
        n = c->rsize - 1;
    memcpy(c->rbuf, data, n);
    if (udp_accept_datagram(c, n) != 1)
        return;
    c->protocol = PROTO_NEGOTIATE;
    while (c->rbytes > 0) {
        switch (c->state) {
        case CONN_PARSE:
            if (reply_pending(&c->out))
                udp_send_reply(c);
            if (parse_one(c) == PARSE_NEED_MORE)
                udp_drop_partial(c);
            break;
        case CONN_NREAD:
            nread_from_buffer(c);
            if (c->store.left == 0) {
                c->state = CONN_PARSE;
                conn_value_in(c);
            }
            break;
        case CONN_SWALLOW: {
            size_t k = c->rbytes < c->swallow_left ? c->rbytes : c->swallow_left;
            c->rcurr += k;
            c->rbytes -= k;
            c->swallow_left -= k;
            if (c->swallow_left == 0)
                c->state = CONN_PARSE;
            break;
        }
        default:
            udp_drop_partial(c);
            break;
        }
    }
    if (c->state != CONN_PARSE)
        udp_drop_partial(c);
    if (reply_pending(&c->out))
        udp_send_reply(c);
}

void shim_after_input(void)
{
    fuzz_crawler_run_pending();
    fuzz_mover_run_pending();
    uint64_t on_lrus = fuzz_items_check();
    uint64_t hashed = fuzz_assoc_check();
    struct items_totals t;
    items_totals(&t);
    fuzz_require(on_lrus == hashed, "the LRUs and the hash table hold different items");
    fuzz_require(t.curr_items == hashed, "curr_items disagrees with the hash table");
    fuzz_items_reset();
    fuzz_require(fuzz_assoc_check() == 0, "items left in the hash table after unlinking all");
    for (unsigned id = 1; id <= slabs_class_count(); id++) {
        struct slab_class_stats s;
        slabs_class_stats(id, &s);
        fuzz_require(s.used_chunks == 0, "a chunk is still in use with no item linked");
    }
    /* Settings commands changed (verbosity, cache_memlimit, automove, ...). */
    settings = initial_settings;
    slabs_set_limit(settings.maxbytes);
}
