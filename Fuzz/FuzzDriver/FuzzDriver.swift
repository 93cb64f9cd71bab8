#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The `main` of every fuzz target: libFuzzer's driver when built for fuzzing (`-DFUZZING` with
/// `-sanitize=fuzzer,address`, see scripts/fuzz.sh), a plain replay over files otherwise.
///
/// In a normal `swift build` the targets are small replay tools (`fuzz-json FILE…` runs the harness once per
/// file), so they compile with the rest of the package and cannot rot. A harness reports a violation with
/// ``FuzzDriver/fail(_:_:)``, which traps: libFuzzer saves the input as a crash artifact.
public enum FuzzDriver {
    /// The harness of this process; set once in `main` before any input runs.
    nonisolated(unsafe) private static var harness: ([UInt8]) -> Void = { _ in }

    /// Runs `harness` over libFuzzer's inputs (fuzzing build) or over the files named on the command line.
    public static func main(_ harness: @escaping ([UInt8]) -> Void) -> Never {
        Self.harness = harness
        #if FUZZING
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput))
        #else
        let paths = CommandLine.arguments.dropFirst()
        if paths.isEmpty || paths.contains("--help") {
            print("Usage: \(CommandLine.arguments[0]) FILE...  (runs the fuzz harness once per file; scripts/fuzz.sh fuzzes)")
            exit(paths.isEmpty ? 64 : 0)
        }
        for path in paths {
            guard let bytes = readFile(path) else {
                printError("cannot read \(path)")
                exit(66)
            }
            harness(bytes)
        }
        print("\(paths.count) input(s) passed")
        exit(0)
        #endif
    }

    /// Reports a harness violation for the current input and stops the process (libFuzzer keeps the input).
    public static func fail(_ message: String, _ input: [UInt8]) -> Never {
        let shown = String(decoding: input.prefix(512), as: UTF8.self)
        printError("harness violation: \(message)\ninput (\(input.count) bytes): \(shown)")
        abort()
    }

    /// Writes one line to standard error.
    public static func printError(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    /// The whole file, or `nil` when it cannot be read.
    public static func readFile(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count > 0 { bytes.append(contentsOf: buffer[0..<count]) }
            if count < buffer.count { break }
        }
        return ferror(file) == 0 ? bytes : nil
    }

    #if FUZZING
    private static let fuzzOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt = { data, size in
        let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
        harness(bytes)
        return 0
    }
    #endif
}

#if FUZZING
/// libFuzzer's entry point for a program with its own `main` (compiler-rt's FuzzerInterface.h).
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
#endif
