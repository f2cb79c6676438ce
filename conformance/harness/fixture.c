/* fixture.c - locating, listing and parsing JSON fixtures. See harness.h. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *harness_fixtures_dir(void)
{
    static char buf[4096];
    const char *d = getenv("E2B_FIXTURES_DIR");
    if (d && *d)
        return d;
    const char *src = getenv("E2B_SOURCE_DIR");
    if (src && *src && (size_t)snprintf(buf, sizeof buf, "%s/fixtures", src) < sizeof buf)
        return buf;
    return "fixtures";
}

/* Reads a whole file into a NUL-terminated heap buffer. Returns NULL with errno set. */
static char *read_file(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
        if (len + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                errno = ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
        errno = EIO;
    }
    fclose(f);
    if (buf) {
        buf[len] = '\0';
        *len_out = len;
    }
    return buf;
}

cJSON *harness_fixture_load(const char *relpath, char *errbuf, size_t errlen)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", harness_fixtures_dir(), relpath) >=
        sizeof path) {
        snprintf(errbuf, errlen, "%s: path too long", relpath);
        return NULL;
    }
    size_t len = 0;
    char *text = read_file(path, &len);
    if (!text) {
        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    const char *end = NULL;
    /* len + 1 covers the NUL, so trailing whitespace is allowed and garbage is not. */
    cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);
    if (!root) {
        size_t off = end ? (size_t)(end - text) : 0;
        size_t line = 1;
        for (size_t i = 0; i < off && i < len; i++)
            line += text[i] == '\n';
        snprintf(errbuf, errlen, "%s: invalid JSON near byte %zu (line %zu)", path, off, line);
    }
    free(text);
    return root;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void harness_fixture_list_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int harness_fixture_list(const char *dir, char ***names_out, size_t *n_out)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", harness_fixtures_dir(), dir) >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    DIR *d = opendir(path);
    if (!d) {
        int e = errno;
        fprintf(stderr, "harness: cannot read fixture directory %s: %s\n", path, strerror(e));
        errno = e;
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nn = realloc(names, nc * sizeof *nn);
            if (!nn)
                goto oom;
            names = nn;
            cap = nc;
        }
        size_t need = strlen(dir) + 1 + l + 1;
        names[n] = malloc(need);
        if (!names[n])
            goto oom;
        snprintf(names[n], need, "%s/%s", dir, de->d_name);
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_str);
    *names_out = names;
    *n_out = n;
    return 0;
oom:
    closedir(d);
    harness_fixture_list_free(names, n);
    fprintf(stderr, "harness: out of memory listing %s\n", path);
    errno = ENOMEM;
    return -1;
}
