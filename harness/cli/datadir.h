/* datadir.h - where nestbench's data files are: gnuplot templates, the results schema.
 *
 * An installed binary reads them from the data directory it was built for
 * (PREFIX/share/nestbench, compiled in); the same tree moved elsewhere (a
 * DESTDIR staging area, a relocated prefix) is found next to the binary
 * (BINDIR/../share/nestbench); a binary in a build directory of the source
 * tree (its objects in obj/ beside it) uses the tree's own analysis/templates
 * and results/schema.json, so that a development build never picks up an
 * older installed copy.
 * NESTBENCH_DATADIR (an installed-layout directory) overrides them all.
 */
#ifndef NESTBENCH_DATADIR_H
#define NESTBENCH_DATADIR_H

#include <limits.h>

struct datadir {
	char dir[PATH_MAX];       /* the data directory (the source tree for a build tree) */
	char templates[PATH_MAX]; /* directory holding sweep.gp and the other templates */
	char schema[PATH_MAX];    /* results schema file */
	const char *origin;       /* "NESTBENCH_DATADIR", "source tree", "next to the binary", "compiled in" */
};

/* Find the data files.  0 when the templates and the schema are there; -1
 * when nothing was found (d then names the compiled-in locations, so that a
 * message can say where they were expected). */
int datadir_find(struct datadir *d);

/* The directory the build was configured for (PREFIX/share/nestbench). */
const char *datadir_compiled(void);

#endif
