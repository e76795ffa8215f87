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
            self.sift_up(self.dist.len() - 1);
        } else if self.k > 0 && dist < self.dist[0] {
            self.dist[0] = dist;
            self.label[0] = label;
            self.sift_down(0);
        }
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.dist[parent] >= self.dist[i] {
                break;
            }
            self.dist.swap(parent, i);
            self.label.swap(parent, i);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.dist.len();
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut largest = i;
            if l < n && self.dist[l] > self.dist[largest] {
                largest = l;
            }
            if r < n && self.dist[r] > self.dist[largest] {
                largest = r;
            }
            if largest == i {
                break;
            }
            self.dist.swap(largest, i);
            self.label.swap(largest, i);
            i = largest;
        }
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
