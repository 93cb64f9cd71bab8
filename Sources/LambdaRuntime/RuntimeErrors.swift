import CurlHTTP

/// The runtime's own configuration, from the environment, is unusable.
public enum RuntimeConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `AWS_LAMBDA_RUNTIME_API` is not set: the process was not started by Lambda or an emulator.
    case runtimeAPINotSet
    /// `AWS_LAMBDA_RUNTIME_API` cannot be used; `reason` says why.
    case invalidRuntimeAPI(String, reason: String)
    /// `AWS_LAMBDA_MAX_CONCURRENCY` is not a whole number from 1 to ``LambdaRuntime/maxLoops``.
    case invalidMaxConcurrency(String)

    /// What happened and what to do.
    public var description: String {
        switch self {
        case .runtimeAPINotSet:
            "AWS_LAMBDA_RUNTIME_API is not set; run the bootstrap under Lambda or a Runtime API emulator (scripts/run-local.sh)"
        case .invalidRuntimeAPI(let value, let reason):
            "AWS_LAMBDA_RUNTIME_API=\(value) is not usable: \(reason)"
        case .invalidMaxConcurrency(let value):
            "AWS_LAMBDA_MAX_CONCURRENCY=\(value) is not usable: expected a whole number from 1 to \(LambdaRuntime.maxLoops)"
        }
    }
}

/// Why the runtime loop ended. On Lambda the loop never ends by itself, so every case is a failure
/// and the process exits non-zero.
public enum RuntimeExit: Sendable, Equatable, CustomStringConvertible {
    /// Initialization failed and was reported to `/init/error` (when the Runtime API was reachable).
    case initializationFailed(errorType: String)
    /// The Runtime API answered 500: the sandbox is broken and the runtime must exit promptly.
    case sandboxFailure(String)
    /// The Runtime API could not be reached, even after retries.
    case runtimeAPIUnreachable(String)
    /// The Runtime API answered in a way the protocol does not allow, repeatedly.
    case protocolViolation(String)
    /// The runtime's own settings (`AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_MAX_CONCURRENCY`) are unusable,
    /// so no loop started and nothing could be reported to the Runtime API.
    case configurationInvalid(RuntimeConfigurationError)

    /// The process exit status for this reason; never 0, one per reason (the README lists them).
    public var exitCode: Int32 {
        switch self {
        case .initializationFailed: 1
        case .sandboxFailure: 2
        case .runtimeAPIUnreachable: 3
        case .protocolViolation: 4
        case .configurationInvalid: 5
        }
    }

    /// One line for the log.
    public var description: String {
        switch self {
        case .initializationFailed(let errorType): "initialization failed (\(errorType))"
        case .sandboxFailure(let detail): "the Runtime API reported a broken sandbox: \(detail)"
        case .runtimeAPIUnreachable(let detail): "the Runtime API is unreachable: \(detail)"
        case .protocolViolation(let detail): "the Runtime API broke the protocol: \(detail)"
        case .configurationInvalid(let error): "the runtime's configuration is unusable: \(error)"
        }
    }
}

/// A Runtime API call that did not succeed, as ``RuntimeClient`` reports it.
public enum RuntimeClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 500 from the Runtime API.
    case sandboxFailure(url: String, body: String)
    /// No HTTP answer after `attempts` tries.
    case unreachable(url: String, attempts: Int, cause: CurlError)
    /// An answer the protocol does not allow (for example `/next` without a request id).
    case protocolViolation(url: String, detail: String)

    /// What happened, with the URL involved.
    public var description: String {
        switch self {
        case .sandboxFailure(let url, let body): "500 from \(url): \(body)"
        case .unreachable(let url, let attempts, let cause): "\(url) failed \(attempts) time(s): \(cause)"
        case .protocolViolation(let url, let detail): "\(url): \(detail)"
        }
    }

    /// The matching reason for the loop to end.
    var exit: RuntimeExit {
        switch self {
        case .sandboxFailure: .sandboxFailure(description)
        case .unreachable: .runtimeAPIUnreachable(description)
        case .protocolViolation: .protocolViolation(description)
        }
    }
}
