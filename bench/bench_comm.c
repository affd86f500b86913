/*
 * bench_comm: the cost of the collectives tensor parallelism runs per decoded token, measured
 * apart from the model (so without the wait for a slower rank that ttt bench's figure includes).
 *   mpirun -np 2 ./build/bench/bench_comm [--hidden 2048] [--vocab 128256] [--reps 2000]
 * Times an all-reduce of `hidden` f32 values (one per split attention or FFN) and an all-gather of
 * vocab/ranks f32 logits per rank, each after a barrier; rank 0 prints the mean per call.
 * Without mpirun (or in a build without MPI) it measures the single-process communicator.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ttt.h>

typedef struct options {
  int64_t hidden, vocab, reps;
} options;

/* Options come in pairs: --name VALUE. */
static int parse(int argc, char **argv, options *o) {
  for (int i = 1; i < argc; i += 2) {
    int64_t *field = strcmp(argv[i], "--hidden") == 0  ? &o->hidden
                     : strcmp(argv[i], "--vocab") == 0 ? &o->vocab
                     : strcmp(argv[i], "--reps") == 0  ? &o->reps
                                                       : NULL;
    if (!field || i + 1 == argc || (*field = strtoll(argv[i + 1], NULL, 10)) < 1) {
      fprintf(stderr, "usage: bench_comm [--hidden N] [--vocab N] [--reps N] (bad '%s')\n",
              argv[i]);
      return 1;
    }
  }
  return 0;
}

/* Mean seconds inside the collective per call, from the communicator's own statistics. */
static double per_call(const ttt_comm *comm, ttt_comm_stats before, int64_t calls) {
  return (ttt_comm_get_stats(comm).seconds - before.seconds) / (double)calls;
}

/* reps all-reduces of hidden values, each after a barrier (so ranks start together). */
static ttt_status time_all_reduce(ttt_comm *comm, const options *o, float *x, double *seconds) {
  double total = 0;
  for (int64_t r = 0; r < o->reps; r++) {
    ttt_status st = ttt_comm_barrier(comm);
    ttt_comm_stats before = ttt_comm_get_stats(comm);
    if (st == TTT_OK) st = ttt_comm_all_reduce_sum_f32(comm, x, o->hidden);
    if (st != TTT_OK) return st;
    total += per_call(comm, before, 1);
  }
  *seconds = total / (double)o->reps;
  return TTT_OK;
}

/* reps all-gathers of each rank's vocab share of f32 logits, each after a barrier. */
static ttt_status time_all_gather(ttt_comm *comm, const options *o, float *logits,
                                  double *seconds) {
  int32_t size = ttt_comm_size(comm);
  int64_t *bytes = malloc((size_t)size * sizeof *bytes), offset = 0;
  if (!bytes) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "bench_comm: out of memory");
  for (int32_t r = 0; r < size; r++) {
    int64_t end = o->vocab * (r + 1) / size;
    bytes[r] = (end - offset) * (int64_t)sizeof(float);
    offset = end;
  }
  int64_t mine = o->vocab * ttt_comm_rank(comm) / size;
  float *send = malloc((size_t)bytes[ttt_comm_rank(comm)] + 1);
  double total = 0;
  ttt_status st = send ? TTT_OK : ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "bench_comm: out of memory");
  for (int64_t r = 0; st == TTT_OK && r < o->reps; r++) {
    if (send) memcpy(send, logits + mine, (size_t)bytes[ttt_comm_rank(comm)]);
    st = ttt_comm_barrier(comm);
    ttt_comm_stats before = ttt_comm_get_stats(comm);
    if (st == TTT_OK) st = ttt_comm_all_gather(comm, send, logits, bytes);
    total += per_call(comm, before, 1);
  }
  *seconds = total / (double)o->reps;
  free(send);
  free(bytes);
  return st;
}

int main(int argc, char **argv) {
  options o = {2048, 128256, 2000};
  if (parse(argc, argv, &o) != 0) return 2;
  ttt_comm *comm = NULL;
  bool mpi = getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
  ttt_status st = mpi ? ttt_comm_create_mpi(&comm) : ttt_comm_create_single(&comm);
  float *x = calloc((size_t)o.hidden, sizeof *x), *logits = calloc((size_t)o.vocab, sizeof *logits);
  double reduce = 0, gather = 0;
  if (st == TTT_OK && (!x || !logits))
    st = ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "bench_comm: out of memory");
  if (st == TTT_OK) st = time_all_reduce(comm, &o, x, &reduce);
  if (st == TTT_OK) st = time_all_gather(comm, &o, logits, &gather);
  if (st == TTT_OK && ttt_comm_rank(comm) == 0)
    printf("ranks %d: all-reduce of %lld f32 (%.1f KB) %.2f us; all-gather of %lld f32 logits "
           "(%.1f KB per rank) %.2f us (mean of %lld, each after a barrier)\n",
           (int)ttt_comm_size(comm), (long long)o.hidden, (double)o.hidden * 4 / 1e3, reduce * 1e6,
           (long long)o.vocab, (double)o.vocab * 4 / 1e3 / ttt_comm_size(comm), gather * 1e6,
           (long long)o.reps);
  if (st != TTT_OK) fprintf(stderr, "bench_comm: %s\n", ttt_last_error());
  free(x);
  free(logits);
  ttt_comm_destroy(comm);
  return st == TTT_OK ? 0 : 1;
}
