//! Becoming controller, and the controller's fenced writes.

use client::zk;
use partition::{BrokerId, PartitionState, TopicPartition, WriteResult};

use super::{ensure, state_path, MetaError, CONTROLLER, CONTROLLER_EPOCH};

/// What a broker holds once elected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elected {
    pub controller_epoch: u64,
    /// The version of `/controller_epoch` after this controller's bump: every state write
    /// checks it, so a write from a superseded controller fails.
    pub epoch_version: i32,
}

/// Tries to become controller: creates the ephemeral `/controller` (None if another broker
/// holds it), then bumps `/controller_epoch` by compare-and-swap. A broker that finds itself
/// already in `/controller` (its earlier create's reply was lost) bumps the epoch again, which
/// fences any write it may still have had in flight.
pub async fn elect(zk: &zk::Client, me: BrokerId) -> Result<Option<Elected>, MetaError> {
    let ephemeral = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    let mine = format!("broker={me}\n");
    match zk.create(CONTROLLER, mine.as_bytes(), &ephemeral).await {
        Ok(_) => {}
        Err(zk::Error::NodeExists) => match zk.get_data(CONTROLLER).await {
            Ok((data, stat))
                if data == mine.as_bytes() && stat.ephemeral_owner == zk.session_id().0 => {}
            Ok(_) | Err(zk::Error::NoNode) => return Ok(None),
            Err(e) => return Err(e.into()),
        },
        Err(e) => return Err(e.into()),
    }
    ensure(zk, CONTROLLER_EPOCH).await?;
    loop {
        let (data, stat) = zk.get_data(CONTROLLER_EPOCH).await?;
        let current: u64 = String::from_utf8_lossy(&data).trim().parse().unwrap_or(0);
        let next = current + 1;
        match zk
            .set_data(
                CONTROLLER_EPOCH,
                next.to_string().as_bytes(),
                Some(stat.version),
            )
            .await
        {
            Ok(stat) => {
                return Ok(Some(Elected {
                    controller_epoch: next,
                    epoch_version: stat.version,
                }))
            }
            Err(zk::Error::BadVersion) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// The controller's write of a partition state: `setData` at `expected` together with a check
/// that `/controller_epoch` is still at this controller's version, in one multi.
pub async fn write_state(
    zk: &zk::Client,
    tp: &TopicPartition,
    expected: u64,
    state: &PartitionState,
    elected: Elected,
) -> WriteResult {
    let mut multi = zk.new_multi_writer();
    let staged = multi
        .add_check_version(CONTROLLER_EPOCH, elected.epoch_version)
        .and_then(|()| {
            multi.add_set_data(
                &state_path(tp),
                state.encode().as_bytes(),
                Some(expected as i32),
            )
        });
    if staged.is_err() {
        return WriteResult::BadVersion;
    }
    match multi.commit().await {
        Ok(results) => match results.into_iter().nth(1) {
            Some(zk::MultiWriteResult::SetData { stat }) => WriteResult::Done {
                version: stat.version as u64,
            },
            _ => WriteResult::BadVersion,
        },
        Err(zk::MultiWriteError::OperationFailed { index: 0, .. }) => WriteResult::Fenced,
        // A version conflict, a lost reply or a lost connection: re-read and decide again.
        Err(_) => WriteResult::BadVersion,
    }
}
