// The 8-bit ADC scan of one code list for a batch of queries. Twin of the CPU backend's
// scan_pq8: dist[q * n + i] = bias[q] + sum_j lut[q][j][code_i[j]]. The per-query top-k
// then runs on the device (select_topk.wgsl) over these distances.
//
// A workgroup takes one query and 1024 codes (4 per thread, kept in registers). The
// query's table is staged in workgroup memory 8 sub-quantisers (8 KiB) at a time, so a
// table of any m fits the 16 KiB every device offers.
struct Params {
    nq: u32,
    n: u32,
    m: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> luts: array<f32>;
// n * m code bytes, four to a word (little-endian).
@group(0) @binding(2) var<storage, read> codes: array<u32>;
@group(0) @binding(3) var<storage, read> biases: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

const SLAB: u32 = 8u;
const PER_THREAD: u32 = 4u;
var<workgroup> table: array<f32, 2048>; // [SLAB][256]

fn code_byte(at: u32) -> u32 {
    return (codes[at >> 2u] >> ((at & 3u) * 8u)) & 0xffu;
}

@compute @workgroup_size(256)
fn scan_pq8(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let q = wid.y;
    let first = wid.x * 256u * PER_THREAD;
    var acc: array<f32, 4>;
    for (var r = 0u; r < PER_THREAD; r++) {
        acc[r] = 0.0;
    }
    for (var j0 = 0u; j0 < p.m; j0 += SLAB) {
        let width = min(SLAB, p.m - j0);
        workgroupBarrier();
        for (var e = li; e < width * 256u; e += 256u) {
            table[e] = luts[(q * p.m + j0) * 256u + e];
        }
        workgroupBarrier();
        for (var r = 0u; r < PER_THREAD; r++) {
            let i = first + r * 256u + li;
            if (i < p.n) {
                var s = 0.0;
                for (var t = 0u; t < width; t++) {
                    s += table[t * 256u + code_byte(i * p.m + j0 + t)];
                }
                acc[r] += s;
            }
        }
    }
    for (var r = 0u; r < PER_THREAD; r++) {
        let i = first + r * 256u + li;
        if (i < p.n) {
            out[q * p.n + i] = biases[q] + acc[r];
        }
    }
}
