/*
 * Context scratch workspace: 64-byte alignment, save/restore reuse, growth during warm-up and no
 * growth in steady state (ttt_context_get_stats), chunks coalescing into one, and the linear
 * layer's use of scratch (q8_0 activations) allocating nothing once warmed up.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels.h"
#include "runtime/runtime.h"
#include "ttt_test.h"

static bool aligned64(const void *p) { return ((uintptr_t)p & 63u) == 0; }

/* A "forward": nested scopes whose sizes exceed the initial chunk. Writes every byte (ASan checks
 * the bounds) and checks that live buffers do not overlap by writing distinct patterns. */
static void forward(ttt_context *ctx, bool *ok) {
  static const size_t sizes[] = {100, 3 << 20, 1, 64, 700 << 10, 5 << 20, 17};
  enum { COUNT = sizeof sizes / sizeof sizes[0] };
  ttt_scratch_mark outer = ttt_scratch_save(ctx);
  uint8_t *buffers[COUNT];
  for (int i = 0; i < COUNT; i++) {
    buffers[i] = ttt_scratch_alloc(ctx, sizes[i]);
    if (!buffers[i]) {
      *ok = false;
      return;
    }
    *ok &= aligned64(buffers[i]);
    memset(buffers[i], i + 1, sizes[i]);
    if (i == 3) { /* an inner scope released before the next allocation */
      ttt_scratch_mark inner = ttt_scratch_save(ctx);
      uint8_t *tmp = ttt_scratch_alloc(ctx, 2 << 20);
      *ok &= tmp && aligned64(tmp);
      if (tmp) memset(tmp, 0xee, 2 << 20);
      ttt_scratch_restore(ctx, inner);
    }
  }
  for (int i = 0; i < COUNT; i++)
    for (size_t b = 0; b < sizes[i]; b += 4093) *ok &= buffers[i][b] == (uint8_t)(i + 1);
  ttt_scratch_restore(ctx, outer);
}

static void test_growth_then_steady_state(void) {
  ttt_context *ctx = ttt_test_context(1);
  if (!ctx) return;
  ttt_context_stats fresh = ttt_context_get_stats(ctx);
  CHECK(fresh.scratch_allocations == 0 && fresh.scratch_bytes == 0);
  bool ok = true;
  forward(ctx, &ok);
  ttt_context_stats warm = ttt_context_get_stats(ctx);
  CHECK(warm.scratch_allocations > 0);
  /* The chunks coalesce into one at the outer restore, so the second forward fits in one chunk...
   */
  forward(ctx, &ok);
  ttt_context_stats steady = ttt_context_get_stats(ctx);
  /* ...and from then on nothing is allocated. */
  for (int i = 0; i < 20; i++) forward(ctx, &ok);
  ttt_context_stats later = ttt_context_get_stats(ctx);
  CHECK(ok);
  CHECK_MSG(later.scratch_allocations == steady.scratch_allocations,
            "scratch grew in steady state: %lld -> %lld allocations",
            (long long)steady.scratch_allocations, (long long)later.scratch_allocations);
  CHECK(later.scratch_bytes == steady.scratch_bytes);
  CHECK(steady.scratch_bytes >= (int64_t)((3 << 20) + (700 << 10) + (5 << 20)));
  ttt_context_destroy(ctx);
}

static void test_restore_reuses_memory(void) {
  ttt_context *ctx = ttt_test_context(1);
  if (!ctx) return;
  ttt_scratch_mark base = ttt_scratch_save(ctx);
  uint8_t *a = ttt_scratch_alloc(ctx, 1000);
  ttt_scratch_mark mark = ttt_scratch_save(ctx);
  uint8_t *b = ttt_scratch_alloc(ctx, 5000);
  CHECK(a && b && aligned64(a) && aligned64(b));
  CHECK(b >= a + 1000); /* rounded up to 64 bytes: 1024 */
  ttt_scratch_restore(ctx, mark);
  uint8_t *c = ttt_scratch_alloc(ctx, 5000);
  CHECK(c == b);
  uint8_t *zero = ttt_scratch_alloc(ctx, 0); /* a valid, distinct, aligned pointer */
  CHECK(zero && aligned64(zero) && zero != c);
  ttt_scratch_restore(ctx, base);
  CHECK(ttt_scratch_alloc(ctx, 10) == a);
  ttt_scratch_restore(ctx, base);
  ttt_context_destroy(ctx);
}

/* Allocations that spill into a second chunk are merged into one chunk of the combined size when
 * the workspace is emptied. */
static void test_coalesce(void) {
  ttt_context *ctx = ttt_test_context(1);
  if (!ctx) return;
  ttt_scratch_mark base = ttt_scratch_save(ctx);
  void *first = ttt_scratch_alloc(ctx, 1 << 20);
  void *second = ttt_scratch_alloc(ctx, 1 << 20); /* does not fit in the first chunk */
  CHECK(first && second);
  ttt_context_stats spread = ttt_context_get_stats(ctx);
  CHECK(spread.scratch_allocations == 2);
  ttt_scratch_restore(ctx, base);
  ttt_context_stats merged = ttt_context_get_stats(ctx);
  CHECK(merged.scratch_allocations == 3); /* the single merged chunk */
  CHECK(merged.scratch_bytes == spread.scratch_bytes);
  ttt_scratch_mark again = ttt_scratch_save(ctx);
  CHECK(ttt_scratch_alloc(ctx, 1 << 20) && ttt_scratch_alloc(ctx, 1 << 20));
  ttt_scratch_restore(ctx, again);
  CHECK(ttt_context_get_stats(ctx).scratch_allocations == 3);
  ttt_context_destroy(ctx);
}

/* ttt_linear with q8_0 activations quantizes into scratch: after the first call, none grows. */
static void test_linear_does_not_allocate_when_warm(void) {
  ttt_context *ctx = ttt_test_context(1);
  if (!ctx) return;
  enum { M = 9, K = 256, N = 40 };
  float *x = calloc(M * K, sizeof *x), *y = calloc(M * N, sizeof *y),
        *w32 = calloc(N * K, sizeof *w32);
  ttt_test_rng rng = ttt_test_rng_make(5);
  ttt_test_fill_uniform(&rng, x, M * K, -1, 1);
  ttt_test_fill_uniform(&rng, w32, N * K, -1, 1);
  ttt_tensor master = ttt_tensor_2d(TTT_F32, w32, N, K), w;
  CHECK_OK(ttt_tensor_convert(&master, TTT_Q8_0, &w));
  ttt_linear_config config = {.activation_dtype = TTT_Q8_0};
  ttt_linear_op op = {.w = &w, .y = y, .name = "wq"};
  CHECK_OK(ttt_linear(ctx, &config, x, M, K, &op));
  ttt_context_stats warm = ttt_context_get_stats(ctx);
  CHECK(warm.scratch_allocations >= 1);
  for (int i = 0; i < 10; i++) CHECK_OK(ttt_linear(ctx, &config, x, M, K, &op));
  ttt_context_stats later = ttt_context_get_stats(ctx);
  CHECK(later.scratch_allocations == warm.scratch_allocations);
  ttt_tensor_free(&w);
  free(x);
  free(y);
  free(w32);
  ttt_context_destroy(ctx);
}

static void test_device_is_copied(void) {
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 2));
  CHECK(device.n_threads == 2 && device.n_cores >= 1);
  ttt_context *ctx = NULL;
  CHECK_OK(ttt_context_create(&device, &ctx));
  if (!ctx) return;
  device.n_threads = 7;
  CHECK(ttt_context_device(ctx)->n_threads == 2);
  CHECK(ttt_context_threads(ctx, 0) == 2);
  CHECK(ttt_context_device(NULL) == NULL);
  ttt_context_stats none = ttt_context_get_stats(NULL);
  CHECK(none.scratch_allocations == 0);
  ttt_context_destroy(ctx);
}

int main(void) {
  TTT_RUN(test_growth_then_steady_state);
  TTT_RUN(test_restore_reuses_memory);
  TTT_RUN(test_coalesce);
  TTT_RUN(test_linear_does_not_allocate_when_warm);
  TTT_RUN(test_device_is_copied);
  return ttt_test_finish();
}
