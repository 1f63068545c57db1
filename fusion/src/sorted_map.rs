//! A map kept as one vector sorted by key, for keys that come nearly in order: a run's
//! window indices. An entry costs its key and value and nothing more (a `BTreeMap` entry
//! costs about half as much again in node space), a key above the last is appended and a
//! repeat of the last one found without a search; any other key is found by binary search
//! and, when new, inserted in place.

/// A sorted map over a vector, cheapest when keys mostly rise (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortedVecMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for SortedVecMap<K, V> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord + Copy, V> SortedVecMap<K, V> {
    /// The value of `key`, made default if it has none yet.
    pub fn entry_or_default(&mut self, key: K) -> &mut V
    where
        V: Default,
    {
        let at = match self.entries.last() {
            Some((last, _)) if *last == key => self.entries.len() - 1,
            Some((last, _)) if *last > key => {
                match self.entries.binary_search_by(|e| e.0.cmp(&key)) {
                    Ok(i) => i,
                    Err(i) => {
                        self.entries.insert(i, (key, V::default()));
                        i
                    }
                }
            }
            _ => {
                self.entries.push((key, V::default()));
                self.entries.len() - 1
            }
        };
        &mut self.entries[at].1
    }

    /// The value of `key`, if it has one.
    pub fn get(&self, key: K) -> Option<&V> {
        self.entries
            .binary_search_by(|e| e.0.cmp(&key))
            .ok()
            .map(|i| &self.entries[i].1)
    }

    /// Every key with its value, keys rising.
    pub fn into_entries(self) -> Vec<(K, V)> {
        self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        /// The map holds what a `BTreeMap` would, whatever order the keys come in: mostly
        /// rising, with some going back.
        #[test]
        fn holds_what_a_btree_map_would(
            steps in proptest::collection::vec((-3i64..6, 0u64..5), 0..200),
        ) {
            let (mut map, mut want) = (SortedVecMap::<i64, u64>::default(), BTreeMap::new());
            let mut k = 0i64;
            for (step, n) in steps {
                k += step;
                *map.entry_or_default(k) += n;
                *want.entry(k).or_insert(0u64) += n;
                prop_assert_eq!(map.get(k), want.get(&k));
            }
            prop_assert_eq!(map.get(k + 1_000), None);
            prop_assert_eq!(map.into_entries(), want.into_iter().collect::<Vec<_>>());
        }
    }
}
