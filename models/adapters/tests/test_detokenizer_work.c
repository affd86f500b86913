/*
 * The streaming detokenizer does O(token length) work per push, amortized (issue 19: every push
 * re-decoded the whole pending window, and the window never shrank while the text ended in U+FFFD,
 * so pushing Llama-3's id 159, byte 0xE3, n times took O(n²)). The work is measured
 * deterministically, as the number of ids the stream passes to the decoder
 * (tok_detokenizer_decoded_ids), and must stay below a small multiple of the ids pushed; the
 * streamed text must still equal the full decode.
 */
#include <stdlib.h>
#include <string.h>

#include "../tokenizer/tok_internal.h"
#include "ttt_test.h"
#include "ttt_tokenizer.h"

#define LLAMA3 TTT_FIXTURES_DIR "/tokenizers/llama3/tokenizer.json"
#define SPM TTT_FIXTURES_DIR "/tokenizers/spm_bpe/tokenizer.json"

/* Decoder calls per push stay below this many ids on average (the window holds the last emitted
 * group as context plus a few pending ids, decoded at most three times per push). */
enum { MAX_IDS_DECODED_PER_PUSH = 16 };

/* Streams ids through a detokenizer; checks the joined pieces against the full decode and bounds
 * the work. */
static void check_stream(const ttt_tokenizer *t, const int32_t *ids, int64_t n, const char *what) {
  char *full = NULL;
  size_t full_len = 0;
  CHECK_OK(ttt_tokenizer_decode(t, ids, n, false, &full, &full_len));
  ttt_detokenizer *d = NULL;
  CHECK_OK(ttt_detokenizer_create(t, &d));
  if (!full || !d) {
    free(full);
    ttt_detokenizer_destroy(d);
    return;
  }
  char *joined = malloc(full_len + 1);
  size_t len = 0;
  bool ok = true;
  for (int64_t i = 0; i <= n && ok; i++) {
    const char *piece = NULL;
    size_t plen = 0;
    ttt_status st = i < n ? ttt_detokenizer_push(d, ids[i], &piece, &plen)
                          : ttt_detokenizer_flush(d, &piece, &plen);
    ok = st == TTT_OK && len + plen <= full_len;
    if (ok) memcpy(joined + len, piece, plen);
    len += ok ? plen : 0;
    /* read before the flush, which decodes the rest once */
    if (i == n - 1) {
      int64_t work = tok_detokenizer_decoded_ids(d);
      CHECK_MSG(work <= MAX_IDS_DECODED_PER_PUSH * n,
                "%s: %lld pushes decoded %lld ids (bound %lld)", what, (long long)n,
                (long long)work, (long long)MAX_IDS_DECODED_PER_PUSH * n);
    }
  }
  CHECK_MSG(ok && len == full_len && memcmp(joined, full, len) == 0,
            "%s: the streamed text differs from the full decode", what);
  free(joined);
  free(full);
  ttt_detokenizer_destroy(d);
}

/* GPT-2's byte-level alphabet, rederived: printable Latin-1 bytes stand for themselves, the other
 * bytes, in order, for U+0100 onwards. Returns the id of the token for byte b. */
static int32_t byte_level_id(const ttt_tokenizer *t, int b) {
  int cp = b, extra = 0;
  bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
  if (!printable) {
    for (int k = 0; k < b; k++)
      extra += !((k >= 0x21 && k <= 0x7E) || (k >= 0xA1 && k <= 0xAC) || (k >= 0xAE));
    cp = 0x100 + extra;
  }
  char s[3] = {0};
  if (cp < 0x80) {
    s[0] = (char)cp;
  } else {
    s[0] = (char)(0xC0 | (cp >> 6));
    s[1] = (char)(0x80 | (cp & 0x3F));
  }
  return ttt_tokenizer_token_id(t, s);
}

static void test_llama3_degenerate_bytes(void) {
  enum { N = 6000 };
  ttt_tokenizer *t = NULL;
  CHECK_OK(ttt_tokenizer_load(LLAMA3, NULL, &t));
  if (!t) return;
  CHECK(byte_level_id(t, 0xE3) == 159);
  int32_t *ids = malloc(N * sizeof *ids);
  /* 0xE3 again and again: every character is U+FFFD, and the text always ends in an open one */
  for (int i = 0; i < N; i++) ids[i] = 159;
  check_stream(t, ids, N, "llama3 id 159 repeated");
  /* two bytes of a three-byte character, again and again */
  for (int i = 0; i < N; i++) ids[i] = byte_level_id(t, i % 2 ? 0x81 : 0xE3);
  check_stream(t, ids, N, "llama3 E3 81 repeated");
  /* a four-byte character one byte at a time, then lone continuation bytes */
  static const int emoji[] = {0xF0, 0x9F, 0x98, 0x80};
  for (int i = 0; i < N; i++) ids[i] = byte_level_id(t, i < N / 2 ? emoji[i % 4] : 0x80 + i % 64);
  check_stream(t, ids, N, "llama3 emoji bytes, then continuation bytes");
  /* random bytes, mostly non-ASCII */
  ttt_test_rng rng = ttt_test_rng_make(19);
  for (int round = 0; round < 4; round++) {
    for (int i = 0; i < N; i++) {
      uint64_t x = ttt_test_rng_next(&rng);
      ids[i] =
          byte_level_id(t, x % 8 == 0 ? 0x20 + (int)(x >> 8) % 0x5F : 0x80 + (int)(x >> 8) % 0x80);
    }
    check_stream(t, ids, N, "llama3 random bytes");
  }
  free(ids);
  ttt_tokenizer_destroy(t);
}

/* A SentencePiece-style tokenizer: ByteFallback runs are held back and decoded whole. */
static void test_spm_byte_fallback(void) {
  enum { N = 6000 };
  ttt_tokenizer *t = NULL;
  CHECK_OK(ttt_tokenizer_load(SPM, NULL, &t));
  if (!t) return;
  int32_t e3 = ttt_tokenizer_token_id(t, "<0xE3>"), a = ttt_tokenizer_token_id(t, "a");
  CHECK(e3 >= 0 && a >= 0);
  int32_t *ids = malloc(N * sizeof *ids);
  for (int i = 0; i < N; i++) ids[i] = e3;
  check_stream(t, ids, N, "spm <0xE3> repeated");
  for (int i = 0; i < N; i++) ids[i] = i % 3 == 2 ? a : e3;
  check_stream(t, ids, N, "spm <0xE3> <0xE3> a repeated");
  free(ids);
  ttt_tokenizer_destroy(t);
}

int main(void) {
  TTT_RUN(test_llama3_degenerate_bytes);
  TTT_RUN(test_spm_byte_fallback);
  return ttt_test_finish();
}
