/*
 * tok_load_ext.c — loading the WordPiece and Unigram models and the BERT / SentencePiece pipeline
 * components (BertNormalizer, Precompiled, Strip, Lowercase, StripAccents, BertPreTokenizer,
 * WhitespaceSplit, the WordPiece decoder, BertProcessing, RobertaProcessing) from tokenizer.json.
 *
 * As in tok_load.c every field is checked: a malformed value gives TTT_ERR_FORMAT naming the file
 * and the JSON path of the field. The precompiled character map is a binary blob inside the JSON;
 * it is checked whole at load time (every reachable trie unit and every string it points to), so
 * that normalizing never reads outside it.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

/* Same bound as tok_load.c: a hostile file cannot make us allocate huge id tables. */
#define EXT_MAX_ID ((1 << 24) - 1)

/* A penalty below the lowest piece score for an unknown character, as in HuggingFace. */
#define UNIGRAM_UNK_PENALTY 10.0

typedef struct ext_loader {
  ttt_tokenizer *t;
  const char *path;
} ext_loader;

/* ---- JSON fields ------------------------------------------------------------------------------
 */

static const cJSON *member(const cJSON *obj, const char *name) {
  return cJSON_GetObjectItemCaseSensitive(obj, name);
}

static bool absent(const cJSON *v) { return !v || cJSON_IsNull(v); }

static ttt_status bad(const ext_loader *L, const char *where, const char *name,
                      const char *expected) {
  return ttt_set_error(TTT_ERR_FORMAT, "%s: %s.%s: %s", L->path, where, name, expected);
}

static ttt_status opt_bool(const ext_loader *L, const cJSON *obj, const char *where,
                           const char *name, bool dflt, bool *out) {
  const cJSON *v = member(obj, name);
  *out = dflt;
  if (absent(v)) return TTT_OK;
  if (!cJSON_IsBool(v)) return bad(L, where, name, "expected true or false");
  *out = cJSON_IsTrue(v);
  return TTT_OK;
}

static bool int_in(const cJSON *v, int64_t lo, int64_t hi, int64_t *out) {
  if (!cJSON_IsNumber(v)) return false;
  double d = v->valuedouble;
  if (!(d >= (double)lo && d <= (double)hi) || d != (double)(int64_t)d) return false;
  *out = (int64_t)d;
  return true;
}

/* A required string that is valid UTF-8. */
static ttt_status req_string(const ext_loader *L, const cJSON *obj, const char *where,
                             const char *name, const char **out) {
  const cJSON *v = member(obj, name);
  if (!cJSON_IsString(v)) return bad(L, where, name, "expected a string");
  if (!tok_utf8_is_valid(v->valuestring, strlen(v->valuestring)))
    return bad(L, where, name, "not valid UTF-8");
  *out = v->valuestring;
  return TTT_OK;
}

static ttt_status copy_string(const char *s, size_t len, char **out) {
  char *p = malloc(len + 1);
  if (!p) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
  memcpy(p, s, len);
  p[len] = '\0';
  *out = p;
  return TTT_OK;
}

static ttt_status append_step(void **arr, size_t *n, size_t elem, void **out) {
  void *p = realloc(*arr, (*n + 1) * elem);
  if (!p) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
  *arr = p;
  *out = (char *)p + *n * elem;
  memset(*out, 0, elem);
  (*n)++;
  return TTT_OK;
}

static int32_t lookup(const ttt_tokenizer *t, const char *s, size_t len) {
  int64_t v;
  return tok_map_get(&t->vocab, s, len, &v) ? (int32_t)v : -1;
}

/* ---- WordPiece --------------------------------------------------------------------------------
 */

static ttt_status load_wordpiece_vocab(const ext_loader *L, const cJSON *vocab, int64_t *max_id) {
  ttt_tokenizer *t = L->t;
  ttt_status st = tok_map_init(&t->vocab, (size_t)cJSON_GetArraySize(vocab));
  for (const cJSON *e = vocab->child; e && !st; e = e->next) {
    int64_t id = 0;
    if (!int_in(e, 0, EXT_MAX_ID, &id))
      return ttt_set_error(TTT_ERR_FORMAT, "%s: model.vocab[\"%.64s\"]: expected an id in [0, %d]",
                           L->path, e->string, EXT_MAX_ID);
    bool inserted;
    st = tok_map_put(&t->vocab, e->string, strlen(e->string), id, &inserted);
    if (!st && !inserted)
      return ttt_set_error(TTT_ERR_FORMAT, "%s: model.vocab: token \"%.64s\" appears twice",
                           L->path, e->string);
    if (id > *max_id) *max_id = id;
    size_t len = strlen(e->string);
    if (len > t->wordpiece.longest_token) t->wordpiece.longest_token = len;
  }
  return st;
}

static ttt_status load_wordpiece(const ext_loader *L, const cJSON *model, int64_t *max_id) {
  ttt_tokenizer *t = L->t;
  const cJSON *vocab = member(model, "vocab");
  if (!cJSON_IsObject(vocab)) return bad(L, "model", "vocab", "expected an object");
  ttt_status st = load_wordpiece_vocab(L, vocab, max_id);
  if (st) return st;
  const char *unk = "[UNK]", *prefix = "##";
  if (!absent(member(model, "unk_token"))) st = req_string(L, model, "model", "unk_token", &unk);
  if (!st && !absent(member(model, "continuing_subword_prefix")))
    st = req_string(L, model, "model", "continuing_subword_prefix", &prefix);
  if (st) return st;
  const cJSON *max_chars = member(model, "max_input_chars_per_word");
  t->wordpiece.max_chars = 100;
  if (!absent(max_chars) && !int_in(max_chars, 0, INT32_MAX, &t->wordpiece.max_chars))
    return bad(L, "model", "max_input_chars_per_word", "expected an integer in [0, 2147483647]");
  /* HuggingFace fails only when an unknown word needs the token: unk_id stays -1 until then */
  t->unk_id = lookup(t, unk, strlen(unk));
  t->model = TOK_MODEL_WORDPIECE;
  t->wordpiece.prefix_len = strlen(prefix);
  return copy_string(prefix, strlen(prefix), &t->wordpiece.prefix);
}

/* ---- Unigram ----------------------------------------------------------------------------------
 */

/* Inserts a piece into the byte trie (see tok_unigram); *nodes counts the nodes so far. */
static void trie_insert(tok_pair_map *trie, const char *s, size_t len, int32_t id, int32_t *nodes) {
  int32_t node = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char b = (unsigned char)s[i];
    const tok_pair_slot *slot = tok_pair_map_get(trie, node, b);
    int32_t child = slot ? slot->rank : (*nodes)++;
    int32_t ending = slot ? slot->merged : -1;
    if (i + 1 == len) ending = id;
    if (!slot || ending != slot->merged) tok_pair_map_set(trie, node, b, child, ending);
    node = child;
  }
}

static ttt_status unigram_entry(const ext_loader *L, const cJSON *e, int64_t i, const char **piece,
                                double *score) {
  const cJSON *p = cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 ? e->child : NULL;
  if (!p || !cJSON_IsString(p) || !cJSON_IsNumber(p->next))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: model.vocab[%lld]: expected [\"piece\", score]",
                         L->path, (long long)i);
  if (!tok_utf8_is_valid(p->valuestring, strlen(p->valuestring)))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: model.vocab[%lld]: piece is not valid UTF-8", L->path,
                         (long long)i);
  *piece = p->valuestring;
  *score = p->next->valuedouble;
  return TTT_OK;
}

static ttt_status load_unigram_vocab(const ext_loader *L, const cJSON *vocab, int64_t *max_id) {
  ttt_tokenizer *t = L->t;
  tok_unigram *u = &t->unigram;
  int64_t n = cJSON_GetArraySize(vocab);
  if (n == 0) return bad(L, "model", "vocab", "is empty");
  if (n > EXT_MAX_ID + 1) return bad(L, "model", "vocab", "more than 2^24 pieces");
  size_t total_bytes = 0;
  for (const cJSON *e = vocab->child; e; e = e->next)
    if (cJSON_IsArray(e) && cJSON_IsString(e->child)) total_bytes += strlen(e->child->valuestring);
  u->scores = malloc((size_t)n * sizeof *u->scores);
  if (!u->scores) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
  ttt_status st = tok_map_init(&t->vocab, (size_t)n);
  if (!st) st = tok_pair_map_init(&u->trie, total_bytes + 1);
  double min_score = 0;
  int32_t nodes = 1;
  int64_t i = 0;
  for (const cJSON *e = vocab->child; e && !st; e = e->next, i++) {
    const char *piece = NULL;
    st = unigram_entry(L, e, i, &piece, &u->scores[i]);
    if (st) return st;
    bool inserted = false;
    st = tok_map_put(&t->vocab, piece, strlen(piece), i, &inserted);
    if (!st && !inserted)
      return ttt_set_error(TTT_ERR_FORMAT, "%s: model.vocab[%lld]: piece \"%.64s\" appears twice",
                           L->path, (long long)i, piece);
    trie_insert(&u->trie, piece, strlen(piece), (int32_t)i, &nodes);
    if (i == 0 || u->scores[i] < min_score) min_score = u->scores[i];
  }
  u->unk_score = min_score - UNIGRAM_UNK_PENALTY;
  *max_id = n - 1;
  return st;
}

static ttt_status load_unigram(const ext_loader *L, const cJSON *model, int64_t *max_id) {
  ttt_tokenizer *t = L->t;
  const cJSON *vocab = member(model, "vocab");
  if (!cJSON_IsArray(vocab)) return bad(L, "model", "vocab", "expected an array");
  ttt_status st = load_unigram_vocab(L, vocab, max_id);
  if (!st) st = opt_bool(L, model, "model", "byte_fallback", false, &t->byte_fallback);
  if (st) return st;
  const cJSON *unk = member(model, "unk_id");
  int64_t unk_id = -1;
  if (!absent(unk) && !int_in(unk, 0, *max_id, &unk_id)) {
    char msg[64];
    snprintf(msg, sizeof msg, "expected null or an id in [0, %lld]", (long long)*max_id);
    return bad(L, "model", "unk_id", msg);
  }
  t->unk_id = (int32_t)unk_id;
  t->fuse_unk = true; /* HuggingFace's Unigram always fuses unknown characters */
  for (int b = 0; b < 256; b++) {
    char name[8];
    snprintf(name, sizeof name, "<0x%02X>", b);
    t->byte_ids[b] = t->byte_fallback ? lookup(t, name, 6) : -1;
  }
  t->model = TOK_MODEL_UNIGRAM;
  return TTT_OK;
}

ttt_status tok_load_model_ext(ttt_tokenizer *t, const char *path, const cJSON *model,
                              const char *type, int64_t *max_id) {
  ext_loader L = {t, path};
  if (strcmp(type, "WordPiece") == 0) return load_wordpiece(&L, model, max_id);
  if (strcmp(type, "Unigram") == 0) return load_unigram(&L, model, max_id);
  return ttt_set_error(TTT_ERR_UNSUPPORTED,
                       "%s: model.type: unsupported '%s' (supported: BPE, WordPiece, Unigram)",
                       path, type);
}

/* ---- Precompiled ------------------------------------------------------------------------------
 */

static int base64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/* Standard base64 with '=' padding; false on any other character or a bad length. */
static bool base64_decode(const char *s, size_t n, tok_buf *out) {
  if (n % 4 != 0) return false;
  for (size_t i = 0; i < n; i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; k++) {
      bool last_group = i + 4 == n;
      if (last_group && k >= 2 && s[i + k] == '=' && (k == 3 || s[i + 3] == '=')) {
        v[k] = 0;
        pad++;
        continue;
      }
      v[k] = base64_value((unsigned char)s[i + k]);
      if (v[k] < 0) return false;
    }
    uint32_t bits = (uint32_t)(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
    char bytes[3] = {(char)(bits >> 16), (char)(bits >> 8), (char)bits};
    if (tok_buf_append(out, bytes, (size_t)(3 - pad))) return false;
  }
  return true;
}

static uint32_t read_u32le(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* darts-clone unit layout (as SentencePiece writes it). */
static uint32_t unit_label(uint32_t u) { return u & (0x80000000u | 0xFFu); }
static bool unit_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static uint32_t unit_value(uint32_t u) { return u & 0x7FFFFFFFu; }
static uint64_t unit_offset(uint32_t u) { return (uint64_t)(u >> 10) << ((u & (1u << 9)) >> 6); }

/* A leaf's value is the offset of a NUL-terminated UTF-8 string in the strings after the trie. */
static ttt_status check_leaf(const ext_loader *L, const char *where, const unsigned char *strings,
                             size_t strings_len, uint32_t value) {
  if (value >= strings_len)
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: %s.precompiled_charsmap: a trie leaf points at byte %u of %zu bytes "
                         "of normalized strings",
                         L->path, where, value, strings_len);
  const unsigned char *s = strings + value;
  const unsigned char *end = memchr(s, 0, strings_len - value);
  size_t len = end ? (size_t)(end - s) : strings_len - value;
  if (!tok_utf8_is_valid((const char *)s, len))
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: %s.precompiled_charsmap: the normalized string at byte %u is not "
                         "valid UTF-8",
                         L->path, where, value);
  return TTT_OK;
}

/* Walks every node reachable from the root (each once) and checks each leaf. Children of a node p
 * are at p ^ c for bytes c = 1..255 whose unit carries the label c; lookups treat an index beyond
 * the array as "no child", so only leaves must be in bounds. */
static ttt_status check_trie(const ext_loader *L, const char *where, const unsigned char *units_raw,
                             size_t n, const unsigned char *strings, size_t strings_len) {
  uint8_t *seen = calloc(n, 1);
  size_t *stack = malloc(n * sizeof *stack);
  ttt_status st = TTT_OK;
  if (!seen || !stack) st = ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
  size_t top = 0;
  uint64_t root = unit_offset(read_u32le(units_raw));
  if (!st && root < n) {
    seen[root] = 1;
    stack[top++] = (size_t)root;
  }
  while (!st && top > 0) {
    size_t p = stack[--top];
    for (uint32_t c = 1; c < 256 && !st; c++) {
      size_t q = p ^ c;
      if (q >= n) continue;
      uint32_t u = read_u32le(units_raw + 4 * q);
      if (unit_label(u) != c) continue;
      uint64_t child = q ^ unit_offset(u);
      if (unit_has_leaf(u)) {
        if (child >= n)
          st = ttt_set_error(TTT_ERR_FORMAT,
                             "%s: %s.precompiled_charsmap: a trie leaf at unit %llu is beyond the "
                             "%zu units",
                             L->path, where, (unsigned long long)child, n);
        else
          st = check_leaf(L, where, strings, strings_len,
                          unit_value(read_u32le(units_raw + 4 * child)));
      }
      if (!st && child < n && !seen[child]) {
        seen[child] = 1;
        stack[top++] = (size_t)child;
      }
    }
  }
  free(seen);
  free(stack);
  return st;
}

static ttt_status load_precompiled(const ext_loader *L, const cJSON *n, const char *where,
                                   tok_norm *step) {
  const cJSON *v = member(n, "precompiled_charsmap");
  if (!cJSON_IsString(v)) return bad(L, where, "precompiled_charsmap", "expected a string");
  tok_buf blob = {0};
  if (!base64_decode(v->valuestring, strlen(v->valuestring), &blob)) {
    tok_buf_free(&blob);
    return bad(L, where, "precompiled_charsmap", "not valid base64");
  }
  step->a = blob.data;
  step->a_len = blob.len;
  if (blob.len < 4)
    return bad(L, where, "precompiled_charsmap", "shorter than its 4-byte trie size");
  uint32_t trie_bytes = read_u32le((const unsigned char *)blob.data);
  if (trie_bytes == 0 || trie_bytes % 4 != 0 || trie_bytes > blob.len - 4)
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: %s.precompiled_charsmap: trie size %u is not a non-zero multiple of "
                         "4 within the %zu bytes after it",
                         L->path, where, trie_bytes, blob.len - 4);
  step->trie_units = trie_bytes / 4;
  const unsigned char *units = (const unsigned char *)blob.data + 4;
  return check_trie(L, where, units, step->trie_units, units + trie_bytes,
                    blob.len - 4 - trie_bytes);
}

/* ---- normalizers ------------------------------------------------------------------------------
 */

static ttt_status load_bert_normalizer(const ext_loader *L, const cJSON *n, const char *where,
                                       tok_norm *step) {
  ttt_status st = opt_bool(L, n, where, "clean_text", true, &step->clean_text);
  if (!st) st = opt_bool(L, n, where, "handle_chinese_chars", true, &step->chinese_chars);
  if (!st) st = opt_bool(L, n, where, "lowercase", true, &step->lowercase);
  /* strip_accents: null follows lowercase (HuggingFace's default) */
  if (!st) st = opt_bool(L, n, where, "strip_accents", step->lowercase, &step->strip_accents);
  return st;
}

ttt_status tok_load_normalizer_ext(ttt_tokenizer *t, const char *path, const cJSON *n,
                                   const char *where, const char *type, bool *handled) {
  static const struct {
    const char *name;
    tok_norm_kind kind;
  } kinds[] = {{"BertNormalizer", TOK_NORM_BERT},
               {"Precompiled", TOK_NORM_PRECOMPILED},
               {"Strip", TOK_NORM_STRIP},
               {"Lowercase", TOK_NORM_LOWERCASE},
               {"StripAccents", TOK_NORM_STRIP_ACCENTS}};
  size_t k = 0;
  while (k < sizeof kinds / sizeof kinds[0] && strcmp(kinds[k].name, type) != 0) k++;
  *handled = k < sizeof kinds / sizeof kinds[0];
  if (!*handled) return TTT_OK;
  ext_loader L = {t, path};
  tok_norm *step;
  ttt_status st = append_step((void **)&t->norms, &t->n_norms, sizeof *step, (void **)&step);
  if (st) return st;
  step->kind = kinds[k].kind;
  switch (step->kind) {
  case TOK_NORM_BERT:
    return load_bert_normalizer(&L, n, where, step);
  case TOK_NORM_PRECOMPILED:
    return load_precompiled(&L, n, where, step);
  case TOK_NORM_STRIP:
    st = opt_bool(&L, n, where, "strip_left", true, &step->strip_left);
    return st ? st : opt_bool(&L, n, where, "strip_right", true, &step->strip_right);
  default:
    return TTT_OK;
  }
}

/* ---- pre-tokenizers, decoders, post-processors ------------------------------------------------
 */

ttt_status tok_load_pretokenizer_ext(ttt_tokenizer *t, const char *path, const cJSON *n,
                                     const char *where, const char *type, bool *handled) {
  (void)path, (void)n, (void)where;
  bool bert = strcmp(type, "BertPreTokenizer") == 0;
  *handled = bert || strcmp(type, "WhitespaceSplit") == 0;
  if (!*handled) return TTT_OK;
  tok_pre *step;
  ttt_status st = append_step((void **)&t->pres, &t->n_pres, sizeof *step, (void **)&step);
  if (!st) step->kind = bert ? TOK_PRE_BERT : TOK_PRE_WHITESPACE_SPLIT;
  return st;
}

ttt_status tok_load_decoder_ext(ttt_tokenizer *t, const char *path, const cJSON *n,
                                const char *where, const char *type, bool *handled) {
  *handled = strcmp(type, "WordPiece") == 0;
  if (!*handled) return TTT_OK;
  ext_loader L = {t, path};
  tok_dec *step;
  ttt_status st = append_step((void **)&t->decs, &t->n_decs, sizeof *step, (void **)&step);
  if (st) return st;
  step->kind = TOK_DEC_WORDPIECE;
  const char *prefix = "##";
  if (!absent(member(n, "prefix"))) st = req_string(&L, n, where, "prefix", &prefix);
  if (!st) st = opt_bool(&L, n, where, "cleanup", true, &step->cleanup);
  if (!st) st = copy_string(prefix, strlen(prefix), &step->a);
  step->a_len = strlen(prefix);
  return st;
}

/* "sep" / "cls": ["[SEP]", 102]; the id is used as given, as HuggingFace does. */
static ttt_status special_pair(const ext_loader *L, const cJSON *p, const char *where,
                               const char *name, int32_t *id) {
  const cJSON *v = member(p, name);
  const cJSON *s = cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2 ? v->child : NULL;
  int64_t value = 0;
  if (!s || !cJSON_IsString(s) || !int_in(s->next, 0, L->t->vocab_size - 1, &value)) {
    char msg[96];
    snprintf(msg, sizeof msg, "expected [\"token\", id] with an id in [0, %lld]",
             (long long)(L->t->vocab_size - 1));
    return bad(L, where, name, msg);
  }
  *id = (int32_t)value;
  return TTT_OK;
}

ttt_status tok_load_post_processor_ext(ttt_tokenizer *t, const char *path, const cJSON *p,
                                       const char *where, const char *type, bool *handled) {
  *handled = strcmp(type, "BertProcessing") == 0 || strcmp(type, "RobertaProcessing") == 0;
  if (!*handled) return TTT_OK;
  ext_loader L = {t, path};
  int32_t cls = -1, sep = -1;
  ttt_status st = special_pair(&L, p, where, "cls", &cls);
  if (!st) st = special_pair(&L, p, where, "sep", &sep);
  if (st) return st;
  /* a single sequence is [CLS] $A [SEP] (RoBERTa: <s> $A </s>) */
  t->has_template = true;
  t->prefix_ids.len = t->suffix_ids.len = 0;
  st = tok_ids_push(&t->prefix_ids, cls);
  return st ? st : tok_ids_push(&t->suffix_ids, sep);
}

void tok_ext_free(ttt_tokenizer *t) {
  free(t->wordpiece.prefix);
  tok_pair_map_free(&t->unigram.trie);
  free(t->unigram.scores);
}
