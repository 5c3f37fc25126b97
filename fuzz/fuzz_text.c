/* fuzz/fuzz_text.c: libFuzzer target for the ASCII text protocol. Input:
 * one byte giving the size of each read (0: all in one read), then the
 * bytes a client sends on one connection. */
#include "shim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t chunk = shim_chunk_from(&data, &size);
    conn *c = shim_conn_new(PROTO_ASCII, true);
    if (shim_feed(c, data, size, chunk))
        shim_conn_close(c);
    shim_after_input();
    return 0;
}
