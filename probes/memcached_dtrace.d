/*
 * The memcached SDT provider: the single source of truth for every probe.
 * The build turns this file into memcached_dtrace.h (dtrace -h), a probe
 * object with semaphores (dtrace -G), and probes.h: typed static inline
 * wrappers that call sites use (no-op bodies in a build without dtrace).
 * Format: one probe per line, preceded by its comment. Names, argument order
 * and types are a public interface (../shared/PROBES.md): add, never change.
 * Keys are NUL-terminated at every probe; enumerations are static strings.
 */
provider memcached {
	/* A connection structure is taken for a new client.
	   connid: the connection's file descriptor. */
	probe conn__allocate(int connid);

	/* A connection structure is given back (the client has gone).
	   connid: the file descriptor it had. */
	probe conn__release(int connid);

	/* A connection object is created. conn: its address. */
	probe conn__create(void *conn);

	/* A connection object is destroyed. conn: its address. */
	probe conn__destroy(void *conn);

	/* A new connection is handed to a worker thread.
	   connid: file descriptor; threadid: the worker's index (0-based). */
	probe conn__dispatch(int connid, int64_t threadid);

	/* An item chunk is taken from a slab class.
	   slabclass: class id; slabsize: chunk size in bytes; ptr: the chunk. */
	probe slabs__allocate(int slabclass, int slabsize, void *ptr);

	/* No chunk could be had in a slab class (memory full, nothing evictable).
	   slabclass: class id. */
	probe slabs__allocate__failed(int slabclass);

	/* A slab class gets a new page of memory. slabclass: class id. */
	probe slabs__slabclass__allocate(int slabclass);

	/* A slab class needed a new page and the memory limit refused it.
	   slabclass: class id. */
	probe slabs__slabclass__allocate__failed(int slabclass);

	/* An item chunk goes back to its slab class.
	   slabclass: class id; ptr: the chunk. */
	probe slabs__free(int slabclass, void *ptr);

	/* A hash table lookup. key/keylen: the key (NUL-terminated);
	   depth: how many entries of the bucket chain were looked at. */
	probe assoc__find(const char *key, int keylen, int depth);

	/* A key enters the hash table. key/keylen: the key. */
	probe assoc__insert(const char *key, int keylen);

	/* A key leaves the hash table. key/keylen: the key. */
	probe assoc__delete(const char *key, int keylen);

	/* An item becomes visible (linked into hash table and LRU).
	   key/keylen: its key; size: value length in bytes. */
	probe item__link(const char *key, int keylen, int size);

	/* An item stops being visible (deleted, replaced, expired, evicted).
	   key/keylen: its key; size: value length in bytes. */
	probe item__unlink(const char *key, int keylen, int size);

	/* A reference to an item is dropped (it is freed when the last goes).
	   key/keylen: its key; size: value length in bytes. */
	probe item__remove(const char *key, int keylen, int size);

	/* An item's last-access time is bumped in the LRU.
	   key/keylen: its key; size: value length in bytes. */
	probe item__update(const char *key, int keylen, int size);

	/* A stored item replaces an older one under the same key.
	   oldkey/oldkeylen/oldsize: the old item; newkey/newkeylen/newsize: the
	   new one (sizes are value lengths in bytes). */
	probe item__replace(const char *oldkey, int oldkeylen, int oldsize, const char *newkey, int newkeylen, int newsize);

	/* A request starts processing (one ASCII command line, one meta command
	   or one binary packet). connid: file descriptor; request: the request
	   bytes; size: their length. */
	probe process__command__start(int connid, const void *request, int size);

	/* A request has been answered. connid: file descriptor; response: the
	   first bytes of the reply (may be NULL for a quiet reply); size: the
	   reply length in bytes (0 when nothing is sent). */
	probe process__command__end(int connid, const void *response, int size);

	/* A key is looked up (get, gets, gat, gats, mg, binary get*).
	   connid: file descriptor; key/keylen: the key; size: value length in
	   bytes, -1 on a miss; casid: the item's CAS unique (0 on a miss). */
	probe command__get(int connid, const char *key, int keylen, int size, int64_t casid);

	/* An add is tried. size: value length in bytes; casid: the stored
	   item's CAS unique (0 when not stored). Other arguments as get. */
	probe command__add(int connid, const char *key, int keylen, int size, int64_t casid);

	/* A set is done. Arguments as add. */
	probe command__set(int connid, const char *key, int keylen, int size, int64_t casid);

	/* A replace is tried. Arguments as add. */
	probe command__replace(int connid, const char *key, int keylen, int size, int64_t casid);

	/* A prepend is tried. size: the length of the data prepended. */
	probe command__prepend(int connid, const char *key, int keylen, int size, int64_t casid);

	/* An append is tried. size: the length of the data appended. */
	probe command__append(int connid, const char *key, int keylen, int size, int64_t casid);

	/* A touch (or the touch of a gat) is tried. size: value length in bytes,
	   -1 when the key was not found; casid: the item's CAS unique. */
	probe command__touch(int connid, const char *key, int keylen, int size, int64_t casid);

	/* A compare-and-swap is tried. size: value length in bytes; casid: the
	   CAS unique the client sent. */
	probe command__cas(int connid, const char *key, int keylen, int size, int64_t casid);

	/* An incr is tried. value: the new value, or -1 when it failed. */
	probe command__incr(int connid, const char *key, int keylen, int64_t value);

	/* A decr is tried. value: the new value, or -1 when it failed. */
	probe command__decr(int connid, const char *key, int keylen, int64_t value);

	/* A delete is tried. connid, key/keylen as get. */
	probe command__delete(int connid, const char *key, int keylen);

	/* A key-level operation has finished: one hit per key of a request, the
	   probe a tool needs. cmd: command as the client named it ("get", "mg",
	   "set", ...); key/keylen: the key; status: "hit", "miss", "stored",
	   "not_stored", "exists", "not_found", "deleted", "touched" or "error";
	   valuelen: value bytes sent or stored (-1 when none); elapsed_ns:
	   nanoseconds since the request was parsed. */
	probe request__done(int connid, const char *cmd, const char *key, int keylen, const char *status, int64_t valuelen, int64_t elapsed_ns);

	/* One key-level operation in about `rate`, per worker thread, with the
	   values request__done has for it: the gap between two samples is
	   random, `rate` on average (-o probe_sample_rate, the probe_sample_rate
	   command; 0: never). Multiply counts by `rate` to estimate totals. */
	probe request__sample(int connid, const char *cmd, const char *key, int keylen, const char *status, int64_t valuelen, int64_t elapsed_ns, int rate);

	/* An error reply is sent. kind: "error", "client_error" or
	   "server_error"; message: the text after the reply's first word. */
	probe protocol__error(int connid, const char *kind, const char *message);

	/* A client connection is accepted. transport: "tcp", "udp" or "unix";
	   peer: the client's address as text ("127.0.0.1:5000", "[::1]:5000",
	   the socket path). A UDP socket has no per-client connection: it
	   fires once per socket a worker starts serving, with the socket's own
	   address as peer; conn__read/conn__write then fire per datagram. A
	   client refused at the -c limit gets conn__open, then conn__close
	   with reason "limit". */
	probe conn__open(int connid, const char *transport, const char *peer);

	/* A client connection ends. reason: "client" (it closed or quit),
	   "idle_timeout", "error", "shutdown" (SIGTERM, SIGINT, the shutdown
	   command; after its queued replies are sent), "limit" (refused at
	   -c), "auth". */
	probe conn__close(int connid, const char *reason);

	/* An accept is refused (maxconns_fast) or accepting pauses
	   (-o no_maxconns_fast, or out of descriptors) at the connection limit
	   (-c). curr_conns: client connections open; max_conns: the limit. */
	probe conn__limit(int curr_conns, int max_conns);

	/* A read from a client socket returned data. bytes: how many. */
	probe conn__read(int connid, int64_t bytes);

	/* A write to a client socket sent data. bytes: how many. */
	probe conn__write(int connid, int64_t bytes);

	/* A worker moves on from a connection after -R requests in one event. */
	probe conn__yield(int connid);

	/* A live item is evicted to make room. key/keylen: its key; size: value
	   length in bytes; slabclass: its class; idle_seconds: seconds since it
	   was last accessed; fetched: 1 if it was ever read, else 0. */
	probe item__evict(const char *key, int keylen, int size, int slabclass, int64_t idle_seconds, int fetched);

	/* An expired or flushed item is reclaimed. reason: "expired" or
	   "flushed". Other arguments as evict. */
	probe item__expire(const char *key, int keylen, int size, int slabclass, const char *reason);

	/* A slab page move begins. src_class, dst_class: class ids (0: the
	   global page pool). */
	probe slabs__reassign__start(int src_class, int dst_class);

	/* A slab page move ends. items_moved: live items cleared off the page
	   (moved to a free chunk of the class, or evicted when none was free). */
	probe slabs__reassign__done(int src_class, int dst_class, int64_t items_moved);

	/* The hash table starts growing. old_power, new_power: log2 of buckets. */
	probe assoc__expand__start(int old_power, int new_power);

	/* The hash table has grown. power: log2 of buckets; items: items moved. */
	probe assoc__expand__done(int power, int64_t items);

	/* The LRU crawler starts on a slab class. */
	probe crawler__start(int slabclass);

	/* The LRU crawler finished a class. checked: items looked at;
	   reclaimed: expired or flushed items it freed. */
	probe crawler__done(int slabclass, int64_t checked, int64_t reclaimed);

	/* flush_all is applied. delay: seconds until items are invalidated
	   (0: now). */
	probe flush__all(int delay);
};
