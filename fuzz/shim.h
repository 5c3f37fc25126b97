/* fuzz/shim.h: the in-memory server every fuzz target drives. One process
 * holds one cache (no listeners, no worker threads, no background threads);
 * a connection is a conn with no socket whose reads are handed to it from
 * memory, served by the real parsers and operations layer. After each input
 * the shim checks the cache's invariants and empties it, so every input
 * starts from the same state. */
#ifndef MC_FUZZ_SHIM_H
#define MC_FUZZ_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"

/* Sets the server up once (4 MB cache of 64 KB pages, chunks of at most
 * 4 KB, values up to 256 KB; one fake worker). Idempotent. */
void shim_init(void);

/* A client connection speaking proto (PROTO_NEGOTIATE: the first byte
 * decides, as with -B auto); authenticated false: -Y/-S login first. */
conn *shim_conn_new(enum conn_protocol proto, bool authenticated);

/* Hands c the bytes data[0..n) as reads of at most chunk bytes each (0:
 * one read) and serves every request they complete; replies are walked
 * byte by byte and dropped. Returns false once the connection closed (the
 * rest of data is ignored; c is then freed). */
bool shim_feed(conn *c, const uint8_t *data, size_t n, size_t chunk);

/* The client hangs up: frees c (as conn_close does). */
void shim_conn_close(conn *c);

/* A UDP socket's connection; shim_udp_datagram serves one datagram as
 * udp_receive would have read it (frame header included); replies go
 * through the real framing and are dropped by the socket. */
conn *shim_udp_new(void);
void shim_udp_datagram(conn *c, const uint8_t *data, size_t n);

/* After an input: runs a pending crawl or page move, checks that every
 * item is linked once with no reference left and that the LRUs, the hash
 * table and the counters agree, then empties the cache and restores the
 * settings. Aborts (a finding) when an invariant fails. */
void shim_after_input(void);

/* Splits fuzz input into a leading read-size byte and the rest. */
static inline size_t shim_chunk_from(const uint8_t **data, size_t *n)
{
    if (*n == 0)
        return 0;
    size_t chunk = **data;
    (*data)++;
    (*n)--;
    return chunk;
}

#endif
