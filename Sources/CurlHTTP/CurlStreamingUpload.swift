#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CCurl

/// A request whose body is sent as it is produced, over one ``CurlSession``'s handle:
/// `Transfer-Encoding: chunked`, a chunk per ``write(_:)-([UInt8])``, then the last chunk and
/// the trailers given to ``finish(trailers:)``.
///
/// How it stays on one thread without busy-waiting: the transfer runs on the session's stream multi
/// handle. A write hands its bytes to libcurl's read callback and performs until libcurl has put
/// all of them on the connection and asks for more; the callback then answers
/// `CURL_READFUNC_PAUSE`, which pauses the sending side, and the write returns. Between writes
/// nothing runs and nothing polls. While the socket is full a write waits in `curl_multi_poll`
/// (back-pressure), never in a loop. When a write returns, every byte of it is in the kernel's
/// socket buffer (libcurl only asks its read callback again once its upload buffer is empty).
///
/// Not for concurrent use, and not `Sendable`: the session's handle is driven by whoever writes.
/// A write or finish after the upload ended returns (or throws) how it ended.
public final class CurlStreamingUpload {
    private let session: CurlSession
    /// This upload's own easy handle (see ``CurlSession/startStreamingUpload(_:)``), cleaned up when it ends.
    private let handle: UnsafeMutableRawPointer
    let source = UploadSource()
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let limit: Int?
    private var ended: Result<HTTPResponse, CurlError>?

    init(session: CurlSession, handle: UnsafeMutableRawPointer, headerList: UnsafeMutablePointer<curl_slist>?, limit: Int?) {
        self.session = session
        self.handle = handle
        self.headerList = headerList
        self.limit = limit
    }

    deinit {
        cancel()
    }

    /// Whether the upload has ended (answered, failed or cancelled).
    public var hasEnded: Bool { ended != nil }

    /// Body bytes handed to libcurl so far.
    public var bytesSent: Int { source.sentBefore + source.offset }

    /// Sends `bytes` as the next part of the body; returns once libcurl has written all of them to
    /// the connection.
    ///
    /// - Returns: `nil` while the upload goes on; the server's response when it answered before
    ///   the body was complete (the upload is over then: nothing more is sent, and later writes
    ///   return the same response).
    /// - Throws: the transfer failed (connection lost, refused, timed out).
    @discardableResult
    public func write(_ bytes: UnsafeRawBufferPointer) throws(CurlError) -> HTTPResponse? {
        if let ended { return try ended.get() }
        guard bytes.count > 0 else { return nil }
        source.begin(bytes)
        // The pointer is only valid during this call: libcurl copies out of it in the read callback.
        defer { source.forgetPending() }
        return try drive { $0.drained }
    }

    /// Sends `bytes` as the next part of the body; see ``write(_:)-(UnsafeRawBufferPointer)``.
    @discardableResult
    public func write(_ bytes: [UInt8]) throws(CurlError) -> HTTPResponse? {
        let result = bytes.withUnsafeBytes { buffer in Result { () throws(CurlError) in try write(buffer) } }
        return try result.get()
    }

    /// Ends the body with the last chunk and `trailers`, and waits for the response.
    ///
    /// Trailers whose name or value holds CR, LF or NUL are refused (``CurlError/Kind/invalidRequest``)
    /// and the upload is cancelled: the server sees a body that never ended, not a forged field.
    /// Declare the trailer names up front in a `Trailer` request header.
    public func finish(trailers: HTTPHeaders = [:]) throws(CurlError) -> HTTPResponse {
        if let ended { return try ended.get() }
        do throws(CurlError) {
            try CurlSession.checkLineSafety(trailers, what: "trailer")
        } catch {
            end(.failure(error))
            throw error
        }
        source.finish(trailers: trailers)
        while true {
            if let response = try drive(until: { _ in false }) { return response }
        }
    }

    /// Abandons the upload: the handle leaves the multi handle mid-transfer, so libcurl closes the
    /// connection and the server sees a body that never ended. Does nothing once it has ended.
    public func cancel() {
        guard ended == nil else { return }
        end(.failure(CurlError(code: 0, message: "the streamed request was cancelled", kind: .other)))
    }

    /// Performs until `satisfied` holds or the transfer ends; returns the response once it ended.
    private func drive(until satisfied: (UploadSource) -> Bool) throws(CurlError) -> HTTPResponse? {
        if source.paused {
            source.paused = false
            let resumed = ccurl_unpause(handle)
            if resumed != CURLE_OK {
                let error = CurlError(code: resumed, detail: "")
                end(.failure(error))
                throw error
            }
        }
        while true {
            if let result = session.step(handle) {
                let outcome: Result<HTTPResponse, CurlError>
                do throws(CurlError) {
                    outcome = .success(try session.response(of: handle, for: result, limit: limit))
                } catch {
                    outcome = .failure(error)
                }
                end(outcome)
                return try outcome.get()
            }
            if satisfied(source) { return nil }
            session.waitForActivity()
        }
    }

    private func end(_ outcome: Result<HTTPResponse, CurlError>) {
        ended = outcome
        source.forgetPending()
        session.remove(handle)
        curl_easy_cleanup(handle)
        curl_slist_free_all(headerList)
        headerList = nil
        session.uploadInProgress = false
    }

    /// For `startStreamingUpload` when setting up failed before the transfer began.
    func release() {
        ended = .failure(CurlError(code: 0, message: "the streamed request could not be set up", kind: .setupFailed))
        session.remove(handle)
        curl_easy_cleanup(handle)
        curl_slist_free_all(headerList)
        headerList = nil
    }
}

/// What libcurl's read, seek and trailer callbacks of a streamed upload see.
final class UploadSource {
    /// The bytes of the write in progress (valid only during it) and how many libcurl has taken.
    private(set) var pending = UnsafeRawBufferPointer(start: nil, count: 0)
    private(set) var offset = 0
    /// Bytes of earlier writes libcurl has taken.
    private(set) var sentBefore = 0
    /// libcurl asked for more after taking all of `pending` (so all of it is on the connection).
    private(set) var drained = false
    /// The read callback paused the sending side; the next write or finish resumes it.
    var paused = false
    /// The body is complete: the next read ends it (then libcurl asks for the trailers).
    private(set) var finishing = false
    private(set) var trailers = HTTPHeaders()

    func begin(_ bytes: UnsafeRawBufferPointer) {
        sentBefore += offset
        pending = bytes
        offset = 0
        drained = false
    }

    func forgetPending() {
        sentBefore += offset
        pending = UnsafeRawBufferPointer(start: nil, count: 0)
        offset = 0
    }

    func finish(trailers: HTTPHeaders) {
        forgetPending()
        self.trailers = trailers
        finishing = true
    }

    /// The read callback: copies what is pending; at the end of the body returns 0 (libcurl then
    /// sends the last chunk and trailers); otherwise pauses until the next write.
    func read(into buffer: UnsafeMutableRawPointer, capacity: Int) -> Int {
        let remaining = pending.count - offset
        if remaining > 0, let base = pending.baseAddress {
            let count = min(remaining, capacity)
            buffer.copyMemory(from: base + offset, byteCount: count)
            offset += count
            return count
        }
        if finishing { return 0 }
        drained = true
        paused = true
        return Int(CURL_READFUNC_PAUSE)
    }

    /// The seek callback: libcurl rewinds when it resends the request on a fresh connection (a
    /// kept-alive one that turned out dead). Possible only while nothing but the current write has
    /// been taken: earlier writes are gone.
    func seek(to position: Int64, origin: Int32) -> Int32 {
        guard origin == SEEK_SET, sentBefore == 0, position >= 0, position <= Int64(pending.count) else {
            return CURL_SEEKFUNC_CANTSEEK
        }
        offset = Int(position)
        drained = false
        return CURL_SEEKFUNC_OK
    }
}

let curlReadUpload: ccurl_data_callback = { buffer, size, count, userdata in
    guard let buffer, let userdata else { return Int(CURL_READFUNC_ABORT) }
    let source = Unmanaged<UploadSource>.fromOpaque(userdata).takeUnretainedValue()
    return source.read(into: UnsafeMutableRawPointer(buffer), capacity: size * count)
}

let curlSeekUpload: curl_seek_callback = { userdata, offset, origin in
    guard let userdata else { return CURL_SEEKFUNC_FAIL }
    return Unmanaged<UploadSource>.fromOpaque(userdata).takeUnretainedValue().seek(to: Int64(offset), origin: origin)
}

let curlUploadTrailers: curl_trailer_callback = { list, userdata in
    guard let list, let userdata else { return CURL_TRAILERFUNC_ABORT }
    let source = Unmanaged<UploadSource>.fromOpaque(userdata).takeUnretainedValue()
    // libcurl frees the list once it has written the trailers.
    for field in source.trailers {
        guard let appended = curl_slist_append(list.pointee, "\(field.name): \(field.value)") else {
            return CURL_TRAILERFUNC_ABORT
        }
        list.pointee = appended
    }
    return CURL_TRAILERFUNC_OK
}
