import Foundation
import Testing

/// The lambda-local executable's own checks, before anything starts.
@Suite struct CommandLineTests {
    func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Executables.lambdaLocal)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    @Test func aliasWeightsLambdaWouldRefuseAreRefused() throws {
        let versions = ["--function-version", "1=\(Executables.bootstrap)", "--function-version", "2=\(Executables.bootstrap)"]
        let overOne = try run(versions + ["--alias-weights", "2=1.5", "--port", "0"])
        #expect(overOne.status != 0)
        #expect(overOne.output.contains("less than or equal to 1.0"))
        let latest = try run(["--alias-weights", "2=0.1"])
        #expect(latest.status != 0)
        #expect(latest.output.contains("--function-version"))
        let twoExtra = try run(versions + ["--function-version", "3=\(Executables.bootstrap)", "--alias-weights", "2=0.1", "--alias-weights", "3=0.1"])
        #expect(twoExtra.status != 0)
        #expect(twoExtra.output.contains("length less than or equal to 1"))
    }

    @Test func missingBootstrapSaysHowToBuildIt() throws {
        let result = try run(["--bootstrap", "/nonexistent/bootstrap", "--port", "0"])
        #expect(result.status != 0)
        #expect(result.output.contains("not an executable file"))
    }

    @Test func helpDescribesTheEndpoints() throws {
        let result = try run(["--help"])
        #expect(result.status == 0)
        #expect(result.output.contains("/2015-03-31/functions/NAME/invocations"))
        #expect(result.output.contains("--alias-weights"))
        #expect(result.output.contains("--version-env"))
        #expect(result.output.contains("UpdateAlias"))
        #expect(result.output.contains("GetMetricData"))
        #expect(result.output.contains("/2021-11-15/functions/NAME/response-streaming-invocations"))
        #expect(result.output.contains("--max-concurrency"))
        #expect(result.output.contains("--watch"))
    }

    @Test func watchServesLatestOnlyAndPackagePathNeedsIt() throws {
        let versions = try run(["--function-version", "1=\(Executables.bootstrap)", "--port", "0", "--watch"])
        #expect(versions.status == 64)
        #expect(versions.output.contains("published versions (--function-version) are immutable"))
        let packageOnly = try run(["--bootstrap", Executables.bootstrap, "--port", "0", "--package-path", "/tmp"])
        #expect(packageOnly.status == 64)
        #expect(packageOnly.output.contains("--package-path needs --watch"))
    }

    @Test func maxConcurrencyOutsideWhatTheBootstrapRunsIsRefused() throws {
        for value in ["0", "1025"] {
            let result = try run(["--bootstrap", Executables.bootstrap, "--port", "0", "--max-concurrency", value])
            #expect(result.status != 0)
            #expect(result.output.contains("--max-concurrency must be 1…1024"))
        }
    }

    @Test func versionEnvironmentNeedsAKnownVersionAndCannotSetTheVersion() throws {
        let versions = ["--function-version", "1=\(Executables.bootstrap)", "--port", "0"]
        let unknown = try run(versions + ["--version-env", "2:A=B"])
        #expect(unknown.status != 0)
        #expect(unknown.output.contains("there is no --function-version 2"))
        let malformed = try run(versions + ["--version-env", "1=A"])
        #expect(malformed.status != 0)
        #expect(malformed.output.contains("N:KEY=VALUE"))
        let reserved = try run(versions + ["--version-env", "1:AWS_LAMBDA_FUNCTION_VERSION=9"])
        #expect(reserved.status != 0)
        #expect(reserved.output.contains("set by lambda-local"))
    }
}
