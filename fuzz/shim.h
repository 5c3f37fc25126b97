/* fuzz/shim.h: the in-memory server every fuzz target drives. One process
 * holds one cache (no listeners, no worker threads, no background threads)
 * and one fake worker; connections are conn.c's own, run by its driver
 * (conn_run) with no event loop. After each input the shim checks the
 * cache's invariants and empties it, so every input starts from the same
 * state. */
#ifndef MC_FUZZ_SHIM_H
#define MC_FUZZ_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"

/* Sets the server up once (4 MB cache of 64 KB pages, chunks of at most
 * 4 KB, values up to 256 KB; one fake worker; the protocol table as main
 * fills it). Idempotent. */
void shim_init(void);

/* One client on a stream connection speaking proto (PROTO_NEGOTIATE: the
 * first byte decides, as with -B auto; authenticated false: -Y/-S login
 * first). Its transport is in memory: each time the driver waits to read,
 * the client sends the next chunk bytes of data[0..n) (0: all at once),
 * and once all is sent it hangs up; each time the driver writes, the
 * client takes at most 256 * chunk bytes (0: all), so long replies wait
 * for writability. Runs the connection until conn.c closes it. Aborts (a
 * finding) when a reply leaves from memory that is not a live object, or
 * what was sent is not whole replies (ASCII: ending in "\r\n"; binary:
 * well-framed packets) whenever the connection is not mid-write. */
void shim_serve_stream(enum conn_protocol proto, bool authenticated,
                       const uint8_t *data, size_t n, size_t chunk);

/* The connection of a UDP socket on 127.0.0.1 (a real one, so conn.c's UDP
 * driver runs as it does in the server), and a client socket beside it.
 * Lives for the process. */
conn *shim_udp_new(void);

/* The client sends the datagram data[0..n) (frame header included; cut at
 * the largest UDP payload) and c serves it; what the parsers see past the
 * datagram is poisoned. Aborts when a reply datagram is not well framed. */
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
