/* fuzz/fuzz_text.c: libFuzzer target for the ASCII protocol, built twice:
 * fuzz-text (its corpus: the text commands) and fuzz-meta (the meta
 * commands mg, ms, md, ma, mn, me; one connection serves both kinds).
 * Input: one byte giving the size of each read (0: all in one read), then
 * the bytes a client sends on one connection before it hangs up. */
#include "shim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t chunk = shim_chunk_from(&data, &size);
    shim_serve_stream(PROTO_ASCII, true, data, size, chunk);
    shim_after_input();
    return 0;
}
