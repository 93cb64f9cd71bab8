/// A `Duration` as a count of one unit: the one place that reads `components`, so nobody multiplies
/// seconds and divides attoseconds by hand.
///
/// Whole counts round toward zero and saturate at `Int64`'s range (about 292 years of nanoseconds);
/// fractional counts are for reports and logs.
extension Duration {
    private static let attosecondsPerNanosecond: Int64 = 1_000_000_000

    /// Whole seconds, rounded toward zero.
    public var wholeSeconds: Int64 { components.seconds }

    /// Whole nanoseconds, rounded toward zero.
    public var wholeNanoseconds: Int64 { whole(nanosecondsPerUnit: 1) }

    /// Whole microseconds, rounded toward zero.
    public var wholeMicroseconds: Int64 { whole(nanosecondsPerUnit: 1_000) }

    /// Whole milliseconds, rounded toward zero.
    public var wholeMilliseconds: Int64 { whole(nanosecondsPerUnit: 1_000_000) }

    /// Seconds with their fraction, for reports.
    public var fractionalSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// Milliseconds with their fraction, for reports.
    public var fractionalMilliseconds: Double { fractionalSeconds * 1e3 }

    /// Microseconds with their fraction, for reports.
    public var fractionalMicroseconds: Double { fractionalSeconds * 1e6 }

    /// Nanoseconds with their fraction, for reports.
    public var fractionalNanoseconds: Double { fractionalSeconds * 1e9 }

    private func whole(nanosecondsPerUnit: Int64) -> Int64 {
        let (seconds, attoseconds) = components
        let unitsPerSecond = 1_000_000_000 / nanosecondsPerUnit
        let fraction = attoseconds / (Self.attosecondsPerNanosecond * nanosecondsPerUnit)
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: unitsPerSecond)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, sumOverflow) = scaled.addingReportingOverflow(fraction)
        if sumOverflow { return seconds < 0 ? .min : .max }
        return sum
    }
}
