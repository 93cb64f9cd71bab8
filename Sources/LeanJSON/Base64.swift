internal import ExtrasBase64

/// Standard base64 (RFC 4648 §4), without Foundation: API Gateway's binary bodies, the streaming
/// error trailer.
///
/// The work is swift-extras-base64's (Chromium's lookup tables; 1.6–15x fewer instructions than the
/// hand-written loop this replaced, `bench/dependency-choices.md`); this type keeps LeanJSON's API and
/// its stricter rule for `=`.
public enum Base64 {
    /// Decodes padded or unpadded base64; `nil` for any other character or a wrong length.
    ///
    /// Padding must be whole: `TQ==` and `TQ` decode, `TQ=` and `TW=u` do not (the package alone,
    /// told that padding may be omitted, would take both).
    public static func decode(_ text: String) -> [UInt8]? {
        guard hasWholePadding(text.utf8) else { return nil }
        return try? ExtrasBase64.Base64.decode(string: text, options: .omitPaddingCharacter)
    }

    /// Encodes with padding.
    public static func encode(_ bytes: [UInt8]) -> String {
        ExtrasBase64.Base64.encodeToString(bytes: bytes)
    }

    /// Whether a trailing `=` fills the last group of four: the package rejects `=` anywhere else
    /// as a character, but not in the third place of the last group nor in a short last group.
    private static func hasWholePadding(_ utf8: String.UTF8View) -> Bool {
        let pad = UInt8(ascii: "=")
        guard let last = utf8.last else { return true }
        if utf8.count % 4 != 0 { return last != pad }
        return last == pad || utf8[utf8.index(utf8.endIndex, offsetBy: -2)] != pad
    }
}
