//! Bounded selection of the `k` smallest distances.

/// A max-heap of at most `k` `(distance, label)` pairs: the root is the worst
/// kept, so a new candidate costs one comparison unless it is better.
#[derive(Clone, Debug)]
pub struct TopKHeap {
    k: usize,
    dist: Vec<f32>,
    label: Vec<u64>,
}

impl TopKHeap {
    pub fn new(k: usize) -> Self {
        Self {
            k,
            dist: Vec::with_capacity(k),
            label: Vec::with_capacity(k),
        }
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn len(&self) -> usize {
        self.dist.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dist.is_empty()
    }

    /// Candidates must be strictly below this to enter.
    #[inline]
    pub fn threshold(&self) -> f32 {
        if self.dist.len() < self.k {
            f32::INFINITY
        } else {
            self.dist[0]
        }
    }

    #[inline]
    pub fn push(&mut self, dist: f32, label: u64) {
        if self.dist.len() < self.k {
            self.dist.push(dist);
            self.label.push(label);
            self.sift_up(self.dist.len() - 1, dist, label);
        } else if self.k > 0 && dist < self.dist[0] {
            self.replace_root(dist, label);
        }
    }

    /// Moves the hole at `i` up until `dist` fits, then fills it.
    fn sift_up(&mut self, mut i: usize, dist: f32, label: u64) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.dist[parent] >= dist {
                break;
            }
            self.dist[i] = self.dist[parent];
            self.label[i] = self.label[parent];
            i = parent;
        }
        self.dist[i] = dist;
        self.label[i] = label;
    }

    /// Drops the root and sinks the new pair from there: the hole moves
    /// down along the larger child, one comparison pair per level, no swaps.
    fn replace_root(&mut self, dist: f32, label: u64) {
        let n = self.dist.len();
        let mut i = 0;
        loop {
            let l = 2 * i + 1;
            if l >= n {
                break;
            }
            let c = if l + 1 < n && self.dist[l + 1] > self.dist[l] {
                l + 1
            } else {
                l
            };
            if self.dist[c] <= dist {
                break;
            }
            self.dist[i] = self.dist[c];
            self.label[i] = self.label[c];
            i = c;
        }
        self.dist[i] = dist;
        self.label[i] = label;
    }

    /// Adds every pair another heap holds.
    pub fn merge(&mut self, other: &TopKHeap) {
        for (&d, &l) in other.dist.iter().zip(&other.label) {
            self.push(d, l);
        }
    }

    /// The kept pairs, best first (ties by label, so results are deterministic).
    pub fn into_sorted(self) -> Vec<(f32, u64)> {
        let mut v: Vec<(f32, u64)> = self.dist.into_iter().zip(self.label).collect();
        v.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        v
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
    fn zero_k_keeps_nothing() {
        let mut heap = TopKHeap::new(0);
        heap.push(1.0, 1);
        assert!(heap.is_empty());
    }
}
