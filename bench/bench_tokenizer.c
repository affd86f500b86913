/*
 * bench_tokenizer — load time of a tokenizer.json and single-core encode/decode throughput.
 *
 * usage: bench_tokenizer [TOKENIZER_JSON [TEXT_FILE]]
 * Defaults: the Llama 3 tokenizer (128k vocabulary) of tests/fixtures and ~1 MB of generated text:
 * words drawn with a Zipf distribution from a 30k-word synthetic lexicon (so the per-call piece
 * cache sees realistic reuse), with punctuation, numbers, newlines and 5% non-ASCII words.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ttt_tokenizer.h"

#define TEXT_BYTES (1 << 20)
#define LEXICON 30000

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1Dull;
}

/* A pronounceable word of 1-4 syllables; every 20th is Greek, Cyrillic or CJK. */
static void make_word(char *w, size_t cap, uint64_t index) {
  static const char *onsets[] = {"b", "c", "d", "f", "g",  "h",  "l",  "m",  "n",  "p",  "r",
                                 "s", "t", "v", "w", "th", "st", "br", "ch", "sh", "qu", ""};
  static const char *vowels[] = {"a", "e", "i", "o", "u", "ea", "ou", "ai", "y"};
  static const char *foreign[] = {"λόγος",  "время",    "世界",  "日本語",
                                  "한국어", "καλημέρα", "город", "東京"};
  if (index % 20 == 19) {
    snprintf(w, cap, "%s", foreign[index % 8]);
    return;
  }
  size_t n = 0;
  int syllables = 1 + (int)(index % 4);
  for (int s = 0; s < syllables; s++)
    n += (size_t)snprintf(w + n, cap - n, "%s%s", onsets[rng() % 22], vowels[rng() % 9]);
  if (index % 7 == 0) w[0] = (char)(w[0] - 'a' + 'A');
}

static char *generate_text(size_t *len) {
  static char lexicon[LEXICON][48];
  for (uint64_t i = 0; i < LEXICON; i++) make_word(lexicon[i], sizeof lexicon[i], i);
  char *text = malloc(TEXT_BYTES + 128);
  size_t n = 0;
  while (n < TEXT_BYTES) {
    /* Zipf-like rank: 1 / u skewed towards small ranks */
    double u = (double)(rng() >> 11) * (1.0 / 9007199254740992.0);
    size_t rank = (size_t)(1.0 / (u * 0.999 + 0.001)) - 1;
    if (rank >= LEXICON) rank = rng() % LEXICON;
    n += (size_t)snprintf(text + n, 64, "%s", lexicon[rank]);
    uint64_t r = rng() % 100;
    const char *sep = r < 80   ? " "
                      : r < 88 ? ", "
                      : r < 94 ? ". "
                      : r < 96 ? ".\n"
                      : r < 98 ? "; "
                               : " 1984 ";
    n += (size_t)snprintf(text + n, 16, "%s", sep);
  }
  *len = n;
  return text;
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *len = (size_t)n;
  return buf;
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : TTT_FIXTURES_DIR "/tokenizers/llama3/tokenizer.json";
  size_t len = 0;
  char *text = argc > 2 ? read_file(argv[2], &len) : generate_text(&len);
  if (!text) {
    fprintf(stderr, "bench_tokenizer: cannot read %s\n", argv[2]);
    return 1;
  }
  ttt_tokenizer *t = NULL;
  const int loads = 5;
  double best_load = 1e9;
  for (int i = 0; i < loads; i++) {
    ttt_tokenizer_destroy(t);
    double t0 = now();
    if (ttt_tokenizer_load(path, NULL, &t) != TTT_OK) {
      fprintf(stderr, "bench_tokenizer: %s\n", ttt_last_error());
      return 1;
    }
    double dt = now() - t0;
    if (dt < best_load) best_load = dt;
  }
  printf("tokenizer   %s (vocabulary %lld)\n", path, (long long)ttt_tokenizer_vocab_size(t));
  printf("load        %.1f ms (best of %d)\n", best_load * 1e3, loads);

  int32_t *ids = NULL;
  int64_t n_ids = 0;
  double best_enc = 1e9, best_dec = 1e9;
  char *out = NULL;
  size_t out_len = 0;
  for (int i = 0; i < 3; i++) {
    free(ids);
    double t0 = now();
    if (ttt_tokenizer_encode(t, text, len, false, &ids, &n_ids) != TTT_OK) {
      fprintf(stderr, "bench_tokenizer: %s\n", ttt_last_error());
      return 1;
    }
    double t1 = now();
    free(out);
    if (ttt_tokenizer_decode(t, ids, n_ids, false, &out, &out_len) != TTT_OK) {
      fprintf(stderr, "bench_tokenizer: %s\n", ttt_last_error());
      return 1;
    }
    double t2 = now();
    if (t1 - t0 < best_enc) best_enc = t1 - t0;
    if (t2 - t1 < best_dec) best_dec = t2 - t1;
  }
  printf("text        %zu bytes -> %lld tokens (%.2f bytes/token)\n", len, (long long)n_ids,
         (double)len / (double)n_ids);
  printf("encode      %.1f ms: %.2f MB/s, %.2f M tokens/s (one core, best of 3)\n", best_enc * 1e3,
         (double)len / best_enc / 1e6, (double)n_ids / best_enc / 1e6);
  printf("decode      %.1f ms: %.2f MB/s\n", best_dec * 1e3, (double)out_len / best_dec / 1e6);
  bool exact = out_len == len && memcmp(out, text, len) == 0;
  printf("round trip  %s\n", exact ? "exact" : "DIFFERS");
  free(out);
  free(ids);
  free(text);
  ttt_tokenizer_destroy(t);
  return exact ? 0 : 1;
}
