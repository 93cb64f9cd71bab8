import Foundation
import LambdaCore
import NIOHTTP1

/// An answer of Lambda's control plane that is an error: the status, the code (`x-amzn-ErrorType`) and
/// the message, in Lambda's REST-JSON shape `{"Type":"User","Message":…}`.
public struct LambdaAPIError: Error, Equatable, CustomStringConvertible {
    /// The code and the message.
    public var description: String { "\(code): \(message)" }

    /// HTTP status.
    public var status: Int
    /// Lambda's error code, e.g. `ResourceNotFoundException`.
    public var code: String
    /// The message.
    public var message: String

    /// Creates an error.
    public init(status: Int, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// The error Lambda answers for an alias it refuses.
    init(_ error: AliasRoutingError) {
        let status = if case .notFound = error { 404 } else { 400 }
        self.init(status: status, code: error.code, message: error.message)
    }

    /// `{"Type":"User","Message":…}` with `x-amzn-ErrorType`.
    func send(to responder: HTTPResponder) {
        var headers = HTTPHeaders()
        headers.add(name: "x-amzn-ErrorType", value: code)
        headers.add(name: "Content-Type", value: "application/json")
        let body = JSONText.encode(["Type": status >= 500 ? "Service" : "User", "Message": message])
        responder.send(status: HTTPResponseStatus(statusCode: status), headers: headers, body: body)
    }

    /// The answer for an operation lambda-local does not implement: never a silent success.
    static func unsupported(_ operation: String) -> LambdaAPIError {
        LambdaAPIError(
            status: 400, code: "UnknownOperationException",
            message: "lambda-local does not implement \(operation); it serves GetAlias, UpdateAlias, CreateAlias, ListAliases, ListVersionsByFunction, GetFunction, GetFunctionConfiguration and Invoke (versions come from --function-version)")
    }
}

/// `FunctionConfiguration`, as GetFunctionConfiguration and ListVersionsByFunction return it.
struct FunctionConfigurationShape: Encodable {
    struct EnvironmentShape: Encodable { var Variables: [String: String] }
    var FunctionName: String
    var FunctionArn: String
    var Runtime: String
    var Role: String
    var Handler: String
    var CodeSize: Int
    var Description: String
    var Timeout: Int
    var MemorySize: Int
    var LastModified: String
    var Version: String
    var Environment: EnvironmentShape
    var State = "Active"
    var LastUpdateStatus = "Successful"
    var PackageType = "Zip"
    var Architectures = ["x86_64"]
    var RevisionId: String
}

/// `AliasConfiguration`, as GetAlias, CreateAlias and UpdateAlias return it.
struct AliasConfigurationShape: Encodable {
    struct Routing: Encodable { var AdditionalVersionWeights: [String: Double] }
    var AliasArn: String
    var Name: String
    var FunctionVersion: String
    var Description: String
    /// Omitted when there are no weights, as Lambda omits it.
    var RoutingConfig: Routing?
    var RevisionId: String
}

/// The body of CreateAlias and UpdateAlias.
struct AliasRequestShape: Decodable {
    struct Routing: Decodable { var AdditionalVersionWeights: [String: Double]? }
    var Name: String?
    var FunctionVersion: String?
    var Description: String?
    var RoutingConfig: Routing?
    var RevisionId: String?
}

/// The subset of Lambda's control plane (API version 2015-03-31) that the release scripts call, on the
/// same port as the Invoke API. Runs on the service's event loop.
struct LambdaControlPlane {
    let lambda: LocalLambda

    private var configuration: LocalConfiguration { lambda.configuration }

    /// The operations served.
    private enum Operation: String, Sendable {
        case getFunction = "GetFunction", getFunctionConfiguration = "GetFunctionConfiguration"
        case listVersionsByFunction = "ListVersionsByFunction", publishVersion = "PublishVersion"
        case listAliases = "ListAliases", createAlias = "CreateAlias", getAlias = "GetAlias", updateAlias = "UpdateAlias"
        case deleteAlias = "DeleteAlias"
    }

    /// The routing table: method and path after `/2015-03-31/functions/{name}` → operation.
    private static let routes: [(method: HTTPMethod, rest: [String], operation: Operation)] = [
        (.GET, [], .getFunction),
        (.GET, ["configuration"], .getFunctionConfiguration),
        (.GET, ["versions"], .listVersionsByFunction),
        (.POST, ["versions"], .publishVersion),
        (.GET, ["aliases"], .listAliases),
        (.POST, ["aliases"], .createAlias),
        (.GET, ["aliases", "{alias}"], .getAlias),
        (.PUT, ["aliases", "{alias}"], .updateAlias),
        (.DELETE, ["aliases", "{alias}"], .deleteAlias),
    ]

    private func perform(_ operation: Operation, _ request: LocalHTTPRequest, alias: String) throws(LambdaAPIError) -> (Int, [UInt8]) {
        switch operation {
        case .getFunction: try getFunction(request)
        case .getFunctionConfiguration: try getFunctionConfiguration(request)
        case .listVersionsByFunction: listVersions()
        case .listAliases: listAliases()
        case .createAlias: try createAlias(request)
        case .getAlias: try getAlias(alias)
        case .updateAlias: try updateAlias(request, name: alias)
        case .publishVersion, .deleteAlias: throw .unsupported(operation.rawValue)
        }
    }

    /// Answers a control-plane request for `/2015-03-31/functions/{name}/…` (not the invocations).
    func handle(_ request: LocalHTTPRequest, functionName: String, rest: [String], responder: HTTPResponder) {
        // Names compare as bytes: `String ==` would let a canonically equal name address this function.
        guard functionName.utf8.elementsEqual(configuration.functionName.utf8) || functionName.utf8.elementsEqual("function".utf8) else {
            LambdaAPIError(status: 404, code: "ResourceNotFoundException",
                           message: "Function not found: arn:aws:lambda:\(configuration.region):\(configuration.accountID):function:\(functionName)")
                .send(to: responder)
            return
        }
        var matchedPath = false
        for route in Self.routes where route.rest.count == rest.count {
            var parameters: [String: String] = [:]
            let matches = zip(route.rest, rest).allSatisfy { pattern, segment in
                if pattern.hasPrefix("{") {
                    parameters[String(pattern.dropFirst().dropLast())] = segment.removingPercentEncoding ?? segment
                    return true
                }
                return pattern.utf8.elementsEqual(segment.utf8)
            }
            guard matches else { continue }
            matchedPath = true
            guard route.method == request.method else { continue }
            do {
                let (status, body) = try perform(route.operation, request, alias: parameters["alias"] ?? "")
                responder.send(status: HTTPResponseStatus(statusCode: status), body: body)
            } catch {
                error.send(to: responder)
            }
            return
        }
        let what = matchedPath ? "\(request.method.rawValue) on \(request.path)" : "\(request.method.rawValue) \(request.path)"
        LambdaAPIError.unsupported(what).send(to: responder)
    }

    /// Answers a request for any other Lambda API path (another API version, layers, event source mappings…).
    static func unsupported(_ request: LocalHTTPRequest, responder: HTTPResponder) {
        LambdaAPIError.unsupported("\(request.method.rawValue) \(request.path)").send(to: responder)
    }

    // MARK: Functions and versions

    private func version(for qualifier: String?) throws(LambdaAPIError) -> FunctionVersion {
        let name: String
        if let qualifier, let alias = lambda.alias(named: qualifier) {
            name = alias.routing.primaryVersion
        } else if let qualifier {
            name = qualifier
        } else {
            name = configuration.versions.first(where: { $0.name.utf8.elementsEqual("$LATEST".utf8) })?.name ?? configuration.versions.last?.name ?? "$LATEST"
        }
        guard let version = configuration.versions.first(where: { $0.name.utf8.elementsEqual(name.utf8) }) else {
            throw LambdaAPIError(status: 404, code: "ResourceNotFoundException",
                                 message: "Function not found: \(configuration.functionARN(qualifier: qualifier ?? name))")
        }
        return version
    }

    private func shape(_ version: FunctionVersion) -> FunctionConfigurationShape {
        var environment = configuration.environment
        environment.merge(version.environment) { _, new in new }
        let attributes = try? FileManager.default.attributesOfItem(atPath: version.bootstrapPath)
        let modified = (attributes?[.modificationDate] as? Date) ?? Date(timeIntervalSince1970: 0)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return FunctionConfigurationShape(
            FunctionName: configuration.functionName, FunctionArn: configuration.functionARN(qualifier: version.name),
            Runtime: configuration.runtime, Role: configuration.role, Handler: configuration.handler,
            CodeSize: (attributes?[.size] as? Int) ?? 0, Description: "lambda-local: \(version.bootstrapPath)",
            Timeout: Int(configuration.timeout.wholeSeconds), MemorySize: configuration.memorySizeMB,
            LastModified: formatter.string(from: modified).replacingOccurrences(of: "Z", with: "+0000"),
            Version: version.name, Environment: .init(Variables: environment),
            RevisionId: Self.revisionID(of: version))
    }

    /// A fixed revision per version (a published version never changes).
    private static func revisionID(of version: FunctionVersion) -> String {
        let digits = version.name.utf8.map { String($0, radix: 16) }.joined()
        return "00000000-0000-0000-0000-" + String(repeating: "0", count: max(0, 12 - digits.count)) + digits.suffix(12)
    }

    private func getFunctionConfiguration(_ request: LocalHTTPRequest) throws(LambdaAPIError) -> (Int, [UInt8]) {
        (200, JSONText.encode(shape(try version(for: request.queryValue("Qualifier")))))
    }

    private func getFunction(_ request: LocalHTTPRequest) throws(LambdaAPIError) -> (Int, [UInt8]) {
        struct Code: Encodable { var RepositoryType = "S3"; var Location: String }
        struct Function: Encodable { var Configuration: FunctionConfigurationShape; var Code: Code }
        let version = try version(for: request.queryValue("Qualifier"))
        return (200, JSONText.encode(Function(Configuration: shape(version), Code: Code(Location: "file://" + version.bootstrapPath))))
    }

    private func listVersions() -> (Int, [UInt8]) {
        struct List: Encodable { var Versions: [FunctionConfigurationShape] }
        return (200, JSONText.encode(List(Versions: configuration.versions.map(shape))))
    }

    // MARK: Aliases

    private func shape(_ alias: AliasState) -> AliasConfigurationShape {
        let weights = alias.routing.additionalVersionWeights
        return AliasConfigurationShape(
            AliasArn: configuration.functionARN(qualifier: alias.routing.name), Name: alias.routing.name,
            FunctionVersion: alias.routing.primaryVersion, Description: alias.description,
            RoutingConfig: weights.isEmpty ? nil : .init(AdditionalVersionWeights: weights), RevisionId: alias.revisionID)
    }

    private func getAlias(_ name: String) throws(LambdaAPIError) -> (Int, [UInt8]) {
        guard let alias = lambda.alias(named: name) else {
            throw LambdaAPIError(status: 404, code: "ResourceNotFoundException",
                                 message: "Cannot find alias arn: \(configuration.functionARN(qualifier: name))")
        }
        return (200, JSONText.encode(shape(alias)))
    }

    private func listAliases() -> (Int, [UInt8]) {
        struct List: Encodable { var Aliases: [AliasConfigurationShape] }
        let all = lambda.aliases.values.sorted { $0.routing.name < $1.routing.name }
        return (200, JSONText.encode(List(Aliases: all.map(shape))))
    }

    private func decodeAlias(_ request: LocalHTTPRequest) throws(LambdaAPIError) -> AliasRequestShape {
        do {
            return try JSONDecoder().decode(AliasRequestShape.self, from: Data(request.body.isEmpty ? Array("{}".utf8) : request.body))
        } catch {
            throw LambdaAPIError(status: 400, code: "InvalidRequestContentException", message: "Could not parse request body into json: \(error)")
        }
    }

    private func createAlias(_ request: LocalHTTPRequest) throws(LambdaAPIError) -> (Int, [UInt8]) {
        let body = try decodeAlias(request)
        guard let name = body.Name, !name.isEmpty, let primary = body.FunctionVersion, !primary.isEmpty else {
            throw LambdaAPIError(status: 400, code: "ValidationException",
                                 message: "1 validation error detected: Name and FunctionVersion are required")
        }
        let routing = AliasRouting(name: name, primaryVersion: primary,
                                   additionalVersionWeights: body.RoutingConfig?.AdditionalVersionWeights ?? [:])
        return (201, JSONText.encode(shape(try lambda.createAlias(routing, description: body.Description ?? ""))))
    }

    private func updateAlias(_ request: LocalHTTPRequest, name: String) throws(LambdaAPIError) -> (Int, [UInt8]) {
        let body = try decodeAlias(request)
        let state = try lambda.updateAlias(
            name: name, functionVersion: body.FunctionVersion,
            weights: body.RoutingConfig.map { $0.AdditionalVersionWeights ?? [:] },
            description: body.Description, revisionID: body.RevisionId)
        return (200, JSONText.encode(shape(state)))
    }
}
