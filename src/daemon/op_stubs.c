/* SPDX-License-Identifier: ISC */
/* Ops whose modules have not landed yet answer E_NOT_IMPLEMENTED. */
#include "op_handlers.h"

#define STUB(fn)                                                                          \
	int fn(struct op_ctx *ctx)                                                        \
	{                                                                                 \
		return rp_seterr(&ctx->err, "E_NOT_IMPLEMENTED", "not implemented yet");  \
	}
