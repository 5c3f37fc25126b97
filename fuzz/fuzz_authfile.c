/* fuzz/fuzz_authfile.c: libFuzzer target for the -Y password file and the
 * ASCII login checked against it. Input: the file's contents, then (after
 * the first 0xff byte, if any) a read-size byte and what an unauthenticated
 * client sends. The file is a memfd, read through its /proc path as -Y
 * reads a file. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "authfile.h"
#include "settings.h"
#include "shim.h"

static int fd = -1;
static char path[64];

static void write_file(const void *data, size_t n)
{
    if (ftruncate(fd, 0) != 0 || (n && pwrite(fd, data, n, 0) != (ssize_t)n))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    shim_init();
    if (fd < 0) {
        fd = memfd_create("fuzz-authfile", 0);
        if (fd < 0)
            abort();
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    /* Every input starts from the same table: one known entry. */
    write_file("fuzz:fuzz\n", 10);
    if (authfile_load(path) != AUTHFILE_OK)
        abort();

    const uint8_t *sep = memchr(data, 0xff, size);
    size_t file_len = sep ? (size_t)(sep - data) : size;
    write_file(data, file_len);
    authfile_load(path);    /* on failure the known table stays, as on SIGHUP */
    authfile_check((const char *)data, file_len / 2, (const char *)data + file_len / 2,
                   file_len - file_len / 2);
    if (sep) {
        const uint8_t *req = sep + 1;
        size_t n = size - file_len - 1;
        size_t chunk = shim_chunk_from(&req, &n);
        settings.auth_file = path;
        shim_serve_stream(PROTO_ASCII, false, req, n, chunk);
    }
    shim_after_input();
    return 0;
}
