//! `quorum ledger …`: BookKeeper-style ledgers over the bookies registered in Quorum (see
//! docs/ledgers.md). Every form talks to Quorum through the ZooKeeper protocol and to bookies
//! through the ledger protocol, as any client of the service would.

use std::sync::Arc;
use std::time::Duration;

use clap::{Args as ClapArgs, Subcommand};
use ledger_client::MetaStore;

mod describe;
mod write;

/// Arguments of `quorum ledger`.
#[derive(ClapArgs)]
pub struct Args {
    /// Quorum's connect string, `host:port,host:port…`.
    #[arg(long, default_value = "127.0.0.1:2181")]
    quorum: String,
    /// A bookie that leaves a request unanswered this long (ms) is judged failed.
    #[arg(long, default_value_t = 3000)]
    request_timeout_ms: u64,
    #[command(subcommand)]
    command: LedgerCmd,
}

#[derive(Subcommand)]
enum LedgerCmd {
    /// Create a ledger (unclaimed: the first `write` claims it); prints its id.
    Create {
        /// E: bookies in the ensemble.
        #[arg(long, default_value_t = 3)]
        ensemble: usize,
        /// Qw: bookies each entry is written to.
        #[arg(long, default_value_t = 3)]
        write_quorum: usize,
        /// Qa: bookies that must have an entry before it is acknowledged.
        #[arg(long, default_value_t = 2)]
        ack_quorum: usize,
    },
    /// Claim ledger ID and append one entry per stdin line; closes the ledger at end of input.
    /// Exits non-zero if any entry was not acknowledged.
    Write(write::Args),
    /// Print entries of ledger ID, one per line (never past what is safe to read).
    Read {
        id: u64,
        #[arg(long, default_value_t = 0)]
        from: u64,
        #[arg(long, default_value_t = u64::MAX)]
        to: u64,
    },
    /// Recover ledger ID (fence it, find its last entry, close it); prints the last entry.
    Recover {
        id: u64,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 60)]
        deadline_secs: u64,
    },
    /// Show ledger ID's metadata and what each bookie of its last fragment holds.
    Describe { id: u64 },
    /// List ledger ids.
    List,
    /// List the registered bookies: id and address.
    Bookies,
    /// Take over the log of ledgers NAME (fencing its previous writer) and append one entry
    /// per stdin line to a new ledger; closes it at end of input.
    LogWrite(write::LogArgs),
    /// Print every entry of the log of ledgers NAME, one per line.
    LogRead { name: String },
}

pub fn run(args: Args) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let zk = client::connect(&args.quorum, Duration::from_secs(10))
            .await
            .map_err(|e| format!("cannot connect to Quorum at {}: {e}", args.quorum))?;
        let meta = Arc::new(MetaStore::new(zk).await.map_err(|e| e.to_string())?);
        let timeout = Duration::from_millis(args.request_timeout_ms);
        match args.command {
            LedgerCmd::Create {
                ensemble,
                write_quorum,
                ack_quorum,
            } => {
                let (id, _) =
                    ledger_client::open::create(&meta, ensemble, write_quorum, ack_quorum, None)
                        .await
                        .map_err(|e| e.to_string())?;
                println!("{id}");
                Ok(())
            }
            LedgerCmd::Write(write) => write::run(meta, write, timeout).await,
            LedgerCmd::Read { id, from, to } => read(&meta, id, from, to, timeout).await,
            LedgerCmd::Recover { id, deadline_secs } => {
                let deadline = Duration::from_secs(deadline_secs);
                let last = ledger_client::recovery::recover(meta, id, timeout, deadline)
                    .await
                    .map_err(|e| e.to_string())?;
                println!("{}", last.map_or("none".to_string(), |e| e.to_string()));
                Ok(())
            }
            LedgerCmd::Describe { id } => describe::run(&meta, id, timeout).await,
            LedgerCmd::Bookies => {
                for (id, address) in meta.bookies().await.map_err(|e| e.to_string())? {
                    println!("{id} {address}");
                }
                Ok(())
            }
            LedgerCmd::LogWrite(log) => write::run_log(meta, log, timeout).await,
            LedgerCmd::LogRead { name } => log_read(&meta, &name, timeout).await,
            LedgerCmd::List => {
                for id in meta.ledgers().await.map_err(|e| e.to_string())? {
                    println!("{id}");
                }
                Ok(())
            }
        }
    })
}

/// Entries printed to stdout, one per line; the first write error is kept and reported once
/// the read is over (a closed pipe must not look like a successful read).
struct Lines {
    out: std::io::BufWriter<std::io::StdoutLock<'static>>,
    failed: Option<std::io::Error>,
}

impl Lines {
    fn new() -> Lines {
        Lines {
            out: std::io::BufWriter::new(std::io::stdout().lock()),
            failed: None,
        }
    }

    fn put(&mut self, payload: &[u8]) {
        use std::io::Write;
        if self.failed.is_none() {
            if let Err(e) = self
                .out
                .write_all(payload)
                .and_then(|_| self.out.write_all(b"\n"))
            {
                self.failed = Some(e);
            }
        }
    }

    fn finish<T, E: std::fmt::Display>(mut self, result: Result<T, E>) -> Result<(), String> {
        use std::io::Write;
        self.out.flush().map_err(|e| format!("stdout: {e}"))?;
        if let Some(e) = self.failed {
            return Err(format!("stdout: {e}"));
        }
        result.map(|_| ()).map_err(|e| e.to_string())
    }
}

const READ_DEADLINE: Duration = Duration::from_secs(60);

async fn log_read(meta: &MetaStore, name: &str, timeout: Duration) -> Result<(), String> {
    let mut lines = Lines::new();
    let result = ledger_client::log::read(meta, name, timeout, READ_DEADLINE, |_, _, payload| {
        lines.put(&payload)
    })
    .await;
    lines.finish(result)
}

async fn read(
    meta: &MetaStore,
    id: u64,
    from: u64,
    to: u64,
    timeout: Duration,
) -> Result<(), String> {
    let mut lines = Lines::new();
    let sink = |_, payload: Vec<u8>| lines.put(&payload);
    let result =
        ledger_client::reader::read(meta, id, from, to, timeout, READ_DEADLINE, sink).await;
    lines.finish(result)
}
