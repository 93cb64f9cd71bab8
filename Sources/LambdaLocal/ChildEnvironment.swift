import Foundation

/// The environment Lambda gives a runtime process, for one version of the local function.
enum ChildEnvironment {
    /// The variables of a child of `version` whose Runtime API listens on `runtimePort`: Lambda's
    /// reserved variables, the caller's AWS credentials, then `--env`, then `--version-env`;
    /// `AWS_LAMBDA_FUNCTION_VERSION` is always the version, as on Lambda.
    static func variables(
        configuration: LocalConfiguration, version: FunctionVersion, runtimePort: Int,
        parent: [String: String] = ProcessInfo.processInfo.environment
    ) -> [String: String] {
        let taskRoot = URL(fileURLWithPath: version.bootstrapPath).deletingLastPathComponent().path
        var environment: [String: String] = [
            "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:\(runtimePort)",
            "AWS_LAMBDA_FUNCTION_NAME": configuration.functionName,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": String(configuration.memorySizeMB),
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/\(configuration.functionName)",
            "AWS_LAMBDA_LOG_STREAM_NAME": "\(logStreamDate())/[\(version.name)]\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased())",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": configuration.region,
            "AWS_DEFAULT_REGION": configuration.region,
            "LAMBDA_TASK_ROOT": taskRoot,
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "_HANDLER": configuration.handler,
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
            "PATH": "/usr/local/bin:/usr/bin:/bin:/opt/bin",
        ]
        for key in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] {
            if let value = parent[key] { environment[key] = value }
        }
        environment.merge(configuration.environment) { _, new in new }
        environment.merge(version.environment) { _, new in new }
        environment["AWS_LAMBDA_FUNCTION_VERSION"] = version.name
        if let maxConcurrency = configuration.maxConcurrency {
            environment["AWS_LAMBDA_MAX_CONCURRENCY"] = String(maxConcurrency)
        }
        return environment
    }

    private static func logStreamDate() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy/MM/dd"
        return formatter.string(from: Date())
    }
}
