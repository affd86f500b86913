/* Float64 helpers for the reference implementations: weight reads, a plain linear layer, and the
 * activation functions. */
#include <math.h>
#include <stdlib.h>

#include "reference_util.h"

void ttt_ref_read(const ttt_tensor *t, int64_t first, int64_t n, double *dst) {
  if (t->dtype == TTT_F32) { /* the common case, read directly (ttt_tensor_get is per element) */
    const float *src = (const float *)t->data + first;
    for (int64_t i = 0; i < n; i++) dst[i] = src[i];
    return;
  }
  for (int64_t i = 0; i < n; i++) dst[i] = ttt_tensor_get(t, first + i);
}

ttt_status ttt_ref_linear(const ttt_tensor *w, const ttt_tensor *bias, const double *x, int64_t T,
                          int64_t n_in, int64_t n_out, double *y) {
  /* One weight row at a time, read once and used for every token. */
  double *row = malloc((size_t)n_in * sizeof(double));
  if (!row) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "reference linear: out of memory");
  bool has_bias = bias && bias->data;
  for (int64_t j = 0; j < n_out; j++) {
    ttt_ref_read(w, j * n_in, n_in, row);
    double b = has_bias ? ttt_tensor_get(bias, j) : 0.0;
    for (int64_t t = 0; t < T; t++) {
      const double *xt = x + t * n_in;
      double acc = 0.0;
      for (int64_t i = 0; i < n_in; i++) acc += xt[i] * row[i];
      y[t * n_out + j] = acc + b;
    }
  }
  free(row);
  return TTT_OK;
}

double ttt_ref_activation(ttt_activation act, double v) {
  switch (act) {
  case TTT_ACT_SILU:
    return v / (1.0 + exp(-v));
  case TTT_ACT_GELU:
    return 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
  case TTT_ACT_GELU_TANH:
    return 0.5 * v * (1.0 + tanh(sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
  case TTT_ACT_RELU:
    return v > 0.0 ? v : 0.0;
  }
  return NAN;
}
