/*
 * bench_kernels — matmul and attention kernel throughput and thread-pool dispatch latency (a
 * program, not a test).
 *
 *   bench_kernels [--quick] [--no-gemm] [--no-gemv] [--no-attention] [--kind NAME] [--m M]
 *                 [--isa avx2]
 *
 * GEMV (m = 1, decode): Llama-3.2-1B shapes, reported as time per call and GB/s of weights streamed
 * (weight bytes / time; the activations are tiny and stay in cache). Calls cycle through enough
 * copies of the weights (≥ STREAM_BYTES in total) that they come from DRAM, not from the L3 cache,
 * as in a real decode step where the whole model streams once per token. GEMM (m = 128, prefill):
 * GFLOP/s = 2·m·n·k / time; with --m 16 or less (a batched decode) its weights stream from DRAM the
 * same way. Dispatch: the round trip of an empty ttt_parallel_for over all threads.
 * Each figure is the best of several timed calls after a warm-up (timings on a shared machine are
 * noisy; the best is the most repeatable). The single-thread GEMMs also report "cpu": GFLOP/s over
 * the calling thread's CPU time, which other processes on a loaded machine do not inflate.
 * Attention: the tile kernels of one decode layer at contexts 1k, 4k and 64k (see below).
 * Peak: the f32 FMA peak of the widest ISA (fma_peak), which the one-thread GEMM figures are
 * reported against ("% of peak", from their CPU time). "bf16 x bf16" (bf16 activations) counts the
 * same 2·m·n·k flops; its vdpbf16ps adds two products per lane, so its own peak is twice that of
 * f32 FMAs at equal instruction throughput (up to 200% of the printed peak). Read bandwidth: a
 * prefetching streaming sum over 1 GiB (read_bandwidth), which the GEMVs are reported against ("% of
 * read", same threads).
 * --quick skips the 128256-row lm head and the 64k context; --no-gemm / --no-gemv / --no-attention
 * skip those sections; --kind runs only the weight kind of that name (e.g. "bf16", "q8_0 x q8");
 * --m sets the GEMM rows (default 128; e.g. 8 for the projections of a batched decode of 8).
 * --isa avx2 masks the device down to AVX2 (+FMA, F16C): the AVX2 kernels and the AVX2 FMA peak,
 * measured on an AVX-512 machine.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <immintrin.h>

#include "runtime/kernels.h"
#include "runtime/runtime.h"

typedef struct weight_kind {
  const char *name;
  ttt_dtype weight;
  ttt_dtype activation;
} weight_kind;

static const weight_kind kinds[] = {
    {"f32", TTT_F32, TTT_F32},
    {"bf16", TTT_BF16, TTT_F32},
    {"f16", TTT_F16, TTT_F32},
    {"q8_0", TTT_Q8_0, TTT_F32},
    {"q8_0 x q8", TTT_Q8_0, TTT_Q8_0},
    {"q4_0 x q8", TTT_Q4_0, TTT_Q8_0},
    {"bf16 x bf16", TTT_BF16, TTT_BF16},
    {"q8_0_g16 x q8", TTT_Q8_0_G16, TTT_Q8_0},
    {"q4_0_g16 x q8", TTT_Q4_0_G16, TTT_Q8_0},
};

static bool known_kind(const char *name) {
  for (size_t c = 0; c < sizeof kinds / sizeof kinds[0]; c++)
    if (strcmp(name, kinds[c].name) == 0) return true;
  return false;
}

typedef struct shape {
  const char *what;
  int64_t n, k;
} shape;

static const shape gemv_shapes[] = {
    {"ffn down 2048x8192", 2048, 8192},
    {"ffn up 8192x2048", 8192, 2048},
    {"lm head 128256x2048", 128256, 2048},
};

static const shape gemm_shapes[] = {
    {"attn 2048x2048", 2048, 2048},
    {"attn kv 512x2048", 512, 2048},
    {"ffn up 8192x2048", 8192, 2048},
    {"ffn down 2048x8192", 2048, 8192},
};

/* GEMMs of up to STREAMED_GEMM_M rows (a batched decode) read their weights from memory, as a
 * decode step does; larger ones (prefill) reuse one copy, as a prompt's rows do. */
enum { DEFAULT_GEMM_M = 128, STREAMED_GEMM_M = 16, MIN_REPEATS = 3, MAX_COPIES = 64 };
static const double stream_bytes = 1.0e9;
static const double min_seconds = 0.4;

static double clock_seconds(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now(void) { return clock_seconds(CLOCK_MONOTONIC); }

static uint64_t next_random(uint64_t *state) {
  *state ^= *state << 13;
  *state ^= *state >> 7;
  *state ^= *state << 17;
  return *state;
}

/* Fills a weight tensor directly in its dtype with small random values (no f32 master copy: the
 * lm head in f32 alone is 1 GB). */
static void fill_weights(ttt_tensor *w) {
  uint64_t state = 0x9e3779b97f4a7c15ull;
  size_t bytes = ttt_tensor_nbytes(w);
  uint8_t *data = w->data;
  if (w->dtype == TTT_F32) {
    for (size_t i = 0; i < bytes / 4; i++)
      ((float *)w->data)[i] = (float)((int64_t)(next_random(&state) % 2001) - 1000) * 1e-5f;
  } else if (w->dtype == TTT_BF16) {
    for (size_t i = 0; i < bytes / 2; i++)
      ((uint16_t *)w->data)[i] =
          ttt_f32_to_bf16((float)((int64_t)(next_random(&state) % 2001) - 1000) * 1e-5f);
  } else {
    for (size_t i = 0; i < bytes; i++) data[i] = (uint8_t)next_random(&state);
    uint16_t scale = ttt_f32_to_f16(1e-3f);
    size_t block = w->dtype == TTT_Q4_0 ? TTT_Q4_0_BLOCK_BYTES : TTT_Q8_0_BLOCK_BYTES;
    for (size_t b = 0; b < bytes / block; b++) memcpy(data + b * block, &scale, 2);
  }
}

/* ---- f32 FMA peak probe ----
 * FMA_CHAINS independent accumulators (more than latency × throughput on current x86 cores), each
 * step one FMA per chain: GFLOP/s = 2 · lanes · chains · steps / CPU seconds of the thread. The
 * widest ISA the device has (AVX-512, else AVX2 + FMA); compiled with target attributes so the
 * rest of this program stays portable. */
enum { FMA_CHAINS = 12, FMA_STEPS = 20 * 1000 * 1000 };

__attribute__((target("avx512f"))) static float fma_chains_avx512(int64_t steps) {
  __m512 acc[FMA_CHAINS];
  for (int c = 0; c < FMA_CHAINS; c++) acc[c] = _mm512_set1_ps((float)c * 1e-3f);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t i = 0; i < steps; i++) {
#pragma GCC unroll 12
    for (int c = 0; c < FMA_CHAINS; c++) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  }
  __m512 sum = acc[0];
  for (int c = 1; c < FMA_CHAINS; c++) sum = _mm512_add_ps(sum, acc[c]);
  return _mm512_reduce_add_ps(sum);
}

__attribute__((target("avx2,fma"))) static float fma_chains_avx2(int64_t steps) {
  __m256 acc[FMA_CHAINS];
  for (int c = 0; c < FMA_CHAINS; c++) acc[c] = _mm256_set1_ps((float)c * 1e-3f);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < steps; i++) {
#pragma GCC unroll 12
    for (int c = 0; c < FMA_CHAINS; c++) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  }
  float lanes[8];
  __m256 sum = acc[0];
  for (int c = 1; c < FMA_CHAINS; c++) sum = _mm256_add_ps(sum, acc[c]);
  _mm256_storeu_ps(lanes, sum);
  return lanes[0] + lanes[7];
}

typedef struct peak_probe {
  bool avx512;
  volatile float sink; /* keeps the chains' results alive */
} peak_probe;

static void peak_range(void *arg, int64_t begin, int64_t end, int32_t thread) {
  (void)begin, (void)end, (void)thread;
  peak_probe *p = arg;
  p->sink = p->avx512 ? fma_chains_avx512(FMA_STEPS) : fma_chains_avx2(FMA_STEPS);
}

/* The f32 FMA peak in GFLOP/s of one thread (CPU time) and of all threads (wall time); 0 when the
 * device has neither AVX-512 nor AVX2 + FMA. */
static double fma_peak(ttt_context *ctx, double *all_threads) {
  const ttt_device *device = ttt_context_device(ctx);
  peak_probe probe = {.avx512 = (device->isa & ISA_AVX512) == ISA_AVX512};
  *all_threads = 0;
  if (!probe.avx512 && (device->isa & ISA_AVX2) != ISA_AVX2) return 0;
  double flops = 2.0 * (probe.avx512 ? 16 : 8) * FMA_CHAINS * (double)FMA_STEPS;
  double best = 1e30, best_wall = 1e30;
  int32_t threads = ttt_context_threads(ctx, 0);
  for (int r = 0; r < 3; r++) {
    double c0 = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
    peak_range(&probe, 0, 1, 0);
    double c = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - c0;
    best = c < best ? c : best;
    double t0 = now();
    ttt_parallel_for(ctx, 0, threads, 1, peak_range, &probe);
    double t = now() - t0;
    best_wall = t < best_wall ? t : best_wall;
  }
  *all_threads = flops * threads / best_wall * 1e-9;
  return flops / best * 1e-9;
}

/* ---- read-bandwidth probe ----
 * What a decode step's weight streaming can reach: the threads sum disjoint slices of a
 * PROBE_BYTES buffer (well past the last-level cache; pages touched first) with the widest ISA and
 * software prefetch PREFETCH_AHEAD bytes ahead, as the GEMVs prefetch; GB/s = bytes / wall time.
 * The GEMV rows report their share of the figure for the same thread count ("% of read"). */
enum { PROBE_BYTES = 1 << 30, PROBE_PIECE = 32 << 20, PREFETCH_AHEAD = 2048, PROBE_PASSES = 3 };

/* A slice is read as READ_STREAMS equal parts side by side (one cache line of each per step):
 * one sequential stream per core reaches about half of what several do on the machines measured
 * (the GEMVs read 4-8 weight rows at once). */
enum { READ_STREAMS = 8 };

__attribute__((target("avx512f"))) static uint64_t read_slice_avx512(const uint8_t *p, size_t n) {
  size_t part = n / READ_STREAMS / 64 * 64;
  __m512i acc[READ_STREAMS];
  for (int a = 0; a < READ_STREAMS; a++) acc[a] = _mm512_setzero_si512();
  for (size_t i = 0; i < part; i += 64) {
#pragma GCC unroll 8
    for (int a = 0; a < READ_STREAMS; a++) {
      const uint8_t *q = p + (size_t)a * part + i;
      _mm_prefetch((const char *)(q + PREFETCH_AHEAD), _MM_HINT_T0);
      acc[a] = _mm512_add_epi64(acc[a], _mm512_load_si512((const void *)q));
    }
  }
  for (int a = 1; a < READ_STREAMS; a++) acc[0] = _mm512_add_epi64(acc[0], acc[a]);
  return (uint64_t)_mm512_reduce_add_epi64(acc[0]);
}

__attribute__((target("avx2"))) static uint64_t read_slice_avx2(const uint8_t *p, size_t n) {
  size_t part = n / READ_STREAMS / 64 * 64;
  __m256i acc[READ_STREAMS];
  for (int a = 0; a < READ_STREAMS; a++) acc[a] = _mm256_setzero_si256();
  for (size_t i = 0; i < part; i += 64) {
#pragma GCC unroll 8
    for (int a = 0; a < READ_STREAMS; a++) {
      const uint8_t *q = p + (size_t)a * part + i;
      _mm_prefetch((const char *)(q + PREFETCH_AHEAD), _MM_HINT_T0);
      __m256i sum = _mm256_add_epi64(_mm256_load_si256((const void *)q),
                                     _mm256_load_si256((const void *)(q + 32)));
      acc[a] = _mm256_add_epi64(acc[a], sum);
    }
  }
  for (int a = 1; a < READ_STREAMS; a++) acc[0] = _mm256_add_epi64(acc[0], acc[a]);
  uint64_t lanes[4];
  _mm256_storeu_si256((void *)lanes, acc[0]);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

typedef struct read_probe {
  const uint8_t *piece; /* the piece being read: `threads` slices of `slice` bytes */
  size_t slice;
  bool avx512;
  volatile uint64_t sink;
} read_probe;

static void read_range(void *arg, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  read_probe *r = arg;
  for (int64_t t = begin; t < end; t++) {
    const uint8_t *p = r->piece + (size_t)t * r->slice;
    r->sink += r->avx512 ? read_slice_avx512(p, r->slice) : read_slice_avx2(p, r->slice);
  }
}

/* Read bandwidth in GB/s with `threads` threads; 0 without AVX2 or memory. Timed per piece of
 * PROBE_PIECE bytes (the size of one large projection's weights), best piece over PROBE_PASSES
 * sweeps of the buffer: the GEMV figures are also bests of short calls, so both see the machine's
 * good moments alike (its bandwidth swings by ±30% here). */
static double read_bandwidth(ttt_context *ctx, int32_t threads) {
  const ttt_device *device = ttt_context_device(ctx);
  read_probe r = {.avx512 = (device->isa & ISA_AVX512) == ISA_AVX512};
  if (!r.avx512 && (device->isa & ISA_AVX2) != ISA_AVX2) return 0;
  uint8_t *buffer = aligned_alloc(64, PROBE_BYTES);
  if (!buffer) return 0;
  memset(buffer, 1, PROBE_BYTES);
  r.slice = PROBE_PIECE / (size_t)threads / (64 * READ_STREAMS) * (64 * READ_STREAMS);
  double best = 1e30;
  for (int pass = 0; pass < PROBE_PASSES; pass++) {
    for (size_t offset = 0; offset + PROBE_PIECE <= PROBE_BYTES; offset += PROBE_PIECE) {
      r.piece = buffer + offset;
      double t0 = now();
      ttt_parallel_for(ctx, threads, threads, 1, read_range, &r);
      double t = now() - t0;
      best = t < best ? t : best;
    }
  }
  free(buffer);
  return (double)r.slice * threads / best * 1e-9;
}

typedef struct timing {
  double wall, cpu; /* best seconds per call: elapsed, and CPU time of the calling thread */
} timing;

/* Best times per ttt_linear call, cycling through `copies` weight tensors. */
static timing time_linear(ttt_context *ctx, const weight_kind *kind, const ttt_tensor *w,
                          int copies, const float *x, int64_t m, float *y, int32_t threads) {
  ttt_linear_config config = {.activation_dtype = kind->activation, .threads = threads};
  ttt_linear_op op = {.w = &w[0], .y = y, .name = "bench"};
  if (ttt_linear(ctx, &config, x, m, w->shape[1], &op) != TTT_OK) {
    fprintf(stderr, "linear failed: %s\n", ttt_last_error());
    exit(1);
  }
  timing best = {1e30, 1e30};
  double start = now();
  for (int r = 0; r < MIN_REPEATS || now() - start < min_seconds; r++) {
    op.w = &w[(r + 1) % copies];
    double c0 = clock_seconds(CLOCK_THREAD_CPUTIME_ID), t0 = now();
    ttt_linear(ctx, &config, x, m, w->shape[1], &op);
    double t = now() - t0, c = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - c0;
    best.wall = t < best.wall ? t : best.wall;
    best.cpu = c < best.cpu ? c : best.cpu;
  }
  return best;
}

static const char *kernel_name(ttt_context *ctx, const weight_kind *kind) {
  ttt_gemm_kernel kernel;
  if (ttt_gemm_select(ttt_context_device(ctx), TTT_KERNEL_DEFAULT, kind->weight, kind->activation,
                      &kernel) != TTT_OK)
    return "?";
  return kernel.name;
}

/* The measured one-thread f32 FMA peak (GFLOP/s; 0: not measured): GEMMs report their share. */
static double peak_one_thread;
/* Measured read bandwidth with 1 and 2 threads (GB/s; 0: not measured): GEMVs report their share. */
static double read_gbs[3];

static void bench_shape(ttt_context *ctx, const shape *s, int64_t m, bool gemv, const char *only) {
  float *x = malloc(sizeof *x * (size_t)(m * s->k));
  float *y = malloc(sizeof *y * (size_t)(m * s->n));
  for (int64_t i = 0; i < m * s->k; i++) x[i] = (float)(i % 17) * 0.01f - 0.08f;
  for (size_t c = 0; c < sizeof kinds / sizeof kinds[0]; c++) {
    if (only && strcmp(only, kinds[c].name) != 0) continue;
    ttt_tensor w[MAX_COPIES];
    if (ttt_tensor_alloc(&w[0], kinds[c].weight, 2, (int64_t[]){s->n, s->k}) != TTT_OK) {
      printf("  %-22s %-10s (cannot allocate: %s)\n", s->what, kinds[c].name, ttt_last_error());
      continue;
    }
    fill_weights(&w[0]);
    double bytes = (double)ttt_tensor_nbytes(&w[0]);
    int copies = gemv || m <= STREAMED_GEMM_M ? (int)(stream_bytes / bytes) + 1 : 1;
    if (copies > MAX_COPIES) copies = MAX_COPIES;
    for (int i = 1; i < copies; i++) {
      if (ttt_tensor_convert(&w[0], kinds[c].weight, &w[i]) != TTT_OK) copies = i;
    }
    printf("  %-22s %-10s %-15s", s->what, kinds[c].name, kernel_name(ctx, &kinds[c]));
    double flops = 2.0 * (double)m * (double)s->n * (double)s->k;
    for (int32_t threads = 1; threads <= 2; threads++) {
      timing t = time_linear(ctx, &kinds[c], w, copies, x, m, y, threads);
      if (gemv)
        printf("  t%d: %8.3f ms %6.1f GB/s", (int)threads, t.wall * 1e3, bytes / t.wall * 1e-9);
      if (gemv && read_gbs[threads] > 0)
        printf(" %3.0f%% of read", 100.0 * bytes / t.wall * 1e-9 / read_gbs[threads]);
      else
        printf("  t%d: %8.2f ms %6.1f GFLOP/s", (int)threads, t.wall * 1e3, flops / t.wall * 1e-9);
      if (!gemv && threads == 1) printf(" (cpu %6.1f)", flops / t.cpu * 1e-9);
      if (!gemv && threads == 1 && peak_one_thread > 0)
        printf(" %3.0f%% of peak", 100.0 * flops / t.cpu * 1e-9 / peak_one_thread);
    }
    printf("\n");
    fflush(stdout);
    for (int i = 0; i < copies; i++) ttt_tensor_free(&w[i]);
  }
  free(x);
  free(y);
}

/* Attention tile kernels on one thread: one layer of one decode step of the Llama-3.2-1B shape at
 * context `keys` (8 kv heads, 4 query heads each, head dim 64, bf16 KV cache, tiles of 64 keys):
 * scores, online softmax and weighted sum per tile, as the tiled attention runs them. Rows are a
 * contiguous cache of 2 · 8 · keys · 64 bf16 values (8 MB at 4k keys, 134 MB at 64k), so small
 * contexts come from the CPU caches and 64k from memory. GFLOP/s count 4·hd flops per (query row,
 * key). */
static void bench_attention_kernel(const ttt_attention_kernel *kern, int64_t keys) {
  enum { KV_HEADS = 8, REP = 4, HD = 64, TILE = 64 };
  uint16_t *kc = malloc((size_t)(KV_HEADS * keys * HD) * sizeof(uint16_t));
  uint16_t *vc = malloc((size_t)(KV_HEADS * keys * HD) * sizeof(uint16_t));
  float q[REP * HD], acc[REP * HD], s[REP * TILE], m[REP], l[REP], rescale[REP];
  const void *kp[TILE], *vp[TILE];
  uint64_t state = 7;
  for (int64_t i = 0; i < KV_HEADS * keys * HD; i++) {
    kc[i] = (uint16_t)(0x3C00u + (next_random(&state) & 0x3FFu)); /* bf16 in [2^-7, 2^-6) */
    vc[i] = (uint16_t)(0x3C00u + (next_random(&state) & 0x3FFu));
  }
  for (int i = 0; i < REP * HD; i++) q[i] = 0.01f * (float)(i % 13);
  double best = 1e30;
  for (int round = 0; round < 5; round++) {
    double t0 = now();
    for (int64_t g = 0; g < KV_HEADS; g++) {
      for (int r = 0; r < REP; r++) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
      }
      memset(acc, 0, sizeof acc);
      for (int64_t j0 = 0; j0 < keys; j0 += TILE) {
        int64_t n = keys - j0 < TILE ? keys - j0 : TILE;
        for (int64_t i = 0; i < n; i++) {
          kp[i] = kc + (g * keys + j0 + i) * HD;
          vp[i] = vc + (g * keys + j0 + i) * HD;
        }
        kern->scores(q, HD, REP, kp, TTT_BF16, n, HD, 0.125f, s, TILE);
        kern->softmax(s, TILE, REP, n, m, l, rescale);
        kern->accumulate(s, TILE, REP, vp, TTT_BF16, n, HD, rescale, acc, HD);
      }
    }
    double t = now() - t0;
    best = t < best ? t : best;
  }
  double kv_bytes = 2.0 * KV_HEADS * (double)keys * HD * 2.0;
  double flops = 4.0 * HD * KV_HEADS * REP * (double)keys;
  printf("  %-18s context %6lld: %8.1f us per layer  %6.1f GB/s of KV  %6.1f GFLOP/s\n", kern->name,
         (long long)keys, best * 1e6, kv_bytes / best / 1e9, flops / best / 1e9);
  fflush(stdout);
  free(kc);
  free(vc);
}

static void bench_attention(const ttt_device *device, bool quick) {
  static const uint32_t isa_sets[] = {0, ISA_AVX2, ISA_AVX512}; /* ref, avx2, avx512 */
  static const int64_t contexts[] = {1024, 4096, 65536};
  size_t n_contexts = sizeof contexts / sizeof contexts[0] - (quick ? 1 : 0);
  printf("attention tile kernels (1 thread, one decode layer of the 1B shape, bf16 KV):\n");
  for (size_t k = 0; k < sizeof isa_sets / sizeof isa_sets[0]; k++) {
    if ((device->isa & isa_sets[k]) != isa_sets[k]) continue;
    ttt_device masked = *device;
    masked.isa &= isa_sets[k];
    ttt_attention_kernel kern = ttt_attention_kernel_select(&masked, TTT_KERNEL_DEFAULT);
    for (size_t c = 0; c < n_contexts; c++) bench_attention_kernel(&kern, contexts[c]);
  }
}

static void empty_range(void *arg, int64_t begin, int64_t end, int32_t thread) {
  (void)arg, (void)begin, (void)end, (void)thread;
}

static void bench_dispatch(ttt_context *ctx) {
  enum { ROUNDS = 5, CALLS = 20000 };
  int32_t threads = ttt_context_threads(ctx, 0);
  double best = 1e30;
  for (int r = 0; r < ROUNDS; r++) {
    double t0 = now();
    for (int i = 0; i < CALLS; i++) ttt_parallel_for(ctx, 0, threads, 1, empty_range, NULL);
    double t = (now() - t0) / CALLS;
    best = t < best ? t : best;
  }
  printf("dispatch: empty ttt_parallel_for over %d threads: %.2f us per round trip (best of %d x "
         "%d)\n",
         (int)threads, best * 1e6, ROUNDS, CALLS);
}

int main(int argc, char **argv) {
  bool quick = false, gemm = true, gemv = true, attention = true;
  const char *only = NULL;
  int64_t gemm_m = DEFAULT_GEMM_M; /* --m: rows of the GEMM section (a batched decode's B) */
  const char *isa = NULL;
  for (int i = 1; i < argc; i++) {
    quick |= strcmp(argv[i], "--quick") == 0;
    gemm &= strcmp(argv[i], "--no-gemm") != 0;
    gemv &= strcmp(argv[i], "--no-gemv") != 0;
    attention &= strcmp(argv[i], "--no-attention") != 0;
    if (strcmp(argv[i], "--kind") == 0 && i + 1 < argc) only = argv[++i];
    if (strcmp(argv[i], "--m") == 0 && i + 1 < argc) gemm_m = strtoll(argv[++i], NULL, 10);
    if (strcmp(argv[i], "--isa") == 0 && i + 1 < argc) isa = argv[++i];
  }
  if (isa && strcmp(isa, "avx2") != 0) {
    fprintf(stderr, "bench_kernels: unknown --isa '%s' (avx2)\n", isa);
    return 1;
  }
  if (gemm_m < 1 || gemm_m > 4096) {
    fprintf(stderr, "bench_kernels: --m must be in [1, 4096]\n");
    return 1;
  }
  if (only && !known_kind(only)) {
    fprintf(stderr,
            "bench_kernels: unknown --kind '%s' (f32, bf16, q8_0, \"q8_0 x q8\", \"q4_0 x q8\", "
            "\"bf16 x bf16\", \"q8_0_g16 x q8\", \"q4_0_g16 x q8\")\n",
            only);
    return 1;
  }
  ttt_device device;
  ttt_context *ctx = NULL;
  if (ttt_device_cpu(&device, 2) != TTT_OK) {
    fprintf(stderr, "bench_kernels: %s\n", ttt_last_error());
    return 1;
  }
  if (isa && (device.isa & ISA_AVX2) != ISA_AVX2) {
    fprintf(stderr, "bench_kernels: --isa avx2: this CPU has no AVX2\n");
    return 1;
  }
  if (isa) device.isa &= ISA_AVX2;
  if (ttt_context_create(&device, &ctx) != TTT_OK) {
    fprintf(stderr, "bench_kernels: %s\n", ttt_last_error());
    return 1;
  }
  char description[256];
  ttt_device_describe(&device, description, sizeof description);
  printf("device: %s\n", description);
  bench_dispatch(ctx);
  double peak_all = 0;
  peak_one_thread = fma_peak(ctx, &peak_all);
  if (peak_one_thread > 0)
    printf("f32 FMA peak (%s): %.1f GFLOP/s on 1 thread (CPU time), %.1f on %d threads\n",
           (device.isa & ISA_AVX512) == ISA_AVX512 ? "AVX-512" : "AVX2", peak_one_thread, peak_all,
           (int)ttt_context_threads(ctx, 0));
  if (gemv) {
    for (int32_t threads = 1; threads <= 2; threads++)
      read_gbs[threads] = read_bandwidth(ctx, threads);
    printf("read bandwidth (1 GiB, 8 prefetched streams per thread): %.1f GB/s on 1 thread, %.1f "
           "on 2\n",
           read_gbs[1], read_gbs[2]);
  }
  printf("GEMV (m=1), GB/s of weights streamed:\n");
  size_t n_gemv = sizeof gemv_shapes / sizeof gemv_shapes[0] - (quick ? 1 : 0);
  for (size_t s = 0; gemv && s < n_gemv; s++) bench_shape(ctx, &gemv_shapes[s], 1, true, only);
  printf("GEMM (m=%lld):\n", (long long)gemm_m);
  for (size_t s = 0; gemm && s < sizeof gemm_shapes / sizeof gemm_shapes[0]; s++)
    bench_shape(ctx, &gemm_shapes[s], gemm_m, false, only);
  if (attention) bench_attention(&device, quick);
  ttt_context_destroy(ctx);
  return 0;
}
