/* ct_value.c — the interpreter's arena, buffers and values (construction, comparison, printing as
 * Python prints them, JSON as Python's json.dumps writes it). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_internal.h"

/* ---- arena ---- */
struct ct_arena_block {
  ct_arena_block *next;
  size_t size, used;
  _Alignas(max_align_t) unsigned char data[];
};

enum { ARENA_BLOCK = 64 * 1024 };

void *ct_alloc(ct_arena *a, size_t size) {
  size_t align = _Alignof(max_align_t);
  size = (size + align - 1) / align * align;
  if (size == 0) size = align;
  if (a->limit && (size > a->limit || a->used > a->limit - size)) return NULL;
  ct_arena_block *b = a->head;
  if (!b || b->size - b->used < size) {
    size_t block = size > ARENA_BLOCK ? size : ARENA_BLOCK;
    b = malloc(sizeof *b + block);
    if (!b) return NULL;
    b->next = a->head;
    b->size = block;
    b->used = 0;
    a->head = b;
  }
  void *p = b->data + b->used;
  b->used += size;
  a->used += size;
  memset(p, 0, size);
  return p;
}

void ct_arena_free(ct_arena *a) {
  for (ct_arena_block *b = a->head, *next; b; b = next) {
    next = b->next;
    free(b);
  }
  a->head = NULL;
  a->used = 0;
}

char *ct_strndup(ct_arena *a, const char *s, size_t n) {
  char *p = ct_alloc(a, n + 1);
  if (p && n) memcpy(p, s, n);
  return p;
}

bool ct_str_eq(ct_str a, const char *lit) {
  size_t n = strlen(lit);
  return a.n == n && memcmp(a.s, lit, n) == 0;
}

/* ---- buffers ---- */
bool ct_buf_put(ct_buf *b, const char *s, size_t n) {
  if (b->over) return false;
  if (b->limit && (n > b->limit || b->len > b->limit - n)) {
    b->over = true;
    return false;
  }
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
      b->over = true;
      return false;
    }
    b->data = p;
    b->cap = cap;
  }
  if (n) memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
  return true;
}

bool ct_buf_putc(ct_buf *b, char c) { return ct_buf_put(b, &c, 1); }

bool ct_buf_printf(ct_buf *b, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return false;
  return ct_buf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* ---- constructors ---- */
ct_value ct_undef(ct_str name) { return (ct_value){.type = CT_UNDEF, .u.s = name}; }
ct_value ct_none(void) { return (ct_value){.type = CT_NONE}; }
ct_value ct_bool(bool b) { return (ct_value){.type = CT_BOOL, .u.b = b}; }
ct_value ct_int(int64_t i) { return (ct_value){.type = CT_INT, .u.i = i}; }
ct_value ct_float(double f) { return (ct_value){.type = CT_FLOAT, .u.f = f}; }
ct_value ct_string(ct_str s) { return (ct_value){.type = CT_STR, .u.s = s}; }
ct_value ct_cstring(const char *s) { return ct_string((ct_str){s, strlen(s)}); }

ct_list *ct_list_new(ct_arena *a, int64_t n) {
  ct_list *l = ct_alloc(a, sizeof *l);
  if (!l) return NULL;
  l->n = n;
  if (n > 0 && !(l->items = ct_alloc(a, (size_t)n * sizeof *l->items))) return NULL;
  return l;
}

ct_dict *ct_dict_new(ct_arena *a, int64_t cap) {
  ct_dict *d = ct_alloc(a, sizeof *d);
  if (!d) return NULL;
  if (cap < 4) cap = 4;
  d->keys = ct_alloc(a, (size_t)cap * sizeof *d->keys);
  d->vals = ct_alloc(a, (size_t)cap * sizeof *d->vals);
  if (!d->keys || !d->vals) return NULL;
  d->cap = cap;
  return d;
}

ct_value *ct_dict_get(const ct_dict *d, ct_str key) {
  for (int64_t i = 0; i < d->n; i++)
    if (d->keys[i].n == key.n && memcmp(d->keys[i].s, key.s, key.n) == 0) return &d->vals[i];
  return NULL;
}

bool ct_dict_set(ct_arena *a, ct_dict *d, ct_str key, ct_value val) {
  ct_value *slot = ct_dict_get(d, key);
  if (slot) {
    *slot = val;
    return true;
  }
  if (d->n == d->cap) {
    int64_t cap = d->cap * 2;
    ct_str *keys = ct_alloc(a, (size_t)cap * sizeof *keys);
    ct_value *vals = ct_alloc(a, (size_t)cap * sizeof *vals);
    if (!keys || !vals) return false;
    memcpy(keys, d->keys, (size_t)d->n * sizeof *keys);
    memcpy(vals, d->vals, (size_t)d->n * sizeof *vals);
    d->keys = keys;
    d->vals = vals;
    d->cap = cap;
  }
  d->keys[d->n] = key;
  d->vals[d->n] = val;
  d->n++;
  return true;
}

bool ct_from_json(ct_arena *a, const cJSON *j, ct_value *out) {
  if (cJSON_IsNull(j)) {
    *out = ct_none();
  } else if (cJSON_IsBool(j)) {
    *out = ct_bool(cJSON_IsTrue(j));
  } else if (cJSON_IsNumber(j)) {
    double v = j->valuedouble;
    bool integral = v == floor(v) && fabs(v) <= 9007199254740992.0;
    *out = integral ? ct_int((int64_t)v) : ct_float(v);
  } else if (cJSON_IsString(j)) {
    const char *s = j->valuestring ? j->valuestring : "";
    char *copy = ct_strndup(a, s, strlen(s));
    if (!copy) return false;
    *out = ct_string((ct_str){copy, strlen(s)});
  } else if (cJSON_IsArray(j)) {
    ct_list *l = ct_list_new(a, cJSON_GetArraySize(j));
    if (!l) return false;
    int64_t i = 0;
    for (const cJSON *c = j->child; c; c = c->next)
      if (!ct_from_json(a, c, &l->items[i++])) return false;
    *out = (ct_value){.type = CT_LIST, .u.list = l};
  } else if (cJSON_IsObject(j)) {
    ct_dict *d = ct_dict_new(a, cJSON_GetArraySize(j));
    if (!d) return false;
    for (const cJSON *c = j->child; c; c = c->next) {
      ct_value v;
      const char *k = c->string ? c->string : "";
      char *key = ct_strndup(a, k, strlen(k));
      if (!key || !ct_from_json(a, c, &v) || !ct_dict_set(a, d, (ct_str){key, strlen(k)}, v))
        return false;
    }
    *out = (ct_value){.type = CT_DICT, .u.dict = d};
  } else {
    *out = ct_none();
  }
  return true;
}

/* ---- truth, types, equality ---- */
bool ct_truthy(ct_value v) {
  switch (v.type) {
  case CT_UNDEF:
  case CT_NONE:
    return false;
  case CT_BOOL:
    return v.u.b;
  case CT_INT:
    return v.u.i != 0;
  case CT_FLOAT:
    return v.u.f != 0.0;
  case CT_STR:
    return v.u.s.n != 0;
  case CT_LIST:
    return v.u.list->n != 0;
  case CT_DICT:
    return v.u.dict->n != 0;
  default:
    return true;
  }
}

const char *ct_type_name(ct_value v) {
  static const char *const names[] = {"undefined", "none",   "boolean", "integer",
                                      "float",     "string", "list",    "dict",
                                      "namespace", "macro",  "function"};
  return names[v.type];
}

const char *ct_a_type_name(ct_value v) {
  static const char *const names[] = {
      "an undefined value", "none",   "a boolean", "an integer",  "a float",
      "a string",           "a list", "a dict",    "a namespace", "a macro",
      "a function"};
  return names[v.type];
}

static bool is_number(ct_value v) {
  return v.type == CT_INT || v.type == CT_FLOAT || v.type == CT_BOOL;
}

static double as_double(ct_value v) {
  return v.type == CT_FLOAT ? v.u.f : v.type == CT_INT ? (double)v.u.i : (double)v.u.b;
}

static bool equal_at(ct_value a, ct_value b, int depth);

bool ct_equal(ct_value a, ct_value b) { return equal_at(a, b, 0); }

/* Containers nested deeper than CT_MAX_NESTING (built by a template in a loop) compare unequal
 * rather than recursing without bound. */
static bool equal_at(ct_value a, ct_value b, int depth) {
  if (is_number(a) && is_number(b)) {
    if (a.type != CT_FLOAT && b.type != CT_FLOAT)
      return (a.type == CT_INT ? a.u.i : a.u.b) == (b.type == CT_INT ? b.u.i : b.u.b);
    return as_double(a) == as_double(b);
  }
  if (a.type != b.type) return false;
  switch (a.type) {
  case CT_UNDEF:
  case CT_NONE:
    return true;
  case CT_STR:
    return a.u.s.n == b.u.s.n && memcmp(a.u.s.s, b.u.s.s, a.u.s.n) == 0;
  case CT_LIST:
    if (a.u.list->n != b.u.list->n) return false;
    for (int64_t i = 0; i < a.u.list->n; i++)
      if (depth > CT_MAX_NESTING || !equal_at(a.u.list->items[i], b.u.list->items[i], depth + 1))
        return false;
    return true;
  case CT_DICT:
    if (a.u.dict->n != b.u.dict->n) return false;
    for (int64_t i = 0; i < a.u.dict->n; i++) {
      ct_value *other = ct_dict_get(b.u.dict, a.u.dict->keys[i]);
      if (!other || depth > CT_MAX_NESTING || !equal_at(a.u.dict->vals[i], *other, depth + 1))
        return false;
    }
    return true;
  case CT_NS:
    return a.u.dict == b.u.dict;
  case CT_MACRO:
    return a.u.macro == b.u.macro;
  case CT_GLOBAL:
    return a.u.global == b.u.global;
  default:
    return false;
  }
}

/* ---- printing ---- */
void ct_format_float(double f, char *out, size_t size) {
  if (isnan(f)) {
    snprintf(out, size, "nan");
    return;
  }
  if (isinf(f)) {
    snprintf(out, size, f < 0 ? "-inf" : "inf");
    return;
  }
  char digits[40];
  int precision = 1;
  for (; precision < 17; precision++) {
    snprintf(digits, sizeof digits, "%.*e", precision - 1, f);
    if (strtod(digits, NULL) == f) break;
  }
  snprintf(digits, sizeof digits, "%.*e", precision - 1, f);
  /* digits = "-d.ddde+XX": Python prints plain notation when -4 <= exponent < 16. */
  int exponent = atoi(strchr(digits, 'e') + 1);
  if (exponent >= -4 && exponent < 16) {
    int decimals = precision - 1 - exponent;
    snprintf(out, size, "%.*f", decimals > 0 ? decimals : 0, f);
    if (decimals <= 0) strncat(out, ".0", size - strlen(out) - 1);
    return;
  }
  char mantissa[40];
  snprintf(mantissa, sizeof mantissa, "%.*e", precision - 1, f);
  *strchr(mantissa, 'e') = '\0';
  snprintf(out, size, "%se%c%02d", mantissa, exponent < 0 ? '-' : '+', abs(exponent));
}

static bool put_repr_string(ct_buf *b, ct_str s) {
  bool has_single = memchr(s.s, '\'', s.n) != NULL, has_double = memchr(s.s, '"', s.n) != NULL;
  char quote = has_single && !has_double ? '"' : '\'';
  bool ok = ct_buf_putc(b, quote);
  for (size_t i = 0; ok && i < s.n; i++) {
    unsigned char c = (unsigned char)s.s[i];
    if (c == '\\' || c == (unsigned char)quote)
      ok = ct_buf_putc(b, '\\') && ct_buf_putc(b, (char)c);
    else if (c == '\n')
      ok = ct_buf_put(b, "\\n", 2);
    else if (c == '\r')
      ok = ct_buf_put(b, "\\r", 2);
    else if (c == '\t')
      ok = ct_buf_put(b, "\\t", 2);
    else if (c < 0x20 || c == 0x7f)
      ok = ct_buf_printf(b, "\\x%02x", c);
    else
      ok = ct_buf_putc(b, (char)c);
  }
  return ok && ct_buf_putc(b, quote);
}

static bool text_at(ct_buf *b, ct_value v, int depth);

static bool repr_at(ct_buf *b, ct_value v, int depth) {
  if (v.type == CT_STR) return put_repr_string(b, v.u.s);
  return text_at(b, v, depth);
}

bool ct_repr(ct_buf *b, ct_value v) { return repr_at(b, v, 0); }
bool ct_to_text(ct_buf *b, ct_value v) { return text_at(b, v, 0); }

/* Containers nested deeper than CT_MAX_NESTING print as [...] / {...}, as Python prints
 * self-containing ones. */
static bool text_at(ct_buf *b, ct_value v, int depth) {
  char tmp[64];
  switch (v.type) {
  case CT_UNDEF:
    return true;
  case CT_NONE:
    return ct_buf_put(b, "None", 4);
  case CT_BOOL:
    return v.u.b ? ct_buf_put(b, "True", 4) : ct_buf_put(b, "False", 5);
  case CT_INT:
    return ct_buf_printf(b, "%lld", (long long)v.u.i);
  case CT_FLOAT:
    ct_format_float(v.u.f, tmp, sizeof tmp);
    return ct_buf_put(b, tmp, strlen(tmp));
  case CT_STR:
    return ct_buf_put(b, v.u.s.s, v.u.s.n);
  case CT_LIST: {
    if (depth > CT_MAX_NESTING) return ct_buf_put(b, "[...]", 5);
    bool tuple = v.u.list->tuple, ok = ct_buf_putc(b, tuple ? '(' : '[');
    for (int64_t i = 0; ok && i < v.u.list->n; i++)
      ok = (i == 0 || ct_buf_put(b, ", ", 2)) && repr_at(b, v.u.list->items[i], depth + 1);
    if (ok && tuple && v.u.list->n == 1) ok = ct_buf_putc(b, ',');
    return ok && ct_buf_putc(b, tuple ? ')' : ']');
  }
  case CT_DICT:
  case CT_NS: {
    if (depth > CT_MAX_NESTING) return ct_buf_put(b, "{...}", 5);
    bool ok = ct_buf_put(b, v.type == CT_NS ? "<Namespace {" : "{", v.type == CT_NS ? 12 : 1);
    for (int64_t i = 0; ok && i < v.u.dict->n; i++)
      ok = (i == 0 || ct_buf_put(b, ", ", 2)) && put_repr_string(b, v.u.dict->keys[i]) &&
           ct_buf_put(b, ": ", 2) && repr_at(b, v.u.dict->vals[i], depth + 1);
    return ok && ct_buf_put(b, v.type == CT_NS ? "}>" : "}", v.type == CT_NS ? 2 : 1);
  }
  case CT_MACRO:
    return ct_buf_put(b, "<macro>", 7);
  case CT_GLOBAL:
    return ct_buf_put(b, "<function>", 10);
  }
  return false;
}

static bool put_json_string(ct_buf *b, ct_str s) {
  bool ok = ct_buf_putc(b, '"');
  for (size_t i = 0; ok && i < s.n; i++) {
    unsigned char c = (unsigned char)s.s[i];
    static const char named[] = {'\b', 'b', '\f', 'f', '\n', 'n', '\r', 'r', '\t', 't'};
    const char *hit = NULL;
    for (size_t k = 0; k < sizeof named; k += 2)
      if (c == (unsigned char)named[k]) hit = &named[k + 1];
    if (c == '"' || c == '\\')
      ok = ct_buf_putc(b, '\\') && ct_buf_putc(b, (char)c);
    else if (hit)
      ok = ct_buf_putc(b, '\\') && ct_buf_putc(b, *hit);
    else if (c < 0x20)
      ok = ct_buf_printf(b, "\\u%04x", c);
    else
      ok = ct_buf_putc(b, (char)c);
  }
  return ok && ct_buf_putc(b, '"');
}

static bool put_json_newline(ct_buf *b, int indent, int depth) {
  if (indent < 0) return true;
  bool ok = ct_buf_putc(b, '\n');
  for (int i = 0; ok && i < indent * depth; i++) ok = ct_buf_putc(b, ' ');
  return ok;
}

bool ct_to_json(ct_buf *b, ct_value v, int indent, int depth, ct_value *bad) {
  char tmp[64];
  if (depth > CT_MAX_NESTING) {
    *bad = ct_undef((ct_str){"the value is nested too deeply", 30});
    return false;
  }
  const char *item_sep = indent >= 0 ? "," : ", ";
  switch (v.type) {
  case CT_NONE:
    return ct_buf_put(b, "null", 4);
  case CT_BOOL:
    return v.u.b ? ct_buf_put(b, "true", 4) : ct_buf_put(b, "false", 5);
  case CT_INT:
    return ct_buf_printf(b, "%lld", (long long)v.u.i);
  case CT_FLOAT:
    if (isnan(v.u.f)) return ct_buf_put(b, "NaN", 3);
    if (isinf(v.u.f))
      return v.u.f < 0 ? ct_buf_put(b, "-Infinity", 9) : ct_buf_put(b, "Infinity", 8);
    ct_format_float(v.u.f, tmp, sizeof tmp);
    return ct_buf_put(b, tmp, strlen(tmp));
  case CT_STR:
    return put_json_string(b, v.u.s);
  case CT_LIST: {
    if (v.u.list->n == 0) return ct_buf_put(b, "[]", 2);
    bool ok = ct_buf_putc(b, '[');
    for (int64_t i = 0; ok && i < v.u.list->n; i++)
      ok = (i == 0 || ct_buf_put(b, item_sep, strlen(item_sep))) &&
           put_json_newline(b, indent, depth + 1) &&
           ct_to_json(b, v.u.list->items[i], indent, depth + 1, bad);
    return ok && put_json_newline(b, indent, depth) && ct_buf_putc(b, ']');
  }
  case CT_DICT:
  case CT_NS: {
    if (v.u.dict->n == 0) return ct_buf_put(b, "{}", 2);
    bool ok = ct_buf_putc(b, '{');
    for (int64_t i = 0; ok && i < v.u.dict->n; i++)
      ok = (i == 0 || ct_buf_put(b, item_sep, strlen(item_sep))) &&
           put_json_newline(b, indent, depth + 1) && put_json_string(b, v.u.dict->keys[i]) &&
           ct_buf_put(b, ": ", 2) && ct_to_json(b, v.u.dict->vals[i], indent, depth + 1, bad);
    return ok && put_json_newline(b, indent, depth) && ct_buf_putc(b, '}');
  }
  default:
    *bad = v;
    return false;
  }
}

/* ---- UTF-8 ---- */
int32_t ct_utf8_next(ct_str s, size_t *pos) {
  const unsigned char *p = (const unsigned char *)s.s + *pos;
  size_t left = s.n - *pos;
  int len = p[0] < 0x80         ? 1
            : (p[0] >> 5) == 6  ? 2
            : (p[0] >> 4) == 14 ? 3
            : (p[0] >> 3) == 30 ? 4
                                : 0;
  if (len == 0 || (size_t)len > left) {
    *pos += 1;
    return p[0];
  }
  int32_t cp = len == 1 ? p[0] : p[0] & (0x7f >> len);
  for (int k = 1; k < len; k++) {
    if ((p[k] & 0xc0) != 0x80) {
      *pos += 1;
      return p[0];
    }
    cp = (cp << 6) | (p[k] & 0x3f);
  }
  *pos += (size_t)len;
  return cp;
}

int64_t ct_utf8_length(ct_str s) {
  int64_t n = 0;
  for (size_t pos = 0; pos < s.n; n++) ct_utf8_next(s, &pos);
  return n;
}

int64_t *ct_utf8_offsets(ct_arena *a, ct_str s, int64_t *n) {
  *n = ct_utf8_length(s);
  int64_t *off = ct_alloc(a, (size_t)(*n + 1) * sizeof *off);
  if (!off) return NULL;
  size_t pos = 0;
  for (int64_t i = 0; i < *n; i++) {
    off[i] = (int64_t)pos;
    ct_utf8_next(s, &pos);
  }
  off[*n] = (int64_t)s.n;
  return off;
}

bool ct_is_space(int32_t cp) {
  if ((cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20)) return true;
  if (cp < 0x85) return false;
  if (cp == 0x85 || cp == 0xa0 || cp == 0x1680 || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
      cp == 0x205f || cp == 0x3000)
    return true;
  return cp >= 0x2000 && cp <= 0x200a;
}

size_t ct_utf8_encode(char *out, uint32_t cp) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xc0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xe0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  out[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}
