/* harness.h - shared machinery of the conformance suites (library e2bharness).
 *
 * A suite is a cmocka program whose main() is one call:
 *
 *     return harness_run(argc, argv, "lifecycle", tests, n);
 *
 * harness_run understands `--filter <glob>` (or E2B_TEST_FILTER) and `--list`, installs a
 * teardown that releases everything a test registered with harness_defer(), and returns the
 * number of failed tests (0 = success) so main can return it.
 *
 * Targets. A test calls harness_target_start() to get a client pointed at a fresh target:
 *   - by default a private e2b-mock child ($E2B_MOCK_BIN, else <exe dir>/../bin/e2b-mock,
 *     else what e2b_local_start finds), started with the given extra arguments and stopped
 *     at teardown;
 *   - with E2B_LIVE=1 and E2B_API_KEY set, real E2B (E2B_API_URL / E2B_DOMAIN honoured).
 *     With E2B_LIVE=1 but no key, or with options only a mock understands, the test is
 *     skipped (cmocka skip()) with a message that says why.
 *
 * Fixtures are JSON files under $E2B_FIXTURES_DIR (set by ctest for every test), loaded with
 * harness_fixture_load / harness_fixture_list.
 *
 * Everything here fails the running test (cmocka fail_msg) instead of returning errors, so it
 * must be called from inside a cmocka test function unless documented otherwise.
 */
#ifndef E2B_HARNESS_H
#define E2B_HARNESS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "e2b/e2b.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- running a suite ---------------------------------------------------------------- */

/* Runs tests[0..n) as cmocka group `group_name`. Options (argv):
 *   --filter <glob> | --filter=<glob>   run only tests whose name matches (cmocka glob:
 *                                        '*' any run, '?' one char); E2B_TEST_FILTER is
 *                                        used when no --filter is given
 *   --list                              print the test names, one per line, and exit 0
 *   --help
 * Tests whose teardown_func is NULL get harness_teardown (which calls harness_cleanup).
 * Returns the number of failed tests (0 on success), 2 on a usage error. Call from main. */
int harness_run(int argc, char **argv, const char *group_name, const struct CMUnitTest *tests,
                size_t n);

/* cmocka teardown that runs harness_cleanup(); always returns 0. */
int harness_teardown(void **state);

/* Registers fn(p) to run when the current test ends (pass, fail or skip), in LIFO order.
 * p may be NULL (then fn is still called with NULL). Aborts the test on allocation failure. */
void harness_defer(void (*fn)(void *), void *p);

/* Runs and forgets every deferred cleanup now (LIFO). Safe to call when nothing is pending. */
void harness_cleanup(void);

/* A per-process tag ("t<pid hex><time hex>") to put in metadata so that live runs only see
 * their own sandboxes. Owned by the harness; valid for the whole run. Callable anywhere. */
const char *harness_run_tag(void);

/* ---- targets ------------------------------------------------------------------------ */

typedef struct harness_target_opts {
    /* Extra e2b-mock arguments (NULL-terminated), e.g. {"--api-key", "k1", NULL}. A test that
     * needs them is skipped in live mode (real E2B cannot be configured like that). */
    const char *const *mock_args;
    /* When true, the client uses api_key below instead of the target's key (NULL = no key
     * at all, to test the missing-key path). */
    bool override_api_key;
    const char *api_key;
} harness_target_opts;

typedef struct harness_target {
    bool live;          /* true: real E2B; false: private e2b-mock child */
    e2b_local *local;   /* the mock child (NULL when live) */
    e2b_client *client; /* client for this target, honouring the opts' key */
    e2b_config cfg;     /* config used for client (strings owned by the target / env) */
    const char *url;    /* API base URL (mock URL or the live API URL); owned */
} harness_target;

/* True when E2B_LIVE is "1"/"true"/"yes". Callable anywhere. */
bool harness_live_requested(void);

/* Starts a target for the current test (opts may be NULL for defaults) and registers its
 * shutdown with harness_defer. Never returns NULL: fails the test when the mock cannot be
 * started, skips it when live mode is requested without E2B_API_KEY or with mock_args. */
harness_target *harness_target_start(const harness_target_opts *opts);

/* A second client for the same target with another API key (NULL = none). Freed at
 * teardown. Fails the test if the client cannot be created. */
e2b_client *harness_target_client(harness_target *t, const char *api_key);

/* ---- fixtures ----------------------------------------------------------------------- */

/* $E2B_FIXTURES_DIR, else "<E2B_SOURCE_DIR>/fixtures", else "fixtures". Callable anywhere. */
const char *harness_fixtures_dir(void);

/* Reads and parses <fixtures dir>/<relpath>. Returns a cJSON tree the caller frees with
 * cJSON_Delete, or NULL with a message in errbuf (file missing, unreadable, not JSON - the
 * message has the byte offset of the parse error). Callable anywhere. */
cJSON *harness_fixture_load(const char *relpath, char *errbuf, size_t errlen);

/* Lists the *.json files of <fixtures dir>/<dir>, sorted by name. On success returns 0 and
 * sets *names to a malloc'd array of *n malloc'd relative paths ("<dir>/<file>.json"),
 * freed with harness_fixture_list_free. Returns -1 (errno set, message on stderr) when the
 * directory cannot be read. Callable anywhere. */
int harness_fixture_list(const char *dir, char ***names, size_t *n);
void harness_fixture_list_free(char **names, size_t n);

/* One fixture file as a cmocka test (what harness_fixture_main hands to the test). */
typedef struct harness_fixture_case {
    char *path;  /* relative to the fixtures dir */
    char *name;  /* the fixture's "name" string; the file name without .json when it has none */
    cJSON *root; /* the parsed object; NULL when it did not load: load_error says why */
    char load_error[512];
} harness_fixture_case;

/* The main() of a fixture-driven suite: every *.json under <fixtures dir>/<dir> becomes one
 * test named after its "name", run by `run` with *state = its harness_fixture_case (a file
 * that does not parse, is not an object or has no name still becomes a test, which should
 * fail with load_error). The `nextra` hand-written tests follow. Runs them with
 * harness_run(argc, argv, dir, ...) and returns its status; 1 (message on stderr) when the
 * directory cannot be listed, memory runs out, or two fixtures share a name. */
int harness_fixture_main(int argc, char **argv, const char *dir, CMUnitTestFunction run,
                         const struct CMUnitTest *extra, size_t nextra);

/* ---- checking fixture JSON (shared by the *_fixtures suites) ------------------------- */

/* Where a fixture-driven test is: every failure message of the helpers below starts with
 * "<name> [<path>] step <step> (<op>): ". Suites build one on the fly from their own context,
 * e.g. HARNESS_STEP(c->fc->name, c->fc->path, c->step, c->op). */
typedef struct harness_step {
    const char *name; /* the case */
    const char *path; /* the fixture file */
    int step;         /* step index */
    const char *op;   /* the step's op, or NULL */
} harness_step;
#define HARNESS_STEP(name, path, step, op) (&(const harness_step){(name), (path), (step), (op)})

/* fail_msg with the step's prefix. */
#define harness_step_fail(s, fmt, ...)                                      \
    fail_msg("%s [%s] step %d (%s): " fmt, (s)->name, (s)->path, (s)->step, \
             (s)->op ? (s)->op : "-", ##__VA_ARGS__)

/* Fails unless obj is a JSON object whose keys are all in the NULL-terminated `allowed`
 * (fixtures are checked strictly so a typo never silently skips an assertion). */
void harness_json_check_keys(const harness_step *s, const cJSON *obj, const char *where,
                             const char *const *allowed);
/* obj[key] (case-sensitive), NULL when absent or obj is not an object. */
const cJSON *harness_json_get(const cJSON *o, const char *key);
/* obj[key] as a string: NULL when absent; fails when present but not a string. */
const char *harness_json_str(const harness_step *s, const cJSON *o, const char *key);
/* obj[key] as an integer: def when absent; fails unless an integral number. */
long long harness_json_ll(const harness_step *s, const cJSON *o, const char *key, long long def);
/* obj[key] as a boolean: def when absent; fails unless true/false. */
bool harness_json_bool(const harness_step *s, const cJSON *o, const char *key, bool def);
/* The common start of a fixture that runs its steps in one fresh sandbox (commands, files):
 * checks its top-level keys ("name", "description", "live", "mock_args", "steps"), skips a
 * "live": false fixture in live mode, starts the target with "mock_args" (strings), and
 * creates a sandbox tagged with metadata run=<run tag>, killed and freed at teardown.
 * Returns the non-empty "steps" array (owned by fc); fails the test otherwise. */
const cJSON *harness_fixture_begin(const harness_fixture_case *fc, harness_target **t,
                                   e2b_sandbox **sbx);

/* Variables a fixture saves in one step and uses in later ones (ids, tokens, ...). Zero-
 * initialise; harness_vars_free releases it. */
typedef struct harness_vars {
    char **names, **values;
    size_t n, cap;
} harness_vars;
/* Sets (or replaces) name = value; both are copied. Fails the test when memory runs out. */
void harness_vars_set(const harness_step *s, harness_vars *v, const char *name, const char *value);
/* The value of the first len bytes of name ((size_t)-1 = all of it); NULL when unset. It
 * stays valid until name is set again or v is freed. */
const char *harness_vars_get(const harness_vars *v, const char *name, size_t len);
/* A whole-string reference: "$name" -> its value ("$run" = harness_run_tag()), "$$x" ->
 * "$x", anything else -> s itself. An unknown name fails the test. */
const char *harness_vars_resolve(const harness_step *s, const harness_vars *v, const char *str);
void harness_vars_free(harness_vars *v);
/* Asserts bytes val[0..len) (val NULL = absent) against a matcher m: null (must be absent),
 * "exact text", or {"equals", "contains" (string or array), "not_contains", "regex" (POSIX
 * extended), "length", "empty", "present"}; `what` names the value in messages. */
void harness_json_match(const harness_step *s, const char *what, const cJSON *m, const char *val,
                        size_t len);

/* ---- small helpers for tests -------------------------------------------------------- */

/* Fails the test with "<what>: <code name>: <message>" unless rc == E2B_OK. */
#define harness_assert_ok(rc, err, what)                                                \
    do {                                                                                \
        e2b_code harness_rc_ = (rc);                                                    \
        if (harness_rc_ != E2B_OK)                                                      \
            fail_msg("%s: %s: %s", (what), e2b_code_name(harness_rc_), (err)->message); \
    } while (0)

/* Fails the test unless rc == want, naming both codes. */
#define harness_assert_code(rc, want, err, what)                                  \
    do {                                                                          \
        e2b_code harness_rc_ = (rc);                                              \
        if (harness_rc_ != (want))                                                \
            fail_msg("%s: expected %s, got %s (%s)", (what), e2b_code_name(want), \
                     e2b_code_name(harness_rc_), (err)->message);                 \
    } while (0)

/* The e2b_code whose e2b_code_name is `name`; returns false for an unknown name.
 * Callable anywhere. */
bool harness_code_from_name(const char *name, e2b_code *out);

/* Monotonic milliseconds. Callable anywhere. */
int64_t harness_now_ms(void);

/* ---- e2b-mock admin API (mockserver/ADMIN.md) --------------------------------------- */

/* Sends `method` <target url><path> (path starts with "/_mock/") with an optional JSON body
 * and returns the response body (malloc'd, freed by the caller; "" when empty); *status
 * (nullable) receives the HTTP status. Fails the test on a transport error; skips it on a
 * live target (real E2B has no admin API). */
char *harness_mock_admin(harness_target *t, const char *method, const char *path, const char *body,
                         long *status);

/* Loads scenario rules (JSON text) into the target mock, replacing the current ones; fails
 * the test unless the mock accepts them. */
void harness_mock_scenarios(harness_target *t, const char *rules_json);

/* GET /_mock/journal/count?<query> -> the count (fails the test on error). */
long harness_mock_journal_count(harness_target *t, const char *query);

/* POST /_mock/clock/advance {"ms":ms}: expired sandboxes are reaped before it returns. */
void harness_mock_advance_clock(harness_target *t, long long ms);

#ifdef __cplusplus
}
#endif
#endif
