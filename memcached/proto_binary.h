/* proto_binary.h: memcached's binary protocol (24-byte headers, magic 0x80
 * requests, 0x81 replies). It serves one packet at a time from a
 * connection's read buffer through the operations layer. */
#ifndef MC_PROTO_BINARY_H
#define MC_PROTO_BINARY_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol.h"

struct conn;

/* The header fields of the packet being served, kept in the connection
 * (no allocation per request) for replies sent after its value is read. */
struct bin_request {
    uint8_t opcode;         /* as sent: replies echo quiet opcodes as such */
    uint8_t extlen;
    uint16_t keylen;
    uint32_t bodylen;       /* extras + key + value */
    uint32_t opaque;        /* echoed in every reply packet */
    uint64_t cas;           /* the request's CAS field */
    bool quiet;             /* success replies (and get misses) are not sent */
};

/* Serves the next packet in c's read buffer (c->protocol is PROTO_BINARY).
 * PARSE_NEED_MORE when the header, extras or key are not all buffered yet;
 * PARSE_DONE once one packet was consumed (the connection may have moved on
 * to reading a value, discarding a body, writing, or closing). */
enum parse_result proto_binary_process(struct conn *c);

/* The binary protocol for the connection's table: first byte 0x80. */
extern const struct protocol proto_binary_protocol;

#endif
