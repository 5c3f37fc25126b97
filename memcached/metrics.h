/* metrics.h: -o metrics_listen=HOST:PORT, the Prometheus endpoint. One
 * thread of its own (never a worker) accepts HTTP/1.x connections and
 * answers GET or HEAD /metrics with prom.h's text; one request per
 * connection, bounded in size and time. */
#ifndef MC_METRICS_H
#define MC_METRICS_H

#include <stdbool.h>

/* Request bytes (request line and headers) it reads at most: a longer
 * request gets 431. */
#define METRICS_REQUEST_MAX 8192
/* Milliseconds a client has to send its whole request: then 408. */
#define METRICS_READ_TIMEOUT_MS 5000
/* Connections it serves at once; more wait in the listen backlog. */
#define METRICS_CLIENTS 32

/* Takes the option's value, "HOST:PORT", "[IPv6]:PORT" or ":PORT" (every
 * address). Returns false, having kept nothing, when the value is not one
 * of these or HOST does not resolve. Main thread, before metrics_start. */
bool metrics_configure(const char *value);

/* True once metrics_configure accepted a value. */
bool metrics_configured(void);

/* Opens the configured address and starts the endpoint's thread. Returns
 * false after printing why (to stderr) when it cannot. Main thread, once,
 * after the workers are running. */
bool metrics_start(void);

#endif
