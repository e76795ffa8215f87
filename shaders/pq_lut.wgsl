// Product-quantiser look-up tables, a batch of queries at a time. Twin of the CPU
// backend's pq_lut: out[(q * m + j) * ksub + c] = distance of sub-vector j of query q to
// code word c of sub-quantiser j ("lower is closer": the negated inner product, or the
// squared L2 distance). VARIANT 0: inner product; 1: squared L2.
//
// A workgroup takes one sub-quantiser and 16 queries; their sub-vectors are staged in
// workgroup memory, so each code word is read from memory once per 16 queries.
override VARIANT: u32 = 0u;

// Codebooks larger than one binding come in chunks of `mc` sub-quantisers from `j0`;
// `out` then holds the chunk's columns only: [query][mc][ksub].
struct Params {
    nq: u32,
    dim: u32,
    m: u32,
    ksub: u32,
    j0: u32,
    mc: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> queries: array<f32>;
@group(0) @binding(2) var<storage, read> codebooks: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const QT: u32 = 16u;
// Staged sub-vectors: QT queries of at most 64 components.
var<workgroup> qs: array<f32, 1024>;

@compute @workgroup_size(256)
fn pq_lut(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let j = wid.x;
    let jg = p.j0 + j;
    let q0 = wid.y * QT;
    let dsub = p.dim / p.m;
    for (var e = li; e < QT * dsub; e += 256u) {
        let qi = e / dsub;
        var v = 0.0;
        if (q0 + qi < p.nq) {
            v = queries[(q0 + qi) * p.dim + jg * dsub + e % dsub];
        }
        qs[e] = v;
    }
    workgroupBarrier();
    // Neighbouring threads take neighbouring code words of the same query.
    for (var pair = li; pair < QT * p.ksub; pair += 256u) {
        let qi = pair / p.ksub;
        let c = pair % p.ksub;
        if (q0 + qi < p.nq) {
            let word = (j * p.ksub + c) * dsub;
            var acc = 0.0;
            for (var t = 0u; t < dsub; t++) {
                let a = qs[qi * dsub + t];
                let b = codebooks[word + t];
                if (VARIANT == 0u) {
                    acc = fma(a, b, acc);
                } else {
                    let d = a - b;
                    acc = fma(d, d, acc);
                }
            }
            out[((q0 + qi) * p.mc + j) * p.ksub + c] = select(-acc, acc, VARIANT == 1u);
        }
    }
}
