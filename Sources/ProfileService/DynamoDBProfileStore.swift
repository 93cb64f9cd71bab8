import AWSClients
import LambdaCore
import LeanJSON

/// Profiles in a DynamoDB table (partition key `userId`), through signed JSON calls over libcurl.
///
/// Writes are `UpdateItem` on the named attributes only, conditioned on `version`; reads are
/// consistent `GetItem`s. A whole-item `PutItem` is never used: it would delete the attributes the
/// other schema owns.
///
/// Versions never restart: a delete leaves a tombstone item under the key `USERID#deleted` (`#` is
/// never part of a user id) holding the last version, and a new profile of that user starts above
/// it, so an ETag read before a delete can never match the re-created profile. Deleting and
/// creating are transactions (`TransactWriteItems`) over the profile and its tombstone.
public struct DynamoDBProfileStore: ProfileStore {
    /// The table name (`PROFILE_TABLE`).
    public let table: String
    private let client: AWSJSONClient

    /// Creates a store for `table` with the given AWS settings.
    public init(table: String, environment: AWSEnvironment, retryPolicy: AWSJSONClient.RetryPolicy = .init()) {
        self.table = table
        self.client = AWSJSONClient(
            environment: environment, serviceID: "DYNAMODB", hostPrefix: "dynamodb", signingName: "dynamodb",
            retryPolicy: retryPolicy)
    }

    /// `dynamodb`
    public var kind: String { "dynamodb" }

    /// A consistent `GetItem`.
    public func item(for userID: String, deadline: LambdaDeadline?) async throws(ProfileStoreError) -> ProfileItem? {
        let answer = try await call("GetItem", [
            "TableName": .string(table), "Key": Self.key(userID), "ConsistentRead": true,
        ], deadline: deadline)
        guard let attributes = answer["Item"], attributes.objectValue?.isEmpty == false else { return nil }
        return try Self.profile(DynamoDBValue.item(attributes))
    }

    /// `UpdateItem` with `SET`/`REMOVE` on the write's attributes and `version` under a condition; a
    /// creation (`expectedVersion == nil`) continues the version of the user's tombstone, in one
    /// transaction with a check that the tombstone did not move.
    public func update(
        _ userID: String, _ write: ProfileWrite, expectedVersion: Int?, deadline: LambdaDeadline?
    ) async throws(ProfileStoreError) -> ProfileItem {
        let base: Int
        if let expectedVersion {
            base = expectedVersion
        } else {
            base = try await tombstoneVersion(userID, deadline: deadline) ?? 0
        }
        var names: [String: JSON] = ["#version": "version"]
        var values: [String: JSON] = [":next": Self.number(base + 1)]
        var assignments = ["#version = :next"]
        for (index, name) in write.set.keys.sorted().enumerated() where !Self.isKeyAttribute(name) {
            guard let value = write.set[name] else { continue }
            names["#s\(index)"] = .string(name)
            values[":s\(index)"] = DynamoDBValue.attribute(value)
            assignments.append("#s\(index) = :s\(index)")
        }
        var expression = "SET " + assignments.joined(separator: ", ")
        let removals = write.remove.filter { !Self.isKeyAttribute($0) }
        if !removals.isEmpty {
            var removed: [String] = []
            for (index, name) in removals.enumerated() {
                names["#r\(index)"] = .string(name)
                removed.append("#r\(index)")
            }
            expression += " REMOVE " + removed.joined(separator: ", ")
        }
        guard expectedVersion == nil else {
            values[":expected"] = Self.number(base)
            let answer: JSON
            do throws(AWSError) {
                answer = try await client.call(target: "DynamoDB_20120810.UpdateItem", body: [
                    "TableName": .string(table), "Key": Self.key(userID), "UpdateExpression": .string(expression),
                    "ConditionExpression": "#version = :expected", "ExpressionAttributeNames": .object(names),
                    "ExpressionAttributeValues": .object(values), "ReturnValues": "ALL_NEW",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                ], deadline: deadline)
            } catch {
                // The answer to an applied write can be lost and the client retry it; the retry then
                // fails its condition on that very write. The item DynamoDB returns tells.
                if let own = Self.ownWrite(in: error, write, version: base + 1) { return own }
                throw storeError(error, operation: "UpdateItem")
            }
            guard let attributes = answer["Attributes"] else { throw .failed("UpdateItem returned no attributes") }
            return try Self.profile(DynamoDBValue.item(attributes))
        }
        let tombstoneCheck: JSON = base == 0
            ? ["TableName": .string(table), "Key": Self.key(Self.tombstoneKey(userID)),
               "ConditionExpression": "attribute_not_exists(#version)", "ExpressionAttributeNames": ["#version": "version"]]
            : ["TableName": .string(table), "Key": Self.key(Self.tombstoneKey(userID)),
               "ConditionExpression": "#version = :base", "ExpressionAttributeNames": ["#version": "version"],
               "ExpressionAttributeValues": [":base": Self.number(base)]]
        _ = try await call("TransactWriteItems", ["TransactItems": [
            ["ConditionCheck": tombstoneCheck],
            ["Update": [
                "TableName": .string(table), "Key": Self.key(userID), "UpdateExpression": .string(expression),
                "ConditionExpression": "attribute_not_exists(#version)", "ExpressionAttributeNames": .object(names),
                "ExpressionAttributeValues": .object(values),
            ]],
        ]], deadline: deadline)
        let attributes = write.set.filter { !Self.isKeyAttribute($0.key) }
        return ProfileItem(userID: userID, version: base + 1, attributes: attributes)
    }

    /// Deletes the profile if its version is `expectedVersion` and, in the same transaction, records
    /// the highest version the user's profiles reached in the tombstone.
    public func delete(_ userID: String, expectedVersion: Int, deadline: LambdaDeadline?) async throws(ProfileStoreError) {
        let previous = try await tombstoneVersion(userID, deadline: deadline)
        var tombstone: [String: JSON] = [
            "TableName": .string(table),
            "Item": ["userId": ["S": .string(Self.tombstoneKey(userID))],
                     "version": Self.number(max(previous ?? 0, expectedVersion)),
                     "deletedAt": ["S": .string(WallClock.now().rfc3339)]],
            "ExpressionAttributeNames": ["#version": "version"],
        ]
        if let previous {
            tombstone["ConditionExpression"] = "#version = :previous"
            tombstone["ExpressionAttributeValues"] = [":previous": Self.number(previous)]
        } else {
            tombstone["ConditionExpression"] = "attribute_not_exists(#version)"
        }
        _ = try await call("TransactWriteItems", ["TransactItems": [
            ["Delete": [
                "TableName": .string(table), "Key": Self.key(userID), "ConditionExpression": "#version = :expected",
                "ExpressionAttributeNames": ["#version": "version"],
                "ExpressionAttributeValues": [":expected": Self.number(expectedVersion)],
            ]],
            ["Put": .object(tombstone)],
        ]], deadline: deadline)
    }

    /// The version the user's last deleted profile reached, if one was deleted.
    private func tombstoneVersion(_ userID: String, deadline: LambdaDeadline?) async throws(ProfileStoreError) -> Int? {
        let answer = try await call("GetItem", [
            "TableName": .string(table), "Key": Self.key(Self.tombstoneKey(userID)), "ConsistentRead": true,
        ], deadline: deadline)
        guard let item = answer["Item"]?.objectValue, let version = item["version"]?["N"]?.stringValue else { return nil }
        guard let value = Int(version) else { throw .failed("tombstone of \(userID) has version \(version)") }
        return value
    }

    /// `userId` and `version`, which only the store writes (compared as bytes).
    static func isKeyAttribute(_ name: String) -> Bool {
        name.utf8.elementsEqual("userId".utf8) || name.utf8.elementsEqual("version".utf8)
    }

    /// The tombstone's key: a user id never contains `#`.
    static func tombstoneKey(_ userID: String) -> String { userID + "#deleted" }

    private static func number(_ value: Int) -> JSON { ["N": .string(String(value))] }

    private func call(_ operation: String, _ body: JSON, deadline: LambdaDeadline?) async throws(ProfileStoreError) -> JSON {
        do {
            return try await client.call(target: "DynamoDB_20120810.\(operation)", body: body, deadline: deadline)
        } catch {
            throw storeError(error, operation: operation)
        }
    }

    /// What an AWS error means for the API: a lost race, a store that is unavailable for now
    /// (throttling, 5xx, no connection, an answer cut short), or a failure a retry will not fix.
    private func storeError(_ error: AWSError, operation: String) -> ProfileStoreError {
        switch error.kind {
        case .conditionFailed:
            return .conflict
        case .transactionCanceled where error.cancellationReasons.contains(where: Self.isLostRace):
            return .conflict
        case .transport, .deadlineExceeded, .malformedResponse, .busy, .serviceFailure:
            return .unavailable("\(operation): \(error)", retryAfter: 1)
        case .transactionCanceled, .accessDenied, .rejected:
            return .failed("\(operation) on \(table): \(error)")
        }
    }

    /// A transaction item that was cancelled because another writer got there first.
    private static func isLostRace(_ reason: String) -> Bool {
        reason.utf8.elementsEqual("ConditionalCheckFailed".utf8) || reason.utf8.elementsEqual("TransactionConflict".utf8)
    }

    /// The item of a failed condition check (`ReturnValuesOnConditionCheckFailure: ALL_OLD`) when it
    /// is exactly what `write` made at `version`: every set attribute equal (`updatedAt` is this
    /// write's own timestamp), every removed one gone.
    static func ownWrite(in error: AWSError, _ write: ProfileWrite, version: Int) -> ProfileItem? {
        guard error.kind == .conditionFailed,
              let body = try? JSON(parsing: Array(error.body.utf8), maxDepth: 64), let attributes = body["Item"],
              let item = try? profile(DynamoDBValue.item(attributes)), item.version == version
        else { return nil }
        for (name, value) in write.set where !isKeyAttribute(name) {
            guard let stored = item.attributes.first(where: { $0.key.utf8.elementsEqual(name.utf8) })?.value,
                  stored == value else { return nil }
        }
        for name in write.remove where item.attributes.keys.contains(where: { $0.utf8.elementsEqual(name.utf8) }) {
            return nil
        }
        return item
    }

    private static func key(_ userID: String) -> JSON {
        ["userId": ["S": .string(userID)]]
    }

    private static func profile(_ attributes: [String: JSON]) throws(ProfileStoreError) -> ProfileItem {
        guard let userID = attributes["userId"]?.stringValue, let version = attributes["version"]?.intValue else {
            throw .failed("stored item without userId or version")
        }
        var rest = attributes
        rest.removeValue(forKey: "userId")
        rest.removeValue(forKey: "version")
        return ProfileItem(userID: userID, version: version, attributes: rest)
    }
}
