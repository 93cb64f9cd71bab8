#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import LambdaRuntime

/// A function served by ``LambdaRuntime/mainOnMainThread(label:makeHandler:)`` whose handler
/// leaves the runtime's thread and comes back, for `MainThreadRuntimeTests`. `_HANDLER` picks what
/// each invocation awaits before it answers `"<what>:<main thread or not>:<event>"`:
///
/// - `main-actor`: a hop to the main actor (the runtime's thread must drain the main queue);
/// - `sleep`: `Task.sleep` (a timer on the global executor wakes the runtime's thread);
/// - `detached`: a detached task's value (a job on the global executor);
/// - `main-actor-task`: main-actor work that starts a main-actor task, whose value it then awaits.
///
/// With `FIXTURE_FROM_ANOTHER_THREAD` set it calls the runtime from a thread of its own instead.
@main
enum MainThreadFixture {
    static func main() {
        mainThread = pthread_self()
        if getenv("FIXTURE_FROM_ANOTHER_THREAD") != nil { serveFromAnotherThread() }
        serve()
    }

    static func serve() -> Never {
        LambdaRuntime.mainOnMainThread(label: "main-thread-fixture") { context in
            AwaitingHandler(what: context.environment["_HANDLER"] ?? "")
        }
    }
}

/// Calls the runtime from a thread of its own: a misuse the runtime must refuse with a message.
func serveFromAnotherThread() -> Never {
    var other = pthread_t()
    pthread_create(&other, nil, startServing, nil)
    pthread_join(other, nil)
    exit(0)
}

func startServing(_: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    MainThreadFixture.serve()
}

struct AwaitingHandler: ConcurrentLambdaHandler {
    let what: String

    func handle(_ event: [UInt8], context: LambdaContext) async throws -> [UInt8] {
        let onMainThread: Bool
        switch what {
        case "main-actor":
            onMainThread = await MainActor.run { isMainThread() }
        case "sleep":
            try await Task.sleep(for: .milliseconds(20))
            onMainThread = isMainThread()
        case "detached":
            onMainThread = await Task.detached { isMainThread() }.value
        case "main-actor-task":
            // Main-actor work that queues more main-actor work and waits for it.
            onMainThread = await MainActor.run {
                Task { @MainActor in isMainThread() }
            }.value
        default:
            throw UnknownFixture(name: what)
        }
        return Array("\(what):\(onMainThread ? "main" : "other"):".utf8) + event
    }
}

struct UnknownFixture: Error {
    let name: String
}

/// The thread `main` runs on; set before anything else runs.
nonisolated(unsafe) var mainThread = pthread_t()

/// Whether the calling thread is the one `main` runs on.
func isMainThread() -> Bool {
    pthread_equal(pthread_self(), mainThread) != 0
}
