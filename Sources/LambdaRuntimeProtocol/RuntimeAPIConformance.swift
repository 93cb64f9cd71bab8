/// Request → expected answer, for any Runtime API server (the test server, the local mock): one
/// table both are run against, so that they cannot drift from each other or from the RIE's rules.
///
/// Each case starts from a server with one event queued (its request id stands for `{id}` in paths)
/// and runs its steps in order on one connection. Where a server answers otherwise on purpose, the step
/// says so with a ``Difference`` naming that server and why; nothing differs silently.
public enum RuntimeAPIConformance {
    /// The Runtime API servers the table is run against.
    public enum Server: String, Sendable, CaseIterable {
        /// `FakeRuntimeAPI`: the runtime's test server.
        case fakeRuntimeAPI
        /// `lambda-local`: the local mock a child `bootstrap` talks to.
        case lambdaLocal
    }

    /// What one server answers instead of the step's expectation, and why that is right for it.
    public struct Difference: Sendable {
        /// The server that answers otherwise.
        public var server: Server
        /// Its status.
        public var status: Int
        /// Its `errorType`, if its body must name one.
        public var errorType: String?
        /// Why it differs.
        public var reason: String

        /// Creates a difference.
        public init(_ server: Server, status: Int, errorType: String? = nil, reason: String) {
            self.server = server
            self.status = status
            self.errorType = errorType
            self.reason = reason
        }
    }

    /// One request and what must come back.
    public struct Step: Sendable {
        /// `GET` or `POST`.
        public var method: String
        /// The path below the server's prefix; `{id}` is the queued event's request id.
        public var path: String
        /// Request headers.
        public var headers: [(String, String)]
        /// The body: sent with a `Content-Length`, or as chunks when ``chunks`` is set.
        public var body: [UInt8]
        /// Send the body as these chunks (`Transfer-Encoding: chunked`) followed by ``trailers``.
        public var chunks: [[UInt8]]?
        /// Trailers after the last chunk.
        public var trailers: [(String, String)]
        /// The status that must come back.
        public var status: Int
        /// Response headers that must be there; `{id}` as in ``path``.
        public var responseHeaders: [(String, String)]
        /// The `errorType` the JSON body must name, if any.
        public var errorType: String?
        /// Servers that answer otherwise, on purpose.
        public var differences: [Difference]

        /// Creates a step.
        public init(
            _ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = [],
            chunks: [[UInt8]]? = nil, trailers: [(String, String)] = [], status: Int,
            responseHeaders: [(String, String)] = [], errorType: String? = nil, differences: [Difference] = []
        ) {
            self.method = method
            self.path = path
            self.headers = headers
            self.body = body
            self.chunks = chunks
            self.trailers = trailers
            self.status = status
            self.responseHeaders = responseHeaders
            self.errorType = errorType
            self.differences = differences
        }

        /// The status and `errorType` `server` must answer: the step's, unless a ``Difference`` names it.
        public func expectation(for server: Server) -> (status: Int, errorType: String?) {
            if let difference = differences.first(where: { $0.server == server }) {
                return (difference.status, difference.errorType)
            }
            return (status, errorType)
        }
    }

    /// A named sequence of steps.
    public struct Case: Sendable {
        /// What the case shows.
        public var name: String
        /// The requests, in order.
        public var steps: [Step]

        /// Creates a case.
        public init(name: String, steps: [Step]) {
            self.name = name
            self.steps = steps
        }
    }

    private static let next = Step(
        "GET", RuntimeAPIRoute.next.path, status: RuntimeAPIStatus.event, responseHeaders: [(RuntimeHeader.requestID, "{id}")])
    private static let response = RuntimeAPIRoute.response(requestID: "{id}").path
    private static let error = RuntimeAPIRoute.error(requestID: "{id}").path
    private static let ok = Array("ok".utf8)
    private static let initErrorHeaders = [(RuntimeHeader.functionErrorType, "Runtime.ConfigInvalid")]
    private static let initErrorBody = Array(#"{"errorMessage":"m","errorType":"Runtime.ConfigInvalid","stackTrace":[]}"#.utf8)

    /// The cases (statuses and error types as the RIE's `rapi` answers them; the 410 for another attempt's
    /// invocation id, which the RIE predates, as lambda-local answers it).
    public static let cases: [Case] = [
        Case(name: "/next hands out the event with its request id", steps: [next]),
        Case(name: "a response is accepted", steps: [
            next, Step("POST", response, body: ok, status: RuntimeAPIStatus.accepted)]),
        Case(name: "an error is accepted", steps: [
            next,
            Step("POST", error, headers: [(RuntimeHeader.functionErrorType, "Function.Failed")],
                 body: Array(#"{"errorMessage":"m","errorType":"Function.Failed","stackTrace":[]}"#.utf8),
                 status: RuntimeAPIStatus.accepted)]),
        Case(name: "a second result for one request is refused", steps: [
            next, Step("POST", response, body: ok, status: RuntimeAPIStatus.accepted),
            Step("POST", response, body: ok, status: RuntimeAPIStatus.forbidden,
                 errorType: RuntimeAPIErrorType.invalidStateTransition)]),
        Case(name: "a result for an unknown request id is refused", steps: [
            Step("POST", RuntimeAPIRoute.response(requestID: "no-such-id").path, body: ok,
                 status: RuntimeAPIStatus.badRequest, errorType: RuntimeAPIErrorType.invalidRequestID)]),
        Case(name: "a buffered response over 6 MB is refused", steps: [
            next, Step("POST", response, body: [UInt8](repeating: 0x61, count: RuntimeAPIStatus.maxBufferedResponseBytes + 1),
                       status: RuntimeAPIStatus.payloadTooLarge, errorType: RuntimeAPIErrorType.requestEntityTooLarge)]),
        Case(name: "an unknown response mode is refused", steps: [
            next, Step("POST", response, headers: [(RuntimeHeader.responseMode, "buffered-ish")], body: ok,
                       status: RuntimeAPIStatus.badRequest, errorType: RuntimeAPIErrorType.invalidFunctionResponseMode)]),
        Case(name: "a streamed response with chunks is accepted", steps: [
            next, Step("POST", response, headers: [(RuntimeHeader.responseMode, RuntimeHeader.streamingResponseMode),
                                                   ("Trailer", RuntimeHeader.streamingTrailerDeclaration)],
                       chunks: [Array("one,".utf8), Array("two".utf8)], status: RuntimeAPIStatus.accepted)]),
        Case(name: "a streamed response that failed mid-way is accepted with its trailers", steps: [
            next, Step("POST", response, headers: [(RuntimeHeader.responseMode, RuntimeHeader.streamingResponseMode),
                                                   ("Trailer", RuntimeHeader.streamingTrailerDeclaration)],
                       chunks: [Array("partial".utf8)],
                       trailers: [(RuntimeHeader.functionErrorType, "Function.Failed"),
                                  (RuntimeHeader.functionErrorBody, "eyJlcnJvclR5cGUiOiJGdW5jdGlvbi5GYWlsZWQifQ==")],
                       status: RuntimeAPIStatus.accepted)]),
        Case(name: "an init error is accepted", steps: [
            Step("POST", RuntimeAPIRoute.initError.path, headers: initErrorHeaders, body: initErrorBody,
                 status: RuntimeAPIStatus.accepted)]),
        Case(name: "an unknown path is not found", steps: [
            next, Step("GET", response, status: RuntimeAPIStatus.notFound, errorType: RuntimeAPIErrorType.notFound)]),
        Case(name: "an init error after init is refused", steps: [
            next,
            Step("POST", RuntimeAPIRoute.initError.path, headers: initErrorHeaders, body: initErrorBody,
                 status: RuntimeAPIStatus.forbidden, errorType: RuntimeAPIErrorType.invalidStateTransition,
                 differences: [Difference(.fakeRuntimeAPI, status: RuntimeAPIStatus.accepted, reason:
                    "it has no init phase: it records an init error whenever one comes, so that tests can read it")])]),
        Case(name: "a result for another attempt of the request is gone", steps: [
            next,
            Step("POST", response, headers: [(RuntimeHeader.invocationID, "not-the-current-attempt")], body: ok,
                 status: RuntimeAPIStatus.gone, errorType: RuntimeAPIErrorType.invocationGone,
                 differences: [Difference(.fakeRuntimeAPI, status: RuntimeAPIStatus.accepted, reason:
                    "it hands out no invocation ids unless a test queues one, so it checks none")])]),
    ]
}
