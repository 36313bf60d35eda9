//! A fake broker: it does the hello, decodes every request, and hands it to the test with a
//! way to answer on the same connection, so each test scripts its broker's behaviour.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use broker::wire::{self, BrokerRequest, BrokerResponse};
use partition::{Producer as ProducerTag, Request, Response, TopicPartition};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::cluster::{Cluster, Leader, Metadata};
use crate::conn::ConnConfig;
use crate::LogError;

/// A request as the fake broker received it, and the way back to its connection.
pub struct Incoming {
    pub request: BrokerRequest,
    reply: mpsc::UnboundedSender<Option<Vec<u8>>>,
}

impl Incoming {
    pub fn answer(&self, response: BrokerResponse) {
        let mut frame = Vec::new();
        wire::encode_response(&mut frame, &response);
        let _ = self.reply.send(Some(frame));
    }

    /// Answers with a partition response under this request's tag.
    pub fn respond(&self, response: Response) {
        self.answer(BrokerResponse::Partition {
            tag: self.request.tag(),
            response,
        });
    }

    /// Closes the connection this request came on.
    pub fn hang_up(&self) {
        let _ = self.reply.send(None);
    }

    /// The produce's producer tag and record count (panics on anything else: test only).
    pub fn produce(&self) -> (Option<ProducerTag>, usize) {
        match &self.request {
            BrokerRequest::Partition {
                request:
                    Request::Produce {
                        producer, records, ..
                    },
                ..
            } => (*producer, records.len()),
            other => panic!("expected a produce, got {other:?}"),
        }
    }
}

pub struct FakeBroker {
    pub addr: String,
    pub requests: mpsc::UnboundedReceiver<Incoming>,
    pub accepted: Arc<AtomicUsize>,
}

impl FakeBroker {
    pub async fn start() -> FakeBroker {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (tx, requests) = mpsc::unbounded_channel();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream, tx.clone()));
            }
        });
        FakeBroker {
            addr,
            requests,
            accepted,
        }
    }

    pub async fn next(&mut self) -> Incoming {
        tokio::time::timeout(Duration::from_secs(10), self.requests.recv())
            .await
            .expect("the fake broker waited 10 s for a request")
            .expect("the fake broker's listener stopped")
    }

    /// Answers every request from now on with `handler` (None: leave it unanswered).
    pub fn auto(mut self, mut handler: impl FnMut(&Incoming) -> Option<Response> + Send + 'static) {
        tokio::spawn(async move {
            while let Some(incoming) = self.requests.recv().await {
                if let Some(response) = handler(&incoming) {
                    incoming.respond(response);
                }
            }
        });
    }
}

async fn serve(mut stream: TcpStream, tx: mpsc::UnboundedSender<Incoming>) {
    let Ok(Some(hello)) = wire::read_frame(&mut stream, wire::MAX_HELLO_BYTES).await else {
        return;
    };
    assert_eq!(wire::decode_hello(&hello), Ok(wire::PROTOCOL_VERSION));
    let mut out = Vec::new();
    wire::encode_hello(&mut out, wire::PROTOCOL_VERSION);
    if stream.write_all(&out).await.is_err() {
        return;
    }
    let (mut read, mut write) = stream.into_split();
    let (reply, mut frames) = mpsc::unbounded_channel::<Option<Vec<u8>>>();
    tokio::spawn(async move {
        while let Some(Some(frame)) = frames.recv().await {
            if write.write_all(&frame).await.is_err() {
                return;
            }
        }
        // A hang-up (or every sender gone): dropping the write half closes the socket.
    });
    while let Ok(Some(body)) = wire::read_frame(&mut read, wire::DEFAULT_MAX_FRAME_BYTES).await {
        let request = wire::decode_request(&body).expect("the client sent an undecodable frame");
        let incoming = Incoming {
            request,
            reply: reply.clone(),
        };
        if tx.send(incoming).is_err() {
            return;
        }
    }
}

/// Metadata held in memory: leaders set by the test, lookups counted.
pub struct FakeMeta {
    pub leaders: Mutex<HashMap<TopicPartition, Leader>>,
    pub partitions: u32,
    pub lookups: AtomicUsize,
}

impl FakeMeta {
    pub fn set_leader(&self, tp: &TopicPartition, broker: u32, epoch: u32, address: &str) {
        let leader = Leader {
            broker,
            epoch,
            address: address.to_string(),
        };
        self.leaders.lock().unwrap().insert(tp.clone(), leader);
    }
}

impl Metadata for FakeMeta {
    async fn leader(&self, tp: &TopicPartition) -> Result<Leader, LogError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let leaders = self.leaders.lock().unwrap();
        leaders
            .get(tp)
            .cloned()
            .ok_or_else(|| LogError::NoLeader(tp.clone()))
    }

    async fn partitions(&self, _topic: &str) -> Result<u32, LogError> {
        Ok(self.partitions)
    }
}

/// Connections with short timeouts, for tests.
pub fn quick_config() -> ConnConfig {
    ConnConfig {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_millis(300),
        ..ConnConfig::default()
    }
}

/// A cluster over a [`FakeMeta`] with `partitions` partitions of topic "t", each led by
/// broker 1 at `addr`.
pub fn cluster(partitions: u32, addr: &str) -> Arc<Cluster<FakeMeta>> {
    let meta = FakeMeta {
        leaders: Mutex::new(HashMap::new()),
        partitions,
        lookups: AtomicUsize::new(0),
    };
    for p in 0..partitions {
        meta.set_leader(&TopicPartition::new("t", p), 1, 1, addr);
    }
    Arc::new(Cluster::new(meta, quick_config()))
}
