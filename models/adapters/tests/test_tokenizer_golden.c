/*
 * Exact agreement with HuggingFace `tokenizers` on real tokenizers: every golden entry's ids
 * (without and with the post-processor) and decoded text, the streaming detokenizer, and decoding
 * of every single id of each vocabulary.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "ttt_test.h"
#include "ttt_tokenizer.h"

static bool ids_equal(const int32_t *ids, int64_t n, const cJSON *expected) {
  if (!cJSON_IsArray(expected) || cJSON_GetArraySize(expected) != n) return false;
  int64_t i = 0;
  for (const cJSON *e = expected->child; e; e = e->next, i++)
    if (!cJSON_IsNumber(e) || ids[i] != (int32_t)e->valuedouble) return false;
  return true;
}

static void print_ids(const char *what, const int32_t *ids, int64_t n) {
  fprintf(stderr, "  %s:", what);
  for (int64_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
  fputc('\n', stderr);
}

/* Decodes ids one at a time through the streaming detokenizer; checks every piece is whole UTF-8
 * characters; returns the concatenation (malloc'd). */
static char *stream_decode(const ttt_tokenizer *t, const int32_t *ids, int64_t n) {
  ttt_detokenizer *d = NULL;
  CHECK_OK(ttt_detokenizer_create(t, &d));
  if (!d) return NULL;
  size_t cap = 64, len = 0;
  char *all = malloc(cap);
  for (int64_t i = 0; i <= n && all; i++) {
    const char *piece = NULL;
    size_t plen = 0;
    ttt_status st = i < n ? ttt_detokenizer_push(d, ids[i], &piece, &plen)
                          : ttt_detokenizer_flush(d, &piece, &plen);
    CHECK_OK(st);
    if (st) break;
    if (i < n && plen > 0) {
      /* a piece never ends inside a character */
      unsigned char last = (unsigned char)piece[plen - 1];
      CHECK_MSG(last < 0x80 || (last & 0xC0) == 0x80, "piece ends with a lead byte");
    }
    while (len + plen + 1 > cap) all = realloc(all, cap *= 2);
    memcpy(all + len, piece, plen);
    len += plen;
    all[len] = '\0';
  }
  ttt_detokenizer_destroy(d);
  return all;
}

static void check_entry(const ttt_tokenizer *t, const char *name, const cJSON *entry) {
  const cJSON *text = cJSON_GetObjectItem(entry, "text");
  const cJSON *decoded = cJSON_GetObjectItem(entry, "decoded");
  CHECK(cJSON_IsString(text) && cJSON_IsString(decoded));
  if (!cJSON_IsString(text) || !cJSON_IsString(decoded)) return;
  const char *s = text->valuestring;
  int32_t *ids = NULL, *ids_sp = NULL;
  int64_t n = 0, n_sp = 0;
  CHECK_OK(ttt_tokenizer_encode(t, s, strlen(s), false, &ids, &n));
  CHECK_OK(ttt_tokenizer_encode(t, s, strlen(s), true, &ids_sp, &n_sp));
  bool ok = ids_equal(ids, n, cJSON_GetObjectItem(entry, "ids"));
  CHECK_MSG(ok, "%s: ids of \"%s\" differ", name, s);
  if (!ok) print_ids("got", ids, n);
  ok = ids_equal(ids_sp, n_sp, cJSON_GetObjectItem(entry, "ids_with_special"));
  CHECK_MSG(ok, "%s: ids_with_special of \"%s\" differ", name, s);
  if (!ok) print_ids("got", ids_sp, n_sp);

  char *out = NULL;
  size_t out_len = 0;
  CHECK_OK(ttt_tokenizer_decode(t, ids, n, false, &out, &out_len));
  CHECK_MSG(out && strcmp(out, decoded->valuestring) == 0, "%s: decode of \"%s\" gave \"%s\"", name,
            s, out ? out : "(null)");
  CHECK(out && out_len == strlen(out));
  char *streamed = stream_decode(t, ids, n);
  CHECK_MSG(streamed && strcmp(streamed, decoded->valuestring) == 0,
            "%s: streaming decode of \"%s\" gave \"%s\"", name, s, streamed ? streamed : "(null)");
  free(streamed);
  free(out);
  free(ids);
  free(ids_sp);
}

static void check_golden(const ttt_tokenizer *t, const char *name, const char *golden_path) {
  char *json = ttt_test_read_file(golden_path, NULL);
  CHECK_MSG(json != NULL, "cannot read %s", golden_path);
  cJSON *root = json ? cJSON_Parse(json) : NULL;
  CHECK(cJSON_IsArray(root) && cJSON_GetArraySize(root) >= 20);
  for (const cJSON *e = root ? root->child : NULL; e; e = e->next) check_entry(t, name, e);
  cJSON_Delete(root);
  free(json);
}

/* Every id that names a token decodes without error, alone and through the stream. */
static void check_all_ids_decode(const ttt_tokenizer *t, int64_t expected_tokens) {
  int64_t tokens = 0, failures = 0;
  ttt_detokenizer *d = NULL;
  CHECK_OK(ttt_detokenizer_create(t, &d));
  for (int32_t id = 0; id < ttt_tokenizer_vocab_size(t); id++) {
    if (!ttt_tokenizer_token(t, id)) continue;
    tokens++;
    char *text = NULL;
    const char *piece;
    if (ttt_tokenizer_decode(t, &id, 1, false, &text, NULL) != TTT_OK) failures++;
    if (d && ttt_detokenizer_push(d, id, &piece, NULL) != TTT_OK) failures++;
    free(text);
  }
  ttt_detokenizer_destroy(d);
  CHECK_MSG(failures == 0, "%lld ids failed to decode", (long long)failures);
  CHECK_MSG(tokens == expected_tokens, "%lld tokens, expected %lld", (long long)tokens,
            (long long)expected_tokens);
}

static ttt_tokenizer *load_fixture(const char *name) {
  char tj[1024], cj[1024], rel[256];
  snprintf(rel, sizeof rel, "tokenizers/%s/tokenizer.json", name);
  ttt_test_fixture(tj, sizeof tj, rel);
  snprintf(rel, sizeof rel, "tokenizers/%s/tokenizer_config.json", name);
  ttt_test_fixture(cj, sizeof cj, rel);
  ttt_tokenizer *t = NULL;
  CHECK_OK(ttt_tokenizer_load(tj, cj, &t));
  return t;
}

static void run_fixture(const char *name, int64_t vocab_size, int64_t n_tokens, int32_t bos,
                        int32_t eos) {
  ttt_tokenizer *t = load_fixture(name);
  if (!t) return;
  char golden[1024], rel[256];
  snprintf(rel, sizeof rel, "tokenizers/%s/golden.json", name);
  check_golden(t, name, ttt_test_fixture(golden, sizeof golden, rel));
  CHECK(ttt_tokenizer_vocab_size(t) == vocab_size);
  CHECK(ttt_tokenizer_bos_id(t) == bos);
  CHECK(ttt_tokenizer_eos_id(t) == eos);
  CHECK(ttt_tokenizer_is_eos(t, eos) == (eos >= 0));
  check_all_ids_decode(t, n_tokens);
  ttt_tokenizer_destroy(t);
}

static void test_llama3(void) { run_fixture("llama3", 128256, 128256, 128000, 128001); }

static void test_qwen3(void) { run_fixture("qwen3", 151669, 151669, -1, 151645); }

static void test_spm_bpe(void) { run_fixture("spm_bpe", 32000, 32000, 1, 2); }

/* WordPiece (BertNormalizer, BertPreTokenizer, BertProcessing, WordPiece decoder): no BOS/EOS in
 * tokenizer_config.json; the template's [CLS] serves as BOS. */
static void test_wordpiece_kjv(void) { run_fixture("wordpiece_kjv", 3000, 3000, 2, -1); }

/* Unigram (Precompiled + Strip + Replace, Metaspace, TemplateProcessing "$A </s>"). */
static void test_unigram_t5style(void) { run_fixture("unigram_t5style", 2100, 2100, -1, 1); }

static void test_kjv_llama(void) {
  ttt_tokenizer *t = NULL;
  CHECK_OK(ttt_tokenizer_load_dir(TTT_MODELS_DIR "/kjv-llama", &t));
  if (!t) return;
  check_golden(t, "kjv-llama", TTT_MODELS_DIR "/kjv-llama/golden_tokenizer.json");
  CHECK(ttt_tokenizer_vocab_size(t) == 4096);
  CHECK(ttt_tokenizer_bos_id(t) == 0);
  CHECK(ttt_tokenizer_eos_id(t) == 1);
  CHECK(ttt_tokenizer_is_eos(t, 1) && !ttt_tokenizer_is_eos(t, 0));
  CHECK(ttt_tokenizer_is_special(t, 0) && !ttt_tokenizer_is_special(t, 2));
  CHECK(ttt_tokenizer_token_id(t, "<|begin_of_text|>") == 0);
  CHECK(ttt_tokenizer_token_id(t, "no such token") == -1);
  check_all_ids_decode(t, 4096);
  ttt_tokenizer_destroy(t);
}

int main(void) {
  TTT_RUN(test_kjv_llama);
  TTT_RUN(test_spm_bpe);
  TTT_RUN(test_llama3);
  TTT_RUN(test_qwen3);
  TTT_RUN(test_wordpiece_kjv);
  TTT_RUN(test_unigram_t5style);
  return ttt_test_finish();
}
