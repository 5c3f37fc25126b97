/* util_test.c: unit tests of memcached/util.c (the decimal parser and the
 * %XX key encoder), printed as TAP; built by `make check` and run by
 * t/util.t. Each case states the expected result, worked out from the
 * contract in util.h and memcached's documented behaviour. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int tests, failures;

static void ok(int cond, const char *what)
{
    tests++;
    if (!cond)
        failures++;
    printf("%sok %d - %s\n", cond ? "" : "not ", tests, what);
}

/* s with bytes outside printable ASCII as \xHH, for a TAP line. */
static const char *shown(const char *s)
{
    static char buf[200];
    size_t n = 0;
    for (; *s && n < sizeof(buf) - 5; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c < 0x7f && c != '\\')
            buf[n++] = (char)c;
        else
            n += (size_t)snprintf(buf + n, 5, "\\x%02X", c);
    }
    buf[n] = '\0';
    return buf;
}

/* A u64 case: text (a C string), syntax, max; want_ok and want. */
static void u64_case(const char *s, unsigned syntax, uint64_t max, int want_ok, uint64_t want)
{
    uint64_t v = 12345;
    int got = util_parse_u64(s, UTIL_NUL_TERMINATED, syntax, max, &v);
    char what[200];
    snprintf(what, sizeof(what), "u64 \"%s\" syntax %#x max %" PRIu64 ": %s %" PRIu64, shown(s),
             syntax, max, want_ok ? "accepted as" : "refused", want_ok ? want : 0);
    if (want_ok)
        ok(got && v == want, what);
    else
        ok(!got && v == 12345, what);   /* *out left alone */
}

static void i64_case(const char *s, unsigned syntax, int64_t min, int64_t max, int want_ok,
                     int64_t want)
{
    int64_t v = 12345;
    int got = util_parse_i64(s, UTIL_NUL_TERMINATED, syntax, min, max, &v);
    char what[200];
    snprintf(what, sizeof(what), "i64 \"%s\" syntax %#x in [%" PRId64 ", %" PRId64 "]: %s %" PRId64,
             shown(s), syntax, min, max, want_ok ? "accepted as" : "refused", want_ok ? want : 0);
    if (want_ok)
        ok(got && v == want, what);
    else
        ok(!got && v == 12345, what);
}

static void test_strict_unsigned(void)
{
    /* Protocol tokens: digits only. */
    u64_case("0", 0, UINT64_MAX, 1, 0);
    u64_case("007", 0, UINT64_MAX, 1, 7);
    u64_case("", 0, UINT64_MAX, 0, 0);
    u64_case(" 5", 0, UINT64_MAX, 0, 0);
    u64_case("5 ", 0, UINT64_MAX, 0, 0);
    u64_case("\t5", 0, UINT64_MAX, 0, 0);
    u64_case("+5", 0, UINT64_MAX, 0, 0);
    u64_case("-5", 0, UINT64_MAX, 0, 0);
    u64_case("-0", 0, UINT64_MAX, 0, 0);
    u64_case("5x", 0, UINT64_MAX, 0, 0);
    u64_case("x5", 0, UINT64_MAX, 0, 0);
    u64_case("0x10", 0, UINT64_MAX, 0, 0);
    u64_case("18446744073709551615", 0, UINT64_MAX, 1, UINT64_MAX);
    u64_case("18446744073709551616", 0, UINT64_MAX, 0, 0);
    u64_case("18446744073709551620", 0, UINT64_MAX, 0, 0);
    u64_case("99999999999999999999999", 0, UINT64_MAX, 0, 0);
    u64_case("000000000000000000000018446744073709551615", 0, UINT64_MAX, 1, UINT64_MAX);
    u64_case("4294967295", 0, UINT32_MAX, 1, UINT32_MAX);
    u64_case("4294967296", 0, UINT32_MAX, 0, 0);
    u64_case("63", 0, 63, 1, 63);
    u64_case("64", 0, 63, 0, 0);
    u64_case("18446744073709551616", 0, 5, 0, 0);
}

static void test_safe_unsigned(void)
{
    /* memcached's safe_strtoull: strtoull's syntax, white space may end it. */
    unsigned S = UTIL_NUM_SAFE;
    u64_case("", S, UINT64_MAX, 0, 0);
    u64_case(" ", S, UINT64_MAX, 0, 0);
    u64_case(" \t\n\v\f\r42", S, UINT64_MAX, 1, 42);
    u64_case("+42", S, UINT64_MAX, 1, 42);
    u64_case("++42", S, UINT64_MAX, 0, 0);
    u64_case("+-42", S, UINT64_MAX, 0, 0);
    u64_case("+", S, UINT64_MAX, 0, 0);
    u64_case("-", S, UINT64_MAX, 0, 0);
    u64_case("+ 4", S, UINT64_MAX, 0, 0);
    u64_case("42 ", S, UINT64_MAX, 1, 42);
    u64_case("42 junk", S, UINT64_MAX, 1, 42);
    u64_case("42 -x", S, UINT64_MAX, 1, 42);
    u64_case("42\r\n", S, UINT64_MAX, 1, 42);
    u64_case("42x", S, UINT64_MAX, 0, 0);
    u64_case("42,", S, UINT64_MAX, 0, 0);
    u64_case("-0", S, UINT64_MAX, 1, 0);
    u64_case("-1", S, UINT64_MAX, 0, 0);
    u64_case("-9223372036854775808", S, UINT64_MAX, 0, 0);     /* 2^63: negative as int64 */
    u64_case("-9223372036854775809", S, UINT64_MAX, 1, UINT64_C(9223372036854775807));
    u64_case("-18446744073709551615", S, UINT64_MAX, 1, 1);
    u64_case("-18446744073709551616", S, UINT64_MAX, 0, 0);
    u64_case("9223372036854775808", S, UINT64_MAX, 1, UINT64_C(9223372036854775808));
    u64_case("18446744073709551615", S, UINT64_MAX, 1, UINT64_MAX);
    u64_case("18446744073709551616", S, UINT64_MAX, 0, 0);
    u64_case("  18446744073709551616  ", S, UINT64_MAX, 0, 0);
    u64_case("5", S, 4, 0, 0);
    /* strtol's syntax alone: white space may not end it. */
    u64_case(" +7", UTIL_NUM_STRTOL, UINT64_MAX, 1, 7);
    u64_case("7 ", UTIL_NUM_STRTOL, UINT64_MAX, 0, 0);
    /* one flag at a time */
    u64_case(" 7", UTIL_NUM_SPACE_BEFORE, UINT64_MAX, 1, 7);
    u64_case("+7", UTIL_NUM_SPACE_BEFORE, UINT64_MAX, 0, 0);
    u64_case("+7", UTIL_NUM_PLUS, UINT64_MAX, 1, 7);
    u64_case("-0", UTIL_NUM_PLUS, UINT64_MAX, 0, 0);
    u64_case("7\t", UTIL_NUM_SPACE_AFTER, UINT64_MAX, 1, 7);
    u64_case(" 7", UTIL_NUM_SPACE_AFTER, UINT64_MAX, 0, 0);
}

static void test_signed(void)
{
    unsigned T = UTIL_NUM_STRTOL;
    i64_case("0", T, INT64_MIN, INT64_MAX, 1, 0);
    i64_case("", T, INT64_MIN, INT64_MAX, 0, 0);
    i64_case(" ", T, INT64_MIN, INT64_MAX, 0, 0);
    i64_case("-", T, INT64_MIN, INT64_MAX, 0, 0);
    i64_case("--1", T, INT64_MIN, INT64_MAX, 0, 0);
    i64_case("\t-17", T, INT64_MIN, INT64_MAX, 1, -17);
    i64_case("+17", T, INT64_MIN, INT64_MAX, 1, 17);
    i64_case("17 ", T, INT64_MIN, INT64_MAX, 0, 0);
    i64_case("17x", T, INT64_MIN, INT64_MAX, 0, 0);
    i64_case("9223372036854775807", T, INT64_MIN, INT64_MAX, 1, INT64_MAX);
    i64_case("9223372036854775808", T, INT64_MIN, INT64_MAX, 0, 0);
    i64_case("-9223372036854775808", T, INT64_MIN, INT64_MAX, 1, INT64_MIN);
    i64_case("-9223372036854775809", T, INT64_MIN, INT64_MAX, 0, 0);
    i64_case("-18446744073709551616", T, INT64_MIN, INT64_MAX, 0, 0);
    i64_case("2147483647", T, INT32_MIN, INT32_MAX, 1, INT32_MAX);
    i64_case("2147483648", T, INT32_MIN, INT32_MAX, 0, 0);
    i64_case("-2147483648", T, INT32_MIN, INT32_MAX, 1, INT32_MIN);
    i64_case("-2147483649", T, INT32_MIN, INT32_MAX, 0, 0);
    /* meta's numbers: '-' only, nothing else around the digits */
    unsigned M = UTIL_NUM_MINUS;
    i64_case("-5", M, INT32_MIN, INT32_MAX, 1, -5);
    i64_case("-0", M, INT32_MIN, INT32_MAX, 1, 0);
    i64_case("+5", M, INT32_MIN, INT32_MAX, 0, 0);
    i64_case(" 5", M, INT32_MIN, INT32_MAX, 0, 0);
    i64_case("5 ", M, INT32_MIN, INT32_MAX, 0, 0);
    i64_case("-", M, INT32_MIN, INT32_MAX, 0, 0);
    /* without a minus allowed, only values >= 0 */
    i64_case("-5", 0, INT64_MIN, INT64_MAX, 0, 0);
    i64_case("5", 0, 6, 10, 0, 0);
    i64_case("11", 0, 6, 10, 0, 0);
    i64_case("6", 0, 6, 10, 1, 6);
    /* memcached's safe_strtol: white space may end it */
    i64_case("-3 x", UTIL_NUM_SAFE, INT64_MIN, INT64_MAX, 1, -3);
}

/* The text ends at len or at a NUL, whichever comes first. */
static void test_bounds(void)
{
    uint64_t v = 0;
    ok(util_parse_u64("123456", 3, 0, UINT64_MAX, &v) && v == 123, "len 3 of \"123456\" is 123");
    ok(!util_parse_u64("12x", 3, 0, UINT64_MAX, &v), "len 3 of \"12x\" is refused");
    ok(util_parse_u64("12\0" "99", 5, 0, UINT64_MAX, &v) && v == 12, "a NUL before len ends it");
    ok(!util_parse_u64("\0" "5", 2, UTIL_NUM_SAFE, UINT64_MAX, &v), "a NUL first: empty");
    ok(!util_parse_u64("5", 0, 0, UINT64_MAX, &v), "len 0: empty");
    ok(!util_parse_u64("   \r\n", 3, UTIL_NUM_SAFE, UINT64_MAX, &v), "only blanks within len");
    /* no byte past len is read: a value followed by digits it does not own */
    char buf[4] = {'4', '2', '7', '7'};
    ok(util_parse_u64(buf, 2, UTIL_NUM_SAFE, UINT64_MAX, &v) && v == 42, "stops at len");
    /* every byte other than a digit, white space or a sign is junk after
     * the digits, and junk before them */
    int bad_after = 0, bad_before = 0;
    for (int b = 1; b < 256; b++) {
        char s[3] = {'7', (char)b, '\0'};
        int space = b == ' ' || (b >= '\t' && b <= '\r');
        int digit = b >= '0' && b <= '9';
        int got = util_parse_u64(s, UTIL_NUL_TERMINATED, UTIL_NUM_SAFE, UINT64_MAX, &v);
        if (got != (space || digit))
            bad_after++;
        char t[3] = {(char)b, '7', '\0'};
        got = util_parse_u64(t, UTIL_NUL_TERMINATED, UTIL_NUM_SAFE, UINT64_MAX, &v);
        if (got != (space || digit || b == '+'))   /* "-7" is negative */
            bad_before++;
    }
    ok(bad_after == 0, "after the digits: only white space (or a digit) is allowed");
    ok(bad_before == 0, "before the digits: only white space, '+' (or a digit)");
}

static int unreserved(int b)
{
    return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
           b == '-' || b == '.' || b == '_' || b == '~';
}

/* Decodes %XX (the test's own inverse of the encoder). Returns the length. */
static size_t decode(const char *s, char *out)
{
    size_t n = 0;
    while (*s) {
        if (*s == '%') {
            unsigned x;
            sscanf(s + 1, "%2X", &x);
            out[n++] = (char)x;
            s += 3;
        } else {
            out[n++] = *s++;
        }
    }
    return n;
}

static void test_encode_key(void)
{
    char out[UTIL_ENCODED_KEY_SIZE(256)];
    int bad = 0;
    for (int b = 0; b < 256; b++) {
        char key = (char)b;
        memset(out, 'Z', sizeof(out));
        size_t n = util_encode_key(&key, 1, out);
        char want[4];
        if (unreserved(b))
            snprintf(want, sizeof(want), "%c", b);
        else
            snprintf(want, sizeof(want), "%%%02X", b);
        if (n != strlen(want) || strcmp(out, want) != 0) {
            printf("# byte %d: got \"%s\", want \"%s\"\n", b, out, want);
            bad++;
        }
    }
    ok(bad == 0, "each of the 256 byte values encodes alone as itself or %XX");

    char all[256];
    for (int b = 0; b < 256; b++)
        all[b] = (char)b;
    memset(out, 'Z', sizeof(out));
    size_t n = util_encode_key(all, 256, out);
    size_t want_len = 0;
    for (int b = 0; b < 256; b++)
        want_len += unreserved(b) ? 1 : 3;
    ok(n == want_len && out[n] == '\0' && strlen(out) == n,
       "256 bytes in one key: the length returned, NUL-terminated");
    char back[256];
    ok(decode(out, back) == 256 && memcmp(back, all, 256) == 0, "decoding gives the key back");

    ok(util_encode_key("foo bar", 7, out) == 9 && strcmp(out, "foo%20bar") == 0,
       "\"foo bar\" is foo%20bar");
    ok(util_encode_key("a\0b", 3, out) == 5 && strcmp(out, "a%00b") == 0, "a NUL in a key is %00");
    ok(util_encode_key("Az09-._~", 8, out) == 8 && strcmp(out, "Az09-._~") == 0,
       "unreserved bytes stay");
    ok(util_encode_key("%/+", 3, out) == 9 && strcmp(out, "%25%2F%2B") == 0,
       "'%', '/' and '+' are encoded, upper-case hex");
    out[0] = 'Z';
    ok(util_encode_key("", 0, out) == 0 && out[0] == '\0', "an empty key is an empty string");

    /* the worst case fills UTIL_ENCODED_KEY_SIZE exactly */
    char spaces[250];
    memset(spaces, ' ', sizeof(spaces));
    char exact[UTIL_ENCODED_KEY_SIZE(250)];
    ok(util_encode_key(spaces, 250, exact) == sizeof(exact) - 1 && exact[sizeof(exact) - 1] == '\0',
       "250 encoded bytes fill UTIL_ENCODED_KEY_SIZE(250)");
}

int main(void)
{
    test_strict_unsigned();
    test_safe_unsigned();
    test_signed();
    test_bounds();
    test_encode_key();
    printf("1..%d\n", tests);
    return failures != 0;
}
