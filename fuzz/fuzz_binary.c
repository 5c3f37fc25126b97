/* fuzz/fuzz_binary.c: libFuzzer target for the binary protocol. Input: one
 * byte giving the size of each read (0: all in one read), then the packets
 * a client sends on one connection. The first input byte's low bit after
 * that chooses -B binary (packets only) or -B auto negotiation. */
#include "shim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t chunk = shim_chunk_from(&data, &size);
    conn *c = shim_conn_new((chunk & 1) ? PROTO_NEGOTIATE : PROTO_BINARY, true);
    if (shim_feed(c, data, size, chunk >> 1))
        shim_conn_close(c);
    shim_after_input();
    return 0;
}
