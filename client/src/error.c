/* error.c - the one error type of libe2b (see e2b/error.h). */
#include "e2b/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *e2b_code_name(e2b_code code)
{
    switch (code) {
    case E2B_OK: return "ok";
    case E2B_ERR_AUTH: return "auth";
    case E2B_ERR_SANDBOX_NOT_FOUND: return "sandbox_not_found";
    case E2B_ERR_FILE_NOT_FOUND: return "file_not_found";
    case E2B_ERR_NOT_FOUND: return "not_found";
    case E2B_ERR_RATE_LIMITED: return "rate_limited";
    case E2B_ERR_REQUEST_TIMEOUT: return "request_timeout";
    case E2B_ERR_OPERATION_TIMEOUT: return "operation_timeout";
    case E2B_ERR_SANDBOX_GONE: return "sandbox_gone";
    case E2B_ERR_INVALID_ARGUMENT: return "invalid_argument";
    case E2B_ERR_CONFLICT: return "conflict";
    case E2B_ERR_SERVICE_BUSY: return "service_busy";
    case E2B_ERR_PROTOCOL: return "protocol";
    case E2B_ERR_NETWORK: return "network";
    case E2B_ERR_INTERNAL: return "internal";
    case E2B_ERR_NO_MEMORY: return "no_memory";
    case E2B_ERR_CANCELLED: return "cancelled";
    case E2B_ERR_NOT_ENOUGH_SPACE: return "not_enough_space";
    case E2B_ERR_SERVER: return "server";
    case E2B_ERR_UNSUPPORTED: return "unsupported";
    case E2B_ERR_IO: return "io";
    }
    return "unknown";
}

void e2b_error_clear(e2b_error *err)
{
    if (!err)
        return;
    err->code = E2B_OK;
    err->http_status = 0;
    err->retry_after_s = -1;
    err->message[0] = '\0';
}

e2b_code e2b_error_set(e2b_error *err, e2b_code code, int http_status, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    err->http_status = http_status;
    err->retry_after_s = -1;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        if (n < 0)
            err->message[0] = '\0';
    } else {
        err->message[0] = '\0';
    }
    return code;
}
