/*
 * Spec validation of norm, embedding, MLP, MoE and LM head (every invalid field gets an error
 * naming it), the default impl configs per mode, and impl-config validation in the forwards.
 */
#include "block_test_util.h"

static void test_norm_spec(void) {
  ttt_norm_spec ok = {.type = TTT_NORM_RMS, .dim = 64, .eps = 1e-6f};
  CHECK_OK(ttt_norm_spec_validate(&ok));
  ttt_norm_spec layer = {.type = TTT_NORM_LAYER, .dim = 64, .eps = 1e-12f, .bias = true};
  CHECK_OK(ttt_norm_spec_validate(&layer));
  CHECK_ERR(ttt_norm_spec_validate(NULL), TTT_ERR_INVALID_ARGUMENT, "norm spec");
  ttt_norm_spec s = ok;
  s.dim = 0;
  CHECK_ERR(ttt_norm_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "dim (0) must be >= 1");
  s = ok;
  s.eps = 0.0f;
  CHECK_ERR(ttt_norm_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "eps (0)");
  s.eps = -1e-6f;
  CHECK_ERR(ttt_norm_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "eps");
  s.eps = NAN;
  CHECK_ERR(ttt_norm_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "eps");
  s.eps = INFINITY;
  CHECK_ERR(ttt_norm_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "eps");
  s = ok;
  s.type = (ttt_norm_type)2;
  CHECK_ERR(ttt_norm_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "type (2)");
  s = ok;
  s.bias = true;
  CHECK_ERR(ttt_norm_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "bias applies to LayerNorm");
  s = layer;
  s.weight_offset = true;
  CHECK_ERR(ttt_norm_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT,
            "weight_offset applies to RMSNorm");
}

static void test_embedding_spec(void) {
  ttt_embedding_spec ok = {.vocab = 100, .dim = 16};
  CHECK_OK(ttt_embedding_spec_validate(&ok));
  CHECK_ERR(ttt_embedding_spec_validate(NULL), TTT_ERR_INVALID_ARGUMENT, "embedding spec");
  ttt_embedding_spec s = ok;
  s.vocab = 0;
  CHECK_ERR(ttt_embedding_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "vocab (0)");
  s.vocab = (int64_t)INT32_MAX + 1;
  CHECK_ERR(ttt_embedding_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "int32 id range");
  s = ok;
  s.dim = -3;
  CHECK_ERR(ttt_embedding_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "dim (-3)");
  s = ok;
  s.scale = NAN;
  CHECK_ERR(ttt_embedding_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "scale");
}

static void test_mlp_spec(void) {
  ttt_mlp_spec ok = {.hidden = 64, .intermediate = 128, .activation = TTT_ACT_GELU_TANH};
  CHECK_OK(ttt_mlp_spec_validate(&ok));
  CHECK_ERR(ttt_mlp_spec_validate(NULL), TTT_ERR_INVALID_ARGUMENT, "mlp spec");
  ttt_mlp_spec s = ok;
  s.hidden = 0;
  CHECK_ERR(ttt_mlp_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "hidden (0)");
  s = ok;
  s.intermediate = 0;
  CHECK_ERR(ttt_mlp_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "intermediate (0)");
  s = ok;
  s.activation = (ttt_activation)4;
  CHECK_ERR(ttt_mlp_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "activation (4)");
  s.activation = (ttt_activation)-1;
  CHECK_ERR(ttt_mlp_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "activation (-1)");
}

static void test_moe_spec(void) {
  ttt_moe_spec ok = {
      .expert = {.hidden = 64, .intermediate = 32, .gated = true}, .n_experts = 8, .top_k = 2};
  CHECK_OK(ttt_moe_spec_validate(&ok));
  CHECK_ERR(ttt_moe_spec_validate(NULL), TTT_ERR_INVALID_ARGUMENT, "moe spec");
  ttt_moe_spec s = ok;
  s.top_k = 9;
  CHECK_ERR(ttt_moe_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT,
            "top_k (9) must be in [1, n_experts (8)]");
  s.top_k = 0;
  CHECK_ERR(ttt_moe_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "top_k (0)");
  s = ok;
  s.n_experts = TTT_MAX_EXPERTS + 1;
  CHECK_ERR(ttt_moe_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "n_experts (257)");
  s.n_experts = 0;
  CHECK_ERR(ttt_moe_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "n_experts (0)");
  s = ok;
  s.expert.intermediate = 0;
  CHECK_ERR(ttt_moe_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT,
            "moe spec: expert: mlp spec: intermediate (0)");
  s = ok;
  s.n_experts = TTT_MAX_EXPERTS;
  s.top_k = TTT_MAX_EXPERTS;
  CHECK_OK(ttt_moe_spec_validate(&s));
}

static void test_lm_head_spec(void) {
  ttt_lm_head_spec ok = {.hidden = 64, .vocab = 1000, .softcap = 30.0f};
  CHECK_OK(ttt_lm_head_spec_validate(&ok));
  CHECK_ERR(ttt_lm_head_spec_validate(NULL), TTT_ERR_INVALID_ARGUMENT, "lm_head spec");
  ttt_lm_head_spec s = ok;
  s.hidden = 0;
  CHECK_ERR(ttt_lm_head_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "hidden (0)");
  s = ok;
  s.vocab = 0;
  CHECK_ERR(ttt_lm_head_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "vocab (0)");
  s = ok;
  s.softcap = -1.0f;
  CHECK_ERR(ttt_lm_head_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "softcap (-1)");
  s.softcap = INFINITY;
  CHECK_ERR(ttt_lm_head_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "softcap");
  s = ok;
  s.scale = -0.5f;
  CHECK_ERR(ttt_lm_head_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "scale (-0.5)");
}

/* Decoder-layer topologies: enums in range, parallel residuals only with pre norms, the norms a
 * topology uses validated (and only those), the multiplier finite. */
static void test_decoder_layer_spec(void) {
  ttt_norm_spec rms = {.type = TTT_NORM_RMS, .dim = 64, .eps = 1e-6f};
  ttt_decoder_layer_spec ok = {
      .attention_norm = rms,
      .attention = {.hidden = 64, .n_heads = 4, .n_kv_heads = 2},
      .ffn_norm = rms,
      .ffn = {.kind = TTT_FFN_MLP, .mlp = {.hidden = 64, .intermediate = 128, .gated = true}}};
  CHECK_OK(ttt_decoder_layer_spec_validate(&ok));
  ttt_decoder_layer_spec s = ok;
  s.norm_placement = TTT_NORM_SANDWICH;
  CHECK_ERR(ttt_decoder_layer_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT,
            "post_attention_norm: norm spec: dim (0)");
  s.post_attention_norm = s.post_ffn_norm = rms;
  CHECK_OK(ttt_decoder_layer_spec_validate(&s));
  s.post_ffn_norm.dim = 32;
  CHECK_ERR(ttt_decoder_layer_spec_validate(&s), TTT_ERR_SHAPE, "post_ffn_norm.dim (32)");
  s = ok;
  s.norm_placement = TTT_NORM_POST;
  s.post_attention_norm = s.post_ffn_norm = rms;
  s.attention_norm = s.ffn_norm = (ttt_norm_spec){0}; /* unused by post placement */
  CHECK_OK(ttt_decoder_layer_spec_validate(&s));
  CHECK(!ttt_decoder_layer_uses_norm(&s, "attention_norm") &&
        ttt_decoder_layer_uses_norm(&s, "post_ffn_norm") &&
        !ttt_decoder_layer_uses_norm(&s, "norm"));
  s.residual = TTT_RESIDUAL_PARALLEL;
  CHECK_ERR(ttt_decoder_layer_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT,
            "residual parallel needs norm_placement pre, got post");
  s = ok;
  s.residual = TTT_RESIDUAL_PARALLEL;
  s.ffn_norm = (ttt_norm_spec){0}; /* unused by one-norm parallel */
  CHECK_OK(ttt_decoder_layer_spec_validate(&s));
  CHECK(!ttt_decoder_layer_uses_norm(&s, "ffn_norm"));
  s.residual = TTT_RESIDUAL_PARALLEL_TWO_NORMS;
  CHECK_ERR(ttt_decoder_layer_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "ffn_norm");
  s = ok;
  s.residual = (ttt_residual_topology)3;
  CHECK_ERR(ttt_decoder_layer_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "residual (3)");
  s = ok;
  s.norm_placement = (ttt_norm_placement)-1;
  CHECK_ERR(ttt_decoder_layer_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "norm_placement (-1)");
  s = ok;
  s.residual_multiplier = NAN;
  CHECK_ERR(ttt_decoder_layer_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "residual_multiplier");
}

/* The enum names the public API gives (ttt info prints them); out of range → "unknown". */
static void test_enum_names(void) {
  CHECK(strcmp(ttt_norm_type_name(TTT_NORM_LAYER), "layer") == 0);
  CHECK(strcmp(ttt_norm_placement_name(TTT_NORM_SANDWICH), "sandwich") == 0);
  CHECK(strcmp(ttt_residual_topology_name(TTT_RESIDUAL_PARALLEL_TWO_NORMS), "parallel_two_norms") ==
        0);
  CHECK(strcmp(ttt_qk_norm_name(TTT_QK_NORM_HEAD_WEIGHTS), "head_weights") == 0);
  CHECK(strcmp(ttt_rope_type_name(TTT_ROPE_LONGROPE), "longrope") == 0);
  CHECK(strcmp(ttt_activation_name(TTT_ACT_GELU_TANH), "gelu_tanh") == 0);
  CHECK(strcmp(ttt_ffn_kind_name(TTT_FFN_MOE), "moe") == 0);
  CHECK(strcmp(ttt_attention_algorithm_name(TTT_ATTENTION_TILED), "tiled") == 0);
  CHECK(strcmp(ttt_norm_type_name((ttt_norm_type)9), "unknown") == 0);
  CHECK(strcmp(ttt_rope_type_name((ttt_rope_type)-1), "unknown") == 0);
  CHECK(strcmp(ttt_qk_norm_name((ttt_qk_norm)4), "unknown") == 0);
  CHECK(strcmp(ttt_residual_topology_name((ttt_residual_topology)3), "unknown") == 0);
}

/* Defaults: SIMD kernels, f32 weights and activations (accuracy), fused gate/up in both modes;
 * MoE groups tokens by expert in prefill only. Invalid modes fall back to prefill. */
static void test_default_impl_configs(void) {
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 1));
  ttt_mlp_spec mlp = {.hidden = 64, .intermediate = 128, .gated = true};
  ttt_moe_spec moe = {.expert = mlp, .n_experts = 4, .top_k = 2};
  ttt_lm_head_spec head = {.hidden = 64, .vocab = 100};
  ttt_norm_spec norm = {.dim = 64, .eps = 1e-5f};
  ttt_embedding_spec emb = {.vocab = 100, .dim = 64};
  for (int mode = TTT_MODE_PREFILL; mode <= TTT_MODE_DECODE; mode++) {
    ttt_mlp_impl_config m = ttt_mlp_default_impl_config(&device, (ttt_mode)mode, &mlp);
    CHECK(m.weight_dtype == TTT_F32 && m.activation_dtype == TTT_F32);
    CHECK(m.kernel == TTT_KERNEL_SIMD && m.fuse_gate_up && m.threads == 0);
    ttt_moe_impl_config e = ttt_moe_default_impl_config(&device, (ttt_mode)mode, &moe);
    CHECK(e.weight_dtype == TTT_F32 && e.kernel == TTT_KERNEL_SIMD && e.fuse_gate_up);
    CHECK(e.group_by_expert == (mode == TTT_MODE_PREFILL));
    ttt_lm_head_impl_config h = ttt_lm_head_default_impl_config(&device, (ttt_mode)mode, &head);
    CHECK(h.weight_dtype == TTT_F32 && h.activation_dtype == TTT_F32 &&
          h.kernel == TTT_KERNEL_SIMD);
    CHECK(ttt_norm_default_impl_config(&device, (ttt_mode)mode, &norm).kernel == TTT_KERNEL_SIMD);
    CHECK(ttt_embedding_default_impl_config(&device, (ttt_mode)mode, &emb).weight_dtype == TTT_F32);
  }
  CHECK(ttt_moe_default_impl_config(NULL, (ttt_mode)7, &moe).group_by_expert);
}

/* Impl fields are validated with messages naming the field. */
static void test_impl_validation(void) {
  ttt_context *ctx = btu_context(1);
  CHECK(ctx != NULL);
  if (!ctx) return;
  float wdata[32 * 32] = {0}, x[32] = {0}, out[32];
  ttt_tensor w = ttt_tensor_2d(TTT_F32, wdata, 32, 32);
  ttt_mlp_spec spec = {.hidden = 32, .intermediate = 32};
  ttt_mlp_weights weights = {.up = w, .down = w};
  ttt_tensor tx = ttt_tensor_2d(TTT_F32, x, 1, 32), to = ttt_tensor_2d(TTT_F32, out, 1, 32);
  CHECK_OK(ttt_mlp_forward(ctx, &spec, NULL, &weights, &tx, &to));
  ttt_mlp_impl_config impl = {.weight_dtype = TTT_I32};
  CHECK_ERR(ttt_mlp_forward(ctx, &spec, &impl, &weights, &tx, &to), TTT_ERR_DTYPE,
            "mlp impl: weight_dtype i32");
  impl = (ttt_mlp_impl_config){.activation_dtype = TTT_BF16};
  CHECK_ERR(ttt_mlp_forward(ctx, &spec, &impl, &weights, &tx, &to), TTT_ERR_DTYPE,
            "mlp impl: activation_dtype bf16 needs weight_dtype bf16 (got f32)");
  impl = (ttt_mlp_impl_config){.activation_dtype = TTT_F16};
  CHECK_ERR(ttt_mlp_forward(ctx, &spec, &impl, &weights, &tx, &to), TTT_ERR_DTYPE,
            "mlp impl: activation_dtype f16 is not f32, q8_0 or bf16");
  uint16_t bf16_data[32 * 32] = {0}; /* bf16 activations run with bf16 weights */
  ttt_tensor wb = ttt_tensor_2d(TTT_BF16, bf16_data, 32, 32);
  ttt_mlp_weights bf16_weights = {.up = wb, .down = wb};
  impl = (ttt_mlp_impl_config){.weight_dtype = TTT_BF16, .activation_dtype = TTT_BF16};
  CHECK_OK(ttt_mlp_forward(ctx, &spec, &impl, &bf16_weights, &tx, &to));
  impl = (ttt_mlp_impl_config){.kernel = (ttt_kernel)5};
  CHECK_ERR(ttt_mlp_forward(ctx, &spec, &impl, &weights, &tx, &to), TTT_ERR_INVALID_ARGUMENT,
            "mlp impl: kernel 5");
  ttt_lm_head_spec head = {.hidden = 32, .vocab = 32};
  ttt_lm_head_weights hw = {.weight = w};
  ttt_lm_head_impl_config himpl = {.weight_dtype = TTT_F32, .activation_dtype = TTT_Q8_0};
  CHECK_ERR(ttt_lm_head_forward(ctx, &head, &himpl, &hw, &tx, false, &to), TTT_ERR_DTYPE,
            "lm_head impl: activation_dtype q8_0 needs weight_dtype q8_0");
  ttt_context_destroy(ctx);
}

int main(void) {
  TTT_RUN(test_norm_spec);
  TTT_RUN(test_embedding_spec);
  TTT_RUN(test_mlp_spec);
  TTT_RUN(test_moe_spec);
  TTT_RUN(test_lm_head_spec);
  TTT_RUN(test_decoder_layer_spec);
  TTT_RUN(test_enum_names);
  TTT_RUN(test_default_impl_configs);
  TTT_RUN(test_impl_validation);
  return ttt_test_finish();
}
