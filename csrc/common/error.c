/* Thread-local last-error text (see ember_set_error in ember/op.h).
 *
 * Adapters and the executor call ember_set_error() right before returning a
 * failing status; the binding reads ember_last_error() to build the Python
 * exception message. Each thread has its own buffer, so concurrent plans on
 * different threads never mix their messages. */
#include <stdarg.h>
#include <stdio.h>

#include "ember/op.h"

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && !defined(__STDC_NO_THREADS__)
#define EMBER_THREAD_LOCAL _Thread_local
#elif defined(__GNUC__) || defined(__clang__)
#define EMBER_THREAD_LOCAL __thread
#elif defined(_MSC_VER)
#define EMBER_THREAD_LOCAL __declspec(thread)
#else
#define EMBER_THREAD_LOCAL
#endif

#define EMBER_ERROR_CAPACITY 512

static EMBER_THREAD_LOCAL char ember_error_text[EMBER_ERROR_CAPACITY];

void ember_set_error(const char *fmt, ...) {
    va_list args;
    if (fmt == NULL) {
        ember_error_text[0] = '\0';
        return;
    }
    va_start(args, fmt);
    vsnprintf(ember_error_text, sizeof(ember_error_text), fmt, args);
    va_end(args);
}

const char *ember_last_error(void) { return ember_error_text; }
