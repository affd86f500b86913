/* Next-token sampler (see ttt_sampler.h for the semantics). */
#include "ttt_sampler.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A candidate token: its (penalized, tempered) score and id. */
typedef struct candidate {
  float score;
  int32_t id;
} candidate;

struct ttt_sampler {
  ttt_sampler_params params;
  int64_t vocab;
  uint64_t rng[4];  /* xoshiro256** state */
  uint8_t *seen;    /* [vocab]: 1 if the token occurred in the sequence */
  int32_t *counts;  /* [vocab]: occurrences among the generated tokens */
  float *scores;    /* [vocab]: logits after the repetition penalty */
  candidate *cands; /* [vocab]: sorted most likely first */
  float *probs;     /* [vocab]: probabilities of cands (same order) */
};

/* splitmix64: expands the seed into the generator state (never all zero). */
static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* xoshiro256**: small, fast, and the same sequence on every platform. */
static uint64_t rng_next(uint64_t s[4]) {
  uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_uniform(uint64_t s[4]) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }

static ttt_status validate_params(const ttt_sampler_params *p) {
  if (!(p->temperature >= 0.0f) || !isfinite(p->temperature))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "sampler: temperature (%g) must be >= 0",
                         (double)p->temperature);
  if (p->top_k < 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "sampler: top_k (%d) must be >= 0", p->top_k);
  if (!(p->top_p >= 0.0f && p->top_p <= 1.0f))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "sampler: top_p (%g) must be in [0, 1]",
                         (double)p->top_p);
  if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "sampler: min_p (%g) must be in [0, 1]",
                         (double)p->min_p);
  if (!(p->repeat_penalty >= 0.0f) || !isfinite(p->repeat_penalty))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "sampler: repeat_penalty (%g) must be >= 0",
                         (double)p->repeat_penalty);
  if (!(p->presence_penalty >= -2.0f && p->presence_penalty <= 2.0f))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "sampler: presence_penalty (%g) must be in [-2, 2]",
                         (double)p->presence_penalty);
  if (!(p->frequency_penalty >= -2.0f && p->frequency_penalty <= 2.0f))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "sampler: frequency_penalty (%g) must be in [-2, 2]",
                         (double)p->frequency_penalty);
  return TTT_OK;
}

ttt_status ttt_sampler_create(int64_t vocab, const ttt_sampler_params *params, ttt_sampler **out) {
  if (!params || !out) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "sampler: NULL argument");
  *out = NULL;
  if (vocab < 1 || vocab > INT32_MAX)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "sampler: vocab (%lld) must be in 1..2^31-1",
                         (long long)vocab);
  ttt_status st = validate_params(params);
  if (st != TTT_OK) return st;
  ttt_sampler *s = calloc(1, sizeof *s);
  if (!s) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "sampler: out of memory");
  s->params = *params;
  s->vocab = vocab;
  s->seen = calloc((size_t)vocab, 1);
  s->counts = calloc((size_t)vocab, sizeof *s->counts);
  s->scores = malloc((size_t)vocab * sizeof *s->scores);
  s->cands = malloc((size_t)vocab * sizeof *s->cands);
  s->probs = malloc((size_t)vocab * sizeof *s->probs);
  if (!s->seen || !s->counts || !s->scores || !s->cands || !s->probs) {
    ttt_sampler_destroy(s);
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "sampler: out of memory for %lld tokens",
                         (long long)vocab);
  }
  ttt_sampler_reset(s);
  *out = s;
  return TTT_OK;
}

void ttt_sampler_destroy(ttt_sampler *s) {
  if (!s) return;
  free(s->seen);
  free(s->counts);
  free(s->scores);
  free(s->cands);
  free(s->probs);
  free(s);
}

void ttt_sampler_reset(ttt_sampler *s) {
  memset(s->seen, 0, (size_t)s->vocab);
  memset(s->counts, 0, (size_t)s->vocab * sizeof *s->counts);
  uint64_t x = s->params.seed;
  for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&x);
}

ttt_status ttt_sampler_accept(ttt_sampler *s, int32_t token) {
  if (token < 0 || token >= s->vocab)
    return ttt_set_error(TTT_ERR_OUT_OF_RANGE, "sampler: token %d outside the vocabulary [0, %lld)",
                         token, (long long)s->vocab);
  s->seen[token] = 1;
  return TTT_OK;
}

ttt_status ttt_sampler_accept_generated(ttt_sampler *s, int32_t token) {
  ttt_status st = ttt_sampler_accept(s, token);
  if (st == TTT_OK && s->counts[token] < INT32_MAX) s->counts[token]++;
  return st;
}

/* scores = logits with the repetition penalty applied to the seen tokens, then the presence and
 * frequency penalties to the generated ones. */
static void penalize(ttt_sampler *s, const float *logits) {
  memcpy(s->scores, logits, (size_t)s->vocab * sizeof *logits);
  float penalty = s->params.repeat_penalty;
  if (penalty != 0.0f && penalty != 1.0f) {
    for (int64_t i = 0; i < s->vocab; i++) {
      if (!s->seen[i]) continue;
      s->scores[i] = s->scores[i] > 0.0f ? s->scores[i] / penalty : s->scores[i] * penalty;
    }
  }
  float presence = s->params.presence_penalty, frequency = s->params.frequency_penalty;
  if (presence == 0.0f && frequency == 0.0f) return;
  for (int64_t i = 0; i < s->vocab; i++)
    if (s->counts[i] > 0) s->scores[i] -= presence + frequency * (float)s->counts[i];
}

/* Largest score; ties → lowest id. NaN scores never win. */
static int32_t argmax(const float *x, int64_t n) {
  int32_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (x[i] > x[best] || (isnan(x[best]) && !isnan(x[i]))) best = (int32_t)i;
  return best;
}

/* Most likely first; equal scores → lower id first (a total order, so qsort is deterministic). */
static int compare_candidates(const void *a, const void *b) {
  const candidate *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return (x->id > y->id) - (x->id < y->id);
}

/* Sorts the tempered scores, applies top-k, top-p and min-p; leaves the renormalized probabilities
 * of the kept candidates in probs[0..n) and returns n (>= 1). */
static int64_t filter(ttt_sampler *s) {
  const ttt_sampler_params *p = &s->params;
  float inv_t = 1.0f / p->temperature;
  for (int64_t i = 0; i < s->vocab; i++) {
    float v = s->scores[i] * inv_t;
    s->cands[i] = (candidate){.score = isnan(v) ? -INFINITY : v, .id = (int32_t)i};
  }
  qsort(s->cands, (size_t)s->vocab, sizeof *s->cands, compare_candidates);
  int64_t n = s->vocab;
  if (p->top_k > 0 && p->top_k < n) n = p->top_k;
  double max = s->cands[0].score, total = 0.0;
  if (!isfinite(max)) { /* an infinite logit, or no finite score at all (NaN logits) */
    s->probs[0] = 1.0f;
    return 1;
  }
  /* Softmax over the survivors, in double for the sums (total >= 1: the top one adds e^0). */
  for (int64_t i = 0; i < n; i++) {
    s->probs[i] = (float)exp((double)s->cands[i].score - max);
    total += s->probs[i];
  }
  /* top-p: keep a candidate while the mass before it is below top_p (so at least one). */
  if (p->top_p > 0.0f && p->top_p < 1.0f) {
    double before = 0.0;
    int64_t keep = 0;
    while (keep < n && before < (double)p->top_p * total) before += s->probs[keep++];
    n = keep;
  }
  /* min-p: relative to the most likely candidate, probs[0]. */
  if (p->min_p > 0.0f) {
    float threshold = p->min_p * s->probs[0];
    int64_t keep = 1;
    while (keep < n && s->probs[keep] >= threshold) keep++;
    n = keep;
  }
  total = 0.0;
  for (int64_t i = 0; i < n; i++) total += s->probs[i];
  for (int64_t i = 0; i < n; i++) s->probs[i] = (float)(s->probs[i] / total);
  return n;
}

/* Temperature 0, or one so small that 1/T overflows (every score would be ±inf): the argmax. */
static bool is_greedy(const ttt_sampler_params *p) {
  return p->temperature == 0.0f || isinf(1.0f / p->temperature);
}

static ttt_status check_call(const ttt_sampler *s, const float *logits, const void *out) {
  if (!s || !logits || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "sampler: NULL argument");
  return TTT_OK;
}

ttt_status ttt_sampler_sample(ttt_sampler *s, const float *logits, int32_t *token) {
  ttt_status st = check_call(s, logits, token);
  if (st != TTT_OK) return st;
  penalize(s, logits);
  if (is_greedy(&s->params)) {
    *token = argmax(s->scores, s->vocab);
    return TTT_OK;
  }
  int64_t n = filter(s);
  double u = rng_uniform(s->rng), cumulative = 0.0;
  for (int64_t i = 0; i < n; i++) {
    cumulative += s->probs[i];
    if (u < cumulative) {
      *token = s->cands[i].id;
      return TTT_OK;
    }
  }
  *token = s->cands[n - 1].id; /* u beyond the rounded total mass */
  return TTT_OK;
}

ttt_status ttt_sampler_distribution(ttt_sampler *s, const float *logits, float *probs) {
  ttt_status st = check_call(s, logits, probs);
  if (st != TTT_OK) return st;
  penalize(s, logits);
  memset(probs, 0, (size_t)s->vocab * sizeof *probs);
  if (is_greedy(&s->params)) {
    probs[argmax(s->scores, s->vocab)] = 1.0f;
    return TTT_OK;
  }
  int64_t n = filter(s);
  for (int64_t i = 0; i < n; i++) probs[s->cands[i].id] = s->probs[i];
  return TTT_OK;
}
