//! Connections from this broker to the others: a follower's fetches and epoch queries to its
//! leader, and a leader's ISR requests to the controller.
//!
//! One link per broker, opened on first use and reopened after a failure; requests on a link are
//! pipelined by tag. An answer goes back to the core; a link that breaks, or a request that
//! goes unanswered for `request_timeout`, is reported lost, and the replica asks again on its
//! own schedule. Requests in flight on one link are bounded (`peer_inflight_requests`): beyond
//! it a request is reported lost at once rather than queued.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use partition::{BrokerId, IsrRequest, Request, Response, TopicPartition};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::core::CoreMsg;
use crate::wire::{self, BrokerRequest, BrokerResponse};

/// What the core (and the Quorum session) tell the peers task.
#[derive(Debug)]
pub enum PeerMsg {
    /// Where every registered broker listens.
    Brokers(BTreeMap<BrokerId, String>),
    /// Who the controller is.
    Controller(Option<BrokerId>),
    /// A replica's request to broker `to`; answered by `CoreMsg::PeerAnswer` under `id`.
    Send {
        to: BrokerId,
        tp: TopicPartition,
        id: u64,
        request: Request,
    },
    /// A leader's ISR request, to the controller; answered by `CoreMsg::IsrAnswer`.
    AlterIsr {
        tp: TopicPartition,
        request: IsrRequest,
    },
}

/// Whom an answer is for.
#[derive(Clone, Debug)]
enum Route {
    Replica { tp: TopicPartition, id: u64 },
    Isr { tp: TopicPartition },
}

/// The peers task's settings.
#[derive(Clone, Copy, Debug)]
pub struct PeerLimits {
    pub inflight_requests: usize,
    pub request_timeout: Duration,
    pub max_frame_bytes: u32,
}

/// Runs the peers task until the core goes away.
pub async fn run(mut rx: mpsc::Receiver<PeerMsg>, core: mpsc::Sender<CoreMsg>, limits: PeerLimits) {
    let mut addresses = BTreeMap::new();
    let mut controller = None;
    let mut links: HashMap<BrokerId, mpsc::Sender<(BrokerRequest, Route)>> = HashMap::new();
    while let Some(msg) = rx.recv().await {
        let (to, request, route) = match msg {
            PeerMsg::Brokers(book) => {
                links.retain(|id, _| book.get(id) == addresses.get(id));
                addresses = book;
                continue;
            }
            PeerMsg::Controller(id) => {
                controller = id;
                continue;
            }
            PeerMsg::Send {
                to,
                tp,
                id,
                request,
            } => {
                let route = Route::Replica { tp: tp.clone(), id };
                (
                    Some(to),
                    BrokerRequest::Partition {
                        tag: 0,
                        tp,
                        request,
                    },
                    route,
                )
            }
            PeerMsg::AlterIsr { tp, request } => {
                let route = Route::Isr { tp: tp.clone() };
                (
                    controller,
                    BrokerRequest::AlterIsr {
                        tag: 0,
                        tp,
                        request,
                    },
                    route,
                )
            }
        };
        let link = to.and_then(|to| {
            let address = addresses.get(&to)?.clone();
            let link = links.entry(to).or_insert_with(|| {
                let (tx, rx) = mpsc::channel(limits.inflight_requests);
                tokio::spawn(link(address, rx, core.clone(), limits));
                tx
            });
            Some(link.clone())
        });
        let sent = match link {
            Some(link) => link.try_send((request, route.clone())).is_ok(),
            None => false,
        };
        if !sent {
            lost(&core, route).await;
        }
    }
}

async fn lost(core: &mpsc::Sender<CoreMsg>, route: Route) {
    let msg = match route {
        Route::Replica { tp, id } => CoreMsg::PeerLost { tp, id },
        // An unanswered ISR request is asked again by the leader after its timeout.
        Route::Isr { .. } => return,
    };
    let _ = core.send(msg).await;
}

/// One link: connects, then pipelines requests until it fails; every request pending at the
/// failure, and every one that arrives while it is down, is reported lost.
async fn link(
    address: String,
    mut rx: mpsc::Receiver<(BrokerRequest, Route)>,
    core: mpsc::Sender<CoreMsg>,
    limits: PeerLimits,
) {
    loop {
        let Some(first) = rx.recv().await else {
            return;
        };
        let mut pending: BTreeMap<u64, (Route, Instant)> = BTreeMap::new();
        let why = match connect(&address, limits.request_timeout).await {
            Ok(stream) => serve(stream, first, &mut rx, &core, &mut pending, limits).await,
            Err(e) => {
                lost(&core, first.1).await;
                e
            }
        };
        tracing::debug!(%address, %why, "peer link down");
        for (_, (route, _)) in pending {
            lost(&core, route).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        while let Ok((_, route)) = rx.try_recv() {
            lost(&core, route).await;
        }
    }
}

async fn connect(address: &str, deadline: Duration) -> Result<TcpStream, String> {
    let mut stream = tokio::time::timeout(deadline, TcpStream::connect(address))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let mut hello = Vec::new();
    wire::encode_hello(&mut hello, wire::PROTOCOL_VERSION);
    stream.write_all(&hello).await.map_err(|e| e.to_string())?;
    let body = tokio::time::timeout(
        deadline,
        wire::read_frame(&mut stream, wire::MAX_HELLO_BYTES),
    )
    .await
    .map_err(|_| "no hello in time".to_string())?
    .map_err(|e| e.to_string())?
    .ok_or("closed at hello")?;
    let version = wire::decode_hello(&body).map_err(|e| e.to_string())?;
    if version != wire::PROTOCOL_VERSION {
        return Err(format!("peer speaks protocol version {version}"));
    }
    Ok(stream)
}

async fn serve(
    stream: TcpStream,
    first: (BrokerRequest, Route),
    rx: &mut mpsc::Receiver<(BrokerRequest, Route)>,
    core: &mpsc::Sender<CoreMsg>,
    pending: &mut BTreeMap<u64, (Route, Instant)>,
    limits: PeerLimits,
) -> String {
    let (mut rd, mut wr) = stream.into_split();
    let (frames_tx, mut frames) = mpsc::channel(16);
    let cap = limits.max_frame_bytes;
    let reader = tokio::spawn(async move {
        loop {
            let frame = wire::read_frame(&mut rd, cap).await;
            let end = !matches!(frame, Ok(Some(_)));
            if frames_tx.send(frame).await.is_err() || end {
                return;
            }
        }
    });
    let mut next_tag = 0u64;
    let mut outgoing = Some(first);
    let mut sweep = tokio::time::interval(limits.request_timeout / 2);
    let why = loop {
        if let Some((mut request, route)) = outgoing.take() {
            next_tag += 1;
            set_tag(&mut request, next_tag);
            pending.insert(next_tag, (route, Instant::now()));
            let mut frame = Vec::new();
            wire::encode_request(&mut frame, &request);
            match tokio::time::timeout(limits.request_timeout, wr.write_all(&frame)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => break format!("write: {e}"),
                Err(_) => break "write timed out (the peer does not read)".to_string(),
            }
        }
        tokio::select! {
            next = rx.recv() => match next {
                Some(next) => outgoing = Some(next),
                None => break "closed".to_string(),
            },
            frame = frames.recv() => match frame {
                Some(Ok(Some(body))) => match wire::decode_response(&body) {
                    Ok(response) => answered(core, pending, response).await,
                    Err(e) => break format!("bad answer: {e}"),
                },
                Some(Ok(None)) | None => break "closed by the peer".to_string(),
                Some(Err(e)) => break format!("read: {e}"),
            },
            _ = sweep.tick() => {
                // An unanswered request means the stream cannot be trusted any more (bytes may
                // have been lost in between, leaving the peer reading a frame that never ends):
                // drop the link, so the next request dials afresh.
                if expire(core, pending, limits.request_timeout).await {
                    break "a request went unanswered".to_string();
                }
            }
        }
    };
    reader.abort();
    why
}

fn set_tag(request: &mut BrokerRequest, tag: u64) {
    match request {
        BrokerRequest::Partition { tag: t, .. }
        | BrokerRequest::Describe { tag: t, .. }
        | BrokerRequest::AlterIsr { tag: t, .. } => *t = tag,
    }
}

async fn answered(
    core: &mpsc::Sender<CoreMsg>,
    pending: &mut BTreeMap<u64, (Route, Instant)>,
    response: BrokerResponse,
) {
    let Some((route, _)) = pending.remove(&response.tag()) else {
        return;
    };
    let msg = match (route, response) {
        (Route::Replica { tp, id }, BrokerResponse::Partition { response, .. }) => {
            CoreMsg::PeerAnswer { tp, id, response }
        }
        (Route::Isr { tp }, BrokerResponse::IsrAnswer { refused, .. }) => {
            CoreMsg::IsrAnswer { tp, refused }
        }
        (Route::Replica { tp, id }, _) => CoreMsg::PeerAnswer {
            tp,
            id,
            response: Response::Error(partition::ErrorCode::UnknownPartition),
        },
        (Route::Isr { .. }, _) => return,
    };
    let _ = core.send(msg).await;
}

/// Reports the requests older than `timeout` lost; true if there were any.
async fn expire(
    core: &mpsc::Sender<CoreMsg>,
    pending: &mut BTreeMap<u64, (Route, Instant)>,
    timeout: Duration,
) -> bool {
    let late: Vec<u64> = pending
        .iter()
        .filter(|(_, (_, sent))| sent.elapsed() >= timeout)
        .map(|(&tag, _)| tag)
        .collect();
    let any = !late.is_empty();
    for tag in late {
        if let Some((route, _)) = pending.remove(&tag) {
            lost(core, route).await;
        }
    }
    any
}
