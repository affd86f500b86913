/* quantize.c — pre-quantized checkpoints (format in ttt_quantize.h): writing, and the metadata the
 * model factory applies when loading one. */
#include "ttt_quantize.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hf_json.h"

static const char *const q4_0_recipe[] = {
    "layers.*.attention.weight_dtype=q4_0",
    "layers.*.ffn.weight_dtype=q4_0",
    "lm_head.weight_dtype=q4_0",
};

ttt_status ttt_quant_recipe(ttt_dtype dtype, const char *const **overrides, int32_t *n) {
  if (!overrides || !n) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_quant_recipe: NULL");
  if (dtype == TTT_Q8_0) {
    *overrides = NULL;
    *n = 0;
    return TTT_OK;
  }
  if (dtype == TTT_Q4_0) {
    *overrides = q4_0_recipe;
    *n = (int32_t)(sizeof q4_0_recipe / sizeof q4_0_recipe[0]);
    return TTT_OK;
  }
  return ttt_set_error(TTT_ERR_DTYPE, "no quantization recipe for %s (expected q8_0 or q4_0)",
                       ttt_dtype_name(dtype));
}

/* ---- loading ---- */

enum { MAX_OVERRIDES_TEXT = 4096 };

ttt_status ttt_quantized_apply_metadata(const ttt_checkpoint *ckpt, ttt_strategy strategy,
                                        const ttt_causal_lm_spec *spec,
                                        ttt_causal_lm_impl_config *impl) {
  const char *saved_strategy = ttt_checkpoint_metadata(ckpt, "ttt.strategy");
  const char *overrides = ttt_checkpoint_metadata(ckpt, "ttt.overrides");
  if (!saved_strategy && !overrides) return TTT_OK;
  const char *path = ttt_checkpoint_path(ckpt);
  if (!saved_strategy || !overrides)
    return ttt_set_error(TTT_ERR_FORMAT, "%s: __metadata__ has '%s' without '%s'", path,
                         saved_strategy ? "ttt.strategy" : "ttt.overrides",
                         saved_strategy ? "ttt.overrides" : "ttt.strategy");
  if (strcmp(saved_strategy, ttt_strategy_name(strategy)) != 0) return TTT_OK;
  char text[MAX_OVERRIDES_TEXT];
  if (strlen(overrides) >= sizeof text)
    return ttt_set_error(TTT_ERR_FORMAT, "%s: __metadata__ 'ttt.overrides' is longer than %d bytes",
                         path, MAX_OVERRIDES_TEXT - 1);
  snprintf(text, sizeof text, "%s", overrides);
  char *save = NULL;
  for (char *item = strtok_r(text, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
    ttt_status st = ttt_causal_lm_impl_set(impl, spec, item);
    if (st != TTT_OK) return ttt_error_prefix(st, "%s: __metadata__ 'ttt.overrides'", path);
  }
  return TTT_OK;
}

/* ---- writing ---- */

static ttt_status make_dir(const char *dir) {
  if (mkdir(dir, 0777) == 0) return TTT_OK;
  struct stat info;
  if (errno == EEXIST && stat(dir, &info) == 0 && S_ISDIR(info.st_mode)) return TTT_OK;
  return ttt_set_error(TTT_ERR_IO, "%s: cannot create the folder: %s", dir, strerror(errno));
}

static bool same_dir(const char *a, const char *b) {
  char ra[PATH_MAX], rb[PATH_MAX];
  return realpath(a, ra) && realpath(b, rb) && strcmp(ra, rb) == 0;
}

static ttt_status write_text(const char *path, const char *text, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) return ttt_set_error(TTT_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
  bool ok = fwrite(text, 1, len, f) == len;
  if (fclose(f) != 0) ok = false;
  if (!ok) return ttt_set_error(TTT_ERR_IO, "%s: write failed: %s", path, strerror(errno));
  return TTT_OK;
}

enum { MAX_COPIED_FILE = 64 * 1024 * 1024 };

/* Copies src_dir/name to out_dir/name when it exists. */
static ttt_status copy_optional(const char *src_dir, const char *out_dir, const char *name) {
  char from[2048], to[2048];
  ttt_status st = ttt_hfj_join(from, sizeof from, src_dir, name);
  if (st == TTT_OK) st = ttt_hfj_join(to, sizeof to, out_dir, name);
  if (st != TTT_OK) return st;
  struct stat info;
  if (stat(from, &info) != 0) return TTT_OK;
  char *text = NULL;
  size_t len = 0;
  st = ttt_hfj_read_file(from, MAX_COPIED_FILE, &text, &len);
  if (st == TTT_OK) st = write_text(to, text, len);
  free(text);
  return st;
}

/* config.json with "tie_word_embeddings": false (the LM head is stored on its own). */
static ttt_status write_config(const char *src_dir, const char *out_dir) {
  char from[2048], to[2048];
  ttt_status st = ttt_hfj_join(from, sizeof from, src_dir, "config.json");
  if (st == TTT_OK) st = ttt_hfj_join(to, sizeof to, out_dir, "config.json");
  cJSON *root = NULL;
  if (st == TTT_OK) st = ttt_hfj_parse_object_file(from, MAX_COPIED_FILE, &root);
  if (st != TTT_OK) return st;
  cJSON_DeleteItemFromObjectCaseSensitive(root, "tie_word_embeddings");
  char *text = cJSON_AddFalseToObject(root, "tie_word_embeddings") ? cJSON_Print(root) : NULL;
  cJSON_Delete(root);
  if (!text) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "%s: out of memory", to);
  st = write_text(to, text, strlen(text));
  cJSON_free(text);
  return st;
}

/* The tensors to write: every weight of the untied map, as the loaded model uses it in decode. */
static ttt_status collect(const ttt_hf_model *m, const ttt_hf_weight_map *map,
                          ttt_named_tensor *items, int64_t *n) {
  *n = 0;
  for (int64_t i = 0; i < ttt_hf_weight_map_count(map); i++) {
    const ttt_hf_weight *w = ttt_hf_weight_map_at(map, i);
    ttt_tensor t;
    ttt_status st = ttt_causal_lm_weight(m->lm, TTT_MODE_DECODE, w->path, &t);
    if (st == TTT_ERR_NOT_FOUND && w->optional) continue;
    if (st != TTT_OK) return st;
    if (!t.data) continue; /* an optional weight the checkpoint does not have */
    items[(*n)++] = (ttt_named_tensor){w->hf_name, t};
  }
  return TTT_OK;
}

static ttt_status write_weights(const ttt_hf_model *m, const char *out_dir, ttt_dtype dtype,
                                const char *overrides) {
  ttt_hf_config untied = m->config;
  untied.tie_word_embeddings = false;
  ttt_hf_weight_map *map = NULL;
  ttt_status st = ttt_hf_weight_map_create(&untied, &map);
  if (st != TTT_OK) return st;
  ttt_named_tensor *items = calloc((size_t)ttt_hf_weight_map_count(map) + 1, sizeof *items);
  int64_t n = 0;
  st = items ? collect(m, map, items, &n) : ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "out of memory");
  char path[2048];
  if (st == TTT_OK) st = ttt_hfj_join(path, sizeof path, out_dir, "model.safetensors");
  const ttt_safetensors_meta meta[] = {
      {"format", "pt"},
      {"ttt.quantization", ttt_dtype_name(dtype)},
      {"ttt.strategy", ttt_strategy_name(TTT_STRATEGY_PERFORMANCE)},
      {"ttt.overrides", overrides},
  };
  if (st == TTT_OK)
    st = ttt_safetensors_write_meta(path, items, n, meta, sizeof meta / sizeof meta[0]);
  free(items);
  ttt_hf_weight_map_destroy(map);
  return st;
}

static const char *const copied_files[] = {"tokenizer.json", "tokenizer_config.json",
                                           "generation_config.json", "special_tokens_map.json",
                                           "chat_template.jinja"};

ttt_status ttt_hf_quantize(const char *src_dir, const char *out_dir, ttt_dtype dtype,
                           ttt_progress_fn progress, void *progress_user) {
  if (!src_dir || !out_dir)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_hf_quantize: NULL folder");
  const char *const *recipe = NULL;
  int32_t n_recipe = 0;
  ttt_status st = ttt_quant_recipe(dtype, &recipe, &n_recipe);
  if (st != TTT_OK) return st;
  char overrides[MAX_OVERRIDES_TEXT] = "";
  for (int32_t i = 0; i < n_recipe; i++) {
    size_t len = strlen(overrides);
    snprintf(overrides + len, sizeof overrides - len, "%s%s", i ? ";" : "", recipe[i]);
  }
  st = make_dir(out_dir);
  if (st != TTT_OK) return st;
  if (same_dir(src_dir, out_dir))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "%s: the output folder must differ from the source folder", out_dir);
  ttt_device device;
  st = ttt_device_cpu(&device, 0);
  if (st != TTT_OK) return st;
  ttt_hf_load_options options = {.strategy = TTT_STRATEGY_PERFORMANCE,
                                 .overrides = recipe,
                                 .n_overrides = n_recipe,
                                 .skip_tokenizer = true,
                                 .progress = progress,
                                 .progress_user = progress_user};
  ttt_hf_model *m = NULL;
  st = ttt_hf_model_load(src_dir, &device, &options, &m);
  if (st == TTT_OK && !m->lm)
    st = ttt_set_error(TTT_ERR_UNSUPPORTED, "%s: only causal LMs can be quantized", src_dir);
  if (st == TTT_OK && progress) progress(progress_user, "writing", 0, 1);
  if (st == TTT_OK) st = write_weights(m, out_dir, dtype, overrides);
  if (st == TTT_OK) st = write_config(src_dir, out_dir);
  for (size_t i = 0; st == TTT_OK && i < sizeof copied_files / sizeof copied_files[0]; i++)
    st = copy_optional(src_dir, out_dir, copied_files[i]);
  if (st == TTT_OK && progress) progress(progress_user, "writing", 1, 1);
  ttt_hf_model_destroy(m);
  return st;
}
