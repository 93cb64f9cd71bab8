import Foundation
import LambdaCore

/// The platform lines Lambda writes around invocations (REPORT, INIT_REPORT) and their number formats.
enum PlatformLog {
    /// One `REPORT` line.
    struct Report {
        /// How an invocation ended, as the REPORT line's `Status` shows it.
        enum Status {
            case success, timeout, exitError
        }

        var requestID: String
        var duration: Duration
        /// The init duration, on the first REPORT of an instance only (it is also billed).
        var initDuration: Duration?
        var memorySizeMB: Int
        var maxMemoryUsedMB: Int?
        var status: Status

        /// The line, tab-separated as Lambda writes it.
        var line: String {
            var billed = duration
            if let initDuration { billed += initDuration }
            let billedMilliseconds = Int((billed.fractionalMilliseconds).rounded(.up))
            var report = "REPORT RequestId: \(requestID)\tDuration: \(PlatformLog.milliseconds(duration)) ms"
            report += "\tBilled Duration: \(max(1, billedMilliseconds)) ms\tMemory Size: \(memorySizeMB) MB"
            report += "\tMax Memory Used: \(maxMemoryUsedMB.map(String.init) ?? "?") MB"
            if let initDuration { report += "\tInit Duration: \(PlatformLog.milliseconds(initDuration)) ms" }
            switch status {
            case .success: break
            case .timeout: report += "\tStatus: timeout"
            case .exitError: report += "\tStatus: error\tError Type: Runtime.ExitError"
            }
            return report
        }
    }

    /// A process's peak resident memory (VmHWM from `/proc/PID/status`), in MB.
    static func maxMemoryUsedMB(pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return nil }
        return Int((Double(kilobytes) / 1024).rounded(.up))
    }

    /// `12.34`: milliseconds with two decimals.
    static func milliseconds(_ duration: Duration) -> String {
        String(format: "%.2f", duration.fractionalMilliseconds)
    }

    /// `3.00`: seconds with two decimals, as in "Task timed out after 3.00 seconds".
    static func seconds(_ duration: Duration) -> String {
        String(format: "%.2f", duration.fractionalSeconds)
    }

    /// The ISO 8601 time with milliseconds, as Lambda stamps its own log lines.
    static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }
}
