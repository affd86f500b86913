/* Subcommands of the `ttt` program. Each takes argv after the subcommand name (argv[0] is the
 * subcommand), prints a one-line error on stderr on failure, and returns the exit status.
 * Commands with `run_ranks` also run under mpirun: every rank runs the command on its share of the
 * model over `comm` (NULL outside mpirun: one process); only rank 0 writes output files (stdout
 * of the other ranks is /dev/null). */
#ifndef TTT_CLI_COMMANDS_H
#define TTT_CLI_COMMANDS_H

#include <ttt.h>

typedef struct ttt_cli_command {
  const char *name;
  const char *summary;
  int (*run)(int argc, char **argv);                       /* one process only */
  int (*run_ranks)(int argc, char **argv, ttt_comm *comm); /* one process or an mpirun job */
} ttt_cli_command;

int ttt_cmd_tokenize(int argc, char **argv);
int ttt_cmd_detokenize(int argc, char **argv);
int ttt_cmd_logits(int argc, char **argv, ttt_comm *comm);
int ttt_cmd_encode(int argc, char **argv);
int ttt_cmd_embed(int argc, char **argv);
int ttt_cmd_quantize(int argc, char **argv);
int ttt_cmd_validate(int argc, char **argv, ttt_comm *comm);
int ttt_cmd_generate(int argc, char **argv, ttt_comm *comm);
int ttt_cmd_perplexity(int argc, char **argv, ttt_comm *comm);
int ttt_cmd_bench(int argc, char **argv, ttt_comm *comm);
int ttt_cmd_gen_model(int argc, char **argv);
int ttt_cmd_info(int argc, char **argv);
int ttt_cmd_chat_template(int argc, char **argv);
int ttt_cmd_chat(int argc, char **argv);
int ttt_cmd_serve(int argc, char **argv);

#endif
