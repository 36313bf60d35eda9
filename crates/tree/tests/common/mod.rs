//! A small driver for tests: a leader that preps, "commits" (encodes and decodes the txn, as
//! the log would) and applies, one request at a time or in pipelined batches.

#![allow(dead_code)]

use bytes::Bytes;
use proto::{Acl, CreateRequest, ErrorCode, Id, Request};
use tree::{
    prep, prep_close_session, prep_create_session, ApplyResult, DataTree, Outstanding, PrepCtx,
    Txn, TxnHeader, TxnRecord,
};

pub struct Leader {
    pub tree: DataTree,
    pub out: Outstanding,
    pub zxid: i64,
    pub time: i64,
    pub extended_types: bool,
    /// Every record applied, in order, for replay on another tree.
    pub log: Vec<TxnRecord>,
}

impl Default for Leader {
    fn default() -> Self {
        Self::new()
    }
}

impl Leader {
    pub fn new() -> Self {
        Leader {
            tree: DataTree::new(),
            out: Outstanding::new(),
            zxid: 0,
            time: 1_000,
            extended_types: false,
            log: Vec::new(),
        }
    }

    fn header(&mut self, session_id: i64) -> TxnHeader {
        self.zxid += 1;
        self.time += 10;
        TxnHeader {
            zxid: tree::Zxid::from_i64(self.zxid),
            time_ms: self.time,
            session_id,
            cxid: self.zxid as i32,
        }
    }

    /// Preps without applying: a failure becomes an error txn that still takes a zxid.
    pub fn prep(&mut self, session: i64, auth: &[Id], request: &Request) -> TxnRecord {
        let header = self.header(session);
        let ctx = PrepCtx {
            zxid: header.zxid,
            session_id: session,
            auth,
            extended_types: self.extended_types,
            skip_acl: false,
            local_session: false,
        };
        let txn = prep(&self.tree, &mut self.out, request, &ctx).unwrap_or_else(Txn::Error);
        TxnRecord::new(header, txn)
    }

    /// Commits and applies a prepped record.
    pub fn apply(&mut self, record: TxnRecord) -> ApplyResult<'static> {
        let bytes = record.encode();
        let decoded = TxnRecord::decode(&bytes).expect("txn round trip");
        assert_eq!(decoded, record);
        let result = self.tree.apply(&decoded).into_owned();
        self.out.applied(decoded.header.zxid);
        self.log.push(decoded);
        result
    }

    pub fn run_auth(
        &mut self,
        session: i64,
        auth: &[Id],
        request: Request,
    ) -> ApplyResult<'static> {
        let r = self.prep(session, auth, &request);
        self.apply(r)
    }

    pub fn run(&mut self, session: i64, request: Request) -> ApplyResult<'static> {
        self.run_auth(session, &[], request)
    }

    pub fn open(&mut self, session: i64) {
        let header = self.header(session);
        let txn = prep_create_session(&mut self.out, session, 30_000, header.zxid);
        self.apply(TxnRecord::new(header, txn));
    }

    pub fn close(&mut self, session: i64) -> ApplyResult<'static> {
        let record = self.prep_close(session);
        self.apply(record)
    }

    /// Preps a close of `session` without applying it.
    pub fn prep_close(&mut self, session: i64) -> TxnRecord {
        let header = self.header(session);
        let txn = prep_close_session(&self.tree, &mut self.out, session, header.zxid);
        TxnRecord::new(header, txn)
    }
}

pub fn create_req(path: &str, data: &str, flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: Some(Bytes::from(data.to_string())),
        acl: Acl::open_unsafe(),
        flags,
    }
}

pub fn create(path: &str, flags: i32) -> Request {
    Request::Create(create_req(path, "d", flags))
}

pub fn err(r: &ApplyResult) -> ErrorCode {
    r.outcome.err()
}
