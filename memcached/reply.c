/* reply.c: the outgoing iovec queue and its text arena, and each worker's
 * count of response objects against -o read_buf_mem_limit. */
#include "config.h"
#include "reply.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "counters.h"
#include "settings.h"

#define BLOCK_BYTES 16384
#define IOV_INITIAL 64
#define ITEMS_INITIAL 32
#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

/* memcached's accounting unit for read_buf_mem_limit (measured on 1.6.45):
 * a worker's share is counted in 16 KB buffers, one of which the reading
 * connection holds; every other buffer carries 13 response objects. */
#define LIMIT_BUFFER_BYTES REPLY_LIMIT_BUFFER_BYTES
#define OBJECTS_PER_BUFFER 13

/* One per worker thread, in its thread-local storage: only that worker
 * touches it, and its connections are all closed (giving their objects
 * back) on it before it ends. */
struct reply_budget {
    int64_t held;               /* objects held by the worker's replies */
    int64_t cap;                /* most it may hold */
    bool ready;                 /* cap computed */
};

static __thread struct reply_budget worker_budget;

static struct reply_budget *budget_here(void)
{
    struct reply_budget *b = &worker_budget;
    if (!b->ready) {
        int threads = settings.num_threads > 0 ? settings.num_threads : 1;
        uint64_t share = settings.read_buf_mem_limit / (uint64_t)threads;
        uint64_t buffers = share < LIMIT_BUFFER_BYTES ? 1 : share / LIMIT_BUFFER_BYTES;
        b->cap = (int64_t)(buffers - 1) * OBJECTS_PER_BUFFER;
        b->ready = true;
    }
    return b;
}

/* Gives back every object r holds. */
static __attribute__((noinline, cold)) void objects_release(reply *r)
{
    if (r->nobj > r->nfreed && r->budget)
        r->budget->held -= r->nobj - r->nfreed;
    r->nobj = r->mark_nobj = r->nfreed = 0;
    r->sent = 0;
    r->obj_untracked = false;
}

/* Gives back the objects whose bytes are all sent: object i ends where
 * object i + 1 starts; the last one ends with the reply (reset). */
static __attribute__((noinline, cold)) void objects_sent(reply *r, uint64_t n)
{
    r->sent += n;
    if (r->nobj <= r->nfreed + 1 || r->obj_untracked)
        return;
    while (r->nfreed + 1 < r->nobj && r->obj_at[r->nfreed + 1] <= r->sent) {
        r->nfreed++;
        r->budget->held--;
    }
}

/* Records where the object being taken starts (when obj_at cannot grow,
 * the reply's objects wait for the reset). */
static void object_note_start(reply *r)
{
    if (r->obj_untracked)
        return;
    if (r->nobj >= r->objcap) {
        int cap = r->objcap > 0 ? r->objcap * 2 : ITEMS_INITIAL;
        uint64_t *n = realloc(r->obj_at, (size_t)cap * sizeof(*n));
        if (n == NULL) {
            r->obj_untracked = true;
            return;
        }
        r->obj_at = n;
        r->objcap = cap;
    }
    r->obj_at[r->nobj] = r->queued;
}

static bool take_object(reply *r, bool grown_read)
{
    if (r->breaks)
        return true;    /* UDP (one datagram at a time) */
    if (r->budget == NULL)
        r->budget = budget_here();
    if (r->budget->held >= r->budget->cap + (grown_read ? OBJECTS_PER_BUFFER : 0)) {
        atomic_fetch_add_explicit(&global_stats.response_obj_oom, 1, memory_order_relaxed);
        return false;
    }
    object_note_start(r);
    r->budget->held++;
    r->nobj++;
    return true;
}

bool reply_take_object_counted(reply *r, bool grown_read, bool first)
{
    bool ok = take_object(r, grown_read);
    if (first)
        r->mark_nobj = r->nobj;
    return ok;
}

struct reply_block {
    struct reply_block *next;
    size_t size;                /* bytes of data[] */
    size_t used;
    char data[];
};

static struct reply_block *block_new(size_t size)
{
    struct reply_block *b = malloc(sizeof(*b) + size);
    if (b) {
        b->next = NULL;
        b->size = size;
        b->used = 0;
        atomic_fetch_add_explicit(&global_stats.response_obj_count, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&global_stats.response_obj_bytes, (int64_t)size,
                                  memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&global_stats.response_obj_oom, 1, memory_order_relaxed);
    }
    return b;
}

static void block_free(struct reply_block *b)
{
    if (b == NULL)
        return;
    atomic_fetch_sub_explicit(&global_stats.response_obj_count, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&global_stats.response_obj_bytes, (int64_t)b->size,
                              memory_order_relaxed);
    free(b);
}

void reply_init(reply *r)
{
    memset(r, 0, sizeof(*r));
}

void reply_reset(reply *r)
{
    for (int i = 0; i < r->nitems; i++)
        item_release(r->items[i]);
    r->nitems = 0;
    r->iovcnt = r->sent_iov = 0;
    r->queued = r->mark_queued = 0;
    r->mark_first = NULL;
    r->mark_iovcnt = r->mark_nitems = 0;
    r->mark_last_len = 0;
    r->mark_block = NULL;
    r->failed = false;
    r->nbreaks = 0;
    if (__builtin_expect(settings.read_buf_mem_limit != 0, 0))
        objects_release(r);     /* with no limit no object is ever taken */
    /* Keep the first standard block; free oversized or extra ones, so an
     * idle connection holds one block at most. */
    struct reply_block *b = r->blocks, *keep = NULL;
    while (b) {
        struct reply_block *next = b->next;
        if (keep == NULL && b->size == BLOCK_BYTES) {
            keep = b;
            keep->used = 0;
            keep->next = NULL;
        } else {
            block_free(b);
        }
        b = next;
    }
    r->blocks = r->cur = keep;
}

void reply_free(reply *r)
{
    reply_reset(r);
    free(r->obj_at);
    free(r->breaks);
    block_free(r->blocks);
    free(r->iov);
    free(r->items);
    memset(r, 0, sizeof(*r));
}

static bool iov_room(reply *r)
{
    if (r->iovcnt < r->iovcap)
        return true;
    int cap = r->iovcap ? r->iovcap * 2 : IOV_INITIAL;
    struct iovec *n = realloc(r->iov, (size_t)cap * sizeof(*n));
    if (n == NULL) {
        r->failed = true;
        return false;
    }
    r->iov = n;
    r->iovcap = cap;
    return true;
}

static void queue(reply *r, const char *p, size_t n)
{
    if (r->mark_first == NULL)
        r->mark_first = p;
    r->queued += n;
    if (r->iovcnt > r->sent_iov) {
        struct iovec *last = &r->iov[r->iovcnt - 1];
        if ((const char *)last->iov_base + last->iov_len == p) {
            last->iov_len += n;
            return;
        }
    }
    if (!iov_room(r))
        return;
    r->iov[r->iovcnt].iov_base = (void *)p;
    r->iov[r->iovcnt].iov_len = n;
    r->iovcnt++;
}

#ifdef MC_DEBUG_BUILD
/* memcached-debug's fault hook for tests: with MC_DEBUG_REPLY_BLOCKS=N in
 * the environment, a reply never holds more than N text blocks, as if
 * malloc had failed for the next one. */
static bool debug_block_refused(const reply *r)
{
    /* -1: not read yet; 0: no limit. Workers may read it first at once;
     * each computes the same value. */
    static _Atomic int limit_cache = -1;
    int limit = atomic_load_explicit(&limit_cache, memory_order_relaxed);
    if (limit < 0) {
        const char *e = getenv("MC_DEBUG_REPLY_BLOCKS");
        limit = e ? atoi(e) : 0;
        atomic_store_explicit(&limit_cache, limit, memory_order_relaxed);
    }
    if (limit <= 0)
        return false;
    int held = 0;
    for (const struct reply_block *b = r->blocks; b; b = b->next)
        held++;
    return held >= limit;
}
#else
static inline bool debug_block_refused(const reply *r) { (void)r; return false; }
#endif

char *reply_space(reply *r, size_t n)
{
    if (r->cur && r->cur->size - r->cur->used >= n)
        return r->cur->data + r->cur->used;
    /* Move to the next block, making one if needed. */
    struct reply_block *next = r->cur ? r->cur->next : r->blocks;
    if (next == NULL || next->size < n) {
        struct reply_block *b = debug_block_refused(r) ? NULL
                              : block_new(n > BLOCK_BYTES ? n : BLOCK_BYTES);
        if (b == NULL) {
            r->failed = true;
            return NULL;
        }
        if (r->cur) {
            b->next = r->cur->next;
            r->cur->next = b;
        } else {
            b->next = r->blocks;
            r->blocks = b;
        }
        next = b;
    }
    next->used = 0;
    r->cur = next;
    return next->data;
}

void reply_commit(reply *r, size_t used)
{
    if (used == 0 || r->suppress)
        return;
    char *p = r->cur->data + r->cur->used;
    r->cur->used += used;
    queue(r, p, used);
}

void reply_text(reply *r, const char *s, size_t n)
{
    if (r->suppress || n == 0)
        return;
    char *p = reply_space(r, n);
    if (p == NULL)
        return;
    memcpy(p, s, n);
    reply_commit(r, n);
}

void reply_printf(reply *r, const char *fmt, ...)
{
    if (r->suppress)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(buf)) {
        char *p = reply_space(r, (size_t)n + 1);
        if (p == NULL)
            return;
        va_start(ap, fmt);
        vsnprintf(p, (size_t)n + 1, fmt, ap);
        va_end(ap);
        reply_commit(r, (size_t)n);
        return;
    }
    reply_text(r, buf, (size_t)n);
}

void reply_item_value(reply *r, item *it, uint32_t len)
{
    if (r->nitems == r->itemcap) {
        int cap = r->itemcap ? r->itemcap * 2 : ITEMS_INITIAL;
        item **n = realloc(r->items, (size_t)cap * sizeof(*n));
        if (n == NULL) {
            r->failed = true;
            item_release(it);
            return;
        }
        r->items = n;
        r->itemcap = cap;
    }
    r->items[r->nitems++] = it;
    if (r->suppress)
        return;
    for (uint32_t offset = 0; offset < len;) {
        uint32_t run;
        const char *data = item_value_span(it, offset, &run);
        if (run > len - offset)
            run = len - offset;
        queue(r, data, run);
        offset += run;
    }
}

int reply_send(reply *r, int fd, int64_t *written)
{
    *written = 0;
    while (r->sent_iov < r->iovcnt) {
        struct msghdr msg;
        memset(&msg, 0, sizeof(msg));
        int count = r->iovcnt - r->sent_iov;
        if (count > IOV_MAX)
            count = IOV_MAX;
        msg.msg_iov = &r->iov[r->sent_iov];
        msg.msg_iovlen = (size_t)count;
        ssize_t n = r->writer ? r->writer(r->writer_ctx, msg.msg_iov, count)
                              : sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            if (errno == EINTR)
                continue;
            return -1;
        }
        *written += n;
        if (__builtin_expect(settings.read_buf_mem_limit != 0, 0))  /* else no object is taken */
            objects_sent(r, (uint64_t)n);
        /* Advance past what was written. */
        size_t left = (size_t)n;
        while (left > 0 && r->sent_iov < r->iovcnt) {
            struct iovec *v = &r->iov[r->sent_iov];
            if (left >= v->iov_len) {
                left -= v->iov_len;
                r->sent_iov++;
            } else {
                v->iov_base = (char *)v->iov_base + left;
                v->iov_len -= left;
                left = 0;
            }
        }
    }
    reply_reset(r);
    return 1;
}

void reply_mark_frame(reply *r)
{
    r->mark_queued = r->queued;
    r->mark_first = NULL;
    r->mark_iovcnt = r->iovcnt;
    r->mark_last_len = r->iovcnt > r->sent_iov ? r->iov[r->iovcnt - 1].iov_len : 0;
    r->mark_nitems = r->nitems;
    r->mark_block = r->cur;
    r->mark_block_used = r->cur ? r->cur->used : 0;
}

void reply_rollback(reply *r)
{
    for (int i = r->mark_nitems; i < r->nitems; i++)
        item_release(r->items[i]);
    r->nitems = r->mark_nitems;
    r->iovcnt = r->mark_iovcnt;
    if (r->iovcnt > r->sent_iov)
        r->iov[r->iovcnt - 1].iov_len = r->mark_last_len;
    r->cur = r->mark_block;
    if (r->cur)
        r->cur->used = r->mark_block_used;
    r->queued = r->mark_queued;
    r->mark_first = NULL;
    if (r->nobj > r->mark_nobj) {
        int freed = r->nfreed < r->mark_nobj ? r->nfreed : r->mark_nobj;
        if (r->budget)
            r->budget->held -= (r->nobj - r->nfreed) - (r->mark_nobj - freed);
        r->nfreed = freed;
        r->nobj = r->mark_nobj;
    }
    while (r->nbreaks > 0 && r->breaks[r->nbreaks - 1] > r->queued)
        r->nbreaks--;
}

bool reply_track_breaks(reply *r)
{
    if (r->breaks == NULL) {
        r->breaks = malloc(16 * sizeof(*r->breaks));
        if (r->breaks == NULL)
            return false;
        r->breakcap = 16;
        r->nbreaks = 0;
    }
    return true;
}

void reply_note_break(reply *r)
{
    if (r->nbreaks > 0 && r->breaks[r->nbreaks - 1] == r->queued)
        return;     /* nothing since the last one */
    if (r->nbreaks == r->breakcap) {
        uint64_t *more = realloc(r->breaks, (size_t)r->breakcap * 2 * sizeof(*more));
        if (more == NULL)
            return; /* the parts just stay in one message */
        r->breaks = more;
        r->breakcap *= 2;
    }
    r->breaks[r->nbreaks++] = r->queued;
}
