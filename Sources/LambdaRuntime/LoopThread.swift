#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CDispatchMainQueue

/// One thread of its own for one concurrent loop, which is also the executor that loop's task runs
/// on (`Task(executorPreference:)`); or, for the whole runtime, the process's main thread
/// (``runOnCurrentThread()``).
///
/// Why a thread per loop: libcurl calls block their thread (`/next` waits for as long as Lambda has
/// nothing to send), and Swift's cooperative pool has as many threads as cores. N loops blocking on
/// that pool would leave no thread for the others, so N invocations would not really be in flight.
/// On its own thread a loop may block in libcurl, and a handler in a blocking store call, without
/// holding up any other loop. Nonisolated async code of the loop's task (the loop, the handler, what
/// it awaits) runs here; a hop to an actor or the main actor goes there and comes back.
///
/// Jobs are kept in an array under a pthread mutex and condition; the thread sleeps while there is
/// none. ``stop()`` lets the thread end once the jobs enqueued so far have run.
///
/// On the main thread (``runOnCurrentThread()``) it also stands in for `dispatch_main()`: while it
/// has no job it sleeps in `poll` on an eventfd of its own and on the main dispatch queue's, and runs
/// what the main queue holds (main-actor jobs) when that one wakes it.
final class LoopThread: TaskExecutor, @unchecked Sendable {
    // `jobs`, `stopping`, `drainsMainQueue`, `idleWake` and `sleepsOnWake` are guarded by `mutex`.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var jobs: [UnownedJob] = []
    private var stopping = false
    /// Set by ``runOnCurrentThread()``: this is the main thread's executor, which drains the main queue.
    private var drainsMainQueue = false
    /// Main thread only: what it sleeps on when idle, made the first time it is (a cold start that
    /// never waits for another thread before its first `/next` makes none).
    private var idleWake: MainThreadWake?
    /// The main thread sleeps in `idleWake.waitThenRunMainQueue`, not on `condition`: enqueue must
    /// write the eventfd.
    private var sleepsOnWake = false

    /// Creates the executor; the thread starts with ``start()``.
    init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        condition.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Starts the thread; it keeps this executor alive until it ends. Returns the `errno` of
    /// `pthread_create` when the thread could not be made.
    func start() -> Int32? {
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { context in
            guard let context else { return nil }
            let executor = Unmanaged<LoopThread>.fromOpaque(context).takeRetainedValue()
            executor.runJobs()
            return nil
        }, context)
        guard status == 0 else {
            Unmanaged<LoopThread>.fromOpaque(context).release()
            return status
        }
        pthread_detach(thread)
        return nil
    }

    /// Lets the thread end once every job enqueued so far has run.
    func stop() {
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Queues a job of a task that prefers this executor.
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        pthread_mutex_lock(mutex)
        jobs.append(job)
        if sleepsOnWake {
            sleepsOnWake = false
            idleWake?.signal()
        } else {
            pthread_cond_signal(condition)
        }
        pthread_mutex_unlock(mutex)
    }

    /// Runs this executor's jobs on the calling thread, which must be the process's main thread, for
    /// as long as the process lives (`LambdaRuntime.mainOnMainThread`; the runtime ends the process
    /// itself). Main-actor jobs run here too, whenever no job of this executor is ready.
    func runOnCurrentThread() -> Never {
        pthread_mutex_lock(mutex)
        drainsMainQueue = true
        pthread_mutex_unlock(mutex)
        runJobs()
        preconditionFailure("the executor of the main thread was stopped")
    }

    private func runJobs() {
        let executor = asUnownedTaskExecutor()
        var batch: [UnownedJob] = []
        while true {
            pthread_mutex_lock(mutex)
            while jobs.isEmpty, !stopping {
                guard drainsMainQueue else {
                    pthread_cond_wait(condition, mutex)
                    continue
                }
                let wake = idleWake ?? MainThreadWake.make()
                idleWake = wake
                sleepsOnWake = true
                pthread_mutex_unlock(mutex)
                wake.waitThenRunMainQueue {
                    // A job enqueued from here on (a main-actor job returning to this executor) needs no wake.
                    pthread_mutex_lock(mutex)
                    sleepsOnWake = false
                    pthread_mutex_unlock(mutex)
                }
                pthread_mutex_lock(mutex)
                sleepsOnWake = false
            }
            if jobs.isEmpty {
                pthread_mutex_unlock(mutex)
                return
            }
            swap(&batch, &jobs)
            pthread_mutex_unlock(mutex)
            for job in batch {
                job.runSynchronously(on: executor)
            }
            batch.removeAll(keepingCapacity: true)
        }
    }
}

/// How the main thread sleeps while it has no job: in `poll` on an eventfd that ``signal()`` writes
/// and on the main dispatch queue's handle, the two things that can give it work.
private struct MainThreadWake {
    private let eventFD: Int32
    private let mainQueueFD: Int32

    /// Makes the eventfd, or stops the process: without it the main queue could never be drained,
    /// and main-actor work would wait for ever (out of file descriptors at start-up, in practice never).
    static func make() -> MainThreadWake {
        let made = eventfd(0, Int32(EFD_CLOEXEC) | Int32(EFD_NONBLOCK))
        guard made >= 0 else {
            fatalError("LambdaRuntime.mainOnMainThread: no eventfd for the main thread's executor (errno \(errno)); LambdaRuntime.main needs none")
        }
        return MainThreadWake(eventFD: made, mainQueueFD: _dispatch_get_main_queue_handle_4CF())
    }

    /// Wakes the thread sleeping in ``waitThenRunMainQueue(beforeRunning:)``.
    func signal() {
        var one: UInt64 = 1
        _ = write(eventFD, &one, MemoryLayout<UInt64>.size)
    }

    /// Sleeps until ``signal()`` or the main queue has work; runs the main queue's work (after
    /// `beforeRunning`) when it has.
    func waitThenRunMainQueue(beforeRunning: () -> Void) {
        var watched = (
            pollfd(fd: eventFD, events: Int16(POLLIN), revents: 0),
            pollfd(fd: mainQueueFD, events: Int16(POLLIN), revents: 0))
        let ready = withUnsafeMutableBytes(of: &watched) { bytes in
            poll(bytes.baseAddress!.assumingMemoryBound(to: pollfd.self), 2, -1)
        }
        guard ready > 0 else { return }  // EINTR: the caller looks at its jobs and comes back
        var count: UInt64 = 0
        if watched.0.revents != 0 { _ = read(eventFD, &count, MemoryLayout<UInt64>.size) }
        if watched.1.revents != 0 {
            // Cleared before draining: work queued while the queue drains pokes it again.
            _ = read(mainQueueFD, &count, MemoryLayout<UInt64>.size)
            beforeRunning()
            _dispatch_main_queue_callback_4CF(nil)
        }
    }
}
