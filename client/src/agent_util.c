/* agent_util.c - word and UTF-8 helpers of the agent layer. */
#include "agent_internal.h"

#include <stdlib.h>
#include <string.h>

bool agent_word_eq(const char *s, size_t n, const char *w)
{
    size_t i = 0;
    for (; i < n; i++) {
        if (!w[i] || agent_lower((uint8_t)s[i]) != w[i])
            return false;
    }
    return w[i] == '\0';
}

int agent_word_index(const char *s, size_t n, const char *const *list)
{
    if (n == 0)
        return -1;
    char first = agent_lower((uint8_t)s[0]);
    for (int i = 0; list[i]; i++)
        if (list[i][0] == first && agent_word_eq(s, n, list[i]))
            return i;
    return -1;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if invalid/incomplete. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

size_t agent_utf8_cut(const char *s, size_t n, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t l = utf8_seq(u + i, n - i);
        if (l == 0)
            l = 1; /* an invalid byte stands alone: cutting after it is fine */
        if (i + l > max)
            break;
        i += l;
    }
    return i;
}

size_t agent_utf8_count(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, count = 0;
    while (i < n) {
        size_t l = utf8_seq(u + i, n - i);
        i += l ? l : 1;
        count++;
    }
    return count;
}

bool agent_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq(u + i, n - i);
        if (l == 0)
            return false;
        i += l;
    }
    return true;
}

char *agent_utf8_repair(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    e2b_strbuf b = {0};
    for (size_t i = 0; i < n && !b.oom;) {
        size_t l = u[i] ? utf8_seq(u + i, n - i) : 0;
        if (l)
            e2b_strbuf_append(&b, u + i, l);
        else
            e2b_strbuf_append(&b, "\xEF\xBF\xBD", 3);
        i += l ? l : 1;
    }
    return e2b_strbuf_take(&b);
}
