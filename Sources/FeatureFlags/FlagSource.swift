#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import AWSClients
import CurlHTTP
import LeanJSON

/// What one poll of a flag source returned.
public enum FlagFetch: Sendable, Equatable {
    /// A document (possibly the same as before).
    case document([UInt8], nextPollAfter: Duration)
    /// Nothing changed since the last poll (AppConfigData's empty body).
    case unchanged(nextPollAfter: Duration)
}

/// A poll that failed; the cache keeps its last good document.
public struct FlagSourceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public let message: String
    /// Wait at least this long before the next try.
    public let retryAfter: Duration

    /// Creates an error.
    public init(_ message: String, retryAfter: Duration = .seconds(5)) {
        self.message = message
        self.retryAfter = retryAfter
    }

    /// The message.
    public var description: String { message }
}

/// Where flag documents come from.
public protocol FlagSource: Sendable {
    /// `file:…`, `agent:…` or `appconfig:…`, for logs and `GET /health`.
    var name: String { get }
    /// Fetches the current document within `timeout`.
    func fetch(timeout: Duration) async throws(FlagSourceError) -> FlagFetch
}

/// A JSON file on disk (`FLAGS_SOURCE=file`, `FLAGS_FILE`): for local runs and tests.
public struct FileFlagSource: FlagSource {
    /// The file.
    public let path: String
    /// How often it is re-read.
    public let pollInterval: Duration

    /// Creates a source reading `path`.
    public init(path: String, pollInterval: Duration = .seconds(2)) {
        self.path = path
        self.pollInterval = pollInterval
    }

    /// `file:PATH`
    public var name: String { "file:\(path)" }

    /// Reads the whole file.
    public func fetch(timeout: Duration) async throws(FlagSourceError) -> FlagFetch {
        guard let bytes = FileBytes.read(path) else {
            throw FlagSourceError("cannot read \(path)", retryAfter: pollInterval)
        }
        return .document(bytes, nextPollAfter: pollInterval)
    }
}

/// The AppConfig agent Lambda extension on localhost (`FLAGS_SOURCE=agent`).
public final class AgentFlagSource: FlagSource {
    /// `http://localhost:PORT/applications/A/environments/E/configurations/P`
    public let url: String
    /// How often the local agent is asked (it polls AppConfig itself).
    public let pollInterval: Duration
    private let session: CurlSession

    /// Creates a source for the agent on `port` (default 2772).
    public init(port: Int, application: String, environment: String, profile: String, pollInterval: Duration = .seconds(5)) throws(FlagSourceError) {
        url = "http://localhost:\(port)/applications/\(application)/environments/\(environment)/configurations/\(profile)"
        self.pollInterval = pollInterval
        do {
            session = try CurlSession(configuration: .init(connectTimeout: .milliseconds(200)))
        } catch {
            throw FlagSourceError("libcurl: \(error)")
        }
    }

    /// `agent:URL`
    public var name: String { "agent:\(url)" }

    /// One GET to the agent. Only the cache calls this, one call at a time.
    public func fetch(timeout: Duration) async throws(FlagSourceError) -> FlagFetch {
        let response: HTTPResponse
        do {
            response = try session.perform(HTTPRequest(url: url, timeout: timeout, maxResponseBodySize: 1024 * 1024))
        } catch {
            throw FlagSourceError("AppConfig agent: \(error)", retryAfter: pollInterval)
        }
        guard response.status == 200 else {
            throw FlagSourceError("AppConfig agent answered \(response.status): \(response.bodyText.prefix(200))", retryAfter: pollInterval)
        }
        return .document(response.body, nextPollAfter: pollInterval)
    }
}

/// Whole-file reads without Foundation.
enum FileBytes {
    static func read(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if count > 0 { bytes.append(contentsOf: chunk[0..<count]) }
            if count < chunk.count { break }
            if bytes.count > 4 * 1024 * 1024 { return nil }
        }
        return ferror(file) == 0 ? bytes : nil
    }
}
