import FuzzDriver
import ProfileService

/// Fuzzes `APIRequest(event:)`: any bytes either become a request or an `InvalidEventError`, never a
/// crash or a hang, and a request keeps the promises its type documents.
@main
enum FuzzEvent {
    static func main() {
        FuzzDriver.main(check)
    }

    static func check(_ input: [UInt8]) {
        let request: APIRequest
        do {
            request = try APIRequest(event: input)
        } catch {
            guard !error.errorMessage.isEmpty, error.errorType == "InvalidEvent" else {
                FuzzDriver.fail("an invalid event without a type or message", input)
            }
            return
        }
        let headers = request.headers.dictionary
        for name in headers.keys where !name.lowercased().utf8.elementsEqual(name.utf8) {
            FuzzDriver.fail("header name \(name) is not lower-cased", input)
        }
        // Fields are looked up in the event: each must answer as the whole dictionary does.
        for (fields, all) in [(request.headers, headers), (request.claims, request.claims.dictionary), (request.query, request.query.dictionary)] {
            for (name, value) in all where fields[name].map({ !$0.utf8.elementsEqual(value.utf8) }) ?? true {
                FuzzDriver.fail("field \(name) is looked up as \(fields[name] ?? "nil"), not \(value)", input)
            }
        }
        // ASCII names only: "ß".uppercased() is "SS", which does not lower-case back.
        if let name = headers.keys.first(where: { $0.utf8.allSatisfy { $0 < 0x80 } }),
           request.header(name.uppercased()) == nil
        {
            FuzzDriver.fail("header \(name) is not found by a case-insensitive lookup", input)
        }
        if request.bodyProblem != nil, !request.body.isEmpty {
            FuzzDriver.fail("a body problem with a body", input)
        }
    }
}
