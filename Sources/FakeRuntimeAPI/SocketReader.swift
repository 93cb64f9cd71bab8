#if canImport(Glibc)
import Glibc
#endif

/// A request the server cannot parse: answered with `status` and the connection closed.
struct HTTPParseProblem: Error {
    let status: Int
    let message: String
}

/// Reads HTTP/1.1 requests with `Content-Length` bodies from a blocking socket.
struct SocketReader {
    let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0

    init(fd: Int32) {
        self.fd = fd
        buffer.reserveCapacity(64 * 1024)
    }

    /// The next request, a parse problem, or `nil` when the peer closed the connection.
    mutating func readRequest() -> Result<FakeRuntimeAPI.Request, HTTPParseProblem>? {
        var headEnd: Int?
        while true {
            if let end = findHeaderEnd() {
                headEnd = end
                break
            }
            guard fill() else { return nil }
        }
        guard let headEnd else { return nil }
        let head = String(decoding: buffer[start..<headEnd], as: UTF8.self)
        start = headEnd + 4
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard !lines.isEmpty else { return .failure(HTTPParseProblem(status: 400, message: "empty request")) }
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count == 3 else { return .failure(HTTPParseProblem(status: 400, message: "bad request line")) }
        var headers: [(String, String)] = []
        var contentLength = 0
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = String(line[..<colon])
            let value = String(line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" })
            headers.append((name, value))
            if name.lowercased() == "content-length" { contentLength = Int(value) ?? 0 }
            if name.lowercased() == "transfer-encoding", value.lowercased() != "identity", !value.isEmpty {
                return .failure(HTTPParseProblem(status: 411, message: "send a Content-Length, not Transfer-Encoding: \(value)"))
            }
        }
        while buffer.count - start < contentLength {
            guard fill() else { return nil }
        }
        let body = Array(buffer[start..<(start + contentLength)])
        start += contentLength
        compact()
        return .success(FakeRuntimeAPI.Request(
            method: String(requestLine[0]), path: String(requestLine[1]), headers: headers, body: body,
            bodySize: contentLength))
    }

    private func findHeaderEnd() -> Int? {
        guard buffer.count - start >= 4 else { return nil }
        var index = start
        while index + 3 < buffer.count {
            if buffer[index] == 13, buffer[index + 1] == 10, buffer[index + 2] == 13, buffer[index + 3] == 10 {
                return index
            }
            index += 1
        }
        return nil
    }

    private mutating func compact() {
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
    }

    /// Reads more bytes; `false` when the connection is closed or broken.
    private mutating func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return false }
            if start > 0, start == buffer.count {
                buffer.removeAll(keepingCapacity: true)
                start = 0
            }
            buffer.append(contentsOf: chunk[0..<count])
            return true
        }
    }
}
