import LambdaCore
import LeanJSON

/// Which API Gateway payload format a request came in, so the response goes back in the same one.
public enum PayloadFormat: Sendable, Equatable {
    /// HTTP API payload 2.0 (also Lambda Function URLs).
    case v2
    /// REST API payload 1.0.
    case v1
}

/// One HTTP request, whichever event shape it arrived in.
public struct APIRequest: Sendable, Equatable {
    /// `GET`, `PUT`…
    public var method: String
    /// The path as the event gave it, for logs (without an HTTP API stage prefix).
    public var rawPath: String
    /// The path's segments, percent-decoded exactly once; `nil` when the path has a malformed
    /// percent-encoding (answered 400).
    public var pathSegments: [String]?
    /// Header fields with lower-cased names. When an event carries one name in several cases
    /// (`Content-Type` and `content-type`), the all-lower-case one wins, then the smallest in bytes.
    public var headers: RequestFields
    /// Query parameters (repeated ones joined with commas, as API Gateway does).
    public var query: RequestFields
    /// The body bytes, base64 already decoded.
    public var body: [UInt8]
    /// Set when the body could not be decoded (broken base64); the request gets a 400.
    public var bodyProblem: String?
    /// Set when the event holds something the API cannot take safely, such as two names that differ
    /// in bytes but not as Unicode text; the request gets a 400, never a function error.
    public var eventProblem: String?
    /// Authorizer claims with string, number or Boolean values: HTTP API JWT claims or REST API Cognito claims.
    public var claims: RequestFields
    /// OAuth scopes: API Gateway's `jwt.scopes`, then the `scope` claim (space-separated) and `scp`
    /// (space-separated or a list).
    public var scopes: [String]
    /// API Gateway's request id.
    public var requestID: String
    /// The payload format, for the response.
    public var format: PayloadFormat

    /// Creates a request directly (tests, other front ends). `rawPath` is percent-encoded.
    public init(
        method: String, rawPath: String, headers: [String: String] = [:], query: [String: String] = [:],
        body: [UInt8] = [], claims: [String: String] = [:], scopes: [String]? = nil, requestID: String = "local",
        format: PayloadFormat = .v2
    ) {
        self.init(
            method: method, rawPath: rawPath, pathSegments: Self.decodedSegments(rawPath),
            headers: RequestFields(Self.lowercasedNames(headers)), query: RequestFields(query), body: body,
            claims: RequestFields(claims),
            scopes: scopes ?? Self.scopes(jwtScopes: [], claim: { claims[$0].map(JSON.string) }), requestID: requestID,
            format: format)
    }

    private init(
        method: String, rawPath: String, pathSegments: [String]?, headers: RequestFields, query: RequestFields,
        body: [UInt8], claims: RequestFields, scopes: [String], requestID: String, format: PayloadFormat
    ) {
        self.method = method
        self.rawPath = rawPath
        self.pathSegments = pathSegments
        self.headers = headers
        self.query = query
        self.body = body
        self.claims = claims
        self.scopes = scopes
        self.requestID = requestID
        self.format = format
    }

    /// Reads an API Gateway HTTP API 2.0, Function URL or REST API 1.0 event. Throws only for events
    /// that are none of these; whatever API Gateway can deliver becomes a request (a bad one gets a 400).
    public init(event bytes: [UInt8]) throws(InvalidEventError) {
        // A document, not a tree: an event is kilobytes of which the API reads a few fields.
        let document: JSONDocument
        do {
            document = try JSONDocument(parsing: bytes, maxDepth: 64, keepingFirstOfEquivalentKeys: true)
        } catch {
            throw InvalidEventError(detail: "the event is not JSON (\(error))")
        }
        let object = document.root
        guard object.isObject else {
            throw InvalidEventError(detail: "the event is a JSON \(object.typeName)")
        }
        let context = object["requestContext"]?.object
        let authorizer = context?["authorizer"]
        let claimsObject = authorizer?["jwt"]?["claims"]?.object ?? authorizer?["claims"]?.object
        let claims = RequestFields(claimsObject, lowercasingNames: false)
        let scopes = Self.scopes(
            jwtScopes: authorizer?["jwt"]?["scopes"]?.elements.compactMap(\.stringValue) ?? [],
            claim: { claimsObject?[$0]?.json })
        if object["version"]?.isString("2.0") == true, let http = context?["http"]?.object,
           let method = http["method"]?.stringValue {
            var rawPath = object["rawPath"]?.stringValue ?? http["path"]?.stringValue ?? "/"
            if let stage = context?["stage"]?.stringValue, stage != "$default", rawPath.utf8.starts(with: "/\(stage)/".utf8) {
                rawPath.removeFirst(stage.count + 1)
            }
            var headers = RequestFields(object["headers"], lowercasingNames: true)
            if let cookies = object["cookies"]?.elements.compactMap(\.stringValue), !cookies.isEmpty {
                headers["cookie"] = cookies.joined(separator: "; ")
            }
            // HTTP APIs deliver rawPath already percent-decoded; Function URLs deliver it encoded.
            let isFunctionURL = (context?["domainName"]?.stringValue ?? "").utf8.contains(subsequence: ".lambda-url.".utf8)
            let segments = Self.segments(
                template: (object["routeKey"]?.stringValue).flatMap(Self.routePattern),
                parameters: RequestFields(object["pathParameters"], lowercasingNames: false))
                ?? (isFunctionURL ? Self.decodedSegments(rawPath) : Self.plainSegments(rawPath))
            self.init(
                method: method.uppercased(), rawPath: rawPath, pathSegments: segments, headers: headers,
                query: RequestFields(object["queryStringParameters"], lowercasingNames: false), body: [], claims: claims,
                scopes: scopes, requestID: context?["requestId"]?.stringValue ?? "", format: .v2)
        } else if let method = object["httpMethod"]?.stringValue, let path = object["path"]?.stringValue {
            var fields = FieldDictionary(lowercasingNames: true)
            fields.add(stringMembersOf: object["headers"])
            for (name, values) in object["multiValueHeaders"]?.members ?? [] where values.isArray {
                fields.add(name, values.elements.compactMap(\.stringValue).joined(separator: ","))
            }
            var query = Self.stringValues(object["queryStringParameters"])
            for (name, values) in object["multiValueQueryStringParameters"]?.members ?? [] where values.isArray {
                query[name] = values.elements.compactMap(\.stringValue).joined(separator: ",")
            }
            // REST APIs keep a custom domain's base path in `path`; the resource template and the
            // (decoded) path parameters name the route without it.
            let segments = Self.segments(
                template: object["resource"]?.stringValue,
                parameters: RequestFields(object["pathParameters"], lowercasingNames: false))
                ?? Self.decodedSegments(path)
            self.init(
                method: method.uppercased(), rawPath: path, pathSegments: segments, headers: RequestFields(fields.fields),
                query: RequestFields(query), body: [], claims: claims, scopes: scopes, requestID: context?["requestId"]?.stringValue ?? "",
                format: .v1)
        } else {
            let keys = object.members.map(\.key).sorted().prefix(8).joined(separator: ", ")
            throw InvalidEventError(detail: "the event has none of their fields (it has: \(keys))")
        }
        if !document.droppedEquivalentKeys.isEmpty {
            eventProblem = "the request has names that differ in bytes but not as Unicode text (\(document.droppedEquivalentKeys.prefix(3).map(JSON.quoted).joined(separator: ", "))); send each name once, in one form"
        }
        if let text = object["body"]?.stringValue {
            if object["isBase64Encoded"]?.boolValue == true {
                if let decoded = Base64.decode(text) {
                    body = decoded
                } else {
                    bodyProblem = "the body is marked base64 but is not valid base64"
                }
            } else {
                body = Array(text.utf8)
            }
        }
    }

    /// A header value by case-insensitive name.
    public func header(_ name: String) -> String? {
        headers[FieldDictionary.isPlainLowercase(name) ? name : name.lowercased()]
    }

    /// String, number and Boolean members of an object as text; other members are left out.
    private static func stringValues(_ object: JSONNode?) -> [String: String] {
        var fields = FieldDictionary(lowercasingNames: false)
        fields.add(stringMembersOf: object)
        return fields.fields
    }

    /// Lower-cases names; of several fields with one lower-cased name, the one already in lower case
    /// wins, then the smallest name in bytes: never the hash seed's choice.
    static func lowercasedNames(_ fields: [String: String]) -> [String: String] {
        var lowercased = FieldDictionary(lowercasingNames: true)
        for (name, value) in fields { lowercased.add(name, value) }
        return lowercased.fields
    }

    /// `jwt.scopes` (a list), then the `scope` and `scp` claims: space-separated text (API Gateway
    /// turns list claims into `[a b]`) or a list.
    static func scopes(jwtScopes: [String], claim: (String) -> JSON?) -> [String] {
        var scopes = jwtScopes
        for name in ["scope", "scp"] {
            switch claim(name) {
            case .string(let text)?:
                var list = Substring(text)
                if list.utf8.first == UInt8(ascii: "["), list.utf8.last == UInt8(ascii: "]") { list = list.dropFirst().dropLast() }
                scopes += list.utf8.split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
            case .array(let items)?:
                scopes += items.compactMap(\.stringValue)
            default:
                continue
            }
        }
        return scopes
    }

    /// `/profiles/{userId}` from a route key such as `GET /profiles/{userId}`; `nil` for `$default`.
    private static func routePattern(_ routeKey: String) -> String? {
        guard let space = routeKey.utf8.firstIndex(of: UInt8(ascii: " ")) else { return nil }
        return String(routeKey[routeKey.index(after: space)...])
    }

    /// The path a route template names with its (already decoded) parameters filled in, as segments;
    /// `nil` when there is no template or a parameter is missing.
    static func segments(template: String?, parameters: RequestFields) -> [String]? {
        guard let template, template.utf8.first == UInt8(ascii: "/") else { return nil }
        var segments: [String] = []
        // Split on the byte: a template is ASCII (API Gateway route keys), and splitting by
        // `Character` walks grapheme boundaries.
        for part in template.utf8.split(separator: UInt8(ascii: "/")) {
            guard part.first == UInt8(ascii: "{"), part.last == UInt8(ascii: "}") else {
                segments.append(String(Substring(part)))
                continue
            }
            var name = part.dropFirst().dropLast()
            let greedy = name.last == UInt8(ascii: "+")
            if greedy { name = name.dropLast() }
            guard let value = parameters[String(Substring(name))] else { return nil }
            if greedy {
                segments += value.split(separator: "/").map(String.init)
            } else {
                segments.append(value)
            }
        }
        return segments
    }

    /// Segments of a path that is already decoded.
    static func plainSegments(_ path: String) -> [String] {
        path.split(separator: "/").map(String.init)
    }

    /// Segments of a percent-encoded path, each decoded once; `nil` on a malformed escape or bytes
    /// that are not UTF-8.
    static func decodedSegments(_ path: String) -> [String]? {
        var segments: [String] = []
        for raw in path.split(separator: "/") {
            guard let decoded = percentDecoded(raw) else { return nil }
            segments.append(decoded)
        }
        return segments
    }

    private static func percentDecoded(_ text: Substring) -> String? {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return String(text) }
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(ASCII.hexValue), let low = iterator.next().flatMap(ASCII.hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        return String(validUTF8: bytes[...])
    }

}

/// Name–value fields gathered into one dictionary in a single pass, in document order.
///
/// With `lowercasingNames` (header fields) names are lower-cased, and of several fields with one
/// lower-cased name the one already in lower case wins, then the smallest name in bytes: never the
/// hash seed's choice. Otherwise a later field replaces an earlier one of the same name.
struct FieldDictionary {
    /// The fields so far.
    private(set) var fields: [String: String] = [:]
    private let lowercasingNames: Bool
    /// The name a kept field was written with, where it is not its key (rare: header names are
    /// usually lower-case already); the last entry for a key is the current one.
    private var writtenNames: [(key: String, name: String)] = []

    init(lowercasingNames: Bool) {
        self.lowercasingNames = lowercasingNames
    }

    /// Adds the string, number and Boolean members of an object, as text; other members are left out.
    mutating func add(stringMembersOf object: JSONNode?) {
        guard let object else { return }
        let members = object.members
        fields.reserveCapacity(members.count)
        for (key, member) in members {
            if let text = member.stringValue {
                add(key, text)
            } else if member.numberValue != nil || member.boolValue != nil {
                add(key, member.json.text)
            }
        }
    }

    /// Adds one field.
    mutating func add(_ name: String, _ value: String) {
        guard lowercasingNames else {
            fields[name] = value
            return
        }
        let isPlainLowercase = Self.isPlainLowercase(name)
        let lower = isPlainLowercase ? name : name.lowercased()
        guard let index = fields.index(forKey: lower) else {
            fields[lower] = value
            if !isPlainLowercase { writtenNames.append((lower, name)) }
            return
        }
        let key = fields.keys[index]
        let current = writtenNames.last { $0.key.utf8.elementsEqual(key.utf8) }?.name ?? key
        guard !current.utf8.elementsEqual(lower.utf8) else { return }
        guard name.utf8.elementsEqual(lower.utf8) || name.utf8.lexicographicallyPrecedes(current.utf8) else { return }
        fields.values[index] = value
        writtenNames.append((key, name))
    }

    /// Whether `name` is ASCII without upper-case letters, so lower-casing would not change it (no
    /// new string for the usual header name).
    static func isPlainLowercase(_ name: String) -> Bool {
        name.utf8.allSatisfy { $0 < 0x80 && !(UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }
    }
}

/// Text fields of a request: headers, query parameters, claims, path parameters.
///
/// From an event they stay in the event, read where they are asked for: an HTTP API event carries
/// two dozen headers and claims of which the API reads two or three, and gathering them all into a
/// dictionary cost more than the rest of the event. The answers are those of that dictionary
/// (string, number and Boolean members as text; names compared as Swift strings, lower-cased for
/// headers, the ``FieldDictionary`` rule when several names lower-case alike); plain ASCII names are
/// compared as bytes, which for ASCII is the same thing.
public struct RequestFields: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    private enum Source: Sendable {
        case dictionary([String: String])
        /// An event object; with lower-cased names (headers) or not.
        case object(JSONNode?, lowercasingNames: Bool)
    }

    private let source: Source
    /// Fields set after the event was read (`cookie` from an HTTP API's `cookies`), newest last;
    /// `nil` removes. They come before the event's.
    private var changes: [(name: String, value: String?)] = []

    /// Fields from a dictionary whose names are already as they will be looked up.
    public init(_ fields: [String: String]) {
        source = .dictionary(fields)
    }

    /// Fields from name–value literals.
    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }

    /// The string, number and Boolean members of an event object, looked up on demand; with
    /// `lowercasingNames`, by their lower-cased names (header fields).
    init(_ object: JSONNode?, lowercasingNames: Bool) {
        source = .object(object, lowercasingNames: lowercasingNames)
    }

    /// The value of the field named `name` (lower-case for headers), or `nil`.
    public subscript(name: String) -> String? {
        get {
            if let change = changes.last(where: { $0.name.utf8.elementsEqual(name.utf8) }) { return change.value }
            switch source {
            case .dictionary(let fields):
                return fields[name]
            case .object(let object, let lowercasingNames):
                return object.flatMap { Self.lookUp(name, in: $0, lowercasingNames: lowercasingNames) }
            }
        }
        set {
            changes.append((name, newValue))
        }
    }

    /// Whether there are no fields. Reads the event only up to its first string, number or Boolean
    /// member; builds no dictionary unless a field was set after the event was read.
    public var isEmpty: Bool {
        guard changes.isEmpty else { return dictionary.isEmpty }
        switch source {
        case .dictionary(let fields):
            return fields.isEmpty
        case .object(let object, _):
            var foundField = false
            object?.forEachMember { _, member in
                if !foundField, !member.isNull, !member.isObject, !member.isArray { foundField = true }
            }
            return !foundField
        }
    }

    /// Every field, as a dictionary.
    public var dictionary: [String: String] {
        var fields: [String: String]
        switch source {
        case .dictionary(let all):
            fields = all
        case .object(let object, let lowercasingNames):
            var gathered = FieldDictionary(lowercasingNames: lowercasingNames)
            gathered.add(stringMembersOf: object)
            fields = gathered.fields
        }
        for change in changes { fields[change.name] = change.value }
        return fields
    }

    /// Compares every field.
    public static func == (lhs: RequestFields, rhs: RequestFields) -> Bool {
        lhs.dictionary == rhs.dictionary
    }

    /// The value of `name` among an object's string, number and Boolean members. A plain ASCII key
    /// is compared as bytes when `name` is ASCII; any other key is decoded (and lower-cased) first,
    /// then compared as bytes too (never with `String ==`, which is canonical equivalence).
    private static func lookUp(_ name: String, in object: JSONNode, lowercasingNames: Bool) -> String? {
        var wanted = name
        return wanted.withUTF8 { wantedBytes -> String? in
            let wantedIsASCII = !wantedBytes.contains { $0 >= 0x80 }
            var chosen: (name: String, value: JSONNode)? = nil
            var chosenIsLower = false
            object.forEachMember { key, member in
                guard !chosenIsLower || !lowercasingNames else { return }
                let matches: Bool
                if wantedIsASCII, key.isPlainASCII {
                    matches = key.equals(wantedBytes, lowercasingASCII: lowercasingNames)
                } else {
                    let text = key.string
                    let lower = lowercasingNames && !FieldDictionary.isPlainLowercase(text) ? text.lowercased() : text
                    matches = lower.utf8.elementsEqual(wantedBytes)
                }
                guard matches, member.stringValue != nil || member.numberValue != nil || member.boolValue != nil else {
                    return
                }
                guard lowercasingNames else {
                    chosen = (name, member)
                    return
                }
                // Several names lower-case alike: the one in lower case already, else the smallest.
                if key.isPlainLowercaseASCII {
                    chosen = (name, member)
                    chosenIsLower = true
                    return
                }
                let text = key.string
                if text.utf8.elementsEqual(wantedBytes) {
                    chosen = (text, member)
                    chosenIsLower = true
                } else if chosen.map({ text.utf8.lexicographicallyPrecedes($0.name.utf8) }) ?? true {
                    chosen = (text, member)
                }
            }
            guard let value = chosen?.value else { return nil }
            return value.stringValue ?? value.json.text
        }
    }
}

extension Collection where Element: Equatable {
    /// Whether `subsequence` occurs in the collection (a search without the regex library): the rest
    /// of the needle is compared only where its first element is.
    func contains(subsequence: some Collection<Element>) -> Bool {
        let haystack = Array(self)
        let needle = Array(subsequence)
        guard let first = needle.first else { return true }
        guard haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == first {
            var offset = 1
            while offset < needle.count, haystack[start + offset] == needle[offset] { offset += 1 }
            if offset == needle.count { return true }
        }
        return false
    }
}

/// The response to an ``APIRequest``.
public struct APIResponse: Sendable, Equatable {
    /// Status code.
    public var status: Int
    /// Header fields.
    public var headers: [String: String]
    /// Body bytes (JSON).
    public var body: [UInt8]

    /// Creates a response.
    public init(status: Int, headers: [String: String] = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response.
    public init(status: Int, json: JSON, headers: [String: String] = [:]) {
        var headers = headers
        headers["content-type"] = "application/json"
        self.init(status: status, headers: headers, body: json.bytes)
    }

    /// The body parsed as JSON, if it is.
    public var json: JSON? {
        try? JSON(parsing: body)
    }

    /// The Lambda result for API Gateway in the payload format the request came in.
    public func encoded(for format: PayloadFormat) -> [UInt8] {
        // Written directly, members in byte order as `JSON.text` writes them (tests compare the two).
        let bodyText = String(validUTF8: body[...])
        var json: [UInt8] = []
        json.reserveCapacity(body.count + 64 * headers.count + 96)
        json.append(contentsOf: #"{"body":"#.utf8)
        JSON.writeString(bodyText ?? Base64.encode(body), to: &json)
        json.append(contentsOf: #","headers":{"#.utf8)
        // Sorted as pairs: no second hash lookup per header for its value.
        for (position, header) in headers.sorted(by: { JSON.precedesInBytes($0.key, $1.key) }).enumerated() {
            if position > 0 { json.append(UInt8(ascii: ",")) }
            JSON.writeString(header.key, to: &json)
            json.append(UInt8(ascii: ":"))
            JSON.writeString(header.value, to: &json)
        }
        json.append(contentsOf: bodyText == nil ? #"},"isBase64Encoded":true"#.utf8 : #"},"isBase64Encoded":false"#.utf8)
        if format == .v1 {
            json.append(contentsOf: #","multiValueHeaders":{}"#.utf8)
        }
        json.append(contentsOf: #","statusCode":"#.utf8)
        json.append(contentsOf: String(status).utf8)
        json.append(UInt8(ascii: "}"))
        return json
    }
}

/// The event is not an HTTP event this handler understands: an invocation error `InvalidEvent`.
public struct InvalidEventError: LambdaFunctionError, Equatable {
    /// What was wrong with it.
    public let detail: String

    /// `InvalidEvent`
    public var errorType: String { "InvalidEvent" }

    /// What was expected, and what came.
    public var errorMessage: String {
        "expected an API Gateway HTTP API (payload 2.0), Function URL or REST API (payload 1.0) event; \(detail)"
    }
}
