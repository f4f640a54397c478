/* SPDX-License-Identifier: ISC */
/* rampartd entry point (placeholder while the spine lands). */
#include <stdio.h>
int main(void)
{
	puts("rampartd " RAMPART_VERSION);
	return 0;
}
