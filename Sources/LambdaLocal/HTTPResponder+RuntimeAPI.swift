import LambdaRuntimeProtocol
import NIOHTTP1

extension HTTPResponder {
    /// Refuses a Runtime API request with one of the protocol's statuses (`RuntimeAPIStatus`) and a Lambda
    /// error body naming `type` (`RuntimeAPIErrorType` where the RIE has a name for it).
    func sendRuntimeAPIError(_ status: Int, type: String, message: String) {
        sendError(status: HTTPResponseStatus(statusCode: status), type: type, message: message)
    }

    /// Accepts a result or error post: `RuntimeAPIStatus.accepted` with the RIE's `{"status":"OK"}`.
    func acceptRuntimeAPIPost() {
        send(status: HTTPResponseStatus(statusCode: RuntimeAPIStatus.accepted), body: Array(#"{"status":"OK"}"#.utf8))
    }
}
