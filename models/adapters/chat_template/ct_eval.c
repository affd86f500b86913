/* ct_eval.c — evaluates the syntax tree: statements write to the render's output, expressions
 * produce values with Python/Jinja semantics (Jinja's default Undefined, sandboxed: no mutation
 * of lists or dicts, only namespace attributes). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_internal.h"

bool ct_fail(ct_render *r, const ct_node *at, const char *fmt, ...) {
  if (r->failed) return false;
  r->failed = true;
  char msg[CT_ERROR_SIZE - 48];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (at)
    snprintf(r->err, sizeof r->err, "line %d, column %d: %s", at->line, at->col, msg);
  else
    snprintf(r->err, sizeof r->err, "%s", msg);
  return false;
}

bool ct_fail_memory(ct_render *r, const ct_node *at) {
  return ct_fail(r, at, "the template needs more than %zu MiB of memory", CT_MAX_ARENA_BYTES >> 20);
}

/* An undefined value whose message says what was missing: before + name + after. */
static ct_value undefined_named(ct_render *r, const char *before, ct_str name, const char *after) {
  char buf[160];
  int n = snprintf(buf, sizeof buf, "%s%.*s%s", before, (int)(name.n > 60 ? 60 : name.n), name.s,
                   after);
  char *s = ct_strndup(&r->arena, buf, n > 0 ? (size_t)n : 0);
  return ct_undef(s ? (ct_str){s, strlen(s)} : (ct_str){"undefined value", 15});
}

static bool fail_undefined(ct_render *r, const ct_node *at, ct_value v) {
  return ct_fail(r, at, "%.*s", (int)v.u.s.n, v.u.s.s);
}

bool ct_stringify(ct_render *r, const ct_node *at, ct_value v, ct_str *out) {
  if (v.type == CT_STR) {
    *out = v.u.s;
    return true;
  }
  ct_buf b = {.limit = CT_MAX_OUTPUT_BYTES};
  if (!ct_to_text(&b, v)) {
    free(b.data);
    return ct_fail(r, at, "a value's text exceeds %zu MiB", CT_MAX_OUTPUT_BYTES >> 20);
  }
  char *s = ct_strndup(&r->arena, b.data ? b.data : "", b.len);
  out->s = s;
  out->n = b.len;
  free(b.data);
  return s ? true : ct_fail_memory(r, at);
}

static ct_value lookup(ct_render *r, ct_frame *frame, ct_str name) {
  for (ct_frame *f = frame; f; f = f->parent) {
    ct_value *v = f->vars ? ct_dict_get(f->vars, name) : NULL;
    if (v) return *v;
  }
  ct_value g;
  if (ct_lookup_global(name, &g)) return g;
  return undefined_named(r, "'", name, "' is undefined");
}

static bool frame_set(ct_render *r, const ct_node *at, ct_frame *frame, ct_str name, ct_value v) {
  if (!frame->vars && !(frame->vars = ct_dict_new(&r->arena, 4))) return ct_fail_memory(r, at);
  return ct_dict_set(&r->arena, frame->vars, name, v) ? true : ct_fail_memory(r, at);
}

bool ct_iterate(ct_render *r, const ct_node *at, ct_value v, ct_list **out) {
  switch (v.type) {
  case CT_UNDEF:
    *out = ct_list_new(&r->arena, 0);
    break;
  case CT_LIST:
    *out = v.u.list;
    return true;
  case CT_DICT:
  case CT_NS:
    if ((*out = ct_list_new(&r->arena, v.u.dict->n)))
      for (int64_t i = 0; i < v.u.dict->n; i++) (*out)->items[i] = ct_string(v.u.dict->keys[i]);
    break;
  case CT_STR: {
    int64_t n;
    int64_t *off = ct_utf8_offsets(&r->arena, v.u.s, &n);
    if (off && (*out = ct_list_new(&r->arena, n)))
      for (int64_t i = 0; i < n; i++)
        (*out)->items[i] = ct_string((ct_str){v.u.s.s + off[i], (size_t)(off[i + 1] - off[i])});
    else
      *out = NULL;
    break;
  }
  default:
    return ct_fail(r, at, "%s is not iterable", ct_a_type_name(v));
  }
  return *out ? true : ct_fail_memory(r, at);
}

/* ---- item access ---- */
static bool index_of(int64_t i, int64_t n, int64_t *out) {
  if (i < 0) i += n;
  if (i < 0 || i >= n) return false;
  *out = i;
  return true;
}

bool ct_get_item(ct_render *r, const ct_node *at, ct_value obj, ct_value key, ct_value *out) {
  if (obj.type == CT_UNDEF) return fail_undefined(r, at, obj);
  int64_t i;
  if ((obj.type == CT_DICT || obj.type == CT_NS) && key.type == CT_STR) {
    ct_value *v = ct_dict_get(obj.u.dict, key.u.s);
    *out = v ? *v : undefined_named(r, "'dict object' has no attribute '", key.u.s, "'");
    return true;
  }
  if (key.type == CT_INT && obj.type == CT_LIST) {
    *out = index_of(key.u.i, obj.u.list->n, &i) ? obj.u.list->items[i]
                                                : ct_undef((ct_str){"list index out of range", 23});
    return true;
  }
  if (key.type == CT_INT && obj.type == CT_STR) {
    int64_t n;
    int64_t *off = ct_utf8_offsets(&r->arena, obj.u.s, &n);
    if (!off) return ct_fail_memory(r, at);
    *out = index_of(key.u.i, n, &i)
               ? ct_string((ct_str){obj.u.s.s + off[i], (size_t)(off[i + 1] - off[i])})
               : ct_undef((ct_str){"string index out of range", 25});
    return true;
  }
  *out = ct_undef((ct_str){"no such item", 12});
  return true;
}

static bool slice_bound(ct_render *r, const ct_node *at, ct_value v, bool *given, int64_t *out) {
  *given = v.type != CT_NONE && v.type != CT_UNDEF;
  if (!*given) return true;
  if (v.type != CT_INT)
    return ct_fail(r, at, "slice indices must be integers, not %s", ct_type_name(v));
  *out = v.u.i;
  return true;
}

/* Python's slice semantics: the indices of obj[start:stop:step] for a sequence of length n. */
static void slice_range(int64_t n, bool has_start, int64_t start, bool has_stop, int64_t stop,
                        int64_t step, int64_t *first, int64_t *count) {
  int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? n : n - 1;
  if (!has_start)
    start = step > 0 ? lo : hi;
  else if (start < 0)
    start = start + n < lo ? lo : start + n;
  else if (start > hi)
    start = hi;
  if (!has_stop)
    stop = step > 0 ? hi : lo;
  else if (stop < 0)
    stop = stop + n < lo ? lo : stop + n;
  else if (stop > hi)
    stop = hi;
  *first = start;
  if (step > 0)
    *count = stop > start ? (stop - start + step - 1) / step : 0;
  else
    *count = start > stop ? (start - stop + (-step) - 1) / (-step) : 0;
}

static bool eval_slice(ct_render *r, ct_frame *frame, const ct_node *n, ct_value *out) {
  ct_value obj, b = ct_none(), c = ct_none(), d = ct_none();
  if (!ct_eval(r, frame, n->a, &obj) || (n->b && !ct_eval(r, frame, n->b, &b)) ||
      (n->c && !ct_eval(r, frame, n->c, &c)) || (n->d && !ct_eval(r, frame, n->d, &d)))
    return false;
  bool has_start, has_stop, has_step;
  int64_t start = 0, stop = 0, step = 1;
  if (!slice_bound(r, n, b, &has_start, &start) || !slice_bound(r, n, c, &has_stop, &stop) ||
      !slice_bound(r, n, d, &has_step, &step))
    return false;
  if (step == 0) return ct_fail(r, n, "slice step cannot be zero");
  if (obj.type == CT_UNDEF) return fail_undefined(r, n, obj);
  int64_t first, count, len = 0, *off = NULL;
  if (obj.type == CT_LIST) {
    len = obj.u.list->n;
  } else if (obj.type == CT_STR) {
    if (!(off = ct_utf8_offsets(&r->arena, obj.u.s, &len))) return ct_fail_memory(r, n);
  } else {
    return ct_fail(r, n, "%s cannot be sliced", ct_a_type_name(obj));
  }
  slice_range(len, has_start, start, has_stop, stop, step, &first, &count);
  if (obj.type == CT_LIST) {
    ct_list *l = ct_list_new(&r->arena, count);
    if (!l) return ct_fail_memory(r, n);
    for (int64_t k = 0; k < count; k++) l->items[k] = obj.u.list->items[first + k * step];
    *out = (ct_value){.type = CT_LIST, .u.list = l};
    return true;
  }
  char *s = ct_alloc(&r->arena, obj.u.s.n + 1);
  if (!s) return ct_fail_memory(r, n);
  size_t used = 0;
  for (int64_t k = 0; k < count; k++) {
    int64_t i = first + k * step;
    memcpy(s + used, obj.u.s.s + off[i], (size_t)(off[i + 1] - off[i]));
    used += (size_t)(off[i + 1] - off[i]);
  }
  *out = ct_string((ct_str){s, used});
  return true;
}

/* ---- arithmetic and comparison ---- */
static bool numeric(ct_value v) {
  return v.type == CT_INT || v.type == CT_FLOAT || v.type == CT_BOOL;
}
static double to_double(ct_value v) {
  return v.type == CT_FLOAT ? v.u.f : v.type == CT_INT ? (double)v.u.i : (double)v.u.b;
}
static int64_t to_int(ct_value v) { return v.type == CT_INT ? v.u.i : (int64_t)v.u.b; }

static const char *const OP_NAMES[] = {"+",  "-",  "*",  "/", "//", "%", "**", "~",  "and",
                                       "or", "==", "!=", "<", "<=", ">", ">=", "in", "not in"};

static bool type_error(ct_render *r, const ct_node *n, ct_value a, ct_value b) {
  if (a.type == CT_UNDEF) return fail_undefined(r, n, a);
  if (b.type == CT_UNDEF) return fail_undefined(r, n, b);
  return ct_fail(r, n, "unsupported operand types for '%s': %s and %s", OP_NAMES[n->op],
                 ct_type_name(a), ct_type_name(b));
}

static bool concat_strings(ct_render *r, const ct_node *n, ct_str a, ct_str b, ct_value *out) {
  char *s = ct_alloc(&r->arena, a.n + b.n + 1);
  if (!s) return ct_fail_memory(r, n);
  memcpy(s, a.s, a.n);
  memcpy(s + a.n, b.s, b.n);
  *out = ct_string((ct_str){s, a.n + b.n});
  return true;
}

/* seq * count for strings and lists. */
static bool repeat(ct_render *r, const ct_node *n, ct_value seq, int64_t count, ct_value *out) {
  if (count < 0) count = 0;
  size_t unit = seq.type == CT_STR ? seq.u.s.n : (size_t)seq.u.list->n * sizeof(ct_value);
  if (unit && (uint64_t)count > CT_MAX_ARENA_BYTES / unit) return ct_fail_memory(r, n);
  if (seq.type == CT_STR) {
    char *s = ct_alloc(&r->arena, unit * (size_t)count + 1);
    if (!s) return ct_fail_memory(r, n);
    for (int64_t k = 0; k < count; k++) memcpy(s + (size_t)k * unit, seq.u.s.s, unit);
    *out = ct_string((ct_str){s, unit * (size_t)count});
    return true;
  }
  ct_list *l = ct_list_new(&r->arena, seq.u.list->n * count);
  if (!l) return ct_fail_memory(r, n);
  for (int64_t k = 0; k < count; k++)
    if (seq.u.list->n) memcpy(l->items + k * seq.u.list->n, seq.u.list->items, unit);
  *out = (ct_value){.type = CT_LIST, .u.list = l};
  return true;
}

static bool int_arith(ct_render *r, const ct_node *n, int64_t a, int64_t b, ct_value *out) {
  int64_t v = 0;
  bool overflow = false;
  switch (n->op) {
  case OP_ADD:
    overflow = __builtin_add_overflow(a, b, &v);
    break;
  case OP_SUB:
    overflow = __builtin_sub_overflow(a, b, &v);
    break;
  case OP_MUL:
    overflow = __builtin_mul_overflow(a, b, &v);
    break;
  case OP_FLOORDIV:
  case OP_MOD:
    if (b == 0) return ct_fail(r, n, "division by zero");
    if (a == INT64_MIN && b == -1) {
      overflow = n->op == OP_FLOORDIV;
      v = 0;
      break;
    }
    v = n->op == OP_FLOORDIV ? a / b - ((a % b != 0) && ((a < 0) != (b < 0))) : a % b;
    if (n->op == OP_MOD && v != 0 && ((v < 0) != (b < 0))) v += b;
    break;
  case OP_POW:
    if (b < 0) {
      *out = ct_float(pow((double)a, (double)b));
      return true;
    }
    v = 1;
    for (int64_t k = 0; k < b && !overflow; k++) overflow = __builtin_mul_overflow(v, a, &v);
    break;
  default:
    return false;
  }
  if (overflow) return ct_fail(r, n, "integer overflow in '%s'", OP_NAMES[n->op]);
  *out = ct_int(v);
  return true;
}

static bool arith(ct_render *r, const ct_node *n, ct_value a, ct_value b, ct_value *out) {
  if (n->op == OP_ADD && a.type == CT_STR && b.type == CT_STR)
    return concat_strings(r, n, a.u.s, b.u.s, out);
  if (n->op == OP_ADD && a.type == CT_LIST && b.type == CT_LIST) {
    ct_list *l = ct_list_new(&r->arena, a.u.list->n + b.u.list->n);
    if (!l) return ct_fail_memory(r, n);
    for (int64_t i = 0; i < a.u.list->n; i++) l->items[i] = a.u.list->items[i];
    for (int64_t i = 0; i < b.u.list->n; i++) l->items[a.u.list->n + i] = b.u.list->items[i];
    *out = (ct_value){.type = CT_LIST, .u.list = l};
    return true;
  }
  if (n->op == OP_MUL && (a.type == CT_STR || a.type == CT_LIST) &&
      (b.type == CT_INT || b.type == CT_BOOL))
    return repeat(r, n, a, to_int(b), out);
  if (n->op == OP_MUL && (b.type == CT_STR || b.type == CT_LIST) &&
      (a.type == CT_INT || a.type == CT_BOOL))
    return repeat(r, n, b, to_int(a), out);
  if (!numeric(a) || !numeric(b)) return type_error(r, n, a, b);
  if (a.type != CT_FLOAT && b.type != CT_FLOAT && n->op != OP_DIV)
    return int_arith(r, n, to_int(a), to_int(b), out);
  double x = to_double(a), y = to_double(b);
  if ((n->op == OP_DIV || n->op == OP_FLOORDIV || n->op == OP_MOD) && y == 0)
    return ct_fail(r, n, "division by zero");
  switch (n->op) {
  case OP_ADD:
    *out = ct_float(x + y);
    break;
  case OP_SUB:
    *out = ct_float(x - y);
    break;
  case OP_MUL:
    *out = ct_float(x * y);
    break;
  case OP_DIV:
    *out = ct_float(x / y);
    break;
  case OP_FLOORDIV:
    *out = ct_float(floor(x / y));
    break;
  case OP_MOD: {
    double m = fmod(x, y);
    if (m != 0 && ((m < 0) != (y < 0))) m += y;
    *out = ct_float(m);
    break;
  }
  case OP_POW:
    *out = ct_float(pow(x, y));
    break;
  default:
    return false;
  }
  return true;
}

/* Orders a and b (numbers, strings, lists); false after an error when they cannot be ordered. */
static bool compare(ct_render *r, const ct_node *n, ct_value a, ct_value b, int *out, int depth) {
  if (numeric(a) && numeric(b)) {
    double x = to_double(a), y = to_double(b);
    if (a.type != CT_FLOAT && b.type != CT_FLOAT) {
      int64_t i = to_int(a), j = to_int(b);
      *out = (i > j) - (i < j);
    } else {
      *out = (x > y) - (x < y);
    }
    return true;
  }
  if (a.type == CT_STR && b.type == CT_STR) {
    size_t m = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
    int c = m ? memcmp(a.u.s.s, b.u.s.s, m) : 0;
    *out = c ? (c > 0) - (c < 0) : (a.u.s.n > b.u.s.n) - (a.u.s.n < b.u.s.n);
    return true;
  }
  if (a.type == CT_LIST && b.type == CT_LIST) {
    for (int64_t i = 0; i < a.u.list->n && i < b.u.list->n; i++) {
      if (ct_equal(a.u.list->items[i], b.u.list->items[i])) continue;
      if (depth > CT_MAX_NESTING) return ct_fail(r, n, "lists nested too deeply to compare");
      return compare(r, n, a.u.list->items[i], b.u.list->items[i], out, depth + 1);
    }
    *out = (a.u.list->n > b.u.list->n) - (a.u.list->n < b.u.list->n);
    return true;
  }
  if (a.type == CT_UNDEF) return fail_undefined(r, n, a);
  if (b.type == CT_UNDEF) return fail_undefined(r, n, b);
  return ct_fail(r, n, "'%s' is not supported between %s and %s", OP_NAMES[n->op],
                 ct_a_type_name(a), ct_a_type_name(b));
}

static bool contains(ct_render *r, const ct_node *n, ct_value needle, ct_value hay, bool *out) {
  switch (hay.type) {
  case CT_UNDEF:
    *out = false;
    return true;
  case CT_STR:
    if (needle.type != CT_STR)
      return ct_fail(r, n, "'in <string>' needs a string on the left, not a %s",
                     ct_type_name(needle));
    if (needle.u.s.n == 0) {
      *out = true;
      return true;
    }
    *out = false;
    for (size_t i = 0; !*out && i + needle.u.s.n <= hay.u.s.n; i++)
      *out = memcmp(hay.u.s.s + i, needle.u.s.s, needle.u.s.n) == 0;
    return true;
  case CT_LIST:
    *out = false;
    for (int64_t i = 0; !*out && i < hay.u.list->n; i++)
      *out = ct_equal(needle, hay.u.list->items[i]);
    return true;
  case CT_DICT:
  case CT_NS:
    *out = needle.type == CT_STR && ct_dict_get(hay.u.dict, needle.u.s);
    return true;
  default:
    return ct_fail(r, n, "argument of type %s is not iterable", ct_type_name(hay));
  }
}

static bool eval_binary(ct_render *r, ct_frame *frame, const ct_node *n, ct_value *out) {
  ct_value a, b;
  if (!ct_eval(r, frame, n->a, &a)) return false;
  if (n->op == OP_AND || n->op == OP_OR) {
    if (ct_truthy(a) == (n->op == OP_OR)) {
      *out = a;
      return true;
    }
    return ct_eval(r, frame, n->b, out);
  }
  if (!ct_eval(r, frame, n->b, &b)) return false;
  int c = 0;
  bool in = false;
  switch (n->op) {
  case OP_CONCAT: {
    ct_str x, y;
    return ct_stringify(r, n, a, &x) && ct_stringify(r, n, b, &y) &&
           concat_strings(r, n, x, y, out);
  }
  case OP_EQ:
    *out = ct_bool(ct_equal(a, b));
    return true;
  case OP_NE:
    *out = ct_bool(!ct_equal(a, b));
    return true;
  case OP_LT:
  case OP_LE:
  case OP_GT:
  case OP_GE:
    if (!compare(r, n, a, b, &c, 0)) return false;
    *out = ct_bool(n->op == OP_LT   ? c < 0
                   : n->op == OP_LE ? c <= 0
                   : n->op == OP_GT ? c > 0
                                    : c >= 0);
    return true;
  case OP_IN:
  case OP_NOT_IN:
    if (!contains(r, n, a, b, &in)) return false;
    *out = ct_bool(in == (n->op == OP_IN));
    return true;
  default:
    return arith(r, n, a, b, out);
  }
}

static bool eval_unary(ct_render *r, ct_frame *frame, const ct_node *n, ct_value *out) {
  ct_value v;
  if (!ct_eval(r, frame, n->a, &v)) return false;
  if (n->op == '!') {
    *out = ct_bool(!ct_truthy(v));
    return true;
  }
  if (v.type == CT_UNDEF) return fail_undefined(r, n, v);
  if (!numeric(v))
    return ct_fail(r, n, "bad operand type for unary '%c': %s", n->op, ct_type_name(v));
  if (n->op == '+') {
    *out = v.type == CT_FLOAT ? v : ct_int(to_int(v));
  } else if (v.type == CT_FLOAT) {
    *out = ct_float(-v.u.f);
  } else {
    if (to_int(v) == INT64_MIN) return ct_fail(r, n, "integer overflow in unary '-'");
    *out = ct_int(-to_int(v));
  }
  return true;
}

/* ---- calls ---- */
static bool eval_args(ct_render *r, ct_frame *frame, const ct_node *n, ct_args *args) {
  args->n = n->args.n;
  args->n_kw = n->kwvals.n;
  args->kwnames = n->kwnames;
  args->pos = ct_alloc(&r->arena, (size_t)(args->n + 1) * sizeof(ct_value));
  args->kwvals = ct_alloc(&r->arena, (size_t)(args->n_kw + 1) * sizeof(ct_value));
  if (!args->pos || !args->kwvals) return ct_fail_memory(r, n);
  for (int64_t i = 0; i < args->n; i++)
    if (!ct_eval(r, frame, n->args.items[i], &args->pos[i])) return false;
  for (int64_t i = 0; i < args->n_kw; i++)
    if (!ct_eval(r, frame, n->kwvals.items[i], &args->kwvals[i])) return false;
  return true;
}

/* Runs `body` with output captured into a new arena string. */
static bool capture(ct_render *r, ct_frame *frame, const ct_node *at, const ct_nodes *body,
                    ct_value *out) {
  ct_buf buf = {.limit = CT_MAX_OUTPUT_BYTES}, *saved = r->out;
  r->out = &buf;
  bool ok = ct_exec(r, frame, body);
  r->out = saved;
  char *s = ok ? ct_strndup(&r->arena, buf.data ? buf.data : "", buf.len) : NULL;
  size_t len = buf.len;
  free(buf.data);
  if (!ok) return false;
  if (!s) return ct_fail_memory(r, at);
  *out = ct_string((ct_str){s, len});
  return true;
}

static bool call_macro(ct_render *r, const ct_node *at, const ct_macro *m, const ct_args *args,
                       ct_value *out) {
  const ct_node *def = m->node;
  char name[48];
  snprintf(name, sizeof name, "%.*s", (int)(def->name.n > 40 ? 40 : def->name.n), def->name.s);
  if (args->n > def->n_targets)
    return ct_fail(r, at, "macro '%s' takes not more than %lld argument(s)", name,
                   (long long)def->n_targets);
  if (r->call_depth >= CT_MAX_CALL_DEPTH)
    return ct_fail(r, at, "macro calls nested more than %d deep (runaway recursion?)",
                   CT_MAX_CALL_DEPTH);
  ct_frame *frame = ct_alloc(&r->arena, sizeof *frame);
  if (!frame) return ct_fail_memory(r, at);
  frame->parent = m->closure;
  for (int64_t k = 0; k < args->n_kw; k++) {
    bool known = false;
    for (int64_t p = 0; p < def->n_targets; p++)
      known |= def->targets[p].n == args->kwnames[k].n &&
               memcmp(def->targets[p].s, args->kwnames[k].s, def->targets[p].n) == 0;
    if (!known)
      return ct_fail(r, at, "macro '%s' has no parameter '%.*s'", name, (int)args->kwnames[k].n,
                     args->kwnames[k].s);
  }
  for (int64_t p = 0; p < def->n_targets; p++) {
    ct_value v = ct_undef((ct_str){"missing macro argument", 22});
    bool given = p < args->n;
    if (given) v = args->pos[p];
    for (int64_t k = 0; k < args->n_kw; k++)
      if (args->kwnames[k].n == def->targets[p].n &&
          memcmp(args->kwnames[k].s, def->targets[p].s, def->targets[p].n) == 0) {
        v = args->kwvals[k];
        given = true;
      }
    if (!given && def->kwvals.items[p] && !ct_eval(r, frame, def->kwvals.items[p], &v))
      return false;
    if (!frame_set(r, at, frame, def->targets[p], v)) return false;
  }
  r->call_depth++;
  bool ok = capture(r, frame, at, &def->body, out);
  r->call_depth--;
  return ok;
}

bool ct_call_value(ct_render *r, const ct_node *at, ct_value callee, const ct_args *args,
                   ct_value *out) {
  if (callee.type == CT_MACRO) return call_macro(r, at, callee.u.macro, args, out);
  if (callee.type == CT_GLOBAL) return ct_call_global(r, at, callee.u.global, args, out);
  if (callee.type == CT_UNDEF) return fail_undefined(r, at, callee);
  return ct_fail(r, at, "%s is not callable", ct_a_type_name(callee));
}

static bool eval_call(ct_render *r, ct_frame *frame, const ct_node *n, ct_value *out) {
  ct_args args;
  if (n->a->kind == ND_GETATTR) {
    ct_value obj;
    bool found = false;
    if (!ct_eval(r, frame, n->a->a, &obj) || !eval_args(r, frame, n, &args)) return false;
    if (obj.type == CT_UNDEF) return fail_undefined(r, n, obj);
    if (!ct_call_method(r, n, obj, n->a->name, &args, &found, out)) return false;
    if (found) return true;
    ct_value callee;
    if (!ct_get_item(r, n, obj, ct_string(n->a->name), &callee)) return false;
    if (callee.type == CT_UNDEF) {
      return ct_fail(r, n, "%s has no method '%.*s'", ct_type_name(obj), (int)n->a->name.n,
                     n->a->name.s);
    }
    return ct_call_value(r, n, callee, &args, out);
  }
  ct_value callee;
  return ct_eval(r, frame, n->a, &callee) && eval_args(r, frame, n, &args) &&
         ct_call_value(r, n, callee, &args, out);
}

static bool eval_test(ct_render *r, ct_frame *frame, const ct_node *n, ct_value *out) {
  ct_value v;
  ct_args args;
  bool result;
  if (!ct_eval(r, frame, n->a, &v) || !eval_args(r, frame, n, &args) ||
      !ct_apply_test(r, n, n->name, v, &args, &result))
    return false;
  *out = ct_bool(result != (n->op != 0));
  return true;
}

static bool eval_collection(ct_render *r, ct_frame *frame, const ct_node *n, ct_value *out) {
  if (n->kind == ND_DICT) {
    ct_dict *d = ct_dict_new(&r->arena, n->args.n);
    if (!d) return ct_fail_memory(r, n);
    for (int64_t i = 0; i < n->args.n; i++) {
      ct_value k, v;
      if (!ct_eval(r, frame, n->args.items[i], &k) || !ct_eval(r, frame, n->kwvals.items[i], &v))
        return false;
      if (k.type != CT_STR)
        return ct_fail(r, n->args.items[i], "dict keys must be strings, not %s", ct_type_name(k));
      if (!ct_dict_set(&r->arena, d, k.u.s, v)) return ct_fail_memory(r, n);
    }
    *out = (ct_value){.type = CT_DICT, .u.dict = d};
    return true;
  }
  ct_list *l = ct_list_new(&r->arena, n->args.n);
  if (!l) return ct_fail_memory(r, n);
  l->tuple = n->kind == ND_TUPLE;
  for (int64_t i = 0; i < n->args.n; i++)
    if (!ct_eval(r, frame, n->args.items[i], &l->items[i])) return false;
  *out = (ct_value){.type = CT_LIST, .u.list = l};
  return true;
}

static bool eval_node(ct_render *r, ct_frame *frame, const ct_node *n, ct_value *out);

/* Counts the evaluations in progress so that recursion through macros cannot exhaust the stack. */
bool ct_eval(ct_render *r, ct_frame *frame, const ct_node *n, ct_value *out) {
  if (r->eval_depth >= CT_MAX_EVAL_DEPTH)
    return ct_fail(r, n,
                   "expressions nested more than %d deep (long operator chains or macro recursion)",
                   CT_MAX_EVAL_DEPTH);
  r->eval_depth++;
  bool ok = eval_node(r, frame, n, out);
  r->eval_depth--;
  return ok;
}

static bool eval_node(ct_render *r, ct_frame *frame, const ct_node *n, ct_value *out) {
  ct_value obj;
  ct_args args;
  switch (n->kind) {
  case ND_LITERAL:
    *out = n->lit;
    return true;
  case ND_NAME:
    *out = lookup(r, frame, n->name);
    return true;
  case ND_LIST:
  case ND_TUPLE:
  case ND_DICT:
    return eval_collection(r, frame, n, out);
  case ND_GETATTR:
    if (!ct_eval(r, frame, n->a, &obj)) return false;
    if (obj.type != CT_DICT && obj.type != CT_NS && obj.type != CT_UNDEF) {
      char buf[160];
      snprintf(buf, sizeof buf, "'%s object' has no attribute '%.*s'", ct_type_name(obj),
               (int)(n->name.n > 60 ? 60 : n->name.n), n->name.s);
      char *s = ct_strndup(&r->arena, buf, strlen(buf));
      *out = ct_undef(s ? (ct_str){s, strlen(s)} : (ct_str){"undefined attribute", 19});
      return true;
    }
    return ct_get_item(r, n, obj, ct_string(n->name), out);
  case ND_GETITEM: {
    ct_value key;
    return ct_eval(r, frame, n->a, &obj) && ct_eval(r, frame, n->b, &key) &&
           ct_get_item(r, n, obj, key, out);
  }
  case ND_SLICE:
    return eval_slice(r, frame, n, out);
  case ND_CALL:
    return eval_call(r, frame, n, out);
  case ND_FILTER:
    return ct_eval(r, frame, n->a, &obj) && eval_args(r, frame, n, &args) &&
           ct_apply_filter(r, frame, n, n->name, obj, &args, out);
  case ND_TEST:
    return eval_test(r, frame, n, out);
  case ND_UNARY:
    return eval_unary(r, frame, n, out);
  case ND_BINARY:
    return eval_binary(r, frame, n, out);
  case ND_COND:
    if (!ct_eval(r, frame, n->b, &obj)) return false;
    if (ct_truthy(obj)) return ct_eval(r, frame, n->a, out);
    if (n->c) return ct_eval(r, frame, n->c, out);
    *out = ct_undef((ct_str){"the conditional expression's else branch is undefined", 53});
    return true;
  default:
    return ct_fail(r, n, "internal error: not an expression");
  }
}

/* ---- statements ---- */
static bool output(ct_render *r, const ct_node *at, ct_value v) {
  if (ct_to_text(r->out, v)) return true;
  return ct_fail(r, at, "the output exceeds %zu MiB", CT_MAX_OUTPUT_BYTES >> 20);
}

static bool assign_targets(ct_render *r, const ct_node *at, ct_frame *frame, const ct_str *targets,
                           int64_t n_targets, ct_value v) {
  if (n_targets == 1) return frame_set(r, at, frame, targets[0], v);
  ct_list *items = NULL;
  if (!ct_iterate(r, at, v, &items)) return false;
  if (items->n != n_targets)
    return ct_fail(r, at, "cannot unpack %lld values into %lld names", (long long)items->n,
                   (long long)n_targets);
  for (int64_t i = 0; i < n_targets; i++)
    if (!frame_set(r, at, frame, targets[i], items->items[i])) return false;
  return true;
}

enum {
  LOOP_INDEX,
  LOOP_INDEX0,
  LOOP_REVINDEX,
  LOOP_REVINDEX0,
  LOOP_FIRST,
  LOOP_LAST,
  LOOP_LENGTH,
  LOOP_PREVITEM,
  LOOP_NEXTITEM,
  LOOP_FIELDS
};
static const char *const LOOP_NAMES[LOOP_FIELDS] = {
    "index", "index0", "revindex", "revindex0", "first", "last", "length", "previtem", "nextitem"};

static void set_loop(ct_dict *loop, const ct_list *items, int64_t i) {
  int64_t n = items->n;
  loop->vals[LOOP_INDEX] = ct_int(i + 1);
  loop->vals[LOOP_INDEX0] = ct_int(i);
  loop->vals[LOOP_REVINDEX] = ct_int(n - i);
  loop->vals[LOOP_REVINDEX0] = ct_int(n - i - 1);
  loop->vals[LOOP_FIRST] = ct_bool(i == 0);
  loop->vals[LOOP_LAST] = ct_bool(i == n - 1);
  loop->vals[LOOP_LENGTH] = ct_int(n);
  loop->vals[LOOP_PREVITEM] =
      i > 0 ? items->items[i - 1] : ct_undef((ct_str){"no previous item", 16});
  loop->vals[LOOP_NEXTITEM] =
      i + 1 < n ? items->items[i + 1] : ct_undef((ct_str){"no next item", 12});
}

/* The items a for loop visits: its iterable, filtered by the loop's `if` condition. */
static bool loop_items(ct_render *r, ct_frame *frame, const ct_node *n, ct_list **out) {
  ct_value seq;
  if (!ct_eval(r, frame, n->a, &seq)) return false;
  ct_list *items = NULL; /* an undefined value iterates as empty, as in Jinja */
  if (!ct_iterate(r, n, seq, &items)) return false;
  if (!n->b) {
    *out = items;
    return true;
  }
  ct_list *kept = ct_list_new(&r->arena, items->n);
  ct_frame *scope = ct_alloc(&r->arena, sizeof *scope);
  if (!kept || !scope) return ct_fail_memory(r, n);
  scope->parent = frame;
  kept->n = 0;
  for (int64_t i = 0; i < items->n; i++) {
    ct_value keep;
    if (++r->iterations > CT_MAX_ITERATIONS)
      return ct_fail(r, n, "more than %lld loop iterations", (long long)CT_MAX_ITERATIONS);
    if (!assign_targets(r, n, scope, n->targets, n->n_targets, items->items[i]) ||
        !ct_eval(r, scope, n->b, &keep))
      return false;
    if (ct_truthy(keep)) kept->items[kept->n++] = items->items[i];
  }
  *out = kept;
  return true;
}

static bool exec_for(ct_render *r, ct_frame *frame, const ct_node *n) {
  ct_list *items = NULL;
  if (!loop_items(r, frame, n, &items)) return false;
  if (items->n == 0) return ct_exec(r, frame, &n->else_body);
  /* Loop variables live in the loop's frame; `set` inside the body writes to a per-iteration
   * frame that is emptied before each iteration (Jinja forgets them between iterations). */
  ct_frame *loop_frame = ct_alloc(&r->arena, sizeof *loop_frame);
  ct_frame *iter_frame = ct_alloc(&r->arena, sizeof *iter_frame);
  ct_dict *loop = ct_dict_new(&r->arena, LOOP_FIELDS);
  if (!loop_frame || !iter_frame || !loop) return ct_fail_memory(r, n);
  for (int k = 0; k < LOOP_FIELDS; k++)
    if (!ct_dict_set(&r->arena, loop, (ct_str){LOOP_NAMES[k], strlen(LOOP_NAMES[k])}, ct_none()))
      return ct_fail_memory(r, n);
  loop_frame->parent = frame;
  iter_frame->parent = loop_frame;
  if (!frame_set(r, n, loop_frame, (ct_str){"loop", 4},
                 (ct_value){.type = CT_DICT, .u.dict = loop}))
    return false;
  for (int64_t i = 0; i < items->n; i++) {
    if (++r->iterations > CT_MAX_ITERATIONS)
      return ct_fail(r, n, "more than %lld loop iterations", (long long)CT_MAX_ITERATIONS);
    set_loop(loop, items, i);
    if (iter_frame->vars) iter_frame->vars->n = 0;
    if (!assign_targets(r, n, loop_frame, n->targets, n->n_targets, items->items[i]) ||
        !ct_exec(r, iter_frame, &n->body))
      return false;
    ct_flow flow = r->flow;
    r->flow = FLOW_NORMAL;
    if (flow == FLOW_BREAK) break;
  }
  return true;
}

static bool exec_set(ct_render *r, ct_frame *frame, const ct_node *n) {
  ct_value v;
  if (n->kind == ND_SET_BLOCK)
    return capture(r, frame, n, &n->body, &v) && frame_set(r, n, frame, n->name, v);
  if (!ct_eval(r, frame, n->a, &v)) return false;
  if (n->attr.n == 0) {
    if (n->n_targets > 0) return assign_targets(r, n, frame, n->targets, n->n_targets, v);
    return frame_set(r, n, frame, n->name, v);
  }
  ct_value target = lookup(r, frame, n->name);
  if (target.type != CT_NS)
    return ct_fail(r, n, "cannot assign attribute '%.*s' on %s (only on a namespace())",
                   (int)n->attr.n, n->attr.s, ct_a_type_name(target));
  return ct_dict_set(&r->arena, target.u.dict, n->attr, v) ? true : ct_fail_memory(r, n);
}

static bool exec_one(ct_render *r, ct_frame *frame, const ct_node *n) {
  ct_value v;
  switch (n->kind) {
  case ND_TEXT:
    return output(r, n, n->lit);
  case ND_OUTPUT:
    return ct_eval(r, frame, n->a, &v) && output(r, n, v);
  case ND_IF:
    if (!ct_eval(r, frame, n->a, &v)) return false;
    return ct_exec(r, frame, ct_truthy(v) ? &n->body : &n->else_body);
  case ND_FOR:
    return exec_for(r, frame, n);
  case ND_SET:
  case ND_SET_BLOCK:
    return exec_set(r, frame, n);
  case ND_MACRO: {
    ct_macro *m = ct_alloc(&r->arena, sizeof *m);
    if (!m) return ct_fail_memory(r, n);
    m->node = n;
    m->closure = frame;
    return frame_set(r, n, frame, n->name, (ct_value){.type = CT_MACRO, .u.macro = m});
  }
  case ND_BREAK:
    r->flow = FLOW_BREAK;
    return true;
  case ND_CONTINUE:
    r->flow = FLOW_CONTINUE;
    return true;
  case ND_BODY:
    return ct_exec(r, frame, &n->body);
  default:
    return ct_fail(r, n, "internal error: not a statement");
  }
}

bool ct_exec(ct_render *r, ct_frame *frame, const ct_nodes *body) {
  for (int64_t i = 0; i < body->n && r->flow == FLOW_NORMAL; i++) {
    const ct_node *n = body->items[i];
    if (r->eval_depth >= CT_MAX_EVAL_DEPTH)
      return ct_fail(r, n, "blocks nested more than %d deep (macro recursion)", CT_MAX_EVAL_DEPTH);
    r->eval_depth++;
    bool ok = exec_one(r, frame, n);
    r->eval_depth--;
    if (!ok) return false;
  }
  return true;
}
