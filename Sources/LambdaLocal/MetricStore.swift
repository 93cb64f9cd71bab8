import Synchronization

/// One CloudWatch dimension.
public struct MetricDimension: Hashable, Sendable, Codable {
    /// The dimension name, e.g. `ExecutedVersion`.
    public var name: String
    /// Its value, e.g. `2`.
    public var value: String

    /// Creates a dimension.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    enum CodingKeys: String, CodingKey {
        case name = "Name", value = "Value"
    }
}

/// What identifies a metric in CloudWatch: namespace, name and the exact set of dimensions.
public struct MetricKey: Hashable, Sendable {
    /// The namespace (`AWS/Lambda`, `ProfileService`).
    public var namespace: String
    /// The metric name.
    public var name: String
    /// The dimensions, sorted by name (CloudWatch matches the set, not the order).
    public var dimensions: [MetricDimension]

    /// Creates a key; the dimensions are sorted so that equal sets give equal keys.
    public init(namespace: String, name: String, dimensions: [MetricDimension]) {
        self.namespace = namespace
        self.name = name
        self.dimensions = dimensions.sorted { Array($0.name.utf8).lexicographicallyPrecedes($1.name.utf8) }
    }
}

/// One value of a metric at a time (seconds since the epoch).
public struct MetricSample: Sendable, Equatable {
    /// When it was measured.
    public var time: Double
    /// The value.
    public var value: Double
    /// The CloudWatch unit (`Count`, `Milliseconds`…).
    public var unit: String
}

/// The statistics of one period, as GetMetricStatistics returns them.
public struct MetricAggregate: Sendable, Equatable {
    /// Start of the period (seconds since the epoch).
    public var start: Double
    /// The values in the period, sorted.
    public var values: [Double]
    /// The unit of the first value.
    public var unit: String

    /// Number of values.
    public var sampleCount: Double { Double(values.count) }
    /// Sum of the values.
    public var sum: Double { values.reduce(0, +) }
    /// Mean of the values.
    public var average: Double { values.isEmpty ? 0 : sum / sampleCount }
    /// Smallest value.
    public var minimum: Double { values.first ?? 0 }
    /// Largest value.
    public var maximum: Double { values.last ?? 0 }

    /// The `p` percentile (0…100), nearest rank, as CloudWatch approximates it.
    public func percentile(_ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let rank = Int((p / 100 * Double(values.count)).rounded(.up))
        return values[min(values.count - 1, max(0, rank - 1))]
    }

    /// A statistic by CloudWatch name: `Sum`, `Average`, `SampleCount`, `Minimum`, `Maximum`, `pNN(.N)`;
    /// `nil` for a name CloudWatch would refuse.
    public func statistic(_ name: String) -> Double? {
        switch name {
        case "Sum": return sum
        case "Average": return average
        case "SampleCount": return sampleCount
        case "Minimum": return minimum
        case "Maximum": return maximum
        default:
            guard name.utf8.first == UInt8(ascii: "p"), let p = Double(name.dropFirst()), p >= 0, p <= 100 else { return nil }
            return percentile(p)
        }
    }
}

/// CloudWatch metrics in memory, bounded: at most ``maxSamples`` values over at most ``maxSeries``
/// metrics. Past the first bound the oldest minute of every metric is dropped; a new metric beyond the
/// second is not recorded (and counted in ``droppedSamples``). Safe to use from any thread.
public final class MetricStore: Sendable {
    /// Most values kept.
    public let maxSamples: Int
    /// Most distinct metrics (namespace, name, dimension set) kept.
    public let maxSeries: Int

    private struct State {
        var series: [MetricKey: [MetricSample]] = [:]
        var count = 0
        var dropped = 0
    }

    private let state = Mutex(State())

    /// Creates an empty store with these bounds.
    public init(maxSamples: Int = 500_000, maxSeries: Int = 10_000) {
        self.maxSamples = maxSamples
        self.maxSeries = maxSeries
    }

    /// Records one value.
    public func record(_ key: MetricKey, value: Double, unit: String, time: Double) {
        let maxSamples = self.maxSamples, maxSeries = self.maxSeries
        state.withLock { state in
            if state.series[key] == nil, state.series.count >= maxSeries {
                state.dropped += 1
                return
            }
            state.series[key, default: []].append(MetricSample(time: time, value: value, unit: unit))
            state.count += 1
            if state.count > maxSamples { Self.evictOldestMinute(&state) }
        }
    }

    /// Values recorded so far that were not kept (too many metrics).
    public var droppedSamples: Int { state.withLock { $0.dropped } }

    /// Values kept now.
    public var sampleCount: Int { state.withLock { $0.count } }

    /// The metrics whose key matches `namespace`, `name` and exactly `dimensions`, aggregated per
    /// `period` seconds from `start` (inclusive) to `end` (exclusive); periods without data are absent.
    public func aggregates(_ key: MetricKey, start: Double, end: Double, period: Double, unit: String? = nil) -> [MetricAggregate] {
        guard period > 0, end > start else { return [] }
        let samples = state.withLock { $0.series[key] ?? [] }
        var buckets: [Int: [MetricSample]] = [:]
        for sample in samples where sample.time >= start && sample.time < end {
            if let unit, sample.unit != unit { continue }
            buckets[Int((sample.time - start) / period), default: []].append(sample)
        }
        return buckets.keys.sorted().compactMap { index in
            guard let bucket = buckets[index], let first = bucket.first else { return nil }
            return MetricAggregate(start: start + Double(index) * period, values: bucket.map(\.value).sorted(), unit: first.unit)
        }
    }

    /// Every metric key kept now.
    public var keys: [MetricKey] { state.withLock { Array($0.series.keys) } }

    private static func evictOldestMinute(_ state: inout State) {
        guard let oldest = state.series.values.compactMap({ $0.first?.time }).min() else { return }
        let cutoff = oldest - oldest.truncatingRemainder(dividingBy: 60) + 60
        for (key, samples) in state.series {
            let kept = samples.filter { $0.time >= cutoff }
            state.count -= samples.count - kept.count
            state.series[key] = kept.isEmpty ? nil : kept
        }
    }
}
