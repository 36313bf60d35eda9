//! Snapshots: the whole tree and sessions table in one stream (see docs/tree.md).
//!
//! Layout: magic `QTREE`, version byte, last zxid, node count, then every node in pre-order
//! (a parent before its children, children sorted) as path, kind, data, ACL and the eight
//! persisted Stat fields; then the session count and each (id, timeout); last, the digest.
//! Derived state (children sets, `numChildren`, `dataLength`, ephemeral/container/TTL
//! indexes, node hashes) is rebuilt on restore, and the recomputed digest must equal the one
//! written, so a snapshot that decodes into a different state is refused. The storage crate
//! adds framing and checksums around this.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::{mpsc, Arc};
use zxid::Zxid;

use crate::acl_cache::AclCache;
use crate::children;
use crate::codec::{corrupt, CodecError, Dec, Enc};
use crate::digest::{legacy_content_hash, legacy_node_hash, node_hash};
use crate::node::{Node, NodeStat};
use crate::node_map::Nodes;
use crate::node_path::{ChildPath, Prefix, PrefixCache};
use crate::path;
use crate::tree::DataTree;

const MAGIC: &[u8; 5] = b"QTREE";
/// Snapshot format version.
/// 2: node hashes are XXH3 (see [`crate::digest`]); the records are those of format 1.
pub const SNAPSHOT_FORMAT_VERSION: u8 = 2;

/// Still read: the same records, its digest summed from FNV-1a node hashes.
const LEGACY_FORMAT_VERSION: u8 = 1;

/// The fewest bytes one node's record takes (see `write_node`): a one-byte path and its length,
/// the kind, null data, an empty ACL, five i64 and three i32 Stat fields.
const MIN_NODE_BYTES: usize = (4 + 1) + 1 + 4 + 4 + 5 * 8 + 3 * 4;

impl DataTree {
    /// About how many bytes [`DataTree::snapshot_to`] writes, to size an in-memory buffer once
    /// instead of doubling it (a doubled buffer of a big tree costs twice its size at peak).
    /// Paths and data are counted exactly; each node's fixed fields and a one-entry ACL are
    /// estimated.
    pub fn snapshot_size_hint(&self) -> usize {
        const PER_NODE: usize = 96;
        (self.data_size as usize)
            .saturating_add(self.nodes.len().saturating_mul(PER_NODE))
            .saturating_add(64)
    }

    /// Writes the snapshot of the tree as it is now.
    pub fn snapshot_to<W: Write>(&self, w: &mut W) -> std::io::Result<()> {
        let sessions: Vec<(i64, i32)> = self.sessions.iter().collect();
        let view = View {
            last_zxid: self.last_zxid,
            node_count: self.nodes.len(),
            sessions: &sessions,
            digest: self.digest,
        };
        let root = self.nodes.get(path::ROOT).expect("every tree has a root");
        view.write(w, root, |c| self.nodes.get(c))
    }

    /// The tree as it is now, frozen in O(1) for another thread to write with
    /// [`FrozenTree::write_to`] while this one keeps applying (see [`crate::node_map`]);
    /// `None` while an earlier frozen tree is still held, or the changes made under it are
    /// still being folded back. The sessions table is copied (twelve bytes a session).
    pub fn freeze(&mut self) -> Option<Arc<FrozenTree>> {
        if self.frozen.0.strong_count() > 0 {
            return None;
        }
        let nodes = self.nodes.freeze()?;
        let frozen = Arc::new(FrozenTree {
            nodes,
            sessions: self.sessions.iter().collect(),
            last_zxid: self.last_zxid,
            digest: self.digest,
            size_hint: self.snapshot_size_hint(),
        });
        self.frozen.0 = Arc::downgrade(&frozen);
        Some(frozen)
    }

    /// A frozen tree at once, for a follower's SNAP: the one frozen earlier while it is still
    /// held (its zxid may be older: the follower gets the rest as a DIFF), else the tree as it
    /// is now, after folding back at once what is left of an earlier freeze's changes (at most
    /// the nodes changed while that snapshot was written).
    pub fn freeze_now(&mut self) -> Arc<FrozenTree> {
        if let Some(held) = self.frozen.0.upgrade() {
            return held;
        }
        self.nodes.fold_all();
        self.freeze()
            .expect("nothing frozen and nothing left to fold")
    }

    /// Reads a snapshot written by [`DataTree::snapshot_to`] from memory, with the node table
    /// sized once for the nodes it holds; a big one is decoded on a second thread while this
    /// one builds the tree (see [`restore_nodes_pipelined`]). Never panics on bad input.
    pub fn restore_from_bytes(bytes: &[u8]) -> Result<DataTree, CodecError> {
        Self::restore_from_bytes_with_room(bytes, 0)
    }

    /// [`DataTree::restore_from_bytes`], with room in the node table for `more_nodes` beyond
    /// the snapshot's: a restart knows how many creates its log holds after the snapshot.
    /// Without it, a log that crosses the table's size makes it double while the records are
    /// applied, and every apply moves entries across and looks in two tables (a fifth of the
    /// apply of 210,000 records on a million-node tree).
    pub fn restore_from_bytes_with_room(
        bytes: &[u8],
        more_nodes: usize,
    ) -> Result<DataTree, CodecError> {
        let pipelined = bytes.len() >= PIPELINE_MIN_BYTES
            && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
        let mut r = bytes;
        Self::restore(&mut r, bytes.len() / MIN_NODE_BYTES, more_nodes, pipelined)
    }

    /// Reads a snapshot written by [`DataTree::snapshot_to`]. Never panics on bad input.
    pub fn restore_from<R: Read + Send>(r: &mut R) -> Result<DataTree, CodecError> {
        Self::restore(r, 0, 0, false)
    }

    /// Reads a snapshot holding at most `max_nodes` nodes for the table's first size, with
    /// room for `more_nodes` besides.
    fn restore<R: Read + Send>(
        r: &mut R,
        max_nodes: usize,
        more_nodes: usize,
        pipelined: bool,
    ) -> Result<DataTree, CodecError> {
        let mut d = Dec { r };
        let mut magic = [0u8; 5];
        d.r.read_exact(&mut magic)?;
        if &magic != MAGIC {
            return corrupt("not a Quorum tree snapshot");
        }
        let version = d.u8()?;
        if version != SNAPSHOT_FORMAT_VERSION && version != LEGACY_FORMAT_VERSION {
            return corrupt(format!("unknown snapshot version {version}"));
        }
        let mut tree = DataTree::new();
        tree.nodes.clear();
        tree.containers.clear();
        tree.ttls.clear();
        tree.digest = 0;
        tree.data_size = 0;
        tree.last_zxid = Zxid::from_i64(d.i64()?);
        let count = d.u64()?;
        // The count is untrusted: room for no more nodes than the bytes could hold.
        let stored = usize::try_from(count).map_or(0, |c| c.min(max_nodes));
        tree.reserve_nodes(stored.saturating_add(more_nodes));
        let legacy = version == LEGACY_FORMAT_VERSION;
        let legacy_nodes = if pipelined {
            restore_nodes_pipelined(&mut d, &mut tree, count, legacy)?
        } else {
            restore_nodes_in_turn(&mut d, &mut tree, count, legacy)?
        };
        if count == 0 {
            return corrupt("snapshot has no root");
        }
        let nodes = tree.digest;
        let sessions = d.u64()?;
        for _ in 0..sessions {
            let id = d.i64()?;
            let timeout = d.i32()?;
            tree.open_session(id, timeout);
        }
        let stored = d.u64()?;
        let expected = match version {
            SNAPSHOT_FORMAT_VERSION => vec![tree.digest],
            _ => legacy_digests(&tree, legacy_nodes, nodes),
        };
        if !expected.contains(&stored) {
            return corrupt(format!(
                "digest mismatch: snapshot says {stored:#x}, contents give {:#x}",
                expected[0]
            ));
        }
        let mut rest = [0u8; 1];
        if d.r.read(&mut rest)? != 0 {
            return corrupt("trailing bytes after snapshot");
        }
        Ok(tree)
    }
}

/// Snapshots of at least this many bytes are decoded on a second thread (about 45,000 nodes
/// of the load generator's; a thread costs tens of microseconds).
const PIPELINE_MIN_BYTES: usize = 8 << 20;
/// Nodes the decoding thread hands over at a time.
const BATCH_NODES: usize = 1024;
/// Batches decoded ahead of the thread building the tree (a few MiB of nodes at most).
const BATCHES_IN_FLIGHT: usize = 8;

/// Adds decoded nodes to the tree, summing the legacy digest's node hashes if asked.
struct Inserter {
    legacy: bool,
    legacy_nodes: u64,
}

impl Inserter {
    fn new(legacy: bool) -> Inserter {
        Inserter {
            legacy,
            legacy_nodes: 0,
        }
    }

    fn node(&mut self, tree: &mut DataTree, d: Decoded) -> Result<(), CodecError> {
        if self.legacy {
            let legacy = legacy_node_hash(&d.node);
            self.legacy_nodes = self.legacy_nodes.wrapping_add(legacy);
        }
        tree.restore_node(d.node, d.hash).or_else(corrupt)
    }
}

/// Decodes `count` node records on a second thread while this one adds them to `tree`; the
/// same result as decoding and adding them in turn, errors included (the first bad record in
/// the stream's order is the one reported). Decoding (paths, values, ACLs, Stat fields) and
/// building (hashing, the node table, the parents' child sets) each took about half of a
/// big snapshot's install, one after the other on one thread. Returns the legacy digest's
/// sum of node hashes. Where no thread can be started, decodes and adds in turn.
fn restore_nodes_pipelined<R: Read + Send>(
    d: &mut Dec<R>,
    tree: &mut DataTree,
    count: u64,
    legacy: bool,
) -> Result<u64, CodecError> {
    let mut acls = std::mem::take(&mut tree.acls);
    let piped = std::thread::scope(|scope| {
        let (batches, received) = mpsc::sync_channel(BATCHES_IN_FLIGHT);
        let (dec, acls) = (&mut *d, &mut acls);
        let decoder = std::thread::Builder::new()
            .name("snapshot-decoder".into())
            .spawn_scoped(scope, move || decode_batches(dec, acls, count, &batches))
            .ok()?;
        let mut insert = Inserter::new(legacy);
        let mut built = Ok(());
        'batches: while let Ok(batch) = received.recv() {
            for decoded in batch {
                built = insert.node(tree, decoded);
                if built.is_err() {
                    break 'batches;
                }
            }
        }
        // Unblocks a decoder waiting to hand over more.
        drop(received);
        let decoded = match decoder.join() {
            Ok(decoded) => decoded,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        // The builder saw every record before the one the decoder failed on: its error, if
        // any, comes first in the stream.
        Some(built.and(decoded).map(|()| insert.legacy_nodes))
    });
    tree.acls = acls;
    match piped {
        Some(result) => result,
        None => restore_nodes_in_turn(d, tree, count, legacy),
    }
}

/// The decoding half: batches of decoded nodes to `batches`, and on a bad record the nodes
/// before it first, so that the builder can report an earlier error of its own.
fn decode_batches<R: Read>(
    d: &mut Dec<R>,
    acls: &mut AclCache,
    count: u64,
    batches: &mpsc::SyncSender<Vec<Decoded>>,
) -> Result<(), CodecError> {
    let mut batch = Vec::with_capacity(BATCH_NODES);
    let mut paths = PathReader::default();
    for i in 0..count {
        match read_node(d, acls, &mut paths, i == 0) {
            Ok(node) => batch.push(node),
            Err(error) => {
                let _ = batches.send(batch);
                return Err(error);
            }
        }
        if batch.len() == BATCH_NODES {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_NODES));
            if batches.send(full).is_err() {
                // The builder stopped at a bad node: its error is the one reported.
                return Ok(());
            }
        }
    }
    let _ = batches.send(batch);
    Ok(())
}

/// Decodes and adds `count` node records one after the other.
fn restore_nodes_in_turn<R: Read>(
    d: &mut Dec<R>,
    tree: &mut DataTree,
    count: u64,
    legacy: bool,
) -> Result<u64, CodecError> {
    let mut insert = Inserter::new(legacy);
    let mut paths = PathReader::default();
    for i in 0..count {
        let decoded = read_node(d, &mut tree.acls, &mut paths, i == 0)?;
        insert.node(tree, decoded)?;
    }
    Ok(insert.legacy_nodes)
}

/// One node as read from a snapshot, with its digest hash (computed by the decoder, which
/// for a big snapshot runs on a thread of its own).
struct Decoded {
    node: Node,
    hash: u64,
}

/// Reads the nodes' paths: one buffer for them all, and siblings' prefixes shared.
#[derive(Default)]
struct PathReader {
    buf: Vec<u8>,
    prefixes: PrefixCache,
}

/// One node's record, its path checked (the root first, then only valid paths).
fn read_node<R: Read>(
    d: &mut Dec<R>,
    acls: &mut AclCache,
    paths: &mut PathReader,
    first: bool,
) -> Result<Decoded, CodecError> {
    let p = d.str_in(&mut paths.buf)?;
    if first && p != path::ROOT {
        return corrupt("snapshot does not start with the root");
    }
    if !first && (path::validate_path(p).is_err() || p == path::ROOT) {
        return corrupt(format!("bad path {p:?} in snapshot"));
    }
    let p = paths.prefixes.path(p);
    let kind = d.kind()?;
    let data = d.data_thin()?;
    let acl = acls.intern(&d.acl()?);
    let mut node = Node::new(p, data, acl, kind, Zxid::ZERO, 0);
    let (czxid, mzxid, pzxid) = (d.i64()?, d.i64()?, d.i64()?);
    node.stat = NodeStat {
        czxid,
        mzxid,
        ctime: d.i64()?,
        mtime: d.i64()?,
        version: d.i32()?,
        cversion: d.i32()?,
        aversion: d.i32()?,
    };
    if pzxid != czxid {
        node.set_pzxid(pzxid);
    }
    let hash = node_hash(&node);
    Ok(Decoded { node, hash })
}

/// The digests a format-1 snapshot of `tree` may carry: its nodes hashed with FNV-1a
/// (`legacy_nodes`) plus its sessions (hashed alike in both formats: the tree's digest less
/// its nodes' `nodes`), and, from before `/zookeeper/config` was left out of the digest, that
/// sum with the config node counted.
fn legacy_digests(tree: &DataTree, legacy_nodes: u64, nodes: u64) -> Vec<u64> {
    let sessions = tree.digest.wrapping_sub(nodes);
    let digest = legacy_nodes.wrapping_add(sessions);
    let config = tree.nodes.get(path::CONFIG).map_or(0, legacy_content_hash);
    vec![digest, digest.wrapping_add(config)]
}

/// A tree frozen at one applied zxid by [`DataTree::freeze`]: shareable with another thread,
/// and unchanged by what the tree applies after.
pub struct FrozenTree {
    nodes: Arc<Nodes>,
    sessions: Vec<(i64, i32)>,
    last_zxid: Zxid,
    digest: u64,
    size_hint: usize,
}

impl FrozenTree {
    /// Every transaction up to this one is in the frozen tree.
    pub fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }

    /// See [`DataTree::snapshot_size_hint`].
    pub fn size_hint(&self) -> usize {
        self.size_hint
    }

    /// Writes the snapshot, exactly as [`DataTree::snapshot_to`] would have at the freeze.
    ///
    /// The fields go through a buffer of [`WRITE_BUFFER_BYTES`]: the writer is a file's (or a
    /// peer's) behind a `dyn Write`, and a call through it for each field of each node was a
    /// quarter of a snapshot's instructions.
    pub fn write_to<W: Write>(&self, w: &mut W) -> std::io::Result<()> {
        let view = View {
            last_zxid: self.last_zxid,
            node_count: self.nodes.len(),
            sessions: &self.sessions,
            digest: self.digest,
        };
        let mut buffered = std::io::BufWriter::with_capacity(WRITE_BUFFER_BYTES, w);
        let root = self.nodes.get(path::ROOT).expect("every tree has a root");
        view.write(&mut buffered, root, |c| self.nodes.get(c).map(|n| &**n))?;
        buffered.flush()
    }
}

/// Bytes of a frozen tree's snapshot gathered before each write to its writer.
const WRITE_BUFFER_BYTES: usize = 64 << 10;

/// What a snapshot holds besides the nodes.
struct View<'a> {
    last_zxid: Zxid,
    node_count: usize,
    sessions: &'a [(i64, i32)],
    digest: u64,
}

impl View<'_> {
    /// Writes the header, `root` and every node under it found through `child`, in pre-order,
    /// the sessions and the digest.
    fn write<'n, W: Write>(
        &self,
        w: &mut W,
        root: &'n Node,
        child: impl Fn(&ChildPath) -> Option<&'n Node>,
    ) -> std::io::Result<()> {
        let mut e = Enc { w };
        e.w.write_all(MAGIC)?;
        e.u8(SNAPSHOT_FORMAT_VERSION)?;
        e.i64(self.last_zxid.as_i64())?;
        e.u64(self.node_count as u64)?;
        // Pre-order with sorted children: a frame a parent being walked, deepest last.
        write_node(&mut e, root)?;
        let mut frames = vec![Frame::of(root)];
        while let Some(frame) = frames.last_mut() {
            let Some(n) = frame.next(&child) else {
                frames.pop();
                continue;
            };
            write_node(&mut e, n)?;
            if !n.children().is_empty() {
                frames.push(Frame::of(n));
            }
        }
        e.u64(self.sessions.len() as u64)?;
        for &(id, timeout) in self.sessions {
            e.i64(id)?;
            e.i32(timeout)?;
        }
        e.u64(self.digest)
    }
}

/// Children looked up ahead of their writes in a snapshot's walk.
const LOOKAHEAD_NODES: usize = 16;

/// A parent in a snapshot's walk: the children left to write, the next few of them already
/// found. Each child is found by the parent's shared prefix and its name, and
/// [`LOOKAHEAD_NODES`] of them at a time: those lookups do not depend on one another, so the
/// processor overlaps their cache misses, where one lookup between two writes waited for its
/// own (a big tree's node table and nodes are far larger than the caches, and under load the
/// lookups were most of a snapshot writer's time). Few enough that the nodes found are still
/// in the cache when they are written.
struct Frame<'n> {
    prefix: Prefix,
    names: children::Iter<'n>,
    ahead: VecDeque<&'n Node>,
}

impl<'n> Frame<'n> {
    fn of(parent: &'n Node) -> Frame<'n> {
        let prefix = match parent.children_prefix() {
            Some(prefix) => prefix.clone(),
            // Every node with children keeps their prefix; were one not to, a prefix of the
            // same path finds them all the same.
            None => Prefix::new(&parent.path().to_string()),
        };
        Frame {
            prefix,
            names: parent.children().iter(),
            ahead: VecDeque::with_capacity(LOOKAHEAD_NODES),
        }
    }

    /// The next child to write, if any is left.
    fn next(&mut self, child: &impl Fn(&ChildPath) -> Option<&'n Node>) -> Option<&'n Node> {
        if self.ahead.is_empty() {
            let prefix = &self.prefix;
            let found = self.names.by_ref().take(LOOKAHEAD_NODES).map(|name| {
                child(&ChildPath { prefix, name }).expect("every child a node lists exists")
            });
            self.ahead.extend(found);
        }
        self.ahead.pop_front()
    }
}

/// One node's record: path, kind, data, ACL and the persisted Stat fields.
fn write_node<W: Write>(e: &mut Enc<W>, n: &Node) -> std::io::Result<()> {
    e.path(n.path())?;
    e.kind(n.kind())?;
    e.data(n.data.as_deref())?;
    e.acl(&n.acl)?;
    let s = &n.stat;
    for v in [s.czxid, s.mzxid, n.pzxid(), s.ctime, s.mtime] {
        e.i64(v)?;
    }
    for v in [s.version, s.cversion, s.aversion] {
        e.i32(v)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_tree_round_trips() {
        let t = DataTree::new();
        let mut buf = Vec::new();
        t.snapshot_to(&mut buf).unwrap();
        let back = DataTree::restore_from(&mut &buf[..]).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.digest(), t.digest());
    }

    /// Every path of the tree in pre-order with sorted children: the order a snapshot lists
    /// them in.
    fn pre_order(t: &DataTree, path: &str, out: &mut Vec<String>) {
        out.push(path.to_string());
        for name in t.children(path).expect("a listed node is there").iter() {
            let child = match path {
                path::ROOT => format!("/{name}"),
                _ => format!("{path}/{name}"),
            };
            pre_order(t, &child, out);
        }
    }

    /// A parent with more children than the walk looks up ahead, some with subtrees of their
    /// own, in the middle of a lookahead batch and at its edges: the snapshot lists every node
    /// in pre-order with sorted children, written live or frozen, and restores to the tree.
    #[test]
    fn a_snapshot_lists_nodes_in_pre_order_around_its_lookahead() {
        let mut t = DataTree::new();
        let mut zxid = 1;
        let mut add = |t: &mut DataTree, path: String| {
            zxid += 1;
            let c = crate::txn::CreateTxn {
                path,
                data: None,
                acl: proto::Acl::open_unsafe(),
                kind: crate::node::NodeKind::Persistent,
                parent_cversion: 0,
                with_stat: false,
            };
            t.create_node(&c, Zxid::from_i64(zxid), 0).unwrap();
            t.last_zxid = Zxid::from_i64(zxid);
        };
        add(&mut t, "/p".into());
        // Created out of order, as clients do.
        for i in (0..3 * LOOKAHEAD_NODES + 5).rev() {
            add(&mut t, format!("/p/c{i:03}"));
        }
        for i in [
            0,
            5,
            LOOKAHEAD_NODES - 1,
            LOOKAHEAD_NODES,
            2 * LOOKAHEAD_NODES + 3,
        ] {
            for j in 0..LOOKAHEAD_NODES + 2 {
                add(&mut t, format!("/p/c{i:03}/g{j:03}"));
            }
            add(&mut t, format!("/p/c{i:03}/g001/h"));
        }
        let mut expected = Vec::new();
        pre_order(&t, path::ROOT, &mut expected);
        let mut live = Vec::new();
        t.snapshot_to(&mut live).unwrap();
        // Each path's first appearance in the bytes is its own record (its descendants'
        // paths, which contain it, come after it).
        let at = |path: &str| {
            live.windows(path.len())
                .position(|w| w == path.as_bytes())
                .unwrap_or_else(|| panic!("{path} missing"))
        };
        let offsets: Vec<usize> = expected.iter().skip(1).map(|p| at(p)).collect();
        assert!(offsets.windows(2).all(|w| w[0] < w[1]), "not in pre-order");
        let mut frozen = Vec::new();
        t.freeze_now().write_to(&mut frozen).unwrap();
        assert_eq!(frozen, live);
        assert_eq!(DataTree::restore_from_bytes(&live).unwrap(), t);
    }

    /// Creates `/n-<i>` at zxid i + 2, as the tree's last applied transaction.
    fn create(t: &mut DataTree, i: i32, data: Option<bytes::Bytes>) {
        let c = crate::txn::CreateTxn {
            path: format!("/n-{i:010}"),
            data,
            acl: proto::Acl::open_unsafe(),
            kind: crate::node::NodeKind::Persistent,
            parent_cversion: i + 1,
            with_stat: false,
        };
        t.create_node(&c, Zxid::from_i64(2 + i64::from(i)), 0)
            .unwrap();
        t.last_zxid = Zxid::from_i64(2 + i64::from(i));
    }

    /// A restart applies its logged creates after the restore: with room made for them, the
    /// node table does not double (and move every entry) on the way.
    #[test]
    fn room_for_logged_creates_keeps_the_node_table_from_doubling_while_they_apply() {
        let mut t = DataTree::new();
        for i in 0..20_000 {
            create(&mut t, i, None);
        }
        let mut buf = Vec::new();
        t.snapshot_to(&mut buf).unwrap();
        let doubles_during_creates = |room: usize| {
            let mut back = DataTree::restore_from_bytes_with_room(&buf, room).unwrap();
            assert_eq!(back, t);
            let mut doubled = false;
            for i in 20_000..30_000 {
                create(&mut back, i, None);
                doubled |= back.nodes.is_doubling();
            }
            doubled
        };
        assert!(doubles_during_creates(0), "without room it must double");
        assert!(!doubles_during_creates(10_000));
    }

    #[test]
    fn a_periodic_freeze_waits_for_the_last_and_a_sync_takes_the_held_one() {
        let mut t = DataTree::new();
        create(&mut t, 0, None);
        let first = t.freeze().expect("nothing held");
        create(&mut t, 1, None);
        assert!(t.freeze().is_none(), "the first is still being written");
        // A follower's SNAP takes the one held: older, exact, and the DIFF covers the rest.
        let held = t.freeze_now();
        assert!(Arc::ptr_eq(&held, &first));
        drop((first, held));
        // Gone: the next is the tree now, after folding back what changed under the first.
        let now = t.freeze_now();
        assert_eq!(now.last_zxid(), t.last_zxid());
        let mut a = Vec::new();
        now.write_to(&mut a).unwrap();
        let mut b = Vec::new();
        t.snapshot_to(&mut b).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn size_hint_covers_a_typical_tree_without_much_slack() {
        let mut t = DataTree::new();
        for i in 0..1000 {
            create(&mut t, i, Some(bytes::Bytes::from(vec![7u8; 100])));
        }
        let mut buf = Vec::new();
        t.snapshot_to(&mut buf).unwrap();
        let hint = t.snapshot_size_hint();
        assert!(hint >= buf.len(), "hint {hint} < {}", buf.len());
        assert!(hint < buf.len() * 3 / 2, "hint {hint} vs {}", buf.len());
    }

    #[test]
    fn every_truncation_and_flip_is_an_error_not_a_panic() {
        let t = DataTree::new();
        let mut buf = Vec::new();
        t.snapshot_to(&mut buf).unwrap();
        for cut in 0..buf.len() {
            assert!(DataTree::restore_from(&mut &buf[..cut]).is_err());
        }
        for i in 0..buf.len() {
            for bit in 0..8 {
                let mut b = buf.clone();
                b[i] ^= 1 << bit;
                // A flip may still decode (e.g. inside data that the digest covers is caught;
                // a flip in the digest itself is caught); it must never panic.
                let _ = DataTree::restore_from(&mut &b[..]);
                let _ = DataTree::restore_from_bytes(&b);
            }
        }
    }

    /// The snapshot of a tree with one node `/a`, with the node count and the second node's
    /// path replaced.
    fn tampered(count: u64, second_path: &str) -> Vec<u8> {
        let mut t = DataTree::new();
        create(&mut t, 0, None);
        let mut buf = Vec::new();
        t.snapshot_to(&mut buf).unwrap();
        let real = b"/n-0000000000";
        let at = buf.windows(real.len()).position(|w| w == real).unwrap();
        buf.splice(at..at + real.len(), second_path.bytes());
        let len = u32::try_from(second_path.len()).unwrap();
        buf[at - 4..at].copy_from_slice(&len.to_be_bytes());
        let count_at = MAGIC.len() + 1 + 8;
        buf[count_at..count_at + 8].copy_from_slice(&count.to_be_bytes());
        buf
    }

    /// A tree of `n` nodes over several levels, some ephemeral, two distinct ACLs.
    fn several_batches(n: i32) -> DataTree {
        let mut t = DataTree::new();
        for i in 0..n {
            let parent = if i < 8 {
                String::new()
            } else {
                format!("/d-{}", i % 8)
            };
            let c = crate::txn::CreateTxn {
                path: format!("{parent}/{}-{i}", if i < 8 { "d" } else { "n" }),
                data: Some(bytes::Bytes::from(vec![i as u8; (i % 50) as usize])),
                acl: if i % 3 == 0 {
                    proto::Acl::open_unsafe()
                } else {
                    proto::Acl::read_unsafe()
                },
                kind: if i % 5 == 4 && i >= 8 {
                    crate::node::NodeKind::Ephemeral(0x77)
                } else {
                    crate::node::NodeKind::Persistent
                },
                parent_cversion: i + 1,
                with_stat: false,
            };
            let zxid = Zxid::from_i64(2 + i64::from(i));
            t.create_node(&c, zxid, 1_700_000_000_000 + i64::from(i))
                .unwrap();
            t.last_zxid = zxid;
        }
        t
    }

    #[test]
    fn a_pipelined_restore_builds_the_same_tree_and_fails_alike() {
        let t = several_batches(5 * BATCH_NODES as i32 + 17);
        let mut buf = Vec::new();
        t.snapshot_to(&mut buf).unwrap();
        let max = buf.len() / MIN_NODE_BYTES;
        let piped = DataTree::restore(&mut &buf[..], max, 0, true).unwrap();
        assert_eq!(
            piped,
            DataTree::restore(&mut &buf[..], max, 0, false).unwrap()
        );
        assert_eq!(piped, t);
        assert_eq!(piped.digest(), t.digest());
        // Cut anywhere (inside the first batch, between batches, in the last one, after the
        // nodes): the same error, never a panic or a hang.
        let step = buf.len() / 97;
        for cut in (0..buf.len()).step_by(step).chain([buf.len() - 1]) {
            let one = DataTree::restore(&mut &buf[..cut], max, 0, false).unwrap_err();
            let two = DataTree::restore(&mut &buf[..cut], max, 0, true).unwrap_err();
            assert_eq!(format!("{one:?}"), format!("{two:?}"), "cut at {cut}");
        }
        let nodes = DataTree::new().nodes.len() as u64 + 1;
        for bad in [tampered(nodes, "/missing/n"), tampered(nodes, "/zookeeper")] {
            let one = DataTree::restore(&mut &bad[..], max, 0, false).unwrap_err();
            let two = DataTree::restore(&mut &bad[..], max, 0, true).unwrap_err();
            assert_eq!(format!("{one:?}"), format!("{two:?}"));
            // A record the builder refuses, then a record cut short, in one batch: the
            // builder's error, first in the stream, is the one reported.
            let last = bad.windows(10).rposition(|w| w == b"/zookeeper").unwrap();
            let cut = &bad[..last + 3];
            let one = DataTree::restore(&mut &cut[..], max, 0, false).unwrap_err();
            let two = DataTree::restore(&mut &cut[..], max, 0, true).unwrap_err();
            assert_eq!(format!("{one:?}"), format!("{two:?}"));
            assert!(!format!("{two:?}").contains("UnexpectedEof"), "{two:?}");
        }
    }

    #[test]
    fn a_count_the_bytes_cannot_hold_an_orphan_and_a_repeat_are_refused() {
        let nodes = DataTree::new().nodes.len() as u64 + 1;
        assert!(DataTree::restore_from_bytes(&tampered(nodes, "/n-0000000000")).is_ok());
        // Room is made for no more nodes than the bytes can hold, whatever the count says.
        let err = DataTree::restore_from_bytes(&tampered(u64::MAX, "/n-0000000000"));
        assert!(err.is_err());
        let orphan = DataTree::restore_from_bytes(&tampered(nodes, "/missing/n"));
        assert!(format!("{:?}", orphan.unwrap_err()).contains("before its parent"));
        let repeat = DataTree::restore_from_bytes(&tampered(nodes, "/zookeeper"));
        assert!(format!("{:?}", repeat.unwrap_err()).contains("twice"));
    }
}
