// A Lambda custom runtime in one file with no dependency: answers every event with {"answer":ANSWER}.
// lambda-local's --watch test edits ANSWER in a scratch copy and checks the next invocation says it.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

let answer = "first build"

/// Sends `request` to the Runtime API (HTTP/1.1, Connection: close) and returns the whole response.
func exchange(_ request: [UInt8]) -> [UInt8] {
    guard let api = getenv("AWS_LAMBDA_RUNTIME_API").map({ String(cString: $0) }),
          let colon = api.lastIndex(of: ":"), let port = UInt16(api[api.index(after: colon)...])
    else { exit(2) }
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    guard inet_pton(AF_INET, String(api[..<colon]), &address.sin_addr) == 1 else { exit(3) }
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { exit(4) }
    var sent = 0
    while sent < request.count {
        let count = request[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { exit(5) }
        sent += count
    }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { break }
        response += buffer[0..<count]
    }
    close(fd)
    return response
}

/// The value of header `name` (lower case) in a response head.
func header(_ name: String, in response: [UInt8]) -> String? {
    let text = String(decoding: response, as: UTF8.self)
    for line in text.split(separator: "\r\n") {
        let parts = line.split(separator: ":", maxSplits: 1)
        if parts.count == 2, parts[0].lowercased() == name {
            return parts[1].trimmingPrefix(" ").description
        }
    }
    return nil
}

while true {
    let next = exchange(Array("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: runtime\r\nConnection: close\r\n\r\n".utf8))
    guard let requestID = header("lambda-runtime-aws-request-id", in: next) else { exit(6) }
    let body = Array("{\"answer\":\"\(answer)\"}".utf8)
    let head = "POST /2018-06-01/runtime/invocation/\(requestID)/response HTTP/1.1\r\nHost: runtime\r\n"
        + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
    _ = exchange(Array(head.utf8) + body)
}
