/*
 * MLP epilogue kernels (kernels.h: ttt_activation_fn), every variant the machine has, against the
 * activations' definitions in float64: plain and gated, every tail length up to 40 and a dense
 * sweep over [-120, 120] (where e^±x under- and overflows), NaN propagation, and guard pages after
 * the inputs and outputs. Tolerance: 1e-6 relative (f32 exp, one division), or 1e-30 absolute
 * where the result underflows towards 0 (plus, for the portable erf/tanh formulas, the rounding
 * of 1 + erf / 1 + tanh described below, and for the vectorized erf-GELU the rounding of z²).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_test_util.h"

static const kernel_variant variants[] = {
    {"activation_ref", ~0u, TTT_KERNEL_REFERENCE, 0},
    {"activation_avx2", ISA_AVX2, TTT_KERNEL_SIMD, ISA_AVX2},
    {"activation_avx512", ~0u, TTT_KERNEL_DEFAULT, ISA_AVX512},
};

static const ttt_activation activations[] = {TTT_ACT_SILU, TTT_ACT_GELU, TTT_ACT_GELU_TANH,
                                             TTT_ACT_RELU};

static double exact(ttt_activation act, double x) {
  switch (act) {
  case TTT_ACT_SILU:
    return x / (1.0 + exp(-x));
  case TTT_ACT_GELU: /* 1 + erf(x/√2) = erfc(-x/√2), without the cancellation for x < 0 */
    return 0.5 * x * erfc(-x / sqrt(2.0));
  case TTT_ACT_GELU_TANH: /* x/2·(1 + tanh y) = x / (1 + e^-2y), without 1 + tanh's cancellation */
    return x / (1.0 + exp(-2.0 * sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
  case TTT_ACT_RELU:
    return x > 0.0 ? x : 0.0;
  }
  return NAN;
}

static void check_values(ttt_activation_fn *fn, const char *name, ttt_activation act,
                         const float *in, const float *gate_in, int64_t n) {
  guarded xmem = guarded_alloc((size_t)n * sizeof(float));
  guarded gmem = guarded_alloc((size_t)n * sizeof(float));
  float *x = xmem.data, *gate = gmem.data;
  memcpy(x, in, (size_t)n * sizeof(float));
  if (gate_in) memcpy(gate, gate_in, (size_t)n * sizeof(float));
  fn(act, gate_in ? gate : NULL, x, n);
  for (int64_t i = 0; i < n; i++) {
    double a = gate_in ? gate_in[i] : in[i];
    double want = exact(act, a) * (gate_in ? (double)in[i] : 1.0);
    /* The portable erf/tanh formulas compute 1 + erf or 1 + tanh, which cancels for negative
     * inputs: they may err by one f32 rounding of a value of order |a|·|x| where the result is
     * tiny. The vectorized ones (x / (1 + e^-2y), and erfc(-x/√2) from its fit: stable) get the
     * strict bound. */
    bool cancels = (act == TTT_ACT_GELU || act == TTT_ACT_GELU_TANH) && fn == ttt_activation_ref;
    /* tanh-GELU's exp argument 2y = 2·√(2/π)·(a + 0.044715·a³) is rounded to f32 (two roundings),
     * which e^2y turns into a relative error of ~2.4e-7·|2y|. */
    double two_y = 2.0 * sqrt(2.0 / M_PI) * (a + 0.044715 * a * a * a);
    double relative = 1e-6 + (act == TTT_ACT_GELU_TANH ? 2.4e-7 * fabs(two_y) : 0.0);
    /* erf-GELU's vectorized erfc: the fit's 1.1e-7, and e^(-z² + P) with z = |a|/√2 rounded to
     * f32 (2 · 6e-8 relative in z²), z² rounded and the exponent's sum rounded (6e-8 of z² each):
     * e^ turns those into a relative error of ~2.4e-7 · z². */
    if (act == TTT_ACT_GELU && fn != ttt_activation_ref) relative = 1e-6 + 2.5e-7 * a * a / 2.0;
    double slack = relative * fabs(want) +
                   (cancels ? 6e-8 * fabs(a) * (gate_in ? fabs((double)in[i]) : 1.0) : 0.0);
    bool ok = isnan(want) ? isnan(x[i]) : fabs(x[i] - want) <= slack || fabs(x[i] - want) <= 1e-30;
    CHECK_MSG(ok, "%s act %d %s: f(%.9g) = %.9g, expected %.9g", name, (int)act,
              gate_in ? "gated" : "plain", a, (double)x[i], want);
    if (!ok) break;
  }
  guarded_free(&xmem);
  guarded_free(&gmem);
}

static void test_activations(void) {
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 1));
  enum { SWEEP = 4801, SHORT = 40 };
  static float sweep[SWEEP], ones[SWEEP], values[SWEEP];
  for (int i = 0; i < SWEEP; i++) {
    sweep[i] = -120.0f + 240.0f * (float)i / (SWEEP - 1);
    ones[i] = 1.0f;
    values[i] = 0.5f + 0.001f * (float)(i % 97);
  }
  float special[SHORT];
  for (int i = 0; i < SHORT; i++) special[i] = (i % 2 ? -1.0f : 1.0f) * 0.37f * (float)(i * i % 23);
  special[5] = NAN;
  special[6] = 0.0f;
  special[7] = -0.0f;
  special[8] = 1e-30f;
  for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
    ttt_device masked;
    if (!kernel_variant_device(&variants[v], &device, &masked)) continue;
    const char *name = NULL;
    ttt_activation_fn *fn = ttt_activation_kernel_select(&masked, variants[v].kernel, &name);
    CHECK_MSG(strcmp(name, variants[v].name) == 0, "selected %s, expected %s", name,
              variants[v].name);
    for (size_t a = 0; a < sizeof activations / sizeof activations[0]; a++) {
      for (int64_t n = 1; n <= SHORT; n++) { /* every tail length */
        check_values(fn, name, activations[a], special, NULL, n);
        check_values(fn, name, activations[a], values, special, n);
      }
      check_values(fn, name, activations[a], sweep, NULL, SWEEP);
      check_values(fn, name, activations[a], ones, sweep, SWEEP);
      check_values(fn, name, activations[a], values, sweep, SWEEP);
    }
  }
  const char *name = NULL;
  ttt_activation_kernel_select(NULL, TTT_KERNEL_DEFAULT, &name);
  CHECK_MSG(strcmp(name, "activation_ref") == 0, "no device: %s", name);
}

int main(void) {
  TTT_RUN(test_activations);
  return ttt_test_finish();
}
