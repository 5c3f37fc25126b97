/* probe_keys.h: NUL-terminated keys for probes (PROBES.md rule 3). Call
 * only under a probe's _enabled() check: it copies. */
#ifndef MC_PROBE_KEYS_H
#define MC_PROBE_KEYS_H

#include <string.h>

#include "items.h"

/* A stack buffer big enough for any key and its NUL. */
typedef struct { char bytes[KEY_MAX_LENGTH + 1]; } probe_key_buf;

/* Copies key[0..nkey) into buf, NUL-terminated; returns buf's bytes. */
static inline const char *probe_key(probe_key_buf *buf, const char *key, size_t nkey)
{
    if (nkey > KEY_MAX_LENGTH)
        nkey = KEY_MAX_LENGTH;
    memcpy(buf->bytes, key, nkey);
    buf->bytes[nkey] = '\0';
    return buf->bytes;
}

#endif
