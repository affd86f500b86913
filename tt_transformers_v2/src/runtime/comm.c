/*
 * Communicator: argument checks and statistics around an implementation's collectives, and the
 * single-process implementation (size 1), which needs no library: a sum over one rank is the data
 * itself, a gather is a copy. The MPI implementation lives in comm_mpi.c, compiled only when CMake
 * finds MPI; this file never includes mpi.h.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "comm_internal.h"

/* ---- the single-process implementation ---- */

static ttt_status single_all_reduce(ttt_comm *comm, float *data, int64_t n) { return TTT_OK; }

static ttt_status single_all_gather(ttt_comm *comm, const void *send, void *recv,
                                    const int64_t *bytes) {
  memcpy(recv, send, (size_t)bytes[0]);
  return TTT_OK;
}

static ttt_status single_broadcast(ttt_comm *comm, void *data, int64_t bytes, int32_t root) {
  return TTT_OK;
}

static ttt_status single_barrier(ttt_comm *comm) { return TTT_OK; }

static void single_abort(ttt_comm *comm, int exit_code) { exit(exit_code); }

static void single_destroy(ttt_comm *comm) {}

static const ttt_comm_ops single_ops = {single_all_reduce, single_all_gather, single_broadcast,
                                        single_barrier,    single_abort,      single_destroy};

ttt_status ttt_comm_create_single(ttt_comm **out) {
  if (!out) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_comm_create_single: NULL out");
  ttt_comm *comm = calloc(1, sizeof *comm);
  if (!comm) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "ttt_comm_create_single: out of memory");
  *comm = (ttt_comm){.ops = &single_ops, .rank = 0, .size = 1};
  *out = comm;
  return TTT_OK;
}

/* ---- MPI (comm_mpi.c) ---- */

#ifdef TTT_HAVE_MPI
bool ttt_comm_mpi_available(void) { return true; }

ttt_status ttt_comm_create_mpi(ttt_comm **out) {
  if (!out) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_comm_create_mpi: NULL out");
  *out = NULL;
  ttt_comm *comm = calloc(1, sizeof *comm);
  if (!comm) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "ttt_comm_create_mpi: out of memory");
  ttt_status st = ttt_comm_mpi_init(comm);
  if (st != TTT_OK) {
    free(comm);
    return st;
  }
  *out = comm;
  return TTT_OK;
}
#else
bool ttt_comm_mpi_available(void) { return false; }

ttt_status ttt_comm_create_mpi(ttt_comm **out) {
  if (out) *out = NULL;
  return ttt_set_error(TTT_ERR_UNSUPPORTED,
                       "ttt_comm_create_mpi: this libttt was built without MPI (CMake did not "
                       "find it: install libopenmpi-dev and reconfigure)");
}
#endif

/* ---- common face ---- */

void ttt_comm_destroy(ttt_comm *comm) {
  if (!comm) return;
  comm->ops->destroy(comm);
  free(comm);
}

int32_t ttt_comm_rank(const ttt_comm *comm) { return comm ? comm->rank : 0; }

int32_t ttt_comm_size(const ttt_comm *comm) { return comm ? comm->size : 1; }

ttt_comm_stats ttt_comm_get_stats(const ttt_comm *comm) {
  return comm ? comm->stats : (ttt_comm_stats){0};
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Adds one collective that sent `bytes` and started at `start` to the statistics. */
static ttt_status account(ttt_comm *comm, ttt_status st, int64_t bytes, double start) {
  comm->stats.calls++;
  comm->stats.bytes += bytes;
  comm->stats.seconds += now_seconds() - start;
  return st;
}

ttt_status ttt_comm_all_reduce_sum_f32(ttt_comm *comm, float *data, int64_t n) {
  if (!comm || (n > 0 && !data))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_comm_all_reduce_sum_f32: NULL argument");
  if (n < 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "ttt_comm_all_reduce_sum_f32: n (%lld) must be >= 0", (long long)n);
  if (n == 0) return TTT_OK;
  double start = now_seconds();
  return account(comm, comm->ops->all_reduce_sum_f32(comm, data, n), n * (int64_t)sizeof(float),
                 start);
}

ttt_status ttt_comm_all_gather(ttt_comm *comm, const void *send, void *recv, const int64_t *bytes) {
  if (!comm || !recv || !bytes)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_comm_all_gather: NULL argument");
  for (int32_t r = 0; r < comm->size; r++)
    if (bytes[r] < 0 || bytes[r] > INT32_MAX)
      return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                           "ttt_comm_all_gather: bytes[%d] (%lld) must be in [0, 2^31)", (int)r,
                           (long long)bytes[r]);
  if (bytes[comm->rank] > 0 && !send)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_comm_all_gather: NULL send buffer");
  double start = now_seconds();
  return account(comm, comm->ops->all_gather(comm, send, recv, bytes), bytes[comm->rank], start);
}

ttt_status ttt_comm_broadcast(ttt_comm *comm, void *data, int64_t bytes, int32_t root) {
  if (!comm || (bytes > 0 && !data))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_comm_broadcast: NULL argument");
  if (bytes < 0 || bytes > INT32_MAX)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "ttt_comm_broadcast: bytes (%lld) must be in [0, 2^31)", (long long)bytes);
  if (root < 0 || root >= comm->size)
    return ttt_set_error(TTT_ERR_OUT_OF_RANGE, "ttt_comm_broadcast: root %d is not a rank of %d",
                         (int)root, (int)comm->size);
  double start = now_seconds();
  return account(comm, comm->ops->broadcast(comm, data, bytes, root),
                 comm->rank == root ? bytes : 0, start);
}

ttt_status ttt_comm_barrier(ttt_comm *comm) {
  if (!comm) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_comm_barrier: NULL comm");
  double start = now_seconds();
  return account(comm, comm->ops->barrier(comm), 0, start);
}

void ttt_comm_abort(ttt_comm *comm, int exit_code) {
  if (!comm) exit(exit_code);
  comm->ops->abort(comm, exit_code);
  exit(exit_code); /* not reached with MPI: MPI_Abort ends the job */
}
