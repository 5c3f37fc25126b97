/* fuzz/inspect_mover.c: slab_mover.c with its thread's work callable from
 * the fuzz shim: a requested page move (and an automove pass) runs after
 * the input that asked, with no item referenced. */
#include "../memcached/slab_mover.c"

#include "fuzz_inspect.h"

void fuzz_mover_run_pending(void)
{
    int src = want_src, dst = want_dst;
    want_dst = 0;
    if (dst != 0) {
        if (src == -1)
            src = (int)any_donor((unsigned)dst);
        if (src > 0)
            move_page((unsigned)src, (unsigned)dst);
    } else if (settings.slab_automove > 0) {
        static uint64_t last_evictions[SLAB_CLASS_MAX];
        automove(last_evictions);
    }
}
