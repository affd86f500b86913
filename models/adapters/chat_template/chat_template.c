/* chat_template.c — the public chat-template API (ttt_chat_template.h): loading the template from
 * tokenizer_config.json, parsing it once, and rendering it with the messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../hf_json.h"
#include "ct_internal.h"
#include "ttt_chat_template.h"

struct ttt_chat_template {
  ct_arena arena; /* tokens, syntax tree, strings */
  ct_nodes body;
  char *bos_token, *eos_token;
};

enum { MAX_CONFIG_BYTES = 64 << 20 };

void ttt_chat_template_destroy(ttt_chat_template *t) {
  if (!t) return;
  ct_arena_free(&t->arena);
  free(t);
}

const char *ttt_chat_template_eos_token(const ttt_chat_template *t) { return t->eos_token; }

ttt_status ttt_chat_template_create(const char *source, const char *bos_token,
                                    const char *eos_token, ttt_chat_template **out) {
  *out = NULL;
  if (!source) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "chat template: source is NULL");
  size_t len = strlen(source);
  if (len > CT_MAX_TEMPLATE_BYTES)
    return ttt_set_error(TTT_ERR_FORMAT, "chat template: %zu bytes, more than the %d allowed", len,
                         CT_MAX_TEMPLATE_BYTES);
  ttt_chat_template *t = calloc(1, sizeof *t);
  if (!t) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "chat template: out of memory");
  t->arena.limit = CT_MAX_ARENA_BYTES;
  t->bos_token =
      ct_strndup(&t->arena, bos_token ? bos_token : "", bos_token ? strlen(bos_token) : 0);
  t->eos_token =
      ct_strndup(&t->arena, eos_token ? eos_token : "", eos_token ? strlen(eos_token) : 0);
  char err[CT_ERROR_SIZE] = "out of memory";
  ct_tokens tokens;
  if (!t->bos_token || !t->eos_token || !ct_lex(&t->arena, source, len, &tokens, err, sizeof err) ||
      !ct_parse(&t->arena, &tokens, &t->body, err, sizeof err)) {
    ttt_chat_template_destroy(t);
    return ttt_set_error(TTT_ERR_FORMAT, "chat template %s", err);
  }
  *out = t;
  return TTT_OK;
}

/* A special token of tokenizer_config.json: a string, an {"content": ...} object, or null. */
static ttt_status token_text(const char *path, const cJSON *root, const char *key,
                             const char **out) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
  *out = "";
  if (!item || cJSON_IsNull(item)) return TTT_OK;
  if (cJSON_IsObject(item)) item = cJSON_GetObjectItemCaseSensitive(item, "content");
  if (!cJSON_IsString(item))
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: %s must be a string or an object with a string \"content\"", path,
                         key);
  *out = item->valuestring;
  return TTT_OK;
}

/* The template source: a string, or the entry named "default" of a list of {name, template}. */
static ttt_status template_source(const char *path, const cJSON *root, const char **out) {
  const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(root, "chat_template");
  if (!tpl || cJSON_IsNull(tpl))
    return ttt_set_error(TTT_ERR_FORMAT, "%s has no chat_template (the model has no chat format)",
                         path);
  if (cJSON_IsString(tpl)) {
    *out = tpl->valuestring;
    return TTT_OK;
  }
  if (cJSON_IsArray(tpl)) {
    for (const cJSON *e = tpl->child; e; e = e->next) {
      const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
      const cJSON *text = cJSON_GetObjectItemCaseSensitive(e, "template");
      if (cJSON_IsString(name) && strcmp(name->valuestring, "default") == 0 &&
          cJSON_IsString(text)) {
        *out = text->valuestring;
        return TTT_OK;
      }
    }
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: chat_template is a list without a template named \"default\"", path);
  }
  return ttt_set_error(TTT_ERR_FORMAT,
                       "%s: chat_template must be a string or a list of {name, template}, not %s",
                       path, ttt_hfj_type_name(tpl));
}

ttt_status ttt_chat_template_load(const char *path, ttt_chat_template **out) {
  *out = NULL;
  if (!path) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "chat template: path is NULL");
  char file[4096];
  struct stat st;
  ttt_status s = TTT_OK;
  if (stat(path, &st) != 0)
    return ttt_set_error(
        TTT_ERR_IO,
        "%s: no such file or folder (expected tokenizer_config.json or a model folder holding one)",
        path);
  if (S_ISDIR(st.st_mode))
    s = ttt_hfj_join(file, sizeof file, path, "tokenizer_config.json");
  else if (strlen(path) < sizeof file)
    strcpy(file, path);
  else
    s = ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "chat template: path too long");
  if (s != TTT_OK) return s;
  cJSON *root = NULL;
  const char *source = NULL, *bos = NULL, *eos = NULL;
  s = ttt_hfj_parse_object_file(file, MAX_CONFIG_BYTES, &root);
  if (s == TTT_OK) s = template_source(file, root, &source);
  if (s == TTT_OK) s = token_text(file, root, "bos_token", &bos);
  if (s == TTT_OK) s = token_text(file, root, "eos_token", &eos);
  if (s == TTT_OK) {
    s = ttt_chat_template_create(source, bos, eos, out);
    if (s != TTT_OK) {
      char cause[CT_ERROR_SIZE + 32]; /* ttt_set_error must not read the buffer it writes */
      snprintf(cause, sizeof cause, "%s", ttt_last_error());
      s = ttt_set_error(s, "%s: %s", file, cause);
    }
  }
  cJSON_Delete(root);
  return s;
}

static bool set_global(ct_render *r, const char *name, ct_value v) {
  return ct_dict_set(&r->arena, r->globals->vars, (ct_str){name, strlen(name)}, v);
}

ttt_status ttt_chat_template_render(const ttt_chat_template *t, const cJSON *messages,
                                    bool add_generation_prompt, const cJSON *variables, char **text,
                                    size_t *len) {
  *text = NULL;
  *len = 0;
  if (!t) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "chat template: template is NULL");
  if (!cJSON_IsArray(messages))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "chat template: messages must be a JSON array");
  if (variables && !cJSON_IsObject(variables))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "chat template: variables must be a JSON object");
  ct_render r = {.arena = {.limit = CT_MAX_ARENA_BYTES}};
  ct_buf out = {.limit = CT_MAX_OUTPUT_BYTES};
  r.out = &out;
  ct_value msgs;
  bool ok = (r.globals = ct_alloc(&r.arena, sizeof *r.globals)) &&
            (r.globals->vars = ct_dict_new(&r.arena, 16)) &&
            ct_from_json(&r.arena, messages, &msgs) && set_global(&r, "messages", msgs) &&
            set_global(&r, "add_generation_prompt", ct_bool(add_generation_prompt)) &&
            set_global(&r, "bos_token", ct_cstring(t->bos_token)) &&
            set_global(&r, "eos_token", ct_cstring(t->eos_token));
  for (const cJSON *v = variables ? variables->child : NULL; ok && v; v = v->next) {
    ct_value value;
    char *name = ct_strndup(&r.arena, v->string, strlen(v->string));
    ok = name && ct_from_json(&r.arena, v, &value) && set_global(&r, name, value);
  }
  ttt_status s = TTT_OK;
  if (!ok) {
    s = ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "chat template: the messages need more than %zu MiB",
                      CT_MAX_ARENA_BYTES >> 20);
  } else if (!ct_exec(&r, r.globals, &t->body)) {
    s = ttt_set_error(TTT_ERR_FORMAT, "chat template %s", r.err);
  } else {
    *text = out.data ? out.data : calloc(1, 1);
    *len = out.len;
    out.data = NULL;
    if (!*text) s = ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "chat template: out of memory");
  }
  free(out.data);
  ct_arena_free(&r.arena);
  return s;
}
