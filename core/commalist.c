/* commalist.c - see commalist.h. */
#include "core/commalist.h"

#include <stdlib.h>
#include <string.h>

int comma_list_each(const char *list, comma_item_fn fn, void *arg, nb_error *err)
{
	/* Checked on the whole string first: no item is handed to fn from a
	 * list that will be refused anyway. */
	size_t n = strlen(list);
	if (!n || list[0] == ',' || list[n - 1] == ',' || strstr(list, ",,"))
		return nb_fail(err, "'%s': empty item in the comma-separated list", list);
	char *copy = strdup(list);
	if (!copy)
		return nb_fail(err, "out of memory");
	int rc = 0;
	for (char *item = copy; item && !rc;) {
		char *comma = strchr(item, ',');
		if (comma)
			*comma = '\0';
		if (fn)
			rc = fn(item, arg);
		item = comma ? comma + 1 : NULL;
	}
	free(copy);
	return rc;
}
