/*
 * fuzz_tokenizer_codec — encode, decode and streaming decode on the project's real tokenizers
 * (models/kjv-llama, and tests/fixtures/tokenizers: llama3, qwen3, spm_bpe), loaded once.
 *
 * Input: byte 0 selects the tokenizer (bits 0-1), add_special (bit 2) and the mode (bit 3):
 *   text mode  the rest is text to encode;
 *   ids mode   the rest is a sequence of little-endian 3-byte ids (some outside the vocabulary).
 * Invariants:
 *   - encoded ids name tokens; decodes are valid UTF-8; streamed decode == full decode, for both
 *     skip_special values; a refused push leaves the stream unchanged (fuzz_check_decode);
 *   - round trip on valid UTF-8 input: decode(encode(x)) == x for the byte-level tokenizers
 *     without a normalizer (kjv-llama, llama3); == NFC(x) for qwen3 (its normalizer is NFC, the
 *     oracle is utf8proc's); for spm_bpe (normalizer: prepend ▁, spaces → ▁; decoder: ▁ → space,
 *     strip one leading space) when x contains no ▁ and no added-token text, whose surrounding
 *     spaces HF's Strip decoder does not restore either;
 *   - decode∘encode is idempotent for every tokenizer and any input (spm_bpe: without special
 *     tokens in the text).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

typedef enum round_trip { EXACT, NFC, SPM } round_trip;

static const struct {
  const char *dir;
  round_trip kind;
} tokenizers[4] = {
    {"models/kjv-llama", EXACT},
    {"tests/fixtures/tokenizers/llama3", EXACT},
    {"tests/fixtures/tokenizers/qwen3", NFC},
    {"tests/fixtures/tokenizers/spm_bpe", SPM},
};
static ttt_tokenizer *loaded[4];
/* The contents of spm_bpe's special added tokens (listed once: the vocabulary is large). */
static const char *spm_specials[16];
static int n_spm_specials;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  for (int i = 0; i < 4; i++) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", TTT_SOURCE_DIR, tokenizers[i].dir);
    if (ttt_tokenizer_load_dir(dir, &loaded[i]) != TTT_OK) {
      fprintf(stderr, "cannot load %s: %s\n", dir, ttt_last_error());
      abort();
    }
  }
  const ttt_tokenizer *spm = loaded[3];
  for (int32_t id = 0; id < ttt_tokenizer_vocab_size(spm) && n_spm_specials < 16; id++)
    if (ttt_tokenizer_is_special(spm, id) && ttt_tokenizer_token(spm, id))
      spm_specials[n_spm_specials++] = ttt_tokenizer_token(spm, id);
  return 0;
}

static bool contains(const char *text, size_t len, const char *needle) {
  size_t n = strlen(needle);
  for (size_t i = 0; i + n <= len; i++)
    if (memcmp(text + i, needle, n) == 0) return true;
  return false;
}

/* True when no special token of spm_bpe occurs in the text. */
static bool has_no_spm_special(const char *text, size_t len) {
  for (int i = 0; i < n_spm_specials; i++)
    if (spm_specials[i][0] && contains(text, len, spm_specials[i])) return false;
  return true;
}

/* The text decode(encode(x)) must equal, or NULL when this tokenizer promises none. */
static char *expected_round_trip(round_trip kind, const char *x, size_t len, size_t *out_len) {
  if (!fuzz_utf8_valid(x, len) || memchr(x, 0, len)) return NULL;
  if (kind == NFC) {
    utf8proc_uint8_t *nfc = utf8proc_NFC((const utf8proc_uint8_t *)x);
    if (nfc) *out_len = strlen((const char *)nfc);
    return (char *)nfc;
  }
  if (kind == SPM && (contains(x, len, "\xe2\x96\x81") || !has_no_spm_special(x, len))) return NULL;
  *out_len = len;
  return fuzz_strndup((const uint8_t *)x, len);
}

static char *encode_decode(const ttt_tokenizer *t, const char *text, size_t len, bool add_special,
                           size_t *out_len) {
  int32_t *ids = NULL;
  int64_t n = 0;
  ttt_status st = ttt_tokenizer_encode(t, text, len, add_special, &ids, &n);
  FUZZ_CHECK(st == TTT_OK, "encode failed: %s", ttt_status_str(st));
  for (int64_t i = 0; i < n; i++)
    FUZZ_CHECK(ids[i] >= 0 && ids[i] < ttt_tokenizer_vocab_size(t) &&
                   ttt_tokenizer_token(t, ids[i]),
               "encode produced id %d that names no token", ids[i]);
  size_t skip_len;
  free(fuzz_check_decode(t, ids, n, true, &skip_len));
  char *decoded = fuzz_check_decode(t, ids, n, false, out_len);
  free(ids);
  return decoded;
}

static void text_mode(int which, bool add_special, const uint8_t *data, size_t size) {
  const ttt_tokenizer *t = loaded[which];
  char *x = fuzz_strndup(data, size);
  size_t y_len, z_len, want_len = 0;
  /* Round trips are about the text: encode without special ids (a BOS would decode as text). */
  char *y = encode_decode(t, x, size, false, &y_len);
  if (add_special) free(encode_decode(t, x, size, true, &z_len));
  char *want = expected_round_trip(tokenizers[which].kind, x, size, &want_len);
  if (want)
    FUZZ_CHECK(y_len == want_len && memcmp(y, want, y_len) == 0,
               "%s: decode(encode(x)) differs from the expected round trip (%zu vs %zu bytes)",
               tokenizers[which].dir, y_len, want_len);
  /* spm_bpe re-prepends ▁ after every special token it meets (as HF does), so its decode∘encode
   * grows a space there on each pass: idempotent only without special tokens. */
  if (tokenizers[which].kind != SPM || has_no_spm_special(y, y_len)) {
    char *z = encode_decode(t, y, y_len, false, &z_len);
    FUZZ_CHECK(z_len == y_len && memcmp(y, z, y_len) == 0, "%s: decode∘encode is not idempotent",
               tokenizers[which].dir);
    free(z);
  }
  free(want);
  free(y);
  free(x);
}

static void ids_mode(int which, const uint8_t *data, size_t size) {
  const ttt_tokenizer *t = loaded[which];
  int64_t n = (int64_t)(size / 3);
  if (n > 1024) n = 1024;
  int32_t *ids = malloc(sizeof *ids * (size_t)(n > 0 ? n : 1));
  /* 3 bytes → [0, 2^24); folded onto [-1, vocab + 1] so most ids are valid. */
  int64_t span = ttt_tokenizer_vocab_size(t) + 3;
  for (int64_t i = 0; i < n; i++) {
    uint32_t v = data[3 * i] | (uint32_t)data[3 * i + 1] << 8 | (uint32_t)data[3 * i + 2] << 16;
    ids[i] = (int32_t)((int64_t)v % span) - 1;
  }
  for (int skip = 0; skip < 2; skip++) {
    size_t len;
    free(fuzz_check_decode(t, ids, n, skip, &len));
  }
  free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int which = data[0] & 3;
  bool add_special = data[0] & 4;
  bool ids = data[0] & 8;
  if (ids)
    ids_mode(which, data + 1, size - 1);
  else
    text_mode(which, add_special, data + 1, size - 1);
  return 0;
}
