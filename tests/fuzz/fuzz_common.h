/*
 * fuzz_common.h — helpers shared by the libFuzzer harnesses of tests/fuzz.
 *
 * Harnesses check invariants, not only crashes: FUZZ_CHECK prints the broken invariant and aborts,
 * so libFuzzer saves the input as a crash artifact.
 */
#ifndef TTT_FUZZ_COMMON_H
#define TTT_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ttt_models.h"

#define FUZZ_CHECK(cond, ...)                                                                      \
  do {                                                                                             \
    if (!(cond)) fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                \
  } while (0)

_Noreturn void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    TTT_PRINTF(4, 5);

/* Writes `size` bytes to NAME inside this process's private temporary folder (created on first
 * use, under /dev/shm when it exists) and returns the file's path (static storage per name slot:
 * valid until the next call with the same name). */
const char *fuzz_write_file(const char *name, const void *data, size_t size);
/* The private temporary folder. */
const char *fuzz_temp_dir(void);

/* A NUL-terminated malloc'd copy of data[0, size). */
char *fuzz_strndup(const uint8_t *data, size_t size);

/* True when s[0, n) is well-formed UTF-8 (shortest forms, no surrogates, <= U+10FFFF). */
bool fuzz_utf8_valid(const char *s, size_t n);

/* A CPU device with one thread (a fuzzing process is single-threaded). */
ttt_device fuzz_device(void);

/* Synthetic weights for a HF config: a resolver serving f32 tensors of the shapes the weight map
 * lists, filled with small deterministic finite values. */
typedef struct fuzz_weights {
  const ttt_hf_weight_map *map;
  float **buffers;
  int64_t n_buffers, cap_buffers;
} fuzz_weights;
ttt_status fuzz_weights_resolve(void *user, const char *path, ttt_tensor *out);
void fuzz_weights_free(fuzz_weights *w);
/* Number of f32 values the map's weights hold in total (saturates at INT64_MAX). */
int64_t fuzz_weights_numel(const ttt_hf_weight_map *map);

/* Loads a fixture model folder once (path relative to the source tree), or aborts. */
ttt_hf_model *fuzz_load_model(const char *relative_dir, ttt_strategy strategy, bool tokenizer);

#endif

/* Decodes ids[0, n) in full and through a detokenizer (one push per id, then flush) and checks that
 * both succeed or fail alike (an id out of range), that the streamed pieces are each valid UTF-8
 * and concatenate to the full text, and that the full text is valid UTF-8. Ids the full decode
 * refuses are pushed too: the push must refuse them and leave the stream unchanged, so the stream
 * must then equal the full decode of the accepted ids. Returns the full text of the accepted ids
 * (malloc'd; *len its size). */
char *fuzz_check_decode(const ttt_tokenizer *t, const int32_t *ids, int64_t n, bool skip_special,
                        size_t *len);
