/* Shared helpers of the libFuzzer harnesses in tests/fuzz/. Each harness is
 * one LLVMFuzzerTestOneInput; built with -fsanitize=fuzzer it is a fuzzer,
 * linked with replay.c it replays saved inputs in the normal test suite. */
#ifndef CLNET_FUZZ_H
#define CLNET_FUZZ_H

#include "core/ctx.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A zeroed context: the parsers touch only its error message, so no device
 * is needed (as in tests/io/test_cfg.c). Lives for the whole process. */
clnet_ctx *fuzz_ctx(void);

/* Writes data to a file in a private temporary folder (made on first use,
 * removed at exit) and returns its path; NULL when it cannot be written. */
const char *fuzz_file(const uint8_t *data, size_t size);

#endif
