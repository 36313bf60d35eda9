//! Producers and consumers: clients of the brokers that find leaders through the store.
//!
//! A producer sends one batch at a time and retries it (same producer id and sequence) until it
//! is answered, so a batch that was written but whose answer was lost must not be written twice.
//! Its acks are drawn per producer: 0 (fire and forget, no producer id), 1 or all. A consumer
//! reads its partition from the leader, in order, and everything it reads is checked against
//! what every other consumer read and what the log keeps.

use partition::{Acks, BrokerId, ErrorCode, Offset, Request, Response, TopicPartition};

use super::world::{Endpoint, LogWorld, Msg, Task};

/// Endpoint ids of consumers start here (producers are 0, 1, …).
const CONSUMER_BASE: u32 = 1000;

pub(super) struct InFlight {
    records: Vec<Vec<u8>>,
    first_seq: u64,
    tag: u64,
}

pub(super) struct Producer {
    id: u32,
    pub tp: TopicPartition,
    pid: u64,
    acks: Option<Acks>,
    next_seq: u64,
    pub sent_batches: u64,
    leader: Option<BrokerId>,
    inflight: Option<InFlight>,
    next_tag: u64,
    pub done: bool,
}

impl Producer {
    pub fn new(id: u32, tp: &TopicPartition, pid: u64) -> Producer {
        Producer {
            id,
            tp: tp.clone(),
            pid,
            acks: None,
            next_seq: 0,
            sent_batches: 0,
            leader: None,
            inflight: None,
            next_tag: 0,
            done: false,
        }
    }
}

pub(super) struct Consumer {
    pub tp: TopicPartition,
    pub position: Offset,
    leader: Option<BrokerId>,
    waiting: Option<u64>,
    next_tag: u64,
    /// When the request in flight was sent.
    sent_at: u64,
}

impl Consumer {
    pub fn new(_id: u32, tp: &TopicPartition) -> Consumer {
        Consumer {
            tp: tp.clone(),
            position: 0,
            leader: None,
            waiting: None,
            next_tag: 0,
            sent_at: 0,
        }
    }
}

impl LogWorld {
    /// A producer's next move: a new batch, or (re)sending the one in flight.
    pub(super) fn produce(&mut self, index: u32) {
        let acks_choice = self.rng.below(3);
        let count = self.rng.between(1, self.opts.batch_max) as usize;
        let batches = self.opts.batches;
        let p = &mut self.producers[index as usize];
        if p.done {
            return;
        }
        let acks = *p.acks.get_or_insert(match acks_choice {
            0 => Acks::None,
            1 => Acks::Leader,
            _ => Acks::All,
        });
        if p.inflight.is_none() {
            if p.sent_batches >= batches {
                p.done = true;
                return;
            }
            let first_seq = p.next_seq;
            // acks=0 batches have no producer id, so a duplicated message may write one twice:
            // their records start with 'n', which the written-once check leaves out.
            let kind = if acks == Acks::None { 'n' } else { 'p' };
            let records = (0..count as u64)
                .map(|i| format!("{kind}{}.{}.{}", p.id, p.pid, first_seq + i).into_bytes())
                .collect();
            p.next_tag += 1;
            p.inflight = Some(InFlight {
                records,
                first_seq,
                tag: p.next_tag,
            });
        }
        let Some(leader) = p.leader else {
            let tp = p.tp.clone();
            let me = Endpoint::Client(p.id);
            self.send(me, Endpoint::Store, Msg::Lookup { tp });
            let retry = 2 * self.opts.delay_max + 1;
            return self.schedule(retry, Task::Produce { producer: index });
        };
        let flight = p.inflight.as_mut().expect("set above");
        p.next_tag += 1;
        flight.tag = p.next_tag;
        let producer = (acks != Acks::None).then_some(partition::Producer {
            id: p.pid,
            first_seq: flight.first_seq,
        });
        let request = Request::Produce {
            acks,
            producer,
            records: flight.records.clone(),
        };
        let (tp, tag, me) = (p.tp.clone(), flight.tag, Endpoint::Client(p.id));
        if acks == Acks::None {
            let n = flight.records.len() as u64;
            p.next_seq += n;
            p.sent_batches += 1;
            p.inflight = None;
            let next = self.rng.between(1, self.opts.produce_every);
            self.schedule(next, Task::Produce { producer: index });
        } else {
            let timeout = self.opts.timeout;
            self.schedule(
                timeout,
                Task::ProduceTimeout {
                    producer: index,
                    tag,
                },
            );
        }
        self.note(|| format!("producer {index} -> broker {leader}: {request:?}"));
        self.send(
            me,
            Endpoint::Broker(leader),
            Msg::Client { tp, tag, request },
        );
    }

    pub(super) fn produce_timeout(&mut self, index: u32, tag: u64) {
        let p = &mut self.producers[index as usize];
        if p.inflight.as_ref().map(|f| f.tag) == Some(tag) {
            p.leader = None;
            self.produce(index);
        }
    }

    pub(super) fn at_client(&mut self, id: u32, msg: Msg) {
        if id >= CONSUMER_BASE {
            return self.at_consumer(id - CONSUMER_BASE, msg);
        }
        let index = id;
        let p = &mut self.producers[index as usize];
        match msg {
            Msg::LeaderIs { leader, .. } => p.leader = leader,
            Msg::ClientAnswer { tag, response, .. } => {
                if p.inflight.as_ref().map(|f| f.tag) != Some(tag) {
                    return;
                }
                self.produce_answer(index, response);
            }
            _ => {}
        }
    }

    fn produce_answer(&mut self, index: u32, response: Response) {
        self.note(|| format!("producer {index} <- {response:?}"));
        let p = &mut self.producers[index as usize];
        let acks = p.acks.unwrap_or(Acks::All);
        match response {
            Response::Produced { base_offset } => {
                let flight = p.inflight.take().expect("answer to the batch in flight");
                p.next_seq = flight.first_seq + flight.records.len() as u64;
                p.sent_batches += 1;
                let tp = p.tp.clone();
                if acks == Acks::All {
                    self.report.acked_all += flight.records.len() as u64;
                    let result =
                        self.checker
                            .acknowledged(&tp, base_offset, &flight.records, &self.brokers);
                    self.check(result);
                } else {
                    self.report.acked_leader += flight.records.len() as u64;
                }
                let next = self.rng.between(1, self.opts.produce_every);
                self.schedule(next, Task::Produce { producer: index });
            }
            Response::Error(ErrorCode::OutOfOrderSequence) => {
                // Our previous batch was lost (acks=1 on a leader that then failed): start a
                // new sequence under a new producer id, as a producer resets its epoch.
                p.pid += 1 << 32;
                let flight = p.inflight.as_mut().expect("in flight");
                flight.first_seq = 0;
                p.next_seq = 0;
                self.report.duplicates_refused += 1;
                self.schedule(1, Task::Produce { producer: index });
            }
            _ => {
                p.leader = None;
                let backoff = self.rng.between(5, 30);
                self.schedule(backoff, Task::Produce { producer: index });
            }
        }
    }

    pub(super) fn consume(&mut self, index: u32) {
        let timeout = self.opts.timeout;
        let now = self.now;
        let c = &mut self.consumers[index as usize];
        let me = Endpoint::Client(CONSUMER_BASE + index);
        if c.waiting.is_some() && now.saturating_sub(c.sent_at) < timeout {
            return self.schedule(10, Task::Consume { consumer: index });
        }
        c.waiting = None;
        match c.leader {
            None => {
                let tp = c.tp.clone();
                self.send(me, Endpoint::Store, Msg::Lookup { tp });
            }
            Some(leader) => {
                c.next_tag += 1;
                c.waiting = Some(c.next_tag);
                c.sent_at = now;
                let request = Request::Fetch {
                    offset: c.position,
                    max_bytes: 64,
                    replica: None,
                };
                let (tp, tag) = (c.tp.clone(), c.next_tag);
                self.send(
                    me,
                    Endpoint::Broker(leader),
                    Msg::Client { tp, tag, request },
                );
            }
        }
        self.schedule(10, Task::Consume { consumer: index });
    }

    fn at_consumer(&mut self, index: u32, msg: Msg) {
        let c = &mut self.consumers[index as usize];
        match msg {
            Msg::LeaderIs { leader, .. } => c.leader = leader,
            Msg::ClientAnswer { tag, response, .. } if c.waiting == Some(tag) => {
                c.waiting = None;
                match response {
                    Response::Fetched {
                        high_watermark,
                        batches,
                        ..
                    } => {
                        let tp = c.tp.clone();
                        let mut position = c.position;
                        let mut results = Vec::new();
                        for batch in &batches {
                            for (i, record) in batch.records.iter().enumerate() {
                                let offset = batch.header.base_offset + i as u64;
                                if offset < position {
                                    continue;
                                }
                                self.report.consumed += 1;
                                results.push(self.checker.consumed(
                                    &tp,
                                    offset,
                                    record,
                                    high_watermark,
                                ));
                                position = offset + 1;
                            }
                        }
                        self.consumers[index as usize].position = position;
                        for result in results {
                            self.check(result);
                        }
                    }
                    _ => c.leader = None,
                }
            }
            _ => {}
        }
    }

    /// Whether every producer has finished and every consumer has read to the high watermark.
    pub(super) fn clients_done(&self) -> bool {
        self.producers.iter().all(|p| p.done)
    }
}
