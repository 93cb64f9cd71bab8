import Logging
import Synchronization

/// Flags in process memory: evaluated without any I/O, refreshed from a ``FlagSource`` only when
/// the runtime calls ``refreshIfDue(now:)`` after a response has been posted.
///
/// A failed refresh keeps the last good document (evaluations say `STALE`); a flag never fetched
/// is off (`DEFAULT`); a garbled document is refused and logged, the last good one stays.
public final class FlagCache: FlagEvaluating {
    struct State {
        var document: FlagDocument?
        var stale = false
        var nextPollAt: ContinuousClock.Instant
        var lastError: String?
        var refreshing = false
    }

    /// Where documents come from.
    public let source: any FlagSource
    private let logger: Logger
    private let fetchTimeout: Duration
    private let firstLoadTimeout: Duration
    private let state: Mutex<State>

    /// The default budget of the first load (``load()``), during init.
    ///
    /// Longer than a refresh's: the first AppConfigData load is two calls over new TLS connections
    /// in a sandbox that is still starting, and a budget of one second ran out on a loaded machine.
    /// A cache that starts empty serves every flag off (the old schema) until the next refresh.
    public static let defaultFirstLoadTimeout: Duration = .seconds(2)

    /// Creates an empty cache (every flag `DEFAULT` until the first fetch). A refresh may take
    /// `fetchTimeout`, the first load (``load()``) `firstLoadTimeout`.
    public init(
        source: any FlagSource, logger: Logger, fetchTimeout: Duration = .seconds(1),
        firstLoadTimeout: Duration = FlagCache.defaultFirstLoadTimeout
    ) {
        self.source = source
        self.logger = logger
        self.fetchTimeout = fetchTimeout
        self.firstLoadTimeout = firstLoadTimeout
        self.state = Mutex(State(nextPollAt: .now))
    }

    /// The value of `flag` for `userID`, from memory.
    public func evaluate(_ flag: String, userID: String) -> FlagEvaluation {
        let (document, stale) = state.withLock { ($0.document, $0.stale) }
        guard let document else { return FlagEvaluation(value: false, reason: .defaultValue) }
        return document.evaluate(flag, userID: userID, stale: stale)
    }

    /// Whether the cache serves the last good document because the latest refresh failed.
    public var isStale: Bool {
        state.withLock { $0.stale }
    }

    /// `KIND (fresh|stale|not loaded)`, for `GET /health`: states only. The source's details (its
    /// path or AppConfig ids) and the last error, which may carry account and role ids, go to the log.
    public var sourceState: String {
        let kind = source.name.split(separator: ":", maxSplits: 1).first.map(String.init) ?? source.name
        return state.withLock { state in
            switch (state.document, state.stale) {
            case (nil, _): "\(kind) (not loaded)"
            case (_, true): "\(kind) (stale)"
            case (_, false): "\(kind) (fresh)"
            }
        }
    }

    /// The first load, during init: waits at most `firstLoadTimeout`; on failure the cache starts
    /// empty. Then ``RolloutBucket/prepare()``, so the first request does not initialize libcrypto.
    public func load() async {
        await refresh(timeout: firstLoadTimeout)
        RolloutBucket.prepare()
    }

    /// Refreshes when the poll interval has passed; otherwise returns at once.
    public func refreshIfDue(now: ContinuousClock.Instant = .now) async {
        let due = state.withLock { state -> Bool in
            guard !state.refreshing, now >= state.nextPollAt else { return false }
            state.refreshing = true
            return true
        }
        guard due else { return }
        await refresh(timeout: fetchTimeout)
    }

    private func refresh(timeout: Duration) async {
        let result: Result<FlagFetch, FlagSourceError>
        do {
            result = .success(try await source.fetch(timeout: timeout))
        } catch {
            result = .failure(error)
        }
        let now = ContinuousClock.now
        switch result {
        case .success(.unchanged(let interval)):
            state.withLock {
                $0.stale = false
                $0.lastError = nil
                $0.nextPollAt = now + interval
                $0.refreshing = false
            }
        case .success(.document(let bytes, let interval)):
            do {
                let document = try FlagDocument(parsing: bytes)
                let previous = state.withLock { state -> FlagDocument? in
                    let previous = state.document
                    state.document = document
                    state.stale = false
                    state.lastError = nil
                    state.nextPollAt = now + interval
                    state.refreshing = false
                    return previous
                }
                if previous != document {
                    logger.info("flags changed", metadata: [
                        "source": .string(source.name), "old": .string(Self.describe(previous)), "new": .string(Self.describe(document)),
                    ])
                }
            } catch {
                state.withLock {
                    $0.stale = $0.document != nil
                    $0.lastError = error.description
                    $0.nextPollAt = now + interval
                    $0.refreshing = false
                }
                logger.error("flag document refused; keeping the last good one", metadata: [
                    "source": .string(source.name), "reason": .string(error.reason),
                ])
            }
        case .failure(let error):
            let hadDocument = state.withLock { state -> Bool in
                state.stale = state.document != nil
                state.lastError = error.message
                state.nextPollAt = now + error.retryAfter
                state.refreshing = false
                return state.document != nil
            }
            logger.warning(hadDocument ? "flag refresh failed; serving the last good flags (STALE)" : "flags not loaded; every flag is off (DEFAULT)", metadata: [
                "source": .string(source.name), "error": .string(error.message),
            ])
        }
    }

    private static func describe(_ document: FlagDocument?) -> String {
        guard let document else { return "none" }
        return document.flags.sorted { $0.key < $1.key }.map { key, flag in
            var text = "\(key)=\(flag.enabled ? "on" : "off")"
            if let percentage = flag.rolloutPercentage { text += "@\(percentage)%" }
            return text
        }.joined(separator: ",")
    }
}
