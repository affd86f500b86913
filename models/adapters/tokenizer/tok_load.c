/*
 * tok_load.c — reading tokenizer.json / tokenizer_config.json / generation_config.json into a
 * ttt_tokenizer. Every field is checked: a malformed file gives TTT_ERR_FORMAT with the file and
 * the JSON path of the field ("model.merges[12]"), an unknown component type gives
 * TTT_ERR_UNSUPPORTED.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tok_internal.h"

/* Ids above this are refused, so that a hostile file cannot make us allocate huge id tables. */
#define TOK_MAX_ID ((1 << 24) - 1)
#define TOK_MAX_FILE_BYTES ((size_t)1 << 30)

typedef struct loader {
  ttt_tokenizer *t;
  const char *path; /* file being read, for messages */
} loader;

/* ---- files and JSON ---------------------------------------------------------------------------
 */

static ttt_status read_file(const char *path, char **data, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return ttt_set_error(TTT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  tok_buf b = {0};
  char chunk[65536];
  size_t n;
  ttt_status st = TTT_OK;
  while (!st && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (b.len + n > TOK_MAX_FILE_BYTES)
      st = ttt_set_error(TTT_ERR_FORMAT, "%s: larger than 1 GiB, not a tokenizer file", path);
    else
      st = tok_buf_append(&b, chunk, n);
  }
  if (!st && ferror(f)) st = ttt_set_error(TTT_ERR_IO, "%s: read error: %s", path, strerror(errno));
  fclose(f);
  if (!st) st = tok_buf_reserve(&b, 0);
  if (st) {
    tok_buf_free(&b);
    return st;
  }
  *data = b.data;
  *len = b.len;
  return TTT_OK;
}

static ttt_status parse_json_file(const char *path, cJSON **out) {
  char *data = NULL;
  size_t len = 0;
  ttt_status st = read_file(path, &data, &len);
  if (st) return st;
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(data ? data : "", len, &end, false);
  if (!root) {
    size_t at = end && data && end >= data ? (size_t)(end - data) : 0;
    st = ttt_set_error(TTT_ERR_FORMAT, "%s: not valid JSON (error near byte %zu of %zu)", path, at,
                       len);
  }
  free(data);
  if (st) return st;
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return ttt_set_error(TTT_ERR_FORMAT, "%s: expected a JSON object at the top level", path);
  }
  *out = root;
  return TTT_OK;
}

static const cJSON *field(const cJSON *obj, const char *name) {
  return cJSON_GetObjectItemCaseSensitive(obj, name);
}

static bool is_absent(const cJSON *v) { return !v || cJSON_IsNull(v); }

/* A required object (`where` is the JSON path of obj, `name` the member). */
static ttt_status get_object(const loader *L, const cJSON *obj, const char *where, const char *name,
                             const cJSON **out) {
  const cJSON *v = field(obj, name);
  if (!cJSON_IsObject(v))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: %s.%s: expected an object", L->path, where, name);
  *out = v;
  return TTT_OK;
}

static ttt_status get_string(const loader *L, const cJSON *obj, const char *where, const char *name,
                             const char **out) {
  const cJSON *v = field(obj, name);
  if (!cJSON_IsString(v))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: %s.%s: expected a string", L->path, where, name);
  *out = v->valuestring;
  return TTT_OK;
}

/* Strings that end up inside the text being tokenized must be valid UTF-8: the regex engine is
 * run without re-checking, and a partial character would split the text's characters. */
static ttt_status check_utf8(const loader *L, const char *where, const char *name, const char *s) {
  if (tok_utf8_is_valid(s, strlen(s))) return TTT_OK;
  return ttt_set_error(TTT_ERR_FORMAT, "%s: %s.%s: not valid UTF-8", L->path, where, name);
}

/* An optional boolean: absent or null gives `dflt`. */
static ttt_status get_bool(const loader *L, const cJSON *obj, const char *where, const char *name,
                           bool dflt, bool *out) {
  const cJSON *v = field(obj, name);
  if (is_absent(v)) {
    *out = dflt;
    return TTT_OK;
  }
  if (!cJSON_IsBool(v))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: %s.%s: expected true or false", L->path, where, name);
  *out = cJSON_IsTrue(v);
  return TTT_OK;
}

static bool json_int(const cJSON *v, int64_t lo, int64_t hi, int64_t *out) {
  if (!cJSON_IsNumber(v)) return false;
  double d = v->valuedouble;
  if (!(d >= (double)lo && d <= (double)hi) || d != (double)(int64_t)d) return false;
  *out = (int64_t)d;
  return true;
}

static ttt_status get_int(const loader *L, const cJSON *obj, const char *where, const char *name,
                          int64_t dflt, int64_t lo, int64_t hi, int64_t *out) {
  const cJSON *v = field(obj, name);
  if (is_absent(v)) {
    *out = dflt;
    return TTT_OK;
  }
  if (!json_int(v, lo, hi, out))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: %s.%s: expected an integer in [%lld, %lld]", L->path,
                         where, name, (long long)lo, (long long)hi);
  return TTT_OK;
}

static ttt_status get_type(const loader *L, const cJSON *obj, const char *where, const char **out) {
  return get_string(L, obj, where, "type", out);
}

static ttt_status unsupported(const loader *L, const char *where, const char *type,
                              const char *supported) {
  return ttt_set_error(TTT_ERR_UNSUPPORTED, "%s: %s.type: unsupported '%s' (supported: %s)",
                       L->path, where, type, supported);
}

static ttt_status dup_string(const char *s, size_t len, char **out) {
  char *p = malloc(len + 1);
  if (!p) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
  memcpy(p, s, len);
  p[len] = '\0';
  *out = p;
  return TTT_OK;
}

/* Grows an array of steps by one zeroed element. */
static ttt_status push_step(void **arr, size_t *n, size_t elem, void **out) {
  void *p = realloc(*arr, (*n + 1) * elem);
  if (!p) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
  *arr = p;
  *out = (char *)p + *n * elem;
  memset(*out, 0, elem);
  (*n)++;
  return TTT_OK;
}

/* ---- regular expressions ----------------------------------------------------------------------
 */

/* Oniguruma's \s (used by HuggingFace) is Unicode White_Space, which includes U+0085; PCRE2's \s
 * with UCP does not. Rewrites \s and \S so the two engines agree; everything else is copied. */
static ttt_status translate_pattern(const char *p, size_t n, tok_buf *out) {
  bool in_class = false;
  ttt_status st = TTT_OK;
  for (size_t i = 0; i < n && !st; i++) {
    char c = p[i];
    if (c == '\\' && i + 1 < n) {
      char e = p[++i];
      if (e == 's')
        st = tok_buf_append(out, in_class ? "\\s\\x{85}" : "[\\s\\x{85}]", in_class ? 8 : 10);
      else if (e == 'S' && !in_class)
        st = tok_buf_append(out, "[^\\s\\x{85}]", 11);
      else
        st = tok_buf_append(out, p + i - 1, 2);
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      st = tok_buf_push(out, c);
      /* a ']' right after '[' or '[^' is a literal member */
      if (!st && i + 1 < n && p[i + 1] == '^') st = tok_buf_push(out, p[++i]);
      if (!st && i + 1 < n && p[i + 1] == ']') st = tok_buf_push(out, p[++i]);
      continue;
    }
    if (in_class && c == ']') in_class = false;
    st = tok_buf_push(out, c);
  }
  return st;
}

ttt_status tok_regex_compile(const char *pattern, size_t len, bool literal, const char *what,
                             pcre2_code **out) {
  tok_buf pat = {0};
  /* \C matches one code unit, i.e. it cuts inside a character: the pieces it makes are not UTF-8,
   * and every later step (and PCRE2 itself) relies on valid UTF-8, so patterns may not use it. */
  uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C;
  ttt_status st;
  if (literal) { /* PCRE2 refuses UCP together with LITERAL, where it has no meaning anyway */
    options = PCRE2_UTF | PCRE2_LITERAL;
    st = tok_buf_append(&pat, pattern, len);
  } else {
    st = translate_pattern(pattern, len, &pat);
  }
  if (st) {
    tok_buf_free(&pat);
    return st;
  }
  int code = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code *re =
      pcre2_compile((PCRE2_SPTR)(pat.data ? pat.data : ""), pat.len, options, &code, &offset, NULL);
  tok_buf_free(&pat);
  if (!re) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(code, msg, sizeof msg);
    return ttt_set_error(TTT_ERR_FORMAT, "%s: invalid regular expression '%.*s' at offset %zu: %s",
                         what, len > 200 ? 200 : (int)len, pattern, (size_t)offset,
                         (const char *)msg);
  }
  /* JIT is an optimization: without it (e.g. unsupported CPU) pcre2_match interprets. */
  (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
  *out = re;
  return TTT_OK;
}

/* A HuggingFace pattern: {"String": "..."} or {"Regex": "..."}. */
static ttt_status load_pattern(const loader *L, const cJSON *obj, const char *where,
                               const char **text, bool *literal) {
  const cJSON *pat = field(obj, "pattern");
  const cJSON *s = cJSON_IsObject(pat) ? field(pat, "String") : NULL;
  const cJSON *r = cJSON_IsObject(pat) ? field(pat, "Regex") : NULL;
  if (cJSON_IsString(s)) {
    *text = s->valuestring;
    *literal = true;
    return TTT_OK;
  }
  if (cJSON_IsString(r)) {
    *text = r->valuestring;
    *literal = false;
    return TTT_OK;
  }
  return ttt_set_error(TTT_ERR_FORMAT,
                       "%s: %s.pattern: expected {\"String\": ...} or {\"Regex\": ...}", L->path,
                       where);
}

static ttt_status compile_pattern(const loader *L, const char *where, const char *text,
                                  bool literal, pcre2_code **re) {
  char what[512];
  snprintf(what, sizeof what, "%s: %s.pattern", L->path, where);
  return tok_regex_compile(text, strlen(text), literal, what, re);
}

/* ---- normalizers ------------------------------------------------------------------------------
 */

static ttt_status load_normalizer(loader *L, const cJSON *n, const char *where);

static ttt_status load_norm_sequence(loader *L, const cJSON *n, const char *where) {
  const cJSON *list = field(n, "normalizers");
  if (!cJSON_IsArray(list))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: %s.normalizers: expected an array", L->path, where);
  int i = 0;
  for (const cJSON *item = list->child; item; item = item->next, i++) {
    char sub[256];
    snprintf(sub, sizeof sub, "%s.normalizers[%d]", where, i);
    ttt_status st = load_normalizer(L, item, sub);
    if (st) return st;
  }
  return TTT_OK;
}

static ttt_status load_normalizer(loader *L, const cJSON *n, const char *where) {
  if (!cJSON_IsObject(n))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: %s: expected an object", L->path, where);
  const char *type = NULL;
  ttt_status st = get_type(L, n, where, &type);
  if (st) return st;
  if (strcmp(type, "Sequence") == 0) return load_norm_sequence(L, n, where);
  static const struct {
    const char *name;
    tok_norm_kind kind;
  } kinds[] = {{"NFC", TOK_NORM_NFC},         {"NFD", TOK_NORM_NFD},
               {"NFKC", TOK_NORM_NFKC},       {"NFKD", TOK_NORM_NFKD},
               {"Prepend", TOK_NORM_PREPEND}, {"Replace", TOK_NORM_REPLACE}};
  size_t k = 0;
  while (k < sizeof kinds / sizeof kinds[0] && strcmp(kinds[k].name, type) != 0) k++;
  if (k == sizeof kinds / sizeof kinds[0]) {
    bool handled = false;
    st = tok_load_normalizer_ext(L->t, L->path, n, where, type, &handled);
    if (st || handled) return st;
    return unsupported(L, where, type,
                       "Sequence, NFC, NFD, NFKC, NFKD, Prepend, Replace, BertNormalizer, "
                       "Precompiled, Strip, Lowercase, StripAccents");
  }
  tok_norm *step;
  st = push_step((void **)&L->t->norms, &L->t->n_norms, sizeof *step, (void **)&step);
  if (st) return st;
  step->kind = kinds[k].kind;
  if (step->kind == TOK_NORM_PREPEND) {
    const char *s = NULL;
    st = get_string(L, n, where, "prepend", &s);
    if (!st) st = check_utf8(L, where, "prepend", s);
    if (!st) st = dup_string(s, strlen(s), &step->a);
    step->a_len = step->a ? strlen(step->a) : 0;
    return st;
  }
  if (step->kind == TOK_NORM_REPLACE) {
    const char *pat = NULL, *content = NULL;
    bool literal = false;
    st = load_pattern(L, n, where, &pat, &literal);
    if (!st) st = get_string(L, n, where, "content", &content);
    if (!st) st = check_utf8(L, where, "pattern", pat);
    if (!st) st = check_utf8(L, where, "content", content);
    if (!st) st = dup_string(pat, strlen(pat), &step->a);
    if (!st) st = dup_string(content, strlen(content), &step->b);
    if (!st && !literal) st = compile_pattern(L, where, pat, false, &step->re);
    if (st) return st;
    step->a_len = strlen(step->a);
    step->b_len = strlen(step->b);
    if (literal && step->a_len == 0)
      return ttt_set_error(TTT_ERR_FORMAT, "%s: %s.pattern: the string to replace is empty",
                           L->path, where);
  }
  return TTT_OK;
}

/* ---- pre-tokenizers ---------------------------------------------------------------------------
 */

/* GPT-2's pre-tokenization regex, used by ByteLevel with use_regex. */
static const char gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static ttt_status load_behavior(const loader *L, const cJSON *n, const char *where,
                                tok_split_behavior *out) {
  static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext",
                                "Contiguous"};
  const char *s = NULL;
  ttt_status st = get_string(L, n, where, "behavior", &s);
  if (st) return st;
  for (int i = 0; i < 5; i++)
    if (strcmp(s, names[i]) == 0) {
      *out = (tok_split_behavior)i;
      return TTT_OK;
    }
  return ttt_set_error(TTT_ERR_FORMAT,
                       "%s: %s.behavior: unknown '%s' (expected Removed, Isolated, "
                       "MergedWithPrevious, MergedWithNext or Contiguous)",
                       L->path, where, s);
}

/* Metaspace's replacement character and prepend scheme; shared by the pre-tokenizer and decoder.
 * Older files have add_prefix_space (true = always) instead of prepend_scheme. */
static ttt_status load_metaspace(const loader *L, const cJSON *n, const char *where, char *rep,
                                 size_t *rep_len, tok_prepend_scheme *scheme) {
  const char *r = NULL;
  ttt_status st = get_string(L, n, where, "replacement", &r);
  if (st) return st;
  size_t len = strlen(r);
  if (len == 0 || len > 4 || tok_utf8_valid_len((const unsigned char *)r, len) != len)
    return ttt_set_error(TTT_ERR_FORMAT, "%s: %s.replacement: expected one character", L->path,
                         where);
  memcpy(rep, r, len);
  *rep_len = len;
  const cJSON *ps = field(n, "prepend_scheme");
  if (is_absent(ps)) {
    bool add;
    st = get_bool(L, n, where, "add_prefix_space", true, &add);
    *scheme = add ? TOK_PREPEND_ALWAYS : TOK_PREPEND_NEVER;
    return st;
  }
  const char *s = cJSON_IsString(ps) ? ps->valuestring : "";
  if (strcmp(s, "always") == 0)
    *scheme = TOK_PREPEND_ALWAYS;
  else if (strcmp(s, "first") == 0)
    *scheme = TOK_PREPEND_FIRST;
  else if (strcmp(s, "never") == 0)
    *scheme = TOK_PREPEND_NEVER;
  else
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: %s.prepend_scheme: expected \"always\", \"first\" or \"never\"",
                         L->path, where);
  return TTT_OK;
}

static ttt_status load_pretokenizer(loader *L, const cJSON *n, const char *where);

static ttt_status load_pre_sequence(loader *L, const cJSON *n, const char *where) {
  const cJSON *list = field(n, "pretokenizers");
  if (!cJSON_IsArray(list))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: %s.pretokenizers: expected an array", L->path, where);
  int i = 0;
  for (const cJSON *item = list->child; item; item = item->next, i++) {
    char sub[256];
    snprintf(sub, sizeof sub, "%s.pretokenizers[%d]", where, i);
    ttt_status st = load_pretokenizer(L, item, sub);
    if (st) return st;
  }
  return TTT_OK;
}

static ttt_status load_pretokenizer(loader *L, const cJSON *n, const char *where) {
  if (!cJSON_IsObject(n))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: %s: expected an object", L->path, where);
  const char *type = NULL;
  ttt_status st = get_type(L, n, where, &type);
  if (st) return st;
  if (strcmp(type, "Sequence") == 0) return load_pre_sequence(L, n, where);
  bool split = strcmp(type, "Split") == 0, byte_level = strcmp(type, "ByteLevel") == 0;
  bool metaspace = strcmp(type, "Metaspace") == 0;
  if (!split && !byte_level && !metaspace) {
    bool handled = false;
    st = tok_load_pretokenizer_ext(L->t, L->path, n, where, type, &handled);
    if (st || handled) return st;
    return unsupported(L, where, type,
                       "Sequence, Split, ByteLevel, Metaspace, BertPreTokenizer, WhitespaceSplit");
  }
  tok_pre *step;
  st = push_step((void **)&L->t->pres, &L->t->n_pres, sizeof *step, (void **)&step);
  if (st) return st;
  if (split) {
    const char *pat = NULL;
    bool literal = false;
    step->kind = TOK_PRE_SPLIT;
    st = load_pattern(L, n, where, &pat, &literal);
    if (!st) st = load_behavior(L, n, where, &step->behavior);
    if (!st) st = get_bool(L, n, where, "invert", false, &step->invert);
    if (!st) st = compile_pattern(L, where, pat, literal, &step->re);
    return st;
  }
  if (byte_level) {
    bool use_regex;
    step->kind = TOK_PRE_BYTE_LEVEL;
    st = get_bool(L, n, where, "add_prefix_space", true, &step->add_prefix_space);
    if (!st) st = get_bool(L, n, where, "use_regex", true, &use_regex);
    if (!st && use_regex) {
      char what[300];
      snprintf(what, sizeof what, "%s: %s (GPT-2 regex)", L->path, where);
      st = tok_regex_compile(gpt2_pattern, strlen(gpt2_pattern), false, what, &step->re);
    }
    return st;
  }
  step->kind = TOK_PRE_METASPACE;
  st =
      load_metaspace(L, n, where, step->replacement, &step->replacement_len, &step->prepend_scheme);
  if (!st) st = get_bool(L, n, where, "split", true, &step->split);
  return st;
}

/* ---- decoders ---------------------------------------------------------------------------------
 */

static ttt_status load_decoder(loader *L, const cJSON *n, const char *where);

static ttt_status load_dec_sequence(loader *L, const cJSON *n, const char *where) {
  const cJSON *list = field(n, "decoders");
  if (!cJSON_IsArray(list))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: %s.decoders: expected an array", L->path, where);
  int i = 0;
  for (const cJSON *item = list->child; item; item = item->next, i++) {
    char sub[256];
    snprintf(sub, sizeof sub, "%s.decoders[%d]", where, i);
    ttt_status st = load_decoder(L, item, sub);
    if (st) return st;
  }
  return TTT_OK;
}

static ttt_status load_dec_replace(const loader *L, const cJSON *n, const char *where,
                                   tok_dec *step) {
  const char *pat = NULL, *content = NULL;
  bool literal = false;
  ttt_status st = load_pattern(L, n, where, &pat, &literal);
  if (st) return st;
  if (!literal)
    return ttt_set_error(TTT_ERR_UNSUPPORTED,
                         "%s: %s.pattern: a Regex pattern in the Replace decoder is not supported "
                         "(supported: String)",
                         L->path, where);
  st = get_string(L, n, where, "content", &content);
  if (!st) st = dup_string(pat, strlen(pat), &step->a);
  if (!st) st = dup_string(content, strlen(content), &step->b);
  if (st) return st;
  step->a_len = strlen(step->a);
  step->b_len = strlen(step->b);
  if (step->a_len == 0)
    return ttt_set_error(TTT_ERR_FORMAT, "%s: %s.pattern: the string to replace is empty", L->path,
                         where);
  return TTT_OK;
}

static ttt_status load_dec_strip(const loader *L, const cJSON *n, const char *where,
                                 tok_dec *step) {
  const char *content = NULL;
  ttt_status st = get_string(L, n, where, "content", &content);
  if (st) return st;
  size_t len = strlen(content);
  if (len == 0 || tok_utf8_valid_len((const unsigned char *)content, len) != len)
    return ttt_set_error(TTT_ERR_FORMAT, "%s: %s.content: expected one character", L->path, where);
  st = dup_string(content, len, &step->a);
  step->a_len = len;
  if (!st) st = get_int(L, n, where, "start", 0, 0, INT32_MAX, &step->start);
  if (!st) st = get_int(L, n, where, "stop", 0, 0, INT32_MAX, &step->stop);
  return st;
}

static ttt_status load_decoder(loader *L, const cJSON *n, const char *where) {
  if (!cJSON_IsObject(n))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: %s: expected an object", L->path, where);
  const char *type = NULL;
  ttt_status st = get_type(L, n, where, &type);
  if (st) return st;
  if (strcmp(type, "Sequence") == 0) return load_dec_sequence(L, n, where);
  static const struct {
    const char *name;
    tok_dec_kind kind;
  } kinds[] = {{"ByteLevel", TOK_DEC_BYTE_LEVEL},
               {"Replace", TOK_DEC_REPLACE},
               {"ByteFallback", TOK_DEC_BYTE_FALLBACK},
               {"Fuse", TOK_DEC_FUSE},
               {"Strip", TOK_DEC_STRIP},
               {"Metaspace", TOK_DEC_METASPACE}};
  size_t k = 0;
  while (k < sizeof kinds / sizeof kinds[0] && strcmp(kinds[k].name, type) != 0) k++;
  if (k == sizeof kinds / sizeof kinds[0]) {
    bool handled = false;
    st = tok_load_decoder_ext(L->t, L->path, n, where, type, &handled);
    if (st || handled) return st;
    return unsupported(L, where, type,
                       "Sequence, ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, "
                       "WordPiece");
  }
  tok_dec *step;
  st = push_step((void **)&L->t->decs, &L->t->n_decs, sizeof *step, (void **)&step);
  if (st) return st;
  step->kind = kinds[k].kind;
  if (step->kind == TOK_DEC_REPLACE) return load_dec_replace(L, n, where, step);
  if (step->kind == TOK_DEC_STRIP) return load_dec_strip(L, n, where, step);
  if (step->kind == TOK_DEC_METASPACE) {
    char rep[4];
    size_t rep_len;
    st = load_metaspace(L, n, where, rep, &rep_len, &step->prepend_scheme);
    if (!st) st = dup_string(rep, rep_len, &step->a);
    step->a_len = rep_len;
  }
  return st;
}

/* ---- model ------------------------------------------------------------------------------------
 */

static ttt_status load_vocab(loader *L, const cJSON *vocab, int64_t *max_id) {
  ttt_tokenizer *t = L->t;
  ttt_status st = tok_map_init(&t->vocab, (size_t)cJSON_GetArraySize(vocab));
  if (st) return st;
  for (const cJSON *e = vocab->child; e; e = e->next) {
    int64_t id = 0;
    if (!json_int(e, 0, TOK_MAX_ID, &id))
      return ttt_set_error(TTT_ERR_FORMAT, "%s: model.vocab[\"%.64s\"]: expected an id in [0, %d]",
                           L->path, e->string, TOK_MAX_ID);
    bool inserted;
    st = tok_map_put(&t->vocab, e->string, strlen(e->string), id, &inserted);
    if (st) return st;
    if (!inserted)
      return ttt_set_error(TTT_ERR_FORMAT, "%s: model.vocab: token \"%.64s\" appears twice",
                           L->path, e->string);
    if (id > *max_id) *max_id = id;
  }
  return TTT_OK;
}

static int32_t vocab_id(const ttt_tokenizer *t, const char *s, size_t len) {
  int64_t v;
  return tok_map_get(&t->vocab, s, len, &v) ? (int32_t)v : -1;
}

/* One merge: "left right" or ["left", "right"]. */
static ttt_status merge_parts(const loader *L, const cJSON *m, int64_t i, const char **a,
                              size_t *a_len, const char **b, size_t *b_len) {
  if (cJSON_IsString(m)) {
    const char *s = m->valuestring, *sp = strchr(s, ' ');
    if (sp && !strchr(sp + 1, ' ')) {
      *a = s;
      *a_len = (size_t)(sp - s);
      *b = sp + 1;
      *b_len = strlen(sp + 1);
      return TTT_OK;
    }
  } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(m->child) &&
             cJSON_IsString(m->child->next)) {
    *a = m->child->valuestring;
    *a_len = strlen(*a);
    *b = m->child->next->valuestring;
    *b_len = strlen(*b);
    return TTT_OK;
  }
  return ttt_set_error(TTT_ERR_FORMAT,
                       "%s: model.merges[%lld]: expected \"left right\" (one space) or a pair of "
                       "strings",
                       L->path, (long long)i);
}

static ttt_status load_merges(loader *L, const cJSON *merges) {
  ttt_tokenizer *t = L->t;
  ttt_status st = tok_pair_map_init(&t->merges, (size_t)cJSON_GetArraySize(merges));
  tok_buf cat = {0};
  int64_t i = 0;
  for (const cJSON *m = merges->child; m && !st; m = m->next, i++) {
    const char *a = NULL, *b = NULL;
    size_t a_len = 0, b_len = 0;
    st = merge_parts(L, m, i, &a, &a_len, &b, &b_len);
    if (st) break;
    cat.len = 0;
    st = tok_buf_append(&cat, a, a_len);
    if (!st) st = tok_buf_append(&cat, b, b_len);
    if (st) break;
    int32_t left = vocab_id(t, a, a_len), right = vocab_id(t, b, b_len);
    int32_t merged = vocab_id(t, cat.data, cat.len);
    if (left < 0 || right < 0 || merged < 0) {
      st = ttt_set_error(TTT_ERR_FORMAT, "%s: model.merges[%lld]: \"%.64s\" is not in model.vocab",
                         L->path, (long long)i,
                         left < 0    ? a
                         : right < 0 ? b
                                     : cat.data);
      break;
    }
    if (i > INT32_MAX) {
      st = ttt_set_error(TTT_ERR_FORMAT, "%s: model.merges: more than 2^31 merges", L->path);
      break;
    }
    tok_pair_map_set(&t->merges, left, right, (int32_t)i, merged);
  }
  tok_buf_free(&cat);
  return st;
}

static ttt_status load_bpe_options(loader *L, const cJSON *model) {
  ttt_tokenizer *t = L->t;
  ttt_status st = get_bool(L, model, "model", "byte_fallback", false, &t->byte_fallback);
  if (!st) st = get_bool(L, model, "model", "fuse_unk", false, &t->fuse_unk);
  if (!st) st = get_bool(L, model, "model", "ignore_merges", false, &t->ignore_merges);
  if (st) return st;
  static const char *affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
  for (int k = 0; k < 2; k++) {
    const cJSON *v = field(model, affixes[k]);
    if (is_absent(v) || (cJSON_IsString(v) && v->valuestring[0] == '\0')) continue;
    return ttt_set_error(TTT_ERR_UNSUPPORTED,
                         "%s: model.%s: only null or \"\" is supported by this BPE implementation",
                         L->path, affixes[k]);
  }
  const cJSON *unk = field(model, "unk_token");
  t->unk_id = -1;
  if (!is_absent(unk)) {
    if (!cJSON_IsString(unk))
      return ttt_set_error(TTT_ERR_FORMAT, "%s: model.unk_token: expected a string or null",
                           L->path);
    t->unk_id = vocab_id(t, unk->valuestring, strlen(unk->valuestring));
    if (t->unk_id < 0)
      return ttt_set_error(TTT_ERR_FORMAT, "%s: model.unk_token: \"%.64s\" is not in model.vocab",
                           L->path, unk->valuestring);
  }
  for (int b = 0; b < 256; b++) {
    char name[8];
    snprintf(name, sizeof name, "<0x%02X>", b);
    t->byte_ids[b] = t->byte_fallback ? vocab_id(t, name, 6) : -1;
  }
  return TTT_OK;
}

static ttt_status load_model(loader *L, const cJSON *root, int64_t *max_id) {
  const cJSON *model = NULL;
  ttt_status st = get_object(L, root, "tokenizer", "model", &model);
  if (st) return st;
  const cJSON *type = field(model, "type");
  /* Old files omit model.type; HuggingFace then recognizes BPE by its merges. */
  if (!is_absent(type) || !field(model, "merges")) {
    if (!cJSON_IsString(type))
      return ttt_set_error(TTT_ERR_FORMAT, "%s: model.type: expected a string", L->path);
    if (strcmp(type->valuestring, "BPE") != 0)
      return tok_load_model_ext(L->t, L->path, model, type->valuestring, max_id);
  }
  const cJSON *vocab = NULL, *merges = field(model, "merges");
  st = get_object(L, model, "model", "vocab", &vocab);
  if (st) return st;
  if (!cJSON_IsArray(merges))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: model.merges: expected an array", L->path);
  st = load_vocab(L, vocab, max_id);
  if (!st) st = load_merges(L, merges);
  if (!st) st = load_bpe_options(L, model);
  return st;
}

/* ---- added tokens -----------------------------------------------------------------------------
 */

static ttt_status load_added_token(loader *L, const cJSON *a, int i, tok_added *out) {
  char where[64];
  snprintf(where, sizeof where, "added_tokens[%d]", i);
  if (!cJSON_IsObject(a))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: %s: expected an object", L->path, where);
  const char *content = NULL;
  int64_t id = 0;
  ttt_status st = get_string(L, a, where, "content", &content);
  if (!st) st = check_utf8(L, where, "content", content);
  if (!st && !json_int(field(a, "id"), 0, TOK_MAX_ID, &id))
    st = ttt_set_error(TTT_ERR_FORMAT, "%s: %s.id: expected an id in [0, %d]", L->path, where,
                       TOK_MAX_ID);
  if (!st) st = get_bool(L, a, where, "special", false, &out->special);
  if (!st) st = get_bool(L, a, where, "lstrip", false, &out->lstrip);
  if (!st) st = get_bool(L, a, where, "rstrip", false, &out->rstrip);
  if (!st) st = get_bool(L, a, where, "single_word", false, &out->single_word);
  if (!st) st = get_bool(L, a, where, "normalized", !out->special, &out->normalized);
  if (!st) st = dup_string(content, strlen(content), &out->content);
  if (st) return st;
  out->len = strlen(content);
  out->id = (int32_t)id;
  return TTT_OK;
}

static ttt_status load_added_tokens(loader *L, const cJSON *root, int64_t *max_id) {
  ttt_tokenizer *t = L->t;
  const cJSON *list = field(root, "added_tokens");
  if (is_absent(list)) return TTT_OK;
  if (!cJSON_IsArray(list))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: added_tokens: expected an array", L->path);
  size_t n = (size_t)cJSON_GetArraySize(list);
  t->added = calloc(n ? n : 1, sizeof *t->added);
  if (!t->added) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
  int i = 0;
  for (const cJSON *a = list->child; a; a = a->next, i++) {
    ttt_status st = load_added_token(L, a, i, &t->added[t->n_added]);
    t->n_added += t->added[t->n_added].content != NULL;
    if (st) return st;
    if (t->added[i].id > *max_id) *max_id = t->added[i].id;
  }
  return TTT_OK;
}

/* Added tokens of one kind are ordered by (first byte, length descending, index) so that matching
 * tries the longest candidate first. */
typedef struct added_key {
  unsigned char first;
  size_t len;
  int32_t index;
} added_key;

static int cmp_added(const void *pa, const void *pb) {
  const added_key *a = pa, *b = pb;
  if (a->first != b->first) return a->first < b->first ? -1 : 1;
  if (a->len != b->len) return a->len > b->len ? -1 : 1;
  return a->index < b->index ? -1 : 1;
}

static ttt_status build_matcher(ttt_tokenizer *t, bool normalized, tok_added_matcher *m) {
  size_t cap = t->n_added ? t->n_added : 1;
  added_key *keys = malloc(cap * sizeof *keys);
  m->order = malloc(cap * sizeof *m->order);
  if (!keys || !m->order) {
    free(keys);
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
  }
  for (size_t i = 0; i < t->n_added; i++) {
    const tok_added *a = &t->added[i];
    if (a->normalized == normalized && a->len > 0)
      keys[m->count++] = (added_key){(unsigned char)a->content[0], a->len, (int32_t)i};
  }
  qsort(keys, m->count, sizeof *keys, cmp_added);
  size_t k = 0;
  for (int b = 0; b <= 256; b++) {
    while (k < m->count && keys[k].first < b) k++;
    m->first[b] = (int32_t)k;
  }
  for (size_t i = 0; i < m->count; i++) m->order[i] = keys[i].index;
  free(keys);
  return TTT_OK;
}

/* Normalized added tokens are matched in normalized text, so their content is normalized too. */
static ttt_status normalize_added(ttt_tokenizer *t) {
  tok_buf nb = {0};
  ttt_status st = TTT_OK;
  for (size_t i = 0; i < t->n_added && !st; i++) {
    tok_added *a = &t->added[i];
    if (!a->normalized || t->n_norms == 0) continue;
    st = tok_normalize(t, a->content, a->len, &nb);
    char *copy = NULL;
    if (!st) st = dup_string(nb.data ? nb.data : "", nb.len, &copy);
    if (st) break;
    free(a->content);
    a->content = copy;
    a->len = nb.len;
  }
  tok_buf_free(&nb);
  return st;
}

/* ---- id table ---------------------------------------------------------------------------------
 */

static ttt_status set_token(ttt_tokenizer *t, int64_t id, const char *s, size_t len) {
  size_t off = t->strings.len;
  if (off > UINT32_MAX - len - 1)
    return ttt_set_error(TTT_ERR_FORMAT, "%s: token strings exceed 4 GiB", t->path);
  ttt_status st = tok_buf_append(&t->strings, s, len);
  if (!st) st = tok_buf_push(&t->strings, '\0');
  t->str_off[id] = (uint32_t)off;
  t->str_len[id] = (uint32_t)len;
  return st;
}

/* An added token's id may not name another string, in the vocabulary or among the added tokens,
 * and a string the vocabulary has keeps its vocabulary id. HuggingFace does not read these ids: it
 * gives an added token its vocabulary id, or the next free one, and only warns when the file says
 * otherwise; a file whose ids disagree with themselves is refused here rather than guessed at. */
static ttt_status check_added_id(const ttt_tokenizer *t, size_t i) {
  const tok_added *a = &t->added[i];
  int64_t vocab_id;
  if (tok_map_get(&t->vocab, a->content, a->len, &vocab_id) && vocab_id != a->id)
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: added_tokens[%zu]: \"%.64s\" has id %d, but model.vocab gives it "
                         "id %lld",
                         t->path, i, a->content, (int)a->id, (long long)vocab_id);
  uint32_t len = t->str_len[a->id];
  const char *other = t->strings.data + t->str_off[a->id];
  if (len != UINT32_MAX && (len != a->len || memcmp(other, a->content, len) != 0))
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: added_tokens[%zu]: \"%.64s\" has id %d, which is already the id of "
                         "\"%.64s\"",
                         t->path, i, a->content, (int)a->id, other);
  return TTT_OK;
}

static ttt_status build_id_table(ttt_tokenizer *t, int64_t max_id) {
  t->vocab_size = max_id + 1;
  size_t n = (size_t)(max_id + 1);
  t->str_off = malloc((n ? n : 1) * sizeof *t->str_off);
  t->str_len = malloc((n ? n : 1) * sizeof *t->str_len);
  t->special = calloc(n ? n : 1, 1);
  if (!t->str_off || !t->str_len || !t->special)
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
  for (size_t i = 0; i < n; i++) t->str_len[i] = UINT32_MAX;
  ttt_status st = TTT_OK;
  for (size_t i = 0; i <= t->vocab.mask && !st; i++) {
    const tok_map_slot *s = &t->vocab.slots[i];
    if (s->hash && t->str_len[s->value] == UINT32_MAX)
      st = set_token(t, s->value, t->vocab.keys.data + s->key_off, s->key_len);
  }
  st = st ? st : tok_map_init(&t->added_ids, t->n_added);
  for (size_t i = 0; i < t->n_added && !st; i++) {
    const tok_added *a = &t->added[i];
    st = check_added_id(t, i);
    if (!st) st = set_token(t, a->id, a->content, a->len);
    t->special[a->id] = a->special;
    if (!st) st = tok_map_put(&t->added_ids, a->content, a->len, a->id, NULL);
  }
  return st;
}

/* ---- post-processor ---------------------------------------------------------------------------
 */

static ttt_status load_template_item(loader *L, const cJSON *item, const cJSON *specials,
                                     const char *where, bool *seen_sequence) {
  ttt_tokenizer *t = L->t;
  if (cJSON_IsObject(field(item, "Sequence"))) {
    if (*seen_sequence)
      return ttt_set_error(TTT_ERR_FORMAT, "%s: %s: more than one Sequence in a single template",
                           L->path, where);
    *seen_sequence = true;
    return TTT_OK;
  }
  const cJSON *sp = field(item, "SpecialToken");
  const cJSON *name = cJSON_IsObject(sp) ? field(sp, "id") : NULL;
  if (!cJSON_IsString(name))
    return ttt_set_error(
        TTT_ERR_FORMAT, "%s: %s: expected {\"SpecialToken\": {\"id\": ...}} or {\"Sequence\": ...}",
        L->path, where);
  const cJSON *entry = cJSON_IsObject(specials) ? field(specials, name->valuestring) : NULL;
  const cJSON *ids = cJSON_IsObject(entry) ? field(entry, "ids") : NULL;
  if (!cJSON_IsArray(ids))
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: post_processor.special_tokens[\"%.64s\"].ids: expected an array",
                         L->path, name->valuestring);
  for (const cJSON *e = ids->child; e; e = e->next) {
    int64_t id = 0;
    if (!json_int(e, 0, t->vocab_size - 1, &id))
      return ttt_set_error(
          TTT_ERR_FORMAT,
          "%s: post_processor.special_tokens[\"%.64s\"].ids: expected ids in [0, %lld]", L->path,
          name->valuestring, (long long)(t->vocab_size - 1));
    ttt_status st = tok_ids_push(*seen_sequence ? &t->suffix_ids : &t->prefix_ids, (int32_t)id);
    if (st) return st;
  }
  return TTT_OK;
}

static ttt_status load_template(loader *L, const cJSON *p, const char *where) {
  ttt_tokenizer *t = L->t;
  const cJSON *single = field(p, "single");
  if (!cJSON_IsArray(single))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: %s.single: expected an array", L->path, where);
  t->has_template = true;
  t->prefix_ids.len = t->suffix_ids.len = 0;
  bool seen_sequence = false;
  int i = 0;
  for (const cJSON *item = single->child; item; item = item->next, i++) {
    char sub[256];
    snprintf(sub, sizeof sub, "%s.single[%d]", where, i);
    ttt_status st = load_template_item(L, item, field(p, "special_tokens"), sub, &seen_sequence);
    if (st) return st;
  }
  if (!seen_sequence)
    return ttt_set_error(TTT_ERR_FORMAT, "%s: %s.single: no {\"Sequence\": {\"id\": \"A\"}} item",
                         L->path, where);
  return TTT_OK;
}

static ttt_status load_post_processor(loader *L, const cJSON *p, const char *where) {
  if (!cJSON_IsObject(p))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: %s: expected an object", L->path, where);
  const char *type = NULL;
  ttt_status st = get_type(L, p, where, &type);
  if (st) return st;
  /* ByteLevel only trims offsets, which this tokenizer does not report. */
  if (strcmp(type, "ByteLevel") == 0) return TTT_OK;
  if (strcmp(type, "TemplateProcessing") == 0) return load_template(L, p, where);
  if (strcmp(type, "Sequence") != 0) {
    bool handled = false;
    st = tok_load_post_processor_ext(L->t, L->path, p, where, type, &handled);
    if (st || handled) return st;
    return unsupported(
        L, where, type,
        "TemplateProcessing, ByteLevel, Sequence, BertProcessing, RobertaProcessing");
  }
  const cJSON *list = field(p, "processors");
  if (!cJSON_IsArray(list))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: %s.processors: expected an array", L->path, where);
  int i = 0;
  for (const cJSON *item = list->child; item; item = item->next, i++) {
    char sub[256];
    snprintf(sub, sizeof sub, "%s.processors[%d]", where, i);
    st = load_post_processor(L, item, sub);
    if (st) return st;
  }
  return TTT_OK;
}

/* ---- tokenizer.json ---------------------------------------------------------------------------
 */

static ttt_status load_components(loader *L, const cJSON *root) {
  const cJSON *n = field(root, "normalizer"), *p = field(root, "pre_tokenizer");
  const cJSON *d = field(root, "decoder"), *pp = field(root, "post_processor");
  ttt_status st = TTT_OK;
  if (!is_absent(n)) st = load_normalizer(L, n, "normalizer");
  if (!st && !is_absent(p)) st = load_pretokenizer(L, p, "pre_tokenizer");
  if (!st && !is_absent(d)) st = load_decoder(L, d, "decoder");
  L->t->has_decoder = !is_absent(d);
  if (!st && !is_absent(pp)) st = load_post_processor(L, pp, "post_processor");
  return st;
}

static ttt_status load_tokenizer_json(ttt_tokenizer *t, const char *path) {
  cJSON *root = NULL;
  ttt_status st = parse_json_file(path, &root);
  if (st) return st;
  loader L = {t, path};
  int64_t max_id = -1;
  st = load_model(&L, root, &max_id);
  if (!st) st = load_added_tokens(&L, root, &max_id);
  if (!st) st = build_id_table(t, max_id);
  if (!st) st = load_components(&L, root);
  if (!st) st = normalize_added(t);
  if (!st) st = build_matcher(t, false, &t->raw_matcher);
  if (!st) st = build_matcher(t, true, &t->norm_matcher);
  cJSON_Delete(root);
  return st;
}

/* ---- tokenizer_config.json / generation_config.json -------------------------------------------
 */

/* bos_token / eos_token: a string, an AddedToken object {"content": ...}, or null. */
static ttt_status config_token(const loader *L, const cJSON *root, const char *name, int32_t *id) {
  const cJSON *v = field(root, name);
  if (is_absent(v)) return TTT_OK;
  if (cJSON_IsObject(v)) v = field(v, "content");
  if (!cJSON_IsString(v))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: %s: expected a string, {\"content\": ...} or null",
                         L->path, name);
  int32_t found = ttt_tokenizer_token_id(L->t, v->valuestring);
  if (found < 0)
    return ttt_set_error(TTT_ERR_FORMAT, "%s: %s: \"%.64s\" is not a token of %s", L->path, name,
                         v->valuestring, L->t->path);
  *id = found;
  return TTT_OK;
}

static ttt_status load_config(ttt_tokenizer *t, const char *path) {
  cJSON *root = NULL;
  ttt_status st = parse_json_file(path, &root);
  if (st) return st;
  loader L = {t, path};
  st = config_token(&L, root, "bos_token", &t->bos_id);
  if (!st) st = config_token(&L, root, "eos_token", &t->eos_id);
  if (!st) st = get_bool(&L, root, "tokenizer_config", "add_bos_token", false, &t->add_bos);
  if (!st) st = get_bool(&L, root, "tokenizer_config", "add_eos_token", false, &t->add_eos);
  if (!st && t->add_bos && t->bos_id < 0)
    st = ttt_set_error(TTT_ERR_FORMAT, "%s: add_bos_token is true but bos_token is not set", path);
  if (!st && t->add_eos && t->eos_id < 0)
    st = ttt_set_error(TTT_ERR_FORMAT, "%s: add_eos_token is true but eos_token is not set", path);
  cJSON_Delete(root);
  return st;
}

static ttt_status load_generation_config(ttt_tokenizer *t, const char *path) {
  cJSON *root = NULL;
  ttt_status st = parse_json_file(path, &root);
  if (st) return st;
  const cJSON *v = field(root, "eos_token_id");
  const cJSON *first = cJSON_IsArray(v) ? v->child : v;
  for (const cJSON *e = first; e && !st; e = cJSON_IsArray(v) ? e->next : NULL) {
    int64_t id = 0;
    if (!json_int(e, 0, t->vocab_size - 1, &id))
      st = ttt_set_error(TTT_ERR_FORMAT, "%s: eos_token_id: expected ids in [0, %lld]", path,
                         (long long)(t->vocab_size - 1));
    else
      st = tok_ids_push(&t->extra_eos, (int32_t)id);
  }
  cJSON_Delete(root);
  return st;
}

/* ---- public -----------------------------------------------------------------------------------
 */

ttt_status ttt_tokenizer_load(const char *tokenizer_json, const char *tokenizer_config_json,
                              ttt_tokenizer **out) {
  if (!tokenizer_json || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "ttt_tokenizer_load: tokenizer_json and out must not be NULL");
  *out = NULL;
  ttt_tokenizer *t = calloc(1, sizeof *t);
  if (!t) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
  t->unk_id = t->bos_id = t->eos_id = -1;
  tok_byte_level_init(&t->byte_level);
  ttt_status st = dup_string(tokenizer_json, strlen(tokenizer_json), &t->path);
  if (!st) st = load_tokenizer_json(t, tokenizer_json);
  if (!st && tokenizer_config_json) st = load_config(t, tokenizer_config_json);
  if (!st && t->bos_id < 0 && t->prefix_ids.len > 0) t->bos_id = t->prefix_ids.data[0];
  if (st) {
    ttt_tokenizer_destroy(t);
    return st;
  }
  *out = t;
  return TTT_OK;
}

static bool file_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

ttt_status ttt_tokenizer_load_dir(const char *model_dir, ttt_tokenizer **out) {
  if (!model_dir || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "ttt_tokenizer_load_dir: model_dir and out must not be NULL");
  size_t n = strlen(model_dir) + 32;
  char *tj = malloc(n), *cj = malloc(n), *gj = malloc(n);
  ttt_status st = TTT_OK;
  if (!tj || !cj || !gj) st = ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
  if (!st) {
    snprintf(tj, n, "%s/tokenizer.json", model_dir);
    snprintf(cj, n, "%s/tokenizer_config.json", model_dir);
    snprintf(gj, n, "%s/generation_config.json", model_dir);
    st = ttt_tokenizer_load(tj, file_exists(cj) ? cj : NULL, out);
  }
  if (!st && file_exists(gj)) {
    st = load_generation_config(*out, gj);
    if (st) {
      ttt_tokenizer_destroy(*out);
      *out = NULL;
    }
  }
  free(tj);
  free(cj);
  free(gj);
  return st;
}

void ttt_tokenizer_destroy(ttt_tokenizer *t) {
  if (!t) return;
  free(t->path);
  tok_buf_free(&t->strings);
  free(t->str_off);
  free(t->str_len);
  free(t->special);
  tok_map_free(&t->vocab);
  tok_pair_map_free(&t->merges);
  tok_ext_free(t);
  for (size_t i = 0; i < t->n_norms; i++) {
    free(t->norms[i].a);
    free(t->norms[i].b);
    pcre2_code_free(t->norms[i].re);
  }
  free(t->norms);
  for (size_t i = 0; i < t->n_pres; i++) pcre2_code_free(t->pres[i].re);
  free(t->pres);
  for (size_t i = 0; i < t->n_decs; i++) {
    free(t->decs[i].a);
    free(t->decs[i].b);
  }
  free(t->decs);
  for (size_t i = 0; i < t->n_added; i++) free(t->added[i].content);
  free(t->added);
  tok_map_free(&t->added_ids);
  free(t->raw_matcher.order);
  free(t->norm_matcher.order);
  free(t->prefix_ids.data);
  free(t->suffix_ids.data);
  free(t->extra_eos.data);
  free(t);
}
