/* fuzz_resfile.c - libFuzzer harness for the results-file reader (make fuzz).
 *
 * Feeds arbitrary bytes to res_parse(); a document it accepts is also run
 * through matching and comparison against itself, so the code that trusts
 * the validated structure is exercised too.  Inputs that crash are saved by
 * libFuzzer under build/fuzz/crashes/; copy them to ci/fuzz/regressions/
 * (with a fix) and ci/bats/compare.bats replays them.
 */
#include <stddef.h>
#include <stdint.h>

#include "analysis/match.h"
#include "analysis/resfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct res_file f[2];
	nb_error err;
	if (res_parse(&f[0], "fuzz", (const char *)data, size, &err) == 0 &&
	    res_parse(&f[1], "fuzz", (const char *)data, size, &err) == 0) {
		struct comparison c;
		if (compare_files(f, 2, 5, 100, 1, &c, &err) == 0)
			comparison_free(&c);
		res_free(&f[1]);
	}
	res_free(&f[0]);
	return 0;
}
