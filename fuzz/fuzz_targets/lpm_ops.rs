//! LPM insert/remove/lookup sequences decoded from bytes, checked against a naive oracle: IPv4
//! (the multibit trie) when the first byte is even, IPv6 (the range trees) when it is odd.
#![no_main]
use std::collections::HashMap;

use fib::{Key, Lpm};
use libfuzzer_sys::fuzz_target;

/// Applies `ops` (op byte, key, length byte) to a table and to per-length maps, comparing every
/// answer.
fn check<K: Key>(ops: impl Iterator<Item = (u8, K, u8)>) {
    let mut t = Lpm::<K>::new();
    let mut oracle: Vec<HashMap<K, u32>> = vec![HashMap::new(); K::BITS as usize + 1];
    for (op, key, len) in ops {
        let len = len % (K::BITS as u8 + 1);
        match op % 3 {
            0 => {
                let nh = u32::from(op / 3);
                assert_eq!(t.insert(key, len, nh).unwrap(), oracle[len as usize].insert(key.mask(len), nh));
            }
            1 => assert_eq!(t.remove(key, len).unwrap(), oracle[len as usize].remove(&key.mask(len))),
            _ => {
                let want = (0..=K::BITS as u8).rev().find_map(|l| oracle[l as usize].get(&key.mask(l)).copied());
                assert_eq!(t.lookup(key), want);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&family, data)) = data.split_first() else { return };
    if family % 2 == 0 {
        check(data.chunks_exact(6).map(|op| (op[0], u32::from_be_bytes([op[1], op[2], op[3], op[4]]), op[5])));
    } else {
        // Keys share their first 16 bits (2001::/16) so that routes meet in the same chunks.
        check(data.chunks_exact(16).map(|op| {
            let mut k = [0u8; 16];
            k[0] = 0x20;
            k[1] = 0x01;
            k[2..16].copy_from_slice(&op[1..15]);
            (op[0], u128::from_be_bytes(k), op[15])
        }));
    }
});
