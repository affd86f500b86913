/* ttt gen-model: a HuggingFace checkpoint folder with random weights for a published shape
 * (benchmark models: the speed of a model depends on its shapes and dtypes, not its values).
 *
 * The folder gets config.json (Hub spelling), the weights as model.safetensors or, past the shard
 * size, model-0000i-of-0000n.safetensors shards with model.safetensors.index.json, and the Llama 3
 * tokenizer (tokenizer.json, tokenizer_config.json) shipped with ttt (share/ttt/tokenizers).
 *
 * The weights are streamed: each file's header is computed from the shapes first, then every
 * tensor is generated in fixed-size chunks and written, so memory stays at one chunk whatever
 * the model size (the 8B shape in bf16 is 16 GB). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_util.h"
#include "ttt_hf_weights.h"
#include "commands.h"

static const char *const NAME = "gen-model";

/* ---------------------------------------------------------------------------------------------- */
/* Shapes (values as in the published config.json files) */
/* ---------------------------------------------------------------------------------------------- */

typedef struct gen_shape {
  const char *name;
  const char *model_type, *architecture;
  int64_t vocab, hidden, layers, heads, kv_heads, head_dim, ffn, max_positions;
  bool tied;
  double rope_theta;
  /* llama3 rope scaling; factor 0 = none (rope_scaling null). */
  double rope_factor, low_freq_factor, high_freq_factor;
  int64_t rope_original_max;
  int64_t bos, eos;
  const char *family_keys; /* the family's other config.json keys, as JSON members */
} gen_shape;

#define LLAMA_KEYS                                                                                 \
  "\"attention_bias\": false, \"attention_dropout\": 0.0, \"mlp_bias\": false, "                   \
  "\"pretraining_tp\": 1, \"hidden_act\": \"silu\", \"rms_norm_eps\": 1e-05"
#define GEMMA2_KEYS                                                                                \
  "\"hidden_activation\": \"gelu_pytorch_tanh\", \"rms_norm_eps\": 1e-06, "                        \
  "\"query_pre_attn_scalar\": 256, \"attn_logit_softcapping\": 50.0, "                             \
  "\"final_logit_softcapping\": 30.0, \"sliding_window\": 4096"
#define PHI3_KEYS                                                                                  \
  "\"hidden_act\": \"silu\", \"rms_norm_eps\": 1e-05, \"sliding_window\": 2047, "                  \
  "\"original_max_position_embeddings\": 4096"
#define QWEN3_MOE_KEYS                                                                             \
  "\"hidden_act\": \"silu\", \"rms_norm_eps\": 1e-06, \"num_experts\": 128, "                      \
  "\"num_experts_per_tok\": 8, \"moe_intermediate_size\": 768, \"norm_topk_prob\": true, "         \
  "\"decoder_sparse_step\": 1, \"mlp_only_layers\": []"
#define BERT_KEYS "\"hidden_act\": \"gelu\", \"layer_norm_eps\": 1e-12, \"type_vocab_size\": 2"

/* DeepSeek-V2-Lite's published dimensions (MLA with kv_lora_rank 512, rope 64 + nope 128, v 128,
 * no q LoRA; 64 routed experts of 1408, 6 per token, 2 shared, layer 0 dense, routed_scaling 1,
 * norm_topk_prob false) written as a deepseek_v3 config: sigmoid routing with a selection bias in
 * one group instead of V2's softmax (ttt has no deepseek_v2 descriptor), rope_scaling null instead
 * of V2-Lite's YaRN (factor 40) and a context of 8192. */
#define DEEPSEEK_V2_LITE_KEYS                                                                      \
  "\"hidden_act\": \"silu\", \"rms_norm_eps\": 1e-06, \"attention_bias\": false, "                 \
  "\"q_lora_rank\": null, \"kv_lora_rank\": 512, \"qk_nope_head_dim\": 128, "                      \
  "\"qk_rope_head_dim\": 64, \"v_head_dim\": 128, \"rope_interleave\": true, "                     \
  "\"n_routed_experts\": 64, \"num_experts_per_tok\": 6, \"n_shared_experts\": 2, "                \
  "\"moe_intermediate_size\": 1408, \"first_k_dense_replace\": 1, \"n_group\": 1, "                \
  "\"topk_group\": 1, \"routed_scaling_factor\": 1.0, \"norm_topk_prob\": false"

/* Values as in the published config.json files. All use the Llama 3 tokenizer (vocab 128256,
 * <|begin_of_text|> 128000, <|end_of_text|> 128001) whatever their own; the "tiny" shapes keep
 * that vocab (the tokenizer needs it) with toy dims, for tests. Other families' checkpoints are
 * laid out by their descriptor (models/adapters/arch/), so every tensor name and shape is the
 * family's own. The BERT shapes (BAAI/bge-small-en-v1.5, sentence-transformers/all-MiniLM-L6-v2:
 * sentence-embedding encoders) keep their own vocab 30522 and [CLS]/[SEP] ids: their benchmark
 * (`ttt bench` on an encoder) feeds random ids, not text. */
static const gen_shape shapes[] = {
    {"llama-3.2-1b",
     "llama",
     "LlamaForCausalLM",
     128256,
     2048,
     16,
     32,
     8,
     64,
     8192,
     131072,
     true,
     500000.0,
     32.0,
     1.0,
     4.0,
     8192,
     128000,
     128001,
     LLAMA_KEYS},
    {"llama-3.2-3b",
     "llama",
     "LlamaForCausalLM",
     128256,
     3072,
     28,
     24,
     8,
     128,
     8192,
     131072,
     true,
     500000.0,
     32.0,
     1.0,
     4.0,
     8192,
     128000,
     128001,
     LLAMA_KEYS},
    {"llama-3-8b", "llama", "LlamaForCausalLM", 128256, 4096, 32,  32, 8,      128,    14336,
     8192,         false,   500000.0,           0.0,    0.0,  0.0, 0,  128000, 128001, LLAMA_KEYS},
    {"llama-3.1-8b",
     "llama",
     "LlamaForCausalLM",
     128256,
     4096,
     32,
     32,
     8,
     128,
     14336,
     131072,
     false,
     500000.0,
     8.0,
     1.0,
     4.0,
     8192,
     128000,
     128001,
     LLAMA_KEYS},
    {"gemma-2-2b",
     "gemma2",
     "Gemma2ForCausalLM",
     256000,
     2304,
     26,
     8,
     4,
     256,
     9216,
     8192,
     true,
     10000.0,
     0.0,
     0.0,
     0.0,
     0,
     2,
     1,
     GEMMA2_KEYS},
    {"phi-3-mini", "phi3", "Phi3ForCausalLM", 32064, 3072, 32,  32, 32, 96,    8192,
     4096,         false,  10000.0,           0.0,   0.0,  0.0, 0,  1,  32000, PHI3_KEYS},
    {"qwen3-30b-a3b",
     "qwen3_moe",
     "Qwen3MoeForCausalLM",
     151936,
     2048,
     48,
     32,
     4,
     128,
     6144,
     40960,
     false,
     1000000.0,
     0.0,
     0.0,
     0.0,
     0,
     151643,
     151645,
     QWEN3_MOE_KEYS},
    {"deepseek-v2-lite",
     "deepseek_v3",
     "DeepseekV3ForCausalLM",
     128256,
     2048,
     27,
     16,
     16,
     128,
     10944,
     8192,
     false,
     10000.0,
     0.0,
     0.0,
     0.0,
     0,
     128000,
     128001,
     DEEPSEEK_V2_LITE_KEYS},
    {"tiny", "llama", "LlamaForCausalLM", 128256, 64,  2,   4,  2,      16,     128,
     2048,   true,    500000.0,           32.0,   1.0, 4.0, 64, 128000, 128001, LLAMA_KEYS},
    {"tiny-gemma2",
     "gemma2",
     "Gemma2ForCausalLM",
     128256,
     64,
     2,
     4,
     2,
     16,
     128,
     2048,
     true,
     10000.0,
     0.0,
     0.0,
     0.0,
     0,
     128000,
     128001,
     GEMMA2_KEYS},
    {"tiny-phi3", "phi3", "Phi3ForCausalLM", 128256, 64,  2,   4, 4,      16,     128,
     2048,        false,  10000.0,           0.0,    0.0, 0.0, 0, 128000, 128001, PHI3_KEYS},
    {"bge-small-en-v1.5",
     "bert",
     "BertModel",
     30522,
     384,
     12,
     12,
     12,
     32,
     1536,
     512,
     true,
     10000.0,
     0.0,
     0.0,
     0.0,
     0,
     101,
     102,
     BERT_KEYS},
    {"all-minilm-l6-v2",
     "bert",
     "BertModel",
     30522,
     384,
     6,
     12,
     12,
     32,
     1536,
     512,
     true,
     10000.0,
     0.0,
     0.0,
     0.0,
     0,
     101,
     102,
     BERT_KEYS},
};
#define N_SHAPES ((int)(sizeof shapes / sizeof shapes[0]))

/* Weight dtypes the generator writes, with their config.json torch_dtype. */
typedef struct gen_dtype {
  const char *name, *torch_name;
  ttt_dtype dtype;
  size_t size;
} gen_dtype;

static const gen_dtype dtypes[] = {
    {"bf16", "bfloat16", TTT_BF16, 2},
    {"f16", "float16", TTT_F16, 2},
    {"f32", "float32", TTT_F32, 4},
};
#define N_DTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

/* Init scale of every matrix (HF initializer_range); norm weights are 1. */
#define INIT_STD 0.02
/* HF's default max_shard_size ("5GB"). */
#define DEFAULT_SHARD_MB 5000
/* Values generated and written per chunk. */
#define CHUNK_VALUES ((size_t)1 << 20)

/* ---------------------------------------------------------------------------------------------- */
/* Options */
/* ---------------------------------------------------------------------------------------------- */

typedef struct gen_options {
  const gen_shape *shape;
  const char *config_path; /* --config: any config.json instead of a shape */
  int64_t vocab;           /* --vocab: overrides the config's vocab_size */
  const gen_dtype *dtype;
  const char *out_dir, *tokenizer_dir;
  uint64_t seed;
  int64_t layers;   /* 0: the shape's */
  int64_t shard_mb; /* maximum bytes of tensor data per file, in 1e6 bytes */
} gen_options;

static void print_help(void) {
  printf("usage: ttt gen-model (--shape NAME | --config CONFIG.json [--vocab N]) --out DIR\n"
         "                     [--dtype bf16|f16|f32] [--seed S] [--layers N] [--shard-mb MB]\n"
         "                     [--tokenizer DIR]\n\n"
         "Writes a HuggingFace checkpoint folder with random weights (N(0, %.2f), norms 1) for a\n"
         "published shape: config.json, safetensors (sharded with an index past --shard-mb) and\n"
         "the Llama 3 tokenizer. For benchmarks: the values mean nothing.\n\n"
         "  --shape NAME      one of the shapes below\n"
         "  --config F        any config.json of a supported model_type instead of a shape\n"
         "  --vocab N         with --config: replace its vocab_size (128256 fits the tokenizer)\n"
         "  --out DIR         output folder (created if missing; files in it are replaced)\n"
         "  --dtype D         weight dtype (default bf16)\n"
         "  --seed S          random seed (default 1)\n"
         "  --layers N        keep only the first N decoder layers\n"
         "  --shard-mb MB     maximum tensor bytes per safetensors file, in MB (default %d)\n"
         "  --tokenizer DIR   folder with tokenizer.json and tokenizer_config.json\n"
         "                    (default: the Llama 3 tokenizer shipped with ttt)\n\n"
         "shapes:\n",
         INIT_STD, DEFAULT_SHARD_MB);
  for (int i = 0; i < N_SHAPES; i++) {
    const gen_shape *s = &shapes[i];
    printf("  %-13s vocab %lld, hidden %lld, %lld layers, %lld/%lld heads of %lld, ffn %lld, %s, "
           "%s\n",
           s->name, (long long)s->vocab, (long long)s->hidden, (long long)s->layers,
           (long long)s->heads, (long long)s->kv_heads, (long long)s->head_dim, (long long)s->ffn,
           s->tied ? "tied embeddings" : "untied lm_head", s->model_type);
  }
}

static const gen_shape *find_shape(const char *name) {
  for (int i = 0; i < N_SHAPES; i++)
    if (strcmp(shapes[i].name, name) == 0) return &shapes[i];
  return NULL;
}

static const gen_dtype *find_dtype(const char *name) {
  for (int i = 0; i < N_DTYPES; i++)
    if (strcmp(dtypes[i].name, name) == 0) return &dtypes[i];
  return NULL;
}

/* Parses "--option N" with N >= lo into *out; returns 1 if consumed, 0 if not it, -1 on error. */
static int parse_int_option(int argc, char **argv, int *i, const char *option, int64_t lo,
                            int64_t *out) {
  if (strcmp(argv[*i], option) != 0) return 0;
  const char *value = cli_value(argc, argv, i, NAME);
  if (!value || !cli_int(value, option, NAME, out)) return -1;
  if (*out < lo) {
    fprintf(stderr, "ttt %s: %s must be >= %lld\n", NAME, option, (long long)lo);
    return -1;
  }
  return 1;
}

/* Parses the options that take a name; returns 1 if consumed, 0 if not one, -1 on error. */
static int parse_named(int argc, char **argv, int *i, gen_options *o) {
  const char *arg = argv[*i];
  bool is_shape = strcmp(arg, "--shape") == 0, is_dtype = strcmp(arg, "--dtype") == 0;
  bool is_out = strcmp(arg, "--out") == 0, is_tok = strcmp(arg, "--tokenizer") == 0;
  bool is_config = strcmp(arg, "--config") == 0;
  if (!is_shape && !is_dtype && !is_out && !is_tok && !is_config) return 0;
  const char *value = cli_value(argc, argv, i, NAME);
  if (!value) return -1;
  if (is_out) o->out_dir = value;
  if (is_config) o->config_path = value;
  if (is_tok) o->tokenizer_dir = value;
  if (is_shape && !(o->shape = find_shape(value))) {
    fprintf(stderr, "ttt %s: unknown shape '%s' (see ttt %s --help)\n", NAME, value, NAME);
    return -1;
  }
  if (is_dtype && !(o->dtype = find_dtype(value))) {
    fprintf(stderr, "ttt %s: --dtype expects bf16, f16 or f32, got '%s'\n", NAME, value);
    return -1;
  }
  return 1;
}

/* Returns 0 on success, 1 on error, -1 after --help. */
static int parse(int argc, char **argv, gen_options *o) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      print_help();
      return -1;
    }
    int64_t seed = -1;
    int r = parse_named(argc, argv, &i, o);
    if (r == 0) r = parse_int_option(argc, argv, &i, "--layers", 1, &o->layers);
    if (r == 0) r = parse_int_option(argc, argv, &i, "--shard-mb", 1, &o->shard_mb);
    if (r == 0) r = parse_int_option(argc, argv, &i, "--vocab", 1, &o->vocab);
    if (r == 0 && (r = parse_int_option(argc, argv, &i, "--seed", 0, &seed)) > 0)
      o->seed = (uint64_t)seed;
    if (r < 0) return 1;
    if (r == 0) {
      fprintf(stderr, "ttt %s: unknown option '%s' (see ttt %s --help)\n", NAME, argv[i], NAME);
      return 1;
    }
  }
  if (!(o->shape || o->config_path) || !o->out_dir) {
    fprintf(stderr, "ttt %s: --shape (or --config) and --out are required (see ttt %s --help)\n",
            NAME, NAME);
    return 1;
  }
  if (o->config_path && (o->shape || o->layers)) {
    fprintf(stderr, "ttt %s: --config excludes --shape and --layers\n", NAME);
    return 1;
  }
  if (o->shape && o->vocab) {
    fprintf(stderr, "ttt %s: --vocab goes with --config\n", NAME);
    return 1;
  }
  if (o->shape && o->layers > o->shape->layers) {
    fprintf(stderr, "ttt %s: --layers %lld exceeds the %lld layers of %s\n", NAME,
            (long long)o->layers, (long long)o->shape->layers, o->shape->name);
    return 1;
  }
  return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* The tensor plan: the family's HF names and shapes, in model order, each assigned to a file */
/* ---------------------------------------------------------------------------------------------- */

typedef struct planned_tensor {
  char name[TTT_HF_NAME_MAX];
  int32_t ndim;
  int64_t shape[2];
  bool ones; /* a norm weight (1.0) rather than a random matrix */
  int32_t shard;
  uint64_t offset, bytes; /* within the shard's data section */
} planned_tensor;

typedef struct plan {
  planned_tensor *tensors;
  int64_t n_layers;
  int32_t count, n_shards;
  uint64_t total_bytes;
} plan;

/* Lists the checkpoint tensors the family's descriptor reads (config.json, already written, says
 * which), then packs them in order into files of at most shard_bytes of data (a tensor larger
 * than that gets a file of its own). Norm weights are 1; everything else is random. */
static ttt_status plan_build(const gen_options *o, plan *p) {
  ttt_hf_config *cfg = malloc(sizeof *cfg);
  ttt_hf_weight_map *map = NULL;
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/config.json", o->out_dir);
  ttt_status st = cfg ? ttt_hf_config_load(path, cfg)
                      : ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "cannot allocate a config");
  if (st == TTT_OK) st = ttt_hf_weight_map_create(cfg, &map);
  if (st == TTT_OK) p->n_layers = cfg->num_hidden_layers;
  int64_t n = st == TTT_OK ? ttt_hf_weight_map_stored_count(map) : 0;
  p->tensors = st == TTT_OK ? calloc((size_t)n, sizeof *p->tensors) : NULL;
  if (st == TTT_OK && !p->tensors)
    st = ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "cannot allocate the tensor plan");
  for (int64_t i = 0; st == TTT_OK && i < n; i++) {
    ttt_hf_weight w;
    st = ttt_hf_weight_map_stored(map, i, &w);
    planned_tensor *t = &p->tensors[p->count++];
    snprintf(t->name, sizeof t->name, "%s", w.hf_name);
    t->ndim = w.ndim;
    t->shape[0] = w.shape[0];
    t->shape[1] = w.ndim == 2 ? w.shape[1] : 0;
    t->ones = strstr(w.path, "norm") && !strstr(w.path, "bias");
    t->bytes = (uint64_t)t->shape[0] * (uint64_t)(w.ndim == 2 ? t->shape[1] : 1) * o->dtype->size;
  }
  ttt_hf_weight_map_destroy(map);
  free(cfg);
  if (st != TTT_OK) return st;

  uint64_t shard_bytes = (uint64_t)o->shard_mb * 1000000u, used = 0;
  p->n_shards = 1;
  for (int32_t i = 0; i < p->count; i++) {
    planned_tensor *t = &p->tensors[i];
    if (used > 0 && used + t->bytes > shard_bytes) {
      p->n_shards++;
      used = 0;
    }
    t->shard = p->n_shards - 1;
    t->offset = used;
    used += t->bytes;
    p->total_bytes += t->bytes;
  }
  return TTT_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Random values */
/* ---------------------------------------------------------------------------------------------- */

/* xorshift64*: fast, and plenty for values that only need to look like weights. */
static uint64_t rng_next(uint64_t *state) {
  uint64_t x = *state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * 0x2545F4914F6CDD1Dull;
}

/* Approximately N(0, std): the sum of four 16-bit uniforms (Irwin-Hall), centred and scaled.
 * Their sum has mean 4 * 32767.5 and standard deviation 65536 / sqrt(3). */
static float rng_normal(uint64_t *state, float std) {
  uint64_t r = rng_next(state);
  double sum = (double)(r & 0xffff) + (double)((r >> 16) & 0xffff) + (double)((r >> 32) & 0xffff) +
               (double)(r >> 48);
  return (float)((sum - 131070.0) * (1.7320508075688772 / 65536.0)) * std;
}

/* Fills `n` values of `dtype` at `dst`: ones, or random N(0, INIT_STD). */
static void fill_chunk(void *dst, const gen_dtype *dtype, size_t n, bool ones, uint64_t *rng) {
  for (size_t i = 0; i < n; i++) {
    float v = ones ? 1.0f : rng_normal(rng, (float)INIT_STD);
    if (dtype->dtype == TTT_F32)
      ((float *)dst)[i] = v;
    else
      ((uint16_t *)dst)[i] = dtype->dtype == TTT_BF16 ? ttt_f32_to_bf16(v) : ttt_f32_to_f16(v);
  }
}

/* ---------------------------------------------------------------------------------------------- */
/* Writing */
/* ---------------------------------------------------------------------------------------------- */

/* A growable text buffer for the JSON headers (an error is latched and reported once). */
typedef struct text {
  char *data;
  size_t len, cap;
  bool failed;
} text;

static void text_add(text *t, const char *fmt, ...) TTT_PRINTF(2, 3);
static void text_add(text *t, const char *fmt, ...) {
  for (int attempt = 0; attempt < 2 && !t->failed; attempt++) {
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(t->data ? t->data + t->len : NULL, t->data ? t->cap - t->len : 0, fmt, args);
    va_end(args);
    if (n < 0) {
      t->failed = true;
    } else if (t->data && t->len + (size_t)n < t->cap) {
      t->len += (size_t)n;
      return;
    } else {
      size_t cap = 2 * (t->cap + (size_t)n) + 256;
      char *bigger = realloc(t->data, cap);
      if (!bigger) t->failed = true;
      t->data = bigger ? bigger : t->data;
      t->cap = bigger ? cap : t->cap;
    }
  }
}

/* Name of shard `i` of `n`, as transformers names them. */
static void shard_name(char *buf, size_t size, int32_t i, int32_t n) {
  if (n == 1)
    snprintf(buf, size, "model.safetensors");
  else
    snprintf(buf, size, "model-%05d-of-%05d.safetensors", i + 1, n);
}

/* The safetensors header of one shard: JSON padded with spaces to a multiple of 8 bytes (so the
 * data section, and every tensor in it, is aligned for its dtype). */
static ttt_status shard_header(const plan *p, int32_t shard, const gen_dtype *dtype, text *h) {
  text_add(h, "{\"__metadata__\":{\"format\":\"pt\"}");
  const char *st_dtype = ttt_safetensors_dtype_name(dtype->dtype);
  for (int32_t i = 0; i < p->count; i++) {
    const planned_tensor *t = &p->tensors[i];
    if (t->shard != shard) continue;
    text_add(h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld", t->name, st_dtype,
             (long long)t->shape[0]);
    if (t->ndim == 2) text_add(h, ",%lld", (long long)t->shape[1]);
    text_add(h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)t->offset,
             (unsigned long long)(t->offset + t->bytes));
  }
  text_add(h, "}");
  while (!h->failed && h->len % 8 != 0) text_add(h, " ");
  if (h->failed) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "cannot build a safetensors header");
  return TTT_OK;
}

static ttt_status write_failed(const char *path) {
  return ttt_set_error(TTT_ERR_IO, "cannot write %s: %s", path, strerror(errno));
}

/* Streams every tensor of `shard` into `f`, one chunk at a time. */
static ttt_status write_tensors(FILE *f, const char *path, const plan *p, int32_t shard,
                                const gen_dtype *dtype, void *chunk, uint64_t *rng) {
  for (int32_t i = 0; i < p->count; i++) {
    const planned_tensor *t = &p->tensors[i];
    if (t->shard != shard) continue;
    for (uint64_t left = t->bytes / dtype->size; left > 0;) {
      size_t n = left < CHUNK_VALUES ? (size_t)left : CHUNK_VALUES;
      fill_chunk(chunk, dtype, n, t->ones, rng);
      if (fwrite(chunk, dtype->size, n, f) != n) return write_failed(path);
      left -= n;
    }
  }
  return TTT_OK;
}

static ttt_status write_shard(const gen_options *o, const plan *p, int32_t shard, void *chunk,
                              uint64_t *rng) {
  char name[64], path[PATH_MAX];
  shard_name(name, sizeof name, shard, p->n_shards);
  snprintf(path, sizeof path, "%s/%s", o->out_dir, name);
  text h = {0};
  ttt_status st = shard_header(p, shard, o->dtype, &h);
  FILE *f = st == TTT_OK ? fopen(path, "wb") : NULL;
  if (st == TTT_OK && !f) st = write_failed(path);
  if (st == TTT_OK) {
    unsigned char len[8];
    for (int b = 0; b < 8; b++) len[b] = (unsigned char)((uint64_t)h.len >> (8 * b));
    if (fwrite(len, 1, 8, f) != 8 || fwrite(h.data, 1, h.len, f) != h.len) st = write_failed(path);
  }
  if (st == TTT_OK) st = write_tensors(f, path, p, shard, o->dtype, chunk, rng);
  if (f && fclose(f) != 0 && st == TTT_OK) st = write_failed(path);
  if (f && st != TTT_OK) remove(path);
  free(h.data);
  return st;
}

/* model.safetensors.index.json: total size and which shard holds each tensor. */
static ttt_status write_index(const gen_options *o, const plan *p) {
  char path[PATH_MAX], name[64];
  snprintf(path, sizeof path, "%s/model.safetensors.index.json", o->out_dir);
  FILE *f = fopen(path, "w");
  if (!f) return write_failed(path);
  fprintf(f, "{\n  \"metadata\": {\"total_size\": %llu},\n  \"weight_map\": {\n",
          (unsigned long long)p->total_bytes);
  for (int32_t i = 0; i < p->count; i++) {
    shard_name(name, sizeof name, p->tensors[i].shard, p->n_shards);
    fprintf(f, "    \"%s\": \"%s\"%s\n", p->tensors[i].name, name, i + 1 < p->count ? "," : "");
  }
  fprintf(f, "  }\n}\n");
  bool failed = ferror(f) != 0;
  if (fclose(f) != 0 || failed) return write_failed(path);
  return TTT_OK;
}

static void write_rope_scaling(FILE *f, const gen_shape *s) {
  if (s->rope_factor == 0) {
    fprintf(f, "  \"rope_scaling\": null,\n");
    return;
  }
  fprintf(f,
          "  \"rope_scaling\": {\n    \"factor\": %.1f,\n    \"high_freq_factor\": %.1f,\n"
          "    \"low_freq_factor\": %.1f,\n    \"original_max_position_embeddings\": %lld,\n"
          "    \"rope_type\": \"llama3\"\n  },\n",
          s->rope_factor, s->high_freq_factor, s->low_freq_factor, (long long)s->rope_original_max);
}

/* --config: the given config.json, with vocab_size replaced by --vocab when given (so a small
 * model can take the Llama 3 tokenizer). */
static ttt_status copy_config(const gen_options *o) {
  size_t len;
  char *json = cli_read_file(NAME, o->config_path, &len);
  if (!json) return ttt_set_error(TTT_ERR_IO, "cannot read %s", o->config_path);
  cJSON *root = cJSON_ParseWithLength(json, len);
  free(json);
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return ttt_set_error(TTT_ERR_FORMAT, "%s: not a JSON object", o->config_path);
  }
  if (o->vocab) {
    cJSON_DeleteItemFromObjectCaseSensitive(root, "vocab_size");
    cJSON_AddNumberToObject(root, "vocab_size", (double)o->vocab);
  }
  char *out = cJSON_Print(root), path[PATH_MAX];
  cJSON_Delete(root);
  snprintf(path, sizeof path, "%s/config.json", o->out_dir);
  FILE *f = out ? fopen(path, "w") : NULL;
  bool ok = f && fputs(out, f) >= 0;
  if (f && fclose(f) != 0) ok = false;
  free(out);
  return ok ? TTT_OK : write_failed(path);
}

/* config.json as the Hub's checkpoints spell it (rope_theta / rope_scaling), with the family's
 * own keys. */
static ttt_status write_config(const gen_options *o) {
  const gen_shape *s = o->shape;
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/config.json", o->out_dir);
  FILE *f = fopen(path, "w");
  if (!f) return write_failed(path);
  fprintf(
      f,
      "{\n  \"architectures\": [\"%s\"],\n  \"bos_token_id\": %lld,\n  \"eos_token_id\": %lld,\n"
      "  \"head_dim\": %lld,\n  \"hidden_size\": %lld,\n"
      "  \"initializer_range\": %.2f,\n  \"intermediate_size\": %lld,\n"
      "  \"max_position_embeddings\": %lld,\n  \"model_type\": \"%s\",\n"
      "  \"num_attention_heads\": %lld,\n  \"num_hidden_layers\": %lld,\n"
      "  \"num_key_value_heads\": %lld,\n  %s,\n",
      s->architecture, (long long)s->bos, (long long)s->eos, (long long)s->head_dim,
      (long long)s->hidden, INIT_STD, (long long)s->ffn, (long long)s->max_positions, s->model_type,
      (long long)s->heads, (long long)(o->layers ? o->layers : s->layers), (long long)s->kv_heads,
      s->family_keys);
  write_rope_scaling(f, s);
  fprintf(f,
          "  \"rope_theta\": %.1f,\n  \"tie_word_embeddings\": %s,\n  \"torch_dtype\": \"%s\",\n"
          "  \"use_cache\": true,\n  \"vocab_size\": %lld\n}\n",
          s->rope_theta, s->tied ? "true" : "false", o->dtype->torch_name, (long long)s->vocab);
  bool failed = ferror(f) != 0;
  if (fclose(f) != 0 || failed) return write_failed(path);
  return TTT_OK;
}

static ttt_status copy_file(const char *from, const char *to, void *buf, size_t size) {
  FILE *in = fopen(from, "rb");
  if (!in) return ttt_set_error(TTT_ERR_IO, "cannot open %s: %s", from, strerror(errno));
  FILE *out = fopen(to, "wb");
  if (!out) {
    fclose(in);
    return write_failed(to);
  }
  ttt_status st = TTT_OK;
  size_t n;
  while (st == TTT_OK && (n = fread(buf, 1, size, in)) > 0)
    if (fwrite(buf, 1, n, out) != n) st = write_failed(to);
  if (st == TTT_OK && ferror(in)) st = ttt_set_error(TTT_ERR_IO, "cannot read %s", from);
  fclose(in);
  if (fclose(out) != 0 && st == TTT_OK) st = write_failed(to);
  return st;
}

/* The --tokenizer folder, or the Llama 3 tokenizer shipped with ttt (installed under
 * share/ttt/tokenizers, or the source tree's test fixture). */
static const char *tokenizer_dir(const gen_options *o) {
  if (o->tokenizer_dir) return o->tokenizer_dir;
  return cli_find_data_dir("tokenizers/llama3", TTT_BUILD_TOKENIZERS_DIR "/llama3");
}

static ttt_status copy_tokenizer(const char *dir, const gen_options *o, void *buf, size_t size) {
  static const char *const files[] = {"tokenizer.json", "tokenizer_config.json"};
  if (!dir)
    return ttt_set_error(TTT_ERR_NOT_FOUND, "the Llama 3 tokenizer shipped with ttt was not found "
                                            "(share/ttt/tokenizers/llama3); pass --tokenizer DIR");
  for (int i = 0; i < 2; i++) {
    char from[PATH_MAX], to[PATH_MAX];
    snprintf(from, sizeof from, "%s/%s", dir, files[i]);
    snprintf(to, sizeof to, "%s/%s", o->out_dir, files[i]);
    ttt_status st = copy_file(from, to, buf, size);
    if (st != TTT_OK) return st;
  }
  return TTT_OK;
}

/* A single-file checkpoint replacing a sharded one: the loader would follow the old index. */
static ttt_status remove_stale_index(const gen_options *o) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/model.safetensors.index.json", o->out_dir);
  if (remove(path) == 0 || errno == ENOENT) return TTT_OK;
  return ttt_set_error(TTT_ERR_IO, "cannot remove the stale %s: %s", path, strerror(errno));
}

static ttt_status make_dir(const char *dir) {
  struct stat info;
  if (stat(dir, &info) == 0 && S_ISDIR(info.st_mode)) return TTT_OK;
  if (mkdir(dir, 0777) != 0)
    return ttt_set_error(TTT_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
  return TTT_OK;
}

static ttt_status generate(const gen_options *o, plan *p) {
  ttt_status st = make_dir(o->out_dir);
  if (st == TTT_OK) st = o->config_path ? copy_config(o) : write_config(o);
  if (st == TTT_OK) st = plan_build(o, p);
  void *chunk = st == TTT_OK ? malloc(CHUNK_VALUES * sizeof(float)) : NULL;
  if (st == TTT_OK && !chunk)
    st = ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "cannot allocate a write buffer");
  /* The seed goes through a splitmix step: xorshift needs a non-zero state. */
  uint64_t rng = (o->seed + 0x9E3779B97F4A7C15ull) * 0xBF58476D1CE4E5B9ull | 1u;
  for (int32_t s = 0; st == TTT_OK && s < p->n_shards; s++) st = write_shard(o, p, s, chunk, &rng);
  if (st == TTT_OK) st = p->n_shards > 1 ? write_index(o, p) : remove_stale_index(o);
  if (st == TTT_OK) st = copy_tokenizer(tokenizer_dir(o), o, chunk, CHUNK_VALUES * sizeof(float));
  free(chunk);
  return st;
}

int ttt_cmd_gen_model(int argc, char **argv) {
  gen_options o = {.dtype = &dtypes[0], .seed = 1, .shard_mb = DEFAULT_SHARD_MB};
  int r = parse(argc, argv, &o);
  if (r != 0) return r < 0 ? 0 : 1;
  plan p = {0};
  ttt_status st = generate(&o, &p);
  if (st == TTT_OK)
    printf("%s: %s, %lld layers, %s, %d tensors, %.3f GB in %d file%s, tokenizer from %s\n",
           o.out_dir, o.shape ? o.shape->name : o.config_path,
           (long long)(o.layers  ? o.layers
                       : o.shape ? o.shape->layers
                                 : p.n_layers),
           o.dtype->name, p.count, (double)p.total_bytes / 1e9, p.n_shards,
           p.n_shards > 1 ? "s" : "", tokenizer_dir(&o));
  free(p.tensors);
  return st == TTT_OK ? 0 : cli_fail(NAME);
}
