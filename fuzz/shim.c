/* fuzz/shim.c: the server state behind every fuzz target and the client
 * side of its connections (see shim.h): an in-memory transport (conn_io)
 * that plays the client of a stream connection, a loopback client for the
 * UDP socket, and the checks of what each sends back. conn.c drives both. */
#define _GNU_SOURCE
#include "shim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sanitizer/asan_interface.h>

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
/* A write wake-up takes this many bytes per byte of the read size. */
#define SHIM_WRITE_PER_READ 256
#define SHIM_UDP_PAYLOAD_MAX 65507     /* the largest UDP datagram over IPv4 */
#define BIN_HEADER_SIZE 24              /* a binary packet's header (the protocol's) */

static const struct listener tcp_listener = {
    .transport = TRANSPORT_TCP, .protocol = PROTO_NEGOTIATE, .addr = "tcp:127.0.0.1:0",
};
static const struct listener udp_listener = {
    .transport = TRANSPORT_UDP, .protocol = PROTO_NEGOTIATE, .addr = "udp:127.0.0.1:0",
};

static struct settings initial_settings;
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
    conn_register_protocol(PROTO_ASCII, &proto_text_protocol);
    conn_register_protocol(PROTO_BINARY, &proto_binary_protocol);
    workers = calloc(1, sizeof(worker));
    if (workers == NULL || (workers[0].base = event_base_new()) == NULL)
        abort();
    pthread_mutex_init(&workers[0].conns_lock, NULL);
    pthread_mutex_init(&workers[0].queue_lock, NULL);
    initial_settings = settings;
    ready = true;
}

/* ---- What a reply stream must look like ---- */

/* Every byte sent is copied through here, so ASan reports a reply sent
 * from a freed or overrun item or buffer where it is read. */
unsigned char shim_sink[4096];
extern unsigned char shim_sink[4096];

/* The bytes one stream connection sent so far, as its client parses them. */
static struct {
    enum conn_protocol proto;   /* what the connection spoke when it wrote */
    uint64_t bytes;             /* sent in all */
    unsigned char tail[2];      /* ASCII: the last two bytes sent */
    unsigned char hdr[BIN_HEADER_SIZE]; /* binary: the header being read */
    size_t hdr_have;            /* ... its bytes so far */
    uint64_t body_left;         /* binary: body bytes of the packet still to come */
} sent;

/* A binary response header: magic, and a body that holds its extras and key. */
static void check_bin_header(const unsigned char *h)
{
    uint32_t keylen = (uint32_t)h[2] << 8 | h[3];
    uint32_t extlen = h[4];
    uint32_t bodylen = (uint32_t)h[8] << 24 | (uint32_t)h[9] << 16 | (uint32_t)h[10] << 8 | h[11];
    fuzz_require(h[0] == 0x81, "a binary reply does not start with the response magic");
    fuzz_require(h[5] == 0, "a binary reply has a data type other than raw bytes");
    fuzz_require(keylen + extlen <= bodylen, "a binary reply's extras and key overrun its body");
    sent.body_left = bodylen;
}

static void sent_bytes(const unsigned char *p, size_t n)
{
    sent.bytes += n;
    if (sent.proto != PROTO_BINARY) {
        if (n >= 2) {
            memcpy(sent.tail, p + n - 2, 2);
        } else if (n == 1) {
            sent.tail[0] = sent.tail[1];
            sent.tail[1] = p[0];
        }
        return;
    }
    while (n > 0) {
        if (sent.body_left > 0) {
            size_t k = n < sent.body_left ? n : (size_t)sent.body_left;
            sent.body_left -= k;
            p += k;
            n -= k;
            continue;
        }
        size_t k = BIN_HEADER_SIZE - sent.hdr_have;
        if (k > n)
            k = n;
        memcpy(sent.hdr + sent.hdr_have, p, k);
        sent.hdr_have += k;
        p += k;
        n -= k;
        if (sent.hdr_have == BIN_HEADER_SIZE) {
            sent.hdr_have = 0;
            check_bin_header(sent.hdr);
        }
    }
}

/* Between writes (the connection is not in CONN_WRITE, or is closed) what
 * was sent is a run of whole replies. */
static void check_sent_whole(void)
{
    if (sent.bytes == 0)
        return;
    if (sent.proto == PROTO_BINARY)
        fuzz_require(sent.hdr_have == 0 && sent.body_left == 0,
                     "a binary reply was sent in part");
    else
        fuzz_require(sent.tail[0] == '\r' && sent.tail[1] == '\n',
                     "an ASCII reply was sent without its \"\\r\\n\"");
}

/* ---- The in-memory transport: the client of one stream connection ---- */

static struct {
    const uint8_t *data;    /* what the client has not sent yet */
    size_t left;
    size_t may_read;        /* of those, what this wake-up may still read */
    size_t may_write;       /* what this wake-up may still write */
} client;

/* conn_io.read: the bytes this wake-up may read; then EAGAIN, or the end
 * of the stream once the client has sent everything. Reading into the
 * read buffer, what lies past the bytes read is poisoned, so a parser
 * that looks past what it was given is caught. */
static ssize_t memory_read(conn *c, char *dest, size_t room)
{
    if (client.may_read == 0) {
        if (client.left == 0)
            return 0;
        errno = EAGAIN;
        return -1;
    }
    size_t n = room < client.may_read ? room : client.may_read;
    bool in_rbuf = dest >= c->rbuf && dest < c->rbuf + c->rsize;
    if (in_rbuf)
        ASAN_UNPOISON_MEMORY_REGION(dest, room);
    memcpy(dest, client.data, n);
    if (in_rbuf)
        ASAN_POISON_MEMORY_REGION(dest + n, (size_t)(c->rbuf + c->rsize - (dest + n)));
    client.data += n;
    client.left -= n;
    client.may_read -= n;
    return (ssize_t)n;
}

/* conn_io.writev: takes what this wake-up may still write (EAGAIN when
 * nothing), reading every byte taken. */
static ssize_t memory_writev(void *ctx, const struct iovec *iov, int iovcnt)
{
    conn *c = ctx;
    /* "watch": no logger thread here to hand the connection to. */
    c->watch_kinds = 0;
    fuzz_require(iovcnt > 0, "a write of nothing");
    if (client.may_write == 0) {
        errno = EAGAIN;
        return -1;
    }
    sent.proto = c->protocol;
    size_t taken = 0;
    for (int i = 0; i < iovcnt && client.may_write > 0; i++) {
        const unsigned char *p = iov[i].iov_base;
        size_t len = iov[i].iov_len < client.may_write ? iov[i].iov_len : client.may_write;
        fuzz_require(p != NULL || len == 0, "a write from a NULL iovec");
        for (size_t off = 0; off < len; off += sizeof(shim_sink)) {
            size_t k = len - off < sizeof(shim_sink) ? len - off : sizeof(shim_sink);
            memcpy(shim_sink, p + off, k);
            sent_bytes(shim_sink, k);
        }
        client.may_write -= len;
        taken += len;
    }
    return (ssize_t)taken;
}

static const struct conn_io memory_io = {
    .read = memory_read,
    .writev = memory_writev,
    .wait_flags = NULL,
};

void shim_serve_stream(enum conn_protocol proto, bool authenticated,
                       const uint8_t *data, size_t n, size_t chunk)
{
    shim_init();
    conn_count_add();   /* the listener's part */
    /* No socket: the event conn.c adds for fd -1 never fires, and nothing
     * but the in-memory transport touches the connection's bytes. */
    conn *c = conn_new(-1, &workers[0], &tcp_listener, "127.0.0.1:4242");
    if (c == NULL) {
        conn_count_sub();
        return;
    }
    c->protocol = proto;
    c->authenticated = authenticated;
    conn_set_io(c, &memory_io);
    memset(&sent, 0, sizeof(sent));
    client.data = data;
    client.left = n;
    for (;;) {
        short which = c->ev_flags;
        client.may_read = 0;
        if (which & EV_READ)
            client.may_read = chunk && chunk < client.left ? chunk : client.left;
        client.may_write = chunk ? chunk * SHIM_WRITE_PER_READ : SIZE_MAX;
        if (!conn_run(c, which))
            break;
        if (c->state != CONN_WRITE)
            check_sent_whole();
    }
    check_sent_whole();
}

/* ---- UDP: a loopback client ---- */

static int udp_client = -1;

/* A UDP socket bound to 127.0.0.1 on a port the kernel picks. */
static int udp_socket(struct sockaddr_in *addr)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    socklen_t len = sizeof(*addr);
    memset(addr, 0, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0 || bind(s, (struct sockaddr *)addr, sizeof(*addr)) != 0 ||
        getsockname(s, (struct sockaddr *)addr, &len) != 0)
        abort();
    return s;
}

conn *shim_udp_new(void)
{
    shim_init();
    struct sockaddr_in server, client_addr;
    int s = udp_socket(&server);
    udp_client = udp_socket(&client_addr);
    if (connect(udp_client, (struct sockaddr *)&server, sizeof(server)) != 0)
        abort();
    conn *c = conn_new_udp(s, &workers[0], &udp_listener);
    if (c == NULL)
        abort();
    return c;
}

/* One datagram back to the client: a header alone (an empty reply), or
 * datagram seq of count of one message, all but the last of it full. */
static void check_udp_reply(const unsigned char *d, size_t n)
{
    fuzz_require(n >= UDP_HEADER_SIZE, "a UDP reply shorter than its frame header");
    unsigned seq = (unsigned)d[2] << 8 | d[3];
    unsigned count = (unsigned)d[4] << 8 | d[5];
    fuzz_require(d[6] == 0 && d[7] == 0, "a UDP reply's reserved field is not 0");
    if (count == 0) {
        fuzz_require(n == UDP_HEADER_SIZE && seq == 0, "an empty UDP reply with a body");
        return;
    }
    fuzz_require(seq < count, "a UDP reply numbered past its datagram count");
    fuzz_require(n > UDP_HEADER_SIZE && n <= UDP_MAX_DATAGRAM,
                 "a UDP reply datagram empty or over 1400 bytes");
    fuzz_require(seq + 1 == count || n == UDP_MAX_DATAGRAM,
                 "a UDP reply datagram other than the last is not full");
}

void shim_udp_datagram(conn *c, const uint8_t *data, size_t n)
{
    if (n > SHIM_UDP_PAYLOAD_MAX)
        n = SHIM_UDP_PAYLOAD_MAX;
    fuzz_require(send(udp_client, data, n, 0) == (ssize_t)n,
                 "the client socket did not send the datagram");
    struct pollfd p = { .fd = c->sfd, .events = POLLIN };
    fuzz_require(poll(&p, 1, 10000) == 1, "the datagram did not reach the server socket");
    /* The datagram lands in rbuf[0..n); parsers may write a NUL at rbuf[n]. */
    ASAN_POISON_MEMORY_REGION(c->rbuf + n + 1, c->rsize - n - 1);
    bool waiting = conn_run(c, EV_READ);
    ASAN_UNPOISON_MEMORY_REGION(c->rbuf, c->rsize);
    fuzz_require(waiting, "a UDP socket's connection closed");
    static unsigned char reply[65536];
    ssize_t k;
    while ((k = recv(udp_client, reply, sizeof(reply), MSG_DONTWAIT)) >= 0)
        check_udp_reply(reply, (size_t)k);
}

/* ---- Between inputs ---- */

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
