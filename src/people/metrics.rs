//! How well a clustering matches known identities: pairwise precision and
//! recall, and BCubed precision, recall and F. Unassigned faces count as
//! people of their own (they cost recall, never precision).

use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct ClusterQuality {
    pub pairwise_precision: f64,
    pub pairwise_recall: f64,
    pub bcubed_precision: f64,
    pub bcubed_recall: f64,
    pub bcubed_f: f64,
    /// Share of faces given a person.
    pub assigned: f64,
}

/// Compares predicted people (`None`: unassigned) with true identities.
pub fn cluster_quality(predicted: &[Option<u32>], truth: &[u32]) -> ClusterQuality {
    assert_eq!(predicted.len(), truth.len());
    let n = truth.len();
    // Unassigned faces become singletons, numbered past every real person.
    let pred: Vec<u64> = predicted
        .iter()
        .enumerate()
        .map(|(i, p)| p.map_or(u64::from(u32::MAX) + 1 + i as u64, u64::from))
        .collect();
    let mut cluster_size: HashMap<u64, u64> = HashMap::new();
    let mut class_size: HashMap<u32, u64> = HashMap::new();
    let mut both: HashMap<(u64, u32), u64> = HashMap::new();
    for i in 0..n {
        *cluster_size.entry(pred[i]).or_default() += 1;
        *class_size.entry(truth[i]).or_default() += 1;
        *both.entry((pred[i], truth[i])).or_default() += 1;
    }
    let pairs = |c: u64| c * c.saturating_sub(1) / 2;
    let true_pairs: u64 = both.values().map(|&c| pairs(c)).sum();
    let pred_pairs: u64 = cluster_size.values().map(|&c| pairs(c)).sum();
    let class_pairs: u64 = class_size.values().map(|&c| pairs(c)).sum();
    let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    // BCubed: per face, the share of its cluster that is its class, and of its class in its cluster.
    let (mut bp, mut br) = (0.0, 0.0);
    for (&(c, t), &count) in &both {
        bp += count as f64 * count as f64 / cluster_size[&c] as f64;
        br += count as f64 * count as f64 / class_size[&t] as f64;
    }
    let (bp, br) = (bp / n.max(1) as f64, br / n.max(1) as f64);
    ClusterQuality {
        pairwise_precision: ratio(true_pairs, pred_pairs),
        pairwise_recall: ratio(true_pairs, class_pairs),
        bcubed_precision: bp,
        bcubed_recall: br,
        bcubed_f: if bp + br == 0.0 {
            0.0
        } else {
            2.0 * bp * br / (bp + br)
        },
        assigned: predicted.iter().filter(|p| p.is_some()).count() as f64 / n.max(1) as f64,
    }
}
