//! The one encoding of a batch: the payload of a stored record and a batch in a fetch answer.
//!
//! ```text
//! 0   8  base offset u64
//! 8   4  record count u32 (≥ 1)
//! 12  4  leader epoch u32
//! 16  1  producer present u8 (0/1)
//! 17  8  producer id u64 (0 when absent)
//! 25  8  first sequence u64 (0 when absent)
//! 33  …  count × (record length u32, record bytes)
//! ```
//!
//! Big endian throughout, as on the wire. Sharing it lets a leader answer a fetch with stored
//! bytes, and lets one strict decoder guard both the disk and the network.

use partition::{Batch, BatchHeader, Producer};

use crate::reader::{put_bytes, put_u32, put_u64, Reader};
use crate::wire::WireError;

/// Bytes of the fixed header before the records.
pub const BATCH_HEADER_BYTES: usize = 8 + 4 + 4 + 1 + 8 + 8;
/// Bytes each record adds besides its own bytes (its length).
pub const RECORD_OVERHEAD_BYTES: usize = 4;

/// Appends the encoding of `batch` to `out`. The record count written is `header.count`;
/// callers keep it equal to `records.len()` ([`check_batch`]), as decoding requires.
pub fn encode_batch(out: &mut Vec<u8>, batch: &Batch) {
    let h = &batch.header;
    out.reserve(encoded_len(batch));
    put_u64(out, h.base_offset);
    put_u32(out, h.count);
    put_u32(out, h.epoch);
    match h.producer {
        None => out.extend_from_slice(&[0; 17]),
        Some(p) => {
            out.push(1);
            put_u64(out, p.id);
            put_u64(out, p.first_seq);
        }
    }
    for record in &batch.records {
        put_bytes(out, record);
    }
}

/// Bytes [`encode_batch`] writes for `batch`.
pub fn encoded_len(batch: &Batch) -> usize {
    BATCH_HEADER_BYTES + batch.records.len() * RECORD_OVERHEAD_BYTES + batch.payload_bytes()
}

/// Decodes exactly one batch from `bytes` (trailing bytes are an error).
pub fn decode_batch(bytes: &[u8]) -> Result<Batch, WireError> {
    let mut r = Reader::new(bytes);
    let batch = read_batch(&mut r)?;
    r.finish()?;
    Ok(batch)
}

/// Decodes only the header of an encoded batch (the records are not read or checked).
pub fn decode_header(bytes: &[u8]) -> Result<BatchHeader, WireError> {
    read_header(&mut Reader::new(bytes))
}

/// Checks a whole encoded batch without copying its records, returning its header: what a scan
/// of the log at open needs.
pub fn validate_batch(bytes: &[u8]) -> Result<BatchHeader, WireError> {
    let mut r = Reader::new(bytes);
    let header = read_header(&mut r)?;
    for _ in 0..header.count {
        r.bytes()?;
    }
    r.finish()?;
    Ok(header)
}

fn read_header(r: &mut Reader<'_>) -> Result<BatchHeader, WireError> {
    let base_offset = r.u64()?;
    let count = r.u32()?;
    let epoch = r.u32()?;
    let producer = r.opt(16, |r| {
        Ok(Producer {
            id: r.u64()?,
            first_seq: r.u64()?,
        })
    })?;
    let header = BatchHeader {
        base_offset,
        count,
        epoch,
        producer,
    };
    check_header(&header).map_err(WireError::BadBatch)?;
    Ok(header)
}

pub(crate) fn read_batch(r: &mut Reader<'_>) -> Result<Batch, WireError> {
    let header = read_header(r)?;
    let count = header.count as usize;
    if count.saturating_mul(RECORD_OVERHEAD_BYTES) > r.remaining() {
        return Err(WireError::BadCount { at: r.pos(), count });
    }
    let mut records = Vec::with_capacity(count);
    for _ in 0..count {
        records.push(r.bytes()?.to_vec());
    }
    Ok(Batch { header, records })
}

/// What every batch must satisfy: at least one record, and an end offset that fits in a u64
/// (so `end_offset()` cannot overflow on input from a disk or a peer).
pub fn check_header(h: &BatchHeader) -> Result<(), &'static str> {
    if h.count == 0 {
        return Err("batch of zero records");
    }
    if h.base_offset.checked_add(u64::from(h.count)).is_none() {
        return Err("batch end offset overflows");
    }
    Ok(())
}

/// [`check_header`], and a record count that matches the records.
pub fn check_batch(batch: &Batch) -> Result<(), &'static str> {
    check_header(&batch.header)?;
    if batch.records.len() != batch.header.count as usize {
        return Err("record count does not match the records");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(producer: Option<Producer>) -> Batch {
        Batch {
            header: BatchHeader {
                base_offset: 7,
                count: 2,
                epoch: 3,
                producer,
            },
            records: vec![b"a".to_vec(), Vec::new()],
        }
    }

    #[test]
    fn round_trips_and_every_cut_fails() {
        for p in [
            None,
            Some(Producer {
                id: 9,
                first_seq: 4,
            }),
        ] {
            let b = batch(p);
            let mut out = Vec::new();
            encode_batch(&mut out, &b);
            assert_eq!(out.len(), encoded_len(&b));
            assert_eq!(decode_batch(&out), Ok(b.clone()));
            assert_eq!(decode_header(&out), Ok(b.header));
            assert_eq!(validate_batch(&out), Ok(b.header));
            for cut in 0..out.len() {
                assert!(decode_batch(&out[..cut]).is_err(), "cut {cut}");
                assert!(validate_batch(&out[..cut]).is_err(), "cut {cut}");
            }
            out.push(0);
            assert_eq!(decode_batch(&out), Err(WireError::Trailing(1)));
        }
    }

    #[test]
    fn hostile_counts_and_offsets_are_errors_not_allocations() {
        let mut out = Vec::new();
        encode_batch(&mut out, &batch(None));
        let mut huge = out.clone();
        huge[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            decode_batch(&huge),
            Err(WireError::BadCount { .. })
        ));
        let mut zero = out.clone();
        zero[8..12].copy_from_slice(&0u32.to_be_bytes());
        assert!(matches!(decode_batch(&zero), Err(WireError::BadBatch(_))));
        let mut overflow = out.clone();
        overflow[0..8].copy_from_slice(&u64::MAX.to_be_bytes());
        assert!(matches!(
            decode_batch(&overflow),
            Err(WireError::BadBatch(_))
        ));
        let mut absent = out;
        absent[20] = 1;
        assert!(matches!(
            decode_batch(&absent),
            Err(WireError::NonCanonical { at: 16 })
        ));
    }
}
