/* fault.h - named fault points: crash or fill the disk on purpose, at a chosen write, in tests.
 *
 * WSSEED_FAULT=<point>[:<nth>][:<action>] makes the nth hit (default 1) of fault point <point>
 * either kill the process on the spot (action `abort`, the default: SIGKILL, so no atexit
 * handler, no buffered stdio and no HDF5 shutdown runs, exactly as `kill -9`) or fail as a
 * write does on a full disk (action `enospc`: the call site reports ENOSPC). WSSEED_FAULT_TRACE=
 * <file> appends the name of every point hit, one a line, so a test can list the points a
 * command passes. The points are listed in ARCHITECTURE.md ("Fault points"). With neither
 * variable set a point costs a pthread_once check and one branch, and changes nothing.
 */
#ifndef WS_CORE_FAULT_H
#define WS_CORE_FAULT_H

/* Returns 0, or ENOSPC when the enospc action fires here (never returns for abort). point is
 * "<kind>.<step>", e.g. "masks.part.write"; kind may be NULL, then point alone is the name. */
int ws_fault_at(const char *kind, const char *step);

#endif
