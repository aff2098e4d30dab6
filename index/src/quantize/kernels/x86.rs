//! x86-64 kernels. Callers check the CPU features first (`Kernel::is_available`).

use std::arch::x86_64::*;

use crate::quantize::query::QuantizedQuery;

/// AVX2: expand 32 code bits to a 32-byte mask (byte i = 0xFF when bit i is set), keep the
/// query bytes it selects and sum them with `vpsadbw`.
#[target_feature(enable = "avx2")]
pub unsafe fn dots_avx2(
    codes: &[u64],
    bits: usize,
    words: usize,
    q: &QuantizedQuery,
    out: &mut Vec<u32>,
) {
    let per_vector = bits * words;
    if per_vector == 0 {
        return;
    }
    // Byte i of the broadcast 32-bit half takes byte i/8 of it (per 128-bit lane), then keeps
    // bit i%8.
    let spread = _mm256_setr_epi8(
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3,
        3, 3,
    );
    let select = _mm256_setr_epi8(
        1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128,
        1, 2, 4, 8, 16, 32, 64, -128,
    );
    let zero = _mm256_setzero_si256();
    let qp = q.bytes.as_ptr();
    for vector in codes.chunks_exact(per_vector) {
        let mut total = _mm256_setzero_si256();
        for (p, plane) in vector.chunks_exact(words).enumerate() {
            let mut acc = _mm256_setzero_si256();
            for (w, word) in plane.iter().enumerate() {
                for half in 0..2 {
                    let b = (word >> (32 * half)) as u32 as i32;
                    let bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(b), spread);
                    let mask = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, select), select);
                    // SAFETY: q.bytes has words × 64 bytes (asserted by the caller).
                    let y = _mm256_loadu_si256(qp.add(w * 64 + half * 32) as *const __m256i);
                    acc = _mm256_add_epi64(acc, _mm256_sad_epu8(_mm256_and_si256(mask, y), zero));
                }
            }
            let shift = _mm_cvtsi32_si128((bits - 1 - p) as i32);
            total = _mm256_add_epi64(total, _mm256_sll_epi64(acc, shift));
        }
        let lanes = _mm_add_epi64(
            _mm256_castsi256_si128(total),
            _mm256_extracti128_si256::<1>(total),
        );
        let sum = _mm_cvtsi128_si64(lanes) + _mm_extract_epi64::<1>(lanes);
        out.push(sum as u32);
    }
}

/// AVX-512 BW: the code word is the byte mask itself; `vpsadbw` sums the selected bytes.
#[target_feature(enable = "avx512f,avx512bw")]
pub unsafe fn dots_avx512(
    codes: &[u64],
    bits: usize,
    words: usize,
    q: &QuantizedQuery,
    out: &mut Vec<u32>,
) {
    let per_vector = bits * words;
    if per_vector == 0 {
        return;
    }
    let zero = _mm512_setzero_si512();
    let qp = q.bytes.as_ptr();
    for vector in codes.chunks_exact(per_vector) {
        // One accumulator per plane, so each query chunk is loaded once for all planes.
        let mut acc = [zero; 8];
        for w in 0..words {
            // SAFETY: q.bytes has words × 64 bytes (asserted by the caller).
            let y = _mm512_loadu_si512(qp.add(w * 64) as *const __m512i);
            for (p, a) in acc.iter_mut().enumerate().take(bits) {
                let picked = _mm512_maskz_mov_epi8(vector[p * words + w], y);
                *a = _mm512_add_epi64(*a, _mm512_sad_epu8(picked, zero));
            }
        }
        let mut total = zero;
        for (p, a) in acc.iter().enumerate().take(bits) {
            let shift = _mm_cvtsi32_si128((bits - 1 - p) as i32);
            total = _mm512_add_epi64(total, _mm512_sll_epi64(*a, shift));
        }
        out.push(_mm512_reduce_add_epi64(total) as u32);
    }
}

/// AVX-512 VPOPCNTDQ: popcounts of (code plane ∧ query plane k), eight words at a time.
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
pub unsafe fn dots_avx512_popcnt(
    codes: &[u64],
    bits: usize,
    words: usize,
    q: &QuantizedQuery,
    out: &mut Vec<u32>,
) {
    let per_vector = bits * words;
    if per_vector == 0 {
        return;
    }
    let qp = q.planes.as_ptr() as *const i64;
    for vector in codes.chunks_exact(per_vector) {
        let vp = vector.as_ptr() as *const i64;
        let mut total = _mm512_setzero_si512();
        for p in 0..bits {
            for start in (0..words).step_by(8) {
                let n = (words - start).min(8);
                let m: __mmask8 = if n == 8 { 0xFF } else { (1u8 << n) - 1 };
                // SAFETY: the masked loads read only words start..start+n of the plane, inside
                // `vector` and inside each query plane (words each, 8 planes: asserted).
                let c = _mm512_maskz_loadu_epi64(m, vp.add(p * words + start));
                for k in 0..8 {
                    let y = _mm512_maskz_loadu_epi64(m, qp.add(k * words + start));
                    let ones = _mm512_popcnt_epi64(_mm512_and_si512(c, y));
                    let shift = _mm_cvtsi32_si128((k + bits - 1 - p) as i32);
                    total = _mm512_add_epi64(total, _mm512_sll_epi64(ones, shift));
                }
            }
        }
        out.push(_mm512_reduce_add_epi64(total) as u32);
    }
}

/// AVX-512 VNNI: rebuild 64 codes as bytes from the bit planes (one masked byte add per
/// plane), then `vpdpbusd` multiplies them with the query bytes and adds groups of four into
/// 32-bit lanes. Codes must fit a signed byte, so B = 8 takes the BW kernel.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub unsafe fn dots_avx512_vnni(
    codes: &[u64],
    bits: usize,
    words: usize,
    q: &QuantizedQuery,
    out: &mut Vec<u32>,
) {
    if bits >= 8 {
        return dots_avx512(codes, bits, words, q, out);
    }
    let per_vector = bits * words;
    if per_vector == 0 {
        return;
    }
    let weights: Vec<__m512i> = (0..bits)
        .map(|p| _mm512_set1_epi8((1u8 << (bits - 1 - p)) as i8))
        .collect();
    let zero = _mm512_setzero_si512();
    let qp = q.bytes.as_ptr();
    for vector in codes.chunks_exact(per_vector) {
        // Two accumulators so consecutive words' dot products do not wait on each other.
        let mut acc = [zero; 2];
        for w in 0..words {
            let mut u = zero;
            for (p, weight) in weights.iter().enumerate() {
                u = _mm512_or_si512(u, _mm512_maskz_mov_epi8(vector[p * words + w], *weight));
            }
            // SAFETY: q.bytes has words × 64 bytes (asserted by the caller).
            let y = _mm512_loadu_si512(qp.add(w * 64) as *const __m512i);
            acc[w & 1] = _mm512_dpbusd_epi32(acc[w & 1], y, u);
        }
        out.push(_mm512_reduce_add_epi32(_mm512_add_epi32(acc[0], acc[1])) as u32);
    }
}
