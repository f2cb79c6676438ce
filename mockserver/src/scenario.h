/* scenario.h - scriptable behaviour for e2b-mock: rules that match requests and answer them
 * with a scripted response, a delay, or a transport fault. The rule format is documented in
 * mockserver/ADMIN.md; files live in fixtures/scenarios/ and fixtures/faults/.
 * Thread-safe: rules can be replaced while requests are being matched. */
#ifndef E2B_MOCK_SCENARIO_H
#define E2B_MOCK_SCENARIO_H

#include <cjson/cJSON.h>

#include "server.h"

typedef struct scenario_set scenario_set;

/* The request facts rules match on (all borrowed). */
typedef struct scenario_req {
    const char *method, *path, *sandbox_id; /* sandbox_id NULL on the control plane */
    int port;
    const char *body;
    const mock_request *req; /* for headers; may be NULL in unit tests */
} scenario_req;

/* What a matched rule says to do; owned by the caller (scenario_action_free). */
typedef struct scenario_action {
    char *rule;        /* rule name */
    cJSON *def;        /* the rule's definition (copy) */
    unsigned delay_ms; /* drawn delay, before anything else */
} scenario_action;

scenario_set *scenario_set_new(void);
void scenario_set_free(scenario_set *s);

/* Replaces (append = 0) or extends the rules from JSON text: an array of rules, an object
 * {"rules":[...]} or a single rule object. base_dir resolves relative "bodyFile" paths (NULL
 * = cwd). Returns the number of rules loaded, or -1 with a message in err. Nothing changes
 * on error. */
int scenario_load_json(scenario_set *s, const char *text, const char *base_dir, int append,
                       char *err, size_t errlen);

/* Loads a file or every *.json of a directory (sorted), appending. Returns rules or -1. */
int scenario_load_path(scenario_set *s, const char *path, char *err, size_t errlen);

void scenario_clear(scenario_set *s);
/* Resets per-rule counters and random generators (the rules stay). */
void scenario_reset_counters(scenario_set *s);
/* The rules with their counters, as JSON (caller frees). */
cJSON *scenario_list(scenario_set *s);
int scenario_count(scenario_set *s);

/* Finds the first rule matching r. Returns 1 and fills *act, or 0. When no rule matches and
 * rules exist, *near_miss (nullable) receives a JSON object naming the closest rule and why it
 * missed (caller frees). */
int scenario_match(scenario_set *s, const scenario_req *r, scenario_action *act, cJSON **near_miss);
void scenario_action_free(scenario_action *a);

/* Called once, right before a fault or a dribbled answer writes its first byte on the socket
 * itself (or starts to hang), with the fault kind name: the journal records the request there,
 * so a client that has seen the fault already finds it journaled. */
typedef void (*scenario_pre_send_fn)(mock_request *req, const char *fault, void *ud);

/* Executes act for req (after its delay). Same contract as mock_hooks.before: returns 0 to
 * let the route's handler answer, 1 with *out set, -1 when the connection must be dropped.
 * *fault_out receives the fault kind name (static string) or NULL. pre_send (nullable) is
 * called as described above; it is not called when the client left during the delay or when
 * the answer goes out through the server (*out, or 0). */
int scenario_execute(mock_request *req, const scenario_action *act, mock_response **out,
                     const char **fault_out, scenario_pre_send_fn pre_send, void *ud);

/* faults.c: raw transport faults on the request's socket. Each returns -1 (drop the
 * connection) after doing its damage. */
int fault_reset(mock_request *req);
int fault_raw(mock_request *req, const void *data, size_t len); /* write, then drop */
int fault_hang(mock_request *req, unsigned keepalive_ms, const char *keepalive,
               size_t keepalive_len, int chunked); /* until the client leaves / shutdown */
int fault_write_all(mock_request *req, const void *data, size_t len); /* 0 or -1 */
int fault_sleep(mock_request *req, unsigned ms); /* 0, -1 when the client left / shutdown */

#endif
