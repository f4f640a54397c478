/* SPDX-License-Identifier: ISC */
/*
 * The daemon's request path compiled without its main(): every C file of
 * src/daemon except rampartd.c, included here so the fuzz tree and the
 * replay unit test (which links only rampart_core) build the same code the
 * same way.  When an op moves into a new src/daemon/op_*.c, list it below.
 * Trusts nothing: it is rampartd's own code, fed by fuzz_request.c.
 */
#include "../../src/daemon/audit.c"
#include "../../src/daemon/dispatch.c"
#include "../../src/daemon/ops.c"
#include "../../src/daemon/jsonout.c"
#include "../../src/daemon/server.c"
#include "../../src/daemon/op_core.c"
#include "../../src/daemon/op_policy.c"
#if __has_include("../../src/daemon/op_port.c")
#include "../../src/daemon/op_port.c"
#endif
#if __has_include("../../src/daemon/op_files.c")
#include "../../src/daemon/op_files.c"
#endif
#if __has_include("../../src/daemon/op_diag.c")
#include "../../src/daemon/op_diag.c"
#endif
#if __has_include("../../src/daemon/op_helper.c")
#include "../../src/daemon/op_helper.c"
#endif
#if __has_include("../../src/daemon/policy_stale.c")
#include "../../src/daemon/policy_stale.c"
#endif
#if __has_include("../../src/daemon/slots.c")
#include "../../src/daemon/slots.c"
#endif
#if __has_include("../../src/daemon/op_stubs.c")
#include "../../src/daemon/op_stubs.c"
#endif
