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

#[derive(clap::Args)]
pub struct LogArgs {
    name: String,
    /// E of the new ledger.
    #[arg(long, default_value_t = 3)]
    ensemble: usize,
    /// Qw of the new ledger.
    #[arg(long, default_value_t = 3)]
    write_quorum: usize,
    /// Qa of the new ledger.
    #[arg(long, default_value_t = 2)]
    ack_quorum: usize,
    /// Appends in flight before reading more input waits.
    #[arg(long, default_value_t = 1000)]
    max_pending_entries: usize,
}

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
    write_stdin(writer, args.max_pending_entries).await
}

pub async fn run_log(meta: Arc<MetaStore>, args: LogArgs, timeout: Duration) -> Result<(), String> {
    let options = ledger_client::log::LogOptions {
        ensemble: args.ensemble,
        write_quorum: args.write_quorum,
        ack_quorum: args.ack_quorum,
        write: WriteOptions {
            request_timeout: timeout,
            max_pending_entries: args.max_pending_entries,
        },
        recovery_deadline: Duration::from_secs(60),
    };
    let writer = ledger_client::log::take_over(meta, &args.name, options)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!("log {}: writing ledger {}", args.name, writer.ledger());
    write_stdin(writer, args.max_pending_entries).await
}

/// Appends one entry per stdin line, pipelined; closes the ledger at end of input.
async fn write_stdin(writer: LedgerWriter, max_pending_entries: usize) -> Result<(), String> {
    let ledger = writer.ledger();
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
        while acks.len() > max_pending_entries {
            let ack = acks.pop_front().expect("non-empty");
            settle(ack.await);
        }
    }
    for ack in acks {
        settle(ack.await);
    }
    let closed = writer.close().await;
    eprintln!("ledger {ledger}: {acknowledged} entries acknowledged, {failed} failed");
    match (closed, first_error) {
        (Ok(last), None) => {
            let last = last.map_or("none".into(), |e| e.to_string());
            eprintln!("ledger {ledger} closed, last entry {last}");
            Ok(())
        }
        (Ok(_), Some(e)) => Err(e),
        (Err(e), first) => Err(first.unwrap_or_else(|| format!("closing: {e}"))),
    }
}
