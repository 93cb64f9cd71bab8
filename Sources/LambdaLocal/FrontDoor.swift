import Foundation
import NIOCore
import NIOHTTP1

/// The caller-facing port: the Invoke API (RIE-compatible), `/_local/stats`, and an API Gateway
/// HTTP API front door for every other request.
public final class LocalServer: @unchecked Sendable {
    /// The service behind the port.
    public let lambda: LocalLambda
    private let cloudWatch: CloudWatchAPI
    private var channel: Channel?

    /// Creates the server for `lambda`; call ``start(port:)`` to listen.
    public init(lambda: LocalLambda) {
        self.lambda = lambda
        self.cloudWatch = CloudWatchAPI(
            metrics: lambda.metrics, region: lambda.configuration.region, accountID: lambda.configuration.accountID)
    }

    /// The port it listens on, once started.
    public var port: Int? { channel?.localAddress?.port }

    /// Listens on 127.0.0.1:`port` (0: any free port).
    public func start(port: Int) async throws {
        let lambda = self.lambda, cloudWatch = self.cloudWatch
        // Bodies a little over the limit are read so the 413 can say how large they were.
        channel = try await startHTTPServer(on: lambda.loop, port: port, bodyLimit: lambda.configuration.maxPayload) { request, responder in
            FrontDoorRouter(lambda: lambda, cloudWatch: cloudWatch).route(request, responder)
        }.get()
    }

    /// Stops listening and kills the children.
    public func stop() async {
        try? await channel?.close()
        try? await lambda.shutdown().get()
    }
}

/// Routes one request on the caller-facing port: Lambda's API (Invoke and the control plane),
/// CloudWatch, `/_local/stats`, and the API Gateway front door for everything else. Runs on the
/// service's event loop.
struct FrontDoorRouter {
    let lambda: LocalLambda
    let cloudWatch: CloudWatchAPI

    var configuration: LocalConfiguration { lambda.configuration }

    func route(_ request: LocalHTTPRequest, _ responder: HTTPResponder) {
        let path = request.path
        if path.hasPrefix("/2021-11-15/functions/") {
            let parts = path.split(separator: "/")
            if parts.count == 4, parts[3].utf8.elementsEqual("response-streaming-invocations".utf8) {
                invokeWithResponseStream(request, responder)
            } else {
                LambdaAPIError.unsupported("\(request.method) \(path)").send(to: responder)
            }
        } else if path.hasPrefix("/2015-03-31/functions/") {
            let parts = path.split(separator: "/").map(String.init)
            if parts.count == 4, parts[3] == "invocations" {
                invokeAPI(request, responder)
            } else {
                let name = parts.count > 2 ? parts[2].removingPercentEncoding ?? parts[2] : ""
                LambdaControlPlane(lambda: lambda).handle(
                    request, functionName: Self.functionName(name), rest: Array(parts.dropFirst(3)), responder: responder)
            }
        } else if let operation = CloudWatchAPI.jsonOperation(request) {
            cloudWatch.handleJSON(operation: operation, request, responder: responder)
        } else if let service = request.signedService {
            switch service {
            case "lambda":
                LambdaControlPlane.unsupported(request, responder: responder)
            case "monitoring":
                cloudWatch.handleQuery(request, responder: responder)
            default:
                responder.sendError(
                    status: .badRequest, type: "UnrecognizedClientException",
                    message: "lambda-local serves only Lambda and CloudWatch, not \(service); use moto or ministack for it")
            }
        } else if path == "/_local/stats" {
            lambda.stats().whenSuccess { stats in
                responder.send(status: .ok, body: JSONText.bytes(stats))
            }
        } else {
            apiGateway(request, responder)
        }
    }

    // MARK: Invoke API

    private func invokeAPI(_ request: LocalHTTPRequest, _ responder: HTTPResponder) {
        let parts = request.path.split(separator: "/")
        guard parts.count == 4, parts[3] == "invocations" else {
            responder.sendError(status: .notFound, type: "ResourceNotFoundException", message: "unknown path \(request.path)")
            return
        }
        guard request.method == .POST else {
            responder.sendError(status: .methodNotAllowed, type: "MethodNotAllowed", message: "use POST to invoke")
            return
        }
        let target: InvokeTarget
        do {
            target = try invokeTarget(request)
        } catch {
            responder.sendError(status: HTTPResponseStatus(statusCode: error.status), type: error.code, message: error.message)
            return
        }
        guard !request.bodyTooLarge else {
            responder.sendError(
                status: .payloadTooLarge, type: "RequestEntityTooLargeException",
                message: "Request must be smaller than \(configuration.maxPayload) bytes for the InvokeFunction operation")
            return
        }
        let invocationType = request.headers.first(name: "X-Amz-Invocation-Type") ?? "RequestResponse"
        if invocationType == "DryRun" {
            responder.send(status: .noContent)
            return
        }
        let future = lambda.invoke(payload: request.body, qualifier: target.qualifier, options: target.options)
        if invocationType == "Event" {
            responder.send(status: .accepted)
            return
        }
        future.whenComplete { result in
            switch result {
            case .success(let outcome):
                var headers = HTTPHeaders()
                headers.add(name: "X-Amz-Executed-Version", value: outcome.executedVersion)
                headers.add(name: "X-Amzn-RequestId", value: outcome.requestID)
                headers.add(name: "Content-Type", value: "application/json")
                if outcome.isError {
                    headers.add(name: "X-Amz-Function-Error", value: "Unhandled")
                }
                if let tail = outcome.logTail {
                    headers.add(name: "X-Amz-Log-Result", value: Data(tail).base64EncodedString())
                }
                responder.send(status: .ok, headers: headers, body: outcome.payload)
            case .failure(let error as LocalInvokeError):
                switch error {
                case .unknownQualifier:
                    responder.sendError(status: .notFound, type: "ResourceNotFoundException", message: error.description)
                case .shuttingDown:
                    responder.sendError(status: .serviceUnavailable, type: "ServiceException", message: error.description)
                }
            case .failure(let error):
                responder.sendError(status: .internalServerError, type: "ServiceException", message: "\(error)")
            }
        }
    }

    /// What an Invoke request (either API) names: the qualifier, and what the caller sent besides the
    /// payload; Lambda's 404 when it names another function.
    func invokeTarget(_ request: LocalHTTPRequest) throws(LambdaAPIError) -> InvokeTarget {
        let parts = request.path.split(separator: "/")
        var name = String(parts[2]).removingPercentEncoding ?? String(parts[2])
        var qualifier = Self.queryValue("Qualifier", in: request.rawQuery)
        if name.hasPrefix("arn:") {
            let fields = name.split(separator: ":", omittingEmptySubsequences: false)
            if fields.count >= 7 {
                name = String(fields[6])
                if fields.count >= 8 { qualifier = String(fields[7]) }
            }
        } else if let colon = name.firstIndex(of: ":") {
            qualifier = String(name[name.index(after: colon)...])
            name = String(name[..<colon])
        }
        guard name.utf8.elementsEqual(configuration.functionName.utf8) || name.utf8.elementsEqual("function".utf8) else {
            throw LambdaAPIError(
                status: 404, code: "ResourceNotFoundException",
                message: "Function not found: \(configuration.functionARN(qualifier: nil).replacingOccurrences(of: configuration.functionName, with: name))")
        }
        let clientContext = request.headers.first(name: "X-Amz-Client-Context").flatMap { encoded in
            Data(base64Encoded: encoded).map { String(decoding: $0, as: UTF8.self) }
        }
        let logTail: Bool
        switch request.headers.first(name: "X-Amz-Log-Type") {
        case nil, "None"?: logTail = false
        case "Tail"?: logTail = true
        case let other?:
            throw LambdaAPIError(
                status: 400, code: "ValidationException",
                message: "1 validation error detected: Value '\(other)' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [Tail, None]")
        }
        return InvokeTarget(qualifier: qualifier, options: InvokeOptions(
            traceID: request.headers.first(name: "X-Amzn-Trace-Id"), clientContext: clientContext,
            tenantID: request.headers.first(name: InvokeAPIHeader.tenantID), logTail: logTail))
    }

    /// The bare name of a function named by name, ARN or partial ARN.
    private static func functionName(_ name: String) -> String {
        let fields = name.split(separator: ":", omittingEmptySubsequences: false)
        if name.hasPrefix("arn:"), fields.count >= 7 { return String(fields[6]) }
        if fields.count >= 3, fields[1] == "function" { return String(fields[2]) }
        return name
    }

    private static func queryValue(_ name: String, in query: String) -> String? {
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0].utf8.elementsEqual(name.utf8) { return String(parts[1]).removingPercentEncoding }
        }
        return nil
    }

    // MARK: API Gateway front door

    private func apiGateway(_ request: LocalHTTPRequest, _ responder: HTTPResponder) {
        guard !request.bodyTooLarge else {
            responder.send(status: .payloadTooLarge, body: Array(#"{"message":"Request Entity Too Large"}"#.utf8))
            return
        }
        let requestID = Self.apiRequestID()
        let event = APIGatewayHTTPEvent.event(for: request, requestID: requestID)
        let stream = HTTPIntegrationStream(responder: responder, apiRequestID: requestID)
        let options = InvokeOptions(traceID: request.headers.first(name: "X-Amzn-Trace-Id"))
        lambda.invoke(payload: JSONText.encode(event), options: options, observer: stream)
            .whenComplete { result in
                if stream.completed(result) { return }
                var response = APIGatewayHTTPEvent.internalServerError()
                var version: String?
                if case .success(let outcome) = result {
                    version = outcome.executedVersion
                    if !outcome.isError {
                        response = APIGatewayHTTPEvent.response(from: outcome.payload)
                    }
                }
                response.headers.add(name: "Apigw-Requestid", value: requestID)
                if let version { response.headers.add(name: "X-Amz-Executed-Version", value: version) }
                responder.send(status: response.status, headers: response.headers, body: response.body)
            }
    }

    /// An id in the shape API Gateway HTTP APIs use (`Abc1DefGhIjKl=`).
    private static func apiRequestID() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<15).map { _ in alphabet[Int.random(in: alphabet.indices)] }) + "="
    }
}

/// What an Invoke request names besides the payload.
struct InvokeTarget {
    /// The version or alias asked for, if any.
    var qualifier: String?
    /// Trace, client context and tenant.
    var options: InvokeOptions
}
