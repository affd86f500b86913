/*
 * The WordPiece and Unigram models and the BERT / SentencePiece components on small hand-written
 * tokenizers (behaviours the real fixtures do not reach: max_input_chars_per_word, lowercase with
 * strip_accents following it, CJK spacing, control characters, the decoder without cleanup, Viterbi
 * ties, byte fallback, a missing unknown token), HuggingFace's Precompiled grapheme quirks on the
 * real T5-style charsmap, and hostile input: malformed fields and truncated, lying or corrupted
 * precompiled charsmaps.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "ttt_test.h"
#include "ttt_tokenizer.h"

#define TMP_JSON TTT_BINARY_DIR "/test_tokenizer_ext.tmp.json"

static ttt_status load_json(const char *json, ttt_tokenizer **t) {
  FILE *f = fopen(TMP_JSON, "wb");
  CHECK_MSG(f != NULL, "cannot write %s", TMP_JSON);
  if (!f) return TTT_ERR_IO;
  CHECK(fwrite(json, 1, strlen(json), f) == strlen(json));
  fclose(f);
  return ttt_tokenizer_load(TMP_JSON, NULL, t);
}

static ttt_tokenizer *load_ok(const char *json) {
  ttt_tokenizer *t = NULL;
  CHECK_OK(load_json(json, &t));
  return t;
}

static void expect_load_error(const char *json, ttt_status status, const char *needle) {
  ttt_tokenizer *t = NULL;
  CHECK_ERR(load_json(json, &t), status, needle);
  CHECK(t == NULL);
  ttt_tokenizer_destroy(t);
}

/* `want` ends with -1. */
static void expect_ids_ex(const ttt_tokenizer *t, const char *text, bool special,
                          const int32_t *want) {
  int32_t *ids = NULL;
  int64_t n = 0, m = 0;
  CHECK_OK(ttt_tokenizer_encode(t, text, strlen(text), special, &ids, &n));
  while (want[m] >= 0) m++;
  bool same = n == m && (n == 0 || memcmp(ids, want, (size_t)n * sizeof *ids) == 0);
  CHECK_MSG(same, "ids of \"%s\"", text);
  if (!same) {
    for (int64_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
    fputc('\n', stderr);
  }
  free(ids);
}

static void expect_ids(const ttt_tokenizer *t, const char *text, const int32_t *want) {
  expect_ids_ex(t, text, false, want);
}

static void expect_decode(const ttt_tokenizer *t, const int32_t *ids, int64_t n, const char *want) {
  char *text = NULL;
  CHECK_OK(ttt_tokenizer_decode(t, ids, n, false, &text, NULL));
  CHECK_MSG(text && strcmp(text, want) == 0, "decoded \"%s\", expected \"%s\"",
            text ? text : "(null)", want);
  free(text);
}

/* ---- WordPiece --------------------------------------------------------------------------------
 */

#define WP_VOCAB                                                                                   \
  "{\"[UNK]\": 0, \"un\": 1, \"##aff\": 2, \"##able\": 3, \"a\": 4, \"##b\": 5, \"[CLS]\": 6, "    \
  "\"[SEP]\": 7, \",\": 8, \"x\": 9, \"$\": 10, \"'\": 11, \"m\": 12}"

static ttt_tokenizer *wordpiece(const char *model_extra, const char *normalizer,
                                const char *decoder) {
  char json[4096];
  snprintf(json, sizeof json,
           "{\"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", "
           "\"continuing_subword_prefix\": \"##\", \"vocab\": " WP_VOCAB "%s}, "
           "\"normalizer\": %s, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, "
           "\"post_processor\": {\"type\": \"BertProcessing\", \"sep\": [\"[SEP]\", 7], "
           "\"cls\": [\"[CLS]\", 6]}, \"decoder\": %s}",
           model_extra, normalizer, decoder);
  return load_ok(json);
}

static void test_wordpiece_model(void) {
  ttt_tokenizer *t = wordpiece("", "null", "{\"type\": \"WordPiece\"}");
  if (!t) return;
  expect_ids(t, "unaffable", (const int32_t[]){1, 2, 3, -1});
  expect_ids(t, "unaffablez", (const int32_t[]){0, -1}); /* a part without match: one [UNK] */
  expect_ids(t, "ab b", (const int32_t[]){4, 5, 0, -1}); /* "b" cannot start a word */
  expect_ids(t, "a,x$a", (const int32_t[]){4, 8, 9, 10, 4, -1});
  expect_ids_ex(t, "a", true, (const int32_t[]){6, 4, 7, -1});
  expect_ids_ex(t, "", true, (const int32_t[]){6, 7, -1});
  /* prefixes stripped, spaces elsewhere; cleanup runs on each token (" ," -> ","), so it never
   * joins across tokens (" ' " needs the space of the next one) */
  expect_decode(t, (const int32_t[]){1, 2, 3, 8, 4}, 5, "unaffable, a");
  expect_decode(t, (const int32_t[]){9, 11, 12}, 3, "x ' m");
  expect_decode(t, (const int32_t[]){5, 4}, 2, "##b a"); /* the first token keeps its prefix */
  CHECK(ttt_tokenizer_bos_id(t) == 6);
  ttt_tokenizer_destroy(t);

  t = wordpiece(", \"max_input_chars_per_word\": 8", "null",
                "{\"type\": \"WordPiece\", \"cleanup\": false}");
  if (!t) return;
  expect_ids(t, "unaffable a", (const int32_t[]){0, 4, -1}); /* 9 characters > 8 */
  expect_decode(t, (const int32_t[]){1, 2, 3, 8, 4}, 5, "unaffable , a");
  ttt_tokenizer_destroy(t);
}

static void test_bert_normalizer(void) {
  /* lowercase with strip_accents null: accents are stripped too */
  ttt_tokenizer *t = wordpiece("", "{\"type\": \"BertNormalizer\", \"lowercase\": true}", "null");
  if (!t) return;
  expect_ids(t,
             "\xC3\x9CN\xC3\x84"
             "FF\xC3\x81"
             "BLE",
             (const int32_t[]){1, 2, 3, -1});
  /* controls are dropped, tabs are spaces, CJK ideographs are words of their own */
  expect_ids(t,
             "un\x01"
             "aff\xE2\x80\x8B"
             "able\tx",
             (const int32_t[]){1, 2, 3, 9, -1});
  expect_ids(t, "x\xE4\xB8\xADx", (const int32_t[]){9, 0, 9, -1});
  ttt_tokenizer_destroy(t);
  t = wordpiece("", "{\"type\": \"BertNormalizer\", \"lowercase\": true, \"strip_accents\": false}",
                "null");
  if (!t) return;
  expect_ids(t,
             "UNAFF\xC3\x81"
             "BLE",
             (const int32_t[]){0, -1});
  ttt_tokenizer_destroy(t);
  t = wordpiece("",
                "{\"type\": \"BertNormalizer\", \"lowercase\": false, \"handle_chinese_chars\": "
                "false}",
                "null");
  if (!t) return;
  expect_ids(t, "x\xE4\xB8\xADx", (const int32_t[]){0, -1});
  expect_ids(t, "UNAFFABLE", (const int32_t[]){0, -1});
  ttt_tokenizer_destroy(t);
  /* the standalone normalizers: StripAccents filters marks without decomposing */
  t = wordpiece("",
                "{\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFD\"}, {\"type\": "
                "\"Lowercase\"}, {\"type\": \"StripAccents\"}]}",
                "null");
  if (!t) return;
  expect_ids(t,
             "UN\xC3\x81"
             "FFABLE",
             (const int32_t[]){1, 2, 3, -1});
  ttt_tokenizer_destroy(t);
}

/* A 200,000-character word with a large max_input_chars_per_word: candidates never exceed the
 * longest vocabulary entry, so this is linear (quadratic would not finish in the test's time). */
static void test_wordpiece_long_word(void) {
  ttt_tokenizer *t =
      load_ok("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0, \"##a\": 1}, "
              "\"max_input_chars_per_word\": 1000000}}");
  if (!t) return;
  enum { N = 200000 };
  char *text = malloc(N);
  memset(text, 'a', N);
  int32_t *ids = NULL;
  int64_t n = 0;
  CHECK_OK(ttt_tokenizer_encode(t, text, N, false, &ids, &n));
  int64_t ones = 0;
  for (int64_t i = 1; i < n; i++) ones += ids[i] == 1;
  CHECK(n == N && ids && ids[0] == 0 && ones == N - 1);
  free(ids);
  free(text);
  ttt_tokenizer_destroy(t);
}

static void test_wordpiece_without_unk(void) {
  ttt_tokenizer *t = load_ok("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}, "
                             "\"pre_tokenizer\": {\"type\": \"WhitespaceSplit\"}}");
  if (!t) return;
  expect_ids(t, " a  a ", (const int32_t[]){0, 0, -1});
  int32_t *ids = NULL;
  int64_t n = 0;
  CHECK_ERR(ttt_tokenizer_encode(t, "a b", 3, false, &ids, &n), TTT_ERR_FORMAT,
            "needs the unknown token");
  CHECK(ids == NULL && n == 0);
  ttt_tokenizer_destroy(t);
}

/* ---- Unigram ----------------------------------------------------------------------------------
 */

static ttt_tokenizer *unigram(const char *vocab, const char *extra) {
  char json[4096];
  snprintf(json, sizeof json, "{\"model\": {\"type\": \"Unigram\", \"vocab\": %s%s}}", vocab,
           extra);
  return load_ok(json);
}

static void test_unigram_viterbi(void) {
  ttt_tokenizer *t = unigram(
      "[[\"<unk>\", 0], [\"a\", -1], [\"b\", -2], [\"ab\", -2.5], [\"c\", -1]]", ", \"unk_id\": 0");
  if (!t) return;
  expect_ids(t, "ab", (const int32_t[]){3, -1}); /* -2.5 beats -1 + -2 */
  expect_ids(t, "abc", (const int32_t[]){3, 4, -1});
  expect_ids(t,
             "xy\xC3\xA9"
             "a",
             (const int32_t[]){0, 1, -1}); /* unknown characters fused */
  expect_ids(t, "axbx", (const int32_t[]){1, 0, 2, 0, -1});
  ttt_tokenizer_destroy(t);
  /* an exact tie: the piece starting first wins at each end position */
  t = unigram("[[\"<unk>\", 0], [\"a\", -1], [\"b\", -1], [\"ab\", -2]]", ", \"unk_id\": 0");
  if (t) expect_ids(t, "ab", (const int32_t[]){3, -1});
  ttt_tokenizer_destroy(t);
  t = unigram("[[\"<unk>\", 0], [\"ab\", -2], [\"a\", -1], [\"b\", -1]]", ", \"unk_id\": 0");
  if (t) expect_ids(t, "ab", (const int32_t[]){1, -1});
  ttt_tokenizer_destroy(t);
}

static void test_unigram_byte_fallback(void) {
  ttt_tokenizer *t = unigram("[[\"<unk>\", 0], [\"a\", -1], [\"<0x78>\", -5], [\"<0x79>\", -5], "
                             "[\"<0xC3>\", -5], [\"<0xA9>\", -5]]",
                             ", \"unk_id\": 0, \"byte_fallback\": true");
  if (!t) return;
  expect_ids(t, "axy\xC3\xA9", (const int32_t[]){1, 2, 3, 4, 5, -1});
  expect_ids(t, "xz", (const int32_t[]){0, -1}); /* no <0x7A>: the fused piece is unknown */
  ttt_tokenizer_destroy(t);
  t = unigram("[[\"a\", -1]]", "");
  if (!t) return;
  int32_t *ids = NULL;
  int64_t n = 0;
  CHECK_ERR(ttt_tokenizer_encode(t, "ab", 2, false, &ids, &n), TTT_ERR_FORMAT,
            "needs the unknown token");
  ttt_tokenizer_destroy(t);
}

/* ---- Precompiled on the real charsmap ---------------------------------------------------------
 */

static ttt_tokenizer *load_t5style(void) {
  char tj[1024];
  ttt_test_fixture(tj, sizeof tj, "tokenizers/unigram_t5style/tokenizer.json");
  ttt_tokenizer *t = NULL;
  CHECK_OK(ttt_tokenizer_load(tj, NULL, &t));
  return t;
}

static void expect_same_ids(const ttt_tokenizer *t, const char *a, const char *b) {
  int32_t *x = NULL, *y = NULL;
  int64_t nx = 0, ny = 0;
  CHECK_OK(ttt_tokenizer_encode(t, a, strlen(a), false, &x, &nx));
  CHECK_OK(ttt_tokenizer_encode(t, b, strlen(b), false, &y, &ny));
  CHECK_MSG(nx == ny && nx > 0 && memcmp(x, y, (size_t)nx * sizeof *x) == 0,
            "\"%s\" and \"%s\" encode differently", a, b);
  free(x);
  free(y);
}

static void test_precompiled_graphemes(void) {
  ttt_tokenizer *t = load_t5style();
  if (!t) return;
  /* a cluster shorter than 6 bytes is replaced by the mapping of its first character alone */
  expect_same_ids(t, "x \xEF\xBC\xA1\xCC\x81 y", "x A y");    /* fullwidth A + acute */
  expect_same_ids(t, "x\xC2\xA0\xCC\x81y", "x y");            /* NBSP + acute */
  expect_same_ids(t, "x \xEF\xAC\x81\xCC\x81 y", "x fi y");   /* fi ligature + acute */
  expect_same_ids(t, "\xEF\xBC\xA8\xEF\xBD\x85llo", "Hello"); /* NFKC through the map */
  expect_same_ids(t, "tabs\tand\nnew", "tabs and new");
  ttt_tokenizer_destroy(t);
}

/* ---- hostile input ----------------------------------------------------------------------------
 */

static void test_malformed_fields(void) {
  expect_load_error("{\"model\": {\"type\": \"WordPiece\", \"vocab\": []}}", TTT_ERR_FORMAT,
                    "model.vocab: expected an object");
  expect_load_error("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": -2}}}",
                    TTT_ERR_FORMAT, "model.vocab[\"a\"]: expected an id");
  expect_load_error("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}, "
                    "\"max_input_chars_per_word\": -1}}",
                    TTT_ERR_FORMAT, "model.max_input_chars_per_word: expected an integer");
  expect_load_error(
      "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}, \"unk_token\": 5}}",
      TTT_ERR_FORMAT, "model.unk_token: expected a string");
  expect_load_error("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}, "
                    "\"continuing_subword_prefix\": [\"##\"]}}",
                    TTT_ERR_FORMAT, "model.continuing_subword_prefix: expected a string");
  expect_load_error("{\"model\": {\"type\": \"Unigram\", \"vocab\": {}}}", TTT_ERR_FORMAT,
                    "model.vocab: expected an array");
  expect_load_error("{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", TTT_ERR_FORMAT,
                    "model.vocab: is empty");
  expect_load_error("{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", -1], [\"b\"]]}}",
                    TTT_ERR_FORMAT, "model.vocab[1]: expected [\"piece\", score]");
  expect_load_error("{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", \"-1\"]]}}",
                    TTT_ERR_FORMAT, "model.vocab[0]: expected [\"piece\", score]");
  expect_load_error("{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", -1], [\"a\", -2]]}}",
                    TTT_ERR_FORMAT, "model.vocab[1]: piece \"a\" appears twice");
  expect_load_error("{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"\xC3\", -1]]}}",
                    TTT_ERR_FORMAT, "model.vocab[0]: piece is not valid UTF-8");
  expect_load_error("{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", -1]], \"unk_id\": 1}}",
                    TTT_ERR_FORMAT, "model.unk_id: expected null or an id in [0, 0]");
  expect_load_error("{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", -1]], "
                    "\"byte_fallback\": \"yes\"}}",
                    TTT_ERR_FORMAT, "model.byte_fallback: expected true or false");
  const char *model = "\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0, \"b\": 1}}";
  char json[1024];
  snprintf(json, sizeof json,
           "{%s, \"normalizer\": {\"type\": \"BertNormalizer\", \"lowercase\": 1}}", model);
  expect_load_error(json, TTT_ERR_FORMAT, "normalizer.lowercase: expected true or false");
  snprintf(json, sizeof json,
           "{%s, \"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": "
           "\"Strip\", \"strip_left\": \"x\"}]}}",
           model);
  expect_load_error(json, TTT_ERR_FORMAT, "normalizer.normalizers[0].strip_left: expected true");
  snprintf(json, sizeof json, "{%s, \"normalizer\": {\"type\": \"Precompiled\"}}", model);
  expect_load_error(json, TTT_ERR_FORMAT, "normalizer.precompiled_charsmap: expected a string");
  snprintf(json, sizeof json,
           "{%s, \"normalizer\": {\"type\": \"Precompiled\", \"precompiled_charsmap\": \"\"}}",
           model);
  expect_load_error(json, TTT_ERR_FORMAT, "normalizer.precompiled_charsmap: shorter than");
  snprintf(json, sizeof json, "{%s, \"decoder\": {\"type\": \"WordPiece\", \"prefix\": 3}}", model);
  expect_load_error(json, TTT_ERR_FORMAT, "decoder.prefix: expected a string");
  snprintf(json, sizeof json,
           "{%s, \"post_processor\": {\"type\": \"BertProcessing\", \"sep\": [\"b\", 1], "
           "\"cls\": [\"a\", 2]}}",
           model);
  expect_load_error(json, TTT_ERR_FORMAT, "post_processor.cls: expected [\"token\", id]");
  snprintf(json, sizeof json,
           "{%s, \"post_processor\": {\"type\": \"RobertaProcessing\", \"sep\": \"b\", "
           "\"cls\": [\"a\", 0]}}",
           model);
  expect_load_error(json, TTT_ERR_FORMAT, "post_processor.sep: expected [\"token\", id]");
}

/* The real charsmap, decoded, for the corruption tests. */
typedef struct blob {
  unsigned char *data;
  size_t len;
} blob;

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static blob base64_decode(const char *s) {
  size_t n = strlen(s);
  blob b = {malloc(n / 4 * 3 + 3), 0};
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n && s[i] != '='; i++) {
    const char *p = strchr(b64, s[i]);
    CHECK(p != NULL);
    if (!p) break;
    acc = acc << 6 | (uint32_t)(p - b64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      b.data[b.len++] = (unsigned char)(acc >> bits);
    }
  }
  return b;
}

static char *base64_encode(const unsigned char *p, size_t n) {
  char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                 (i + 2 < n ? p[i + 2] : 0);
    *o++ = b64[v >> 18];
    *o++ = b64[(v >> 12) & 63];
    *o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
    *o++ = i + 2 < n ? b64[v & 63] : '=';
  }
  *o = '\0';
  return out;
}

static blob real_charsmap(void) {
  char path[1024];
  ttt_test_fixture(path, sizeof path, "tokenizers/unigram_t5style/tokenizer.json");
  char *text = ttt_test_read_file(path, NULL);
  cJSON *root = text ? cJSON_Parse(text) : NULL;
  const cJSON *norm = cJSON_GetObjectItem(root, "normalizer");
  const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(norm, "normalizers"), 0);
  const cJSON *map = cJSON_GetObjectItem(first, "precompiled_charsmap");
  CHECK(cJSON_IsString(map));
  blob b = cJSON_IsString(map) ? base64_decode(map->valuestring) : (blob){NULL, 0};
  cJSON_Delete(root);
  free(text);
  return b;
}

/* A tokenizer whose normalizer is Precompiled with the given base64 text. */
static ttt_status load_charsmap_b64(const char *text, ttt_tokenizer **t) {
  size_t n = strlen(text) + 512;
  char *json = malloc(n);
  snprintf(json, n,
           "{\"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": [[\"<unk>\", 0], "
           "[\"A\", -1], [\"fi\", -1]]}, \"normalizer\": {\"type\": \"Precompiled\", "
           "\"precompiled_charsmap\": \"%s\"}}",
           text);
  ttt_status st = load_json(json, t);
  free(json);
  return st;
}

static ttt_status load_charsmap(const unsigned char *p, size_t n, ttt_tokenizer **t) {
  char *text = base64_encode(p, n);
  ttt_status st = load_charsmap_b64(text, t);
  free(text);
  return st;
}

static void expect_charsmap_error(const unsigned char *p, size_t n, const char *needle) {
  ttt_tokenizer *t = NULL;
  CHECK_ERR(load_charsmap(p, n, &t), TTT_ERR_FORMAT, needle);
  CHECK(t == NULL);
  ttt_tokenizer_destroy(t);
}

static void put_u32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void test_hostile_charsmap(void) {
  blob b = real_charsmap();
  if (!b.data || b.len < 8) return;
  uint32_t trie = (uint32_t)b.data[0] | (uint32_t)b.data[1] << 8 | (uint32_t)b.data[2] << 16 |
                  (uint32_t)b.data[3] << 24;
  CHECK(trie % 4 == 0 && 4 + trie < b.len);
  /* the real map loads and maps fullwidth letters */
  ttt_tokenizer *t = NULL;
  CHECK_OK(load_charsmap(b.data, b.len, &t));
  if (t) expect_ids(t, "\xEF\xBC\xA1\xEF\xAC\x81", (const int32_t[]){1, 2, -1});
  ttt_tokenizer_destroy(t);

  ttt_tokenizer *u = NULL;
  CHECK_ERR(load_charsmap_b64("@@@@", &u), TTT_ERR_FORMAT,
            "normalizer.precompiled_charsmap: not valid base64");
  CHECK_ERR(load_charsmap_b64("QUJD=", &u), TTT_ERR_FORMAT, "not valid base64");
  CHECK(u == NULL);
  expect_charsmap_error(b.data, 3, "normalizer.precompiled_charsmap: shorter than its 4-byte");
  /* truncated: the trie size promises more bytes than there are */
  expect_charsmap_error(b.data, 4 + trie - 4, "normalizer.precompiled_charsmap: trie size");
  unsigned char *copy = malloc(b.len);
  memcpy(copy, b.data, b.len);
  put_u32(copy, trie + 2); /* not a multiple of 4 */
  expect_charsmap_error(copy, b.len, "trie size");
  put_u32(copy, 0);
  expect_charsmap_error(copy, b.len, "trie size");
  put_u32(copy, UINT32_MAX - 3);
  expect_charsmap_error(copy, b.len, "trie size");
  /* the trie without its strings: every leaf points outside */
  memcpy(copy, b.data, b.len);
  expect_charsmap_error(copy, 4 + trie, "a trie leaf points at byte");
  /* strings that are not UTF-8 */
  memset(copy + 4 + trie, 0xFF, b.len - 4 - trie);
  expect_charsmap_error(copy, b.len, "is not valid UTF-8");

  /* random corruption of the trie: a clean error or a tokenizer that encodes without reading
   * outside the blob (the sanitizer build checks the latter) */
  ttt_test_rng rng = ttt_test_rng_make(17);
  int loaded = 0, refused = 0;
  for (int round = 0; round < 40; round++) {
    memcpy(copy, b.data, b.len);
    for (int k = 0; k < 8; k++) {
      size_t at = 4 + (size_t)(ttt_test_rng_next(&rng) % trie);
      copy[at] = (unsigned char)ttt_test_rng_next(&rng);
    }
    ttt_tokenizer *c = NULL;
    ttt_status st = load_charsmap(copy, b.len, &c);
    CHECK_MSG(st == TTT_OK || st == TTT_ERR_FORMAT, "corrupted charsmap: status %d", (int)st);
    if (st == TTT_OK) {
      const char *text = "\xEF\xBC\xA1\xCC\x81 fi \xEF\xAC\x81 x\xC2\xA0y caf\xC3\xA9 \xE4\xB8\xAD";
      int32_t *ids = NULL;
      int64_t n = 0;
      CHECK_OK(ttt_tokenizer_encode(c, text, strlen(text), false, &ids, &n));
      free(ids);
      loaded++;
    } else {
      refused++;
    }
    ttt_tokenizer_destroy(c);
  }
  CHECK(loaded + refused == 40);
  free(copy);
  free(b.data);
}

/* ---- random input on the real fixtures ----------------------------------------------------------
 */

static ttt_tokenizer *load_fixture(const char *name) {
  char tj[1024], rel[256];
  snprintf(rel, sizeof rel, "tokenizers/%s/tokenizer.json", name);
  ttt_tokenizer *t = NULL;
  CHECK_OK(ttt_tokenizer_load(ttt_test_fixture(tj, sizeof tj, rel), NULL, &t));
  return t;
}

static bool is_utf8(const char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    utf8proc_int32_t c;
    utf8proc_ssize_t k =
        utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &c);
    if (k <= 0) return false;
    i += (size_t)k;
  }
  return true;
}

/* Random bytes encode (invalid UTF-8 is replaced) and decode to valid UTF-8; the streaming
 * detokenizer gives the full decode for random id sequences; long runs of one character work. */
static void random_checks(const char *name, uint64_t seed) {
  ttt_tokenizer *t = load_fixture(name);
  if (!t) return;
  ttt_test_rng rng = ttt_test_rng_make(seed);
  static const char alphabet[] =
      "aZ ,.'\t\n\xC3\xA9\xE4\xB8\xAD\xEF\xBC\xA1\xCC\x81\xF0\x9F\x98\x80<>[]";
  int bad = 0;
  for (int round = 0; round < 200; round++) {
    char text[64];
    size_t n = ttt_test_rng_next(&rng) % sizeof text;
    for (size_t i = 0; i < n; i++)
      text[i] = round % 2 ? (char)ttt_test_rng_next(&rng)
                          : alphabet[ttt_test_rng_next(&rng) % (sizeof alphabet - 1)];
    int32_t *ids = NULL;
    int64_t k = 0;
    char *out = NULL;
    size_t out_len = 0;
    bad += ttt_tokenizer_encode(t, text, n, true, &ids, &k) != TTT_OK ||
           ttt_tokenizer_decode(t, ids, k, false, &out, &out_len) != TTT_OK ||
           !is_utf8(out, out_len);
    free(ids);
    free(out);
  }
  CHECK_MSG(bad == 0, "%s: %d random texts failed", name, bad);
  int64_t vocab = ttt_tokenizer_vocab_size(t);
  for (int round = 0; round < 200; round++) {
    int32_t ids[24];
    int64_t n = 1 + (int64_t)(ttt_test_rng_next(&rng) % 24);
    for (int64_t i = 0; i < n; i++) ids[i] = (int32_t)(ttt_test_rng_next(&rng) % (uint64_t)vocab);
    char *full = NULL;
    size_t full_len = 0;
    ttt_detokenizer *d = NULL;
    CHECK_OK(ttt_tokenizer_decode(t, ids, n, false, &full, &full_len));
    CHECK_OK(ttt_detokenizer_create(t, &d));
    char joined[4096];
    size_t len = 0;
    for (int64_t i = 0; i <= n && d && full; i++) {
      const char *piece = NULL;
      size_t plen = 0;
      CHECK_OK(i < n ? ttt_detokenizer_push(d, ids[i], &piece, &plen)
                     : ttt_detokenizer_flush(d, &piece, &plen));
      if (piece && len + plen < sizeof joined) memcpy(joined + len, piece, plen);
      len += plen;
    }
    bool same = full && len == full_len && memcmp(joined, full, len) == 0;
    bad += !same;
    free(full);
    ttt_detokenizer_destroy(d);
  }
  CHECK_MSG(bad == 0, "%s: %d streamed decodes differ from the full decode", name, bad);
  static const char *units[] = {"a", " ", "\xE4\xB8\xAD", "!", "\xEF\xBC\xA1\xCC\x81"};
  for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
    size_t ul = strlen(units[u]), reps = 5000;
    char *s = malloc(ul * reps);
    for (size_t i = 0; i < reps; i++) memcpy(s + i * ul, units[u], ul);
    int32_t *ids = NULL;
    int64_t k = 0;
    CHECK_OK(ttt_tokenizer_encode(t, s, ul * reps, false, &ids, &k));
    free(ids);
    free(s);
  }
  ttt_tokenizer_destroy(t);
}

static void test_random_wordpiece(void) { random_checks("wordpiece_kjv", 31); }

static void test_random_unigram(void) { random_checks("unigram_t5style", 32); }

int main(void) {
  TTT_RUN(test_wordpiece_model);
  TTT_RUN(test_bert_normalizer);
  TTT_RUN(test_wordpiece_without_unk);
  TTT_RUN(test_wordpiece_long_word);
  TTT_RUN(test_unigram_viterbi);
  TTT_RUN(test_unigram_byte_fallback);
  TTT_RUN(test_precompiled_graphemes);
  TTT_RUN(test_malformed_fields);
  TTT_RUN(test_hostile_charsmap);
  TTT_RUN(test_random_wordpiece);
  TTT_RUN(test_random_unigram);
  remove(TMP_JSON);
  return ttt_test_finish();
}
