import ArgumentParser

/// `NAME=VALUE`, as `--binary`, `--size` and `--env` take it (split at the first `=`).
struct NamedValue: ExpressibleByArgument {
    /// Before the first `=`.
    var name: String
    /// After it (may contain `=`).
    var value: String

    init?(argument: String) {
        guard let equals = argument.firstIndex(of: "=") else { return nil }
        name = String(argument[..<equals])
        value = String(argument[argument.index(after: equals)...])
    }
}

/// `--managed-instances`: loop counts such as `1,8`, each at least 1.
struct LoopCounts: ExpressibleByArgument {
    var counts: [Int]

    init?(argument: String) {
        let counts = argument.split(separator: ",").compactMap { Int($0) }
        guard !counts.isEmpty, counts.allSatisfy({ $0 >= 1 }) else { return nil }
        self.counts = counts
    }
}

/// The command line of `runtime-bench` (scripts/bench.sh drives it): three modes, chosen by
/// `--soak N`, `--managed-instances LOOPS` or neither (the comparison of binaries).
struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runtime-bench",
        abstract: "Measure a Runtime API client binary (our bootstrap) against a baseline binary, cold and warm.",
        usage: """
            runtime-bench --binary NAME=PATH [--binary NAME=PATH …] [--warm N] [--cold N] [--rounds N]
                                 [--event-bytes N] [--trace-ids] [--callgrind N] [--size NAME=BYTES …] [--json PATH]
            runtime-bench --soak N --binary NAME=PATH [--checkpoint K …] [--handler NAME] [--env NAME=VALUE …]
                                 [--event-file PATH] [--setup-event-file PATH] [--expect TEXT] [--max-growth-kb KB]
                                 [--allow-errors]
            runtime-bench --managed-instances LOOPS --binary NAME=PATH [--store-delay-ms MS] [--event-file PATH]
            """,
        discussion: """
            The last --binary is the baseline. Warm runs are sequential invocations on one process: latency is from the event leaving /next to its response arriving (p50, p99 over all rounds), invocations/s is the count over the wall time. --callgrind N also counts instructions with valgrind: for start-up to the first /next, and per invocation over N invocations. --trace-ids gives every warm and valgrind event a new Lambda-Runtime-Trace-Id, as Lambda does (by default events carry only the request id). --size records an artifact size (the zip) per binary. --json writes every number and ratio to PATH.

            The soak: one process of the (first) binary serves N sequential invocations, each with a new trace id, deadline and ARN as Lambda sends them, and its VmRSS, VmHWM and page faults so far are read after each checkpoint K (default 10,000 and N) while it waits in /next; K = 0 reads them before the first counted invocation (at the first /next: start-up alone, without --setup-event-file). --handler sets _HANDLER (echo); --env sets more variables; --event-file is the event (default: the --event-bytes echo event); --setup-event-file is sent once first, uncounted; --expect is text the first counted response must contain. Any /error post fails the run, unless --allow-errors (a soak of the error path). --max-growth-kb fails it (exit 1) when VmRSS or VmHWM grew by more than KB between the first and the last checkpoint.

            Lambda Managed Instances throughput (issue 15): for each loop count in LOOPS (for example 1,8) one process of the (first) binary runs the profile handler with AWS_LAMBDA_MAX_CONCURRENCY set to it, against a DynamoDB stand-in on loopback that answers every call after MS ms (20), and serves 40 GET /profiles/user-123 per loop (--event-file, default the sample event). Prints invocations/s per loop count (first result to last) and whether they grew ≥ 6x.

            Exit status: 0 when the run finished; 1 when it failed (for example a soak that grew past --max-growth-kb or saw an /error post); 64 for a usage error; 66 when an event file cannot be read.
            """)

    @Option(name: .customLong("binary"), help: ArgumentHelp("A binary to measure, NAME=PATH (repeatable; the last is the baseline).", valueName: "NAME=PATH"))
    var binaries: [NamedValue] = []

    @Option(name: .customLong("warm"), help: ArgumentHelp("Sequential warm invocations per round.", valueName: "N"))
    var warmInvocations = 20_000

    @Option(name: .customLong("cold"), help: ArgumentHelp("Cold starts per binary.", valueName: "N"))
    var coldStarts = 30

    @Option(help: ArgumentHelp("Rounds of warm invocations.", valueName: "N"))
    var rounds = 3

    @Option(name: .customLong("event-bytes"), help: ArgumentHelp("Size of the echo event.", valueName: "N"))
    var eventBytes = 512

    @Flag(name: .customLong("trace-ids"), help: "A new Lambda-Runtime-Trace-Id on every event.")
    var traceIDs = false

    @Option(name: .customLong("callgrind"), help: ArgumentHelp("Also count instructions with valgrind over N invocations.", valueName: "N"))
    var callgrindInvocations = 0

    @Option(name: .customLong("size"), help: ArgumentHelp("An artifact size per binary, NAME=BYTES (repeatable).", valueName: "NAME=BYTES"))
    var sizeArguments: [NamedValue] = []

    @Option(name: .customLong("json"), help: ArgumentHelp("Write every number to PATH.", valueName: "PATH"))
    var jsonPath: String?

    @Option(name: .customLong("soak"), help: ArgumentHelp("Run the soak: N sequential invocations on one process.", valueName: "N"))
    var soakInvocations = 0

    @Option(name: .customLong("checkpoint"), help: ArgumentHelp("Read memory and page faults after K invocations (repeatable; 0: before the first).", valueName: "K"))
    var checkpoints: [Int] = []

    @Option(help: ArgumentHelp("_HANDLER for the soak.", valueName: "NAME"))
    var handler = "echo"

    @Option(name: .customLong("env"), help: ArgumentHelp("A variable for the soak, NAME=VALUE (repeatable).", valueName: "NAME=VALUE"))
    var environmentArguments: [NamedValue] = []

    @Option(name: .customLong("event-file"), help: ArgumentHelp("The event to send.", valueName: "PATH"))
    var eventFile: String?

    @Option(name: .customLong("setup-event-file"), help: ArgumentHelp("An event sent once first, uncounted.", valueName: "PATH"))
    var setupEventFile: String?

    @Option(name: .customLong("expect"), help: ArgumentHelp("Text the first counted response must contain.", valueName: "TEXT"))
    var expectInResponse: String?

    @Option(name: .customLong("max-growth-kb"), help: ArgumentHelp("Fail when memory grew by more than KB.", valueName: "KB"))
    var maxGrowthKB: Int?

    @Flag(name: .customLong("allow-errors"), help: "A soak of the error path: /error posts do not fail it.")
    var allowErrors = false

    @Option(name: .customLong("managed-instances"), help: ArgumentHelp("Managed Instances throughput for these loop counts.", valueName: "LOOPS"))
    var managedInstances: LoopCounts?

    @Option(name: .customLong("store-delay-ms"), help: ArgumentHelp("The DynamoDB stand-in's answer delay.", valueName: "MS"))
    var storeDelayMilliseconds = 20

    func validate() throws {
        if binaries.isEmpty { throw ValidationError("give at least one --binary NAME=PATH") }
        if checkpoints.contains(where: { $0 < 0 }) { throw ValidationError("--checkpoint takes a count (0 or more)") }
        if sizeArguments.contains(where: { Int($0.value) == nil }) { throw ValidationError("--size takes NAME=BYTES") }
    }

    /// The binaries in order, the baseline last.
    var candidates: [(name: String, path: String)] { binaries.map { ($0.name, $0.value) } }

    /// `--size` by binary name.
    var sizes: [String: Int] {
        var sizes: [String: Int] = [:]
        for argument in sizeArguments { sizes[argument.name] = Int(argument.value) }
        return sizes
    }

    /// `--env` as a dictionary (a later value for a name wins).
    var environment: [String: String] {
        var environment: [String: String] = [:]
        for argument in environmentArguments { environment[argument.name] = argument.value }
        return environment
    }

    /// `--managed-instances`, or none.
    var managedInstancesLoops: [Int] { managedInstances?.counts ?? [] }
}
