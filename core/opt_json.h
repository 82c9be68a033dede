/* opt_json.h - the effective configuration as JSON, from the option table. */
#ifndef NESTBENCH_OPT_JSON_H
#define NESTBENCH_OPT_JSON_H

#include <jansson.h>

#include "core/opt.h"

/* One member per row with a config_key (and echo_if true), in table order,
 * valued from cfg as opt_set() stored it: the results file's `config`. */
json_t *opt_echo(const struct cli_opt *opts, const void *cfg);

#endif
