//! Bounded selection of the `k` smallest distances.

/// Keeps the `k` smallest `(distance, label)` pairs seen. Candidates below
/// the threshold are appended to a buffer of up to `2k`; when it fills, one
/// selection keeps the best `k` and tightens the threshold to the k-th. An
/// insertion is O(1) amortised (a binary heap costs log k, with unpredictable
/// branches, on every improvement), which matters when scans of code lists
/// visited in no particular order improve the candidates often.
#[derive(Clone, Debug)]
pub struct TopKHeap {
    k: usize,
    entries: Vec<(f32, u64)>,
    thr: f32,
}

fn order(a: &(f32, u64), b: &(f32, u64)) -> std::cmp::Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}

impl TopKHeap {
    pub fn new(k: usize) -> Self {
        Self {
            k,
            entries: Vec::with_capacity(2 * k),
            thr: if k == 0 {
                f32::NEG_INFINITY
            } else {
                f32::INFINITY
            },
        }
    }

    pub fn k(&self) -> usize {
        self.k
    }

    /// Pairs kept (at most `k`).
    pub fn len(&self) -> usize {
        self.entries.len().min(self.k)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Candidates must be strictly below this to enter (an upper bound of
    /// the k-th best distance so far).
    #[inline]
    pub fn threshold(&self) -> f32 {
        self.thr
    }

    #[inline]
    pub fn push(&mut self, dist: f32, label: u64) {
        if dist < self.thr {
            self.entries.push((dist, label));
            if self.entries.len() >= 2 * self.k {
                self.compact();
            }
        }
    }

    /// Keeps the best `k` and sets the threshold to the k-th of them.
    fn compact(&mut self) {
        let k = self.k;
        self.entries.select_nth_unstable_by(k - 1, order);
        self.entries.truncate(k);
        self.thr = self.entries[k - 1].0;
    }

    /// Adds every pair another heap holds.
    pub fn merge(&mut self, other: &TopKHeap) {
        for &(d, l) in &other.entries {
            self.push(d, l);
        }
    }

    /// The kept pairs, best first (ties by label, so results are deterministic).
    pub fn into_sorted(mut self) -> Vec<(f32, u64)> {
        self.entries.sort_unstable_by(order);
        self.entries.truncate(self.k);
        self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::rng::Rng;

    #[test]
    fn keeps_the_k_smallest() {
        let mut rng = Rng::new(7);
        let values: Vec<f32> = (0..1000).map(|_| rng.uniform()).collect();
        let mut heap = TopKHeap::new(10);
        for (i, &v) in values.iter().enumerate() {
            heap.push(v, i as u64);
        }
        let mut sorted: Vec<(f32, u64)> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| (v, i as u64))
            .collect();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(heap.into_sorted(), sorted[..10].to_vec());
    }

    #[test]
    fn keeps_the_k_smallest_with_ties_and_merges() {
        let mut rng = Rng::new(9);
        for k in [1usize, 3, 10, 64] {
            let values: Vec<f32> = (0..2000).map(|_| (rng.below(50) as f32) * 0.5).collect();
            let (mut a, mut b) = (TopKHeap::new(k), TopKHeap::new(k));
            for (i, &v) in values.iter().enumerate() {
                if i % 2 == 0 {
                    a.push(v, i as u64)
                } else {
                    b.push(v, i as u64)
                }
            }
            a.merge(&b);
            let mut sorted: Vec<(f32, u64)> = values
                .iter()
                .enumerate()
                .map(|(i, &v)| (v, i as u64))
                .collect();
            sorted.sort_by(order);
            let got = a.into_sorted();
            assert_eq!(
                got.iter().map(|x| x.0).collect::<Vec<_>>(),
                sorted[..k].iter().map(|x| x.0).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn zero_k_keeps_nothing() {
        let mut heap = TopKHeap::new(0);
        heap.push(1.0, 1);
        assert!(heap.is_empty());
    }
}
