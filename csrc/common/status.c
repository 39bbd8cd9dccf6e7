#include "ember/status.h"

const char *ember_status_str(ember_status s) {
    switch (s) {
    case EMBER_OK: return "ok";
    case EMBER_ERR_ARG: return "invalid argument";
    case EMBER_ERR_UNSUPPORTED: return "unsupported";
    case EMBER_ERR_NO_MEMORY: return "buffer too small";
    case EMBER_ERR_PLAN: return "invalid plan";
    case EMBER_ERR_STATE: return "invalid state";
    }
    return "unknown status";
}
