/* prom.h: the server's figures in the Prometheus text exposition format
 * 0.0.4, named as the Prometheus memcached exporter names them (see
 * docs/metrics.md). It reads everything through the stats reporter
 * (stats.h) and writes into a caller's buffer; it knows no sockets. */
#ifndef MC_PROM_H
#define MC_PROM_H

#include <stdbool.h>
#include <stddef.h>

/* A growing text buffer. Zero-initialise it; the caller owns data and
 * frees it with prom_buf_free. */
struct prom_buf {
    char *data;         /* the text, not NUL-terminated; NULL while empty */
    size_t len;         /* bytes of text in data */
    size_t cap;         /* bytes allocated at data */
    bool failed;        /* an append ran out of memory: the text is cut */
};

/* Appends every metric (HELP, TYPE, samples; one metric's samples
 * together) to out. Returns false when memory ran out (out->failed).
 * Any thread; takes the locks the stats reporter takes, never a worker's
 * time. */
bool prom_render(struct prom_buf *out);

/* Appends len bytes; on failure sets b->failed and appends nothing more. */
void prom_buf_add(struct prom_buf *b, const char *s, size_t len);

/* Frees b's text and zeroes it. */
void prom_buf_free(struct prom_buf *b);

#endif
