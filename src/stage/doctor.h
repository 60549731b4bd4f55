/* doctor.h - the doctor stage (`wsseed doctor`): what this installation has and what a run will
 * use, and, given a pipeline config, the pre-flight of every file the config names.
 *
 * Prints the wsseed version and configure options; libtorch's version, build and the CUDA devices
 * it sees; OpenBLAS's version, core type and threads; the OPENBLAS_* / OMP_* / GOTO_* variables in
 * force; the CPU's SIMD level; the HDF5, libyaml, libpng and libjpeg versions; free memory and the
 * free disk under out_dir.
 */
#ifndef WS_STAGE_DOCTOR_H
#define WS_STAGE_DOCTOR_H
#include <stdio.h>

#include "stage/pipeline.h"

/* Writes the report to out. c (may be NULL) is a loaded pipeline config: its out_dir is measured
 * and its files are checked (ws_pipe_preflight); without one, the default out_dir. Returns 0, or
 * the pre-flight's failure (its message lists every problem by key). */
int ws_stage_doctor(const ws_pipe_cfg *c, FILE *out);
#endif
