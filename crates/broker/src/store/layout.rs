//! Where a broker keeps its partitions: `DATA_DIR/partitions/<topic>-<partition>/`, each
//! directory holding one partition's log segments.

use std::fs;
use std::path::{Path, PathBuf};

use partition::TopicPartition;

use super::StoreError;
use crate::topic::check_topic;

/// The subdirectory of a broker's data directory that holds the partitions.
pub const PARTITIONS_DIR: &str = "partitions";

/// The directory of `tp`'s log under `data_dir`; an invalid topic name is refused, so no
/// name can reach outside the data directory.
pub fn partition_dir(data_dir: &Path, tp: &TopicPartition) -> Result<PathBuf, StoreError> {
    check_topic(&tp.topic).map_err(StoreError::InvalidArgument)?;
    Ok(data_dir
        .join(PARTITIONS_DIR)
        .join(format!("{}-{}", tp.topic, tp.partition)))
}

/// The partitions present under `data_dir`, sorted (none if the directory does not exist).
/// An entry whose name is not `<topic>-<partition>` is an error, not skipped: something other
/// than the broker wrote there, and the operator should look.
pub fn list_partitions(data_dir: &Path) -> Result<Vec<TopicPartition>, StoreError> {
    let dir = data_dir.join(PARTITIONS_DIR);
    let io = |e| StoreError::Io {
        context: format!("list {}", dir.display()),
        source: e,
    };
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let name = entry.map_err(io)?.file_name();
        let tp = name.to_str().and_then(parse_dir_name).ok_or_else(|| {
            StoreError::InvalidArgument(format!(
                "{}: {name:?} is not a partition directory (<topic>-<partition>)",
                dir.display()
            ))
        })?;
        out.push(tp);
    }
    out.sort();
    Ok(out)
}

/// `<topic>-<partition>` back into its parts; the partition must be canonical decimal, so
/// that each partition has exactly one directory name.
pub fn parse_dir_name(name: &str) -> Option<TopicPartition> {
    let (topic, index) = name.rsplit_once('-')?;
    let canonical = !index.is_empty()
        && index.bytes().all(|b| b.is_ascii_digit())
        && (index == "0" || !index.starts_with('0'));
    if !canonical || check_topic(topic).is_err() {
        return None;
    }
    Some(TopicPartition::new(topic, index.parse().ok()?))
}
