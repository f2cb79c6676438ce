#!/usr/bin/env bash
# Formatting check / fix with clang-format (style: .clang-format at the repository root).
#
# Usage: scripts/style.sh --check [path...]   list files that differ, exit 1 if any
#        scripts/style.sh --diff  [path...]   show the changes clang-format would make
#        scripts/style.sh --fix   [path...]   reformat in place
# Paths default to client/ mockserver/ conformance/ bench/ fuzz/ torture/ tests/ (*.c, *.h; the
# generated and vendored trees - node_modules, build dirs - are never touched).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here" || exit 2
mode=${1:---check}
shift || true
paths=("$@")
[ ${#paths[@]} -eq 0 ] && paths=(client mockserver conformance bench fuzz torture tests)
cf=$(command -v clang-format || command -v clang-format-14) || { echo "style.sh: clang-format not found (apt-get install clang-format)" >&2; exit 2; }

mapfile -t files < <(find "${paths[@]}" -type f \( -name '*.c' -o -name '*.h' \) -not -path '*/node_modules/*' | sort)
bad=0 total=${#files[@]} lines=0
for f in "${files[@]}"; do
    case $mode in
        --fix) "$cf" -i --style=file "$f" ;;
        --diff) "$cf" --style=file "$f" | diff -u --label "$f" --label "$f (clang-format)" "$f" - && continue; bad=$((bad + 1)) ;;
        --check)
            n=$("$cf" --style=file "$f" | diff "$f" - | grep -c '^<')
            if [ "$n" -gt 0 ]; then bad=$((bad + 1)); lines=$((lines + n)); echo "style: $f: $n line(s) differ"; fi ;;
        *) echo "usage: scripts/style.sh --check|--diff|--fix [path...]" >&2; exit 2 ;;
    esac
done
[ "$mode" = --fix ] && { echo "style.sh: reformatted $total file(s)"; exit 0; }
if [ $bad -gt 0 ]; then
    echo "style.sh: $bad of $total file(s) are not clang-formatted ($lines line(s)); fix: scripts/style.sh --fix [path...]"
    exit 1
fi
echo "style.sh: all $total file(s) clang-formatted"
