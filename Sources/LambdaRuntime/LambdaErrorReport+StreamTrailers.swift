// What a streamed response that failed sends in its trailers: the error type and body, cut to what
// libcurl's trailer buffer holds.
extension LambdaErrorReport {
    /// The JSON for the `Lambda-Runtime-Function-Error-Body` trailer of a stream that failed: ``json``,
    /// with the message shortened (and the stack dropped) past 40 KiB. libcurl 7.88 compiles all
    /// trailers into one buffer of at most 64 KiB (`DYN_TRAILERS`) and fails the transfer past it;
    /// 40 KiB of JSON is 54.6 KiB of base64, which leaves room for the error type (at most
    /// ``maxTrailerErrorTypeBytes``) and the field names.
    var streamTrailerJSON: [UInt8] {
        let full = json
        guard full.count > Self.maxStreamTrailerJSONBytes else { return full }
        var shortened = self
        let excess = full.count - Self.maxStreamTrailerJSONBytes + 64
        let keep = max(0, errorMessage.utf8.count - excess)
        shortened.errorMessage = String(decoding: errorMessage.utf8.prefix(keep), as: UTF8.self) + "… (truncated)"
        shortened.stackTrace = []
        let bytes = shortened.json
        return bytes.count <= Self.maxStreamTrailerJSONBytes ? bytes
            : LambdaErrorReport(errorType: String(headerValue.prefix(256)), errorMessage: "(message too long for a trailer)").json
    }

    /// 40 KiB of JSON: 54.6 KiB once in base64.
    static let maxStreamTrailerJSONBytes = 40 * 1024

    /// The longest error type sent in the `Lambda-Runtime-Function-Error-Type` trailer.
    static let maxTrailerErrorTypeBytes = 1024

    /// ``headerValue`` cut to ``maxTrailerErrorTypeBytes`` (it is ASCII, so any cut is valid).
    var trailerErrorType: String {
        let value = headerValue
        return value.utf8.count <= Self.maxTrailerErrorTypeBytes ? value : String(value.prefix(Self.maxTrailerErrorTypeBytes))
    }
}
