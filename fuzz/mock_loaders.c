/* mock_loaders - e2b-mock's data-file loaders: the scripted /execute answers
 * (execute_load_scripts, fixtures/execute-scripts/ format) and templates.json (read by the
 * control module at mock_server_new). A fresh server per input (so nothing accumulates):
 * slower than the other targets, by design.
 * The first input byte picks the file under test: odd -> templates.json (the server may then
 * refuse to start: a templates.json without a "templates" array is fatal by design), even ->
 * one execute-scripts file next to a valid templates.json.
 * Invariants: the server starts with a valid templates.json; loading scripts either
 * succeeds with a count >= 0 or fails with a message. */
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "execute.h"
#include "fuzz.h"
#include "server.h"
#include "util.h"

static char dir[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    mock_log_set_level(-1);
    snprintf(dir, sizeof dir, "/tmp/e2b-fuzz-loaders-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    char sub[96];
    snprintf(sub, sizeof sub, "%s/scripts", dir);
    if (mkdir(sub, 0700) != 0)
        abort();
    return 0;
}

__attribute__((destructor)) static void cleanup(void)
{
    if (dir[0])
        mock_rm_rf(dir);
}

static void put(const char *name, const uint8_t *data, size_t size)
{
    char path[160];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size)
        fwrite(data, 1, size, f);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0])
        LLVMFuzzerInitialize(NULL, NULL);
    static const char good[] = "{\"templates\":[{\"templateID\":\"base\",\"aliases\":[\"base\"]}]}";
    if (size < 1)
        return 0;
    bool templates = data[0] & 1;
    data++, size--;
    if (templates) {
        put("templates.json", data, size);
        put("scripts/a.json", (const uint8_t *)"[]", 2);
    } else {
        put("templates.json", (const uint8_t *)good, sizeof good - 1);
        put("scripts/a.json", data, size);
    }

    mock_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.fixtures_dir = dir;
    mock_server *s = mock_server_new(&cfg);
    if (!s) {
        FUZZ_CHECK(templates);
        return 0;
    }
    char sub[96], err[256];
    snprintf(sub, sizeof sub, "%s/scripts", dir);
    err[0] = '\0';
    int n = execute_load_scripts(s, sub, err, sizeof err);
    if (n < 0)
        FUZZ_CHECK(err[0] != '\0');
    mock_server_free(s);
    return 0;
}
