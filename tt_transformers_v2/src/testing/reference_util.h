/*
 * reference_util.h — float64 helpers shared by the reference implementations (not installed).
 * Plain loops written for clarity; nothing here calls the optimized kernels.
 */
#ifndef TTT_REFERENCE_UTIL_H
#define TTT_REFERENCE_UTIL_H

#include <ttt.h>

/* Reads `n` values starting at flat index `first` of a tensor of any float dtype into dst,
 * element by element (q8_0, bf16, f16 dequantized exactly). */
void ttt_ref_read(const ttt_tensor *t, int64_t first, int64_t n, double *dst);

/* y[t, j] = Σ_i x[t, i] · w[j, i] (+ bias[j]) for T rows: w is [n_out, n_in] of any float dtype,
 * bias an optional [n_out] tensor (NULL or absent: none). Returns TTT_ERR_OUT_OF_MEMORY if the
 * row buffer cannot be allocated. */
ttt_status ttt_ref_linear(const ttt_tensor *w, const ttt_tensor *bias, const double *x, int64_t T,
                          int64_t n_in, int64_t n_out, double *y);

/* The activation functions in float64: silu, exact gelu (erf), gelu tanh approximation, relu. */
double ttt_ref_activation(ttt_activation act, double v);

#endif
