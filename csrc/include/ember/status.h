/* Status codes returned by every function of the C library.
 *
 * Kernels never print or allocate; they report through these codes and the
 * Python binding maps each to an exception (see bindings/status.cpp). Keep the
 * numbering stable: the binding and the C tests rely on it. */
#ifndef EMBER_STATUS_H
#define EMBER_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    EMBER_OK = 0,
    EMBER_ERR_ARG = 1,          /* invalid argument: null pointer, bad shape, bad parameter */
    EMBER_ERR_UNSUPPORTED = 2,  /* valid request this build/kernel does not implement */
    EMBER_ERR_NO_MEMORY = 3,    /* caller-provided buffer (arena, scratch) too small */
    EMBER_ERR_PLAN = 4,         /* inconsistent execution plan */
    EMBER_ERR_STATE = 5         /* call out of order (e.g. run before finalize) */
} ember_status;

/* Human-readable name of a status code (static string, never NULL). */
const char *ember_status_str(ember_status s);

#ifdef __cplusplus
}
#endif
#endif
