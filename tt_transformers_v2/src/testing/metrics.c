/* Comparison metrics, accumulated in float64: PCC, errors, allclose, NMSE, cosine, logits
 * agreement. */
#include <math.h>
#include <stdlib.h>

#include <ttt.h>

static bool is_float_dtype(ttt_dtype d) {
  return d == TTT_F32 || d == TTT_F64 || d == TTT_F16 || d == TTT_BF16 || d == TTT_Q8_0 ||
         d == TTT_Q4_0;
}

static ttt_status check_pair(const ttt_tensor *a, const ttt_tensor *b, const char *what) {
  ttt_status st = ttt_tensor_check(a, what);
  if (st != TTT_OK) return st;
  st = ttt_tensor_check(b, what);
  if (st != TTT_OK) return st;
  if (!is_float_dtype(a->dtype) || !is_float_dtype(b->dtype))
    return ttt_set_error(TTT_ERR_DTYPE, "%s: float tensors expected, got %s and %s", what,
                         ttt_dtype_name(a->dtype), ttt_dtype_name(b->dtype));
  if (ttt_tensor_numel(a) != ttt_tensor_numel(b))
    return ttt_set_error(TTT_ERR_SHAPE, "%s: %lld values vs %lld values", what,
                         (long long)ttt_tensor_numel(a), (long long)ttt_tensor_numel(b));
  return TTT_OK;
}

typedef struct nan_census {
  int64_t nan_a, nan_b, mismatched;
} nan_census;

static nan_census count_nans(const ttt_tensor *a, const ttt_tensor *b, int64_t n) {
  nan_census c = {0, 0, 0};
  for (int64_t i = 0; i < n; i++) {
    bool na = isnan(ttt_tensor_get(a, i)), nb = isnan(ttt_tensor_get(b, i));
    c.nan_a += na;
    c.nan_b += nb;
    c.mismatched += na != nb;
  }
  return c;
}

/* Constant tensors have no variance: compare them by closeness instead. */
static double constant_pcc(const ttt_tensor *a, const ttt_tensor *b, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    double x = ttt_tensor_get(a, i), y = ttt_tensor_get(b, i);
    if (isnan(x) && isnan(y)) continue;
    if (fabs(x - y) > 1e-6 + 1e-4 * fabs(y)) return 0.0;
  }
  return 1.0;
}

double ttt_pcc(const ttt_tensor *a, const ttt_tensor *b) {
  if (check_pair(a, b, "ttt_pcc") != TTT_OK) return NAN;
  int64_t n = ttt_tensor_numel(a);
  nan_census nans = count_nans(a, b, n);
  if (nans.nan_a == n && nans.nan_b == n) return 1.0;
  if (nans.nan_a == n || nans.nan_b == n || nans.mismatched > 0) return 0.0;

  double mean_a = 0, mean_b = 0;
  int64_t count = 0;
  bool identical = true, zero_a = true, zero_b = true;
  for (int64_t i = 0; i < n; i++) {
    double x = ttt_tensor_get(a, i), y = ttt_tensor_get(b, i);
    if (isnan(x)) continue;
    identical &= x == y;
    zero_a &= x == 0.0;
    zero_b &= y == 0.0;
    mean_a += x;
    mean_b += y;
    count++;
  }
  if (identical) return 1.0;
  if (zero_a != zero_b) return 0.0;
  mean_a /= (double)count;
  mean_b /= (double)count;
  double cov = 0, var_a = 0, var_b = 0;
  for (int64_t i = 0; i < n; i++) {
    double x = ttt_tensor_get(a, i), y = ttt_tensor_get(b, i);
    if (isnan(x)) continue;
    cov += (x - mean_a) * (y - mean_b);
    var_a += (x - mean_a) * (x - mean_a);
    var_b += (y - mean_b) * (y - mean_b);
  }
  if (var_a == 0.0 || var_b == 0.0) return constant_pcc(a, b, n);
  double pcc = cov / sqrt(var_a * var_b);
  return pcc > 1.0 ? 1.0 : pcc;
}

ttt_status ttt_compare(const ttt_tensor *actual, const ttt_tensor *expected, const uint8_t *mask,
                       double atol, double rtol, ttt_compare_result *out) {
  ttt_status st = check_pair(actual, expected, "ttt_compare");
  if (st != TTT_OK) return st;
  if (!out) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_compare: NULL result");
  int64_t n = ttt_tensor_numel(actual);
  ttt_compare_result r = {.allclose = true, .worst_index = -1};
  double sum_err = 0, sum_sq_err = 0, sum_sq_b = 0, dot = 0, sum_sq_a = 0, worst = -INFINITY;
  for (int64_t i = 0; i < n; i++) {
    if (mask && !mask[i]) continue;
    double a = ttt_tensor_get(actual, i), b = ttt_tensor_get(expected, i);
    double err = fabs(a - b);
    if (isnan(a) && isnan(b))
      err = 0.0;
    else if (isnan(a) || isnan(b))
      err = INFINITY;
    double excess = err - (atol + rtol * fabs(b));
    if (!(excess <= 0.0)) r.allclose = false;
    if (excess > worst || r.worst_index < 0) {
      worst = excess;
      r.worst_index = i;
      r.worst_actual = a;
      r.worst_expected = b;
    }
    r.max_abs_err = err > r.max_abs_err ? err : r.max_abs_err;
    sum_err += err;
    if (!isnan(a) && !isnan(b)) {
      sum_sq_err += (a - b) * (a - b);
      sum_sq_b += b * b;
      sum_sq_a += a * a;
      dot += a * b;
    }
    r.count++;
  }
  r.mean_abs_err = r.count ? sum_err / (double)r.count : 0.0;
  r.nmse = sum_sq_b > 0 ? sum_sq_err / sum_sq_b : (sum_sq_err > 0 ? INFINITY : 0.0);
  r.cosine = (sum_sq_a > 0 && sum_sq_b > 0) ? dot / sqrt(sum_sq_a * sum_sq_b)
                                            : (sum_sq_a == sum_sq_b ? 1.0 : 0.0);
  r.pcc = mask ? NAN : ttt_pcc(actual, expected);
  if (mask) {
    /* PCC over the selected values only: copy them into temporary f64 tensors. */
    double *xa = malloc(sizeof(double) * (size_t)(r.count ? r.count : 1));
    double *xb = malloc(sizeof(double) * (size_t)(r.count ? r.count : 1));
    if (!xa || !xb) {
      free(xa);
      free(xb);
      return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "ttt_compare: out of memory");
    }
    int64_t j = 0;
    for (int64_t i = 0; i < n; i++) {
      if (!mask[i]) continue;
      xa[j] = ttt_tensor_get(actual, i);
      xb[j++] = ttt_tensor_get(expected, i);
    }
    ttt_tensor ta = ttt_tensor_1d(TTT_F64, xa, j), tb = ttt_tensor_1d(TTT_F64, xb, j);
    r.pcc = j > 0 ? ttt_pcc(&ta, &tb) : 1.0;
    free(xa);
    free(xb);
  }
  *out = r;
  return TTT_OK;
}

/* Index of the largest value of row r; ties resolve to the lowest index. */
static int64_t row_argmax(const ttt_tensor *t, int64_t r, int64_t v) {
  int64_t best = 0;
  double best_value = -INFINITY;
  for (int64_t j = 0; j < v; j++) {
    double x = ttt_tensor_get(t, r * v + j);
    if (x > best_value) {
      best_value = x;
      best = j;
    }
  }
  return best;
}

/* Rank of column `col` in row r of t (0 = largest). */
static int64_t rank_of(const ttt_tensor *t, int64_t r, int64_t v, int64_t col) {
  double x = ttt_tensor_get(t, r * v + col);
  int64_t rank = 0;
  for (int64_t j = 0; j < v; j++)
    if (ttt_tensor_get(t, r * v + j) > x) rank++;
  return rank;
}

static double log_sum_exp(const ttt_tensor *t, int64_t r, int64_t v) {
  double max = -INFINITY;
  for (int64_t j = 0; j < v; j++) max = fmax(max, ttt_tensor_get(t, r * v + j));
  double sum = 0;
  for (int64_t j = 0; j < v; j++) sum += exp(ttt_tensor_get(t, r * v + j) - max);
  return max + log(sum);
}

/* KL(p || q) for p = softmax(expected row), q = softmax(actual row). */
static double row_kl(const ttt_tensor *actual, const ttt_tensor *expected, int64_t r, int64_t v) {
  double lse_p = log_sum_exp(expected, r, v), lse_q = log_sum_exp(actual, r, v);
  double kl = 0;
  for (int64_t j = 0; j < v; j++) {
    double log_p = ttt_tensor_get(expected, r * v + j) - lse_p;
    double log_q = ttt_tensor_get(actual, r * v + j) - lse_q;
    kl += exp(log_p) * (log_p - log_q);
  }
  return kl > 0 ? kl : 0.0;
}

ttt_status ttt_compare_logits(const ttt_tensor *actual, const ttt_tensor *expected,
                              ttt_logits_result *out) {
  ttt_status st = check_pair(actual, expected, "ttt_compare_logits");
  if (st != TTT_OK) return st;
  if (!out) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_compare_logits: NULL result");
  int64_t v = expected->shape[expected->ndim - 1];
  if (actual->shape[actual->ndim - 1] != v)
    return ttt_set_error(TTT_ERR_SHAPE, "ttt_compare_logits: vocab %lld vs %lld",
                         (long long)actual->shape[actual->ndim - 1], (long long)v);
  int64_t rows = ttt_tensor_numel(expected) / v;
  ttt_logits_result r = {.rows = rows};
  int64_t top1 = 0, top5 = 0;
  for (int64_t i = 0; i < rows; i++) {
    int64_t expected_best = row_argmax(expected, i, v);
    top1 += row_argmax(actual, i, v) == expected_best;
    top5 += rank_of(actual, i, v, expected_best) < 5;
    double kl = row_kl(actual, expected, i, v);
    r.mean_kl += kl;
    r.max_kl = kl > r.max_kl ? kl : r.max_kl;
  }
  r.top1_agreement = rows ? (double)top1 / (double)rows : 1.0;
  r.top5_agreement = rows ? (double)top5 / (double)rows : 1.0;
  r.mean_kl = rows ? r.mean_kl / (double)rows : 0.0;
  *out = r;
  return TTT_OK;
}
