//! Connections to bookies: one TCP connection per bookie, requests pipelined on it, answers
//! delivered as [`Event`]s on one channel for the driver that owns the state machine.
//!
//! A connection that fails (cannot connect, bad hello, an IO error, a frame that does not
//! decode) is reported once as [`EventKind::Failed`] and dropped; the next request to that
//! bookie dials again, after a wait that grows with each failure until the bookie answers
//! ([`crate::redial`]). Whether a bookie is *failed* for the protocol (and replaced) is the
//! driver's judgement, from these reports and from its timeouts. Each connection has a number,
//! and a report from a connection the driver already gave up on is [`Failure::Stale`]: it
//! must not cut the connection that replaced it, nor count as a second failure.
//!
//! The request channels are unbounded on purpose: only our own driver fills them, with what the
//! state machines bound (a writer has at most `max_pending_entries × Qw` adds in flight), and
//! the driver must never wait to send while the answers it has to read wait for it. The event
//! channel, which a bookie fills, is bounded (`MAX_QUEUED_EVENTS`): a bookie that answers faster
//! than the driver reads (or sends answers nobody asked for) is read no further until the driver
//! catches up, so it back-pressures its own socket instead of growing the client's memory.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bookie::wire;
use ledger::{BookieId, Request, Response};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::meta::MetaStore;
use crate::redial::Redial;

/// Events (bookie answers, failure reports) queued for the driver before the connections stop
/// reading from their bookies.
pub const MAX_QUEUED_EVENTS: usize = 4096;

/// How long dialing and the hello may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Something a bookie connection reports.
#[derive(Debug)]
pub struct Event {
    pub bookie: BookieId,
    /// The connection it came from (numbered in the order the pool opened them).
    pub connection: u64,
    pub kind: EventKind,
}

#[derive(Debug)]
pub enum EventKind {
    Response(Response),
    /// The connection failed; requests sent on it and not answered will not be.
    Failed(String),
}

/// What a [`EventKind::Failed`] report means for the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// From a connection the driver had given up on: what it carried is accounted for.
    Stale,
    /// The first failure since the bookie last answered: worth a warning.
    Outage,
    /// Another failure of the same outage.
    Again,
}

/// One connection's request channel, and its number.
struct Connection {
    id: u64,
    requests: mpsc::UnboundedSender<Request>,
}

/// The bookie connections of one driver.
pub struct BookiePool {
    addresses: BTreeMap<BookieId, String>,
    connections: HashMap<BookieId, Connection>,
    events: mpsc::Sender<Event>,
    max_frame_bytes: u32,
    redial: Redial,
    next_connection: u64,
    /// Per bookie, the newest connection the driver gave up on: its failure, and those of
    /// older connections, are stale.
    given_up: HashMap<BookieId, u64>,
}

impl BookiePool {
    /// A pool over the registered bookies `addresses`, and the channel its events arrive on.
    pub fn new(addresses: BTreeMap<BookieId, String>) -> (BookiePool, mpsc::Receiver<Event>) {
        let (events, receiver) = mpsc::channel(MAX_QUEUED_EVENTS);
        let pool = BookiePool {
            addresses,
            connections: HashMap::new(),
            events,
            max_frame_bytes: wire::DEFAULT_MAX_FRAME_BYTES,
            redial: Redial::default(),
            next_connection: 0,
            given_up: HashMap::new(),
        };
        (pool, receiver)
    }

    /// The bookies known to be registered.
    pub fn registered(&self) -> Vec<BookieId> {
        self.addresses.keys().copied().collect()
    }

    /// Replaces the registry (after re-reading it).
    pub fn set_addresses(&mut self, addresses: BTreeMap<BookieId, String>) {
        self.addresses = addresses;
    }

    /// Re-reads the registry from `meta` (a restarted bookie registers again, maybe at a new
    /// address); keeps the one it has when Quorum cannot be read.
    pub async fn refresh_addresses(&mut self, meta: &MetaStore) {
        if let Ok(addresses) = meta.bookies().await {
            self.addresses = addresses;
        }
    }

    /// Sends `request` to `bookie`, dialing if needed. A bookie with no known address fails
    /// like one that cannot be reached: once per connection, after the same wait.
    pub fn send(&mut self, bookie: BookieId, request: Request) {
        if let Some(connection) = self.connections.get(&bookie) {
            match connection.requests.send(request) {
                Ok(()) => return,
                // The connection task ended (and reports why); dial again.
                Err(mpsc::error::SendError(request)) => {
                    self.connections.remove(&bookie);
                    return self.send(bookie, request);
                }
            }
        }
        let id = self.next_connection;
        self.next_connection += 1;
        let delay = self.redial.delay(bookie, Instant::now());
        let (requests, rx) = mpsc::unbounded_channel();
        let _ = requests.send(request);
        self.connections.insert(bookie, Connection { id, requests });
        let address = self.addresses.get(&bookie).cloned();
        let events = self.events.clone();
        let cap = self.max_frame_bytes;
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let result = match address {
                Some(address) => run(bookie, &address, rx, &events, id, cap).await,
                // Given up on while waiting: what it held is accounted for.
                None if rx.is_closed() => Ok(()),
                None => Err("not registered".to_string()),
            };
            if let Err(why) = result {
                let kind = EventKind::Failed(why);
                let _ = events
                    .send(Event {
                        bookie,
                        connection: id,
                        kind,
                    })
                    .await;
            }
        });
    }

    /// Forgets the connection to `bookie` (after the driver judged it failed), so that the next
    /// request dials afresh instead of queueing behind a stuck one.
    pub fn disconnect(&mut self, bookie: BookieId) {
        if let Some(connection) = self.connections.remove(&bookie) {
            self.give_up(bookie, connection.id);
        }
    }

    /// Connection `connection` to `bookie` failed (the driver read [`EventKind::Failed`]).
    /// Unless it is stale, the driver is to treat every request to the bookie not yet answered
    /// as lost: the bookie's current connection, this one or a newer one, is dropped, and the
    /// next dial waits.
    pub fn connection_failed(&mut self, bookie: BookieId, connection: u64) -> Failure {
        if self
            .given_up
            .get(&bookie)
            .is_some_and(|&newest| connection <= newest)
        {
            return Failure::Stale;
        }
        self.disconnect(bookie);
        self.give_up(bookie, connection);
        if self.redial.failed(bookie, Instant::now()) {
            Failure::Outage
        } else {
            Failure::Again
        }
    }

    fn give_up(&mut self, bookie: BookieId, connection: u64) {
        let newest = self.given_up.entry(bookie).or_insert(connection);
        *newest = (*newest).max(connection);
    }

    /// `bookie` answered: its next dial, if one is needed, is not delayed.
    pub fn answered(&mut self, bookie: BookieId) {
        self.redial.answered(bookie);
    }
}

/// One connection: dial, hello, then write requests and read answers until either side fails.
async fn run(
    bookie: BookieId,
    address: &str,
    mut requests: mpsc::UnboundedReceiver<Request>,
    events: &mpsc::Sender<Event>,
    connection: u64,
    cap: u32,
) -> Result<(), String> {
    if requests.is_closed() {
        // Disconnected while waiting to dial: the driver counts what is queued here as lost.
        return Ok(());
    }
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, hello(address))
        .await
        .map_err(|_| format!("no hello from {address} within {CONNECT_TIMEOUT:?}"))??;
    if requests.is_closed() {
        return Ok(());
    }
    let (mut reader, mut writer) = stream.into_split();
    let reading = async {
        loop {
            let body = wire::read_frame(&mut reader, cap)
                .await
                .map_err(|e| format!("reading from {address}: {e}"))?
                .ok_or_else(|| format!("{address} closed the connection"))?;
            let response = wire::decode_response(&body)
                .map_err(|e| format!("bad answer from {address}: {e}"))?;
            if events
                .send(Event {
                    bookie,
                    connection,
                    kind: EventKind::Response(response),
                })
                .await
                .is_err()
            {
                return Ok::<(), String>(());
            }
        }
    };
    let writing = async {
        let mut buffer = Vec::new();
        while let Some(request) = requests.recv().await {
            buffer.clear();
            wire::encode_request(&mut buffer, &request);
            // Batch what is already queued into one write.
            while let Ok(more) = requests.try_recv() {
                wire::encode_request(&mut buffer, &more);
                if buffer.len() > 1 << 20 {
                    break;
                }
            }
            writer
                .write_all(&buffer)
                .await
                .map_err(|e| format!("writing to {address}: {e}"))?;
        }
        Ok::<(), String>(())
    };
    tokio::select! {
        result = reading => result,
        result = writing => result,
    }
}

async fn hello(address: &str) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(address)
        .await
        .map_err(|e| format!("connecting to {address}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let mut buffer = Vec::new();
    wire::encode_hello(&mut buffer, wire::PROTOCOL_VERSION);
    stream
        .write_all(&buffer)
        .await
        .map_err(|e| format!("hello to {address}: {e}"))?;
    let body = wire::read_frame(&mut stream, wire::MAX_HELLO_BYTES)
        .await
        .map_err(|e| format!("hello from {address}: {e}"))?
        .ok_or_else(|| format!("{address} closed the connection before its hello"))?;
    let version = wire::decode_hello(&body).map_err(|e| format!("hello from {address}: {e}"))?;
    if version != wire::PROTOCOL_VERSION {
        return Err(format!(
            "{address} speaks ledger protocol {version}, we speak {}",
            wire::PROTOCOL_VERSION
        ));
    }
    Ok(stream)
}
