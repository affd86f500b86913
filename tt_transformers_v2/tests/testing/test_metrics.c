/* Metrics: PCC semantics (NaN, zeros, constants), errors, allclose, NMSE, logits agreement. */
#include <math.h>

#include "ttt_test.h"

static ttt_tensor vec(float *x, int64_t n) { return ttt_tensor_1d(TTT_F32, x, n); }

static void test_pcc_special_cases(void) {
  float nan_a[3] = {NAN, NAN, NAN}, nan_b[3] = {NAN, NAN, NAN}, values[3] = {1, 2, 3};
  float zeros[3] = {0, 0, 0}, partial_nan[3] = {1, NAN, 3};
  ttt_tensor a = vec(nan_a, 3), b = vec(nan_b, 3), v = vec(values, 3), z = vec(zeros, 3);
  ttt_tensor p = vec(partial_nan, 3);
  CHECK(ttt_pcc(&a, &b) == 1.0);
  CHECK(ttt_pcc(&a, &v) == 0.0);
  CHECK(ttt_pcc(&v, &a) == 0.0);
  CHECK(ttt_pcc(&v, &v) == 1.0);
  CHECK(ttt_pcc(&z, &v) == 0.0);
  CHECK(ttt_pcc(&v, &z) == 0.0);
  CHECK(ttt_pcc(&z, &z) == 1.0);
  CHECK(ttt_pcc(&p, &v) == 0.0); /* NaN in one tensor only */
}

static void test_pcc_constant_tensors_compare_by_closeness(void) {
  float c1[4] = {2, 2, 2, 2}, c2[4] = {2, 2, 2, 2.0000001f}, c3[4] = {3, 3, 3, 3};
  ttt_tensor a = vec(c1, 4), b = vec(c2, 4), c = vec(c3, 4);
  CHECK(ttt_pcc(&a, &b) == 1.0);
  CHECK(ttt_pcc(&a, &c) == 0.0);
}

static void test_pcc_values(void) {
  float x[4] = {1, 2, 3, 4}, neg[4] = {4, 3, 2, 1}, scaled[4] = {2, 4, 6, 8.5f};
  ttt_tensor a = vec(x, 4), b = vec(neg, 4), c = vec(scaled, 4);
  CHECK(fabs(ttt_pcc(&a, &b) + 1.0) < 1e-12);
  /* Hand-computed: x = 1..4, y = 2, 4, 6, 8.5 → cov 7.125, var_x 5, var_y 22.1875·... */
  double mx = 2.5, my = 5.125, cov = 0, vx = 0, vy = 0;
  for (int i = 0; i < 4; i++) {
    cov += (x[i] - mx) * (scaled[i] - my);
    vx += (x[i] - mx) * (x[i] - mx);
    vy += (scaled[i] - my) * (scaled[i] - my);
  }
  CHECK(fabs(ttt_pcc(&a, &c) - cov / sqrt(vx * vy)) < 1e-12);
  CHECK(ttt_pcc(&a, &c) < 1.0);
}

static void test_pcc_rejects_mismatched_sizes(void) {
  float x[4] = {1, 2, 3, 4};
  ttt_tensor a = vec(x, 4), b = vec(x, 3);
  CHECK(isnan(ttt_pcc(&a, &b)));
  CHECK(ttt_test_contains(ttt_last_error(), "4 values vs 3"));
}

static void test_compare_errors_and_allclose(void) {
  float actual[4] = {1.0f, 2.1f, 3.0f, -4.0f}, expected[4] = {1.0f, 2.0f, 3.0f, -4.5f};
  ttt_tensor a = vec(actual, 4), e = vec(expected, 4);
  ttt_compare_result r;
  CHECK_OK(ttt_compare(&a, &e, NULL, 0.2, 0.0, &r));
  CHECK(r.count == 4);
  CHECK(fabs(r.max_abs_err - 0.5) < 1e-6);
  CHECK(fabs(r.mean_abs_err - 0.15) < 1e-6);
  CHECK(!r.allclose);
  CHECK(r.worst_index == 3);
  CHECK(r.worst_expected == -4.5);
  double sq_err = 0.01 + 0.25, sq_b = 1 + 4 + 9 + 20.25;
  CHECK(fabs(r.nmse - sq_err / sq_b) < 1e-6);
  CHECK_OK(ttt_compare(&a, &e, NULL, 0.0, 0.12, &r)); /* 0.5 <= 0.12·4.5 and 0.1 <= 0.12·2 */
  CHECK(r.allclose);
  uint8_t mask[4] = {1, 1, 1, 0};
  CHECK_OK(ttt_compare(&a, &e, mask, 0.11, 0.0, &r));
  CHECK(r.count == 3 && r.allclose);
  CHECK(fabs(r.max_abs_err - 0.1) < 1e-6);
}

static void test_compare_mixed_dtypes(void) {
  float a[3] = {1.5f, -2.25f, 3.0f};
  double b[3] = {1.5, -2.25, 3.0};
  uint16_t h[3] = {ttt_f32_to_bf16(1.5f), ttt_f32_to_bf16(-2.25f), ttt_f32_to_bf16(3.0f)};
  ttt_tensor ta = vec(a, 3), tb = ttt_tensor_1d(TTT_F64, b, 3), th = ttt_tensor_1d(TTT_BF16, h, 3);
  ttt_compare_result r;
  CHECK_OK(ttt_compare(&ta, &tb, NULL, 0, 0, &r));
  CHECK(r.allclose && r.max_abs_err == 0.0 && r.pcc == 1.0);
  CHECK_OK(ttt_compare(&th, &tb, NULL, 0, 0, &r));
  CHECK(r.allclose);
  int64_t ids[3] = {1, 2, 3};
  ttt_tensor ti = ttt_tensor_1d(TTT_I64, ids, 3);
  CHECK_ERR(ttt_compare(&ti, &tb, NULL, 0, 0, &r), TTT_ERR_DTYPE, "float tensors expected");
}

static void test_logits_agreement_and_kl(void) {
  /* Row 0: same argmax (2); row 1: expected argmax 0 is actual's 2nd; row 2: identical rows. */
  float actual[3 * 6] = {0, 1, 5, 2, 0, 0, /**/ 4, 5, 0, 0, 0, 0, /**/ 1, 2, 3, 4, 5, 6};
  float expected[3 * 6] = {0, 1, 4, 2, 0, 0, /**/ 5, 4, 0, 0, 0, 0, /**/ 1, 2, 3, 4, 5, 6};
  ttt_tensor a = ttt_tensor_2d(TTT_F32, actual, 3, 6), e = ttt_tensor_2d(TTT_F32, expected, 3, 6);
  ttt_logits_result r;
  CHECK_OK(ttt_compare_logits(&a, &e, &r));
  CHECK(r.rows == 3);
  CHECK(fabs(r.top1_agreement - 2.0 / 3.0) < 1e-12);
  CHECK(r.top5_agreement == 1.0);
  CHECK(r.mean_kl > 0.0 && r.max_kl > r.mean_kl);
  ttt_logits_result same;
  CHECK_OK(ttt_compare_logits(&e, &e, &same));
  CHECK(same.top1_agreement == 1.0 && same.max_kl < 1e-12);
}

int main(void) {
  TTT_RUN(test_pcc_special_cases);
  TTT_RUN(test_pcc_constant_tensors_compare_by_closeness);
  TTT_RUN(test_pcc_values);
  TTT_RUN(test_pcc_rejects_mismatched_sizes);
  TTT_RUN(test_compare_errors_and_allclose);
  TTT_RUN(test_compare_mixed_dtypes);
  TTT_RUN(test_logits_agreement_and_kl);
  return ttt_test_finish();
}
