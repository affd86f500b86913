/* ct_builtins.c — Jinja2's filters and tests, Python's string and dict methods, and the global
 * functions transformers gives chat templates (range, namespace, dict, raise_exception,
 * strftime_now). Anything else is an error that names it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <utf8proc.h>

#include "ct_internal.h"

/* ---- argument helpers ---- */

/* The argument at `index` or keyword `name`; false when not given. */
static bool arg(const ct_args *a, int64_t index, const char *name, ct_value *out) {
  if (index >= 0 && index < a->n) {
    *out = a->pos[index];
    return true;
  }
  for (int64_t k = 0; name && k < a->n_kw; k++)
    if (ct_str_eq(a->kwnames[k], name)) {
      *out = a->kwvals[k];
      return true;
    }
  return false;
}

/* Refuses arguments beyond `max_pos` positional ones and keywords not in the NULL-terminated
 * `names`. */
static bool check_args(ct_render *r, const ct_node *at, const char *what, const ct_args *a,
                       int64_t max_pos, const char *const *names) {
  if (a->n > max_pos)
    return ct_fail(r, at, "%s takes at most %lld positional argument(s), got %lld", what,
                   (long long)max_pos, (long long)a->n);
  for (int64_t k = 0; k < a->n_kw; k++) {
    bool known = false;
    for (int i = 0; names && names[i]; i++) known |= ct_str_eq(a->kwnames[k], names[i]);
    if (!known)
      return ct_fail(r, at, "%s got an unexpected keyword argument '%.*s'", what,
                     (int)a->kwnames[k].n, a->kwnames[k].s);
  }
  return true;
}

static bool want_string(ct_render *r, const ct_node *at, const char *what, ct_value v,
                        ct_str *out) {
  if (v.type != CT_STR) return ct_fail(r, at, "%s expects a string, got %s", what, ct_type_name(v));
  *out = v.u.s;
  return true;
}

static bool want_int(ct_render *r, const ct_node *at, const char *what, ct_value v, int64_t *out) {
  if (v.type == CT_INT || v.type == CT_BOOL) {
    *out = v.type == CT_INT ? v.u.i : v.u.b;
    return true;
  }
  return ct_fail(r, at, "%s expects an integer, got %s", what, ct_type_name(v));
}

static ct_value list_value(ct_list *l) { return (ct_value){.type = CT_LIST, .u.list = l}; }

static bool new_string(ct_render *r, const ct_node *at, const char *s, size_t n, ct_value *out) {
  char *copy = ct_strndup(&r->arena, s, n);
  if (!copy) return ct_fail_memory(r, at);
  *out = ct_string((ct_str){copy, n});
  return true;
}

/* ---- string helpers ---- */

/* True if code point cp is in `chars` (NULL chars: Python whitespace). */
static bool in_set(int32_t cp, const ct_str *chars) {
  if (!chars) return ct_is_space(cp);
  for (size_t pos = 0; pos < chars->n;)
    if (ct_utf8_next(*chars, &pos) == cp) return true;
  return false;
}

/* str.strip/lstrip/rstrip: which = 'b' both, 'l' left, 'r' right. */
static ct_str strip(ct_str s, const ct_str *chars, char which) {
  size_t start = 0, end = s.n;
  if (which != 'r') {
    while (start < s.n) {
      size_t next = start;
      if (!in_set(ct_utf8_next(s, &next), chars)) break;
      start = next;
    }
  }
  if (which != 'l') {
    while (end > start) {
      size_t back = end - 1;
      while (back > start && ((unsigned char)s.s[back] & 0xc0) == 0x80) back--;
      size_t p = back;
      int32_t cp = ct_utf8_next(s, &p);
      if (p != end) back = end - 1, cp = (unsigned char)s.s[end - 1]; /* invalid tail byte */
      if (!in_set(cp, chars)) break;
      end = back;
    }
  }
  return (ct_str){s.s + start, end - start};
}

static bool strip_value(ct_render *r, const ct_node *at, const char *what, ct_value v,
                        const ct_args *a, char which, ct_value *out) {
  ct_value chars_v;
  ct_str s, chars;
  static const char *const names[] = {"chars", NULL};
  if (!check_args(r, at, what, a, 1, names)) return false;
  bool has_chars = arg(a, 0, "chars", &chars_v) && chars_v.type != CT_NONE;
  if (has_chars && !want_string(r, at, what, chars_v, &chars)) return false;
  if (!ct_stringify(r, at, v, &s)) return false;
  *out = ct_string(strip(s, has_chars ? &chars : NULL, which));
  return true;
}

/* Maps every code point through f (utf8proc case mappings); bytes that map to themselves are
 * copied unchanged. mode: 'l' lower, 'u' upper, 'c' capitalize, 't' title. */
static bool map_case(ct_render *r, const ct_node *at, ct_str s, char mode, ct_value *out) {
  char *buf = ct_alloc(&r->arena, s.n * 2 + 4);
  if (!buf) return ct_fail_memory(r, at);
  size_t n = 0;
  bool word_start = true;
  for (size_t pos = 0, i = 0; pos < s.n; i++) {
    size_t begin = pos;
    int32_t cp = ct_utf8_next(s, &pos);
    bool upper = mode == 'u' || (mode == 'c' && i == 0) || (mode == 't' && word_start);
    int32_t mapped = upper ? utf8proc_toupper(cp) : utf8proc_tolower(cp);
    if (mode == 't') {
      utf8proc_category_t cat = utf8proc_category(cp);
      word_start = !(cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) &&
                   !(cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
    }
    if (mapped == cp || pos - begin > 4 || mapped > 0x10ffff || mapped < 0) {
      memcpy(buf + n, s.s + begin, pos - begin);
      n += pos - begin;
    } else {
      n += ct_utf8_encode(buf + n, (uint32_t)mapped);
    }
  }
  *out = ct_string((ct_str){buf, n});
  return true;
}

static bool replace(ct_render *r, const ct_node *at, ct_str s, ct_str old, ct_str repl,
                    int64_t count, ct_value *out) {
  ct_buf b = {.limit = CT_MAX_OUTPUT_BYTES};
  bool ok = true;
  int64_t done = 0;
  size_t i = 0;
  if (old.n == 0) {
    /* Python inserts the replacement before every character and at the end */
    for (size_t pos = 0; ok && pos <= s.n && (count < 0 || done < count); done++) {
      size_t begin = pos;
      ok = ct_buf_put(&b, repl.s, repl.n);
      if (pos == s.n) {
        i = s.n;
        break;
      }
      ct_utf8_next(s, &pos);
      ok = ok && ct_buf_put(&b, s.s + begin, pos - begin);
      i = pos;
    }
  } else {
    while (ok && i + old.n <= s.n && (count < 0 || done < count)) {
      const char *hit = NULL;
      for (size_t k = i; k + old.n <= s.n && !hit; k++)
        if (memcmp(s.s + k, old.s, old.n) == 0) hit = s.s + k;
      if (!hit) break;
      ok = ct_buf_put(&b, s.s + i, (size_t)(hit - (s.s + i))) && ct_buf_put(&b, repl.s, repl.n);
      i = (size_t)(hit - s.s) + old.n;
      done++;
    }
  }
  ok = ok && ct_buf_put(&b, s.s + i, s.n - i);
  bool result =
      ok ? new_string(r, at, b.data ? b.data : "", b.len, out)
         : ct_fail(r, at, "replace: the result exceeds %zu MiB", CT_MAX_OUTPUT_BYTES >> 20);
  free(b.data);
  return result;
}

static bool split(ct_render *r, const ct_node *at, ct_str s, const ct_str *sep, int64_t maxsplit,
                  ct_value *out) {
  int64_t cap = 8, n = 0;
  ct_value *items = ct_alloc(&r->arena, (size_t)cap * sizeof *items);
  if (!items) return ct_fail_memory(r, at);
  size_t i = 0;
  for (;;) {
    size_t start = i, end = s.n, next = s.n;
    if (!sep) { /* runs of whitespace separate; no empty pieces */
      start = strip((ct_str){s.s + i, s.n - i}, NULL, 'l').s - s.s;
      if (start == s.n) break;
      end = start;
      if (maxsplit < 0 || n < maxsplit) {
        while (end < s.n) {
          size_t p = end;
          if (ct_is_space(ct_utf8_next(s, &p))) break;
          end = p;
        }
      } else {
        end = strip((ct_str){s.s + start, s.n - start}, NULL, 'r').n + start;
      }
      next = end;
    } else if (maxsplit < 0 || n < maxsplit) {
      for (size_t k = i; k + sep->n <= s.n; k++)
        if (memcmp(s.s + k, sep->s, sep->n) == 0) {
          end = k;
          next = k + sep->n;
          break;
        }
    }
    if (n == cap) {
      ct_value *grown = ct_alloc(&r->arena, (size_t)cap * 2 * sizeof *grown);
      if (!grown) return ct_fail_memory(r, at);
      memcpy(grown, items, (size_t)n * sizeof *items);
      items = grown;
      cap *= 2;
    }
    items[n++] = ct_string((ct_str){s.s + start, end - start});
    if (end == s.n) break;
    i = next;
    if (sep && i == s.n && end != s.n) {
      /* a separator at the very end leaves one empty piece */
      if (n == cap) {
        ct_value *grown = ct_alloc(&r->arena, (size_t)cap * 2 * sizeof *grown);
        if (!grown) return ct_fail_memory(r, at);
        memcpy(grown, items, (size_t)n * sizeof *items);
        items = grown;
        cap *= 2;
      }
      items[n++] = ct_string((ct_str){s.s + s.n, 0});
      break;
    }
  }
  ct_list *l = ct_list_new(&r->arena, 0);
  if (!l) return ct_fail_memory(r, at);
  l->n = n;
  l->items = items;
  *out = list_value(l);
  return true;
}

static bool starts_or_ends(ct_render *r, const ct_node *at, ct_str s, ct_value affix, bool ends,
                           bool *out) {
  if (affix.type == CT_LIST) {
    *out = false;
    for (int64_t i = 0; i < affix.u.list->n && !*out; i++)
      if (!starts_or_ends(r, at, s, affix.u.list->items[i], ends, out)) return false;
    return true;
  }
  ct_str a = {0};
  if (!want_string(r, at, ends ? "endswith" : "startswith", affix, &a)) return false;
  *out = a.n <= s.n && memcmp(ends ? s.s + s.n - a.n : s.s, a.s, a.n) == 0;
  return true;
}

/* ---- methods ---- */
static bool string_method(ct_render *r, const ct_node *at, ct_str s, ct_str name, const ct_args *a,
                          bool *found, ct_value *out) {
  ct_value x, y, z;
  *found = true;
  if (ct_str_eq(name, "strip") || ct_str_eq(name, "lstrip") || ct_str_eq(name, "rstrip"))
    return strip_value(r, at, "strip", ct_string(s), a, name.s[0] == 's' ? 'b' : name.s[0], out);
  if (ct_str_eq(name, "startswith") || ct_str_eq(name, "endswith")) {
    bool result;
    if (!check_args(r, at, "startswith/endswith", a, 1, NULL)) return false;
    if (!arg(a, 0, NULL, &x)) return ct_fail(r, at, "%.*s needs an argument", (int)name.n, name.s);
    if (!starts_or_ends(r, at, s, x, name.s[0] == 'e', &result)) return false;
    *out = ct_bool(result);
    return true;
  }
  if (ct_str_eq(name, "split") || ct_str_eq(name, "rsplit")) {
    static const char *const names[] = {"sep", "maxsplit", NULL};
    ct_str sep;
    int64_t maxsplit = -1;
    if (!check_args(r, at, "split", a, 2, names)) return false;
    bool has_sep = arg(a, 0, "sep", &x) && x.type != CT_NONE;
    if (has_sep && !want_string(r, at, "split", x, &sep)) return false;
    if (has_sep && sep.n == 0) return ct_fail(r, at, "split: empty separator");
    if (arg(a, 1, "maxsplit", &y) && !want_int(r, at, "split", y, &maxsplit)) return false;
    if (name.s[0] == 'r' && maxsplit >= 0)
      return ct_fail(r, at, "rsplit with maxsplit is not supported");
    return split(r, at, s, has_sep ? &sep : NULL, maxsplit, out);
  }
  if (ct_str_eq(name, "upper") || ct_str_eq(name, "lower") || ct_str_eq(name, "capitalize") ||
      ct_str_eq(name, "title")) {
    if (!check_args(r, at, "case methods", a, 0, NULL)) return false;
    return map_case(r, at, s,
                    name.s[0] == 'u'   ? 'u'
                    : name.s[0] == 'l' ? 'l'
                    : name.s[0] == 'c' ? 'c'
                                       : 't',
                    out);
  }
  if (ct_str_eq(name, "replace")) {
    ct_str old, repl;
    int64_t count = -1;
    if (!check_args(r, at, "replace", a, 3, NULL)) return false;
    if (!arg(a, 0, NULL, &x) || !arg(a, 1, NULL, &y))
      return ct_fail(r, at, "replace needs two arguments");
    if (!want_string(r, at, "replace", x, &old) || !want_string(r, at, "replace", y, &repl))
      return false;
    if (arg(a, 2, NULL, &z) && !want_int(r, at, "replace", z, &count)) return false;
    return replace(r, at, s, old, repl, count, out);
  }
  if (ct_str_eq(name, "find") || ct_str_eq(name, "count")) {
    ct_str sub = {0};
    if (!check_args(r, at, "find/count", a, 1, NULL)) return false;
    if (!arg(a, 0, NULL, &x) || !want_string(r, at, "find/count", x, &sub)) return false;
    int64_t count = 0, first = -1;
    for (size_t i = 0; i + sub.n <= s.n;) {
      if (memcmp(s.s + i, sub.s, sub.n) != 0) {
        i++;
        continue;
      }
      if (first < 0) first = ct_utf8_length((ct_str){s.s, i});
      count++;
      i += sub.n ? sub.n : 1;
    }
    *out = ct_int(name.s[0] == 'f' ? first : count);
    return true;
  }
  if (ct_str_eq(name, "join")) {
    ct_list *items = NULL;
    ct_buf b = {.limit = CT_MAX_OUTPUT_BYTES};
    if (!check_args(r, at, "join", a, 1, NULL)) return false;
    if (!arg(a, 0, NULL, &x) || !ct_iterate(r, at, x, &items)) return false;
    bool ok = true;
    for (int64_t i = 0; ok && i < items->n; i++) {
      if (items->items[i].type != CT_STR) {
        free(b.data);
        return ct_fail(r, at, "join: item %lld is a %s, not a string", (long long)i,
                       ct_type_name(items->items[i]));
      }
      ok = (i == 0 || ct_buf_put(&b, s.s, s.n)) &&
           ct_buf_put(&b, items->items[i].u.s.s, items->items[i].u.s.n);
    }
    bool result = ok ? new_string(r, at, b.data ? b.data : "", b.len, out)
                     : ct_fail(r, at, "join: the result is too large");
    free(b.data);
    return result;
  }
  *found = false;
  return true;
}

static bool dict_method(ct_render *r, const ct_node *at, ct_dict *d, ct_str name, const ct_args *a,
                        bool *found, ct_value *out) {
  *found = true;
  if (ct_str_eq(name, "items") || ct_str_eq(name, "keys") || ct_str_eq(name, "values")) {
    if (!check_args(r, at, "items/keys/values", a, 0, NULL)) return false;
    ct_list *l = ct_list_new(&r->arena, d->n);
    if (!l) return ct_fail_memory(r, at);
    for (int64_t i = 0; i < d->n; i++) {
      if (name.s[0] == 'k') {
        l->items[i] = ct_string(d->keys[i]);
      } else if (name.s[0] == 'v') {
        l->items[i] = d->vals[i];
      } else {
        ct_list *pair = ct_list_new(&r->arena, 2);
        if (!pair) return ct_fail_memory(r, at);
        pair->tuple = true;
        pair->items[0] = ct_string(d->keys[i]);
        pair->items[1] = d->vals[i];
        l->items[i] = list_value(pair);
      }
    }
    *out = list_value(l);
    return true;
  }
  if (ct_str_eq(name, "get")) {
    ct_value key, def = ct_none();
    if (!check_args(r, at, "get", a, 2, NULL)) return false;
    if (!arg(a, 0, NULL, &key)) return ct_fail(r, at, "get needs a key");
    arg(a, 1, NULL, &def);
    ct_value *v = key.type == CT_STR ? ct_dict_get(d, key.u.s) : NULL;
    *out = v ? *v : def;
    return true;
  }
  *found = false;
  return true;
}

bool ct_call_method(ct_render *r, const ct_node *at, ct_value obj, ct_str name, const ct_args *args,
                    bool *found, ct_value *out) {
  *found = false;
  if (obj.type == CT_STR) return string_method(r, at, obj.u.s, name, args, found, out);
  if (obj.type == CT_DICT) return dict_method(r, at, obj.u.dict, name, args, found, out);
  return true;
}

/* ---- tests ---- */
typedef bool (*test_fn)(ct_render *r, const ct_node *at, ct_value v, const ct_args *a, bool *out);

static bool test_compare(ct_render *r, const ct_node *at, ct_value v, const ct_args *a, bool *out,
                         int op) {
  ct_value other;
  if (!arg(a, 0, NULL, &other)) return ct_fail(r, at, "the comparison test needs an argument");
  if (op == OP_EQ || op == OP_NE) {
    *out = ct_equal(v, other) == (op == OP_EQ);
    return true;
  }
  ct_node cmp = *at;
  cmp.kind = ND_BINARY;
  cmp.op = op;
  cmp.a = &(ct_node){.kind = ND_LITERAL, .lit = v, .line = at->line, .col = at->col};
  cmp.b = &(ct_node){.kind = ND_LITERAL, .lit = other, .line = at->line, .col = at->col};
  ct_value result;
  if (!ct_eval(r, NULL, &cmp, &result)) return false;
  *out = result.u.b;
  return true;
}

static bool apply_named_test(ct_render *r, const ct_node *at, ct_str name, ct_value v,
                             const ct_args *a, bool *out, bool *known) {
  ct_type t = v.type;
  *known = true;
  if (ct_str_eq(name, "defined"))
    *out = t != CT_UNDEF;
  else if (ct_str_eq(name, "undefined"))
    *out = t == CT_UNDEF;
  else if (ct_str_eq(name, "none"))
    *out = t == CT_NONE;
  else if (ct_str_eq(name, "boolean"))
    *out = t == CT_BOOL;
  else if (ct_str_eq(name, "true"))
    *out = t == CT_BOOL && v.u.b;
  else if (ct_str_eq(name, "false"))
    *out = t == CT_BOOL && !v.u.b;
  else if (ct_str_eq(name, "integer"))
    *out = t == CT_INT;
  else if (ct_str_eq(name, "float"))
    *out = t == CT_FLOAT;
  else if (ct_str_eq(name, "number"))
    *out = t == CT_INT || t == CT_FLOAT || t == CT_BOOL;
  else if (ct_str_eq(name, "string"))
    *out = t == CT_STR;
  else if (ct_str_eq(name, "mapping"))
    *out = t == CT_DICT;
  else if (ct_str_eq(name, "iterable"))
    *out = t == CT_STR || t == CT_LIST || t == CT_DICT || t == CT_NS || t == CT_UNDEF;
  else if (ct_str_eq(name, "sequence"))
    *out = t == CT_STR || t == CT_LIST || t == CT_DICT || t == CT_UNDEF;
  else if (ct_str_eq(name, "callable"))
    *out = t == CT_MACRO || t == CT_GLOBAL;
  else if (ct_str_eq(name, "odd") || ct_str_eq(name, "even")) {
    int64_t i;
    if (!want_int(r, at, "odd/even", v, &i)) return false;
    *out = ((i % 2) != 0) == (name.s[0] == 'o');
  } else if (ct_str_eq(name, "divisibleby")) {
    int64_t i, d;
    ct_value dv;
    if (!want_int(r, at, "divisibleby", v, &i) || !arg(a, 0, "num", &dv) ||
        !want_int(r, at, "divisibleby", dv, &d))
      return r->failed ? false : ct_fail(r, at, "divisibleby needs a number");
    if (d == 0) return ct_fail(r, at, "divisibleby 0");
    *out = d == -1 || i % d == 0;
  } else if (ct_str_eq(name, "lower") || ct_str_eq(name, "upper")) {
    ct_value mapped;
    if (t != CT_STR) return ct_fail(r, at, "the %.*s test expects a string", (int)name.n, name.s);
    if (!map_case(r, at, v.u.s, name.s[0], &mapped)) return false;
    *out = ct_equal(mapped, v);
  } else if (ct_str_eq(name, "eq") || ct_str_eq(name, "equalto") || ct_str_eq(name, "==")) {
    return test_compare(r, at, v, a, out, OP_EQ);
  } else if (ct_str_eq(name, "ne") || ct_str_eq(name, "!=")) {
    return test_compare(r, at, v, a, out, OP_NE);
  } else if (ct_str_eq(name, "lt") || ct_str_eq(name, "lessthan") || ct_str_eq(name, "<")) {
    return test_compare(r, at, v, a, out, OP_LT);
  } else if (ct_str_eq(name, "le") || ct_str_eq(name, "<=")) {
    return test_compare(r, at, v, a, out, OP_LE);
  } else if (ct_str_eq(name, "gt") || ct_str_eq(name, "greaterthan") || ct_str_eq(name, ">")) {
    return test_compare(r, at, v, a, out, OP_GT);
  } else if (ct_str_eq(name, "ge") || ct_str_eq(name, ">=")) {
    return test_compare(r, at, v, a, out, OP_GE);
  } else if (ct_str_eq(name, "in")) {
    ct_value seq;
    if (!arg(a, 0, NULL, &seq)) return ct_fail(r, at, "the 'in' test needs a sequence");
    ct_node cmp = *at;
    cmp.kind = ND_BINARY;
    cmp.op = OP_IN;
    cmp.a = &(ct_node){.kind = ND_LITERAL, .lit = v, .line = at->line, .col = at->col};
    cmp.b = &(ct_node){.kind = ND_LITERAL, .lit = seq, .line = at->line, .col = at->col};
    ct_value result;
    if (!ct_eval(r, NULL, &cmp, &result)) return false;
    *out = result.u.b;
  } else if (ct_str_eq(name, "sameas")) {
    ct_value other;
    if (!arg(a, 0, NULL, &other)) return ct_fail(r, at, "sameas needs an argument");
    *out = v.type == other.type &&
           (v.type == CT_NONE || v.type == CT_UNDEF || ct_equal(v, other)) &&
           (v.type != CT_STR && v.type != CT_LIST && v.type != CT_DICT);
    if (v.type == other.type && (v.type == CT_LIST || v.type == CT_DICT))
      *out = v.type == CT_LIST ? v.u.list == other.u.list : v.u.dict == other.u.dict;
  } else {
    *known = false;
  }
  return true;
}

static const char *const TEST_NAMES[] = {
    "defined",     "undefined", "none",    "boolean", "true",        "false",
    "integer",     "float",     "number",  "string",  "mapping",     "iterable",
    "sequence",    "callable",  "odd",     "even",    "divisibleby", "lower",
    "upper",       "eq",        "equalto", "==",      "ne",          "!=",
    "lt",          "lessthan",  "<",       "le",      "<=",          "gt",
    "greaterthan", ">",         "ge",      ">=",      "in",          "sameas"};

bool ct_test_exists(ct_str name) {
  for (size_t k = 0; k < sizeof TEST_NAMES / sizeof *TEST_NAMES; k++)
    if (ct_str_eq(name, TEST_NAMES[k])) return true;
  return false;
}

bool ct_apply_test(ct_render *r, const ct_node *at, ct_str name, ct_value v, const ct_args *args,
                   bool *out) {
  bool known;
  if (!apply_named_test(r, at, name, v, args, out, &known)) return false;
  if (!known)
    return ct_fail(r, at, "no test named '%.*s'", (int)(name.n > 40 ? 40 : name.n), name.s);
  return true;
}

/* ---- filters ---- */

/* An attribute of an item, dotted ("function.name") with integer parts as indices. */
static bool attribute_of(ct_render *r, const ct_node *at, ct_value item, ct_str path,
                         ct_value *out) {
  *out = item;
  size_t i = 0;
  while (i <= path.n) {
    size_t j = i;
    while (j < path.n && path.s[j] != '.') j++;
    ct_str part = {path.s + i, j - i};
    ct_value key = ct_string(part);
    bool digits = part.n > 0;
    for (size_t k = 0; k < part.n; k++) digits &= part.s[k] >= '0' && part.s[k] <= '9';
    if (digits && out->type == CT_LIST) key = ct_int(strtoll(part.s, NULL, 10));
    if (out->type == CT_UNDEF) return true;
    if (out->type != CT_DICT && out->type != CT_NS && out->type != CT_LIST) {
      *out = ct_undef((ct_str){"no such attribute", 17});
      return true;
    }
    if (!ct_get_item(r, at, *out, key, out)) return false;
    i = j + 1;
  }
  return true;
}

/* select / reject / selectattr / rejectattr. */
static bool filter_select(ct_render *r, const ct_node *at, ct_value v, const ct_args *a,
                          bool by_attr, bool keep_when, ct_value *out) {
  ct_list *items = NULL;
  ct_value attr_v, test_v;
  ct_str attr = {0}, test = {0};
  int64_t first_test_arg = by_attr ? 2 : 1;
  if (!ct_iterate(r, at, v, &items)) return false;
  if (by_attr && (!arg(a, 0, NULL, &attr_v) || !want_string(r, at, "selectattr", attr_v, &attr)))
    return r->failed ? false : ct_fail(r, at, "selectattr/rejectattr need an attribute name");
  bool has_test = arg(a, first_test_arg - 1, NULL, &test_v);
  if (has_test && !want_string(r, at, "select", test_v, &test)) return false;
  ct_args test_args = *a;
  test_args.n = a->n > first_test_arg ? a->n - first_test_arg : 0;
  test_args.pos = a->pos + (a->n > first_test_arg ? first_test_arg : a->n);
  ct_list *kept = ct_list_new(&r->arena, items->n);
  if (!kept) return ct_fail_memory(r, at);
  kept->n = 0;
  for (int64_t i = 0; i < items->n; i++) {
    ct_value subject = items->items[i];
    bool pass;
    if (by_attr && !attribute_of(r, at, subject, attr, &subject)) return false;
    if (has_test) {
      if (!ct_apply_test(r, at, test, subject, &test_args, &pass)) return false;
    } else {
      pass = ct_truthy(subject);
    }
    if (pass == keep_when) kept->items[kept->n++] = items->items[i];
  }
  *out = list_value(kept);
  return true;
}

static bool filter_map(ct_render *r, ct_frame *frame, const ct_node *at, ct_value v,
                       const ct_args *a, ct_value *out) {
  ct_list *items = NULL;
  ct_value attr_v, def, name_v;
  if (!ct_iterate(r, at, v, &items)) return false;
  ct_list *mapped = ct_list_new(&r->arena, items->n);
  if (!mapped) return ct_fail_memory(r, at);
  bool by_attr = arg(a, -1, "attribute", &attr_v);
  bool has_default = arg(a, -1, "default", &def);
  ct_str attr, filter;
  if (by_attr && !want_string(r, at, "map", attr_v, &attr)) return false;
  if (!by_attr && (!arg(a, 0, NULL, &name_v) || !want_string(r, at, "map", name_v, &filter)))
    return r->failed ? false : ct_fail(r, at, "map needs a filter name or attribute=");
  ct_args rest = {.n = a->n > 0 ? a->n - 1 : 0, .pos = a->pos + (a->n > 0)};
  for (int64_t i = 0; i < items->n; i++) {
    if (by_attr) {
      if (!attribute_of(r, at, items->items[i], attr, &mapped->items[i])) return false;
      if (mapped->items[i].type == CT_UNDEF && has_default) mapped->items[i] = def;
    } else if (!ct_apply_filter(r, frame, at, filter, items->items[i], &rest, &mapped->items[i])) {
      return false;
    }
  }
  *out = list_value(mapped);
  return true;
}

static bool filter_join(ct_render *r, const ct_node *at, ct_value v, const ct_args *a,
                        ct_value *out) {
  ct_list *items = NULL;
  ct_value sep_v, attr_v;
  ct_str sep = {"", 0}, attr;
  if (!ct_iterate(r, at, v, &items)) return false;
  if (arg(a, 0, "d", &sep_v) && !ct_stringify(r, at, sep_v, &sep)) return false;
  bool by_attr = arg(a, 1, "attribute", &attr_v);
  if (by_attr && !want_string(r, at, "join", attr_v, &attr)) return false;
  ct_buf b = {.limit = CT_MAX_OUTPUT_BYTES};
  bool ok = true;
  for (int64_t i = 0; ok && i < items->n; i++) {
    ct_value item = items->items[i];
    if (by_attr && !attribute_of(r, at, item, attr, &item)) {
      free(b.data);
      return false;
    }
    ok = (i == 0 || ct_buf_put(&b, sep.s, sep.n)) && ct_to_text(&b, item);
  }
  bool result = ok ? new_string(r, at, b.data ? b.data : "", b.len, out)
                   : ct_fail(r, at, "join: the result exceeds %zu MiB", CT_MAX_OUTPUT_BYTES >> 20);
  free(b.data);
  return result;
}

static bool filter_tojson(ct_render *r, const ct_node *at, ct_value v, const ct_args *a,
                          ct_value *out) {
  static const char *const names[] = {"indent", "ensure_ascii", "separators", "sort_keys", NULL};
  ct_value x;
  int64_t indent = -1;
  if (!check_args(r, at, "tojson", a, 1, names)) return false;
  if (arg(a, 0, "indent", &x) && x.type != CT_NONE) {
    if (!want_int(r, at, "tojson indent", x, &indent)) return false;
    if (indent < 0 || indent > 64) return ct_fail(r, at, "tojson: indent must be in 0..64");
  }
  if ((arg(a, -1, "ensure_ascii", &x) && ct_truthy(x)) ||
      (arg(a, -1, "separators", &x) && x.type != CT_NONE) ||
      (arg(a, -1, "sort_keys", &x) && ct_truthy(x)))
    return ct_fail(r, at,
                   "tojson: only indent is supported (not ensure_ascii, separators, sort_keys)");
  ct_buf b = {.limit = CT_MAX_OUTPUT_BYTES};
  ct_value bad = ct_none();
  bool ok = ct_to_json(&b, v, (int)indent, 0, &bad);
  bool result =
      ok       ? new_string(r, at, b.data ? b.data : "", b.len, out)
      : b.over ? ct_fail(r, at, "tojson: the result exceeds %zu MiB", CT_MAX_OUTPUT_BYTES >> 20)
      : bad.type == CT_UNDEF
          ? ct_fail(r, at, "tojson: %.*s", (int)bad.u.s.n, bad.u.s.s)
          : ct_fail(r, at, "tojson: %s is not JSON serializable", ct_a_type_name(bad));
  free(b.data);
  return result;
}

static bool filter_length(ct_render *r, const ct_node *at, ct_value v, ct_value *out) {
  switch (v.type) {
  case CT_UNDEF:
    *out = ct_int(0);
    return true;
  case CT_STR:
    *out = ct_int(ct_utf8_length(v.u.s));
    return true;
  case CT_LIST:
    *out = ct_int(v.u.list->n);
    return true;
  case CT_DICT:
  case CT_NS:
    *out = ct_int(v.u.dict->n);
    return true;
  default:
    return ct_fail(r, at, "%s has no length", ct_a_type_name(v));
  }
}

static bool filter_first_last(ct_render *r, const ct_node *at, ct_value v, bool last,
                              ct_value *out) {
  ct_list *items = NULL;
  if (!ct_iterate(r, at, v, &items)) return false;
  *out = items->n ? items->items[last ? items->n - 1 : 0]
                  : ct_undef((ct_str){"the sequence is empty", 21});
  return true;
}

static bool filter_default(ct_value v, const ct_args *a, ct_value *out) {
  ct_value def = ct_cstring(""), boolean = ct_bool(false);
  arg(a, 0, "default_value", &def);
  arg(a, 1, "boolean", &boolean);
  *out = v.type == CT_UNDEF || (ct_truthy(boolean) && !ct_truthy(v)) ? def : v;
  return true;
}

static bool filter_items(ct_render *r, const ct_node *at, ct_value v, ct_value *out) {
  if (v.type == CT_UNDEF) {
    ct_list *l = ct_list_new(&r->arena, 0);
    if (!l) return ct_fail_memory(r, at);
    *out = list_value(l);
    return true;
  }
  if (v.type != CT_DICT && v.type != CT_NS)
    return ct_fail(r, at, "items expects a mapping, got %s", ct_type_name(v));
  bool found;
  return dict_method(r, at, v.u.dict, (ct_str){"items", 5}, &(ct_args){0}, &found, out);
}

static bool filter_number(ct_render *r, const ct_node *at, ct_value v, const ct_args *a,
                          bool to_int, ct_value *out) {
  ct_value def = to_int ? ct_int(0) : ct_float(0.0);
  arg(a, 0, "default", &def);
  if (v.type == CT_INT || v.type == CT_BOOL) {
    int64_t i = v.type == CT_INT ? v.u.i : v.u.b;
    *out = to_int ? ct_int(i) : ct_float((double)i);
  } else if (v.type == CT_FLOAT) {
    if (to_int && !(fabs(v.u.f) < 9.2e18))
      *out = def;
    else
      *out = to_int ? ct_int((int64_t)v.u.f) : v;
  } else if (v.type == CT_STR) {
    char buf[64];
    ct_str s = strip(v.u.s, NULL, 'b');
    if (s.n == 0 || s.n >= sizeof buf) {
      *out = def;
      return true;
    }
    memcpy(buf, s.s, s.n);
    buf[s.n] = '\0';
    char *end;
    double f = strtod(buf, &end);
    if (*end != '\0')
      *out = def;
    else if (to_int && strchr(buf, '.') == NULL && strchr(buf, 'e') == NULL &&
             strchr(buf, 'E') == NULL)
      *out = ct_int(strtoll(buf, NULL, 10));
    else if (to_int)
      *out = fabs(f) < 9.2e18 ? ct_int((int64_t)f) : def;
    else
      *out = ct_float(f);
  } else {
    *out = def;
  }
  (void)r;
  (void)at;
  return true;
}

static bool filter_reverse_list(ct_render *r, const ct_node *at, ct_value v, bool reverse,
                                ct_value *out) {
  if (v.type == CT_STR && reverse) {
    ct_node slice = {.kind = ND_SLICE, .line = at->line, .col = at->col};
    ct_node obj = {.kind = ND_LITERAL, .lit = v}, step = {.kind = ND_LITERAL, .lit = ct_int(-1)};
    slice.a = &obj;
    slice.d = &step;
    return ct_eval(r, NULL, &slice, out);
  }
  ct_list *items = NULL;
  if (!ct_iterate(r, at, v, &items)) return false;
  ct_list *l = ct_list_new(&r->arena, items->n);
  if (!l) return ct_fail_memory(r, at);
  for (int64_t i = 0; i < items->n; i++) l->items[i] = items->items[reverse ? items->n - 1 - i : i];
  *out = list_value(l);
  return true;
}

static bool html_escape(ct_render *r, const ct_node *at, ct_value v, ct_value *out) {
  ct_str s;
  if (!ct_stringify(r, at, v, &s)) return false;
  ct_buf b = {.limit = CT_MAX_OUTPUT_BYTES};
  bool ok = true;
  for (size_t i = 0; ok && i < s.n; i++) {
    const char *rep = s.s[i] == '&'    ? "&amp;"
                      : s.s[i] == '<'  ? "&lt;"
                      : s.s[i] == '>'  ? "&gt;"
                      : s.s[i] == '"'  ? "&#34;"
                      : s.s[i] == '\'' ? "&#39;"
                                       : NULL;
    ok = rep ? ct_buf_put(&b, rep, strlen(rep)) : ct_buf_putc(&b, s.s[i]);
  }
  bool result = ok ? new_string(r, at, b.data ? b.data : "", b.len, out)
                   : ct_fail(r, at, "escape: the result is too large");
  free(b.data);
  return result;
}

static bool filter_indent(ct_render *r, const ct_node *at, ct_value v, const ct_args *a,
                          ct_value *out) {
  ct_value w = ct_int(4), first = ct_bool(false), blank = ct_bool(false);
  ct_str s = {0}, pad = {0};
  arg(a, 0, "width", &w);
  arg(a, 1, "first", &first);
  arg(a, 2, "blank", &blank);
  if (!ct_stringify(r, at, v, &s)) return false;
  if (w.type == CT_INT) {
    if (w.u.i < 0 || w.u.i > 256) return ct_fail(r, at, "indent: width must be in 0..256");
    char *spaces = ct_alloc(&r->arena, (size_t)w.u.i + 1);
    if (!spaces) return ct_fail_memory(r, at);
    memset(spaces, ' ', (size_t)w.u.i);
    pad = (ct_str){spaces, (size_t)w.u.i};
  } else if (!want_string(r, at, "indent", w, &pad)) {
    return false;
  }
  ct_buf b = {.limit = CT_MAX_OUTPUT_BYTES};
  bool ok = true;
  for (size_t i = 0, line = 0; ok && i <= s.n; line++) {
    size_t j = i;
    while (j < s.n && s.s[j] != '\n') j++;
    bool empty = strip((ct_str){s.s + i, j - i}, NULL, 'b').n == 0;
    if ((line > 0 || ct_truthy(first)) && (ct_truthy(blank) || !empty))
      ok = ct_buf_put(&b, pad.s, pad.n);
    ok = ok && ct_buf_put(&b, s.s + i, j - i) && (j == s.n || ct_buf_putc(&b, '\n'));
    i = j + 1;
  }
  bool result = ok ? new_string(r, at, b.data ? b.data : "", b.len, out)
                   : ct_fail(r, at, "indent: the result is too large");
  free(b.data);
  return result;
}

static bool filter_unique(ct_render *r, const ct_node *at, ct_value v, ct_value *out) {
  ct_list *items = NULL;
  if (!ct_iterate(r, at, v, &items)) return false;
  ct_list *l = ct_list_new(&r->arena, items->n);
  if (!l) return ct_fail_memory(r, at);
  l->n = 0;
  for (int64_t i = 0; i < items->n; i++) {
    bool seen = false;
    for (int64_t k = 0; k < l->n && !seen; k++) seen = ct_equal(l->items[k], items->items[i]);
    if (!seen) l->items[l->n++] = items->items[i];
  }
  *out = list_value(l);
  return true;
}

static bool filter_sum(ct_render *r, const ct_node *at, ct_value v, const ct_args *a,
                       ct_value *out) {
  ct_list *items = NULL;
  ct_value attr_v, total = ct_int(0);
  ct_str attr;
  if (!ct_iterate(r, at, v, &items)) return false;
  bool by_attr = arg(a, 0, "attribute", &attr_v);
  if (by_attr && !want_string(r, at, "sum", attr_v, &attr)) return false;
  arg(a, 1, "start", &total);
  ct_node add = {.kind = ND_BINARY, .op = OP_ADD, .line = at->line, .col = at->col};
  ct_node lhs = {.kind = ND_LITERAL}, rhs = {.kind = ND_LITERAL};
  add.a = &lhs;
  add.b = &rhs;
  for (int64_t i = 0; i < items->n; i++) {
    lhs.lit = total;
    rhs.lit = items->items[i];
    if (by_attr && !attribute_of(r, at, items->items[i], attr, &rhs.lit)) return false;
    if (!ct_eval(r, NULL, &add, &total)) return false;
  }
  *out = total;
  return true;
}

/* round(precision=0, method='common'|'ceil'|'floor'): Python's round for 'common' (ties to even,
 * on the exact binary value, as printf's rounding is; ints stay ints), else a float. */
static bool filter_round(ct_render *r, const ct_node *at, ct_value v, const ct_args *a,
                         ct_value *out) {
  static const char *const names[] = {"precision", "method", NULL};
  ct_value p = ct_int(0), m = ct_cstring("common");
  int64_t precision = 0;
  ct_str method = {0};
  if (!check_args(r, at, "round", a, 2, names)) return false;
  arg(a, 0, "precision", &p);
  arg(a, 1, "method", &m);
  if (!want_int(r, at, "round", p, &precision) || !want_string(r, at, "round", m, &method))
    return false;
  if (v.type != CT_INT && v.type != CT_FLOAT && v.type != CT_BOOL)
    return ct_fail(r, at, "round expects a number, got %s", ct_type_name(v));
  if (precision < 0 || precision > 17) return ct_fail(r, at, "round: precision must be in 0..17");
  double x = v.type == CT_FLOAT ? v.u.f : v.type == CT_INT ? (double)v.u.i : (double)v.u.b;
  double scale = pow(10.0, (double)precision);
  if (ct_str_eq(method, "common") && v.type != CT_FLOAT) {
    *out = ct_int(v.type == CT_INT ? v.u.i : v.u.b); /* Python's round keeps an int an int */
    return true;
  }
  if (ct_str_eq(method, "common")) {
    char buf[400];
    if (!isfinite(x) || fabs(x) > 1e300) {
      *out = ct_float(x);
      return true;
    }
    snprintf(buf, sizeof buf, "%.*f", (int)precision, x);
    *out = ct_float(strtod(buf, NULL));
  } else if (ct_str_eq(method, "ceil") || ct_str_eq(method, "floor")) {
    double y = x * scale;
    *out = ct_float((method.s[0] == 'c' ? ceil(y) : floor(y)) / scale);
  } else {
    return ct_fail(r, at, "round: method must be 'common', 'ceil' or 'floor'");
  }
  return true;
}

/* min / max (case_sensitive=false, attribute=None): strings compare lowercased by default, as in
 * Jinja; an empty sequence gives an undefined value. */
static bool filter_min_max(ct_render *r, const ct_node *at, ct_value v, const ct_args *a, bool max,
                           ct_value *out) {
  static const char *const names[] = {"case_sensitive", "attribute", NULL};
  ct_list *items = NULL;
  ct_value cs = ct_bool(false), attr_v;
  ct_str attr = {0};
  if (!check_args(r, at, max ? "max" : "min", a, 2, names) || !ct_iterate(r, at, v, &items))
    return false;
  arg(a, 0, "case_sensitive", &cs);
  bool by_attr = arg(a, 1, "attribute", &attr_v);
  if (by_attr && !want_string(r, at, "min/max", attr_v, &attr)) return false;
  *out = ct_undef((ct_str){"the sequence is empty", 21});
  ct_value best_key = ct_none();
  ct_node cmp = {.kind = ND_BINARY, .op = max ? OP_GT : OP_LT, .line = at->line, .col = at->col};
  ct_node lhs = {.kind = ND_LITERAL}, rhs = {.kind = ND_LITERAL};
  cmp.a = &lhs;
  cmp.b = &rhs;
  for (int64_t i = 0; i < items->n; i++) {
    ct_value key = items->items[i], better;
    if (by_attr && !attribute_of(r, at, key, attr, &key)) return false;
    if (key.type == CT_STR && !ct_truthy(cs) && !map_case(r, at, key.u.s, 'l', &key)) return false;
    if (i > 0) {
      lhs.lit = key;
      rhs.lit = best_key;
      if (!ct_eval(r, NULL, &cmp, &better)) return false;
      if (!better.u.b) continue;
    }
    best_key = key;
    *out = items->items[i];
  }
  return true;
}

typedef enum {
  F_TRIM,
  F_TOJSON,
  F_LENGTH,
  F_ITEMS,
  F_STRING,
  F_LOWER,
  F_UPPER,
  F_CAPITALIZE,
  F_TITLE,
  F_REPLACE,
  F_DEFAULT,
  F_FIRST,
  F_LAST,
  F_JOIN,
  F_SELECT,
  F_REJECT,
  F_SELECTATTR,
  F_REJECTATTR,
  F_MAP,
  F_LIST,
  F_INT,
  F_FLOAT,
  F_ABS,
  F_REVERSE,
  F_UNIQUE,
  F_SUM,
  F_SAFE,
  F_ESCAPE,
  F_INDENT,
  F_ROUND,
  F_MIN,
  F_MAX
} filter_id;

static const struct {
  const char *name;
  filter_id id;
} FILTERS[] = {
    {"trim", F_TRIM},
    {"tojson", F_TOJSON},
    {"length", F_LENGTH},
    {"count", F_LENGTH},
    {"items", F_ITEMS},
    {"string", F_STRING},
    {"lower", F_LOWER},
    {"upper", F_UPPER},
    {"capitalize", F_CAPITALIZE},
    {"title", F_TITLE},
    {"replace", F_REPLACE},
    {"default", F_DEFAULT},
    {"d", F_DEFAULT},
    {"first", F_FIRST},
    {"last", F_LAST},
    {"join", F_JOIN},
    {"select", F_SELECT},
    {"reject", F_REJECT},
    {"selectattr", F_SELECTATTR},
    {"rejectattr", F_REJECTATTR},
    {"map", F_MAP},
    {"list", F_LIST},
    {"int", F_INT},
    {"float", F_FLOAT},
    {"abs", F_ABS},
    {"reverse", F_REVERSE},
    {"unique", F_UNIQUE},
    {"sum", F_SUM},
    {"safe", F_SAFE},
    {"e", F_ESCAPE},
    {"escape", F_ESCAPE},
    {"indent", F_INDENT},
    {"round", F_ROUND},
    {"min", F_MIN},
    {"max", F_MAX},
};

bool ct_filter_exists(ct_str name) {
  for (size_t k = 0; k < sizeof FILTERS / sizeof *FILTERS; k++)
    if (ct_str_eq(name, FILTERS[k].name)) return true;
  return false;
}

bool ct_apply_filter(ct_render *r, ct_frame *frame, const ct_node *at, ct_str name, ct_value v,
                     const ct_args *a, ct_value *out) {
  int id = -1;
  for (size_t k = 0; k < sizeof FILTERS / sizeof *FILTERS && id < 0; k++)
    if (ct_str_eq(name, FILTERS[k].name)) id = (int)FILTERS[k].id;
  ct_str s;
  ct_value x, y, z;
  switch (id) {
  case F_TRIM:
    return strip_value(r, at, "trim", v, a, 'b', out);
  case F_TOJSON:
    return filter_tojson(r, at, v, a, out);
  case F_LENGTH:
    return filter_length(r, at, v, out);
  case F_ITEMS:
    return filter_items(r, at, v, out);
  case F_STRING:
  case F_SAFE:
    return ct_stringify(r, at, v, &s) && (*out = ct_string(s), true);
  case F_LOWER:
  case F_UPPER:
  case F_CAPITALIZE:
  case F_TITLE:
    return ct_stringify(r, at, v, &s) && map_case(r, at, s,
                                                  id == F_LOWER        ? 'l'
                                                  : id == F_UPPER      ? 'u'
                                                  : id == F_CAPITALIZE ? 'c'
                                                                       : 't',
                                                  out);
  case F_REPLACE: {
    ct_str old, repl, text;
    int64_t count = -1;
    if (!arg(a, 0, "old", &x) || !arg(a, 1, "new", &y))
      return ct_fail(r, at, "replace needs old and new");
    if (!ct_stringify(r, at, v, &text) || !ct_stringify(r, at, x, &old) ||
        !ct_stringify(r, at, y, &repl))
      return false;
    if (arg(a, 2, "count", &z) && z.type != CT_NONE && !want_int(r, at, "replace", z, &count))
      return false;
    return replace(r, at, text, old, repl, count, out);
  }
  case F_DEFAULT:
    return filter_default(v, a, out);
  case F_FIRST:
  case F_LAST:
    return filter_first_last(r, at, v, id == F_LAST, out);
  case F_JOIN:
    return filter_join(r, at, v, a, out);
  case F_SELECT:
  case F_REJECT:
    return filter_select(r, at, v, a, false, id == F_SELECT, out);
  case F_SELECTATTR:
  case F_REJECTATTR:
    return filter_select(r, at, v, a, true, id == F_SELECTATTR, out);
  case F_MAP:
    return filter_map(r, frame, at, v, a, out);
  case F_LIST:
  case F_REVERSE:
    return filter_reverse_list(r, at, v, id == F_REVERSE, out);
  case F_INT:
  case F_FLOAT:
    return filter_number(r, at, v, a, id == F_INT, out);
  case F_ABS:
    if (v.type == CT_INT && v.u.i != INT64_MIN)
      *out = ct_int(v.u.i < 0 ? -v.u.i : v.u.i);
    else if (v.type == CT_FLOAT)
      *out = ct_float(fabs(v.u.f));
    else if (v.type == CT_BOOL)
      *out = ct_int(v.u.b);
    else
      return ct_fail(r, at, "abs expects a number, got %s", ct_type_name(v));
    return true;
  case F_UNIQUE:
    return filter_unique(r, at, v, out);
  case F_SUM:
    return filter_sum(r, at, v, a, out);
  case F_ESCAPE:
    return html_escape(r, at, v, out);
  case F_INDENT:
    return filter_indent(r, at, v, a, out);
  case F_ROUND:
    return filter_round(r, at, v, a, out);
  case F_MIN:
  case F_MAX:
    return filter_min_max(r, at, v, a, id == F_MAX, out);
  default:
    return ct_fail(r, at, "no filter named '%.*s'", (int)(name.n > 40 ? 40 : name.n), name.s);
  }
}

/* ---- global functions ---- */
enum { G_RANGE, G_NAMESPACE, G_DICT, G_RAISE, G_STRFTIME, G_COUNT };
static const char *const GLOBAL_NAMES[G_COUNT] = {"range", "namespace", "dict", "raise_exception",
                                                  "strftime_now"};

bool ct_lookup_global(ct_str name, ct_value *out) {
  for (int g = 0; g < G_COUNT; g++)
    if (ct_str_eq(name, GLOBAL_NAMES[g])) {
      *out = (ct_value){.type = CT_GLOBAL, .u.global = g};
      return true;
    }
  return false;
}

static bool call_range(ct_render *r, const ct_node *at, const ct_args *a, ct_value *out) {
  int64_t v[3] = {0, 0, 1};
  if (a->n < 1 || a->n > 3 || a->n_kw)
    return ct_fail(r, at, "range takes 1 to 3 integer arguments");
  for (int64_t i = 0; i < a->n; i++)
    if (!want_int(r, at, "range", a->pos[i], &v[a->n == 1 ? 1 : i])) return false;
  if (v[2] == 0) return ct_fail(r, at, "range: step must not be zero");
  int64_t n = 0;
  if (v[2] > 0 && v[1] > v[0])
    n = (int64_t)(((uint64_t)v[1] - (uint64_t)v[0] - 1) / (uint64_t)v[2] + 1);
  if (v[2] < 0 && v[0] > v[1])
    n = (int64_t)(((uint64_t)v[0] - (uint64_t)v[1] - 1) / (uint64_t)(-(v[2] + 1) + 1) + 1);
  if (n > CT_MAX_RANGE)
    return ct_fail(r, at, "range of %lld items is larger than the limit (%d)", (long long)n,
                   CT_MAX_RANGE);
  ct_list *l = ct_list_new(&r->arena, n);
  if (!l) return ct_fail_memory(r, at);
  for (int64_t i = 0; i < n; i++) l->items[i] = ct_int(v[0] + i * v[2]);
  *out = list_value(l);
  return true;
}

static bool call_dict(ct_render *r, const ct_node *at, const ct_args *a, bool ns, ct_value *out) {
  ct_dict *d = ct_dict_new(&r->arena, a->n_kw);
  if (!d) return ct_fail_memory(r, at);
  if (a->n > 1)
    return ct_fail(r, at, "%s takes at most one positional argument", ns ? "namespace" : "dict");
  if (a->n == 1) {
    if (a->pos[0].type != CT_DICT && a->pos[0].type != CT_NS)
      return ct_fail(r, at, "%s expects a mapping, got %s", ns ? "namespace" : "dict",
                     ct_type_name(a->pos[0]));
    for (int64_t i = 0; i < a->pos[0].u.dict->n; i++)
      if (!ct_dict_set(&r->arena, d, a->pos[0].u.dict->keys[i], a->pos[0].u.dict->vals[i]))
        return ct_fail_memory(r, at);
  }
  for (int64_t i = 0; i < a->n_kw; i++)
    if (!ct_dict_set(&r->arena, d, a->kwnames[i], a->kwvals[i])) return ct_fail_memory(r, at);
  *out = (ct_value){.type = ns ? CT_NS : CT_DICT, .u.dict = d};
  return true;
}

bool ct_call_global(ct_render *r, const ct_node *at, int global, const ct_args *a, ct_value *out) {
  ct_str s;
  switch (global) {
  case G_RANGE:
    return call_range(r, at, a, out);
  case G_NAMESPACE:
  case G_DICT:
    return call_dict(r, at, a, global == G_NAMESPACE, out);
  case G_RAISE:
    if (a->n < 1) return ct_fail(r, at, "raise_exception called without a message");
    if (!ct_stringify(r, at, a->pos[0], &s)) return false;
    return ct_fail(r, at, "%.*s", (int)(s.n > 400 ? 400 : s.n), s.s);
  case G_STRFTIME: {
    char buf[256];
    if (a->n != 1 || !want_string(r, at, "strftime_now", a->pos[0], &s))
      return r->failed ? false : ct_fail(r, at, "strftime_now takes one format string");
    char *fmt = ct_strndup(&r->arena, s.s, s.n);
    if (!fmt) return ct_fail_memory(r, at);
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
/* the format is the template's: strftime only formats the time, it reads no arguments */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    size_t n = strftime(buf, sizeof buf, fmt, &tm);
#pragma GCC diagnostic pop
    return new_string(r, at, buf, n, out);
  }
  default:
    return ct_fail(r, at, "internal error: unknown global");
  }
}
