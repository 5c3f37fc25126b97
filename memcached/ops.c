/* ops.c: storage semantics shared by every protocol (memcached's rules for
 * get, set/add/replace/append/prepend/cas, delete, incr/decr, touch and
 * flush_all), with the stats they count and the probes they fire. */
#include "config.h"
#include "ops.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "hash.h"
#include "logger.h"
#include "prefix_stats.h"
#include "probe_keys.h"
#include "probes.h"
#include "settings.h"
#include "slabs.h"
#include "util.h"

/* request__sample, per worker thread: key operations left until the next
 * sample, counting it (1: the next operation is sampled; 0: a gap is to be
 * drawn), the rate that gap was drawn for, and the gaps' generator. Touched
 * only while request__sample is enabled. */
static __thread uint32_t sample_left;
static __thread uint32_t sample_rate_drawn;
static __thread uint64_t sample_rng;

void op_request_start(op_request *rq)
{
    rq->start_ns = probe_request_done_enabled() ||
                   (probe_request_sample_enabled() && sample_left == 1)
                   ? clock_monotonic_ns() : 0;
}

void op_request_keys(op_request *rq, size_t nkeys)
{
    if (rq->start_ns == 0 && probe_request_sample_enabled() && sample_left > 0 &&
        sample_left <= nkeys)
        rq->start_ns = clock_monotonic_ns();
}

void op_set_sample_rate(uint32_t rate)
{
    atomic_store_explicit(&settings.probe_sample_rate, rate, memory_order_relaxed);
}

/* A gap uniform in [1, 2*rate-1]: mean rate, and no period for a periodic
 * request pattern to hide in. Needs rate > 0. */
static uint32_t sample_gap(uint32_t rate)
{
    if (sample_rng == 0)
        sample_rng = ((uint64_t)clock_monotonic_ns() ^ (uint64_t)(uintptr_t)&sample_rng) | 1;
    sample_rng ^= sample_rng << 13;     /* xorshift64 */
    sample_rng ^= sample_rng >> 7;
    sample_rng ^= sample_rng << 17;
    return 1 + (uint32_t)(sample_rng % (2 * (uint64_t)rate - 1));
}

/* True when this key operation of rq is the calling worker's next sample;
 * then *rate is the rate in force. A changed rate draws a new gap at once.
 * A sample due on a request that was not stamped (the rate just changed)
 * moves to the next operation, so every sample has its elapsed time. */
static bool sample_due(const op_request *rq, uint32_t *rate)
{
    uint32_t r = atomic_load_explicit(&settings.probe_sample_rate, memory_order_relaxed);
    if (r != sample_rate_drawn || sample_left == 0) {
        sample_rate_drawn = r;
        sample_left = r ? sample_gap(r) : 0;
    }
    if (r == 0 || --sample_left > 0)
        return false;
    if (rq->start_ns == 0) {
        sample_left = 1;
        return false;
    }
    sample_left = sample_gap(r);
    *rate = r;
    return true;
}

/* Fires request__done (if enabled) and request__sample (if enabled and this
 * operation is the worker's sample) for one key of rq. */
static void fire_request(const op_request *rq, const char *key, size_t nkey,
                         const char *status, int64_t valuelen)
{
    bool done = probe_request_done_enabled();
    uint32_t rate = 0;
    bool sample = probe_request_sample_enabled() && sample_due(rq, &rate);
    if (!done && !sample)
        return;
    probe_key_buf kb;
    const char *k = probe_key(&kb, key, nkey);
    int64_t elapsed = rq->start_ns ? clock_monotonic_ns() - rq->start_ns : 0;
    if (done)
        probe_request_done(rq->connid, rq->cmd, k, (int)nkey, status, valuelen, elapsed);
    if (sample)
        probe_request_sample(rq->connid, rq->cmd, k, (int)nkey, status, valuelen, elapsed,
                             (int)rate);
}
/* Fires the request probes for one key of rq. A macro so that status and
 * valuelen are evaluated only while one of them is enabled. */
#define REQUEST_DONE(rq, key, nkey, status, valuelen) \
    do { \
        if (probe_request_done_enabled() || probe_request_sample_enabled()) \
            fire_request((rq), (key), (nkey), (status), (valuelen)); \
    } while (0)

void op_request_error(const op_request *rq, const char *key, size_t nkey)
{
    REQUEST_DONE(rq, key, nkey, "error", -1);
}

void op_request_done(const op_request *rq, const char *key, size_t nkey,
                     const char *status, int64_t valuelen)
{
    REQUEST_DONE(rq, key, nkey, status, valuelen);
}

/* watch fetchers: one line per key lookup, as memcached logs them. it: the
 * item found (still referenced by the caller), or NULL. */
static void log_lookup(const op_request *rq, const char *key, size_t nkey,
                       enum lookup_outcome outcome, const item *it)
{
    if (logger_wants(LOG_FETCHERS))
        logger_log_get(key, nkey,
                       it ? "found" : outcome == LOOKUP_FLUSHED ? "flushed" :
                       outcome == LOOKUP_EXPIRED ? "expired" : "not_found",
                       it, rq->connid);
}

/* Counts an operation on item it in its slab class's row of stats slabs. */
#define SLAB_OP_INC(ts, it, field) STAT_INC(ts, slab_ops[(it)->slabs_clsid].field)

static inline int value_len(const item *it) { return (int)it->nbytes - 2; }

/* item_get_locked for a lookup whose reference a reply keeps: an item that
 * already has ITEM_REFCOUNT_READERS_MAX references reads as a miss. Other
 * lookups hold theirs briefly, so they cannot take the count past 16 bits. */
static item *get_for_reply_locked(const char *key, size_t nkey, uint32_t hv, bool do_update,
                                  enum lookup_outcome *outcome)
{
    item *it = item_get_locked(key, nkey, hv, do_update, outcome);
    if (it != NULL && __atomic_load_n(&it->refcount, __ATOMIC_RELAXED) > ITEM_REFCOUNT_READERS_MAX) {
        item_release(it);   /* not the last reference: the link holds one */
        *outcome = LOOKUP_MISS;
        return NULL;
    }
    return it;
}

item *op_alloc(const op_request *rq, const char *key, size_t nkey,
               uint32_t client_flags, rel_time_t exptime, uint32_t nbytes,
               enum alloc_failure *why)
{
    /* memcached counts a text or binary store per prefix when it is asked,
     * stored or not; meta's ms is not counted. */
    if (settings.detail_enabled && !rq->meta)
        prefix_stats_record_set(key, nkey);
    item *it = item_alloc(key, nkey, client_flags, exptime, nbytes, why);
    if (it == NULL) {
        if (*why == ALLOC_TOO_LARGE)
            STAT_INC(rq->stats, store_too_large);
        else if (*why == ALLOC_NO_MEMORY)
            STAT_INC(rq->stats, store_no_memory);
        else if (!rq->binary) {   /* memcached read it: a set, not a no_memory,
                                     * of the largest class (binary: neither) */
            STAT_INC(rq->stats, set_cmds);
            STAT_INC(rq->stats, slab_ops[slabs_class_count()].cmd_set);
        }
    }
    return it;
}

/* Builds the item an append or prepend stores: old's value joined with it's.
 * Caller holds the key's item lock. NULL when memory is short. */
static item *join_values(item *old, item *it, bool append)
{
    enum alloc_failure why;
    item *joined = item_alloc_joined(old, append ? old : it, append ? it : old, &why);
    if (joined != NULL)
        item_flags_set(joined, it->it_flags & ITEM_KEY_BINARY);
    return joined;
}

static const char *store_status(enum store_result r)
{
    switch (r) {
    case STORE_STORED: return "stored";
    case STORE_NOT_STORED: return "not_stored";
    case STORE_EXISTS: return "exists";
    case STORE_NOT_FOUND: return "not_found";
    default: return "error";
    }
}

static const char *store_op_name(enum store_op op)
{
    switch (op) {
    case STORE_SET: return "set";
    case STORE_ADD: return "add";
    case STORE_REPLACE: return "replace";
    case STORE_APPEND: return "append";
    case STORE_PREPEND: return "prepend";
    default: return "cas";
    }
}

static void fire_store_probe(const op_request *rq, enum store_op op, item *it,
                             uint64_t cas)
{
    probe_key_buf kb;
    const char *key = probe_key(&kb, item_key(it), it->nkey);
    int nkey = it->nkey, size = value_len(it);
    int64_t c = (int64_t)cas;
    switch (op) {
    case STORE_SET: probe_command_set(rq->connid, key, nkey, size, c); break;
    case STORE_ADD: probe_command_add(rq->connid, key, nkey, size, c); break;
    case STORE_REPLACE: probe_command_replace(rq->connid, key, nkey, size, c); break;
    case STORE_APPEND: probe_command_append(rq->connid, key, nkey, size, c); break;
    case STORE_PREPEND: probe_command_prepend(rq->connid, key, nkey, size, c); break;
    case STORE_CAS: probe_command_cas(rq->connid, key, nkey, size, c); break;
    }
}

static bool store_probe_enabled(enum store_op op)
{
    switch (op) {
    case STORE_SET: return probe_command_set_enabled();
    case STORE_ADD: return probe_command_add_enabled();
    case STORE_REPLACE: return probe_command_replace_enabled();
    case STORE_APPEND: return probe_command_append_enabled();
    case STORE_PREPEND: return probe_command_prepend_enabled();
    case STORE_CAS: return probe_command_cas_enabled();
    }
    return false;
}

enum store_result op_store_ex(const op_request *rq, item *it, const struct op_store_opts *o,
                              struct op_store_out *out)
{
    const char *key = item_key(it);
    size_t nkey = it->nkey;
    uint32_t hv = hash_key(key, nkey);
    enum lookup_outcome outcome;
    enum store_result result = STORE_NOT_STORED;
    enum store_op op = o->op;
    uint64_t req_cas = o->req_cas;
    item *stored = NULL;    /* the item linked by this call */
    bool stale = false;     /* stored by an invalidating CAS older than the item's */
    struct thread_stats *ts = rq->stats;

    /* As memcached, every store tried takes a CAS unique (stored or not)
     * unless the request brings its own. */
    uint64_t new_cas = o->new_cas != 0 ? o->new_cas : item_next_cas();

    item_lock(hv);
    item *old = item_get_locked(key, nkey, hv, false, &outcome);
    switch (op) {
    case STORE_SET:
        stored = it;
        break;
    case STORE_ADD:
        if (old == NULL)
            stored = it;
        break;
    case STORE_REPLACE:
        if (old != NULL)
            stored = it;
        break;
    case STORE_CAS:
        if (old == NULL) {
            result = STORE_NOT_FOUND;
            STAT_INC(ts, cas_misses);
        } else if (item_get_cas(old) == req_cas) {
            stored = it;
            STAT_INC(ts, cas_hits); SLAB_OP_INC(ts, old, cas_hits);
        } else if (o->invalidate && req_cas != 0 && req_cas < item_get_cas(old)) {
            stored = it;
            stale = true;
            STAT_INC(ts, cas_hits); SLAB_OP_INC(ts, old, cas_hits);
        } else {
            result = STORE_EXISTS;
            STAT_INC(ts, cas_badval); SLAB_OP_INC(ts, old, cas_badval);
        }
        break;
    case STORE_APPEND:
    case STORE_PREPEND:
        if (old == NULL) {
            if (o->vivify) {
                item_set_exptime(it, o->vivify_exptime);
                stored = it;
            }
            break;
        }
        if (req_cas != 0 && item_get_cas(old) != req_cas) {
            result = STORE_EXISTS;
            break;
        }
        /* No room for the joined value (memory full, or past -I):
         * memcached answers NOT_STORED and keeps the old value. */
        stored = join_values(old, it, op == STORE_APPEND);
        break;
    }
    if (stored != NULL) {
        if (stale)
            item_flags_set(stored, ITEM_STALE);
        item_set_cas(stored, new_cas);
        if (old != NULL)
            item_replace_locked(old, stored, hv);
        else
            item_link_locked(stored, hv);
        result = STORE_STORED;
        out->cas = item_get_cas(stored);
        out->size = (uint32_t)value_len(stored);
    } else {
        out->cas = 0;
        out->size = (uint32_t)value_len(it);
    }
    item_unlock(hv);

    STAT_INC(ts, set_cmds); SLAB_OP_INC(ts, it, cmd_set);
    log_lookup(rq, key, nkey, outcome, old);
    if (logger_wants(LOG_MUTATIONS))
        logger_log_store(stored ? stored : it, store_status(result), store_op_name(op),
                         rq->connid);
    if (store_probe_enabled(op))
        fire_store_probe(rq, op, it, op == STORE_CAS ? req_cas : out->cas);
    REQUEST_DONE(rq, key, nkey, store_status(result), value_len(it));

    if (old != NULL)
        item_release(old);
    if (stored != NULL && stored != it)
        item_release(stored);   /* the joined item: the link holds it now */
    return result;
}

enum delete_result op_delete(const op_request *rq, const char *key, size_t nkey,
                             uint64_t cas)
{
    struct op_delete_opts o = { .has_cas = cas != 0, .req_cas = cas };
    return op_delete_ex(rq, key, nkey, &o);
}

/* ---- the full forms ---- */

/* Links an empty item for an mg that vivifies a miss. Caller holds
 * item_lock(hv). Returns it with the caller's reference, or NULL. */
static item *vivify_locked(const char *key, size_t nkey, uint32_t hv,
                           const struct op_get_opts *o)
{
    enum alloc_failure why;
    item *it = item_alloc(key, nkey, 0, o->vivify_exptime, 2, &why);
    if (it == NULL)
        return NULL;
    memcpy(item_value(it), "\r\n", 2);
    /* Set before the link, which then takes no unique of its own; and
     * after, for an E0. */
    if (o->has_new_cas)
        item_set_cas(it, o->new_cas);
    item_link_locked(it, hv);
    if (o->has_new_cas)
        item_set_cas(it, o->new_cas);
    if (!o->no_bump)
        item_flags_set(it, ITEM_FETCHED);
    return it;
}

/* op_get_ex's body, inlined into op_get too: there the options are
 * constants, and what they rule out (and the result fields op_get does not
 * return) compile away, keeping the classic get as cheap as before.
 * classic (op_get: no before-state wanted) lets the lookup itself bump the
 * item, one call fewer than marking it afterwards. */
static inline __attribute__((always_inline))
void get_ex(const op_request *rq, const char *key, size_t nkey,
            const struct op_get_opts *o, struct op_get_result *r, bool classic)
{
    uint32_t hv = hash_key(key, nkey);
    enum lookup_outcome outcome;
    /* Locals, stored in *r at the end: what op_get drops compiles away. */
    bool created = false, fetched_before = false, stale = false;
    bool token_sent_before = false, won = false;
    rel_time_t time_before = 0, exptime_before = 0;
    item_lock(hv);
    item *it = get_for_reply_locked(key, nkey, hv, classic && !o->no_bump, &outcome);
    if (it != NULL) {
        fetched_before = (it->it_flags & ITEM_FETCHED) != 0;
        time_before = it->time;
        exptime_before = it->exptime;
        stale = (it->it_flags & ITEM_STALE) != 0;
        token_sent_before = (it->it_flags & ITEM_TOKEN_SENT) != 0;
        if (o->touch)
            item_set_exptime(it, o->touch_exptime);
        if (!token_sent_before && !o->no_token) {
            /* A stale item, or one expiring before R's time, goes to the
             * first client that asks; the rest see Z until it is replaced. */
            rel_time_t exp = (o->touch && o->recache_sees_touch) ? o->touch_exptime
                                                                 : exptime_before;
            if (stale || (o->recache_before != 0 && exp != 0 && exp < o->recache_before))
                won = true;
        }
        if (won)
            item_flags_set(it, ITEM_TOKEN_SENT);
        if (!o->no_bump && !classic)
            item_mark_fetched_locked(it, hv);
    } else if (o->vivify) {
        it = vivify_locked(key, nkey, hv, o);
        if (it != NULL) {
            created = true;
            won = !o->no_token;
            time_before = it->time;
            if (won)
                item_flags_set(it, ITEM_TOKEN_SENT);
        }
    }
    item_unlock(hv);
    *r = (struct op_get_result){
        .it = it,
        .created = created,
        .fetched_before = fetched_before,
        .time_before = time_before,
        .exptime_before = exptime_before,
        .stale = stale,
        .token_sent_before = token_sent_before,
        .won = won,
    };
    log_lookup(rq, key, nkey, outcome, created ? NULL : it);

    struct thread_stats *ts = rq->stats;
    if (o->touch && (it != NULL || !rq->meta)) {
        STAT_INC(ts, touch_cmds);
        if (it != NULL)
            { STAT_INC(ts, touch_hits); SLAB_OP_INC(ts, it, touch_hits); }
        else
            STAT_INC(ts, touch_misses);
    } else {
        STAT_INC(ts, get_cmds);
        if (it != NULL) {
            /* a vivified key too, as memcached counts */
            STAT_INC(ts, get_hits); SLAB_OP_INC(ts, it, get_hits);
            STAT_INC(ts, lru_hits[it->slabs_clsid][item_lru_segment(it) & 3]);
        } else {
            STAT_INC(ts, get_misses);
        }
    }
    if (outcome == LOOKUP_EXPIRED)
        STAT_INC(ts, get_expired);
    else if (outcome == LOOKUP_FLUSHED)
        STAT_INC(ts, get_flushed);
    if (settings.detail_enabled && !rq->meta)
        prefix_stats_record_get(key, nkey, it != NULL);

    bool found = it != NULL && !created;
    if (o->touch ? probe_command_touch_enabled() : probe_command_get_enabled()) {
        probe_key_buf kb;
        const char *k = probe_key(&kb, key, nkey);
        int size = found ? value_len(it) : -1;
        int64_t cas = found ? (int64_t)item_get_cas(it) : 0;
        if (o->touch)
            probe_command_touch(rq->connid, k, (int)nkey, size, cas);
        else
            probe_command_get(rq->connid, k, (int)nkey, size, cas);
    }
    REQUEST_DONE(rq, key, nkey, found ? "hit" : "miss", found ? value_len(it) : -1);
}

void op_get_ex(const op_request *rq, const char *key, size_t nkey,
               const struct op_get_opts *o, struct op_get_result *r)
{
    get_ex(rq, key, nkey, o, r, false);
}

item *op_get(const op_request *rq, const char *key, size_t nkey,
             bool touch, rel_time_t exptime)
{
    struct op_get_opts o = { .touch = touch, .touch_exptime = exptime, .no_token = true };
    struct op_get_result r;
    get_ex(rq, key, nkey, &o, &r, true);
    return r.it;
}


/* Replaces it by an empty item with the same key (md x). Caller holds
 * item_lock(hv). Returns false when no memory is left for it. */
static bool empty_value_locked(item *it, uint32_t hv, const struct op_delete_opts *o)
{
    enum alloc_failure why;
    rel_time_t exptime = o->touch ? o->touch_exptime : 0;
    item *empty = item_alloc(item_key(it), it->nkey, 0, exptime, 2, &why);
    if (empty == NULL)
        return false;
    bool keep_cas = o->has_new_cas || !o->invalidate;
    uint64_t cas = o->has_new_cas ? o->new_cas : item_get_cas(it);
    memcpy(item_value(empty), "\r\n", 2);
    item_flags_set(empty, it->it_flags & ITEM_KEY_BINARY);
    if (o->invalidate)
        item_flags_set(empty, ITEM_STALE);
    if (keep_cas)
        item_set_cas(empty, cas);
    item_replace_locked(it, empty, hv);
    if (keep_cas)
        item_set_cas(empty, cas);   /* a CAS of 0 too */
    item_release(empty);
    return true;
}

enum delete_result op_delete_ex(const op_request *rq, const char *key, size_t nkey,
                                const struct op_delete_opts *o)
{
    uint32_t hv = hash_key(key, nkey);
    enum lookup_outcome outcome;
    enum delete_result result = DELETE_NOT_FOUND;
    bool removed = false;   /* the value went away: a delete hit */
    unsigned clsid = 0;
    if (settings.detail_enabled && !rq->meta)
        prefix_stats_record_delete(key, nkey);  /* found or not */
    item_lock(hv);
    item *it = item_get_locked(key, nkey, hv, false, &outcome);
    if (it != NULL) {
        clsid = it->slabs_clsid;
        if (o->has_cas && item_get_cas(it) != o->req_cas) {
            result = DELETE_EXISTS;
        } else {
            result = DELETE_DELETED;
            if (o->remove_value && empty_value_locked(it, hv, o)) {
                removed = !o->invalidate;
            } else if (o->invalidate && !o->remove_value) {
                item_flags_set(it, ITEM_STALE);
                item_flags_clear(it, ITEM_TOKEN_SENT);
                item_set_cas(it, o->has_new_cas ? o->new_cas : item_next_cas());
                if (o->touch)
                    item_set_exptime(it, o->touch_exptime);
            } else {
                /* A plain delete, or an x that found no memory for the
                 * empty item: the key goes. */
                item_unlink_locked(it, hv);
                removed = true;
            }
        }
    }
    item_unlock(hv);
    log_lookup(rq, key, nkey, outcome, it);
    if (removed && logger_wants(LOG_DELETIONS))
        logger_log_delete(it, rq->cmd);
    if (it != NULL)
        item_release(it);

    if (removed) {
        STAT_INC(rq->stats, delete_hits);
        STAT_INC(rq->stats, slab_ops[clsid].delete_hits);
    } else if (result == DELETE_NOT_FOUND || (rq->meta && result == DELETE_EXISTS))
        STAT_INC(rq->stats, delete_misses);
    if (probe_command_delete_enabled()) {
        probe_key_buf kb;
        probe_command_delete(rq->connid, probe_key(&kb, key, nkey), (int)nkey);
    }
    REQUEST_DONE(rq, key, nkey,
                 result == DELETE_DELETED ? "deleted" :
                 result == DELETE_EXISTS ? "exists" : "not_found", -1);
    return result;
}

bool op_meta_debug(const op_request *rq, const char *key, size_t nkey,
                   struct op_item_info *info)
{
    uint32_t hv = hash_key(key, nkey);
    enum lookup_outcome outcome;
    item_lock(hv);
    item *it = item_get_locked(key, nkey, hv, false, &outcome);
    if (it != NULL) {
        info->exptime = it->exptime;
        info->time = it->time;
        info->cas = item_get_cas(it);
        info->fetched = (it->it_flags & ITEM_FETCHED) != 0;
        info->key_binary = (it->it_flags & ITEM_KEY_BINARY) != 0;
        info->clsid = it->slabs_clsid;
        info->ntotal = item_ntotal(it);
    }
    item_unlock(hv);
    log_lookup(rq, key, nkey, outcome, it);
    if (it != NULL)
        item_release(it);
    STAT_INC(rq->stats, meta_cmds);
    REQUEST_DONE(rq, key, nkey, it ? "hit" : "miss", -1);
    return it != NULL;
}

/* Parses a stored value as memcached's incr does (its safe_strtoull: white
 * space, an optional sign, decimal digits that fit in 64 bits, then white
 * space or the value's end; whatever follows that is not read, so "5 abc"
 * and "5\0abc" count as 5). A minus sign is accepted only when the result,
 * read as a signed number, stays non-negative ("-0"). */
static bool parse_counter(const item *it, uint64_t *out)
{
    if (it->it_flags & ITEM_CHUNKED)
        return false;       /* far too long to be a number */
    return util_parse_u64(item_value((item *)it), (size_t)it->nbytes - 2, UTIL_NUM_SAFE,
                          UINT64_MAX, out);
}

/* Links a new counter item holding value for an autovivifying incr/decr.
 * Caller holds item_lock(hv) and has seen the key missing. */
static enum arith_result create_counter(const char *key, size_t nkey, uint32_t hv,
                                        const struct arith_opts *opts, uint64_t value,
                                        uint64_t *cas_out)
{
    char digits[24];
    int len = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)value);
    enum alloc_failure why;
    item *fresh = item_alloc(key, nkey, opts->client_flags, opts->exptime,
                             (uint32_t)len + 2, &why);
    if (fresh == NULL)
        return ARITH_NO_MEMORY;
    memcpy(item_value(fresh), digits, (size_t)len);
    memcpy(item_value(fresh) + len, "\r\n", 2);
    if (opts->has_new_cas)
        item_set_cas(fresh, opts->new_cas);
    item_link_locked(fresh, hv);
    if (opts->has_new_cas)
        item_set_cas(fresh, opts->new_cas);     /* a CAS of 0 too */
    *cas_out = item_get_cas(fresh);
    item_release(fresh);
    return ARITH_OK;
}

enum arith_result op_arith(const op_request *rq, const char *key, size_t nkey,
                           bool incr, uint64_t delta, const struct arith_opts *opts,
                           uint64_t *value_out, uint64_t *cas_out, bool *created)
{
    struct arith_out out;
    enum arith_result r = op_arith_ex(rq, key, nkey, incr, delta, opts, &out);
    *value_out = out.value;
    *cas_out = out.cas;
    if (created != NULL)
        *created = out.created;
    return r;
}

enum arith_result op_arith_ex(const op_request *rq, const char *key, size_t nkey,
                              bool incr, uint64_t delta, const struct arith_opts *opts,
                              struct arith_out *out)
{
    static const struct arith_opts no_opts;
    uint32_t hv = hash_key(key, nkey);
    enum lookup_outcome outcome;
    enum arith_result result = ARITH_OK;
    uint64_t value = 0;
    if (opts == NULL)
        opts = &no_opts;
    uint64_t req_cas = opts->req_cas;
    bool made = false;
    out->cas = 0;
    out->exptime_before = 0;
    item_lock(hv);
    item *it = item_get_locked(key, nkey, hv, false, &outcome);
    if (it == NULL) {
        if (opts->autovivify) {
            value = opts->initial;
            result = create_counter(key, nkey, hv, opts, value, &out->cas);
            made = result == ARITH_OK;
        } else {
            result = ARITH_NOT_FOUND;
        }
    } else if (it->nbytes <= 2) {
        result = ARITH_NON_NUMERIC;     /* an empty value: before the CAS check, as memcached */
    } else if (req_cas != 0 && item_get_cas(it) != req_cas) {
        result = ARITH_EXISTS;
    } else if (!parse_counter(it, &value)) {
        result = ARITH_NON_NUMERIC;
    } else {
        out->exptime_before = it->exptime;
        rel_time_t exptime = opts->touch ? opts->touch_exptime : it->exptime;

        if (incr)
            value += delta;
        else
            value = delta > value ? 0 : value - delta;
        char digits[24];
        int len = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)value);
        if ((uint32_t)len + 2 <= it->nbytes &&
            __atomic_load_n(&it->refcount, __ATOMIC_ACQUIRE) == 2) {
            /* Nobody else holds it: rewrite in place, padded with spaces
             * to the old length, as memcached does. */
            memcpy(item_value(it), digits, (size_t)len);
            memset(item_value(it) + len, ' ', it->nbytes - 2 - (size_t)len);
            uint64_t next = item_next_cas();    /* taken even with E, as memcached */
            item_set_cas(it, opts->has_new_cas ? opts->new_cas : next);
            item_set_exptime(it, exptime);
            out->cas = item_get_cas(it);
        } else {
            enum alloc_failure why;
            item *fresh = item_alloc(key, nkey, it->client_flags, exptime,
                                     (uint32_t)len + 2, &why);
            if (fresh == NULL) {
                result = ARITH_NO_MEMORY;
            } else {
                memcpy(item_value(fresh), digits, (size_t)len);
                memcpy(item_value(fresh) + len, "\r\n", 2);
                item_flags_set(fresh, it->it_flags & ITEM_KEY_BINARY);
                if (opts->has_new_cas)
                    item_set_cas(fresh, opts->new_cas);
                item_replace_locked(it, fresh, hv);
                if (opts->has_new_cas)
                    item_set_cas(fresh, opts->new_cas);     /* a CAS of 0 too */
                out->cas = item_get_cas(fresh);
                item_release(fresh);
            }
        }
    }
    item_unlock(hv);
    log_lookup(rq, key, nkey, outcome, it);
    if (it != NULL)
        item_release(it);

    struct thread_stats *ts = rq->stats;
    if (made) {
        /* memcached counts neither a hit nor a miss for a created key. */
    } else if (result == ARITH_OK) {
        if (incr)
            STAT_INC(ts, incr_hits);
        else
            STAT_INC(ts, decr_hits);
    } else if (result == ARITH_NOT_FOUND) {
        if (incr)
            STAT_INC(ts, incr_misses);
        else
            STAT_INC(ts, decr_misses);
    }
    if (incr ? probe_command_incr_enabled() : probe_command_decr_enabled()) {
        probe_key_buf kb;
        const char *k = probe_key(&kb, key, nkey);
        int64_t v = result == ARITH_OK ? (int64_t)value : -1;
        if (incr)
            probe_command_incr(rq->connid, k, (int)nkey, v);
        else
            probe_command_decr(rq->connid, k, (int)nkey, v);
    }
    REQUEST_DONE(rq, key, nkey,
                 result == ARITH_OK ? "stored" :
                 result == ARITH_NOT_FOUND ? "not_found" :
                 result == ARITH_EXISTS ? "exists" : "error", -1);
    out->value = value;
    out->created = made;
    return result;
}

/* Unlinks a key's value without counting stats or firing command probes
 * (memcached does not count op_store_refused's removal as a delete). */
static void discard(const op_request *rq, const char *key, size_t nkey)
{
    uint32_t hv = hash_key(key, nkey);
    enum lookup_outcome outcome;
    item_lock(hv);
    item *it = item_get_locked(key, nkey, hv, false, &outcome);
    if (it != NULL)
        item_unlink_locked(it, hv);
    item_unlock(hv);
    log_lookup(rq, key, nkey, outcome, it);
    if (it != NULL)
        item_release(it);
}

void op_store_refused(const op_request *rq, const char *key, size_t nkey,
                      enum store_op asked, enum alloc_failure why)
{
    op_request_error(rq, key, nkey);
    if (why != ALLOC_NO_MEMORY_CHUNKED && (rq->meta || asked == STORE_SET))
        discard(rq, key, nkey);
}

bool op_touch(const op_request *rq, const char *key, size_t nkey, rel_time_t exptime,
              uint32_t *flags_out, uint64_t *cas_out)
{
    uint32_t hv = hash_key(key, nkey);
    enum lookup_outcome outcome;
    item_lock(hv);
    item *it = item_get_locked(key, nkey, hv, true, &outcome);
    int size = -1;
    int64_t cas = 0;
    if (it != NULL) {
        item_set_exptime(it, exptime);
        size = value_len(it);
        cas = (int64_t)item_get_cas(it);
        if (flags_out != NULL)
            *flags_out = it->client_flags;
        if (cas_out != NULL)
            *cas_out = (uint64_t)cas;
    }
    item_unlock(hv);
    log_lookup(rq, key, nkey, outcome, it);
    if (it != NULL)
        item_release(it);

    STAT_INC(rq->stats, touch_cmds);
    if (it != NULL)
        STAT_INC(rq->stats, touch_hits);
    else
        STAT_INC(rq->stats, touch_misses);
    if (probe_command_touch_enabled()) {
        probe_key_buf kb;
        probe_command_touch(rq->connid, probe_key(&kb, key, nkey), (int)nkey, size, cas);
    }
    REQUEST_DONE(rq, key, nkey, it ? "touched" : "not_found", -1);
    return it != NULL;
}

void op_flush_all(const op_request *rq, int64_t delay)
{
    STAT_INC(rq->stats, flush_cmds);
    if (delay > 0)
        items_flush(clock_realtime(delay), false);
    else
        items_flush(0, true);
    probe_flush_all((int)(delay > 0 ? delay : 0));
}
