/// The Runtime API's endpoints: the paths a runtime calls and the routes a server recognizes.
public enum RuntimeAPIRoute: Sendable, Equatable {
    /// `GET /2018-06-01/runtime/invocation/next`: wait for the next event.
    case next
    /// `POST /2018-06-01/runtime/invocation/{id}/response`: the result (buffered or streamed).
    case response(requestID: String)
    /// `POST /2018-06-01/runtime/invocation/{id}/error`: the invocation failed.
    case error(requestID: String)
    /// `POST /2018-06-01/runtime/init/error`: initialization failed.
    case initError

    /// The API version in every path.
    public static let version = "2018-06-01"
    /// `/2018-06-01/runtime`: what every endpoint's path starts with (after an emulator's prefix).
    public static let basePath = "/\(version)/runtime"

    /// The method the endpoint takes.
    public var method: String {
        switch self {
        case .next: "GET"
        case .response, .error, .initError: "POST"
        }
    }

    /// The path below ``basePath``, with `requestID` as given (a client percent-encodes it first).
    public var relativePath: String {
        switch self {
        case .next: "/invocation/next"
        case .response(let requestID): "/invocation/\(requestID)/response"
        case .error(let requestID): "/invocation/\(requestID)/error"
        case .initError: "/init/error"
        }
    }

    /// The full path: ``basePath`` + ``relativePath``.
    public var path: String { Self.basePath + relativePath }

    /// Recognizes a request by method and path (an emulator's prefix already removed; a query is not
    /// expected). Method and path segments compare as bytes; the request id is the raw segment.
    /// `nil` for anything else (a server answers 404).
    public init?(method: String, path: String) {
        let parts = path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
        func part(_ index: Int, is text: String) -> Bool { parts[index].elementsEqual(text.utf8) }
        guard parts.count >= 4, part(0, is: Self.version), part(1, is: "runtime") else { return nil }
        let isGET = method.utf8.elementsEqual("GET".utf8)
        let isPOST = method.utf8.elementsEqual("POST".utf8)
        switch parts.count {
        case 4 where isGET && part(2, is: "invocation") && part(3, is: "next"):
            self = .next
        case 4 where isPOST && part(2, is: "init") && part(3, is: "error"):
            self = .initError
        case 5 where isPOST && part(2, is: "invocation") && part(4, is: "response"):
            self = .response(requestID: String(decoding: parts[3], as: UTF8.self))
        case 5 where isPOST && part(2, is: "invocation") && part(4, is: "error"):
            self = .error(requestID: String(decoding: parts[3], as: UTF8.self))
        default:
            return nil
        }
    }
}
