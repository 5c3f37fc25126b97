/* slabs.c: slab classes and their pages. Each class keeps a free list of
 * chunks and cuts new chunks from its newest page; pages come from malloc
 * (or the -e memory file) while the memory limit allows. */
#include "config.h"
#include "slabs.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "items.h"
#include "probes.h"
#include "settings.h"
#include "util.h"

#define CHUNK_ALIGN 8

struct free_chunk { struct free_chunk *next; };

struct slab_class {
    size_t size;                /* chunk size in bytes */
    unsigned perpage;           /* chunks per page */
    struct free_chunk *free_list;
    uint64_t free_count;        /* chunks on free_list */
    char *cut_next;             /* next uncut chunk of the newest page */
    unsigned cut_left;          /* uncut chunks left in it */
    uint64_t pages;
    char **page_list;           /* every page of the class */
    size_t page_list_size;
    uint64_t requested;         /* bytes asked for by live chunks */
    char *moving;               /* page being emptied by the mover, or NULL */
    pthread_mutex_t lock;
};

static struct slab_class classes[SLAB_CLASS_MAX];
static unsigned largest;        /* highest class id: chunks of slab_chunk_max */
static _Atomic size_t mem_limit;
static _Atomic size_t mem_used;
/* Set once a class was refused a page for the limit (or the limit was
 * lowered under what is taken): from then on the automover may give free
 * pages back (slabs_limit_reached). */
static _Atomic bool limit_reached;

/* The global page pool (memcached's class 0): empty pages taken from
 * classes by page moves, handed to the next class that needs a page
 * before any new memory is taken. Guarded by pool_lock. */
static char **pool;
static size_t pool_count, pool_size;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

/* With -e, pages come from one file-backed region instead of malloc;
 * region_class[n] is the class owning page n (0: not yet used). */
static char *region;
static size_t region_pages, region_next;
static uint8_t *region_class;
static pthread_mutex_t region_lock = PTHREAD_MUTEX_INITIALIZER;

/* A fresh page: from the region when there is one, else malloc. */
static char *page_take(unsigned id)
{
    if (region == NULL)
        return malloc((size_t)settings.slab_page_size);
    char *page = NULL;
    pthread_mutex_lock(&region_lock);
    if (region_next < region_pages) {
        region_class[region_next] = (uint8_t)id;
        page = region + region_next * (size_t)settings.slab_page_size;
        region_next++;
    }
    pthread_mutex_unlock(&region_lock);
    return page;
}

static void page_set_owner(char *page, unsigned id)
{
    if (region != NULL)
        region_class[(size_t)(page - region) / (size_t)settings.slab_page_size] = (uint8_t)id;
}

void slabs_init(size_t limit)
{
    size_t size = sizeof(item) + (size_t)settings.chunk_size;
    size_t max = (size_t)settings.slab_chunk_size_max;
    unsigned id = 1;
    atomic_store(&mem_limit, limit);

    const uint32_t *given = settings.slab_sizes;    /* -o slab_sizes, else -f steps */
    while (id < SLAB_CLASS_MAX - 2 && (given ? *given != 0 : size <= max / settings.factor)) {
        if (given)
            size = *given++;
        if (size % CHUNK_ALIGN)
            size += CHUNK_ALIGN - size % CHUNK_ALIGN;
        classes[id].size = size;
        classes[id].perpage = (unsigned)(settings.slab_page_size / size);
        size = (size_t)(size * settings.factor);
        id++;
    }
    classes[id].size = max;
    classes[id].perpage = (unsigned)(settings.slab_page_size / max);
    largest = id;
    for (unsigned i = 1; i <= largest; i++) {
        pthread_mutex_init(&classes[i].lock, NULL);
        if (settings.verbose > 1)
            fprintf(stderr, "slab class %3u: chunk size %9zu perslab %7u\n",
                    i, classes[i].size, classes[i].perpage);
    }
    /* memcached's test hook: start the count of memory taken at a faked
     * value (no memory is behind it), to exercise limits above 4 GB. */
    const char *initial = getenv("T_MEMD_INITIAL_MALLOC");
    if (initial != NULL) {
        uint64_t v;     /* strtoull's syntax; a bad or overflowing number is ignored */
        if (util_parse_u64(initial, UTIL_NUL_TERMINATED, UTIL_NUM_STRTOL, SIZE_MAX, &v))
            atomic_store(&mem_used, (size_t)v);
    }
}

static bool grow_class(struct slab_class *p, unsigned id);

bool slabs_preallocate(void)
{
    size_t page = (size_t)settings.slab_page_size;
    for (unsigned id = 1; id <= largest; id++) {
        pthread_mutex_lock(&classes[id].lock);
        /* Within the limit: grow_class would grant a first page over it. */
        bool ok = classes[id].pages != 0 ||
                  (atomic_load(&mem_used) + page <= atomic_load(&mem_limit) &&
                   grow_class(&classes[id], id));
        pthread_mutex_unlock(&classes[id].lock);
        if (!ok)
            return false;
    }
    return true;
}

unsigned slabs_clsid(size_t size)
{
    if (size == 0 || size > (size_t)settings.item_size_max)
        return 0;
    if (size > classes[largest].size)
        return largest;     /* chunked: see items.h */
    unsigned lo = 1, hi = largest;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (classes[mid].size >= size)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

size_t slabs_chunk_size(unsigned id) { return classes[id].size; }
unsigned slabs_class_count(void) { return largest; }

/* Charges bytes to the limit; false when it would go over. */
static bool mem_charge(size_t bytes)
{
    size_t used = atomic_load(&mem_used);
    do {
        if (used + bytes > atomic_load(&mem_limit))
            return false;
    } while (!atomic_compare_exchange_weak(&mem_used, &used, used + bytes));
    return true;
}

/* Records page in p's page list. Caller holds p->lock. */
static bool page_list_add(struct slab_class *p, char *page)
{
    if (p->pages == p->page_list_size) {
        size_t n = p->page_list_size ? p->page_list_size * 2 : 16;
        char **bigger = realloc(p->page_list, n * sizeof(char *));
        if (bigger == NULL)
            return false;
        p->page_list = bigger;
        p->page_list_size = n;
    }
    p->page_list[p->pages++] = page;
    return true;
}

/* A page from the pool, or NULL when it is empty. */
static char *pool_take(void)
{
    char *page = NULL;
    pthread_mutex_lock(&pool_lock);
    if (pool_count > 0)
        page = pool[--pool_count];
    pthread_mutex_unlock(&pool_lock);
    return page;
}

/* Puts an empty page in the pool, or gives it back to the system while
 * more is taken than the limit allows. */
static void pool_put(char *page)
{
    size_t size = (size_t)settings.slab_page_size;
    if (region == NULL && atomic_load(&mem_used) > atomic_load(&mem_limit)) {
        free(page);
        atomic_fetch_sub(&mem_used, size);
        return;
    }
    pthread_mutex_lock(&pool_lock);
    if (pool_count == pool_size) {
        size_t n = pool_size ? pool_size * 2 : 16;
        char **bigger = realloc(pool, n * sizeof(char *));
        if (bigger == NULL) {
            pthread_mutex_unlock(&pool_lock);
            if (region == NULL) {
                free(page);
                atomic_fetch_sub(&mem_used, size);
            }
            return;
        }
        pool = bigger;
        pool_size = n;
    }
    page_set_owner(page, 0);
    pool[pool_count++] = page;
    pthread_mutex_unlock(&pool_lock);
}

size_t slabs_pool_pages(void)
{
    pthread_mutex_lock(&pool_lock);
    size_t n = pool_count;
    pthread_mutex_unlock(&pool_lock);
    return n;
}

bool slabs_limit_reached(void) { return atomic_load(&limit_reached); }

/* Gives class p a fresh page to cut from: from the pool if it has one,
 * else new memory within the limit. Caller holds p->lock. */
static bool grow_class(struct slab_class *p, unsigned id)
{
    size_t page = (size_t)settings.slab_page_size;
    char *pooled = pool_take();     /* zeroed by slabs_move_finish */
    if (pooled != NULL) {
        page_set_owner(pooled, id);
        if (!page_list_add(p, pooled)) {
            pool_put(pooled);
            probe_slabs_slabclass_allocate_failed((int)id);
            return false;
        }
        p->cut_next = pooled;
        p->cut_left = p->perpage;
        probe_slabs_slabclass_allocate((int)id);
        return true;
    }
    /* The first page of a class is always granted, as memcached does, so
     * that every class can hold at least one item (not from a region,
     * which has only -m bytes). */
    if (!mem_charge(page)) {
        atomic_store(&limit_reached, true);
        if (p->pages != 0 || region != NULL) {
            probe_slabs_slabclass_allocate_failed((int)id);
            return false;
        }
        atomic_fetch_add(&mem_used, page);
    }
    char *mem = page_take(id);
    if (mem == NULL || !page_list_add(p, mem)) {
        if (region == NULL)
            free(mem);
        atomic_fetch_sub(&mem_used, page);
        probe_slabs_slabclass_allocate_failed((int)id);
        return false;
    }
    p->cut_next = mem;
    p->cut_left = p->perpage;
    probe_slabs_slabclass_allocate((int)id);
    return true;
}

static void *alloc_chunk(size_t size, unsigned id, bool may_grow);

void *slabs_alloc(size_t size, unsigned id) { return alloc_chunk(size, id, true); }
void *slabs_alloc_existing(size_t size, unsigned id) { return alloc_chunk(size, id, false); }

static void *alloc_chunk(size_t size, unsigned id, bool may_grow)
{
    struct slab_class *p = &classes[id];
    void *chunk = NULL;

    pthread_mutex_lock(&p->lock);
    if (p->free_list != NULL) {
        chunk = p->free_list;
        p->free_list = p->free_list->next;
        p->free_count--;
    } else if (p->cut_left > 0 || (may_grow && grow_class(p, id))) {
        chunk = p->cut_next;
        p->cut_next += p->size;
        p->cut_left--;
    }
    if (chunk != NULL)
        p->requested += size;
    pthread_mutex_unlock(&p->lock);

    if (chunk == NULL) {
        probe_slabs_allocate_failed((int)id);
        return NULL;
    }
    item_flags_store(chunk, 0);      /* the page mover may be reading it */
    probe_slabs_allocate((int)id, (int)p->size, chunk);
    return chunk;
}

#ifndef NDEBUG
/* True when ptr is a chunk of one of p's pages. Caller holds p->lock. */
static bool chunk_of_class(const struct slab_class *p, const char *ptr)
{
    size_t span = (size_t)p->size * p->perpage;
    for (uint64_t i = 0; i < p->pages; i++) {
        const char *page = p->page_list[i];
        if (ptr >= page && ptr < page + span)
            return (size_t)(ptr - page) % p->size == 0;
    }
    return false;
}
#endif

void slabs_free(void *ptr, size_t size, unsigned id)
{
    assert(id >= 1 && id <= largest && "freeing into no class");
    struct slab_class *p = &classes[id];
    probe_slabs_free((int)id, ptr);
    pthread_mutex_lock(&p->lock);
    assert(chunk_of_class(p, ptr) && "freeing a chunk into a class that does not own it");
    assert(!(item_flags(ptr) & ITEM_SLABBED) && "chunk freed twice");
    assert(size <= p->size && p->requested >= size && "freeing more than was allocated");
    p->requested -= size;
    item_flags_store(ptr, ITEM_SLABBED);
    if (p->moving != NULL && (char *)ptr >= p->moving &&
        (char *)ptr < p->moving + settings.slab_page_size) {
        /* Its page is being moved: the mover collects it. */
        pthread_mutex_unlock(&p->lock);
        return;
    }
    struct free_chunk *fc = ptr;
    fc->next = p->free_list;
    p->free_list = fc;
    p->free_count++;
    pthread_mutex_unlock(&p->lock);
}

void slabs_set_limit(size_t limit)
{
    atomic_store(&mem_limit, limit);
    if (atomic_load(&mem_used) > limit)
        atomic_store(&limit_reached, true);
}
size_t slabs_mem_used(void) { return atomic_load(&mem_used); }

void slabs_class_stats(unsigned id, struct slab_class_stats *out)
{
    struct slab_class *p = &classes[id];
    pthread_mutex_lock(&p->lock);
    out->chunk_size = p->size;
    out->chunks_per_page = p->perpage;
    out->total_pages = p->pages;
    out->total_chunks = p->pages * p->perpage;
    out->free_chunks = p->free_count + p->cut_left;
    out->used_chunks = out->total_chunks - out->free_chunks;
    out->mem_requested = p->requested;
    pthread_mutex_unlock(&p->lock);
}

/* ---- page moves (see slab_mover.c) ---- */

static void page_to_class(unsigned dst, char *page);

int slabs_move_begin(unsigned src, struct slab_page_move *move)
{
    if (src < 1 || src > largest)
        return -1;
    struct slab_class *p = &classes[src];
    pthread_mutex_lock(&p->lock);
    if (p->pages < 2 || p->moving != NULL) {
        pthread_mutex_unlock(&p->lock);
        return 0;
    }
    char *page = p->page_list[0];
    char *end = page + (size_t)p->size * p->perpage;
    p->moving = page;
    move->page = page;
    move->chunk_size = p->size;
    move->chunks = p->perpage;
    move->uncut_from = p->perpage;
    if (p->cut_left > 0 && p->cut_next >= page && p->cut_next < end) {
        /* The page is still being cut: chunks past the cut were never used. */
        move->uncut_from = (unsigned)((p->cut_next - page) / p->size);
        p->cut_left = 0;
    }
    /* Its free chunks leave the free list. */
    struct free_chunk **link = &p->free_list;
    while (*link) {
        char *c = (char *)*link;
        if (c >= page && c < end) {
            *link = (*link)->next;
            p->free_count--;
        } else {
            link = &(*link)->next;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return 1;
}

void slabs_move_finish(unsigned src, unsigned dst, struct slab_page_move *move)
{
    struct slab_class *p = &classes[src];
    pthread_mutex_lock(&p->lock);
    for (uint64_t i = 0; i < p->pages; i++) {
        if (p->page_list[i] == move->page) {
            p->page_list[i] = p->page_list[--p->pages];
            break;
        }
    }
    p->moving = NULL;
    pthread_mutex_unlock(&p->lock);

    memset(move->page, 0, (size_t)settings.slab_page_size);
    if (dst == 0) {
        pool_put(move->page);
        return;
    }
    page_to_class(dst, move->page);
}

int slabs_pool_move(unsigned dst)
{
    if (dst < 1 || dst > largest)
        return -1;
    pthread_mutex_lock(&pool_lock);
    if (pool_count < 2) {
        pthread_mutex_unlock(&pool_lock);
        return 0;
    }
    char *page = pool[--pool_count];
    pthread_mutex_unlock(&pool_lock);
    page_to_class(dst, page);
    return 1;
}

/* Hands an empty, zeroed page to class dst, every chunk free. */
static void page_to_class(unsigned dst, char *page)
{
    struct slab_class *d = &classes[dst];
    page_set_owner(page, dst);
    pthread_mutex_lock(&d->lock);
    if (!page_list_add(d, page)) {
        pthread_mutex_unlock(&d->lock);
        if (region == NULL)
            free(page);
        atomic_fetch_sub(&mem_used, (size_t)settings.slab_page_size);
        return;
    }
    /* Every chunk of the page goes on dst's free list. */
    for (unsigned i = 0; i < d->perpage; i++) {
        struct free_chunk *fc = (void *)(page + (size_t)i * d->size);
        item_flags_store((item *)fc, ITEM_SLABBED);
        fc->next = d->free_list;
        d->free_list = fc;
        d->free_count++;
    }
    pthread_mutex_unlock(&d->lock);
}


/* ---- warm restart (see memfile.c) ---- */

void slabs_use_region(char *base, size_t size)
{
    region = base;
    region_pages = size / (size_t)settings.slab_page_size;
    region_next = 0;
    region_class = calloc(region_pages ? region_pages : 1, 1);
}

void slabs_region_prefill(bool restored)
{
    size_t page = (size_t)settings.slab_page_size;
    pthread_mutex_lock(&region_lock);
    for (size_t n = 0; n < region_pages; n++) {
        if (n < region_next && region_class[n] != 0)
            continue;
        pool_put(region + n * page);    /* its memory is not touched */
    }
    region_next = region_pages;
    pthread_mutex_unlock(&region_lock);
    /* memcached counts the pages it carves from the file at a fresh start
     * (the whole file), and none of a restored file's. */
    atomic_store(&mem_used, restored ? 0 : region_pages * page);
    atomic_store(&limit_reached, true);
}

size_t slabs_region_pages(const uint8_t **owners)
{
    *owners = region_class;
    return region_next;
}

char *slabs_restore_page(size_t n, unsigned id)
{
    if (region == NULL || n >= region_pages || id < 1 || id > largest)
        return NULL;
    struct slab_class *p = &classes[id];
    char *page = region + n * (size_t)settings.slab_page_size;
    pthread_mutex_lock(&p->lock);
    if (!page_list_add(p, page)) {
        pthread_mutex_unlock(&p->lock);
        return NULL;
    }
    pthread_mutex_unlock(&p->lock);
    region_class[n] = (uint8_t)id;
    if (n + 1 > region_next)
        region_next = n + 1;
    atomic_fetch_add(&mem_used, (size_t)settings.slab_page_size);
    return page;
}

void slabs_restore_chunk(unsigned id, void *chunk, size_t requested)
{
    struct slab_class *p = &classes[id];
    pthread_mutex_lock(&p->lock);
    if (requested == 0) {
        ((item *)chunk)->it_flags = ITEM_SLABBED;
        struct free_chunk *fc = chunk;
        fc->next = p->free_list;
        p->free_list = fc;
        p->free_count++;
    } else {
        p->requested += requested;
    }
    pthread_mutex_unlock(&p->lock);
}
