/*
 * Sampler on hand-made logits: greedy (ties → lowest id), top-k = 1 is greedy, top-k / top-p /
 * min-p keep exactly the expected support, sampled frequencies match the renormalized
 * probabilities (computed here independently in double), the repetition penalty's HF math,
 * OpenAI's presence and frequency penalties, and
 * seeding (same seed → same draws, different seed → different draws).
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "ttt_sampler.h"
#include "ttt_test.h"

#define DRAWS 20000

/* Logits whose softmax (temperature 1) is exactly `probs`. */
static void logits_of(const double *probs, int n, float *logits) {
  for (int i = 0; i < n; i++) logits[i] = probs[i] > 0 ? (float)log(probs[i]) : -INFINITY;
}

/* Expected distribution: softmax(logits / t) restricted to `keep` (1 = kept), renormalized. */
static void expected(const float *logits, int n, double t, const int *keep, double *out) {
  double max = -INFINITY, total = 0;
  for (int i = 0; i < n; i++)
    if (keep[i] && logits[i] / t > max) max = logits[i] / t;
  for (int i = 0; i < n; i++) {
    out[i] = keep[i] ? exp(logits[i] / t - max) : 0.0;
    total += out[i];
  }
  for (int i = 0; i < n; i++) out[i] /= total;
}

/* Checks distribution() against `want` and that DRAWS samples stay in the support with
 * frequencies within 0.015 of `want` (about 5 standard deviations for 20000 draws). */
static void check_sampling(const ttt_sampler_params *params, const float *logits, int n,
                           const double *want) {
  ttt_sampler *s = NULL;
  CHECK_OK(ttt_sampler_create(n, params, &s));
  if (!s) return;
  float probs[16];
  CHECK_OK(ttt_sampler_distribution(s, logits, probs));
  for (int i = 0; i < n; i++)
    CHECK_MSG(fabs(probs[i] - want[i]) < 1e-6, "distribution[%d] = %g, expected %g", i,
              (double)probs[i], want[i]);
  int counts[16] = {0};
  for (int d = 0; d < DRAWS; d++) {
    int32_t token = -1;
    CHECK_OK(ttt_sampler_sample(s, logits, &token));
    if (token < 0 || token >= n) {
      CHECK_MSG(false, "sampled id %d outside [0, %d)", token, n);
      break;
    }
    counts[token]++;
  }
  for (int i = 0; i < n; i++) {
    if (want[i] == 0.0)
      CHECK_MSG(counts[i] == 0, "id %d is outside the support but drawn %d times", i, counts[i]);
    double freq = (double)counts[i] / DRAWS;
    CHECK_MSG(fabs(freq - want[i]) < 0.015, "id %d: frequency %.4f, expected %.4f", i, freq,
              want[i]);
  }
  ttt_sampler_destroy(s);
}

static void test_greedy_ties_lowest_id(void) {
  const float logits[6] = {1.0f, 3.0f, -2.0f, 3.0f, 2.5f, 3.0f};
  ttt_sampler *s = NULL;
  CHECK_OK(ttt_sampler_create(6, &(ttt_sampler_params){.temperature = 0, .top_k = 3}, &s));
  int32_t token = -1;
  for (int i = 0; i < 5; i++) {
    CHECK_OK(ttt_sampler_sample(s, logits, &token));
    CHECK(token == 1);
  }
  ttt_sampler_destroy(s);
}

static void test_top_k_1_is_greedy(void) {
  ttt_test_rng rng = ttt_test_rng_make(7);
  ttt_sampler *s = NULL;
  CHECK_OK(ttt_sampler_create(64, &(ttt_sampler_params){.temperature = 1.5f, .top_k = 1, .seed = 3},
                              &s));
  float logits[64];
  for (int trial = 0; trial < 200; trial++) {
    ttt_test_fill_uniform(&rng, logits, 64, -4.0f, 4.0f);
    int best = 0;
    for (int i = 1; i < 64; i++)
      if (logits[i] > logits[best]) best = i;
    int32_t token = -1;
    CHECK_OK(ttt_sampler_sample(s, logits, &token));
    CHECK_MSG(token == best, "trial %d: top-k 1 drew %d, greedy is %d", trial, token, best);
  }
  ttt_sampler_destroy(s);
}

static void test_temperature_only(void) {
  const float logits[5] = {0.3f, -1.0f, 2.0f, 0.9f, 1.1f};
  const int keep[5] = {1, 1, 1, 1, 1};
  double want[5];
  expected(logits, 5, 0.7, keep, want);
  check_sampling(&(ttt_sampler_params){.temperature = 0.7f, .seed = 11}, logits, 5, want);
}

static void test_top_k_support(void) {
  const float logits[6] = {0.0f, 1.0f, 2.0f, 1.5f, -0.5f, 0.5f};
  const int keep[6] = {0, 1, 1, 1, 0, 0}; /* the 3 largest: ids 2, 3, 1 */
  double want[6];
  expected(logits, 6, 1.3, keep, want);
  check_sampling(&(ttt_sampler_params){.temperature = 1.3f, .top_k = 3, .seed = 5}, logits, 6,
                 want);
}

static void test_top_p_support(void) {
  /* Probabilities 0.1, 0.5, 0.15, 0.25: sorted 0.5, 0.25, 0.15, 0.1. With top_p 0.7 the first two
   * (mass 0.75) are kept; with 0.8 the third joins (mass 0.75 < 0.8 before it). */
  const double probs[4] = {0.1, 0.5, 0.15, 0.25};
  float logits[4];
  logits_of(probs, 4, logits);
  double want[4];
  expected(logits, 4, 1.0, (const int[]){0, 1, 0, 1}, want);
  check_sampling(&(ttt_sampler_params){.temperature = 1.0f, .top_p = 0.7f, .seed = 1}, logits, 4,
                 want);
  expected(logits, 4, 1.0, (const int[]){0, 1, 1, 1}, want);
  check_sampling(&(ttt_sampler_params){.temperature = 1.0f, .top_p = 0.8f, .seed = 2}, logits, 4,
                 want);
  /* A tiny top_p keeps only the most likely token. */
  expected(logits, 4, 1.0, (const int[]){0, 1, 0, 0}, want);
  check_sampling(&(ttt_sampler_params){.temperature = 1.0f, .top_p = 0.01f, .seed = 3}, logits, 4,
                 want);
}

static void test_min_p_support(void) {
  /* min_p 0.25 × top prob 0.5 = 0.125: 0.5, 0.25, 0.15 stay, 0.1 goes. */
  const double probs[5] = {0.15, 0.5, 0.1, 0.25, 0.0};
  float logits[5];
  logits_of(probs, 5, logits);
  double want[5];
  expected(logits, 5, 1.0, (const int[]){1, 1, 0, 1, 0}, want);
  check_sampling(&(ttt_sampler_params){.temperature = 1.0f, .min_p = 0.25f, .seed = 9}, logits, 5,
                 want);
}

static void test_filters_combined(void) {
  /* top-k 4 drops id 4 (prob 0.05); the rest renormalized is 0.421, 0.316, 0.158, 0.105; top-p
   * 0.85 keeps the first three (mass before the fourth: 0.895 >= 0.85); min-p 0.45 × 0.421 =
   * 0.189 then drops 0.158 (id 2). */
  const double probs[5] = {0.4, 0.3, 0.15, 0.1, 0.05};
  float logits[5];
  logits_of(probs, 5, logits);
  double want[5];
  expected(logits, 5, 1.0, (const int[]){1, 1, 0, 0, 0}, want);
  check_sampling(
      &(ttt_sampler_params){
          .temperature = 1.0f, .top_k = 4, .top_p = 0.85f, .min_p = 0.45f, .seed = 4},
      logits, 5, want);
}

static void test_repeat_penalty(void) {
  /* HF: seen logits > 0 are divided by the penalty, others multiplied. */
  const float logits[4] = {2.0f, 1.5f, -1.0f, -0.5f};
  const float penalized[4] = {1.0f, 1.5f, -2.0f, -0.5f};
  ttt_sampler *s = NULL;
  CHECK_OK(ttt_sampler_create(4, &(ttt_sampler_params){.temperature = 1.0f, .repeat_penalty = 2.0f},
                              &s));
  if (!s) return;
  CHECK_OK(ttt_sampler_accept(s, 0));
  CHECK_OK(ttt_sampler_accept(s, 2));
  CHECK_ERR(ttt_sampler_accept(s, 4), TTT_ERR_OUT_OF_RANGE, "token 4");
  float probs[4];
  double want[4];
  expected(penalized, 4, 1.0, (const int[]){1, 1, 1, 1}, want);
  CHECK_OK(ttt_sampler_distribution(s, logits, probs));
  for (int i = 0; i < 4; i++)
    CHECK_MSG(fabs(probs[i] - want[i]) < 1e-6, "penalized prob[%d] = %g, expected %g", i,
              (double)probs[i], want[i]);
  ttt_sampler_destroy(s);
  /* Greedy with the penalty: id 0 (2 → 1) loses to id 1. */
  CHECK_OK(ttt_sampler_create(4, &(ttt_sampler_params){.repeat_penalty = 2.0f}, &s));
  CHECK_OK(ttt_sampler_accept(s, 0));
  int32_t token = -1;
  CHECK_OK(ttt_sampler_sample(s, logits, &token));
  CHECK(token == 1);
  /* reset forgets the seen tokens. */
  ttt_sampler_reset(s);
  CHECK_OK(ttt_sampler_sample(s, logits, &token));
  CHECK(token == 0);
  ttt_sampler_destroy(s);
}

static void test_presence_frequency_penalties(void) {
  /* OpenAI: logit -= presence × (count > 0) + frequency × count, over generated tokens only. */
  const float logits[4] = {2.0f, 1.5f, -1.0f, 0.25f};
  ttt_sampler *s = NULL;
  CHECK_OK(ttt_sampler_create(4,
                              &(ttt_sampler_params){.temperature = 1.0f,
                                                    .presence_penalty = 0.5f,
                                                    .frequency_penalty = 0.25f},
                              &s));
  if (!s) return;
  CHECK_OK(ttt_sampler_accept(s, 3)); /* a prompt token: not penalized */
  CHECK_OK(ttt_sampler_accept_generated(s, 0));
  CHECK_OK(ttt_sampler_accept_generated(s, 0));
  CHECK_OK(ttt_sampler_accept_generated(s, 2));
  CHECK_ERR(ttt_sampler_accept_generated(s, -1), TTT_ERR_OUT_OF_RANGE, "token -1");
  /* id 0: 2 - 0.5 - 2 x 0.25 = 1; id 2: -1 - 0.5 - 0.25 = -1.75. */
  const float penalized[4] = {1.0f, 1.5f, -1.75f, 0.25f};
  float probs[4];
  double want[4];
  expected(penalized, 4, 1.0, (const int[]){1, 1, 1, 1}, want);
  CHECK_OK(ttt_sampler_distribution(s, logits, probs));
  for (int i = 0; i < 4; i++)
    CHECK_MSG(fabs(probs[i] - want[i]) < 1e-6, "penalized prob[%d] = %g, expected %g", i,
              (double)probs[i], want[i]);
  ttt_sampler_destroy(s);
  /* Greedy: a negative presence penalty favours a generated token (id 3: 0.25 + 2 > 2). */
  CHECK_OK(ttt_sampler_create(4, &(ttt_sampler_params){.presence_penalty = -2.0f}, &s));
  int32_t token = -1;
  CHECK_OK(ttt_sampler_sample(s, logits, &token));
  CHECK(token == 0);
  CHECK_OK(ttt_sampler_accept_generated(s, 3));
  CHECK_OK(ttt_sampler_sample(s, logits, &token));
  CHECK(token == 3);
  ttt_sampler_reset(s); /* forgets the counts */
  CHECK_OK(ttt_sampler_sample(s, logits, &token));
  CHECK(token == 0);
  ttt_sampler_destroy(s);
}

static void draw_sequence(uint64_t seed, int32_t *out, int n) {
  float logits[16];
  for (int i = 0; i < 16; i++) logits[i] = 0.1f * (float)i;
  ttt_sampler *s = NULL;
  CHECK_OK(ttt_sampler_create(16, &(ttt_sampler_params){.temperature = 1.0f, .seed = seed}, &s));
  for (int i = 0; i < n; i++) {
    out[i] = -1;
    if (s) CHECK_OK(ttt_sampler_sample(s, logits, &out[i]));
  }
  ttt_sampler_destroy(s);
}

static void test_seed_reproducible(void) {
  int32_t a[64], b[64], c[64];
  draw_sequence(42, a, 64);
  draw_sequence(42, b, 64);
  draw_sequence(43, c, 64);
  int same_ab = 0, same_ac = 0;
  for (int i = 0; i < 64; i++) {
    same_ab += a[i] == b[i];
    same_ac += a[i] == c[i];
  }
  CHECK_MSG(same_ab == 64, "same seed: %d of 64 draws agree", same_ab);
  /* 16 near-uniform choices: two independent streams agree on ~4 of 64 draws. */
  CHECK_MSG(same_ac < 20, "different seeds: %d of 64 draws agree", same_ac);
}

/* Scores that are not finite (NaN logits from a corrupted checkpoint; a temperature so small that
 * 1/T overflows) still give a valid token: the top candidate, or id 0 when nothing is finite. */
static void test_non_finite_scores(void) {
  const float nan_logits[4] = {NAN, NAN, NAN, NAN}, peaked[4] = {0.5f, 2.0f, 1.0f, -1.0f};
  ttt_sampler *s = NULL;
  CHECK_OK(ttt_sampler_create(4, &(ttt_sampler_params){.temperature = 1.0f, .top_p = 0.9f}, &s));
  int32_t token = -1;
  CHECK_OK(ttt_sampler_sample(s, nan_logits, &token));
  CHECK_MSG(token == 0, "all-NaN logits gave token %d", (int)token);
  ttt_sampler_destroy(s);
  CHECK_OK(ttt_sampler_create(4, &(ttt_sampler_params){.temperature = 1e-39f, .top_p = 0.9f}, &s));
  for (int i = 0; i < 8; i++) {
    CHECK_OK(ttt_sampler_sample(s, peaked, &token));
    CHECK_MSG(token == 1, "temperature 1e-39 gave token %d, expected the argmax 1", (int)token);
  }
  ttt_sampler_destroy(s);
}

static void test_bad_params(void) {
  ttt_sampler *s = NULL;
  CHECK_ERR(ttt_sampler_create(8, &(ttt_sampler_params){.temperature = -1}, &s),
            TTT_ERR_INVALID_ARGUMENT, "temperature");
  CHECK_ERR(ttt_sampler_create(8, &(ttt_sampler_params){.top_p = 1.5f}, &s),
            TTT_ERR_INVALID_ARGUMENT, "top_p");
  CHECK_ERR(ttt_sampler_create(8, &(ttt_sampler_params){.min_p = -0.1f}, &s),
            TTT_ERR_INVALID_ARGUMENT, "min_p");
  CHECK_ERR(ttt_sampler_create(8, &(ttt_sampler_params){.top_k = -2}, &s), TTT_ERR_INVALID_ARGUMENT,
            "top_k");
  CHECK_ERR(ttt_sampler_create(8, &(ttt_sampler_params){.repeat_penalty = -2}, &s),
            TTT_ERR_INVALID_ARGUMENT, "repeat_penalty");
  CHECK_ERR(ttt_sampler_create(8, &(ttt_sampler_params){.presence_penalty = 2.5f}, &s),
            TTT_ERR_INVALID_ARGUMENT, "presence_penalty");
  CHECK_ERR(ttt_sampler_create(8, &(ttt_sampler_params){.frequency_penalty = NAN}, &s),
            TTT_ERR_INVALID_ARGUMENT, "frequency_penalty");
  CHECK_ERR(ttt_sampler_create(0, &(ttt_sampler_params){0}, &s), TTT_ERR_INVALID_ARGUMENT, "vocab");
  CHECK(s == NULL);
}

int main(void) {
  TTT_RUN(test_greedy_ties_lowest_id);
  TTT_RUN(test_top_k_1_is_greedy);
  TTT_RUN(test_temperature_only);
  TTT_RUN(test_top_k_support);
  TTT_RUN(test_top_p_support);
  TTT_RUN(test_min_p_support);
  TTT_RUN(test_filters_combined);
  TTT_RUN(test_repeat_penalty);
  TTT_RUN(test_presence_frequency_penalties);
  TTT_RUN(test_non_finite_scores);
  TTT_RUN(test_seed_reproducible);
  TTT_RUN(test_bad_params);
  return ttt_test_finish();
}
