#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation

/// A request the server cannot parse: answered with `status` and the connection closed.
struct HTTPParseProblem: Error {
    let status: Int
    let message: String
}

/// Reads HTTP/1.1 requests from a blocking socket: bodies with a `Content-Length`, or
/// `Transfer-Encoding: chunked` (a streamed response) with its chunks and trailers recorded.
struct SocketReader {
    let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    /// Called for every chunk of a chunked body as it arrives (its size), before the request ends.
    var onChunk: ((Int) -> Void)?
    /// The largest chunked body accepted; past it the request is answered 413.
    var maxChunkedBody = Int.max

    init(fd: Int32) {
        self.fd = fd
        buffer.reserveCapacity(64 * 1024)
    }

    /// The next request, a parse problem, or `nil` when the peer closed the connection.
    mutating func readRequest() -> Result<FakeRuntimeAPI.Request, HTTPParseProblem>? {
        guard let head = readLine(terminator: [13, 10, 13, 10]) else { return nil }
        let headText = String(decoding: head, as: UTF8.self)
        var lines = headText.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard !lines.isEmpty else { return .failure(HTTPParseProblem(status: 400, message: "empty request")) }
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count == 3 else { return .failure(HTTPParseProblem(status: 400, message: "bad request line")) }
        var headers: [(String, String)] = []
        var contentLength = 0
        var chunked = false
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = String(line[..<colon])
            let value = String(line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" })
            headers.append((name, value))
            if name.lowercased() == "content-length" { contentLength = Int(value) ?? 0 }
            if name.lowercased() == "transfer-encoding", value.lowercased() != "identity", !value.isEmpty {
                guard value.lowercased() == "chunked" else {
                    return .failure(HTTPParseProblem(status: 411, message: "send a Content-Length or chunks, not Transfer-Encoding: \(value)"))
                }
                chunked = true
            }
        }
        var request = FakeRuntimeAPI.Request(
            method: String(requestLine[0]), path: String(requestLine[1]), headers: headers, body: [], bodySize: 0)
        if chunked {
            switch readChunkedBody(into: &request) {
            case nil: return nil
            case .failure(let problem)?: return .failure(problem)
            case .success?: break
            }
        } else {
            while buffer.count - start < contentLength {
                guard fill() else { return nil }
            }
            request.body = Array(buffer[start..<(start + contentLength)])
            request.bodySize = contentLength
            start += contentLength
        }
        compact()
        request.receivedAt = .now
        return .success(request)
    }

    /// Reads `size CRLF data CRLF` chunks up to the last one, then the trailer fields up to the
    /// empty line (RFC 9112 §7.1).
    private mutating func readChunkedBody(into request: inout FakeRuntimeAPI.Request) -> Result<Void, HTTPParseProblem>? {
        request.isChunked = true
        while true {
            guard let sizeLine = readLine(terminator: [13, 10]) else { return nil }
            let sizeText = String(decoding: sizeLine, as: UTF8.self).prefix { $0 != ";" }
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0 else {
                return .failure(HTTPParseProblem(status: 400, message: "bad chunk size line \(String(decoding: sizeLine, as: UTF8.self).debugDescription)"))
            }
            if size == 0 { break }
            while buffer.count - start < size + 2 {
                guard fill() else { return nil }
            }
            guard buffer[start + size] == 13, buffer[start + size + 1] == 10 else {
                return .failure(HTTPParseProblem(status: 400, message: "chunk of \(size) bytes not followed by CRLF"))
            }
            if request.bodySize + size > maxChunkedBody {
                return .failure(HTTPParseProblem(status: 413, message: "streamed body over \(maxChunkedBody) bytes"))
            }
            request.body.append(contentsOf: buffer[start..<(start + size)])
            request.bodySize += size
            request.chunkSizes.append(size)
            if request.firstChunkAt == nil { request.firstChunkAt = .now }
            start += size + 2
            if start > 1 << 20 { compactPartially() }
            onChunk?(size)
        }
        while true {
            guard let line = readLine(terminator: [13, 10]) else { return nil }
            if line.isEmpty { break }
            let text = String(decoding: line, as: UTF8.self)
            guard let colon = text.firstIndex(of: ":") else {
                return .failure(HTTPParseProblem(status: 400, message: "bad trailer line \(text.debugDescription)"))
            }
            let value = String(text[text.index(after: colon)...].drop { $0 == " " || $0 == "\t" })
            request.trailers.append((String(text[..<colon]), value))
        }
        return .success(())
    }

    /// The bytes before the next `terminator`, consumed with it; `nil` when the peer closed first.
    private mutating func readLine(terminator: [UInt8]) -> [UInt8]? {
        var scanned = 0
        while true {
            if let end = find(terminator, from: start + scanned) {
                let line = Array(buffer[start..<end])
                start = end + terminator.count
                return line
            }
            scanned = max(0, buffer.count - start - terminator.count + 1)
            guard fill() else { return nil }
        }
    }

    private func find(_ pattern: [UInt8], from: Int) -> Int? {
        guard buffer.count - from >= pattern.count else { return nil }
        var index = from
        while index + pattern.count <= buffer.count {
            if buffer[index] == pattern[0] {
                var matches = true
                for offset in 1..<pattern.count where buffer[index + offset] != pattern[offset] {
                    matches = false
                    break
                }
                if matches { return index }
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

    /// Drops consumed bytes in the middle of a long chunked body, so the buffer does not hold it twice.
    private mutating func compactPartially() {
        buffer.removeFirst(start)
        start = 0
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
