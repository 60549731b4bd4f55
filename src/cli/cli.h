/* cli.h - the commands of the wsseed program. Each turns its argv into one stage's settings and
 * calls that stage (src/stage/); main.c dispatches to them. Commands share cli/common.h; they never
 * call model, data or shim code. Only src/cli/ exits (through main's return value).
 */
#ifndef WS_CLI_CLI_H
#define WS_CLI_CLI_H

/* Each command: argv[0] is the command name; returns the process exit status (0 ok, 1 failure,
 * 2 misuse). */
int ws_cmd_tokenize(int argc, char **argv);
int ws_cmd_demo(int argc, char **argv);
int ws_cmd_masks(int argc, char **argv);
int ws_cmd_masks_export(int argc, char **argv);
int ws_cmd_train(int argc, char **argv);
int ws_cmd_synth(int argc, char **argv);
int ws_cmd_export_ctx(int argc, char **argv);
int ws_cmd_export(int argc, char **argv);
int ws_cmd_cam(int argc, char **argv);
int ws_cmd_caa(int argc, char **argv);
int ws_cmd_seed(int argc, char **argv);
int ws_cmd_merge(int argc, char **argv);
int ws_cmd_eval(int argc, char **argv);
int ws_cmd_boxes(int argc, char **argv);
int ws_cmd_boxseed(int argc, char **argv);
int ws_cmd_pipeline(int argc, char **argv);
int ws_cmd_sweep(int argc, char **argv);
int ws_cmd_doctor(int argc, char **argv);
/* self: this binary, run for a wsseed command word. */
int ws_cmd_launch(int argc, char **argv, const char *self);

#endif
