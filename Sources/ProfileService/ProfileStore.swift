import LambdaCore
import LeanJSON
import Synchronization

/// One stored profile: the key, the optimistic-locking version and every other attribute, whichever
/// schema wrote it.
public struct ProfileItem: Sendable, Equatable {
    /// The partition key.
    public var userID: String
    /// Rises by exactly one with every write.
    public var version: Int
    /// All other attributes (`name`, `email`, `displayName`, `preferences`, `updatedAt`…).
    public var attributes: [String: JSON]

    /// Creates an item.
    public init(userID: String, version: Int, attributes: [String: JSON]) {
        self.userID = userID
        self.version = version
        self.attributes = attributes
    }
}

/// The attributes one write sets and removes; everything else on the item stays as it is.
public struct ProfileWrite: Sendable, Equatable {
    /// Attributes to set.
    public var set: [String: JSON]
    /// Attributes to remove.
    public var remove: [String]

    /// Creates a write.
    public init(set: [String: JSON], remove: [String] = []) {
        self.set = set
        self.remove = remove
    }
}

/// Why a store call failed.
public enum ProfileStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The stored version is not the expected one (someone else wrote first); `current` is it, if known.
    case conflict
    /// The store cannot be reached or is throttling; try again after `retryAfter` seconds.
    case unavailable(String, retryAfter: Int)
    /// The store refused the call for a reason a retry will not fix.
    case failed(String)

    /// What happened.
    public var description: String {
        switch self {
        case .conflict: "the profile changed since it was read"
        case .unavailable(let detail, _): "the profile store is unavailable: \(detail)"
        case .failed(let detail): "the profile store failed: \(detail)"
        }
    }
}

/// Where profiles live. Every write is conditional on the version read before it.
public protocol ProfileStore: Sendable {
    /// `memory` or `dynamodb`, for `GET /health`.
    var kind: String { get }

    /// The item, read consistently; `nil` when there is none.
    func item(for userID: String, deadline: LambdaDeadline?) async throws(ProfileStoreError) -> ProfileItem?

    /// Applies `write` if the stored version is `expectedVersion` (`nil`: the item must not exist yet),
    /// setting the version to `expectedVersion + 1`; a new item starts one above the last version a
    /// deleted profile of that user reached (or at 1), so versions, and ETags, never repeat.
    /// Returns the item as stored afterwards.
    func update(
        _ userID: String, _ write: ProfileWrite, expectedVersion: Int?, deadline: LambdaDeadline?
    ) async throws(ProfileStoreError) -> ProfileItem

    /// Deletes the item if its version is `expectedVersion`, remembering that version.
    func delete(_ userID: String, expectedVersion: Int, deadline: LambdaDeadline?) async throws(ProfileStoreError)
}

/// The local default store: a dictionary behind a lock, with the same conditional semantics as DynamoDB.
public final class InMemoryProfileStore: ProfileStore {
    private struct Contents {
        var items: [String: ProfileItem] = [:]
        /// The last version of each deleted profile: a new one starts above it.
        var deletedVersions: [String: Int] = [:]
    }

    private let contents = Mutex(Contents())

    /// Creates an empty store.
    public init() {}

    /// `memory`
    public var kind: String { "memory" }

    /// The item, if any.
    public func item(for userID: String, deadline: LambdaDeadline?) async throws(ProfileStoreError) -> ProfileItem? {
        contents.withLock { $0.items[userID] }
    }

    /// Applies the write atomically under the version condition.
    public func update(
        _ userID: String, _ write: ProfileWrite, expectedVersion: Int?, deadline: LambdaDeadline?
    ) async throws(ProfileStoreError) -> ProfileItem {
        let result: ProfileItem? = contents.withLock { contents in
            let current = contents.items[userID]
            guard current?.version == expectedVersion else { return nil }
            var item = current ?? ProfileItem(userID: userID, version: contents.deletedVersions[userID] ?? 0, attributes: [:])
            for name in write.remove { item.attributes.removeValue(forKey: name) }
            for (name, value) in write.set { item.attributes[name] = value }
            item.version += 1
            contents.items[userID] = item
            return item
        }
        guard let result else { throw .conflict }
        return result
    }

    /// Deletes under the version condition.
    public func delete(_ userID: String, expectedVersion: Int, deadline: LambdaDeadline?) async throws(ProfileStoreError) {
        let deleted: Bool = contents.withLock { contents in
            guard contents.items[userID]?.version == expectedVersion else { return false }
            contents.items.removeValue(forKey: userID)
            contents.deletedVersions[userID] = max(contents.deletedVersions[userID] ?? 0, expectedVersion)
            return true
        }
        if !deleted { throw .conflict }
    }
}
