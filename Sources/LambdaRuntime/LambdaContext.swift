import LambdaRuntimeProtocol
import Logging
import Synchronization

/// What a function knows about itself, from the environment Lambda sets once per sandbox.
public struct FunctionMetadata: Sendable, Equatable {
    /// The fields, shared by every copy until one is changed: every invocation's context carries
    /// the function, and a copy of its six fields was ten reference counts to change.
    private var fields: CopyOnWrite<Fields>

    /// The stored fields.
    private struct Fields: Sendable, Equatable {
        var name: String
        var version: String
        var memorySizeMB: Int?
        var logGroupName: String?
        var logStreamName: String?
        var region: String?
    }

    /// `AWS_LAMBDA_FUNCTION_NAME`
    public var name: String {
        get { fields.value.name }
        set { fields.value.name = newValue }
    }
    /// `AWS_LAMBDA_FUNCTION_VERSION`, for example `$LATEST` or `7`.
    public var version: String {
        get { fields.value.version }
        set { fields.value.version = newValue }
    }
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, in MB.
    public var memorySizeMB: Int? {
        get { fields.value.memorySizeMB }
        set { fields.value.memorySizeMB = newValue }
    }
    /// `AWS_LAMBDA_LOG_GROUP_NAME`
    public var logGroupName: String? {
        get { fields.value.logGroupName }
        set { fields.value.logGroupName = newValue }
    }
    /// `AWS_LAMBDA_LOG_STREAM_NAME`
    public var logStreamName: String? {
        get { fields.value.logStreamName }
        set { fields.value.logStreamName = newValue }
    }
    /// `AWS_REGION`
    public var region: String? {
        get { fields.value.region }
        set { fields.value.region = newValue }
    }

    /// Creates function metadata.
    public init(
        name: String, version: String = "$LATEST", memorySizeMB: Int? = nil, logGroupName: String? = nil,
        logStreamName: String? = nil, region: String? = nil
    ) {
        fields = CopyOnWrite(Fields(
            name: name, version: version, memorySizeMB: memorySizeMB, logGroupName: logGroupName,
            logStreamName: logStreamName, region: region))
    }

    /// Reads the metadata from Lambda's reserved environment variables; missing values get
    /// harmless defaults, since emulators do not always set them.
    public init(environment: ProcessEnvironment) {
        self.init(
            name: environment["AWS_LAMBDA_FUNCTION_NAME"].nonEmpty ?? "unknown",
            version: environment["AWS_LAMBDA_FUNCTION_VERSION"].nonEmpty ?? "$LATEST",
            memorySizeMB: environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"].flatMap { Int($0) },
            logGroupName: environment["AWS_LAMBDA_LOG_GROUP_NAME"].nonEmpty,
            logStreamName: environment["AWS_LAMBDA_LOG_STREAM_NAME"].nonEmpty,
            region: environment["AWS_REGION"].nonEmpty ?? environment["AWS_DEFAULT_REGION"].nonEmpty
        )
    }
}

/// What a handler gets once, before the first invocation: the argument of the closure that makes
/// the handler, where it reads its settings and opens its connections.
///
/// A throw from that closure is the sandbox's init error (`POST …/init/error`); a
/// ``LambdaConfigurationError`` names the setting that is wrong.
public struct LambdaInitContext: Sendable {
    /// The function this sandbox runs.
    public let function: FunctionMetadata
    /// The runtime's logger, configured from `AWS_LAMBDA_LOG_FORMAT` and `AWS_LAMBDA_LOG_LEVEL`.
    public let logger: Logger
    /// The process environment.
    public let environment: ProcessEnvironment

    /// Creates an init context.
    public init(function: FunctionMetadata, logger: Logger, environment: ProcessEnvironment) {
        self.function = function
        self.logger = logger
        self.environment = environment
    }
}

/// Everything a handler knows about the invocation it is serving: the invocation's metadata (wrapped,
/// not copied), the function, and a logger for this invocation.
public struct LambdaContext: CarriesInvocationMetadata, Sendable {
    /// What `/next` said about this invocation.
    public let metadata: InvocationMetadata
    /// The function this sandbox runs.
    public let function: FunctionMetadata
    /// A logger whose lines carry this invocation's `requestId` (and `tenantId`, when there is one).
    ///
    /// Made at its first use and kept for the invocation: a handler that does not log does not pay
    /// for the logger's metadata.
    public var logger: Logger { invocationLogger.logger }

    private let invocationLogger: InvocationLogger

    /// Creates a context; the runtime does this for every invocation, tests may too.
    public init(invocation: Invocation, function: FunctionMetadata, logger: Logger) {
        self.metadata = invocation.metadata
        self.function = function
        self.invocationLogger = InvocationLogger(base: logger, requestID: metadata.requestID, tenantID: metadata.tenantID)
    }

    /// Time left before the deadline, or `nil` when there is no deadline.
    public var remainingTime: Duration? {
        deadline?.remainingTime()
    }
}

/// The logger of one invocation, made from the runtime's at its first use, once, whichever task asks
/// (a handler may log from child tasks): a thread that loses the race to publish its logger drops it
/// and uses the one published.
private final class InvocationLogger: Sendable {
    private let base: Logger
    private let requestID: String
    private let tenantID: String?
    /// The address of a retained `Made` once published, 0 before (an address is not `Sendable`, its
    /// bits are).
    private let made = Atomic<UInt>(0)

    private final class Made: Sendable {
        let logger: Logger
        init(_ logger: Logger) { self.logger = logger }
    }

    init(base: Logger, requestID: String, tenantID: String?) {
        self.base = base
        self.requestID = requestID
        self.tenantID = tenantID
    }

    var logger: Logger {
        if let published = Self.pointer(made.load(ordering: .acquiring)) {
            return Unmanaged<Made>.fromOpaque(published).takeUnretainedValue().logger
        }
        var logger = base
        logger[metadataKey: LambdaLogHandler.requestIDKey] = .string(requestID)
        if let tenantID {
            logger[metadataKey: LambdaLogHandler.tenantIDKey] = .string(tenantID)
        }
        let candidate = Unmanaged.passRetained(Made(logger)).toOpaque()
        let (published, winner) = made.compareExchange(
            expected: 0, desired: UInt(bitPattern: candidate), ordering: .acquiringAndReleasing)
        guard !published, let winner = Self.pointer(winner) else { return logger }
        Unmanaged<Made>.fromOpaque(candidate).release()
        return Unmanaged<Made>.fromOpaque(winner).takeUnretainedValue().logger
    }

    private static func pointer(_ bits: UInt) -> UnsafeMutableRawPointer? {
        UnsafeMutableRawPointer(bitPattern: bits)
    }

    deinit {
        if let published = Self.pointer(made.load(ordering: .acquiring)) {
            Unmanaged<Made>.fromOpaque(published).release()
        }
    }
}
