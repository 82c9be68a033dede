/* topology.c - CPU topology, PU choice and thread pinning through hwloc.
 *
 * The PUs this process may use are the affinity it started with (taken at
 * init, before any pin narrows it), so `taskset -c 1 nestbench ...` limits
 * every choice made here.  Thread affinity dies with the process, so only
 * an explicit restore is needed, never an exit or signal hook.
 */
#include "harness/host/topology.h"

#include <errno.h>
#include <hwloc.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static hwloc_topology_t topo;
static hwloc_bitmap_t allowed; /* OS indexes of the PUs this process may run on */
static bool ready;
static nb_error init_error; /* why the lazy init failed */

/* Affinity of this thread before its first pin (NULL: not pinned). */
static _Thread_local hwloc_bitmap_t saved_affinity;

int topology_init(nb_error *err)
{
	if (ready)
		return 0;
	if (hwloc_topology_init(&topo) != 0)
		return nb_fail(err, "hwloc_topology_init failed: %s", strerror(errno));
	/* hwloc drops instruction caches unless asked; info reports L1i too. */
	hwloc_topology_set_icache_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_ALL);
	if (hwloc_topology_load(topo) != 0) {
		int e = errno;
		hwloc_topology_destroy(topo);
		return nb_fail(err, "hwloc could not read the topology: %s", strerror(e));
	}
	allowed = hwloc_bitmap_alloc();
	cpu_set_t set;
	CPU_ZERO(&set);
	if (!allowed || sched_getaffinity(0, sizeof(set), &set) != 0) {
		int e = errno;
		hwloc_bitmap_free(allowed);
		hwloc_topology_destroy(topo);
		return nb_fail(err, "cannot read this process's cpu affinity: %s", strerror(e));
	}
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &set))
			hwloc_bitmap_set(allowed, (unsigned)cpu);
	/* A thread pinned before init: its original affinity is the real limit. */
	if (saved_affinity)
		hwloc_bitmap_copy(allowed, saved_affinity);
	/* hwloc may hide PUs a cgroup forbids; keep only those it knows. */
	hwloc_bitmap_and(allowed, allowed, hwloc_topology_get_topology_cpuset(topo));
	ready = true;
	return 0;
}

void topology_fini(void)
{
	if (!ready)
		return;
	hwloc_bitmap_free(allowed);
	hwloc_topology_destroy(topo);
	allowed = NULL;
	ready = false;
}

/* The queries below have no error channel: they initialize on first use and
 * report "nothing allowed" when hwloc cannot read the machine.  That lazy
 * init is not thread-safe: call topology_init() before starting threads. */
static bool ensure_ready(void)
{
	if (ready)
		return true;
	return topology_init(&init_error) == 0;
}

int topology_pu_count(void)
{
	if (!ensure_ready())
		return 0;
	return hwloc_bitmap_weight(allowed);
}

int topology_pu_allowed(int pu)
{
	if (pu < 0 || !ensure_ready())
		return 0;
	return hwloc_bitmap_isset(allowed, (unsigned)pu);
}

/* Allowed PUs of one core (a fresh bitmap the caller frees). */
static hwloc_bitmap_t core_allowed(hwloc_obj_t core)
{
	hwloc_bitmap_t set = hwloc_bitmap_alloc();
	if (set)
		hwloc_bitmap_and(set, core->cpuset, allowed);
	return set;
}

int topology_default_measure_pu(void)
{
	if (!ensure_ready() || hwloc_bitmap_iszero(allowed))
		return -1;
	int ncores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
	int fallback = -1;
	for (int i = ncores - 1; i >= 0; i--) {
		hwloc_obj_t core = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, (unsigned)i);
		hwloc_bitmap_t set = core_allowed(core);
		if (!set)
			break;
		int w = hwloc_bitmap_weight(set);
		int first = hwloc_bitmap_first(set);
		hwloc_bitmap_free(set);
		if (w == 1)
			return first;
		if (w > 1 && fallback < 0)
			fallback = first;
	}
	return fallback >= 0 ? fallback : hwloc_bitmap_last(allowed);
}

static bool picked(const int *out, int k, int pu)
{
	for (int i = 0; i < k; i++)
		if (out[i] == pu)
			return true;
	return false;
}

static bool core_used(hwloc_obj_t core, const int *out, int k)
{
	for (int i = 0; i < k; i++)
		if (hwloc_bitmap_isset(core->cpuset, (unsigned)out[i]))
			return true;
	return false;
}

int topology_pick_pus(int n, int first, int *out, nb_error *err)
{
	if (n <= 0)
		return nb_fail(err, "asked for %d cpus, need at least one", n);
	if (!ensure_ready())
		return nb_fail(err, "%s", init_error.msg);
	int have = hwloc_bitmap_weight(allowed);
	if (n > have) {
		char *list = NULL;
		hwloc_bitmap_list_asprintf(&list, allowed);
		nb_skip(err, "needs %d cpus but this process may run on %d (%s); run without taskset or on a larger machine",
			n, have, list ? list : "?");
		free(list);
		return 1;
	}
	if (first >= 0 && !hwloc_bitmap_isset(allowed, (unsigned)first))
		return nb_fail(err, "cpu %d is not one this process may run on", first);

	int k = 0;
	out[k++] = first >= 0 ? first : topology_default_measure_pu();
	/* One PU on each core not used yet, from the last core down (as the
	 * default measuring PU), so threads do not share a core's TLBs. */
	int ncores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
	for (int i = ncores - 1; i >= 0 && k < n; i--) {
		hwloc_obj_t core = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, (unsigned)i);
		if (core_used(core, out, k))
			continue;
		hwloc_bitmap_t set = core_allowed(core);
		if (!set)
			return nb_fail(err, "out of memory");
		int pu = hwloc_bitmap_first(set);
		hwloc_bitmap_free(set);
		if (pu >= 0)
			out[k++] = pu;
	}
	/* Not enough cores: SMT siblings of the cores already used. */
	int pu;
	hwloc_bitmap_foreach_begin(pu, allowed)
	{
		if (k < n && !picked(out, k, pu))
			out[k++] = pu;
	}
	hwloc_bitmap_foreach_end();
	return 0;
}

int topology_pin_self(int pu, nb_error *err)
{
	if (!ensure_ready())
		return nb_fail(err, "%s", init_error.msg);
	if (!topology_pu_allowed(pu))
		return nb_fail(err, "cannot pin to cpu %d: not one this process may run on", pu);
	if (!saved_affinity) {
		hwloc_bitmap_t cur = hwloc_bitmap_alloc();
		if (!cur)
			return nb_fail(err, "out of memory");
		if (hwloc_get_cpubind(topo, cur, HWLOC_CPUBIND_THREAD) != 0) {
			int e = errno;
			hwloc_bitmap_free(cur);
			return nb_fail(err, "cannot read the thread's cpu affinity: %s", strerror(e));
		}
		saved_affinity = cur;
	}
	hwloc_bitmap_t one = hwloc_bitmap_alloc();
	if (!one)
		return nb_fail(err, "out of memory");
	hwloc_bitmap_only(one, (unsigned)pu);
	int rc = hwloc_set_cpubind(topo, one, HWLOC_CPUBIND_THREAD);
	int e = errno;
	hwloc_bitmap_free(one);
	if (rc != 0)
		return nb_fail(err, "cannot pin to cpu %d: %s", pu, strerror(e));
	return 0;
}

void topology_restore_affinity(void)
{
	if (!saved_affinity)
		return;
	if (ensure_ready())
		hwloc_set_cpubind(topo, saved_affinity, HWLOC_CPUBIND_THREAD);
	hwloc_bitmap_free(saved_affinity);
	saved_affinity = NULL;
}

int topology_current_pu(void)
{
	return sched_getcpu();
}

static const char *cache_type_name(hwloc_obj_cache_type_t t)
{
	switch (t) {
	case HWLOC_OBJ_CACHE_DATA: return "data";
	case HWLOC_OBJ_CACHE_INSTRUCTION: return "instruction";
	case HWLOC_OBJ_CACHE_UNIFIED: return "unified";
	}
	return "unknown";
}

static bool same_cache(const struct hwloc_cache_attr_s *a, const struct hwloc_cache_attr_s *b)
{
	return a->size == b->size && a->linesize == b->linesize && a->associativity == b->associativity;
}

/* One entry per distinct (size, line, ways) of a cache type: hybrid CPUs
 * have differing caches at one level, everyone else gets one entry a level. */
static void add_caches(json_t *arr, hwloc_obj_type_t type)
{
	int n = hwloc_get_nbobjs_by_type(topo, type);
	if (n <= 0)
		return;
	const struct hwloc_cache_attr_s **attrs = calloc((size_t)n, sizeof(*attrs));
	if (!attrs)
		return;
	int have = 0;
	for (int i = 0; i < n; i++) {
		hwloc_obj_t c = hwloc_get_obj_by_type(topo, type, (unsigned)i);
		if (c && c->attr)
			attrs[have++] = &c->attr->cache;
	}
	for (int i = 0; i < have; i++) {
		const struct hwloc_cache_attr_s *a = attrs[i];
		bool seen = false;
		for (int j = 0; j < i && !seen; j++)
			seen = same_cache(a, attrs[j]);
		if (seen)
			continue;
		int count = 0;
		for (int j = i; j < have; j++)
			count += same_cache(a, attrs[j]);
		json_t *o = json_object();
		json_object_set_new(o, "level", json_integer(a->depth));
		json_object_set_new(o, "type", json_string(cache_type_name(a->type)));
		json_object_set_new(o, "size_bytes", a->size ? json_integer((json_int_t)a->size) : json_null());
		json_object_set_new(o, "line_bytes", a->linesize ? json_integer(a->linesize) : json_null());
		/* hwloc: 0 = unknown, -1 = fully associative. */
		json_object_set_new(o, "ways", a->associativity > 0 ? json_integer(a->associativity) : json_null());
		if (a->associativity == -1)
			json_object_set_new(o, "fully_associative", json_true());
		json_object_set_new(o, "count", json_integer(count));
		json_array_append_new(arr, o);
	}
	free(attrs);
}

json_t *topology_json(void)
{
	json_t *o = json_object();
	if (!ensure_ready()) {
		static const char *const keys[] = {"packages", "cores", "pus", "numa_nodes", "caches", "allowed_pus"};
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
			json_object_set_new(o, keys[i], json_null());
		json_object_set_new(o, "reason", json_string(init_error.msg));
		return o;
	}
	json_object_set_new(o, "packages", json_integer(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE)));
	json_object_set_new(o, "cores", json_integer(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE)));
	json_object_set_new(o, "pus", json_integer(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU)));
	json_object_set_new(o, "numa_nodes", json_integer(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE)));

	json_t *caches = json_array();
	static const hwloc_obj_type_t types[] = {HWLOC_OBJ_L1CACHE, HWLOC_OBJ_L1ICACHE, HWLOC_OBJ_L2CACHE,
						 HWLOC_OBJ_L3CACHE};
	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		add_caches(caches, types[i]);
	json_object_set_new(o, "caches", caches);

	json_t *pus = json_array();
	int pu;
	hwloc_bitmap_foreach_begin(pu, allowed)
	{
		json_array_append_new(pus, json_integer(pu));
	}
	hwloc_bitmap_foreach_end();
	json_object_set_new(o, "allowed_pus", pus);
	json_object_set_new(o, "default_measure_pu", json_integer(topology_default_measure_pu()));
	return o;
}

long topology_self_preemptions(void)
{
	struct rusage ru;
	return getrusage(RUSAGE_THREAD, &ru) ? -1 : ru.ru_nivcsw;
}
