/* execute.h - the code-interpreter surface of e2b-mock (port 49999, e2b-protocol.md §7).
 *
 * A MOCK_MODULE ("code_interpreter") that registers on MOCK_PORT_CODE:
 *   GET  /health                   200 "OK"
 *   POST /execute                  200 NDJSON stream (X-Access-Token required)
 *   POST /contexts                 200 {"id","language","cwd"}
 *   GET  /contexts                 200 [{"id","language","cwd"}, ...] (defaults included)
 *   POST /contexts/{id}/restart    200 null
 *   DELETE /contexts/{id}          200 null
 * Errors are plain text as on E2B (400 / 404 / 500), 422 JSON for a malformed body.
 *
 * Every sandbox gets default python and javascript contexts (listed at once, their kernel
 * processes start on first use); a `language` without context_id uses (or lazily creates) the
 * default context of that language. Kernels run under bubblewrap in the sandbox directory
 * (kernel.h, sandboxrt.h) and die with the sandbox (store destroy hook).
 *
 * Scripted answers: JSON files in a directory (fixtures/execute-scripts/ in the repo) replace
 * the kernel for code they match, with canned events and per-event delays (charts, pdf, latex
 * ... on the wire). Loaded at init from env E2B_MOCK_EXECUTE_SCRIPTS (a directory; e2b-mock's
 * --execute-scripts DIR sets it) and with execute_load_scripts(). File format: see
 * fixtures/execute-scripts/README.md.
 *
 * Isolation: without a working bubblewrap, code execution is refused (the error line says so)
 * unless e2b-mock runs with --unisolated (env E2B_MOCK_UNISOLATED=1).
 */
#ifndef E2B_MOCK_EXECUTE_H
#define E2B_MOCK_EXECUTE_H

#include <stddef.h>

#include "server.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Loads every *.json file of dir as scripted answers for server s (added after the ones
 * already loaded; the first matching script wins). Returns the number of scripts loaded, or -1
 * with a message in err (nothing is added then) if a file is unreadable or malformed. */
int execute_load_scripts(mock_server *s, const char *dir, char *err, size_t errlen);

/* Number of contexts (default ones included) known for a sandbox; 0 if none. For tests. */
size_t execute_context_count(mock_server *s, const char *sandbox_id);

#ifdef __cplusplus
}
#endif
#endif
