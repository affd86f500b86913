/* `ttt embed`: sentence embeddings of texts with an encoder model folder (sentence-transformers'
 * modules.json and Pooling config when present, else mean pooling). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "ttt_embed.h"

static const char embed_usage[] =
    "usage: ttt embed --model DIR (TEXT... | --file FILE) [--json] [--batch N]\n"
    "                 [--strategy accuracy|performance] [--threads N] [--set PATH=VALUE]...\n"
    "\n"
    "Prints one embedding per input text: a line of space-separated numbers, or with --json one\n"
    "JSON array of arrays. DIR is an encoder folder (BERT) with tokenizer.json; a\n"
    "sentence-transformers folder's modules.json, Pooling config (CLS, mean or max) and Normalize\n"
    "module are followed, and sentence_bert_config.json's max_seq_length truncates long inputs.\n"
    "Without modules.json, mean pooling is used (a note says so on standard error).\n"
    "  --file FILE   one input per line ('-' for standard input; empty lines are skipped)\n"
    "  --json        print a JSON array of arrays\n"
    "  --batch N     inputs per encoder call, padded to the longest (default: all at once)\n";

typedef struct embed_options {
  cli_model_options model;
  const char *file;
  bool json;
  int64_t batch;
  const char **texts;
  int64_t n_texts;
} embed_options;

static int parse(int argc, char **argv, embed_options *o) {
  o->texts = calloc((size_t)argc, sizeof *o->texts);
  if (!o->texts) return 1;
  for (int i = 1; i < argc; i++) {
    int used = cli_parse_model_option(argc, argv, &i, &o->model);
    if (used < 0) return 1;
    if (used > 0) continue;
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(embed_usage, stdout);
      return -1;
    }
    if (strcmp(a, "--json") == 0) {
      o->json = true;
    } else if (strcmp(a, "--file") == 0) {
      if (!(o->file = cli_value(argc, argv, &i, argv[0]))) return 1;
    } else if (strcmp(a, "--batch") == 0) {
      const char *v = cli_value(argc, argv, &i, argv[0]);
      if (!v || !cli_int(v, "--batch", argv[0], &o->batch)) return 1;
      if (o->batch < 1) {
        fprintf(stderr, "ttt embed: --batch must be at least 1\n");
        return 1;
      }
    } else if (a[0] == '-' && a[1] == '-') {
      fprintf(stderr, "ttt embed: unknown option '%s' (see --help)\n", a);
      return 1;
    } else {
      o->texts[o->n_texts++] = a;
    }
  }
  if (!o->model.model_dir || (o->n_texts > 0) == (o->file != NULL)) {
    fprintf(stderr, "ttt embed: give --model DIR and either texts or --file FILE (see --help)\n");
    return 1;
  }
  return 0;
}

/* Splits the file's lines (in place) into o->texts; empty lines are skipped. */
static int read_lines(embed_options *o, char *data) {
  int64_t count = 1;
  for (const char *p = data; *p; p++) count += *p == '\n';
  free(o->texts);
  o->texts = calloc((size_t)count, sizeof *o->texts);
  if (!o->texts) return 1;
  o->n_texts = 0;
  for (char *line = data; line;) {
    char *next = strchr(line, '\n');
    if (next) *next++ = '\0';
    size_t len = strlen(line);
    if (len > 0 && line[len - 1] == '\r') line[--len] = '\0';
    if (len > 0) o->texts[o->n_texts++] = line;
    line = next;
  }
  if (o->n_texts == 0) {
    fprintf(stderr, "ttt embed: %s has no non-empty line\n", o->file);
    return 1;
  }
  return 0;
}

static void print_vectors(const float *v, int64_t n, int64_t dim, bool json) {
  if (json) putchar('[');
  for (int64_t i = 0; i < n; i++) {
    if (json) fputs(i ? ",\n [" : "[", stdout);
    for (int64_t h = 0; h < dim; h++)
      printf("%s%.9g", h ? (json ? ", " : " ") : "", (double)v[i * dim + h]);
    fputs(json ? "]" : "\n", stdout);
  }
  if (json) puts("]");
}

static int run(embed_options *o) {
  ttt_embed_config cfg;
  if (ttt_embed_config_load(o->model.model_dir, &cfg) != TTT_OK) return cli_fail("embed");
  if (cfg.pooling_defaulted)
    fprintf(stderr,
            "ttt embed: note: %s has no modules.json (sentence-transformers); using mean pooling "
            "without normalization\n",
            o->model.model_dir);
  ttt_device device;
  ttt_context *ctx = NULL;
  ttt_hf_model *m = NULL;
  if (cli_load_model("embed", &o->model, &device, &ctx, &m) != TTT_OK) return 1;
  int64_t dim = ttt_embed_dim(m);
  float *vectors = dim > 0 ? malloc((size_t)(o->n_texts * dim) * sizeof *vectors) : NULL;
  ttt_status st = TTT_OK;
  if (dim == 0)
    st = ttt_set_error(TTT_ERR_UNSUPPORTED, "%s is not an encoder model", o->model.model_dir);
  else if (!vectors)
    st = ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "out of memory");
  if (st == TTT_OK) st = ttt_embed_texts(m, ctx, &cfg, o->texts, o->n_texts, o->batch, vectors);
  if (st == TTT_OK) print_vectors(vectors, o->n_texts, dim, o->json);
  free(vectors);
  ttt_hf_model_destroy(m);
  ttt_context_destroy(ctx);
  return st == TTT_OK ? 0 : cli_fail("embed");
}

int ttt_cmd_embed(int argc, char **argv) {
  embed_options o;
  memset(&o, 0, sizeof o);
  int rc = parse(argc, argv, &o);
  char *data = NULL;
  size_t len = 0;
  if (rc == 0 && o.file) {
    data = cli_read_file("embed", o.file, &len);
    rc = data ? 0 : 1;
    if (data && strlen(data) != len) {
      fprintf(stderr, "ttt embed: %s contains a NUL byte (texts are lines of text)\n", o.file);
      rc = 1;
    }
    if (rc == 0) rc = read_lines(&o, data);
  }
  if (rc == 0) rc = run(&o);
  free(data);
  free(o.texts);
  return rc < 0 ? 0 : rc;
}
