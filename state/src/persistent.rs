//! Decoding the persistent maps (`imbl`) of the state's tables from snapshots.
//!
//! `imbl`'s own `Deserialize` reserves the length a snapshot claims before reading a
//! single entry, so a corrupt length aborts the process on a capacity overflow
//! instead of failing the restore. These go through the standard collections (whose
//! decoders cap what they reserve up front) and convert; the bytes are the same, since
//! the persistent maps serialise exactly as `BTreeMap`/`BTreeSet`/`HashMap` do.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::Hash;

use imbl::{HashMap, OrdMap, OrdSet};
use serde::{Deserialize, Deserializer};

/// An [`OrdMap`], decoded as a `BTreeMap`.
pub(crate) fn ord_map<'de, D, K, V>(d: D) -> Result<OrdMap<K, V>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Ord + Clone,
    V: Deserialize<'de> + Clone,
{
    Ok(BTreeMap::<K, V>::deserialize(d)?.into_iter().collect())
}

/// An [`OrdMap`] of [`OrdSet`]s, decoded as a `BTreeMap` of `BTreeSet`s.
pub(crate) fn ord_map_of_sets<'de, D, K, T>(d: D) -> Result<OrdMap<K, OrdSet<T>>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Ord + Clone,
    T: Deserialize<'de> + Ord + Clone,
{
    Ok(BTreeMap::<K, BTreeSet<T>>::deserialize(d)?
        .into_iter()
        .map(|(k, set)| (k, set.into_iter().collect::<OrdSet<T>>()))
        .collect())
}

/// An `imbl` [`HashMap`], decoded as a standard one.
pub(crate) fn hash_map<'de, D, K, V>(d: D) -> Result<HashMap<K, V>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Hash + Eq + Clone,
    V: Deserialize<'de> + Clone,
{
    Ok(std::collections::HashMap::<K, V>::deserialize(d)?
        .into_iter()
        .collect())
}

#[cfg(test)]
mod tests {
    use bincode::Options;

    use super::*;

    #[derive(Deserialize)]
    struct Tables {
        #[serde(deserialize_with = "ord_map")]
        map: OrdMap<String, u64>,
        #[serde(deserialize_with = "ord_map_of_sets")]
        sets: OrdMap<String, OrdSet<u32>>,
        #[serde(deserialize_with = "hash_map")]
        hash: HashMap<String, u64>,
    }

    #[test]
    fn decodes_what_the_standard_collections_encode() {
        let map = BTreeMap::from([("a".to_string(), 1u64), ("b".to_string(), 2)]);
        let sets = BTreeMap::from([("s".to_string(), BTreeSet::from([3u32, 1, 2]))]);
        let hash = std::collections::HashMap::from([("h".to_string(), 9u64)]);
        let bytes = bincode::serialize(&(&map, &sets, &hash)).expect("encode");
        let t: Tables = bincode::deserialize(&bytes).expect("decode");
        assert_eq!(t.map.iter().collect::<Vec<_>>(), map.iter().collect::<Vec<_>>());
        let s: Vec<u32> = t.sets["s"].iter().copied().collect();
        assert_eq!(s, vec![1, 2, 3]);
        assert_eq!(t.hash.get("h"), Some(&9));
        // And encode the same bytes back.
        let again = bincode::serialize(&(&t.map, &t.sets, &t.hash)).expect("encode");
        assert_eq!(again, bytes);
    }

    #[test]
    fn a_corrupt_length_is_an_error_not_an_abort() {
        // A map claiming u64::MAX entries, then nothing.
        let bytes = u64::MAX.to_le_bytes();
        let mut de = bincode::Deserializer::from_slice(&bytes, bincode::options().with_fixint_encoding());
        assert!(ord_map::<_, String, u64>(&mut de).is_err());
        let mut de = bincode::Deserializer::from_slice(&bytes, bincode::options().with_fixint_encoding());
        assert!(ord_map_of_sets::<_, String, u32>(&mut de).is_err());
        let mut de = bincode::Deserializer::from_slice(&bytes, bincode::options().with_fixint_encoding());
        assert!(hash_map::<_, String, u64>(&mut de).is_err());
    }
}
