//! LPM insert/remove/lookup sequences decoded from bytes, checked against a naive oracle.
#![no_main]
use std::collections::HashMap;

use fib::{Key, Lpm};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut t = Lpm::<u32>::new();
    let mut oracle: Vec<HashMap<u32, u32>> = vec![HashMap::new(); 33];
    for op in data.chunks_exact(6) {
        let key = u32::from_be_bytes([op[1], op[2], op[3], op[4]]);
        let len = op[5] % 33;
        match op[0] % 3 {
            0 => {
                let nh = u32::from(op[0] / 3);
                assert_eq!(t.insert(key, len, nh).unwrap(), oracle[len as usize].insert(key.mask(len), nh));
            }
            1 => assert_eq!(t.remove(key, len).unwrap(), oracle[len as usize].remove(&key.mask(len))),
            _ => {
                let want = (0..=32u8).rev().find_map(|l| oracle[l as usize].get(&key.mask(l)).copied());
                assert_eq!(t.lookup(key), want);
            }
        }
    }
});
