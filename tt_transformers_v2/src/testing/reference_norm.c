/* Float64 reference of RMSNorm / LayerNorm over the last dim. */
#include <math.h>

#include "building_blocks/block_util.h"
#include "reference_util.h"

ttt_status ttt_reference_norm(const ttt_norm_spec *spec, const ttt_norm_weights *weights,
                              const double *x, int64_t rows, double *out) {
  ttt_status st = ttt_norm_spec_validate(spec);
  if (st != TTT_OK) return st;
  if (!weights || !x || !out || rows < 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "reference norm: NULL argument or rows < 0");
  st = ttt_block_check_vector(&weights->weight, "norm.weight", TTT_DTYPE_DEFAULT, spec->dim);
  if (st == TTT_OK && spec->bias)
    st = ttt_block_check_vector(&weights->bias, "norm.bias", TTT_DTYPE_DEFAULT, spec->dim);
  if (st != TTT_OK) return st;

  int64_t n = spec->dim;
  for (int64_t r = 0; r < rows; r++) {
    const double *xr = x + r * n;
    double *yr = out + r * n;
    double mean = 0.0;
    if (spec->type == TTT_NORM_LAYER) {
      for (int64_t i = 0; i < n; i++) mean += xr[i];
      mean /= (double)n;
    }
    double var = 0.0; /* RMSNorm: mean square (mean is 0); LayerNorm: biased variance */
    for (int64_t i = 0; i < n; i++) var += (xr[i] - mean) * (xr[i] - mean);
    var /= (double)n;
    double inv = 1.0 / sqrt(var + (double)spec->eps);
    for (int64_t i = 0; i < n; i++) {
      double w = ttt_tensor_get(&weights->weight, i);
      if (spec->weight_offset) w += 1.0;
      double b = spec->bias ? ttt_tensor_get(&weights->bias, i) : 0.0;
      yr[i] = (xr[i] - mean) * inv * w + b;
    }
  }
  return TTT_OK;
}
