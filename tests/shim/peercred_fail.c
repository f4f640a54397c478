/* SPDX-License-Identifier: ISC */
/*
 * Test-only LD_PRELOAD shim (never installed): while the file named by
 * $RAMPART_SHIM_PEERCRED_FAIL exists, getsockopt(SO_PEERCRED) fails with
 * EINVAL in the process it is loaded into, so a test can show that rampartd
 * closes a connection whose peer credentials cannot be read instead of
 * serving it with zeroed (root) credentials.  Trusts its environment: it is
 * loaded only by tests/integration/test_peercred_fault.py.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

typedef int (*shim_getsockopt_fn)(int, int, int, void *, socklen_t *);

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	static shim_getsockopt_fn real;
	const char *flag = getenv("RAMPART_SHIM_PEERCRED_FAIL");

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "getsockopt");
	if (level == SOL_SOCKET && name == SO_PEERCRED && flag != NULL && access(flag, F_OK) == 0) {
		errno = EINVAL;
		return -1;
	}
	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return real(fd, level, name, val, len);
}
