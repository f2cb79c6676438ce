/* e2b-mock - an E2B-compatible server for the official SDKs and libe2b.
 *
 * The first line on stdout is exactly "E2B_MOCK_URL=http://<host>:<port>"; point both
 * E2B_API_URL and E2B_SANDBOX_URL at it. SIGINT/SIGTERM stop it cleanly (every sandbox is
 * killed and its directory removed). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "util.h"

static void usage(FILE *f)
{
    fputs("usage: e2b-mock [options]\n"
          "  --host ADDR              bind address (default 127.0.0.1)\n"
          "  --port N                 TCP port, 0 = any free port (default 0)\n"
          "  --api-key KEY            accepted X-API-Key (repeatable); without any, every\n"
          "                           non-empty key is accepted (a missing key is always 401)\n"
          "  --root DIR               sandbox directories live in DIR/<sandboxID>/\n"
          "                           (default: a fresh temporary dir, removed at exit)\n"
          "  --fixtures DIR           read DIR/templates.json (default: $E2B_FIXTURES_DIR,\n"
          "                           else built-in: base, code-interpreter-v1, desktop, "
          "mcp-gateway)\n"
          "  --create-latency-ms N    inject a fixed delay into sandbox creation\n"
          "  --max-timeout-s N        largest accepted sandbox timeout (default 3600)\n"
          "  --execute-scripts DIR    scripted /execute answers (*.json, see\n"
          "                           fixtures/execute-scripts/README.md)\n"
          "  --warm-pool N            pre-started python sandboxes served to creates\n"
          "                           (default 2, env E2B_MOCK_WARM_POOL, 0 = off)\n"
          "  --scenarios PATH         scenario rules: a JSON file or a directory of *.json\n"
          "                           (see mockserver/ADMIN.md; also POST /_mock/scenarios)\n"
          "  --limit-memory-mb N      memory per sandbox (cgroup; else RLIMIT_DATA per\n"
          "                           process), default 512, 0 = none\n"
          "  --limit-pids N           processes (threads included) per sandbox (cgroup\n"
          "                           pids; else RLIMIT_NPROC per spawn), default 256\n"
          "  --limit-cpu-s N          CPU seconds per process (RLIMIT_CPU), default 3600\n"
          "  --limit-fsize-mb N       largest file a process may write, default 512\n"
          "  --limit-output-mb N      output kept per stream per execution/command,\n"
          "                           default 16 (see mockserver/ISOLATION.md)\n"
          "  --limit-disk-mb N        disk use of one sandbox directory (files API and\n"
          "                           sandbox processes), default 1024, 0 = none\n"
          "  --record URL             proxy to an upstream E2B-compatible URL and write each\n"
          "                           exchange as a replayable scenario rule\n"
          "  --record-dir DIR         where --record writes (default ./recorded)\n"
          "  --no-cgroups             limit memory and processes with rlimits only, as a\n"
          "                           non-root server does (RLIMIT_DATA, RLIMIT_NPROC)\n"
          "  --unisolated             run code without bubblewrap when it is unavailable\n"
          "                           (default: refuse)\n"
          "  --quiet                  log errors only\n"
          "  --verbose                log every request\n"
          "  --help                   this text\n",
          f);
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end = NULL;
    if (!s || !*s || *s == '-')
        return -1;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v > max)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"api-key", required_argument, NULL, 'k'},
        {"root", required_argument, NULL, 'r'},
        {"fixtures", required_argument, NULL, 'f'},
        {"create-latency-ms", required_argument, NULL, 'l'},
        {"max-timeout-s", required_argument, NULL, 't'},
        {"execute-scripts", required_argument, NULL, 'x'},
        {"unisolated", no_argument, NULL, 'u'},
        {"no-cgroups", no_argument, NULL, 1007},
        {"limit-memory-mb", required_argument, NULL, 1001},
        {"limit-pids", required_argument, NULL, 1002},
        {"limit-cpu-s", required_argument, NULL, 1003},
        {"limit-fsize-mb", required_argument, NULL, 1004},
        {"limit-output-mb", required_argument, NULL, 1005},
        {"limit-disk-mb", required_argument, NULL, 1006},
        {"warm-pool", required_argument, NULL, 'w'},
        {"scenarios", required_argument, NULL, 's'},
        {"record", required_argument, NULL, 'R'},
        {"record-dir", required_argument, NULL, 'D'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    mock_server_config cfg = {0};
    const char **keys = calloc((size_t)argc, sizeof *keys);
    if (!keys)
        return 1;
    unsigned long v;
    int c, rc = 1;
    setenv("E2B_MOCK_WARM_POOL", "2", 0); /* the binary's default; an env value wins */
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'H': cfg.host = optarg; break;
        case 'p':
            if (parse_uint(optarg, 65535, &v)) {
                fprintf(stderr, "e2b-mock: --port: not a port number: %s\n", optarg);
                goto out;
            }
            cfg.port = (unsigned short)v;
            break;
        case 'k':
            if (!*optarg) {
                fprintf(stderr, "e2b-mock: --api-key must not be empty\n");
                goto out;
            }
            keys[cfg.n_api_keys++] = optarg;
            break;
        case 'r': cfg.root = optarg; break;
        case 'f': cfg.fixtures_dir = optarg; break;
        case 'l':
            if (parse_uint(optarg, 600000, &v)) {
                fprintf(stderr, "e2b-mock: --create-latency-ms: bad value: %s\n", optarg);
                goto out;
            }
            cfg.create_latency_ms = (unsigned)v;
            break;
        case 't':
            if (parse_uint(optarg, 30L * 24 * 3600, &v) || v == 0) {
                fprintf(stderr, "e2b-mock: --max-timeout-s: bad value: %s\n", optarg);
                goto out;
            }
            cfg.max_timeout_s = (unsigned)v;
            break;
        /* read by the code-interpreter module (execute.c) and sandboxrt.c at init */
        case 'x': setenv("E2B_MOCK_EXECUTE_SCRIPTS", optarg, 1); break;
        case 'u': setenv("E2B_MOCK_UNISOLATED", "1", 1); break;
        case 1007: setenv("E2B_MOCK_NO_CGROUPS", "1", 1); break; /* read by sbx_policy.c */
        case 1001:
        case 1002:
        case 1003:
        case 1004:
        case 1005:
        case 1006: {
            /* read by sbx_policy.c (sbxpol_load_env) */
            static const char *const names[] = {
                "E2B_MOCK_LIMIT_MEMORY_MB", "E2B_MOCK_LIMIT_PIDS",      "E2B_MOCK_LIMIT_CPU_S",
                "E2B_MOCK_LIMIT_FSIZE_MB",  "E2B_MOCK_LIMIT_OUTPUT_MB", "E2B_MOCK_LIMIT_DISK_MB"};
            if (parse_uint(optarg, 1UL << 30, &v)) {
                fprintf(stderr, "e2b-mock: bad limit (%s): %s\n", names[c - 1001], optarg);
                goto out;
            }
            setenv(names[c - 1001], optarg, 1);
            break;
        }
        case 'w': /* read by warmpool.c */
            if (parse_uint(optarg, 64, &v)) {
                fprintf(stderr, "e2b-mock: --warm-pool: bad value (0..64): %s\n", optarg);
                goto out;
            }
            setenv("E2B_MOCK_WARM_POOL", optarg, 1);
            break;
        case 's': setenv("E2B_MOCK_SCENARIOS", optarg, 1); break; /* read by admin.c */
        case 'R': setenv("E2B_MOCK_RECORD", optarg, 1); break;    /* read by admin.c */
        case 'D': setenv("E2B_MOCK_RECORD_DIR", optarg, 1); break;
        case 'q': mock_log_set_level(MOCK_LOG_ERROR); break;
        case 'v': mock_log_set_level(MOCK_LOG_DEBUG); break;
        case 'h':
            usage(stdout);
            rc = 0;
            goto out;
        default:
            usage(stderr);
            rc = 2;
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "e2b-mock: unexpected argument: %s\n", argv[optind]);
        usage(stderr);
        rc = 2;
        goto out;
    }
    cfg.api_keys = keys;

    /* Block the stop signals in every thread (MHD's inherit this mask) and wait for them here. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    mock_server *srv = mock_server_new(&cfg);
    if (!srv)
        goto out;
    printf("E2B_MOCK_URL=%s\n", mock_server_url(srv));
    fflush(stdout);
    mock_log(MOCK_LOG_INFO, "listening on %s (sandbox root %s)", mock_server_url(srv),
             store_root(mock_server_store(srv)));
    int sig = 0;
    sigwait(&set, &sig);
    mock_log(MOCK_LOG_INFO, "signal %d: shutting down", sig);
    mock_server_free(srv);
    rc = 0;
out:
    free(keys);
    return rc;
}
