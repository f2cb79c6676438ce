/* agent_internal.h - helpers shared by the agent_*.c files (not public API). */
#ifndef E2B_AGENT_INTERNAL_H
#define E2B_AGENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "strbuf.h"

/* Cuts b (strbuf.h) back to len bytes; no-op if it is shorter. */
static inline void agent_sb_truncate(e2b_strbuf *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
        b->p[len] = '\0';
    }
}

static inline char agent_lower(uint8_t c)
{
    return (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
}
static inline bool agent_is_alnum(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
/* A byte that belongs to a "word": ASCII letters and digits, '_', and every non-ASCII byte
 * (so a word with accented letters never equals an ASCII keyword). */
static inline bool agent_is_word(uint8_t c)
{
    return agent_is_alnum(c) || c == '_' || c >= 0x80;
}
static inline bool agent_is_alpha(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
/* c is one of the characters of set (never true for NUL, unlike a bare strchr). */
static inline bool agent_in_set(uint8_t c, const char *set)
{
    for (; *set; set++)
        if ((uint8_t)*set == c)
            return true;
    return false;
}
static inline bool agent_is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
/* Case-insensitive (ASCII) equality of s[0..n) with the lower-case word w. */
bool agent_word_eq(const char *s, size_t n, const char *w);
/* Index of s[0..n) in the NULL-terminated lower-case list, or -1. */
int agent_word_index(const char *s, size_t n, const char *const *list);

/* The largest length <= max at which s[0..n) can be cut without splitting a valid UTF-8
 * sequence (an invalid byte counts as a character of its own). */
size_t agent_utf8_cut(const char *s, size_t n, size_t max);
/* Number of code points in s[0..n) (invalid bytes count as one each). */
size_t agent_utf8_count(const char *s, size_t n);
/* True if s[0..n) is valid UTF-8 (no overlongs, surrogates or values over U+10FFFF). */
bool agent_utf8_valid(const char *s, size_t n);
/* Copy of s[0..n) where each byte of an invalid sequence (and each NUL) is replaced by
 * U+FFFD. NULL on allocation failure. */
char *agent_utf8_repair(const char *s, size_t n);

#endif
