/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer driver: one binary per entry point of fuzz.h, chosen at compile
 * time with -DFUZZ_ENTRY=fuzz_<name>.  Input is whatever libFuzzer makes.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return FUZZ_ENTRY(data, size);
}
