/* ct_lexer.c — splits a chat template into text and tag tokens the way Jinja2's lexer does with
 * trim_blocks and lstrip_blocks on (the settings transformers renders chat templates with). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_internal.h"

typedef struct lexer {
  ct_arena *arena;
  const char *src;
  size_t len, pos;
  size_t mark_pos; /* line/col of mark_pos are mark_line/mark_col (positions only move forward) */
  int mark_line, mark_col;
  ct_token *toks;
  int64_t n, cap;
  char *err;
  size_t err_size;
} lexer;

static void locate(lexer *l, size_t pos, int *line, int *col) {
  for (; l->mark_pos < pos; l->mark_pos++) {
    if (l->src[l->mark_pos] == '\n') {
      l->mark_line++;
      l->mark_col = 1;
    } else if (((unsigned char)l->src[l->mark_pos] & 0xc0) != 0x80) {
      l->mark_col++;
    }
  }
  *line = l->mark_line;
  *col = l->mark_col;
}

static bool lex_fail(lexer *l, size_t pos, const char *what) {
  int line, col;
  locate(l, pos, &line, &col);
  snprintf(l->err, l->err_size, "line %d, column %d: %s", line, col, what);
  return false;
}

static ct_token *push(lexer *l, ct_tok_kind kind, size_t at, const char *s, size_t n) {
  if (l->n == l->cap) {
    int64_t cap = l->cap ? l->cap * 2 : 256;
    ct_token *t = ct_alloc(l->arena, (size_t)cap * sizeof *t);
    if (!t) return NULL;
    if (l->n) memcpy(t, l->toks, (size_t)l->n * sizeof *t);
    l->toks = t;
    l->cap = cap;
  }
  ct_token *t = &l->toks[l->n++];
  memset(t, 0, sizeof *t);
  t->kind = kind;
  t->text = (ct_str){s, n};
  locate(l, at, &t->line, &t->col);
  return t;
}

static bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool starts(const lexer *l, size_t pos, const char *lit) {
  size_t n = strlen(lit);
  return pos + n <= l->len && memcmp(l->src + pos, lit, n) == 0;
}

/* Skips whitespace after a "-%}" / "-}}" / "-#}" (Python's \s*, Unicode included). */
static size_t skip_ws(const lexer *l, size_t pos) {
  ct_str s = {l->src, l->len};
  while (pos < l->len) {
    size_t next = pos;
    if (!ct_is_space(ct_utf8_next(s, &next))) break;
    pos = next;
  }
  return pos;
}

/* Reads `digits` hex digits at s; false if they are not all hex. */
static bool read_hex(const char *s, size_t avail, int digits, uint32_t *out) {
  if ((size_t)digits > avail) return false;
  uint32_t v = 0;
  for (int i = 0; i < digits; i++) {
    if (!isxdigit((unsigned char)s[i])) return false;
    v = v * 16 + (uint32_t)(isdigit((unsigned char)s[i]) ? s[i] - '0' : (tolower(s[i]) - 'a' + 10));
  }
  *out = v;
  return true;
}

/* A quoted string literal with Python's escapes (\n \t \r \\ \' \" \xHH \uXXXX \UXXXXXXXX ...). */
static bool lex_string(lexer *l) {
  size_t start = l->pos;
  char quote = l->src[l->pos++];
  size_t end = l->pos;
  while (end < l->len && l->src[end] != quote) end += l->src[end] == '\\' ? 2 : 1;
  if (end >= l->len) return lex_fail(l, start, "unterminated string literal");
  char *out = ct_alloc(l->arena, end - l->pos + 1);
  if (!out) return lex_fail(l, start, "out of memory");
  size_t n = 0;
  for (size_t i = l->pos; i < end; i++) {
    char c = l->src[i];
    if (c != '\\') {
      out[n++] = c;
      continue;
    }
    char e = l->src[++i];
    static const char simple[] = "n\nt\tr\r\\\\''\"\"a\ab\bf\fv\v0\0";
    const char *hit = strchr(simple, e);
    uint32_t cp = 0;
    int hex = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
    if (e == '\n') continue; /* a backslash-newline continues the line */
    if (hit && ((hit - simple) % 2) == 0) {
      out[n++] = hit[1];
    } else if (hex && read_hex(l->src + i + 1, end - i - 1, hex, &cp) && cp <= 0x10ffff) {
      n += ct_utf8_encode(out + n, cp); /* at most 4 bytes for an escape of at least 4 */
      i += (size_t)hex;
    } else {
      out[n++] = '\\';
      out[n++] = e;
    }
  }
  ct_token *t = push(l, TK_STRING, start, out, n);
  l->pos = end + 1;
  return t ? true : lex_fail(l, start, "out of memory");
}

static bool lex_number(lexer *l) {
  size_t start = l->pos, p = l->pos;
  while (p < l->len && (isdigit((unsigned char)l->src[p]) || l->src[p] == '_')) p++;
  bool is_float = false;
  if (p + 1 < l->len && l->src[p] == '.' && isdigit((unsigned char)l->src[p + 1])) {
    is_float = true;
    for (p++; p < l->len && (isdigit((unsigned char)l->src[p]) || l->src[p] == '_');) p++;
  }
  if (p < l->len && (l->src[p] == 'e' || l->src[p] == 'E')) {
    size_t q = p + 1;
    if (q < l->len && (l->src[q] == '+' || l->src[q] == '-')) q++;
    if (q < l->len && isdigit((unsigned char)l->src[q])) {
      is_float = true;
      for (p = q; p < l->len && isdigit((unsigned char)l->src[p]);) p++;
    }
  }
  char buf[64];
  size_t n = 0;
  for (size_t i = start; i < p && n + 1 < sizeof buf; i++)
    if (l->src[i] != '_') buf[n++] = l->src[i];
  buf[n] = '\0';
  if (p - start >= sizeof buf) return lex_fail(l, start, "number literal too long");
  ct_token *t = push(l, is_float ? TK_FLOAT : TK_INT, start, l->src + start, p - start);
  if (!t) return lex_fail(l, start, "out of memory");
  if (is_float) {
    t->f = strtod(buf, NULL);
  } else {
    char *endp;
    unsigned long long v = strtoull(buf, &endp, 10);
    if (v > INT64_MAX) return lex_fail(l, start, "integer literal too large");
    t->i = (int64_t)v;
  }
  l->pos = p;
  return true;
}

static const char *const OPERATORS[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*",
                                        "/",  "%",  "~",  "<",  ">",  "=",  "(", ")", "[",
                                        "]",  "{",  "}",  ",",  ".",  ":",  "|"};

/* Tokens inside {{ }} or {% %} up to and including the end tag. Sets *line_starting. */
static bool lex_tag(lexer *l, bool is_block, bool *line_starting) {
  const char *end = is_block ? "%}" : "}}";
  int depth = 0; /* open ( [ { : an end tag only counts outside them, as in Jinja */
  char stack[CT_MAX_NESTING];
  for (;;) {
    while (l->pos < l->len && is_ws(l->src[l->pos])) l->pos++;
    if (l->pos >= l->len) return lex_fail(l, l->pos, is_block ? "missing '%}'" : "missing '}}'");
    size_t at = l->pos;
    if (depth == 0) {
      bool minus = l->src[at] == '-' && starts(l, at + 1, end);
      bool plus = is_block && l->src[at] == '+' && starts(l, at + 1, end);
      if (minus || plus || starts(l, at, end)) {
        if (!push(l, is_block ? TK_BLOCK_END : TK_VAR_END, at, l->src + at, 2))
          return lex_fail(l, at, "out of memory");
        l->pos = at + 2 + (minus || plus);
        if (minus)
          l->pos = skip_ws(l, l->pos);
        else if (is_block && !plus && l->pos < l->len && l->src[l->pos] == '\n')
          l->pos++; /* trim_blocks */
        *line_starting = l->pos > 0 && l->src[l->pos - 1] == '\n';
        return true;
      }
    }
    char c = l->src[at];
    if (c == '\'' || c == '"') {
      if (!lex_string(l)) return false;
      continue;
    }
    if (isdigit((unsigned char)c)) {
      if (!lex_number(l)) return false;
      continue;
    }
    if (isalpha((unsigned char)c) || c == '_') {
      size_t p = at;
      while (p < l->len && (isalnum((unsigned char)l->src[p]) || l->src[p] == '_')) p++;
      if (!push(l, TK_NAME, at, l->src + at, p - at)) return lex_fail(l, at, "out of memory");
      l->pos = p;
      continue;
    }
    const char *op = NULL;
    for (size_t k = 0; !op && k < sizeof OPERATORS / sizeof *OPERATORS; k++)
      if (starts(l, at, OPERATORS[k])) op = OPERATORS[k];
    if (!op) {
      char msg[64];
      snprintf(msg, sizeof msg, "unexpected character '%c' in a tag",
               isprint((unsigned char)c) ? c : '?');
      return lex_fail(l, at, msg);
    }
    if (strchr("([{", op[0]) && op[1] == '\0') {
      if (depth == CT_MAX_NESTING) return lex_fail(l, at, "brackets nested too deeply");
      stack[depth++] = op[0] == '(' ? ')' : op[0] == '[' ? ']' : '}';
    } else if (strchr(")]}", op[0]) && op[1] == '\0') {
      if (depth == 0 || stack[depth - 1] != op[0]) {
        char msg[64];
        snprintf(msg, sizeof msg, "unexpected '%c'", op[0]);
        return lex_fail(l, at, msg);
      }
      depth--;
    }
    if (!push(l, TK_OP, at, l->src + at, strlen(op))) return lex_fail(l, at, "out of memory");
    l->pos = at + strlen(op);
  }
}

/* Emits the text before a tag, applying "-" (strip all trailing whitespace) or lstrip_blocks
 * (drop spaces between the line's start and a block/comment tag). */
static bool emit_text(lexer *l, size_t start, size_t end, char sign, bool lstrip_applies,
                      bool line_starting) {
  if (sign == '-') {
    while (end > start && is_ws(l->src[end - 1])) end--;
  } else if (sign != '+' && lstrip_applies) {
    size_t line_pos = end;
    while (line_pos > start && l->src[line_pos - 1] != '\n') line_pos--;
    bool only_space = line_pos < end;
    for (size_t i = line_pos; i < end && only_space; i++) only_space = is_ws(l->src[i]);
    if ((line_pos > start || line_starting) && only_space) end = line_pos;
  }
  if (end == start) return true;
  return push(l, TK_TEXT, start, l->src + start, end - start) ? true
                                                              : lex_fail(l, start, "out of memory");
}

/* Converts \r\n and \r to \n and drops one trailing newline (Jinja's keep_trailing_newline=False). */
static char *normalize(ct_arena *a, const char *src, size_t len, size_t *out_len) {
  char *out = ct_alloc(a, len + 1);
  if (!out) return NULL;
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    if (src[i] == '\r') {
      out[n++] = '\n';
      if (i + 1 < len && src[i + 1] == '\n') i++;
    } else {
      out[n++] = src[i];
    }
  }
  if (n > 0 && out[n - 1] == '\n') n--;
  out[n] = '\0';
  *out_len = n;
  return out;
}

bool ct_lex(ct_arena *a, const char *src, size_t len, ct_tokens *out, char *err, size_t err_size) {
  lexer l = {.arena = a, .mark_line = 1, .mark_col = 1, .err = err, .err_size = err_size};
  if (!(l.src = normalize(a, src, len, &l.len))) return lex_fail(&l, 0, "out of memory");
  bool line_starting = true;
  while (l.pos < l.len) {
    const char *open = NULL;
    size_t at = l.pos;
    for (; at + 1 < l.len; at++) {
      if (l.src[at] != '{') continue;
      char c = l.src[at + 1];
      if (c == '{' || c == '%' || c == '#') {
        open = l.src + at;
        break;
      }
    }
    if (!open) {
      if (!push(&l, TK_TEXT, l.pos, l.src + l.pos, l.len - l.pos))
        return lex_fail(&l, l.pos, "out of memory");
      break;
    }
    char kind = open[1];
    char sign =
        at + 2 < l.len && (l.src[at + 2] == '-' || l.src[at + 2] == '+') ? l.src[at + 2] : 0;
    if (!emit_text(&l, l.pos, at, sign, kind != '{', line_starting)) return false;
    l.pos = at + 2 + (sign != 0);
    if (kind == '#') {
      const char *close = NULL;
      for (size_t p = l.pos; p + 1 < l.len && !close; p++)
        if (l.src[p] == '#' && l.src[p + 1] == '}') close = l.src + p;
      if (!close) return lex_fail(&l, at, "unterminated comment: missing '#}'");
      size_t p = (size_t)(close - l.src);
      bool minus = p > l.pos && l.src[p - 1] == '-';
      l.pos = p + 2;
      if (minus)
        l.pos = skip_ws(&l, l.pos);
      else if (l.pos < l.len && l.src[l.pos] == '\n')
        l.pos++;
      line_starting = l.pos > 0 && l.src[l.pos - 1] == '\n';
      continue;
    }
    bool is_block = kind == '%';
    if (!push(&l, is_block ? TK_BLOCK_BEGIN : TK_VAR_BEGIN, at, open, 2))
      return lex_fail(&l, at, "out of memory");
    if (!lex_tag(&l, is_block, &line_starting)) return false;
  }
  if (!push(&l, TK_EOF, l.len, l.src + l.len, 0)) return lex_fail(&l, l.len, "out of memory");
  out->items = l.toks;
  out->n = l.n;
  return true;
}
