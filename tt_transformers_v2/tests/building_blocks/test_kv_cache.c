/* KV cache: validation, storage sizes of full and ring layers, dtype conversion on append, ring
 * slots, reset. (Attention through the cache is tested in test_attention.c.) */
#include <string.h>

#include "building_blocks/attention_internal.h"
#include "ttt_test.h"

static ttt_kv_cache_spec small_spec(ttt_dtype dtype) {
  ttt_kv_cache_spec s = {
      .n_layers = 3, .n_kv_heads = 2, .head_dim = 4, .max_positions = 20, .dtype = dtype};
  s.sliding_window[1] = 8;  /* a ring of 8 slots */
  s.sliding_window[2] = 64; /* window longer than the cache: plain max_positions slots */
  return s;
}

static void test_validation(void) {
  ttt_kv_cache *c = NULL;
  ttt_kv_cache_spec s = small_spec(TTT_F32);
  s.n_layers = 0;
  CHECK_ERR(ttt_kv_cache_create(&s, &c), TTT_ERR_INVALID_ARGUMENT, "n_layers (0)");
  s.n_layers = TTT_MAX_LAYERS + 1;
  CHECK_ERR(ttt_kv_cache_create(&s, &c), TTT_ERR_INVALID_ARGUMENT, "n_layers (129)");
  s = small_spec(TTT_F32);
  s.n_kv_heads = 0;
  CHECK_ERR(ttt_kv_cache_create(&s, &c), TTT_ERR_INVALID_ARGUMENT, "n_kv_heads (0)");
  s = small_spec(TTT_Q8_0);
  CHECK_ERR(ttt_kv_cache_create(&s, &c), TTT_ERR_DTYPE, "q8_0");
  s = small_spec(TTT_F32);
  s.sliding_window[2] = -1;
  CHECK_ERR(ttt_kv_cache_create(&s, &c), TTT_ERR_INVALID_ARGUMENT, "sliding_window[2]");
  s = small_spec(TTT_F32);
  s.layers[1].head_dim = -2;
  CHECK_ERR(ttt_kv_cache_create(&s, &c), TTT_ERR_INVALID_ARGUMENT, "layers[1] n_kv_heads (0)");
  s = small_spec(TTT_F32);
  s.layers[2].dtype = TTT_F16;
  CHECK_ERR(ttt_kv_cache_create(&s, &c), TTT_ERR_DTYPE, "layers[2].dtype f16");
  CHECK(c == NULL);
  ttt_kv_cache_destroy(NULL);
}

static void test_sizes_and_lengths(void) {
  for (int d = 0; d < 3; d++) {
    ttt_dtype dtype = d == 0 ? TTT_DTYPE_DEFAULT : d == 1 ? TTT_F32 : TTT_BF16;
    ttt_kv_cache_spec s = small_spec(dtype);
    ttt_kv_cache *c = NULL;
    CHECK_OK(ttt_kv_cache_create(&s, &c));
    size_t elem = dtype == TTT_BF16 ? 2 : 4;
    /* k and v × 2 kv heads × 4 values × (20 + 8 + 20 slots) */
    CHECK(ttt_kv_cache_bytes(c) == 2 * 2 * 4 * (20 + 8 + 20) * elem);
    CHECK(ttt_kv_cache_get_spec(c)->dtype == (dtype == TTT_BF16 ? TTT_BF16 : TTT_F32));
    CHECK(ttt_kv_cache_layer(c, 1)->slots == 8 && ttt_kv_cache_layer(c, 2)->slots == 20);
    CHECK(ttt_kv_cache_layer(c, 3) == NULL && ttt_kv_cache_layer(c, -1) == NULL);
    CHECK(ttt_kv_cache_length(c, 0) == 0 && ttt_kv_cache_length(c, 7) == 0);
    ttt_kv_cache_destroy(c);
  }
}

/* Per-layer kv heads, head dims and dtypes override the cache-wide ones field by field. */
static void test_per_layer_shapes(void) {
  ttt_kv_cache_spec s = small_spec(TTT_BF16);
  s.layers[0] = (ttt_kv_cache_layer_spec){.n_kv_heads = 4, .dtype = TTT_F32};
  s.layers[2].head_dim = 6;
  ttt_kv_cache *c = NULL;
  CHECK_OK(ttt_kv_cache_create(&s, &c));
  const ttt_kv_cache_spec *r = ttt_kv_cache_get_spec(c);
  CHECK(r->layers[0].n_kv_heads == 4 && r->layers[0].head_dim == 4 &&
        r->layers[0].dtype == TTT_F32);
  CHECK(r->layers[1].n_kv_heads == 2 && r->layers[1].head_dim == 4 &&
        r->layers[1].dtype == TTT_BF16);
  CHECK(r->layers[2].n_kv_heads == 2 && r->layers[2].head_dim == 6);
  CHECK(ttt_kv_cache_layer(c, 0)->dtype == TTT_F32 && ttt_kv_cache_layer(c, 2)->head_dim == 6);
  /* k and v: 4×4 f32 × 20 slots, 2×4 bf16 × 8 slots, 2×6 bf16 × 20 slots */
  CHECK(ttt_kv_cache_bytes(c) == 2 * (4 * 4 * 20 * 4 + 2 * 4 * 8 * 2 + 2 * 6 * 20 * 2));
  ttt_kv_cache_destroy(c);
}

/* Appends positions 0..19 to the ring layer in chunks of 3 and one of 11, then checks that slot
 * p mod 8 holds position p for the last 8 positions, in the cache dtype. */
static void test_append_ring_and_bf16(void) {
  for (int d = 0; d < 2; d++) {
    ttt_dtype dtype = d == 0 ? TTT_F32 : TTT_BF16;
    ttt_kv_cache_spec s = small_spec(dtype);
    ttt_kv_cache *c = NULL;
    CHECK_OK(ttt_kv_cache_create(&s, &c));
    enum { POS = 20, ROW = 2 * 4 };
    float k[POS * ROW], v[POS * ROW];
    ttt_test_rng rng = ttt_test_rng_make(11 + (uint64_t)d);
    ttt_test_fill_uniform(&rng, k, POS * ROW, -3.0f, 3.0f);
    ttt_test_fill_uniform(&rng, v, POS * ROW, -3.0f, 3.0f);
    ttt_kv_layer *ring = ttt_kv_cache_layer(c, 1), *full = ttt_kv_cache_layer(c, 0);
    const int chunks[] = {3, 3, 3, 11};
    int start = 0;
    for (int i = 0; i < 4; i++) {
      ttt_kv_cache_append(ring, k + start * ROW, v + start * ROW, chunks[i], ROW);
      ttt_kv_cache_append(full, k + start * ROW, v + start * ROW, chunks[i], ROW);
      start += chunks[i];
    }
    CHECK(ttt_kv_cache_length(c, 1) == POS && ttt_kv_cache_length(c, 0) == POS);
    int64_t mismatches = 0;
    for (int p = 0; p < POS; p++) {
      for (int h = 0; h < 2; h++) {
        for (int i = 0; i < 4; i++) {
          float kv_src[2] = {k[p * ROW + h * 4 + i], v[p * ROW + h * 4 + i]};
          for (int which = 0; which < 2; which++) {
            float expected =
                dtype == TTT_BF16 ? ttt_bf16_to_f32(ttt_f32_to_bf16(kv_src[which])) : kv_src[which];
            const ttt_kv_layer *layers[2] = {full, ring};
            for (int l = 0; l < 2; l++) {
              if (l == 1 && p < POS - 8) continue; /* overwritten in the ring */
              const ttt_kv_layer *layer = layers[l];
              size_t off = (size_t)((h * layer->slots + ttt_kv_slot(layer, p)) * 4 + i);
              const void *base = which ? layer->v : layer->k;
              float got = dtype == TTT_F32 ? ((const float *)base)[off]
                                           : ttt_bf16_to_f32(((const uint16_t *)base)[off]);
              mismatches += got != expected;
            }
          }
        }
      }
    }
    CHECK_MSG(mismatches == 0, "%lld cache values differ", (long long)mismatches);
    ttt_kv_cache_reset(c);
    CHECK(ttt_kv_cache_length(c, 0) == 0 && ttt_kv_cache_length(c, 1) == 0);
    ttt_kv_cache_destroy(c);
  }
}

int main(void) {
  TTT_RUN(test_validation);
  TTT_RUN(test_sizes_and_lengths);
  TTT_RUN(test_per_layer_shapes);
  TTT_RUN(test_append_ring_and_bf16);
  return ttt_test_finish();
}
