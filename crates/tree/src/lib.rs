//! The replicated state machine of Quorum: ZooKeeper's data tree.
//!
//! Pure: no IO, no runtime, no clock; time arrives in each txn's header. The leader turns a
//! client write into a deterministic [`Txn`] with [`prep()`], keeping the effects of txns in
//! flight in [`Outstanding`]; every replica applies committed txns with [`DataTree::apply`],
//! which answers with the client's result and the watches to fire. [`DataTree::snapshot_to`]
//! and [`DataTree::restore_from`] save and load the whole state; [`DataTree::digest`] lets
//! replicas compare states cheaply. See the repository's `docs/tree.md`.

#![deny(missing_docs)]

pub mod acl;
pub mod apply;
mod codec;
pub mod digest;
mod expiry;
pub mod node;
pub mod outstanding;
pub mod path;
pub mod prep;
pub mod sessions;
pub mod snapshot;
pub mod stat;
pub mod tree;
pub mod txn;
pub mod txn_codec;

pub use apply::{ApplyResult, Outcome, WatchTrigger};
pub use codec::CodecError;
pub use node::{Node, NodeKind};
pub use outstanding::Outstanding;
pub use prep::{
    is_write, prep, prep_close_session, prep_create_session, prep_delete_container, PrepCtx,
};
pub use tree::DataTree;
pub use txn::{CreateTxn, Txn, TxnHeader, TxnRecord};
