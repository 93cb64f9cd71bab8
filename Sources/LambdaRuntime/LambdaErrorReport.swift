import LeanJSON

/// The error shape Lambda expects on `/error` and `/init/error`:
/// `{"errorMessage":…,"errorType":…,"stackTrace":[]}`.
public struct LambdaErrorReport: Sendable, Equatable, Error {
    /// The error's type, sent as `errorType` and as the `Lambda-Runtime-Function-Error-Type` header.
    public var errorType: String
    /// The error's message, sent as `errorMessage`: what happened, for whoever called the function.
    public var errorMessage: String
    /// Stack frames, if known; Swift errors carry none.
    public var stackTrace: [String]

    /// Creates a report with the given type and message, as it will be sent.
    public init(errorType: String, errorMessage: String, stackTrace: [String] = []) {
        self.errorType = errorType
        self.errorMessage = errorMessage
        self.stackTrace = stackTrace
    }

    /// Describes any thrown error: its own type and message when it is a `LambdaFunctionError`,
    /// otherwise its Swift type name and description.
    public init(_ error: any Error) {
        switch error {
        case let report as LambdaErrorReport:
            self = report
        case let chosen as any LambdaFunctionError:
            self.init(errorType: chosen.errorType, errorMessage: chosen.errorMessage)
        default:
            self.init(errorType: String(describing: type(of: error)), errorMessage: String(describing: error))
        }
    }

    /// The JSON body for the Runtime API, `{"errorMessage":…,"errorType":…,"stackTrace":[…]}`, which
    /// Lambda hands to the caller as it is.
    public var json: [UInt8] {
        var text = #"{"errorMessage":"#
        JSON.writeString(errorMessage, to: &text)
        text += #","errorType":"#
        JSON.writeString(errorType, to: &text)
        text += #","stackTrace":["#
        for (index, frame) in stackTrace.enumerated() {
            if index > 0 { text += "," }
            JSON.writeString(frame, to: &text)
        }
        text += "]}"
        return Array(text.utf8)
    }

    /// The error type as a header value: printable ASCII only, so it can never break the request.
    var headerValue: String {
        let cleaned = errorType.unicodeScalars.map { $0.isASCII && ASCII.isPrintable(UInt8($0.value)) ? Character($0) : "_" }
        return cleaned.isEmpty ? "Unhandled" : String(cleaned)
    }
}
