/*
 * tok_pretokenize_ext.c — BertPreTokenizer (split on whitespace, which is removed, then every
 * punctuation character becomes a piece of its own) and WhitespaceSplit (whitespace only), as in
 * HuggingFace `tokenizers`. Both only refine the spans; the text is unchanged.
 */
#include <string.h>
#include <utf8proc.h>

#include "tok_internal.h"

/* Rust's char::is_whitespace (Unicode White_Space). */
static bool is_white_space(uint32_t c) {
  if ((c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85) return true;
  utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

/* ASCII punctuation (which includes symbols such as $ + < = > ^ ` | ~) or a Unicode P* category. */
static bool is_bert_punctuation(uint32_t c) {
  if (c < 0x80)
    return c > 0x20 && c < 0x7F &&
           !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'));
  utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
  return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

ttt_status tok_pretokenize_ext(const tok_pre *step, const char *text, const tok_spans *in,
                               tok_spans *out) {
  bool bert = step->kind == TOK_PRE_BERT;
  for (size_t k = 0; k < in->len; k++) {
    size_t end = in->data[k].off + in->data[k].len, word = in->data[k].off;
    for (size_t i = word; i < end;) {
      uint32_t c = tok_utf8_decode((const unsigned char *)text + i);
      size_t cl = tok_utf8_char_len((unsigned char)text[i]);
      bool space = is_white_space(c), punct = bert && !space && is_bert_punctuation(c);
      ttt_status st = TTT_OK;
      if ((space || punct) && i > word) st = tok_spans_push(out, word, i - word);
      if (!st && punct) st = tok_spans_push(out, i, cl);
      if (st) return st;
      i += cl;
      if (space || punct) word = i;
    }
    if (end > word) {
      ttt_status st = tok_spans_push(out, word, end - word);
      if (st) return st;
    }
  }
  return TTT_OK;
}
