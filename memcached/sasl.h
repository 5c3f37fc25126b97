/* sasl.h: SASL authentication for the binary protocol (-S, configure
 * --enable-sasl, Cyrus SASL). Owns the library set-up (SASL_CONF_PATH,
 * MEMCACHED_SASL_PWDB) and each connection's SASL session; proto_binary.c
 * calls it for the SASL opcodes. Without ENABLE_SASL every function is a
 * stub that reports "not built". */
#ifndef MC_SASL_H
#define MC_SASL_H

#include <stdbool.h>
#include <stddef.h>

struct conn;

/* Longest mechanism name accepted in a SASL auth/step key (memcached's). */
#define SASL_MECH_MAX 32

/* True when this binary was built with SASL support. */
bool sasl_built(void);

/* -S. False when not built (main prints memcached's message). */
bool sasl_enable(void);

/* True after -S: binary commands need a login first. */
bool sasl_enabled(void);

/* Start-up check with -S, memcached's rules: the protocol becomes binary
 * unless -B chose another (refused), and UDP is refused. Returns 0, or the
 * exit status after printing memcached's message. */
int sasl_check_settings(bool protocol_given);

/* Initialises the SASL library (after option checks, with -S); prints
 * memcached's message and exits on failure. */
void sasl_init(void);

/* Outcome of one SASL exchange. */
enum sasl_result {
    SASL_RESULT_OK,         /* authenticated */
    SASL_RESULT_CONTINUE,   /* send *out back with status "auth continue" */
    SASL_RESULT_FAIL        /* wrong credentials, unknown mechanism, ... */
};

/* The space-separated mechanism list for SASL_LIST_MECHS, valid until c's
 * next SASL call; NULL on failure. Resets c to unauthenticated. */
const char *sasl_mechs(struct conn *c, size_t *len);

/* SASL_AUTH (start true, with mechanism mech) or SASL_STEP (start false):
 * feeds the client's data; out and outlen get the server's challenge
 * (valid until c's next SASL call). Resets c to unauthenticated first and sets it
 * authenticated on success. */
enum sasl_result sasl_exchange(struct conn *c, bool start, const char *mech,
                               const char *data, size_t len,
                               const char **out, size_t *outlen);

/* Ends c's SASL session (conn_close). */
void sasl_conn_close(struct conn *c);

#endif
