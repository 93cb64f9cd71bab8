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
            var text: [UInt8] = []
            writeRFC3339(to: &text)
            return String(decoding: text, as: UTF8.self)
        }

        /// Appends ``rfc3339`` as UTF-8 (24 bytes).
        public func writeRFC3339(to output: inout [UInt8]) {
            var seconds = time_t(epochMilliseconds / 1000)
            var millis = Int(epochMilliseconds % 1000)
            if millis < 0 {
                millis += 1000
                seconds -= 1
            }
            var parts = tm()
            gmtime_r(&seconds, &parts)
            func digits(_ value: Int, _ width: Int) {
                var divisor = 1
                for _ in 1..<width { divisor *= 10 }
                var value = max(0, value)
                while divisor > 0 {
                    output.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
                    value %= divisor
                    divisor /= 10
                }
            }
            digits(Int(parts.tm_year) + 1900, 4)
            output.append(UInt8(ascii: "-"))
            digits(Int(parts.tm_mon) + 1, 2)
            output.append(UInt8(ascii: "-"))
            digits(Int(parts.tm_mday), 2)
            output.append(UInt8(ascii: "T"))
            digits(Int(parts.tm_hour), 2)
            output.append(UInt8(ascii: ":"))
            digits(Int(parts.tm_min), 2)
            output.append(UInt8(ascii: ":"))
            digits(Int(parts.tm_sec), 2)
            output.append(UInt8(ascii: "."))
            digits(millis, 3)
            output.append(UInt8(ascii: "Z"))
        }
    }

    /// The current wall-clock time.
    public static func now() -> Instant {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Instant(epochMilliseconds: Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000)
    }
}
