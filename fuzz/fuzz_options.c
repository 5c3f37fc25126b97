/* fuzz/fuzz_options.c: libFuzzer target for the -o string and the checks
 * main() runs on the finished command line. Input: the -o argument (cut at
 * the first NUL). options.c is compiled in here so that its own state
 * (the slab_sizes text, whether slab_chunk_max was given) is reset along
 * with the settings after each input. */
#include "../memcached/options.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    static struct settings initial;
    if (!ready) {
        settings_init();
        initial = settings;
        ready = true;
    }
    char *arg = malloc(size + 1);
    if (arg == NULL)
        return 0;
    memcpy(arg, data, size);
    arg[size] = '\0';
    struct option_facts facts = { .protocol_given = false };
    if (options_parse_extended(arg))
        options_check(&facts);
    free(arg);
    if (settings.slab_sizes != initial.slab_sizes)
        free(settings.slab_sizes);
    settings = initial;
    free(slab_sizes_text);
    slab_sizes_text = NULL;
    slab_chunk_max_given = false;
    return 0;
}
