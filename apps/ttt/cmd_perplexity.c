/* ttt perplexity: mean NLL and perplexity of a text or an id list over independent windows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli_util.h"
#include "commands.h"
#include "ttt_perplexity.h"

static const char *const NAME = "perplexity";

typedef struct perplexity_options {
  cli_model_options model;
  const char *file, *ids_file;
  int64_t window;
} perplexity_options;

static void print_help(void) {
  printf(
      "usage: ttt perplexity [--model DIR] (--file TEXT | --ids-file IDS.json) [--ctx N]\n"
      "                      [--threads N] [--strategy accuracy|performance] [--set "
      "PATH=VALUE]...\n\n"
      "Mean negative log-likelihood and perplexity. The tokens (the text tokenized with BOS, or\n"
      "the exact JSON array of ids) are cut into consecutive windows of N tokens (the last may be\n"
      "shorter); each window is scored on its own from position 0, and every token inside a\n"
      "window except its first is predicted. Prints 'perplexity P', 'mean_nll X' and\n"
      "'predicted_tokens K' on stdout; a progress bar on stderr when it is a terminal.\n\n"
      "  --model DIR       HuggingFace folder (default: the bundled kjv-llama)\n"
      "  --file TEXT       a text file\n"
      "  --ids-file F      a JSON array of token ids, e.g. [0, 298, 260]\n"
      "  --ctx N           window length (default: the model's context)\n"
      "  --threads N, -t N, --strategy S, --set PATH=VALUE   as in ttt generate\n");
}

/* Returns 0 on success, 1 on error, -1 after --help. */
static int parse(int argc, char **argv, perplexity_options *o) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    int r = cli_parse_model_option(argc, argv, &i, &o->model);
    if (r < 0) return 1;
    if (r > 0) continue;
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      print_help();
      return -1;
    } else if (strcmp(arg, "--file") == 0) {
      if (!(o->file = cli_value(argc, argv, &i, NAME))) return 1;
    } else if (strcmp(arg, "--ids-file") == 0) {
      if (!(o->ids_file = cli_value(argc, argv, &i, NAME))) return 1;
    } else if (strcmp(arg, "--ctx") == 0) {
      const char *value = cli_value(argc, argv, &i, NAME);
      if (!value || !cli_int(value, arg, NAME, &o->window)) return 1;
      if (o->window < 2) {
        fprintf(stderr, "ttt %s: --ctx must be >= 2\n", NAME);
        return 1;
      }
    } else {
      fprintf(stderr, "ttt %s: unknown option '%s' (see ttt %s --help)\n", NAME, arg, NAME);
      return 1;
    }
  }
  if (!o->file == !o->ids_file) {
    fprintf(stderr, "ttt %s: give exactly one of --file TEXT and --ids-file IDS.json\n", NAME);
    return 1;
  }
  return 0;
}

/* Parses a JSON array of integer ids into a malloc'd array; NULL (error printed) otherwise. */
static int32_t *parse_ids(const char *path, const char *json, int64_t *n) {
  cJSON *root = cJSON_Parse(json);
  int32_t *ids = NULL;
  if (!cJSON_IsArray(root)) {
    fprintf(stderr, "ttt %s: %s: expected a JSON array of token ids\n", NAME, path);
    cJSON_Delete(root);
    return NULL;
  }
  *n = cJSON_GetArraySize(root);
  ids = malloc((size_t)(*n > 0 ? *n : 1) * sizeof *ids);
  int64_t i = 0;
  const cJSON *item;
  cJSON_ArrayForEach(item, root) {
    double v = cJSON_IsNumber(item) ? item->valuedouble : -1.0;
    if (!ids || v < 0 || v > INT32_MAX || v != (double)(int32_t)v) {
      fprintf(stderr, "ttt %s: %s: element %lld is not a non-negative integer id\n", NAME, path,
              (long long)i);
      free(ids);
      ids = NULL;
      break;
    }
    ids[i++] = (int32_t)v;
  }
  cJSON_Delete(root);
  return ids;
}

/* Reads the tokens to score: the text tokenized with BOS, or the JSON id list. */
static int32_t *load_tokens(const perplexity_options *o, const ttt_hf_model *model, int64_t *n) {
  const char *path = o->file ? o->file : o->ids_file;
  size_t len = 0;
  char *data = cli_read_file_ranks(NAME, path, &len, o->model.comm);
  if (!data) return NULL;
  int32_t *ids = NULL;
  if (o->ids_file) {
    ids = parse_ids(path, data, n);
  } else if (!model->tokenizer) {
    fprintf(stderr, "ttt %s: %s has no tokenizer.json (use --ids-file)\n", NAME, model->dir);
  } else if (ttt_tokenizer_encode(model->tokenizer, data, len, true, &ids, n) != TTT_OK) {
    cli_fail(NAME);
    ids = NULL;
  }
  free(data);
  return ids;
}

/* A 40-column bar redrawn in place; only on a terminal. */
static void progress_bar(void *user, int64_t done, int64_t total) {
  (void)user;
  int filled = (int)(40 * done / total);
  fprintf(stderr, "\r[%.*s%*s] %lld/%lld tokens", filled,
          "########################################", 40 - filled, "", (long long)done,
          (long long)total);
  if (done == total) fputc('\n', stderr);
}

int ttt_cmd_perplexity(int argc, char **argv, ttt_comm *comm) {
  perplexity_options o = {0};
  int r = parse(argc, argv, &o);
  if (r != 0) return r < 0 ? 0 : 1;
  o.model.comm = comm;
  ttt_device device;
  ttt_context *ctx = NULL;
  ttt_hf_model *model = NULL;
  if (cli_load_model(NAME, &o.model, &device, &ctx, &model) != TTT_OK) return 1;
  int status = 1;
  int64_t n = 0;
  int32_t *ids = NULL;
  if (!model->lm) {
    fprintf(stderr, "ttt %s: %s is not a causal LM\n", NAME, model->dir);
  } else if ((ids = load_tokens(&o, model, &n))) {
    ttt_perplexity_result result;
    int64_t window = o.window ? o.window : ttt_causal_lm_get_spec(model->lm)->max_positions;
    bool show = isatty(STDERR_FILENO) && n > window;
    if (ttt_perplexity_compute(model->lm, ctx, ids, n, window, show ? progress_bar : NULL, NULL,
                               &result) != TTT_OK) {
      cli_fail(NAME);
    } else {
      printf("perplexity %.6f\nmean_nll %.6f\npredicted_tokens %lld\nwindows %lld\nctx %lld\n",
             result.perplexity, result.mean_nll, (long long)result.predicted_tokens,
             (long long)result.windows, (long long)window);
      status = 0;
    }
  }
  free(ids);
  ttt_hf_model_destroy(model);
  ttt_context_destroy(ctx);
  return status;
}
