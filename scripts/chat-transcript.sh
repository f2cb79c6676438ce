#!/usr/bin/env bash
# The messages and patterns hold literal backticks and ${...} on purpose:
# shellcheck disable=SC2016
# chat-transcript.sh - a reproducible transcript of `e2bc chat` handling the seed README's
# examples: the sine plot (its PNG saved and checked), "Create a new sandbox with 10 minute
# timeout", "Show me all active sandboxes", "Kill sandbox <the id just created>", a
# JavaScript block and a Python error with its traceback.
#
#   scripts/chat-transcript.sh [IMAGE_DIR]     (run from the repository root)
#
# Builds nothing: it runs build/bin/e2bc (set E2BC=... to use another) with the local
# embedded default (E2B_API_KEY / E2B_API_URL unset, so e2bc starts its own e2b-mock and
# stops it at the end). Images go to IMAGE_DIR (default: a new temporary directory). The
# transcript (Markdown) is printed on stdout; docs/chat-transcript.md is this output.
# Exit status: 0 when the transcript is complete and the PNG is valid, else 1.
set -euo pipefail

cd "$(dirname "$0")/.."
E2BC=${E2BC:-build/bin/e2bc}
if [[ ! -x $E2BC ]]; then
    echo "chat-transcript.sh: $E2BC not found; build first (make build)" >&2
    exit 1
fi
export E2B_MOCK_BIN=${E2B_MOCK_BIN:-$PWD/build/bin/e2b-mock}
unset E2B_API_KEY E2B_API_URL E2B_SANDBOX_URL E2B_DEBUG
export E2BC_NO_PROGRESS=1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
img_dir=${1:-$work/images}
img_arg=${1:-<a temporary directory>}
mkdir -p "$img_dir"
mkfifo "$work/in"

# e2bc reads the messages from a FIFO we write as the conversation goes: the kill message
# needs the id of the sandbox the create message made.
"$E2BC" chat --echo --out "$img_dir" <"$work/in" >"$work/out" 2>"$work/err" &
chat_pid=$!
exec 3>"$work/in"

send() { # one message; "." on its own line ends it even inside a code fence
    printf '%s\n.\n' "$1" >&3
}

wait_for() { # wait until the transcript matches the regex $1 (30 s at most)
    local i
    for ((i = 0; i < 300; i++)); do
        if grep -Eq "$1" "$work/out"; then
            return 0
        fi
        sleep 0.1
    done
    echo "chat-transcript.sh: no reply matching /$1/ within 30 s" >&2
    cat "$work/out" "$work/err" >&2
    return 1
}

send 'Execute this Python code:
```python
import matplotlib.pyplot as plt
import numpy as np

x = np.linspace(0, 2 * np.pi, 200)
y = np.sin(x)
print(f"min={y.min():.3f} max={y.max():.3f}")
plt.figure(figsize=(6, 3))
plt.plot(x, y, label="sin(x)")
plt.title("Sine wave")
plt.legend()
plt.show()
```'
send 'Create a new sandbox with 10 minute timeout'
wait_for '\*\*Sandbox ID:\*\* `[^`]+`'
sbx_id=$(grep -Eo '\*\*Sandbox ID:\*\* `[^`]+`' "$work/out" | head -1 | sed -E 's/.*`([^`]+)`/\1/')
send 'Show me all active sandboxes'
send "Kill sandbox $sbx_id"
send 'Run this JavaScript:
```javascript
const numbers = [1, 2, 3, 4, 5];
const sum = numbers.reduce((a, b) => a + b, 0);
console.log(`Sum: ${sum}`);
sum * 2
```'
send 'What does this do?
```python
def average(values):
    return sum(values) / len(values)

print("computing the average of an empty list")
average([])
```'
exec 3>&-
set +e
wait "$chat_pid"
chat_rc=$?
set -e

png=$(grep -Eo '📎 [^ ]+\.png' "$work/out" | head -1 | cut -d' ' -f2)
png_check="no PNG attachment in the reply"
ok=1
if [[ -n $png && -f $png ]]; then
    # a PNG starts with its 8-byte signature, then the IHDR chunk (width, height: 4 bytes each)
    sig=$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')
    if [[ $sig == 89504e470d0a1a0a && $(head -c 16 "$png" | tail -c 4) == IHDR ]]; then
        w=$((16#$(head -c 20 "$png" | tail -c 4 | od -An -tx1 | tr -d ' \n')))
        h=$((16#$(head -c 24 "$png" | tail -c 4 | od -An -tx1 | tr -d ' \n')))
        png_check="valid PNG (signature and IHDR), ${w}x${h} pixels, $(wc -c <"$png") bytes"
        ok=0
    else
        png_check="NOT a valid PNG (signature $sig)"
    fi
fi

rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git diff --quiet HEAD -- client 2>/dev/null; then
    rev="$rev (with uncommitted changes under client/)"
fi
cat <<EOF
# e2bc chat transcript

Produced by \`scripts/chat-transcript.sh $img_arg\` at commit $rev:
\`$E2BC chat --echo --out $img_arg\`, messages fed one by one
(the kill message names the id the create message returned), local embedded default (no
E2B_API_KEY / E2B_API_URL: e2bc started its own e2b-mock and stopped it at the end).
Regenerate with \`scripts/chat-transcript.sh docs/chat-transcript-images > docs/chat-transcript.md\`
(sandbox ids, times and image names differ from run to run).

\`you>\` is the message, \`agent>\` the reply; 📎 marks a saved attachment.

~~~~text
$(cat "$work/out")
~~~~

- e2bc chat exit status: $chat_rc (1: a message's code raised an error - the last one, on purpose)
- PNG check of \`$png\`: $png_check
EOF
exit "$ok"
