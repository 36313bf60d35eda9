//! The keys of [`Limits`]: read after every other line, since some depend on jute.maxbuffer.

use super::Config;
use crate::limits::Limits;

/// The keys of [`crate::limits::Limits`].
pub(super) const LIMIT_KEYS: &[&str] = &[
    "maxClientCnxns",
    "maxCnxns",
    "globalOutstandingLimit",
    "zookeeper.nio.sessionlessCnxnTimeout",
    "sessionlessCnxnTimeout",
    "quorum.maxRequestsPerConnection",
    "quorum.maxRequestBytesPerConnection",
    "quorum.maxOutboundBytesPerConnection",
    "quorum.maxOutboundBytesTotal",
];

impl Config {
    /// One of the limits' keys (after jute.maxbuffer, which some depend on).
    pub(super) fn apply_limit(&mut self, key: &str, value: u64) {
        let least_request_bytes = u64::from(Limits::min_request_bytes(self.max_packet_bytes));
        let limits = &mut self.limits;
        match key {
            "maxClientCnxns" => limits.max_connections_per_ip = value as usize,
            "maxCnxns" if value > 0 => limits.max_connections = value as usize,
            "maxCnxns" => {}
            "globalOutstandingLimit" => limits.global_outstanding_requests = value.max(1),
            "zookeeper.nio.sessionlessCnxnTimeout" | "sessionlessCnxnTimeout" => {
                limits.sessionless_connection_timeout_ms = value
            }
            "quorum.maxRequestsPerConnection" => {
                limits.max_requests_per_connection = value.clamp(1, u64::from(u32::MAX)) as u32
            }
            "quorum.maxRequestBytesPerConnection" => {
                let bytes = value.clamp(least_request_bytes, u64::from(u32::MAX));
                if bytes != value {
                    self.warnings.push(format!(
                        "{key}={value} cannot hold one jute.maxbuffer packet; using {bytes}"
                    ));
                }
                self.limits.max_request_bytes_per_connection = bytes as u32;
            }
            "quorum.maxOutboundBytesPerConnection" => {
                let least = 2 * self.max_packet_bytes as u64;
                if value < least {
                    self.warnings.push(format!(
                        "{key}={value} cannot hold two jute.maxbuffer answers; using {least}"
                    ));
                }
                self.limits.max_outbound_bytes_per_connection = value.max(least);
            }
            "quorum.maxOutboundBytesTotal" => {
                let least = self.limits.max_outbound_bytes_per_connection;
                if value < least {
                    self.warnings.push(format!(
                        "{key}={value} is below one connection's bound; using {least}"
                    ));
                }
                self.limits.max_outbound_bytes_total = value.max(least);
            }
            _ => unreachable!("{key} is in LIMIT_KEYS"),
        }
    }
}
