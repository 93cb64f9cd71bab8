import CurlHTTP
import Foundation
import LambdaLocal
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// Paths of the executables the tests run.
enum Executables {
    /// The real bootstrap, built beside the test bundle.
    static let bootstrap: String = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("bootstrap").path

    /// lambda-local itself.
    static let lambdaLocal: String = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("lambda-local").path

    /// The sh + curl runtime whose behaviour each event picks.
    static let scripted: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/scripted-bootstrap.sh").path
}

/// Collects START/END/REPORT lines.
final class LineRecorder: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

/// A running lambda-local (library) on a free port, and a client for it.
final class LocalFixture: @unchecked Sendable {
    let server: LocalServer
    let group: MultiThreadedEventLoopGroup
    let logs = LineRecorder()
    let port: Int

    init(_ configuration: LocalConfiguration) async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let logs = self.logs
        let lambda = try LocalLambda(configuration: configuration, loop: group.next()) { logs.append($0) }
        server = LocalServer(lambda: lambda)
        try await server.start(port: 0)
        port = try #require(server.port)
    }

    static func scripted(timeout: Duration = .seconds(10), handler: String = "echo", environment: [String: String] = [:]) -> LocalConfiguration {
        var configuration = LocalConfiguration(bootstrapPath: Executables.scripted)
        configuration.timeout = timeout
        configuration.handler = handler
        configuration.environment = environment
        return configuration
    }

    static func echo(handler: String = "echo") -> LocalConfiguration {
        var configuration = LocalConfiguration(bootstrapPath: Executables.bootstrap)
        configuration.handler = handler
        return configuration
    }

    /// Runs `body` with a started fixture and always stops it afterwards.
    static func with(_ configuration: LocalConfiguration, _ body: (LocalFixture) async throws -> Void) async throws {
        let local = try await LocalFixture(configuration)
        do {
            try await body(local)
        } catch {
            await local.stop()
            throw error
        }
        await local.stop()
    }

    /// Waits up to five seconds for a file a child writes after answering.
    static func contents(ofFileWrittenLater path: String) async throws -> String {
        for _ in 0..<500 {
            if let text = try? String(contentsOfFile: path, encoding: .utf8), text.hasSuffix("\n") { return text }
            try await Task.sleep(for: .milliseconds(10))
        }
        return try String(contentsOfFile: path, encoding: .utf8)
    }

    func stop() async {
        await server.stop()
        try? await group.shutdownGracefully()
    }

    /// POSTs to the Invoke API.
    func invoke(_ body: String, function: String = "function", query: String = "", headers: CurlHTTP.HTTPHeaders = [:]) throws -> HTTPResponse {
        try invoke(Array(body.utf8), function: function, query: query, headers: headers)
    }

    func invoke(_ body: [UInt8], function: String = "function", query: String = "", headers: CurlHTTP.HTTPHeaders = [:]) throws -> HTTPResponse {
        try request(.post, "/2015-03-31/functions/\(function)/invocations\(query)", body: body, headers: headers)
    }

    /// Any request to the front door.
    func request(_ method: CurlHTTP.HTTPMethod, _ path: String, body: [UInt8] = [], headers: CurlHTTP.HTTPHeaders = [:]) throws -> HTTPResponse {
        let session = try CurlSession()
        return try session.perform(CurlHTTP.HTTPRequest(
            method: method, url: "http://127.0.0.1:\(port)\(path)", headers: headers, body: body, timeout: .seconds(60)))
    }

    /// `GET /_local/stats` as JSON.
    func stats() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(request(.get, "/_local/stats").body)) as? [String: Any])
    }
}

func json(_ response: HTTPResponse) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]
}

/// Where `a` and `b` first differ (the shorter one's length when one is a prefix of the other), `nil` when
/// they are equal. For payloads of megabytes: on a mismatch, `#expect(a == b)` computes a diff of the two
/// arrays that takes minutes and holds the whole test run.
func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int? {
    let shared = min(a.count, b.count)
    if let index = (0..<shared).first(where: { a[$0] != b[$0] }) { return index }
    return a.count == b.count ? nil : shared
}
