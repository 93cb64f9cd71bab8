/// One published version of the local function: a name (`$LATEST`, `1`, `2`…), its bootstrap and its
/// own configuration (a Lambda version is a snapshot of code *and* configuration).
public struct FunctionVersion: Sendable, Equatable {
    /// The version name, as `X-Amz-Executed-Version` and `AWS_LAMBDA_FUNCTION_VERSION` report it.
    public var name: String
    /// The bootstrap executable this version runs.
    public var bootstrapPath: String
    /// Environment of this version only (`--version-env N:K=V`); wins over the function's `--env`.
    public var environment: [String: String]

    /// Creates a version.
    public init(name: String, bootstrapPath: String, environment: [String: String] = [:]) {
        self.name = name
        self.bootstrapPath = bootstrapPath
        self.environment = environment
    }
}

/// How lambda-local runs the function: the Lambda settings a real function has, locally.
public struct LocalConfiguration: Sendable {
    /// The function name; invocations may also use the RIE's literal name `function`.
    public var functionName: String = "function"
    /// `AWS_REGION` and the region in ARNs.
    public var region: String = "us-east-1"
    /// The account id in ARNs.
    public var accountID: String = "123456789012"
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, and the Memory Size in REPORT lines.
    public var memorySizeMB: Int = 128
    /// The function timeout; past it the child is killed and the caller gets `Sandbox.Timedout`.
    public var timeout: Duration = .seconds(30)
    /// How long a new child may take to reach its first `/next`.
    public var initTimeout: Duration = .seconds(10)
    /// Instances per version; invocations beyond wait in a queue.
    public var concurrency: Int = 1
    /// Lambda Managed Instances mode (`--max-concurrency N`): each instance gets `AWS_LAMBDA_MAX_CONCURRENCY=N`
    /// and serves N invocations at once; a timeout fails that invocation only and the instance lives on.
    /// `nil`: Lambda's default, one invocation per instance, killed on a timeout.
    public var maxConcurrency: Int?
    /// `_HANDLER` for the child.
    public var handler: String = "echo"
    /// Extra environment for the child (`--env K=V`); wins over the defaults.
    public var environment: [String: String] = [:]
    /// The versions that can run; the first is used when no routing says otherwise.
    public var versions: [FunctionVersion]
    /// The weighted alias that routes front-door and unqualified invocations.
    public var alias: AliasRouting
    /// Largest request and response payload (Lambda's synchronous limit, 6 MB).
    public var maxPayload: Int = 6 * 1024 * 1024
    /// Largest streamed response (Lambda's documented 200 MB); past it the stream ends with
    /// `Function.ResponseSizeTooLarge` and the runtime's post is answered 413.
    public var maxStreamedPayload: Int = 200 * 1024 * 1024
    /// The execution role the control plane reports for every version (`Role`).
    public var role: String = "arn:aws:iam::123456789012:role/lambda-local"
    /// The runtime the control plane reports (`Runtime`).
    public var runtime: String = "provided.al2023"

    /// Creates a configuration that runs `versions`, routed by `alias`.
    public init(versions: [FunctionVersion], alias: AliasRouting) {
        self.versions = versions
        self.alias = alias
    }

    /// Creates a configuration that runs one bootstrap as `$LATEST`.
    public init(bootstrapPath: String) {
        self.versions = [FunctionVersion(name: "$LATEST", bootstrapPath: bootstrapPath)]
        self.alias = AliasRouting(name: "live", primaryVersion: "$LATEST")
    }

    /// The function's ARN, qualified when `qualifier` is given.
    public func functionARN(qualifier: String? = nil) -> String {
        let base = "arn:aws:lambda:\(region):\(accountID):function:\(functionName)"
        guard let qualifier else { return base }
        return base + ":" + qualifier
    }
}
