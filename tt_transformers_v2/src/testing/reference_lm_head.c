/* Float64 reference of the LM head: logits = (x · Wᵀ (+ b)) · scale, then
 * softcap · tanh(logits / softcap). */
#include <math.h>

#include "building_blocks/block_util.h"
#include "reference_util.h"

ttt_status ttt_reference_lm_head(const ttt_lm_head_spec *spec, const ttt_lm_head_weights *weights,
                                 const double *x, int64_t T, double *out) {
  ttt_status st = ttt_lm_head_spec_validate(spec);
  if (st != TTT_OK) return st;
  if (!weights || !x || !out || T < 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "reference lm_head: NULL argument or T < 0");
  st = ttt_block_check_matrix(&weights->weight, "lm_head.weight", TTT_DTYPE_DEFAULT, spec->vocab,
                              spec->hidden);
  if (st == TTT_OK)
    st = ttt_block_check_optional(&weights->bias, "lm_head.bias", spec->bias, "spec.bias");
  if (st == TTT_OK && spec->bias)
    st = ttt_block_check_vector(&weights->bias, "lm_head.bias", TTT_DTYPE_DEFAULT, spec->vocab);
  if (st != TTT_OK) return st;

  st = ttt_ref_linear(&weights->weight, spec->bias ? &weights->bias : NULL, x, T, spec->hidden,
                      spec->vocab, out);
  if (st != TTT_OK) return st;
  double scale = spec->scale != 0.0f ? spec->scale : 1.0;
  for (int64_t i = 0; i < T * spec->vocab; i++) out[i] *= scale;
  if (spec->softcap == 0.0f) return TTT_OK;
  double cap = spec->softcap;
  for (int64_t i = 0; i < T * spec->vocab; i++) out[i] = cap * tanh(out[i] / cap);
  return TTT_OK;
}
