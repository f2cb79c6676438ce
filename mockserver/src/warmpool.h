/* warmpool.h - e2b-mock's warm pool: pre-started sandbox directories with a running Python
 * kernel, so that create + first execution does not pay interpreter start-up.
 *
 * Size: E2B_MOCK_WARM_POOL (e2b-mock --warm-pool N sets it; the binary's default is 2, the
 * library's default when the variable is unset is 0 so in-process unit tests start nothing).
 * A background thread keeps `size` entries ready: <root>/warm-<hex>/ with a python kernel
 * started in it (sandbox-independent environment, no network).
 *
 * Create flow (control.c):
 *     warmpool_entry *e = warmpool_take(srv, allow_net);        // NULL = miss (cold create)
 *     opts.adopt_dir = e ? warmpool_entry_dir(e) : NULL;        // store renames it to <root>/<id>
 *     sbx = store_create(...);
 *     if (e) warmpool_attach(srv, e, sbx);  // sbx may be NULL (failed create): discards e
 * The attached kernel is parked until the code interpreter (execute.c) creates the sandbox's
 * default python context and claims it with warmpool_claim; a sandbox killed before that
 * frees it through the pool's destroy hook. Taking an entry wakes the refill thread.
 *
 * Admin: GET /_mock/warm-pool -> {"size","available","served","misses"}.
 * Shutdown (module stop + data free) joins the refill thread, kills pooled kernels and removes
 * their directories. Thread-safe.
 */
#ifndef E2B_MOCK_WARMPOOL_H
#define E2B_MOCK_WARMPOOL_H

#include "kernel.h"
#include "server.h"

typedef struct warmpool_entry warmpool_entry;

/* A ready entry, or NULL when the pool is disabled/empty, or allow_net (the sandbox wants the
 * host network: pooled kernels have none) - counted as a miss when the pool is enabled. */
warmpool_entry *warmpool_take(mock_server *s, int allow_net);

/* The entry's directory (pass as store_create_opts.adopt_dir). */
const char *warmpool_entry_dir(const warmpool_entry *e);

/* Hands the entry's kernel to sbx (created with adopt_dir = the entry's dir): the kernel gets
 * sbx->dir and sbx->env_vars (kernel_adopt) and is parked for warmpool_claim. sbx NULL (the
 * create failed) discards the entry (kernel killed, directory removed). Frees e. */
void warmpool_attach(mock_server *s, warmpool_entry *e, mock_sandbox *sbx);

/* The parked kernel of a sandbox (ownership passes to the caller), or NULL. */
kernel *warmpool_claim(mock_server *s, const char *sandbox_id);

#endif
