/* comm_internal.h — the communicator object shared by comm.c and comm_mpi.c (not installed). */
#ifndef TTT_COMM_INTERNAL_H
#define TTT_COMM_INTERNAL_H

#include <ttt.h>

/* An implementation's collectives. Arguments are already checked by comm.c (non-NULL buffers,
 * counts in range), which also keeps the statistics. */
typedef struct ttt_comm_ops {
  ttt_status (*all_reduce_sum_f32)(ttt_comm *comm, float *data, int64_t n);
  ttt_status (*all_gather)(ttt_comm *comm, const void *send, void *recv, const int64_t *bytes);
  ttt_status (*broadcast)(ttt_comm *comm, void *data, int64_t bytes, int32_t root);
  ttt_status (*barrier)(ttt_comm *comm);
  void (*abort)(ttt_comm *comm, int exit_code);
  void (*destroy)(ttt_comm *comm); /* frees `impl` (not the comm itself) */
} ttt_comm_ops;

struct ttt_comm {
  const ttt_comm_ops *ops;
  int32_t rank, size;
  void *impl; /* the implementation's state (MPI: its communicator) */
  ttt_comm_stats stats;
};

#ifdef TTT_HAVE_MPI
/* comm_mpi.c: fills comm->ops, rank, size and impl. */
ttt_status ttt_comm_mpi_init(ttt_comm *comm);
#endif

#endif
