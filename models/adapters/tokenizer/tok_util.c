/* tok_util.c — buffers, hash maps, UTF-8 helpers and the ByteLevel byte table. */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

/* ---- buffers ----------------------------------------------------------------------------------
 */

static ttt_status grow(void **data, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return TTT_OK;
  size_t cap2 = *cap ? *cap : 16;
  while (cap2 < need) {
    if (cap2 > SIZE_MAX / 2 / elem)
      return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: buffer too large");
    cap2 *= 2;
  }
  void *p = realloc(*data, cap2 * elem);
  if (!p)
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory (%zu bytes)",
                         cap2 * elem);
  *data = p;
  *cap = cap2;
  return TTT_OK;
}

ttt_status tok_buf_reserve(tok_buf *b, size_t extra) {
  if (extra > SIZE_MAX - b->len - 1)
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: buffer too large");
  /* one spare byte so that callers may NUL-terminate */
  return grow((void **)&b->data, &b->cap, b->len + extra + 1, 1);
}

ttt_status tok_buf_append(tok_buf *b, const void *p, size_t n) {
  ttt_status st = tok_buf_reserve(b, n);
  if (st) return st;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return TTT_OK;
}

ttt_status tok_buf_push(tok_buf *b, char c) { return tok_buf_append(b, &c, 1); }

void tok_buf_free(tok_buf *b) {
  free(b->data);
  *b = (tok_buf){0};
}

ttt_status tok_ids_push(tok_ids *v, int32_t id) { return tok_ids_append(v, &id, 1); }

ttt_status tok_ids_append(tok_ids *v, const int32_t *ids, int64_t n) {
  size_t cap = (size_t)v->cap;
  ttt_status st = grow((void **)&v->data, &cap, (size_t)(v->len + n), sizeof(int32_t));
  if (st) return st;
  v->cap = (int64_t)cap;
  if (n) memcpy(v->data + v->len, ids, (size_t)n * sizeof(int32_t));
  v->len += n;
  return TTT_OK;
}

ttt_status tok_spans_push(tok_spans *v, size_t off, size_t len) {
  ttt_status st = grow((void **)&v->data, &v->cap, v->len + 1, sizeof(tok_span));
  if (st) return st;
  v->data[v->len++] = (tok_span){off, len};
  return TTT_OK;
}

/* ---- hashing ----------------------------------------------------------------------------------
 */

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

uint64_t tok_hash(const void *p, size_t n) {
  const unsigned char *s = p;
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0x100000001B3ull);
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, s, 8);
    h = (h ^ mix64(w)) * 0x100000001B3ull;
    s += 8;
    n -= 8;
  }
  uint64_t tail = 0;
  for (size_t i = 0; i < n; i++) tail |= (uint64_t)s[i] << (8 * i);
  h = mix64(h ^ tail);
  return h | 1; /* 0 marks an empty slot */
}

static size_t table_size(size_t expected) {
  size_t cap = 16;
  while (cap < expected * 2) cap *= 2;
  return cap;
}

/* ---- string map -------------------------------------------------------------------------------
 */

ttt_status tok_map_init(tok_map *m, size_t expected) {
  *m = (tok_map){0};
  size_t cap = table_size(expected);
  m->slots = calloc(cap, sizeof *m->slots);
  if (!m->slots) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory (hash map)");
  m->mask = cap - 1;
  return TTT_OK;
}

static size_t map_find(const tok_map *m, const char *key, size_t len, uint64_t h) {
  size_t i = h & m->mask;
  for (;;) {
    const tok_map_slot *s = &m->slots[i];
    if (s->hash == 0) return i;
    if (s->hash == h && s->key_len == len && memcmp(m->keys.data + s->key_off, key, len) == 0)
      return i;
    i = (i + 1) & m->mask;
  }
}

static ttt_status map_rehash(tok_map *m) {
  size_t cap = (m->mask + 1) * 2;
  tok_map_slot *slots = calloc(cap, sizeof *slots);
  if (!slots) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory (hash map)");
  for (size_t i = 0; i <= m->mask; i++) {
    if (m->slots[i].hash == 0) continue;
    size_t j = m->slots[i].hash & (cap - 1);
    while (slots[j].hash) j = (j + 1) & (cap - 1);
    slots[j] = m->slots[i];
  }
  free(m->slots);
  m->slots = slots;
  m->mask = cap - 1;
  return TTT_OK;
}

ttt_status tok_map_put(tok_map *m, const char *key, size_t len, int64_t value, bool *inserted) {
  if (len > UINT32_MAX || m->keys.len > UINT32_MAX - len)
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: hash map keys exceed 4 GiB");
  uint64_t h = tok_hash(key, len);
  size_t i = map_find(m, key, len, h);
  if (m->slots[i].hash) {
    if (inserted) *inserted = false;
    return TTT_OK;
  }
  size_t off = m->keys.len;
  ttt_status st = tok_buf_append(&m->keys, key, len);
  if (st) return st;
  m->slots[i] = (tok_map_slot){h, (uint32_t)off, (uint32_t)len, value};
  m->count++;
  if (inserted) *inserted = true;
  /* keep the load factor at or below 1/2 */
  if (m->count * 2 > m->mask + 1) return map_rehash(m);
  return TTT_OK;
}

bool tok_map_get(const tok_map *m, const char *key, size_t len, int64_t *value) {
  if (!m->slots) return false;
  size_t i = map_find(m, key, len, tok_hash(key, len));
  if (!m->slots[i].hash) return false;
  *value = m->slots[i].value;
  return true;
}

void tok_map_free(tok_map *m) {
  free(m->slots);
  tok_buf_free(&m->keys);
  *m = (tok_map){0};
}

/* ---- pair map ---------------------------------------------------------------------------------
 */

ttt_status tok_pair_map_init(tok_pair_map *m, size_t expected) {
  size_t cap = table_size(expected);
  m->slots = malloc(cap * sizeof *m->slots);
  if (!m->slots) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory (merges)");
  for (size_t i = 0; i < cap; i++) m->slots[i].rank = -1;
  m->mask = cap - 1;
  return TTT_OK;
}

static uint64_t pair_key(int32_t left, int32_t right) {
  return ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
}

/* The caller sizes the map for all merges, so the table never fills beyond half. */
void tok_pair_map_set(tok_pair_map *m, int32_t left, int32_t right, int32_t rank, int32_t merged) {
  uint64_t key = pair_key(left, right);
  size_t i = mix64(key) & m->mask;
  while (m->slots[i].rank >= 0 && m->slots[i].key != key) i = (i + 1) & m->mask;
  m->slots[i] = (tok_pair_slot){key, rank, merged};
}

const tok_pair_slot *tok_pair_map_get(const tok_pair_map *m, int32_t left, int32_t right) {
  uint64_t key = pair_key(left, right);
  size_t i = mix64(key) & m->mask;
  for (;;) {
    const tok_pair_slot *s = &m->slots[i];
    if (s->rank < 0) return NULL;
    if (s->key == key) return s;
    i = (i + 1) & m->mask;
  }
}

void tok_pair_map_free(tok_pair_map *m) {
  free(m->slots);
  *m = (tok_pair_map){0};
}

/* ---- UTF-8 ------------------------------------------------------------------------------------
 */

size_t tok_utf8_valid_len(const unsigned char *s, size_t n) {
  if (n == 0) return 0;
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0) lo = 0xA0; /* no overlong forms */
    if (c == 0xED) hi = 0x9F; /* no surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
  } else {
    return 0;
  }
  if (n < need || s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < need; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  return need;
}

size_t tok_utf8_char_len(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

uint32_t tok_utf8_decode(const unsigned char *s) {
  switch (tok_utf8_char_len(s[0])) {
  case 1:
    return s[0];
  case 2:
    return ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
  case 3:
    return ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
  default:
    return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
           ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
  }
}

size_t tok_utf8_encode(uint32_t cp, char out[4]) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Length of the maximal prefix of an invalid sequence that could start a valid character (the
 * "maximal subpart" that Unicode replaces with a single U+FFFD); at least 1. */
static size_t invalid_subpart_len(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  size_t need = c >= 0xC2 && c <= 0xDF   ? 2
                : c >= 0xE0 && c <= 0xEF ? 3
                : c >= 0xF0 && c <= 0xF4 ? 4
                                         : 1;
  if (need == 1 || n < 2) return 1;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c == 0xE0) lo = 0xA0;
  if (c == 0xED) hi = 0x9F;
  if (c == 0xF0) lo = 0x90;
  if (c == 0xF4) hi = 0x8F;
  if (s[1] < lo || s[1] > hi) return 1;
  size_t i = 2;
  while (i < need && i < n && (s[i] & 0xC0) == 0x80) i++;
  return i;
}

ttt_status tok_utf8_lossy(tok_buf *out, const char *text, size_t len) {
  const unsigned char *s = (const unsigned char *)text;
  size_t i = 0;
  while (i < len) {
    size_t run = i;
    while (run < len) { /* copy the longest valid run at once */
      size_t k = tok_utf8_valid_len(s + run, len - run);
      if (!k) break;
      run += k;
    }
    ttt_status st = tok_buf_append(out, s + i, run - i);
    if (st) return st;
    i = run;
    if (i == len) break;
    i += invalid_subpart_len(s + i, len - i);
    st = tok_buf_append(out, "\xEF\xBF\xBD", 3);
    if (st) return st;
  }
  ttt_status st = tok_buf_reserve(out, 0);
  if (!st) out->data[out->len] = '\0';
  return st;
}

bool tok_utf8_is_valid(const char *text, size_t len) {
  const unsigned char *s = (const unsigned char *)text;
  for (size_t i = 0; i < len;) {
    size_t k = tok_utf8_valid_len(s + i, len - i);
    if (!k) return false;
    i += k;
  }
  return true;
}

/* ---- ByteLevel table --------------------------------------------------------------------------
 */

/* GPT-2 maps the printable bytes ('!'..'~', 0xA1..0xAC, 0xAE..0xFF) to the characters of the same
 * code point and every other byte, in increasing order, to U+0100, U+0101, ... */
void tok_byte_level_init(tok_byte_level *bl) {
  for (int i = 0; i < 512; i++) bl->dec[i] = -1;
  uint32_t next = 256;
  for (int b = 0; b < 256; b++) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    uint32_t cp = printable ? (uint32_t)b : next++;
    char tmp[4];
    bl->enc_len[b] = (uint8_t)tok_utf8_encode(cp, tmp);
    memcpy(bl->enc[b], tmp, bl->enc_len[b]);
    bl->dec[cp] = (int16_t)b;
  }
}

/* ---- search -----------------------------------------------------------------------------------
 */

const char *tok_find(const char *s, size_t n, const char *needle, size_t m) {
  if (m == 0 || m > n) return NULL;
  const char *end = s + n - m;
  for (const char *p = s; p <= end; p++) {
    p = memchr(p, needle[0], (size_t)(end - p) + 1);
    if (!p) return NULL;
    if (memcmp(p, needle, m) == 0) return p;
  }
  return NULL;
}
