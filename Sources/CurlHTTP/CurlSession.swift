#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CCurl
import LambdaCore

/// One libcurl easy handle, reused for every request so the connection stays alive between calls.
///
/// Not for concurrent use: one session serves one request at a time, as a libcurl easy handle does.
/// It may move between tasks (a pool hands sessions out), hence `@unchecked Sendable`.
/// The handle is configured with the session's fixed settings (HTTP/1.1, no proxy, `TCP_NODELAY`,
/// no signals, a short connect timeout) after a `curl_easy_reset` (libcurl keeps its connection
/// cache); an unsigned request that follows a clean transfer on an open connection skips the reset
/// and sets only its URL and timeout (when they changed), method and headers.
///
/// Streamed uploads (``startStreamingUpload(_:)``), which must be driven a piece at a time, run on
/// a multi handle of their own, made at the first one, with its own kept-alive connection. Buffered
/// requests keep `curl_easy_perform` and their connection: a multi handle made by `curl_multi_init`
/// has larger hash tables (911 sockets, 97 connections, 71 DNS entries, against 1, 3 and 7 for the
/// one `curl_easy_perform` makes), which libcurl walks on every transfer: routing buffered requests
/// through it cost 2,900 instructions per invocation (measured with callgrind), for nothing.
public final class CurlSession: @unchecked Sendable {
    /// Settings that hold for every request of a session.
    public struct Configuration: Sendable {
        /// How long to wait for a TCP connection before failing with ``CurlError/Kind/couldNotConnect``.
        public var connectTimeout: Duration
        /// The `User-Agent` header sent with every request; empty sends none.
        public var userAgent: String
        /// The CA bundle for HTTPS (`CURLOPT_CAINFO`); `nil` uses libcurl's built-in default.
        public var caBundlePath: String?

        /// Creates a configuration.
        public init(
            connectTimeout: Duration = .seconds(1), userAgent: String = "swift-lambda-bluegreen/0.1",
            caBundlePath: String? = nil
        ) {
            self.connectTimeout = connectTimeout
            self.userAgent = userAgent
            self.caBundlePath = caBundlePath
        }
    }

    /// The settings this session was made with.
    public let configuration: Configuration

    private let handle: UnsafeMutableRawPointer
    /// The multi handle streamed uploads run on; made at the first.
    private var streamMulti: UnsafeMutableRawPointer?
    private let errorBuffer: UnsafeMutablePointer<CChar>
    let sink = ResponseSink()
    /// Set while a ``CurlStreamingUpload`` owns the handle.
    var uploadInProgress = false
    /// What the handle keeps from the last request when the next may skip `curl_easy_reset`.
    /// Updated in place (not an optional struct made, copied and destroyed per request: its strings
    /// cost a retain or a release at each step). Never used by two requests at once.
    @exclusivity(unchecked) private var kept = KeptOptions()
    /// `User-Agent` (unless the configuration's is empty), `Accept:`: what every unsigned request
    /// without a body sends first.
    private let defaultFields: KeptHeaderList?
    /// `User-Agent`, `Accept:`, `Expect:`, `Transfer-Encoding:`, `Content-Type:`: what every unsigned
    /// request with a body but no `Content-Type` sends first.
    private let suppressions: KeptHeaderList
    /// `User-Agent`, `Accept:`, `Expect:`, `Transfer-Encoding:`: the same for a request that names
    /// its `Content-Type`.
    private let suppressionsKeepingContentType: KeptHeaderList

    /// Creates a session with its own easy handle.
    public init(configuration: Configuration = Configuration()) throws(CurlError) {
        guard CurlSession.globalInit == CURLE_OK, let handle = curl_easy_init() else {
            throw CurlError(code: 0, message: "curl_easy_init failed", kind: .setupFailed)
        }
        guard CurlSession.isLineSafe(configuration.userAgent) else {
            curl_easy_cleanup(handle)
            throw CurlError(code: 0, message: "the User-Agent contains CR, LF or NUL", kind: .invalidRequest)
        }
        // The `User-Agent` field first, made once here: libcurl formats `CURLOPT_USERAGENT` into a new
        // string at every transfer, then copies it byte by byte into the request (about 4,000
        // instructions a request); a field of a kept list is copied once.
        // Then an empty `Accept:`, which stops libcurl from sending `Accept: */*` (copied byte by
        // byte into every request too): a request without Accept accepts any media type (RFC 9110
        // 12.5.1), the same meaning in 13 fewer bytes. A request's own Accept is still sent.
        let userAgent: [(String, String)] = configuration.userAgent.isEmpty ? [] : [("User-Agent", configuration.userAgent)]
        let blank = { (names: [String]) in names.map { ($0, "") } }
        var made: [KeptHeaderList?] = []
        for fields in [
            userAgent + blank(["Accept"]),
            userAgent + blank(["Accept", "Expect", "Transfer-Encoding", "Content-Type"]),
            userAgent + blank(["Accept", "Expect", "Transfer-Encoding"]),
        ] {
            do throws(CurlError) {
                made.append(try KeptHeaderList(fields, startsWithUserAgent: !userAgent.isEmpty))
            } catch {
                made.forEach { $0?.free() }
                curl_easy_cleanup(handle)
                throw error
            }
        }
        guard let suppressions = made[1], let suppressionsKeepingContentType = made[2] else {
            made.forEach { $0?.free() }
            curl_easy_cleanup(handle)
            throw CurlError(code: 0, message: "out of memory building headers", kind: .setupFailed)
        }
        self.defaultFields = made[0]
        self.suppressions = suppressions
        self.suppressionsKeepingContentType = suppressionsKeepingContentType
        self.configuration = configuration
        self.handle = handle
        self.errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        self.errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        // No upload is in the multi handle now: an upload removes its handle when it ends, and keeps
        // the session alive until then.
        curl_easy_cleanup(handle)
        if let streamMulti { curl_multi_cleanup(streamMulti) }
        defaultFields?.free()
        suppressions.free()
        suppressionsKeepingContentType.free()
        errorBuffer.deallocate()
    }

    /// libcurl's process-wide set-up, done once before the first handle (it is not thread-safe itself).
    /// Without OpenSSL's error strings: 1 M of the 2.6 M instructions of a cold start, for HTTPS the
    /// Runtime API does not use; TLS errors keep their codes.
    private static let globalInit: CURLcode = ccurl_global_init_without_tls_error_strings(Int(CURL_GLOBAL_DEFAULT))

    /// Sends `request` and waits for the complete response.
    ///
    /// Any status code is a response; only a transfer that produced no response throws.
    public func perform(_ request: borrowing HTTPRequest) throws(CurlError) -> HTTPResponse {
        let sendsBody = request.method.sendsBody
        // Asked once: every `request.signing == nil` copies and destroys the optional's five
        // strings (about 140 instructions, four times per request).
        let signed = request.signing != nil
        let reusing = !signed && kept.isValid
        kept.isValid = false
        let headers = try configure(
            handle, for: request, sendsBody: sendsBody, streaming: false, signed: signed, reusing: reusing)
        defer { headers.release() }

        let result: CURLcode = request.body.withUnsafeBytes { bytes in
            if sendsBody {
                // POSTFIELDS must never be NULL: libcurl would then read the body from stdin.
                let base = bytes.baseAddress ?? UnsafeRawPointer(CurlSession.emptyBody.utf8Start)
                let pointer = UnsafeMutableRawPointer(mutating: base)
                let sizeSet = ccurl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count))
                guard sizeSet == CURLE_OK else { return sizeSet }
                let bodySet = ccurl_setopt_pointer(handle, CURLOPT_POSTFIELDS, pointer)
                guard bodySet == CURLE_OK else { return bodySet }
            }
            return curl_easy_perform(handle)
        }
        // The next request may skip `curl_easy_reset` only after a clean transfer on a connection
        // that was already open: libcurl counts the retries on a dead kept-alive connection
        // (`state.retrycount`, at most 5) until a reset, and a retry always opens a new connection.
        var connections = 0
        if result == CURLE_OK, !signed,
           ccurl_getinfo_long(handle, CURLINFO_NUM_CONNECTS, &connections) == CURLE_OK, connections == 0 {
            kept.isValid = true
            kept.url = request.url
            kept.customMethod = Self.customMethod(of: request.method)
            kept.timeoutMilliseconds = request.timeout?.milliseconds ?? 0
        }
        return try response(of: handle, for: result, limit: request.maxResponseBodySize)
    }

    /// Starts a request whose body is sent as it is produced: `Transfer-Encoding: chunked`, one
    /// HTTP chunk per write (libcurl splits writes larger than its 64 KiB upload buffer), then the
    /// last chunk with trailers. Nothing is sent until the first ``CurlStreamingUpload/write(_:)``
    /// or ``CurlStreamingUpload/finish(trailers:)``.
    ///
    /// The session serves nothing else until the upload has finished, failed or been cancelled
    /// (``perform(_:)`` meanwhile throws ``CurlError/Kind/invalidRequest``). The connection is
    /// kept alive afterwards, as for any request the server answers completely.
    public func startStreamingUpload(_ request: HTTPRequest) throws(CurlError) -> CurlStreamingUpload {
        guard request.method.sendsBody else {
            throw CurlError(code: 0, message: "\(request.method) sends no body to stream", kind: .invalidRequest)
        }
        // A fresh easy handle for every stream: libcurl 7.88 (Debian 12's, which the bootstrap links)
        // never resets an easy handle's trailer state (`state.trailers_state` stays DONE after a
        // chunked upload with a trailer callback, through `curl_easy_reset` too), and the next chunked
        // upload on that handle then writes its chunk-size prefix in front of the upload buffer (heap
        // corruption). The connection is not lost: it lives in the stream multi handle's cache.
        if streamMulti == nil {
            guard let made = curl_multi_init() else {
                throw CurlError(code: 0, message: "curl_multi_init failed", kind: .setupFailed)
            }
            streamMulti = made
        }
        guard let streamHandle = curl_easy_init() else {
            throw CurlError(code: 0, message: "curl_easy_init failed", kind: .setupFailed)
        }
        let headerList: UnsafeMutablePointer<curl_slist>?
        do throws(CurlError) {
            // Made for this request alone (never the session's kept lists): the upload frees it.
            headerList = try configure(
                streamHandle, for: request, sendsBody: true, streaming: true, signed: request.signing != nil, reusing: false).head
        } catch {
            curl_easy_cleanup(streamHandle)
            throw error
        }
        let upload = CurlStreamingUpload(
            session: self, handle: streamHandle, headerList: headerList, limit: request.maxResponseBodySize)
        let pointer = Unmanaged.passUnretained(upload.source).toOpaque()
        do throws(CurlError) {
            try check(ccurl_setopt_off_t(streamHandle, CURLOPT_POSTFIELDSIZE_LARGE, -1))
            try check(ccurl_setopt_callback(streamHandle, CURLOPT_READFUNCTION, curlReadUpload))
            try check(ccurl_setopt_pointer(streamHandle, CURLOPT_READDATA, pointer))
            try check(ccurl_setopt_seek_callback(streamHandle, curlSeekUpload))
            try check(ccurl_setopt_pointer(streamHandle, CURLOPT_SEEKDATA, pointer))
            try check(ccurl_setopt_trailer_callback(streamHandle, curlUploadTrailers))
            try check(ccurl_setopt_pointer(streamHandle, CURLOPT_TRAILERDATA, pointer))
            try add(streamHandle)
        } catch {
            upload.release()
            throw error
        }
        uploadInProgress = true
        return upload
    }

    /// Applies `request`'s URL, method, timeout, signing and headers; returns the header list, which
    /// must live until the transfer ends.
    ///
    /// With `reusing` (an unsigned request after a clean transfer of the session's own handle, whose
    /// settings ``kept`` describes) the
    /// handle keeps its settings and only what differs is set: the URL when it changed (libcurl
    /// copies it at every set), the method, the timeout, the headers. Otherwise the handle is reset
    /// (`curl_easy_reset`) and configured in full: the session's fixed settings first.
    private func configure(
        _ handle: UnsafeMutableRawPointer, for request: HTTPRequest, sendsBody: Bool, streaming: Bool, signed: Bool,
        reusing: Bool
    ) throws(CurlError) -> RequestHeaderList {
        guard !uploadInProgress else {
            throw CurlError(code: 0, message: "the session is still streaming a request body", kind: .invalidRequest)
        }
        try Self.checkLineSafety(request)
        errorBuffer[0] = 0
        sink.reset(limit: request.maxResponseBodySize, selection: request.responseHeaders)

        var headers = RequestHeaderList()
        do throws(CurlError) {
            if reusing {
                if !Self.sameBytes(kept.url, request.url) {
                    try check(Self.setURL(handle, request.url))
                }
                if kept.customMethod != nil, Self.customMethod(of: request.method) == nil {
                    try check(ccurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, nil))
                }
            } else {
                curl_easy_reset(handle)
                try check(Self.setURL(handle, request.url))
                try check(ccurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer))
                try check(ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
                try check(ccurl_setopt_long(handle, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1)))
                try check(ccurl_setopt_string(handle, CURLOPT_PROXY, ""))
                try check(ccurl_setopt_long(handle, CURLOPT_TCP_NODELAY, 1))
                try check(ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, configuration.connectTimeout.milliseconds))
                if streaming || signed, !configuration.userAgent.isEmpty {
                    // These do not use the kept lists (see `headerList`): libcurl adds the field.
                    try check(ccurl_setopt_string(handle, CURLOPT_USERAGENT, configuration.userAgent))
                }
                if let caBundlePath = configuration.caBundlePath {
                    try check(ccurl_setopt_string(handle, CURLOPT_CAINFO, caBundlePath))
                }
                if let signing = request.signing {
                    try check(ccurl_setopt_string(handle, CURLOPT_AWS_SIGV4, signing.provider))
                    try check(ccurl_setopt_string(handle, CURLOPT_USERNAME, signing.accessKeyID))
                    try check(ccurl_setopt_string(handle, CURLOPT_PASSWORD, signing.secretAccessKey))
                }
                let sinkPointer = Unmanaged.passUnretained(sink).toOpaque()
                try check(ccurl_setopt_callback(handle, CURLOPT_WRITEFUNCTION, curlWriteBody))
                try check(ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, sinkPointer))
                try check(ccurl_setopt_callback(handle, CURLOPT_HEADERFUNCTION, curlWriteHeader))
                try check(ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, sinkPointer))
            }
            let timeout = request.timeout?.milliseconds ?? 0
            if !reusing || kept.timeoutMilliseconds != timeout {
                try check(ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, timeout))
            }

            // Each sets the method and clears HEAD's no-body flag, as after a reset; POSTFIELDS
            // (set by `perform`) then keeps POST, with CUSTOMREQUEST naming another method.
            switch request.method.known {
            case .get:
                try check(ccurl_setopt_long(handle, CURLOPT_HTTPGET, 1))
            case .head:
                try check(ccurl_setopt_long(handle, CURLOPT_NOBODY, 1))
            case .post:
                try check(ccurl_setopt_long(handle, CURLOPT_POST, 1))
            case .other:
                try check(ccurl_setopt_long(handle, CURLOPT_POST, 1))
                if !reusing || kept.customMethod != request.method {
                    try check(ccurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method.rawValue))
                }
            }

            headers = try headerList(for: request, sendsBody: sendsBody, streaming: streaming, signed: signed)
            if headers.head != nil || reusing {
                try check(ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, headers.head))
            }
        } catch {
            headers.release()
            throw error
        }
        return headers
    }

    /// The header fields libcurl is given for `request`: for an unsigned, unstreamed request a list
    /// the session keeps (`User-Agent`, then the suppressions: an empty `Accept:` and, with a body,
    /// empty `Expect:`, `Transfer-Encoding:` and `Content-Type:` values stop libcurl from adding its
    /// own), then the request's fields in order. A request that sets its own `User-Agent` sends only
    /// that one; its own `Accept` is sent (libcurl skips the empty one).
    private func headerList(
        for request: HTTPRequest, sendsBody: Bool, streaming: Bool, signed: Bool
    ) throws(CurlError) -> RequestHeaderList {
        var owned: UnsafeMutablePointer<curl_slist>? = nil
        var kept: KeptHeaderList? = nil
        if signed, let token = request.signing?.sessionToken, !token.isEmpty {
            owned = try Self.append("X-Amz-Security-Token", token, to: owned)
        }
        if streaming {
            // No 100-continue round trip (libcurl asks for one before a body of unknown size);
            // chunked, whatever the caller's headers say.
            owned = try Self.append("Expect", "", to: owned)
            owned = try Self.append("Transfer-Encoding", "chunked", to: owned)
            if request.headers["Content-Type"] == nil {
                owned = try Self.append("Content-Type", "", to: owned)
            }
        } else if !signed {
            // libcurl adds these unless told otherwise: no 100-continue round trip, no chunking,
            // no form content type. Not on signed requests: libcurl's SigV4 would sign the empty
            // headers it then does not send (and bodies there are small and sized, so it adds none),
            // and the `User-Agent`, which proxies may rewrite. The same for every such request, so
            // kept by the session rather than made each time.
            if !sendsBody {
                kept = defaultFields
            } else {
                kept = request.headers["Content-Type"] == nil ? suppressions : suppressionsKeepingContentType
            }
            if !request.headers.fields.isEmpty, request.headers["User-Agent"] != nil {
                kept = kept?.skippingUserAgent()
            }
        }
        for field in request.headers {
            if streaming, ASCII.equalsIgnoringCase(field.name, "Transfer-Encoding") { continue }
            do throws(CurlError) {
                owned = try Self.append(field.name, field.value, to: owned)
            } catch {
                curl_slist_free_all(owned)
                throw error
            }
        }
        guard let kept else { return RequestHeaderList(head: owned, keptTail: nil, owned: owned) }
        kept.tail.pointee.next = owned
        return RequestHeaderList(head: kept.head, keptTail: kept.tail, owned: owned)
    }

    /// Appends the field `name: value` (`name:` when the value is empty) to a libcurl list.
    fileprivate static func append(
        _ name: String, _ value: String, to list: UnsafeMutablePointer<curl_slist>?
    ) throws(CurlError) -> UnsafeMutablePointer<curl_slist>? {
        var name = name
        var value = value
        let appended = name.withUTF8 { name in
            value.withUTF8 { value in
                // name, ": " (or ":" before an empty value), value, NUL: on the stack, copied by libcurl.
                let count = name.count + (value.isEmpty ? 1 : 2 + value.count) + 1
                return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count) { line in
                    var end = line.initialize(fromContentsOf: name)
                    line[end] = UInt8(ascii: ":")
                    end += 1
                    if !value.isEmpty {
                        line[end] = UInt8(ascii: " ")
                        end += 1
                        end = line[end...].initialize(fromContentsOf: value)
                    }
                    line[end] = 0
                    return line.withMemoryRebound(to: CChar.self) { curl_slist_append(list, $0.baseAddress) }
                }
            }
        }
        guard let appended else {
            throw CurlError(code: 0, message: "out of memory building headers", kind: .setupFailed)
        }
        return appended
    }

    /// Sets `CURLOPT_URL` (libcurl copies it) from the string's own NUL-terminated storage, not from
    /// a C-string copy made for the call.
    private static func setURL(_ handle: UnsafeMutableRawPointer, _ url: String) -> CURLcode {
        url.withCString { ccurl_setopt_string(handle, CURLOPT_URL, $0) }
    }

    /// The method's name for `CURLOPT_CUSTOMREQUEST`; `nil` for the methods libcurl names itself.
    private static func customMethod(of method: HTTPMethod) -> HTTPMethod? {
        method.known == .other ? method : nil
    }

    /// Whether two strings hold the same bytes.
    static func sameBytes(_ lhs: String, _ rhs: String) -> Bool {
        guard lhs.utf8.count == rhs.utf8.count else { return false }
        var lhs = lhs
        var rhs = rhs
        return lhs.withUTF8 { left in
            rhs.withUTF8 { right in
                // Eight bytes at a time: a URL is about a hundred.
                let (a, b) = (UnsafeRawBufferPointer(left), UnsafeRawBufferPointer(right))
                var offset = 0
                while offset + 8 <= a.count {
                    if a.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
                        != b.loadUnaligned(fromByteOffset: offset, as: UInt64.self) { return false }
                    offset += 8
                }
                while offset < a.count {
                    if a[offset] != b[offset] { return false }
                    offset += 1
                }
                return true
            }
        }
    }

    /// Static storage for an empty body: lives as long as the program, never written.
    private static let emptyBody: StaticString = ""

    // MARK: Driving transfers

    private func add(_ handle: UnsafeMutableRawPointer) throws(CurlError) {
        let added = curl_multi_add_handle(streamMulti, handle)
        guard added == CURLM_OK else {
            throw CurlError(code: 0, message: String(cString: curl_multi_strerror(added)), kind: .setupFailed)
        }
    }

    func remove(_ handle: UnsafeMutableRawPointer) {
        curl_multi_remove_handle(streamMulti, handle)
    }

    /// One `curl_multi_perform` of a streamed upload: does whatever the transfer's socket allows
    /// without blocking. Returns the transfer's result once it has ended, `nil` while it goes on.
    func step(_ handle: UnsafeMutableRawPointer) -> CURLcode? {
        guard let multi = streamMulti else { return CURLE_FAILED_INIT }
        var running: Int32 = 0
        let performed = curl_multi_perform(multi, &running)
        if performed != CURLM_OK {
            return performed == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT
        }
        var queued: Int32 = 0
        while let message = curl_multi_info_read(multi, &queued) {
            if message.pointee.msg == CURLMSG_DONE, message.pointee.easy_handle == handle {
                return ccurl_message_result(message)
            }
        }
        return nil
    }

    /// Blocks until a socket of the transfer is ready or one of libcurl's timers is due (at most 1 s;
    /// the caller performs again either way).
    func waitForActivity() {
        _ = curl_multi_poll(streamMulti, nil, 0, 1000, nil)
    }

    /// The response of a transfer that ended with `result`, or the error it ended with.
    func response(of handle: UnsafeMutableRawPointer, for result: CURLcode, limit: Int?) throws(CurlError) -> HTTPResponse {
        guard result == CURLE_OK else {
            if result == CURLE_WRITE_ERROR, sink.exceededLimit {
                throw CurlError(
                    code: Int(result.rawValue),
                    message: "response body larger than \(limit ?? 0) bytes",
                    kind: .responseTooLarge)
            }
            throw CurlError(code: result, detail: String(cString: errorBuffer))
        }
        var status = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var response = HTTPResponse(status: status, headers: sink.takeHeaders(), body: sink.takeBody())
        response.selectedNames = sink.selectedNames
        return response
    }

    @inline(__always)
    func check(_ code: CURLcode) throws(CurlError) {
        if code != CURLE_OK {
            throw CurlError(code: code, detail: "")
        }
    }

    /// Refuses a request whose URL or headers hold CR, LF or NUL: such a value would end libcurl's
    /// header line early and let the rest be read as another header (header injection).
    static func checkLineSafety(_ request: HTTPRequest) throws(CurlError) {
        guard isLineSafe(request.url) else {
            throw CurlError(code: 0, message: "the URL contains CR, LF or NUL", kind: .invalidRequest)
        }
        try checkLineSafety(request.headers, what: "header")
    }

    /// Refuses header (or trailer) fields whose name or value holds CR, LF or NUL.
    static func checkLineSafety(_ headers: HTTPHeaders, what: String) throws(CurlError) {
        for field in headers where !isLineSafe(field.name) || !isLineSafe(field.value) {
            throw CurlError(code: 0, message: "\(what) \(field.name.utf8.count > 64 ? "(long name)" : field.name.debugDescription) contains CR, LF or NUL", kind: .invalidRequest)
        }
    }

    static func isLineSafe(_ text: String) -> Bool {
        // Runs on every header and URL of every request: over the contiguous bytes when there are
        // some (always, for native strings), not the generic `contains` over the UTF-8 view.
        let safe = text.utf8.withContiguousStorageIfAvailable { isLineSafe(UnsafeRawBufferPointer($0)) }
        return safe ?? !text.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }
    }

    /// Whether `bytes` hold no CR, LF or NUL; eight bytes at a time (a URL is about a hundred).
    static func isLineSafe(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        // Exactly when some byte of `word` is zero (the borrow can only mark bytes above a zero one).
        func hasZeroByte(_ word: UInt64) -> Bool { (word &- ones) & ~word & (ones &* 0x80) != 0 }
        // Exactly when some byte is below 0x0E (the same argument): a word without one holds no CR
        // (0x0D), LF or NUL, and needs no other test. Text seldom has one (a tab does).
        func hasByteBelow0E(_ word: UInt64) -> Bool { (word &- ones &* 0x0E) & ~word & (ones &* 0x80) != 0 }
        var offset = 0
        while offset + 8 <= bytes.count {
            let word = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            if hasByteBelow0E(word),
               hasZeroByte(word) || hasZeroByte(word ^ (ones &* 0x0A)) || hasZeroByte(word ^ (ones &* 0x0D)) {
                return false
            }
            offset += 8
        }
        while offset < bytes.count {
            let byte = bytes[offset]
            if byte == 0x0D || byte == 0x0A || byte == 0x00 { return false }
            offset += 1
        }
        return true
    }
}

/// The settings a handle keeps from a request, for the next to compare with.
private struct KeptOptions {
    /// Whether the handle still has these settings: the last transfer was clean, on a connection
    /// that was already open, and no reset came since.
    var isValid = false
    /// The URL last set.
    var url = ""
    /// The `CURLOPT_CUSTOMREQUEST` method last set, if one is.
    var customMethod: HTTPMethod?
    /// The `CURLOPT_TIMEOUT_MS` last set.
    var timeoutMilliseconds = 0
}

/// A header list the session keeps for its lifetime; a request's own fields are linked behind its
/// last node for one transfer.
private struct KeptHeaderList {
    let head: UnsafeMutablePointer<curl_slist>
    let tail: UnsafeMutablePointer<curl_slist>
    /// Whether the first node is the session's `User-Agent`.
    let startsWithUserAgent: Bool

    /// Makes the list of `fields` (`name:` for an empty value); `nil` when there are none.
    init?(_ fields: [(String, String)], startsWithUserAgent: Bool) throws(CurlError) {
        var list: UnsafeMutablePointer<curl_slist>? = nil
        var tail: UnsafeMutablePointer<curl_slist>? = nil
        for (name, value) in fields {
            do throws(CurlError) {
                list = try CurlSession.append(name, value, to: list)
            } catch {
                curl_slist_free_all(list)
                throw error
            }
            tail = tail?.pointee.next ?? list
        }
        guard let list, let tail else { return nil }
        self.init(head: list, tail: tail, startsWithUserAgent: startsWithUserAgent)
    }

    private init(head: UnsafeMutablePointer<curl_slist>, tail: UnsafeMutablePointer<curl_slist>, startsWithUserAgent: Bool) {
        self.head = head
        self.tail = tail
        self.startsWithUserAgent = startsWithUserAgent
    }

    /// The list from its second node when the first is the `User-Agent` (for a request that sends
    /// its own); `nil` when nothing is left.
    func skippingUserAgent() -> KeptHeaderList? {
        guard startsWithUserAgent else { return self }
        guard let second = head.pointee.next else { return nil }
        return KeptHeaderList(head: second, tail: tail, startsWithUserAgent: false)
    }

    /// Frees every node (the session's `deinit`).
    func free() {
        curl_slist_free_all(head)
    }
}

/// The `CURLOPT_HTTPHEADER` list of one request.
private struct RequestHeaderList {
    /// What libcurl is given: a kept list with this request's nodes behind it, or its nodes alone.
    var head: UnsafeMutablePointer<curl_slist>? = nil
    /// The kept list's last node, whose `next` points at this request's nodes until ``release()``.
    var keptTail: UnsafeMutablePointer<curl_slist>? = nil
    /// This request's own nodes.
    var owned: UnsafeMutablePointer<curl_slist>? = nil

    /// Unlinks the request's nodes from the kept list and frees them.
    func release() {
        keptTail?.pointee.next = nil
        curl_slist_free_all(owned)
    }
}

extension HTTPMethod {
    /// Whether requests of this method carry a body (all but `GET` and `HEAD`).
    var sendsBody: Bool { known != .get && known != .head }
}

/// Collects one response's headers and body from libcurl's callbacks.
///
/// Used by one transfer at a time, from libcurl's callbacks on the thread that drives it: the
/// properties are exempt from dynamic exclusivity checks (about 60 instructions per access, a dozen
/// accesses per response field).
final class ResponseSink {
    @exclusivity(unchecked) private(set) var headers = HTTPHeaders()
    /// The selection's index of each kept field's name.
    @exclusivity(unchecked) private(set) var selectedNames = SelectedNameIndices()
    @exclusivity(unchecked) private(set) var body: [UInt8] = []
    @exclusivity(unchecked) private var limit: Int?
    /// The request's selection, held for the transfer; read through ``selected``.
    @exclusivity(unchecked) private var selection = ResponseHeaderSelection.all
    /// ``selection``'s storage without a reference count: a strong load per header line was a
    /// retain and a release each (``selection`` keeps it alive).
    @exclusivity(unchecked) private unowned(unsafe) var selected = ResponseHeaderSelection.all.storage
    @exclusivity(unchecked) private var keepsAll = true
    @exclusivity(unchecked) private var keepsNone = false
    @exclusivity(unchecked) private(set) var exceededLimit = false

    func reset(limit: Int?, selection: ResponseHeaderSelection = .all) {
        self.limit = limit
        self.selection = selection
        selected = selection.storage
        keepsAll = selection.keepsAll
        keepsNone = selected.keepsNone
        exceededLimit = false
        // Emptied in place (`removeAll` costs 250 instructions even on an empty list).
        if headers.count > 0 { headers.removeAll(keepingCapacity: true) }
        selectedNames.removeAll()
        // Room for the fields this response may keep (a Runtime API response's at most), so that
        // they do not grow the array from empty; none for a request that keeps none.
        if !keepsNone { headers.reserveCapacity(min(selected.names?.count ?? 8, 8)) }
    }

    /// The fields kept. The sink keeps its own reference to them until the next ``reset(limit:selection:)``:
    /// once the caller has let go of them, that reset empties the same storage instead of
    /// allocating new storage for the next response (a `malloc` and a `free` per response).
    func takeHeaders() -> HTTPHeaders {
        headers
    }

    func takeBody() -> [UInt8] {
        defer { body = [] }
        return body
    }

    /// Appends body bytes; returns `false` when the limit would be passed.
    func appendBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if let limit, body.count + bytes.count > limit {
            exceededLimit = true
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    /// Takes one raw header line, as libcurl delivers them (with CRLF), and keeps it when the
    /// selection names it: fields the selection skips are read where they lie, never copied.
    func appendHeaderLine(_ line: UnsafeRawBufferPointer) {
        // Runs for every header of every response: plain loops over the bytes, not the generic
        // collection algorithms over a raw buffer slice.
        guard let base = line.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        var end = line.count
        while end > 0, base[end - 1] == 0x0A || base[end - 1] == 0x0D { end -= 1 }
        guard end > 0 else { return }
        if end >= 5, base[0] == UInt8(ascii: "H"), base[1] == UInt8(ascii: "T"), base[2] == UInt8(ascii: "T"),
           base[3] == UInt8(ascii: "P"), base[4] == UInt8(ascii: "/") {
            // A new status line: an interim (100) or redirected response's headers do not count.
            headers.removeAll(keepingCapacity: true)
            selectedNames.removeAll()
            body.removeAll(keepingCapacity: true)
            return
        }
        let contentLengthColon = 14
        if keepsNone {
            // Nothing is kept: only a `Content-Length` field matters (for the body's room), and
            // only a line with its colon where that name's would be can be one.
            if end > contentLengthColon, base[contentLengthColon] == 0x3A {
                reserveBody(forLength: base, colon: contentLengthColon, end: end)
            }
            return
        }
        // `memchr` compares 16 or 32 bytes at a time; a name is 10 to 40.
        guard let found = memchr(base, 0x3A, end) else { return }
        let colon = UnsafeRawPointer(found) - UnsafeRawPointer(base)
        if colon == contentLengthColon { reserveBody(forLength: base, colon: colon, end: end) }
        let name: String
        if keepsAll {
            name = String(decoding: UnsafeBufferPointer(start: base, count: colon), as: UTF8.self)
        } else if let index = selected.index(of: UnsafeBufferPointer(start: base, count: colon)), let names = selected.names {
            // The selection's own string: shared, not a new one per field.
            name = names[index]
            selectedNames.record(field: headers.count, nameIndex: index)
        } else {
            return
        }
        headers.add(name, String(decoding: Self.value(of: base, colon: colon, end: end), as: UTF8.self))
    }

    /// The value of the field whose colon is at `colon`, without the blanks around it.
    private static func value(of base: UnsafePointer<UInt8>, colon: Int, end: Int) -> UnsafeBufferPointer<UInt8> {
        var valueStart = colon + 1
        while valueStart < end, base[valueStart] == 0x20 || base[valueStart] == 0x09 { valueStart += 1 }
        var valueEnd = end
        while valueEnd > valueStart, base[valueEnd - 1] == 0x20 || base[valueEnd - 1] == 0x09 { valueEnd -= 1 }
        return UnsafeBufferPointer(start: base + valueStart, count: valueEnd - valueStart)
    }

    /// Makes room for the body a `Content-Length` field announces (up to the limit), when the line
    /// (colon at `colon`) is one.
    private func reserveBody(forLength base: UnsafePointer<UInt8>, colon: Int, end: Int) {
        guard Self.isContentLength(UnsafeBufferPointer(start: base, count: colon)),
              let length = Self.decimal(Self.value(of: base, colon: colon, end: end)), length > 0 else { return }
        body.reserveCapacity(min(length, limit ?? length))
    }

    /// Whether `name` is `Content-Length`, in any ASCII case. Against static bytes: the global
    /// array it was compared with cost a lazy-initialization check, a retain and a release per call.
    private static func isContentLength(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        let contentLength: StaticString = "content-length"
        guard name.count == contentLength.utf8CodeUnitCount else { return false }
        let expected = contentLength.utf8Start
        for index in 0..<name.count where ASCII.lowercased(name[index]) != expected[index] {
            return false
        }
        return true
    }

    /// A non-negative decimal number of at most 18 digits, nothing else; `nil` otherwise.
    static func decimal(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var value = 0
        for byte in bytes {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        return value
    }
}

private let curlWriteBody: ccurl_data_callback = { data, size, count, userdata in
    guard let userdata else { return 0 }
    let total = size * count
    // The session holds the sink for the transfer: no retain and release around each call.
    let appended = Unmanaged<ResponseSink>.fromOpaque(userdata)._withUnsafeGuaranteedRef {
        $0.appendBody(UnsafeRawBufferPointer(start: data, count: total))
    }
    return appended ? total : 0
}

private let curlWriteHeader: ccurl_data_callback = { data, size, count, userdata in
    guard let userdata else { return 0 }
    let total = size * count
    Unmanaged<ResponseSink>.fromOpaque(userdata)._withUnsafeGuaranteedRef {
        $0.appendHeaderLine(UnsafeRawBufferPointer(start: data, count: total))
    }
    return total
}

extension Duration {
    /// Whole milliseconds, rounded down, saturating at `Int.max`.
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        guard !overflow else { return seconds < 0 ? 0 : Int.max }
        return max(0, Int(scaled + attoseconds / 1_000_000_000_000_000))
    }
}
