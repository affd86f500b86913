/* Paged KV cache: a pool of fixed-size blocks, per-sequence per-layer block tables, a free list.
 *
 * Storage: two arenas (keys, values) of n_blocks blocks of block_bytes each. A sequence's layer is
 * a ttt_kv_layer in paged form whose `blocks` points at the sequence's table for that layer
 * (logical block p / block_positions → physical block, -1 when not held), so the attention
 * kernels read a paged sequence through the same row accessor as a contiguous cache. */
#include <stdlib.h>
#include <string.h>

#include "paged_kv_internal.h"

enum { DEFAULT_BLOCK_POSITIONS = 16, NO_BLOCK = -1 };

typedef struct paged_seq {
  bool live;
  int32_t *tables; /* n_layers × table_len */
  int64_t held;    /* blocks held */
  ttt_kv_layer layers[TTT_MAX_LAYERS];
} paged_seq;

struct ttt_paged_kv {
  ttt_kv_cache_spec spec; /* resolved */
  int64_t block_positions, n_blocks;
  int64_t table_len; /* logical blocks of a full sequence: ceil(max_positions / block_positions) */
  size_t block_bytes;
  uint8_t *k, *v;
  int32_t *free_list; /* LIFO: the most recently released (warm) block is reused first */
  int64_t n_free;
  paged_seq **seqs; /* [n_seqs]; NULL or not live entries are reusable */
  int32_t n_seqs;
};

/* The spec validated and resolved by the single-sequence cache (one source of truth for both):
 * a one-position cache is built and its resolved spec kept. */
static ttt_status resolve_spec(const ttt_kv_cache_spec *spec, ttt_kv_cache_spec *out) {
  if (!spec) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "paged kv spec: NULL");
  if (spec->max_positions < 1)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "paged kv spec: max_positions (%lld) must be >= 1",
                         (long long)spec->max_positions);
  ttt_kv_cache_spec *probe = malloc(sizeof *probe);
  if (!probe) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "paged kv: out of memory");
  *probe = *spec;
  probe->max_positions = 1;
  ttt_kv_cache *cache = NULL;
  ttt_status st = ttt_kv_cache_create(probe, &cache);
  if (st == TTT_OK) {
    *out = *ttt_kv_cache_get_spec(cache);
    out->max_positions = spec->max_positions;
  }
  ttt_kv_cache_destroy(cache);
  free(probe);
  return st;
}

static size_t layer_row_bytes(const ttt_kv_cache_layer_spec *l) {
  return (size_t)l->head_dim * (l->dtype == TTT_BF16 ? 2 : 4);
}

ttt_status ttt_paged_kv_create(const ttt_kv_cache_spec *spec, int64_t block_positions,
                               int64_t n_blocks, ttt_paged_kv **out) {
  if (!out) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "paged kv create: NULL out");
  *out = NULL;
  if (block_positions == 0) block_positions = DEFAULT_BLOCK_POSITIONS;
  if (block_positions < 1 || n_blocks < 1 || n_blocks > INT32_MAX)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "paged kv create: block_positions (%lld) must be >= 1 and n_blocks "
                         "(%lld) in [1, %d]",
                         (long long)block_positions, (long long)n_blocks, INT32_MAX);
  ttt_paged_kv *p = calloc(1, sizeof *p);
  if (!p) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "paged kv create: out of memory");
  ttt_status st = resolve_spec(spec, &p->spec);
  if (st != TTT_OK) {
    free(p);
    return st;
  }
  p->block_positions = block_positions;
  p->n_blocks = n_blocks;
  p->table_len = (p->spec.max_positions + block_positions - 1) / block_positions;
  for (int64_t l = 0; l < p->spec.n_layers; l++) {
    const ttt_kv_cache_layer_spec *ls = &p->spec.layers[l];
    size_t bytes = (size_t)(ls->n_kv_heads * block_positions) * layer_row_bytes(ls);
    if (bytes > p->block_bytes) p->block_bytes = bytes;
  }
  /* Arenas are reserved whole; untouched blocks cost address space, not resident memory. */
  if ((size_t)n_blocks > SIZE_MAX / p->block_bytes) {
    size_t block_bytes = p->block_bytes;
    free(p);
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "paged kv create: %lld blocks of %zu bytes",
                         (long long)n_blocks, block_bytes);
  }
  p->k = malloc((size_t)n_blocks * p->block_bytes);
  p->v = malloc((size_t)n_blocks * p->block_bytes);
  p->free_list = malloc((size_t)n_blocks * sizeof *p->free_list);
  if (!p->k || !p->v || !p->free_list) {
    ttt_paged_kv_destroy(p);
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "paged kv create: out of memory for %lld blocks",
                         (long long)n_blocks);
  }
  /* Block 0 on top of the stack. */
  for (int64_t i = 0; i < n_blocks; i++) p->free_list[i] = (int32_t)(n_blocks - 1 - i);
  p->n_free = n_blocks;
  *out = p;
  return TTT_OK;
}

void ttt_paged_kv_destroy(ttt_paged_kv *pool) {
  if (!pool) return;
  for (int32_t i = 0; i < pool->n_seqs; i++) {
    if (pool->seqs[i]) free(pool->seqs[i]->tables);
    free(pool->seqs[i]);
  }
  free(pool->seqs);
  free(pool->k);
  free(pool->v);
  free(pool->free_list);
  free(pool);
}

const ttt_kv_cache_spec *ttt_paged_kv_get_spec(const ttt_paged_kv *pool) {
  return pool ? &pool->spec : NULL;
}

int64_t ttt_paged_kv_block_positions(const ttt_paged_kv *pool) {
  return pool ? pool->block_positions : 0;
}

static paged_seq *seq_of(const ttt_paged_kv *pool, int32_t id) {
  if (!pool || id < 0 || id >= pool->n_seqs || !pool->seqs[id] || !pool->seqs[id]->live)
    return NULL;
  return pool->seqs[id];
}

/* A free slot of the sequence table (grown when full). */
static ttt_status free_slot(ttt_paged_kv *pool, int32_t *id) {
  for (int32_t i = 0; i < pool->n_seqs; i++)
    if (!pool->seqs[i] || !pool->seqs[i]->live) {
      *id = i;
      return TTT_OK;
    }
  if (pool->n_seqs == INT32_MAX)
    return ttt_set_error(TTT_ERR_CAPACITY, "paged kv: too many sequences");
  paged_seq **seqs = realloc(pool->seqs, (size_t)(pool->n_seqs + 1) * sizeof *seqs);
  if (!seqs) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "paged kv: out of memory");
  pool->seqs = seqs;
  seqs[pool->n_seqs] = NULL;
  *id = pool->n_seqs++;
  return TTT_OK;
}

ttt_status ttt_paged_kv_seq_create(ttt_paged_kv *pool, int32_t *seq_id) {
  if (!pool || !seq_id) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "paged kv: NULL argument");
  int32_t id = -1;
  ttt_status st = free_slot(pool, &id);
  if (st != TTT_OK) return st;
  paged_seq *s = pool->seqs[id];
  if (!s) {
    s = calloc(1, sizeof *s);
    size_t entries = (size_t)(pool->spec.n_layers * pool->table_len);
    int32_t *tables = s ? malloc(entries * sizeof *tables) : NULL;
    if (!tables) {
      free(s);
      return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "paged kv: out of memory for a sequence");
    }
    s->tables = tables;
    pool->seqs[id] = s;
  }
  for (int64_t i = 0; i < pool->spec.n_layers * pool->table_len; i++) s->tables[i] = NO_BLOCK;
  for (int64_t l = 0; l < pool->spec.n_layers; l++) {
    const ttt_kv_cache_layer_spec *ls = &pool->spec.layers[l];
    int64_t w = pool->spec.sliding_window[l];
    s->layers[l] = (ttt_kv_layer){
        .dtype = ls->dtype,
        .n_kv_heads = ls->n_kv_heads,
        .head_dim = ls->head_dim,
        /* the positions kept: what ttt_kv_cache_append skips in a long chunk */
        .slots = (w > 0 && w < pool->spec.max_positions) ? w : pool->spec.max_positions,
        .length = 0,
        .k = pool->k,
        .v = pool->v,
        .block_positions = pool->block_positions,
        .blocks = s->tables + l * pool->table_len,
        .block_bytes = pool->block_bytes};
  }
  s->held = 0;
  s->live = true;
  *seq_id = id;
  return TTT_OK;
}

static void release(ttt_paged_kv *pool, paged_seq *s, int32_t *entry) {
  pool->free_list[pool->n_free++] = *entry;
  *entry = NO_BLOCK;
  s->held--;
}

void ttt_paged_kv_seq_free(ttt_paged_kv *pool, int32_t seq_id) {
  paged_seq *s = seq_of(pool, seq_id);
  if (!s) return;
  for (int64_t i = 0; i < pool->spec.n_layers * pool->table_len; i++)
    if (s->tables[i] != NO_BLOCK) release(pool, s, &s->tables[i]);
  s->live = false;
}

int64_t ttt_paged_kv_seq_length(const ttt_paged_kv *pool, int32_t seq_id) {
  const paged_seq *s = seq_of(pool, seq_id);
  return s ? s->layers[0].length : -1;
}

int64_t ttt_paged_kv_seq_blocks(const ttt_paged_kv *pool, int32_t seq_id) {
  const paged_seq *s = seq_of(pool, seq_id);
  return s ? s->held : -1;
}

int64_t ttt_paged_kv_blocks_used(const ttt_paged_kv *pool) {
  return pool ? pool->n_blocks - pool->n_free : 0;
}

int64_t ttt_paged_kv_blocks_free(const ttt_paged_kv *pool) { return pool ? pool->n_free : 0; }

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int64_t ttt_paged_kv_blocks_for(const ttt_paged_kv *pool, int64_t positions) {
  if (!pool || positions <= 0) return 0;
  int64_t full = ceil_div(positions, pool->block_positions), total = 0;
  for (int64_t l = 0; l < pool->spec.n_layers; l++) {
    int64_t w = pool->spec.sliding_window[l];
    int64_t windowed = w > 0 ? 2 * (ceil_div(w, pool->block_positions) + 1) : full;
    total += windowed < full ? windowed : full;
  }
  return total;
}

ttt_kv_layer *ttt_paged_kv_layer(ttt_paged_kv *pool, int32_t seq, int64_t layer) {
  paged_seq *s = seq_of(pool, seq);
  if (!s || layer < 0 || layer >= pool->spec.n_layers) return NULL;
  return &s->layers[layer];
}

/* Logical blocks [*lo, *hi) a write of [start, end) stores into in layer l: a windowed layer
 * stores only the positions its later queries can see (those >= end - window). */
static void write_blocks(const ttt_paged_kv *pool, int64_t l, int64_t start, int64_t end,
                         int64_t *lo, int64_t *hi) {
  int64_t w = pool->spec.sliding_window[l];
  int64_t first = (w > 0 && end - w > start) ? end - w : start;
  *lo = first / pool->block_positions;
  *hi = ceil_div(end, pool->block_positions);
}

/* Windowed layers: releases blocks wholly before start - window + 1 (no query at >= start sees
 * them). */
static void release_out_of_window(ttt_paged_kv *pool, paged_seq *s, int64_t start) {
  for (int64_t l = 0; l < pool->spec.n_layers; l++) {
    int64_t w = pool->spec.sliding_window[l];
    if (w <= 0) continue;
    int64_t keep_from = start - w + 1;
    int32_t *table = s->tables + l * pool->table_len;
    for (int64_t b = 0; b < pool->table_len && (b + 1) * pool->block_positions <= keep_from; b++)
      if (table[b] != NO_BLOCK) release(pool, s, &table[b]);
  }
}

static int64_t missing_blocks(const ttt_paged_kv *pool, const paged_seq *s, int64_t start,
                              int64_t end) {
  int64_t missing = 0;
  for (int64_t l = 0; l < pool->spec.n_layers; l++) {
    int64_t lo, hi;
    write_blocks(pool, l, start, end, &lo, &hi);
    for (int64_t b = lo; b < hi; b++) missing += s->tables[l * pool->table_len + b] == NO_BLOCK;
  }
  return missing;
}

static ttt_status check_write(const ttt_paged_kv *pool, const int32_t *seqs, const int64_t *starts,
                              const int64_t *counts, int64_t i) {
  const paged_seq *s = seq_of(pool, seqs[i]);
  if (!s)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "paged kv: sequence %d does not exist",
                         (int)seqs[i]);
  for (int64_t j = 0; j < i; j++)
    if (seqs[j] == seqs[i])
      return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                           "paged kv: sequence %d appears twice in one forward", (int)seqs[i]);
  if (counts[i] < 1 || starts[i] != s->layers[0].length)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "paged kv: sequence %d writes %lld positions from %lld, expected >= 1 "
                         "from its length %lld",
                         (int)seqs[i], (long long)counts[i], (long long)starts[i],
                         (long long)s->layers[0].length);
  if (starts[i] + counts[i] > pool->spec.max_positions)
    return ttt_set_error(TTT_ERR_CAPACITY,
                         "paged kv: sequence %d positions [%lld, %lld) exceed max_positions %lld",
                         (int)seqs[i], (long long)starts[i], (long long)(starts[i] + counts[i]),
                         (long long)pool->spec.max_positions);
  return TTT_OK;
}

ttt_status ttt_paged_kv_reserve(ttt_paged_kv *pool, const int32_t *seqs, const int64_t *starts,
                                const int64_t *counts, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    ttt_status st = check_write(pool, seqs, starts, counts, i);
    if (st != TTT_OK) return st;
  }
  int64_t missing = 0;
  for (int64_t i = 0; i < n; i++) {
    paged_seq *s = pool->seqs[seqs[i]];
    release_out_of_window(pool, s, starts[i]); /* never needed again, whatever happens next */
    missing += missing_blocks(pool, s, starts[i], starts[i] + counts[i]);
  }
  if (missing > pool->n_free)
    return ttt_set_error(TTT_ERR_CAPACITY,
                         "paged kv: the forward needs %lld more blocks, %lld of %lld are free",
                         (long long)missing, (long long)pool->n_free, (long long)pool->n_blocks);
  for (int64_t i = 0; i < n; i++) {
    paged_seq *s = pool->seqs[seqs[i]];
    for (int64_t l = 0; l < pool->spec.n_layers; l++) {
      int64_t lo, hi;
      write_blocks(pool, l, starts[i], starts[i] + counts[i], &lo, &hi);
      int32_t *table = s->tables + l * pool->table_len;
      for (int64_t b = lo; b < hi; b++) {
        if (table[b] != NO_BLOCK) continue;
        table[b] = pool->free_list[--pool->n_free];
        s->held++;
      }
    }
  }
  return TTT_OK;
}
