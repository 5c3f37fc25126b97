/* udp.c: reading request datagrams and sending replies as numbered
 * datagrams (the frame is described in udp.h). The connection state
 * machine in conn.c decides when; this file only moves bytes. */
#include "config.h"
#include "udp.h"

#include <errno.h>
#include <string.h>

#include "probes.h"
#include "counters.h"
#include "thread.h"

static uint16_t get_be16(const char *p)
{
    return (uint16_t)(((unsigned char)p[0] << 8) | (unsigned char)p[1]);
}

static void put_be16(char *p, uint16_t v)
{
    p[0] = (char)(v >> 8);
    p[1] = (char)(v & 0xff);
}

/* The frame check on the n bytes a datagram left in c->rbuf (n <
 * c->rsize): udp_receive's result. */
static int udp_accept_datagram(conn *c, size_t n);

int udp_receive(conn *c)
{
    struct udp_peer *up = c->udp;
    for (;;) {
        up->addrlen = sizeof(up->addr);
        /* One byte kept free: parsers may write a NUL after the payload. */
        ssize_t n = recvfrom(c->sfd, c->rbuf, c->rsize - 1, 0,
                             (struct sockaddr *)&up->addr, &up->addrlen);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;  /* EAGAIN, or a socket error: wait for the next one */
        }
        STAT_ADD(&c->worker->stats, bytes_read, (uint64_t)n);
        probe_conn_read(c->sfd, (int64_t)n);
        return udp_accept_datagram(c, (size_t)n);
    }
}

static int udp_accept_datagram(conn *c, size_t n)
{
    /* Like memcached: a header alone, or a request announced as more
     * than one datagram, is dropped without a reply. */
    if (n <= UDP_HEADER_SIZE || get_be16(c->rbuf + 4) != 1)
        return 0;
    c->udp->request_id = get_be16(c->rbuf);
    c->udp->answered = false;
    c->udp->empty_pending = false;
    c->rcurr = c->rbuf + UDP_HEADER_SIZE;
    c->rbytes = n - UDP_HEADER_SIZE;
    return 1;
}

/* Walks a reply's iovecs as one byte stream. */
struct reply_cursor {
    const reply *r;
    int iov;
    size_t off;     /* into r->iov[iov] */
};

static size_t cursor_copy(struct reply_cursor *cur, char *dest, size_t n)
{
    size_t done = 0;
    while (done < n && cur->iov < cur->r->iovcnt) {
        const struct iovec *v = &cur->r->iov[cur->iov];
        size_t avail = v->iov_len - cur->off;
        size_t take = n - done < avail ? n - done : avail;
        memcpy(dest + done, (const char *)v->iov_base + cur->off, take);
        done += take;
        cur->off += take;
        if (cur->off == v->iov_len) {
            cur->iov++;
            cur->off = 0;
        }
    }
    return done;
}

/* Sends the next len bytes at cur as one message. */
static void send_message(conn *c, struct reply_cursor *cur, uint64_t len)
{
    const size_t room = UDP_MAX_DATAGRAM - UDP_HEADER_SIZE;
    uint64_t count = (len + room - 1) / room;
    /* The sequence fields are 16 bits: a message that cannot be numbered
     * (over 91 MB) is not sent. */
    if (count > UINT16_MAX) {
        while (len > 0) {
            char skip[4096];
            len -= cursor_copy(cur, skip, len < sizeof(skip) ? len : sizeof(skip));
        }
        return;
    }
    char dgram[UDP_MAX_DATAGRAM];
    bool sending = true;
    for (uint64_t seq = 0; seq < count; seq++) {
        /* Every datagram but the last is full, as memcached sends them. */
        size_t chunk = len < room ? (size_t)len : room;
        put_be16(dgram, c->udp->request_id);
        put_be16(dgram + 2, (uint16_t)seq);
        put_be16(dgram + 4, (uint16_t)count);
        put_be16(dgram + 6, 0);
        cursor_copy(cur, dgram + UDP_HEADER_SIZE, chunk);
        len -= chunk;
        if (!sending)
            continue;   /* keep the cursor moving past what is dropped */
        ssize_t n;
        do {
            n = sendto(c->sfd, dgram, UDP_HEADER_SIZE + chunk, 0,
                       (const struct sockaddr *)&c->udp->addr, c->udp->addrlen);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            sending = false;    /* socket buffer full or peer gone: UDP may lose it */
            continue;
        }
        STAT_ADD(&c->worker->stats, bytes_written, (uint64_t)n);
        probe_conn_write(c->sfd, (int64_t)n);
    }
}

/* A header alone, datagram count 0: memcached's empty reply. */
static void send_empty(conn *c)
{
    char dgram[UDP_HEADER_SIZE];
    put_be16(dgram, c->udp->request_id);
    put_be16(dgram + 2, 0);
    put_be16(dgram + 4, 0);
    put_be16(dgram + 6, 0);
    ssize_t n;
    do {
        n = sendto(c->sfd, dgram, sizeof(dgram), 0, (const struct sockaddr *)&c->udp->addr,
                   c->udp->addrlen);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        STAT_ADD(&c->worker->stats, bytes_written, (uint64_t)n);
        probe_conn_write(c->sfd, (int64_t)n);
    }
}

void udp_note_empty(conn *c)
{
    struct udp_peer *up = c->udp;
    if (!up->answered && !reply_pending(&c->out))
        up->empty_pending = true;
}

void udp_end_datagram(conn *c, bool dropped)
{
    struct udp_peer *up = c->udp;
    if (up->empty_pending && !up->answered && !dropped) {
        send_empty(c);
        up->answered = true;
    }
    up->empty_pending = false;
}

void udp_send_reply(conn *c)
{
    reply *r = &c->out;
    uint64_t total = 0;
    for (int i = r->sent_iov; i < r->iovcnt; i++)
        total += r->iov[i].iov_len;
    if (total > 0) {
        udp_end_datagram(c, false);     /* an empty reply before it goes first */
        c->udp->answered = true;
    }
    struct reply_cursor cur = { r, r->sent_iov, 0 };
    uint64_t at = 0;
    /* One message per part (see reply_message_break); empty parts send
     * nothing. */
    for (int b = 0; b <= r->nbreaks; b++) {
        uint64_t end = b < r->nbreaks ? r->breaks[b] : total;
        if (end > total)
            end = total;
        if (end > at) {
            send_message(c, &cur, end - at);
            at = end;
        }
    }
    reply_reset(r);
}
