/* ct_parser.c — recursive-descent parser of the Jinja2 subset chat templates use, with Jinja's
 * operator precedence (lowest first): `x if c else y`, or, and, not, comparisons and `in`, + -,
 * ~, * / // %, **, unary - +, then postfix . [] () | filters and `is` tests. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ct_internal.h"

typedef struct parser {
  ct_arena *arena;
  const ct_token *toks;
  int64_t n, pos;
  int depth;
  int loops; /* for-loop bodies open around the current position (break/continue need one) */
  char *err;
  size_t err_size;
  bool failed;
} parser;

static const ct_token *cur(const parser *p) { return &p->toks[p->pos]; }

__attribute__((format(printf, 3, 4))) static bool fail_at(parser *p, const ct_token *t,
                                                          const char *fmt, ...) {
  if (p->failed) return false;
  p->failed = true;
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snprintf(p->err, p->err_size, "line %d, column %d: %s", t->line, t->col, msg);
  return false;
}

/* A short description of a token for messages. */
static const char *describe(const ct_token *t, char *buf, size_t size) {
  switch (t->kind) {
  case TK_EOF:
    return "the end of the template";
  case TK_TEXT:
    return "template text";
  case TK_VAR_END:
    return "'}}'";
  case TK_BLOCK_END:
    return "'%}'";
  case TK_STRING:
    return "a string";
  default:
    snprintf(buf, size, "'%.*s'", (int)(t->text.n > 40 ? 40 : t->text.n), t->text.s);
    return buf;
  }
}

static bool fail_expected(parser *p, const char *what) {
  char buf[64], msg[160];
  snprintf(msg, sizeof msg, "expected %s, got %s", what, describe(cur(p), buf, sizeof buf));
  return fail_at(p, cur(p), "%s", msg);
}

static bool is_op(const parser *p, const char *op) {
  return cur(p)->kind == TK_OP && ct_str_eq(cur(p)->text, op);
}
static bool is_name(const parser *p, const char *name) {
  return cur(p)->kind == TK_NAME && ct_str_eq(cur(p)->text, name);
}
static bool accept_op(parser *p, const char *op) {
  if (!is_op(p, op)) return false;
  p->pos++;
  return true;
}
static bool accept_name(parser *p, const char *name) {
  if (!is_name(p, name)) return false;
  p->pos++;
  return true;
}
static bool expect_op(parser *p, const char *op) {
  if (accept_op(p, op)) return true;
  char what[16];
  snprintf(what, sizeof what, "'%s'", op);
  return fail_expected(p, what);
}
static bool expect_block_end(parser *p) {
  if (cur(p)->kind == TK_BLOCK_END) {
    p->pos++;
    return true;
  }
  return fail_expected(p, "'%}'");
}

static ct_node *new_node(parser *p, ct_node_kind kind, const ct_token *at) {
  ct_node *n = ct_alloc(p->arena, sizeof *n);
  if (!n) {
    fail_at(p, at, "%s", "out of memory");
    return NULL;
  }
  n->kind = kind;
  n->line = at->line;
  n->col = at->col;
  return n;
}

/* A growable node list built in the arena. */
static bool append(parser *p, ct_nodes *list, int64_t *cap, ct_node *item) {
  if (!item) return false;
  if (list->n == *cap) {
    int64_t c = *cap ? *cap * 2 : 4;
    ct_node **items = ct_alloc(p->arena, (size_t)c * sizeof *items);
    if (!items) return fail_at(p, cur(p), "%s", "out of memory");
    if (list->n) memcpy(items, list->items, (size_t)list->n * sizeof *items);
    list->items = items;
    *cap = c;
  }
  list->items[list->n++] = item;
  return true;
}

static bool append_name(parser *p, ct_str **names, int64_t *n, int64_t *cap, ct_str name) {
  if (*n == *cap) {
    int64_t c = *cap ? *cap * 2 : 4;
    ct_str *items = ct_alloc(p->arena, (size_t)c * sizeof *items);
    if (!items) return fail_at(p, cur(p), "%s", "out of memory");
    if (*n) memcpy(items, *names, (size_t)*n * sizeof *items);
    *names = items;
    *cap = c;
  }
  (*names)[(*n)++] = name;
  return true;
}

static ct_node *parse_expression(parser *p);
static ct_node *parse_or(parser *p);
static ct_node *parse_unary(parser *p, bool with_filter);
static ct_node *parse_primary(parser *p);
static ct_node *parse_postfix(parser *p, ct_node *node);

static bool enter(parser *p) {
  if (++p->depth > CT_MAX_NESTING)
    return fail_at(p, cur(p), "%s", "expression or blocks nested too deeply");
  return true;
}

/* ( args ) after the opening parenthesis: positional expressions and name=value keywords. */
static bool parse_call_args(parser *p, ct_node *n) {
  int64_t cap = 0, kwcap = 0, n_kw = 0, vcap = 0;
  while (!is_op(p, ")")) {
    if (n->args.n + n_kw > 0 && !expect_op(p, ",")) return false;
    if (is_op(p, ")")) break; /* trailing comma */
    if (cur(p)->kind == TK_NAME && p->toks[p->pos + 1].kind == TK_OP &&
        ct_str_eq(p->toks[p->pos + 1].text, "=")) {
      ct_str name = cur(p)->text;
      p->pos += 2;
      if (!append_name(p, &n->kwnames, &n_kw, &kwcap, name) ||
          !append(p, &n->kwvals, &vcap, parse_expression(p)))
        return false;
      continue;
    }
    if (n_kw > 0) return fail_at(p, cur(p), "%s", "positional argument after a keyword argument");
    if (!append(p, &n->args, &cap, parse_expression(p))) return false;
  }
  p->pos++;
  return true;
}

static ct_node *parse_list_or_tuple(parser *p, const ct_token *at, ct_node_kind kind,
                                    const char *close) {
  ct_node *n = new_node(p, kind, at);
  int64_t cap = 0;
  bool trailing_comma = false;
  while (n && !is_op(p, close)) {
    if (n->args.n > 0 && !expect_op(p, ",")) return NULL;
    if (is_op(p, close)) {
      trailing_comma = true;
      break;
    }
    if (!append(p, &n->args, &cap, parse_expression(p))) return NULL;
  }
  if (!n || !expect_op(p, close)) return NULL;
  /* (x) is just x; (x,) and () are tuples */
  if (kind == ND_TUPLE && n->args.n == 1 && !trailing_comma) return n->args.items[0];
  return n;
}

static ct_node *parse_dict(parser *p, const ct_token *at) {
  ct_node *n = new_node(p, ND_DICT, at);
  int64_t cap = 0, vcap = 0;
  while (n && !is_op(p, "}")) {
    if (n->args.n > 0 && !expect_op(p, ",")) return NULL;
    if (is_op(p, "}")) break;
    if (!append(p, &n->args, &cap, parse_expression(p)) || !expect_op(p, ":") ||
        !append(p, &n->kwvals, &vcap, parse_expression(p)))
      return NULL;
  }
  return n && expect_op(p, "}") ? n : NULL;
}

static ct_node *parse_primary(parser *p) {
  const ct_token *t = cur(p);
  ct_node *n = NULL;
  if (t->kind == TK_NAME) {
    p->pos++;
    n = new_node(p, ND_LITERAL, t);
    if (!n) return NULL;
    if (ct_str_eq(t->text, "true") || ct_str_eq(t->text, "True"))
      n->lit = ct_bool(true);
    else if (ct_str_eq(t->text, "false") || ct_str_eq(t->text, "False"))
      n->lit = ct_bool(false);
    else if (ct_str_eq(t->text, "none") || ct_str_eq(t->text, "None"))
      n->lit = ct_none();
    else {
      n->kind = ND_NAME;
      n->name = t->text;
    }
    return n;
  }
  if (t->kind == TK_STRING) {
    /* adjacent literals concatenate: 'a' 'b' */
    size_t total = 0;
    int64_t end = p->pos;
    for (; p->toks[end].kind == TK_STRING; end++) total += p->toks[end].text.n;
    char *s = ct_alloc(p->arena, total + 1);
    if (!s || !(n = new_node(p, ND_LITERAL, t))) return NULL;
    size_t off = 0;
    for (; p->pos < end; p->pos++) {
      memcpy(s + off, cur(p)->text.s, cur(p)->text.n);
      off += cur(p)->text.n;
    }
    n->lit = ct_string((ct_str){s, total});
    return n;
  }
  if (t->kind == TK_INT || t->kind == TK_FLOAT) {
    p->pos++;
    if (!(n = new_node(p, ND_LITERAL, t))) return NULL;
    n->lit = t->kind == TK_INT ? ct_int(t->i) : ct_float(t->f);
    return n;
  }
  if (t->kind == TK_OP &&
      (ct_str_eq(t->text, "(") || ct_str_eq(t->text, "[") || ct_str_eq(t->text, "{"))) {
    p->pos++;
    if (!enter(p)) return NULL;
    if (ct_str_eq(t->text, "("))
      n = parse_list_or_tuple(p, t, ND_TUPLE, ")");
    else if (ct_str_eq(t->text, "["))
      n = parse_list_or_tuple(p, t, ND_LIST, "]");
    else
      n = parse_dict(p, t);
    p->depth--;
    return n;
  }
  fail_expected(p, "an expression");
  return NULL;
}

/* obj[ ... ]: an index or a slice a:b:c. */
static ct_node *parse_subscript(parser *p, ct_node *obj, const ct_token *at) {
  ct_node *parts[3] = {NULL, NULL, NULL};
  int colons = 0;
  while (!is_op(p, "]")) {
    if (is_op(p, ":")) {
      if (++colons > 2) {
        fail_at(p, cur(p), "%s", "too many ':' in a slice");
        return NULL;
      }
      p->pos++;
      continue;
    }
    if (parts[colons]) {
      fail_expected(p, "']'");
      return NULL;
    }
    if (!(parts[colons] = parse_expression(p))) return NULL;
  }
  p->pos++;
  if (colons == 0 && !parts[0]) {
    fail_at(p, at, "%s", "empty subscript");
    return NULL;
  }
  ct_node *n = new_node(p, colons ? ND_SLICE : ND_GETITEM, at);
  if (!n) return NULL;
  n->a = obj;
  n->b = parts[0];
  n->c = parts[1];
  n->d = parts[2];
  return n;
}

static ct_node *parse_postfix(parser *p, ct_node *node) {
  while (node) {
    const ct_token *t = cur(p);
    if (accept_op(p, ".")) {
      const ct_token *name = cur(p);
      if (name->kind == TK_INT) {
        p->pos++;
        ct_node *n = new_node(p, ND_GETITEM, t), *idx = new_node(p, ND_LITERAL, name);
        if (!n || !idx) return NULL;
        idx->lit = ct_int(name->i);
        n->a = node;
        n->b = idx;
        node = n;
        continue;
      }
      if (name->kind != TK_NAME) {
        fail_expected(p, "an attribute name after '.'");
        return NULL;
      }
      p->pos++;
      ct_node *n = new_node(p, ND_GETATTR, t);
      if (!n) return NULL;
      n->a = node;
      n->name = name->text;
      node = n;
    } else if (accept_op(p, "[")) {
      node = parse_subscript(p, node, t);
    } else if (accept_op(p, "(")) {
      ct_node *n = new_node(p, ND_CALL, t);
      if (!n) return NULL;
      n->a = node;
      n->line = node->line; /* errors of a call point at what is called */
      n->col = node->col;
      if (!parse_call_args(p, n)) return NULL;
      node = n;
    } else {
      break;
    }
  }
  return node;
}

/* A dotted filter or test name. */
static bool parse_dotted_name(parser *p, ct_str *out) {
  if (cur(p)->kind != TK_NAME) return fail_expected(p, "a name");
  *out = cur(p)->text;
  p->pos++;
  while (is_op(p, ".") && p->toks[p->pos + 1].kind == TK_NAME) {
    const ct_token *part = &p->toks[p->pos + 1];
    out->n = (size_t)(part->text.s + part->text.n - out->s);
    p->pos += 2;
  }
  return true;
}

static ct_node *parse_test(parser *p, ct_node *operand, const ct_token *at) {
  ct_node *n = new_node(p, ND_TEST, at);
  if (!n) return NULL;
  n->a = operand;
  n->op = accept_name(p, "not");
  const ct_token *name_at = cur(p);
  if (!parse_dotted_name(p, &n->name)) return NULL;
  if (!ct_test_exists(n->name)) {
    fail_at(p, name_at, "no test named '%.*s'", (int)(n->name.n > 40 ? 40 : n->name.n), n->name.s);
    return NULL;
  }
  if (accept_op(p, "(")) return parse_call_args(p, n) ? n : NULL;
  const ct_token *t = cur(p);
  bool arg_start =
      t->kind == TK_STRING || t->kind == TK_INT || t->kind == TK_FLOAT ||
      (t->kind == TK_OP && (ct_str_eq(t->text, "[") || ct_str_eq(t->text, "{"))) ||
      (t->kind == TK_NAME && !is_name(p, "else") && !is_name(p, "or") && !is_name(p, "and") &&
       !is_name(p, "if") && !is_name(p, "is") && !is_name(p, "in") && !is_name(p, "not"));
  if (arg_start) {
    ct_node *arg = parse_postfix(p, parse_primary(p));
    if (!arg) return NULL;
    n->args.items = ct_alloc(p->arena, sizeof *n->args.items);
    if (!n->args.items) return NULL;
    n->args.items[0] = arg;
    n->args.n = 1;
  }
  return n;
}

static ct_node *parse_filter_expr(parser *p, ct_node *node) {
  while (node) {
    const ct_token *t = cur(p);
    if (accept_op(p, "|")) {
      ct_node *n = new_node(p, ND_FILTER, t);
      const ct_token *name_at = cur(p);
      if (!n || !parse_dotted_name(p, &n->name)) return NULL;
      if (!ct_filter_exists(n->name)) {
        fail_at(p, name_at, "no filter named '%.*s'", (int)(n->name.n > 40 ? 40 : n->name.n),
                n->name.s);
        return NULL;
      }
      n->a = node;
      if (accept_op(p, "(") && !parse_call_args(p, n)) return NULL;
      node = n;
    } else if (accept_name(p, "is")) {
      node = parse_test(p, node, t);
    } else if (accept_op(p, "(")) {
      ct_node *n = new_node(p, ND_CALL, t);
      if (!n) return NULL;
      n->a = node;
      n->line = node->line; /* errors of a call point at what is called */
      n->col = node->col;
      if (!parse_call_args(p, n)) return NULL;
      node = n;
    } else {
      break;
    }
  }
  return node;
}

static ct_node *parse_unary(parser *p, bool with_filter) {
  const ct_token *t = cur(p);
  if (!enter(p)) return NULL;
  ct_node *node;
  if (is_op(p, "-") || is_op(p, "+")) {
    p->pos++;
    node = new_node(p, ND_UNARY, t);
    if (node) {
      node->op = t->text.s[0];
      if (!(node->a = parse_unary(p, false))) node = NULL;
    }
  } else {
    node = parse_primary(p);
  }
  node = parse_postfix(p, node);
  if (with_filter) node = parse_filter_expr(p, node);
  p->depth--;
  return node;
}

static ct_node *binary(parser *p, const ct_token *at, int op, ct_node *a, ct_node *b) {
  if (!a || !b) return NULL;
  ct_node *n = new_node(p, ND_BINARY, at);
  if (!n) return NULL;
  n->op = op;
  n->a = a;
  n->b = b;
  return n;
}

static ct_node *parse_pow(parser *p) {
  ct_node *left = parse_unary(p, true);
  while (left && is_op(p, "**")) {
    const ct_token *t = cur(p);
    p->pos++;
    left = binary(p, t, OP_POW, left, parse_unary(p, true));
  }
  return left;
}

static ct_node *parse_math2(parser *p) {
  ct_node *left = parse_pow(p);
  for (;;) {
    const ct_token *t = cur(p);
    int op = is_op(p, "*")    ? OP_MUL
             : is_op(p, "/")  ? OP_DIV
             : is_op(p, "//") ? OP_FLOORDIV
             : is_op(p, "%")  ? OP_MOD
                              : -1;
    if (!left || op < 0) return left;
    p->pos++;
    left = binary(p, t, op, left, parse_pow(p));
  }
}

static ct_node *parse_concat(parser *p) {
  ct_node *left = parse_math2(p);
  while (left && is_op(p, "~")) {
    const ct_token *t = cur(p);
    p->pos++;
    left = binary(p, t, OP_CONCAT, left, parse_math2(p));
  }
  return left;
}

static ct_node *parse_math1(parser *p) {
  ct_node *left = parse_concat(p);
  for (;;) {
    const ct_token *t = cur(p);
    int op = is_op(p, "+") ? OP_ADD : is_op(p, "-") ? OP_SUB : -1;
    if (!left || op < 0) return left;
    p->pos++;
    left = binary(p, t, op, left, parse_concat(p));
  }
}

/* Comparisons chain as in Python: a < b < c is (a < b) and (b < c). */
static ct_node *parse_compare(parser *p) {
  ct_node *left = parse_math1(p), *result = NULL;
  for (;;) {
    const ct_token *t = cur(p);
    static const char *const ops[] = {"==", "!=", "<", "<=", ">", ">="};
    static const int codes[] = {OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE};
    int op = -1;
    for (int k = 0; k < 6; k++)
      if (is_op(p, ops[k])) op = codes[k];
    if (op >= 0) {
      p->pos++;
    } else if (is_name(p, "in")) {
      op = OP_IN;
      p->pos++;
    } else if (is_name(p, "not") && p->toks[p->pos + 1].kind == TK_NAME &&
               ct_str_eq(p->toks[p->pos + 1].text, "in")) {
      op = OP_NOT_IN;
      p->pos += 2;
    }
    if (!left || op < 0) return result ? result : left;
    ct_node *right = parse_math1(p);
    ct_node *cmp = binary(p, t, op, left, right);
    result = result ? binary(p, t, OP_AND, result, cmp) : cmp;
    if (!result) return NULL;
    left = right;
  }
}

static ct_node *parse_not(parser *p) {
  const ct_token *t = cur(p);
  if (!accept_name(p, "not")) return parse_compare(p);
  if (!enter(p)) return NULL;
  ct_node *n = new_node(p, ND_UNARY, t);
  if (n) {
    n->op = '!';
    if (!(n->a = parse_not(p))) n = NULL;
  }
  p->depth--;
  return n;
}

static ct_node *parse_and(parser *p) {
  ct_node *left = parse_not(p);
  while (left && is_name(p, "and")) {
    const ct_token *t = cur(p);
    p->pos++;
    left = binary(p, t, OP_AND, left, parse_not(p));
  }
  return left;
}

static ct_node *parse_or(parser *p) {
  ct_node *left = parse_and(p);
  while (left && is_name(p, "or")) {
    const ct_token *t = cur(p);
    p->pos++;
    left = binary(p, t, OP_OR, left, parse_and(p));
  }
  return left;
}

static ct_node *parse_expression(parser *p) {
  if (!enter(p)) return NULL;
  ct_node *node = parse_or(p);
  while (node && is_name(p, "if")) {
    const ct_token *t = cur(p);
    p->pos++;
    ct_node *n = new_node(p, ND_COND, t);
    if (!n || !(n->b = parse_or(p))) return NULL;
    n->a = node;
    if (accept_name(p, "else") && !(n->c = parse_expression(p))) return NULL;
    node = n;
  }
  p->depth--;
  return node;
}

/* An expression, or a tuple when commas follow (for `set x = a, b` and `{{ a, b }}`). */
static ct_node *parse_tuple(parser *p) {
  const ct_token *at = cur(p);
  ct_node *first = parse_expression(p);
  if (!first || !is_op(p, ",")) return first;
  ct_node *n = new_node(p, ND_TUPLE, at);
  int64_t cap = 0;
  if (!n || !append(p, &n->args, &cap, first)) return NULL;
  while (accept_op(p, ",")) {
    if (cur(p)->kind == TK_BLOCK_END || cur(p)->kind == TK_VAR_END) break;
    if (!append(p, &n->args, &cap, parse_expression(p))) return NULL;
  }
  return n;
}

/* ---- statements ---- */
static bool parse_body(parser *p, ct_nodes *body, const char *const *stops, ct_str *stopped);

static ct_node *parse_if(parser *p, const ct_token *at) {
  ct_node *n = new_node(p, ND_IF, at);
  if (!n || !(n->a = parse_expression(p)) || !expect_block_end(p)) return NULL;
  static const char *const stops[] = {"elif", "else", "endif", NULL};
  ct_str stop;
  if (!parse_body(p, &n->body, stops, &stop)) return NULL;
  if (ct_str_eq(stop, "elif")) {
    ct_node *elif = parse_if(p, &p->toks[p->pos - 1]);
    if (!elif) return NULL;
    n->else_body.items = ct_alloc(p->arena, sizeof *n->else_body.items);
    if (!n->else_body.items) return NULL;
    n->else_body.items[0] = elif;
    n->else_body.n = 1;
    return n; /* the innermost elif consumed the endif */
  }
  if (ct_str_eq(stop, "else")) {
    static const char *const end[] = {"endif", NULL};
    if (!expect_block_end(p) || !parse_body(p, &n->else_body, end, &stop)) return NULL;
  }
  return expect_block_end(p) ? n : NULL;
}

static ct_node *parse_for(parser *p, const ct_token *at) {
  ct_node *n = new_node(p, ND_FOR, at);
  int64_t cap = 0;
  if (!n) return NULL;
  do {
    if (cur(p)->kind != TK_NAME) {
      fail_expected(p, "a loop variable name");
      return NULL;
    }
    if (!append_name(p, &n->targets, &n->n_targets, &cap, cur(p)->text)) return NULL;
    p->pos++;
  } while (accept_op(p, ","));
  if (!accept_name(p, "in")) {
    fail_expected(p, "'in'");
    return NULL;
  }
  if (!(n->a = parse_or(p))) return NULL;
  if (accept_name(p, "if") && !(n->b = parse_expression(p))) return NULL;
  if (is_name(p, "recursive")) {
    fail_at(p, cur(p), "%s", "recursive loops are not supported");
    return NULL;
  }
  if (!expect_block_end(p)) return NULL;
  static const char *const stops[] = {"else", "endfor", NULL};
  ct_str stop;
  p->loops++;
  bool body_ok = parse_body(p, &n->body, stops, &stop);
  p->loops--;
  if (!body_ok) return NULL;
  if (ct_str_eq(stop, "else")) {
    static const char *const end[] = {"endfor", NULL};
    if (!expect_block_end(p) || !parse_body(p, &n->else_body, end, &stop)) return NULL;
  }
  return expect_block_end(p) ? n : NULL;
}

static ct_node *parse_set(parser *p, const ct_token *at) {
  ct_node *n = new_node(p, ND_SET, at);
  int64_t cap = 0;
  if (!n) return NULL;
  if (cur(p)->kind != TK_NAME) {
    fail_expected(p, "a variable name");
    return NULL;
  }
  n->name = cur(p)->text;
  p->pos++;
  if (accept_op(p, ".")) {
    if (cur(p)->kind != TK_NAME) {
      fail_expected(p, "an attribute name");
      return NULL;
    }
    n->attr = cur(p)->text;
    p->pos++;
  } else if (is_op(p, ",")) {
    if (!append_name(p, &n->targets, &n->n_targets, &cap, n->name)) return NULL;
    while (accept_op(p, ",")) {
      if (cur(p)->kind != TK_NAME) {
        fail_expected(p, "a variable name");
        return NULL;
      }
      if (!append_name(p, &n->targets, &n->n_targets, &cap, cur(p)->text)) return NULL;
      p->pos++;
    }
  }
  if (cur(p)->kind == TK_BLOCK_END && n->attr.n == 0 && n->n_targets == 0) {
    p->pos++;
    n->kind = ND_SET_BLOCK;
    static const char *const stops[] = {"endset", NULL};
    ct_str stop;
    return parse_body(p, &n->body, stops, &stop) && expect_block_end(p) ? n : NULL;
  }
  if (!expect_op(p, "=") || !(n->a = parse_tuple(p))) return NULL;
  return expect_block_end(p) ? n : NULL;
}

static ct_node *parse_macro(parser *p, const ct_token *at) {
  ct_node *n = new_node(p, ND_MACRO, at);
  int64_t cap = 0, dcap = 0;
  if (!n) return NULL;
  if (cur(p)->kind != TK_NAME) {
    fail_expected(p, "a macro name");
    return NULL;
  }
  n->name = cur(p)->text;
  p->pos++;
  if (!expect_op(p, "(")) return NULL;
  while (!accept_op(p, ")")) {
    if (n->n_targets > 0 && !expect_op(p, ",")) return NULL;
    if (cur(p)->kind != TK_NAME) {
      fail_expected(p, "a parameter name");
      return NULL;
    }
    if (!append_name(p, &n->targets, &n->n_targets, &cap, cur(p)->text)) return NULL;
    p->pos++;
    ct_node *def = NULL;
    if (accept_op(p, "=") && !(def = parse_expression(p))) return NULL;
    /* kwvals holds one default per parameter (NULL: required) */
    if (n->kwvals.n == dcap) {
      int64_t c = dcap ? dcap * 2 : 4;
      ct_node **items = ct_alloc(p->arena, (size_t)c * sizeof *items);
      if (!items) return NULL;
      if (n->kwvals.n) memcpy(items, n->kwvals.items, (size_t)n->kwvals.n * sizeof *items);
      n->kwvals.items = items;
      dcap = c;
    }
    n->kwvals.items[n->kwvals.n++] = def;
  }
  static const char *const stops[] = {"endmacro", NULL};
  ct_str stop;
  int loops = p->loops;
  p->loops = 0; /* a macro body is not inside the loop that defines it */
  bool body_ok = expect_block_end(p) && parse_body(p, &n->body, stops, &stop);
  p->loops = loops;
  if (!body_ok) return NULL;
  if (cur(p)->kind == TK_NAME) p->pos++; /* {% endmacro name %} */
  return expect_block_end(p) ? n : NULL;
}

static ct_node *parse_statement(parser *p) {
  const ct_token *at = cur(p);
  if (at->kind != TK_NAME) {
    fail_expected(p, "a tag name");
    return NULL;
  }
  p->pos++;
  if (ct_str_eq(at->text, "if")) return parse_if(p, at);
  if (ct_str_eq(at->text, "for")) return parse_for(p, at);
  if (ct_str_eq(at->text, "set")) return parse_set(p, at);
  if (ct_str_eq(at->text, "macro")) return parse_macro(p, at);
  if (ct_str_eq(at->text, "break") || ct_str_eq(at->text, "continue")) {
    if (p->loops == 0) {
      fail_at(p, at, "'%s' outside a loop", ct_str_eq(at->text, "break") ? "break" : "continue");
      return NULL;
    }
    ct_node *n = new_node(p, ct_str_eq(at->text, "break") ? ND_BREAK : ND_CONTINUE, at);
    return n && expect_block_end(p) ? n : NULL;
  }
  if (ct_str_eq(at->text, "generation")) {
    /* transformers' {% generation %} marks assistant text; it renders its body unchanged */
    ct_node *n = new_node(p, ND_BODY, at);
    static const char *const stops[] = {"endgeneration", NULL};
    ct_str stop;
    if (!n || !expect_block_end(p) || !parse_body(p, &n->body, stops, &stop)) return NULL;
    return expect_block_end(p) ? n : NULL;
  }
  char name[48];
  snprintf(name, sizeof name, "%.*s", (int)(at->text.n > 40 ? 40 : at->text.n), at->text.s);
  fail_at(p, at, "unknown or unsupported tag '%s'", name);
  return NULL;
}

/* Statements until one of `stops` (NULL: the end of the template). Leaves the parser after the
 * stop word, before the rest of its tag. */
static bool parse_body(parser *p, ct_nodes *body, const char *const *stops, ct_str *stopped) {
  int64_t cap = 0;
  const ct_token *opened = p->pos > 0 ? &p->toks[p->pos - 1] : cur(p);
  if (!enter(p)) return false;
  for (;;) {
    const ct_token *t = cur(p);
    if (t->kind == TK_EOF) {
      if (!stops) break;
      char msg[128];
      /* name the closing tag: the last of the stop words */
      const char *last = stops[0];
      for (int k = 0; stops[k]; k++) last = stops[k];
      snprintf(msg, sizeof msg, "missing '{%% %s %%}' for the block opened on line %d", last,
               opened->line);
      return fail_at(p, t, "%s", msg);
    }
    if (t->kind == TK_TEXT) {
      ct_node *n = new_node(p, ND_TEXT, t);
      if (!n) return false;
      n->lit = ct_string(t->text);
      p->pos++;
      if (!append(p, body, &cap, n)) return false;
      continue;
    }
    if (t->kind == TK_VAR_BEGIN) {
      p->pos++;
      ct_node *n = new_node(p, ND_OUTPUT, t);
      if (!n || !(n->a = parse_tuple(p))) return false;
      if (cur(p)->kind != TK_VAR_END) return fail_expected(p, "'}}'");
      p->pos++;
      if (!append(p, body, &cap, n)) return false;
      continue;
    }
    if (t->kind != TK_BLOCK_BEGIN) return fail_expected(p, "template text or a tag");
    const ct_token *name = &p->toks[p->pos + 1];
    bool is_stop = false;
    for (int k = 0; stops && stops[k] && name->kind == TK_NAME; k++)
      if (ct_str_eq(name->text, stops[k])) is_stop = true;
    if (is_stop) {
      p->pos += 2;
      *stopped = name->text;
      break;
    }
    if (name->kind == TK_NAME &&
        (ct_str_eq(name->text, "endif") || ct_str_eq(name->text, "endfor") ||
         ct_str_eq(name->text, "else") || ct_str_eq(name->text, "elif") ||
         ct_str_eq(name->text, "endset") || ct_str_eq(name->text, "endmacro") ||
         ct_str_eq(name->text, "endgeneration"))) {
      char word[24];
      snprintf(word, sizeof word, "%.*s", (int)name->text.n, name->text.s);
      return fail_at(p, name, "unexpected '%s' (no open block it could close)", word);
    }
    p->pos++;
    if (!append(p, body, &cap, parse_statement(p))) return false;
  }
  p->depth--;
  return true;
}

bool ct_parse(ct_arena *a, const ct_tokens *tokens, ct_nodes *out, char *err, size_t err_size) {
  parser p = {.arena = a, .toks = tokens->items, .n = tokens->n, .err = err, .err_size = err_size};
  ct_str stop = {0};
  memset(out, 0, sizeof *out);
  if (parse_body(&p, out, NULL, &stop)) return true;
  if (!p.failed) fail_at(&p, cur(&p), "%s", "out of memory");
  return false;
}
