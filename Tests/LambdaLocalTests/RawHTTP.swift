#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import LambdaCore
import Synchronization

/// A blocking HTTP/1.1 client over one TCP connection to 127.0.0.1, written for these tests: it sends
/// chunked bodies with trailers (which neither libcurl's easy API nor the bootstrap on this branch offer)
/// and reads chunked answers chunk by chunk, so a test can see when each chunk arrives.
final class RawHTTP: @unchecked Sendable {
    /// A response head.
    struct Head {
        var status: Int
        /// Header fields in order, names as sent.
        var fields: [(name: String, value: String)]

        /// The first value of `name` (ASCII case-insensitive).
        func value(_ name: String) -> String? {
            fields.first { $0.name.lowercased().utf8.elementsEqual(name.lowercased().utf8) }?.value
        }

        /// Every value of `name`.
        func values(_ name: String) -> [String] {
            fields.filter { $0.name.lowercased().utf8.elementsEqual(name.lowercased().utf8) }.map(\.value)
        }

        var isChunked: Bool { value("Transfer-Encoding")?.lowercased() == "chunked" }
    }

    /// A complete response.
    struct Response {
        var head: Head
        var body: [UInt8]
        var status: Int { head.status }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    enum Failure: Error { case connect(Int32), closed, malformed(String), timeout }

    private let fd: Int32
    private var buffer: [UInt8] = []

    /// Connects to `127.0.0.1:port`; every read gives up after `timeout`.
    init(port: Int, timeout: Duration = .seconds(60)) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure.connect(errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        // On a throw from here, deinit closes the socket (the object is fully initialized).
        guard connected == 0 else { throw Failure.connect(errno) }
        var seconds = timeval(tv_sec: Int(timeout.wholeSeconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &seconds, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Connects to a Runtime API address `host:port`.
    convenience init(runtimeAPI: String) throws {
        guard let port = runtimeAPI.split(separator: ":").last.flatMap({ Int($0) }) else { throw Failure.malformed(runtimeAPI) }
        try self.init(port: port)
    }

    deinit { close(fd) }

    /// Writes all of `bytes`.
    func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw Failure.closed }
            offset += sent
        }
    }

    func write(_ text: String) throws { try write(Array(text.utf8)) }

    /// Sends a request with a `Content-Length` body.
    func send(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []) throws {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(body.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        try write(Array((head + "\r\n").utf8) + body)
    }

    /// Sends the head of a chunked request; then ``sendChunk(_:)`` and ``endChunks(trailers:)``.
    func startChunked(_ method: String, _ path: String, headers: [(String, String)]) throws {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        try write(head + "\r\n")
    }

    func sendChunk(_ bytes: [UInt8]) throws {
        guard !bytes.isEmpty else { return }
        try write(Array(String(bytes.count, radix: 16).utf8) + [13, 10] + bytes + [13, 10])
    }

    func endChunks(trailers: [(String, String)] = []) throws {
        var end = "0\r\n"
        for (name, value) in trailers { end += "\(name): \(value)\r\n" }
        try write(end + "\r\n")
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count < 0, errno == EAGAIN || errno == EWOULDBLOCK { throw Failure.timeout }
        guard count > 0 else { throw Failure.closed }
        buffer.append(contentsOf: chunk[0..<count])
    }

    private func line() throws -> String {
        while true {
            if let end = buffer.firstIndex(of: 10) {
                let text = String(decoding: buffer[..<end], as: UTF8.self)
                buffer.removeSubrange(...end)
                return text.hasSuffix("\r") ? String(text.dropLast()) : text
            }
            try fill()
        }
    }

    private func take(_ count: Int) throws -> [UInt8] {
        while buffer.count < count { try fill() }
        let taken = Array(buffer[..<count])
        buffer.removeSubrange(..<count)
        return taken
    }

    /// Reads a response head.
    func readHead() throws -> Head {
        let statusLine = try line()
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw Failure.malformed(statusLine) }
        var fields: [(name: String, value: String)] = []
        while true {
            let field = try line()
            if field.isEmpty { break }
            guard let colon = field.firstIndex(of: ":") else { throw Failure.malformed(field) }
            fields.append((String(field[..<colon]), field[field.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        return Head(status: status, fields: fields)
    }

    /// The next chunk of a chunked body; `nil` at its end (trailers skipped).
    func readChunk() throws -> [UInt8]? {
        let sizeLine = try line()
        guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else { throw Failure.malformed(sizeLine) }
        if size == 0 {
            while try !line().isEmpty {}
            return nil
        }
        let data = try take(size)
        _ = try take(2)
        return data
    }

    /// Reads a whole response (chunked or `Content-Length`).
    func readResponse() throws -> Response {
        let head = try readHead()
        var body: [UInt8] = []
        if head.isChunked {
            while let chunk = try readChunk() { body += chunk }
        } else if let length = head.value("Content-Length").flatMap({ Int($0) }) {
            body = try take(length)
        }
        return Response(head: head, body: body)
    }
}

/// Blocking work started on a thread of its own at once, for a later `await value`. Unlike
/// `Task { try await onThread { … } }`, whose task first waits for a free cooperative thread (in a full
/// parallel run other tests can hold both for seconds), the work is under way when `init` returns.
final class ThreadCall<T: Sendable>: Sendable {
    private let state = Mutex<(result: Result<T, any Error>?, waiter: CheckedContinuation<T, any Error>?)>((nil, nil))

    init(_ work: @escaping @Sendable () throws -> T) {
        Thread { [self] in
            let result = Result { try work() }
            let waiter = state.withLock { state -> CheckedContinuation<T, any Error>? in
                state.result = result
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(with: result)
        }.start()
    }

    /// What the work returned or threw, once it has ended.
    var value: T {
        get async throws {
            try await withCheckedThrowingContinuation { continuation in
                let ended = state.withLock { state -> Result<T, any Error>? in
                    if state.result == nil { state.waiter = continuation }
                    return state.result
                }
                if let ended { continuation.resume(with: ended) }
            }
        }
    }
}

/// Runs blocking work on a thread of its own (not the cooperative pool, which has as many threads as cores).
func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await ThreadCall(work).value
}

/// Bytes that differ at every position and from run to run of the pattern, for byte-identity checks.
func patternBytes(_ count: Int, seed: UInt32 = 0x9E37_79B9) -> [UInt8] {
    var state = seed
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBufferPointer { buffer in
        for index in buffer.indices {
            state ^= state << 13
            state ^= state >> 17
            state ^= state << 5
            buffer[index] = UInt8(truncatingIfNeeded: state)
        }
    }
    return bytes
}
