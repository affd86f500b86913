/* Float64 reference attention: whole sequences at positions 0..T-1, every mask written out as an
 * explicit visibility test, a plain softmax over all keys. No cache, no tiling, no shared kernels.
 */
#include <math.h>
#include <stdlib.h>

#include "testing/reference_util.h"

static int64_t head_dim_of(const ttt_attention_spec *s) {
  return s->head_dim ? s->head_dim : s->hidden / s->n_heads;
}

/* Can query t see key j of sequence b? */
static bool visible(const ttt_attention_spec *s, const uint8_t *key_mask, int64_t b, int64_t T,
                    int64_t t, int64_t j) {
  if (key_mask && !key_mask[b * T + j]) return false;
  if (!s->bidirectional && j > t) return false;
  if (s->sliding_window > 0 && s->bidirectional)
    return (j > t ? j - t : t - j) <= s->sliding_window / 2;
  if (s->sliding_window > 0 && j <= t - s->sliding_window) return false;
  return true;
}

/* q/k normalization of T tokens × `heads` heads in place. A group is one head (HEAD,
 * HEAD_WEIGHTS) or all heads of a token (ALL); each group is centered (LayerNorm) or not (RMSNorm),
 * divided by sqrt(mean square + eps), times its weight (+ 1 with weight_offset), plus its bias.
 * Value i of head h reads weight element i (HEAD: shared by the heads) or h·head_dim + i. */
static void qk_normalize(const ttt_attention_spec *s, double *x, int64_t T, int64_t heads,
                         const ttt_tensor *weight, const ttt_tensor *bias) {
  const ttt_norm_spec *n = &s->qk_norm_spec;
  int64_t hd = head_dim_of(s), row = heads * hd;
  int64_t group = s->qk_norm == TTT_QK_NORM_ALL ? row : hd;
  for (int64_t t = 0; t < T; t++) {
    for (int64_t g = 0; g < row; g += group) {
      double *v = x + t * row + g, mean = 0.0, var = 0.0;
      if (n->type == TTT_NORM_LAYER) {
        for (int64_t i = 0; i < group; i++) mean += v[i];
        mean /= (double)group;
      }
      for (int64_t i = 0; i < group; i++) var += (v[i] - mean) * (v[i] - mean);
      double inv = 1.0 / sqrt(var / (double)group + (double)n->eps);
      for (int64_t i = 0; i < group; i++) {
        int64_t index = s->qk_norm == TTT_QK_NORM_HEAD ? i : g + i;
        double w = ttt_tensor_get(weight, index) + (n->weight_offset ? 1.0 : 0.0);
        double b = n->bias ? ttt_tensor_get(bias, index) : 0.0;
        v[i] = (v[i] - mean) * inv * w + b;
      }
    }
  }
}

/* One head's output for query t: softmax over the visible keys of scale·q·k (soft-capped), times v.
 * No visible key → zeros. */
static void attend(const ttt_attention_spec *s, const uint8_t *key_mask, int64_t b, int64_t T,
                   int64_t t, const double *q, const double *k, const double *v, int64_t kv_stride,
                   double *probs, double *o) {
  int64_t hd = head_dim_of(s);
  double scale = s->scale > 0.0f ? (double)s->scale : 1.0 / sqrt((double)hd);
  double max = -INFINITY;
  for (int64_t j = 0; j < T; j++) {
    probs[j] = -INFINITY;
    if (!visible(s, key_mask, b, T, t, j)) continue;
    double score = 0.0;
    for (int64_t i = 0; i < hd; i++) score += q[i] * k[j * kv_stride + i];
    score *= scale;
    if (s->softcap > 0.0f) score = s->softcap * tanh(score / s->softcap);
    probs[j] = score;
    if (score > max) max = score;
  }
  for (int64_t i = 0; i < hd; i++) o[i] = 0.0;
  if (max == -INFINITY) return;
  double sum = 0.0;
  for (int64_t j = 0; j < T; j++) {
    probs[j] = probs[j] == -INFINITY ? 0.0 : exp(probs[j] - max);
    sum += probs[j];
  }
  for (int64_t j = 0; j < T; j++)
    for (int64_t i = 0; i < hd; i++) o[i] += probs[j] / sum * v[j * kv_stride + i];
}

typedef struct ref_buffers {
  double *q, *k, *v, *attn, *probs;
  int32_t *positions;
} ref_buffers;

static void free_buffers(ref_buffers *r) {
  free(r->q);
  free(r->k);
  free(r->v);
  free(r->attn);
  free(r->probs);
  free(r->positions);
}

/* One sequence: projections, q/k norm, RoPE, attention per head, output projection. */
static ttt_status reference_sequence(const ttt_attention_spec *s, const ttt_attention_weights *w,
                                     const double *x, int64_t b, int64_t T, const uint8_t *key_mask,
                                     ref_buffers *r, double *out) {
  int64_t hd = head_dim_of(s), q_dim = s->n_heads * hd, kv_dim = s->n_kv_heads * hd;
  ttt_status st = ttt_ref_linear(&w->wq, s->q_bias ? &w->bq : NULL, x, T, s->hidden, q_dim, r->q);
  if (st == TTT_OK)
    st = ttt_ref_linear(&w->wk, s->k_bias ? &w->bk : NULL, x, T, s->hidden, kv_dim, r->k);
  if (st == TTT_OK)
    st = ttt_ref_linear(&w->wv, s->v_bias ? &w->bv : NULL, x, T, s->hidden, kv_dim, r->v);
  if (st != TTT_OK) return st;
  if (s->qk_norm != TTT_QK_NORM_NONE) {
    qk_normalize(s, r->q, T, s->n_heads, &w->q_norm, &w->q_norm_bias);
    qk_normalize(s, r->k, T, s->n_kv_heads, &w->k_norm, &w->k_norm_bias);
  }
  if (s->rope.type != TTT_ROPE_NONE) {
    for (int64_t t = 0; t < T; t++) r->positions[t] = (int32_t)t;
    st = ttt_reference_rope_apply(&s->rope, r->q, T, s->n_heads, r->positions);
    if (st == TTT_OK) st = ttt_reference_rope_apply(&s->rope, r->k, T, s->n_kv_heads, r->positions);
    if (st != TTT_OK) return st;
  }
  int64_t group = s->n_heads / s->n_kv_heads; /* query heads sharing one kv head */
  for (int64_t h = 0; h < s->n_heads; h++) {
    int64_t kvh = h / group;
    for (int64_t t = 0; t < T; t++)
      attend(s, key_mask, b, T, t, r->q + t * q_dim + h * hd, r->k + kvh * hd, r->v + kvh * hd,
             kv_dim, r->probs, r->attn + t * q_dim + h * hd);
  }
  return ttt_ref_linear(&w->wo, s->o_bias ? &w->bo : NULL, r->attn, T, q_dim, s->hidden, out);
}

static ttt_status check_weights(const ttt_attention_spec *s, const ttt_attention_weights *w) {
  const ttt_tensor *required[] = {&w->wq, &w->wk, &w->wv, &w->wo};
  const char *names[] = {"attention.wq", "attention.wk", "attention.wv", "attention.wo"};
  int64_t hd = head_dim_of(s);
  int64_t rows[] = {s->n_heads * hd, s->n_kv_heads * hd, s->n_kv_heads * hd, s->hidden};
  int64_t cols[] = {s->hidden, s->hidden, s->hidden, s->n_heads * hd};
  for (int i = 0; i < 4; i++) {
    ttt_status st = ttt_tensor_check(required[i], names[i]);
    if (st != TTT_OK) return ttt_error_prefix(st, "reference attention");
    if (required[i]->ndim != 2 || required[i]->shape[0] != rows[i] ||
        required[i]->shape[1] != cols[i])
      return ttt_set_error(TTT_ERR_SHAPE, "reference attention: %s must be [%lld, %lld]", names[i],
                           (long long)rows[i], (long long)cols[i]);
  }
  if (s->qk_norm == TTT_QK_NORM_NONE) return TTT_OK;
  int64_t q_values = s->qk_norm == TTT_QK_NORM_HEAD ? hd : s->n_heads * hd;
  int64_t k_values = s->qk_norm == TTT_QK_NORM_HEAD ? hd : s->n_kv_heads * hd;
  const ttt_tensor *norms[] = {&w->q_norm, &w->k_norm, &w->q_norm_bias, &w->k_norm_bias};
  const int64_t sizes[] = {q_values, k_values, q_values, k_values};
  int count = s->qk_norm_spec.bias ? 4 : 2;
  for (int i = 0; i < count; i++)
    if (!norms[i]->data || ttt_tensor_numel(norms[i]) != sizes[i])
      return ttt_set_error(TTT_ERR_SHAPE,
                           "reference attention: q/k norm tensor %d must hold %lld values", i,
                           (long long)sizes[i]);
  return TTT_OK;
}

ttt_status ttt_reference_attention(const ttt_attention_spec *spec,
                                   const ttt_attention_weights *weights, const double *x, int64_t B,
                                   int64_t T, const uint8_t *key_mask, double *out) {
  ttt_status st = ttt_attention_spec_validate(spec);
  if (st != TTT_OK) return st;
  if (!weights || !x || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "reference attention: NULL %s",
                         !weights ? "weights"
                         : !x     ? "x"
                                  : "out");
  if (B < 1 || T < 1)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "reference attention: B (%lld) and T (%lld) must be >= 1", (long long)B,
                         (long long)T);
  if ((st = check_weights(spec, weights)) != TTT_OK) return st;
  int64_t hd = head_dim_of(spec);
  size_t q_count = (size_t)(T * spec->n_heads * hd), kv_count = (size_t)(T * spec->n_kv_heads * hd);
  ref_buffers r = {malloc(q_count * sizeof(double)),   malloc(kv_count * sizeof(double)),
                   malloc(kv_count * sizeof(double)),  malloc(q_count * sizeof(double)),
                   malloc((size_t)T * sizeof(double)), malloc((size_t)T * sizeof(int32_t))};
  if (!r.q || !r.k || !r.v || !r.attn || !r.probs || !r.positions) {
    free_buffers(&r);
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "reference attention: out of memory");
  }
  for (int64_t b = 0; b < B && st == TTT_OK; b++)
    st = reference_sequence(spec, weights, x + b * T * spec->hidden, b, T, key_mask, &r,
                            out + b * T * spec->hidden);
  free_buffers(&r);
  return st;
}
