//! Receiving a message without paying for a sleep every time.
//!
//! Every message in replikv is a hand-off from one thread to another through
//! a crossbeam channel. When the receiver is asleep, the sender pays for a
//! futex wake and the receiver for a context switch. On the 2-core virtual
//! machine this crate is measured on, that costs 15–20 µs each way, while a
//! put's handler runs in a few µs. `benches/eventual.rs` shows it side by
//! side: `bare_sled_insert_on_another_thread`, a real ~1 µs sled insert done
//! by a thread that is still awake, takes 1.6 µs there and back; a
//! single-copy put took 34 µs while both ends slept between messages.
//!
//! The next message usually comes within microseconds: the answer to a
//! request just sent, the next request of a client in a loop, a replica's
//! acknowledgement. So a receiver first polls for [`SPIN_WINDOW`] and only
//! then sleeps. `select!`, which a node waits in, parks at once. The window
//! is bounded, so an idle cluster still sleeps and costs no CPU. This is the
//! same trade as the adaptive mutexes of glibc and parking_lot: spend a
//! little CPU waiting to save an expensive trip through the kernel.
//!
//! # Yield, do not spin
//!
//! Between two looks at its inbox a poller gives its core away
//! ([`std::thread::yield_now`]) instead of spinning on it. A cluster has more
//! threads than most machines have cores — three nodes and a client already
//! outnumber the two cores here — so the thread a poller waits for usually
//! needs the very core the poller would spin on. Spinning first, as
//! crossbeam's `Backoff::snooze` does (127 `pause` instructions before its
//! first yield), held the core for microseconds each time a thread started
//! waiting. Yielding at once cut most blocking figures of
//! `benches/eventual.rs` by a third to a half on this machine (two runs of
//! each build, interleaved): a single-copy put went from 8.0–11.2 µs to
//! 4.9, an eventual (1,1) put from 14.4–19.0 µs to 9.1–9.2, a (1,1) get from
//! 7.7–9.0 µs to 3.8–5.1, and eight clients' single-copy puts from 4.7–5.3 µs
//! each to 2.6–2.8. On a machine with idle cores a yield returns at once
//! (there is no one to give the core to), so a poller there still sees its
//! message within a system call's time.

use crossbeam_channel::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

/// How long a receiver polls before it sleeps. Longer than a wake-up on a
/// busy virtual machine, short enough that an idle node costs nothing
/// measurable. Tuned by hand on 3 nodes, 2 cores, when pollers still spun
/// before yielding (one client, 100,000 single-copy puts): a window of 10 µs
/// gave 15 µs per put, 20 µs gave 11.4, 50 µs gave 9.2, and 100 µs gave 12.6,
/// because the spinning threads then crowded out the ones with work. With
/// yielding pollers, 50, 100 and 200 µs measure the same within noise, so
/// the shortest stays.
pub(crate) const SPIN_WINDOW: Duration = Duration::from_micros(50);

/// Polls `inbox` for up to [`SPIN_WINDOW`]. Returns `None` when the window
/// ends, when `give_up(now)` says so, or when the channel is disconnected.
/// The caller then blocks as usual, and learns of the disconnection there.
pub(crate) fn poll_briefly<T>(
    inbox: &Receiver<T>,
    give_up: impl FnMut(Instant) -> bool,
) -> Option<T> {
    poll_for(inbox, SPIN_WINDOW, give_up)
}

/// [`poll_briefly`] with any window; the tests use long ones, so that a
/// test thread preempted for longer than [`SPIN_WINDOW`] cannot fail them.
fn poll_for<T>(
    inbox: &Receiver<T>,
    window: Duration,
    mut give_up: impl FnMut(Instant) -> bool,
) -> Option<T> {
    let until = Instant::now() + window;
    loop {
        match inbox.try_recv() {
            Ok(message) => return Some(message),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => {}
        }
        let now = Instant::now();
        if now >= until || give_up(now) {
            return None;
        }
        // Give the core to a thread with work; see "Yield, do not spin".
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A window no test should ever wait out.
    const LONG: Duration = Duration::from_secs(60);

    #[test]
    fn returns_a_message_that_is_already_waiting() {
        let (tx, rx) = crossbeam_channel::unbounded();
        tx.send(7).ok();
        assert_eq!(poll_briefly(&rx, |_| false), Some(7));
    }

    #[test]
    fn receives_a_message_sent_while_polling() {
        let (tx, rx) = crossbeam_channel::unbounded();
        // The message is sent from inside the poll, after its first look
        // found the inbox empty: the same call must still return it.
        let mut looks = 0;
        let got = poll_for(&rx, LONG, |_| {
            looks += 1;
            if looks == 1 {
                tx.send(42).ok();
            }
            false
        });
        assert_eq!(got, Some(42));
        assert_eq!(looks, 1, "the message must be found on the next look");
    }

    #[test]
    fn gives_up_when_told_to_without_waiting_out_the_window() {
        let (_tx, rx) = crossbeam_channel::unbounded::<u8>();
        let mut asked = 0;
        let got = poll_for(&rx, LONG, |_| {
            asked += 1;
            true
        });
        assert_eq!(got, None);
        assert_eq!(asked, 1, "the first empty poll must ask and stop");
    }

    #[test]
    fn ends_after_the_window_when_nothing_comes() {
        let (_tx, rx) = crossbeam_channel::unbounded::<u8>();
        let started = Instant::now();
        assert_eq!(poll_briefly(&rx, |_| false), None);
        assert!(started.elapsed() >= SPIN_WINDOW);
    }

    #[test]
    fn a_disconnected_channel_ends_the_poll_at_once() {
        let (tx, rx) = crossbeam_channel::unbounded::<u8>();
        drop(tx);
        let mut asked = false;
        assert_eq!(
            poll_briefly(&rx, |_| {
                asked = true;
                false
            }),
            None
        );
        assert!(!asked, "a disconnection is not a reason to keep polling");
    }
}
