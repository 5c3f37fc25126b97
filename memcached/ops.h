/* ops.h: the protocol-independent operations layer. Every protocol parser
 * (text, meta, binary) turns a request into these calls; they apply the
 * storage semantics, count the stats, and fire the command probes and
 * request__done, so every protocol fires the same probes the same way.
 * Keys need not be NUL-terminated; they are at most KEY_MAX_LENGTH bytes. */
#ifndef MC_OPS_H
#define MC_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "items.h"
#include "stats.h"

/* Who asks, for probes and stats. Built by the parser once per request. */
typedef struct op_request {
    int connid;                 /* the connection's fd */
    const char *cmd;            /* command as the client named it: "get", "mg", ... */
    int64_t start_ns;           /* request parse time; 0 unless request__done is enabled */
    struct thread_stats *stats; /* the calling worker's counters */
} op_request;

/* Stamps start_ns if request__done is being traced. */
void op_request_start(op_request *rq);

enum store_op { STORE_SET, STORE_ADD, STORE_REPLACE, STORE_APPEND, STORE_PREPEND, STORE_CAS };

enum store_result {
    STORE_STORED,
    STORE_NOT_STORED,       /* add on existing, replace/append/prepend on missing */
    STORE_EXISTS,           /* cas with a stale unique */
    STORE_NOT_FOUND,        /* cas on a missing key */
    STORE_NO_MEMORY         /* append/prepend could not allocate */
};

enum delete_result { DELETE_DELETED, DELETE_NOT_FOUND, DELETE_EXISTS };

enum arith_result {
    ARITH_OK,
    ARITH_NOT_FOUND,
    ARITH_NON_NUMERIC,      /* the value is not a decimal number below 2^64 */
    ARITH_NO_MEMORY,
    ARITH_EXISTS            /* a CAS was given and did not match */
};

/* Looks a key up for a get-type command. With touch, also sets the exptime
 * (gat). Returns the item with a reference the caller must release, or
 * NULL on a miss. */
item *op_get(const op_request *rq, const char *key, size_t nkey,
             bool touch, rel_time_t exptime);

/* Allocates an item for a storage command, counting refusals in the stats.
 * Returns NULL with *why set when the value cannot be stored. */
item *op_alloc(const op_request *rq, const char *key, size_t nkey,
               uint32_t client_flags, rel_time_t exptime, uint32_t nbytes,
               enum alloc_failure *why);

/* Stores a filled item (value ends in "\r\n"). req_cas is the client's
 * unique for STORE_CAS (or 0). *cas_out gets the stored item's unique.
 * The caller keeps its reference to it and must release it. */
enum store_result op_store(const op_request *rq, item *it, enum store_op op,
                           uint64_t req_cas, uint64_t *cas_out);

/* Deletes a key; a non-zero cas must match. */
enum delete_result op_delete(const op_request *rq, const char *key, size_t nkey,
                             uint64_t cas);

/* What incr/decr may do beyond ASCII's (binary and meta requests). */
struct arith_opts {
    uint64_t req_cas;       /* non-zero: must match the item's unique (ARITH_EXISTS) */
    bool autovivify;        /* on a miss, create the key holding `initial` */
    uint64_t initial;       /* value of a created key (the delta is not applied) */
    uint32_t client_flags;  /* flags of a created key */
    rel_time_t exptime;     /* exptime of a created key */
};

/* incr (incr true) or decr by delta; decr stops at 0, incr wraps at 2^64.
 * opts may be NULL (plain ASCII incr/decr). On ARITH_OK *value_out is the
 * new value and *cas_out its unique. With opts->autovivify a miss creates
 * the key (as memcached does: no incr/decr miss is counted) and returns
 * ARITH_OK with *created set; created may be NULL. */
enum arith_result op_arith(const op_request *rq, const char *key, size_t nkey,
                           bool incr, uint64_t delta, const struct arith_opts *opts,
                           uint64_t *value_out, uint64_t *cas_out, bool *created);

/* Unlinks a key's value without counting stats or firing command probes:
 * a set whose new value could not be allocated must not leave the old
 * value visible, and memcached does not count that as a delete. */
void op_discard(const op_request *rq, const char *key, size_t nkey);

/* Sets a key's exptime. Returns true if the key was found; then the
 * item's flags and unique go to *flags_out and *cas_out (either may be NULL). */
bool op_touch(const op_request *rq, const char *key, size_t nkey, rel_time_t exptime,
              uint32_t *flags_out, uint64_t *cas_out);

/* Applies flush_all with a delay in seconds (<= 0: now). */
void op_flush_all(const op_request *rq, int64_t delay);

/* Fires request__done for a request that failed before reaching the
 * storage layer (status "error"). */
void op_request_error(const op_request *rq, const char *key, size_t nkey);

/* Fires request__done for a request served outside the storage layer (the
 * debug build's debugsleep): status must be a static string; valuelen is
 * -1 when no value moved. */
void op_request_done(const op_request *rq, const char *key, size_t nkey,
                     const char *status, int64_t valuelen);

#endif
