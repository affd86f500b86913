#include "cli_util.h"

#include "cli_progress.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int cli_fail(const char *command) {
  fprintf(stderr, "ttt %s: %s\n", command, ttt_last_error());
  return 1;
}

const char *cli_value(int argc, char **argv, int *i, const char *command) {
  if (*i + 1 >= argc) {
    fprintf(stderr, "ttt %s: %s needs a value\n", command, argv[*i]);
    return NULL;
  }
  *i += 1;
  return argv[*i];
}

bool cli_int(const char *text, const char *option, const char *command, int64_t *out) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (!*text || *end || errno) {
    fprintf(stderr, "ttt %s: %s expects an integer, got '%s'\n", command, option, text);
    return false;
  }
  *out = v;
  return true;
}

bool cli_double(const char *text, const char *option, const char *command, double *out) {
  char *end = NULL;
  errno = 0;
  double v = strtod(text, &end);
  if (!*text || *end || errno) {
    fprintf(stderr, "ttt %s: %s expects a number, got '%s'\n", command, option, text);
    return false;
  }
  *out = v;
  return true;
}

int cli_parse_model_option(int argc, char **argv, int *i, cli_model_options *options) {
  const char *arg = argv[*i], *command = argv[0];
  if (strcmp(arg, "--model") == 0) {
    options->model_dir = cli_value(argc, argv, i, command);
    return options->model_dir ? 1 : -1;
  }
  if (strcmp(arg, "--strategy") == 0) {
    const char *value = cli_value(argc, argv, i, command);
    if (!value) return -1;
    if (ttt_strategy_parse(value, &options->strategy) != TTT_OK) return -cli_fail(command);
    return 1;
  }
  if (strcmp(arg, "--threads") == 0 || strcmp(arg, "-t") == 0) {
    const char *value = cli_value(argc, argv, i, command);
    int64_t threads = 0;
    if (!value || !cli_int(value, arg, command, &threads)) return -1;
    if (threads < 0 || threads > 1024) {
      fprintf(stderr, "ttt %s: %s must be in 0..1024\n", command, arg);
      return -1;
    }
    options->threads = (int32_t)threads;
    return 1;
  }
  if (strcmp(arg, "--set") == 0) {
    const char *value = cli_value(argc, argv, i, command);
    if (!value) return -1;
    if (options->n_overrides ==
        (int32_t)(sizeof options->overrides / sizeof options->overrides[0])) {
      fprintf(stderr, "ttt %s: too many --set options\n", command);
      return -1;
    }
    options->overrides[options->n_overrides++] = value;
    return 1;
  }
  return 0;
}

static bool is_dir(const char *path) {
  struct stat info;
  return stat(path, &info) == 0 && S_ISDIR(info.st_mode);
}

/* Directory of the running executable ("" if unknown). */
static void executable_dir(char *buf, size_t size) {
  ssize_t n = readlink("/proc/self/exe", buf, size - 1);
  if (n <= 0) {
    buf[0] = '\0';
    return;
  }
  buf[n] = '\0';
  char *slash = strrchr(buf, '/');
  if (slash) *slash = '\0';
}

const char *cli_find_data_dir(const char *name, const char *build_tree_dir) {
  static _Thread_local char found[PATH_MAX];
  char exe[PATH_MAX];
  executable_dir(exe, sizeof exe);
  /* An installed binary (PREFIX/bin/ttt) finds PREFIX/share/ttt/NAME, wherever the prefix was
   * moved; then the configured install location; a build-tree binary the source tree's copy. */
  const char *candidates[3][3] = {
      {exe, "/../share/ttt/", name},
      {TTT_INSTALL_DATA_DIR, "/", name},
      {build_tree_dir, "", ""},
  };
  for (int i = 0; i < 3; i++) {
    snprintf(found, sizeof found, "%s%s%s", candidates[i][0], candidates[i][1], candidates[i][2]);
    if (candidates[i][0][0] && is_dir(found)) return found;
  }
  return NULL;
}

const char *cli_default_model_dir(void) {
  return cli_find_data_dir("models/kjv-llama", TTT_BUILD_MODELS_DIR "/kjv-llama");
}

ttt_status cli_load_model(const char *command, const cli_model_options *options, ttt_device *device,
                          ttt_context **ctx, ttt_hf_model **model) {
  const char *dir = options->model_dir ? options->model_dir : cli_default_model_dir();
  if (!dir) {
    ttt_set_error(TTT_ERR_NOT_FOUND, "no --model given and the bundled model was not found");
    cli_fail(command);
    return TTT_ERR_NOT_FOUND;
  }
  ttt_status st = ttt_device_cpu(device, options->threads);
  device->comm = options->comm;
  if (st == TTT_OK) st = ttt_context_create(device, ctx);
  ttt_hf_load_options load = {.strategy = options->strategy,
                              .overrides = options->overrides,
                              .n_overrides = options->n_overrides,
                              .progress = cli_progress_for_stderr()};
  if (st == TTT_OK) st = ttt_hf_model_load(dir, device, &load, model);
  if (st != TTT_OK) {
    ttt_context_destroy(*ctx);
    *ctx = NULL;
    cli_fail(command);
  }
  return st;
}

char *cli_read_file(const char *command, const char *path, size_t *len) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "ttt %s: cannot open %s: %s\n", command, path, strerror(errno));
    return NULL;
  }
  size_t capacity = 1 << 16, used = 0;
  char *data = malloc(capacity + 1);
  size_t n;
  while (data && (n = fread(data + used, 1, capacity - used, f)) > 0) {
    used += n;
    if (used == capacity) {
      char *bigger = realloc(data, 2 * capacity + 1);
      if (!bigger) {
        free(data);
        data = NULL;
        break;
      }
      data = bigger;
      capacity *= 2;
    }
  }
  bool failed = ferror(f) || !data;
  if (f != stdin) fclose(f);
  if (failed) {
    free(data);
    fprintf(stderr, "ttt %s: cannot read %s\n", command, path);
    return NULL;
  }
  data[used] = '\0';
  *len = used;
  return data;
}

char *cli_read_file_ranks(const char *command, const char *path, size_t *len, ttt_comm *comm) {
  if (ttt_comm_size(comm) <= 1) return cli_read_file(command, path, len);
  char *data = ttt_comm_rank(comm) == 0 ? cli_read_file(command, path, len) : NULL;
  int64_t size = data ? (int64_t)*len : -1; /* -1: rank 0 could not read it */
  if (ttt_comm_broadcast(comm, &size, sizeof size, 0) != TTT_OK) {
    fprintf(stderr, "ttt %s: %s\n", command, ttt_last_error());
    free(data);
    return NULL;
  }
  if (size < 0) return NULL;
  if (!data) data = malloc((size_t)size + 1);
  ttt_status st = data ? ttt_comm_broadcast(comm, data, size, 0)
                       : ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  if (st != TTT_OK) {
    fprintf(stderr, "ttt %s: %s\n", command, ttt_last_error());
    free(data);
    return NULL;
  }
  data[size] = '\0';
  *len = (size_t)size;
  return data;
}

double cli_now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cli_parse_sampling_option(int argc, char **argv, int *i, ttt_sampler_params *p) {
  static const char *const float_names[] = {"--temperature", "--top-p", "--min-p",
                                            "--repeat-penalty"};
  float *const float_fields[] = {&p->temperature, &p->top_p, &p->min_p, &p->repeat_penalty};
  const char *arg = argv[*i], *command = argv[0];
  for (int f = 0; f < 4; f++) {
    if (strcmp(arg, float_names[f]) != 0) continue;
    const char *value = cli_value(argc, argv, i, command);
    double v = 0;
    if (!value || !cli_double(value, arg, command, &v)) return -1;
    *float_fields[f] = (float)v;
    return 1;
  }
  bool top_k = strcmp(arg, "--top-k") == 0;
  if (top_k || strcmp(arg, "--seed") == 0) {
    const char *value = cli_value(argc, argv, i, command);
    int64_t v = 0;
    if (!value || !cli_int(value, arg, command, &v)) return -1;
    if (v < 0 || (top_k && v > INT32_MAX)) {
      fprintf(stderr, "ttt %s: %s must be a non-negative integer\n", command, arg);
      return -1;
    }
    if (top_k)
      p->top_k = (int32_t)v;
    else
      p->seed = (uint64_t)v;
    return 1;
  }
  return 0;
}
