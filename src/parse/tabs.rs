//! Finding the tabs of a line 64 bytes at a time: one bit mask per block, so that splitting a
//! line costs a few instructions per block plus one per tab (tabs are dense in CloudFront logs,
//! about one every 13 bytes, which makes a search call per tab slow).
//!
//! SSE2 on x86_64 and NEON on aarch64 (both part of their baseline, so no runtime detection);
//! a portable SWAR version elsewhere, which is also the reference the tests compare against.

/// Bytes per block.
pub const BLOCK: usize = 64;

/// Bit `i` is set where `block[i]` is a tab.
#[inline(always)]
pub fn mask(block: &[u8; BLOCK]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        mask_sse2(block)
    }
    #[cfg(target_arch = "aarch64")]
    {
        mask_neon(block)
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        mask_swar(block)
    }
}

/// The mask of the first `bytes.len()` (at most [`BLOCK`]) bytes.
#[inline]
pub fn mask_partial(bytes: &[u8]) -> u64 {
    let mut block = [0u8; BLOCK];
    let n = bytes.len().min(BLOCK);
    block[..n].copy_from_slice(&bytes[..n]);
    mask(&block)
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn mask_sse2(block: &[u8; BLOCK]) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let p = block.as_ptr().cast::<__m128i>();
    let mut m = 0u64;
    for i in 0..4 {
        // SAFETY: SSE2 is part of the x86_64 baseline; the 16 bytes read at `p + i` lie within
        // `block` (64 bytes), and `loadu` has no alignment requirement.
        let bits = unsafe {
            let tab = _mm_set1_epi8(b'\t' as i8);
            _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(p.add(i)), tab))
        };
        m |= u64::from(bits as u16) << (16 * i);
    }
    m
}

#[cfg(target_arch = "aarch64")]
#[inline(always)]
fn mask_neon(block: &[u8; BLOCK]) -> u64 {
    use std::arch::aarch64::{
        vandq_u8, vceqq_u8, vdupq_n_u8, vgetq_lane_u64, vld1q_u8, vpaddq_u8, vreinterpretq_u64_u8,
    };
    // NEON has no movemask: keep one distinct bit per byte (1, 2, 4 ... 128 in each half), then
    // pairwise additions fold 64 bytes into 8, byte `k` of the result holding bytes 8k..8k+7.
    const BITS: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128];
    let p = block.as_ptr();
    // SAFETY: NEON is part of the aarch64 baseline; each 16-byte load at `p + 16 * i` lies
    // within `block` (64 bytes), and `vld1q_u8` has no alignment requirement.
    unsafe {
        let tab = vdupq_n_u8(b'\t');
        let bits = vld1q_u8(BITS.as_ptr());
        let t0 = vandq_u8(vceqq_u8(vld1q_u8(p), tab), bits);
        let t1 = vandq_u8(vceqq_u8(vld1q_u8(p.add(16)), tab), bits);
        let t2 = vandq_u8(vceqq_u8(vld1q_u8(p.add(32)), tab), bits);
        let t3 = vandq_u8(vceqq_u8(vld1q_u8(p.add(48)), tab), bits);
        let s = vpaddq_u8(vpaddq_u8(t0, t1), vpaddq_u8(t2, t3));
        let s = vpaddq_u8(s, s);
        vgetq_lane_u64::<0>(vreinterpretq_u64_u8(s))
    }
}

/// The portable version: an exact zero-byte test on `word ^ 0x0909...`, eight bytes at a time.
#[inline]
pub fn mask_swar(block: &[u8; BLOCK]) -> u64 {
    let mut m = 0u64;
    for (i, word) in block.chunks_exact(8).enumerate() {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let x = u64::from_le_bytes(w) ^ 0x0909_0909_0909_0909;
        let t = ((x & 0x7f7f_7f7f_7f7f_7f7f) + 0x7f7f_7f7f_7f7f_7f7f) | x;
        // The high bit of each byte that was a tab.
        let high = !(t | 0x7f7f_7f7f_7f7f_7f7f);
        // Gather the eight high bits into one byte.
        let byte = ((high >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56;
        m |= byte << (8 * i);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(block: &[u8; BLOCK]) -> u64 {
        block
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\t')
            .fold(0, |m, (i, _)| m | 1 << i)
    }

    #[test]
    fn every_version_agrees_with_a_plain_scan() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for round in 0..20_000 {
            let mut block = [0u8; BLOCK];
            for b in block.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Mostly bytes next to TAB (0x08, 0x0a, 0x89, 0x19) and tabs themselves.
                *b = [b'\t', 0x08, 0x0a, 0x89, 0x19, b'a', 0xff, 0x00][(x % 8) as usize];
            }
            if round == 0 {
                block = [b'\t'; BLOCK];
            }
            let want = plain(&block);
            assert_eq!(mask(&block), want, "{block:?}");
            assert_eq!(mask_swar(&block), want, "{block:?}");
        }
    }

    #[test]
    fn partial_blocks() {
        assert_eq!(mask_partial(b""), 0);
        assert_eq!(mask_partial(b"a\tb\t"), 0b1010);
        let long = [b'\t'; 100];
        assert_eq!(mask_partial(&long), u64::MAX);
    }
}
