/*
 * fuzz_tokenizer_load — tokenizer.json (and optionally tokenizer_config.json) → ttt_tokenizer_load,
 * then a few encodes and decodes with whatever was loaded.
 *
 * Input: byte 0 selects; when its low bit is set, the rest is split at the first NUL byte into
 * tokenizer.json and tokenizer_config.json, else all of it is tokenizer.json.
 * Invariants of an accepted tokenizer: encoded ids name tokens; decodes are valid UTF-8; streamed
 * decode equals full decode (with and without skip_special).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const texts[] = {
    "Hello world",
    " leading  spaces\tand\nnewlines\r\n",
    "caf\xc3\xa9 \xe2\x96\x81 \xf0\x9f\x98\x80",
    "<s>special</s><|begin_of_text|>",
    "invalid \xff\xc3 utf-8 \xed\xa0\x80",
    "123456 1.5e-3",
};

static void exercise(const ttt_tokenizer *t) {
  int64_t vocab = ttt_tokenizer_vocab_size(t);
  FUZZ_CHECK(vocab >= 0, "vocab size %lld", (long long)vocab);
  for (size_t k = 0; k < sizeof texts / sizeof *texts; k++) {
    int32_t *ids = NULL;
    int64_t n = 0;
    ttt_status st = ttt_tokenizer_encode(t, texts[k], strlen(texts[k]), k % 2 == 0, &ids, &n);
    if (st != TTT_OK) {
      FUZZ_CHECK(ids == NULL, "failed encode returned ids");
      continue;
    }
    for (int64_t i = 0; i < n; i++)
      FUZZ_CHECK(ids[i] >= 0 && ids[i] < vocab && ttt_tokenizer_token(t, ids[i]),
                 "encode produced id %d that names no token", ids[i]);
    for (int skip = 0; skip < 2; skip++) {
      size_t len;
      free(fuzz_check_decode(t, ids, n, skip, &len));
    }
    free(ids);
  }
  /* Every id, and a few outside the vocabulary, through the stream. */
  int32_t probe[64];
  int64_t n_probe = 0;
  for (int64_t id = -1; id <= vocab && n_probe < 64; id += vocab / 60 + 1)
    probe[n_probe++] = (int32_t)id;
  size_t len;
  free(fuzz_check_decode(t, probe, n_probe, false, &len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  bool with_config = data[0] & 1;
  data++, size--;
  size_t json_size = size;
  if (with_config) {
    const uint8_t *nul = memchr(data, 0, size);
    if (nul) json_size = (size_t)(nul - data);
  }
  const char *json = fuzz_write_file("tokenizer.json", data, json_size);
  const char *config = NULL;
  if (with_config && json_size < size)
    config = fuzz_write_file("tokenizer_config.json", data + json_size + 1, size - json_size - 1);
  ttt_tokenizer *t = NULL;
  ttt_status st = ttt_tokenizer_load(json, config, &t);
  if (st != TTT_OK) {
    FUZZ_CHECK(t == NULL, "a refused tokenizer left an object (%s)", ttt_status_str(st));
    FUZZ_CHECK(strstr(ttt_last_error(), "tokenizer") != NULL, "the error names no file: %s",
               ttt_last_error());
    return 0;
  }
  exercise(t);
  ttt_tokenizer_destroy(t);
  return 0;
}
