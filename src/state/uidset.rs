//! The set of item uids a device holds in one collection, as a bitmap. Uids are small integers
//! handed out in sequence by the change index, so a 50,000-message folder takes about 6 KB and
//! a membership test is one shift — no per-item records in the database.

use super::codec::{CodecError, Reader, Writer};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UidSet {
    words: Vec<u64>,
    len: usize,
}

impl UidSet {
    pub fn new() -> UidSet {
        UidSet::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn slot(uid: u32) -> (usize, u64) {
        ((uid / 64) as usize, 1u64 << (uid % 64))
    }

    pub fn contains(&self, uid: u32) -> bool {
        let (w, bit) = Self::slot(uid);
        self.words.get(w).is_some_and(|word| word & bit != 0)
    }

    /// Returns whether the uid was new.
    pub fn insert(&mut self, uid: u32) -> bool {
        let (w, bit) = Self::slot(uid);
        if self.words.len() <= w {
            self.words.resize(w + 1, 0);
        }
        let Some(word) = self.words.get_mut(w) else {
            return false;
        };
        let new = *word & bit == 0;
        *word |= bit;
        self.len += usize::from(new);
        new
    }

    /// Returns whether the uid was present.
    pub fn remove(&mut self, uid: u32) -> bool {
        let (w, bit) = Self::slot(uid);
        let Some(word) = self.words.get_mut(w) else {
            return false;
        };
        let had = *word & bit != 0;
        *word &= !bit;
        self.len -= usize::from(had);
        had
    }

    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &word)| {
            (0..64u32)
                .filter(move |b| word & (1u64 << b) != 0)
                .map(move |b| w as u32 * 64 + b)
        })
    }

    /// Leading and trailing zero words are dropped; runs of zero words inside are stored as a
    /// count, so a folder whose old messages were all deleted stays small.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(1);
        let end = self
            .words
            .iter()
            .rposition(|&x| x != 0)
            .map_or(0, |p| p + 1);
        let mut i = 0;
        while i < end {
            let zeros = self.words[i..end].iter().take_while(|&&x| x == 0).count();
            let ones = self.words[i + zeros..end]
                .iter()
                .take_while(|&&x| x != 0)
                .count();
            w.u64(zeros as u64).u64(ones as u64);
            for &word in &self.words[i + zeros..i + zeros + ones] {
                w.u64(word);
            }
            i += zeros + ones;
        }
        w.finish()
    }

    pub fn decode(buf: &[u8]) -> Result<UidSet, CodecError> {
        let mut r = Reader::new(buf, 1)?;
        let mut set = UidSet::default();
        while r.end().is_err() {
            let zeros = r.usize()?;
            let ones = r.count()?;
            let total = set.words.len().saturating_add(zeros).saturating_add(ones);
            if total > (1 << 26) {
                return Err(CodecError("uid set too large"));
            }
            set.words.resize(set.words.len() + zeros, 0);
            for _ in 0..ones {
                let word = r.u64()?;
                set.len += word.count_ones() as usize;
                set.words.push(word);
            }
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations_and_encoding() {
        let mut s = UidSet::new();
        assert!(s.insert(1));
        assert!(!s.insert(1));
        assert!(s.insert(64));
        assert!(s.insert(100_000));
        assert!(s.contains(64) && !s.contains(65) && !s.contains(u32::MAX));
        assert_eq!(s.len(), 3);
        assert!(s.remove(1) && !s.remove(1) && !s.remove(u32::MAX));
        assert_eq!(s.iter().collect::<Vec<_>>(), [64, 100_000]);
        let bytes = s.encode();
        assert!(bytes.len() < 40, "{}", bytes.len());
        let back = UidSet::decode(&bytes).unwrap();
        assert_eq!(back.iter().collect::<Vec<_>>(), [64, 100_000]);
        assert_eq!(back.len(), 2);
        assert!(UidSet::decode(&UidSet::new().encode()).unwrap().is_empty());
    }

    #[test]
    fn dense_folder_is_small() {
        let mut s = UidSet::new();
        for uid in 1..=50_000 {
            s.insert(uid);
        }
        assert!(s.encode().len() < 9_000);
        assert!(UidSet::decode(&[1, 0xff, 0xff, 0xff, 0xff, 0x7f, 0]).is_err());
    }
}
