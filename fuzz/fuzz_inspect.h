/* fuzz/fuzz_inspect.h: what the fuzz shim reaches inside the server's
 * modules (compiled into fuzz/inspect_*.c, never into the server). */
#ifndef MC_FUZZ_INSPECT_H
#define MC_FUZZ_INSPECT_H

#include <stdbool.h>
#include <stdint.h>

/* Aborts with msg when ok is false: an invariant broke (a finding). */
void fuzz_require(bool ok, const char *msg);

/* Checks every item on every LRU (linked, one reference, right class and
 * segment, well-formed value) and the per-class counts; returns the items. */
uint64_t fuzz_items_check(void);
/* Unlinks every item (so each is freed) and clears any flush_all. */
void fuzz_items_reset(void);
/* Checks every hash chain; returns the items the table holds. */
uint64_t fuzz_assoc_check(void);
/* Runs the crawl or page move a command asked for, as the background
 * threads would (they do not run in the fuzzers). */
void fuzz_crawler_run_pending(void);
void fuzz_mover_run_pending(void);

#endif
