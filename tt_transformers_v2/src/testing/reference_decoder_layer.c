/*
 * Float64 reference of a decoder layer over one whole sequence (positions 0..T-1), written as the
 * formulas of each topology (see ttt_norm_placement and ttt_residual_topology in patterns.h), with
 * the blocks' float64 references for the norms, attention and feed-forward.
 */
#include <stdlib.h>

#include <ttt.h>

static ttt_status ffn(const ttt_ffn_spec *s, const ttt_ffn_weights *w, const double *x, int64_t T,
                      double *out) {
  if (s->kind == TTT_FFN_MOE) return ttt_reference_moe(&s->moe, &w->moe, x, T, out);
  return ttt_reference_mlp(&s->mlp, &w->mlp, x, T, out);
}

static ttt_status attention(const ttt_decoder_layer_spec *s, const ttt_decoder_layer_weights *w,
                            const double *x, int64_t T, double *out) {
  if (s->attention_kind == TTT_ATTENTION_KIND_MLA)
    return ttt_reference_mla(&s->mla, &w->mla, x, T, out);
  return ttt_reference_attention(&s->attention, &w->attention, x, 1, T, NULL, out);
}

static int64_t hidden_of(const ttt_decoder_layer_spec *s) {
  return s->attention_kind == TTT_ATTENTION_KIND_MLA ? s->mla.hidden : s->attention.hidden;
}

/* SEQUENTIAL: h = x + m·[post_attention_norm](attn([attention_norm](x)));
 *             out = h + m·[post_ffn_norm](ffn([ffn_norm](h))) — pre norms unless POST placement,
 *             post norms with POST and SANDWICH. */
static ttt_status sequential(const ttt_decoder_layer_spec *s, const ttt_decoder_layer_weights *w,
                             const double *x, int64_t T, double m, double *a, double *b,
                             double *out) {
  int64_t n = T * hidden_of(s);
  bool pre = s->norm_placement == TTT_NORM_PRE || s->norm_placement == TTT_NORM_SANDWICH;
  bool post = s->norm_placement == TTT_NORM_POST || s->norm_placement == TTT_NORM_SANDWICH;
  ttt_status st = TTT_OK;
  const double *in = x;
  if (pre) {
    st = ttt_reference_norm(&s->attention_norm, &w->attention_norm, x, T, a);
    in = a;
  }
  if (st == TTT_OK) st = attention(s, w, in, T, b);
  if (st == TTT_OK && post)
    st = ttt_reference_norm(&s->post_attention_norm, &w->post_attention_norm, b, T, b);
  if (st != TTT_OK) return st;
  for (int64_t i = 0; i < n; i++) out[i] = x[i] + m * b[i];
  in = out;
  if (pre) {
    st = ttt_reference_norm(&s->ffn_norm, &w->ffn_norm, out, T, a);
    in = a;
  }
  if (st == TTT_OK) st = ffn(&s->ffn, &w->ffn, in, T, b);
  if (st == TTT_OK && post) st = ttt_reference_norm(&s->post_ffn_norm, &w->post_ffn_norm, b, T, b);
  if (st != TTT_OK) return st;
  for (int64_t i = 0; i < n; i++) out[i] += m * b[i];
  return TTT_OK;
}

/* PARALLEL: out = x + m·(attn(attention_norm(x)) + ffn(attention_norm(x)));
 * PARALLEL_TWO_NORMS: out = x + m·(attn(attention_norm(x)) + ffn(ffn_norm(x))). */
static ttt_status parallel(const ttt_decoder_layer_spec *s, const ttt_decoder_layer_weights *w,
                           const double *x, int64_t T, double m, double *a, double *b,
                           double *out) {
  int64_t n = T * hidden_of(s);
  ttt_status st = ttt_reference_norm(&s->attention_norm, &w->attention_norm, x, T, a);
  if (st == TTT_OK) st = attention(s, w, a, T, b);
  if (st != TTT_OK) return st;
  for (int64_t i = 0; i < n; i++) out[i] = x[i] + m * b[i];
  if (s->residual == TTT_RESIDUAL_PARALLEL_TWO_NORMS)
    st = ttt_reference_norm(&s->ffn_norm, &w->ffn_norm, x, T, a);
  if (st == TTT_OK) st = ffn(&s->ffn, &w->ffn, a, T, b);
  if (st != TTT_OK) return st;
  for (int64_t i = 0; i < n; i++) out[i] += m * b[i];
  return TTT_OK;
}

ttt_status ttt_reference_decoder_layer(const ttt_decoder_layer_spec *spec,
                                       const ttt_decoder_layer_weights *weights, const double *x,
                                       int64_t T, double *out) {
  ttt_status st = ttt_decoder_layer_spec_validate(spec);
  if (st != TTT_OK) return st;
  if (!weights || !x || !out || T < 1 || out == x)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "reference decoder layer: NULL argument, T < 1 or out aliasing x");
  size_t n = (size_t)(T * hidden_of(spec));
  double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double));
  if (!a || !b) {
    free(a);
    free(b);
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "reference decoder layer: out of memory");
  }
  double m = spec->residual_multiplier != 0.0f ? spec->residual_multiplier : 1.0;
  st = spec->residual == TTT_RESIDUAL_SEQUENTIAL ? sequential(spec, weights, x, T, m, a, b, out)
                                                 : parallel(spec, weights, x, T, m, a, b, out);
  free(a);
  free(b);
  return st;
}
