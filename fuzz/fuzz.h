/* fuzz.h - shared helpers of the fuzz targets (fuzz/<name>.c).
 *
 * Every target defines LLVMFuzzerTestOneInput (and optionally LLVMFuzzerInitialize). It is
 * linked two ways:
 *   - with -DE2B_FUZZ=ON (CC=clang): against libFuzzer, as build/fuzz/fuzz_<name>;
 *   - always: against replay.c, a small main() that feeds files and directories through the
 *     same entry point (ctest label fuzz-regress replays fuzz/regressions/<name>/ and the
 *     generated seed corpus).
 * FUZZ_CHECK aborts (a crash libFuzzer records) when an invariant does not hold.
 */
#ifndef E2B_FUZZ_H
#define E2B_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond)                                                                 \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                     \
        }                                                                                \
    } while (0)

/* Chunk sizes for "split anywhere" feeding: derived from a seed byte so the fuzzer explores
 * splits too. Returns 1..16. */
static inline size_t fuzz_step(unsigned seed, size_t i)
{
    return 1 + (size_t)((seed * 31u + (unsigned)i * 7u) % 16u);
}

#endif
