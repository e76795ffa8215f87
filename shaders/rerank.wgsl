// Exact re-ranking of candidates, f32 or f16 rows. Twin of the CPU backend's rerank_f32
// and rerank_f16: out[c] = distance of query owner[c] to candidate row c ("lower is
// closer": the negated inner product, or the squared L2 distance). The candidates' rows
// are gathered into `rows` (f32, or f16 two to a word) in candidate order.
// VARIANT 0: inner product; 1: squared L2.
//
// A workgroup takes 16 candidates; 16 lanes share one candidate, reading neighbouring
// components (coalesced), and their partial sums are reduced in workgroup memory.
override VARIANT: u32 = 0u;

struct Params {
    count: u32,
    dim: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> queries: array<f32>;
@group(0) @binding(2) var<storage, read> rows: array<u32>;
@group(0) @binding(3) var<storage, read> owner: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, 256>;

fn term(a: f32, b: f32) -> f32 {
    if (VARIANT == 0u) {
        return a * b;
    }
    let d = a - b;
    return d * d;
}

// Lane `lane` of the 16 sharing candidate `c` (c < count) sums its share of the terms.
fn lane_sum_f32(c: u32, lane: u32) -> f32 {
    let q = owner[c] * p.dim;
    var acc = 0.0;
    for (var t = lane; t < p.dim; t += 16u) {
        acc += term(queries[q + t], bitcast<f32>(rows[c * p.dim + t]));
    }
    return acc;
}

// As lane_sum_f32, rows in half precision (dim even: two components to a word).
fn lane_sum_f16(c: u32, lane: u32) -> f32 {
    let q = owner[c] * p.dim;
    let half_dim = p.dim / 2u;
    var acc = 0.0;
    for (var t = lane; t < half_dim; t += 16u) {
        let v = unpack2x16float(rows[c * half_dim + t]);
        acc += term(queries[q + 2u * t], v.x) + term(queries[q + 2u * t + 1u], v.y);
    }
    return acc;
}

fn finish(li: u32, c: u32, acc: f32) {
    partial[li] = acc;
    workgroupBarrier();
    if (li % 16u == 0u && c < p.count) {
        var s = 0.0;
        for (var t = 0u; t < 16u; t++) {
            s += partial[li + t];
        }
        out[c] = select(-s, s, VARIANT == 1u);
    }
}

// The candidate this invocation's lane group takes (16 lanes to a candidate).
fn candidate(li: u32, wid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return (wid.y * groups.x + wid.x) * 16u + li / 16u;
}

@compute @workgroup_size(256)
fn rerank_f32(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let c = candidate(li, wid, groups);
    var acc = 0.0;
    if (c < p.count) {
        acc = lane_sum_f32(c, li % 16u);
    }
    finish(li, c, acc);
}

@compute @workgroup_size(256)
fn rerank_f16(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let c = candidate(li, wid, groups);
    var acc = 0.0;
    if (c < p.count) {
        acc = lane_sum_f16(c, li % 16u);
    }
    finish(li, c, acc);
}
