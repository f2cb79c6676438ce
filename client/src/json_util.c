/* json_util.c - see json_util.h */
#include "json_util.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Strict RFC 8259 check that allocates nothing. Only a subset of what cJSON 1.7.15 accepts
 * passes (nesting <= 256, numbers <= 63 characters - cJSON's number buffer -, surrogate
 * escapes paired), so "valid here but cJSON failed" can only mean cJSON ran out of memory. */
static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

static int hex4(const char *s, size_t i, size_t n)
{
    if (n - i < 4)
        return -1;
    int v = 0;
    for (size_t k = i; k < i + 4; k++) {
        int c = (unsigned char)s[k], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* s[i] == '"'; returns the index after the closing quote, or 0. */
static size_t valid_string(const char *s, size_t i, size_t n)
{
    for (i++; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"')
            return i + 1;
        if (c < 0x20)
            return 0;
        if (c != '\\')
            continue;
        if (++i >= n)
            return 0;
        if (s[i] && strchr("\"\\/bfnrt", s[i]))
            continue;
        if (s[i] != 'u')
            return 0;
        int u = hex4(s, i + 1, n);
        if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF))
            return 0;
        i += 4;
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (n - i < 7 || s[i + 1] != '\\' || s[i + 2] != 'u')
                return 0;
            int lo = hex4(s, i + 3, n);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return 0;
            i += 6;
        }
    }
    return 0;
}

static size_t valid_number(const char *s, size_t i, size_t n)
{
    size_t start = i;
#define DIGIT(k) ((k) < n && s[k] >= '0' && s[k] <= '9')
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else if (DIGIT(i))
        while (DIGIT(i))
            i++;
    else
        return 0;
    if (i < n && s[i] == '.') {
        if (!DIGIT(i + 1))
            return 0;
        for (i++; DIGIT(i); i++)
            ;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (!DIGIT(i))
            return 0;
        while (DIGIT(i))
            i++;
    }
#undef DIGIT
    return i - start <= 63 ? i : 0;
}

bool e2b_json_valid(const char *s, size_t n)
{
    char stack[256]; /* '{' or '[' per open container */
    if (!s)
        return false;
    size_t depth = 0, i = skip_ws(s, 0, n);
    for (;;) {
        /* expect a value at s[i] */
        if (i >= n)
            return false;
        char c = s[i];
        if (c == '{' || c == '[') {
            if (depth == sizeof stack)
                return false;
            stack[depth++] = c;
            i = skip_ws(s, i + 1, n);
            if (i < n && s[i] == (c == '{' ? '}' : ']')) {
                depth--;
                i++;
            } else if (c == '{') {
                goto key;
            } else {
                continue;
            }
        } else if (c == '"') {
            if (!(i = valid_string(s, i, n)))
                return false;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            if (!(i = valid_number(s, i, n)))
                return false;
        } else if (n - i >= 4 && !memcmp(s + i, "true", 4)) {
            i += 4;
        } else if (n - i >= 5 && !memcmp(s + i, "false", 5)) {
            i += 5;
        } else if (n - i >= 4 && !memcmp(s + i, "null", 4)) {
            i += 4;
        } else {
            return false;
        }
        /* after a value: close containers, or a comma */
        for (;;) {
            i = skip_ws(s, i, n);
            if (depth == 0)
                return i == n;
            if (i >= n)
                return false;
            char close = stack[depth - 1] == '{' ? '}' : ']';
            if (s[i] == close) {
                depth--;
                i++;
                continue;
            }
            if (s[i] != ',')
                return false;
            i = skip_ws(s, i + 1, n);
            if (stack[depth - 1] == '{')
                goto key;
            break;
        }
        continue;
    key:
        if (i >= n || s[i] != '"' || !(i = valid_string(s, i, n)))
            return false;
        i = skip_ws(s, i, n);
        if (i >= n || s[i] != ':')
            return false;
        i = skip_ws(s, i + 1, n);
    }
}

cJSON *e2b_json_parse(const char *buf, size_t len, const char *what, e2b_error *err)
{
    if (!buf)
        len = 0;
    /* cJSON needs the NUL inside len to reject trailing garbage (platform-notes §4). */
    char *copy = malloc(len + 1);
    if (!copy) {
        e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "%s: out of memory", what);
        return NULL;
    }
    if (len)
        memcpy(copy, buf, len);
    copy[len] = '\0';
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(copy, len + 1, &end, 1);
    if (!j) {
        size_t off = end && end >= copy ? (size_t)(end - copy) : 0;
        if (memchr(copy, '\0', len))
            e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "%s: invalid JSON (NUL byte)", what);
        else if (len == 0)
            e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "%s: empty body where JSON was expected", what);
        else if (e2b_json_valid(copy, len))
            e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "%s: out of memory while parsing JSON", what);
        else
            e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "%s: invalid JSON at byte %zu", what, off);
    }
    free(copy);
    return j;
}

const char *e2b_json_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *lookup(const cJSON *obj, const char *key, bool required, e2b_code *rc,
                           e2b_error *err)
{
    *rc = E2B_OK;
    const cJSON *v = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!v || cJSON_IsNull(v)) {
        if (required)
            *rc = e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "missing field \"%s\"", key);
        return NULL;
    }
    return v;
}

static e2b_code wrong_type(const char *key, const char *want, e2b_error *err)
{
    return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "field \"%s\" is not %s", key, want);
}

e2b_code e2b_json_get_strdup(const cJSON *obj, const char *key, bool required, char **out,
                             e2b_error *err)
{
    e2b_code rc;
    const cJSON *v = lookup(obj, key, required, &rc, err);
    if (!v)
        return rc;
    if (!cJSON_IsString(v))
        return wrong_type(key, "a string", err);
    char *s = strdup(v->valuestring);
    if (!s)
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
    free(*out);
    *out = s;
    return E2B_OK;
}

e2b_code e2b_json_get_ll(const cJSON *obj, const char *key, bool required, long long *out,
                         e2b_error *err)
{
    e2b_code rc;
    const cJSON *v = lookup(obj, key, required, &rc, err);
    if (!v)
        return rc;
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!isfinite(d) || d != floor(d) || fabs(d) > 9007199254740992.0)
        return wrong_type(key, "an integer", err);
    *out = (long long)d;
    return E2B_OK;
}

e2b_code e2b_json_get_int(const cJSON *obj, const char *key, bool required, int *out,
                          e2b_error *err)
{
    long long ll = 0;
    e2b_code rc = e2b_json_get_ll(obj, key, required, &ll, err);
    if (rc != E2B_OK || !cJSON_GetObjectItemCaseSensitive(obj, key) ||
        cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(obj, key)))
        return rc;
    if (ll < INT_MIN || ll > INT_MAX)
        return wrong_type(key, "a 32-bit integer", err);
    *out = (int)ll;
    return E2B_OK;
}

e2b_code e2b_json_get_double(const cJSON *obj, const char *key, bool required, double *out,
                             e2b_error *err)
{
    e2b_code rc;
    const cJSON *v = lookup(obj, key, required, &rc, err);
    if (!v)
        return rc;
    if (!cJSON_IsNumber(v))
        return wrong_type(key, "a number", err);
    *out = v->valuedouble;
    return E2B_OK;
}

e2b_code e2b_json_get_bool(const cJSON *obj, const char *key, bool required, bool *out,
                           e2b_error *err)
{
    e2b_code rc;
    const cJSON *v = lookup(obj, key, required, &rc, err);
    if (!v)
        return rc;
    if (!cJSON_IsBool(v))
        return wrong_type(key, "a boolean", err);
    *out = cJSON_IsTrue(v);
    return E2B_OK;
}

char *e2b_json_print(const cJSON *item)
{
    char *s = cJSON_PrintUnformatted(item);
    if (!s)
        return NULL;
    /* cJSON_free and free are the same allocator unless hooks were installed; copy so the
     * caller can always use free(). */
    char *copy = strdup(s);
    cJSON_free(s);
    return copy;
}

static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool e2b_parse_rfc3339(const char *s, time_t *out)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int Y, M, D, h, m, sec;
    const char *p = s;
    if (!p || !digits(&p, 4, &Y) || *p++ != '-' || !digits(&p, 2, &M) || *p++ != '-' ||
        !digits(&p, 2, &D))
        return false;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return false;
    p++;
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &m) || *p++ != ':' ||
        !digits(&p, 2, &sec))
        return false;
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] + (M == 2 && is_leap(Y)) || h > 23 || m > 59 ||
        sec > 60)
        return false;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    long off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 || om > 59)
            return false;
        off = sign * (oh * 3600L + om * 60L);
    } else {
        return false;
    }
    if (*p)
        return false;
    struct tm tm = {0};
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    *out = t - off;
    return true;
}

void e2b_format_rfc3339(time_t t, char *buf, size_t len)
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        if (len)
            buf[0] = '\0';
    }
}
