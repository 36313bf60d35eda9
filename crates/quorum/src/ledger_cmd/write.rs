//! `quorum ledger write ID`: one entry per stdin line, pipelined, closed at end of input.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use ledger_client::{LedgerWriter, MetaStore, WriteError, WriteOptions};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::oneshot;

#[derive(clap::Args)]
pub struct Args {
    id: u64,
    /// Appends in flight before reading more input waits.
    #[arg(long, default_value_t = 1000)]
    max_pending_entries: usize,
}

type Ack = oneshot::Receiver<Result<u64, WriteError>>;

pub async fn run(meta: Arc<MetaStore>, args: Args, timeout: Duration) -> Result<(), String> {
    let token = ledger_client::open::new_writer_token();
    let claimed = ledger_client::open::claim(&meta, args.id, &token)
        .await
        .map_err(|e| e.to_string())?;
    let bookies = meta.bookies().await.map_err(|e| e.to_string())?;
    let options = WriteOptions {
        request_timeout: timeout,
        max_pending_entries: args.max_pending_entries,
    };
    let writer =
        LedgerWriter::spawn(args.id, claimed, meta, bookies, options).map_err(|e| e.to_string())?;
    let mut lines = BufReader::new(tokio::io::stdin()).split(b'\n');
    let mut acks: VecDeque<Ack> = VecDeque::new();
    let (mut acknowledged, mut failed, mut first_error) = (0u64, 0u64, None);
    let mut settle =
        |result: Result<Result<u64, WriteError>, oneshot::error::RecvError>| match result {
            Ok(Ok(_)) => acknowledged += 1,
            Ok(Err(e)) => {
                failed += 1;
                first_error.get_or_insert(e.to_string());
            }
            Err(_) => {
                failed += 1;
                first_error.get_or_insert("the writer stopped".to_string());
            }
        };
    while let Some(line) = lines
        .next_segment()
        .await
        .map_err(|e| format!("stdin: {e}"))?
    {
        acks.push_back(writer.append(line).await);
        // Keep the queue of answers short: collect those already in.
        while acks.len() > args.max_pending_entries {
            let ack = acks.pop_front().expect("non-empty");
            settle(ack.await);
        }
    }
    for ack in acks {
        settle(ack.await);
    }
    let closed = writer.close().await;
    eprintln!(
        "ledger {}: {acknowledged} entries acknowledged, {failed} failed",
        args.id
    );
    match (closed, first_error) {
        (Ok(last), None) => {
            eprintln!(
                "ledger {} closed, last entry {}",
                args.id,
                last.map_or("none".into(), |e| e.to_string())
            );
            Ok(())
        }
        (Ok(_), Some(e)) => Err(e),
        (Err(e), first) => Err(first.unwrap_or_else(|| format!("closing: {e}"))),
    }
}
