/* udp.h: memcached's UDP framing for a connection that serves a UDP
 * socket. Every datagram starts with an 8-byte header of four big-endian
 * 16-bit fields: request id, sequence number, datagram count, reserved.
 * Requests must fit in one datagram; each request's reply goes back as one
 * message split over datagrams of at most UDP_MAX_DATAGRAM bytes (header
 * included), numbered 0..n-1 of n and carrying the request's id. */
#ifndef MC_UDP_H
#define MC_UDP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conn.h"

#define UDP_HEADER_SIZE 8
#define UDP_MAX_DATAGRAM 1400           /* memcached's limit, header included */
#define UDP_READ_BUFFER (65536 + 8)     /* the largest datagram, and a NUL */

/* Who sent the datagram being served, and what it has been answered. */
struct udp_peer {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint16_t request_id;
    bool answered;          /* a datagram went back for this request datagram */
    bool empty_pending;     /* its first request ended with an empty reply (see
                             * udp_note_empty), not sent yet */
};

/* Reads one datagram into c->rbuf and points rcurr/rbytes at its payload.
 * Returns 1 for a request, 0 for a datagram dropped as memcached drops it
 * (8 bytes or fewer, or a datagram count other than 1: multi-datagram
 * requests are not supported), -1 when none is waiting. */
int udp_receive(conn *c);

/* Sends everything queued in c->out to the current sender as one message,
 * then empties c->out. Datagrams the socket refuses are dropped. A pending
 * empty reply goes first. */
void udp_send_reply(conn *c);

/* A request ended with a reply of no bytes: a binary quiet command that
 * had nothing to say, or quit. memcached answers such a request with a
 * header alone (datagram count 0), but only when it comes before any other
 * reply to the same request datagram; a noreply or meta q request sends
 * nothing at all. Needs: nothing of this request queued in c->out. */
void udp_note_empty(conn *c);

/* The request datagram is done: sends the pending empty reply, if any.
 * dropped: the connection hung up on it (bad magic byte and the like),
 * which drops the empty reply, as memcached drops it. */
void udp_end_datagram(conn *c, bool dropped);

#endif
