import CCrypto

/// The sticky percentage bucket LaunchDarkly's SDKs compute, so a user's place in a rollout never
/// changes: SHA-1 of `flagKey.salt.userID`, the first 15 hex digits (60 bits) divided by
/// 0xFFFFFFFFFFFFFFF. Raising the percentage only ever adds users.
public enum RolloutBucket {
    private static let scale = Double(0xFFF_FFFF_FFFF_FFFF as UInt64)

    /// Computes one digest, so that libcrypto's first-use initialization (its algorithm tables and
    /// CPU probe, about 0.2 M instructions in the static bootstrap) happens now, during init, rather
    /// than in the first request that evaluates a rollout.
    public static func prepare() {
        _ = bucket(flagKey: "", salt: "", userID: "")
    }

    /// The bucket in [0, 1) for a user.
    public static func bucket(flagKey: String, salt: String, userID: String) -> Double {
        var flagKey = flagKey
        var salt = salt
        var userID = userID
        return flagKey.withUTF8 { key in
            salt.withUTF8 { salt in
                userID.withUTF8 { user in
                    let length = key.count + salt.count + user.count + 2
                    return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: length + 20) { buffer in
                        // flagKey "." salt "." userID, written in place: this runs on every evaluation.
                        var offset = 0
                        func append(_ part: UnsafeBufferPointer<UInt8>) {
                            for byte in part {
                                buffer[offset] = byte
                                offset += 1
                            }
                        }
                        append(key)
                        buffer[offset] = UInt8(ascii: ".")
                        offset += 1
                        append(salt)
                        buffer[offset] = UInt8(ascii: ".")
                        offset += 1
                        append(user)
                        // A temporary allocation of 22 bytes or more always has an address.
                        guard let input = buffer.baseAddress else { return 0 }
                        let digest = input + length
                        ccrypto_sha1(input, length, digest)
                        var leading: UInt64 = 0
                        for index in 0..<8 { leading = leading << 8 | UInt64(digest[index]) }
                        return Double(leading >> 4) / scale
                    }
                }
            }
        }
    }
}
