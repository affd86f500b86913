/*
 * Fuzz-style checks on the real tokenizers (meant to run under ASan/UBSan too): random bytes and
 * random Unicode text encode and decode without errors and with valid UTF-8 output; valid text
 * round-trips (after NFC for Qwen3, with U+2581 read as a space for SentencePiece); the streaming
 * detokenizer equals the full decode on random id sequences; long degenerate inputs; randomly
 * corrupted tokenizer.json files load or fail cleanly.
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "ttt_test.h"
#include "ttt_tokenizer.h"

typedef enum roundtrip { RT_EXACT, RT_NFC, RT_METASPACE } roundtrip;

static size_t put_cp(char *out, uint32_t cp) {
  return (size_t)utf8proc_encode_char((utf8proc_int32_t)cp, (utf8proc_uint8_t *)out);
}

/* A random code point: mostly ASCII, with whitespace (including U+0085, U+3000), Latin, combining
 * marks, Greek/Cyrillic, CJK, Hangul and emoji with ZWJ and skin tones. */
static uint32_t random_cp(ttt_test_rng *rng) {
  static const uint32_t spaces[] = {' ', '\t', '\n', '\r', 0x0B, 0x85, 0xA0, 0x2028, 0x3000};
  static const uint32_t ranges[][2] = {{0x20, 0x7E},     {0xC0, 0x24F},      {0x300, 0x36F},
                                       {0x391, 0x3C9},   {0x410, 0x44F},     {0x4E00, 0x4FFF},
                                       {0xAC00, 0xACFF}, {0x1F600, 0x1F64F}, {0x1F3FB, 0x1F3FF},
                                       {0x200D, 0x200D}, {'0', '9'},         {0x3040, 0x30FF}};
  uint64_t r = ttt_test_rng_next(rng);
  if (r % 8 == 0) return spaces[(r >> 8) % (sizeof spaces / sizeof spaces[0])];
  if (r % 8 < 4) return 0x20 + (uint32_t)((r >> 8) % 95);
  size_t k = (size_t)((r >> 8) % (sizeof ranges / sizeof ranges[0]));
  return ranges[k][0] + (uint32_t)((r >> 20) % (ranges[k][1] - ranges[k][0] + 1));
}

static char *expected_roundtrip(const char *s, roundtrip rt) {
  if (rt == RT_NFC) return (char *)utf8proc_NFC((const utf8proc_uint8_t *)s);
  char *out = malloc(strlen(s) + 1), *o = out;
  for (const char *p = s; *p;) {
    if (rt == RT_METASPACE && strncmp(p, "\xE2\x96\x81", 3) == 0) {
      *o++ = ' ';
      p += 3;
    } else {
      *o++ = *p++;
    }
  }
  *o = '\0';
  return out;
}

static bool valid_utf8(const char *s, size_t n) {
  utf8proc_int32_t cp;
  for (size_t i = 0; i < n;) {
    utf8proc_ssize_t k =
        utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
    if (k <= 0) return false;
    i += (size_t)k;
  }
  return true;
}

static int fuzz_bytes(const ttt_tokenizer *t, ttt_test_rng *rng, int rounds) {
  int bad = 0;
  char buf[256];
  for (int r = 0; r < rounds; r++) {
    size_t n = ttt_test_rng_next(rng) % sizeof buf;
    for (size_t i = 0; i < n; i++) buf[i] = (char)(ttt_test_rng_next(rng) & 0xFF);
    int32_t *ids = NULL;
    int64_t n_ids = 0;
    char *text = NULL;
    size_t len = 0;
    if (ttt_tokenizer_encode(t, buf, n, r % 2, &ids, &n_ids) != TTT_OK)
      bad++;
    else if (ttt_tokenizer_decode(t, ids, n_ids, r % 3 == 0, &text, &len) != TTT_OK)
      bad++;
    else if (!valid_utf8(text, len))
      bad++;
    free(ids);
    free(text);
  }
  return bad;
}

static int fuzz_unicode(const ttt_tokenizer *t, ttt_test_rng *rng, int rounds, roundtrip rt) {
  int bad = 0;
  char buf[1024];
  for (int r = 0; r < rounds; r++) {
    size_t n = 0, chars = ttt_test_rng_next(rng) % 120;
    for (size_t i = 0; i < chars; i++) n += put_cp(buf + n, random_cp(rng));
    buf[n] = '\0';
    int32_t *ids = NULL;
    int64_t n_ids = 0;
    char *text = NULL;
    if (ttt_tokenizer_encode(t, buf, n, false, &ids, &n_ids) != TTT_OK ||
        ttt_tokenizer_decode(t, ids, n_ids, false, &text, NULL) != TTT_OK) {
      bad++;
    } else {
      char *want = expected_roundtrip(buf, rt);
      if (strcmp(text, want) != 0) {
        if (bad < 3) fprintf(stderr, "round trip differs:\n  '%s'\n  '%s'\n", want, text);
        bad++;
      }
      free(want);
    }
    free(ids);
    free(text);
  }
  return bad;
}

/* Random ids (a quarter from the first 300: bytes, byte-fallback and special tokens). */
static int fuzz_stream(const ttt_tokenizer *t, ttt_test_rng *rng, int rounds) {
  int bad = 0;
  int64_t vocab = ttt_tokenizer_vocab_size(t);
  int32_t ids[48];
  for (int r = 0; r < rounds; r++) {
    int64_t n = (int64_t)(ttt_test_rng_next(rng) % 48);
    for (int64_t i = 0; i < n; i++) {
      uint64_t x = ttt_test_rng_next(rng);
      ids[i] = (int32_t)(x % 4 == 0 ? (x >> 8) % 300 : (x >> 8) % (uint64_t)vocab);
      while (!ttt_tokenizer_token(t, ids[i])) ids[i] = (ids[i] + 1) % (int32_t)vocab;
    }
    bool skip = r % 2;
    char *full = NULL;
    size_t full_len = 0;
    ttt_detokenizer *d = NULL;
    if (ttt_tokenizer_decode(t, ids, n, skip, &full, &full_len) != TTT_OK ||
        ttt_detokenizer_create_ex(t, skip, &d) != TTT_OK) {
      bad++;
      free(full);
      continue;
    }
    char *joined = malloc(full_len * 2 + 64);
    size_t len = 0;
    bool ok = true;
    for (int64_t i = 0; i <= n && ok; i++) {
      const char *piece;
      size_t plen;
      ok = (i < n ? ttt_detokenizer_push(d, ids[i], &piece, &plen)
                  : ttt_detokenizer_flush(d, &piece, &plen)) == TTT_OK &&
           len + plen <= full_len && valid_utf8(piece, plen);
      if (ok) memcpy(joined + len, piece, plen);
      len += ok ? plen : 0;
    }
    if (!ok || len != full_len || memcmp(joined, full, len) != 0) bad++;
    free(joined);
    free(full);
    ttt_detokenizer_destroy(d);
  }
  return bad;
}

/* Long runs of one character class (one huge pre-token or none at all). */
static int degenerate_inputs(const ttt_tokenizer *t, roundtrip rt) {
  static const char *units[] = {" ", "a", "7", "\n", "!", "\xE4\xBD\xA0", "\xF0\x9F\x98\x80", " a"};
  int bad = 0;
  size_t reps = 20000;
  for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
    size_t ul = strlen(units[u]);
    char *s = malloc(ul * reps + 1);
    for (size_t i = 0; i < reps; i++) memcpy(s + i * ul, units[u], ul);
    s[ul * reps] = '\0';
    int32_t *ids = NULL;
    int64_t n = 0;
    char *text = NULL;
    if (ttt_tokenizer_encode(t, s, ul * reps, false, &ids, &n) != TTT_OK ||
        ttt_tokenizer_decode(t, ids, n, false, &text, NULL) != TTT_OK) {
      fprintf(stderr, "degenerate input %zu: %s\n", u, ttt_last_error());
      bad++;
    } else {
      char *want = expected_roundtrip(s, rt);
      bad += strcmp(want, text) != 0;
      free(want);
    }
    free(ids);
    free(text);
    free(s);
  }
  return bad;
}

static void fuzz_tokenizer(const char *tokenizer_json, uint64_t seed, roundtrip rt) {
  ttt_tokenizer *t = NULL;
  CHECK_OK(ttt_tokenizer_load(tokenizer_json, NULL, &t));
  if (!t) return;
  ttt_test_rng rng = ttt_test_rng_make(seed);
  int bad = fuzz_bytes(t, &rng, 300);
  CHECK_MSG(bad == 0, "%s: %d random byte strings failed", tokenizer_json, bad);
  bad = fuzz_unicode(t, &rng, 300, rt);
  CHECK_MSG(bad == 0, "%s: %d random Unicode strings did not round-trip", tokenizer_json, bad);
  bad = fuzz_stream(t, &rng, 300);
  CHECK_MSG(bad == 0, "%s: %d streamed decodes differ from the full decode", tokenizer_json, bad);
  bad = degenerate_inputs(t, rt);
  CHECK_MSG(bad == 0, "%s: %d degenerate inputs failed", tokenizer_json, bad);
  ttt_tokenizer_destroy(t);
}

static void test_fuzz_kjv(void) {
  fuzz_tokenizer(TTT_MODELS_DIR "/kjv-llama/tokenizer.json", 1, RT_EXACT);
}

static void test_fuzz_llama3(void) {
  fuzz_tokenizer(TTT_FIXTURES_DIR "/tokenizers/llama3/tokenizer.json", 2, RT_EXACT);
}

static void test_fuzz_qwen3(void) {
  fuzz_tokenizer(TTT_FIXTURES_DIR "/tokenizers/qwen3/tokenizer.json", 3, RT_NFC);
}

static void test_fuzz_spm(void) {
  fuzz_tokenizer(TTT_FIXTURES_DIR "/tokenizers/spm_bpe/tokenizer.json", 4, RT_METASPACE);
}

/* Corrupted files: one to four random bytes of a real tokenizer.json replaced. Loading must either
 * succeed (the result then encodes) or fail with a message; never crash. */
static void test_corrupted_files(void) {
  FILE *f = fopen(TTT_MODELS_DIR "/kjv-llama/tokenizer.json", "rb");
  CHECK(f != NULL);
  if (!f) return;
  static char orig[300000], data[300000];
  size_t n = fread(orig, 1, sizeof orig, f);
  fclose(f);
  const char *path = TTT_BINARY_DIR "/test_tokenizer_fuzz.tmp.json";
  ttt_test_rng rng = ttt_test_rng_make(5);
  int loaded = 0, failed_cleanly = 0, bad = 0;
  static const char junk[] = "{}[]\",:0-9a \\\x80\xFF";
  for (int r = 0; r < 120; r++) {
    memcpy(data, orig, n);
    int edits = 1 + (int)(ttt_test_rng_next(&rng) % 4);
    /* aim at the interesting head (components, added tokens) half of the time */
    for (int e = 0; e < edits; e++) {
      size_t at = (size_t)(ttt_test_rng_next(&rng) % (r % 2 ? n : 3000));
      data[at] = junk[ttt_test_rng_next(&rng) % (sizeof junk - 1)];
    }
    FILE *w = fopen(path, "wb");
    if (!w) break;
    fwrite(data, 1, n, w);
    fclose(w);
    ttt_tokenizer *t = NULL;
    ttt_status st = ttt_tokenizer_load(path, NULL, &t);
    if (st == TTT_OK) {
      int32_t *ids = NULL;
      int64_t k = 0;
      loaded++;
      const char *text = "In the beginning, 42 \xF0\x9F\x98\x80";
      bad += ttt_tokenizer_encode(t, text, (int64_t)strlen(text), true, &ids, &k) != TTT_OK;
      free(ids);
    } else {
      failed_cleanly += ttt_test_contains(ttt_last_error(), path);
    }
    ttt_tokenizer_destroy(t);
  }
  remove(path);
  CHECK_MSG(bad == 0, "%d corrupted-but-loaded tokenizers failed to encode", bad);
  CHECK_MSG(loaded + failed_cleanly == 120, "%d loads failed without naming the file",
            120 - loaded - failed_cleanly);
}

int main(void) {
  TTT_RUN(test_fuzz_kjv);
  TTT_RUN(test_fuzz_spm);
  TTT_RUN(test_fuzz_llama3);
  TTT_RUN(test_fuzz_qwen3);
  TTT_RUN(test_corrupted_files);
  return ttt_test_finish();
}
