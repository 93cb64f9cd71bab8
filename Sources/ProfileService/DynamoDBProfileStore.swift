import AWSClients
import LambdaRuntime
import LeanJSON

/// Profiles in a DynamoDB table (partition key `userId`), through signed JSON calls over libcurl.
///
/// Writes are `UpdateItem` on the named attributes only, conditioned on `version`; reads are
/// consistent `GetItem`s. A whole-item `PutItem` is never used: it would delete the attributes the
/// other schema owns.
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

    /// `UpdateItem` with `SET`/`REMOVE` on the write's attributes and `version` under a condition.
    public func update(
        _ userID: String, _ write: ProfileWrite, expectedVersion: Int?, deadline: LambdaDeadline?
    ) async throws(ProfileStoreError) -> ProfileItem {
        var names: [String: JSON] = ["#version": "version"]
        var values: [String: JSON] = [":next": DynamoDBValue.attribute(.number(Double((expectedVersion ?? 0) + 1)))]
        var assignments = ["#version = :next"]
        for (index, name) in write.set.keys.sorted().enumerated() where name != "version" && name != "userId" {
            names["#s\(index)"] = .string(name)
            values[":s\(index)"] = DynamoDBValue.attribute(write.set[name]!)
            assignments.append("#s\(index) = :s\(index)")
        }
        var expression = "SET " + assignments.joined(separator: ", ")
        let removals = write.remove.filter { $0 != "version" && $0 != "userId" }
        if !removals.isEmpty {
            var removed: [String] = []
            for (index, name) in removals.enumerated() {
                names["#r\(index)"] = .string(name)
                removed.append("#r\(index)")
            }
            expression += " REMOVE " + removed.joined(separator: ", ")
        }
        let condition: String
        if let expectedVersion {
            condition = "#version = :expected"
            values[":expected"] = DynamoDBValue.attribute(.number(Double(expectedVersion)))
        } else {
            condition = "attribute_not_exists(#version)"
        }
        let answer = try await call("UpdateItem", [
            "TableName": .string(table), "Key": Self.key(userID), "UpdateExpression": .string(expression),
            "ConditionExpression": .string(condition), "ExpressionAttributeNames": .object(names),
            "ExpressionAttributeValues": .object(values), "ReturnValues": "ALL_NEW",
        ], deadline: deadline)
        guard let attributes = answer["Attributes"] else {
            throw .failed("UpdateItem returned no attributes")
        }
        return try Self.profile(DynamoDBValue.item(attributes))
    }

    /// `DeleteItem` conditioned on `version`.
    public func delete(_ userID: String, expectedVersion: Int, deadline: LambdaDeadline?) async throws(ProfileStoreError) {
        _ = try await call("DeleteItem", [
            "TableName": .string(table), "Key": Self.key(userID), "ConditionExpression": "#version = :expected",
            "ExpressionAttributeNames": ["#version": "version"],
            "ExpressionAttributeValues": [":expected": DynamoDBValue.attribute(.number(Double(expectedVersion)))],
        ], deadline: deadline)
    }

    private func call(_ operation: String, _ body: JSON, deadline: LambdaDeadline?) async throws(ProfileStoreError) -> JSON {
        do {
            return try await client.call(target: "DynamoDB_20120810.\(operation)", body: body, deadline: deadline)
        } catch {
            switch error.code {
            case "ConditionalCheckFailedException":
                throw .conflict
            case _ where error.isRetryable, "Timeout", "Transport":
                throw .unavailable("\(operation): \(error)", retryAfter: 1)
            default:
                throw .failed("\(operation) on \(table): \(error)")
            }
        }
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
