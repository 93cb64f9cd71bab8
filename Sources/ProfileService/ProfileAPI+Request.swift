import LambdaCore
import LeanJSON

/// What a request's `If-Match` asks for (RFC 9110 §13.1.1, strong comparison).
enum IfMatch: Sendable, Equatable {
    /// `*`: the profile must exist.
    case any
    /// One of these versions; empty when only weak tags were sent, which never match a write.
    case versions([Int])

    /// Whether a write may go ahead on `current`.
    func matches(_ current: ProfileItem?) -> Bool {
        guard let current else { return false }
        switch self {
        case .any: return true
        case .versions(let versions): return versions.contains(current.version)
        }
    }
}

extension ProfileAPI {
    /// The `If-Match` header, if sent: `*`, or a list of entity tags (`"3"`, or `3` as a courtesy);
    /// weak tags (`W/"3"`) never match a write.
    static func ifMatch(_ request: APIRequest) throws -> IfMatch? {
        guard let raw = request.header("if-match") else { return nil }
        let members = raw.split(separator: ",").map { $0.trimmed() }
        if members.count == 1, members[0].utf8.elementsEqual("*".utf8) { return .any }
        var versions: [Int] = []
        for member in members {
            if member.utf8.starts(with: "W/".utf8) { continue }
            var tag = member
            if tag.utf8.count >= 2, tag.utf8.first == UInt8(ascii: "\""), tag.utf8.last == UInt8(ascii: "\"") {
                tag = tag.dropFirst().dropLast()
            }
            guard !tag.isEmpty, tag.utf8.allSatisfy(ASCII.isDigit), let version = Int(tag), version > 0 else {
                throw APIError.invalid("If-Match must be * or ETags from this API, for example \"3\"",
                                       [FieldProblem(field: "If-Match", problem: "is not a profile version")])
            }
            versions.append(version)
        }
        return .versions(versions)
    }

    /// The body as a JSON document, after the size, media-type, encoding and syntax checks.
    static func document(_ request: APIRequest, mediaTypes: [String]) throws -> JSON {
        if let problem = request.bodyProblem { throw APIError.invalid(problem) }
        guard request.body.count <= maxBodySize else { throw APIError.tooLarge }
        let contentType = (request.header("content-type") ?? "").split(separator: ";").first
            .map { $0.trimmed().lowercased() } ?? ""
        guard mediaTypes.contains(where: { $0.utf8.elementsEqual(contentType.utf8) }) else {
            throw APIError.unsupportedMediaType(mediaTypes.joined(separator: " or "))
        }
        guard !request.body.isEmpty else { throw APIError.invalid("the body is empty; send a JSON object") }
        do {
            return try JSON(parsing: request.body, maxDepth: 8)
        } catch {
            throw APIError.invalid("the body is not valid JSON: \(error)")
        }
    }
}
