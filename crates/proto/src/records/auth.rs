//! Authentication records: `addauth` (AuthPacket, xid -4), whoAmI's answer, and the SASL
//! token exchange (decoded so it can be refused cleanly; Quorum does not implement SASL).

use bytes::Bytes;

use crate::jute::record;

record! {
    /// Adds an identity to the session, e.g. scheme `digest` with auth `user:password`.
    pub struct AuthPacket {
        /// Always 0.
        pub auth_type: i32,
        /// The auth scheme.
        pub scheme: String,
        /// Scheme-specific credentials.
        pub auth: Bytes,
    }
}

record! {
    /// One identity held by a session, as whoAmI reports it.
    pub struct ClientInfo {
        /// The scheme.
        pub auth_scheme: String,
        /// The user within the scheme.
        pub user: String,
    }
}

record! {
    /// The answer to whoAmI.
    pub struct WhoAmIResponse {
        /// The session's identities.
        pub client_info: Vec<ClientInfo>,
    }
}

record! {
    /// A SASL token from the client (`GetSASLRequest`).
    pub struct SaslRequest {
        /// The token.
        pub token: Bytes,
    }
}

record! {
    /// A SASL token from the server (`SetSASLResponse`).
    pub struct SaslResponse {
        /// The token.
        pub token: Bytes,
    }
}
