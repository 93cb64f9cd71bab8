import LeanJSON

extension LambdaErrorReport {
    /// The X-Ray error cause for this error (`{"working_directory","exceptions","paths"}`, the shape
    /// AWS's runtime clients send), or `nil` when it would exceed the 64 KiB the Runtime API keeps.
    ///
    /// It names the error's type only: messages of handler errors can quote a request's data, which
    /// must not leave the function in a trace. Text is JSON-escaped; a header value cannot hold CR/LF.
    func xrayErrorCause(workingDirectory: String) -> String? {
        var text = #"{"working_directory":"#
        JSON.writeString(workingDirectory, to: &text)
        text += #","exceptions":[{"type":"#
        JSON.writeString(headerValue, to: &text)
        text += #","stack":[]}],"paths":[]}"#
        return text.utf8.count < Self.maxXRayErrorCauseBytes ? text : nil
    }

    /// The Runtime API's limit for an X-Ray error cause (RIE `MaxErrorCauseSizeBytes`).
    static let maxXRayErrorCauseBytes = 64 * 1024
}
