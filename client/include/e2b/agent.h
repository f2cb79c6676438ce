/* e2b/agent.h - the network-free core of the agent layer (ElizaOS-style EXECUTE_CODE and
 * MANAGE_SANDBOX actions): reading code and sandbox intents out of chat messages, and
 * formatting execution results back into a reply.
 *
 * Nothing here touches the network, the clock or global state; every function is safe to
 * call from any thread on distinct objects. Input is arbitrary bytes (NUL bytes, invalid
 * UTF-8 and unbalanced fences are fine): bad input gives a clear result or a typed error,
 * never a crash. The behaviour deliberately differs from @elizaos/plugin-e2b where that
 * plugin is buggy; each difference is listed next to the function (see
 * shared/reference/plugin-e2b.md for the plugin itself).
 *
 * ---- How code is found in a message (EXECUTE_CODE) ------------------------------------
 * 1. Fenced code blocks, CommonMark rules (spec 0.30, section 4.5), all of them, in order:
 *    - an opening fence is a line with at most 3 spaces of indentation, then at least 3
 *      backticks or at least 3 tildes, then an optional info string. A backtick fence's
 *      info string may not contain a backtick (such a line is ordinary text, e.g. a
 *      one-line ```print(1)``` is an inline code span, step 2).
 *    - the block ends at a line with at most 3 spaces of indentation, a run of the SAME
 *      character at least as long as the opening run, and nothing else but spaces/tabs.
 *      A shorter or different fence inside the body is body text.
 *    - up to as many leading spaces as the opening fence had are removed from body lines.
 *    - line endings LF, CRLF and lone CR are all accepted; CRLF and CR become LF in code.
 *    - the language tag is the first word of the info string, ending at whitespace, '{'
 *      or ','. "```python  ", "```py {.class}" and "```py,linenos" give "python"; an info
 *      string starting with '{' is read pandoc/R-Markdown style: "```{python}",
 *      "```{.python .numberLines}", "```{r echo=FALSE}". Tags are matched case-insensitively
 *      (e2b_agent_lang_from_tag); an unknown tag is reported as E2B_LANG_UNKNOWN with the
 *      tag, never silently run as Python.
 *    - the code is the body without leading blank lines and without trailing whitespace
 *      (the first line's indentation is kept). Blocks whose code is empty are skipped.
 *    - an UNTERMINATED final fence (the message ends inside a block, e.g. a truncated
 *      LLM reply) runs to the end of the message, as in CommonMark; the block is returned
 *      with `unterminated = true` so a caller can refuse to run half-written code. A last
 *      line that can only be a closing fence being typed ("``" in a ``` block) is not
 *      part of the code.
 *    - a tag-less block gets its language from its content (e2b_agent_lang_detect) and
 *      `lang_detected = true`.
 *    - not interpreted: block quotes / list containers ("> ```" is text). Indented
 *      (4-space) code blocks are literal text: not fences, no inline spans inside, and
 *      never extracted as code.
 * 2. Only if there is no (non-empty) fenced block: inline code spans, CommonMark rules (a
 *    run of N backticks up to the next run of exactly N backticks, within one paragraph;
 *    line endings inside become spaces). As in the plugin, a span is code only if its
 *    trimmed content is longer than 10 characters (counted in UTF-8 code points), so
 *    `x = 1` or `numpy` are mentions, not programs. Language: e2b_agent_lang_detect.
 * 3. Only if steps 1 and 2 found nothing: the whole message is one block if it is code by
 *    itself (e2b_agent_looks_like_code): every non-blank line is code-like and at least
 *    one line is a strong code line (import/def/class/print(...)/assignment/call ...);
 *    one leading instruction line ending in ':' ("Run this:") is allowed and dropped.
 *    The plugin instead took ANY message containing "=", "for " or "if " as Python.
 *
 * Trigger words (the plugin's validate() keywords) are matched as whole words,
 * case-insensitively, in the text outside fenced blocks: "run" matches "Run this" but not
 * "running" or "truncate". Words: execute, run, code, python, javascript, calculate,
 * compute, evaluate, typescript, bash, script.
 */
#ifndef E2B_AGENT_H
#define E2B_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "e2b/client.h" /* e2b_kv */
#include "e2b/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Hard limits (hostile input). Exceeding them fails with E2B_ERR_INVALID_ARGUMENT. */
#define E2B_AGENT_MAX_MESSAGE (8u * 1024u * 1024u) /* bytes of one message */
#define E2B_AGENT_MAX_BLOCKS 256u                  /* non-empty code blocks per message */
#define E2B_AGENT_TAG_MAX 64u /* a language tag is kept up to 63 bytes (longer: unknown) */
#define E2B_AGENT_DETECT_MAX (64u * 1024u) /* e2b_agent_lang_detect reads this much */

/* ---- languages ------------------------------------------------------------------- */

typedef enum e2b_agent_lang {
    E2B_LANG_UNKNOWN = 0, /* a tag we do not know: see e2b_agent_block.tag */
    E2B_LANG_PYTHON = 1,
    E2B_LANG_JAVASCRIPT = 2,
    E2B_LANG_TYPESCRIPT = 3,
    E2B_LANG_BASH = 4,
    E2B_LANG_R = 5,
    E2B_LANG_JAVA = 6
} e2b_agent_lang;

/* The canonical name: "python", "javascript", "typescript", "bash", "r", "java", or
 * "unknown". These are the language names of E2B's code interpreter. Never NULL. */
const char *e2b_agent_lang_name(e2b_agent_lang lang);

/* Maps a fence tag (case-insensitive, exactly len bytes) to a language:
 *   py python python3 -> python;  js javascript node nodejs -> javascript;
 *   ts typescript -> typescript;  sh bash shell zsh -> bash;  r -> r;  java -> java;
 * anything else (including the empty tag) -> E2B_LANG_UNKNOWN. Cannot fail. */
e2b_agent_lang e2b_agent_lang_from_tag(const char *tag, size_t len);

/* Guesses the language of untagged code from its first E2B_AGENT_DETECT_MAX bytes.
 * Rules, in order:
 *  1. a shebang on the first line decides: python* -> python, node/deno/bun -> javascript,
 *     ts-node -> typescript, sh/bash/zsh/dash -> bash, Rscript -> r;
 *  2. otherwise each language scores one point per indicator present (substring):
 *     javascript: "console.log", "const ", "let ", "var ", "=>", "function(", "function ",
 *       "document.", "window.", ".getElementById", ".querySelector", "require(",
 *       "export ", "async function", "await ", "===", "!==", "};", " from '", " from \""
 *     python: "print(", "def ", "if __name__", "elif ", " import ", ".append(", ".extend(",
 *       ".keys()", ".values()", ".items()", "range(", "len(", "str(", "int(", "float(",
 *       "self.", "None", "True", "False", "lambda ", "\"\"\"", "f\""
 *     bash: lines starting with "echo ", "cd ", "ls", "export ", "sudo ", "apt-get ",
 *       "apt ", "pip install", "npm ", "curl ", "grep ", "cat ", "mkdir ", "rm ", "chmod ",
 *       plus "$(", "${", "&& ", " | ", "fi\n", "done"
 *     ("import x" counts for neither: it is both Python and JavaScript; "from x import"
 *     is Python, "import x from 'y'" is JavaScript);
 *  3. the highest score wins if it is > 0; JavaScript with a TypeScript marker
 *     (": string", ": number", ": boolean", "interface ", ": void", "<T>", " as const")
 *     becomes typescript; ties and all-zero go to python (the plugin's default).
 * Cannot fail; never returns E2B_LANG_UNKNOWN. */
e2b_agent_lang e2b_agent_lang_detect(const char *code, size_t len);

/* ---- code blocks ----------------------------------------------------------------- */

typedef enum e2b_agent_source {
    E2B_SOURCE_NONE = 0,   /* no code found */
    E2B_SOURCE_FENCED = 1, /* fenced code blocks (step 1) */
    E2B_SOURCE_INLINE = 2, /* inline code spans (step 2) */
    E2B_SOURCE_MESSAGE = 3 /* the whole message (step 3) */
} e2b_agent_source;

/* "none", "fenced", "inline", "message". Never NULL. */
const char *e2b_agent_source_name(e2b_agent_source src);

typedef struct e2b_agent_block {
    e2b_agent_lang lang;
    char tag[E2B_AGENT_TAG_MAX]; /* the tag as written (NUL-terminated), "" if none */
    char *code;                  /* NUL-terminated; may contain NUL bytes, see code_len */
    size_t code_len;
    e2b_agent_source source;
    bool lang_detected; /* no tag: lang came from e2b_agent_lang_detect */
    bool unterminated;  /* fenced block that ran to the end of the message */
} e2b_agent_block;

typedef struct e2b_agent_code {
    e2b_agent_block *blocks; /* owned; free with e2b_agent_code_free */
    size_t count;
    e2b_agent_source source; /* how the blocks were found (all blocks share it) */
    const char *trigger;     /* first trigger word found (static string), or NULL */
} e2b_agent_code;

/* Frees what an e2b_agent_code owns and zeroes it. NULL is a no-op. */
void e2b_agent_code_free(e2b_agent_code *code);

/* The EXECUTE_CODE validate() decision: code was found, or a trigger word is present. */
bool e2b_agent_code_wants_execution(const e2b_agent_code *code);

/* One-shot: extracts the code of a whole message (rules at the top of this file).
 * msg may hold any bytes (NULL only if len == 0). On E2B_OK *out is filled (count may be
 * 0: no code; then source is E2B_SOURCE_NONE) and the caller frees it with
 * e2b_agent_code_free. On error *out is zeroed. Errors: E2B_ERR_INVALID_ARGUMENT (NULL
 * out, message longer than E2B_AGENT_MAX_MESSAGE, more than E2B_AGENT_MAX_BLOCKS blocks),
 * E2B_ERR_NO_MEMORY. This is also the fuzzing entry point of the parser. */
e2b_code e2b_agent_extract_code(const uint8_t *msg, size_t len, e2b_agent_code *out,
                                e2b_error *err);

/* ---- the streaming scanner (what e2b_agent_extract_code is built on) ------------- */

/* Accepts the message in pieces split anywhere (even inside a CRLF or a multi-byte
 * character) and gives the same result as the one-shot call. Completed fenced blocks are
 * available while the message is still streaming in, so an agent can start running block
 * 1 while the model is still writing block 2. Memory: the current block, plus the text
 * outside fences only until the first non-empty fenced block is found (it is needed for
 * the inline / whole-message fallbacks, which do not apply after that). */
typedef struct e2b_agent_scanner e2b_agent_scanner;

/* Creates a scanner. Errors: E2B_ERR_INVALID_ARGUMENT (out NULL), E2B_ERR_NO_MEMORY. */
e2b_code e2b_agent_scanner_new(e2b_agent_scanner **out, e2b_error *err);

/* Feeds len bytes (data may be NULL if len == 0). Errors: E2B_ERR_INVALID_ARGUMENT
 * (message over E2B_AGENT_MAX_MESSAGE, too many blocks, or the scanner already failed or
 * finished), E2B_ERR_NO_MEMORY. After an error the scanner only accepts _free. */
e2b_code e2b_agent_scanner_feed(e2b_agent_scanner *sc, const uint8_t *data, size_t len,
                                e2b_error *err);

/* Number of fenced blocks completed so far (closing fence seen), and block i of them.
 * The pointer is borrowed: valid until the next feed/finish/free. NULL if i is out of
 * range. */
size_t e2b_agent_scanner_ready(const e2b_agent_scanner *sc);
const e2b_agent_block *e2b_agent_scanner_block(const e2b_agent_scanner *sc, size_t i);

/* Ends the message: closes an unterminated fence, applies the fallbacks and moves the
 * result to *out (the caller frees it with e2b_agent_code_free). Errors as for _feed;
 * *out is zeroed on error. The scanner must still be freed. */
e2b_code e2b_agent_scanner_finish(e2b_agent_scanner *sc, e2b_agent_code *out, e2b_error *err);

/* Frees the scanner and everything it still owns. NULL is a no-op. */
void e2b_agent_scanner_free(e2b_agent_scanner *sc);

/* Rule 3 on its own: is this text (no fences expected) a program by itself? Each line
 * (leading/trailing whitespace aside) is classified:
 *   strong - starts with a statement that English does not: "import x" (not ending in
 *            . ? !), "from x import y", "def f(", "class X:"/"{", "print(", "console.log(",
 *            "return", "const/let/var x =", "function f(", "async/await ...(", "#include",
 *            "#!", "elif/with/switch/except ...:" , "else:", "try:", "finally:",
 *            "raise X(", "lambda ", "for/while/if ..." ending in ':' '{' or ')'/';' with a
 *            '(' ; or an assignment "name [op]= value" (name may be dotted/indexed, not
 *            ==); or a call statement "name(...)" / "name(...);";
 *   weak   - indented, a comment ("#", "//", "/" "*"), ending in : ; { } [ ( , or only brackets;
 *   prose  - anything else, and fence markup lines (``` / ~~~).
 * The text is code iff it has no prose line and at least one strong line, where a first
 * non-strong line ending in ':' ("Run this:") is an instruction, skipped. On true,
 * *code_start (may be NULL) receives the offset where the code starts (after that
 * instruction line). Cannot fail. */
bool e2b_agent_looks_like_code(const char *text, size_t len, size_t *code_start);

/* Whole-word, case-insensitive search of the trigger words in text. Returns the first
 * one found (static string) or NULL. */
const char *e2b_agent_find_trigger(const char *text, size_t len);

/* ---- MANAGE_SANDBOX intents ------------------------------------------------------ */

#define E2B_AGENT_ID_MAX 128u /* sandbox id, incl. NUL */
#define E2B_AGENT_TEMPLATE_MAX 128u
#define E2B_AGENT_META_KEY_MAX 64u
#define E2B_AGENT_META_VALUE_MAX 256u
#define E2B_AGENT_META_MAX 16u                     /* metadata pairs */
#define E2B_AGENT_MAX_TIMEOUT_S (366L * 24 * 3600) /* larger timeouts are rejected */

typedef enum e2b_agent_intent_kind {
    E2B_INTENT_UNKNOWN = 0, /* no intent word, or words of several intents (see reason) */
    E2B_INTENT_CREATE = 1,
    E2B_INTENT_LIST = 2,
    E2B_INTENT_KILL = 3
} e2b_agent_intent_kind;

typedef enum e2b_agent_kill_target {
    E2B_KILL_NONE = 0,       /* not a kill intent */
    E2B_KILL_ID = 1,         /* sandbox_id holds the id */
    E2B_KILL_LATEST = 2,     /* "newest", "latest", "most recent", "last" */
    E2B_KILL_ALL = 3,        /* "all", "every" */
    E2B_KILL_UNSPECIFIED = 4 /* "kill the sandbox": the caller decides (e.g. only one) */
} e2b_agent_kill_target;

typedef struct e2b_agent_meta {
    char key[E2B_AGENT_META_KEY_MAX];
    char value[E2B_AGENT_META_VALUE_MAX];
} e2b_agent_meta;

/* Plain data: no heap memory, nothing to free. */
typedef struct e2b_agent_intent {
    e2b_agent_intent_kind kind;
    const char *reason;    /* UNKNOWN: why, as static text; else NULL */
    bool mentions_sandbox; /* "sandbox(es)", "environment", "container", "vm" or an id */
    /* create */
    long timeout_s;                             /* 0 = not given */
    char template_name[E2B_AGENT_TEMPLATE_MAX]; /* "" = not given */
    e2b_agent_meta metadata[E2B_AGENT_META_MAX];
    size_t metadata_len;
    /* kill */
    e2b_agent_kill_target target;
    char sandbox_id[E2B_AGENT_ID_MAX]; /* target E2B_KILL_ID: the id, case as written */
} e2b_agent_intent;

/* "unknown", "create", "list", "kill" / "none", "id", "latest", "all", "unspecified". */
const char *e2b_agent_intent_name(e2b_agent_intent_kind kind);
const char *e2b_agent_kill_target_name(e2b_agent_kill_target target);

/* Parses a MANAGE_SANDBOX request. All words are matched as whole words,
 * case-insensitively (the plugin matched substrings, so "kill the newest sandbox"
 * CREATED a sandbox because "newest" contains "new"):
 *   create: create, start, launch, spawn, spin, provision
 *   list:   list, display, ls, enumerate
 *   kill:   kill, stop, terminate, destroy, delete, remove, shutdown
 *           (and "shut down")
 *   weak:   "new" (create) and "show", "status", "what", "which" (list)
 * Exactly one of the three groups must match; none or several -> E2B_INTENT_UNKNOWN with
 * a reason. Weak words count only when no other group matched and the text mentions a
 * sandbox (mentions_sandbox): "new sandbox please" is create, "show my sandboxes" is
 * list, "what is x = 5?" is unknown, "create a sandbox and show me its id" is create,
 * and "new" next to a kill word means the latest sandbox ("stop the new sandbox").
 * Arguments:
 *   create - timeout: the first "<number>[ -]<unit>" with unit s/sec/secs/second(s),
 *            m/min/mins/minute(s), h/hr/hrs/hour(s), ms/millisecond(s) (rounded up to
 *            whole seconds); decimals allowed ("1.5 hours" = 5400); "timeout 600" or
 *            "timeout=600" without unit means seconds. Template: the token after
 *            "template" ("template base", "template: base", "template=base", quoted or
 *            backticked) or before it ("the code-interpreter-v1 template"). Metadata:
 *            every key=value token (value may be "quoted"), except the keys "timeout" and
 *            "template", which set those fields.
 *   kill   - an id: "sbx-..." / "mock-sandbox-..." / "local-sandbox-..." tokens, a token
 *            of 12..64 lowercase letters and digits with at least one digit and at least
 *            one letter (E2B ids are ~20 such characters, e.g. "i7a3k2m9x1q8w4e6r5t0y"),
 *            optionally followed by "-<suffix>"; or any token after "id"/"id:"/"id=".
 *            Else "newest/latest/most recent/last/youngest/new" -> E2B_KILL_LATEST,
 *            "all/every/everything" -> E2B_KILL_ALL, else (neither, or both)
 *            E2B_KILL_UNSPECIFIED.
 * On E2B_OK *out is filled (possibly UNKNOWN). Errors (then *out is UNKNOWN with the
 * reason): E2B_ERR_INVALID_ARGUMENT for NULL out, text over E2B_AGENT_MAX_MESSAGE, a
 * timeout of 0 or over E2B_AGENT_MAX_TIMEOUT_S, a template name, id, metadata key or
 * value too long for its field, or more than E2B_AGENT_META_MAX metadata pairs. */
e2b_code e2b_agent_parse_intent(const uint8_t *text, size_t len, e2b_agent_intent *out,
                                e2b_error *err);

/* ---- replies (formatting; no network) --------------------------------------------- */

/* What one executed block produced. Every pointer is BORROWED and may be NULL; the
 * struct mirrors an E2B execution (code.h's e2b_execution) without depending on it:
 * text = ex->text, error_* = ex->error->name/value/traceback, stdout/stderr = that
 * stream's chunk texts in order (or one string from e2b_execution_logs_text, count 1),
 * image_paths = what e2b_execution_save_images returned. stdout/stderr chunks are
 * concatenated verbatim (the plugin joined them with "\n", doubling the line breaks). */
typedef struct e2b_agent_exec_result {
    const char *language; /* e.g. "python"; NULL -> "unknown" */
    const char *code;     /* the code that ran (for the JSON) */
    const char *text;     /* main result (last expression), NULL if none */
    const char *const *stdout_chunks;
    size_t stdout_count;
    const char *const *stderr_chunks;
    size_t stderr_count;
    const char *error_name;  /* non-NULL = the block failed ("ZeroDivisionError") */
    const char *error_value; /* "division by zero" */
    const char *error_traceback;
    const char *const *image_paths; /* saved png/svg/... files */
    size_t image_count;
} e2b_agent_exec_result;

/* A sandbox as the reply JSON reports it ("sandboxInfo"). Borrowed pointers. */
typedef struct e2b_agent_sandbox_info {
    const char *sandbox_id;
    const char *template_id; /* NULL -> omitted */
    bool active;
    int64_t started_at_ms;    /* unix ms, 0 = unknown (omitted) */
    int64_t last_activity_ms; /* unix ms, 0 = unknown (omitted) */
    const e2b_kv *metadata;
    size_t metadata_len;
} e2b_agent_sandbox_info;

typedef struct e2b_agent_format_opts {
    size_t max_stream_bytes; /* per stdout/stderr/result/traceback; 0 = no limit. Longer
                                text is cut at a UTF-8 boundary and "… [N more bytes]"
                                is appended */
} e2b_agent_format_opts;

/* The reply text. For each block i (1-based), separated by a blank line:
 *   **Execution <i> (<language>):**
 *   ✅ **Result:** `<text>`            (multi-line or backticked text: a fenced block)
 *   **Output:** + fenced stdout        (also shown when the block then failed)
 *   **Errors/Warnings:** + fenced stderr
 *   ❌ **Error:** <name>: <value> + fenced traceback (when non-empty)
 *   🖼️ **Images:** <path>, <path>
 *   ✅ Code executed successfully (no output)   (nothing of the above)
 * Fences are made longer than any backtick run inside the content, so output containing
 * ``` cannot break the reply. opts may be NULL (no limit). n may be 0 (then the text is
 * "No code was executed."). On E2B_OK *out is a NUL-terminated heap string the caller
 * frees with free(). Errors: E2B_ERR_INVALID_ARGUMENT (out NULL, or results NULL with
 * n > 0), E2B_ERR_NO_MEMORY. */
e2b_code e2b_agent_format_reply(const e2b_agent_exec_result *results, size_t n,
                                const e2b_agent_format_opts *opts, char **out, e2b_error *err);

/* The structured result (the plugin's values+data in one object):
 *   { "success": <no block failed and n > 0>, "totalBlocks": n, "successfulBlocks": k,
 *     "failedBlocks": n-k,
 *     "executionResults": [ { "index": i (1-based), "language", "code", "success",
 *         "hasOutput" (text or stdout non-empty), "text" (string|null),
 *         "stdout": [chunks], "stderr": [chunks],
 *         "error": {"name","value","traceback"} | null, "images": [paths] } ],
 *     "sandboxInfo": [ { "sandboxId", "templateId"?, "isActive", "startedAt"? (ms),
 *         "lastActivity"? (ms), "metadata": {k: v} } ] }
 * Strings that are not valid UTF-8 are repaired (each bad byte -> U+FFFD) so the JSON
 * is always valid. sandboxes may be NULL when nsandboxes is 0. On E2B_OK *out is a new
 * cJSON object the caller frees with cJSON_Delete. Errors: E2B_ERR_INVALID_ARGUMENT
 * (out NULL, NULL array with a non-zero count), E2B_ERR_NO_MEMORY. */
e2b_code e2b_agent_format_json(const e2b_agent_exec_result *results, size_t n,
                               const e2b_agent_sandbox_info *sandboxes, size_t nsandboxes,
                               cJSON **out, e2b_error *err);

/* The MANAGE_SANDBOX list reply, in the plugin's format (plugin-e2b.md 2.5):
 *   n == 0: "ℹ️ **No active sandboxes**\n\nThere are currently no running sandboxes.
 *            Use \"create sandbox\" to start a new one."
 *   else:   "📋 **Active Sandboxes (<n>)**\n\n" and per sandbox (i from 1):
 *           "**<i>.** `<id>`\n"
 *           "   • **Status:** 🟢 Active" (or "🔴 Inactive") "\n"
 *           "   • **Template:** <template_id>\n"            (when known)
 *           "   • **Uptime:** <duration since started_at>\n"  (when known)
 *           "   • **Last Activity:** <duration> ago\n"        (when known)
 *           "   • **Metadata:** <metadata_len> properties\n"  (when there is some)
 *           "\n"
 * Durations use e2b_agent_format_duration; now_ms is the current unix time in ms (passed
 * in, so the function reads no clock). On E2B_OK *out is a heap string (free()).
 * Errors: E2B_ERR_INVALID_ARGUMENT (out NULL, sandboxes NULL with n > 0),
 * E2B_ERR_NO_MEMORY. */
e2b_code e2b_agent_format_sandbox_list(const e2b_agent_sandbox_info *sandboxes, size_t n,
                                       int64_t now_ms, char **out, e2b_error *err);

/* The plugin's duration format for uptimes: "<d>d <h>h <m>m", "<h>h <m>m", "<m>m <s>s"
 * or "<s>s" from milliseconds (negative counts as 0). Writes at most len bytes
 * (NUL-terminated) and returns buf. */
char *e2b_agent_format_duration(int64_t ms, char *buf, size_t len);

/* ---- fuzzing ---------------------------------------------------------------------- */

/* Runs every parser of this header over data (code extraction one-shot and streamed in
 * uneven pieces, intent parsing) and checks internal invariants (streamed == one-shot),
 * aborting if one is violated. Returns 0. Signature-compatible with libFuzzer's
 * LLVMFuzzerTestOneInput. */
int e2b_agent_fuzz_one(const uint8_t *data, size_t size);

#ifdef __cplusplus
}
#endif
#endif
