/* memfile.c: the memory file of a warm restart and its metadata. The
 * metadata is a small text file (<memory file>.meta): the settings that
 * shape item memory (a restart with other values starts empty), the clock
 * and CAS counter to continue from, and which slab class owns each page. */
#include "config.h"
#include "memfile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assoc.h"
#include "clock.h"
#include "items.h"
#include "settings.h"
#include "slabs.h"

/* 5: chunked items keep their key in a small class; 6: clock origin 62,
 * flush_all state saved */
#define META_MAGIC "memcached-sdt warm restart 6"

static char *mapping;
static size_t mapping_size;
static bool restore_pending;

/* What was read from the metadata file. */
static struct {
    long long started;
    uint64_t cas;
    uintptr_t base;         /* where the file was mapped when saved */
    unsigned hashpower;     /* the hash table's power when saved */
    unsigned oldest;        /* flush_all cut-off (rel_time_t), 0: none */
    uint64_t oldest_cas;    /* flush_all CAS bound, 0: none */
    size_t npages;
    uint8_t *owners;
} saved;

static char *meta_path(void)
{
    size_t n = strlen(settings.memory_file) + 6;
    char *path = malloc(n);
    if (path)
        snprintf(path, n, "%s.meta", settings.memory_file);
    return path;
}

/* The settings line a restart must match exactly. */
static void settings_fingerprint(char *buf, size_t n)
{
    /* -o slab_sizes replaces the -f steps: fold its list into one number. */
    uint64_t sizes = 0;
    for (const uint32_t *p = settings.slab_sizes; p && *p; p++)
        sizes = sizes * 1000003 + *p;
    snprintf(buf, n, "maxbytes=%zu page=%d chunk=%d factor=%.4f itemmax=%d chunkmax=%d cas=%d "
             "sizes=%llx", settings.maxbytes, settings.slab_page_size, settings.chunk_size,
             settings.factor, settings.item_size_max, settings.slab_chunk_size_max,
             settings.use_cas ? 1 : 0, (unsigned long long)sizes);
}

/* What the metadata file holds. */
enum meta_state {
    META_OK,            /* a graceful stop of this cache: restore it */
    META_MISMATCH,      /* well formed, but not for these settings: start clean */
    META_CORRUPT        /* empty, or not what a graceful stop writes: refuse to start */
};

/* Whether the settings line a names the same settings as b, in the same
 * order, each with a value (a line cut short or mangled does not). */
static bool same_fields(const char *a, const char *b)
{
    for (;;) {
        size_t na = strcspn(a, "="), nb = strcspn(b, "=");
        if (na != nb || memcmp(a, b, na) != 0)
            return false;
        if (b[nb] == '\0')
            return a[na] == '\0';
        a += na + 1;
        b += nb + 1;
        size_t va = strcspn(a, " "), vb = strcspn(b, " ");
        if (va == 0)
            return false;
        a += va;
        b += vb;
        if (*a != *b)
            return false;
        if (*b == '\0')
            return true;
        a++;
        b++;
    }
}

/* Reads and checks the metadata. *why names what is wrong with a corrupt
 * file (for the refusal message). */
static enum meta_state read_meta(FILE *f, const char **why)
{
    char line[512], want[256];
    settings_fingerprint(want, sizeof(want));
    *why = "empty";
    if (!fgets(line, sizeof(line), f))
        return META_CORRUPT;
    if (strncmp(line, META_MAGIC, strlen(META_MAGIC)) != 0) {
        /* Another version of ours, or memcached's own format (tag lines:
         * T<section>, K<key> <value>): well formed, not ours to restore. */
        if (strncmp(line, "memcached-sdt warm restart ", 27) == 0 ||
            (line[0] == 'T' && line[1] != '\0' && line[1] != '\n')) {
            fprintf(stderr, "[restart] metadata written by another server version, starting with a clean cache\n");
            return META_MISMATCH;
        }
        *why = "not a warm restart metadata file";
        return META_CORRUPT;
    }
    *why = "truncated or malformed";
    if (!fgets(line, sizeof(line), f))
        return META_CORRUPT;
    line[strcspn(line, "\n")] = '\0';
    if (!same_fields(line, want))
        return META_CORRUPT;
    if (strcmp(line, want) != 0) {
        fprintf(stderr, "[restart] memory settings differ from the saved cache (%s), starting with a clean cache\n",
                line);
        return META_MISMATCH;
    }
    if (fscanf(f, "started=%lld cas=%" SCNu64 " base=%" SCNxPTR " hashpower=%u pages=%zu oldest=%u ocas=%" SCNu64 "\n",
               &saved.started, &saved.cas, &saved.base, &saved.hashpower, &saved.npages, &saved.oldest,
               &saved.oldest_cas) != 7)
        return META_CORRUPT;
    if (saved.npages > mapping_size / (size_t)settings.slab_page_size)
        return META_CORRUPT;
    saved.owners = calloc(saved.npages ? saved.npages : 1, 1);
    if (saved.owners == NULL)
        return META_MISMATCH;
    for (size_t i = 0; i < saved.npages; i++) {
        unsigned id;
        if (fscanf(f, "%u", &id) != 1 || id >= SLAB_CLASS_MAX) {
            free(saved.owners);
            saved.owners = NULL;
            return META_CORRUPT;
        }
        saved.owners[i] = (uint8_t)id;
    }
    return META_OK;
}

char *memfile_open(size_t size, bool *restorable)
{
    *restorable = false;
    int fd = open(settings.memory_file, O_RDWR | O_CREAT, 0700);
    if (fd < 0) {
        fprintf(stderr, "failed to open memory file %s: %s\n", settings.memory_file, strerror(errno));
        return NULL;
    }
    struct stat st;
    bool same_size = fstat(fd, &st) == 0 && (size_t)st.st_size == size;
    if (!same_size && ftruncate(fd, (off_t)size) != 0) {
        fprintf(stderr, "failed to size memory file %s: %s\n", settings.memory_file, strerror(errno));
        close(fd);
        return NULL;
    }
    mapping = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (mapping == MAP_FAILED) {
        fprintf(stderr, "failed to map memory file %s: %s\n", settings.memory_file, strerror(errno));
        mapping = NULL;
        return NULL;
    }
    mapping_size = size;

    char *path = meta_path();
    FILE *f = path ? fopen(path, "r") : NULL;
    if (f == NULL) {
        fprintf(stderr, "[restart] no metadata save file, starting with a clean cache\n");
    } else {
        const char *why = NULL;
        enum meta_state state = read_meta(f, &why);
        if (state == META_OK && !same_size) {
            free(saved.owners);
            saved.owners = NULL;
            state = META_MISMATCH;
        }
        fclose(f);
        if (state == META_CORRUPT) {
            /* As memcached: a metadata file that is there but unreadable
             * stops the start (it is kept, for whoever looks into it). */
            fprintf(stderr, "[restart] corrupt metadata file %s (%s); remove it to start with a "
                    "clean cache\n", path, why);
            free(path);
            munmap(mapping, size);
            mapping = NULL;
            return NULL;
        }
        *restorable = state == META_OK;
        if (!*restorable && same_size)
            fprintf(stderr, "[restart] metadata does not match, starting with a clean cache\n");
        else if (!same_size)
            fprintf(stderr, "[restart] memory file size differs, starting with a clean cache\n");
        /* Used once: a crash from here on must not restore this state. */
        unlink(path);
    }
    free(path);
    restore_pending = *restorable;
    return mapping;
}

/* True when chunk lies on a chunk boundary of a restored page owned by the
 * class the chunk names (for item_restore's chain check). */
static bool chunk_in_file(const void *chunk)
{
    const char *p = chunk;
    size_t page = (size_t)settings.slab_page_size;
    if (p < mapping || p >= mapping + saved.npages * page)
        return false;
    size_t n = (size_t)(p - mapping) / page;
    unsigned id = ((const item *)chunk)->slabs_clsid;
    return id != 0 && saved.owners[n] == id &&
           (size_t)(p - mapping - n * page) % slabs_chunk_size(id) == 0;
}

/* Calls fn on every chunk of restored page n, with the page's class. */
static void for_each_chunk(size_t n, void (*fn)(item *it, unsigned id, void *arg), void *arg)
{
    unsigned id = saved.owners[n];
    if (id == 0)
        return;
    char *page = mapping + n * (size_t)settings.slab_page_size;
    size_t size = slabs_chunk_size(id);
    size_t per = (size_t)settings.slab_page_size / size;
    for (size_t i = 0; i < per; i++)
        fn((item *)(void *)(page + i * size), id, arg);
}

struct restore_pass {
    intptr_t delta;         /* new mapping address minus the saved one */
    uint64_t restored;      /* items relinked */
};

/* First pass: items (and free chunks); value chunks wait for the second. */
static void restore_item(item *it, unsigned id, void *arg)
{
    struct restore_pass *rp = arg;
    if (it->it_flags & ITEM_CHUNK)
        return;
    size_t held = item_restore(it, rp->delta, chunk_in_file);
    if (held != 0)
        rp->restored++;
    slabs_restore_chunk(id, it, held);
}

/* Second pass: a value chunk is live when a restored item claimed it. */
static void restore_value_chunk(item *it, unsigned id, void *arg)
{
    (void)arg;
    if (it->it_flags & ITEM_CHUNK)
        slabs_restore_chunk(id, it, item_chunk_restore(it));
}

unsigned memfile_saved_hashpower(void)
{
    return restore_pending ? saved.hashpower : 0;
}

void memfile_restore(void)
{
    if (!restore_pending)
        return;
    clock_restore((time_t)saved.started);
    items_set_cas_counter(saved.cas);
    items_set_flush_state(saved.oldest, saved.oldest_cas);
    /* Every page goes back to its class before any item is looked at, so
     * chunk_in_file accepts only chunks of pages that are really back. */
    for (size_t n = 0; n < saved.npages; n++)
        if (saved.owners[n] != 0 && slabs_restore_page(n, saved.owners[n]) == NULL)
            saved.owners[n] = 0;
    struct restore_pass rp = { (intptr_t)((uintptr_t)mapping - saved.base), 0 };
    for (size_t n = 0; n < saved.npages; n++)
        for_each_chunk(n, restore_item, &rp);
    for (size_t n = 0; n < saved.npages; n++)
        for_each_chunk(n, restore_value_chunk, NULL);
    free(saved.owners);
    fprintf(stderr, "[restart] restored %" PRIu64 " items\n", rp.restored);
}

void memfile_save(void)
{
    if (mapping == NULL)
        return;
    msync(mapping, mapping_size, MS_SYNC);
    char *path = meta_path();
    if (path == NULL)
        return;
    size_t tmplen = strlen(path) + 5;
    char *tmp = malloc(tmplen);
    if (tmp == NULL) {
        free(path);
        return;
    }
    snprintf(tmp, tmplen, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f != NULL) {
        char fp[256];
        const uint8_t *owners;
        size_t npages = slabs_region_pages(&owners);
        settings_fingerprint(fp, sizeof(fp));
        rel_time_t oldest;
        uint64_t oldest_cas;
        items_flush_state(&oldest, &oldest_cas);
        fprintf(f, "%s\n%s\nstarted=%lld cas=%" PRIu64 " base=%" PRIxPTR " hashpower=%u pages=%zu oldest=%u ocas=%" PRIu64 "\n",
                META_MAGIC, fp, (long long)process_started, items_cas_counter(),
                (uintptr_t)mapping, assoc_hashpower(), npages, (unsigned)oldest, oldest_cas);
        for (size_t i = 0; i < npages; i++)
            fprintf(f, "%u%c", owners[i], (i + 1) % 32 == 0 ? '\n' : ' ');
        fprintf(f, "\n");
        if (fclose(f) == 0)
            rename(tmp, path);
    }
    free(tmp);
    free(path);
}
