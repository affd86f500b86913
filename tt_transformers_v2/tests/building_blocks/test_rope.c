/* Rotary embedding: llama3 inverse frequencies against the HuggingFace golden, every scaling type
 * and layout against the float64 reference, RoPE's defining properties, and spec validation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ttt_test.h"

/* ---- a minimal safetensors reader for one f32 tensor of the golden file ---- */

/* Reads the file whole; NULL on failure. */
static uint8_t *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  uint8_t *data = NULL;
  if (fseek(f, 0, SEEK_END) == 0) {
    long n = ftell(f);
    if (n > 0 && fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)n)) != NULL &&
        fread(data, 1, (size_t)n, f) != (size_t)n) {
      free(data);
      data = NULL;
    }
    *size = n > 0 ? (size_t)n : 0;
  }
  fclose(f);
  return data;
}

/* Finds tensor `name` (dtype F32, `n` values) in a safetensors image: 8-byte little-endian header
 * length, a JSON header {"name": {"dtype": "F32", "shape": [...], "data_offsets": [a, b]}, ...},
 * then the data; offsets are relative to the end of the header. Copies the values to out. */
static bool safetensors_f32(const uint8_t *file, size_t size, const char *name, float *out,
                            int64_t n) {
  if (size < 8) return false;
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; i--) header_len = header_len << 8 | file[i];
  if (header_len > size - 8) return false;
  char *header = malloc(header_len + 1);
  if (!header) return false;
  memcpy(header, file + 8, header_len);
  header[header_len] = '\0';
  char key[128];
  snprintf(key, sizeof key, "\"%s\"", name);
  const char *entry = strstr(header, key);
  const char *end = entry ? strchr(entry, '}') : NULL;
  const char *dtype = entry ? strstr(entry, "\"dtype\"") : NULL;
  const char *offsets = entry ? strstr(entry, "\"data_offsets\"") : NULL;
  long long a = -1, b = -1;
  bool ok = entry && end && dtype && offsets && dtype < end && offsets < end &&
            strncmp(strchr(dtype + 7, '"'), "\"F32\"", 5) == 0 &&
            sscanf(strchr(offsets, '[') + 1, "%lld , %lld", &a, &b) == 2 && a >= 0 &&
            b - a == n * 4 && (uint64_t)b <= size - 8 - header_len;
  if (ok) {
    const uint8_t *data = file + 8 + header_len + a;
    for (int64_t i = 0; i < n; i++) {
      uint32_t bits = (uint32_t)data[4 * i] | (uint32_t)data[4 * i + 1] << 8 |
                      (uint32_t)data[4 * i + 2] << 16 | (uint32_t)data[4 * i + 3] << 24;
      memcpy(&out[i], &bits, 4);
    }
  }
  free(header);
  return ok;
}

/* Llama-3 tiny (tests/fixtures/hf/llama3_tiny/config.json). */
static ttt_rope_spec llama3_tiny_spec(void) {
  return (ttt_rope_spec){.type = TTT_ROPE_LLAMA3,
                         .head_dim = 16,
                         .max_positions = 256,
                         .theta = 500000.0,
                         .factor = 8.0,
                         .low_freq_factor = 1.0,
                         .high_freq_factor = 4.0,
                         .original_max_positions = 64};
}

static void test_llama3_inv_freq_matches_hf_golden(void) {
  char path[1024];
  size_t size = 0;
  uint8_t *file =
      read_file(ttt_test_fixture(path, sizeof path, "hf/llama3_tiny/golden.safetensors"), &size);
  CHECK_MSG(file != NULL, "cannot read %s", path);
  if (!file) return;
  float golden[8];
  CHECK(safetensors_f32(file, size, "rope.inv_freq", golden, 8));
  free(file);
  ttt_rope_spec spec = llama3_tiny_spec();
  ttt_rope *rope = NULL;
  CHECK_OK(ttt_rope_create(&spec, &rope));
  float ours[8];
  double reference[8];
  CHECK_OK(ttt_rope_inv_freq(rope, ours, 8));
  CHECK_OK(ttt_reference_rope_inv_freq(&spec, reference, 8));
  /* HF computes in f32 (pow, divisions): allow a few f32 ulps. The scaled band (i = 1) and the
   * divided low frequencies (i >= 2) are both covered by these 8 values. */
  for (int i = 0; i < 8; i++) {
    CHECK_MSG(fabsf(ours[i] - golden[i]) <= 4e-7f * golden[i], "inv_freq[%d] %.9g vs HF %.9g", i,
              (double)ours[i], (double)golden[i]);
    CHECK_MSG(fabs(reference[i] - golden[i]) <= 4e-7 * golden[i],
              "reference inv_freq[%d] %.9g vs HF %.9g", i, reference[i], (double)golden[i]);
  }
  ttt_rope_destroy(rope);
}

/* Phi-3 tiny (the phi3_tiny fixture of issue 14: head_dim 16, theta 1e4, max 256, original 16). */
static ttt_rope_spec phi3_tiny_spec(void) {
  ttt_rope_spec s = {.type = TTT_ROPE_LONGROPE,
                     .head_dim = 16,
                     .max_positions = 256,
                     .theta = 10000.0,
                     .original_max_positions = 16};
  const float short_factor[8] = {1.0f, 1.05f, 1.1f, 1.3f, 1.6f, 2.0f, 2.6f, 3.2f};
  const float long_factor[8] = {1.0f, 1.2f, 1.7f, 2.5f, 4.0f, 6.5f, 9.0f, 12.0f};
  memcpy(s.short_factor, short_factor, sizeof short_factor);
  memcpy(s.long_factor, long_factor, sizeof long_factor);
  return s;
}

/* rope.inv_freq that transformers 4.51 holds for phi3_tiny after its 20-token prefill
 * (golden.safetensors of /work/shared/fixtures/hf/phi3_tiny: 20 > 16, so the long factors), and
 * the attention factor HF's _compute_longrope_parameters gives: sqrt(1 + ln(256/16) / ln(16)). */
static void test_longrope_matches_hf(void) {
  static const float golden[8] = {1.0f,
                                  0.263523131608963f,
                                  0.05882352963089943f,
                                  0.012649111449718475f,
                                  0.0024999999441206455f,
                                  0.0004865042574238032f,
                                  0.00011111111234640703f,
                                  2.635231430758722e-05f};
  ttt_rope_spec spec = phi3_tiny_spec();
  ttt_rope *rope = NULL;
  CHECK_OK(ttt_rope_create(&spec, &rope));
  float ours[8], short_freq[8];
  CHECK_OK(ttt_rope_inv_freq_at(rope, 20, ours, 8));
  CHECK_OK(ttt_rope_inv_freq(rope, short_freq, 8));
  for (int i = 0; i < 8; i++) {
    CHECK_MSG(fabsf(ours[i] - golden[i]) <= 4e-7f * golden[i], "inv_freq[%d] %.9g vs HF %.9g", i,
              (double)ours[i], (double)golden[i]);
    double short_expected = 1.0 / (spec.short_factor[i] * pow(10000.0, i / 8.0));
    CHECK_MSG(fabs(short_freq[i] - short_expected) <= 4e-7 * short_expected,
              "short inv_freq[%d] %.9g vs %.9g", i, (double)short_freq[i], short_expected);
  }
  CHECK_OK(ttt_rope_inv_freq_at(rope, 16, ours, 8));
  CHECK(memcmp(ours, short_freq, sizeof ours) == 0);
  CHECK(fabs(ttt_rope_get_spec(rope)->attention_factor - sqrt(2.0)) < 1e-12);
  /* Position 1 of a head (1, 0, ...): (cos, sin)·sqrt(2) of the short frequency when the call's
   * positions stay within 16 (1 / (1.05 · 10000^(1/8))), of the long one once they reach 16. */
  ttt_context *ctx = ttt_test_context(1);
  for (int reach = 0; reach < 2; reach++) {
    float x[2][16] = {{0}};
    x[0][1] = 1.0f;
    int32_t positions[2] = {1, reach ? 16 : 15};
    ttt_tensor view = ttt_tensor_3d(TTT_F32, x, 2, 1, 16);
    CHECK_OK(ttt_rope_apply(ctx, rope, &view, positions));
    double f = 1.0 / ((reach ? 1.2 : 1.05) * pow(10000.0, 1.0 / 8.0));
    CHECK_MSG(fabs(x[0][1] - sqrt(2.0) * cos(f)) < 1e-6 &&
                  fabs(x[0][9] - sqrt(2.0) * sin(f)) < 1e-6,
              "reach %d: (%g, %g) vs frequency %g", reach, (double)x[0][1], (double)x[0][9], f);
  }
  ttt_context_destroy(ctx);
  ttt_rope_destroy(rope);
}

/* ---- optimized vs reference for every type and layout ---- */

/* Rotates random heads with ttt_rope_apply and the reference; returns the max abs difference. */
static double apply_difference(ttt_context *ctx, const ttt_rope_spec *spec, int64_t T,
                               int64_t heads, uint64_t seed) {
  int64_t n = T * heads * spec->head_dim;
  float *x = malloc((size_t)n * sizeof(float));
  double *ref = malloc((size_t)n * sizeof(double));
  int32_t *positions = malloc((size_t)T * sizeof(int32_t));
  ttt_test_rng rng = ttt_test_rng_make(seed);
  ttt_test_fill_uniform(&rng, x, n, -1.0f, 1.0f);
  for (int64_t i = 0; i < n; i++) ref[i] = x[i];
  for (int64_t t = 0; t < T; t++)
    positions[t] = (int32_t)(ttt_test_rng_next(&rng) % (uint64_t)spec->max_positions);
  ttt_rope *rope = NULL;
  double worst = INFINITY;
  if (ttt_rope_create(spec, &rope) == TTT_OK) {
    ttt_tensor view = ttt_tensor_3d(TTT_F32, x, T, heads, spec->head_dim);
    CHECK_OK(ttt_rope_apply(ctx, rope, &view, positions));
    CHECK_OK(ttt_reference_rope_apply(spec, ref, T, heads, positions));
    worst = 0.0;
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs(x[i] - ref[i]));
  }
  ttt_rope_destroy(rope);
  free(x);
  free(ref);
  free(positions);
  return worst;
}

static void test_all_types_match_reference(void) {
  ttt_context *ctx = ttt_test_context(2);
  CHECK(ctx != NULL);
  const ttt_rope_spec bases[] = {
      {.type = TTT_ROPE_DEFAULT, .head_dim = 128, .max_positions = 4096, .theta = 500000.0},
      {.type = TTT_ROPE_LINEAR, .head_dim = 64, .max_positions = 4096, .factor = 4.0},
      llama3_tiny_spec(),
      {.type = TTT_ROPE_LLAMA3,
       .head_dim = 128,
       .max_positions = 4096,
       .theta = 500000.0,
       .factor = 8.0,
       .low_freq_factor = 1.0,
       .high_freq_factor = 4.0,
       .original_max_positions = 8192},
      {.type = TTT_ROPE_DYNAMIC,
       .head_dim = 64,
       .max_positions = 4096,
       .factor = 2.0,
       .original_max_positions = 1024},
      {.type = TTT_ROPE_YARN,
       .head_dim = 128,
       .max_positions = 4096,
       .theta = 1000000.0,
       .factor = 4.0,
       .original_max_positions = 1024},
      /* longrope: original 1024 < 4096, so random positions pick the long factors; the short
       * ones are checked by the position-bounded case below */
      {.type = TTT_ROPE_LONGROPE,
       .head_dim = 96,
       .max_positions = 4096,
       .original_max_positions = 1024},
      {.type = TTT_ROPE_LONGROPE,
       .head_dim = 96,
       .max_positions = 1000,
       .original_max_positions = 1024},
  };
  for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++) {
    for (int layout = 0; layout < 2; layout++) {
      for (int partial = 0; partial < 2; partial++) {
        ttt_rope_spec spec = bases[b];
        for (int i = 0; i < TTT_MAX_ROPE_FACTORS; i++) { /* Phi-3-mini-like factor ramps */
          spec.short_factor[i] = 1.0f + 0.05f * (float)i;
          spec.long_factor[i] = 1.0f + 0.9f * (float)i;
        }
        spec.interleaved = layout == 1;
        spec.rotary_dim =
            partial ? spec.head_dim / 4 : 0; /* e.g. 25% partial rotary (Phi, GPT-NeoX) */
        /* Angles reach ~4096 rad; an f32 table entry is exact to ~6e-8, times |x| <= 1 and the
         * YaRN factor ~1.14: 2e-6 bounds the f32 rounding of the rotation. */
        double diff =
            apply_difference(ctx, &spec, 9, 3, 100 + b * 4 + (size_t)layout * 2 + (size_t)partial);
        CHECK_MSG(diff <= 2e-6, "type %d interleaved %d partial %d: max abs diff %g",
                  (int)spec.type, layout, partial, diff);
      }
    }
  }
  ttt_context_destroy(ctx);
}

/* ---- properties that do not depend on either implementation ---- */

static void inv_freq_of(const ttt_rope_spec *spec, double *out, int64_t n) {
  CHECK_OK(ttt_reference_rope_inv_freq(spec, out, n));
}

static void test_scaling_properties(void) {
  enum { D = 64, H = D / 2 };
  double base[H], scaled[H];
  ttt_rope_spec def = {.type = TTT_ROPE_DEFAULT, .head_dim = D, .max_positions = 4096};
  inv_freq_of(&def, base, H);
  CHECK(fabs(base[0] - 1.0) < 1e-15 && fabs(base[1] - pow(10000.0, -2.0 / D)) < 1e-15);
  /* linear: every frequency divided by the factor */
  ttt_rope_spec lin = def;
  lin.type = TTT_ROPE_LINEAR;
  lin.factor = 4.0;
  inv_freq_of(&lin, scaled, H);
  for (int i = 0; i < H; i++) CHECK(fabs(scaled[i] * 4.0 - base[i]) < 1e-15);
  /* dynamic: a pure change of base theta' = theta·(f·L/L0 − (f − 1))^(d/(d−2)) */
  ttt_rope_spec dyn = def;
  dyn.type = TTT_ROPE_DYNAMIC;
  dyn.factor = 2.0;
  dyn.original_max_positions = 1024;
  inv_freq_of(&dyn, scaled, H);
  double theta = 10000.0 * pow(2.0 * 4.0 - 1.0, (double)D / (D - 2));
  for (int i = 0; i < H; i++)
    CHECK(fabs(scaled[i] - pow(theta, -2.0 * i / D)) <= 1e-12 * scaled[i]);
  dyn.original_max_positions = 4096; /* not past the original length: unchanged */
  inv_freq_of(&dyn, scaled, H);
  for (int i = 0; i < H; i++) CHECK(fabs(scaled[i] - base[i]) <= 1e-15);
  /* yarn: the fastest dims extrapolate (kept), the slowest interpolate (divided by factor) */
  ttt_rope_spec yarn = def;
  yarn.type = TTT_ROPE_YARN;
  yarn.factor = 4.0;
  yarn.original_max_positions = 1024;
  inv_freq_of(&yarn, scaled, H);
  CHECK(fabs(scaled[0] - base[0]) < 1e-15 && fabs(scaled[1] - base[1]) < 1e-15);
  CHECK(fabs(scaled[H - 1] * 4.0 - base[H - 1]) < 1e-15);
  for (int i = 1; i < H; i++) CHECK(scaled[i] < scaled[i - 1]); /* still monotone */
}

/* Rotations preserve norms (times the YaRN attention factor), position 0 is the identity, and the
 * dot product of q at p and k at p' depends only on p − p' (what makes RoPE relative). */
static void test_rotation_properties(void) {
  ttt_context *ctx = ttt_test_context(1);
  ttt_rope_spec specs[] = {
      llama3_tiny_spec(),
      {.type = TTT_ROPE_YARN,
       .head_dim = 32,
       .max_positions = 512,
       .factor = 4.0,
       .original_max_positions = 64,
       .interleaved = true},
  };
  for (size_t s = 0; s < 2; s++) {
    ttt_rope *rope = NULL;
    CHECK_OK(ttt_rope_create(&specs[s], &rope));
    int64_t hd = specs[s].head_dim;
    double af = s == 1 ? 0.1 * log(4.0) + 1.0 : 1.0;
    float q[4][32], k[4][32];
    ttt_test_rng rng = ttt_test_rng_make(7 + s);
    float q0[32], k0[32];
    ttt_test_fill_uniform(&rng, q0, hd, -1.0f, 1.0f);
    ttt_test_fill_uniform(&rng, k0, hd, -1.0f, 1.0f);
    int32_t qpos[4] = {0, 10, 100, 200}, kpos[4] = {0, 3, 93, 193}; /* same offset 7 except [0] */
    for (int i = 0; i < 4; i++) {
      memcpy(q[i], q0, sizeof q0);
      memcpy(k[i], k0, sizeof k0);
      ttt_tensor qv = ttt_tensor_3d(TTT_F32, q[i], 1, 1, hd);
      ttt_tensor kv = ttt_tensor_3d(TTT_F32, k[i], 1, 1, hd);
      CHECK_OK(ttt_rope_apply(ctx, rope, &qv, &qpos[i]));
      CHECK_OK(ttt_rope_apply(ctx, rope, &kv, &kpos[i]));
    }
    double n0 = 0, n1 = 0, id = 0, dots[4] = {0};
    for (int64_t d = 0; d < hd; d++) {
      n0 += (double)q0[d] * q0[d];
      n1 += (double)q[2][d] * q[2][d];
      id = fmax(id, fabs(q[0][d] - af * q0[d]));
      for (int i = 1; i < 4; i++) dots[i] += (double)q[i][d] * k[i][d];
    }
    CHECK_MSG(fabs(sqrt(n1) - af * sqrt(n0)) < 1e-5, "norm %g vs %g", sqrt(n1), af * sqrt(n0));
    CHECK(id < 1e-6);
    CHECK_MSG(fabs(dots[1] - dots[2]) < 1e-4 && fabs(dots[1] - dots[3]) < 1e-4,
              "relative dots %g %g %g", dots[1], dots[2], dots[3]);
    ttt_rope_destroy(rope);
  }
  ttt_context_destroy(ctx);
}

static void test_threads_agree(void) {
  ttt_context *one = ttt_test_context(1), *two = ttt_test_context(2);
  ttt_rope_spec spec = llama3_tiny_spec();
  ttt_rope *rope = NULL;
  CHECK_OK(ttt_rope_create(&spec, &rope));
  enum { T = 33, HEADS = 4, N = T * HEADS * 16 };
  float a[N], b[N];
  int32_t pos[T];
  ttt_test_rng rng = ttt_test_rng_make(3);
  ttt_test_fill_uniform(&rng, a, N, -2.0f, 2.0f);
  memcpy(b, a, sizeof a);
  for (int t = 0; t < T; t++) pos[t] = 5 * t;
  ttt_tensor va = ttt_tensor_3d(TTT_F32, a, T, HEADS, 16),
             vb = ttt_tensor_3d(TTT_F32, b, T, HEADS, 16);
  CHECK_OK(ttt_rope_apply(one, rope, &va, pos));
  CHECK_OK(ttt_rope_apply(two, rope, &vb, pos));
  CHECK(memcmp(a, b, sizeof a) == 0);
  ttt_rope_destroy(rope);
  ttt_context_destroy(one);
  ttt_context_destroy(two);
}

static void test_validation(void) {
  ttt_rope *rope = NULL;
  ttt_rope_spec s = llama3_tiny_spec();
  s.type = (ttt_rope_type)42;
  CHECK_ERR(ttt_rope_create(&s, &rope), TTT_ERR_INVALID_ARGUMENT, "unknown type 42");
  s = llama3_tiny_spec();
  s.rotary_dim = 7;
  CHECK_ERR(ttt_rope_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "rotary_dim (7)");
  s.rotary_dim = 18;
  CHECK_ERR(ttt_rope_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "rotary_dim (18)");
  s = llama3_tiny_spec();
  s.high_freq_factor = 1.0;
  CHECK_ERR(ttt_rope_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "high_freq_factor");
  s = llama3_tiny_spec();
  s.original_max_positions = 0;
  CHECK_ERR(ttt_rope_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "original_max_positions");
  s = llama3_tiny_spec();
  s.factor = 0.0;
  CHECK_ERR(ttt_rope_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "factor");
  s = llama3_tiny_spec();
  s.head_dim = 0;
  CHECK_ERR(ttt_rope_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "head_dim (0)");
  s = llama3_tiny_spec();
  s.max_positions = 0;
  CHECK_ERR(ttt_rope_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "max_positions");
  s = phi3_tiny_spec();
  s.long_factor[7] = 0.0f;
  CHECK_ERR(ttt_rope_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "long_factor[7] (0)");
  s = phi3_tiny_spec();
  s.head_dim = 2 * TTT_MAX_ROPE_FACTORS + 2;
  CHECK_ERR(ttt_rope_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "<= 128 factors");
  ttt_rope_spec none = {.type = TTT_ROPE_NONE};
  CHECK_OK(ttt_rope_spec_validate(&none));
  CHECK_ERR(ttt_rope_create(&none, &rope), TTT_ERR_INVALID_ARGUMENT, "type none");
  CHECK(rope == NULL);

  ttt_context *ctx = ttt_test_context(1);
  s = llama3_tiny_spec();
  CHECK_OK(ttt_rope_create(&s, &rope));
  float x[2 * 16] = {0}, freq[8];
  int32_t pos[2] = {0, 256};
  ttt_tensor v = ttt_tensor_3d(TTT_F32, x, 2, 1, 16);
  CHECK_ERR(ttt_rope_apply(ctx, rope, &v, pos), TTT_ERR_OUT_OF_RANGE, "positions[1] = 256");
  ttt_tensor wrong = ttt_tensor_3d(TTT_F32, x, 2, 2, 8);
  pos[1] = 1;
  CHECK_ERR(ttt_rope_apply(ctx, rope, &wrong, pos), TTT_ERR_SHAPE, "[T, heads, 16]");
  CHECK_ERR(ttt_rope_inv_freq(rope, freq, 4), TTT_ERR_SHAPE, "rotary_dim/2 = 8");
  ttt_rope_destroy(rope);
  ttt_rope_destroy(NULL);
  ttt_context_destroy(ctx);
}

int main(void) {
  TTT_RUN(test_llama3_inv_freq_matches_hf_golden);
  TTT_RUN(test_longrope_matches_hf);
  TTT_RUN(test_all_types_match_reference);
  TTT_RUN(test_scaling_properties);
  TTT_RUN(test_rotation_properties);
  TTT_RUN(test_threads_agree);
  TTT_RUN(test_validation);
  return ttt_test_finish();
}
