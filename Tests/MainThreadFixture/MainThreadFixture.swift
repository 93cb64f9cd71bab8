#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import LambdaRuntime

/// A function served by ``LambdaRuntime/mainOnCurrentThread(label:makeHandler:)`` whose handler
/// leaves the runtime's thread and comes back, for `MainThreadRuntimeTests`. `_HANDLER` picks what
/// each invocation awaits before it answers `"<what>:<main thread or not>:<event>"`:
///
/// - `main-actor`: a hop to the main actor (the runtime's thread must drain the main queue);
/// - `sleep`: `Task.sleep` (a timer on the global executor wakes the runtime's thread);
/// - `detached`: a detached task's value (a job on the global executor).
@main
enum MainThreadFixture {
    static func main() {
        mainThread = pthread_self()
        LambdaRuntime.mainOnCurrentThread(label: "main-thread-fixture") { context in
            AwaitingHandler(what: context.environment["_HANDLER"] ?? "")
        }
    }
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
