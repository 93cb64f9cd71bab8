#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The system's real-time clock, which Lambda deadlines and log timestamps are measured against.
public enum WallClock {
    /// A moment of wall-clock time.
    public struct Instant: Sendable, Equatable, Comparable {
        /// Milliseconds since the Unix epoch.
        public let epochMilliseconds: Int64

        /// Creates an instant.
        public init(epochMilliseconds: Int64) {
            self.epochMilliseconds = epochMilliseconds
        }

        /// Orders instants by time.
        public static func < (lhs: Instant, rhs: Instant) -> Bool {
            lhs.epochMilliseconds < rhs.epochMilliseconds
        }

        /// RFC 3339 in UTC with milliseconds, for example `2024-01-16T10:30:45.586Z`.
        public var rfc3339: String {
            var seconds = time_t(epochMilliseconds / 1000)
            var millis = Int(epochMilliseconds % 1000)
            if millis < 0 {
                millis += 1000
                seconds -= 1
            }
            var parts = tm()
            gmtime_r(&seconds, &parts)
            var text = ""
            text.reserveCapacity(24)
            text.appendPadded(Int(parts.tm_year) + 1900, width: 4)
            text.append("-")
            text.appendPadded(Int(parts.tm_mon) + 1, width: 2)
            text.append("-")
            text.appendPadded(Int(parts.tm_mday), width: 2)
            text.append("T")
            text.appendPadded(Int(parts.tm_hour), width: 2)
            text.append(":")
            text.appendPadded(Int(parts.tm_min), width: 2)
            text.append(":")
            text.appendPadded(Int(parts.tm_sec), width: 2)
            text.append(".")
            text.appendPadded(millis, width: 3)
            text.append("Z")
            return text
        }
    }

    /// The current wall-clock time.
    public static func now() -> Instant {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Instant(epochMilliseconds: Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000)
    }
}

extension String {
    mutating func appendPadded(_ value: Int, width: Int) {
        let digits = String(value)
        if digits.utf8.count < width {
            append(String(repeating: "0", count: width - digits.utf8.count))
        }
        append(digits)
    }
}
