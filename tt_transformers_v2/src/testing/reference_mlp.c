/* Float64 reference of the MLP: plain down(act(up x)) or gated down(act(gate x) * up x). */
#include <stdlib.h>

#include "building_blocks/block_util.h"
#include "building_blocks/ffn_internal.h"
#include "reference_util.h"

ttt_status ttt_reference_mlp(const ttt_mlp_spec *spec, const ttt_mlp_weights *weights,
                             const double *x, int64_t T, double *out) {
  ttt_status st = ttt_mlp_spec_validate(spec);
  if (st != TTT_OK) return st;
  if (!weights || !x || !out || T < 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "reference mlp: NULL argument or T < 0");
  st = ttt_mlp_check_weights(spec, TTT_DTYPE_DEFAULT, weights, "mlp", -1);
  if (st != TTT_OK || T == 0) return st;

  int64_t H = spec->hidden, N = spec->intermediate;
  double *up = malloc((size_t)(T * N) * sizeof(double));
  double *gate = spec->gated ? malloc((size_t)(T * N) * sizeof(double)) : NULL;
  if (!up || (spec->gated && !gate)) {
    st = ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "reference mlp: out of memory");
  } else {
    st = ttt_ref_linear(&weights->up, &weights->up_bias, x, T, H, N, up);
    if (st == TTT_OK && spec->gated)
      st = ttt_ref_linear(&weights->gate, &weights->gate_bias, x, T, H, N, gate);
  }
  if (st == TTT_OK) {
    for (int64_t i = 0; i < T * N; i++)
      up[i] = spec->gated ? ttt_ref_activation(spec->activation, gate[i]) * up[i]
                          : ttt_ref_activation(spec->activation, up[i]);
    st = ttt_ref_linear(&weights->down, &weights->down_bias, up, T, N, H, out);
  }
  free(up);
  free(gate);
  return st;
}
