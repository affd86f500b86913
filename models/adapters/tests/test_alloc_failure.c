/*
 * Allocation-failure injection. The test is linked with --wrap for malloc, calloc, realloc, free,
 * strdup, strndup, aligned_alloc and posix_memalign, so every heap allocation of the (statically
 * linked) library goes through the wrappers below; cJSON's allocations are routed there too
 * (cJSON_InitHooks). PCRE2's and utf8proc's internal allocations are not (they are shared
 * libraries and take no hooks from the project).
 *
 * For each operation — model load (kjv-llama and HF fixtures, both strategies), tokenizer load,
 * one generate step (context + cache + prefill + decode) — the operation first runs once to count
 * its allocations N and their distinct call sites; then, for n = 1..N, it runs again with the n-th
 * allocation failing and must
 *   - return TTT_ERR_OUT_OF_MEMORY with a message (when the failed allocation was cJSON's, any
 *     error: cJSON_Parse returns NULL for both malformed text and a failed allocation, and the
 *     adapters report it as malformed JSON),
 *   - leave its out pointer NULL (no half-built object),
 *   - leak nothing: every allocation made during the call is freed when it returns.
 * A failure the operation absorbs (returns TTT_OK) is allowed only if the result is complete; those
 * are counted and printed. Long operations (the tokenizer: tens of thousands of allocations) fail
 * every n up to EXHAUSTIVE_LIMIT (3000) and in the last TAIL (256), the first and last allocation of
 * every call site, and every STRIDE-th one; TTT_ALLOC_EXHAUSTIVE=1 in the environment fails every n.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ttt_models.h"
#include "ttt_test.h"

/* ------------------------------------------------------------------------------------------------ */
/* Counting, failing allocator                                                                       */
/* ------------------------------------------------------------------------------------------------ */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void __real_free(void *p);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__real_aligned_alloc(size_t alignment, size_t size);
int __real_posix_memalign(void **p, size_t alignment, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
void __wrap_free(void *p);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
void *__wrap_aligned_alloc(size_t alignment, size_t size);
int __wrap_posix_memalign(void **p, size_t alignment, size_t size);

#define LIVE_SLOTS (1u << 21) /* open addressing; far more than any operation keeps alive */
#define MAX_SITES 4096

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void **live;        /* live pointers made through the wrappers (NULL: empty, TOMB: erased) */
static int64_t live_count; /* entries in `live` */
static int64_t tombs;      /* erased slots; the table is rebuilt when they pile up */
static int64_t counted;    /* allocations since the counter was armed */
static int64_t fail_at;    /* the allocation number that fails (0: none) */
static void *failed_site;  /* return address of the allocation that was failed */
static bool failed;        /* fail_at was reached */
static bool in_json_hook;  /* inside cJSON's allocation hook */
static bool failed_in_json; /* the failed allocation was cJSON's */
static void *sites[MAX_SITES];
static int64_t site_first[MAX_SITES]; /* allocation number of each site's first call */
static int64_t site_last[MAX_SITES];  /* and of its last */
static int64_t n_sites;
static bool recording;
static char TOMB;

static size_t slot_of(const void *p) {
  uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 43) & (LIVE_SLOTS - 1);
}

static void insert(void **table, void *p) {
  size_t i = slot_of(p);
  while (table[i] && table[i] != (void *)&TOMB) i = (i + 1) & (LIVE_SLOTS - 1);
  if (table[i] == (void *)&TOMB) tombs--;
  table[i] = p;
}

/* Re-inserts the live pointers into an empty table (probe chains end at empty slots again). */
static void rebuild(void) {
  void **fresh = __real_calloc(LIVE_SLOTS, sizeof *fresh);
  if (!fresh) abort();
  for (size_t i = 0; i < LIVE_SLOTS; i++)
    if (live[i] && live[i] != (void *)&TOMB) insert(fresh, live[i]);
  __real_free(live);
  live = fresh;
  tombs = 0;
}

static void track(void *p) {
  if (!p || !live) return;
  if (live_count + tombs > LIVE_SLOTS / 2) rebuild();
  insert(live, p);
  live_count++;
}

static bool untrack(void *p) {
  if (!p || !live) return false;
  for (size_t i = slot_of(p); live[i]; i = (i + 1) & (LIVE_SLOTS - 1)) {
    if (live[i] == p) {
      live[i] = (void *)&TOMB;
      live_count--;
      tombs++;
      return true;
    }
  }
  return false;
}

/* Counts one allocation from call site `site`; true when it must fail. */
static bool next_fails(void *site) {
  counted++;
  if (recording) {
    int64_t k = 0;
    while (k < n_sites && sites[k] != site) k++;
    if (k == n_sites && n_sites < MAX_SITES) {
      sites[n_sites] = site;
      site_first[n_sites++] = counted;
    }
    if (k < MAX_SITES) site_last[k] = counted;
  }
  if (fail_at == 0 || counted != fail_at) return false;
  failed = true;
  failed_site = site;
  failed_in_json = in_json_hook;
  return true;
}

#define ALLOC_BODY(call)                                                                           \
  pthread_mutex_lock(&lock);                                                                       \
  void *p = next_fails(__builtin_return_address(0)) ? NULL : (call);                               \
  track(p);                                                                                        \
  pthread_mutex_unlock(&lock);                                                                     \
  return p

void *__wrap_malloc(size_t size) { ALLOC_BODY(__real_malloc(size)); }
void *__wrap_calloc(size_t n, size_t size) { ALLOC_BODY(__real_calloc(n, size)); }
char *__wrap_strdup(const char *s) { ALLOC_BODY(__real_strdup(s)); }
char *__wrap_strndup(const char *s, size_t n) { ALLOC_BODY(__real_strndup(s, n)); }
void *__wrap_aligned_alloc(size_t alignment, size_t size) {
  ALLOC_BODY(__real_aligned_alloc(alignment, size));
}

void *__wrap_realloc(void *old, size_t size) {
  pthread_mutex_lock(&lock);
  void *p = NULL;
  if (!next_fails(__builtin_return_address(0))) {
    bool tracked = untrack(old);
    p = __real_realloc(old, size);
    if (p)
      track(p);
    else if (tracked)
      track(old);
  }
  pthread_mutex_unlock(&lock);
  return p;
}

int __wrap_posix_memalign(void **out, size_t alignment, size_t size) {
  pthread_mutex_lock(&lock);
  int r = 12; /* ENOMEM */
  if (!next_fails(__builtin_return_address(0))) {
    r = __real_posix_memalign(out, alignment, size);
    if (r == 0) track(*out);
  }
  pthread_mutex_unlock(&lock);
  return r;
}

void __wrap_free(void *p) {
  pthread_mutex_lock(&lock);
  untrack(p);
  __real_free(p);
  pthread_mutex_unlock(&lock);
}

/* cJSON allocates through its hooks: the wrappers, so that JSON parsing fails too. */
static void *hook_malloc(size_t size) {
  in_json_hook = true;
  void *p = __wrap_malloc(size);
  in_json_hook = false;
  return p;
}
static void hook_free(void *p) { __wrap_free(p); }

/* ------------------------------------------------------------------------------------------------ */
/* The injection loop                                                                                */
/* ------------------------------------------------------------------------------------------------ */

/* An operation: run() builds something and returns its status, leaving what it built reachable
 * from the state; built() tells whether the out pointers are set; destroy() frees it. */
typedef struct operation {
  const char *name;
  void *state;
  ttt_status (*run)(void *state);
  bool (*built)(void *state);
  void (*destroy)(void *state);
} operation;

#define EXHAUSTIVE_LIMIT 3000
#define STRIDE 97
#define TAIL                                                                                       \
  256 /* the last allocations (late stages of a load, e.g. the pre-tokenizer's regexes) */

typedef struct injection_stats {
  int64_t allocations, sites, runs, oom, other_errors, absorbed;
} injection_stats;

static bool exhaustive(void) {
  const char *e = getenv("TTT_ALLOC_EXHAUSTIVE");
  return e && strcmp(e, "1") == 0;
}

static int64_t site_index(void *site) {
  for (int64_t k = 0; k < n_sites; k++)
    if (sites[k] == site) return k;
  return -1;
}

/* What a failing run can do wrong (a bit mask). */
enum {
  PROBLEM_LEAK = 1,        /* allocations made during the call outlive it */
  PROBLEM_OBJECT = 2,      /* an error, yet an object was returned */
  PROBLEM_NO_MESSAGE = 4,  /* an error without ttt_last_error() */
  PROBLEM_SPURIOUS = 8,    /* an error although no allocation failed */
  PROBLEM_INCOMPLETE = 16, /* TTT_OK without a result */
  PROBLEM_STATUS = 32, /* not TTT_ERR_OUT_OF_MEMORY although the project's own allocation failed */
};

/* Runs op once with allocation n failing (0: none); returns the problems seen (printed). */
static int run_with_failure(const operation *op, int64_t n, injection_stats *stats) {
  pthread_mutex_lock(&lock);
  int64_t live_before = live_count;
  counted = 0;
  failed = false;
  fail_at = n;
  pthread_mutex_unlock(&lock);
  ttt_clear_error();
  ttt_status st = op->run(op->state);
  pthread_mutex_lock(&lock);
  fail_at = 0;
  bool hit = failed;
  pthread_mutex_unlock(&lock);
  int problems = 0;
  if (st == TTT_OK) {
    if (!op->built(op->state)) problems |= PROBLEM_INCOMPLETE;
    if (hit) stats->absorbed++;
  } else {
    if (!hit) problems |= PROBLEM_SPURIOUS;
    if (op->built(op->state)) problems |= PROBLEM_OBJECT;
    if (ttt_last_error()[0] == '\0') problems |= PROBLEM_NO_MESSAGE;
    if (st == TTT_ERR_OUT_OF_MEMORY) {
      stats->oom++;
    } else {
      /* cJSON reports no allocation failure: its NULL reads as malformed JSON (TTT_ERR_FORMAT). */
      if (!failed_in_json) problems |= PROBLEM_STATUS;
      stats->other_errors++;
      if (stats->other_errors <= 3)
        printf("  %s: allocation %lld (site %lld) failed -> %s: %s\n", op->name, (long long)n,
               (long long)site_index(failed_site), ttt_status_str(st), ttt_last_error());
    }
  }
  op->destroy(op->state); /* after an error: must free nothing more than a no-op would */
  pthread_mutex_lock(&lock);
  int64_t leaked = live_count - live_before;
  pthread_mutex_unlock(&lock);
  if (leaked != 0) problems |= PROBLEM_LEAK;
  if (problems)
    printf("  %s: allocation %lld (site %lld) failed -> %s (%s): problems 0x%x, %lld allocations "
           "leaked\n",
           op->name, (long long)n, (long long)site_index(failed_site), ttt_status_str(st),
           ttt_last_error(), problems, (long long)leaked);
  stats->runs++;
  return problems;
}

static void inject(const operation *op) {
  injection_stats stats = {0};
  /* A warm-up run fills the process's lazy caches, if any; the reference run then counts the
   * allocations and call sites that every later run makes. */
  CHECK_MSG(op->run(op->state) == TTT_OK, "%s: %s", op->name, ttt_last_error());
  op->destroy(op->state);
  pthread_mutex_lock(&lock);
  recording = true;
  n_sites = 0;
  counted = 0;
  pthread_mutex_unlock(&lock);
  CHECK_MSG(op->run(op->state) == TTT_OK, "%s: %s", op->name, ttt_last_error());
  op->destroy(op->state);
  pthread_mutex_lock(&lock);
  recording = false;
  stats.allocations = counted;
  stats.sites = n_sites;
  pthread_mutex_unlock(&lock);
  CHECK_MSG(stats.allocations > 0, "%s: no allocation was counted", op->name);
  int64_t bad_runs = 0;
  for (int64_t n = 1; n <= stats.allocations && bad_runs < 5; n++) {
    bool take =
        exhaustive() || n <= EXHAUSTIVE_LIMIT || n > stats.allocations - TAIL || n % STRIDE == 0;
    for (int64_t k = 0; !take && k < stats.sites; k++)
      take = site_first[k] == n || site_last[k] == n;
    if (take && run_with_failure(op, n, &stats) != 0) bad_runs++;
  }
  CHECK_MSG(bad_runs == 0, "%s: failing runs with problems (listed above)", op->name);
  printf("%-40s %7lld allocations, %4lld sites, %6lld failing runs: %lld out of memory, %lld "
         "other errors (JSON parser), %lld absorbed\n",
         op->name, (long long)stats.allocations, (long long)stats.sites, (long long)stats.runs,
         (long long)stats.oom, (long long)stats.other_errors, (long long)stats.absorbed);
}

/* ------------------------------------------------------------------------------------------------ */
/* Operations                                                                                        */
/* ------------------------------------------------------------------------------------------------ */

typedef struct model_load {
  char dir[1024];
  ttt_strategy strategy;
  ttt_hf_model *model;
} model_load;

static ttt_status model_load_run(void *state) {
  model_load *s = state;
  ttt_device device;
  ttt_status st = ttt_device_cpu(&device, 1);
  if (st != TTT_OK) return st;
  ttt_hf_load_options options = {.strategy = s->strategy, .skip_tokenizer = true};
  return ttt_hf_model_load(s->dir, &device, &options, &s->model);
}
static bool model_load_built(void *state) { return ((model_load *)state)->model != NULL; }
static void model_load_destroy(void *state) {
  model_load *s = state;
  ttt_hf_model_destroy(s->model);
  s->model = NULL;
}

static void check_model_load(const char *dir, ttt_strategy strategy) {
  model_load s = {.strategy = strategy};
  snprintf(s.dir, sizeof s.dir, "%s", dir);
  char name[128];
  const char *base = strrchr(dir, '/') + 1;
  snprintf(name, sizeof name, "model load %s %s", base, ttt_strategy_name(strategy));
  operation op = {name, &s, model_load_run, model_load_built, model_load_destroy};
  inject(&op);
}

typedef struct tokenizer_load {
  const char *dir;
  ttt_tokenizer *tokenizer;
} tokenizer_load;

static ttt_status tokenizer_load_run(void *state) {
  tokenizer_load *s = state;
  return ttt_tokenizer_load_dir(s->dir, &s->tokenizer);
}
static bool tokenizer_load_built(void *state) { return ((tokenizer_load *)state)->tokenizer; }
static void tokenizer_load_destroy(void *state) {
  tokenizer_load *s = state;
  ttt_tokenizer_destroy(s->tokenizer);
  s->tokenizer = NULL;
}

/* One generate step on a loaded model: a fresh context and cache, a 4-token prefill, one decode. */
typedef struct generate_step {
  const ttt_causal_lm *lm;
  ttt_context *ctx;
  ttt_kv_cache *cache;
  float *logits;
  bool done;
} generate_step;

static ttt_status generate_step_run(void *state) {
  generate_step *s = state;
  ttt_device device;
  ttt_status st = ttt_device_cpu(&device, 1);
  if (st == TTT_OK) st = ttt_context_create(&device, &s->ctx);
  if (st == TTT_OK) CHECK_MSG(s->ctx != NULL, "context created without a pointer");
  if (st != TTT_OK) {
    CHECK_MSG(s->ctx == NULL, "a failed ttt_context_create returned a context");
    return st;
  }
  st = ttt_causal_lm_create_cache(s->lm, 16, &s->cache);
  if (st != TTT_OK) {
    CHECK_MSG(s->cache == NULL, "a failed ttt_causal_lm_create_cache returned a cache");
    return st;
  }
  int64_t vocab = ttt_causal_lm_get_spec(s->lm)->embedding.vocab;
  ttt_tensor logits = ttt_tensor_2d(TTT_F32, s->logits, 1, vocab);
  const int32_t prompt[4] = {0, 17, 250, 31};
  st = ttt_causal_lm_prefill_forward(s->lm, s->ctx, s->cache, prompt, 4, 0, true, &logits, NULL);
  if (st == TTT_OK) st = ttt_causal_lm_decode_forward(s->lm, s->ctx, s->cache, 5, 4, &logits, NULL);
  s->done = st == TTT_OK;
  return st;
}
/* The step's objects (context, cache) are freed by destroy; "built" means the step completed. */
static bool generate_step_built(void *state) { return ((generate_step *)state)->done; }
static void generate_step_destroy(void *state) {
  generate_step *s = state;
  ttt_kv_cache_destroy(s->cache);
  ttt_context_destroy(s->ctx);
  s->cache = NULL;
  s->ctx = NULL;
  s->done = false;
}

static void check_generate_step(const char *dir, ttt_strategy strategy) {
  ttt_device device;
  ttt_hf_model *m = NULL;
  CHECK_OK(ttt_device_cpu(&device, 1));
  ttt_hf_load_options options = {.strategy = strategy, .skip_tokenizer = true};
  CHECK_OK(ttt_hf_model_load(dir, &device, &options, &m));
  if (!m) return;
  generate_step s = {.lm = m->lm};
  s.logits = malloc(sizeof(float) * (size_t)m->config.vocab_size);
  char name[128];
  snprintf(name, sizeof name, "generate step %s %s", strrchr(dir, '/') + 1,
           ttt_strategy_name(strategy));
  /* A failed step leaves the context and cache to destroy: "built" is the step's completion, so
   * check_leaks below covers them after destroy. */
  operation op = {name, &s, generate_step_run, generate_step_built, generate_step_destroy};
  inject(&op);
  free(s.logits);
  ttt_hf_model_destroy(m);
}

/* The detector itself: an operation that leaks its first buffer when the second allocation fails,
 * and one that returns a half-built object, are caught. */
typedef struct sloppy {
  void *a, *b;
  void *forgotten; /* what the leaky run dropped (freed by the test afterwards) */
  bool leak;       /* false: return the half-built object instead */
} sloppy;

static ttt_status sloppy_run(void *state) {
  sloppy *s = state;
  s->a = malloc(16);
  if (!s->a) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "sloppy: a");
  s->b = malloc(16);
  if (!s->b) {
    if (s->leak) s->forgotten = s->a, s->a = NULL; /* drops a */
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "sloppy: b");
  }
  return TTT_OK;
}
static bool sloppy_built(void *state) { return ((sloppy *)state)->a != NULL; }
static void sloppy_destroy(void *state) {
  sloppy *s = state;
  free(s->a);
  free(s->b);
  s->a = s->b = NULL;
}

static void test_detector_catches_leaks_and_half_built_objects(void) {
  injection_stats stats = {0};
  sloppy leaky = {.leak = true}, half = {.leak = false};
  operation leak_op = {"leaky", &leaky, sloppy_run, sloppy_built, sloppy_destroy};
  operation half_op = {"half-built", &half, sloppy_run, sloppy_built, sloppy_destroy};
  CHECK(run_with_failure(&leak_op, 1, &stats) == 0);
  CHECK(run_with_failure(&leak_op, 2, &stats) == PROBLEM_LEAK);
  CHECK(run_with_failure(&half_op, 2, &stats) == PROBLEM_OBJECT);
  CHECK(run_with_failure(&half_op, 0, &stats) == 0);
  CHECK(stats.oom == 3);
  free(leaky.forgotten);
}

/* ------------------------------------------------------------------------------------------------ */

static void test_model_load(void) {
  const char *fixtures[] = {"llama3_tiny", "mixtral_tiny", "qwen3_tiny", "bert_tiny"};
  for (int s = 0; s < 2; s++) {
    check_model_load(TTT_MODELS_DIR "/kjv-llama", (ttt_strategy)s);
    for (size_t i = 0; i < sizeof fixtures / sizeof *fixtures; i++) {
      char dir[1024];
      snprintf(dir, sizeof dir, "%s/hf/%s", TTT_FIXTURES_DIR, fixtures[i]);
      check_model_load(dir, (ttt_strategy)s);
    }
  }
}

static void test_tokenizer_load(void) {
  tokenizer_load s = {.dir = TTT_MODELS_DIR "/kjv-llama"};
  operation op = {"tokenizer load kjv-llama", &s, tokenizer_load_run, tokenizer_load_built,
                  tokenizer_load_destroy};
  inject(&op);
}

static void test_generate_step(void) {
  check_generate_step(TTT_MODELS_DIR "/kjv-llama", TTT_STRATEGY_ACCURACY);
  check_generate_step(TTT_MODELS_DIR "/kjv-llama", TTT_STRATEGY_PERFORMANCE);
}

int main(void) {
  live = __real_calloc(LIVE_SLOTS, sizeof *live);
  cJSON_Hooks hooks = {hook_malloc, hook_free};
  cJSON_InitHooks(&hooks);
  TTT_RUN(test_detector_catches_leaks_and_half_built_objects);
  TTT_RUN(test_tokenizer_load);
  TTT_RUN(test_model_load);
  TTT_RUN(test_generate_step);
  return ttt_test_finish();
}
