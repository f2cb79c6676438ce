/* agent - every parser of e2b/agent.h through the agent layer's own checker
 * (e2b_agent_fuzz_one: one-shot vs streamed code extraction, intent parsing, reply
 * formatting), plus the list formatter and duration formatting on fuzzer-chosen values. */
#include <string.h>

#include "e2b/agent.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    e2b_agent_fuzz_one(data, size);
    if (size >= 8) {
        int64_t ms;
        memcpy(&ms, data, sizeof ms);
        char buf[64];
        e2b_agent_format_duration(ms, buf, sizeof buf);
        FUZZ_CHECK(memchr(buf, '\0', sizeof buf) != NULL);
        char id[32];
        size_t n = size - 8 < sizeof id - 1 ? size - 8 : sizeof id - 1;
        memcpy(id, data + 8, n);
        id[n] = '\0';
        e2b_kv kv = {.key = id, .value = id};
        e2b_agent_sandbox_info sb = {.sandbox_id = id,
                                     .template_id = (ms & 1) ? id : NULL,
                                     .active = ms & 2,
                                     .started_at_ms = ms,
                                     .last_activity_ms = ms / 2,
                                     .metadata = &kv,
                                     .metadata_len = 1};
        char *out = NULL;
        if (e2b_agent_format_sandbox_list(&sb, 1, ms ^ 0x5555, &out, NULL) == E2B_OK)
            FUZZ_CHECK(out != NULL);
        free(out);
    }
    return 0;
}
