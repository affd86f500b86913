/*
 * Float64 reference of multi-head latent attention over one whole sequence (positions 0..T-1,
 * causal), computed the way HF's DeepseekV3Attention does: every position's latent expanded
 * through kv_b_proj into per-head keys and values (no latent cache, no absorption).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "building_blocks/mla_internal.h"
#include "reference_util.h"

/* RMSNorm of `rows` rows of `dim` values in place (weight read in any float dtype). */
static ttt_status rms_rows(const ttt_tensor *weight, float eps, double *x, int64_t rows,
                           int64_t dim) {
  ttt_norm_spec ns = {.type = TTT_NORM_RMS, .dim = dim, .eps = eps};
  ttt_norm_weights nw = {.weight = *weight};
  return ttt_reference_norm(&ns, &nw, x, rows, x);
}

static double scale_of(const ttt_mla_spec *s) {
  double scale = pow((double)(s->qk_nope_head_dim + s->qk_rope_head_dim), -0.5);
  if (s->rope.type == TTT_ROPE_YARN && s->mscale_all_dim > 0.0 && s->rope.factor > 1.0) {
    double m = 0.1 * s->mscale_all_dim * log(s->rope.factor) + 1.0;
    scale *= m * m;
  }
  return scale;
}

typedef struct ref_buffers {
  double *q;     /* [T, H, dq] */
  double *kv_a;  /* [T, R + rd] */
  double *c;     /* [T, R] */
  double *kvb;   /* [T, H, nope + v] */
  double *rope;  /* [T, H, rd] scratch for rotating */
  double *probs; /* [T] */
  double *attn;  /* [T, H·v] */
  double *qa;    /* [T, q_lora_rank] */
} ref_buffers;

static ttt_status queries(const ttt_mla_spec *s, const ttt_mla_weights *w, const double *x,
                          int64_t T, ref_buffers *b) {
  int64_t H = s->n_heads, dq = s->qk_nope_head_dim + s->qk_rope_head_dim;
  if (s->q_lora_rank == 0) return ttt_ref_linear(&w->q_proj, NULL, x, T, s->hidden, H * dq, b->q);
  ttt_status st = ttt_ref_linear(&w->q_a_proj, NULL, x, T, s->hidden, s->q_lora_rank, b->qa);
  if (st == TTT_OK) st = rms_rows(&w->q_a_norm, s->norm_eps, b->qa, T, s->q_lora_rank);
  if (st == TTT_OK) st = ttt_ref_linear(&w->q_b_proj, NULL, b->qa, T, s->q_lora_rank, H * dq, b->q);
  return st;
}

/* Rotates the rope parts of q (per head) and of the shared key, positions 0..T-1. */
static ttt_status rotate(const ttt_mla_spec *s, int64_t T, const int32_t *pos, ref_buffers *b) {
  int64_t H = s->n_heads, nope = s->qk_nope_head_dim, rd = s->qk_rope_head_dim;
  int64_t dq = nope + rd, row = s->kv_lora_rank + rd;
  for (int64_t t = 0; t < T; t++)
    for (int64_t h = 0; h < H; h++)
      memcpy(b->rope + (t * H + h) * rd, b->q + (t * H + h) * dq + nope,
             (size_t)rd * sizeof(double));
  ttt_status st = ttt_reference_rope_apply(&s->rope, b->rope, T, H, pos);
  if (st != TTT_OK) return st;
  for (int64_t t = 0; t < T; t++)
    for (int64_t h = 0; h < H; h++)
      memcpy(b->q + (t * H + h) * dq + nope, b->rope + (t * H + h) * rd,
             (size_t)rd * sizeof(double));
  for (int64_t t = 0; t < T; t++)
    memcpy(b->rope + t * rd, b->kv_a + t * row + s->kv_lora_rank, (size_t)rd * sizeof(double));
  st = ttt_reference_rope_apply(&s->rope, b->rope, T, 1, pos);
  for (int64_t t = 0; st == TTT_OK && t < T; t++)
    memcpy(b->kv_a + t * row + s->kv_lora_rank, b->rope + t * rd, (size_t)rd * sizeof(double));
  return st;
}

/* attn[t, h·v + d] = Σ_{p ≤ t} softmax_p(scale · q_h(t) · k_h(p)) · v_h(p)[d]. */
static void attention(const ttt_mla_spec *s, int64_t T, ref_buffers *b) {
  int64_t H = s->n_heads, nope = s->qk_nope_head_dim, rd = s->qk_rope_head_dim;
  int64_t dq = nope + rd, dv = s->v_head_dim, R = s->kv_lora_rank, kvw = nope + dv;
  double scale = scale_of(s);
  for (int64_t t = 0; t < T; t++) {
    for (int64_t h = 0; h < H; h++) {
      const double *q = b->q + (t * H + h) * dq;
      double max = -INFINITY, sum = 0.0;
      for (int64_t p = 0; p <= t; p++) {
        const double *k_nope = b->kvb + (p * H + h) * kvw;
        const double *k_rope = b->kv_a + p * (R + rd) + R;
        double score = 0.0;
        for (int64_t d = 0; d < nope; d++) score += q[d] * k_nope[d];
        for (int64_t d = 0; d < rd; d++) score += q[nope + d] * k_rope[d];
        b->probs[p] = score * scale;
        if (b->probs[p] > max) max = b->probs[p];
      }
      for (int64_t p = 0; p <= t; p++) {
        b->probs[p] = exp(b->probs[p] - max);
        sum += b->probs[p];
      }
      double *o = b->attn + t * H * dv + h * dv;
      for (int64_t d = 0; d < dv; d++) o[d] = 0.0;
      for (int64_t p = 0; p <= t; p++) {
        const double *v = b->kvb + (p * H + h) * kvw + nope;
        for (int64_t d = 0; d < dv; d++) o[d] += b->probs[p] / sum * v[d];
      }
    }
  }
}

static ttt_status run(const ttt_mla_spec *s, const ttt_mla_weights *w, const double *x, int64_t T,
                      const int32_t *pos, ref_buffers *b, double *out) {
  int64_t H = s->n_heads, R = s->kv_lora_rank, rd = s->qk_rope_head_dim;
  ttt_status st = queries(s, w, x, T, b);
  if (st == TTT_OK) st = ttt_ref_linear(&w->kv_a_proj, NULL, x, T, s->hidden, R + rd, b->kv_a);
  if (st != TTT_OK) return st;
  for (int64_t t = 0; t < T; t++)
    memcpy(b->c + t * R, b->kv_a + t * (R + rd), (size_t)R * sizeof(double));
  st = rms_rows(&w->kv_a_norm, s->norm_eps, b->c, T, R);
  for (int64_t t = 0; st == TTT_OK && t < T; t++)
    memcpy(b->kv_a + t * (R + rd), b->c + t * R, (size_t)R * sizeof(double));
  if (st == TTT_OK) st = rotate(s, T, pos, b);
  if (st == TTT_OK)
    st = ttt_ref_linear(&w->kv_b_proj, NULL, b->c, T, R, H * (s->qk_nope_head_dim + s->v_head_dim),
                        b->kvb);
  if (st != TTT_OK) return st;
  attention(s, T, b);
  return ttt_ref_linear(&w->o_proj, NULL, b->attn, T, H * s->v_head_dim, s->hidden, out);
}

ttt_status ttt_reference_mla(const ttt_mla_spec *spec, const ttt_mla_weights *weights,
                             const double *x, int64_t T, double *out) {
  ttt_status st = ttt_mla_spec_validate(spec);
  if (st != TTT_OK) return st;
  if (!weights || !x || !out || T < 1)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "reference mla: NULL argument or T < 1");
  st = ttt_mla_check_weights(spec, TTT_DTYPE_DEFAULT, weights);
  if (st != TTT_OK) return st;
  const ttt_mla_spec *s = spec;
  int64_t H = s->n_heads, dq = s->qk_nope_head_dim + s->qk_rope_head_dim;
  int64_t R = s->kv_lora_rank, rd = s->qk_rope_head_dim;
  int64_t qr = s->q_lora_rank > 0 ? s->q_lora_rank : 1;
  ref_buffers b = {
      .q = malloc((size_t)(T * H * dq) * sizeof(double)),
      .kv_a = malloc((size_t)(T * (R + rd)) * sizeof(double)),
      .c = malloc((size_t)(T * R) * sizeof(double)),
      .kvb = malloc((size_t)(T * H * (s->qk_nope_head_dim + s->v_head_dim)) * sizeof(double)),
      .rope = malloc((size_t)(T * H * rd) * sizeof(double)),
      .probs = malloc((size_t)T * sizeof(double)),
      .attn = malloc((size_t)(T * H * s->v_head_dim) * sizeof(double)),
      .qa = malloc((size_t)(T * qr) * sizeof(double)),
  };
  int32_t *pos = malloc((size_t)T * sizeof(int32_t));
  if (b.q && b.kv_a && b.c && b.kvb && b.rope && b.probs && b.attn && b.qa && pos) {
    for (int64_t t = 0; t < T; t++) pos[t] = (int32_t)t;
    st = run(s, weights, x, T, pos, &b, out);
  } else {
    st = ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "reference mla: out of memory");
  }
  free(pos);
  free(b.q);
  free(b.kv_a);
  free(b.c);
  free(b.kvb);
  free(b.rope);
  free(b.probs);
  free(b.attn);
  free(b.qa);
  return st;
}
