#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import LambdaCore
import Synchronization

/// Watches a Swift package's `Sources/` (every directory under it, new ones included) and its `Package.swift`
/// with inotify, and reports changes in bursts: a burst of saves becomes one report.
final class SourceWatcher: Sendable {
    /// The package root (holding `Package.swift` and `Sources/`).
    let packagePath: String
    private let descriptor: Int32
    private let rootWatch: Int32
    /// Watched directories under `Sources/`, by watch descriptor.
    private let directories = Mutex<[Int32: String]>([:])
    private let stopped = Atomic<Bool>(false)

    private static let directoryEvents = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE)

    /// Starts watching `packagePath`; fails when it has no `Sources/` or inotify refuses.
    init(packagePath: String) throws(WatchError) {
        let sources = packagePath + "/Sources"
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: sources, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .noSources(packagePath)
        }
        let descriptor = inotify_init1(Int32(IN_CLOEXEC))
        guard descriptor >= 0 else { throw .inotify("inotify_init1: \(String(cString: strerror(errno)))") }
        self.packagePath = packagePath
        self.descriptor = descriptor
        rootWatch = inotify_add_watch(descriptor, packagePath, UInt32(IN_CLOSE_WRITE | IN_MOVED_TO))
        guard rootWatch >= 0 else {
            close(descriptor)
            throw .inotify("watching \(packagePath): \(String(cString: strerror(errno)))")
        }
        try addTree(sources)
    }

    deinit {
        close(descriptor)
    }

    /// Watches `directory` and every directory below it.
    private func addTree(_ directory: String) throws(WatchError) {
        let watch = inotify_add_watch(descriptor, directory, Self.directoryEvents)
        guard watch >= 0 else { throw .inotify("watching \(directory): \(String(cString: strerror(errno)))") }
        directories.withLock { $0[watch] = directory }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for entry in entries where !Self.isIgnored(Array(entry.utf8)) {
            var isDirectory: ObjCBool = false
            let path = directory + "/" + entry
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                try addTree(path)
            }
        }
    }

    /// Editor droppings (`.main.swift.swp`, `main.swift~`) and hidden files change nothing a build sees.
    private static func isIgnored(_ name: [UInt8]) -> Bool {
        name.first == UInt8(ascii: ".") || name.last == UInt8(ascii: "~")
    }

    /// Blocks, calling `onChange` with the changed paths once a burst of changes has been quiet for
    /// `quietPeriod`, until ``stop()``. Changes made while `onChange` runs make the next burst.
    func run(quietPeriod: Duration, onChange: ([String]) -> Void) {
        let quiet = Int32(clamping: quietPeriod.wholeMilliseconds)
        while !stopped.load(ordering: .acquiring) {
            guard wait(milliseconds: 200) else { continue }
            var changed = readChanges()
            guard !changed.isEmpty else { continue }
            while wait(milliseconds: quiet) { changed += readChanges() }
            guard !stopped.load(ordering: .acquiring) else { return }
            onChange(changed)
        }
    }

    /// Makes ``run(quietPeriod:onChange:)`` return (within 200 ms, or once the build it runs ends).
    func stop() {
        stopped.store(true, ordering: .releasing)
    }

    private func wait(milliseconds: Int32) -> Bool {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, milliseconds) > 0
    }

    /// Reads the pending events: the paths that changed (a new directory is watched from now on).
    private func readChanges() -> [String] {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return [] }
        var changed: [String] = []
        var offset = 0
        let header = MemoryLayout<inotify_event>.size
        while offset + header <= count {
            let (watch, mask, length) = buffer.withUnsafeBytes { bytes in
                (bytes.loadUnaligned(fromByteOffset: offset, as: Int32.self),
                 bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self),
                 Int(bytes.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self)))
            }
            let nameBytes = buffer[(offset + header)..<min(count, offset + header + length)].prefix { $0 != 0 }
            offset += header + length
            if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                changed.append(packagePath + "/Sources")
                continue
            }
            let name = Array(nameBytes)
            if watch == rootWatch {
                if name.elementsEqual("Package.swift".utf8) { changed.append(packagePath + "/Package.swift") }
                continue
            }
            if mask & UInt32(IN_IGNORED) != 0 {
                _ = directories.withLock { $0.removeValue(forKey: watch) }
                continue
            }
            guard !name.isEmpty, !Self.isIgnored(name), let directory = directories.withLock({ $0[watch] }) else { continue }
            let path = directory + "/" + String(decoding: name, as: UTF8.self)
            if mask & UInt32(IN_ISDIR) != 0, mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0 {
                try? addTree(path)
            }
            changed.append(path)
        }
        return changed
    }
}

/// Why `--watch` cannot watch or rebuild.
public enum WatchError: Error, CustomStringConvertible {
    /// The package has no `Sources/` directory.
    case noSources(String)
    /// inotify refused (the message says which call and why).
    case inotify(String)
    /// The bootstrap is not in a SwiftPM build directory, so there is no build that would replace it.
    case notInScratchPath(String)
    /// No `Package.swift` where the package was expected.
    case noPackage(String)

    /// What went wrong and what to do.
    public var description: String {
        switch self {
        case .noSources(let package):
            "--watch: \(package) has no Sources/ directory to watch (pass --package-path)"
        case .inotify(let message):
            "--watch: \(message)"
        case .notInScratchPath(let bootstrap):
            "--watch: \(bootstrap) is not in a SwiftPM build directory (SCRATCH/TRIPLE/debug or release); build it with swift build --product bootstrap"
        case .noPackage(let path):
            "--watch: no Package.swift in \(path) (pass --package-path)"
        }
    }
}
