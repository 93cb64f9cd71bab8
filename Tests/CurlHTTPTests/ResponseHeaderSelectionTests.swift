@testable import CurlHTTP
import FakeRuntimeAPI
import Testing

/// A request that names the response fields it reads gets those, matched by bytes, and nothing else.
@Suite struct ResponseHeaderSelectionTests {
    private static let selection = ResponseHeaderSelection.only(["Lambda-Runtime-Aws-Request-Id", "Lambda-Runtime-Trace-Id"])

    /// Feeds raw header lines (as libcurl hands them over, CRLF included) to a sink.
    private func headers(_ lines: [String], selection: ResponseHeaderSelection) -> HTTPHeaders {
        let sink = ResponseSink()
        sink.reset(limit: nil, selection: selection)
        for line in lines {
            Array(line.utf8).withUnsafeBytes { sink.appendHeaderLine($0) }
        }
        return sink.takeHeaders()
    }

    @Test func namedFieldsAreKeptInAnyASCIICaseUnderTheSelectionsSpelling() {
        let kept = headers([
            "HTTP/1.1 200 OK\r\n", "Content-Type: application/json\r\n",
            "lambda-runtime-aws-request-id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n",
            "LAMBDA-RUNTIME-TRACE-ID:Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1 \r\n", "Date: today\r\n", "\r\n",
        ], selection: Self.selection)
        #expect(kept.fields == [
            HTTPHeader("Lambda-Runtime-Aws-Request-Id", "8476a536-e9f4-11e8-9739-2dfe598c3fcd"),
            HTTPHeader("Lambda-Runtime-Trace-Id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1"),
        ])
    }

    @Test func valuesAreKeptByteForByte() {
        // Canonically equivalent to "é" spelled as one scalar; a String comparison would not tell them apart.
        let id = "re\u{301}q \t x"
        let kept = headers(["Lambda-Runtime-Aws-Request-Id:  \(id)\t\r\n"], selection: Self.selection)
        #expect(kept.fields.count == 1)
        #expect(kept.fields.first.map { Array($0.value.utf8) } == Array(id.utf8))
    }

    @Test(arguments: [
        "Lambda-Runtime-Aws-Request-I: x",  // a prefix
        "Lambda-Runtime-Aws-Request-Idx: x",  // longer
        "Lambda-Runtime-Aws-Request-Id : x",  // a blank before the colon
        " Lambda-Runtime-Aws-Request-Id: x",  // an obsolete folded continuation
        "\tLambda-Runtime-Trace-Id: x",
        "Lambda-Runtime-Aws-Request-\u{130}d: x",  // a Unicode capital I with dot: not ASCII case folding
        "Lambda-Runtime-Aws-Request-Id",  // no colon
        "Lambda-Runtime-Aws-Request-Id:",  // no value: kept empty, as before (the parser ignores it)
    ])
    func linesThatAreNotExactlyANamedFieldAreSkipped(_ line: String) {
        let kept = headers(["\(line)\r\n"], selection: Self.selection)
        if line.hasSuffix(":") {
            #expect(kept.fields == [HTTPHeader("Lambda-Runtime-Aws-Request-Id", "")])
        } else {
            #expect(kept.fields.isEmpty)
        }
    }

    @Test func aFoldedContinuationIsNotAppendedToTheField() {
        let kept = headers(["Lambda-Runtime-Trace-Id: Root=1\r\n", " ;Sampled=1\r\n"], selection: Self.selection)
        #expect(kept.fields == [HTTPHeader("Lambda-Runtime-Trace-Id", "Root=1")])
    }

    @Test func anInterimResponsesFieldsDoNotCount() {
        let kept = headers([
            "HTTP/1.1 100 Continue\r\n", "Lambda-Runtime-Trace-Id: interim\r\n", "\r\n",
            "HTTP/1.1 200 OK\r\n", "Lambda-Runtime-Aws-Request-Id: r\r\n", "\r\n",
        ], selection: Self.selection)
        #expect(kept.fields == [HTTPHeader("Lambda-Runtime-Aws-Request-Id", "r")])
    }

    @Test func noneKeepsNothingAndAllKeepsEverythingAsWritten() {
        let lines = ["HTTP/1.1 202 Accepted\r\n", "content-TYPE: application/json\r\n", "X-Other:  v \r\n", "\r\n"]
        #expect(headers(lines, selection: .none).fields.isEmpty)
        #expect(headers(lines, selection: .all).fields == [HTTPHeader("content-TYPE", "application/json"), HTTPHeader("X-Other", "v")])
    }

    @Test(arguments: [("0", 0), ("49", 49), ("123456789012345678", 123_456_789_012_345_678)])
    func contentLengthDigitsAreRead(_ text: String, _ value: Int) {
        let bytes = Array(text.utf8)
        #expect(bytes.withUnsafeBufferPointer { ResponseSink.decimal($0) } == value)
    }

    @Test(arguments: ["", "-1", "+1", "1 2", "4x", "1234567890123456789"])
    func contentLengthThatIsNotPlainDigitsIsIgnored(_ text: String) {
        let bytes = Array(text.utf8)
        #expect(bytes.withUnsafeBufferPointer { ResponseSink.decimal($0) } == nil)
    }

    @Test func aSessionKeepsOnlyTheSelectedFieldsOfARealResponse() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let id = server.enqueue(FakeRuntimeAPI.Event(body: Array("{}".utf8), headers: [
            ("lambda-runtime-trace-id", "Root=1-abc"), ("X-Unread", "1"),
        ]))
        let session = try CurlSession()
        let url = "http://\(server.runtimeAPI)/2018-06-01/runtime/invocation/next"
        let response = try session.perform(HTTPRequest(url: url, responseHeaders: Self.selection))
        #expect(response.status == 200)
        #expect(response.bodyText == "{}")
        #expect(response.headers.fields == [
            HTTPHeader("Lambda-Runtime-Aws-Request-Id", id), HTTPHeader("Lambda-Runtime-Trace-Id", "Root=1-abc"),
        ])
        // The next request of the same session keeps every field again by default.
        server.setOverride { _ in .init(status: 200, headers: [("X-Unread", "2")]) }
        let all = try session.perform(HTTPRequest(url: url))
        #expect(all.headers["x-unread"] == "2")
        #expect(all.headers["Content-Length"] == "0")
    }

    /// Names are matched eight bytes at a time: every case change of a letter matches, and every other
    /// change of any byte (the case bit of a non-letter included: `@`/`` ` ``, `[`/`{`, `-`/CR) does not.
    @Test func matchingFoldsTheCaseOfLettersOnly() {
        let names = ["Lambda-Runtime-Aws-Request-Id", "X@[1]-y", "a"]
        let selection = ResponseHeaderSelection.only(names)
        func index(_ bytes: [UInt8]) -> Int? { bytes.withUnsafeBufferPointer { selection.index(of: $0) } }
        for (expected, name) in names.enumerated() {
            let bytes = Array(name.utf8)
            #expect(index(bytes) == expected)
            #expect(index(bytes.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }) == expected)
            for position in bytes.indices {
                var changed = bytes
                changed[position] ^= 0x20
                let isLetter = (bytes[position] | 0x20) >= 0x61 && (bytes[position] | 0x20) <= 0x7A
                #expect(index(changed) == (isLetter ? expected : nil), "\(name) with byte \(position) flipped")
                changed = bytes
                changed[position] ^= 0x01
                #expect(index(changed) == nil, "\(name) with byte \(position) changed")
            }
            #expect(index(bytes + [0x20]) == nil)
            #expect(index(Array(bytes.dropLast())) == nil)
        }
        #expect(index([]) == nil)
        #expect(ResponseHeaderSelection.none.names == [])
        #expect(ResponseHeaderSelection.all.names == nil)
    }

    /// Names the length table cannot hold (64 bytes or longer, more than 64 names) are matched by
    /// trying every name; the first of equal names wins either way.
    @Test func longNamesAndManyNamesAreMatchedToo() {
        let long = String(repeating: "Long-Name-", count: 7)
        let withLong = ResponseHeaderSelection.only(["X-Short", long, "x-short"])
        #expect(withLong.index(ofName: long.uppercased()) == 1)
        #expect(withLong.index(ofName: "X-SHORT") == 0)
        #expect(withLong.index(ofName: long + "x") == nil)
        let many = (0..<70).map { "X-Field-\($0)" }
        let selection = ResponseHeaderSelection.only(many + ["x-field-3"])
        for (index, name) in many.enumerated() {
            #expect(selection.index(ofName: name.lowercased()) == index)
        }
        #expect(selection.index(ofName: "X-Field-70") == nil)
        let few = ResponseHeaderSelection.only(["A", "bb", "a"])
        #expect(few.index(ofName: "a") == 0)
        #expect(few.index(ofName: "BB") == 1)
        #expect(few.index(ofName: "") == nil)
        #expect(few.index(ofName: String(repeating: "a", count: 200)) == nil)
    }
}
