/* util.c - see util.h. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

/* ------------------------------------------------------------------ clock */

static _Atomic int64_t clock_offset_ms;

int64_t mock_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec +
           atomic_load(&clock_offset_ms) * 1000000LL;
}

int64_t mock_now_ms(void)
{
    return mock_now_ns() / 1000000LL;
}

void mock_clock_advance_ms(int64_t delta_ms)
{
    atomic_fetch_add(&clock_offset_ms, delta_ms);
}

int64_t mock_clock_offset_ms(void)
{
    return atomic_load(&clock_offset_ms);
}

/* ------------------------------------------------------------------ logging */

static _Atomic int log_level = MOCK_LOG_INFO;

void mock_log_set_level(int level)
{
    atomic_store(&log_level, level);
}
int mock_log_level(void)
{
    return atomic_load(&log_level);
}

void mock_log(int level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    if (level > atomic_load(&log_level))
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    /* one fprintf per line so concurrent lines do not interleave */
    fprintf(stderr, "e2b-mock: %s: %s\n", names[level < 0 ? 0 : level > 3 ? 3 : level], buf);
}

/* ------------------------------------------------------------------ randomness */

int mock_random_alnum(char *out, size_t n)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    size_t i = 0;
    while (i < n) {
        unsigned char buf[64];
        if (RAND_bytes(buf, sizeof buf) != 1)
            return -1;
        for (size_t j = 0; j < sizeof buf && i < n; j++) {
            if (buf[j] >= 252) /* 252 = 7*36: reject to avoid modulo bias */
                continue;
            out[i++] = alphabet[buf[j] % 36];
        }
    }
    out[n] = '\0';
    return 0;
}

int mock_random_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char buf[64];
    if (nbytes > sizeof buf || RAND_bytes(buf, (int)nbytes) != 1)
        return -1;
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[buf[i] >> 4];
        out[2 * i + 1] = hex[buf[i] & 15];
    }
    out[2 * nbytes] = '\0';
    return 0;
}

/* ------------------------------------------------------------------ time formatting */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

void mock_format_rfc3339_ms(int64_t ms, char *out, size_t outlen)
{
    time_t sec = (time_t)floor_div(ms, 1000);
    int frac = (int)(ms - (int64_t)sec * 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

void mock_format_rfc3339_nano(int64_t ns, char *out, size_t outlen)
{
    time_t sec = (time_t)floor_div(ns, 1000000000LL);
    long frac = (long)(ns - (int64_t)sec * 1000000000LL);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char fracbuf[32] = "";
    if (frac > 0) {
        snprintf(fracbuf, sizeof fracbuf, ".%09ld", frac);
        size_t n = strlen(fracbuf);
        while (n > 1 && fracbuf[n - 1] == '0')
            fracbuf[--n] = '\0';
    }
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, fracbuf);
}

static int parse_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int mock_parse_rfc3339_ns(const char *s, int64_t *ns_out)
{
    if (!s)
        return -1;
    const char *p = s;
    int Y, M, D, h, m, sec;
    if (parse_digits(&p, 4, &Y) || *p++ != '-' || parse_digits(&p, 2, &M) || *p++ != '-' ||
        parse_digits(&p, 2, &D) || (*p != 'T' && *p != 't' && *p != ' '))
        return -1;
    p++;
    if (parse_digits(&p, 2, &h) || *p++ != ':' || parse_digits(&p, 2, &m) || *p++ != ':' ||
        parse_digits(&p, 2, &sec))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return -1;
    int64_t frac = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 9) {
                frac = frac * 10 + (*p - '0');
                digits++;
            }
            p++;
        }
        if (digits == 0)
            return -1;
        while (digits++ < 9)
            frac *= 10;
    }
    int64_t off_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (parse_digits(&p, 2, &oh) || *p++ != ':' || parse_digits(&p, 2, &om))
            return -1;
        off_s = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    struct tm tm = {0};
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    /* Nanoseconds since the epoch fit int64 only up to 2262: reject what would overflow
     * (a hostile nextToken reaches this parser). */
    int64_t secs = (int64_t)t - off_s, ns;
    if (__builtin_mul_overflow(secs, (int64_t)1000000000, &ns) ||
        __builtin_add_overflow(ns, frac, &ns))
        return -1;
    *ns_out = ns;
    return 0;
}

/* ------------------------------------------------------------------ base64url */

char *mock_base64url_encode(const void *data, size_t len)
{
    if (len > INT_MAX / 2)
        return NULL;
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (!out)
        return NULL;
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
    for (int i = 0; i < n; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    return out;
}

unsigned char *mock_base64url_decode(const char *s, size_t *len_out)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (n % 4 == 1 || n > INT_MAX / 2)
        return NULL;
    size_t padded = (n + 3) / 4 * 4;
    char *tmp = malloc(padded + 1);
    unsigned char *out = malloc(padded / 4 * 3 + 1);
    if (!tmp || !out) {
        free(tmp);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (c == '+' || c == '/') /* not base64url */
            goto bad;
        tmp[i] = c;
    }
    for (size_t i = n; i < padded; i++)
        tmp[i] = '=';
    tmp[padded] = '\0';
    int m = padded ? EVP_DecodeBlock(out, (unsigned char *)tmp, (int)padded) : 0;
    if (m < 0)
        goto bad;
    m -= (int)(padded - n); /* EVP_DecodeBlock counts padding as zero bytes */
    out[m] = '\0';
    free(tmp);
    *len_out = (size_t)m;
    return out;
bad:
    free(tmp);
    free(out);
    return NULL;
}

/* ------------------------------------------------------------------ URL decoding */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *mock_url_decode(const char *s, size_t len, int form)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            int a, b;
            if (i + 2 >= len || (a = hexval(s[i + 1])) < 0 || (b = hexval(s[i + 2])) < 0) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(a * 16 + b);
            i += 2;
        } else if (form && s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* ------------------------------------------------------------------ filesystem */

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    int rc = (flag == FTW_DP) ? rmdir(path) : unlink(path);
    if (rc != 0 && errno == ENOENT)
        rc = 0;
    return rc;
}

int mock_rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    /* make sure we can descend into read-only dirs a sandbox may have created */
    return nftw(path, rm_cb, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

int mock_mkdir_p(const char *path, unsigned mode)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST)
                return -1;
            buf[i] = c;
        }
    }
    return 0;
}

static _Thread_local uint64_t du_total;

static int du_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)path;
    (void)ftw;
    if (flag == FTW_F && S_ISREG(sb->st_mode))
        du_total += (uint64_t)sb->st_size;
    return 0;
}

uint64_t mock_disk_usage(const char *path)
{
    du_total = 0;
    nftw(path, du_cb, 32, FTW_PHYS | FTW_MOUNT);
    return du_total;
}
