//! Prep (leader only): turn a client write into a deterministic [`Txn`], following
//! ZooKeeper's `PrepRequestProcessor` check by check and in its order, so the same request
//! fails with the same code as on ZooKeeper.
//!
//! Prep reads the tree through the [`Outstanding`] records of txns prepped but not yet
//! applied, and records the effects of the txn it makes, so requests can be pipelined. A
//! failed request is `Err(code)`: the server turns it into [`Txn::Error`] (ZooKeeper gives a
//! failed write a zxid too) or answers at once; nothing is recorded. A failed multi is not an
//! `Err`: it is a [`Txn::Multi`] whose ops are errors, because ZooKeeper answers it with
//! per-op results.

use std::collections::BTreeSet;
use zxid::Zxid;

use bytes::Bytes;
use proto::{perms, Acl, CreateMode, ErrorCode, Id, MultiOp, Request};

use crate::acl::{check_acl, fixup_acl};
use crate::acl_cache::SharedAcl;
use crate::node::{NodeKind, MAX_TTL_MS};
use crate::outstanding::{Outstanding, PendingNode, PendingSession};
use crate::path;
use crate::sessions::PendingEphemeral;
use crate::stat::check_and_inc_version;
use crate::tree::DataTree;
use crate::txn::{CreateTxn, Txn};
use crate::FastMap;

/// Who is asking and under which settings.
#[derive(Debug, Clone, Copy)]
pub struct PrepCtx<'a> {
    /// The zxid the txn will get; records made by prep carry it so that
    /// [`Outstanding::applied`] can drop them once the tree has caught up.
    pub zxid: Zxid,
    /// The requesting session (owner of ephemerals it creates).
    pub session_id: i64,
    /// The connection's ids: `ip:<addr>`, `digest:user:hash` after auth, `super:` for the
    /// super user (see [`crate::acl`]).
    pub auth: &'a [Id],
    /// ZooKeeper's `zookeeper.extendedTypesEnabled`: TTL nodes allowed.
    pub extended_types: bool,
    /// ZooKeeper's `zookeeper.skipACL`.
    pub skip_acl: bool,
    /// The session is a local one of the server that sent the request (`localSessionsEnabled`):
    /// the tree does not know it, and it may not own ephemeral nodes (it is upgraded to a
    /// global session before its first ephemeral create).
    pub local_session: bool,
}

/// Does this request change state (go through prep and Zab)? Everything else is answered
/// locally by the server that holds the connection.
pub fn is_write(request: &Request) -> bool {
    matches!(
        request,
        Request::Create(_)
            | Request::Create2(_)
            | Request::CreateContainer(_)
            | Request::CreateTtl(_)
            | Request::Delete(_)
            | Request::SetData(_)
            | Request::SetAcl(_)
            | Request::Check(_)
            | Request::Multi(_)
            | Request::CloseSession
            | Request::Reconfig(_)
    )
}

/// Preps a client write. Reads are `Err(Unimplemented)`: they have no txn.
pub fn prep(
    tree: &DataTree,
    outstanding: &mut Outstanding,
    request: &Request,
    ctx: &PrepCtx,
) -> Result<Txn, ErrorCode> {
    if let Request::CloseSession = request {
        return Ok(prep_close_session(
            tree,
            outstanding,
            ctx.session_id,
            ctx.zxid,
        ));
    }
    let mut view = View::new(tree, outstanding);
    let txn = match request {
        Request::Multi(ops) => view.multi(ops, ctx),
        // The server preps reconfig: it needs the ensemble, which the tree does not know.
        Request::Reconfig(_) => Err(ErrorCode::Unimplemented),
        other => view.single(other, ctx),
    }?;
    view.into_changes().commit(outstanding, ctx.zxid);
    Ok(txn)
}

/// Whether the session may write: open (or opening), not closing or gone — the check every
/// prep makes first, for the writes the server preps itself (reconfig).
pub fn check_session(
    tree: &DataTree,
    outstanding: &mut Outstanding,
    ctx: &PrepCtx,
) -> Result<(), ErrorCode> {
    View::new(tree, outstanding).check_session(ctx)
}

/// A new session (the server assigns the id and negotiates the timeout). Writes from the
/// session may be prepped as soon as this returns.
pub fn prep_create_session(
    outstanding: &mut Outstanding,
    session_id: i64,
    timeout_ms: i32,
    zxid: Zxid,
) -> Txn {
    outstanding.put_session(zxid, session_id, PendingSession::Open);
    Txn::CreateSession {
        session_id,
        timeout_ms,
    }
}

/// Ends a session (client closeSession or leader expiry). Lists the session's ephemerals as
/// they will be once pending txns apply, so later preps see them gone; the session is
/// "closing" from now on and its further writes fail with SessionExpired.
pub fn prep_close_session(
    tree: &DataTree,
    outstanding: &mut Outstanding,
    session_id: i64,
    zxid: Zxid,
) -> Txn {
    let mut paths: BTreeSet<String> = tree.ephemerals(session_id).into_iter().collect();
    // ZooKeeper walks every pending change in order: a delete removes the path, a node of
    // this session adds it, any other node leaves it be (another owner's node is only there
    // after a pending delete). Not only each path's last record: the order of the walk is the
    // order of the list, and so of the deletes and their watches.
    let mut pending = Vec::new();
    for (p, kind) in outstanding.changes() {
        match kind {
            None => {
                paths.remove(p);
                pending.push(PendingEphemeral::Removed(p));
            }
            Some(NodeKind::Ephemeral(owner)) if owner == session_id => {
                paths.insert(p.to_string());
                pending.push(PendingEphemeral::Added(p));
            }
            Some(_) => {}
        }
    }
    // The list's order, computed before prep's own deletes below are recorded.
    let ordered = tree
        .sessions()
        .ephemerals_in_zookeeper_order(session_id, &pending);
    debug_assert_eq!(ordered.iter().cloned().collect::<BTreeSet<_>>(), paths);
    let mut view = View::new(tree, outstanding);
    for p in &paths {
        if let Some(parent) = path::parent_for_prep(p) {
            if let Some(mut rec) = view.get(parent) {
                rec.child_count -= 1;
                view.put(parent, Some(rec));
            }
        }
        view.put(p, None);
    }
    view.into_changes().commit(outstanding, zxid);
    outstanding.put_session(zxid, session_id, PendingSession::Closing);
    // The order matters to clients: apply deletes in it, so watches fire in it.
    Txn::CloseSession {
        session_id,
        paths: ordered,
    }
}

/// The leader's removal of a container or TTL node found by
/// [`DataTree::container_candidates`] / [`DataTree::expired_ttl_nodes`] (ZooKeeper's
/// deleteContainer). Fails with NotEmpty if a child arrived meanwhile; the leader then drops
/// it. Regular nodes are refused with BadVersion, as ZooKeeper refuses ephemerals.
pub fn prep_delete_container(
    tree: &DataTree,
    outstanding: &mut Outstanding,
    path: &str,
    zxid: Zxid,
) -> Result<Txn, ErrorCode> {
    let mut view = View::new(tree, outstanding);
    let parent = parent_for_delete(path)?;
    let node = view.get(path).ok_or(ErrorCode::NoNode)?;
    if node.child_count > 0 {
        return Err(ErrorCode::NotEmpty);
    }
    if !matches!(node.kind, NodeKind::Container | NodeKind::Ttl(_)) {
        return Err(ErrorCode::BadVersion);
    }
    let mut prec = view.get(parent).ok_or(ErrorCode::NoNode)?;
    prec.child_count -= 1;
    view.put(parent, Some(prec));
    view.put(path, None);
    view.into_changes().commit(outstanding, zxid);
    Ok(Txn::DeleteContainer {
        path: path.to_string(),
    })
}

/// ZooKeeper's `getParentPathAndValidate` for deletes: only the last `/`, NUL and the
/// special nodes are checked (a delete does not run the full path validation).
fn parent_for_delete(path: &str) -> Result<&str, ErrorCode> {
    if path.contains('\0') || path::is_special(path) {
        return Err(ErrorCode::BadArguments);
    }
    path::parent_for_prep(path).ok_or(ErrorCode::BadArguments)
}

fn validate(path: &str) -> Result<(), ErrorCode> {
    path::validate_path(path).map_err(|_| ErrorCode::BadArguments)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CreateOp {
    Create,
    Create2,
    Container,
    Ttl,
}

/// A request's changes: each changed path's final record, and every change in order.
struct Changes {
    latest: Vec<(String, Option<PendingNode>)>,
    each: Vec<(String, Option<NodeKind>)>,
}

impl Changes {
    fn commit(self, out: &mut Outstanding, zxid: Zxid) {
        out.put(zxid, self.latest, self.each);
    }
}

/// The tree as prep sees it: this request's own changes over the outstanding records over
/// the tree. A request's changes are kept apart until it succeeds, so a failed multi leaves
/// no trace (ZooKeeper rolls its records back instead).
struct View<'a> {
    tree: &'a DataTree,
    out: &'a Outstanding,
    local: FastMap<String, Option<PendingNode>>,
    /// Every change, as what it made the path, in order (ZooKeeper's one record per op).
    each: Vec<(String, Option<NodeKind>)>,
}

impl<'a> View<'a> {
    fn new(tree: &'a DataTree, out: &'a Outstanding) -> Self {
        View {
            tree,
            out,
            local: FastMap::default(),
            each: Vec::new(),
        }
    }

    fn get(&self, path: &str) -> Option<PendingNode> {
        if let Some(v) = self.local.get(path) {
            return v.clone();
        }
        if let Some(v) = self.out.get(path) {
            return v.clone();
        }
        PendingNode::from_tree(self.tree, path)
    }

    fn put(&mut self, path: &str, value: Option<PendingNode>) {
        self.each
            .push((path.to_string(), value.as_ref().map(|n| n.kind)));
        self.local.insert(path.to_string(), value);
    }

    /// This request's changes, in the order they were made, to record once it succeeded.
    fn into_changes(self) -> Changes {
        let View {
            mut local, each, ..
        } = self;
        // Each path's final record, in the order of its first change.
        let latest = each
            .iter()
            .filter_map(|(p, _)| local.remove_entry(p))
            .collect();
        Changes { latest, each }
    }

    /// ZooKeeper's `checkSession`: the session must be open and not closing.
    fn check_session(&self, ctx: &PrepCtx) -> Result<(), ErrorCode> {
        match self.out.session(ctx.session_id) {
            Some(PendingSession::Open) => Ok(()),
            Some(PendingSession::Closing) => Err(ErrorCode::SessionExpired),
            None if ctx.local_session || self.tree.sessions().contains(ctx.session_id) => Ok(()),
            None => Err(ErrorCode::SessionExpired),
        }
    }

    fn single(&mut self, request: &Request, ctx: &PrepCtx) -> Result<Txn, ErrorCode> {
        match request {
            Request::Create(r) => self.create_without_ttl(ctx, CreateOp::Create, r),
            Request::Create2(r) => self.create_without_ttl(ctx, CreateOp::Create2, r),
            Request::CreateContainer(r) => self.create_without_ttl(ctx, CreateOp::Container, r),
            Request::CreateTtl(r) => {
                self.create(ctx, CreateOp::Ttl, &r.path, &r.data, &r.acl, r.flags, r.ttl)
            }
            Request::Delete(r) => self.delete(ctx, &r.path, r.version),
            Request::SetData(r) => self.set_data(ctx, &r.path, &r.data, r.version),
            Request::SetAcl(r) => self.set_acl(ctx, &r.path, &r.acl, r.version),
            Request::Check(r) => self.check(ctx, &r.path, r.version),
            _ => Err(ErrorCode::Unimplemented),
        }
    }

    fn op(&mut self, op: &MultiOp, ctx: &PrepCtx) -> Result<Txn, ErrorCode> {
        match op {
            MultiOp::Create(r) => self.create_without_ttl(ctx, CreateOp::Create, r),
            MultiOp::Create2(r) => self.create_without_ttl(ctx, CreateOp::Create2, r),
            MultiOp::CreateContainer(r) => self.create_without_ttl(ctx, CreateOp::Container, r),
            MultiOp::CreateTtl(r) => {
                self.create(ctx, CreateOp::Ttl, &r.path, &r.data, &r.acl, r.flags, r.ttl)
            }
            MultiOp::Delete(r) => self.delete(ctx, &r.path, r.version),
            MultiOp::SetData(r) => self.set_data(ctx, &r.path, &r.data, r.version),
            MultiOp::Check(r) => self.check(ctx, &r.path, r.version),
            MultiOp::GetChildren(_) | MultiOp::GetData(_) => Err(ErrorCode::Unimplemented),
        }
    }

    /// ZooKeeper's multi: ops are prepped in order, each seeing the ones before it. At the
    /// first failure the rest are not tried; the txn then holds Ok for the ops before (rolled
    /// back), the code for the failing op and RuntimeInconsistency for the ops after, and no
    /// change is recorded.
    fn multi(&mut self, ops: &[MultiOp], ctx: &PrepCtx) -> Result<Txn, ErrorCode> {
        let mut txns = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            match self.op(op, ctx) {
                Ok(t) => txns.push(t),
                Err(code) => {
                    self.local.clear();
                    self.each.clear();
                    let errs = (0..ops.len()).map(|j| {
                        Txn::Error(match j.cmp(&i) {
                            std::cmp::Ordering::Less => ErrorCode::Ok,
                            std::cmp::Ordering::Equal => code,
                            std::cmp::Ordering::Greater => ErrorCode::RuntimeInconsistency,
                        })
                    });
                    return Ok(Txn::Multi(errs.collect()));
                }
            }
        }
        Ok(Txn::Multi(txns))
    }

    /// create, create2 and createContainer: a create with no TTL.
    fn create_without_ttl(
        &mut self,
        ctx: &PrepCtx,
        op: CreateOp,
        r: &proto::CreateRequest,
    ) -> Result<Txn, ErrorCode> {
        self.create(ctx, op, &r.path, &r.data, &r.acl, r.flags, -1)
    }

    #[allow(clippy::too_many_arguments)]
    fn create(
        &mut self,
        ctx: &PrepCtx,
        op: CreateOp,
        path: &str,
        data: &Option<Bytes>,
        acl: &[Acl],
        flags: i32,
        ttl: i64,
    ) -> Result<Txn, ErrorCode> {
        let mode = CreateMode::try_from(flags).map_err(|_| ErrorCode::BadArguments)?;
        if mode.is_ttl() && !ctx.extended_types {
            return Err(ErrorCode::Unimplemented);
        }
        let ttl_ok = if mode.is_ttl() {
            ttl > 0 && ttl <= MAX_TTL_MS
        } else {
            // ZooKeeper accepts a negative TTL with a non-TTL mode even on createTTL, then
            // fails at apply; Quorum refuses a createTTL without a TTL mode up front.
            ttl < 0 && op != CreateOp::Ttl
        };
        if !ttl_ok {
            return Err(ErrorCode::BadArguments);
        }
        self.check_session(ctx)?;
        if mode.is_ephemeral() && ctx.local_session {
            // The server holding a local session upgrades it before an ephemeral create, or
            // refuses the create itself (EPHEMERALONLOCALSESSION); what still reaches prep is
            // a multi without upgrading, which ZooKeeper's leader fails here as expired.
            return Err(ErrorCode::SessionExpired);
        }
        if path.contains('\0') {
            return Err(ErrorCode::BadArguments);
        }
        let parent = path::parent_for_prep(path).ok_or(ErrorCode::BadArguments)?;
        let acl = fixup_acl(acl, ctx.auth)?;
        let mut prec = self.get(parent).ok_or(ErrorCode::NoNode)?;
        check_acl(&prec.acl, perms::CREATE, ctx.auth, ctx.skip_acl)?;
        let path = if mode.is_sequential() {
            format!("{path}{:010}", prec.cversion)
        } else {
            path.to_string()
        };
        validate(&path)?;
        if self.get(&path).is_some() {
            return Err(ErrorCode::NodeExists);
        }
        if matches!(prec.kind, NodeKind::Ephemeral(_)) {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        let parent_cversion = prec.cversion.wrapping_add(1);
        // The opcode decides containers and TTLs; for create/create2 only the ephemeral bit
        // of the mode counts (ZooKeeper's CreateTxn carries just that), so a CONTAINER flag on
        // a plain create makes a persistent node, as on ZooKeeper.
        let kind = match op {
            CreateOp::Container => NodeKind::Container,
            CreateOp::Ttl => NodeKind::Ttl(ttl),
            _ if mode.is_ephemeral() => NodeKind::Ephemeral(ctx.session_id),
            _ => NodeKind::Persistent,
        };
        prec.cversion = parent_cversion;
        prec.child_count += 1;
        self.put(parent, Some(prec));
        self.put(
            &path,
            Some(PendingNode {
                version: 0,
                cversion: 0,
                aversion: 0,
                child_count: 0,
                acl: SharedAcl::from(acl.clone()),
                kind,
            }),
        );
        Ok(Txn::Create(CreateTxn {
            path,
            data: data.clone(),
            acl,
            kind,
            parent_cversion,
            with_stat: op != CreateOp::Create,
        }))
    }

    fn delete(&mut self, ctx: &PrepCtx, path: &str, version: i32) -> Result<Txn, ErrorCode> {
        self.check_session(ctx)?;
        let parent = parent_for_delete(path)?;
        let mut prec = self.get(parent).ok_or(ErrorCode::NoNode)?;
        check_acl(&prec.acl, perms::DELETE, ctx.auth, ctx.skip_acl)?;
        let node = self.get(path).ok_or(ErrorCode::NoNode)?;
        check_and_inc_version(node.version, version)?;
        if node.child_count > 0 {
            return Err(ErrorCode::NotEmpty);
        }
        prec.child_count -= 1;
        self.put(parent, Some(prec));
        self.put(path, None);
        Ok(Txn::Delete {
            path: path.to_string(),
        })
    }

    fn set_data(
        &mut self,
        ctx: &PrepCtx,
        path: &str,
        data: &Option<Bytes>,
        version: i32,
    ) -> Result<Txn, ErrorCode> {
        self.check_session(ctx)?;
        validate(path)?;
        let mut node = self.get(path).ok_or(ErrorCode::NoNode)?;
        check_acl(&node.acl, perms::WRITE, ctx.auth, ctx.skip_acl)?;
        if path == path::CONFIG {
            // Only reconfig changes the configuration: servers restart from this node's text.
            // (ZooKeeper lets the super user overwrite it, which changes nothing there.)
            return Err(ErrorCode::BadArguments);
        }
        let version = check_and_inc_version(node.version, version)?;
        node.version = version;
        self.put(path, Some(node));
        Ok(Txn::SetData {
            path: path.to_string(),
            data: data.clone(),
            version,
        })
    }

    fn set_acl(
        &mut self,
        ctx: &PrepCtx,
        path: &str,
        acl: &[Acl],
        version: i32,
    ) -> Result<Txn, ErrorCode> {
        self.check_session(ctx)?;
        validate(path)?;
        let acl = fixup_acl(acl, ctx.auth)?;
        let mut node = self.get(path).ok_or(ErrorCode::NoNode)?;
        check_acl(&node.acl, perms::ADMIN, ctx.auth, ctx.skip_acl)?;
        let aversion = check_and_inc_version(node.aversion, version)?;
        node.aversion = aversion;
        // Later preps must be authorised against the new ACL (ZooKeeper publishes it on the
        // change record for the same reason).
        node.acl = SharedAcl::from(acl.clone());
        self.put(path, Some(node));
        Ok(Txn::SetAcl {
            path: path.to_string(),
            acl,
            aversion,
        })
    }

    fn check(&mut self, ctx: &PrepCtx, path: &str, version: i32) -> Result<Txn, ErrorCode> {
        self.check_session(ctx)?;
        validate(path)?;
        let node = self.get(path).ok_or(ErrorCode::NoNode)?;
        check_acl(&node.acl, perms::READ, ctx.auth, ctx.skip_acl)?;
        let version = check_and_inc_version(node.version, version)?;
        Ok(Txn::Check {
            path: path.to_string(),
            version,
        })
    }
}
