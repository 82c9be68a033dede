/* poolledger.h - a machine-wide record of which run grew which hugetlb pool by how much.
 *
 * Why a ledger (and not saving "the original size", nor surplus pages):
 * hugepage pools are machine-wide, so a run cannot know the size to go back
 * to when another run has grown the pool first; it can only know what it
 * added itself.  Each run that grows a pool writes one small record,
 *   <dir>/pool-<page kB>kB-<pid>: "<pid> <start time> <page kB> <pages>"
 * and gives back exactly those pages when it ends (shrinking the persistent
 * size by its own delta), so any number of runs compose.  Every read-modify-
 * write of a pool and of the records happens under flock() of <dir>/lock.
 * The records outlive a run killed with SIGKILL, so `nestbench info` can say
 * whose pages are still there and `nestbench cleanup` can give them back.
 * The process start time (from /proc/<pid>/stat) tells a recycled pid from
 * the run that wrote the record.
 *
 * nr_overcommit_hugepages (surplus pages the kernel frees by itself) was the
 * alternative; it was not taken because the kernel refuses overcommit for
 * gigantic (1G) pages, and the overcommit limit is itself one machine-wide
 * value that concurrent runs would have to save and restore just the same.
 *
 * The directory is /run/nestbench (tmpfs: cleared at boot, when the pools
 * are reset too); tests point it elsewhere with ledger_set_dir().
 */
#ifndef NESTBENCH_POOLLEDGER_H
#define NESTBENCH_POOLLEDGER_H

#include <stddef.h>
#include <sys/types.h>

#include "core/util.h"

#define LEDGER_DIR "/run/nestbench"
#define LEDGER_MAX_ENTRIES 64

struct ledger_entry {
	pid_t pid;
	unsigned long long start;  /* process start time, clock ticks after boot */
	size_t page_kb;
	long pages;                /* pages this run added to the pool */
	int alive;                 /* the run that wrote it is still running */
	char path[512];            /* the record file */
};

/* Use dir instead of LEDGER_DIR (NULL: back to it); closes a cached lock. */
void ledger_set_dir(const char *dir);
const char *ledger_dir(void);

/* Create the directory if needed and open its lock file; the descriptor is
 * cached for the life of the process (signal handlers lock through it).
 * Returns the descriptor or -1 with the reason in err. */
int ledger_open(nb_error *err);
/* The cached descriptor, or -1 (async-signal-safe). */
int ledger_fd(void);

/* Start time of a process from /proc/<pid>/stat; 0 when it does not exist. */
unsigned long long ledger_proc_start(pid_t pid);

/* Path of this process's record for a pool (formatted into buf). */
void ledger_record_path(pid_t pid, size_t page_kb, char *buf, size_t len);

/* Write (replace) a record atomically; pages <= 0 removes it.  0 or -1. */
int ledger_write(pid_t pid, unsigned long long start, size_t page_kb, long pages, nb_error *err);

/* Every well-formed record (page_kb 0: of every pool), with liveness
 * filled in.  Returns the number found (at most max); a missing directory
 * is no records. */
size_t ledger_scan(size_t page_kb, struct ledger_entry *out, size_t max);

#endif
