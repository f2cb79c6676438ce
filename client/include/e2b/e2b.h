/* e2b/e2b.h - umbrella header of libe2b, a C11 client for E2B-style sandboxes.
 *
 * API overview (each header documents every function's contract):
 *
 *   error.h     One error type for everything: functions return an e2b_code (E2B_OK = 0)
 *               and fill an optional caller-owned e2b_error (code, http_status,
 *               retry_after_s, message). e2b_code_name() gives a stable lower_snake name.
 *   client.h    e2b_config (e2b_config_init / e2b_config_from_env: E2B_API_KEY,
 *               E2B_API_URL, E2B_SANDBOX_URL, E2B_DOMAIN, E2B_DEBUG,
 *               E2B_REQUEST_TIMEOUT_MS) and the thread-safe e2b_client: a pool of keep-alive
 *               libcurl handles, E2B's URL rules (e2b_client_sandbox_url), and
 *               e2b_client_cancel_all() to abort every call in flight from any thread.
 *   sandbox.h   Control-plane lifecycle: create, connect (resumes paused), get_info, list
 *               (one page, or an iterator over all pages), set_timeout, kill, pause, metrics.
 *               429 + integer Retry-After is retried (cfg.max_retries_429); nothing else is.
 *   local.h     The local embedded default: start `e2b-mock --port 0` as a child and point a
 *               config at it (used by e2bc and the tests when no E2B_API_KEY/E2B_API_URL).
 *   code.h      Code interpreter: e2b_run_code streams /execute NDJSON events to callbacks;
 *               code contexts.
 *   files.h     envd files: read/write/list/... over REST and Connect RPC.
 *   commands.h  envd processes: run commands, stream their output, kill.
 *
 * Minimal use:
 *
 *   e2b_config cfg; e2b_error err; e2b_client *c; e2b_sandbox *sbx;
 *   if (e2b_config_from_env(&cfg, &err) || e2b_client_new(&cfg, &c, &err)) goto fail;
 *   if (e2b_sandbox_create(c, NULL, &sbx, &err)) goto fail;   // template "base"
 *   ... e2b_run_code(sbx, "print(1+1)", NULL, ...) ...
 *   e2b_sandbox_kill(c, e2b_sandbox_id(sbx), NULL, &err);
 *   e2b_sandbox_free(sbx); e2b_client_free(c);
 *   fail: fprintf(stderr, "%s: %s\n", e2b_code_name(err.code), err.message);
 *
 * Ownership: what a function returns through an out-pointer belongs to the caller and has
 * a matching *_free; strings inside returned structs are owned by those structs; config
 * strings are borrowed (copied by e2b_client_new). Handles may be used from one thread at
 * a time; the client may be shared by all threads.
 */
#ifndef E2B_E2B_H
#define E2B_E2B_H
#include "e2b/error.h"
#include "e2b/client.h"
#include "e2b/sandbox.h"
#include "e2b/local.h"
#include "e2b/code.h"
#include "e2b/files.h"
#include "e2b/commands.h"
#include "e2b/agent.h"
#include "e2b/agent_service.h"
#endif
