//! Lists of event listeners on a task, and the events kept for listeners
//! that come late.
//!
//! A [`Listeners<T>`] holds the closures registered with one `on_*` method
//! and delivers each event to them in registration order. Listeners run
//! without any lock of the list held, so a listener may add or remove
//! listeners (its own included) from inside its call.
//!
//! An event can be kept for listeners registered after it happened, in one
//! of three ways ([`Keep`]). Kept events are never handed over inside the
//! `add` call: each listener has a backlog, and whoever next delivers on a
//! library thread (`deliver`, or `flush` when `add` says one is due) first
//! empties the backlogs, so a late listener gets its kept events in order
//! and before any newer event.

// Without sockets no task uses the lists yet.
#![cfg_attr(not(feature = "websocket"), allow(dead_code))]

use std::collections::VecDeque;
use std::mem;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::call::contain;
use crate::sync::lock;

/// Identifies one listener registered with an `on_*` method, for the
/// matching `off_*` method. Each registration gets a new id, unique in the
/// process.
///
/// ```
/// let client = wxnet::Client::builder().build().unwrap();
/// // Outside the (empty) domain list: the task is closed at once.
/// let task = client.connect_socket(wxnet::ConnectSocketOptions::new("wss://ws.example.com/"));
/// let a: wxnet::ListenerId = task.on_message(|_| {});
/// let b = task.on_message(|_| {});
/// assert_ne!(a, b);
/// let ids: std::collections::HashSet<_> = [a, b, a].into_iter().collect();
/// assert_eq!(ids.len(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

impl ListenerId {
    fn next() -> ListenerId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ListenerId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// A registered listener.
pub(crate) type Listener<T> = Box<dyn FnMut(&T) + Send + 'static>;

/// What a list keeps for listeners registered after an event.
pub(crate) enum Keep<T> {
    /// Nothing: a late listener only gets later events.
    Nothing,
    /// The last event, given once to every late listener (headers, a
    /// socket's open, error and close events).
    ForEveryLate,
    /// Events that found no listener, in order, given to the first listener
    /// registered (chunks, socket messages). They weigh at most `cap` bytes
    /// by `weight`; one event is kept whatever it weighs.
    ForFirst { cap: usize, weight: fn(&T) -> usize },
    /// The latest event, given to each late listener (progress).
    #[allow(dead_code)] // no task reports progress through a list yet
    Latest,
}

/// What became of a delivered event.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Delivered<T> {
    /// Listeners got it.
    ToListeners,
    /// Nobody listens: it was kept for the first listener.
    Kept,
    /// Nobody listens and the kept events are at their cap: the event is
    /// handed back.
    Full(T),
}

struct Entry<T> {
    id: ListenerId,
    /// `None` while the listener runs.
    f: Option<Listener<T>>,
    backlog: VecDeque<Arc<T>>,
}

struct Inner<T> {
    entries: Vec<Entry<T>>,
    /// The kept event of `ForEveryLate` and `Latest`.
    last: Option<Arc<T>>,
    /// The events kept by `ForFirst`, and their weight.
    queue: VecDeque<T>,
    queued: usize,
}

/// The listeners of one kind of event on one task.
pub(crate) struct Listeners<T> {
    keep: Keep<T>,
    inner: Mutex<Inner<T>>,
    /// One delivery at a time, so every listener sees events in order.
    dispatch: Mutex<()>,
}

impl<T: Send + Sync + 'static> Listeners<T> {
    pub(crate) fn new(keep: Keep<T>) -> Listeners<T> {
        Listeners {
            keep,
            inner: Mutex::new(Inner {
                entries: Vec::new(),
                last: None,
                queue: VecDeque::new(),
                queued: 0,
            }),
            dispatch: Mutex::new(()),
        }
    }

    /// Register `f`; `true` when it has kept events waiting, and the owner
    /// must have a library thread call [`flush`](Listeners::flush) (or
    /// deliver) soon.
    pub(crate) fn add(&self, f: Listener<T>) -> (ListenerId, bool) {
        let id = ListenerId::next();
        (id, self.adopt(id, f))
    }

    /// Register `f` under an id it already has (a listener moved from
    /// another list); `true` as for [`add`](Listeners::add).
    pub(crate) fn adopt(&self, id: ListenerId, f: Listener<T>) -> bool {
        let mut inner = lock(&self.inner);
        let backlog: VecDeque<Arc<T>> = match self.keep {
            Keep::Nothing => VecDeque::new(),
            Keep::ForEveryLate | Keep::Latest => inner.last.iter().cloned().collect(),
            Keep::ForFirst { .. } => {
                inner.queued = 0;
                inner.queue.drain(..).map(Arc::new).collect()
            }
        };
        let due = !backlog.is_empty();
        inner.entries.push(Entry {
            id,
            f: Some(f),
            backlog,
        });
        due
    }

    /// Remove the listener `id`; `false` when there is none. Its kept
    /// events not yet delivered go back to the list for the next listener.
    pub(crate) fn remove(&self, id: ListenerId) -> bool {
        let mut inner = lock(&self.inner);
        let Some(at) = inner.entries.iter().position(|e| e.id == id) else {
            return false;
        };
        let entry = inner.entries.remove(at);
        self.requeue(&mut inner, entry.backlog);
        drop(inner);
        // Dropped without the lock: a listener's captures may do anything.
        drop(entry.f);
        true
    }

    /// Remove the listener `id`, or every one with `None`; whether any
    /// was removed (what every `off_*` method does).
    pub(crate) fn off(&self, id: Option<ListenerId>) -> bool {
        match id {
            Some(id) => self.remove(id),
            None => {
                let had = !self.is_empty();
                self.remove_all();
                had
            }
        }
    }

    /// Remove every listener.
    pub(crate) fn remove_all(&self) {
        drop(self.take_all());
    }

    /// Remove every listener and hand them over with their ids.
    pub(crate) fn take_all(&self) -> Vec<(ListenerId, Listener<T>)> {
        let mut inner = lock(&self.inner);
        let entries = mem::take(&mut inner.entries);
        let mut out = Vec::new();
        for e in entries {
            self.requeue(&mut inner, e.backlog);
            out.extend(e.f.map(|f| (e.id, f)));
        }
        out
    }

    /// Give undelivered `ForFirst` events of a removed listener to the
    /// first listener left, ahead of its own (they are older), or back to
    /// the queue, in front, when none is left.
    fn requeue(&self, inner: &mut Inner<T>, mut backlog: VecDeque<Arc<T>>) {
        let Keep::ForFirst { weight, .. } = self.keep else {
            return;
        };
        if let Some(next) = inner.entries.first_mut() {
            backlog.append(&mut next.backlog);
            next.backlog = backlog;
            return;
        }
        for ev in backlog.into_iter().rev() {
            if let Ok(ev) = Arc::try_unwrap(ev) {
                inner.queued += weight(&ev);
                inner.queue.push_front(ev);
            }
        }
    }

    /// Whether no listener is registered.
    pub(crate) fn is_empty(&self) -> bool {
        lock(&self.inner).entries.is_empty()
    }

    /// Whether an event of `weight` would be handed back as
    /// [`Delivered::Full`] now.
    pub(crate) fn is_full_for(&self, weight: usize) -> bool {
        let inner = lock(&self.inner);
        match self.keep {
            Keep::ForFirst { cap, .. } => {
                inner.entries.is_empty() && !inner.queue.is_empty() && inner.queued + weight > cap
            }
            _ => false,
        }
    }

    /// Take the oldest event kept for the first listener.
    pub(crate) fn pop_kept(&self) -> Option<T> {
        let mut inner = lock(&self.inner);
        let ev = inner.queue.pop_front()?;
        if let Keep::ForFirst { weight, .. } = self.keep {
            inner.queued -= weight(&ev);
        }
        Some(ev)
    }

    /// Deliver `ev`, after any kept events still waiting for a listener.
    /// Runs the listeners on this thread: call it on a library thread.
    #[allow(dead_code)] // sockets keep every message past the cap
    pub(crate) fn deliver(&self, ev: T) -> Delivered<T> {
        self.deliver_capped(ev, true)
    }

    /// As [`deliver`](Listeners::deliver), but an event kept for the first
    /// listener is kept past the cap (the producer is ending).
    pub(crate) fn deliver_past_cap(&self, ev: T) -> Delivered<T> {
        self.deliver_capped(ev, false)
    }

    fn deliver_capped(&self, ev: T, capped: bool) -> Delivered<T> {
        let _one = lock(&self.dispatch);
        let ev = Arc::new(ev);
        let ids: Vec<ListenerId> = {
            let mut inner = lock(&self.inner);
            if inner.entries.is_empty() {
                return self.keep_unheard(&mut inner, ev, capped);
            }
            if matches!(self.keep, Keep::ForEveryLate | Keep::Latest) {
                inner.last = Some(ev.clone());
            }
            inner.entries.iter().map(|e| e.id).collect()
        };
        // After the snapshot: a listener in it that came late (even just
        // now) gets what was kept for it first. One added from here on
        // is not in it, and finds `ev` kept instead.
        self.drain_backlogs();
        for id in ids {
            self.call(id, &ev);
        }
        Delivered::ToListeners
    }

    /// Keep an event nobody listened to, as the list's mode says.
    fn keep_unheard(&self, inner: &mut Inner<T>, ev: Arc<T>, capped: bool) -> Delivered<T> {
        match self.keep {
            Keep::Nothing => {}
            Keep::ForEveryLate | Keep::Latest => inner.last = Some(ev),
            Keep::ForFirst { cap, weight } => {
                // Only this function holds the Arc: it was made above.
                let Ok(ev) = Arc::try_unwrap(ev) else {
                    return Delivered::Kept;
                };
                let w = weight(&ev);
                if capped && !inner.queue.is_empty() && inner.queued + w > cap {
                    return Delivered::Full(ev);
                }
                inner.queued += w;
                inner.queue.push_back(ev);
            }
        }
        Delivered::Kept
    }

    /// Hand every listener its kept events. Runs the listeners on this
    /// thread: call it on a library thread.
    pub(crate) fn flush(&self) {
        let _one = lock(&self.dispatch);
        self.drain_backlogs();
    }

    fn drain_backlogs(&self) {
        loop {
            let next = {
                let mut inner = lock(&self.inner);
                inner.entries.iter_mut().find_map(|e| {
                    e.f.as_ref()?;
                    e.backlog.pop_front().map(|ev| (e.id, ev))
                })
            };
            let Some((id, ev)) = next else {
                return;
            };
            self.call(id, &ev);
        }
    }

    /// Run listener `id` with `ev`, unless it was removed meanwhile.
    fn call(&self, id: ListenerId, ev: &T) {
        let taken = {
            let mut inner = lock(&self.inner);
            inner
                .entries
                .iter_mut()
                .find(|e| e.id == id)
                .and_then(|e| e.f.take())
        };
        let Some(mut f) = taken else {
            return;
        };
        contain(|| f(ev));
        let mut inner = lock(&self.inner);
        if let Some(e) = inner.entries.iter_mut().find(|e| e.id == id) {
            e.f = Some(f);
        } else {
            // Removed during its own call: dropped without the lock.
            drop(inner);
            drop(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    type Log = Arc<Mutex<Vec<String>>>;

    fn logger(log: &Log, name: &'static str) -> Listener<u32> {
        let log = log.clone();
        Box::new(move |v: &u32| lock(&log).push(format!("{name} {v}")))
    }

    fn taken(log: &Log) -> Vec<String> {
        mem::take(&mut *lock(log))
    }

    fn first(cap: usize) -> Listeners<u32> {
        Listeners::new(Keep::ForFirst {
            cap,
            weight: |v| *v as usize,
        })
    }

    #[test]
    fn listeners_get_events_in_order_of_registration() {
        let l = Listeners::new(Keep::Nothing);
        let log = Log::default();
        l.add(logger(&log, "a"));
        l.add(logger(&log, "b"));
        assert_eq!(l.deliver(1), Delivered::ToListeners);
        assert_eq!(l.deliver(2), Delivered::ToListeners);
        assert_eq!(taken(&log), ["a 1", "b 1", "a 2", "b 2"]);
    }

    #[test]
    fn nothing_is_kept_without_a_keep_mode() {
        let l = Listeners::new(Keep::Nothing);
        assert_eq!(l.deliver(1), Delivered::Kept);
        let log = Log::default();
        let (_, due) = l.add(logger(&log, "late"));
        assert!(!due);
        l.flush();
        l.deliver(2);
        assert_eq!(taken(&log), ["late 2"]);
    }

    #[test]
    fn remove_one_and_remove_all() {
        let l = Listeners::new(Keep::Nothing);
        let log = Log::default();
        let (a, _) = l.add(logger(&log, "a"));
        let (b, _) = l.add(logger(&log, "b"));
        assert_ne!(a, b);
        assert!(l.remove(a));
        assert!(!l.remove(a));
        l.deliver(1);
        assert_eq!(taken(&log), ["b 1"]);
        l.add(logger(&log, "c"));
        l.remove_all();
        assert!(l.is_empty());
        l.deliver(2);
        assert!(taken(&log).is_empty());
    }

    #[test]
    fn removing_a_listener_drops_it_at_once() {
        let l = Listeners::<u32>::new(Keep::Nothing);
        let (tx, rx) = mpsc::channel::<()>();
        let (id, _) = l.add(Box::new(move |_| tx.send(()).unwrap()));
        l.remove(id);
        assert!(rx.recv().is_err());
    }

    #[test]
    fn a_kept_event_goes_once_to_every_late_listener_and_not_inside_add() {
        let l = Listeners::new(Keep::ForEveryLate);
        let log = Log::default();
        l.add(logger(&log, "early"));
        l.deliver(7);
        assert_eq!(taken(&log), ["early 7"]);
        let (_, due) = l.add(logger(&log, "late1"));
        assert!(due);
        let (_, due) = l.add(logger(&log, "late2"));
        assert!(due);
        // Nothing ran inside add.
        assert!(taken(&log).is_empty());
        l.flush();
        assert_eq!(taken(&log), ["late1 7", "late2 7"]);
        l.flush();
        assert!(taken(&log).is_empty());
    }

    #[test]
    fn a_kept_event_without_any_listener_still_reaches_every_late_one() {
        let l = Listeners::new(Keep::ForEveryLate);
        assert_eq!(l.deliver(3), Delivered::Kept);
        let log = Log::default();
        l.add(logger(&log, "a"));
        l.add(logger(&log, "b"));
        l.flush();
        assert_eq!(taken(&log), ["a 3", "b 3"]);
    }

    #[test]
    fn a_late_listener_gets_its_kept_event_before_a_newer_one() {
        let l = Listeners::new(Keep::Latest);
        l.deliver(1);
        l.deliver(2);
        let log = Log::default();
        assert!(l.add(logger(&log, "late")).1);
        // No flush: the next delivery drains the backlog first.
        l.deliver(3);
        assert_eq!(taken(&log), ["late 2", "late 3"]);
    }

    #[test]
    fn latest_mode_keeps_only_the_newest_event() {
        let l = Listeners::new(Keep::Latest);
        let log = Log::default();
        l.add(logger(&log, "early"));
        for v in 1..=3 {
            l.deliver(v);
        }
        l.add(logger(&log, "a"));
        l.add(logger(&log, "b"));
        l.flush();
        assert_eq!(taken(&log), ["early 1", "early 2", "early 3", "a 3", "b 3"]);
    }

    #[test]
    fn events_nobody_heard_go_to_the_first_listener_only_in_order() {
        let l = first(100);
        for v in 1..=3 {
            assert_eq!(l.deliver(v), Delivered::Kept);
        }
        let log = Log::default();
        assert!(l.add(logger(&log, "first")).1);
        assert!(!l.add(logger(&log, "second")).1);
        l.deliver(4);
        assert_eq!(
            taken(&log),
            ["first 1", "first 2", "first 3", "first 4", "second 4"]
        );
    }

    #[test]
    fn the_byte_cap_hands_events_back_but_keeps_one_of_any_size() {
        let l = first(10);
        assert_eq!(l.deliver(50), Delivered::Kept);
        assert!(l.is_full_for(1));
        assert_eq!(l.deliver(1), Delivered::Full(1));
        assert_eq!(l.pop_kept(), Some(50));
        assert!(!l.is_full_for(6));
        assert_eq!(l.deliver(6), Delivered::Kept);
        assert_eq!(l.deliver(4), Delivered::Kept);
        assert_eq!(l.deliver(1), Delivered::Full(1));
        assert_eq!(l.deliver_past_cap(1), Delivered::Kept);
        let got: Vec<_> = std::iter::from_fn(|| l.pop_kept()).collect();
        assert_eq!(got, [6, 4, 1]);
        // A listener takes away the cap: nothing is kept any more.
        l.add(Box::new(|_| {}));
        assert!(!l.is_full_for(1000));
        assert_eq!(l.deliver(1000), Delivered::ToListeners);
    }

    #[test]
    fn a_first_listener_removed_before_its_backlog_ran_gives_it_back() {
        let l = first(100);
        l.deliver(1);
        l.deliver(2);
        let log = Log::default();
        let (id, _) = l.add(logger(&log, "gone"));
        l.remove(id);
        l.add(logger(&log, "next"));
        l.flush();
        assert_eq!(taken(&log), ["next 1", "next 2"]);
    }

    #[test]
    fn a_first_listener_removed_with_a_backlog_hands_it_to_the_next_in_order() {
        let l = first(100);
        l.deliver(1);
        l.deliver(2);
        let log = Log::default();
        let (a, _) = l.add(logger(&log, "a"));
        assert!(!l.add(logger(&log, "b")).1);
        l.remove(a);
        // Nothing went back to the queue: a third listener gets none of it.
        assert!(!l.add(logger(&log, "c")).1);
        l.deliver(3);
        assert_eq!(taken(&log), ["b 1", "b 2", "b 3", "c 3"]);
        assert_eq!(l.pop_kept(), None);
    }

    #[test]
    fn a_listener_can_remove_itself_and_others_while_called() {
        let l = Arc::new(Listeners::new(Keep::Nothing));
        let log = Log::default();
        let ids: Arc<Mutex<Vec<ListenerId>>> = Arc::default();
        let (l2, ids2, log2) = (l.clone(), ids.clone(), log.clone());
        let (a, _) = l.add(Box::new(move |v: &u32| {
            lock(&log2).push(format!("a {v}"));
            for id in lock(&ids2).iter() {
                l2.remove(*id);
            }
        }));
        let (b, _) = l.add(logger(&log, "b"));
        lock(&ids).extend([a, b]);
        l.deliver(1);
        l.deliver(2);
        assert_eq!(taken(&log), ["a 1"]);
        assert!(l.is_empty());
    }

    #[test]
    fn a_listener_can_add_listeners_while_called_without_deadlock() {
        let l = Arc::new(Listeners::new(Keep::ForEveryLate));
        let log = Log::default();
        let (l2, log2) = (l.clone(), log.clone());
        let mut added = false;
        l.add(Box::new(move |v: &u32| {
            lock(&log2).push(format!("a {v}"));
            if !added {
                added = true;
                let due = l2.add(logger(&log2, "inner")).1;
                lock(&log2).push(format!("due {due}"));
            }
        }));
        l.deliver(1);
        assert_eq!(taken(&log), ["a 1", "due true"]);
        // The kept event reaches the listener added during the call once,
        // before the next event.
        l.deliver(2);
        assert_eq!(taken(&log), ["inner 1", "a 2", "inner 2"]);
    }

    #[test]
    fn a_panicking_listener_does_not_stop_the_others() {
        let l = Listeners::new(Keep::Nothing);
        let log = Log::default();
        l.add(Box::new(|_: &u32| panic!("listener panics")));
        l.add(logger(&log, "b"));
        l.deliver(1);
        l.deliver(2);
        assert_eq!(taken(&log), ["b 1", "b 2"]);
    }

    #[test]
    fn take_all_and_adopt_move_listeners_with_their_ids() {
        let from = Listeners::new(Keep::Nothing);
        let to = Listeners::new(Keep::ForEveryLate);
        let log = Log::default();
        let (id, _) = from.add(logger(&log, "moved"));
        for (id, f) in from.take_all() {
            assert!(!to.adopt(id, f));
        }
        assert!(from.is_empty());
        to.deliver(5);
        assert!(to.remove(id));
        assert_eq!(taken(&log), ["moved 5"]);
    }

    #[test]
    fn a_flush_from_another_thread_reaches_the_late_listener_there() {
        let l = Arc::new(Listeners::new(Keep::ForEveryLate));
        l.deliver(9);
        let (tx, rx) = mpsc::channel();
        l.add(Box::new(move |v: &u32| {
            tx.send((*v, std::thread::current().id())).unwrap()
        }));
        let l2 = l.clone();
        let flusher = std::thread::spawn(move || l2.flush());
        let flusher_id = flusher.thread().id();
        flusher.join().unwrap();
        let (v, on) = rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        assert_eq!((v, on), (9, flusher_id));
    }
}
