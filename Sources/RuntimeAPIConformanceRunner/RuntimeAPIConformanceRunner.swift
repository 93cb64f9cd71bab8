import CurlHTTP
import LambdaRuntimeProtocol
import LeanJSON

/// Runs ``RuntimeAPIConformance`` cases against one Runtime API server over one libcurl connection, the
/// same way for every server, and says what did not match (so each test target only starts its server).
public struct RuntimeAPIConformanceRunner {
    /// The server's expectations to check (its ``RuntimeAPIConformance/Difference``s apply).
    public let server: RuntimeAPIConformance.Server
    /// `host:port`, as in `AWS_LAMBDA_RUNTIME_API`.
    public let runtimeAPI: String

    /// What a case did.
    public struct Report: Sendable {
        /// The request id `{id}` stood for.
        public var requestID: String?
        /// One line per check that failed, naming the step; empty when the server conformed.
        public var mismatches: [String]
    }

    /// Creates a runner for `server` at `runtimeAPI`.
    public init(server: RuntimeAPIConformance.Server, runtimeAPI: String) {
        self.server = server
        self.runtimeAPI = runtimeAPI
    }

    /// Runs `conformanceCase`. `requestID` is the queued event's id when the server told it up front; when
    /// `nil`, `{id}` is the request id of the first `/next` answer (the caller checks it some other way).
    public func run(_ conformanceCase: RuntimeAPIConformance.Case, requestID: String?) throws(CurlError) -> Report {
        let session = try CurlSession()
        var report = Report(requestID: requestID, mismatches: [])
        for (index, step) in conformanceCase.steps.enumerated() {
            let label = "\(server.rawValue), \(conformanceCase.name), step \(index + 1) (\(step.method) \(step.path))"
            if report.requestID == nil, step.path.contains("{id}") {
                report.mismatches.append("\(label): no request id known for {id}")
                return report
            }
            let response = try send(step, id: report.requestID ?? "", session: session)
            if report.requestID == nil, let learned = response.headers[RuntimeHeader.requestID], !learned.isEmpty {
                report.requestID = learned
            }
            report.mismatches += check(response, against: step, id: report.requestID ?? "", label: label)
        }
        return report
    }

    private func send(_ step: RuntimeAPIConformance.Step, id: String, session: CurlSession) throws(CurlError) -> HTTPResponse {
        let request = HTTPRequest(
            method: HTTPMethod(rawValue: step.method), url: "http://\(runtimeAPI)" + Self.fill(step.path, id: id),
            headers: HTTPHeaders(step.headers.map { HTTPHeader($0.0, $0.1) }), body: step.body, timeout: .seconds(60))
        guard let chunks = step.chunks else { return try session.perform(request) }
        let upload = try session.startStreamingUpload(request)
        for chunk in chunks {
            if let early = try upload.write(chunk) { return early }
        }
        return try upload.finish(trailers: HTTPHeaders(step.trailers.map { HTTPHeader($0.0, $0.1) }))
    }

    private func check(_ response: HTTPResponse, against step: RuntimeAPIConformance.Step, id: String, label: String) -> [String] {
        var mismatches: [String] = []
        let expected = step.expectation(for: server)
        if response.status != expected.status {
            mismatches.append("\(label): status \(response.status), expected \(expected.status): \(response.bodyText.prefix(200))")
        }
        for (name, value) in step.responseHeaders {
            let want = Self.fill(value, id: id)
            let got = response.headers[name]
            if !(got?.utf8.elementsEqual(want.utf8) ?? false) {
                mismatches.append("\(label): header \(name) is \(got ?? "missing"), expected \(want)")
            }
        }
        if let errorType = expected.errorType {
            let got = (try? JSON(parsing: response.body))?["errorType"]?.stringValue
            if !(got?.utf8.elementsEqual(errorType.utf8) ?? false) {
                mismatches.append("\(label): errorType \(got ?? "missing"), expected \(errorType): \(response.bodyText.prefix(200))")
            }
        }
        return mismatches
    }

    /// `text` with every `{id}` replaced by `id`.
    static func fill(_ text: String, id: String) -> String {
        text.split(separator: "{id}", omittingEmptySubsequences: false).joined(separator: id)
    }
}
