//! The payload of one journal record: a `ledger::bookie::Record` as bytes.
//!
//! The journal (`storage::FileTxnLog`) frames and checksums each record and keys it by the
//! bookie's record number; this is only what is inside. Little endian like the rest of the
//! store's files:
//!
//! ```text
//! entry:  kind 1 (u8), ledger u64, entry u64, LAC present u8 (0/1), LAC u64 (0 if absent), payload (the rest)
//! fence:  kind 2 (u8), ledger u64
//! ```
//!
//! Decoding is strict: the checksum already passed, so anything unexpected here means a bug or
//! a foreign file, and recovery refuses rather than guessing.

use ledger::bookie::Record;

const ENTRY: u8 = 1;
const FENCE: u8 = 2;
/// Bytes an entry record spends besides its payload.
pub const ENTRY_HEADER_BYTES: usize = 1 + 8 + 8 + 9;

/// Appends the encoding of `record` to `out`.
pub fn encode(out: &mut Vec<u8>, record: &Record) {
    match record {
        Record::Entry {
            ledger,
            entry,
            lac,
            payload,
        } => {
            out.reserve(ENTRY_HEADER_BYTES + payload.len());
            out.push(ENTRY);
            out.extend_from_slice(&ledger.to_le_bytes());
            out.extend_from_slice(&entry.to_le_bytes());
            out.push(u8::from(lac.is_some()));
            out.extend_from_slice(&lac.unwrap_or(0).to_le_bytes());
            out.extend_from_slice(payload);
        }
        Record::Fence { ledger } => {
            out.push(FENCE);
            out.extend_from_slice(&ledger.to_le_bytes());
        }
    }
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Decodes a journal record payload; the error says what was wrong.
pub fn decode(b: &[u8]) -> Result<Record, String> {
    match b.first() {
        Some(&ENTRY) => {
            if b.len() < ENTRY_HEADER_BYTES {
                return Err(format!("entry record of {} bytes is too short", b.len()));
            }
            let ledger = u64_at(b, 1).ok_or("short")?;
            let entry = u64_at(b, 9).ok_or("short")?;
            let lac = u64_at(b, 18).ok_or("short")?;
            let lac = match b[17] {
                0 if lac == 0 => None,
                1 => Some(lac),
                flag => return Err(format!("bad LAC flag {flag} (value {lac})")),
            };
            Ok(Record::Entry {
                ledger,
                entry,
                lac,
                payload: b[ENTRY_HEADER_BYTES..].to_vec(),
            })
        }
        Some(&FENCE) if b.len() == 9 => Ok(Record::Fence {
            ledger: u64_at(b, 1).ok_or("short")?,
        }),
        Some(&FENCE) => Err(format!("fence record of {} bytes, expected 9", b.len())),
        Some(kind) => Err(format!("unknown record kind {kind}")),
        None => Err("empty record".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strictness() {
        let records = [
            Record::Entry {
                ledger: 3,
                entry: 9,
                lac: Some(8),
                payload: b"abc".to_vec(),
            },
            Record::Entry {
                ledger: 3,
                entry: 0,
                lac: None,
                payload: vec![],
            },
            Record::Fence { ledger: u64::MAX },
        ];
        for r in records {
            let mut b = Vec::new();
            encode(&mut b, &r);
            assert_eq!(decode(&b), Ok(r));
            for cut in 0..b.len() {
                if let Ok(other) = decode(&b[..cut]) {
                    // Only an entry's payload may be cut and still parse (the journal's CRC
                    // covers that case); the header never.
                    assert!(cut >= ENTRY_HEADER_BYTES, "{other:?} from a cut header");
                }
            }
        }
        assert!(decode(&[9]).is_err());
    }
}
