import FuzzDriver
import LeanJSON

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Fuzzes `JSON(parsing:)` and the writer: no crash, no hang, and every accepted text round-trips.
///
/// `fuzz-json --verdicts FILE…` prints one line per file, `accept<TAB>FILE<TAB>compact text` or
/// `reject<TAB>FILE<TAB>"reason"` (a JSON string), for the comparison with a reference parser (Fuzz/compare-json.py).
@main
enum FuzzJSON {
    static func main() {
        if CommandLine.arguments.dropFirst().first == "--verdicts" {
            printVerdicts(CommandLine.arguments.dropFirst(2))
        }
        FuzzDriver.main(check)
    }

    static func check(_ input: [UInt8]) {
        let value: JSON
        do {
            value = try JSON(parsing: input)
        } catch {
            guard (0...input.count).contains(error.offset) else {
                FuzzDriver.fail("error offset \(error.offset) outside the input", input)
            }
            _ = error.description
            return
        }
        // The writer's text parses back to the same value, and writing that again gives the same bytes.
        let text = value.text
        let again: JSON
        do {
            again = try JSON(parsing: text, maxDepth: 64)
        } catch {
            FuzzDriver.fail("the writer's text does not parse: \(error) in \(text)", input)
        }
        guard again == value else { FuzzDriver.fail("round trip changed the value: \(text)", input) }
        guard again.text.utf8.elementsEqual(text.utf8) else {
            FuzzDriver.fail("writing is not stable: \(text) then \(again.text)", input)
        }
        // Strings keep their bytes exactly (no normalization on the way in or out).
        if case .string(let string) = value {
            var quoted = ""
            JSON.writeString(string, to: &quoted)
            guard case .string(let back)? = try? JSON(parsing: quoted), back.utf8.elementsEqual(string.utf8) else {
                FuzzDriver.fail("a string changed its bytes on a round trip", input)
            }
        }
        _ = value.mergePatched(with: value)
    }

    static func printVerdicts(_ paths: ArraySlice<String>) -> Never {
        for path in paths {
            guard let bytes = FuzzDriver.readFile(path) else {
                FuzzDriver.printError("cannot read \(path)")
                exit(66)
            }
            do {
                let value = try JSON(parsing: bytes)
                print("accept\t\(path)\t\(value.text)")
            } catch {
                // The reason as a JSON string: one line whatever the input held.
                print("reject\t\(path)\t\(JSON.quoted(error.description))")
            }
        }
        exit(0)
    }
}
