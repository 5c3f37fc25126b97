/* util.h: the server's one decimal number parser and its one %XX key
 * encoder. A leaf: it uses nothing of the server, so any module may call
 * it (t/util_test.c tests it alone). */
#ifndef MC_UTIL_H
#define MC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a number's text may hold besides its decimal digits; OR these.
 * With none, the text must be one or more digits and nothing else.
 * "White space" is the C locale's isspace() set: " \t\n\v\f\r". */
enum util_num_syntax {
    UTIL_NUM_SPACE_BEFORE = 1 << 0, /* white space before the sign or digits is skipped */
    UTIL_NUM_PLUS = 1 << 1,         /* one '+' may come before the digits */
    UTIL_NUM_MINUS = 1 << 2,        /* one '-' may come before the digits (unsigned:
                                     * see util_parse_u64) */
    UTIL_NUM_SPACE_AFTER = 1 << 3,  /* a white-space byte may end the digits; nothing
                                     * after it is read */
};

/* strtol's syntax: blanks, a sign, digits, then the end. */
#define UTIL_NUM_STRTOL (UTIL_NUM_SPACE_BEFORE | UTIL_NUM_PLUS | UTIL_NUM_MINUS)
/* memcached's safe_strto* (option values, stored counters): strtol's
 * syntax, and the digits may also end at white space. */
#define UTIL_NUM_SAFE (UTIL_NUM_STRTOL | UTIL_NUM_SPACE_AFTER)

/* len for a NUL-terminated string. */
#define UTIL_NUL_TERMINATED SIZE_MAX

/* Parses the decimal number in s[0..len), which ends at len or at its
 * first NUL, whichever comes first (pass UTIL_NUL_TERMINATED for a C
 * string). The text must be: what syntax allows before the digits, one or
 * more digits '0'-'9', then the end (or what syntax allows after them).
 * Needs: s readable up to that end.
 * Returns true and sets *out to the value when it is at most max. A value
 * over 2^64-1 is refused whatever max is. With UTIL_NUM_MINUS, "-N" is
 * strtoull's 2^64-N (0 for "-0"), refused (as memcached's safe_strtoull
 * refuses it) when that value read as int64 is negative, so "-1" is refused
 * and "-18446744073709551615" is 1. Returns false, leaving *out alone,
 * otherwise. */
bool util_parse_u64(const char *s, size_t len, unsigned syntax, uint64_t max, uint64_t *out);

/* As util_parse_u64, for a signed value that must lie in [min, max]
 * (without UTIL_NUM_MINUS, only a value >= 0 can be written); a magnitude
 * beyond int64 is refused whatever min and max are. */
bool util_parse_i64(const char *s, size_t len, unsigned syntax, int64_t min, int64_t max,
                    int64_t *out);

/* Bytes util_encode_key needs for a key of n bytes, its NUL included. */
#define UTIL_ENCODED_KEY_SIZE(n) (3 * (size_t)(n) + 1)

/* Writes key[0..nkey) to out as memcached shows a key in watcher lines and
 * metadump: ASCII letters, digits and "-._~" as they are, every other byte
 * as '%' and two upper-case hex digits; then a NUL.
 * Needs: out has UTIL_ENCODED_KEY_SIZE(nkey) bytes.
 * Returns the length written, the NUL not counted. */
size_t util_encode_key(const char *key, size_t nkey, char *out);

#endif
