//! Deterministic token generator for branches, tags and cnonces.
//!
//! Sans-IO code cannot read the OS entropy pool itself, so the caller seeds
//! it (the driver passes OS randomness; tests pass fixed seeds and replay
//! exactly). SplitMix64 is not cryptographic: tokens here only have to be
//! unique and unguessable enough for SIP (RFC 3261 §8.1.1.7, §19.3).

/// SplitMix64 token source.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// 128 bits as 32 lowercase hex digits.
    pub(crate) fn token(&mut self) -> String {
        format!("{:016x}{:016x}", self.next_u64(), self.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_tokens_different_seed_different() {
        let (mut a, mut b, mut c) = (Rng::new(7), Rng::new(7), Rng::new(8));
        let ta = a.token();
        assert_eq!(ta, b.token());
        assert_ne!(ta, c.token());
        assert_eq!(ta.len(), 32);
        assert_ne!(ta, a.token());
    }
}
