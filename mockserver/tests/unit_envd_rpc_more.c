/* unit_envd_rpc_more: filesystem Connect RPC refusals unit_envd does not assert by message:
 * ListDir with a bad depth / on a file / on nothing, Move of or onto the home and of a missing
 * source, MakeDir twice, Remove of the home, watcher calls without or with an unknown id, an
 * empty method. Same in-process server and helpers as unit_envd.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include <curl/curl.h>
#include <zlib.h>

#include "connect.h"
#include "envd_common.h"
#include "fs_safe.h"
#include "process.h"
#include "sandboxrt.h"
#include "server.h"
#include "store.h"
#include "util.h"

#include "envd_client.h"

#define FS "filesystem.Filesystem/"

static void test_listdir_refusals(void **state)
{
    (void)state;
    char p[1024];
    snprintf(p, sizeof p, "%s/f.txt", sbx_dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
    expect_rpc_error(FS "ListDir", "{\"path\":\"/home/user\",\"depth\":-1}", 400,
                     "invalid_argument", "invalid depth");
    expect_rpc_error(FS "ListDir", "{\"path\":\"/home/user\",\"depth\":\"9999999\"}", 400,
                     "invalid_argument", "invalid depth");
    expect_rpc_error(FS "ListDir", "{\"path\":\"f.txt\"}", 400, "invalid_argument",
                     "path is not a directory: f.txt");
    expect_rpc_error(FS "ListDir", "{\"path\":\"no/such/dir\"}", 404, "not_found",
                     "directory not found: no/such/dir");
    /* a string depth is accepted like a number (proto3 JSON int64) */
    cJSON *j = rpc(FS "ListDir", "{\"path\":\"/home/user\",\"depth\":\"2\"}", 200);
    const cJSON *entries = cJSON_GetObjectItemCaseSensitive(j, "entries");
    assert_true(cJSON_IsArray(entries));
    bool found = false;
    const cJSON *e;
    cJSON_ArrayForEach(e, entries) found |= jstr(e, "name") && !strcmp(jstr(e, "name"), "f.txt");
    assert_true(found);
    cJSON_Delete(j);
}

static void test_move_mkdir_remove_refusals(void **state)
{
    (void)state;
    expect_rpc_error(FS "Move", "{\"source\":\"/home/user\",\"destination\":\"elsewhere\"}", 400,
                     "invalid_argument", "cannot move the home directory");
    expect_rpc_error(FS "Move", "{\"source\":\"x\",\"destination\":\"/home/user\"}", 400,
                     "invalid_argument", "cannot move the home directory");
    expect_rpc_error(FS "Move", "{\"source\":\"missing.txt\",\"destination\":\"y.txt\"}", 404,
                     "not_found", "source file not found: missing.txt");
    expect_rpc_error(FS "Move", "{\"source\":\"../../etc/passwd\",\"destination\":\"y.txt\"}", 400,
                     "invalid_argument", NULL);
    cJSON *j = rpc(FS "MakeDir", "{\"path\":\"twice\"}", 200);
    cJSON_Delete(j);
    expect_rpc_error(FS "MakeDir", "{\"path\":\"twice\"}", 409, "already_exists",
                     "directory already exists: twice");
    expect_rpc_error(FS "Remove", "{\"path\":\"/home/user/\"}", 403, "permission_denied",
                     "cannot remove the home directory /home/user");
    char p[1024];
    snprintf(p, sizeof p, "%s/twice", sbx_dir);
    assert_int_equal(access(p, F_OK), 0); /* refusals changed nothing */
}

static void test_watcher_refusals(void **state)
{
    (void)state;
    expect_rpc_error(FS "GetWatcherEvents", "{}", 400, "invalid_argument", "watcherId is required");
    expect_rpc_error(FS "RemoveWatcher", "{}", 400, "invalid_argument", "watcherId is required");
    expect_rpc_error(FS "GetWatcherEvents", "{\"watcherId\":\"nope\"}", 404, "not_found",
                     "watcher with id nope not found");
    expect_rpc_error(FS "RemoveWatcher", "{\"watcher_id\":\"nope\"}", 404, "not_found",
                     "watcher with id nope not found");
    expect_rpc_error(FS "CreateWatcher", "{\"path\":\"no/dir\"}", 404, "not_found",
                     "path no/dir not found");
    expect_rpc_error(FS "CreateWatcher", "{\"path\":\"/etc\"}", 400, "invalid_argument", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listdir_refusals),
        cmocka_unit_test(test_move_mkdir_remove_refusals),
        cmocka_unit_test(test_watcher_refusals),
    };
    return cmocka_run_group_tests(tests, envd_setup, envd_teardown);
}
