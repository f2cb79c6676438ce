#!/usr/bin/env bash
# Installs the Debian packages this project needs, if any are missing.
# As root it runs apt-get; otherwise it prints the exact apt line to run.
# Usage: scripts/deps.sh [--with-npm]   (--with-npm also installs the pinned
# official SDKs into conformance/sdk/node_modules for the sdk-compat tests)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

pkgs=(
  build-essential cmake pkg-config          # compiler and build
  libmicrohttpd-dev                         # e2b-mock's HTTP server
  libcurl4-openssl-dev                      # libe2b's HTTP transport (keep-alive, streaming)
  libcjson-dev                              # JSON on both sides
  libcmocka-dev                             # unit and conformance suites
  libssl-dev                                # base64 and random ids (OpenSSL libcrypto)
  libseccomp-dev                            # seccomp filter for local sandboxes
  zlib1g-dev                                # gzip file transfers
  bubblewrap                                # isolation of local sandboxes
  python3 python3-matplotlib python3-numpy  # the local Python kernel (/usr/bin/python3)
  python3-pandas                            # DataFrame results in the local kernel
  python3-sklearn                           # the README's scikit-learn example (execution fixtures)
  nodejs                                    # the local JavaScript kernel and the official SDK tests
  node-typescript                           # type stripping in the local TypeScript kernel
  python3-pip                               # pip inside sandboxes (commands fixture pip_npm_versions)
  npm                                       # npm inside sandboxes (same fixture; NodeSource's nodejs bundles it)
  gcovr valgrind                            # coverage and memcheck gates
  clang                                     # sanitizer and fuzz builds (libFuzzer)
  clang-format cppcheck                     # style and lint gates (scripts/style.sh, lint.sh)
  wrk hyperfine                             # benchmarks
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    # nodejs may come from NodeSource under the same name; any node binary will do
    if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
    # npm: NodeSource's nodejs ships /usr/bin/npm (Debian's npm package would conflict with it)
    if [ "$p" = npm ] && [ -x /usr/bin/npm ]; then continue; fi
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "deps: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "deps: missing packages; run as root:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

if [ "${1:-}" = "--with-npm" ]; then
  sdk="$here/conformance/sdk"
  if [ ! -d "$sdk/node_modules/e2b" ] || [ ! -d "$sdk/node_modules/@e2b/code-interpreter" ]; then
    echo "deps: installing the pinned official SDKs (npm ci in conformance/sdk)" >&2
    (cd "$sdk" && if [ -f package-lock.json ]; then npm ci --silent --no-audit --no-fund; else npm install --silent --no-audit --no-fund; fi) >&2
  fi
fi
exit 0
