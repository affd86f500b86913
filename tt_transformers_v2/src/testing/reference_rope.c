/* Float64 reference of the rotary embedding: inverse frequencies per scaling type (following the
 * HuggingFace rope init functions) and the rotation, computed per position with no tables. */
#include <math.h>
#include <stdlib.h>

#include <ttt.h>

static const double REF_PI = 3.14159265358979323846;

static int64_t rotary_dim_of(const ttt_rope_spec *s) {
  return s->rotary_dim ? s->rotary_dim : s->head_dim;
}

static double theta_of(const ttt_rope_spec *s) { return s->theta > 0.0 ? s->theta : 10000.0; }

/* HF _compute_llama3_parameters, one frequency. */
static double llama3_frequency(const ttt_rope_spec *s, double f) {
  double orig = (double)s->original_max_positions;
  double wavelen = 2.0 * REF_PI / f;
  if (wavelen < orig / s->high_freq_factor) return f;            /* high frequency: unchanged */
  if (wavelen > orig / s->low_freq_factor) return f / s->factor; /* low frequency: interpolated */
  double smooth =
      (orig / wavelen - s->low_freq_factor) / (s->high_freq_factor - s->low_freq_factor);
  return (1.0 - smooth) * (f / s->factor) + smooth * f;
}

/* HF _compute_dynamic_ntk_parameters with seq_len = max_positions. */
static double dynamic_theta(const ttt_rope_spec *s) {
  double d = (double)rotary_dim_of(s);
  double seq = (double)s->max_positions, orig = (double)s->original_max_positions;
  if (seq <= orig) return theta_of(s);
  return theta_of(s) * pow(s->factor * seq / orig - (s->factor - 1.0), d / (d - 2.0));
}

/* HF _compute_yarn_parameters (truncate = true), one frequency index i of d/2. */
static double yarn_frequency(const ttt_rope_spec *s, int64_t i, double f) {
  double d = (double)rotary_dim_of(s);
  double theta = theta_of(s), orig = (double)s->original_max_positions;
  double beta_fast = s->beta_fast > 0.0 ? s->beta_fast : 32.0;
  double beta_slow = s->beta_slow > 0.0 ? s->beta_slow : 1.0;
  double low = floor(d * log(orig / (beta_fast * 2.0 * REF_PI)) / (2.0 * log(theta)));
  double high = ceil(d * log(orig / (beta_slow * 2.0 * REF_PI)) / (2.0 * log(theta)));
  if (low < 0.0) low = 0.0;
  if (high > d - 1.0) high = d - 1.0;
  if (low == high) high += 0.001;
  double linear = ((double)i - low) / (high - low);
  double ramp = fmin(fmax(linear, 0.0), 1.0);
  double extrapolation_weight = 1.0 - ramp;
  double interpolated = f / s->factor;
  return interpolated * (1.0 - extrapolation_weight) + f * extrapolation_weight;
}

/* HF _compute_longrope_parameters: base frequencies divided by the short or long factor. */
static double longrope_frequency(const ttt_rope_spec *s, int64_t i, double f, bool long_factors) {
  return f / (double)(long_factors ? s->long_factor[i] : s->short_factor[i]);
}

static ttt_status inv_freq(const ttt_rope_spec *spec, bool long_factors, double *out, int64_t n);

ttt_status ttt_reference_rope_inv_freq(const ttt_rope_spec *spec, double *out, int64_t n) {
  return inv_freq(spec, false, out, n);
}

static ttt_status inv_freq(const ttt_rope_spec *spec, bool long_factors, double *out, int64_t n) {
  ttt_status st = ttt_rope_spec_validate(spec);
  if (st != TTT_OK) return st;
  if (!out || spec->type == TTT_ROPE_NONE)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "reference rope: NULL out or type none");
  int64_t d = rotary_dim_of(spec);
  if (n != d / 2)
    return ttt_set_error(TTT_ERR_SHAPE, "reference rope: n (%lld) must be rotary_dim/2 = %lld",
                         (long long)n, (long long)(d / 2));
  double theta = spec->type == TTT_ROPE_DYNAMIC ? dynamic_theta(spec) : theta_of(spec);
  for (int64_t i = 0; i < n; i++) {
    double f = 1.0 / pow(theta, (double)(2 * i) / (double)d);
    switch (spec->type) {
    case TTT_ROPE_LINEAR:
      f = f / spec->factor;
      break;
    case TTT_ROPE_LLAMA3:
      f = llama3_frequency(spec, f);
      break;
    case TTT_ROPE_YARN:
      f = yarn_frequency(spec, i, f);
      break;
    case TTT_ROPE_LONGROPE:
      f = longrope_frequency(spec, i, f, long_factors);
      break;
    default:
      break;
    }
    out[i] = f;
  }
  return TTT_OK;
}

/* YaRN and LongRoPE scale cos and sin by their attention factor; other types by 1. */
static double attention_factor_of(const ttt_rope_spec *s) {
  if (s->attention_factor > 0.0) return s->attention_factor;
  if (s->type == TTT_ROPE_LONGROPE) {
    double scale = (double)s->max_positions / (double)s->original_max_positions;
    return scale <= 1.0 ? 1.0 : sqrt(1.0 + log(scale) / log((double)s->original_max_positions));
  }
  if (s->type != TTT_ROPE_YARN || s->factor <= 1.0) return 1.0;
  return 0.1 * log(s->factor) + 1.0;
}

ttt_status ttt_reference_rope_apply(const ttt_rope_spec *spec, double *x, int64_t T, int64_t heads,
                                    const int32_t *positions) {
  if (!spec || !x || !positions)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "reference rope apply: NULL %s",
                         !spec ? "spec"
                         : !x  ? "x"
                               : "positions");
  if (T < 0 || heads < 1)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "reference rope apply: T (%lld) must be >= 0 and heads (%lld) >= 1",
                         (long long)T, (long long)heads);
  int64_t d = rotary_dim_of(spec), half = d / 2;
  double *freq = malloc((size_t)(half > 0 ? half : 1) * sizeof(double));
  if (!freq) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "reference rope: out of memory");
  /* LongRoPE: the long factors when this call's sequence (largest position + 1) outgrows the
   * original context, as HF's per-forward frequency update. */
  int64_t end = 0;
  for (int64_t t = 0; t < T; t++)
    if (positions[t] + 1 > end) end = positions[t] + 1;
  ttt_status st = inv_freq(spec, end > spec->original_max_positions, freq, half);
  double mscale = attention_factor_of(spec);
  for (int64_t t = 0; st == TTT_OK && t < T; t++) {
    if (positions[t] < 0 || positions[t] >= spec->max_positions) {
      st = ttt_set_error(TTT_ERR_OUT_OF_RANGE, "reference rope: positions[%lld] = %d out of range",
                         (long long)t, (int)positions[t]);
      break;
    }
    for (int64_t h = 0; h < heads; h++) {
      double *v = x + (t * heads + h) * spec->head_dim;
      for (int64_t i = 0; i < half; i++) {
        double angle = positions[t] * freq[i];
        double c = cos(angle) * mscale, s = sin(angle) * mscale;
        /* GPT-J pairs neighbours; HF / NeoX pairs i with i + half. */
        int64_t ia = spec->interleaved ? 2 * i : i;
        int64_t ib = spec->interleaved ? 2 * i + 1 : i + half;
        double a = v[ia], b = v[ib];
        v[ia] = a * c - b * s;
        v[ib] = b * c + a * s;
      }
    }
  }
  free(freq);
  return st;
}
