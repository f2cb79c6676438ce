/* config.c - e2b_config defaults and environment (see e2b/client.h). */
#include "e2b/client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void e2b_config_init(e2b_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->request_timeout_ms = E2B_DEFAULT_REQUEST_TIMEOUT_MS;
    cfg->max_retries_429 = 3;
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

e2b_code e2b_config_from_env(e2b_config *cfg, e2b_error *err)
{
    e2b_config_init(cfg);
    cfg->api_key = env_nonempty("E2B_API_KEY");
    cfg->api_url = env_nonempty("E2B_API_URL");
    cfg->sandbox_url = env_nonempty("E2B_SANDBOX_URL");
    cfg->domain = env_nonempty("E2B_DOMAIN");
    const char *dbg = env_nonempty("E2B_DEBUG");
    cfg->debug = dbg && (!strcasecmp(dbg, "true") || !strcmp(dbg, "1") || !strcasecmp(dbg, "yes"));
    const char *t = env_nonempty("E2B_REQUEST_TIMEOUT_MS");
    if (t) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(t, &end, 10);
        if (errno || end == t || *end || v < 0 || v > 86400000LL * 365)
            return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                                 "E2B_REQUEST_TIMEOUT_MS=\"%s\" is not a number of "
                                 "milliseconds >= 0",
                                 t);
        cfg->request_timeout_ms = (long)v;
    }
    return E2B_OK;
}
