//! `quorum ledger describe ID`: the metadata, and what each bookie of the last fragment says
//! (its LAC and last entry, read without fencing so the writer is not disturbed).

use std::time::Duration;

use ledger::{Request, Response};
use ledger_client::bookies::{BookiePool, EventKind};
use ledger_client::MetaStore;

pub async fn run(meta: &MetaStore, id: u64, timeout: Duration) -> Result<(), String> {
    let versioned = meta.read(id).await.map_err(|e| e.to_string())?;
    let m = &versioned.metadata;
    println!("ledger {id} (znode version {})", versioned.version);
    println!("  state        {}", m.state.name());
    println!(
        "  E/Qw/Qa      {}/{}/{}",
        m.ensemble_size, m.write_quorum, m.ack_quorum
    );
    println!(
        "  last entry   {}",
        m.last_entry.map_or("none".into(), |e| e.to_string())
    );
    println!("  writer       {}", m.writer.as_deref().unwrap_or("none"));
    for fragment in &m.fragments {
        let bookies: Vec<String> = fragment.bookies.iter().map(|b| b.to_string()).collect();
        println!(
            "  fragment     from entry {}: bookies {}",
            fragment.first_entry,
            bookies.join(",")
        );
    }
    let registered = meta.bookies().await.map_err(|e| e.to_string())?;
    let (mut pool, mut events) = BookiePool::new(registered.clone());
    let last = m.last_fragment().bookies.clone();
    for (tag, bookie) in last.iter().enumerate() {
        pool.send(
            *bookie,
            Request::ReadLac {
                tag: tag as u64,
                ledger: id,
                fence: false,
            },
        );
    }
    let mut answers = std::collections::BTreeMap::new();
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    while answers.len() < last.len() {
        tokio::select! {
            Some(event) = events.recv() => {
                let text = match event.kind {
                    EventKind::Response(Response::Lac { lac, last_entry, .. }) => format!(
                        "lac {}, last entry {}",
                        lac.map_or("none".into(), |e| e.to_string()),
                        last_entry.map_or("none".into(), |e| e.to_string())
                    ),
                    EventKind::Response(Response::Refused { why, .. }) => why.name().to_string(),
                    EventKind::Response(other) => format!("unexpected answer {other:?}"),
                    EventKind::Failed(why) => format!("unreachable: {why}"),
                };
                answers.insert(event.bookie, text);
            }
            _ = &mut deadline => break,
        }
    }
    for bookie in last {
        let address = registered
            .get(&bookie)
            .map_or("not registered", |a| a.as_str());
        let answer = answers.get(&bookie).map_or("no answer", |a| a.as_str());
        println!("  bookie {bookie:<5}  {address:<21}  {answer}");
    }
    Ok(())
}
