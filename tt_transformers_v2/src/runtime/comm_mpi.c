/*
 * The MPI implementation of ttt_comm (compiled only when CMake finds MPI; the only file of the
 * core that includes mpi.h). The communicator is a duplicate of MPI_COMM_WORLD with
 * MPI_ERRORS_RETURN, so a failing collective comes back as a ttt_status naming the MPI error
 * instead of MPI's default abort.
 */
#include <limits.h>
#include <mpi.h>
#include <stdlib.h>

#include "comm_internal.h"

typedef struct mpi_state {
  MPI_Comm comm;
  bool finalize; /* MPI was initialized by us: finalize it on destroy */
} mpi_state;

static MPI_Comm world(const ttt_comm *comm) { return ((const mpi_state *)comm->impl)->comm; }

/* TTT_OK for MPI_SUCCESS, else TTT_ERR_IO naming the collective and MPI's message. */
static ttt_status mpi_check(int rc, const char *what) {
  if (rc == MPI_SUCCESS) return TTT_OK;
  char message[MPI_MAX_ERROR_STRING + 1];
  int len = 0;
  if (MPI_Error_string(rc, message, &len) != MPI_SUCCESS) len = 0;
  message[len] = '\0';
  return ttt_set_error(TTT_ERR_IO, "MPI %s failed: %s (error %d)", what, message, rc);
}

/* In chunks of at most INT_MAX values: MPI counts are int. */
static ttt_status mpi_all_reduce(ttt_comm *comm, float *data, int64_t n) {
  for (int64_t done = 0; done < n;) {
    int chunk = n - done > INT_MAX ? INT_MAX : (int)(n - done);
    int rc = MPI_Allreduce(MPI_IN_PLACE, data + done, chunk, MPI_FLOAT, MPI_SUM, world(comm));
    if (rc != MPI_SUCCESS) return mpi_check(rc, "all-reduce (sum, f32)");
    done += chunk;
  }
  return TTT_OK;
}

static ttt_status mpi_all_gather(ttt_comm *comm, const void *send, void *recv,
                                 const int64_t *bytes) {
  int *counts = malloc(2 * (size_t)comm->size * sizeof *counts);
  if (!counts) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "MPI all-gather: out of memory");
  int *displs = counts + comm->size;
  int64_t offset = 0;
  ttt_status st = TTT_OK;
  for (int32_t r = 0; r < comm->size; r++) {
    counts[r] = (int)bytes[r];
    displs[r] = (int)offset;
    offset += bytes[r];
    if (offset > INT_MAX)
      st = ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "MPI all-gather: %lld bytes in all exceed MPI's int displacements",
                         (long long)offset);
  }
  if (st == TTT_OK)
    st = mpi_check(MPI_Allgatherv(send, counts[comm->rank], MPI_BYTE, recv, counts, displs,
                                  MPI_BYTE, world(comm)),
                   "all-gather");
  free(counts);
  return st;
}

static ttt_status mpi_broadcast(ttt_comm *comm, void *data, int64_t bytes, int32_t root) {
  return mpi_check(MPI_Bcast(data, (int)bytes, MPI_BYTE, root, world(comm)), "broadcast");
}

static ttt_status mpi_barrier(ttt_comm *comm) {
  return mpi_check(MPI_Barrier(world(comm)), "barrier");
}

static void mpi_abort(ttt_comm *comm, int exit_code) { MPI_Abort(world(comm), exit_code); }

static void mpi_destroy(ttt_comm *comm) {
  mpi_state *s = comm->impl;
  if (!s) return;
  MPI_Comm_free(&s->comm);
  if (s->finalize) MPI_Finalize();
  free(s);
}

static const ttt_comm_ops mpi_ops = {mpi_all_reduce, mpi_all_gather, mpi_broadcast,
                                     mpi_barrier,    mpi_abort,      mpi_destroy};

/* Initializes MPI if needed, asking for MPI_THREAD_SERIALIZED: a forward may run on any thread,
 * one at a time. */
static ttt_status ensure_initialized(bool *initialized_here) {
  int initialized = 0;
  *initialized_here = false;
  ttt_status st = mpi_check(MPI_Initialized(&initialized), "initialized query");
  if (st != TTT_OK || initialized) return st;
  int provided = 0;
  st = mpi_check(MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided), "init");
  if (st != TTT_OK) return st;
  *initialized_here = true;
  if (provided >= MPI_THREAD_SERIALIZED) return TTT_OK;
  MPI_Finalize();
  *initialized_here = false;
  return ttt_set_error(TTT_ERR_UNSUPPORTED,
                       "MPI init: the library provides thread level %d, below "
                       "MPI_THREAD_SERIALIZED (%d)",
                       provided, MPI_THREAD_SERIALIZED);
}

ttt_status ttt_comm_mpi_init(ttt_comm *comm) {
  mpi_state *s = calloc(1, sizeof *s);
  if (!s) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "MPI communicator: out of memory");
  ttt_status st = ensure_initialized(&s->finalize);
  if (st == TTT_OK) st = mpi_check(MPI_Comm_dup(MPI_COMM_WORLD, &s->comm), "communicator dup");
  if (st != TTT_OK) {
    if (s->finalize) MPI_Finalize();
    free(s);
    return st;
  }
  int rank = 0, size = 1;
  MPI_Comm_set_errhandler(s->comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(s->comm, &rank);
  MPI_Comm_size(s->comm, &size);
  *comm = (ttt_comm){.ops = &mpi_ops, .rank = rank, .size = size, .impl = s};
  return TTT_OK;
}
