import FeatureFlags
import LambdaRuntime
import LeanJSON
import Logging

/// The profile HTTP API as a function from request to response: no server, no Lambda needed,
/// which is how its tests (and users' tests) call it.
public struct ProfileAPI: Sendable {
    /// The flag that selects schema v2 per user.
    public static let schemaFlag = "enableNewProfileSchema"
    /// Largest accepted body.
    public static let maxBodySize = 64 * 1024
    /// Retries of a write that lost a race (without `If-Match`).
    static let conflictRetries = 3

    /// Where profiles live.
    public let store: any ProfileStore
    /// Evaluates `enableNewProfileSchema`.
    public let flags: any FlagEvaluating
    /// Reported in `x-function-version` and `GET /health`.
    public let functionVersion: String

    /// Creates the API.
    public init(store: any ProfileStore, flags: any FlagEvaluating, functionVersion: String) {
        self.store = store
        self.flags = flags
        self.functionVersion = functionVersion
    }

    /// The `Route` of a request that matched no route (a 404, a 405, a malformed path).
    public static let unmatchedRoute = "UNMATCHED"

    /// What one request did, for the access log and the metrics.
    public struct Outcome: Sendable {
        /// The response to send.
        public var response: APIResponse
        /// The schema served, when a profile route ran.
        public var schema: ProfileSchema?
        /// The flag evaluation behind it.
        public var flag: FlagEvaluation?
        /// The matched route, `METHOD /pattern` (`GET /profiles/{userId}`), or ``ProfileAPI/unmatchedRoute``:
        /// one of a fixed set, so a metric dimension cannot be made to grow by what clients send.
        public var route: String = ProfileAPI.unmatchedRoute
    }

    /// Answers one request. Never throws: every failure is an HTTP error response.
    public func respond(
        to request: APIRequest, deadline: LambdaDeadline? = nil, logger: Logger? = nil
    ) async -> Outcome {
        var outcome = Outcome(response: APIResponse(status: 500))
        var route = Self.unmatchedRoute
        do {
            let segments = try Self.pathSegments(request.rawPath)
            route = Self.routeName(method: request.method, segments: segments)
            outcome = try await serve(request, segments: segments, deadline: deadline)
        } catch let error as APIError {
            outcome.response = error.response
        } catch let error as ProfileStoreError {
            switch error {
            case .unavailable(_, let retryAfter):
                logger?.warning("profile store unavailable", metadata: ["error": "\(error)"])
                outcome.response = APIError.unavailable(retryAfter: retryAfter).response
            case .conflict:
                outcome.response = APIError.conflict.response
            case .failed:
                logger?.error("profile store failed", metadata: ["error": "\(error)"])
                outcome.response = APIError.internalError(requestID: request.requestID).response
            }
        } catch {
            logger?.error("unexpected failure", metadata: ["error": "\(error)"])
            outcome.response = APIError.internalError(requestID: request.requestID).response
        }
        outcome.route = route
        outcome.response.headers["x-function-version"] = functionVersion
        outcome.response.headers["cache-control"] = "no-store"
        if let schema = outcome.schema {
            outcome.response.headers["x-profile-schema"] = String(schema.rawValue)
        }
        return outcome
    }

    /// The route a request matched: the method and path pattern for the methods a route serves,
    /// ``unmatchedRoute`` for everything else. Built from literals and compared as bytes, so the
    /// set of routes is fixed whatever a client sends.
    static func routeName(method: String, segments: [String]) -> String {
        func known(_ methods: [String]) -> String? { methods.first { $0.utf8.elementsEqual(method.utf8) } }
        switch segments.count {
        case 1 where segments[0].utf8.elementsEqual("health".utf8):
            return known(["GET", "HEAD"]).map { $0 + " /health" } ?? unmatchedRoute
        case 2 where segments[0].utf8.elementsEqual("profiles".utf8):
            return known(["GET", "HEAD", "PUT", "PATCH", "DELETE"]).map { $0 + " /profiles/{userId}" } ?? unmatchedRoute
        default:
            return unmatchedRoute
        }
    }

    private func serve(_ request: APIRequest, segments: [String], deadline: LambdaDeadline?) async throws -> Outcome {
        switch segments.count {
        case 1 where segments[0] == "health":
            guard request.method == "GET" || request.method == "HEAD" else { throw APIError.methodNotAllowed("GET") }
            return Outcome(response: health())
        case 2 where segments[0] == "profiles":
            return try await profile(request, userID: segments[1], deadline: deadline)
        default:
            throw APIError.notFound("no route for \(request.method) \(request.rawPath)")
        }
    }

    private func health() -> APIResponse {
        APIResponse(status: 200, json: [
            "status": "ok", "functionVersion": .string(functionVersion), "store": .string(store.kind),
            "flags": .string(flags.sourceState),
        ])
    }

    // MARK: Profiles

    private func profile(_ request: APIRequest, userID: String, deadline: LambdaDeadline?) async throws -> Outcome {
        let allowed = "DELETE, GET, PATCH, PUT"
        guard ["GET", "HEAD", "PUT", "PATCH", "DELETE"].contains(request.method) else {
            throw APIError.methodNotAllowed(allowed)
        }
        guard Validation.isUserID(userID) else {
            throw APIError.invalid(
                "the profile id must be 1-128 characters of A-Z a-z 0-9 . _ @ -",
                [FieldProblem(field: "userId", problem: "is not a valid id")])
        }
        try authorize(request, for: userID)
        let flag = flags.evaluate(Self.schemaFlag, userID: userID)
        let schema: ProfileSchema = flag.value ? .v2 : .v1
        var outcome = Outcome(response: APIResponse(status: 500), schema: schema, flag: flag)
        switch request.method {
        case "GET", "HEAD":
            guard let item = try await store.item(for: userID, deadline: deadline) else {
                throw APIError.notFound("no profile for \(userID)")
            }
            outcome.response = Self.profileResponse(status: 200, item: item, schema: schema)
        case "PUT":
            let document = try Self.document(request, mediaTypes: ["application/json"])
            let problems = schema.validate(document, requireAll: true)
            guard problems.isEmpty else { throw APIError.invalid("the profile is not valid", problems) }
            outcome.response = try await write(request, userID: userID, schema: schema, deadline: deadline) { _ in
                document.objectValue ?? [:]
            }
        case "PATCH":
            let patch = try Self.document(request, mediaTypes: ["application/merge-patch+json", "application/json"])
            guard patch.objectValue != nil else {
                throw APIError.invalid("a merge patch must be a JSON object", [FieldProblem(field: "", problem: "is \(patch.typeName)")])
            }
            let problems = schema.validate(patch, requireAll: false, checkValues: false)
            guard problems.isEmpty else { throw APIError.invalid("the patch is not valid", problems) }
            outcome.response = try await write(request, userID: userID, schema: schema, deadline: deadline) { current in
                guard let current else { throw APIError.notFound("no profile for \(userID)") }
                let view = schema.view(of: current).objectValue ?? [:]
                let writable = view.filter { schema.writableFields.contains($0.key) }
                let patched = JSON.object(writable).mergePatched(with: patch)
                let problems = schema.validate(patched, requireAll: true)
                guard problems.isEmpty else { throw APIError.invalid("the patched profile is not valid", problems) }
                return patched.objectValue ?? [:]
            }
        default:
            outcome.response = try await delete(request, userID: userID, deadline: deadline)
        }
        return outcome
    }

    /// Read, compute, conditionally write; retried on a lost race unless the client pinned a version.
    private func write(
        _ request: APIRequest, userID: String, schema: ProfileSchema, deadline: LambdaDeadline?,
        document: (ProfileItem?) throws -> [String: JSON]
    ) async throws -> APIResponse {
        let pinned = try Self.ifMatch(request)
        for _ in 0...Self.conflictRetries {
            let current = try await store.item(for: userID, deadline: deadline)
            if let pinned, current?.version != pinned {
                throw APIError.preconditionFailed(current: current?.version)
            }
            let input = try document(current)
            let write = schema.write(for: input, current: current, updatedAt: WallClock.now().rfc3339)
            do {
                let item = try await store.update(userID, write, expectedVersion: current?.version, deadline: deadline)
                return Self.profileResponse(status: current == nil ? 201 : 200, item: item, schema: schema)
            } catch .conflict {
                if pinned != nil { throw APIError.preconditionFailed(current: nil) }
                continue
            }
        }
        throw APIError.conflict
    }

    private func delete(_ request: APIRequest, userID: String, deadline: LambdaDeadline?) async throws -> APIResponse {
        let pinned = try Self.ifMatch(request)
        for _ in 0...Self.conflictRetries {
            guard let current = try await store.item(for: userID, deadline: deadline) else {
                throw APIError.notFound("no profile for \(userID)")
            }
            if let pinned, current.version != pinned {
                throw APIError.preconditionFailed(current: current.version)
            }
            do {
                try await store.delete(userID, expectedVersion: current.version, deadline: deadline)
                return APIResponse(status: 204)
            } catch .conflict {
                if pinned != nil { throw APIError.preconditionFailed(current: nil) }
                continue
            }
        }
        throw APIError.conflict
    }

    // MARK: Request parts

    /// Default deny: the caller is the JWT `sub`; only an admin scope reaches other profiles.
    private func authorize(_ request: APIRequest, for userID: String) throws {
        guard let subject = request.claims["sub"], !subject.isEmpty else { throw APIError.unauthenticated }
        if subject == userID { return }
        let scopes = (request.claims["scope"] ?? "").split(separator: " ")
            + (request.claims["scopes"] ?? "").trimmed(where: { $0 == "[" || $0 == "]" }).split(separator: " ")
        guard scopes.contains("profiles/admin") else { throw APIError.forbidden }
    }

    /// The `If-Match` version (`"3"`, `W/"3"` or `3`), if sent.
    static func ifMatch(_ request: APIRequest) throws -> Int? {
        guard let raw = request.header("if-match") else { return nil }
        var text = raw.trimmed()
        if text.hasPrefix("W/") { text = text.dropFirst(2) }
        if text.hasPrefix("\""), text.hasSuffix("\""), text.count >= 2 { text = text.dropFirst().dropLast() }
        guard let version = Int(text), version > 0 else {
            throw APIError.invalid("If-Match must be an ETag from this API, for example \"3\"",
                                   [FieldProblem(field: "If-Match", problem: "is not a profile version")])
        }
        return version
    }

    /// The body as a JSON document, after the size, media-type, encoding and syntax checks.
    static func document(_ request: APIRequest, mediaTypes: [String]) throws -> JSON {
        if let problem = request.bodyProblem { throw APIError.invalid(problem) }
        guard request.body.count <= maxBodySize else { throw APIError.tooLarge }
        let contentType = (request.header("content-type") ?? "").split(separator: ";").first
            .map { $0.trimmed().lowercased() } ?? ""
        guard mediaTypes.contains(contentType) else {
            throw APIError.unsupportedMediaType(mediaTypes.joined(separator: " or "))
        }
        guard !request.body.isEmpty else { throw APIError.invalid("the body is empty; send a JSON object") }
        do {
            return try JSON(parsing: request.body, maxDepth: 8)
        } catch {
            throw APIError.invalid("the body is not valid JSON: \(error)")
        }
    }

    /// Splits a raw path and percent-decodes each segment; a decoded segment may not contain `/`.
    static func pathSegments(_ rawPath: String) throws -> [String] {
        var segments: [String] = []
        for raw in rawPath.split(separator: "/", omittingEmptySubsequences: true) {
            guard let decoded = percentDecoded(raw) else {
                throw APIError.invalid("the path has a malformed percent-encoding")
            }
            segments.append(decoded)
        }
        return segments
    }

    private static func percentDecoded(_ text: Substring) -> String? {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    static func profileResponse(status: Int, item: ProfileItem, schema: ProfileSchema) -> APIResponse {
        APIResponse(status: status, json: schema.view(of: item), headers: ["etag": "\"\(item.version)\""])
    }
}
