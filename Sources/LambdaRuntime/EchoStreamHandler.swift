/// The built-in `echo-stream` handler: streams the event bytes back in chunks of
/// `ECHO_STREAM_CHUNK` bytes (default 16 KiB). For conformance checks and benchmarks of response
/// streaming.
public struct EchoStreamHandler: ConcurrentStreamingLambdaHandler {
    /// The variable that sets the chunk size.
    public static let chunkSizeVariable = "ECHO_STREAM_CHUNK"
    /// The chunk size when the variable is unset or empty.
    public static let defaultChunkSize = 16 * 1024
    /// The largest chunk size accepted (a chunk larger than the event is simply the whole event).
    public static let maxChunkSize = 64 * 1024 * 1024

    /// Bytes per write.
    public let chunkSize: Int

    /// Creates the handler with a chunk size.
    public init(chunkSize: Int = EchoStreamHandler.defaultChunkSize) {
        self.chunkSize = max(1, chunkSize)
    }

    /// Reads `ECHO_STREAM_CHUNK`; anything but a whole number from 1 to 64 MiB is an init error
    /// (`Runtime.ConfigInvalid`) that names the variable and the valid range.
    public init(environment: ProcessEnvironment) throws(LambdaConfigurationError) {
        let value = environment[Self.chunkSizeVariable]
        guard let value, !value.isEmpty else {
            self.init()
            return
        }
        guard let size = Int(Substring(value).trimmingASCIIWhitespace()), size >= 1, size <= Self.maxChunkSize else {
            throw LambdaConfigurationError(
                variable: Self.chunkSizeVariable, value: value,
                expected: "a whole number of bytes from 1 to \(Self.maxChunkSize) (default \(Self.defaultChunkSize))")
        }
        self.init(chunkSize: size)
    }

    /// Writes `event` in slices of ``chunkSize`` bytes, then finishes.
    public func handle(_ event: [UInt8], responseWriter: LambdaResponseStreamWriter, context: LambdaContext) async throws {
        var start = event.startIndex
        while start < event.endIndex {
            let end = min(start + chunkSize, event.endIndex)
            try await responseWriter.write(event[start..<end])
            start = end
        }
        try await responseWriter.finish()
    }
}
