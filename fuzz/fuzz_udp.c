/* fuzz/fuzz_udp.c: libFuzzer target for UDP framing and the requests it
 * carries. Input: datagrams, each a 2-byte big-endian length and that many
 * bytes (frame header included), served by one UDP socket's connection. */
#include "shim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static conn *c;
    if (c == NULL)
        c = shim_udp_new();
    while (size >= 2) {
        size_t n = (size_t)data[0] << 8 | data[1];
        data += 2;
        size -= 2;
        if (n > size)
            n = size;
        shim_udp_datagram(c, data, n);
        data += n;
        size -= n;
    }
    shim_after_input();
    return 0;
}
