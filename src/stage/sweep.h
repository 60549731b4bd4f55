/* sweep.h - the sweep stage: pipeline runs over a grid or list of overrides of a pipeline config,
 * sharing the pipeline's stage cache, then summary.csv, summary.md and one plot per swept key. */
#ifndef WS_STAGE_SWEEP_H
#define WS_STAGE_SWEEP_H

/* Runs (or continues) the sweep described by YAML file `file` (pipeline, name, set, grid | list);
 * list_only: print the run folders instead of running. Under several ranks every run is one
 * distributed pipeline, or with spread_runs rank k of N runs runs k, k + N, ... on its own (for many
 * runs that each fit one device). Fails naming the file and key. */
int ws_stage_sweep(const char *file, int list_only, int spread_runs);
#endif
