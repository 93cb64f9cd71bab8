#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CurlHTTP

/// Credentials, region and endpoints, read the way AWS SDKs read them inside Lambda.
public struct AWSEnvironment: Sendable, Equatable {
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`).
    public var region: String
    /// `AWS_ACCESS_KEY_ID`
    public var accessKeyID: String
    /// `AWS_SECRET_ACCESS_KEY`
    public var secretAccessKey: String
    /// `AWS_SESSION_TOKEN` (always set inside Lambda).
    public var sessionToken: String?
    /// `AWS_ENDPOINT_URL`, and `AWS_ENDPOINT_URL_<SERVICE>` overrides by service id (`DYNAMODB`,
    /// `APPCONFIGDATA`, `LAMBDA`, `CODEDEPLOY`).
    public var endpointOverrides: [String: String]
    /// The CA bundle for HTTPS: `SSL_CERT_FILE`, else Amazon Linux's, else Debian's, if present.
    public var caBundlePath: String?

    /// Creates an environment.
    public init(
        region: String, accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil,
        endpointOverrides: [String: String] = [:], caBundlePath: String? = nil
    ) {
        self.region = region
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.endpointOverrides = endpointOverrides
        self.caBundlePath = caBundlePath
    }

    /// Reads the environment through `lookup` (the process environment in production).
    public init(lookup: (String) -> String?) throws(AWSConfigurationError) {
        func value(_ name: String) -> String? {
            guard let text = lookup(name), !text.isEmpty else { return nil }
            return text
        }
        guard let region = value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") else { throw .missing("AWS_REGION") }
        guard let key = value("AWS_ACCESS_KEY_ID") else { throw .missing("AWS_ACCESS_KEY_ID") }
        guard let secret = value("AWS_SECRET_ACCESS_KEY") else { throw .missing("AWS_SECRET_ACCESS_KEY") }
        var overrides: [String: String] = [:]
        if let all = value("AWS_ENDPOINT_URL") { overrides[""] = all }
        for service in ["DYNAMODB", "APPCONFIGDATA", "LAMBDA", "CODEDEPLOY"] {
            if let specific = value("AWS_ENDPOINT_URL_\(service)") { overrides[service] = specific }
        }
        self.init(
            region: region, accessKeyID: key, secretAccessKey: secret, sessionToken: value("AWS_SESSION_TOKEN"),
            endpointOverrides: overrides,
            caBundlePath: Self.caBundle(explicit: value("SSL_CERT_FILE"), exists: { access($0, R_OK) == 0 }))
    }

    /// The first readable CA bundle: `explicit`, Amazon Linux's, Debian's.
    public static func caBundle(explicit: String?, exists: (String) -> Bool) -> String? {
        if let explicit { return explicit }
        return ["/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/certs/ca-certificates.crt"].first(where: exists)
    }

    /// The endpoint for a service: its override, the global override, or `https://HOST.REGION.amazonaws.com`.
    public func endpoint(serviceID: String, hostPrefix: String) -> String {
        var url = endpointOverrides[serviceID.uppercased()] ?? endpointOverrides[""]
            ?? "https://\(hostPrefix).\(region).amazonaws.com"
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    /// Signing parameters for a service.
    public func signing(service: String) -> AWSSigV4 {
        AWSSigV4(region: region, service: service, accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, sessionToken: sessionToken)
    }
}

/// A setting AWS calls need is missing.
public enum AWSConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The variable is not set.
    case missing(String)

    /// Which variable.
    public var description: String {
        switch self {
        case .missing(let name): "\(name) is not set"
        }
    }

    /// The variable's name.
    public var variable: String {
        switch self {
        case .missing(let name): name
        }
    }
}
