#ifndef C_DISPATCH_MAIN_QUEUE_H
#define C_DISPATCH_MAIN_QUEUE_H

#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

// libdispatch's hooks for a thread other than dispatch_main() that drains the main queue: the ones
// CoreFoundation's run loop uses on Linux. They are exported by libdispatch (shared and static), which
// Swift concurrency links on Linux, but declared only in its private headers.

/// A file descriptor (an eventfd on Linux) that becomes readable when the main queue has work.
extern int _dispatch_get_main_queue_handle_4CF(void);

/// Runs what the main queue holds; called on the main thread.
extern void _dispatch_main_queue_callback_4CF(void *_Nullable message);

/// Whether the calling thread is the process's main thread (its thread id is the process id).
static inline int cdispatch_is_main_thread(void) {
    return syscall(SYS_gettid) == getpid();
}

#endif
