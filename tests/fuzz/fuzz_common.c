/* Helpers shared by the harnesses (see fuzz_common.h). */
#include "fuzz_common.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...) {
  fprintf(stderr, "\n%s:%d: invariant broken: %s\n  ", file, line, cond);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n  last error: %s\n", ttt_last_error());
  abort();
}

const char *fuzz_temp_dir(void) {
  static char dir[256];
  if (dir[0]) return dir;
  struct stat st;
  const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
  snprintf(dir, sizeof dir, "%s/ttt-fuzz-XXXXXX", base);
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    abort();
  }
  return dir;
}

/* The folder is removed at exit (its files are the harness's scratch inputs). */
static void remove_temp_dir(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_temp_dir());
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", fuzz_temp_dir());
}

const char *fuzz_write_file(const char *name, const void *data, size_t size) {
  enum { SLOTS = 8 };
  static char paths[SLOTS][512];
  static bool registered;
  if (!registered) {
    atexit(remove_temp_dir);
    registered = true;
  }
  size_t slot = 0;
  for (const char *c = name; *c; c++) slot = slot * 31 + (unsigned char)*c;
  char *path = paths[slot % SLOTS];
  snprintf(path, sizeof paths[0], "%s/%s", fuzz_temp_dir(), name);
  FILE *f = fopen(path, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
    perror(path);
    abort();
  }
  return path;
}

char *fuzz_strndup(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) abort();
  if (size) memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

bool fuzz_utf8_valid(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    unsigned c = p[i];
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      len = 2, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; k++) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

ttt_device fuzz_device(void) {
  ttt_device device;
  if (ttt_device_cpu(&device, 1) != TTT_OK) abort();
  return device;
}

int64_t fuzz_weights_numel(const ttt_hf_weight_map *map) {
  int64_t total = 0;
  for (int64_t i = 0; i < ttt_hf_weight_map_count(map); i++) {
    const ttt_hf_weight *w = ttt_hf_weight_map_at(map, i);
    int64_t n = 1;
    for (int32_t d = 0; d < w->ndim; d++) {
      if (w->shape[d] > 0 && n > INT64_MAX / w->shape[d]) return INT64_MAX;
      n *= w->shape[d];
    }
    if (total > INT64_MAX - n) return INT64_MAX;
    total += n;
  }
  return total;
}

ttt_status fuzz_weights_resolve(void *user, const char *path, ttt_tensor *out) {
  fuzz_weights *w = user;
  if (!out) return TTT_OK; /* release call after a conversion */
  const ttt_hf_weight *entry = ttt_hf_weight_map_find(w->map, path);
  if (!entry) return ttt_set_error(TTT_ERR_NOT_FOUND, "fuzz weights: no weight '%s'", path);
  int64_t n = entry->ndim == 1 ? entry->shape[0] : entry->shape[0] * entry->shape[1];
  if (w->n_buffers == w->cap_buffers) {
    int64_t cap = w->cap_buffers ? 2 * w->cap_buffers : 64;
    float **grown = realloc(w->buffers, (size_t)cap * sizeof *grown);
    if (!grown) return TTT_ERR_OUT_OF_MEMORY;
    w->buffers = grown;
    w->cap_buffers = cap;
  }
  float *data = malloc((size_t)(n > 0 ? n : 1) * sizeof *data);
  if (!data) return TTT_ERR_OUT_OF_MEMORY;
  w->buffers[w->n_buffers++] = data;
  /* Norm weights near 1, everything else small: activations stay finite in a short forward. */
  bool is_norm = strstr(path, "norm") != NULL;
  for (int64_t i = 0; i < n; i++) {
    float v = 0.05f * sinf((float)(i * 7 + (int64_t)strlen(path)));
    data[i] = is_norm ? 1.0f + v : v;
  }
  *out = entry->ndim == 1 ? ttt_tensor_1d(TTT_F32, data, entry->shape[0])
                          : ttt_tensor_2d(TTT_F32, data, entry->shape[0], entry->shape[1]);
  return TTT_OK;
}

void fuzz_weights_free(fuzz_weights *w) {
  for (int64_t i = 0; i < w->n_buffers; i++) free(w->buffers[i]);
  free(w->buffers);
  w->buffers = NULL;
  w->n_buffers = w->cap_buffers = 0;
}

ttt_hf_model *fuzz_load_model(const char *relative_dir, ttt_strategy strategy, bool tokenizer) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/%s", TTT_SOURCE_DIR, relative_dir);
  ttt_device device = fuzz_device();
  ttt_hf_load_options options = {.strategy = strategy, .skip_tokenizer = !tokenizer};
  ttt_hf_model *model = NULL;
  if (ttt_hf_model_load(dir, &device, &options, &model) != TTT_OK) {
    fprintf(stderr, "cannot load %s: %s\n", dir, ttt_last_error());
    abort();
  }
  return model;
}

/* Appends piece[0, n) to the growing buffer *buf of *len bytes (capacity *cap). */
static void append(char **buf, size_t *len, size_t *cap, const char *piece, size_t n) {
  if (*len + n + 1 > *cap) {
    *cap = 2 * (*len + n + 1);
    *buf = realloc(*buf, *cap);
    if (!*buf) abort();
  }
  if (n) memcpy(*buf + *len, piece, n);
  *len += n;
  (*buf)[*len] = '\0';
}

char *fuzz_check_decode(const ttt_tokenizer *t, const int32_t *ids, int64_t n, bool skip_special,
                        size_t *len) {
  int32_t *accepted = malloc(sizeof *accepted * (size_t)(n > 0 ? n : 1));
  int64_t n_accepted = 0;
  ttt_detokenizer *d = NULL;
  FUZZ_CHECK(ttt_detokenizer_create_ex(t, skip_special, &d) == TTT_OK, "detokenizer_create");
  char *streamed = NULL;
  size_t streamed_len = 0, cap = 0;
  append(&streamed, &streamed_len, &cap, "", 0);
  for (int64_t i = 0; i < n; i++) {
    const char *piece = NULL;
    size_t piece_len = 0;
    ttt_status st = ttt_detokenizer_push(d, ids[i], &piece, &piece_len);
    bool in_range = ids[i] >= 0 && ids[i] < ttt_tokenizer_vocab_size(t) &&
                    ttt_tokenizer_token(t, ids[i]) != NULL;
    FUZZ_CHECK((st == TTT_OK) == in_range, "push(%d): status %s, in range %d", ids[i],
               ttt_status_str(st), in_range);
    if (st != TTT_OK) {
      FUZZ_CHECK(st == TTT_ERR_OUT_OF_RANGE, "push(%d): %s", ids[i], ttt_status_str(st));
      continue;
    }
    accepted[n_accepted++] = ids[i];
    FUZZ_CHECK(piece && piece[piece_len] == '\0', "piece of id %d is not NUL-terminated", ids[i]);
    FUZZ_CHECK(fuzz_utf8_valid(piece, piece_len), "piece of id %d (index %lld) is not UTF-8",
               ids[i], (long long)i);
    append(&streamed, &streamed_len, &cap, piece, piece_len);
  }
  const char *piece = NULL;
  size_t piece_len = 0;
  FUZZ_CHECK(ttt_detokenizer_flush(d, &piece, &piece_len) == TTT_OK, "flush");
  FUZZ_CHECK(fuzz_utf8_valid(piece, piece_len), "flushed piece is not UTF-8");
  append(&streamed, &streamed_len, &cap, piece, piece_len);
  ttt_detokenizer_destroy(d);

  char *full = NULL;
  size_t full_len = 0;
  ttt_status st = ttt_tokenizer_decode(t, ids, n, skip_special, &full, &full_len);
  FUZZ_CHECK((st == TTT_OK) == (n_accepted == n), "decode of all ids: %s with %lld of %lld valid",
             ttt_status_str(st), (long long)n_accepted, (long long)n);
  if (st != TTT_OK) {
    FUZZ_CHECK(st == TTT_ERR_OUT_OF_RANGE, "decode: %s", ttt_status_str(st));
    st = ttt_tokenizer_decode(t, accepted, n_accepted, skip_special, &full, &full_len);
    FUZZ_CHECK(st == TTT_OK, "decode of the valid ids: %s", ttt_status_str(st));
  }
  FUZZ_CHECK(full && full[full_len] == '\0', "decoded text is not NUL-terminated");
  FUZZ_CHECK(fuzz_utf8_valid(full, full_len), "decoded text is not UTF-8");
  FUZZ_CHECK(streamed_len == full_len && memcmp(streamed, full, full_len) == 0,
             "streamed decode (%zu bytes) differs from full decode (%zu bytes), skip_special %d",
             streamed_len, full_len, skip_special);
  free(streamed);
  free(accepted);
  *len = full_len;
  return full;
}
