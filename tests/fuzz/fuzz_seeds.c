/*
 * fuzz_seeds OUT_DIR — writes the seed corpus of every harness, derived from the repository's
 * fixtures (small versions of them: libFuzzer mutates small inputs faster), into OUT_DIR/<harness>/.
 * Run by tests/fuzz/run.sh before fuzzing; nothing generated here is committed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "fuzz_common.h"

static const char *out_dir;
static int written;

static char *source_path(const char *relative) {
  static char path[1024];
  snprintf(path, sizeof path, "%s/%s", TTT_SOURCE_DIR, relative);
  return path;
}

static char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)size + 1);
  if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) exit(1);
  fclose(f);
  buf[size] = '\0';
  if (len) *len = (size_t)size;
  return buf;
}

static const char *seed_path(const char *harness, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static const char *seed_path(const char *harness, const char *fmt, va_list ap) {
  static char path[1024];
  char name[256];
  vsnprintf(name, sizeof name, fmt, ap);
  snprintf(path, sizeof path, "%s/%s", out_dir, harness);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/%s/%s", out_dir, harness, name);
  return path;
}

/* Writes prefix bytes (n_prefix of them) then data as seed NAME of HARNESS. */
static void seed(const char *harness, const void *prefix, size_t n_prefix, const void *data,
                 size_t size, const char *fmt, ...) TTT_PRINTF(6, 7);
static void seed(const char *harness, const void *prefix, size_t n_prefix, const void *data,
                 size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const char *path = seed_path(harness, fmt, ap);
  va_end(ap);
  FILE *f = fopen(path, "wb");
  if (!f || (n_prefix && fwrite(prefix, 1, n_prefix, f) != n_prefix) ||
      (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
    perror(path);
    exit(1);
  }
  written++;
}

/* ------------------------------------------------------------------------------------------------ */

/* A real checkpoint's first tensors (names and dtypes kept) cut to their first k rows. */
static void safetensors_from_fixture(const char *relative, int64_t max_tensors, const char *tag) {
  ttt_safetensors *file = NULL;
  if (ttt_safetensors_open(source_path(relative), &file) != TTT_OK) exit(1);
  ttt_named_tensor tensors[8];
  int64_t n = ttt_safetensors_count(file) < max_tensors ? ttt_safetensors_count(file) : max_tensors;
  for (int64_t i = 0; i < n; i++) {
    tensors[i].name = ttt_safetensors_name(file, i);
    if (ttt_safetensors_get(file, tensors[i].name, &tensors[i].tensor) != TTT_OK) exit(1);
    ttt_tensor *t = &tensors[i].tensor;
    t->shape[0] = t->shape[0] < 2 ? t->shape[0] : 2;
    if (t->ndim == 2 && t->shape[1] > 8) t->shape[1] = 8; /* a prefix of row 0 only: fine */
  }
  const char *tmp = fuzz_write_file("seed.safetensors", "", 0);
  if (ttt_safetensors_write(tmp, tensors, n) != TTT_OK) exit(1);
  size_t len;
  char *bytes = read_all(tmp, &len);
  seed("fuzz_safetensors", NULL, 0, bytes, len, "%s.safetensors", tag);
  free(bytes);
  ttt_safetensors_close(file);
}

static void safetensors_seeds(void) {
  safetensors_from_fixture("models/kjv-llama/model.safetensors", 6, "kjv-llama");
  safetensors_from_fixture("tests/fixtures/hf/llama3_tiny/model.safetensors", 6, "llama3_tiny");
  safetensors_from_fixture("tests/fixtures/hf/bert_tiny/model.safetensors", 6, "bert_tiny");
  /* Every dtype, written by the library. */
  static double values[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  ttt_named_tensor all[] = {
      {"f32", ttt_tensor_2d(TTT_F32, values, 2, 2)}, {"f16", ttt_tensor_1d(TTT_F16, values, 3)},
      {"bf16", ttt_tensor_1d(TTT_BF16, values, 3)},  {"i64", ttt_tensor_1d(TTT_I64, values, 2)},
      {"i32", ttt_tensor_1d(TTT_I32, values, 2)},    {"f64", ttt_tensor_1d(TTT_F64, values, 2)}};
  const char *tmp = fuzz_write_file("seed.safetensors", "", 0);
  if (ttt_safetensors_write(tmp, all, 6) != TTT_OK) exit(1);
  size_t len;
  char *bytes = read_all(tmp, &len);
  seed("fuzz_safetensors", NULL, 0, bytes, len, "all-dtypes.safetensors");
  free(bytes);
  /* Hand-written: metadata, a scalar, a zero-sized tensor, an unaligned F32 (copied at open). */
  const char header[] =
      "{\"__metadata__\":{\"format\":\"pt\"},\"s\":{\"dtype\":\"F16\",\"shape\":[],"
      "\"data_offsets\":[0,2]},\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],"
      "\"data_offsets\":[2,2]},\"u\":{\"dtype\":\"F32\",\"shape\":[2],"
      "\"data_offsets\":[2,10]}}";
  uint8_t buf[512];
  uint64_t n = sizeof header - 1;
  for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(n >> (8 * i));
  memcpy(buf + 8, header, n);
  memset(buf + 8 + n, 0x3c, 10);
  seed("fuzz_safetensors", NULL, 0, buf, 8 + n + 10, "handmade.safetensors");
}

static void index_seeds(void) {
  const char *full = "{\"metadata\":{\"total_size\":64},\"weight_map\":{"
                     "\"a\":\"model-00001-of-00002.safetensors\","
                     "\"b\":\"model-00001-of-00002.safetensors\","
                     "\"c\":\"model-00002-of-00002.safetensors\","
                     "\"lm_head.weight\":\"model-00002-of-00002.safetensors\"}}";
  seed("fuzz_checkpoint_index", NULL, 0, full, strlen(full), "index.json");
  const char *partial = "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                        "\"c\":\"model-00002-of-00002.safetensors\"}}";
  seed("fuzz_checkpoint_index", NULL, 0, partial, strlen(partial), "partial.json");
}

/* ------------------------------------------------------------------------------------------------ */

static const char *const hf_fixtures[] = {"llama3_tiny", "mistral_tiny", "mixtral_tiny",
                                          "qwen2_tiny",  "qwen3_tiny",   "bert_tiny"};

static void set_number(cJSON *root, const char *key, double value) {
  if (cJSON_GetObjectItem(root, key))
    cJSON_ReplaceItemInObject(root, key, cJSON_CreateNumber(value));
}

static void config_seeds(void) {
  char relative[256];
  for (size_t i = 0; i < sizeof hf_fixtures / sizeof *hf_fixtures; i++) {
    snprintf(relative, sizeof relative, "tests/fixtures/hf/%s/config.json", hf_fixtures[i]);
    size_t len;
    char *json = read_all(source_path(relative), &len);
    seed("fuzz_hf_config", NULL, 0, json, len, "%s.json", hf_fixtures[i]);
    /* The same config at a quarter of the width: faster to build, same structure. */
    cJSON *root = cJSON_Parse(json);
    set_number(root, "vocab_size", 40);
    set_number(root, "hidden_size", 16);
    set_number(root, "intermediate_size", 24);
    set_number(root, "num_attention_heads", 2);
    set_number(root, "num_key_value_heads", 1);
    set_number(root, "head_dim", 8);
    set_number(root, "max_position_embeddings", 32);
    set_number(root, "num_local_experts", 3);
    set_number(root, "num_experts_per_tok", 2);
    char *small = cJSON_PrintUnformatted(root);
    seed("fuzz_hf_config", NULL, 0, small, strlen(small), "%s-small.json", hf_fixtures[i]);
    free(small);
    cJSON_Delete(root);
    free(json);
  }
  size_t len;
  char *json = read_all(source_path("models/kjv-llama/config.json"), &len);
  seed("fuzz_hf_config", NULL, 0, json, len, "kjv-llama.json");
  free(json);
}

/* ------------------------------------------------------------------------------------------------ */

static const char *const tokenizer_dirs[] = {"models/kjv-llama", "tests/fixtures/tokenizers/llama3",
                                             "tests/fixtures/tokenizers/qwen3",
                                             "tests/fixtures/tokenizers/spm_bpe"};

/* A real tokenizer.json with its vocabulary cut to ids < 300 and the merges among those. */
static char *shrink_tokenizer(const char *json) {
  cJSON *root = cJSON_Parse(json);
  cJSON *model = cJSON_GetObjectItem(root, "model");
  cJSON *vocab = cJSON_GetObjectItem(model, "vocab");
  cJSON *kept = cJSON_CreateObject();
  const cJSON *entry;
  cJSON_ArrayForEach(entry, vocab) if (entry->valuedouble < 300)
      cJSON_AddNumberToObject(kept, entry->string, entry->valuedouble);
  cJSON *merges = cJSON_GetObjectItem(model, "merges");
  cJSON *kept_merges = cJSON_CreateArray();
  const cJSON *merge;
  cJSON_ArrayForEach(merge, merges) {
    char left[256], right[256];
    if (cJSON_IsString(merge)) {
      if (sscanf(merge->valuestring, "%255s %255s", left, right) != 2) continue;
    } else {
      cJSON *l = cJSON_GetArrayItem(merge, 0), *r = cJSON_GetArrayItem(merge, 1);
      if (!cJSON_IsString(l) || !cJSON_IsString(r) || strlen(l->valuestring) > 255 ||
          strlen(r->valuestring) > 255)
        continue;
      strcpy(left, l->valuestring), strcpy(right, r->valuestring);
    }
    char joined[512];
    snprintf(joined, sizeof joined, "%s%s", left, right);
    if (cJSON_GetObjectItem(kept, left) && cJSON_GetObjectItem(kept, right) &&
        cJSON_GetObjectItem(kept, joined))
      cJSON_AddItemToArray(kept_merges, cJSON_Duplicate(merge, true));
  }
  cJSON_ReplaceItemInObject(model, "vocab", kept);
  cJSON_ReplaceItemInObject(model, "merges", kept_merges);
  char *out = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  return out;
}

static void tokenizer_load_seeds(void) {
  char relative[256];
  for (size_t i = 0; i < 4; i++) {
    snprintf(relative, sizeof relative, "%s/tokenizer.json", tokenizer_dirs[i]);
    char *json = read_all(source_path(relative), NULL);
    char *small = shrink_tokenizer(json);
    const char *name = strrchr(tokenizer_dirs[i], '/') + 1;
    seed("fuzz_tokenizer_load", "\0", 1, small, strlen(small), "%s.json", name);
    snprintf(relative, sizeof relative, "%s/tokenizer_config.json", tokenizer_dirs[i]);
    size_t config_len;
    char *config = read_all(source_path(relative), &config_len);
    if (config_len < 16384) {
      size_t n = strlen(small);
      char *both = malloc(n + 1 + config_len);
      memcpy(both, small, n + 1);
      memcpy(both + n + 1, config, config_len);
      seed("fuzz_tokenizer_load", "\1", 1, both, n + 1 + config_len, "%s+config.json", name);
      free(both);
    }
    free(config);
    free(small);
    free(json);
  }
}

/* Texts and ids of the tokenizer goldens (golden.json / golden_tokenizer.json). */
static void codec_seeds(void) {
  const char *goldens[] = {"models/kjv-llama/golden_tokenizer.json",
                           "tests/fixtures/tokenizers/llama3/golden.json",
                           "tests/fixtures/tokenizers/qwen3/golden.json",
                           "tests/fixtures/tokenizers/spm_bpe/golden.json"};
  for (int which = 0; which < 4; which++) {
    char *json = read_all(source_path(goldens[which]), NULL);
    cJSON *root = cJSON_Parse(json);
    int k = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
      const cJSON *text = cJSON_GetObjectItem(item, "text");
      const cJSON *ids = cJSON_GetObjectItem(item, "ids_with_special");
      if (!cJSON_IsString(text)) continue;
      uint8_t selector = (uint8_t)(which | (k % 2 ? 4 : 0));
      seed("fuzz_tokenizer_codec", &selector, 1, text->valuestring, strlen(text->valuestring),
           "%d-text-%d", which, k);
      if (cJSON_IsArray(ids)) {
        uint8_t bytes[3 * 256];
        size_t n = 0;
        const cJSON *id;
        cJSON_ArrayForEach(id, ids) if (n + 3 <= sizeof bytes) {
          uint32_t v = (uint32_t)id->valuedouble + 1; /* the harness maps v to v - 1 */
          bytes[n++] = (uint8_t)v, bytes[n++] = (uint8_t)(v >> 8), bytes[n++] = (uint8_t)(v >> 16);
        }
        selector = (uint8_t)(which | 8);
        seed("fuzz_tokenizer_codec", &selector, 1, bytes, n, "%d-ids-%d", which, k);
      }
      k++;
    }
    cJSON_Delete(root);
    free(json);
  }
}

static void impl_set_seeds(void) {
  static const char *const causal[] = {"layers.*.ffn.weight_dtype=q8_0",
                                       "layers.1.attention.weight_dtype=bf16",
                                       "decode.lm_head.threads=2",
                                       "prefill.layers.0.attention.kv_dtype=bf16",
                                       "layers.1.attention.algorithm=tiled",
                                       "layers.0.attention.block_size=16",
                                       "prefill.layers.*.attention.query_block=4",
                                       "layers.*.attention.fuse_qkv=true",
                                       "layers.*.ffn.fuse_gate_up=false",
                                       "layers.*.ffn.group_by_expert=true",
                                       "embedding.weight_dtype=bf16",
                                       "norm.kernel=reference",
                                       "lm_head.activation_dtype=q8_0",
                                       "decode.layers.0.ffn.kernel=simd",
                                       "layers.0.attention_norm.threads=1",
                                       "layers.*.attention.q_norm.kernel=reference"};
  static const char *const encoder[] = {"embeddings.weight_dtype=f16",
                                        "pooler.threads=1",
                                        "layers.*.ffn.kernel=simd",
                                        "embedding_norm.kernel=reference",
                                        "layers.0.attention_norm.kernel=reference",
                                        "layers.1.attention.weight_dtype=q8_0",
                                        "layers.*.ffn.fuse_gate_up=true",
                                        "pooler.weight_dtype=bf16"};
  for (size_t i = 0; i < sizeof causal / sizeof *causal; i++) {
    uint8_t selector = (uint8_t)(i % 3 | (i % 2 ? 4 : 0));
    seed("fuzz_impl_set", &selector, 1, causal[i], strlen(causal[i]), "causal-%zu", i);
  }
  for (size_t i = 0; i < sizeof encoder / sizeof *encoder; i++) {
    uint8_t selector = (uint8_t)(3 | (i % 2 ? 4 : 0));
    seed("fuzz_impl_set", &selector, 1, encoder[i], strlen(encoder[i]), "encoder-%zu", i);
  }
}

/* llama3_tiny's golden with the prompt cut to 3 tokens and the decode to 1. */
static void golden_seeds(void) {
  ttt_safetensors *file = NULL;
  if (ttt_safetensors_open(source_path("tests/fixtures/hf/llama3_tiny/golden.safetensors"),
                           &file) != TTT_OK)
    exit(1);
  static const char *const keep[] = {"input_ids",
                                     "logits.prefill",
                                     "decode_ids",
                                     "logits.decode",
                                     "trace.model.embed_tokens.out",
                                     "trace.model.layers.0.out",
                                     "trace.model.layers.1.mlp.out",
                                     "trace.model.norm.out"};
  for (int variant = 0; variant < 3; variant++) {
    /* 0: prompt only; 1: + decode; 2: + decode + traces */
    int n_keep = variant == 0 ? 2 : variant == 1 ? 4 : 8;
    ttt_named_tensor tensors[8];
    for (int i = 0; i < n_keep; i++) {
      tensors[i].name = keep[i];
      if (ttt_safetensors_get(file, keep[i], &tensors[i].tensor) != TTT_OK) exit(1);
      bool decode = strstr(keep[i], "decode") != NULL;
      tensors[i].tensor.shape[0] = decode ? 1 : 3;
    }
    const char *tmp = fuzz_write_file("seed.safetensors", "", 0);
    if (ttt_safetensors_write(tmp, tensors, n_keep) != TTT_OK) exit(1);
    size_t len;
    char *bytes = read_all(tmp, &len);
    seed("fuzz_validate_golden", NULL, 0, bytes, len, "golden-%d.safetensors", variant);
    free(bytes);
  }
  ttt_safetensors_close(file);
}

/* kjv-llama's perplexity ids (folded into llama3_tiny's vocabulary of 512) and small lists. */
static void ids_seeds(void) {
  char *json = read_all(source_path("models/kjv-llama/golden_perplexity.json"), NULL);
  cJSON *root = cJSON_Parse(json);
  cJSON *ids = cJSON_GetObjectItem(root, "ids");
  cJSON *list = cJSON_CreateArray();
  for (int i = 0; i < 48 && i < cJSON_GetArraySize(ids); i++)
    cJSON_AddItemToArray(list,
                         cJSON_CreateNumber((int)cJSON_GetArrayItem(ids, i)->valuedouble % 512));
  char *text = cJSON_PrintUnformatted(list);
  uint8_t window = 16;
  seed("fuzz_perplexity_ids", &window, 1, text, strlen(text), "kjv-48");
  window = 0;
  seed("fuzz_perplexity_ids", &window, 1, text, strlen(text), "kjv-48-full-context");
  free(text);
  cJSON_Delete(list);
  cJSON_Delete(root);
  free(json);
  static const char *const small[] = {"[0, 298, 260]", "[1,2]", "[]", "[1.5, 2]", "[600, 1]"};
  for (size_t i = 0; i < sizeof small / sizeof *small; i++) {
    window = (uint8_t)(i * 3);
    seed("fuzz_perplexity_ids", &window, 1, small[i], strlen(small[i]), "small-%zu", i);
  }
}

static const char *const chat_dirs[] = {"llama3_1", "qwen3", "gemma3", "deepseek_v3"};

/* Template sources (mode byte even: the Jinja cases and the four real templates) and the real
 * templates' cases' messages (mode byte odd, the template's index in bits 3-4). */
static void chat_template_seeds(void) {
  char *json = read_all(source_path("tests/fixtures/chat/jinja/cases.json"), NULL);
  cJSON *root = cJSON_Parse(json);
  const cJSON *c;
  int i = 0;
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "cases")) {
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(c, "template"));
    uint8_t mode = (uint8_t)((i % 2) << 2);
    if (text) seed("fuzz_chat_template", &mode, 1, text, strlen(text), "jinja-%d", i++);
  }
  cJSON_Delete(root);
  free(json);
  for (int t = 0; t < 4; t++) {
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/chat/%s/tokenizer_config.json", chat_dirs[t]);
    json = read_all(source_path(path), NULL);
    root = cJSON_Parse(json);
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(root, "chat_template"));
    uint8_t mode = 4;
    if (text) seed("fuzz_chat_template", &mode, 1, text, strlen(text), "%s-template", chat_dirs[t]);
    cJSON_Delete(root);
    free(json);
    snprintf(path, sizeof path, "tests/fixtures/chat/%s/cases.json", chat_dirs[t]);
    json = read_all(source_path(path), NULL);
    root = cJSON_Parse(json);
    i = 0;
    cJSON_ArrayForEach(c, root) {
      char *messages = cJSON_PrintUnformatted(cJSON_GetObjectItem(c, "messages"));
      mode = (uint8_t)(1 | 4 | (t << 3));
      if (messages)
        seed("fuzz_chat_template", &mode, 1, messages, strlen(messages), "%s-case-%d", chat_dirs[t],
             i++);
      free(messages);
    }
    cJSON_Delete(root);
    free(json);
  }
}

/* Bodies of the three endpoints, valid and not (mode byte: 0 completions, 1 chat, 2 embeddings). */
static void openai_request_seeds(void) {
  static const struct {
    uint8_t mode;
    const char *body;
  } bodies[] = {
      {0, "{\"model\":\"fuzz-model\",\"prompt\":\"In the beginning\",\"max_tokens\":8,"
          "\"temperature\":0,\"stop\":[\"\\n\",\"God\"],\"stream\":true,"
          "\"stream_options\":{\"include_usage\":true}}"},
      {0, "{\"prompt\":[1,2,3],\"top_p\":0.9,\"top_k\":40,\"min_p\":0.05,\"seed\":7,"
          "\"presence_penalty\":0.5,\"frequency_penalty\":-0.5,\"n\":1,\"logprobs\":0}"},
      {0, "{\"prompt\":[[5,6]],\"echo\":false,\"best_of\":1,\"logit_bias\":{}}"},
      {1, "{\"model\":\"fuzz-model\",\"messages\":[{\"role\":\"system\",\"content\":\"Be "
          "brief.\"},{\"role\":\"user\",\"content\":\"Hi\"}],\"max_completion_tokens\":4}"},
      {1, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"}]},"
          "{\"role\":\"assistant\",\"content\":null},{\"role\":\"tool\",\"content\":\"x\"}],"
          "\"response_format\":{\"type\":\"text\"},\"ignore_eos\":true}"},
      {2, "{\"model\":\"fuzz-model\",\"input\":\"Jesus wept.\",\"encoding_format\":\"base64\"}"},
      {2, "{\"input\":[\"a\",\"b c\"],\"dimensions\":64,\"user\":\"u\",\"encoding_format\":"
          "\"float\"}"},
      {2, "{\"input\":[[1,2],[3]]}"},
  };
  for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++)
    seed("fuzz_openai_request", &bodies[i].mode, 1, bodies[i].body, strlen(bodies[i].body),
         "body-%zu", i);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fuzz_seeds OUT_DIR\n");
    return 2;
  }
  out_dir = argv[1];
  mkdir(out_dir, 0755);
  safetensors_seeds();
  index_seeds();
  config_seeds();
  tokenizer_load_seeds();
  codec_seeds();
  impl_set_seeds();
  golden_seeds();
  ids_seeds();
  chat_template_seeds();
  openai_request_seeds();
  printf("fuzz_seeds: %d seeds in %s\n", written, out_dir);
  return 0;
}
