/* fixture_loader - the conformance harness's fixture loader (harness_fixture_load /
 * harness_fixture_list in conformance/harness/fixture.c) on arbitrary file contents.
 * Invariant: either a cJSON tree, or NULL with a non-empty NUL-terminated message. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "harness.h"

static char dir[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof dir, "/tmp/e2b-fuzz-fixture-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    char sub[96];
    snprintf(sub, sizeof sub, "%s/d", dir);
    if (mkdir(sub, 0700) != 0)
        abort();
    setenv("E2B_FIXTURES_DIR", dir, 1);
    return 0;
}

__attribute__((destructor)) static void cleanup(void)
{
    if (dir[0]) {
        char p[128];
        snprintf(p, sizeof p, "%s/d/f.json", dir);
        unlink(p);
        snprintf(p, sizeof p, "%s/d", dir);
        rmdir(p);
        rmdir(dir);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0])
        LLVMFuzzerInitialize(NULL, NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/d/f.json", dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size)
        fwrite(data, 1, size, f);
    fclose(f);

    char msg[256];
    msg[0] = '\0';
    cJSON *j = harness_fixture_load("d/f.json", msg, sizeof msg);
    if (!j)
        FUZZ_CHECK(msg[0] != '\0' && memchr(msg, '\0', sizeof msg) != NULL);
    cJSON_Delete(j);

    char **names = NULL;
    size_t n = 0;
    if (harness_fixture_list("d", &names, &n) == 0) {
        FUZZ_CHECK(n == 1 && strcmp(names[0], "d/f.json") == 0);
        harness_fixture_list_free(names, n);
    }
    return 0;
}
