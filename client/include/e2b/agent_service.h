/* e2b/agent_service.h - the agent layer on top of libe2b: the ElizaOS-style E2B service
 * (tracked sandboxes, a reusable default sandbox, idle clean-up, a sandbox limit, health,
 * files), its status provider, and the EXECUTE_CODE / MANAGE_SANDBOX actions behind one
 * entry point, e2b_agent_handle_message(). agent.h (network-free parsing and formatting)
 * does the reading of messages and the writing of replies; this header does the work.
 *
 * Differences from @elizaos/plugin-e2b (shared/reference/plugin-e2b.md), on purpose:
 *  - code runs in its real language (JavaScript in a JavaScript context, bash in bash),
 *    never wrapped in Python; one code context per language per sandbox, created once
 *    and reused, so variables persist between the blocks of a message AND between
 *    messages (the plugin's local mode started a fresh process per run);
 *  - stdout printed before an error is shown with the error and its traceback;
 *  - images/plots are saved as files and returned as attachments;
 *  - a kill of an id nobody knows is answered "not found", never "killed";
 *  - the idle sweep never touches a sandbox that is executing, and the health check runs
 *    in the server's default Python context (not the user's), without counting as activity;
 *  - the sandbox limit is a typed error (E2B_ERR_SERVICE_BUSY), not a thrown string.
 *
 * Thread-safety: every function may be called from any thread. Message handling
 * (e2b_agent_handle_message) is serialised per service (one message at a time, so a
 * conversation's code contexts see its blocks in order); listing, status, sweeping and the
 * background sweeper may run concurrently with it. A sandbox that is executing is never
 * swept.
 */
#ifndef E2B_AGENT_SERVICE_H
#define E2B_AGENT_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "e2b/agent.h"
#include "e2b/client.h"
#include "e2b/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the service ------------------------------------------------------------------ */

typedef struct e2b_agent_service e2b_agent_service;

#define E2B_AGENT_DEFAULT_TEMPLATE "code-interpreter-v1"
#define E2B_AGENT_DEFAULT_TIMEOUT_S 300   /* lifetime of a sandbox the service creates */
#define E2B_AGENT_DEFAULT_MAX_SANDBOXES 5 /* the plugin's development default */
#define E2B_AGENT_DEFAULT_OUTPUT_DIR "./e2b-out"

typedef struct e2b_agent_service_opts {
    const char *template_id; /* template of sandboxes created without one; NULL =
                                 E2B_AGENT_DEFAULT_TEMPLATE */
    int sandbox_timeout_s;   /* lifetime of such sandboxes; 0 = E2B_AGENT_DEFAULT_TIMEOUT_S */
    size_t max_sandboxes;    /* most sandboxes tracked at once; 0 = the default (5) */
    long idle_timeout_s;     /* sandboxes idle longer than this are killed by a sweep;
                                 0 = never */
    long sweep_interval_s;   /* > 0: a background thread sweeps every that many seconds
                                 (needs idle_timeout_s > 0); 0 = sweep only on demand */
    long exec_timeout_ms;    /* per code block; 0 = E2B_DEFAULT_EXECUTION_TIMEOUT_MS */
    const char *output_dir;  /* images are saved here (created if missing); NULL =
                                 E2B_AGENT_DEFAULT_OUTPUT_DIR */
    const char *mode;        /* "local" (embedded e2b-mock) or "cloud"; NULL = "cloud".
                                 Only reported by the provider */
    size_t max_stream_bytes; /* per stdout/stderr/result/traceback in the reply TEXT
                                 (the JSON keeps everything); 0 = 16 KiB */
    bool keep_sandboxes;     /* e2b_agent_service_free leaves tracked sandboxes running
                                 (default: kills them, as the plugin's stop() did) */
} e2b_agent_service_opts;

/* Zeroes opts (all defaults). */
void e2b_agent_service_opts_init(e2b_agent_service_opts *opts);

/* Creates a service using client (borrowed: it must outlive the service). opts may be
 * NULL. Nothing is created on the server until it is needed. On E2B_OK *out is the new
 * service (e2b_agent_service_free). Errors: E2B_ERR_INVALID_ARGUMENT (NULL client/out,
 * negative timeouts, sweep_interval_s without idle_timeout_s, a mode other than
 * local/cloud), E2B_ERR_NO_MEMORY, E2B_ERR_IO (the sweeper thread could not start). */
e2b_code e2b_agent_service_new(e2b_client *client, const e2b_agent_service_opts *opts,
                               e2b_agent_service **out, e2b_error *err);

/* Stops the sweeper, kills every tracked sandbox unless opts.keep_sandboxes (errors are
 * ignored: best effort, like the plugin's stop()), frees everything. No other call on the
 * service may be in progress or start afterwards. NULL is a no-op. */
void e2b_agent_service_free(e2b_agent_service *svc);

/* ---- tracked sandboxes -------------------------------------------------------------- */

/* A snapshot of one tracked sandbox (plain data, nothing to free inside). */
typedef struct e2b_agent_sandbox_status {
    char sandbox_id[E2B_AGENT_ID_MAX];
    char template_id[E2B_AGENT_TEMPLATE_MAX];
    bool current;             /* code runs here (the default sandbox) */
    bool busy;                /* executing right now */
    int timeout_s;            /* lifetime asked for at creation */
    int64_t created_ms;       /* unix ms */
    int64_t last_activity_ms; /* unix ms: creation, code execution, file access */
    e2b_agent_meta metadata[E2B_AGENT_META_MAX];
    size_t metadata_len;
} e2b_agent_sandbox_status;

/* Snapshot of the tracked sandboxes, oldest first. On E2B_OK *out is a heap array of *n
 * entries (free()); NULL when *n is 0. No network call. Errors: E2B_ERR_INVALID_ARGUMENT,
 * E2B_ERR_NO_MEMORY. */
e2b_code e2b_agent_service_list(e2b_agent_service *svc, e2b_agent_sandbox_status **out, size_t *n,
                                e2b_error *err);

typedef struct e2b_agent_create_req {
    const char *template_id; /* NULL = the service's template */
    int timeout_s;           /* 0 = the service's sandbox_timeout_s */
    const e2b_kv *metadata;  /* sent to E2B and kept; may be NULL */
    size_t metadata_len;     /* at most E2B_AGENT_META_MAX */
    bool make_current;       /* code runs in it from now on */
} e2b_agent_create_req;

/* Creates and tracks a sandbox. req may be NULL (defaults, made current). id_out (may be
 * NULL) receives its id. Errors: E2B_ERR_SERVICE_BUSY when max_sandboxes are already
 * tracked (the message says how many and how to free one; nothing is sent),
 * E2B_ERR_INVALID_ARGUMENT (bad request, too much metadata), and those of
 * e2b_sandbox_create. */
e2b_code e2b_agent_service_create(e2b_agent_service *svc, const e2b_agent_create_req *req,
                                  char id_out[E2B_AGENT_ID_MAX], e2b_error *err);

/* The current sandbox's id, creating the default sandbox if there is none (subject to
 * the limit). Errors: as e2b_agent_service_create. */
e2b_code e2b_agent_service_default(e2b_agent_service *svc, char id_out[E2B_AGENT_ID_MAX],
                                   e2b_error *err);

/* Kills a sandbox by id. A tracked one is killed and forgotten (its code contexts with
 * it); an untracked id is still asked of the control plane (the user may name a sandbox
 * created elsewhere). *killed (may be NULL) is false when no such sandbox exists anywhere
 * (not an error). Errors: E2B_ERR_INVALID_ARGUMENT, those of e2b_sandbox_kill. A tracked
 * sandbox that is executing is refused with E2B_ERR_CONFLICT. */
e2b_code e2b_agent_service_kill(e2b_agent_service *svc, const char *sandbox_id, bool *killed,
                                e2b_error *err);

/* Kills the most recently CREATED tracked sandbox ("kill the newest sandbox"); id_out
 * (may be NULL) gets its id, "" when nothing is tracked (then *killed is false). */
e2b_code e2b_agent_service_kill_latest(e2b_agent_service *svc, char id_out[E2B_AGENT_ID_MAX],
                                       bool *killed, e2b_error *err);

/* Asks the control plane about every tracked sandbox; the ones it no longer knows
 * (expired, killed elsewhere) are forgotten. *gone (may be NULL) receives how many.
 * A network failure leaves the table unchanged and is returned. */
e2b_code e2b_agent_service_refresh(e2b_agent_service *svc, size_t *gone, e2b_error *err);

/* Kills the tracked sandboxes idle (now - last activity) for more than idle_s seconds,
 * except those executing. idle_s < 0 = the service's idle_timeout_s (then 0 means "no
 * sweep": nothing is killed). *killed (may be NULL) receives how many were removed. Kill
 * failures other than "already gone" are returned (the sandbox is still forgotten, as it
 * is idle and unusable to us). This is what the background sweeper calls. */
e2b_code e2b_agent_service_sweep(e2b_agent_service *svc, long idle_s, size_t *killed,
                                 e2b_error *err);

/* ---- health and files --------------------------------------------------------------- */

typedef struct e2b_agent_health {
    bool control_plane;                  /* GET /v2/sandboxes answered */
    bool execution;                      /* print(1 + 1) printed "2" */
    int64_t latency_ms;                  /* of the whole check */
    char sandbox_id[E2B_AGENT_ID_MAX];   /* where the code ran ("" if it did not) */
    char message[E2B_ERROR_MESSAGE_MAX]; /* what failed, "" when healthy */
} e2b_agent_health;

/* A live health check: the control plane is reachable, and a trivial program runs. The
 * program runs in the current sandbox's DEFAULT Python context (never a user context; it
 * does not count as activity); with no current sandbox a temporary one (60 s) is created
 * and killed afterwards, so a check never leaves a sandbox behind. The result is also
 * remembered for the provider. Returns E2B_OK when healthy; otherwise the failing call's
 * code (out->message says which part failed). out may be NULL. */
e2b_code e2b_agent_service_health(e2b_agent_service *svc, e2b_agent_health *out, e2b_error *err);

/* The ElizaOS service's file helpers, done over envd (no code execution, no escaping
 * problems). sandbox_id NULL = the current sandbox (created if needed). A tracked
 * sandbox's handle is reused and its activity time updated; an untracked id is connected
 * to first (e2b_write_file_to_sandbox / e2b_read_file_from_sandbox). *content is a heap
 * string (free()). A missing file is E2B_ERR_FILE_NOT_FOUND (the plugin returned "").
 * Errors: those of files.h and e2b_sandbox_connect. */
e2b_code e2b_agent_service_write_file(e2b_agent_service *svc, const char *sandbox_id,
                                      const char *path, const char *content, e2b_error *err);
e2b_code e2b_agent_service_read_file(e2b_agent_service *svc, const char *sandbox_id,
                                     const char *path, char **content, e2b_error *err);

/* ---- the provider --------------------------------------------------------------------- */

/* The status the `e2b` provider gives the model, without network traffic (availability
 * is the last health check's result, or "unknown" before the first one):
 *   JSON: {"available": true|false|null, "mode": "local"|"cloud", "apiUrl",
 *          "activeSandboxes": n, "maxSandboxes", "idleTimeoutS", "currentSandbox": id|null,
 *          "sandboxes": [{"sandboxId", "template", "current", "busy", "ageS", "idleS",
 *                         "timeoutS", "createdAt" (ms), "lastActivity" (ms),
 *                         "metadata": {}}],
 *          "capabilities": {"languages": [...], "files": true, "commands": true,
 *                           "images": true},
 *          "lastHealth": null | {"controlPlane", "execution", "latencyMs", "message"}}
 *   text: one paragraph for a prompt, e.g. "E2B code execution is available (local mode).
 *         2 active sandboxes (limit 5): `abc` (current, up 1m 3s, idle 5s), ... Languages:
 *         python, javascript, typescript, bash. File and command access: yes."
 * Either out may be NULL. On E2B_OK *text is a heap string (free()) and *json a cJSON
 * object (cJSON_Delete). Errors: E2B_ERR_INVALID_ARGUMENT (svc NULL), E2B_ERR_NO_MEMORY. */
e2b_code e2b_agent_service_status(e2b_agent_service *svc, char **text, cJSON **json,
                                  e2b_error *err);

/* ---- actions ------------------------------------------------------------------------ */

typedef enum e2b_agent_action {
    E2B_AGENT_ACTION_NONE = 0,
    E2B_AGENT_ACTION_EXECUTE_CODE = 1,
    E2B_AGENT_ACTION_MANAGE_SANDBOX = 2
} e2b_agent_action;

/* "NONE", "EXECUTE_CODE", "MANAGE_SANDBOX". Never NULL. */
const char *e2b_agent_action_name(e2b_agent_action a);

typedef struct e2b_agent_reply {
    e2b_agent_action action;
    bool success;       /* fulfilled: every block ran without raising / the sandbox
                             request was done. false also when nothing could be done */
    e2b_code infra;     /* E2B_OK, or the infrastructure failure (network, sandbox
                             creation, timeout, limit reached ...) that stopped the action */
    char *text;         /* the reply for the user (heap, never NULL) */
    cJSON *json;        /* {"action", "success", "text", "data": {...},
                              "attachments": [{"path", "contentType"}],
                              "error": null | {"code", "message"}} */
    char **attachments; /* saved image paths (heap strings), in block order */
    size_t attachment_count;
} e2b_agent_reply;

/* Frees what a reply owns and zeroes it. NULL is a no-op. */
void e2b_agent_reply_free(e2b_agent_reply *reply);

/* Routes one chat message and runs the action:
 *  1. code found (agent.h rules: fenced blocks, inline spans, a message that is code)
 *     -> EXECUTE_CODE: every block, in order, in the current sandbox (created on demand),
 *        each in its language's context (created once per sandbox, reused). A block with
 *        an unknown language tag, or unterminated (the message ended inside it), is not
 *        run and reported as a failed block (UnsupportedLanguage / IncompleteCodeBlock).
 *        Images (png, jpeg, svg, pdf) go to output_dir as
 *        "chat-<time>-<message n>-<block i>-<k>.<ext>" and are attachments. A user-code
 *        error does not stop the following blocks (as in the plugin). If the sandbox
 *        expired the block is re-run once in the next current sandbox (another tracked
 *        code-interpreter sandbox, or a new one), and the reply says so. Code runs in the
 *        most recent sandbox created with the service's template (by a message or by
 *        MANAGE_SANDBOX create); when that one is killed, in the most recently active
 *        remaining one of that template.
 *        data = e2b_agent_format_json's object (+ "sandboxId", "note" when set).
 *  2. else a sandbox request (e2b_agent_parse_intent, and the message mentions a
 *     sandbox) -> MANAGE_SANDBOX: create (timeout, template, metadata + createdBy),
 *     list (refreshed from the control plane), kill by id / newest / all / the only one.
 *     data = {"action": "create"|"list"|"kill"|"unknown", ...}: create: "sandboxId",
 *     "timeoutS", "template", "metadata"; list: "sandboxes" [{"sandboxId", "template",
 *     "isActive", "uptimeMs", "lastActivityMs"}]; kill: "killed" [ids], "notFound" [ids].
 *  3. else a trigger word without code ("run it") -> EXECUTE_CODE, success false,
 *     data {"reason": "no_code_found"}.
 *  4. else NONE: a short "no action" reply, success true.
 * On E2B_OK *out is filled (free with e2b_agent_reply_free) - also when the action failed
 * (see success / infra). Errors (then *out is zeroed): E2B_ERR_INVALID_ARGUMENT (NULL svc
 * or out, NULL text with len > 0, a message over E2B_AGENT_MAX_MESSAGE),
 * E2B_ERR_NO_MEMORY. */
e2b_code e2b_agent_handle_message(e2b_agent_service *svc, const char *text, size_t len,
                                  e2b_agent_reply *out, e2b_error *err);

#ifdef __cplusplus
}
#endif
#endif
