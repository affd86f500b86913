/* `ttt tokenize` and `ttt detokenize`: text <-> token ids with a HuggingFace tokenizer.json. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "ttt_tokenizer.h"

static const char tokenize_usage[] =
    "usage: ttt tokenize (--model DIR | --tokenizer FILE) [--special] (TEXT | --file FILE)\n"
    "\n"
    "Prints the token ids of TEXT (or of the exact bytes of FILE) as one JSON array.\n"
    "  --model DIR        a model folder with tokenizer.json (and tokenizer_config.json)\n"
    "  --tokenizer FILE   a tokenizer.json file\n"
    "  --special          apply the post-processor (e.g. prepend the BOS token)\n"
    "  --file FILE        read the text from FILE ('-' for standard input)\n"
    "Invalid UTF-8 in the text is replaced by U+FFFD.\n";

static const char detokenize_usage[] =
    "usage: ttt detokenize (--model DIR | --tokenizer FILE) [--skip-special] ID...\n"
    "\n"
    "Prints the text of the token ids, exactly (no newline is added).\n"
    "IDs may be separate arguments or a JSON array as printed by `ttt tokenize`.\n"
    "  --model DIR        a model folder with tokenizer.json (and tokenizer_config.json)\n"
    "  --tokenizer FILE   a tokenizer.json file\n"
    "  --skip-special     special tokens (BOS, EOS, ...) produce no text\n";

typedef struct tok_source {
  const char *model_dir, *tokenizer_file;
} tok_source;

/* Consumes --model / --tokenizer at argv[*i]; returns 1 if consumed, 0 if not, -1 on error. */
static int parse_source(int argc, char **argv, int *i, tok_source *src, const char *cmd) {
  const char *opt = argv[*i];
  const char **slot = strcmp(opt, "--model") == 0       ? &src->model_dir
                      : strcmp(opt, "--tokenizer") == 0 ? &src->tokenizer_file
                                                        : NULL;
  if (!slot) return 0;
  if (*i + 1 >= argc) {
    fprintf(stderr, "ttt %s: %s needs a value\n", cmd, opt);
    return -1;
  }
  *slot = argv[++*i];
  return 1;
}

static int load(const tok_source *src, const char *cmd, ttt_tokenizer **t) {
  if (!src->model_dir == !src->tokenizer_file) {
    fprintf(stderr, "ttt %s: give exactly one of --model DIR or --tokenizer FILE (see --help)\n",
            cmd);
    return 2;
  }
  ttt_status st = src->model_dir ? ttt_tokenizer_load_dir(src->model_dir, t)
                                 : ttt_tokenizer_load(src->tokenizer_file, NULL, t);
  if (st) {
    fprintf(stderr, "ttt %s: %s\n", cmd, ttt_last_error());
    return 1;
  }
  return 0;
}

int ttt_cmd_tokenize(int argc, char **argv) {
  tok_source src = {0};
  const char *file = NULL, *text = NULL;
  bool special = false;
  for (int i = 1; i < argc; i++) {
    int r = parse_source(argc, argv, &i, &src, "tokenize");
    if (r < 0) return 2;
    if (r > 0) continue;
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(tokenize_usage, stdout);
      return 0;
    } else if (strcmp(argv[i], "--special") == 0) {
      special = true;
    } else if (strcmp(argv[i], "--file") == 0 && i + 1 < argc) {
      file = argv[++i];
    } else if (argv[i][0] == '-' && argv[i][1] == '-' && strcmp(argv[i], "--") != 0) {
      fprintf(stderr, "ttt tokenize: unknown or incomplete option '%s' (see --help)\n", argv[i]);
      return 2;
    } else if (!text) {
      text = strcmp(argv[i], "--") == 0 && i + 1 < argc ? argv[++i] : argv[i];
    } else {
      fprintf(stderr, "ttt tokenize: more than one TEXT argument (quote the text)\n");
      return 2;
    }
  }
  if (!text == !file) {
    fprintf(stderr, "ttt tokenize: give exactly one of TEXT or --file FILE (see --help)\n");
    return 2;
  }
  ttt_tokenizer *t = NULL;
  int rc = load(&src, "tokenize", &t);
  if (rc) return rc;
  char *data = NULL;
  size_t len = text ? strlen(text) : 0;
  if (file && !(data = cli_read_file("tokenize", file, &len))) rc = 1;
  int32_t *ids = NULL;
  int64_t n = 0;
  if (!rc && ttt_tokenizer_encode(t, data ? data : text, len, special, &ids, &n) != TTT_OK) {
    fprintf(stderr, "ttt tokenize: %s\n", ttt_last_error());
    rc = 1;
  }
  if (!rc) {
    putchar('[');
    for (int64_t i = 0; i < n; i++) printf(i ? ", %d" : "%d", ids[i]);
    puts("]");
  }
  free(ids);
  free(data);
  ttt_tokenizer_destroy(t);
  return rc;
}

/* Appends the ids in one argument ("12", "[12,", "13]", "[1, 2, 3]") to ids. */
static int parse_ids(const char *arg, int32_t **ids, int64_t *n, int64_t *cap) {
  const char *p = arg;
  for (;;) {
    while (*p == '[' || *p == ']' || *p == ',' || *p == ' ' || *p == '\t' || *p == '\n') p++;
    if (!*p) return 0;
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (end == p || errno || v < INT32_MIN || v > INT32_MAX ||
        (*end && !strchr("[], \t\n", *end))) {
      fprintf(stderr, "ttt detokenize: '%s' is not a token id\n", arg);
      return 2;
    }
    if (*n == *cap) {
      int32_t *q = realloc(*ids, (size_t)(*cap = *cap ? *cap * 2 : 64) * sizeof *q);
      if (!q) {
        fprintf(stderr, "ttt detokenize: out of memory\n");
        return 1;
      }
      *ids = q;
    }
    (*ids)[(*n)++] = (int32_t)v;
    p = end;
  }
}

int ttt_cmd_detokenize(int argc, char **argv) {
  tok_source src = {0};
  bool skip_special = false;
  int32_t *ids = NULL;
  int64_t n = 0, cap = 0;
  int rc = 0;
  for (int i = 1; i < argc && !rc; i++) {
    int r = parse_source(argc, argv, &i, &src, "detokenize");
    if (r < 0) rc = 2;
    if (r != 0) continue;
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(detokenize_usage, stdout);
      free(ids);
      return 0;
    } else if (strcmp(argv[i], "--skip-special") == 0) {
      skip_special = true;
    } else if (argv[i][0] == '-' && argv[i][1] == '-') {
      fprintf(stderr, "ttt detokenize: unknown or incomplete option '%s' (see --help)\n", argv[i]);
      rc = 2;
    } else {
      rc = parse_ids(argv[i], &ids, &n, &cap);
    }
  }
  ttt_tokenizer *t = NULL;
  if (!rc) rc = load(&src, "detokenize", &t);
  char *text = NULL;
  size_t len = 0;
  if (!rc && ttt_tokenizer_decode(t, ids, n, skip_special, &text, &len) != TTT_OK) {
    fprintf(stderr, "ttt detokenize: %s\n", ttt_last_error());
    rc = 1;
  }
  if (!rc) fwrite(text, 1, len, stdout);
  free(text);
  free(ids);
  ttt_tokenizer_destroy(t);
  return rc;
}
