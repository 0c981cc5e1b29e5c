#pragma once
/* Linux calls the worker needs that Swift's Glibc module does not export: the descriptors the
 * loop waits on, and naming the threads it starts (prctl is variadic, so Swift cannot call it). */
#include <sys/signalfd.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>

/* Names the calling thread (at most 15 bytes are kept), as `top -H` and debuggers show it. */
static inline void httpq_name_thread(const char *name) {
    prctl(PR_SET_NAME, name, 0, 0, 0);
}
