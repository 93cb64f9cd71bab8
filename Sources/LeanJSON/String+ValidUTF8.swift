extension String {
    /// The text of `bytes` if they are valid UTF-8, else `nil`: like `String(validating:as:)`, with a
    /// fast path for ASCII, which is most of what Lambda events and responses carry (the generic
    /// initializer costs about a thousand instructions a call before it looks at a byte).
    public init?(validUTF8 bytes: ArraySlice<UInt8>) {
        let isASCII = bytes.withUnsafeBufferPointer { buffer in
            var union: UInt8 = 0
            for byte in buffer { union |= byte }
            return union < 0x80
        }
        if isASCII {
            self.init(decoding: bytes, as: UTF8.self)
        } else if let text = String(validating: bytes, as: UTF8.self) {
            self = text
        } else {
            return nil
        }
    }
}
