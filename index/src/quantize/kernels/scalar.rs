//! The reference kernel: popcounts of code planes against the query's bit planes.

use crate::quantize::query::QuantizedQuery;

pub fn dots(codes: &[u64], bits: usize, words: usize, q: &QuantizedQuery, out: &mut Vec<u32>) {
    let per_vector = bits * words;
    if per_vector == 0 {
        return;
    }
    for vector in codes.chunks_exact(per_vector) {
        let mut total = 0u32;
        for (p, plane) in vector.chunks_exact(words).enumerate() {
            let mut s = 0u32;
            for (k, query_plane) in q.planes.chunks_exact(words).enumerate() {
                let ones: u32 = plane
                    .iter()
                    .zip(query_plane)
                    .map(|(c, y)| (c & y).count_ones())
                    .sum();
                s += ones << k;
            }
            // Plane p holds bit (bits − 1 − p) of each code.
            total += s << (bits - 1 - p);
        }
        out.push(total);
    }
}
