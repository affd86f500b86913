/*
 * Proves that the decode loop allocates nothing: the test is linked with --wrap for malloc,
 * calloc, realloc, aligned_alloc and posix_memalign, so every heap allocation made by the library
 * (statically linked) goes through the counters below. After a warm-up, 16 decode steps of the
 * bundled kjv-llama model must make zero allocations, in both strategies.
 */
#include <stdlib.h>
#include <string.h>

#include "ttt_models.h"
#include "ttt_test.h"

static long allocations; /* heap allocations since the last reset */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__real_aligned_alloc(size_t alignment, size_t size);
int __real_posix_memalign(void **p, size_t alignment, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
void *__wrap_aligned_alloc(size_t alignment, size_t size);
int __wrap_posix_memalign(void **p, size_t alignment, size_t size);

void *__wrap_malloc(size_t size) {
  allocations++;
  return __real_malloc(size);
}
void *__wrap_calloc(size_t n, size_t size) {
  allocations++;
  return __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t size) {
  allocations++;
  return __real_realloc(p, size);
}
void *__wrap_aligned_alloc(size_t alignment, size_t size) {
  allocations++;
  return __real_aligned_alloc(alignment, size);
}
int __wrap_posix_memalign(void **p, size_t alignment, size_t size) {
  allocations++;
  return __real_posix_memalign(p, alignment, size);
}

static void check_strategy(ttt_strategy strategy) {
  ttt_device device;
  ttt_context *ctx = NULL;
  ttt_hf_model *m = NULL;
  ttt_kv_cache *cache = NULL;
  CHECK_OK(ttt_device_cpu(&device, 2));
  CHECK_OK(ttt_context_create(&device, &ctx));
  ttt_hf_load_options options = {.strategy = strategy, .skip_tokenizer = true};
  CHECK_OK(ttt_hf_model_load(TTT_MODELS_DIR "/kjv-llama", &device, &options, &m));
  if (!m) {
    ttt_context_destroy(ctx);
    return;
  }
  int64_t vocab = m->config.vocab_size;
  float *logits = malloc(sizeof(float) * (size_t)vocab);
  ttt_tensor out = ttt_tensor_2d(TTT_F32, logits, 1, vocab);
  int32_t prompt[8] = {0, 17, 250, 31, 77, 1200, 9, 43};
  CHECK_OK(ttt_causal_lm_create_cache(m->lm, 64, &cache));
  CHECK_OK(ttt_causal_lm_prefill_forward(m->lm, ctx, cache, prompt, 8, 0, true, &out, NULL));
  for (int64_t pos = 8; pos < 10; pos++) /* warm-up: the workspace reaches its decode size */
    CHECK_OK(ttt_causal_lm_decode_forward(m->lm, ctx, cache, 5, pos, &out, NULL));
  int64_t scratch_before = ttt_context_get_stats(ctx).scratch_allocations;
  allocations = 0;
  for (int64_t pos = 10; pos < 26; pos++)
    CHECK_OK(ttt_causal_lm_decode_forward(m->lm, ctx, cache, (int32_t)(pos * 7 % vocab), pos, &out,
                                          NULL));
  long during_decode = allocations;
  CHECK_MSG(during_decode == 0, "%s: %ld heap allocations in 16 decode steps",
            ttt_strategy_name(strategy), during_decode);
  CHECK(ttt_context_get_stats(ctx).scratch_allocations == scratch_before);
  /* The counter works: creating a cache allocates. */
  ttt_kv_cache *other = NULL;
  allocations = 0;
  CHECK_OK(ttt_causal_lm_create_cache(m->lm, 8, &other));
  CHECK(allocations > 0);
  ttt_kv_cache_destroy(other);
  ttt_kv_cache_destroy(cache);
  free(logits);
  ttt_hf_model_destroy(m);
  ttt_context_destroy(ctx);
}

static void test_accuracy_decode_allocates_nothing(void) { check_strategy(TTT_STRATEGY_ACCURACY); }
static void test_performance_decode_allocates_nothing(void) {
  check_strategy(TTT_STRATEGY_PERFORMANCE);
}

int main(void) {
  TTT_RUN(test_accuracy_decode_allocates_nothing);
  TTT_RUN(test_performance_decode_allocates_nothing);
  return ttt_test_finish();
}
