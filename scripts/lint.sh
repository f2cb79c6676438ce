#!/usr/bin/env bash
# Static analysis with cppcheck over the project's C sources (tests excluded).
#
# Usage: scripts/lint.sh [path...]   default: client/src client/cli mockserver/src
#                                     conformance/harness bench fuzz torture
# Checks: cppcheck's error class (always on) plus warning, performance and portability, C11,
# with _GNU_SOURCE. Reviewed false positives live in .cppcheck-suppressions (with reasons);
# `// cppcheck-suppress <id>` comments are honoured too. Exit 1 when anything is reported.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here" || exit 2
command -v cppcheck >/dev/null || { echo "lint.sh: cppcheck not found (apt-get install cppcheck)" >&2; exit 2; }
paths=("$@")
[ ${#paths[@]} -eq 0 ] && paths=(client/src client/cli mockserver/src conformance/harness bench fuzz torture)
t0=$(date +%s)
out=$(cppcheck --enable=warning,performance,portability --std=c11 --inline-suppr --quiet \
    -j "$(nproc)" -D_GNU_SOURCE -I client/include -I client/src -I mockserver/src \
    -I conformance/harness -I fuzz -I torture \
    --include=scripts/cppcheck-cjson.h \
    --suppressions-list=.cppcheck-suppressions \
    --template='{file}:{line}: {severity}({id}): {message}' "${paths[@]}" 2>&1)
n=$(grep -cE '^[^ ]+:[0-9]+: ' <<<"$out")
[ -n "$out" ] && echo "$out"
echo "lint.sh: cppcheck $(cppcheck --version | awk '{print $2}'): $n finding(s) in $(( $(date +%s) - t0 )) s"
[ "$n" -eq 0 ]
