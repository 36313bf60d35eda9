//! The server-level teeth: every deliberately broken server variant (`ServerBug`, which exists
//! only with the `bugs` feature) is caught by a sweep, by the check it breaks.
#![cfg(feature = "bugs")]

use server_core::bugs::ServerBug;
use sim::server::sweep::sweep;

fn caught(bug: ServerBug) -> String {
    let summary = sweep(3, 0, 400, Some(bug), 2);
    let failed = summary
        .failures
        .first()
        .unwrap_or_else(|| panic!("{} was not caught in 400 seeds", bug.name()));
    let v = failed.violation.as_ref().unwrap();
    format!("{}: {}", v.check, v.detail)
}

#[test]
fn a_read_answered_before_the_write_ahead_of_it_is_caught() {
    let found = caught(ServerBug::ReadBeforeWrite);
    assert!(found.contains("out of order"), "{found}");
}

#[test]
fn a_notification_after_the_reply_that_follows_it_is_caught() {
    let found = caught(ServerBug::NotificationAfterReply);
    assert!(found.contains("before the notification"), "{found}");
}

#[test]
fn a_sync_answered_before_what_it_waits_for_is_applied_is_caught() {
    let found = caught(ServerBug::SyncBeforeApply);
    assert!(
        found.contains("before the notification") || found.contains("linearizable"),
        "{found}"
    );
}

#[test]
fn a_moved_session_that_keeps_writing_is_caught() {
    let found = caught(ServerBug::MovedSessionWrites);
    assert!(found.contains("session had moved"), "{found}");
}

#[test]
fn a_reply_zxid_going_back_is_caught() {
    let found = caught(ServerBug::UnclampedReplyZxid);
    assert!(found.contains("zxid went back"), "{found}");
}

#[test]
fn a_read_only_server_that_acknowledges_a_write_is_caught() {
    let found = caught(ServerBug::ReadOnlyWrites);
    assert!(found.contains("read-only server answered"), "{found}");
}

#[test]
fn a_history_counted_durable_before_its_snapshot_is_saved_is_caught() {
    let found = caught(ServerBug::CompactBeforeSaved);
    assert!(found.starts_with("durable:"), "{found}");
}
