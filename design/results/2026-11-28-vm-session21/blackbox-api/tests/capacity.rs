//! with_capacity / with_capacity_and_hasher with huge values, each in a child process (so an
//! abort is observed, not fatal): clear panic "capacity overflow", or an allocation-failure abort.
use hmap::ConcurrentHashMap;
use std::process::Command;

fn child(cap: usize, hasher: bool) {
    let r = std::panic::catch_unwind(|| {
        if hasher {
            let m: ConcurrentHashMap<u64, u64, bb4::MaskHB> = ConcurrentHashMap::with_capacity_and_hasher(cap, bb4::MaskHB(0));
            m.pin().insert(1, 2); assert_eq!(m.pin().get(&1), Some(&2)); m.log2_buckets()
        } else {
            let m: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::with_capacity(cap);
            m.pin().insert(1, 2); assert_eq!(m.pin().get(&1), Some(&2)); m.log2_buckets()
        }
    });
    match r { Ok(b) => println!("RESULT ok log2={b}"), Err(e) => println!("RESULT panic {:?}", bb4::panic_msg(&e)) }
}

#[test]
fn huge_capacities() {
    if let Ok(c) = std::env::var("BB4_CAP") { child(c.parse().unwrap(), std::env::var("BB4_H").is_ok()); return; }
    let exe = std::env::current_exe().unwrap();
    let caps: Vec<usize> = vec![usize::MAX, usize::MAX - 1, usize::MAX / 2, 1 << 62, 1 << 60, 1 << 59, 1 << 58, 1 << 57, 1 << 50, 1 << 45, 1 << 40, 1 << 36, 1 << 28];
    let mut bad = vec![];
    for &c in &caps { for h in [false, true] {
        let mut cmd = Command::new(&exe);
        cmd.args(["huge_capacities", "--exact", "--nocapture", "--test-threads", "1"]).env("BB4_CAP", c.to_string());
        if h { cmd.env("BB4_H", "1"); }
        let t = std::time::Instant::now();
        let out = cmd.output().unwrap();
        let so = String::from_utf8_lossy(&out.stdout); let se = String::from_utf8_lossy(&out.stderr);
        let res = so.lines().find(|l| l.contains("RESULT")).map(|l| l[l.find("RESULT").unwrap()..].to_string())
            .unwrap_or_else(|| format!("NO RESULT status {:?} stderr {:?}", out.status, se.lines().filter(|l| l.contains("panicked") || l.contains("memory") || l.contains("overflow")).collect::<Vec<_>>()));
        eprintln!("cap {c:#x} hasher {h}: {res} ({:?})", t.elapsed());
        if !(res.contains("capacity overflow") || res.contains("RESULT ok")) { bad.push((c, h, res)); }
    } }
    eprintln!("not a clean panic: {bad:#?}");
}
