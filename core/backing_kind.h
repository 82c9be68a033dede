/* backing_kind.h - the memory backings by kind, as the kernel contract names them.
 *
 * Only the enum lives here, so that core/kernel.h can say which backing a
 * measurement runs on without core/ including the harness.  Names, parsing,
 * page sizes and the buffers themselves are harness/mem/backing.h.
 */
#ifndef NESTBENCH_BACKING_KIND_H
#define NESTBENCH_BACKING_KIND_H

enum backing_kind {
	BACKING_4K,
	BACKING_THP,
	BACKING_HUGETLB_2M,
	BACKING_HUGETLB_1G,
	BACKING_COUNT
};

#endif
