import LambdaRuntime
import Testing

private enum ParseFailure: Error, CustomStringConvertible {
    case badField(String)
    var description: String {
        switch self {
        case .badField(let name): "field \(name) is not valid"
        }
    }
}

private struct QuotaExceeded: LambdaFunctionError {
    var errorType: String { "Function.QuotaExceeded" }
    var errorMessage: String { "too many profiles for this account" }
}

@Suite struct LambdaErrorReportTests {
    @Test func bodyHasLambdasErrorShape() throws {
        let report = LambdaErrorReport(errorType: "Function.Bad", errorMessage: "it broke")
        let object = try #require(jsonObject(report.json))
        #expect(object["errorMessage"] as? String == "it broke")
        #expect(object["errorType"] as? String == "Function.Bad")
        #expect((object["stackTrace"] as? [Any])?.isEmpty == true)
        #expect(String(decoding: report.json, as: UTF8.self)
            == #"{"errorMessage":"it broke","errorType":"Function.Bad","stackTrace":[]}"#)
    }

    @Test func anyErrorGetsItsTypeNameAndDescription() {
        let report = LambdaErrorReport(ParseFailure.badField("email"))
        #expect(report.errorType == "ParseFailure")
        #expect(report.errorMessage == "field email is not valid")
    }

    @Test func errorsCanChooseTheirType() {
        let report = LambdaErrorReport(QuotaExceeded())
        #expect(report.errorType == "Function.QuotaExceeded")
        #expect(report.errorMessage == "too many profiles for this account")
    }

    @Test func messagesWithQuotesControlCharactersAndUnicodeStayValidJSON() throws {
        let message = "say \"hi\"\\\n\t\u{01} — ünïcode 🚀"
        let report = LambdaErrorReport(errorType: "T", errorMessage: message, stackTrace: ["frame \"1\""])
        let object = try #require(jsonObject(report.json))
        #expect(object["errorMessage"] as? String == message)
        #expect(object["stackTrace"] as? [String] == ["frame \"1\""])
    }
}
