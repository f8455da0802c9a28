//! A table shared between forwarding cores (readers) and one control thread (the writer).
//!
//! Left-right on top of `arc-swap`: the writer keeps two copies. Readers load the published copy
//! (a few nanoseconds, no lock, never waiting for the writer). The writer applies a batch to the
//! spare copy, publishes it with one atomic swap, and keeps the batch to replay on the copy it
//! just retired once the last reader has let go of it. So a reader sees a table before or after a
//! whole batch, never in between, and updates cost two applications and twice the memory.
//!
//! Readers should hold a loaded table for a burst, not longer: the writer's next batch waits for
//! the retired copy to be released.

use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};

use crate::lpm::{Key, Lpm, LpmError, Update};

/// The reading side; clone one per forwarding thread.
#[derive(Clone)]
pub struct FibReader<K: Key> {
    current: Arc<ArcSwap<Lpm<K>>>,
}

impl<K: Key> FibReader<K> {
    /// The published table. Hold it for one burst.
    #[inline]
    pub fn load(&self) -> Guard<Arc<Lpm<K>>> {
        self.current.load()
    }
}

/// The writing side (one per table).
pub struct FibWriter<K: Key> {
    current: Arc<ArcSwap<Lpm<K>>>,
    spare: Arc<Lpm<K>>,
    /// The batch published last and the chunks it recompiled, not yet applied to `spare`.
    pending: Option<(Vec<Update<K>>, Vec<u32>)>,
}

/// Publishes `table` for sharing; returns its writer and a reader to clone.
pub fn share<K: Key>(table: Lpm<K>) -> (FibWriter<K>, FibReader<K>) {
    let spare = Arc::new(table.clone());
    let current = Arc::new(ArcSwap::from_pointee(table));
    (
        FibWriter {
            current: Arc::clone(&current),
            spare,
            pending: None,
        },
        FibReader { current },
    )
}

impl<K: Key> FibWriter<K> {
    /// A new reader of this table.
    pub fn reader(&self) -> FibReader<K> {
        FibReader {
            current: Arc::clone(&self.current),
        }
    }

    /// The published table (for inspection by the control plane).
    pub fn load(&self) -> Guard<Arc<Lpm<K>>> {
        self.current.load()
    }

    /// Applies `batch` atomically: readers see all of it or none of it. On a validation error
    /// nothing is applied or published.
    pub fn apply(&mut self, batch: &[Update<K>]) -> Result<(), LpmError> {
        let pending = self.pending.take();
        let published = self.current.load_full();
        let spare = self.exclusive_spare();
        if let Some((done, dirty)) = pending {
            // Catch up by copying the chunks the published copy compiled, not recompiling.
            spare.apply_from(&done, &published, &dirty)?;
        }
        drop(published);
        let dirty = spare.apply_dirty(batch)?;
        self.publish();
        self.pending = Some((batch.to_vec(), dirty));
        Ok(())
    }

    /// Replaces the whole table atomically (a route reload while forwarding).
    pub fn replace(&mut self, table: Lpm<K>) {
        self.pending = None;
        self.spare = Arc::new(table.clone());
        let old = self.current.swap(Arc::new(table));
        drop(old);
    }

    /// Waits until no reader holds the spare copy, then lends it out for editing.
    fn exclusive_spare(&mut self) -> &mut Lpm<K> {
        let mut spins = 0u32;
        while Arc::strong_count(&self.spare) > 1 {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        // Exclusive now (readers only reach `current`, so the count cannot rise again), so this
        // never clones.
        Arc::make_mut(&mut self.spare)
    }

    fn publish(&mut self) {
        let fresh = Arc::clone(&self.spare);
        // `swap` settles readers' outstanding borrows of the old copy into reference counts, so
        // `Arc::get_mut` on it later succeeds exactly when every reader has let go.
        let retired = self.current.swap(fresh);
        self.spare = retired;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Batches through the writer must leave the published copy (which alternates between the
    /// two) holding exactly the routes of a table that applied them directly: the catch-up
    /// copies long routes per chunk and replays short ones. `prefix` makes a prefix from a
    /// random word; `probes` gives addresses inside and beside a touched prefix.
    fn left_right<K: Key>(prefix: impl Fn(u32) -> (K, u8), probes: impl Fn(K) -> [K; 4]) {
        let mut reference = Lpm::<K>::new();
        let (mut writer, _reader) = share(Lpm::<K>::new());
        let mut x = 0x9e37_79b9u32;
        for round in 0..40u32 {
            let mut batch = Vec::new();
            for i in 0..200u32 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let (key, len) = prefix(x);
                batch.push(if (i + round) % 3 == 0 {
                    Update::Remove { key, len }
                } else {
                    Update::Insert {
                        key,
                        len,
                        nh: x % 7,
                    }
                });
            }
            reference.apply(&batch).unwrap();
            writer.apply(&batch).unwrap();
            let published = writer.load();
            assert_eq!(published.routes(), reference.routes(), "round {round}");
            assert_eq!(published.len(), reference.len(), "round {round}");
            // And the same answers, inside and beside every prefix the batch touched (the
            // catch-up makes the leaf entries of its own arena).
            for u in &batch {
                let (key, _, _) = u.parts();
                for a in probes(key) {
                    assert_eq!(
                        published.lookup(a),
                        reference.lookup(a),
                        "round {round} {a:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn both_copies_keep_the_same_routes() {
        left_right(
            |x| {
                let len = [8u8, 16, 18, 19, 24, 24, 24, 28, 32][(x % 9) as usize];
                ((x & 0x0fff_ffff) | 0x1000_0000, len)
            },
            |key: u32| [key, key | 0xff, key.wrapping_sub(1), key ^ 0x4000],
        );
    }

    #[test]
    fn both_copies_keep_the_same_routes_v6() {
        left_right(
            |x| {
                let len = [16u8, 18, 24, 32, 40, 48, 48, 56, 64, 126][(x % 10) as usize];
                let key = (0x2001u128 << 112) | u128::from(x & 0x03ff_ffff) << 80 | u128::from(x);
                (key, len)
            },
            |key: u128| [key, key | 0xffff, key.wrapping_sub(1), key ^ (1 << 90)],
        );
    }
}
