//! A ledger's metadata: the znode `/ledgers/L<id>` holds it, and every change to it is a
//! compare-and-swap on that znode's version.
//!
//! The encoding is text, one field per line, so that `quorum shell` or zkCli's `get` shows it
//! to an operator as it is:
//!
//! ```text
//! quorum-ledger 1
//! ensemble 3
//! write-quorum 2
//! ack-quorum 2
//! state CLOSED
//! last-entry 41
//! writer host-4242-9f3c
//! fragment 0 1,2,3
//! fragment 17 1,4,3
//! ```
//!
//! `last-entry` is `none` while the ledger is not closed, and for a ledger closed empty.
//! `writer` names the client that claimed the ledger for writing (`none` until one does): a
//! ledger has exactly one writer, and a second client that tries to claim it finds the claim
//! and refuses, so two writers never assign the same entry ids. A fragment names the ensemble that holds the entries from its first entry id up to the next
//! fragment's; bookie positions in an ensemble matter (entry e goes to the Qw bookies from
//! position `e mod E`), so a replacement keeps the position of the bookie it replaces.

use std::fmt;

use crate::ids::{BookieId, EntryId};

/// The version line's number; a decoder refuses any other.
pub const FORMAT_VERSION: u32 = 1;
/// Largest ensemble accepted (it bounds what a metadata znode can make a client allocate).
pub const MAX_ENSEMBLE: usize = 64;
/// Longest writer token accepted.
pub const MAX_WRITER_BYTES: usize = 128;
/// Largest number of fragments accepted.
pub const MAX_FRAGMENTS: usize = 10_000;

/// The ledger's lifecycle. It only moves forward: OPEN → IN_RECOVERY → CLOSED, or OPEN → CLOSED
/// when the writer closes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LedgerState {
    Open,
    InRecovery,
    Closed,
}

impl LedgerState {
    pub fn name(self) -> &'static str {
        match self {
            LedgerState::Open => "OPEN",
            LedgerState::InRecovery => "IN_RECOVERY",
            LedgerState::Closed => "CLOSED",
        }
    }

    fn parse(text: &str) -> Option<LedgerState> {
        [
            LedgerState::Open,
            LedgerState::InRecovery,
            LedgerState::Closed,
        ]
        .into_iter()
        .find(|s| s.name() == text)
    }
}

/// The ensemble that stores entries from `first_entry` on (until the next fragment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fragment {
    pub first_entry: EntryId,
    pub bookies: Vec<BookieId>,
}

/// Everything Quorum stores about one ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerMetadata {
    /// E: bookies in each fragment's ensemble.
    pub ensemble_size: usize,
    /// Qw: bookies each entry is written to.
    pub write_quorum: usize,
    /// Qa: bookies that must have an entry before it is acknowledged.
    pub ack_quorum: usize,
    pub state: LedgerState,
    /// Set only when CLOSED: the last entry of the ledger (`None` if it was closed empty).
    pub last_entry: Option<EntryId>,
    /// The client that claimed the ledger for writing (see the module docs).
    pub writer: Option<String>,
    /// In increasing order of first entry, the first starting at 0.
    pub fragments: Vec<Fragment>,
}

/// Why metadata bytes were refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataError(pub String);

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad ledger metadata: {}", self.0)
    }
}

impl std::error::Error for MetadataError {}

fn bad(why: impl Into<String>) -> MetadataError {
    MetadataError(why.into())
}

impl LedgerMetadata {
    /// A new OPEN ledger on `ensemble`, checking E ≥ Qw ≥ Qa ≥ 1 and distinct bookies.
    pub fn new(
        ensemble: Vec<BookieId>,
        write_quorum: usize,
        ack_quorum: usize,
    ) -> Result<LedgerMetadata, MetadataError> {
        let metadata = LedgerMetadata {
            ensemble_size: ensemble.len(),
            write_quorum,
            ack_quorum,
            state: LedgerState::Open,
            last_entry: None,
            writer: None,
            fragments: vec![Fragment {
                first_entry: 0,
                bookies: ensemble,
            }],
        };
        metadata.validate()?;
        Ok(metadata)
    }

    /// The fragment that holds `entry`.
    pub fn fragment_for(&self, entry: EntryId) -> &Fragment {
        let after = self.fragments.partition_point(|f| f.first_entry <= entry);
        &self.fragments[after.max(1) - 1]
    }

    /// The newest fragment (where the writer appends).
    pub fn last_fragment(&self) -> &Fragment {
        self.fragments
            .last()
            .expect("validated metadata has a fragment")
    }

    /// Checks the rules every stored metadata must keep.
    pub fn validate(&self) -> Result<(), MetadataError> {
        let (e, w, a) = (self.ensemble_size, self.write_quorum, self.ack_quorum);
        if !(e >= w && w >= a && a >= 1) {
            return Err(bad(format!("need E >= Qw >= Qa >= 1, got {e}/{w}/{a}")));
        }
        if e > MAX_ENSEMBLE {
            return Err(bad(format!(
                "ensemble of {e} over the limit of {MAX_ENSEMBLE}"
            )));
        }
        if self.fragments.is_empty() || self.fragments.len() > MAX_FRAGMENTS {
            return Err(bad(format!("{} fragments", self.fragments.len())));
        }
        if self.fragments[0].first_entry != 0 {
            return Err(bad("the first fragment must start at entry 0"));
        }
        for pair in self.fragments.windows(2) {
            if pair[1].first_entry <= pair[0].first_entry {
                return Err(bad("fragments must start at increasing entries"));
            }
        }
        for fragment in &self.fragments {
            let mut bookies = fragment.bookies.clone();
            bookies.sort_unstable();
            bookies.dedup();
            if fragment.bookies.len() != e || bookies.len() != e {
                return Err(bad(format!(
                    "fragment at {} needs {e} distinct bookies",
                    fragment.first_entry
                )));
            }
        }
        if let Some(writer) = &self.writer {
            if !valid_writer(writer) {
                return Err(bad(format!("bad writer token {writer:?}")));
            }
        }
        if self.state != LedgerState::Closed && self.last_entry.is_some() {
            return Err(bad("last-entry set on a ledger that is not closed"));
        }
        Ok(())
    }

    /// The znode bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut text = format!(
            "quorum-ledger {FORMAT_VERSION}\nensemble {}\nwrite-quorum {}\nack-quorum {}\nstate {}\nlast-entry {}\n",
            self.ensemble_size,
            self.write_quorum,
            self.ack_quorum,
            self.state.name(),
            self.last_entry.map_or("none".to_string(), |e| e.to_string()),
        );
        text.push_str(&format!(
            "writer {}\n",
            self.writer.as_deref().unwrap_or("none")
        ));
        for fragment in &self.fragments {
            let bookies: Vec<String> = fragment.bookies.iter().map(|b| b.to_string()).collect();
            text.push_str(&format!(
                "fragment {} {}\n",
                fragment.first_entry,
                bookies.join(",")
            ));
        }
        text.into_bytes()
    }

    /// Parses and validates znode bytes; never panics on any input.
    pub fn decode(bytes: &[u8]) -> Result<LedgerMetadata, MetadataError> {
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
        let mut lines = text.lines();
        match lines.next().and_then(|l| l.strip_prefix("quorum-ledger ")) {
            Some(v) if v.trim() == FORMAT_VERSION.to_string() => {}
            _ => return Err(bad("missing 'quorum-ledger 1' header")),
        }
        let mut field = |name: &str| -> Result<String, MetadataError> {
            let line = lines.next().ok_or_else(|| bad(format!("missing {name}")))?;
            let value = line
                .strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(' '))
                .ok_or_else(|| bad(format!("expected {name}, got {line:?}")))?;
            Ok(value.to_string())
        };
        let number = |value: String, name: &str| -> Result<usize, MetadataError> {
            value
                .parse()
                .map_err(|_| bad(format!("bad {name} {value:?}")))
        };
        let ensemble_size = number(field("ensemble")?, "ensemble")?;
        let write_quorum = number(field("write-quorum")?, "write-quorum")?;
        let ack_quorum = number(field("ack-quorum")?, "ack-quorum")?;
        let state_text = field("state")?;
        let state = LedgerState::parse(&state_text)
            .ok_or_else(|| bad(format!("bad state {state_text:?}")))?;
        let last_text = field("last-entry")?;
        let last_entry = match last_text.as_str() {
            "none" => None,
            n => Some(
                n.parse()
                    .map_err(|_| bad(format!("bad last-entry {n:?}")))?,
            ),
        };
        let writer = match field("writer")?.as_str() {
            "none" => None,
            token => Some(token.to_string()),
        };
        let mut fragments = Vec::new();
        for line in lines {
            if fragments.len() >= MAX_FRAGMENTS {
                return Err(bad("too many fragments"));
            }
            fragments.push(parse_fragment(line)?);
        }
        let metadata = LedgerMetadata {
            ensemble_size,
            write_quorum,
            ack_quorum,
            state,
            last_entry,
            writer,
            fragments,
        };
        metadata.validate()?;
        Ok(metadata)
    }
}

/// A writer token is one short word of letters, digits and `.-_:`, and not `none`.
pub fn valid_writer(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_WRITER_BYTES
        && token != "none"
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b))
}

fn parse_fragment(line: &str) -> Result<Fragment, MetadataError> {
    let rest = line
        .strip_prefix("fragment ")
        .ok_or_else(|| bad(format!("unexpected line {line:?}")))?;
    let (first, bookies) = rest
        .split_once(' ')
        .ok_or_else(|| bad(format!("bad fragment {line:?}")))?;
    let first_entry = first
        .parse()
        .map_err(|_| bad(format!("bad fragment start {first:?}")))?;
    let bookies = bookies
        .split(',')
        .take(MAX_ENSEMBLE + 1)
        .map(|b| {
            b.parse::<BookieId>()
                .map_err(|_| bad(format!("bad bookie id {b:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Fragment {
        first_entry,
        bookies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_through_its_text() {
        let mut m = LedgerMetadata::new(vec![1, 2, 3], 2, 2).unwrap();
        m.fragments.push(Fragment {
            first_entry: 17,
            bookies: vec![1, 4, 3],
        });
        m.state = LedgerState::Closed;
        m.last_entry = Some(41);
        m.writer = Some("host-4242-9f3c".into());
        let bytes = m.encode();
        assert_eq!(LedgerMetadata::decode(&bytes).unwrap(), m);
        assert_eq!(m.fragment_for(16).first_entry, 0);
        assert_eq!(m.fragment_for(17).bookies, vec![1, 4, 3]);
        assert_eq!(m.fragment_for(1000).first_entry, 17);
    }

    #[test]
    fn bad_metadata_is_refused_without_panicking() {
        assert!(LedgerMetadata::new(vec![1, 2], 3, 2).is_err());
        assert!(LedgerMetadata::new(vec![1, 1, 2], 2, 2).is_err());
        let good = LedgerMetadata::new(vec![1, 2, 3], 3, 2).unwrap().encode();
        for cut in 0..good.len() {
            let _ = LedgerMetadata::decode(&good[..cut]);
        }
        for i in 0..good.len() {
            let mut flipped = good.clone();
            flipped[i] ^= 0x5a;
            let _ = LedgerMetadata::decode(&flipped);
        }
        assert!(LedgerMetadata::decode(b"quorum-ledger 2\n").is_err());
    }
}
