//! The replicated state machine of Quorum: ZooKeeper's data tree.
//!
//! Pure: no IO, no runtime, no clock; time arrives in each txn's header. The leader turns a
//! client write into a deterministic [`Txn`] with [`prep()`], keeping the effects of txns in
//! flight in [`Outstanding`]; every replica applies committed txns with [`DataTree::apply`],
//! which answers with the client's result and the watches to fire. [`DataTree::snapshot_to`]
//! and [`DataTree::restore_from`] save and load the whole state; [`DataTree::digest`] lets
//! replicas compare states cheaply. See the repository's `docs/tree.md`.
//!
//! ```
//! use proto::{Acl, CreateRequest, ErrorCode, Request};
//! use tree::{
//!     prep, prep_create_session, DataTree, Outstanding, PrepCtx, Txn, TxnHeader, TxnRecord, Zxid,
//! };
//!
//! let mut tree = DataTree::new();
//! let mut pending = Outstanding::new();
//! let header = |zxid| TxnHeader { zxid, time_ms: 1_700_000_000_000, session_id: 7, cxid: 1 };
//!
//! // A session opens (replicated state), then creates an ephemeral sequential node.
//! let open = prep_create_session(&mut pending, 7, 30_000, Zxid::new(1, 1));
//! let req = Request::Create(CreateRequest {
//!     path: "/lock-".into(),
//!     data: None,
//!     acl: Acl::open_unsafe(),
//!     flags: 3,
//! });
//! let ctx = PrepCtx { zxid: Zxid::new(1, 2), session_id: 7, auth: &[], extended_types: false, skip_acl: false, local_session: false };
//! // Pipelined: prepped before the session's txn is applied.
//! let create = prep(&tree, &mut pending, &req, &ctx).unwrap_or_else(Txn::Error);
//!
//! // Zab commits the encoded records; every replica decodes and applies them in order.
//! for (zxid, txn) in [(Zxid::new(1, 1), open), (Zxid::new(1, 2), create)] {
//!     let bytes = TxnRecord::new(header(zxid), txn).encode();
//!     let record = TxnRecord::decode(&bytes).unwrap();
//!     let result = tree.apply(&record);
//!     pending.applied(zxid);
//!     assert_eq!(result.outcome.err(), ErrorCode::Ok);
//! }
//! assert_eq!(tree.ephemerals(7), ["/lock-0000000000"]);
//! assert_eq!(tree.digest(), tree.compute_digest());
//! ```

#![deny(missing_docs)]

pub mod acl;
pub mod acl_cache;
pub mod apply;
pub mod children;
mod codec;
pub mod config_node;
pub mod digest;
mod expiry;
pub mod growing_map;
pub mod node;
pub mod node_map;
pub mod node_path;
pub mod outstanding;
mod overlay;
pub mod path;
pub mod prep;
pub mod sessions;
pub mod snapshot;
pub mod stat;
pub mod thin_bytes;
pub mod tree;
pub mod txn;
pub mod txn_codec;

/// A hash map keyed by what clients send (paths, session ids) on the leader's per-write path.
/// std's default SipHash was a twentieth of a create's CPU in prep. aHash is seeded at random
/// per process too, so a client cannot compute colliding paths offline; it has had less study
/// than SipHash against chosen collisions, a trade the node table already made.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;

pub use acl_cache::{AclCache, SharedAcl};
pub use apply::{ApplyResult, Outcome, TriggerAcls, Triggers, WatchTrigger};
pub use codec::CodecError;
pub use config_node::ConfigChange;
pub use node::{Children, Node, NodeKind};
pub use outstanding::Outstanding;
pub use prep::{
    is_write, prep, prep_close_session, prep_create_session, prep_delete_container, PrepCtx,
};
pub use snapshot::FrozenTree;
pub use tree::DataTree;
pub use txn::{CreateTxn, Txn, TxnHeader, TxnRecord};
pub use zxid::Zxid;
