//! Result codes: the `err` field of a reply header and of a multi op result.

use crate::error::DecodeError;
use crate::macros::int_enum;

int_enum! {
    /// ZooKeeper's `KeeperException.Code`. `name()` gives the Java constant (`NONODE`);
    /// `Display` gives the text ZooKeeper puts after "KeeperErrorCode = " (`NoNode`).
    pub enum ErrorCode [|v| DecodeError::InvalidValue { what: "error code", value: v }] {
        /// Success.
        Ok = 0 => "OK",
        /// Marks the start of the system-error range; never returned.
        SystemError = -1 => "SYSTEMERROR",
        /// A runtime inconsistency was found.
        RuntimeInconsistency = -2 => "RUNTIMEINCONSISTENCY",
        /// A data inconsistency was found.
        DataInconsistency = -3 => "DATAINCONSISTENCY",
        /// The connection to the server was lost (client side).
        ConnectionLoss = -4 => "CONNECTIONLOSS",
        /// A request could not be (un)marshalled.
        MarshallingError = -5 => "MARSHALLINGERROR",
        /// The operation is not implemented.
        Unimplemented = -6 => "UNIMPLEMENTED",
        /// The operation timed out (client side).
        OperationTimeout = -7 => "OPERATIONTIMEOUT",
        /// Invalid arguments (bad create flags, bad TTL, ...).
        BadArguments = -8 => "BADARGUMENTS",
        /// Unknown session (server internal).
        UnknownSession = -12 => "UNKNOWNSESSION",
        /// Reconfig: no quorum of the new config is up to date.
        NewConfigNoQuorum = -13 => "NEWCONFIGNOQUORUM",
        /// Reconfig: another one is in progress.
        ReconfigInProgress = -14 => "RECONFIGINPROGRESS",
        /// Marks the start of the API-error range; never returned.
        ApiError = -100 => "APIERROR",
        /// The node does not exist.
        NoNode = -101 => "NONODE",
        /// Not authorised by the node's ACL.
        NoAuth = -102 => "NOAUTH",
        /// The expected version does not match.
        BadVersion = -103 => "BADVERSION",
        /// Ephemeral nodes may not have children.
        NoChildrenForEphemerals = -108 => "NOCHILDRENFOREPHEMERALS",
        /// The node already exists.
        NodeExists = -110 => "NODEEXISTS",
        /// The node has children.
        NotEmpty = -111 => "NOTEMPTY",
        /// The session has expired.
        SessionExpired = -112 => "SESSIONEXPIRED",
        /// Invalid callback (client side).
        InvalidCallback = -113 => "INVALIDCALLBACK",
        /// The ACL is invalid (empty, unknown scheme, malformed id).
        InvalidAcl = -114 => "INVALIDACL",
        /// Authentication failed.
        AuthFailed = -115 => "AUTHFAILED",
        /// The session moved to another server.
        SessionMoved = -118 => "SESSIONMOVED",
        /// A write was sent to a read-only server.
        NotReadOnly = -119 => "NOTREADONLY",
        /// An ephemeral node was requested on a local session.
        EphemeralOnLocalSession = -120 => "EPHEMERALONLOCALSESSION",
        /// No such watch to check or remove.
        NoWatcher = -121 => "NOWATCHER",
        /// The request did not complete in the allowed time.
        RequestTimeout = -122 => "REQUESTTIMEOUT",
        /// Reconfiguration is disabled.
        ReconfigDisabled = -123 => "RECONFIGDISABLED",
        /// The server requires SASL and the client did not authenticate.
        SessionClosedRequireSaslAuth = -124 => "SESSIONCLOSEDREQUIRESASLAUTH",
        /// A hard quota would be exceeded (3.8).
        QuotaExceeded = -125 => "QUOTAEXCEEDED",
        /// The request was throttled.
        ThrottledOp = -127 => "THROTTLEDOP",
    }
}

impl ErrorCode {
    /// ZooKeeper's message text for the code (`KeeperException.getCodeMessage`).
    pub const fn message(self) -> &'static str {
        match self {
            ErrorCode::Ok => "ok",
            ErrorCode::SystemError => "SystemError",
            ErrorCode::RuntimeInconsistency => "RuntimeInconsistency",
            ErrorCode::DataInconsistency => "DataInconsistency",
            ErrorCode::ConnectionLoss => "ConnectionLoss",
            ErrorCode::MarshallingError => "MarshallingError",
            ErrorCode::Unimplemented => "Unimplemented",
            ErrorCode::OperationTimeout => "OperationTimeout",
            ErrorCode::BadArguments => "BadArguments",
            ErrorCode::NewConfigNoQuorum => "NewConfigNoQuorum",
            ErrorCode::ReconfigInProgress => "ReconfigInProgress",
            ErrorCode::ApiError => "APIError",
            ErrorCode::NoNode => "NoNode",
            ErrorCode::NoAuth => "NoAuth",
            ErrorCode::BadVersion => "BadVersion",
            ErrorCode::NoChildrenForEphemerals => "NoChildrenForEphemerals",
            ErrorCode::NodeExists => "NodeExists",
            ErrorCode::NotEmpty => "Directory not empty",
            ErrorCode::SessionExpired => "Session expired",
            ErrorCode::InvalidCallback => "Invalid callback",
            ErrorCode::InvalidAcl => "InvalidACL",
            ErrorCode::AuthFailed => "AuthFailed",
            ErrorCode::SessionMoved => "Session moved",
            ErrorCode::NotReadOnly => "Not a read-only call",
            ErrorCode::EphemeralOnLocalSession => "Ephemeral node on local session",
            ErrorCode::NoWatcher => "No such watcher",
            ErrorCode::ReconfigDisabled => "Reconfig is disabled",
            ErrorCode::SessionClosedRequireSaslAuth => {
                "Session closed because client failed to authenticate"
            }
            ErrorCode::QuotaExceeded => "Quota has exceeded",
            ErrorCode::ThrottledOp => "Op throttled due to high load",
            // ZooKeeper prints "Unknown error " + the constant for codes without a message.
            ErrorCode::UnknownSession => "Unknown error UNKNOWNSESSION",
            ErrorCode::RequestTimeout => "Unknown error REQUESTTIMEOUT",
        }
    }

    /// True for [`ErrorCode::Ok`].
    pub const fn is_ok(self) -> bool {
        matches!(self, ErrorCode::Ok)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_zookeeper() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::try_from(code.as_i32()), Ok(*code));
        }
        assert_eq!(ErrorCode::NoNode.as_i32(), -101);
        assert_eq!(ErrorCode::NodeExists.as_i32(), -110);
        assert_eq!(ErrorCode::NoNode.name(), "NONODE");
        assert_eq!(
            format!("KeeperErrorCode = {}", ErrorCode::NotEmpty),
            "KeeperErrorCode = Directory not empty"
        );
        assert!(ErrorCode::try_from(-126).is_err());
    }
}
