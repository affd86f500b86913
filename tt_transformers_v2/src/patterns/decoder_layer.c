/* Pre-norm decoder layer: h = x + attn(attention_norm(x)); out = h + ffn(ffn_norm(h)). */
#include <stdio.h>
#include <string.h>

#include "patterns_internal.h"
#include "runtime/runtime.h"

ttt_status ttt_decoder_layer_spec_validate(const ttt_decoder_layer_spec *spec) {
  if (!spec) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "decoder layer spec: NULL");
  ttt_status st = ttt_norm_spec_validate(&spec->attention_norm);
  if (st != TTT_OK) return ttt_error_prefix(st, "attention_norm");
  st = ttt_attention_spec_validate(&spec->attention);
  if (st != TTT_OK) return ttt_error_prefix(st, "attention");
  st = ttt_norm_spec_validate(&spec->ffn_norm);
  if (st != TTT_OK) return ttt_error_prefix(st, "ffn_norm");
  st = ttt_ffn_spec_validate(&spec->ffn);
  if (st != TTT_OK) return ttt_error_prefix(st, "ffn");
  int64_t hidden = spec->attention.hidden;
  int64_t ffn_hidden =
      spec->ffn.kind == TTT_FFN_MOE ? spec->ffn.moe.expert.hidden : spec->ffn.mlp.hidden;
  if (spec->attention_norm.dim != hidden || spec->ffn_norm.dim != hidden || ffn_hidden != hidden)
    return ttt_set_error(TTT_ERR_SHAPE,
                         "decoder layer spec: attention_norm.dim (%lld), ffn_norm.dim (%lld) and "
                         "ffn hidden (%lld) must equal attention.hidden (%lld)",
                         (long long)spec->attention_norm.dim, (long long)spec->ffn_norm.dim,
                         (long long)ffn_hidden, (long long)hidden);
  return TTT_OK;
}

ttt_status ttt_ffn_spec_validate(const ttt_ffn_spec *spec) {
  if (spec->kind == TTT_FFN_MLP) return ttt_mlp_spec_validate(&spec->mlp);
  if (spec->kind == TTT_FFN_MOE) return ttt_moe_spec_validate(&spec->moe);
  return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ffn spec: kind %d is neither MLP (0) nor MOE (1)",
                       (int)spec->kind);
}

ttt_ffn_impl_config ttt_ffn_default_impl_config(const ttt_device *device, ttt_mode mode,
                                                const ttt_ffn_spec *spec) {
  if (spec->kind == TTT_FFN_MOE) {
    ttt_moe_impl_config m = ttt_moe_default_impl_config(device, mode, &spec->moe);
    return (ttt_ffn_impl_config){m.weight_dtype, m.activation_dtype, m.kernel,
                                 m.threads,      m.fuse_gate_up,     m.group_by_expert};
  }
  ttt_mlp_impl_config m = ttt_mlp_default_impl_config(device, mode, &spec->mlp);
  return (ttt_ffn_impl_config){m.weight_dtype, m.activation_dtype, m.kernel,
                               m.threads,      m.fuse_gate_up,     false};
}

ttt_decoder_layer_impl_config
ttt_decoder_layer_default_impl_config(const ttt_device *device, ttt_mode mode,
                                      const ttt_decoder_layer_spec *spec) {
  return (ttt_decoder_layer_impl_config){
      .attention_norm = ttt_norm_default_impl_config(device, mode, &spec->attention_norm),
      .attention = ttt_attention_default_impl_config(device, mode, &spec->attention),
      .ffn_norm = ttt_norm_default_impl_config(device, mode, &spec->ffn_norm),
      .ffn = ttt_ffn_default_impl_config(device, mode, &spec->ffn),
  };
}

ttt_status ttt_ffn_forward(ttt_context *ctx, const ttt_ffn_spec *spec,
                           const ttt_ffn_impl_config *impl, const ttt_ffn_weights *weights,
                           const ttt_tensor *x, ttt_tensor *out) {
  if (spec->kind == TTT_FFN_MOE) {
    ttt_moe_impl_config moe = {impl->weight_dtype, impl->activation_dtype, impl->kernel,
                               impl->threads,      impl->fuse_gate_up,     impl->group_by_expert};
    return ttt_moe_forward(ctx, &spec->moe, &moe, &weights->moe, x, out);
  }
  ttt_mlp_impl_config mlp = {impl->weight_dtype, impl->activation_dtype, impl->kernel,
                             impl->threads, impl->fuse_gate_up};
  return ttt_mlp_forward(ctx, &spec->mlp, &mlp, &weights->mlp, x, out);
}

void ttt_observe(const ttt_observer *observer, const char *prefix, const char *name, ttt_mode mode,
                 int64_t start_pos, const ttt_tensor *input, const ttt_tensor *output) {
  if (!observer || !observer->fn) return;
  char path[96];
  if (prefix && name)
    snprintf(path, sizeof path, "%s.%s", prefix, name);
  else
    snprintf(path, sizeof path, "%s", prefix ? prefix : name ? name : "layer");
  ttt_module_event event = {path, mode, start_pos, input, output};
  observer->fn(observer->user, &event);
}

/* Restores the workspace and names the failing module in the error. */
static ttt_status layer_failure(ttt_context *ctx, ttt_scratch_mark mark, ttt_status st,
                                const char *path, const char *module) {
  ttt_scratch_restore(ctx, mark);
  return ttt_error_prefix(st, "%s.%s", path ? path : "layer", module);
}

static void add_rows(float *dst, const float *a, const float *b, int64_t n) {
  for (int64_t i = 0; i < n; i++) dst[i] = a[i] + b[i];
}

ttt_status ttt_decoder_layer_forward(ttt_context *ctx, ttt_mode mode,
                                     const ttt_decoder_layer_spec *spec,
                                     const ttt_decoder_layer_impl_config *impl,
                                     const ttt_decoder_layer_weights *weights, const ttt_rope *rope,
                                     ttt_kv_cache *cache, int64_t layer, const ttt_tensor *x,
                                     int64_t start_pos, ttt_tensor *out, const char *path,
                                     const ttt_observer *observer) {
  if (!ctx || !spec || !impl || !weights || !x || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "decoder layer: NULL argument");
  int64_t hidden = spec->attention.hidden;
  if (x->dtype != TTT_F32 || x->ndim != 2 || x->shape[1] != hidden || !x->data)
    return ttt_set_error(TTT_ERR_SHAPE, "decoder layer: x must be [T, %lld] f32",
                         (long long)hidden);
  if (out->dtype != TTT_F32 || out->ndim != 2 || out->shape[0] != x->shape[0] ||
      out->shape[1] != hidden || !out->data)
    return ttt_set_error(TTT_ERR_SHAPE, "decoder layer: out must be [%lld, %lld] f32",
                         (long long)x->shape[0], (long long)hidden);
  if (mode == TTT_MODE_DECODE && x->shape[0] != 1)
    return ttt_set_error(TTT_ERR_SHAPE, "decoder layer: decode takes one token, got %lld",
                         (long long)x->shape[0]);
  int64_t T = x->shape[0], n = T * hidden;
  ttt_scratch_mark mark = ttt_scratch_save(ctx);
  float *normed = ttt_scratch_alloc(ctx, (size_t)n * sizeof(float));
  float *branch = ttt_scratch_alloc(ctx, (size_t)n * sizeof(float));
  if (!normed || !branch) {
    ttt_scratch_restore(ctx, mark);
    return TTT_ERR_OUT_OF_MEMORY;
  }
  ttt_tensor normed_t = ttt_tensor_2d(TTT_F32, normed, T, hidden);
  ttt_tensor branch_t = ttt_tensor_2d(TTT_F32, branch, T, hidden);
  float *h = out->data; /* the residual stream lives in `out` from here on */

  ttt_status st = ttt_norm_forward(ctx, &spec->attention_norm, &impl->attention_norm,
                                   &weights->attention_norm, x, &normed_t);
  if (st != TTT_OK) return layer_failure(ctx, mark, st, path, "attention_norm");
  ttt_observe(observer, path, "attention_norm", mode, start_pos, x, &normed_t);

  st = mode == TTT_MODE_DECODE
           ? ttt_attention_decode_forward(ctx, &spec->attention, &impl->attention,
                                          &weights->attention, rope, cache, layer, &normed_t,
                                          start_pos, &branch_t)
           : ttt_attention_prefill_forward(ctx, &spec->attention, &impl->attention,
                                           &weights->attention, rope, cache, layer, &normed_t,
                                           start_pos, &branch_t);
  if (st != TTT_OK) return layer_failure(ctx, mark, st, path, "attention");
  ttt_observe(observer, path, "attention", mode, start_pos, &normed_t, &branch_t);
  add_rows(h, x->data, branch, n);

  st = ttt_norm_forward(ctx, &spec->ffn_norm, &impl->ffn_norm, &weights->ffn_norm, out, &normed_t);
  if (st != TTT_OK) return layer_failure(ctx, mark, st, path, "ffn_norm");
  ttt_observe(observer, path, "ffn_norm", mode, start_pos, out, &normed_t);

  st = ttt_ffn_forward(ctx, &spec->ffn, &impl->ffn, &weights->ffn, &normed_t, &branch_t);
  if (st != TTT_OK) return layer_failure(ctx, mark, st, path, "ffn");
  ttt_observe(observer, path, "ffn", mode, start_pos, &normed_t, &branch_t);
  add_rows(h, h, branch, n);
  ttt_observe(observer, path, NULL, mode, start_pos, x, out);
  ttt_scratch_restore(ctx, mark);
  return TTT_OK;
}
