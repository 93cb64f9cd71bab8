#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import Synchronization

/// A child process started with `posix_spawn` and reaped by a thread of its own with a blocking
/// `waitpid`, so its exit is always seen (Foundation's `Process` can miss exits when several
/// children end at once).
final class ChildProcess: Sendable {
    /// How the child ended.
    enum Exit: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)

        var description: String {
            switch self {
            case .exited(let status): "exit status \(status)"
            case .signaled(SIGKILL): "signal: killed"
            case .signaled(SIGSEGV): "signal: segmentation fault"
            case .signaled(SIGABRT): "signal: aborted"
            case .signaled(SIGILL): "signal: illegal instruction"
            case .signaled(SIGTERM): "signal: terminated"
            case .signaled(SIGTRAP): "signal: trace/breakpoint trap"
            case .signaled(let signal): "signal: \(signal)"
            }
        }
    }

    /// The process id.
    let pid: pid_t
    private let running = Atomic<Bool>(true)
    /// The reader of the child's output pipe, when there is one.
    private let output: OutputReader?

    private init(pid: pid_t, output: OutputReader?) {
        self.pid = pid
        self.output = output
    }

    /// Whether every byte the child has written to its output so far has been handed to `onOutputLine`
    /// (nothing waits in the pipe, and the reader is not between a read and its lines). `true` without
    /// an output pipe. A caller that saw a result the child sent after writing a line can wait for this
    /// to see that line.
    var outputDelivered: Bool { output?.delivered ?? true }

    /// Whether the child has not been reaped yet.
    var isRunning: Bool { running.load(ordering: .acquiring) }

    /// Sends `signal` while the child runs.
    func send(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Starts `path` with exactly `environment`, in `directory`; `onExit` runs once, on another thread.
    ///
    /// With `onOutputLine`, the child's standard output is a pipe read by a thread of its own, and every
    /// line (without its newline; at most 256 KB, longer lines are cut) goes to `onOutputLine`: that is
    /// how CloudWatch Logs sees a function's output. With `standardErrorToo`, standard error goes to the same
    /// pipe (a compiler's diagnostics). `onOutputEnd` runs once the pipe has been read to its end.
    static func spawn(
        path: String, arguments: [String] = [], environment: [String: String], directory: String,
        onOutputLine: (@Sendable ([UInt8]) -> Void)? = nil, standardErrorToo: Bool = false,
        onOutputEnd: (@Sendable () -> Void)? = nil,
        onExit: @escaping @Sendable (Exit) -> Void
    ) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Signals lambda-local ignores (SIGINT while it waits for Ctrl-C) must not stay ignored in the child.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))

        var outputPipe: [Int32] = [-1, -1]
        if onOutputLine != nil {
            guard pipe(&outputPipe) == 0 else {
                throw ChildProcessError(path: path, message: "pipe: \(String(cString: strerror(errno)))")
            }
            // Other children must not inherit this pipe (dup2 onto 1 clears the flag for this one).
            _ = fcntl(outputPipe[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(outputPipe[1], F_SETFD, FD_CLOEXEC)
            posix_spawn_file_actions_adddup2(&actions, outputPipe[1], 1)
            if standardErrorToo { posix_spawn_file_actions_adddup2(&actions, outputPipe[1], 2) }
        }
        // Only stdin, stdout and stderr reach the child: lambda-local's sockets must not stay open in it.
        if let closeFrom = SpawnExtensions.addCloseFrom {
            _ = closeFrom(&actions, 3)
        }
        if let changeDirectory = SpawnExtensions.addChangeDirectory {
            _ = changeDirectory(&actions, directory)
        }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid = pid_t()
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        if outputPipe[1] >= 0 { close(outputPipe[1]) }
        guard result == 0 else {
            if outputPipe[0] >= 0 { close(outputPipe[0]) }
            throw ChildProcessError(path: path, message: String(cString: strerror(result)))
        }
        var output: OutputReader?
        if let onOutputLine, outputPipe[0] >= 0 {
            let reader = OutputReader(fd: outputPipe[0])
            output = reader
            let thread = Thread {
                reader.readLines(onLine: onOutputLine)
                onOutputEnd?()
            }
            thread.name = "lambda-local.stdout.\(pid)"
            thread.start()
        }
        let child = ChildProcess(pid: pid, output: output)
        let spawned = pid
        let waiter = Thread {
            let pid = spawned
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 {
                guard errno == EINTR else {
                    child.running.store(false, ordering: .releasing)
                    onExit(.exited(-1))
                    return
                }
            }
            child.running.store(false, ordering: .releasing)
            let signal = status & 0x7F
            onExit(signal == 0 ? .exited((status >> 8) & 0xFF) : .signaled(signal))
        }
        waiter.name = "lambda-local.wait.\(pid)"
        waiter.start()
        return child
    }
}

extension ChildProcess {
    /// Reads `fd` to its end, handing out each line, then closes it.
}

/// Reads a child's output pipe line by line on a thread of its own, and tells whether all that was
/// written has been handed on.
private final class OutputReader: Sendable {
    /// The pipe's read end while it is open; closed (nil) by the reader at its end, under this lock, so
    /// that `delivered` never asks a descriptor number that was closed and reused.
    private let readEnd: Mutex<Int32?>
    /// Between a read that returned bytes and the handing on of their lines.
    private let handingOn = Atomic<Bool>(false)

    init(fd: Int32) {
        readEnd = Mutex(fd)
    }

    /// Nothing waits in the pipe and no line read is still being handed on. The order matters: a byte
    /// gone from the pipe was read after `handingOn` was set, so it is either handed on or still seen.
    var delivered: Bool {
        let pending = readEnd.withLock { fd -> Int32 in
            guard let fd else { return 0 }
            var count: Int32 = 0
            return ioctl(fd, UInt(FIONREAD), &count) == 0 ? count : 0
        }
        return pending == 0 && !handingOn.load(ordering: .sequentiallyConsistent)
    }

    /// Reads to the end of the pipe: every line without its newline to `onLine` (at most 256 KB; longer
    /// lines are cut), then a last unterminated line, then closes the pipe.
    func readLines(onLine: @Sendable ([UInt8]) -> Void) {
        guard let fd = readEnd.withLock({ $0 }) else { return }
        let limit = 256 * 1024
        var line: [UInt8] = []
        var overflow = false
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&ready, 1, -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            handingOn.store(true, ordering: .sequentiallyConsistent)
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR {
                handingOn.store(false, ordering: .sequentiallyConsistent)
                continue
            }
            guard count > 0 else { break }
            for byte in buffer[0..<count] {
                if byte == UInt8(ascii: "\n") {
                    onLine(line)
                    line.removeAll(keepingCapacity: true)
                    overflow = false
                } else if line.count < limit {
                    line.append(byte)
                } else if !overflow {
                    overflow = true
                }
            }
            handingOn.store(false, ordering: .sequentiallyConsistent)
        }
        if !line.isEmpty { onLine(line) }
        readEnd.withLock { fd in
            if let open = fd { close(open) }
            fd = nil
        }
        handingOn.store(false, ordering: .sequentiallyConsistent)
    }
}

/// glibc's posix_spawn extensions (2.29 and 2.34), which the Glibc module does not export to Swift.
private enum SpawnExtensions {
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    typealias AddChangeDirectory = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    static let addCloseFrom: AddCloseFrom? = symbol("posix_spawn_file_actions_addclosefrom_np")
    static let addChangeDirectory: AddChangeDirectory? = symbol("posix_spawn_file_actions_addchdir_np")

    private static func symbol<T>(_ name: String) -> T? {
        guard let address = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(address, to: T.self)
    }
}

/// A child could not be started.
struct ChildProcessError: Error, CustomStringConvertible {
    let path: String
    let message: String

    var description: String { "could not start \(path): \(message)" }
}
