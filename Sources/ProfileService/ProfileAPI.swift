import FeatureFlags
import LambdaCore
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
    /// The scope that reaches other users' profiles.
    static let adminScope = "profiles/admin"

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

    // MARK: Routes

    /// One entry of the routing table: a method and a path pattern, and what serves them.
    public struct Route: Sendable, Equatable {
        /// What serves a route.
        enum Action: Sendable, Equatable {
            case health, getProfile, putProfile, patchProfile, deleteProfile
        }

        /// `GET`, `PUT`…
        public let method: String
        /// `/profiles/{userId}`: literal segments and one `{parameter}` per variable segment.
        public let pattern: String
        let action: Action
        /// The pattern's segments, split once.
        private let parts: [Substring]
        /// `METHOD /pattern`, the metrics' `Route` and the template's route key.
        public let name: String

        init(method: String, pattern: String, action: Action) {
            self.method = method
            self.pattern = pattern
            self.action = action
            self.parts = pattern.utf8.split(separator: UInt8(ascii: "/")).map { Substring($0) }
            self.name = method + " " + pattern
        }

        /// The parameter values when `segments` fit the pattern (literals compared as bytes).
        func parameters(matching segments: [String]) -> [String]? {
            guard parts.count == segments.count else { return nil }
            var values: [String] = []
            for (part, segment) in zip(parts, segments) {
                if part.utf8.first == UInt8(ascii: "{") {
                    values.append(segment)
                } else if !part.utf8.elementsEqual(segment.utf8) {
                    return nil
                }
            }
            return values
        }
    }

    /// Every route the API serves. `Allow` and 405 follow from it, and `template.yaml`'s HTTP API
    /// routes must be exactly these (a test checks). `HEAD` is not served: HTTP APIs route methods
    /// exactly, and no client of this API needs it.
    public static let routes: [Route] = [
        Route(method: "GET", pattern: "/health", action: .health),
        Route(method: "GET", pattern: "/profiles/{userId}", action: .getProfile),
        Route(method: "PUT", pattern: "/profiles/{userId}", action: .putProfile),
        Route(method: "PATCH", pattern: "/profiles/{userId}", action: .patchProfile),
        Route(method: "DELETE", pattern: "/profiles/{userId}", action: .deleteProfile),
    ]

    /// What the table says about a method and path.
    enum RouteMatch: Equatable {
        case found(Route, parameters: [String])
        case methodNotAllowed(allow: [String])
        case notFound
    }

    /// Looks a request up in ``routes``; methods compare as bytes.
    static func match(method: String, segments: [String]) -> RouteMatch {
        var allow: [String] = []
        for route in routes {
            guard let parameters = route.parameters(matching: segments) else { continue }
            if route.method.utf8.elementsEqual(method.utf8) { return .found(route, parameters: parameters) }
            allow.append(route.method)
        }
        return allow.isEmpty ? .notFound : .methodNotAllowed(allow: allow.sorted())
    }

    // MARK: Answering

    /// Answers one request. Never throws: every failure is an HTTP error response.
    public func respond(
        to request: APIRequest, deadline: LambdaDeadline? = nil, logger: Logger? = nil
    ) async -> Outcome {
        var outcome = Outcome(response: APIResponse(status: 500))
        var routeName = Self.unmatchedRoute
        do {
            if let problem = request.eventProblem { throw APIError.invalid(problem) }
            guard let segments = request.pathSegments else { throw APIError.invalid("the path has a malformed percent-encoding") }
            switch Self.match(method: request.method, segments: segments) {
            case .notFound:
                throw APIError.notFound("no route for \(request.method) \(request.rawPath)")
            case .methodNotAllowed(let allow):
                throw APIError.methodNotAllowed(allow.joined(separator: ", "))
            case .found(let route, let parameters):
                routeName = route.name
                outcome = try await serve(route.action, request, parameters: parameters, deadline: deadline)
            }
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
        outcome.route = routeName
        outcome.response.headers["x-function-version"] = functionVersion
        outcome.response.headers["cache-control"] = "no-store"
        if let schema = outcome.schema {
            outcome.response.headers["x-profile-schema"] = String(schema.rawValue)
        }
        return outcome
    }

    private func serve(
        _ action: Route.Action, _ request: APIRequest, parameters: [String], deadline: LambdaDeadline?
    ) async throws -> Outcome {
        guard action != .health else { return Outcome(response: health()) }
        let userID = parameters.first ?? ""
        guard Validation.isUserID(userID) else {
            throw APIError.invalid(
                "the profile id must be 1-128 characters of A-Z a-z 0-9 . _ @ -",
                [FieldProblem(field: "userId", problem: "is not a valid id")])
        }
        try authorize(request, for: userID)
        let flag = flags.evaluate(Self.schemaFlag, userID: userID)
        let schema: ProfileSchema = flag.value ? .v2 : .v1
        var outcome = Outcome(response: APIResponse(status: 500), schema: schema, flag: flag)
        switch action {
        case .health:
            outcome.response = health()
        case .getProfile:
            guard let item = try await store.item(for: userID, deadline: deadline) else {
                throw APIError.notFound("no profile for \(userID)")
            }
            outcome.response = Self.profileResponse(status: 200, item: item, schema: schema)
        case .putProfile:
            outcome.response = try await put(request, userID: userID, schema: schema, deadline: deadline)
        case .patchProfile:
            outcome.response = try await patch(request, userID: userID, schema: schema, deadline: deadline)
        case .deleteProfile:
            outcome.response = try await delete(request, userID: userID, deadline: deadline)
        }
        return outcome
    }

    /// States only: what the function runs and how fresh its flags are; details go to the log.
    private func health() -> APIResponse {
        APIResponse(status: 200, json: [
            "status": "ok", "functionVersion": .string(functionVersion), "store": .string(store.kind),
            "flags": .string(flags.sourceState),
        ])
    }

    /// Default deny: the caller is the JWT `sub`, which must itself be a valid user id; only the
    /// admin scope reaches other profiles. Identity and scopes compare as bytes: `String ==` is
    /// canonical equivalence, under which KELVIN SIGN + `ate` equals `Kate`.
    private func authorize(_ request: APIRequest, for userID: String) throws {
        guard let subject = request.claims["sub"], Validation.isUserID(subject) else { throw APIError.unauthenticated }
        if subject.utf8.elementsEqual(userID.utf8) { return }
        guard request.scopes.contains(where: { $0.utf8.elementsEqual(Self.adminScope.utf8) }) else { throw APIError.forbidden }
    }

    static func profileResponse(status: Int, item: ProfileItem, schema: ProfileSchema) -> APIResponse {
        APIResponse(status: status, json: schema.view(of: item), headers: ["etag": "\"\(item.version)\""])
    }
}
