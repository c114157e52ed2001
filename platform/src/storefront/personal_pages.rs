//! Pages rendered for one shopper (their cart page), kept for that shopper's next look.
//!
//! Nearly every such page is new: a shopper looks at their cart after changing it. Storing
//! one must therefore cost next to nothing, and a flood of them must not push the public
//! pages out of the page cache. So they live apart, in a fixed array of slots, each key
//! hashing to one slot (direct-mapped, like a CPU cache): storing is a hash and a short
//! lock, and a page pushes out whatever held its slot. A key names everything the page
//! shows (see [`super::page_cache::stamp`]), so a page is either exactly right or never
//! looked up again; a timer bounds what no key names, and the bytes held are capped.

use std::hash::BuildHasher as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;

/// What a slot costs beyond its key and body.
const SLOT_OVERHEAD: usize = 64;
/// The page size slots are counted for: a cart page of a few lines and the frame.
const TYPICAL_PAGE_BYTES: usize = 8 * 1024;

/// Pages kept for one shopper's next look (see the module's documentation).
pub struct PersonalPages {
    slots: Box<[Mutex<Option<Slot>>]>,
    /// Bytes held at most: keys, bodies and overhead.
    budget: usize,
    held: AtomicUsize,
    ttl: Duration,
    hasher: std::hash::RandomState,
}

struct Slot {
    key: String,
    body: Bytes,
    stored: Instant,
}

impl Slot {
    fn weight(&self) -> usize {
        weight(&self.key, &self.body)
    }
}

fn weight(key: &str, body: &Bytes) -> usize {
    key.len() + body.len() + SLOT_OVERHEAD
}

impl PersonalPages {
    /// Room for `budget` bytes of pages, each served for at most `ttl`.
    pub fn new(budget: usize, ttl: Duration) -> Self {
        let count = (budget / TYPICAL_PAGE_BYTES).max(16);
        Self {
            slots: (0..count).map(|_| Mutex::new(None)).collect(),
            budget,
            held: AtomicUsize::new(0),
            ttl,
            hasher: std::hash::RandomState::new(),
        }
    }

    fn slot(&self, key: &str) -> MutexGuard<'_, Option<Slot>> {
        let i = (self.hasher.hash_one(key) % self.slots.len() as u64) as usize;
        self.slots[i].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The body kept under `key`, if it is there and not older than the time limit.
    pub fn get(&self, key: &str) -> Option<Bytes> {
        let mut slot = self.slot(key);
        let page = slot.as_ref().filter(|page| page.key == key)?;
        if page.stored.elapsed() < self.ttl {
            return Some(page.body.clone());
        }
        let stale = slot.take()?;
        self.held.fetch_sub(stale.weight(), Ordering::AcqRel);
        None
    }

    /// Keeps `body` under `key`, in place of whatever held its slot; nothing is kept when
    /// it would take the bytes held over the budget.
    pub fn insert(&self, key: String, body: Bytes) {
        let new = weight(&key, &body);
        let mut slot = self.slot(&key);
        if let Some(old) = slot.take() {
            self.held.fetch_sub(old.weight(), Ordering::AcqRel);
        }
        let budget = self.budget;
        let fits = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held + new <= budget).then_some(held + new)
            })
            .is_ok();
        if fits {
            *slot = Some(Slot {
                key,
                body,
                stored: Instant::now(),
            });
        }
    }

    /// Forgets every page.
    pub fn clear(&self) {
        for slot in &self.slots {
            let old = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(old) = old {
                self.held.fetch_sub(old.weight(), Ordering::AcqRel);
            }
        }
    }

    /// Pages kept now (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.lock().unwrap_or_else(PoisonError::into_inner).is_some())
            .count()
    }

    /// Bytes held now.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(text: &str) -> Bytes {
        Bytes::from(text.to_owned())
    }

    #[test]
    fn a_kept_page_is_found_under_its_own_key_only() {
        let pages = PersonalPages::new(1 << 20, Duration::from_secs(60));
        pages.insert("store 1 cart abc".into(), page("<p>two mugs</p>"));
        assert_eq!(pages.get("store 1 cart abc"), Some(page("<p>two mugs</p>")));
        assert_eq!(pages.get("store 1 cart abd"), None);
        assert_eq!(pages.get("store 2 cart abc"), None);
        assert_eq!(pages.len(), 1);
    }

    #[test]
    fn a_page_pushes_out_what_held_its_slot_and_the_bytes_follow() {
        let pages = PersonalPages::new(16 * TYPICAL_PAGE_BYTES, Duration::from_secs(60));
        assert_eq!(pages.slots.len(), 16);
        // Far more pages than slots: each slot holds the last page hashed to it.
        for i in 0..1000 {
            pages.insert(format!("cart {i}"), page(&format!("page {i}")));
        }
        let kept = pages.len();
        assert!(kept <= 16 && kept > 0, "{kept}");
        let found = (0..1000)
            .filter(|i| pages.get(&format!("cart {i}")).is_some())
            .count();
        assert_eq!(found, kept, "every kept page is found under its key");
        let expected: usize = (0..1000)
            .filter(|i| pages.get(&format!("cart {i}")).is_some())
            .map(|i| weight(&format!("cart {i}"), &page(&format!("page {i}"))))
            .sum();
        assert_eq!(pages.held(), expected);
        pages.clear();
        assert_eq!((pages.len(), pages.held()), (0, 0));
    }

    #[test]
    fn nothing_is_kept_beyond_the_budget() {
        let pages = PersonalPages::new(16 * 1024, Duration::from_secs(60));
        let big = Bytes::from(vec![b'x'; 10 * 1024]);
        for i in 0..50 {
            pages.insert(format!("cart {i}"), big.clone());
        }
        assert!(pages.held() <= 16 * 1024, "{}", pages.held());
        assert_eq!(pages.len(), 1, "one 10 KB page fits in 16 KB, two do not");
        pages.insert("huge".into(), Bytes::from(vec![b'x'; 64 * 1024]));
        assert_eq!(pages.get("huge"), None);
    }

    #[test]
    fn a_page_older_than_the_time_limit_is_not_served() {
        let pages = PersonalPages::new(1 << 20, Duration::ZERO);
        pages.insert("cart".into(), page("old"));
        assert_eq!(pages.get("cart"), None);
        assert_eq!((pages.len(), pages.held()), (0, 0), "and is let go");
    }
}
