use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;

/// The structure's own rules: non-empty chunks, names strictly ascending across all of them,
/// offsets that match the bytes, the count right.
fn check(set: &Children) {
    let mut previous: Option<&str> = None;
    let mut count = 0;
    assert_eq!(set.chunks.len(), set.firsts.len());
    for (chunk, first) in set.chunks.iter().zip(&set.firsts) {
        assert!(chunk.len() > 0, "an empty chunk");
        assert_eq!(
            chunk.name(0),
            &*first.name,
            "a chunk's first name kept apart"
        );
        assert_eq!(
            lead(&first.name),
            first.lead,
            "the lead of {:?}",
            first.name
        );
        assert_eq!(
            chunk.ends.last().map(|&e| e as usize),
            Some(chunk.bytes.len())
        );
        for i in 0..chunk.len() {
            let name = chunk.name(i);
            assert!(previous < Some(name), "{previous:?} before {name:?}");
            previous = Some(name);
            count += 1;
        }
    }
    assert_eq!(count, set.len());
}

fn same(set: &Children, model: &BTreeSet<String>) {
    check(set);
    assert!(set.iter().eq(model.iter().map(String::as_str)));
    assert!(set.iter().rev().eq(model.iter().rev().map(String::as_str)));
    assert_eq!(set.iter().len(), model.len());
}

/// Short names most of the time, and now and then one long enough to fill a chunk alone.
fn name() -> impl Strategy<Value = String> {
    let pad = prop_oneof![8 => Just(0usize), 3 => Just(300), 1 => Just(CHUNK_BYTES + 100)];
    ("[a-c]{0,2}[0-9]{0,3}", pad).prop_map(|(base, pad)| format!("{base}{}", "y".repeat(pad)))
}

proptest! {
    #[test]
    fn inserts_and_removes_agree_with_a_sorted_set(
        ops in proptest::collection::vec((any::<bool>(), name()), 1..600)
    ) {
        let mut set = Children::new();
        let mut model = BTreeSet::new();
        for (step, (insert, name)) in ops.iter().enumerate() {
            if *insert {
                prop_assert_eq!(set.insert(name), model.insert(name.clone()));
            } else {
                prop_assert_eq!(set.remove(name), model.remove(name));
            }
            prop_assert_eq!(set.contains(name), model.contains(name));
            if step % 50 == 0 {
                same(&set, &model);
            }
        }
        same(&set, &model);
        for name in model.clone() {
            prop_assert!(set.remove(&name));
        }
        prop_assert!(set.is_empty() && set.chunks.is_empty());
    }

    #[test]
    fn both_ends_of_the_iterator_meet_once(
        names in proptest::collection::btree_set("[a-z]{1,6}", 0..400),
        from_front in proptest::collection::vec(any::<bool>(), 0..400),
    ) {
        let mut set = Children::new();
        for n in &names {
            set.insert(n);
        }
        let (mut iter, mut model) = (set.iter(), names.iter().map(String::as_str));
        for front in from_front {
            if front {
                prop_assert_eq!(iter.next(), model.next());
            } else {
                prop_assert_eq!(iter.next_back(), model.next_back());
            }
            prop_assert_eq!(iter.len(), model.len());
        }
    }
}

/// The load generator's names (`c<session>-<thread>-<n>`, 256 writers interleaved): a set of
/// 100,000 holds them in under 2 × their packed size.
#[test]
fn interleaved_inserts_keep_chunks_at_least_half_full() {
    let mut set = Children::new();
    let mut packed = 0;
    for i in 0..100_000u32 {
        let name = format!("c{}-{}-{}", (i % 256) / 8, i % 8, i / 256 + 1);
        packed += name.len() + 4;
        assert!(set.insert(&name));
    }
    check(&set);
    let held: usize = set
        .chunks
        .iter()
        .map(|c| c.bytes.capacity() + 4 * c.ends.capacity())
        .sum();
    assert!(held < 2 * packed, "{held} bytes for {packed} packed");
}

#[test]
fn appending_in_order_fills_every_chunk_but_the_last() {
    let mut set = Children::new();
    for i in 0..20_000 {
        set.insert(&format!("lock-{i:010}"));
    }
    check(&set);
    let (last, full) = set.chunks.split_last().unwrap();
    assert!(full
        .iter()
        .all(|c| c.bytes.len() + "lock-0000000000".len() > CHUNK_BYTES));
    assert!(last.len() > 0);
}

/// A client that creates one child with a name of nearly a chunk, then children that sort
/// right after it in descending order, must not get a chunk per name.
#[test]
fn names_after_a_long_one_in_descending_order_share_chunks() {
    let mut set = Children::new();
    set.insert(&"a".repeat(CHUNK_BYTES - 6));
    let mut packed = 0;
    for i in (0..10_000).rev() {
        let name = format!("b{i:07}");
        packed += name.len();
        assert!(set.insert(&name));
    }
    check(&set);
    assert!(
        set.chunks.len() <= 2 + 2 * packed / CHUNK_BYTES,
        "{} chunks for {packed} bytes of names",
        set.chunks.len()
    );
}

#[test]
fn deletes_merge_small_chunks() {
    let mut set = Children::new();
    let names: Vec<String> = (0..20_000).map(|i| format!("n{i:06}")).collect();
    for n in &names {
        set.insert(n);
    }
    let before = set.chunks.len();
    for n in names.iter().filter(|n| !n.ends_with('0')) {
        assert!(set.remove(n));
    }
    check(&set);
    assert_eq!(set.len(), 2_000);
    assert!(
        set.chunks.len() * 4 <= before,
        "{} of {before}",
        set.chunks.len()
    );
}

#[test]
fn a_copy_is_unchanged_by_changes_to_the_original() {
    let mut set = Children::new();
    for i in 0..10_000 {
        set.insert(&format!("n{i}"));
    }
    let copy = set.clone();
    let shared = |a: &Children, b: &Children| {
        a.chunks
            .iter()
            .zip(&b.chunks)
            .filter(|(x, y)| Arc::ptr_eq(x, y))
            .count()
    };
    assert_eq!(shared(&set, &copy), set.chunks.len());
    set.insert("n5000a");
    set.remove("n1");
    assert!(copy.contains("n1") && !copy.contains("n5000a"));
    assert_eq!(copy.len(), 10_000);
    assert!(
        shared(&set, &copy) >= set.chunks.len() - 2,
        "only the touched chunks are copied"
    );
    assert_ne!(set, copy);
}

proptest! {
    /// Leads that differ order two names as the names are ordered, shorter names, shared
    /// prefixes and NUL bytes included.
    #[test]
    fn leads_order_names_where_they_differ(a in "[a\\x00b]{0,10}", b in "[a\\x00b]{0,10}") {
        if lead(&a) != lead(&b) {
            prop_assert_eq!(lead(&a).cmp(&lead(&b)), a.as_bytes().cmp(b.as_bytes()));
        }
    }
}
