/* SPDX-License-Identifier: ISC */
/* rampart CLI entry point (placeholder while the spine lands). */
#include <stdio.h>
int main(void)
{
	puts("rampart " RAMPART_VERSION);
	return 0;
}
