/* Rotary position embedding: inverse frequencies per scaling type, cos/sin tables, rotation. */
#include <math.h>
#include <stdlib.h>

#include "attention_internal.h"
#include "runtime/runtime.h"

/* Tables: cos and sin are [max_positions][half] f32 (half = rotary_dim / 2), already multiplied by
 * the attention factor (YaRN, LongRoPE; 1 otherwise). inv_freq is kept in double so that the
 * tables are cos(pos · inv_freq) rounded once to f32. LongRoPE keeps a second set for its long
 * factors (index 1); other types only index 0. */
struct ttt_rope {
  ttt_rope_spec spec; /* with defaults resolved (rotary_dim, theta, beta_*, attention_factor) */
  int64_t half;
  double *inv_freq[2];
  float *cos[2];
  float *sin[2];
};

/* What each scaling type requires of the spec (validated once, in one place). */
typedef struct rope_type_info {
  const char *name;
  bool needs_factor;
  bool needs_original_max;
} rope_type_info;

static const rope_type_info rope_types[] = {
    [TTT_ROPE_NONE] = {"none", false, false},        [TTT_ROPE_DEFAULT] = {"default", false, false},
    [TTT_ROPE_LINEAR] = {"linear", true, false},     [TTT_ROPE_LLAMA3] = {"llama3", true, true},
    [TTT_ROPE_DYNAMIC] = {"dynamic", true, true},    [TTT_ROPE_YARN] = {"yarn", true, true},
    [TTT_ROPE_LONGROPE] = {"longrope", false, true},
};

enum { ROPE_TYPE_COUNT = (int)(sizeof rope_types / sizeof rope_types[0]) };

static const double ROPE_PI = 3.14159265358979323846;
static const double DEFAULT_THETA = 10000.0;
static const double DEFAULT_BETA_FAST = 32.0;
static const double DEFAULT_BETA_SLOW = 1.0;

/* LongRoPE: rotary_dim/2 short and long factors, each finite and > 0. */
static ttt_status validate_longrope_factors(const ttt_rope_spec *s, int64_t half) {
  if (half > TTT_MAX_ROPE_FACTORS)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "rope spec: longrope needs rotary_dim/2 (%lld) <= %d factors",
                         (long long)half, TTT_MAX_ROPE_FACTORS);
  for (int64_t i = 0; i < half; i++) {
    float sf = s->short_factor[i], lf = s->long_factor[i];
    if (!(sf > 0.0f && isfinite(sf)) || !(lf > 0.0f && isfinite(lf)))
      return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                           "rope spec: longrope short_factor[%lld] (%g) and long_factor[%lld] (%g) "
                           "must be finite and > 0 (rotary_dim/2 = %lld of each)",
                           (long long)i, (double)sf, (long long)i, (double)lf, (long long)half);
  }
  return TTT_OK;
}

static ttt_status validate_type_fields(const ttt_rope_spec *s) {
  const rope_type_info *info = &rope_types[s->type];
  if (info->needs_factor && !(s->factor > 0.0 && isfinite(s->factor)))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "rope spec: %s scaling needs factor > 0, got %g",
                         info->name, s->factor);
  if (info->needs_original_max && s->original_max_positions <= 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "rope spec: %s scaling needs original_max_positions > 0, got %lld",
                         info->name, (long long)s->original_max_positions);
  if (s->type == TTT_ROPE_LLAMA3 &&
      !(s->low_freq_factor > 0.0 && s->high_freq_factor > s->low_freq_factor))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "rope spec: llama3 scaling needs 0 < low_freq_factor (%g) < "
                         "high_freq_factor (%g)",
                         s->low_freq_factor, s->high_freq_factor);
  int64_t rotary_dim = s->rotary_dim ? s->rotary_dim : s->head_dim;
  if (s->type == TTT_ROPE_DYNAMIC && rotary_dim <= 2)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "rope spec: dynamic scaling needs rotary_dim > 2, got %lld",
                         (long long)rotary_dim);
  if (s->attention_factor < 0.0 || s->beta_fast < 0.0 || s->beta_slow < 0.0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "rope spec: attention_factor, beta_fast and beta_slow must be >= 0");
  return s->type == TTT_ROPE_LONGROPE ? validate_longrope_factors(s, rotary_dim / 2) : TTT_OK;
}

const char *ttt_rope_type_name(ttt_rope_type type) {
  return (unsigned)type < ROPE_TYPE_COUNT ? rope_types[type].name : "unknown";
}

ttt_status ttt_rope_spec_validate(const ttt_rope_spec *s) {
  if (!s) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "rope spec: NULL");
  if ((int)s->type < 0 || (int)s->type >= ROPE_TYPE_COUNT)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "rope spec: unknown type %d", (int)s->type);
  if (s->type == TTT_ROPE_NONE) return TTT_OK;
  if (s->head_dim <= 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "rope spec: head_dim (%lld) must be > 0",
                         (long long)s->head_dim);
  int64_t rotary_dim = s->rotary_dim ? s->rotary_dim : s->head_dim;
  if (rotary_dim < 0 || rotary_dim > s->head_dim || rotary_dim % 2 != 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "rope spec: rotary_dim (%lld) must be even and in (0, head_dim = %lld]",
                         (long long)rotary_dim, (long long)s->head_dim);
  if (s->max_positions <= 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "rope spec: max_positions (%lld) must be > 0",
                         (long long)s->max_positions);
  if (s->theta != 0.0 && !(s->theta > 1.0 && isfinite(s->theta)))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "rope spec: theta (%g) must be > 1 (0 means 10000)", s->theta);
  return validate_type_fields(s);
}

/* YaRN's default attention factor (HF get_mscale with mscale 1). */
static double yarn_default_attention_factor(double factor) {
  return factor <= 1.0 ? 1.0 : 0.1 * log(factor) + 1.0;
}

/* LongRoPE's default attention factor (HF _compute_longrope_parameters with factor =
 * max_positions / original_max_positions). */
static double longrope_default_attention_factor(const ttt_rope_spec *s) {
  double factor = (double)s->max_positions / (double)s->original_max_positions;
  if (factor <= 1.0) return 1.0;
  return sqrt(1.0 + log(factor) / log((double)s->original_max_positions));
}

static ttt_rope_spec resolve_defaults(const ttt_rope_spec *in) {
  ttt_rope_spec s = *in;
  if (s.rotary_dim == 0) s.rotary_dim = s.head_dim;
  if (s.theta == 0.0) s.theta = DEFAULT_THETA;
  if (s.beta_fast == 0.0) s.beta_fast = DEFAULT_BETA_FAST;
  if (s.beta_slow == 0.0) s.beta_slow = DEFAULT_BETA_SLOW;
  if (s.attention_factor == 0.0)
    s.attention_factor = s.type == TTT_ROPE_YARN       ? yarn_default_attention_factor(s.factor)
                         : s.type == TTT_ROPE_LONGROPE ? longrope_default_attention_factor(&s)
                                                       : 1.0;
  return s;
}

/* theta^(-2i/d) for i < d/2. */
static void base_inv_freq(double theta, int64_t d, double *out) {
  for (int64_t i = 0; i < d / 2; i++) out[i] = 1.0 / pow(theta, (double)(2 * i) / (double)d);
}

/* Llama 3.1: wavelengths longer than orig/low are slowed down by `factor`, shorter than orig/high
 * are kept, and the band in between is interpolated smoothly. */
static void scale_llama3(const ttt_rope_spec *s, double *f, int64_t half) {
  double orig = (double)s->original_max_positions;
  double low_wavelen = orig / s->low_freq_factor;
  double high_wavelen = orig / s->high_freq_factor;
  for (int64_t i = 0; i < half; i++) {
    double wavelen = 2.0 * ROPE_PI / f[i];
    if (wavelen < high_wavelen) continue;
    if (wavelen > low_wavelen) {
      f[i] /= s->factor;
      continue;
    }
    double smooth =
        (orig / wavelen - s->low_freq_factor) / (s->high_freq_factor - s->low_freq_factor);
    f[i] = (1.0 - smooth) * f[i] / s->factor + smooth * f[i];
  }
}

/* Dimension index at which a frequency makes `rotations` turns over the original context. */
static double yarn_correction_dim(double rotations, double d, double theta, double orig) {
  return d * log(orig / (rotations * 2.0 * ROPE_PI)) / (2.0 * log(theta));
}

/* YaRN: dims below `low` extrapolate (keep the frequency), above `high` interpolate (divide by
 * factor), with a linear ramp between (HF's truncating variant: low floored, high ceiled). */
static void scale_yarn(const ttt_rope_spec *s, double *f, int64_t half) {
  double d = (double)s->rotary_dim;
  double orig = (double)s->original_max_positions;
  double low = floor(yarn_correction_dim(s->beta_fast, d, s->theta, orig));
  double high = ceil(yarn_correction_dim(s->beta_slow, d, s->theta, orig));
  low = low > 0.0 ? low : 0.0;
  high = high < d - 1.0 ? high : d - 1.0;
  if (low == high) high += 0.001;
  for (int64_t i = 0; i < half; i++) {
    double ramp = ((double)i - low) / (high - low);
    ramp = ramp < 0.0 ? 0.0 : ramp > 1.0 ? 1.0 : ramp;
    double extrapolation = 1.0 - ramp;
    f[i] = f[i] / s->factor * (1.0 - extrapolation) + f[i] * extrapolation;
  }
}

/* Dynamic NTK computed once for the table length (see the header for how this relates to HF). */
static double dynamic_theta(const ttt_rope_spec *s) {
  double ratio = (double)s->max_positions / (double)s->original_max_positions;
  if (ratio <= 1.0) return s->theta;
  double d = (double)s->rotary_dim;
  return s->theta * pow(s->factor * ratio - (s->factor - 1.0), d / (d - 2.0));
}

/* `set` 0: the type's frequencies (LongRoPE: short factors); 1: LongRoPE's long factors. */
static void compute_inv_freq(const ttt_rope_spec *s, int set, double *f) {
  int64_t half = s->rotary_dim / 2;
  double theta = s->type == TTT_ROPE_DYNAMIC ? dynamic_theta(s) : s->theta;
  base_inv_freq(theta, s->rotary_dim, f);
  if (s->type == TTT_ROPE_LINEAR)
    for (int64_t i = 0; i < half; i++) f[i] /= s->factor;
  if (s->type == TTT_ROPE_LLAMA3) scale_llama3(s, f, half);
  if (s->type == TTT_ROPE_YARN) scale_yarn(s, f, half);
  if (s->type == TTT_ROPE_LONGROPE)
    for (int64_t i = 0; i < half; i++)
      f[i] /= (double)(set ? s->long_factor[i] : s->short_factor[i]);
}

/* One set of tables: inv_freq, then cos/sin of every position times the attention factor. */
static bool fill_tables(ttt_rope *r, int set) {
  size_t table = (size_t)r->spec.max_positions * (size_t)r->half;
  r->inv_freq[set] = malloc((size_t)r->half * sizeof(double));
  r->cos[set] = malloc(table * sizeof(float));
  r->sin[set] = malloc(table * sizeof(float));
  if (!r->inv_freq[set] || !r->cos[set] || !r->sin[set]) return false;
  compute_inv_freq(&r->spec, set, r->inv_freq[set]);
  for (int64_t p = 0; p < r->spec.max_positions; p++) {
    for (int64_t i = 0; i < r->half; i++) {
      double angle = (double)p * r->inv_freq[set][i];
      r->cos[set][p * r->half + i] = (float)(cos(angle) * r->spec.attention_factor);
      r->sin[set][p * r->half + i] = (float)(sin(angle) * r->spec.attention_factor);
    }
  }
  return true;
}

ttt_status ttt_rope_create(const ttt_rope_spec *spec, ttt_rope **out) {
  if (!out) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "rope create: NULL out");
  *out = NULL;
  ttt_status st = ttt_rope_spec_validate(spec);
  if (st != TTT_OK) return st;
  if (spec->type == TTT_ROPE_NONE)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "rope create: type none has no tables");
  ttt_rope *r = calloc(1, sizeof *r);
  if (!r) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "rope create: out of memory");
  r->spec = resolve_defaults(spec);
  r->half = r->spec.rotary_dim / 2;
  bool ok = fill_tables(r, 0);
  if (ok && r->spec.type == TTT_ROPE_LONGROPE) ok = fill_tables(r, 1);
  if (!ok) {
    ttt_rope_destroy(r);
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "rope create: out of memory for %lld positions",
                         (long long)spec->max_positions);
  }
  *out = r;
  return TTT_OK;
}

void ttt_rope_destroy(ttt_rope *rope) {
  if (!rope) return;
  for (int set = 0; set < 2; set++) {
    free(rope->inv_freq[set]);
    free(rope->cos[set]);
    free(rope->sin[set]);
  }
  free(rope);
}

const ttt_rope_spec *ttt_rope_get_spec(const ttt_rope *rope) { return rope ? &rope->spec : NULL; }

ttt_status ttt_rope_inv_freq(const ttt_rope *rope, float *out, int64_t n) {
  return ttt_rope_inv_freq_at(rope, 0, out, n);
}

ttt_status ttt_rope_inv_freq_at(const ttt_rope *rope, int64_t seq_len, float *out, int64_t n) {
  if (!rope || !out) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "rope inv_freq: NULL argument");
  if (n != rope->half)
    return ttt_set_error(TTT_ERR_SHAPE, "rope inv_freq: n (%lld) must be rotary_dim/2 = %lld",
                         (long long)n, (long long)rope->half);
  int set = ttt_rope_long_factors(rope, seq_len) ? 1 : 0;
  for (int64_t i = 0; i < n; i++) out[i] = (float)rope->inv_freq[set][i];
  return TTT_OK;
}

bool ttt_rope_long_factors(const ttt_rope *rope, int64_t end) {
  return rope->spec.type == TTT_ROPE_LONGROPE && end > rope->spec.original_max_positions;
}

void ttt_rope_rotate_token(const ttt_rope *rope, float *x, int64_t heads, int64_t pos,
                           bool long_factors) {
  int set = long_factors && rope->spec.type == TTT_ROPE_LONGROPE ? 1 : 0;
  const float *c = rope->cos[set] + pos * rope->half;
  const float *s = rope->sin[set] + pos * rope->half;
  int64_t half = rope->half;
  /* Pair (a, b) rotates to (a·cos − b·sin, b·cos + a·sin); the layout decides where b lives. */
  int64_t pair_stride = rope->spec.interleaved ? 1 : half;
  int64_t step = rope->spec.interleaved ? 2 : 1;
  for (int64_t h = 0; h < heads; h++) {
    float *xh = x + h * rope->spec.head_dim;
    for (int64_t i = 0; i < half; i++) {
      float *a = xh + i * step;
      float *b = a + pair_stride;
      float av = *a, bv = *b;
      *a = av * c[i] - bv * s[i];
      *b = bv * c[i] + av * s[i];
    }
  }
}

typedef struct rope_job {
  const ttt_rope *rope;
  float *x;
  int64_t heads;
  const int32_t *positions;
  bool long_factors;
} rope_job;

static void rope_range(void *arg, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const rope_job *job = arg;
  int64_t row = job->heads * job->rope->spec.head_dim;
  for (int64_t t = begin; t < end; t++)
    ttt_rope_rotate_token(job->rope, job->x + t * row, job->heads, job->positions[t],
                          job->long_factors);
}

ttt_status ttt_rope_apply(ttt_context *ctx, const ttt_rope *rope, ttt_tensor *x,
                          const int32_t *positions) {
  if (!ctx || !rope || !x || !positions)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "rope apply: NULL argument");
  ttt_status st = ttt_tensor_check(x, "rope apply: x");
  if (st != TTT_OK) return st;
  if (x->dtype != TTT_F32)
    return ttt_set_error(TTT_ERR_DTYPE, "rope apply: x must be f32, got %s",
                         ttt_dtype_name(x->dtype));
  if (x->ndim != 3 || x->shape[2] != rope->spec.head_dim)
    return ttt_set_error(
        TTT_ERR_SHAPE, "rope apply: x must be [T, heads, %lld], got ndim %d, last dim %lld",
        (long long)rope->spec.head_dim, (int)x->ndim, (long long)x->shape[x->ndim - 1]);
  for (int64_t t = 0; t < x->shape[0]; t++)
    if (positions[t] < 0 || positions[t] >= rope->spec.max_positions)
      return ttt_set_error(TTT_ERR_OUT_OF_RANGE,
                           "rope apply: positions[%lld] = %d is outside [0, %lld)", (long long)t,
                           (int)positions[t], (long long)rope->spec.max_positions);
  int64_t end = 0; /* last position + 1: LongRoPE's choice of factors */
  for (int64_t t = 0; t < x->shape[0]; t++)
    if (positions[t] + 1 > end) end = positions[t] + 1;
  rope_job job = {rope, x->data, x->shape[1], positions, ttt_rope_long_factors(rope, end)};
  ttt_parallel_for(ctx, 0, x->shape[0], 1, rope_range, &job);
  return TTT_OK;
}
