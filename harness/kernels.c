/* kernels.c - the one table of kernels (list, run and suites all read it). */
#include <string.h>

#include "kernel.h"

extern const struct kernel_desc kernel_chase, kernel_chase_ctl;

const struct kernel_desc *const kernel_table[] = {
	&kernel_chase,
	&kernel_chase_ctl,
};
const size_t kernel_table_len = ARRAY_SIZE(kernel_table);

const struct kernel_desc *kernel_find(const char *name)
{
	for (size_t i = 0; i < kernel_table_len; i++)
		if (!strcmp(kernel_table[i]->name, name))
			return kernel_table[i];
	return NULL;
}
