/* StableLM (StableLmForCausalLM): Llama's names with LayerNorm (with bias), partial rotary,
 * q/k/v biases with `use_qkv_bias`, attention and MLP in parallel from one norm with
 * `use_parallel_residual`. Per-head q/k LayerNorms (`qk_layernorm`, one module per head) are
 * refused. */
#include "hf_arch.h"

static ttt_status parse_stablelm(const hf_scope *sc, ttt_hf_config *cfg) {
  bool qkv_bias, parallel, qk_layernorm;
  HF_TRY(hf_get_bool(sc, "use_qkv_bias", false, &qkv_bias));
  cfg->q_bias = cfg->k_bias = cfg->v_bias = qkv_bias;
  HF_TRY(hf_get_bool(sc, "use_parallel_residual", false, &parallel));
  cfg->residual = parallel ? TTT_RESIDUAL_PARALLEL : TTT_RESIDUAL_SEQUENTIAL;
  HF_TRY(hf_get_bool(sc, "qk_layernorm", false, &qk_layernorm));
  if (qk_layernorm)
    return ttt_set_error(TTT_ERR_UNSUPPORTED,
                         "%s: stablelm with qk_layernorm is not supported (supported: "
                         "qk_layernorm false)",
                         sc->src);
  return TTT_OK;
}

static const ttt_hf_config base = {
    .mlp_gated = true, .norm_type = TTT_NORM_LAYER, .norm_bias = true};
static const hf_alias aliases[] = {{"rms_norm_eps", {"layer_norm_eps"}}, {.key = NULL}};
static const hf_default defaults[] = {HF_NUM("bos_token_id", 0), HF_NUM("eos_token_id", 0),
                                      HF_NUM("rms_norm_eps", 1e-5),
                                      HF_NUM("partial_rotary_factor", 0.25), HF_DEFAULTS_END};

const hf_arch hf_arch_stablelm = {
    .model_type = "stablelm",
    .base = &base,
    .aliases = aliases,
    .defaults = defaults,
    .weights = {HF_LLAMA_WEIGHTS},
    .modules = {hf_llama_modules},
    .ignored = hf_decoder_ignored,
    .parse = parse_stablelm,
};
