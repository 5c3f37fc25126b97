/* fuzz/fuzz_binary.c: libFuzzer target for the binary protocol. Input: one
 * byte giving the size of each read (0: all in one read), then the packets
 * a client sends on one connection. The first byte's low bit chooses -B
 * binary or -B auto negotiation; in a SASL build its second bit chooses a
 * server with -S, where the client must log in (PLAIN, user fuzz@fuzz,
 * password fuzz) before anything but the SASL opcodes is served. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sasl.h"
#include "shim.h"

/* -S for the whole process: a PLAIN-only configuration and a password file
 * in a private directory. Connections opened as authenticated skip it. */
static void sasl_setup(void)
{
    static bool done;
    if (done || !sasl_built())
        return;
    done = true;
    char dir[] = "/tmp/fuzz-sasl-XXXXXX";
    if (mkdtemp(dir) == NULL)
        abort();
    char path[64];
    snprintf(path, sizeof(path), "%s/memcached.conf", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        abort();
    fputs("mech_list: plain\n", f);
    fclose(f);
    setenv("SASL_CONF_PATH", dir, 1);
    snprintf(path, sizeof(path), "%s/pwdb", dir);
    f = fopen(path, "w");
    if (f == NULL)
        abort();
    fputs("fuzz@fuzz:fuzz\n", f);
    fclose(f);
    setenv("MEMCACHED_SASL_PWDB", path, 1);
    shim_init();
    if (!sasl_enable())
        abort();
    sasl_init();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sasl_setup();
    size_t chunk = shim_chunk_from(&data, &size);
    bool login = sasl_built() && (chunk & 2);
    shim_serve_stream((chunk & 1) ? PROTO_NEGOTIATE : PROTO_BINARY, !login, data, size,
                      chunk >> 2);
    shim_after_input();
    return 0;
}
