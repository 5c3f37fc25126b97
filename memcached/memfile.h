/* memfile.h: warm restart (-e). Item memory lives in a file-backed shared
 * mapping; a graceful stop (SIGUSR1) saves a small metadata file beside
 * it, and the next start with the same memory settings maps the file
 * again and relinks every item it finds, with its CAS and expiry. */
#ifndef MC_MEMFILE_H
#define MC_MEMFILE_H

#include <stdbool.h>
#include <stddef.h>

/* Maps settings.memory_file (creating or resizing it to size bytes).
 * Returns the mapping, or NULL after printing why. Sets *restorable when a
 * metadata file from a compatible graceful stop was found; the metadata is
 * then removed, so a crash later never restores a stale cache. */
char *memfile_open(size_t size, bool *restorable);

/* The hash table's power when the cache about to be restored was saved
 * (0: nothing to restore). The table starts at that power, so a restored
 * cache does not have to grow it again. */
unsigned memfile_saved_hashpower(void);

/* After slabs and items are initialised: rebuilds the cache from the
 * mapping if memfile_open() said it can. Prints what it did. */
void memfile_restore(void);

/* On a graceful stop: flushes the mapping and writes the metadata file.
 * Workers must be stopped first. */
void memfile_save(void);

#endif
