/// The moment an invocation (or any bounded piece of work) times out, as Unix epoch milliseconds.
///
/// Lambda sends it as `Lambda-Runtime-Deadline-Ms`; the AWS clients stop retrying before it.
public struct LambdaDeadline: Sendable, Equatable, Hashable, Comparable {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public let epochMilliseconds: Int64

    /// Creates a deadline.
    public init(epochMilliseconds: Int64) {
        self.epochMilliseconds = epochMilliseconds
    }

    /// The deadline `timeout` after `now`: for work that has a budget rather than an invocation's deadline.
    public init(after timeout: Duration, from now: WallClock.Instant = WallClock.now()) {
        self.epochMilliseconds = now.epochMilliseconds + timeout.wholeMilliseconds
    }

    /// Time left until the deadline at `now` (negative once it has passed).
    public func remainingTime(at now: WallClock.Instant = WallClock.now()) -> Duration {
        .milliseconds(epochMilliseconds - now.epochMilliseconds)
    }

    /// The deadline moved `margin` earlier, for example to keep time for a report after the work.
    public static func - (deadline: LambdaDeadline, margin: Duration) -> LambdaDeadline {
        LambdaDeadline(epochMilliseconds: deadline.epochMilliseconds - margin.wholeMilliseconds)
    }

    /// Orders deadlines by time.
    public static func < (lhs: LambdaDeadline, rhs: LambdaDeadline) -> Bool {
        lhs.epochMilliseconds < rhs.epochMilliseconds
    }
}
