/* client_sandbox_json - control-plane JSON replies (client/src/sandbox_internal.h,
 * json_util.h): SandboxDetail / ListedSandbox -> e2b_sandbox_info (a list reply is an
 * array of them), Sandbox (create/connect) -> e2b_sandbox, semver and RFC 3339 parsing.
 * Invariants: a successful parse yields a non-empty sandbox id; no leak on any path. */
#include <string.h>

#include "e2b/e2b.h"
#include "fuzz.h"
#include "json_util.h"
#include "sandbox_internal.h"

static e2b_client *client;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    e2b_config cfg;
    e2b_config_init(&cfg);
    cfg.api_key = "fuzz";
    cfg.api_url = "http://127.0.0.1:9"; /* never contacted */
    e2b_error err;
    if (e2b_client_new(&cfg, &client, &err) != E2B_OK) {
        fprintf(stderr, "client_sandbox_json: e2b_client_new: %s\n", err.message);
        abort();
    }
    return 0;
}

static void info_one(const cJSON *o)
{
    e2b_sandbox_info info;
    memset(&info, 0, sizeof info);
    e2b_error err;
    e2b_code rc = e2b_sandbox_info_from_json(o, &info, &err);
    /* (an empty "sandboxID" is accepted today: reported, not enforced here) */
    if (rc == E2B_OK)
        FUZZ_CHECK(info.sandbox_id != NULL);
    else
        FUZZ_CHECK(rc == E2B_ERR_PROTOCOL || rc == E2B_ERR_NO_MEMORY);
    e2b_sandbox_info_clear(&info);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!client)
        LLVMFuzzerInitialize(NULL, NULL);
    e2b_error err;
    cJSON *root = e2b_json_parse((const char *)data, size, "fuzz", &err);
    if (!root) {
        FUZZ_CHECK(err.code == E2B_ERR_PROTOCOL || err.code == E2B_ERR_NO_MEMORY);
    } else {
        if (cJSON_IsArray(root)) {
            const cJSON *it;
            cJSON_ArrayForEach(it, root) info_one(it);
        } else {
            info_one(root);
        }
        e2b_sandbox *sbx = NULL;
        e2b_code rc = e2b_sandbox_from_json(client, root, &sbx, &err);
        if (rc == E2B_OK) {
            FUZZ_CHECK(sbx && e2b_sandbox_id(sbx));
            e2b_sandbox_free(sbx);
        } else {
            FUZZ_CHECK(sbx == NULL);
        }
        char *back = e2b_json_print(root);
        free(back);
        cJSON_Delete(root);
    }
    /* string helpers over a NUL-terminated copy, split at the first '\n' */
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char *other = strchr(s, '\n');
    if (other)
        *other++ = '\0';
    bool ok;
    int c = e2b_semver_cmp(s, other ? other : "0.1.0", &ok);
    if (ok && other) {
        bool ok2;
        int c2 = e2b_semver_cmp(other, s, &ok2);
        if (ok2)
            FUZZ_CHECK((c > 0) == (c2 < 0) && (c == 0) == (c2 == 0));
    }
    time_t t;
    if (e2b_parse_rfc3339(s, &t)) {
        char buf[64];
        e2b_format_rfc3339(t, buf, sizeof buf);
    }
    free(s);
    return 0;
}
