/* unit_agent.c - the agent core (e2b/agent.h) beyond the fixture data: streaming
 * behaviour of the fence scanner, every split point (including inside CRLF and UTF-8
 * sequences), hostile input (NUL bytes, invalid UTF-8, unbalanced fences, huge input,
 * limits), API contracts, helpers, and a deterministic fuzz loop over e2b_agent_fuzz_one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include "e2b/agent.h"

/* ---- helpers ------------------------------------------------------------------------ */

static void extract(const char *msg, size_t len, e2b_agent_code *out)
{
    e2b_error err;
    assert_int_equal(e2b_agent_extract_code((const uint8_t *)msg, len, out, &err), E2B_OK);
}

static void assert_same(const e2b_agent_code *a, const e2b_agent_code *b)
{
    assert_int_equal(a->count, b->count);
    assert_int_equal(a->source, b->source);
    assert_ptr_equal(a->trigger, b->trigger);
    for (size_t i = 0; i < a->count; i++) {
        assert_int_equal(a->blocks[i].lang, b->blocks[i].lang);
        assert_string_equal(a->blocks[i].tag, b->blocks[i].tag);
        assert_int_equal(a->blocks[i].code_len, b->blocks[i].code_len);
        assert_memory_equal(a->blocks[i].code, b->blocks[i].code, a->blocks[i].code_len);
        assert_int_equal(a->blocks[i].unterminated, b->blocks[i].unterminated);
        assert_int_equal(a->blocks[i].lang_detected, b->blocks[i].lang_detected);
    }
}

/* One-shot vs byte by byte vs every 2-way split vs every 3-way split (short inputs). */
static void check_all_splits(const char *msg, size_t len)
{
    e2b_agent_code ref, got;
    extract(msg, len, &ref);
    const uint8_t *p = (const uint8_t *)msg;
    for (size_t a = 0; a <= len; a++) {
        for (size_t b = (len <= 64 ? a : len); b <= len; b++) {
            e2b_agent_scanner *sc;
            assert_int_equal(e2b_agent_scanner_new(&sc, NULL), E2B_OK);
            assert_int_equal(e2b_agent_scanner_feed(sc, p, a, NULL), E2B_OK);
            assert_int_equal(e2b_agent_scanner_feed(sc, p + a, b - a, NULL), E2B_OK);
            assert_int_equal(e2b_agent_scanner_feed(sc, p + b, len - b, NULL), E2B_OK);
            assert_int_equal(e2b_agent_scanner_finish(sc, &got, NULL), E2B_OK);
            e2b_agent_scanner_free(sc);
            assert_same(&ref, &got);
            e2b_agent_code_free(&got);
        }
    }
    e2b_agent_scanner *sc;
    assert_int_equal(e2b_agent_scanner_new(&sc, NULL), E2B_OK);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(e2b_agent_scanner_feed(sc, p + i, 1, NULL), E2B_OK);
    assert_int_equal(e2b_agent_scanner_finish(sc, &got, NULL), E2B_OK);
    e2b_agent_scanner_free(sc);
    assert_same(&ref, &got);
    e2b_agent_code_free(&got);
    e2b_agent_code_free(&ref);
}

/* ---- splits ------------------------------------------------------------------------- */

static void test_splits_crlf_and_utf8(void **state)
{
    (void)state;
    static const char *const msgs[] = {
        "```py\r\nprint('\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80')\r\n```\r\n",
        "Run:\r\r\n```\rx = 1\r```",
        "~~~~ js {.x}\nconsole.log(1)\n~~~\n```\n~~~~\n",
        "  ```python\n  def f():\n      pass\n   ````\n",
        "`` a`b `` and `print('hello world')`\n\n`x`",
        "import os\nprint(os.getcwd())",
        "```\n```\n```python\n",
        "``",
        "\r\n\r\n```",
        "```py\r\na\r\n\r\nb\r\n```\r\n",
    };
    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++)
        check_all_splits(msgs[i], strlen(msgs[i]));

    /* and what it must find, whatever the split */
    e2b_agent_code c;
    extract(msgs[0], strlen(msgs[0]), &c);
    assert_int_equal(c.count, 1);
    assert_string_equal(c.blocks[0].code, "print('\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80')");
    e2b_agent_code_free(&c);
    extract(msgs[1], strlen(msgs[1]), &c); /* CR, CRLF: the CR-CR-LF is two line ends */
    assert_int_equal(c.count, 1);
    assert_string_equal(c.blocks[0].code, "x = 1");
    assert_false(c.blocks[0].unterminated);
    assert_string_equal(c.trigger, "run");
    e2b_agent_code_free(&c);
    extract(msgs[9], strlen(msgs[9]), &c); /* CRLF is one line end, not two */
    assert_int_equal(c.count, 1);
    assert_string_equal(c.blocks[0].code, "a\n\nb");
    e2b_agent_code_free(&c);
}

/* Completed blocks are available while the message is still streaming. */
static void test_streaming_ready(void **state)
{
    (void)state;
    e2b_agent_scanner *sc;
    assert_int_equal(e2b_agent_scanner_new(&sc, NULL), E2B_OK);
    const char *part1 = "Here:\n```python\nprint(1)\n";
    assert_int_equal(e2b_agent_scanner_feed(sc, (const uint8_t *)part1, strlen(part1), NULL),
                     E2B_OK);
    assert_int_equal(e2b_agent_scanner_ready(sc), 0);
    assert_null(e2b_agent_scanner_block(sc, 0));
    const char *part2 = "```\nand now\n```js\nconsole.log(2)";
    assert_int_equal(e2b_agent_scanner_feed(sc, (const uint8_t *)part2, strlen(part2), NULL),
                     E2B_OK);
    assert_int_equal(e2b_agent_scanner_ready(sc), 1);
    const e2b_agent_block *b = e2b_agent_scanner_block(sc, 0);
    assert_non_null(b);
    assert_string_equal(b->code, "print(1)");
    assert_int_equal(b->lang, E2B_LANG_PYTHON);
    assert_null(e2b_agent_scanner_block(sc, 1));
    e2b_agent_code c;
    assert_int_equal(e2b_agent_scanner_finish(sc, &c, NULL), E2B_OK);
    assert_int_equal(c.count, 2);
    assert_int_equal(c.blocks[1].lang, E2B_LANG_JAVASCRIPT);
    assert_true(c.blocks[1].unterminated);
    assert_int_equal(e2b_agent_scanner_ready(sc), 0); /* moved out */
    /* finished: no more input */
    e2b_error err;
    assert_int_equal(e2b_agent_scanner_feed(sc, (const uint8_t *)"x", 1, &err),
                     E2B_ERR_INVALID_ARGUMENT);
    assert_int_equal(err.code, E2B_ERR_INVALID_ARGUMENT);
    e2b_agent_code c2;
    assert_int_equal(e2b_agent_scanner_finish(sc, &c2, NULL), E2B_ERR_INVALID_ARGUMENT);
    assert_int_equal(c2.count, 0);
    assert_null(c2.blocks);
    e2b_agent_scanner_free(sc);
    e2b_agent_code_free(&c);
}

/* ---- hostile input ------------------------------------------------------------------ */

static void test_nul_bytes(void **state)
{
    (void)state;
    static const char msg[] = "```python\nprint('a\0b')\n```\n\0\0\n```js\n\0\n```";
    size_t len = sizeof msg - 1;
    check_all_splits(msg, len);
    e2b_agent_code c;
    extract(msg, len, &c);
    assert_int_equal(c.count, 2);
    assert_int_equal(c.blocks[0].code_len, 12); /* print('a\0b') */
    assert_memory_equal(c.blocks[0].code, "print('a\0b')", 12);
    assert_int_equal(c.blocks[0].code[12], '\0');
    assert_int_equal(c.blocks[1].code_len, 1);
    assert_int_equal(c.blocks[1].code[0], '\0');
    e2b_agent_code_free(&c);
    /* NUL inside an intent message */
    e2b_agent_intent in;
    static const char im[] = "kill\0 sandbox sbx-\0abc";
    assert_int_equal(e2b_agent_parse_intent((const uint8_t *)im, sizeof im - 1, &in, NULL), E2B_OK);
    assert_int_equal(in.kind, E2B_INTENT_KILL);
    assert_int_equal(in.target, E2B_KILL_UNSPECIFIED); /* "sbx-" alone is no id */
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    static const char msg[] = "\xFF\xFE run `print('\xC3\x28 \xE2\x82 \xF0\x9F')` \x80";
    check_all_splits(msg, sizeof msg - 1);
    e2b_agent_code c;
    extract(msg, sizeof msg - 1, &c);
    assert_int_equal(c.count, 1);
    assert_int_equal(c.source, E2B_SOURCE_INLINE);
    assert_string_equal(c.trigger, "run");
    /* the JSON of such output is still valid UTF-8 JSON */
    const char *chunks[] = {c.blocks[0].code, "\xED\xA0\x80 surrogate \xC0\xAF overlong"};
    e2b_agent_exec_result r = {.language = "python",
                               .code = c.blocks[0].code,
                               .text = "\xFF",
                               .stdout_chunks = chunks,
                               .stdout_count = 2};
    cJSON *j = NULL;
    assert_int_equal(e2b_agent_format_json(&r, 1, NULL, 0, &j, NULL), E2B_OK);
    const cJSON *er = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "executionResults"),
                                         0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(er, "text")->valuestring, "\xEF\xBF\xBD");
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(er, "stdout");
    assert_string_equal(cJSON_GetArrayItem(so, 1)->valuestring,
                        "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD surrogate "
                        "\xEF\xBF\xBD\xEF\xBF\xBD overlong");
    assert_string_equal(cJSON_GetArrayItem(so, 0)->valuestring,
                        "print('\xEF\xBF\xBD( \xEF\xBF\xBD\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD')");
    cJSON_Delete(j);
    e2b_agent_code_free(&c);
}

static void test_unbalanced_fences(void **state)
{
    (void)state;
    static const char *const msgs[] = {
        "```",
        "````\n```\n",
        "```python",
        "~~~\n```\n~~",
        "```\n~~~\n",
        "`````````````````",
        "``` ```\n```",
        "```\n\n\n",
        "````python\ncode\n```\n``\n",
        "```\nx\n````````",
    };
    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++)
        check_all_splits(msgs[i], strlen(msgs[i]));
    e2b_agent_code c;
    extract("````python\ncode\n```\n``\n", strlen("````python\ncode\n```\n``\n"), &c);
    assert_int_equal(c.count, 1); /* the inner ``` and `` are body; runs to the end */
    assert_string_equal(c.blocks[0].code, "code\n```\n``");
    assert_true(c.blocks[0].unterminated);
    e2b_agent_code_free(&c);
}

/* Many alternating fences and long runs: linear, no crash, blocks in order. */
static void test_many_fences(void **state)
{
    (void)state;
    size_t n = 200, len = 0;
    char *msg = malloc(n * 32);
    assert_non_null(msg);
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(msg + len, "```py\nx = %zu\n```\n", i);
    e2b_agent_code c;
    extract(msg, len, &c);
    assert_int_equal(c.count, n);
    assert_string_equal(c.blocks[199].code, "x = 199");
    e2b_agent_code_free(&c);

    /* more than E2B_AGENT_MAX_BLOCKS non-empty blocks: a typed error, no partial result */
    size_t m = E2B_AGENT_MAX_BLOCKS + 1;
    char *big = malloc(m * 16);
    assert_non_null(big);
    len = 0;
    for (size_t i = 0; i < m; i++)
        len += (size_t)sprintf(big + len, "```\n%zu\n```\n", i);
    e2b_error err;
    assert_int_equal(e2b_agent_extract_code((const uint8_t *)big, len, &c, &err),
                     E2B_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "code blocks"));
    assert_int_equal(c.count, 0);
    assert_null(c.blocks);
    free(big);
    free(msg);
}

static void test_huge_input(void **state)
{
    (void)state;
    /* 1 MiB of mixed noise: fence characters, backticks, long lines */
    size_t len = 1u << 20;
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    uint32_t x = 12345;
    static const char alpha[] = "`~\n\r abcx=()print\t{}.#";
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)alpha[(x >> 16) % (sizeof alpha - 1)];
    }
    e2b_agent_code c;
    e2b_error err;
    e2b_code rc = e2b_agent_extract_code(buf, len, &c, &err);
    assert_true(rc == E2B_OK || rc == E2B_ERR_INVALID_ARGUMENT);
    e2b_agent_code_free(&c);
    /* one 1 MiB backtick run, and 512 KiB of single backticks separated by spaces */
    memset(buf, '`', len);
    assert_int_equal(e2b_agent_extract_code(buf, len, &c, NULL), E2B_OK);
    assert_int_equal(c.count, 0);
    for (size_t i = 0; i < len; i++)
        buf[i] = (i & 1) ? ' ' : '`';
    assert_int_equal(e2b_agent_extract_code(buf, len, &c, NULL), E2B_OK);
    assert_int_equal(c.count, 0); /* every span holds one space: too short */
    /* distinct-length backtick runs (worst case for naive span matching) */
    size_t off = 0;
    for (size_t run = 1; off + run + 1 < len; run++) {
        memset(buf + off, '`', run);
        buf[off + run] = 'a';
        off += run + 1;
    }
    assert_int_equal(e2b_agent_extract_code(buf, off, &c, NULL), E2B_OK);
    e2b_agent_code_free(&c);
    /* a very long tag is kept truncated and reported unknown */
    memset(buf, 'p', 300);
    memcpy(buf, "```", 3);
    memcpy(buf + 300, "\nx = 1\n```", 10);
    assert_int_equal(e2b_agent_extract_code(buf, 310, &c, NULL), E2B_OK);
    assert_int_equal(c.count, 1);
    assert_int_equal(c.blocks[0].lang, E2B_LANG_UNKNOWN);
    assert_int_equal(strlen(c.blocks[0].tag), E2B_AGENT_TAG_MAX - 1);
    e2b_agent_code_free(&c);
    free(buf);
}

static void test_size_limit(void **state)
{
    (void)state;
    size_t len = E2B_AGENT_MAX_MESSAGE + 1;
    uint8_t *buf = calloc(1, len);
    assert_non_null(buf);
    e2b_agent_code c;
    e2b_error err;
    assert_int_equal(e2b_agent_extract_code(buf, len, &c, &err), E2B_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "longer than"));
    /* the limit is on the total, across feeds */
    e2b_agent_scanner *sc;
    assert_int_equal(e2b_agent_scanner_new(&sc, NULL), E2B_OK);
    assert_int_equal(e2b_agent_scanner_feed(sc, buf, 10, NULL), E2B_OK);
    assert_int_equal(e2b_agent_scanner_feed(sc, buf, E2B_AGENT_MAX_MESSAGE - 9, &err),
                     E2B_ERR_INVALID_ARGUMENT);
    assert_int_equal(e2b_agent_scanner_feed(sc, buf, 1, NULL), E2B_ERR_INVALID_ARGUMENT);
    assert_int_equal(e2b_agent_scanner_finish(sc, &c, NULL), E2B_ERR_INVALID_ARGUMENT);
    e2b_agent_scanner_free(sc);
    e2b_agent_intent in;
    assert_int_equal(e2b_agent_parse_intent(buf, len, &in, &err), E2B_ERR_INVALID_ARGUMENT);
    assert_int_equal(in.kind, E2B_INTENT_UNKNOWN);
    free(buf);
}

/* ---- API contracts ------------------------------------------------------------------ */

static void test_null_arguments(void **state)
{
    (void)state;
    e2b_error err;
    e2b_agent_code c;
    assert_int_equal(e2b_agent_extract_code(NULL, 3, &c, &err), E2B_ERR_INVALID_ARGUMENT);
    assert_int_equal(e2b_agent_extract_code((const uint8_t *)"x", 1, NULL, &err),
                     E2B_ERR_INVALID_ARGUMENT);
    assert_int_equal(e2b_agent_extract_code(NULL, 0, &c, &err), E2B_OK);
    assert_int_equal(c.count, 0);
    assert_int_equal(c.source, E2B_SOURCE_NONE);
    assert_int_equal(e2b_agent_scanner_new(NULL, &err), E2B_ERR_INVALID_ARGUMENT);
    assert_int_equal(e2b_agent_scanner_feed(NULL, NULL, 0, &err), E2B_ERR_INVALID_ARGUMENT);
    assert_int_equal(e2b_agent_scanner_finish(NULL, &c, &err), E2B_ERR_INVALID_ARGUMENT);
    assert_int_equal(e2b_agent_scanner_ready(NULL), 0);
    assert_null(e2b_agent_scanner_block(NULL, 0));
    e2b_agent_scanner_free(NULL);
    e2b_agent_code_free(NULL);
    assert_false(e2b_agent_code_wants_execution(NULL));
    assert_int_equal(e2b_agent_parse_intent((const uint8_t *)"x", 1, NULL, &err),
                     E2B_ERR_INVALID_ARGUMENT);
    e2b_agent_intent in;
    assert_int_equal(e2b_agent_parse_intent(NULL, 5, &in, &err), E2B_ERR_INVALID_ARGUMENT);
    assert_int_equal(e2b_agent_parse_intent(NULL, 0, &in, &err), E2B_OK);
    assert_int_equal(in.kind, E2B_INTENT_UNKNOWN);
    char *text = (char *)"sentinel";
    assert_int_equal(e2b_agent_format_reply(NULL, 1, NULL, &text, &err), E2B_ERR_INVALID_ARGUMENT);
    assert_null(text);
    assert_int_equal(e2b_agent_format_reply(NULL, 0, NULL, NULL, &err), E2B_ERR_INVALID_ARGUMENT);
    cJSON *j = (cJSON *)&err;
    assert_int_equal(e2b_agent_format_json(NULL, 2, NULL, 0, &j, &err), E2B_ERR_INVALID_ARGUMENT);
    assert_null(j);
    assert_int_equal(e2b_agent_format_json(NULL, 0, NULL, 1, &j, &err), E2B_ERR_INVALID_ARGUMENT);
    /* every result field NULL is fine */
    e2b_agent_exec_result empty = {0};
    assert_int_equal(e2b_agent_format_reply(&empty, 1, NULL, &text, &err), E2B_OK);
    assert_string_equal(text, "**Execution 1 (unknown):**\n\xE2\x9C\x85 Code executed "
                              "successfully (no output)\n");
    free(text);
    e2b_agent_sandbox_info si = {0};
    assert_int_equal(e2b_agent_format_json(&empty, 1, &si, 1, &j, &err), E2B_OK);
    char *s = cJSON_PrintUnformatted(j);
    assert_string_equal(s, "{\"success\":true,\"totalBlocks\":1,\"successfulBlocks\":1,"
                           "\"failedBlocks\":0,\"executionResults\":[{\"index\":1,\"language\":"
                           "\"unknown\",\"code\":null,\"success\":true,\"hasOutput\":false,"
                           "\"text\":null,\"stdout\":[],\"stderr\":[],\"error\":null,"
                           "\"images\":[]}],\"sandboxInfo\":[{\"sandboxId\":\"\",\"isActive\":"
                           "false,\"metadata\":{}}]}");
    cJSON_free(s);
    cJSON_Delete(j);
}

/* ---- helpers of the header ---------------------------------------------------------- */

static void test_lang_tags(void **state)
{
    (void)state;
    static const struct {
        const char *tag;
        e2b_agent_lang lang;
    } t[] = {
        {"py", E2B_LANG_PYTHON},
        {"PYTHON", E2B_LANG_PYTHON},
        {"python3", E2B_LANG_PYTHON},
        {"js", E2B_LANG_JAVASCRIPT},
        {"Node", E2B_LANG_JAVASCRIPT},
        {"nodejs", E2B_LANG_JAVASCRIPT},
        {"javascript", E2B_LANG_JAVASCRIPT},
        {"ts", E2B_LANG_TYPESCRIPT},
        {"typescript", E2B_LANG_TYPESCRIPT},
        {"sh", E2B_LANG_BASH},
        {"bash", E2B_LANG_BASH},
        {"shell", E2B_LANG_BASH},
        {"zsh", E2B_LANG_BASH},
        {"r", E2B_LANG_R},
        {"java", E2B_LANG_JAVA},
        {"", E2B_LANG_UNKNOWN},
        {"python4", E2B_LANG_UNKNOWN},
        {"pyt", E2B_LANG_UNKNOWN},
        {"c++", E2B_LANG_UNKNOWN},
        {"json", E2B_LANG_UNKNOWN},
        {"javas", E2B_LANG_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        assert_int_equal(e2b_agent_lang_from_tag(t[i].tag, strlen(t[i].tag)), t[i].lang);
    assert_int_equal(e2b_agent_lang_from_tag("python", 2), E2B_LANG_PYTHON); /* "py" */
    assert_int_equal(e2b_agent_lang_from_tag(NULL, 0), E2B_LANG_UNKNOWN);
    assert_string_equal(e2b_agent_lang_name(E2B_LANG_TYPESCRIPT), "typescript");
    assert_string_equal(e2b_agent_lang_name((e2b_agent_lang)99), "unknown");
    assert_string_equal(e2b_agent_source_name((e2b_agent_source)99), "none");
    assert_string_equal(e2b_agent_intent_name((e2b_agent_intent_kind)99), "unknown");
    assert_string_equal(e2b_agent_kill_target_name((e2b_agent_kill_target)99), "none");
}

static void test_lang_detect(void **state)
{
    (void)state;
    static const struct {
        const char *code;
        e2b_agent_lang lang;
    } t[] = {
        {"#!/usr/bin/env python3\nconsole.log(1)", E2B_LANG_PYTHON},
        {"#!/usr/bin/env node\nprint(1)", E2B_LANG_JAVASCRIPT},
        {"#!/usr/bin/env ts-node\nx", E2B_LANG_TYPESCRIPT},
        {"#!/bin/sh\nx", E2B_LANG_BASH},
        {"#!/usr/bin/env Rscript\nx", E2B_LANG_R},
        {"import numpy as np", E2B_LANG_PYTHON}, /* tie (0:0) -> python */
        {"import fs from 'fs'", E2B_LANG_JAVASCRIPT},
        {"from os import path", E2B_LANG_PYTHON},
        {"let x = 1;\nconsole.log(x)", E2B_LANG_JAVASCRIPT},
        {"function f(a: number): void {}\nconst y = 1", E2B_LANG_TYPESCRIPT},
        {"cd /tmp\nls -la\necho done", E2B_LANG_BASH},
        {"", E2B_LANG_PYTHON},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        e2b_agent_lang got = e2b_agent_lang_detect(t[i].code, strlen(t[i].code));
        if (got != t[i].lang)
            fail_msg("detect(%s) = %s, want %s", t[i].code, e2b_agent_lang_name(got),
                     e2b_agent_lang_name(t[i].lang));
    }
    assert_int_equal(e2b_agent_lang_detect(NULL, 0), E2B_LANG_PYTHON);
}

static void test_trigger_words(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } t[] = {
        {"run it", "run"},
        {"RUN!", "run"},
        {"(run)", "run"},
        {"please re-run", "run"},
        {"running", NULL},
        {"truncate", NULL},
        {"rerun", NULL},
        {"run_tests", NULL},
        {"barcode", NULL},
        {"runé", NULL},
        {"Execute this", "execute"},
        {"py", NULL},
        {"Calculate 2+2", "calculate"},
        {"what does this script do", "script"},
        {"", NULL},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const char *got = e2b_agent_find_trigger(t[i].text, strlen(t[i].text));
        if (t[i].want)
            assert_string_equal(got ? got : "(null)", t[i].want);
        else if (got)
            fail_msg("trigger(%s) = %s, want none", t[i].text, got);
    }
    assert_null(e2b_agent_find_trigger(NULL, 4));
}

static void test_looks_like_code(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool code;
        size_t start;
    } t[] = {
        {"x = 1", true, 0},
        {"print('hi')", true, 0},
        {"Run this:\nprint(1)", true, 10},
        {"Run this:", false, 0},
        {"let me know", false, 0},
        {"for example, this", false, 0},
        {"class is over.", false, 0},
        {"import the data.", false, 0},
        {"if you can", false, 0},
        {"if x > 1:\n    y = 2", true, 0},
        {"def f(x):\n    return x\n\n# done", true, 0},
        {"}\n", false, 0},
        {"a == b", false, 0},
        {"x = 1\nThis is prose", false, 0},
        {"    ```python\n    print(1)", false, 0},
        {"np.random.seed(0)", true, 0},
        {"", false, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        size_t start = 99;
        bool got = e2b_agent_looks_like_code(t[i].text, strlen(t[i].text), &start);
        if (got != t[i].code)
            fail_msg("looks_like_code(%s) = %d", t[i].text, got);
        if (got)
            assert_int_equal(start, t[i].start);
    }
    assert_false(e2b_agent_looks_like_code(NULL, 3, NULL));
}

static void test_intent_limits(void **state)
{
    (void)state;
    char msg[1024];
    e2b_agent_intent in;
    e2b_error err;
    /* template name too long for its field */
    int n = snprintf(msg, sizeof msg, "create a sandbox with template %0200d", 7);
    assert_int_equal(e2b_agent_parse_intent((const uint8_t *)msg, (size_t)n, &in, &err),
                     E2B_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "template name"));
    assert_int_equal(in.kind, E2B_INTENT_UNKNOWN);
    assert_string_equal(in.template_name, "");
    /* too many metadata pairs */
    size_t len = (size_t)snprintf(msg, sizeof msg, "create sandbox");
    for (unsigned i = 0; i <= E2B_AGENT_META_MAX; i++)
        len += (size_t)snprintf(msg + len, sizeof msg - len, " k%u=v", i);
    assert_int_equal(e2b_agent_parse_intent((const uint8_t *)msg, len, &in, &err),
                     E2B_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "metadata"));
    /* the same key twice: the last value wins, one pair */
    const char *dup = "create sandbox env=a env=b";
    assert_int_equal(e2b_agent_parse_intent((const uint8_t *)dup, strlen(dup), &in, &err), E2B_OK);
    assert_int_equal(in.metadata_len, 1);
    assert_string_equal(in.metadata[0].value, "b");
    /* a too-long id */
    len = (size_t)snprintf(msg, sizeof msg, "kill sbx-");
    memset(msg + len, 'a', 200);
    len += 200;
    assert_int_equal(e2b_agent_parse_intent((const uint8_t *)msg, len, &in, &err),
                     E2B_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "sandbox id"));
    /* the largest allowed timeout, and one second more */
    n = snprintf(msg, sizeof msg, "create sandbox timeout=%ld", E2B_AGENT_MAX_TIMEOUT_S);
    assert_int_equal(e2b_agent_parse_intent((const uint8_t *)msg, (size_t)n, &in, &err), E2B_OK);
    assert_int_equal(in.timeout_s, E2B_AGENT_MAX_TIMEOUT_S);
    n = snprintf(msg, sizeof msg, "create sandbox timeout=%ld", E2B_AGENT_MAX_TIMEOUT_S + 1);
    assert_int_equal(e2b_agent_parse_intent((const uint8_t *)msg, (size_t)n, &in, &err),
                     E2B_ERR_INVALID_ARGUMENT);
}

static void test_format_limits(void **state)
{
    (void)state;
    /* cut at a UTF-8 boundary: 3-byte euro signs with a limit of 4 bytes keep one */
    const char *chunks[] = {"\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC"};
    e2b_agent_exec_result r = {
        .language = "python", .stdout_chunks = chunks, .stdout_count = 1, .text = "line1\nline2"};
    e2b_agent_format_opts o = {.max_stream_bytes = 4};
    char *text;
    assert_int_equal(e2b_agent_format_reply(&r, 1, &o, &text, NULL), E2B_OK);
    assert_non_null(strstr(text, "```\n\xE2\x82\xAC\n\xE2\x80\xA6 [6 more bytes]\n```"));
    assert_non_null(strstr(text, "```\nline\n\xE2\x80\xA6 [7 more bytes]\n```"));
    free(text);
    /* a fence inside the traceback makes the traceback's fence longer */
    e2b_agent_exec_result e = {
        .language = "python", .error_name = "E", .error_traceback = "a ````` b"};
    assert_int_equal(e2b_agent_format_reply(&e, 1, NULL, &text, NULL), E2B_OK);
    assert_string_equal(text, "**Execution 1 (python):**\n\xE2\x9D\x8C **Error:** E\n"
                              "``````\na ````` b\n``````\n");
    free(text);
    /* a fence longer than 32 backticks */
    char ticks40[41], fence41[42], want[256];
    memset(ticks40, '`', 40);
    ticks40[40] = '\0';
    memset(fence41, '`', 41);
    fence41[41] = '\0';
    const char *one[] = {ticks40};
    e2b_agent_exec_result t = {.language = "bash", .stdout_chunks = one, .stdout_count = 1};
    assert_int_equal(e2b_agent_format_reply(&t, 1, NULL, &text, NULL), E2B_OK);
    snprintf(want, sizeof want, "**Execution 1 (bash):**\n**Output:**\n%s\n%s\n%s\n", fence41,
             ticks40, fence41);
    assert_string_equal(text, want);
    free(text);
}

static void test_duration(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(e2b_agent_format_duration(0, b, sizeof b), "0s");
    assert_string_equal(e2b_agent_format_duration(-5, b, sizeof b), "0s");
    assert_string_equal(e2b_agent_format_duration(30999, b, sizeof b), "30s");
    assert_string_equal(e2b_agent_format_duration(323000, b, sizeof b), "5m 23s");
    assert_string_equal(e2b_agent_format_duration(7380000, b, sizeof b), "2h 3m");
    assert_string_equal(e2b_agent_format_duration(90061000, b, sizeof b), "1d 1h 1m");
    assert_string_equal(e2b_agent_format_duration(323000, b, 4), "5m ");
    assert_null(e2b_agent_format_duration(1, NULL, 3));
    assert_string_equal(e2b_agent_format_duration(INT64_MAX, b, sizeof b), "106751991167d 7h 12m");
}

static void test_sandbox_list_extremes(void **state)
{
    (void)state;
    /* timestamps that would overflow now - then: saturated, no UB */
    e2b_agent_sandbox_info s = {
        .sandbox_id = "x", .started_at_ms = INT64_MIN, .last_activity_ms = -1};
    char *text = NULL;
    assert_int_equal(e2b_agent_format_sandbox_list(&s, 1, INT64_MAX, &text, NULL), E2B_OK);
    assert_non_null(strstr(text, "**Uptime:** 106751991167d 7h 12m\n"));
    assert_non_null(strstr(text, "\xF0\x9F\x94\xB4 Inactive"));
    free(text);
    e2b_error err;
    assert_int_equal(e2b_agent_format_sandbox_list(NULL, 1, 0, &text, &err),
                     E2B_ERR_INVALID_ARGUMENT);
    assert_null(text);
    assert_int_equal(e2b_agent_format_sandbox_list(&s, 1, 0, NULL, &err), E2B_ERR_INVALID_ARGUMENT);
}

/* ---- fuzz loop ---------------------------------------------------------------------- */

static uint32_t rng = 0x2545F491u;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* Random messages built from fragments that matter to the parsers, plus random bytes;
 * e2b_agent_fuzz_one aborts if streaming and one-shot ever disagree. */
static void test_fuzz_loop(void **state)
{
    (void)state;
    static const char *const frag[] = {
        "```",       "~~~",    "````",      "`",         "``",
        "\n",        "\r\n",   "\r",        "   ",       "    ",
        "python",    "js",     " {.x}",     "print(1)",  "x = 1",
        "kill",      "create", "sandbox",   "sbx-ab12",  "newest",
        "10 min",    "1.5h",   "template",  "=",         "\"",
        "a=b",       "id",     ":",         "run",       "\xC3\xA9",
        "\xFF",      "\0",     "import os", "Run this:", "i7a3k2m9x1q8w4e6r5t0y",
        "timeout=9", "{",      "}",
    };
    uint8_t buf[512];
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = 0, parts = next_rand() % 40;
        for (size_t k = 0; k < parts; k++) {
            if (next_rand() % 5 == 0) {
                if (len < sizeof buf)
                    buf[len++] = (uint8_t)next_rand();
                continue;
            }
            size_t f = next_rand() % (sizeof frag / sizeof frag[0]);
            size_t fl = frag[f][0] ? strlen(frag[f]) : 1;
            if (len + fl > sizeof buf)
                break;
            memcpy(buf + len, frag[f], fl);
            len += fl;
        }
        assert_int_equal(e2b_agent_fuzz_one(buf, len), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_splits_crlf_and_utf8),
        cmocka_unit_test(test_streaming_ready),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_unbalanced_fences),
        cmocka_unit_test(test_many_fences),
        cmocka_unit_test(test_huge_input),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_lang_tags),
        cmocka_unit_test(test_lang_detect),
        cmocka_unit_test(test_trigger_words),
        cmocka_unit_test(test_looks_like_code),
        cmocka_unit_test(test_intent_limits),
        cmocka_unit_test(test_format_limits),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_sandbox_list_extremes),
        cmocka_unit_test(test_fuzz_loop),
    };
    const char *filter = getenv("E2B_TEST_FILTER");
    if (filter)
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests_name("agent", tests, NULL, NULL);
}
