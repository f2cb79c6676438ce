/* failalloc.c - see failalloc.h. */
#include "failalloc.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/common_interface_defs.h>
#endif

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);

static atomic_long counter;
static atomic_int armed;
static atomic_int injected;
static long fail_at;
static bool trace; /* E2B_TORTURE_TRACE=1: print the stack of the failed allocation */

static int should_fail(void)
{
    if (!atomic_load(&armed))
        return 0;
    long n = atomic_fetch_add(&counter, 1) + 1;
    if (fail_at > 0 && n == fail_at) {
        atomic_store(&injected, 1);
#ifdef __SANITIZE_ADDRESS__
        if (trace)
            __sanitizer_print_stack_trace();
#endif
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t n)
{
    return should_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
    return should_fail() ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return should_fail() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    return should_fail() ? NULL : __real_strndup(s, n);
}

static void *hook_malloc(size_t n)
{
    return __wrap_malloc(n);
}

void failalloc_init(bool with_curl)
{
    const char *s = getenv("E2B_TORTURE_FAIL_AT");
    fail_at = s ? atol(s) : 0;
    const char *t = getenv("E2B_TORTURE_TRACE");
    trace = t && *t == '1';
    cJSON_Hooks h = {.malloc_fn = hook_malloc, .free_fn = free};
    cJSON_InitHooks(&h);
    if (with_curl)
        curl_global_init_mem(CURL_GLOBAL_DEFAULT, __wrap_malloc, free, __wrap_realloc,
                             __wrap_strdup, __wrap_calloc);
}

void failalloc_arm(void)
{
    atomic_store(&armed, 1);
}

void failalloc_disarm(void)
{
    atomic_store(&armed, 0);
}

long failalloc_count(void)
{
    return atomic_load(&counter);
}

bool failalloc_injected(void)
{
    return atomic_load(&injected) != 0;
}

long failalloc_fail_at(void)
{
    return fail_at;
}
