/* fixture.c - locating, listing and parsing JSON fixtures. See harness.h. */
#include "harness.h"

#include <dirent.h>
#include <regex.h>
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

/* ---- checking fixture JSON -------------------------------------------------------------- */

void harness_json_check_keys(const harness_step *s, const cJSON *obj, const char *where,
                             const char *const *allowed)
{
    if (!cJSON_IsObject(obj))
        harness_step_fail(s, "%s must be a JSON object", where);
    for (const cJSON *it = obj->child; it; it = it->next) {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            ok = ok || !strcmp(*a, it->string);
        if (!ok)
            harness_step_fail(s, "unknown key \"%s\" in %s", it->string, where);
    }
}

const cJSON *harness_json_get(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

const char *harness_json_str(const harness_step *s, const cJSON *o, const char *key)
{
    const cJSON *v = harness_json_get(o, key);
    if (!v)
        return NULL;
    if (!cJSON_IsString(v))
        harness_step_fail(s, "\"%s\" must be a string", key);
    return v->valuestring;
}

long long harness_json_ll(const harness_step *s, const cJSON *o, const char *key, long long def)
{
    const cJSON *v = harness_json_get(o, key);
    if (!v)
        return def;
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(long long)v->valuedouble)
        harness_step_fail(s, "\"%s\" must be an integer", key);
    return (long long)v->valuedouble;
}

bool harness_json_bool(const harness_step *s, const cJSON *o, const char *key, bool def)
{
    const cJSON *v = harness_json_get(o, key);
    if (!v)
        return def;
    if (!cJSON_IsBool(v))
        harness_step_fail(s, "\"%s\" must be true or false", key);
    return cJSON_IsTrue(v);
}

void harness_json_match(const harness_step *s, const char *what, const cJSON *m, const char *val,
                        size_t len)
{
    if (cJSON_IsNull(m)) {
        if (val)
            harness_step_fail(s, "%s: expected absent, got \"%s\"", what, val);
        return;
    }
    if (cJSON_IsString(m)) {
        if (!val || strlen(m->valuestring) != len || memcmp(m->valuestring, val, len))
            harness_step_fail(s, "%s: expected \"%s\", got \"%s\"", what, m->valuestring,
                              val ? val : "(null)");
        return;
    }
    static const char *const keys[] = {"equals", "contains", "not_contains", "regex",
                                       "length", "empty",    "present",      NULL};
    harness_json_check_keys(s, m, what, keys);
    const cJSON *v;
    if ((v = harness_json_get(m, "present")) && cJSON_IsTrue(v) != (val != NULL))
        harness_step_fail(s, "%s: expected %s", what, cJSON_IsTrue(v) ? "present" : "absent");
    if (!val) {
        if (harness_json_get(m, "equals") || harness_json_get(m, "contains") ||
            harness_json_get(m, "regex") || harness_json_get(m, "length"))
            harness_step_fail(s, "%s: absent", what);
        return;
    }
    if ((v = harness_json_get(m, "equals")) &&
        (strlen(v->valuestring) != len || memcmp(v->valuestring, val, len)))
        harness_step_fail(s, "%s: expected \"%s\", got \"%s\"", what, v->valuestring, val);
    if ((v = harness_json_get(m, "contains"))) {
        const cJSON *it = cJSON_IsArray(v) ? v->child : v;
        for (; it; it = cJSON_IsArray(v) ? it->next : NULL)
            if (!cJSON_IsString(it) || !strstr(val, it->valuestring))
                harness_step_fail(s, "%s: \"%s\" does not contain \"%s\"", what, val,
                                  cJSON_IsString(it) ? it->valuestring : "?");
    }
    if ((v = harness_json_get(m, "not_contains")) && cJSON_IsString(v) &&
        strstr(val, v->valuestring))
        harness_step_fail(s, "%s: \"%s\" contains \"%s\"", what, val, v->valuestring);
    if ((v = harness_json_get(m, "regex"))) {
        regex_t re;
        if (!cJSON_IsString(v) || regcomp(&re, v->valuestring, REG_EXTENDED | REG_NOSUB))
            harness_step_fail(s, "%s: bad regex", what);
        int r = regexec(&re, val, 0, NULL, 0);
        regfree(&re);
        if (r)
            harness_step_fail(s, "%s: \"%s\" does not match /%s/", what, val, v->valuestring);
    }
    if ((v = harness_json_get(m, "length")) && (size_t)v->valuedouble != len)
        harness_step_fail(s, "%s: length %zu, expected %.0f", what, len, v->valuedouble);
    if ((v = harness_json_get(m, "empty")) && cJSON_IsTrue(v) != (len == 0))
        harness_step_fail(s, "%s: expected %s, got %zu bytes", what,
                          cJSON_IsTrue(v) ? "empty" : "non-empty", len);
}

int harness_fixture_main(int argc, char **argv, const char *dir, CMUnitTestFunction run,
                         const struct CMUnitTest *extra, size_t nextra)
{
    char **paths = NULL;
    size_t nfix = 0;
    if (harness_fixture_list(dir, &paths, &nfix) != 0)
        return 1;
    harness_fixture_case *cases = calloc(nfix ? nfix : 1, sizeof *cases);
    struct CMUnitTest *tests = calloc(nfix + nextra ? nfix + nextra : 1, sizeof *tests);
    int rc = cases && tests ? 0 : 1;
    for (size_t i = 0; i < nfix && rc == 0; i++) {
        harness_fixture_case *fc = &cases[i];
        fc->path = paths[i];
        fc->root = harness_fixture_load(fc->path, fc->load_error, sizeof fc->load_error);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(fc->root, "name");
        if (cJSON_IsObject(fc->root) && cJSON_IsString(name) && name->valuestring[0]) {
            fc->name = strdup(name->valuestring);
        } else {
            /* no usable name: the file name, so the broken fixture still shows up */
            const char *base = strrchr(fc->path, '/') ? strrchr(fc->path, '/') + 1 : fc->path;
            fc->name = strndup(base, strlen(base) - 5);
            if (fc->root && !fc->load_error[0])
                snprintf(fc->load_error, sizeof fc->load_error,
                         cJSON_IsObject(fc->root) ? "%s: the fixture has no \"name\" string"
                                                  : "%s: the fixture must be a JSON object",
                         fc->path);
            cJSON_Delete(fc->root);
            fc->root = NULL;
        }
        if (!fc->name) {
            fprintf(stderr, "out of memory\n");
            rc = 1;
            break;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(cases[j].name, fc->name)) {
                fprintf(stderr, "%s: fixture name \"%s\" is also used by %s\n", fc->path, fc->name,
                        cases[j].path);
                rc = 1;
            }
        tests[i].name = fc->name;
        tests[i].test_func = run;
        tests[i].initial_state = fc;
    }
    if (rc == 0) {
        for (size_t i = 0; i < nextra; i++)
            tests[nfix + i] = extra[i];
        rc = harness_run(argc, argv, dir, tests, nfix + nextra);
    } else if (!cases || !tests) {
        fprintf(stderr, "out of memory\n");
    }
    for (size_t i = 0; cases && i < nfix; i++) {
        cJSON_Delete(cases[i].root);
        free(cases[i].name);
    }
    free(cases);
    free(tests);
    harness_fixture_list_free(paths, nfix);
    return rc;
}

void harness_vars_set(const harness_step *s, harness_vars *v, const char *name, const char *value)
{
    char *val = strdup(value);
    if (!val)
        harness_step_fail(s, "out of memory");
    for (size_t i = 0; i < v->n; i++)
        if (!strcmp(v->names[i], name)) {
            free(v->values[i]);
            v->values[i] = val;
            return;
        }
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        char **nn = realloc(v->names, cap * sizeof *nn);
        if (nn)
            v->names = nn;
        char **nv = nn ? realloc(v->values, cap * sizeof *nv) : NULL;
        if (!nv) {
            free(val);
            harness_step_fail(s, "out of memory");
        }
        v->values = nv;
        v->cap = cap;
    }
    v->names[v->n] = strdup(name);
    if (!v->names[v->n]) {
        free(val);
        harness_step_fail(s, "out of memory");
    }
    v->values[v->n++] = val;
}

const char *harness_vars_get(const harness_vars *v, const char *name, size_t len)
{
    if (len == (size_t)-1)
        len = strlen(name);
    for (size_t i = 0; i < v->n; i++)
        if (strlen(v->names[i]) == len && !strncmp(v->names[i], name, len))
            return v->values[i];
    return NULL;
}

const char *harness_vars_resolve(const harness_step *s, const harness_vars *v, const char *str)
{
    if (str[0] != '$')
        return str;
    if (str[1] == '$')
        return str + 1;
    if (!strcmp(str + 1, "run"))
        return harness_run_tag();
    const char *val = harness_vars_get(v, str + 1, (size_t)-1);
    if (!val)
        harness_step_fail(s, "unknown variable %s (save it first with \"save_as\")", str);
    return val;
}

void harness_vars_free(harness_vars *v)
{
    for (size_t i = 0; i < v->n; i++) {
        free(v->names[i]);
        free(v->values[i]);
    }
    free(v->names);
    free(v->values);
    memset(v, 0, sizeof *v);
}

static void kill_sandbox(void *p)
{
    e2b_sandbox *sbx = p;
    e2b_error err;
    e2b_sandbox_kill(e2b_sandbox_client(sbx), e2b_sandbox_id(sbx), NULL, &err);
    e2b_sandbox_free(sbx);
}

const cJSON *harness_fixture_begin(const harness_fixture_case *fc, harness_target **t,
                                   e2b_sandbox **sbx)
{
    const harness_step *st = HARNESS_STEP(fc->name, fc->path, 0, NULL);
    static const char *const top[] = {"name", "description", "live", "mock_args", "steps", NULL};
    harness_json_check_keys(st, fc->root, "the fixture", top);
    if (!harness_json_bool(st, fc->root, "live", true) && harness_live_requested()) {
        print_message("SKIP: %s is mock only\n", fc->name);
        skip();
    }
    const cJSON *margs = harness_json_get(fc->root, "mock_args");
    const char **args = NULL;
    if (margs) {
        if (!cJSON_IsArray(margs))
            harness_step_fail(st, "\"mock_args\" must be an array of strings");
        args = calloc((size_t)cJSON_GetArraySize(margs) + 1, sizeof *args);
        assert_non_null(args);
        harness_defer(free, args);
        int i = 0;
        for (const cJSON *a = margs->child; a; a = a->next) {
            if (!cJSON_IsString(a))
                harness_step_fail(st, "\"mock_args\" must be an array of strings");
            args[i++] = a->valuestring;
        }
    }
    harness_target_opts to = {.mock_args = args};
    *t = harness_target_start(&to);
    e2b_error err = {0};
    e2b_create_opts co;
    e2b_create_opts_init(&co);
    e2b_kv md = {"run", harness_run_tag()};
    co.metadata = &md;
    co.metadata_len = 1;
    harness_assert_ok(e2b_sandbox_create((*t)->client, &co, sbx, &err), &err, "create");
    harness_defer(kill_sandbox, *sbx);
    const cJSON *steps = harness_json_get(fc->root, "steps");
    if (!cJSON_IsArray(steps) || !steps->child)
        harness_step_fail(st, "\"steps\" must be a non-empty array");
    return steps;
}
