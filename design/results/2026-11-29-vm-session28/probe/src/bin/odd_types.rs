//! Entries with unusual layouts: 4096-byte alignment, zero-sized keys and values, 200 KB values,
//! heap-owning keys and values written by four threads; and a clone of the last.
use hmap::ConcurrentHashMap;

#[repr(align(4096))]
#[derive(Clone, Debug, PartialEq)]
struct Big(u64);

fn main() {
    let m: ConcurrentHashMap<u64, Big> = ConcurrentHashMap::new();
    for i in 0..20000u64 {
        m.pin().insert(i, Big(i));
    }
    for i in 0..20000u64 {
        let p = m.pin();
        let v = p.get(&i).unwrap();
        assert_eq!(v.0, i);
        assert_eq!(core::ptr::from_ref(v).addr() % 4096, 0);
    }
    for i in 0..20000u64 {
        m.pin().remove(&i);
    }
    println!("align 4096 ok, len {}", m.len());
    let m: ConcurrentHashMap<(), ()> = ConcurrentHashMap::new();
    assert!(m.pin().insert((), ()).is_none());
    assert!(m.pin().insert((), ()).is_some());
    assert_eq!(m.len(), 1);
    println!("zero-sized ok");
    let m: ConcurrentHashMap<u32, [u8; 200_000]> = ConcurrentHashMap::new();
    for i in 0..50u32 {
        m.pin().insert(i, [i as u8; 200_000]);
    }
    for i in 0..50u32 {
        assert_eq!(m.pin().get(&i).unwrap()[199_999], i as u8);
    }
    println!("200 KB values ok, len {}", m.len());
    let m: ConcurrentHashMap<String, Vec<String>> = ConcurrentHashMap::new();
    std::thread::scope(|s| {
        for t in 0..4 {
            let m = &m;
            s.spawn(move || {
                for i in 0..20000 {
                    let k = format!("{}", i % 3000);
                    let p = m.pin();
                    if i % 2 == 0 {
                        p.insert(k, vec![format!("{t}")]);
                    } else {
                        p.update(&k, |v| {
                            let mut v = v.clone();
                            v.push("x".into());
                            v.truncate(4);
                            v
                        });
                    }
                }
            });
        }
    });
    let copy = m.clone();
    assert!(copy == m);
    println!("strings ok, len {}; clone equal", m.len());
}
