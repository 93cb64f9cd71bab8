import LeanJSON

/// Conversion between plain JSON values and DynamoDB's typed attribute values
/// (`{"S":…}`, `{"N":"…"}`, `{"BOOL":…}`, `{"NULL":true}`, `{"M":…}`, `{"L":…}`).
public enum DynamoDBValue {
    /// The attribute value for a JSON value.
    public static func attribute(_ value: JSON) -> JSON {
        switch value {
        case .null: ["NULL": true]
        case .bool(let flag): ["BOOL": .bool(flag)]
        case .number: ["N": .string(value.text)]
        case .string(let text): ["S": .string(text)]
        case .array(let elements): ["L": .array(elements.map(attribute))]
        case .object(let members): ["M": .object(members.mapValues(attribute))]
        }
    }

    /// The JSON value of an attribute value; `nil` for types this project does not store (sets, binary).
    public static func plain(_ attribute: JSON) -> JSON? {
        guard let members = attribute.objectValue, members.count == 1, let (type, value) = members.first else { return nil }
        switch type {
        case "S": return value.stringValue.map(JSON.string)
        case "N": return value.stringValue.flatMap(Double.init).map(JSON.number)
        case "BOOL": return value.boolValue.map(JSON.bool)
        case "NULL": return .null
        case "L": return value.arrayValue.map { .array($0.compactMap(plain)) }
        case "M": return value.objectValue.map { .object($0.compactMapValues(plain)) }
        default: return nil
        }
    }

    /// An item (attribute name → attribute value) as plain JSON values.
    public static func item(_ attributes: JSON) -> [String: JSON] {
        (attributes.objectValue ?? [:]).compactMapValues(plain)
    }
}
