/* failalloc.h - allocation-failure injection for torture builds (-DE2B_TORTURE=ON).
 *
 * Programs linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,
 * --wrap=strndup and failalloc.c route those calls (made from any object linked statically
 * into the program: libe2b, e2bmock, the program itself) through a counter. Once armed,
 * allocation number E2B_TORTURE_FAIL_AT (1-based, env) returns NULL; every other one
 * succeeds. cJSON (a shared library) is routed too through cJSON_InitHooks, and libcurl
 * through curl_global_init_mem when failalloc_init(with_curl=1) is used.
 * Not covered: allocations inside other shared libraries (OpenSSL, zlib, libc's asprintf /
 * open_memstream / getline internals).
 */
#ifndef E2B_FAILALLOC_H
#define E2B_FAILALLOC_H

#include <stdbool.h>
#include <stddef.h>

/* Reads E2B_TORTURE_FAIL_AT (0/unset = never fail), installs the cJSON hooks and, when
 * with_curl, libcurl's memory callbacks (must run before any curl_global_init). */
void failalloc_init(bool with_curl);

/* Counting (and failing) happens only between arm and disarm. */
void failalloc_arm(void);
void failalloc_disarm(void);

/* Allocations counted so far; whether the failure was injected; the fail-at value. */
long failalloc_count(void);
bool failalloc_injected(void);
long failalloc_fail_at(void);

#endif
