/* admin.h - e2b-mock's admin API under the reserved prefix /_mock/ (mockserver/ADMIN.md):
 * scenarios, request journal, near misses, clock and reset. The module installs the server's
 * interception hooks (server.h mock_hooks) to match scenario rules and journal every request.
 * Scenarios given on the command line (--scenarios FILE_OR_DIR) reach it through the
 * E2B_MOCK_SCENARIOS environment variable, read at init. */
#ifndef E2B_MOCK_ADMIN_H
#define E2B_MOCK_ADMIN_H

#include "server.h"

/* The reason a POST /sandboxes body does not fit E2B's API (static string), or NULL. */
const char *admin_create_invalid_reason(const char *body);

/* The cutStreamsOnKill setting (POST /_mock/settings) for in-process users such as unit tests:
 * on (the default) killing/expiring a sandbox drops its open streaming responses as E2B's edge
 * does; off lets the modules end them gracefully. Returns 0, -1 when s has no admin module. */
int admin_set_cut_streams_on_kill(mock_server *s, int on);

#endif
