/* slabs.h: item memory. Memory is taken from the system a page (1 MB) at a
 * time, up to the -m limit, and each page is cut into equal chunks of one
 * size class; classes grow by -f from -n up to slab_chunk_max. Items larger
 * than the largest chunk are chained over several chunks (items.h). All
 * functions are thread-safe. */
#ifndef MC_SLABS_H
#define MC_SLABS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLAB_CLASS_MAX 64   /* class ids run 1 .. slabs_largest_class() */

/* Builds the class table. limit: bytes of item memory (-m). */
void slabs_init(size_t limit);

/* -L, and -e on a fresh start: gives every class its first page now, as
 * memcached preallocates. Call after slabs_init() (and slabs_use_region()),
 * before any allocation. False when the limit has no room for a page in
 * every class (memcached then refuses to start). */
bool slabs_preallocate(void);

/* The class whose chunks fit size bytes, the largest class if no chunk
 * does (the item is chunked), or 0 if size exceeds -I. */
unsigned slabs_clsid(size_t size);

/* Chunk size of a class. */
size_t slabs_chunk_size(unsigned id);

/* Number of classes; the last, largest one has chunks of slab_chunk_max. */
unsigned slabs_class_count(void);

/* A chunk of class id for size bytes, or NULL when the memory limit is
 * reached and the class has no free chunk. */
void *slabs_alloc(size_t size, unsigned id);

/* Like slabs_alloc, but only from memory the class already has (a free
 * or uncut chunk): never takes a new page. */
void *slabs_alloc_existing(size_t size, unsigned id);

/* Gives a chunk back to its class: ptr must be a chunk of one of class
 * id's pages, allocated with at least size bytes and not freed since
 * (memcached-debug asserts all three). */
void slabs_free(void *ptr, size_t size, unsigned id);

/* Changes the memory limit at run time (cache_memlimit). Lowering it
 * releases no page at once: pages the automover moves to the global pool
 * are freed while more is taken than the new limit. */
void slabs_set_limit(size_t limit);

/* Bytes taken from the system for items so far. */
size_t slabs_mem_used(void);

/* Moving a page between classes (driven by slab_mover.c). */
struct slab_page_move {
    char *page;             /* the page being emptied */
    size_t chunk_size;      /* its chunks' size in the source class */
    unsigned chunks;        /* chunks in the page */
    unsigned uncut_from;    /* chunks from this index on were never used */
};
/* Starts emptying a page of class src: its free chunks are taken off the
 * free list and chunks freed from now on are held back. Returns 1 when
 * started, 0 when src has no spare page (fewer than two) or a move is
 * already under way, -1 for a bad class. */
int slabs_move_begin(unsigned src, struct slab_page_move *move);
/* Once every chunk of the page is free: hands the page to class dst, or
 * with dst 0 to the global page pool (where it is freed instead while
 * more memory is taken than the limit allows). */
void slabs_move_finish(unsigned src, unsigned dst, struct slab_page_move *move);
/* Moves a page from the global page pool to class dst (slabs reassign 0
 * dst): 1 when moved, 0 when the pool has fewer than two pages, -1 for a
 * bad class. */
int slabs_pool_move(unsigned dst);
/* Pages in the global page pool (stat slab_global_page_pool). A class
 * that needs a page takes one from the pool before any new memory. */
size_t slabs_pool_pages(void);
/* True once a class was refused a page for the limit, or the limit was
 * lowered under the memory taken (memcached's mem_limit_reached). */
bool slabs_limit_reached(void);

/* Warm restart: take pages from the region [base, base+size) instead of
 * malloc. Call after slabs_init(), before any allocation. */
void slabs_use_region(char *base, size_t size);
/* -e, once the classes have their pages (slabs_preallocate() on a fresh
 * start, the restored ones after a restart): every other page of the
 * region goes to the global page pool, as memcached carves the whole file
 * at start. total_malloced becomes the limit on a fresh start and 0 after
 * a restore (what memcached reports). Call before any allocation. */
void slabs_region_prefill(bool restored);
/* Pages of the region in use so far; *owners[n] is page n's class. */
size_t slabs_region_pages(const uint8_t **owners);
/* Gives region page n back to class id on restore; returns its address. */
char *slabs_restore_page(size_t n, unsigned id);
/* On restore: a free chunk (requested 0) goes on the free list; a live
 * one is counted with its size. */
void slabs_restore_chunk(unsigned id, void *chunk, size_t requested);

/* Per-class numbers for stats slabs. */
struct slab_class_stats {
    size_t chunk_size;
    unsigned chunks_per_page;
    uint64_t total_pages, total_chunks, free_chunks, used_chunks;
    uint64_t mem_requested;
};
void slabs_class_stats(unsigned id, struct slab_class_stats *out);

#endif
