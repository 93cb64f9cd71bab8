#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One thread of its own for one concurrent loop, which is also the executor that loop's task runs
/// on (`Task(executorPreference:)`).
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
final class LoopThread: TaskExecutor, @unchecked Sendable {
    // `jobs` and `stopping` are guarded by `mutex`.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var jobs: [UnownedJob] = []
    private var stopping = false

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
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    private func runJobs() {
        let executor = asUnownedTaskExecutor()
        var batch: [UnownedJob] = []
        while true {
            pthread_mutex_lock(mutex)
            while jobs.isEmpty, !stopping {
                pthread_cond_wait(condition, mutex)
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
