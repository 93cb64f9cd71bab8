/// An error that chooses how Lambda reports it.
///
/// In the base rather than the runtime so that a library (flag configuration, event decoding) can say
/// how its errors are reported without depending on the runtime loop.
public protocol LambdaFunctionError: Error {
    /// The `errorType`, for example `Runtime.HandlerNotFound` or `Function.InvalidInput`.
    var errorType: String { get }
    /// The `errorMessage`: what happened, in words a user can act on.
    var errorMessage: String { get }
}
