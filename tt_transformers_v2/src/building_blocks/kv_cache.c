/* KV cache of one sequence: per layer, keys and values in f32 or bf16, full or a sliding-window
 * ring. */
#include <stdlib.h>
#include <string.h>

#include "attention_internal.h"

struct ttt_kv_cache {
  ttt_kv_cache_spec spec; /* dtype resolved (DEFAULT → f32) */
  ttt_kv_layer layers[TTT_MAX_LAYERS];
  size_t bytes;
};

static ttt_status validate_spec(const ttt_kv_cache_spec *s) {
  if (!s) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "kv cache spec: NULL");
  if (s->n_layers < 1 || s->n_layers > TTT_MAX_LAYERS)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "kv cache spec: n_layers (%lld) must be in [1, %d]",
                         (long long)s->n_layers, TTT_MAX_LAYERS);
  if (s->n_kv_heads < 1 || s->head_dim < 1 || s->max_positions < 1)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "kv cache spec: n_kv_heads (%lld), head_dim (%lld) and max_positions "
                         "(%lld) must be >= 1",
                         (long long)s->n_kv_heads, (long long)s->head_dim,
                         (long long)s->max_positions);
  if (s->dtype != TTT_DTYPE_DEFAULT && s->dtype != TTT_F32 && s->dtype != TTT_BF16)
    return ttt_set_error(TTT_ERR_DTYPE, "kv cache spec: dtype %s is not supported (f32 or bf16)",
                         ttt_dtype_name(s->dtype));
  for (int64_t l = 0; l < s->n_layers; l++) {
    const ttt_kv_cache_layer_spec *ls = &s->layers[l];
    if (s->sliding_window[l] < 0)
      return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                           "kv cache spec: sliding_window[%lld] (%lld) must be >= 0", (long long)l,
                           (long long)s->sliding_window[l]);
    if (ls->n_kv_heads < 0 || ls->head_dim < 0)
      return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                           "kv cache spec: layers[%lld] n_kv_heads (%lld) and head_dim (%lld) must "
                           "be >= 0 (0: the cache-wide value)",
                           (long long)l, (long long)ls->n_kv_heads, (long long)ls->head_dim);
    int64_t heads = ls->n_kv_heads ? ls->n_kv_heads : s->n_kv_heads;
    if (ls->latent && heads != 1)
      return ttt_set_error(
          TTT_ERR_INVALID_ARGUMENT,
          "kv cache spec: layers[%lld] is latent but has %lld kv heads (must be 1)", (long long)l,
          (long long)heads);
    if (ls->dtype != TTT_DTYPE_DEFAULT && ls->dtype != TTT_F32 && ls->dtype != TTT_BF16)
      return ttt_set_error(TTT_ERR_DTYPE,
                           "kv cache spec: layers[%lld].dtype %s is not supported (f32 or bf16)",
                           (long long)l, ttt_dtype_name(ls->dtype));
  }
  return TTT_OK;
}

/* The spec with every layer's fields resolved (cache-wide values, DEFAULT → f32). */
static ttt_kv_cache_spec resolve_spec(const ttt_kv_cache_spec *in) {
  ttt_kv_cache_spec s = *in;
  if (s.dtype == TTT_DTYPE_DEFAULT) s.dtype = TTT_F32;
  for (int64_t l = 0; l < s.n_layers; l++) {
    ttt_kv_cache_layer_spec *ls = &s.layers[l];
    if (ls->n_kv_heads == 0) ls->n_kv_heads = s.n_kv_heads;
    if (ls->head_dim == 0) ls->head_dim = s.head_dim;
    if (ls->dtype == TTT_DTYPE_DEFAULT) ls->dtype = s.dtype;
  }
  return s;
}

ttt_status ttt_kv_cache_create(const ttt_kv_cache_spec *spec, ttt_kv_cache **out) {
  if (!out) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "kv cache create: NULL out");
  *out = NULL;
  ttt_status st = validate_spec(spec);
  if (st != TTT_OK) return st;
  ttt_kv_cache *c = calloc(1, sizeof *c);
  if (!c) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "kv cache create: out of memory");
  c->spec = resolve_spec(spec);
  for (int64_t l = 0; l < spec->n_layers; l++) {
    const ttt_kv_cache_layer_spec *ls = &c->spec.layers[l];
    ttt_kv_layer *layer = &c->layers[l];
    int64_t w = spec->sliding_window[l];
    layer->dtype = ls->dtype;
    layer->n_kv_heads = ls->n_kv_heads;
    layer->head_dim = ls->head_dim;
    layer->latent = ls->latent;
    layer->slots = (w > 0 && w < spec->max_positions) ? w : spec->max_positions;
    size_t elem = ls->dtype == TTT_BF16 ? 2 : 4;
    size_t bytes = (size_t)(ls->n_kv_heads * layer->slots * ls->head_dim) * elem;
    layer->k = malloc(bytes);
    layer->v = ls->latent ? NULL : malloc(bytes);
    if (!layer->k || (!ls->latent && !layer->v)) {
      ttt_kv_cache_destroy(c);
      return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "kv cache create: out of memory for layer %lld",
                           (long long)l);
    }
    c->bytes += ls->latent ? bytes : 2 * bytes;
  }
  *out = c;
  return TTT_OK;
}

void ttt_kv_cache_destroy(ttt_kv_cache *cache) {
  if (!cache) return;
  for (int64_t l = 0; l < cache->spec.n_layers; l++) {
    free(cache->layers[l].k);
    free(cache->layers[l].v);
  }
  free(cache);
}

void ttt_kv_cache_reset(ttt_kv_cache *cache) {
  if (!cache) return;
  for (int64_t l = 0; l < cache->spec.n_layers; l++) cache->layers[l].length = 0;
}

int64_t ttt_kv_cache_length(const ttt_kv_cache *cache, int64_t layer) {
  if (!cache || layer < 0 || layer >= cache->spec.n_layers) return 0;
  return cache->layers[layer].length;
}

const ttt_kv_cache_spec *ttt_kv_cache_get_spec(const ttt_kv_cache *cache) {
  return cache ? &cache->spec : NULL;
}

size_t ttt_kv_cache_bytes(const ttt_kv_cache *cache) { return cache ? cache->bytes : 0; }

ttt_kv_layer *ttt_kv_cache_layer(ttt_kv_cache *cache, int64_t layer) {
  if (!cache || layer < 0 || layer >= cache->spec.n_layers) return NULL;
  return &cache->layers[layer];
}

/* Stores one head_dim row of kv head `h` at position `pos`, converting to the cache dtype. */
static void store_row(const ttt_kv_layer *l, bool value, int64_t h, int64_t pos, const float *src) {
  void *dst = ttt_kv_row(l, value, h, pos);
  if (l->dtype == TTT_F32) {
    memcpy(dst, src, (size_t)l->head_dim * sizeof(float));
    return;
  }
  uint16_t *d16 = dst;
  for (int64_t i = 0; i < l->head_dim; i++) d16[i] = ttt_f32_to_bf16(src[i]);
}

void ttt_kv_cache_append(ttt_kv_layer *l, const float *k, const float *v, int64_t T, int64_t ld) {
  /* In a ring (or a windowed paged layer, which keeps the last `slots` positions), positions older
   * than the last `slots` of this chunk would be overwritten or released anyway: skip them. */
  int64_t first = T > l->slots ? T - l->slots : 0;
  for (int64_t t = first; t < T; t++) {
    for (int64_t h = 0; h < l->n_kv_heads; h++) {
      store_row(l, false, h, l->length + t, k + t * ld + h * l->head_dim);
      if (!l->latent) store_row(l, true, h, l->length + t, v + t * ld + h * l->head_dim);
    }
  }
  l->length += T;
}
