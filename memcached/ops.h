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
#include "counters.h"

/* Who asks, for probes and stats. Built by the parser once per request. */
typedef struct op_request {
    int connid;                 /* the connection's fd */
    const char *cmd;            /* command as the client named it: "get", "mg", ... */
    int64_t start_ns;           /* request parse time; 0 unless request__done is
                                   enabled or request__sample may sample it */
    struct thread_stats *stats; /* the calling worker's counters */
    bool meta;                  /* a meta command (mg, ms, md, ...): memcached's
                                 * meta rules apply where they differ (what
                                 * is counted, what a failed store leaves) */
    bool binary;                /* a binary-protocol command: memcached counts no
                                 * cmd_set for a store it refuses while reading */
} op_request;

/* Stamps start_ns if request__done is being traced, or if request__sample
 * is and the worker's next sample falls on this request's (first) key:
 * the clock is read only for requests that may be sampled. */
void op_request_start(op_request *rq);

/* For a request of up to nkeys keys (a multi-key get), right after
 * op_request_start: stamps start_ns if the next sample falls within them.
 * Callers may skip it while request__sample is not enabled. */
void op_request_keys(op_request *rq, size_t nkeys);

/* Sets the rate of request__sample (settings.probe_sample_rate; 0: never,
 * at most INT32_MAX); each worker draws its next gap with it. Any thread. */
void op_set_sample_rate(uint32_t rate);

enum store_op { STORE_SET, STORE_ADD, STORE_REPLACE, STORE_APPEND, STORE_PREPEND, STORE_CAS };

enum store_result {
    STORE_STORED,
    STORE_NOT_STORED,       /* add on existing, replace/append/prepend on missing */
    STORE_EXISTS,           /* cas with a stale unique */
    STORE_NOT_FOUND,        /* cas on a missing key */
    STORE_NO_MEMORY,        /* append/prepend could not allocate */
    STORE_BAD_DATA          /* the value block did not end in "\r\n": nothing
                             * stored (found before op_store_ex is called) */
};

enum delete_result { DELETE_DELETED, DELETE_NOT_FOUND, DELETE_EXISTS };

enum arith_result {
    ARITH_OK,
    ARITH_NOT_FOUND,
    ARITH_NON_NUMERIC,      /* the value is not a decimal number below 2^64 */
    ARITH_NO_MEMORY,
    ARITH_EXISTS            /* a CAS was given and did not match */
};

/* Looks a key up for a get-type command (op_get_ex with touch alone).
 * With touch, also sets the exptime (gat). Returns the item with a
 * reference the caller must release, or NULL on a miss. */
item *op_get(const op_request *rq, const char *key, size_t nkey,
             bool touch, rel_time_t exptime);

/* Allocates an item for a storage command, counting refusals in the stats.
 * Returns NULL with *why set when the value cannot be stored; the caller
 * then calls op_store_refused. */
item *op_alloc(const op_request *rq, const char *key, size_t nkey,
               uint32_t client_flags, rel_time_t exptime, uint32_t nbytes,
               enum alloc_failure *why);

/* A storage request whose item op_alloc could not allocate (why): fires
 * request__done ("error") and applies memcached's rule that the failed
 * request must not leave the old value visible -- for a set (asked: the op
 * as the client named it, a binary set carrying a CAS being a set) and for
 * any ms -- except when memcached would have found out while reading the
 * value (ALLOC_NO_MEMORY_CHUNKED), which keeps it. Counts nothing. */
void op_store_refused(const op_request *rq, const char *key, size_t nkey,
                      enum store_op asked, enum alloc_failure why);

/* Deletes a key; a non-zero cas must match (op_delete_ex with a CAS
 * alone). */
enum delete_result op_delete(const op_request *rq, const char *key, size_t nkey,
                             uint64_t cas);

/* ---- the full forms (meta commands: mg, ms, md, me; ma uses op_arith_ex) ---- */

/* What a get may do besides reading the key. */
struct op_get_opts {
    bool no_bump;               /* u: neither bump the item nor mark it fetched */
    bool touch;                 /* T: give a found item touch_exptime */
    rel_time_t touch_exptime;
    rel_time_t recache_before;  /* R: win when the exptime is set and earlier; 0: no R */
    bool recache_sees_touch;    /* R came after T: compare the touched exptime */
    bool vivify;                /* N: on a miss, link an empty item and win */
    rel_time_t vivify_exptime;  /* the created item's exptime */
    bool has_new_cas;           /* E: give a created item new_cas (0 included) */
    uint64_t new_cas;
    bool no_token;              /* hand out no recache token (W): the request
                                 * fails while replying, as memcached's does */
};

/* What a get found: the item as it was before this request, and the
 * stale-while-revalidate verdict. */
struct op_get_result {
    item *it;                   /* a reference the caller releases; NULL on a miss */
    bool created;               /* vivified by this request */
    bool fetched_before;        /* h */
    rel_time_t time_before;     /* l: last access before this request */
    rel_time_t exptime_before;  /* before T (0 for a created item) */
    bool stale;                 /* X: invalidated by md I or a stale ms */
    bool token_sent_before;     /* Z: another client already won the recache */
    bool won;                   /* W: this client won it (and others will see Z) */
};

/* Looks a key up (counting it as a get, or a touch with touch), applying
 * the options under the item lock. Fires command__get (command__touch with
 * touch) and request__done ("hit"/"miss"; a vivified key is a miss). A
 * meta request's touch that misses counts as a get miss and is not counted
 * per prefix; a classic one counts a touch miss. */
void op_get_ex(const op_request *rq, const char *key, size_t nkey,
               const struct op_get_opts *o, struct op_get_result *r);

/* ms: a storage request. Modes map to store_op; a CAS with set or replace
 * is STORE_CAS. */
struct op_store_opts {
    enum store_op op;
    uint64_t req_cas;           /* STORE_CAS: must match (0 included); append/
                                 * prepend: must match when non-zero */
    bool invalidate;            /* I with STORE_CAS: a unique older than the item's
                                 * stores the value anyway, marked stale */
    bool vivify;                /* append/prepend: a miss stores the value as new */
    rel_time_t vivify_exptime;  /* ... with this exptime */
    uint64_t new_cas;           /* E: unique of the stored item; 0: a fresh one */
};
struct op_store_out {
    uint64_t cas;               /* the stored item's unique, 0 if not stored */
    uint32_t size;              /* value length stored (the joined one for append),
                                 * or the request's when not stored */
};
/* Stores a filled item (value ends in "\r\n") as o says; the caller
 * keeps its reference to it and must release it. */
enum store_result op_store_ex(const op_request *rq, item *it, const struct op_store_opts *o,
                              struct op_store_out *out);

/* md: a delete request. */
struct op_delete_opts {
    bool has_cas;               /* C: req_cas must match (0 included) */
    uint64_t req_cas;
    bool invalidate;            /* I: keep the item, marked stale, with a new unique */
    bool touch;                 /* T (with I or x): give the kept item touch_exptime */
    rel_time_t touch_exptime;
    bool remove_value;          /* x: keep the key with an empty value and flags 0 */
    bool has_new_cas;           /* E: give the kept item new_cas (0 included); without
                                 * E, I gives a fresh unique and x keeps the old one */
    uint64_t new_cas;
};
/* A meta request counts as memcached's meta delete does (a CAS mismatch is
 * a delete miss, an invalidation neither hit nor miss); a classic one
 * counts a mismatch as neither and is counted per prefix. Fires
 * command__delete and request__done ("deleted", "not_found", "exists"). */
enum delete_result op_delete_ex(const op_request *rq, const char *key, size_t nkey,
                                const struct op_delete_opts *o);

/* me: an item's metadata, read without bumping it or marking it fetched. */
struct op_item_info {
    rel_time_t exptime, time;   /* 0: never expires; last access */
    uint64_t cas;
    bool fetched, key_binary;
    unsigned clsid;             /* slab class */
    size_t ntotal;              /* bytes the item takes */
};
/* Returns false on a miss. Counts cmd_meta; fires request__done. */
bool op_meta_debug(const op_request *rq, const char *key, size_t nkey,
                   struct op_item_info *info);

/* What incr/decr may do beyond ASCII's (binary and meta requests). */
struct arith_opts {
    uint64_t req_cas;       /* non-zero: must match the item's unique (ARITH_EXISTS) */
    bool autovivify;        /* on a miss, create the key holding `initial` */
    uint64_t initial;       /* value of a created key (the delta is not applied) */
    uint32_t client_flags;  /* flags of a created key */
    rel_time_t exptime;     /* exptime of a created key */
    bool touch;             /* meta T: on success give an existing key touch_exptime */
    rel_time_t touch_exptime;
    bool has_new_cas;       /* meta E: give the result new_cas (0 included) */
    uint64_t new_cas;
};

/* What op_arith_ex reports besides its result. */
struct arith_out {
    uint64_t value;             /* the new value (ARITH_OK), `initial` when created */
    uint64_t cas;               /* the result's unique (ARITH_OK) */
    bool created;               /* the key was autovivified */
    rel_time_t exptime_before;  /* an existing key's exptime before touch */
};

/* op_arith with every output; opts may be NULL. An empty value is
 * ARITH_NON_NUMERIC before a CAS is compared, any other value after it
 * (memcached's order). */
enum arith_result op_arith_ex(const op_request *rq, const char *key, size_t nkey,
                              bool incr, uint64_t delta, const struct arith_opts *opts,
                              struct arith_out *out);

/* incr (incr true) or decr by delta; decr stops at 0, incr wraps at 2^64.
 * opts may be NULL (plain ASCII incr/decr). On ARITH_OK *value_out is the
 * new value and *cas_out its unique. With opts->autovivify a miss creates
 * the key (as memcached does: no incr/decr miss is counted) and returns
 * ARITH_OK with *created set; created may be NULL. */
enum arith_result op_arith(const op_request *rq, const char *key, size_t nkey,
                           bool incr, uint64_t delta, const struct arith_opts *opts,
                           uint64_t *value_out, uint64_t *cas_out, bool *created);

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
