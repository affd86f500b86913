/* Shared helpers of the ttt subcommands: option parsing, the default model, loading. */
#ifndef TTT_CLI_UTIL_H
#define TTT_CLI_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "ttt_models.h"
#include "ttt_sampler.h"

/* Prompt tokens per prefill forward of `ttt generate` and `ttt serve` (--prefill-chunk): a longer
 * prompt is prefilled in chunks of this many, which a server interleaves with its running decodes.
 * The same chunks in both keep a served stream's greedy tokens equal to `ttt generate`'s alone
 * (chunked and one-shot prefills agree only to rounding). */
enum { CLI_DEFAULT_PREFILL_CHUNK = 512 };

/* Options every model command accepts. */
typedef struct cli_model_options {
  const char *model_dir;     /* --model DIR (NULL: the bundled default model) */
  ttt_strategy strategy;     /* --strategy accuracy|performance */
  int32_t threads;           /* --threads N / -t N (0: all cores) */
  const char *overrides[64]; /* --set PATH=VALUE (repeatable) */
  int32_t n_overrides;
  ttt_comm *comm; /* the mpirun job's ranks, which split the model (NULL: this process alone) */
} cli_model_options;

/* If argv[*i] is one of the common model options, consumes it (and its value), stores it and
 * returns 1; returns 0 if it is not one; -1 (error printed) if its value is missing or invalid. */
int cli_parse_model_option(int argc, char **argv, int *i, cli_model_options *options);

/* If argv[*i] is a sampling option (--temperature, --top-k, --top-p, --min-p, --repeat-penalty,
 * --seed), consumes it and its value into `p` and returns 1; 0 if it is not one; -1 (error
 * printed) if its value is missing or invalid. */
int cli_parse_sampling_option(int argc, char **argv, int *i, ttt_sampler_params *p);

/* Returns argv[*i + 1] and advances *i, or prints "ttt CMD: OPTION needs a value" and returns NULL.
 */
const char *cli_value(int argc, char **argv, int *i, const char *command);
/* Parses an integer / a double option value; prints an error naming the option on failure. */
bool cli_int(const char *text, const char *option, const char *command, int64_t *out);
bool cli_double(const char *text, const char *option, const char *command, double *out);

/* A data folder shipped with ttt: PREFIX/share/ttt/NAME next to the executable, else under the
 * configured install prefix, else `build_tree_dir` (the source tree's copy, for a build-tree
 * binary). NULL when none exists. The result lives until the thread's next call. */
const char *cli_find_data_dir(const char *name, const char *build_tree_dir);

/* The bundled kjv-llama folder (share/ttt/models/kjv-llama, or the source tree's models/). */
const char *cli_default_model_dir(void);

/* Loads the model named by options (prints "ttt CMD: <error>" on failure). */
ttt_status cli_load_model(const char *command, const cli_model_options *options, ttt_device *device,
                          ttt_context **ctx, ttt_hf_model **model);

/* Prints "ttt CMD: <ttt_last_error()>" to stderr and returns 1. */
int cli_fail(const char *command);

/* Monotonic clock in seconds (for throughput figures). */
double cli_now_seconds(void);

/* Reads a whole file ("-": standard input) into a malloc'd buffer (NUL-terminated); prints an
 * error on failure. */
char *cli_read_file(const char *command, const char *path, size_t *len);

/* cli_read_file on rank 0 of `comm`, whose content every rank then receives (so that all ranks of
 * an mpirun job run on the same text: standard input reaches rank 0 only, and the ranks' machines
 * need not share the file). A failure to read is reported by rank 0 and NULL on every rank.
 * comm NULL or of size 1: cli_read_file. */
char *cli_read_file_ranks(const char *command, const char *path, size_t *len, ttt_comm *comm);

/* Adds a chat-template variable from "NAME=VALUE" to the JSON object `vars` (VALUE is JSON when
 * it parses, else a string); prints an error naming the assignment and returns false when it is
 * malformed. */
struct cJSON;
bool cli_chat_add_var(const char *command, struct cJSON *vars, const char *assignment);

#endif
