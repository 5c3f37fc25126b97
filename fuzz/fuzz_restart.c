/* fuzz/fuzz_restart.c: libFuzzer target for the warm-restart metadata
 * file (-e <file>.meta): its magic line, the settings fingerprint, the
 * clock/CAS/base line and the page owner table. memfile.c is compiled in
 * here to reach its reader; the mapping it checks page counts against is
 * only sized, never mapped. Input: the file's contents. */
#define _GNU_SOURCE
#include "../memcached/memfile.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        settings_init();
        ready = true;
    }
    mapping_size = settings.maxbytes;
    FILE *f = fmemopen((void *)data, size, "r");
    if (f == NULL)
        return 0;
    memset(&saved, 0, sizeof(saved));
    const char *why = NULL;
    enum meta_state state = read_meta(f, &why);
    fclose(f);
    if (state == META_CORRUPT && why == NULL)
        abort();    /* a refusal to start names its reason */
    if (state == META_OK) {
        /* What restore relies on: the table fits the file, and every owner
         * names a slab class. */
        if (saved.npages > mapping_size / (size_t)settings.slab_page_size)
            abort();
        for (size_t i = 0; i < saved.npages; i++)
            if (saved.owners[i] >= SLAB_CLASS_MAX)
                abort();
    }
    free(saved.owners);
    saved.owners = NULL;
    return 0;
}
