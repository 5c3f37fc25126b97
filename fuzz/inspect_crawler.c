/* fuzz/inspect_crawler.c: crawler.c with its thread's work callable from
 * the fuzz shim, so a requested crawl runs after the input that asked. */
#include "../memcached/crawler.c"

#include "fuzz_inspect.h"

void fuzz_crawler_run_pending(void)
{
    while (walk_next_class())
        ;
}
