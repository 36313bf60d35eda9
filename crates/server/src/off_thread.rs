//! Work that may hold a thread for seconds, moved off the runtime's thread.
//!
//! With `quorum.ioThreads=0` one thread runs the core and serves every socket. An event that
//! keeps the core busy for seconds (installing a leader's snapshot of a big tree) would also
//! stop that thread's peer links from sending keepalives, and the other servers would drop
//! them after `syncLimit` ticks of silence. Such work runs on a blocking thread instead while
//! the caller waits for it, so the order of events is unchanged.

/// Runs `work` on `state` on a blocking thread while the caller waits, handing `state` back
/// with the result. A panic in the work is resumed here.
pub async fn run<T, R>(mut state: T, work: impl FnOnce(&mut T) -> R + Send + 'static) -> (T, R)
where
    T: Send + 'static,
    R: Send + 'static,
{
    let handled = tokio::task::spawn_blocking(move || {
        let result = work(&mut state);
        (state, result)
    })
    .await;
    match handled {
        Ok(done) => done,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            // Only a runtime shutting down cancels a blocking task; the state went with it.
            Err(e) => panic!("work moved off the runtime thread was lost: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// Ticks a one-thread runtime counts during 300 ms of work, moved off it by `run` when
    /// `long`, else done in place.
    fn ticks_during_work(long: bool) -> u64 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let ticks = Arc::new(AtomicU64::new(0));
            let counter = ticks.clone();
            let ticker = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            });
            tokio::task::yield_now().await;
            let before = ticks.load(Ordering::Relaxed);
            let work = |n: &mut u64| {
                std::thread::sleep(Duration::from_millis(300));
                *n * 2
            };
            let (state, doubled) = match long {
                true => super::run(21u64, work).await,
                false => (21, work(&mut 21)),
            };
            assert_eq!((state, doubled), (21, 42));
            let during = ticks.load(Ordering::Relaxed) - before;
            ticker.abort();
            during
        })
    }

    #[test]
    fn long_work_leaves_the_runtime_thread_serving_its_tasks() {
        let during = ticks_during_work(true);
        assert!(during >= 10, "only {during} ticks of 10 ms in 300 ms");
    }

    #[test]
    fn short_work_runs_in_place_and_holds_the_thread() {
        // The check above can fail: work run in place holds the one thread throughout.
        assert_eq!(ticks_during_work(false), 0);
    }

    #[test]
    fn a_panic_in_long_work_reaches_the_caller() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(super::run((), |_| panic!("broken work")))
        }));
        assert!(caught.is_err());
    }
}
