/*
 * The communicator: the single-process implementation always; with `--mpi` (run under mpirun by
 * the comm_mpi test) the MPI one, on values whose sums and gathers are known exactly.
 */
#include <stdlib.h>
#include <string.h>

#include "ttt_test.h"

static void test_single_collectives(void) {
  ttt_comm *comm = NULL;
  CHECK_OK(ttt_comm_create_single(&comm));
  if (!comm) return;
  CHECK(ttt_comm_rank(comm) == 0 && ttt_comm_size(comm) == 1);
  float x[3] = {1.5f, -2.0f, 3.25f};
  CHECK_OK(ttt_comm_all_reduce_sum_f32(comm, x, 3));
  CHECK(x[0] == 1.5f && x[1] == -2.0f && x[2] == 3.25f);
  char recv[4] = {0};
  int64_t bytes[1] = {3};
  CHECK_OK(ttt_comm_all_gather(comm, "abc", recv, bytes));
  CHECK(memcmp(recv, "abc", 3) == 0);
  CHECK_OK(ttt_comm_broadcast(comm, x, sizeof x, 0));
  CHECK_OK(ttt_comm_barrier(comm));
  ttt_comm_stats stats = ttt_comm_get_stats(comm);
  CHECK(stats.calls == 4 && stats.bytes == 3 * 4 + 3 + (int64_t)sizeof x && stats.seconds >= 0);
  ttt_comm_destroy(comm);
  ttt_comm_destroy(NULL);
}

static void test_single_bad_arguments(void) {
  ttt_comm *comm = NULL;
  CHECK_OK(ttt_comm_create_single(&comm));
  if (!comm) return;
  CHECK_ERR(ttt_comm_all_reduce_sum_f32(comm, NULL, 4), TTT_ERR_INVALID_ARGUMENT, "NULL");
  float x = 0;
  CHECK_ERR(ttt_comm_all_reduce_sum_f32(comm, &x, -1), TTT_ERR_INVALID_ARGUMENT, "n (-1)");
  CHECK_ERR(ttt_comm_broadcast(comm, &x, 4, 1), TTT_ERR_OUT_OF_RANGE, "root 1 is not a rank of 1");
  int64_t bytes[1] = {(int64_t)1 << 40};
  CHECK_ERR(ttt_comm_all_gather(comm, &x, &x, bytes), TTT_ERR_INVALID_ARGUMENT, "bytes[0]");
  CHECK(ttt_comm_rank(NULL) == 0 && ttt_comm_size(NULL) == 1);
  ttt_comm_destroy(comm);
}

/* TTT_TEST_WITH_MPI: whether CMake found MPI for this build. */
static void test_mpi_availability(void) {
  CHECK(ttt_comm_mpi_available() == (TTT_TEST_WITH_MPI != 0));
  ttt_comm *comm = NULL;
  if (ttt_comm_mpi_available()) return; /* exercised by the comm_mpi test under mpirun */
  CHECK_ERR(ttt_comm_create_mpi(&comm), TTT_ERR_UNSUPPORTED, "built without MPI");
  CHECK(comm == NULL);
}

/* ---- under mpirun ---- */

static ttt_comm *mpi_comm;

/* Rank r holds r + 1 + i at index i: the sum over n ranks is n(n+1)/2 + n·i (exact in f32). */
static void test_mpi_all_reduce(void) {
  int32_t rank = ttt_comm_rank(mpi_comm), size = ttt_comm_size(mpi_comm);
  enum { N = 1000 };
  float *x = malloc(N * sizeof *x);
  if (!x) return;
  for (int i = 0; i < N; i++) x[i] = (float)(rank + 1 + i);
  CHECK_OK(ttt_comm_all_reduce_sum_f32(mpi_comm, x, N));
  int bad = 0;
  for (int i = 0; i < N; i++) bad += x[i] != (float)(size * (size + 1) / 2 + size * i);
  CHECK_MSG(bad == 0, "rank %d: %d wrong sums", (int)rank, bad);
  free(x);
}

/* Rank r sends r + 1 bytes of value r: uneven contributions concatenated in rank order. */
static void test_mpi_all_gather(void) {
  int32_t rank = ttt_comm_rank(mpi_comm), size = ttt_comm_size(mpi_comm);
  int64_t bytes[16], total = 0;
  CHECK(size <= 16);
  if (size > 16) return;
  for (int32_t r = 0; r < size; r++) total += bytes[r] = r + 1;
  unsigned char send[16], recv[136];
  memset(send, rank, sizeof send);
  memset(recv, 0xff, sizeof recv);
  CHECK_OK(ttt_comm_all_gather(mpi_comm, send, recv, bytes));
  int64_t at = 0, bad = 0;
  for (int32_t r = 0; r < size; r++)
    for (int64_t k = 0; k < bytes[r]; k++) bad += recv[at++] != r;
  CHECK_MSG(bad == 0 && at == total, "rank %d: %lld wrong bytes", (int)rank, (long long)bad);
}

static void test_mpi_broadcast_and_barrier(void) {
  int32_t rank = ttt_comm_rank(mpi_comm), size = ttt_comm_size(mpi_comm);
  int32_t root = size - 1, value[2] = {rank, 7 * rank};
  CHECK_OK(ttt_comm_broadcast(mpi_comm, value, sizeof value, root));
  CHECK(value[0] == root && value[1] == 7 * root);
  CHECK_OK(ttt_comm_barrier(mpi_comm));
  ttt_comm_stats stats = ttt_comm_get_stats(mpi_comm);
  CHECK(stats.calls >= 3 && stats.seconds > 0);
}

static void test_mpi_bad_root(void) {
  int32_t x = 0, size = ttt_comm_size(mpi_comm);
  CHECK_ERR(ttt_comm_broadcast(mpi_comm, &x, sizeof x, size), TTT_ERR_OUT_OF_RANGE,
            "is not a rank of");
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--mpi") == 0) {
    ttt_status st = ttt_comm_create_mpi(&mpi_comm);
    if (st != TTT_OK) {
      fprintf(stderr, "ttt_comm_create_mpi: %s\n", ttt_last_error());
      return 1;
    }
    if (ttt_comm_size(mpi_comm) < 2) fprintf(stderr, "test_comm --mpi: run it with -np >= 2\n");
    CHECK(ttt_comm_size(mpi_comm) >= 2);
    TTT_RUN(test_mpi_all_reduce);
    TTT_RUN(test_mpi_all_gather);
    TTT_RUN(test_mpi_broadcast_and_barrier);
    TTT_RUN(test_mpi_bad_root);
    int rc = ttt_test_finish();
    ttt_comm_destroy(mpi_comm);
    return rc;
  }
  TTT_RUN(test_single_collectives);
  TTT_RUN(test_single_bad_arguments);
  TTT_RUN(test_mpi_availability);
  return ttt_test_finish();
}
