// The 4-bit fast-scan of one code list for a batch of queries. Twin of the CPU backend's
// scan_pq4fs, on the same packed layout (compute::pq4: blocks of 32 vectors; per pair of
// sub-quantisers 32 bytes, nibbles of slots b and b + 16 in byte b) and the same
// quantised byte tables: dist[q * n + i] = base[q] + scale[q] * sum_j table[q][j][code],
// the integer sum being exact, so the distances equal the CPU's.
//
// A workgroup takes one query and 256 vectors (8 blocks), one thread per vector; the
// query's table (m x 16 bytes, four to a word) is staged in workgroup memory.
struct Params {
    nq: u32,
    n: u32,
    m: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// Per query m * 16 table bytes, four to a word.
@group(0) @binding(1) var<storage, read> tables: array<u32>;
@group(0) @binding(2) var<storage, read> codes: array<u32>;
// Per query (bias + sum_min, inv_scale).
@group(0) @binding(3) var<storage, read> affine: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<workgroup> table: array<u32, 1024>; // up to m = 256

fn byte_at(words: u32, at: u32) -> u32 {
    return (codes[words + (at >> 2u)] >> ((at & 3u) * 8u)) & 0xffu;
}

fn entry(j: u32, c: u32) -> u32 {
    let at = j * 16u + c;
    return (table[at >> 2u] >> ((at & 3u) * 8u)) & 0xffu;
}

@compute @workgroup_size(256)
fn scan_pq4fs(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let q = wid.y;
    let words = p.m * 4u;
    for (var e = li; e < words; e += 256u) {
        table[e] = tables[q * words + e];
    }
    workgroupBarrier();
    let i = wid.x * 256u + li;
    if (i >= p.n) {
        return;
    }
    let block = i / 32u;
    let slot = i % 32u;
    let shift = select(0u, 4u, slot >= 16u);
    // One block is 32 * m / 2 bytes = 4 * m words.
    let block_words = block * 4u * p.m;
    var sum = 0u;
    for (var pair = 0u; pair < p.m / 2u; pair++) {
        let lo = (byte_at(block_words, pair * 32u + slot % 16u) >> shift) & 0xfu;
        let hi = (byte_at(block_words, pair * 32u + 16u + slot % 16u) >> shift) & 0xfu;
        sum += entry(2u * pair, lo) + entry(2u * pair + 1u, hi);
    }
    let a = affine[q];
    out[q * p.n + i] = a.x + f32(sum) * a.y;
}
