// Top-k selection per row of a score matrix. Twin of the CPU backend's top-k.
// VARIANT 0: larger scores are better (inner product); 1: smaller are better (L2).
//
// One workgroup per row. Candidates better than the current k-th best are appended to a
// 1024-entry buffer in workgroup memory; when it could overflow, a bitonic sort keeps the
// best k and raises the threshold. Order is (key, index), so ties go to the lower index
// and the result is the same as a stable sort's.
override VARIANT: u32 = 0u;

struct Params {
    rows: u32,
    n: u32,      // columns of a row that take part
    stride: u32, // distance between rows in `scores`
    k: u32,      // at most 512
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> out_scores: array<f32>;
@group(0) @binding(3) var<storage, read_write> out_ids: array<u32>;

const CAP: u32 = 1024u;
const NONE: u32 = 0xffffffffu;

var<workgroup> keys: array<f32, 1024>;
var<workgroup> ids: array<u32, 1024>;
var<workgroup> count: atomic<u32>;
var<workgroup> filled: u32;
var<workgroup> limit_key: f32;
var<workgroup> limit_id: u32;

// The key sorts ascending whatever the metric.
fn key_of(score: f32) -> f32 {
    return select(-score, score, VARIANT == 1u);
}

fn before(ka: f32, ia: u32, kb: f32, ib: u32) -> bool {
    return ka < kb || (ka == kb && ia < ib);
}

// Sorts all CAP entries ascending; must be called by the whole workgroup.
fn sort_all(li: u32) {
    for (var size = 2u; size <= CAP; size <<= 1u) {
        for (var stride = size >> 1u; stride > 0u; stride >>= 1u) {
            for (var t = 0u; t < CAP / 512u; t++) {
                let pair = li + t * 256u;
                let lo = 2u * stride * (pair / stride) + pair % stride;
                let hi = lo + stride;
                let up = (lo & size) == 0u;
                let swap = before(keys[hi], ids[hi], keys[lo], ids[lo]) == up;
                if (swap) {
                    let k = keys[lo];
                    keys[lo] = keys[hi];
                    keys[hi] = k;
                    let i = ids[lo];
                    ids[lo] = ids[hi];
                    ids[hi] = i;
                }
            }
            workgroupBarrier();
        }
    }
}

// After a sort: keep the best k, empty the rest, and make the k-th best the threshold.
fn keep_best(li: u32) {
    for (var e = li; e < CAP; e += 256u) {
        if (e >= p.k) {
            keys[e] = bitcast<f32>(0x7f800000u);
            ids[e] = NONE;
        }
    }
    if (li == 0u) {
        atomicStore(&count, p.k);
        limit_key = keys[p.k - 1u];
        limit_id = ids[p.k - 1u];
    }
    workgroupBarrier();
}

@compute @workgroup_size(256)
fn select_topk(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let row = wid.y * groups.x + wid.x;
    if (row >= p.rows) {
        return;
    }
    for (var e = li; e < CAP; e += 256u) {
        keys[e] = bitcast<f32>(0x7f800000u);
        ids[e] = NONE;
    }
    if (li == 0u) {
        atomicStore(&count, 0u);
        limit_key = bitcast<f32>(0x7f800000u);
        limit_id = NONE;
    }
    workgroupBarrier();
    let start = row * p.stride;
    for (var base = 0u; base < p.n; base += 256u) {
        if (li == 0u) {
            filled = atomicLoad(&count);
        }
        if (workgroupUniformLoad(&filled) + 256u > CAP) {
            sort_all(li);
            keep_best(li);
        }
        let col = base + li;
        if (col < p.n) {
            let key = key_of(scores[start + col]);
            if (before(key, col, limit_key, limit_id)) {
                let slot = atomicAdd(&count, 1u);
                keys[slot] = key;
                ids[slot] = col;
            }
        }
        workgroupBarrier();
    }
    sort_all(li);
    for (var e = li; e < p.k; e += 256u) {
        out_ids[row * p.k + e] = ids[e];
        out_scores[row * p.k + e] = select(-keys[e], keys[e], VARIANT == 1u);
    }
}
