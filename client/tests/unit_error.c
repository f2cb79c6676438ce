/* unit_error.c - code names and e2b_error_set/clear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "e2b/error.h"

static void test_names_stable_and_unique(void **state)
{
    (void)state;
    static const struct {
        e2b_code c;
        const char *name;
    } want[] = {
        {E2B_OK, "ok"},
        {E2B_ERR_AUTH, "auth"},
        {E2B_ERR_SANDBOX_NOT_FOUND, "sandbox_not_found"},
        {E2B_ERR_FILE_NOT_FOUND, "file_not_found"},
        {E2B_ERR_NOT_FOUND, "not_found"},
        {E2B_ERR_RATE_LIMITED, "rate_limited"},
        {E2B_ERR_REQUEST_TIMEOUT, "request_timeout"},
        {E2B_ERR_OPERATION_TIMEOUT, "operation_timeout"},
        {E2B_ERR_SANDBOX_GONE, "sandbox_gone"},
        {E2B_ERR_INVALID_ARGUMENT, "invalid_argument"},
        {E2B_ERR_CONFLICT, "conflict"},
        {E2B_ERR_SERVICE_BUSY, "service_busy"},
        {E2B_ERR_PROTOCOL, "protocol"},
        {E2B_ERR_NETWORK, "network"},
        {E2B_ERR_INTERNAL, "internal"},
        {E2B_ERR_NO_MEMORY, "no_memory"},
        {E2B_ERR_CANCELLED, "cancelled"},
        {E2B_ERR_NOT_ENOUGH_SPACE, "not_enough_space"},
        {E2B_ERR_SERVER, "server"},
        {E2B_ERR_UNSUPPORTED, "unsupported"},
        {E2B_ERR_IO, "io"},
    };
    size_t n = sizeof want / sizeof want[0];
    for (size_t i = 0; i < n; i++) {
        assert_int_equal((int)want[i].c, (int)i); /* numeric values never change */
        assert_string_equal(e2b_code_name(want[i].c), want[i].name);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(want[i].name, want[j].name);
    }
    assert_string_equal(e2b_code_name((e2b_code)999), "unknown");
}

static void test_set_and_clear(void **state)
{
    (void)state;
    e2b_error e;
    assert_int_equal(e2b_error_set(&e, E2B_ERR_CONFLICT, 409, "x=%d %s", 5, "y"), E2B_ERR_CONFLICT);
    assert_int_equal(e.code, E2B_ERR_CONFLICT);
    assert_int_equal(e.http_status, 409);
    assert_int_equal(e.retry_after_s, -1);
    assert_string_equal(e.message, "x=5 y");
    e2b_error_clear(&e);
    assert_int_equal(e.code, E2B_OK);
    assert_int_equal(e.http_status, 0);
    assert_string_equal(e.message, "");
    /* NULL is allowed everywhere */
    assert_int_equal(e2b_error_set(NULL, E2B_ERR_IO, 0, "ignored %s", "x"), E2B_ERR_IO);
    e2b_error_clear(NULL);
}

static void test_truncation(void **state)
{
    (void)state;
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    e2b_error e;
    e2b_error_set(&e, E2B_ERR_SERVER, 500, "%s", big);
    assert_int_equal(strlen(e.message), E2B_ERROR_MESSAGE_MAX - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_stable_and_unique),
        cmocka_unit_test(test_set_and_clear),
        cmocka_unit_test(test_truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
