/* Safetensors reader/writer and checkpoints: the fixtures, round trips, sharded folders, and
 * hostile files (truncated, lying headers, overlaps...) that must fail with a clear message. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ttt_safetensors.h"
#include "ttt_test.h"

static char tmp_dir[64];

static void make_tmp_dir(void) {
  snprintf(tmp_dir, sizeof tmp_dir, "/tmp/ttt_st_XXXXXX");
  if (!mkdtemp(tmp_dir)) {
    perror("mkdtemp");
    exit(1);
  }
}

/* Removes the files this test created (one level) and the folder. */
static void remove_tmp_dir(void) {
  DIR *d = opendir(tmp_dir);
  if (!d) return;
  struct dirent *e;
  char path[512];
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    snprintf(path, sizeof path, "%s/%s", tmp_dir, e->d_name);
    remove(path);
  }
  closedir(d);
  rmdir(tmp_dir);
}

static const char *tmp_path(char *buf, size_t size, const char *name) {
  snprintf(buf, size, "%s/%s", tmp_dir, name);
  return buf;
}

static void write_bytes(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, len, f) != len) {
    perror(path);
    exit(1);
  }
  fclose(f);
}

/* Writes a safetensors file from a header string (length written as given by `header_len`,
 * or the real length when 0) followed by `data_len` bytes of a counting pattern. */
static void write_raw(const char *path, const char *header, uint64_t header_len, size_t data_len) {
  size_t hl = strlen(header);
  size_t total = 8 + hl + data_len;
  uint8_t *buf = malloc(total);
  uint64_t n = header_len ? header_len : hl;
  for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(n >> (8 * i));
  memcpy(buf + 8, header, hl);
  for (size_t i = 0; i < data_len; i++) buf[8 + hl + i] = (uint8_t)i;
  write_bytes(path, buf, total);
  free(buf);
}

/* Opens a raw file that must fail with `status` and a message naming the file and `needle`. */
static void expect_open_error(const char *header, uint64_t header_len, size_t data_len,
                              ttt_status status, const char *needle) {
  char path[256];
  tmp_path(path, sizeof path, "bad.safetensors");
  write_raw(path, header, header_len, data_len);
  ttt_safetensors *f = (ttt_safetensors *)1;
  CHECK_ERR(ttt_safetensors_open(path, &f), status, needle);
  CHECK(f == NULL);
  CHECK_MSG(ttt_test_contains(ttt_last_error(), path), "error '%s' does not name the file",
            ttt_last_error());
}

/* ---------------------------------------------------------------------------------------------- */

static void test_golden_llama3(void) {
  char path[512];
  ttt_safetensors *f;
  CHECK_OK(ttt_safetensors_open(
      ttt_test_fixture(path, sizeof path, "hf/llama3_tiny/golden.safetensors"), &f));
  if (!f) return;
  CHECK(ttt_safetensors_count(f) == 32);
  CHECK(ttt_safetensors_copied_count(f) == 0);
  ttt_tensor ids;
  CHECK_OK(ttt_safetensors_get(f, "input_ids", &ids));
  CHECK(ids.dtype == TTT_I64 && ids.ndim == 1 && ids.shape[0] == 20);
  CHECK(((const int64_t *)ids.data)[0] == 331 && ((const int64_t *)ids.data)[19] == 74);
  for (int64_t i = 0; i < 20; i++) CHECK(((const int64_t *)ids.data)[i] < 512);
  ttt_tensor logits;
  CHECK_OK(ttt_safetensors_get(f, "logits.prefill", &logits));
  CHECK(logits.dtype == TTT_F32 && logits.ndim == 2 && logits.shape[0] == 20 &&
        logits.shape[1] == 512);
  CHECK((uintptr_t)logits.data % 4 == 0);
  double sum_abs = 0;
  for (int64_t i = 0; i < 20 * 512; i++) sum_abs += fabs(ttt_tensor_get(&logits, i));
  CHECK(sum_abs > 0 && sum_abs < 1e9);
  ttt_tensor inv;
  CHECK_OK(ttt_safetensors_get(f, "rope.inv_freq", &inv));
  CHECK(inv.shape[0] == 8 && ((const float *)inv.data)[0] == 1.0f);
  /* llama3 scaling divides the lowest frequencies by factor 8: strictly decreasing. */
  for (int i = 1; i < 8; i++)
    CHECK(((const float *)inv.data)[i] < ((const float *)inv.data)[i - 1]);
  CHECK(ttt_safetensors_has(f, "decode_ids"));
  CHECK(!ttt_safetensors_has(f, "decode"));
  CHECK_ERR(ttt_safetensors_get(f, "nope", &inv), TTT_ERR_NOT_FOUND, "'nope'");
  CHECK(ttt_test_contains(ttt_last_error(), "golden.safetensors"));
  ttt_safetensors_close(f);
}

static void test_golden_bert(void) {
  char path[512];
  ttt_safetensors *f;
  CHECK_OK(ttt_safetensors_open(
      ttt_test_fixture(path, sizeof path, "hf/bert_tiny/golden.safetensors"), &f));
  if (!f) return;
  ttt_tensor mask, hidden;
  CHECK_OK(ttt_safetensors_get(f, "attention_mask", &mask));
  CHECK(mask.dtype == TTT_I64 && mask.ndim == 2 && mask.shape[0] == 2 && mask.shape[1] == 12);
  /* Row 1 is padded after position 8. */
  const int64_t *m = mask.data;
  for (int i = 0; i < 12; i++) CHECK(m[i] == 1 && m[12 + i] == (i < 8 ? 1 : 0));
  CHECK_OK(ttt_safetensors_get(f, "last_hidden_state", &hidden));
  CHECK(hidden.ndim == 3 && hidden.shape[0] == 2 && hidden.shape[1] == 12 && hidden.shape[2] == 64);
  ttt_safetensors_close(f);
}

/* Every fixture file opens, names are sorted and unique, and every view is aligned and in range. */
static void test_all_fixture_files(void) {
  const char *files[] = {
      "hf/llama3_tiny/model.safetensors",   "hf/qwen2_tiny/model.safetensors",
      "hf/qwen3_tiny/model.safetensors",    "hf/mistral_tiny/model.safetensors",
      "hf/mixtral_tiny/model.safetensors",  "hf/bert_tiny/model.safetensors",
      "hf/qwen2_tiny/golden.safetensors",   "hf/qwen3_tiny/golden.safetensors",
      "hf/mistral_tiny/golden.safetensors", "hf/mixtral_tiny/golden.safetensors"};
  for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
    char path[512];
    ttt_safetensors *f;
    CHECK_OK(ttt_safetensors_open(ttt_test_fixture(path, sizeof path, files[k]), &f));
    if (!f) continue;
    CHECK(ttt_safetensors_count(f) > 0);
    for (int64_t i = 0; i < ttt_safetensors_count(f); i++) {
      const char *name = ttt_safetensors_name(f, i);
      if (i > 0) CHECK(strcmp(ttt_safetensors_name(f, i - 1), name) < 0);
      ttt_tensor t;
      CHECK_OK(ttt_safetensors_get(f, name, &t));
      CHECK_OK(ttt_tensor_check(&t, name));
      CHECK((uintptr_t)t.data % 4 == 0);
    }
    CHECK(ttt_safetensors_name(f, -1) == NULL);
    CHECK(ttt_safetensors_name(f, ttt_safetensors_count(f)) == NULL);
    ttt_safetensors_close(f);
  }
}

static void test_kjv_bf16(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/kjv-llama/model.safetensors", TTT_MODELS_DIR);
  ttt_safetensors *f;
  CHECK_OK(ttt_safetensors_open(path, &f));
  if (!f) return;
  CHECK(ttt_safetensors_metadata(f, "format") &&
        strcmp(ttt_safetensors_metadata(f, "format"), "pt") == 0);
  CHECK(ttt_safetensors_metadata(f, "missing") == NULL);
  ttt_tensor t;
  CHECK_OK(ttt_safetensors_get(f, "model.embed_tokens.weight", &t));
  CHECK(t.dtype == TTT_BF16 && t.shape[0] == 4096 && t.shape[1] == 288);
  /* A trained embedding: values finite, small, not all equal. */
  double lo = 1e30, hi = -1e30;
  for (int64_t i = 0; i < 4096 * 288; i += 97) {
    double v = ttt_tensor_get(&t, i);
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  CHECK(lo < hi && lo > -100 && hi < 100);
  ttt_safetensors_close(f);
}

/* ---------------------------------------------------------------------------------------------- */

static void test_write_round_trip(void) {
  float f32[6] = {1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, -7.0f};
  uint16_t f16[5] = {0x3c00, 0xc000, 0x0001, 0x7bff, 0x8000};
  uint16_t bf16[3] = {0x3f80, 0xbf80, 0x4049};
  int64_t i64[4] = {-1, 0, 1, INT64_MAX};
  int32_t i32[4] = {7, -8, 9, -10};
  double f64[1] = {3.141592653589793};
  ttt_named_tensor items[] = {
      {"bf", ttt_tensor_1d(TTT_BF16, bf16, 3)},   {"a.f32", ttt_tensor_2d(TTT_F32, f32, 2, 3)},
      {"h", ttt_tensor_1d(TTT_F16, f16, 5)},      {"ids", ttt_tensor_1d(TTT_I64, i64, 4)},
      {"i32", ttt_tensor_2d(TTT_I32, i32, 2, 2)}, {"pi", ttt_tensor_1d(TTT_F64, f64, 1)},
  };
  char path[256];
  tmp_path(path, sizeof path, "rt.safetensors");
  CHECK_OK(ttt_safetensors_write(path, items, 6));
  /* The header length is a multiple of 8, so the data section is aligned. */
  FILE *fp = fopen(path, "rb");
  uint8_t le[8] = {0};
  CHECK(fp && fread(le, 1, 8, fp) == 8);
  if (fp) fclose(fp);
  CHECK(le[0] % 8 == 0);
  ttt_safetensors *f;
  CHECK_OK(ttt_safetensors_open(path, &f));
  if (!f) return;
  CHECK(ttt_safetensors_count(f) == 6);
  CHECK(ttt_safetensors_copied_count(f) == 0);
  for (size_t k = 0; k < 6; k++) {
    ttt_tensor t;
    CHECK_OK(ttt_safetensors_get(f, items[k].name, &t));
    CHECK(t.dtype == items[k].tensor.dtype && t.ndim == items[k].tensor.ndim);
    for (int d = 0; d < t.ndim; d++) CHECK(t.shape[d] == items[k].tensor.shape[d]);
    CHECK(ttt_tensor_nbytes(&t) == ttt_tensor_nbytes(&items[k].tensor));
    CHECK(memcmp(t.data, items[k].tensor.data, ttt_tensor_nbytes(&t)) == 0);
  }
  ttt_safetensors_close(f);

  /* An empty file is valid too. */
  CHECK_OK(ttt_safetensors_write(path, NULL, 0));
  CHECK_OK(ttt_safetensors_open(path, &f));
  if (f) CHECK(ttt_safetensors_count(f) == 0);
  ttt_safetensors_close(f);
}

static void test_write_errors(void) {
  float x[4] = {0};
  char path[256];
  tmp_path(path, sizeof path, "w.safetensors");
  ttt_named_tensor dup[] = {{"x", ttt_tensor_1d(TTT_F32, x, 4)},
                            {"x", ttt_tensor_1d(TTT_F32, x, 2)}};
  CHECK_ERR(ttt_safetensors_write(path, dup, 2), TTT_ERR_INVALID_ARGUMENT, "'x' is given twice");
  ttt_named_tensor unset[] = {{"q", ttt_tensor_1d(TTT_DTYPE_DEFAULT, x, 4)}};
  CHECK_ERR(ttt_safetensors_write(path, unset, 1), TTT_ERR_DTYPE, "'q'");
  ttt_named_tensor nodata[] = {{"n", ttt_tensor_1d(TTT_F32, NULL, 4)}};
  CHECK_ERR(ttt_safetensors_write(path, nodata, 1), TTT_ERR_INVALID_ARGUMENT, "w.safetensors");
  ttt_named_tensor meta[] = {{"__metadata__", ttt_tensor_1d(TTT_F32, x, 4)}};
  CHECK_ERR(ttt_safetensors_write(path, meta, 1), TTT_ERR_INVALID_ARGUMENT, "__metadata__");
  ttt_named_tensor ok[] = {{"x", ttt_tensor_1d(TTT_F32, x, 4)}};
  CHECK_ERR(ttt_safetensors_write("/nonexistent-dir/out.safetensors", ok, 1), TTT_ERR_IO,
            "/nonexistent-dir/out.safetensors");
  CHECK(access(path, F_OK) != 0);
}

/* ---------------------------------------------------------------------------------------------- */

static void test_bad_files(void) {
  char path[256];
  tmp_path(path, sizeof path, "short.safetensors");
  write_bytes(path, "\x10\x00\x00", 3);
  ttt_safetensors *f;
  CHECK_ERR(ttt_safetensors_open(path, &f), TTT_ERR_FORMAT, "truncated");
  CHECK(ttt_test_contains(ttt_last_error(), "short.safetensors"));
  CHECK_ERR(ttt_safetensors_open(tmp_dir, &f), TTT_ERR_IO, "not a regular file");
  tmp_path(path, sizeof path, "absent.safetensors");
  CHECK_ERR(ttt_safetensors_open(path, &f), TTT_ERR_IO, "absent.safetensors");

  const char *one = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  expect_open_error(one, 1000, 8, TTT_ERR_FORMAT, "runs past the end");
  expect_open_error(one, 1ull << 40, 8, TTT_ERR_FORMAT, "exceeds");
  expect_open_error("{\"a\":{\"dtype\":\"F32\",", 0, 0, TTT_ERR_FORMAT, "invalid JSON");
  expect_open_error("[1, 2]", 0, 0, TTT_ERR_FORMAT, "must be a JSON object");
  expect_open_error("{} x", 0, 0, TTT_ERR_FORMAT, "after the JSON value");
  expect_open_error("", 0, 0, TTT_ERR_FORMAT, "invalid JSON");
  expect_open_error("{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 0, 2,
                    TTT_ERR_DTYPE, "tensor 'a': dtype 'F8_E4M3' is not supported");
  expect_open_error("{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 8,
                    TTT_ERR_FORMAT, "tensor 'a': 'dtype' must be a string");
  expect_open_error("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 8, TTT_ERR_FORMAT,
                    "tensor 'a': 'dtype'");
  expect_open_error("{\"a\":[1]}", 0, 0, TTT_ERR_FORMAT, "tensor 'a': expected an object");
  expect_open_error("{\"a\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 0, 8,
                    TTT_ERR_FORMAT, "tensor 'a': 'shape' must be an array");
  expect_open_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 0, 8,
                    TTT_ERR_FORMAT, "tensor 'a': shape[0] must be a non-negative integer");
  expect_open_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", 0, 8,
                    TTT_ERR_FORMAT, "shape[0]");
  expect_open_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,2],\"data_offsets\":[0,8]}}", 0,
                    8, TTT_ERR_FORMAT, "tensor 'a': shape has 5 dims");
  expect_open_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 0, 8,
                    TTT_ERR_FORMAT, "tensor 'a': 'data_offsets'");
  expect_open_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,-8]}}", 0, 8,
                    TTT_ERR_FORMAT, "tensor 'a': data_offsets must be non-negative");
  expect_open_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 0, 8,
                    TTT_ERR_FORMAT, "end before begin");
  /* Offsets out of bounds: the header claims more data than the file holds (a truncated file). */
  expect_open_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 0, 12,
                    TTT_ERR_FORMAT,
                    "tensor 'a': data_offsets [0, 16] exceed the data section of 12");
  expect_open_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 0, 8,
                    TTT_ERR_FORMAT,
                    "tensor 'a': data_offsets span 8 bytes, but the shape and dtype need 12");
  expect_open_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":"
                    "[0,8]}}",
                    0, 8, TTT_ERR_FORMAT, "tensor 'a': its shape needs more than 2^62 bytes");
  expect_open_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                    0, 12, TTT_ERR_FORMAT, "tensor 'b' (bytes [4, 12]) overlaps tensor 'a'");
  expect_open_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                    0, 12, TTT_ERR_FORMAT, "tensor 'b' begins at byte 8, leaving a gap");
  expect_open_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 0, 12,
                    TTT_ERR_FORMAT, "trailing data");
  expect_open_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                    "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                    0, 8, TTT_ERR_FORMAT, "tensor 'a' appears twice");
  expect_open_error("{\"__metadata__\":{\"format\":3}}", 0, 0, TTT_ERR_FORMAT,
                    "__metadata__ 'format' must be a string");
  expect_open_error("{\"__metadata__\":[]}", 0, 0, TTT_ERR_FORMAT,
                    "'__metadata__' must be an object");
  expect_open_error("{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 0, 4,
                    TTT_ERR_FORMAT, "empty name");
  expect_open_error("{}", 0, 4, TTT_ERR_FORMAT, "no tensors but 4 bytes");
}

/* Tensors whose bytes are misaligned for their dtype are copied; scalars are 1-element views;
 * zero-sized tensors have no data. */
static void test_alignment_and_odd_shapes(void) {
  /* Header padded to 168 bytes: data starts at 176 (8-aligned); 'b' sits at data offset 2. */
  char header[169];
  snprintf(header, sizeof header, "%-168s",
           "{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[2,6]},"
           "\"z\":{\"dtype\":\"I64\",\"shape\":[0,3],\"data_offsets\":[6,6]}}");
  char path[256];
  tmp_path(path, sizeof path, "odd.safetensors");
  write_raw(path, header, 0, 6);
  ttt_safetensors *f;
  CHECK_OK(ttt_safetensors_open(path, &f));
  if (!f) return;
  CHECK(ttt_safetensors_copied_count(f) == 1);
  ttt_tensor b, z;
  CHECK_OK(ttt_safetensors_get(f, "b", &b));
  CHECK(b.ndim == 1 && b.shape[0] == 1 && (uintptr_t)b.data % 4 == 0);
  const uint8_t expect[4] = {2, 3, 4, 5}; /* the counting pattern at data bytes 2..5 */
  CHECK(memcmp(b.data, expect, 4) == 0);
  CHECK_OK(ttt_safetensors_get(f, "z", &z));
  CHECK(z.ndim == 2 && z.shape[0] == 0 && z.data == NULL);
  CHECK(ttt_tensor_check(&z, "z") != TTT_OK);
  ttt_safetensors_close(f);
}

/* Every truncation of a valid file and every single-byte corruption of its header fails cleanly
 * or (for harmless bytes such as whitespace) still opens; none may crash (ASan run). */
static void test_truncations_and_corruptions(void) {
  float x[6] = {1, 2, 3, 4, 5, 6};
  int64_t ids[2] = {5, 6};
  ttt_named_tensor items[] = {{"x", ttt_tensor_2d(TTT_F32, x, 2, 3)},
                              {"ids", ttt_tensor_1d(TTT_I64, ids, 2)}};
  char path[256], cut[256];
  tmp_path(path, sizeof path, "full.safetensors");
  tmp_path(cut, sizeof cut, "cut.safetensors");
  CHECK_OK(ttt_safetensors_write(path, items, 2));
  FILE *fp = fopen(path, "rb");
  uint8_t buf[1024];
  size_t len = fp ? fread(buf, 1, sizeof buf, fp) : 0;
  if (fp) fclose(fp);
  CHECK(len > 40 && len < sizeof buf);
  int failures = 0;
  for (size_t n = 0; n < len; n++) {
    write_bytes(cut, buf, n);
    ttt_safetensors *f = NULL;
    ttt_status s = ttt_safetensors_open(cut, &f);
    if (s != TTT_OK && ttt_test_contains(ttt_last_error(), cut)) failures++;
    ttt_safetensors_close(f);
  }
  CHECK_MSG(failures == (int)len, "%d of %zu truncations failed with a message naming the file",
            failures, len);
  const uint8_t values[] = {0, '"', '}', ']', '-', '9', 0xff, ' '};
  for (size_t pos = 0; pos < len - 48; pos++) {
    for (size_t v = 0; v < sizeof values; v++) {
      uint8_t bad[1024];
      memcpy(bad, buf, len);
      bad[pos] = values[v];
      write_bytes(cut, bad, len);
      ttt_safetensors *f = NULL;
      ttt_status s = ttt_safetensors_open(cut, &f);
      if (s != TTT_OK) CHECK(ttt_test_contains(ttt_last_error(), cut));
      ttt_safetensors_close(f);
    }
  }
}

/* ---------------------------------------------------------------------------------------------- */

static void test_checkpoint_single(void) {
  char dir[512];
  ttt_test_fixture(dir, sizeof dir, "hf/mixtral_tiny");
  ttt_checkpoint *c;
  CHECK_OK(ttt_checkpoint_open(dir, &c));
  if (!c) return;
  CHECK(ttt_checkpoint_shard_count(c) == 1);
  CHECK(ttt_checkpoint_count(c) == 2 * 19 + 3);
  ttt_tensor t;
  CHECK_OK(ttt_checkpoint_get(c, "model.layers.1.block_sparse_moe.experts.3.w2.weight", &t));
  CHECK(t.shape[0] == 64 && t.shape[1] == 160);
  CHECK(ttt_test_contains(ttt_checkpoint_file_of(c, "model.norm.weight"),
                          "mixtral_tiny/model.safetensors"));
  CHECK(ttt_checkpoint_file_of(c, "nope") == NULL);
  CHECK_ERR(ttt_checkpoint_get(c, "nope", &t), TTT_ERR_NOT_FOUND, "no tensor 'nope'");
  ttt_checkpoint_close(c);

  /* A .safetensors path works as well. */
  char file[600];
  snprintf(file, sizeof file, "%s/model.safetensors", dir);
  CHECK_OK(ttt_checkpoint_open(file, &c));
  if (c) CHECK(ttt_checkpoint_count(c) == 41);
  ttt_checkpoint_close(c);
  CHECK_ERR(ttt_checkpoint_open(tmp_dir, &c), TTT_ERR_NOT_FOUND, "no model.safetensors");
}

static void write_text(const char *name, const char *text) {
  char path[256];
  write_bytes(tmp_path(path, sizeof path, name), text, strlen(text));
}

static void test_checkpoint_sharded(void) {
  float a[4] = {1, 2, 3, 4}, b[2] = {5, 6}, c3[3] = {7, 8, 9};
  ttt_named_tensor s1[] = {{"w.a", ttt_tensor_1d(TTT_F32, a, 4)},
                           {"w.b", ttt_tensor_1d(TTT_F32, b, 2)}};
  ttt_named_tensor s2[] = {{"w.c", ttt_tensor_1d(TTT_F32, c3, 3)}};
  char p1[256], p2[256], index[256];
  CHECK_OK(
      ttt_safetensors_write(tmp_path(p1, sizeof p1, "model-00001-of-00002.safetensors"), s1, 2));
  CHECK_OK(
      ttt_safetensors_write(tmp_path(p2, sizeof p2, "model-00002-of-00002.safetensors"), s2, 1));
  tmp_path(index, sizeof index, "model.safetensors.index.json");
  write_text("model.safetensors.index.json", "{\"metadata\":{\"total_size\":36},\"weight_map\":{"
                                             "\"w.a\":\"model-00001-of-00002.safetensors\","
                                             "\"w.c\":\"model-00002-of-00002.safetensors\","
                                             "\"w.b\":\"model-00001-of-00002.safetensors\"}}");
  ttt_checkpoint *c;
  CHECK_OK(ttt_checkpoint_open(tmp_dir, &c));
  if (c) {
    CHECK(ttt_checkpoint_shard_count(c) == 2);
    CHECK(ttt_checkpoint_count(c) == 3);
    CHECK(strcmp(ttt_checkpoint_name(c, 0), "w.a") == 0 &&
          strcmp(ttt_checkpoint_name(c, 2), "w.c") == 0);
    ttt_tensor t;
    CHECK_OK(ttt_checkpoint_get(c, "w.c", &t));
    CHECK(t.shape[0] == 3 && ((const float *)t.data)[2] == 9.0f);
    CHECK_OK(ttt_checkpoint_get(c, "w.b", &t));
    CHECK(((const float *)t.data)[1] == 6.0f);
    CHECK(ttt_test_contains(ttt_checkpoint_file_of(c, "w.c"), "model-00002-of-00002"));
  }
  ttt_checkpoint_close(c);
  /* The index file itself can be given. */
  CHECK_OK(ttt_checkpoint_open(index, &c));
  ttt_checkpoint_close(c);

  write_text("model.safetensors.index.json",
             "{\"weight_map\":{\"w.a\":\"model-00001-of-00002.safetensors\","
             "\"w.b\":\"model-00001-of-00002.safetensors\",\"w.c\":\"model-00003.safetensors\"}}");
  CHECK_ERR(ttt_checkpoint_open(tmp_dir, &c), TTT_ERR_IO, "shard 'model-00003.safetensors'");
  CHECK(ttt_test_contains(ttt_last_error(), "model.safetensors.index.json"));

  write_text("model.safetensors.index.json",
             "{\"weight_map\":{\"w.a\":\"model-00001-of-00002.safetensors\","
             "\"w.b\":\"model-00001-of-00002.safetensors\",\"w.c\":\"model-00001-of-00002."
             "safetensors\"}}");
  CHECK_ERR(ttt_checkpoint_open(tmp_dir, &c), TTT_ERR_FORMAT, "tensor 'w.c' is mapped to");

  write_text("model.safetensors.index.json",
             "{\"weight_map\":{\"w.a\":\"model-00001-of-00002.safetensors\","
             "\"w.c\":\"model-00002-of-00002.safetensors\"}}");
  CHECK_ERR(ttt_checkpoint_open(tmp_dir, &c), TTT_ERR_FORMAT, "tensor 'w.b' is not listed");

  write_text("model.safetensors.index.json", "{\"weight_map\":{\"w.a\":\"../model.safetensors\"}}");
  CHECK_ERR(ttt_checkpoint_open(tmp_dir, &c), TTT_ERR_FORMAT, "weight_map['w.a']");

  write_text("model.safetensors.index.json", "{\"weight_map\":[]}");
  CHECK_ERR(ttt_checkpoint_open(tmp_dir, &c), TTT_ERR_FORMAT, "'weight_map' must be an object");

  write_text("model.safetensors.index.json", "{\"weight_map\":{\"w.a\":");
  CHECK_ERR(ttt_checkpoint_open(tmp_dir, &c), TTT_ERR_FORMAT,
            "model.safetensors.index.json: invalid JSON");

  write_text("model.safetensors.index.json",
             "{\"weight_map\":{\"w.a\":\"model-00001-of-00002.safetensors\","
             "\"w.a\":\"model-00001-of-00002.safetensors\"}}");
  CHECK_ERR(ttt_checkpoint_open(tmp_dir, &c), TTT_ERR_FORMAT, "'w.a' is listed twice");
  CHECK(c == NULL);
}

int main(void) {
  make_tmp_dir();
  TTT_RUN(test_golden_llama3);
  TTT_RUN(test_golden_bert);
  TTT_RUN(test_all_fixture_files);
  TTT_RUN(test_kjv_bf16);
  TTT_RUN(test_write_round_trip);
  TTT_RUN(test_write_errors);
  TTT_RUN(test_bad_files);
  TTT_RUN(test_alignment_and_odd_shapes);
  TTT_RUN(test_truncations_and_corruptions);
  TTT_RUN(test_checkpoint_single);
  TTT_RUN(test_checkpoint_sharded);
  remove_tmp_dir();
  return ttt_test_finish();
}
