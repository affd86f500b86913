/*
 * ct_internal.h — the chat-template interpreter's private types: an arena allocator, values, the
 * lexer's tokens, the parser's syntax tree and the render state. See ttt_chat_template.h for the
 * supported language.
 *
 * Ownership: everything a template's parse produces lives in the template's arena; everything a
 * render produces lives in the render's arena and dies with it. Values are immutable once built,
 * except namespace() objects (whose attributes `set ns.x = ...` changes), so they share freely.
 */
#ifndef TTT_CT_INTERNAL_H
#define TTT_CT_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* ---- limits against hostile templates ---- */
enum {
  CT_MAX_TEMPLATE_BYTES = 1 << 20, /* template source */
  CT_MAX_NESTING = 200,            /* parser: nested expressions / blocks */
  CT_MAX_CALL_DEPTH = 64,          /* macro calls in progress */
  CT_MAX_EVAL_DEPTH = 2000,        /* expressions and blocks being run (bounds the C stack) */
  CT_MAX_RANGE = 100000,           /* range() length, as Jinja's sandbox */
  CT_ERROR_SIZE = 512,             /* error message buffer */
};
#define CT_MAX_OUTPUT_BYTES ((size_t)16 << 20) /* rendered text */
#define CT_MAX_ARENA_BYTES ((size_t)256 << 20) /* memory one render may use */
#define CT_MAX_ITERATIONS ((int64_t)1000000)   /* loop iterations in one render */

/* ---- arena ---- */
typedef struct ct_arena_block ct_arena_block;
typedef struct ct_arena {
  ct_arena_block *head;
  size_t used, limit; /* bytes handed out so far; 0 limit = unlimited */
} ct_arena;

/* NULL when out of memory or over the limit. Memory is zeroed and aligned for any type. */
void *ct_alloc(ct_arena *a, size_t size);
void ct_arena_free(ct_arena *a);
char *ct_strndup(ct_arena *a, const char *s, size_t n);

/* ---- strings ---- */
typedef struct ct_str {
  const char *s;
  size_t n;
} ct_str;

bool ct_str_eq(ct_str a, const char *lit);

/* A growable byte buffer (malloc'd); `limit` caps its size (0 = none). */
typedef struct ct_buf {
  char *data;
  size_t len, cap, limit;
  bool over; /* an append was refused by the limit or by malloc */
} ct_buf;
bool ct_buf_put(ct_buf *b, const char *s, size_t n);
bool ct_buf_putc(ct_buf *b, char c);
bool ct_buf_printf(ct_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- values ---- */
typedef enum ct_type {
  CT_UNDEF, /* a missing variable, key or attribute: prints "", is false, iterates as empty */
  CT_NONE,
  CT_BOOL,
  CT_INT,
  CT_FLOAT,
  CT_STR,
  CT_LIST,  /* also tuples */
  CT_DICT,  /* string keys, insertion order */
  CT_NS,    /* namespace(): a dict whose entries `set` may change */
  CT_MACRO, /* a {% macro %} */
  CT_GLOBAL /* a built-in function: range, namespace, dict, raise_exception, strftime_now */
} ct_type;

typedef struct ct_value ct_value;
typedef struct ct_list ct_list;
typedef struct ct_dict ct_dict;
struct ct_node;
struct ct_frame;

struct ct_value {
  ct_type type;
  union {
    bool b;
    int64_t i;
    double f;
    ct_str s; /* CT_STR; for CT_UNDEF the name that was missing (for messages) */
    ct_list *list;
    ct_dict *dict; /* CT_DICT and CT_NS */
    struct ct_macro *macro;
    int global; /* CT_GLOBAL: index into the table of built-in functions */
  } u;
};

struct ct_list {
  bool tuple; /* prints as (a, b) */
  int64_t n;
  ct_value *items;
};

struct ct_dict {
  int64_t n, cap;
  ct_str *keys;
  ct_value *vals;
};

typedef struct ct_macro {
  const struct ct_node *node;
  struct ct_frame *closure;
} ct_macro;

ct_value ct_undef(ct_str name);
ct_value ct_none(void);
ct_value ct_bool(bool b);
ct_value ct_int(int64_t i);
ct_value ct_float(double f);
ct_value ct_string(ct_str s);
ct_value ct_cstring(const char *s);

/* Arena-allocated containers (NULL on allocation failure). */
ct_list *ct_list_new(ct_arena *a, int64_t n);
ct_dict *ct_dict_new(ct_arena *a, int64_t cap);
/* Sets key to val (replacing an existing entry); false on allocation failure. */
bool ct_dict_set(ct_arena *a, ct_dict *d, ct_str key, ct_value val);
/* The entry's value, or NULL. */
ct_value *ct_dict_get(const ct_dict *d, ct_str key);

/* Converts JSON to a value (numbers that are integers within ±2^53 become ints). */
bool ct_from_json(ct_arena *a, const cJSON *json, ct_value *out);

bool ct_truthy(ct_value v);
const char *ct_type_name(ct_value v);
/* The type with its article, for messages: "an integer", "a string". */
const char *ct_a_type_name(ct_value v);
/* Python's ==, with 1 == 1.0 == True and deep comparison of lists and dicts. */
bool ct_equal(ct_value a, ct_value b);
/* Appends str(v) as Python/Jinja print it ("None", "True", "1.5", "['a', 1]"). */
bool ct_to_text(ct_buf *b, ct_value v);
/* Appends repr(v) (strings quoted). */
bool ct_repr(ct_buf *b, ct_value v);
/* json.dumps(v, ensure_ascii=False, indent=indent, sort_keys=false); indent < 0 = none. False with
 * *bad set to the offending value when v holds something JSON cannot represent. */
bool ct_to_json(ct_buf *b, ct_value v, int indent, int depth, ct_value *bad);
/* Python float repr: shortest round-trip digits, ".0" for integral values, exponent past 1e16. */
void ct_format_float(double f, char *out, size_t size);

/* UTF-8 helpers: number of code points; byte offsets of each code point (n + 1 entries, the last
 * being the length). */
int64_t ct_utf8_length(ct_str s);
int64_t *ct_utf8_offsets(ct_arena *a, ct_str s, int64_t *n);
/* Python's str.isspace for one code point. */
bool ct_is_space(int32_t cp);
/* Decodes one code point at s[*pos] (invalid bytes decode as themselves, one byte each). */
int32_t ct_utf8_next(ct_str s, size_t *pos);
/* Writes a code point (<= 0x10FFFF) as 1 to 4 bytes of UTF-8; returns the count. */
size_t ct_utf8_encode(char *out, uint32_t cp);

/* ---- lexer ---- */
typedef enum ct_tok_kind {
  TK_EOF,
  TK_TEXT,        /* template text between tags */
  TK_VAR_BEGIN,   /* {{ */
  TK_VAR_END,     /* }} */
  TK_BLOCK_BEGIN, /* {% */
  TK_BLOCK_END,   /* %} */
  TK_NAME,
  TK_STRING, /* decoded value in text */
  TK_INT,
  TK_FLOAT,
  TK_OP /* operator or punctuation, spelled in text */
} ct_tok_kind;

typedef struct ct_token {
  ct_tok_kind kind;
  ct_str text;
  int64_t i;
  double f;
  int line, col;
} ct_token;

typedef struct ct_tokens {
  ct_token *items;
  int64_t n;
} ct_tokens;

/* Splits `src` into tokens with Jinja's whitespace rules (trim_blocks, lstrip_blocks, "-"/"+"
 * markers, one trailing newline dropped, newlines normalized to \n). False with a message
 * ("line L, column C: ...") in err. */
bool ct_lex(ct_arena *a, const char *src, size_t len, ct_tokens *out, char *err, size_t err_size);

/* ---- syntax tree ---- */
typedef enum ct_node_kind {
  /* expressions */
  ND_LITERAL, /* lit */
  ND_NAME,    /* name */
  ND_LIST,    /* args */
  ND_TUPLE,   /* args */
  ND_DICT,    /* args = keys, kwvals = values */
  ND_GETATTR, /* a.name */
  ND_GETITEM, /* a[b] */
  ND_SLICE,   /* a[b:c:d], each of b, c, d may be NULL */
  ND_CALL,    /* a(args, kwnames=kwvals) */
  ND_FILTER,  /* a | name(args, kw) */
  ND_TEST,    /* a is [not] name(args); op = 1 when negated */
  ND_UNARY,   /* op a: '-', '+', '!' (not) */
  ND_BINARY,  /* a op b: see ct_binop */
  ND_COND,    /* a if b else c (c may be NULL) */
  /* statements */
  ND_TEXT,      /* lit */
  ND_OUTPUT,    /* {{ a }} */
  ND_IF,        /* if a: body else else_body */
  ND_FOR,       /* for targets in a [if b]: body else else_body */
  ND_SET,       /* set name[.attr] = a */
  ND_SET_BLOCK, /* set name %} body {% endset */
  ND_MACRO,     /* macro name(targets = kwvals defaults) body */
  ND_BREAK,
  ND_CONTINUE,
  ND_BODY /* a plain sequence (generation blocks) */
} ct_node_kind;

typedef enum ct_binop {
  OP_ADD,
  OP_SUB,
  OP_MUL,
  OP_DIV,
  OP_FLOORDIV,
  OP_MOD,
  OP_POW,
  OP_CONCAT,
  OP_AND,
  OP_OR,
  OP_EQ,
  OP_NE,
  OP_LT,
  OP_LE,
  OP_GT,
  OP_GE,
  OP_IN,
  OP_NOT_IN
} ct_binop;

typedef struct ct_nodes {
  struct ct_node **items;
  int64_t n;
} ct_nodes;

typedef struct ct_node {
  ct_node_kind kind;
  int op;
  int line, col;
  ct_value lit;
  ct_str name, attr;
  struct ct_node *a, *b, *c, *d;
  ct_nodes args, body, else_body;
  ct_str *kwnames; /* n = kwvals.n */
  ct_nodes kwvals;
  ct_str *targets; /* loop variables / macro parameters */
  int64_t n_targets;
} ct_node;

/* Parses tokens into a statement list. False with "line L, column C: ..." in err. */
bool ct_parse(ct_arena *a, const ct_tokens *tokens, ct_nodes *out, char *err, size_t err_size);

/* ---- render ---- */
typedef struct ct_frame {
  struct ct_frame *parent;
  ct_dict *vars;
} ct_frame;

typedef enum ct_flow { FLOW_NORMAL, FLOW_BREAK, FLOW_CONTINUE } ct_flow;

typedef struct ct_render {
  ct_arena arena;
  ct_buf *out; /* where output goes (swapped while capturing a macro or set block) */
  ct_frame *globals;
  int64_t iterations;
  int call_depth, eval_depth;
  ct_flow flow;
  bool failed;
  char err[CT_ERROR_SIZE];
} ct_render;

/* Records the first error as "line L, column C: message"; returns false. */
bool ct_fail(ct_render *r, const ct_node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An allocation failed: records a message naming the memory limit. */
bool ct_fail_memory(ct_render *r, const ct_node *at);

/* Runs a statement list. */
bool ct_exec(ct_render *r, ct_frame *frame, const ct_nodes *body);
bool ct_eval(ct_render *r, ct_frame *frame, const ct_node *expr, ct_value *out);

/* Arguments of a call / filter / test / method, evaluated. */
typedef struct ct_args {
  int64_t n;
  ct_value *pos;
  int64_t n_kw;
  ct_str *kwnames;
  ct_value *kwvals;
} ct_args;

/* Built-ins (ct_builtins.c). Each returns false after ct_fail. */
bool ct_apply_filter(ct_render *r, ct_frame *frame, const ct_node *at, ct_str name, ct_value v,
                     const ct_args *args, ct_value *out);
bool ct_apply_test(ct_render *r, const ct_node *at, ct_str name, ct_value v, const ct_args *args,
                   bool *out);
/* A method call obj.name(args) on a string, dict or list. *found = false when obj has no such
 * method (the caller then tries an attribute that holds a callable). */
bool ct_call_method(ct_render *r, const ct_node *at, ct_value obj, ct_str name, const ct_args *args,
                    bool *found, ct_value *out);
/* True if a filter / test of that name exists (the parser refuses unknown ones, as Jinja does). */
bool ct_filter_exists(ct_str name);
bool ct_test_exists(ct_str name);
/* The built-in global function named `name`, or false. */
bool ct_lookup_global(ct_str name, ct_value *out);
bool ct_call_global(ct_render *r, const ct_node *at, int global, const ct_args *args,
                    ct_value *out);
/* Calls a macro or global value with evaluated arguments. */
bool ct_call_value(ct_render *r, const ct_node *at, ct_value callee, const ct_args *args,
                   ct_value *out);
/* Attribute / item access with Jinja's rules (dict keys, list indices, negative indices). */
bool ct_get_item(ct_render *r, const ct_node *at, ct_value obj, ct_value key, ct_value *out);
/* The text of a value as a new arena string. */
bool ct_stringify(ct_render *r, const ct_node *at, ct_value v, ct_str *out);
/* Jinja-sandbox-style iteration: a list's items, a dict's keys, a string's characters; undefined
 * iterates as empty. */
bool ct_iterate(ct_render *r, const ct_node *at, ct_value v, ct_list **out);

#endif
