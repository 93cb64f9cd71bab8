import LambdaCore
import LeanJSON

extension ProfileAPI {
    /// `PUT`: replaces the fields the caller's schema owns; `null` means absent.
    func put(_ request: APIRequest, userID: String, schema: ProfileSchema, deadline: LambdaDeadline?) async throws -> APIResponse {
        let parsed = try Self.document(request, mediaTypes: ["application/json"])
        let document = parsed.objectValue.map { JSON.object($0.filter { $0.value != .null }) } ?? parsed
        let problems = schema.validate(document, requireAll: true)
        guard problems.isEmpty else { throw APIError.invalid("the profile is not valid", problems) }
        return try await write(request, userID: userID, schema: schema, deadline: deadline) { _ in
            document.objectValue ?? [:]
        }
    }

    /// `PATCH`: a JSON merge patch (RFC 7396) of the caller's view.
    func patch(_ request: APIRequest, userID: String, schema: ProfileSchema, deadline: LambdaDeadline?) async throws -> APIResponse {
        let patch = try Self.document(request, mediaTypes: ["application/merge-patch+json", "application/json"])
        guard patch.objectValue != nil else {
            throw APIError.invalid("a merge patch must be a JSON object", [FieldProblem(field: "", problem: "is \(patch.typeName)")])
        }
        let problems = schema.validate(patch, requireAll: false, checkValues: false)
        guard problems.isEmpty else { throw APIError.invalid("the patch is not valid", problems) }
        return try await write(request, userID: userID, schema: schema, deadline: deadline) { current in
            guard let current else { throw APIError.notFound("no profile for \(userID)") }
            let view = schema.view(of: current).objectValue ?? [:]
            let writable = view.filter { schema.owns($0.key) }
            let patched = JSON.object(writable).mergePatched(with: patch)
            let problems = schema.validate(patched, requireAll: true)
            guard problems.isEmpty else { throw APIError.invalid("the patched profile is not valid", problems) }
            return patched.objectValue ?? [:]
        }
    }

    /// Read, compute, conditionally write; retried on a lost race unless the client pinned a version.
    func write(
        _ request: APIRequest, userID: String, schema: ProfileSchema, deadline: LambdaDeadline?,
        document: (ProfileItem?) throws -> [String: JSON]
    ) async throws -> APIResponse {
        let pinned = try Self.ifMatch(request)
        for _ in 0...Self.conflictRetries {
            let current = try await store.item(for: userID, deadline: deadline)
            if let pinned, !pinned.matches(current) {
                throw APIError.preconditionFailed(current: current?.version)
            }
            let input = try document(current)
            let write = schema.write(for: input, current: current, updatedAt: WallClock.now().rfc3339)
            do {
                let item = try await store.update(userID, write, expectedVersion: current?.version, deadline: deadline)
                return Self.profileResponse(status: current == nil ? 201 : 200, item: item, schema: schema)
            } catch .conflict {
                if pinned != nil { throw APIError.changedWhileWriting }
                continue
            }
        }
        throw APIError.conflict
    }

    /// `DELETE`, conditioned on the version read (and on `If-Match` when sent).
    func delete(_ request: APIRequest, userID: String, deadline: LambdaDeadline?) async throws -> APIResponse {
        let pinned = try Self.ifMatch(request)
        for _ in 0...Self.conflictRetries {
            guard let current = try await store.item(for: userID, deadline: deadline) else {
                if pinned != nil { throw APIError.preconditionFailed(current: nil) }
                throw APIError.notFound("no profile for \(userID)")
            }
            if let pinned, !pinned.matches(current) {
                throw APIError.preconditionFailed(current: current.version)
            }
            do {
                try await store.delete(userID, expectedVersion: current.version, deadline: deadline)
                return APIResponse(status: 204)
            } catch .conflict {
                if pinned != nil { throw APIError.changedWhileWriting }
                continue
            }
        }
        throw APIError.conflict
    }
}
