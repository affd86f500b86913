/*
 * Hostile and unusual input: unreadable, malformed and truncated files, unsupported components,
 * bad arguments and ids, invalid UTF-8 text; plus small hand-written tokenizers that exercise the
 * components the real fixtures do not (unk/fuse_unk, added-token lstrip/rstrip/single_word, every
 * Split behavior, Metaspace, no decoder).
 */
#include <stdlib.h>
#include <string.h>

#include "ttt_test.h"
#include "ttt_tokenizer.h"

#define TMP_JSON TTT_BINARY_DIR "/test_tokenizer_errors.tmp.json"
#define TMP_CONFIG TTT_BINARY_DIR "/test_tokenizer_errors.config.tmp.json"

static void write_file(const char *path, const char *data, size_t len) {
  FILE *f = fopen(path, "wb");
  CHECK_MSG(f != NULL, "cannot write %s", path);
  if (!f) return;
  CHECK(fwrite(data, 1, len, f) == len);
  fclose(f);
}

static ttt_status load_json(const char *json, ttt_tokenizer **t) {
  write_file(TMP_JSON, json, strlen(json));
  return ttt_tokenizer_load(TMP_JSON, NULL, t);
}

/* A minimal valid BPE model: characters a, b, '-', ' ' and merges "a b", "a -", "- a", "- -". */
#define MODEL                                                                                      \
  "\"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"vocab\": {\"<unk>\": 0, \"a\": 1, "  \
  "\"b\": 2, \"ab\": 3, \" \": 5, \"-\": 6, \"a-\": 7, \"-a\": 8, \"--\": 9}, \"merges\": [\"a "   \
  "b\", [\"a\", \"-\"], [\"-\", \"a\"], [\"-\", \"-\"]]"

static void expect_load_error(const char *json, ttt_status status, const char *needle) {
  ttt_tokenizer *t = NULL;
  CHECK_ERR(load_json(json, &t), status, needle);
  CHECK(t == NULL);
  ttt_tokenizer_destroy(t);
}

static void test_unreadable_and_not_json(void) {
  ttt_tokenizer *t = NULL;
  CHECK_ERR(ttt_tokenizer_load(TTT_BINARY_DIR "/no/such/tokenizer.json", NULL, &t), TTT_ERR_IO,
            "no/such/tokenizer.json");
  CHECK_ERR(ttt_tokenizer_load_dir(TTT_BINARY_DIR "/no/such/dir", &t), TTT_ERR_IO,
            "tokenizer.json");
  CHECK_ERR(ttt_tokenizer_load(NULL, NULL, &t), TTT_ERR_INVALID_ARGUMENT, "NULL");
  expect_load_error("", TTT_ERR_FORMAT, "not valid JSON");
  expect_load_error("{\"model\": ", TTT_ERR_FORMAT, "not valid JSON");
  expect_load_error("[1, 2]", TTT_ERR_FORMAT, "top level");
  expect_load_error("{}", TTT_ERR_FORMAT, "model: expected an object");
}

/* Every prefix of a real tokenizer.json is refused as malformed. */
static void test_truncated_files(void) {
  FILE *f = fopen(TTT_MODELS_DIR "/kjv-llama/tokenizer.json", "rb");
  CHECK(f != NULL);
  if (!f) return;
  static char data[300000];
  size_t n = fread(data, 1, sizeof data, f);
  fclose(f);
  CHECK(n > 200000 && n < sizeof data);
  int wrong = 0;
  for (size_t cut = 0; cut < n; cut += 997) {
    write_file(TMP_JSON, data, cut);
    ttt_tokenizer *t = NULL;
    ttt_status st = ttt_tokenizer_load(TMP_JSON, NULL, &t);
    if (st != TTT_ERR_FORMAT || t != NULL || !ttt_test_contains(ttt_last_error(), TMP_JSON))
      wrong++;
    ttt_tokenizer_destroy(t);
  }
  CHECK_MSG(wrong == 0, "%d truncations were not reported as format errors", wrong);
}

static void test_unsupported_components(void) {
  expect_load_error("{\"model\": {\"type\": \"WordLevel\", \"vocab\": {}}}", TTT_ERR_UNSUPPORTED,
                    "model.type: unsupported 'WordLevel' (supported: BPE, WordPiece, Unigram)");
  expect_load_error("{" MODEL "}, \"normalizer\": {\"type\": \"Nmt\"}}", TTT_ERR_UNSUPPORTED,
                    "normalizer.type: unsupported 'Nmt' (supported: Sequence, NFC");
  expect_load_error("{" MODEL "}, \"normalizer\": {\"type\": \"Sequence\", \"normalizers\": "
                    "[{\"type\": \"NFC\"}, {\"type\": \"ByteLevel\"}]}}",
                    TTT_ERR_UNSUPPORTED, "normalizer.normalizers[1].type: unsupported 'ByteLevel'");
  expect_load_error(
      "{" MODEL "}, \"pre_tokenizer\": {\"type\": \"Whitespace\"}}", TTT_ERR_UNSUPPORTED,
      "pre_tokenizer.type: unsupported 'Whitespace' (supported: Sequence, Split, ByteLevel");
  expect_load_error("{" MODEL "}, \"decoder\": {\"type\": \"CTC\"}}", TTT_ERR_UNSUPPORTED,
                    "decoder.type: unsupported 'CTC'");
  expect_load_error("{" MODEL "}, \"post_processor\": {\"type\": \"PairProcessing\"}}",
                    TTT_ERR_UNSUPPORTED,
                    "unsupported 'PairProcessing' (supported: TemplateProcessing");
  expect_load_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": [], "
                    "\"end_of_word_suffix\": \"</w>\"}}",
                    TTT_ERR_UNSUPPORTED, "model.end_of_word_suffix");
}

static void test_malformed_fields(void) {
  expect_load_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1}, \"merges\": []}}",
                    TTT_ERR_FORMAT, "model.vocab[\"a\"]: expected an id");
  expect_load_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"1\"}, \"merges\": []}}",
                    TTT_ERR_FORMAT, "model.vocab[\"a\"]");
  expect_load_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": {}}}",
                    TTT_ERR_FORMAT, "model.merges: expected an array");
  expect_load_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [42]}}",
                    TTT_ERR_FORMAT, "model.merges[0]: expected");
  expect_load_error(
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a a a\"]}}",
      TTT_ERR_FORMAT, "model.merges[0]");
  expect_load_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [[\"a\", "
                    "\"a\"]]}}",
                    TTT_ERR_FORMAT, "model.merges[0]: \"aa\" is not in model.vocab");
  expect_load_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], "
                    "\"unk_token\": \"<unk>\"}}",
                    TTT_ERR_FORMAT, "model.unk_token: \"<unk>\" is not in model.vocab");
  expect_load_error("{" MODEL ", \"byte_fallback\": 1}}", TTT_ERR_FORMAT,
                    "model.byte_fallback: expected true or false");
  expect_load_error("{" MODEL
                    "}, \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": "
                    "\"(a\"}, \"behavior\": \"Isolated\"}}",
                    TTT_ERR_FORMAT, "pre_tokenizer.pattern: invalid regular expression");
  expect_load_error("{" MODEL
                    "}, \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": "
                    "\"a\"}, \"behavior\": \"Sideways\"}}",
                    TTT_ERR_FORMAT, "pre_tokenizer.behavior: unknown 'Sideways'");
  expect_load_error("{" MODEL "}, \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": 3, "
                    "\"behavior\": \"Isolated\"}}",
                    TTT_ERR_FORMAT, "pre_tokenizer.pattern: expected");
  expect_load_error("{" MODEL "}, \"added_tokens\": [{\"id\": 10}]}", TTT_ERR_FORMAT,
                    "added_tokens[0].content: expected a string");
  /* a partial character in an added token would split characters of the text */
  expect_load_error("{" MODEL "}, \"added_tokens\": [{\"id\": 10, \"content\": \"\xA0\"}]}",
                    TTT_ERR_FORMAT, "added_tokens[0].content: not valid UTF-8");
  expect_load_error("{" MODEL
                    "}, \"normalizer\": {\"type\": \"Prepend\", \"prepend\": \"\xE2\x96\"}}",
                    TTT_ERR_FORMAT, "normalizer.prepend: not valid UTF-8");
  expect_load_error("{" MODEL "}, \"added_tokens\": [{\"id\": 99999999, \"content\": \"x\"}]}",
                    TTT_ERR_FORMAT, "added_tokens[0].id");
  expect_load_error("{" MODEL
                    "}, \"decoder\": {\"type\": \"Strip\", \"content\": \" \", \"start\": "
                    "-1}}",
                    TTT_ERR_FORMAT, "decoder.start: expected an integer");
  expect_load_error("{" MODEL "}, \"post_processor\": {\"type\": \"TemplateProcessing\", "
                    "\"single\": [{\"SpecialToken\": {\"id\": \"<s>\"}}, {\"Sequence\": {\"id\": "
                    "\"A\"}}], \"special_tokens\": {}}}",
                    TTT_ERR_FORMAT, "post_processor.special_tokens[\"<s>\"].ids");
}

static void test_config_errors(void) {
  const char *json = "{" MODEL "}}";
  write_file(TMP_JSON, json, strlen(json));
  ttt_tokenizer *t = NULL;
  const char *cfg = "{\"bos_token\": \"<s>\"}";
  write_file(TMP_CONFIG, cfg, strlen(cfg));
  CHECK_ERR(ttt_tokenizer_load(TMP_JSON, TMP_CONFIG, &t), TTT_ERR_FORMAT,
            "bos_token: \"<s>\" is not a token");
  cfg = "{\"bos_token\": 7}";
  write_file(TMP_CONFIG, cfg, strlen(cfg));
  CHECK_ERR(ttt_tokenizer_load(TMP_JSON, TMP_CONFIG, &t), TTT_ERR_FORMAT, "bos_token: expected");
  cfg = "{\"bos_token\": {\"content\": \"a\"}, \"eos_token\": \"b\", \"add_bos_token\": true, "
        "\"add_eos_token\": true}";
  write_file(TMP_CONFIG, cfg, strlen(cfg));
  CHECK_OK(ttt_tokenizer_load(TMP_JSON, TMP_CONFIG, &t));
  if (!t) return;
  CHECK(ttt_tokenizer_bos_id(t) == 1 && ttt_tokenizer_eos_id(t) == 2);
  /* without a template post-processor, add_bos_token/add_eos_token apply */
  int32_t *ids = NULL;
  int64_t n = 0;
  CHECK_OK(ttt_tokenizer_encode(t, "ab", 2, true, &ids, &n));
  CHECK(n == 3 && ids[0] == 1 && ids[1] == 3 && ids[2] == 2);
  free(ids);
  ttt_tokenizer_destroy(t);
}

static ttt_tokenizer *load_ok(const char *json) {
  ttt_tokenizer *t = NULL;
  CHECK_OK(load_json(json, &t));
  return t;
}

/* Encodes and compares with the expected ids (terminated by -1). */
static void expect_ids(const ttt_tokenizer *t, const char *text, const int32_t *want) {
  int32_t *ids = NULL;
  int64_t n = 0;
  CHECK_OK(ttt_tokenizer_encode(t, text, strlen(text), false, &ids, &n));
  int64_t k = 0;
  while (want[k] >= 0) k++;
  bool same = n == k && (k == 0 || memcmp(ids, want, (size_t)k * sizeof *ids) == 0);
  CHECK_MSG(same, "encoding \"%s\": got %lld ids, first %d", text, (long long)n, n ? ids[0] : -1);
  free(ids);
}

/* \C matches one byte, cutting inside a character (issue 19): refused at load, naming the pattern;
 * an escaped backslash followed by C is an ordinary pattern. */
static void test_backslash_c_refused(void) {
  expect_load_error("{" MODEL
                    "}, \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": "
                    "\"a\\\\C\"}, \"behavior\": \"Isolated\"}}",
                    TTT_ERR_FORMAT, "pre_tokenizer.pattern: invalid regular expression 'a\\C'");
  expect_load_error("{" MODEL "}, \"normalizer\": {\"type\": \"Replace\", \"pattern\": {\"Regex\": "
                    "\"(\\\\C)\"}, \"content\": \"-\"}}",
                    TTT_ERR_FORMAT, "normalizer.pattern: invalid regular expression '(\\C)'");
  ttt_tokenizer *t = load_ok("{" MODEL "}, \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": "
                             "{\"Regex\": \"\\\\\\\\C\"}, \"behavior\": \"Isolated\"}}");
  if (t) expect_ids(t, "a\\Cb", (const int32_t[]){1, 0, 0, 2, -1}); /* "\\C" split off, unknown */
  ttt_tokenizer_destroy(t);
}

/* Added-token ids that contradict each other or the vocabulary are refused, naming the token and
 * the id (issue 19: "<s>" encoded to an id that decoded to another string). */
static void test_added_token_id_conflicts(void) {
  expect_load_error("{" MODEL "}, \"added_tokens\": [{\"id\": 10, \"content\": \"<s>\"}, "
                    "{\"id\": 10, \"content\": \"</s>\"}]}",
                    TTT_ERR_FORMAT,
                    "added_tokens[1]: \"</s>\" has id 10, which is already the id of \"<s>\"");
  expect_load_error("{" MODEL "}, \"added_tokens\": [{\"id\": 2, \"content\": \"<s>\"}]}",
                    TTT_ERR_FORMAT,
                    "added_tokens[0]: \"<s>\" has id 2, which is already the id of \"b\"");
  expect_load_error("{" MODEL "}, \"added_tokens\": [{\"id\": 4, \"content\": \"ab\"}]}",
                    TTT_ERR_FORMAT,
                    "added_tokens[0]: \"ab\" has id 4, but model.vocab gives it id 3");
  /* the vocabulary's own id, and the same token listed twice, are fine */
  ttt_tokenizer *t = load_ok("{" MODEL "}, \"added_tokens\": [{\"id\": 0, \"content\": "
                             "\"<unk>\", \"special\": true}, {\"id\": 10, \"content\": \"<s>\"}, "
                             "{\"id\": 10, \"content\": \"<s>\"}]}");
  if (t) expect_ids(t, "<s>a<unk>", (const int32_t[]){10, 1, 0, -1});
  ttt_tokenizer_destroy(t);
}

static void test_bad_arguments_and_ids(void) {
  ttt_tokenizer *t = load_ok("{" MODEL "}}");
  if (!t) return;
  int32_t *ids = NULL;
  int64_t n = 0;
  char *text = NULL;
  CHECK_ERR(ttt_tokenizer_encode(NULL, "a", 1, false, &ids, &n), TTT_ERR_INVALID_ARGUMENT, "NULL");
  CHECK_ERR(ttt_tokenizer_encode(t, NULL, 1, false, &ids, &n), TTT_ERR_INVALID_ARGUMENT, "text");
  CHECK_OK(ttt_tokenizer_encode(t, NULL, 0, false, &ids, &n));
  CHECK(n == 0 && ids == NULL);
  int32_t bad[] = {1, 4}; /* 4 is a hole in the vocabulary */
  CHECK_ERR(ttt_tokenizer_decode(t, bad, 2, false, &text, NULL), TTT_ERR_OUT_OF_RANGE,
            "id 4 at position 1");
  bad[1] = -3;
  CHECK_ERR(ttt_tokenizer_decode(t, bad, 2, false, &text, NULL), TTT_ERR_OUT_OF_RANGE, "id -3");
  bad[1] = 10;
  CHECK_ERR(ttt_tokenizer_decode(t, bad, 2, false, &text, NULL), TTT_ERR_OUT_OF_RANGE,
            "vocabulary size 10");
  CHECK(ttt_tokenizer_token(t, 4) == NULL && ttt_tokenizer_token(t, 10) == NULL);
  ttt_detokenizer *d = NULL;
  const char *piece = NULL;
  CHECK_OK(ttt_detokenizer_create(t, &d));
  CHECK_ERR(ttt_detokenizer_push(d, 4, &piece, NULL), TTT_ERR_OUT_OF_RANGE, "id 4");
  ttt_detokenizer_destroy(d);
  ttt_detokenizer_destroy(NULL);
  ttt_tokenizer_destroy(t);
  ttt_tokenizer_destroy(NULL);
}

/* Invalid UTF-8 is replaced by U+FFFD (one per maximal invalid subsequence) before tokenization. */
static void test_invalid_utf8(void) {
  ttt_tokenizer *t = NULL;
  CHECK_OK(ttt_tokenizer_load_dir(TTT_MODELS_DIR "/kjv-llama", &t));
  if (!t) return;
  static const struct {
    const char *bad, *replaced;
  } cases[] = {
      {"a\xFF"
       "b",
       "a\xEF\xBF\xBD"
       "b"},
      {"x\xE4\xBD", "x\xEF\xBF\xBD"},             /* truncated 3-byte character: one U+FFFD */
      {"\xC0\xAF!", "\xEF\xBF\xBD\xEF\xBF\xBD!"}, /* overlong: two */
      {"\xED\xA0\x80z", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDz"}, /* surrogate: three */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int32_t *a = NULL, *b = NULL;
    int64_t na = 0, nb = 0;
    CHECK_OK(ttt_tokenizer_encode(t, cases[i].bad, strlen(cases[i].bad), false, &a, &na));
    CHECK_OK(ttt_tokenizer_encode(t, cases[i].replaced, strlen(cases[i].replaced), false, &b, &nb));
    CHECK_MSG(na == nb && na > 0 && memcmp(a, b, (size_t)na * sizeof *a) == 0, "case %zu", i);
    char *text = NULL;
    CHECK_OK(ttt_tokenizer_decode(t, a, na, false, &text, NULL));
    CHECK(text && strcmp(text, cases[i].replaced) == 0);
    free(text);
    free(a);
    free(b);
  }
  /* NUL bytes are ordinary characters */
  int32_t *ids = NULL;
  int64_t n = 0;
  CHECK_OK(ttt_tokenizer_encode(t, "a\0b", 3, false, &ids, &n));
  char *text = NULL;
  size_t len = 0;
  CHECK_OK(ttt_tokenizer_decode(t, ids, n, false, &text, &len));
  CHECK(len == 3 && memcmp(text, "a\0b", 3) == 0);
  free(text);
  free(ids);
  ttt_tokenizer_destroy(t);
}

static void test_unk_and_fuse_unk(void) {
  ttt_tokenizer *t = load_ok("{" MODEL ", \"fuse_unk\": true}}");
  if (t) expect_ids(t, "abxya", (const int32_t[]){3, 0, 1, -1});
  ttt_tokenizer_destroy(t);
  t = load_ok("{" MODEL "}}");
  if (t) expect_ids(t, "abxya", (const int32_t[]){3, 0, 0, 1, -1});
  ttt_tokenizer_destroy(t);
  /* without unk_token, unknown characters are dropped and their neighbours may merge */
  t = load_ok("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 1, \"b\": 2, \"ab\": 3}, "
              "\"merges\": [\"a b\"]}}");
  if (t) expect_ids(t, "axb", (const int32_t[]){3, -1});
  ttt_tokenizer_destroy(t);
  /* pieces made only of unknown characters encode to nothing, also before the first id and when
   * the piece comes from the per-call cache (issue 19: this added 0 to a NULL id array) */
  t = load_ok("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 1, \"b\": 2, \"ab\": 3}, "
              "\"merges\": [\"a b\"]}, \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": "
              "{\"String\": \" \"}, \"behavior\": \"Removed\"}}");
  if (t) {
    expect_ids(t, "x", (const int32_t[]){-1});
    expect_ids(t, "x x ab xy x a", (const int32_t[]){3, 1, -1});
    int32_t *ids = NULL;
    int64_t n = -1;
    CHECK_OK(ttt_tokenizer_encode(t, "xyz", 3, true, &ids, &n));
    CHECK(n == 0 && ids == NULL);
  }
  ttt_tokenizer_destroy(t);
}

static void test_added_token_options(void) {
  ttt_tokenizer *t =
      load_ok("{" MODEL "}, \"added_tokens\": [{\"id\": 4, \"content\": \"<m>\", \"lstrip\": true, "
              "\"rstrip\": true, \"special\": true}, {\"id\": 10, \"content\": \"<n>\", "
              "\"special\": true}, "
              "{\"id\": 11, \"content\": \"ba\", \"single_word\": true}]}");
  if (!t) return;
  expect_ids(t, "a  <m>  b", (const int32_t[]){1, 4, 2, -1});
  expect_ids(t, "a  <n>  b", (const int32_t[]){1, 5, 5, 10, 5, 5, 2, -1});
  expect_ids(t, "a ba b", (const int32_t[]){1, 5, 11, 5, 2, -1});
  expect_ids(t, "aba", (const int32_t[]){3, 1, -1}); /* not a single word: plain BPE */
  char *text = NULL;
  CHECK_OK(ttt_tokenizer_decode(t, (const int32_t[]){1, 4, 10, 2}, 4, true, &text, NULL));
  /* no decoder: tokens joined by spaces, special ones skipped */
  CHECK(text && strcmp(text, "a b") == 0);
  free(text);
  CHECK(ttt_tokenizer_is_special(t, 4) && !ttt_tokenizer_is_special(t, 11));
  ttt_tokenizer_destroy(t);
}

static void expect_split(const char *behavior, bool invert, const char *text, const int32_t *want) {
  char json[2048];
  snprintf(json, sizeof json,
           "{" MODEL
           "}, \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"String\": \"-\"}, "
           "\"behavior\": \"%s\", \"invert\": %s}}",
           behavior, invert ? "true" : "false");
  ttt_tokenizer *t = load_ok(json);
  if (t) expect_ids(t, text, want);
  ttt_tokenizer_destroy(t);
}

static void test_split_behaviors(void) {
  expect_split("Isolated", false, "a-a", (const int32_t[]){1, 6, 1, -1});
  expect_split("Removed", false, "a-a", (const int32_t[]){1, 1, -1});
  expect_split("MergedWithPrevious", false, "a-a", (const int32_t[]){7, 1, -1});
  expect_split("MergedWithNext", false, "a-a", (const int32_t[]){1, 8, -1});
  expect_split("Isolated", false, "a--a", (const int32_t[]){1, 6, 6, 1, -1});
  expect_split("Contiguous", false, "a--a", (const int32_t[]){1, 9, 1, -1});
  expect_split("Removed", true, "a-a", (const int32_t[]){6, -1});
}

static void test_metaspace(void) {
  ttt_tokenizer *t = load_ok(
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"\xE2\x96\x81"
      "a\": 0, \"\xE2\x96\x81"
      "b\": 1, "
      "\"\xE2\x96\x81\": 2, \"a\": 3, \"b\": 4}, \"merges\": [\"\xE2\x96\x81 a\", \"\xE2\x96\x81 "
      "b\"]}, "
      "\"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"\xE2\x96\x81\", "
      "\"prepend_scheme\": \"always\", \"split\": true}, \"decoder\": {\"type\": \"Metaspace\", "
      "\"replacement\": \"\xE2\x96\x81\", \"prepend_scheme\": \"always\", \"split\": true}}");
  if (!t) return;
  expect_ids(t, "a b", (const int32_t[]){0, 1, -1});
  expect_ids(t, "a  b", (const int32_t[]){0, 2, 1, -1});
  char *text = NULL;
  CHECK_OK(ttt_tokenizer_decode(t, (const int32_t[]){0, 2, 1}, 3, false, &text, NULL));
  CHECK(text && strcmp(text, "a  b") == 0);
  free(text);
  ttt_tokenizer_destroy(t);
}

int main(void) {
  TTT_RUN(test_unreadable_and_not_json);
  TTT_RUN(test_truncated_files);
  TTT_RUN(test_unsupported_components);
  TTT_RUN(test_malformed_fields);
  TTT_RUN(test_backslash_c_refused);
  TTT_RUN(test_added_token_id_conflicts);
  TTT_RUN(test_config_errors);
  TTT_RUN(test_bad_arguments_and_ids);
  TTT_RUN(test_invalid_utf8);
  TTT_RUN(test_unk_and_fuse_unk);
  TTT_RUN(test_added_token_options);
  TTT_RUN(test_split_behaviors);
  TTT_RUN(test_metaspace);
  remove(TMP_JSON);
  remove(TMP_CONFIG);
  return ttt_test_finish();
}
