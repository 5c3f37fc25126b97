/* util.c: the decimal number parser every caller shares (each names the
 * syntax it accepts) and the %XX key encoder of watcher lines and
 * metadump. No state, no locks. */
#include "config.h"
#include "util.h"

static bool is_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* The end of s: len or its first NUL, whichever comes first. */
static bool at_end(const char *s, size_t len, size_t i)
{
    return i >= len || s[i] == '\0';
}

/* Splits the text into a sign and a magnitude (at most 2^64-1) under the
 * rules of util_parse_u64. */
static bool parse_parts(const char *s, size_t len, unsigned syntax, bool *negative,
                        uint64_t *magnitude)
{
    size_t i = 0;
    if (syntax & UTIL_NUM_SPACE_BEFORE)
        while (!at_end(s, len, i) && is_space(s[i]))
            i++;
    *negative = false;
    if (!at_end(s, len, i)) {
        if (s[i] == '+' && (syntax & UTIL_NUM_PLUS)) {
            i++;
        } else if (s[i] == '-' && (syntax & UTIL_NUM_MINUS)) {
            *negative = true;
            i++;
        }
    }
    size_t first = i;
    uint64_t v = 0;
    for (; !at_end(s, len, i) && s[i] >= '0' && s[i] <= '9'; i++) {
        uint64_t digit = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    if (i == first)
        return false;
    if (!at_end(s, len, i) && !((syntax & UTIL_NUM_SPACE_AFTER) && is_space(s[i])))
        return false;
    *magnitude = v;
    return true;
}

bool util_parse_u64(const char *s, size_t len, unsigned syntax, uint64_t max, uint64_t *out)
{
    bool negative;
    uint64_t v;
    if (!parse_parts(s, len, syntax, &negative, &v))
        return false;
    if (negative) {
        v = (uint64_t)0 - v;
        if (v > (uint64_t)INT64_MAX)
            return false;
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

bool util_parse_i64(const char *s, size_t len, unsigned syntax, int64_t min, int64_t max,
                    int64_t *out)
{
    bool negative;
    uint64_t m;
    if (!parse_parts(s, len, syntax, &negative, &m))
        return false;
    int64_t v;
    if (negative) {
        if (m > (uint64_t)INT64_MAX + 1)
            return false;
        v = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
    } else {
        if (m > (uint64_t)INT64_MAX)
            return false;
        v = (int64_t)m;
    }
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

size_t util_encode_key(const char *key, size_t nkey, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    char *p = out;
    for (size_t i = 0; i < nkey; i++) {
        unsigned char ch = (unsigned char)key[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            *p++ = (char)ch;
        } else {
            *p++ = '%';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 15];
        }
    }
    *p = '\0';
    return (size_t)(p - out);
}
