//! Finding the tabs and the newline of a line 64 bytes at a time: two bit masks per block, so
//! that splitting a line costs a few instructions per block plus a few per tab (tabs are dense in
//! CloudFront logs, about one every 13 bytes, which makes a search call per tab slow), and the
//! line's end comes from the same pass instead of a separate newline search.
//!
//! SSE2 on x86_64 and NEON on aarch64 (both part of their baseline); AVX2 on x86_64 machines
//! that have it, chosen at run time by a [`Scanner`] token; a portable SWAR version elsewhere,
//! which is also the reference the tests compare against.

/// Bytes per block.
pub const BLOCK: usize = 64;

/// Where the tabs and newlines of one block are: bit `i` is set where `block[i]` is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Masks {
    pub tabs: u64,
    pub newlines: u64,
}

/// A way to compute [`Masks`]: the splitter is compiled once per scanner.
pub trait Scanner: Copy {
    /// The masks of one block.
    fn masks(self, block: &[u8; BLOCK]) -> Masks;
}

/// The architecture's baseline instructions ([`masks`]).
#[derive(Debug, Clone, Copy)]
pub struct Baseline;

impl Scanner for Baseline {
    #[inline(always)]
    fn masks(self, block: &[u8; BLOCK]) -> Masks {
        masks(block)
    }
}

/// AVX2, 32 bytes per instruction. A value exists only where the CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
pub struct Avx2(());

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    /// The token, when this CPU has AVX2 (std caches the answer: a load and a test).
    #[inline]
    pub fn detect() -> Option<Avx2> {
        std::is_x86_feature_detected!("avx2").then_some(Avx2(()))
    }
}

#[cfg(target_arch = "x86_64")]
impl Scanner for Avx2 {
    #[inline(always)]
    fn masks(self, block: &[u8; BLOCK]) -> Masks {
        // SAFETY: an `Avx2` value is only made by `detect`, after the CPU reported AVX2.
        unsafe { masks_avx2(block) }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn masks_avx2(block: &[u8; BLOCK]) -> Masks {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8,
    };
    let p = block.as_ptr().cast::<__m256i>();
    // SAFETY: the two 32-byte loads at `p` and `p + 1` lie within `block` (64 bytes), and `loadu`
    // has no alignment requirement.
    let (lo, hi) = unsafe { (_mm256_loadu_si256(p), _mm256_loadu_si256(p.add(1))) };
    let bits = |c: u8| {
        let c = _mm256_set1_epi8(c as i8);
        let l = _mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, c)) as u32;
        let h = _mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, c)) as u32;
        u64::from(l) | u64::from(h) << 32
    };
    Masks {
        tabs: bits(b'\t'),
        newlines: bits(b'\n'),
    }
}

/// The masks of one block, with the architecture's baseline instructions.
#[inline(always)]
pub fn masks(block: &[u8; BLOCK]) -> Masks {
    #[cfg(target_arch = "x86_64")]
    {
        masks_sse2(block)
    }
    #[cfg(target_arch = "aarch64")]
    {
        masks_neon(block)
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        masks_swar(block)
    }
}

/// The masks of the first `bytes.len()` (at most [`BLOCK`]) bytes; the rest of the block reads
/// as zero bytes, which are neither.
#[inline]
pub fn masks_partial<S: Scanner>(scanner: S, bytes: &[u8]) -> Masks {
    let mut block = [0u8; BLOCK];
    let n = bytes.len().min(BLOCK);
    block[..n].copy_from_slice(&bytes[..n]);
    scanner.masks(&block)
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn masks_sse2(block: &[u8; BLOCK]) -> Masks {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let p = block.as_ptr().cast::<__m128i>();
    let (mut tabs, mut newlines) = (0u64, 0u64);
    for i in 0..4 {
        // SAFETY: SSE2 is part of the x86_64 baseline; the 16 bytes read at `p + i` lie within
        // `block` (64 bytes), and `loadu` has no alignment requirement.
        let (t, n) = unsafe {
            let v = _mm_loadu_si128(p.add(i));
            (
                _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\t' as i8))),
                _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8))),
            )
        };
        tabs |= u64::from(t as u16) << (16 * i);
        newlines |= u64::from(n as u16) << (16 * i);
    }
    Masks { tabs, newlines }
}

#[cfg(target_arch = "aarch64")]
#[inline(always)]
fn masks_neon(block: &[u8; BLOCK]) -> Masks {
    use std::arch::aarch64::{
        uint8x16_t, vandq_u8, vceqq_u8, vdupq_n_u8, vgetq_lane_u64, vld1q_u8, vpaddq_u8,
        vreinterpretq_u64_u8,
    };
    // NEON has no movemask: keep one distinct bit per byte (1, 2, 4 ... 128 in each half), then
    // pairwise additions fold 64 bytes into 8, byte `k` of the result holding bytes 8k..8k+7.
    const BITS: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128];
    let p = block.as_ptr();
    // SAFETY: NEON is part of the aarch64 baseline; each 16-byte load at `p + 16 * i` lies
    // within `block` (64 bytes), and `vld1q_u8` has no alignment requirement.
    unsafe {
        let v = [
            vld1q_u8(p),
            vld1q_u8(p.add(16)),
            vld1q_u8(p.add(32)),
            vld1q_u8(p.add(48)),
        ];
        let bits = vld1q_u8(BITS.as_ptr());
        let fold = |c: u8| -> u64 {
            let c: uint8x16_t = vdupq_n_u8(c);
            let t = v.map(|x| vandq_u8(vceqq_u8(x, c), bits));
            let s = vpaddq_u8(vpaddq_u8(t[0], t[1]), vpaddq_u8(t[2], t[3]));
            let s = vpaddq_u8(s, s);
            vgetq_lane_u64::<0>(vreinterpretq_u64_u8(s))
        };
        Masks {
            tabs: fold(b'\t'),
            newlines: fold(b'\n'),
        }
    }
}

/// The portable version: an exact zero-byte test on `word ^ 0x0909...` (and `0x0a0a...`), eight
/// bytes at a time.
#[inline]
pub fn masks_swar(block: &[u8; BLOCK]) -> Masks {
    // The mask of the bytes of `word` equal to the byte repeated in `splat`.
    fn eq(word: u64, splat: u64) -> u64 {
        let x = word ^ splat;
        let t = ((x & 0x7f7f_7f7f_7f7f_7f7f) + 0x7f7f_7f7f_7f7f_7f7f) | x;
        // The high bit of each byte that matched, gathered into one byte.
        let high = !(t | 0x7f7f_7f7f_7f7f_7f7f);
        ((high >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
    }
    let (mut tabs, mut newlines) = (0u64, 0u64);
    for (i, word) in block.chunks_exact(8).enumerate() {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let w = u64::from_le_bytes(w);
        tabs |= eq(w, 0x0909_0909_0909_0909) << (8 * i);
        newlines |= eq(w, 0x0a0a_0a0a_0a0a_0a0a) << (8 * i);
    }
    Masks { tabs, newlines }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(block: &[u8; BLOCK], c: u8) -> u64 {
        block
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == c)
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
                // Mostly bytes next to TAB and LF (0x08, 0x0b, 0x89, 0x8a, 0x19) and themselves.
                *b = [b'\t', b'\n', 0x08, 0x0b, 0x89, 0x8a, 0x19, b'a', 0xff, 0x00]
                    [(x % 10) as usize];
            }
            match round {
                0 => block = [b'\t'; BLOCK],
                1 => block = [b'\n'; BLOCK],
                _ => {}
            }
            let want = Masks {
                tabs: plain(&block, b'\t'),
                newlines: plain(&block, b'\n'),
            };
            assert_eq!(masks(&block), want, "{block:?}");
            #[cfg(target_arch = "x86_64")]
            if let Some(avx2) = Avx2::detect() {
                assert_eq!(avx2.masks(&block), want, "{block:?}");
            }
            assert_eq!(masks_swar(&block), want, "{block:?}");
        }
    }

    #[test]
    fn partial_blocks() {
        assert_eq!(masks_partial(Baseline, b"").tabs, 0);
        let m = masks_partial(Baseline, b"a\tb\t\n");
        assert_eq!((m.tabs, m.newlines), (0b1010, 0b10000));
        let long = [b'\t'; 100];
        assert_eq!(masks_partial(Baseline, &long).tabs, u64::MAX);
    }
}
