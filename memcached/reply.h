/* reply.h: a connection's outgoing bytes, queued as an iovec list so that
 * item values are sent straight from the item (the reply holds a reference
 * until they are written) and a batch of pipelined replies leaves in one
 * sendmsg. Header text goes into fixed-size blocks that are reused, so a
 * steady connection allocates nothing per request. Not thread-safe: owned
 * by the connection's worker. */
#ifndef MC_REPLY_H
#define MC_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "items.h"
#include "settings.h"

struct reply_block;
struct reply_budget;

/* The read buffer size memcached's read_buf_mem_limit is counted in. */
#define REPLY_LIMIT_BUFFER_BYTES 16384

typedef struct reply {
    struct iovec *iov;          /* queued output; iov[sent_iov..iovcnt) unsent */
    int iovcnt, iovcap, sent_iov;
    item **items;               /* references released once sent */
    int nitems, itemcap;
    struct reply_block *blocks; /* text arena, first block */
    struct reply_block *cur;    /* block being filled */
    uint64_t queued;            /* bytes queued since the last reset */
    uint64_t mark_queued;       /* queued at reply_mark() */
    const char *mark_first;     /* first byte queued after reply_mark(), or NULL */
    int mark_iovcnt;            /* iovcnt at reply_mark() */
    size_t mark_last_len;       /* length of the iov before the mark, then */
    int mark_nitems;            /* nitems at reply_mark() */
    struct reply_block *mark_block; /* cur and its fill level, then */
    size_t mark_block_used;
    int nobj;                   /* response objects taken (see reply_mark) */
    int mark_nobj;              /* nobj just after reply_mark() */
    int nfreed;                 /* objects [0, nfreed) given back: their
                                 * bytes are sent, as memcached frees each
                                 * response once written */
    uint64_t *obj_at;           /* queued offset where object i starts */
    int objcap;                 /* room in obj_at */
    bool obj_untracked;         /* obj_at failed to grow: the objects go
                                 * back at the reset only */
    uint64_t sent;              /* bytes sent since the last reset */
    struct reply_budget *budget; /* the worker's count of held objects, set at
                                 * the first reply_mark() on that worker */
    bool suppress;              /* noreply: drop text until cleared */
    bool failed;                /* out of memory while queueing: part of
                                 * the reply is missing, so it must not be
                                 * sent (conn_request_end acts on it) */
    uint64_t *breaks;           /* UDP only (else NULL): offsets in queued
                                 * where a new message starts */
    int nbreaks, breakcap;
    /* Writes iov instead of sendmsg when set (TLS): sendmsg's contract,
     * -1 with errno EAGAIN when it would block. */
    ssize_t (*writer)(void *ctx, const struct iovec *iov, int iovcnt);
    void *writer_ctx;
} reply;

void reply_init(reply *r);
/* Releases items and frees every buffer. */
void reply_free(reply *r);

/* Queues n bytes of text (copied). */
void reply_text(reply *r, const char *s, size_t n);
static inline void reply_str(reply *r, const char *s);
/* Queues printf-formatted text. */
void reply_printf(reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns room for up to n bytes of text; reply_commit() says how many
 * were written. Nothing else may be queued in between. */
char *reply_space(reply *r, size_t n);
void reply_commit(reply *r, size_t used);
/* Queues the first len bytes of it's value, sent from the item itself (one
 * iovec per chunk of a chunked item); takes over one reference to it. */
void reply_item_value(reply *r, item *it, uint32_t len);

/* True when bytes are waiting to be sent. */
static inline bool reply_pending(const reply *r) { return r->sent_iov < r->iovcnt; }

/* Sends what it can. Returns 1 when all is sent (and resets the reply),
 * 0 when the socket would block, -1 on a socket error. *written gets the
 * bytes sent by this call. */
int reply_send(reply *r, int fd, int64_t *written);

/* Drops everything queued (releasing items) without sending. */
void reply_reset(reply *r);

/* Marks the start of one request's reply (for process__command__end and
 * reply_rollback) and takes the request's response object.
 *
 * Response objects are memcached's unit for -o read_buf_mem_limit: each
 * request holds one, and each key after the first of an ASCII multiget one
 * more, until its bytes are sent (reply_send) or dropped (reply_reset). The
 * limit is split evenly over the workers; each worker's share, in 16 KB
 * buffers, keeps one buffer for reading and 13 objects per other buffer,
 * counted per worker without a lock. With no limit (0) nothing is counted.
 * Returns false, counting response_obj_oom, when the worker has no object
 * left: memcached then hangs up without sending what is queued. */
static inline bool reply_mark(reply *r);
/* One more response object for the request being served (a multiget's
 * next key); grown_read: the request was read into a grown buffer (a line
 * over 16 KB), where memcached's connection holds none of the worker's
 * 16 KB buffers, so one more buffer of objects is left. False, counting
 * response_obj_oom, when none is left. */
static inline bool reply_take_object(reply *r, bool grown_read);

/* reply_mark's and reply_take_object's work when a limit is set (the
 * inline callers test settings.read_buf_mem_limit first, so with no limit
 * a request pays one load and a branch): take one object; first: the
 * request's own (also notes where its objects start, for rollback). */
bool reply_take_object_counted(reply *r, bool grown_read, bool first);
/* reply_mark's part that notes where the request's reply starts. */
void reply_mark_frame(reply *r);

static inline bool reply_mark(reply *r)
{
    bool ok = true;
    if (__builtin_expect(settings.read_buf_mem_limit != 0, 0))  /* fixed at start-up */
        ok = reply_take_object_counted(r, false, true);
    reply_mark_frame(r);
    return ok;
}

static inline bool reply_take_object(reply *r, bool grown_read)
{
    if (__builtin_expect(settings.read_buf_mem_limit == 0, 1))
        return true;
    return reply_take_object_counted(r, grown_read, false);
}
/* Drops everything queued since reply_mark(), releasing its items and the
 * objects taken since, but not the request's own object. */
void reply_rollback(reply *r);

/* UDP: memcached sends each key's part of a multi-key get reply as a
 * message of its own. Parsers call reply_message_break() where such a part
 * starts; it does nothing unless reply_track_breaks() was called (UDP
 * sockets only). reply_track_breaks returns false when out of memory. */
bool reply_track_breaks(reply *r);
void reply_note_break(reply *r);
static inline void reply_message_break(reply *r)
{
    if (r->breaks)
        reply_note_break(r);
}
static inline int reply_marked_size(const reply *r) { return (int)(r->queued - r->mark_queued); }

static inline void reply_str(reply *r, const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    reply_text(r, s, n);
}

#endif
