// Lockstep tracer for tests/go_parity/trace.rs: runs a workload on a real Go map
// (map[uint64]uint64, or map[string]uint64 for the *_str workloads; Go's classic hmap, go1.21 to
// go1.23, whose layouts are the same) and prints, for every operation, the key's hash as the map
// computed it, the operation's result and the map's header read through unsafe;
// at checkpoints also a digest of every bucket's tophash bytes, keys and values, chain by chain.
//
// The Rust side (built with `--cfg hmap_go_hash`, which makes `hmap::HashMap` use its hasher's
// output unmixed) replays the same operations with a hasher that returns these hashes, and must
// reproduce the header after every operation and the digest at every checkpoint.
//
// Usage: go run main.go <workload> <seed> <ops>
//
// The workload `syncmap` traces a sync.Map instead (see traceSyncMap).
//
// Output, one line per operation:
//
//	<op> <key> <hash> <result> | <count> <B> <sameSizeGrow> <noverflow> <nevacuate> <growing> <digest or ->
//
// op: i (insert or update: m[key] = result), d (delete; result 1 if the key was there), g (get;
// result the value or -), r (range over the map, see iterate), k (a range loop that deletes,
// see retain), c (clear(m); key and hash 0).
// Numbers in decimal; digest in hex; string keys as they are (they have no spaces).
// The first line is `go <version> B0=<B after make> hint=<hint> keys=<uint64|string>`; the last
// is `end`.
package main

import (
	"bufio"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

// hmap mirrors runtime.hmap (go-hmap-spec.md §2.1; offsets 0/8/9/10/12/16/24/32/40).
type hmap struct {
	count      int
	flags      uint8
	B          uint8
	noverflow  uint16
	hash0      uint32
	buckets    unsafe.Pointer
	oldbuckets unsafe.Pointer
	nevacuate  uintptr
	extra      unsafe.Pointer
}

// bmap is the compiler's bucket for map[K]uint64 (§2.3): 144 bytes for uint64 keys, 208 for
// strings. The compiler types the overflow field as a uintptr when the bucket holds no
// pointers (uint64 keys); it has the size of a pointer either way, and the tracer only reads it.
type bmap[K mapKey] struct {
	tophash  [8]uint8
	keys     [8]K
	elems    [8]uint64
	overflow *bmap[K]
}

// mapKey: the key types the tracer runs.
type mapKey interface{ uint64 | string }

const (
	emptyRest      = 0
	emptyOne       = 1
	minTopHash     = 5
	sameSizeGrow   = 8
	mapTypeHasher  = 72 // offset of abi.MapType.Hasher (after the 48-byte abi.Type, Key, Elem, Bucket)
	mapTypeKeySize = 80
)

type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

type hasherFunc = func(unsafe.Pointer, uintptr) uintptr

func header[K mapKey](m map[K]uint64) *hmap { return *(**hmap)(unsafe.Pointer(&m)) }

// mapHasher is the hash function of map[K]uint64, read from its type descriptor and checked
// against the layout the compiler gives the map type.
func mapHasher[K mapKey](m map[K]uint64) hasherFunc {
	var i any = m
	typ := (*eface)(unsafe.Pointer(&i)).typ
	keySize := *(*uint8)(unsafe.Add(typ, mapTypeKeySize))
	valueSize := *(*uint8)(unsafe.Add(typ, mapTypeKeySize+1))
	bucketSize := *(*uint16)(unsafe.Add(typ, mapTypeKeySize+2))
	var k K
	if uintptr(keySize) != unsafe.Sizeof(k) || valueSize != 8 || bucketSize != uint16(unsafe.Sizeof(bmap[K]{})) {
		fail("unexpected map type layout: key %d value %d bucket %d", keySize, valueSize, bucketSize)
	}
	return *(*hasherFunc)(unsafe.Add(typ, mapTypeHasher))
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "go tracer: "+format+"\n", args...)
	os.Exit(2)
}

// splitmix64, the workload's random source.
type rng struct{ state uint64 }

func (r *rng) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *rng) below(n uint64) uint64 { return r.next() % n }

// FNV-1a, 64-bit, over the canonical image of the buckets.
type digest uint64

// newDigest: FNV-1a's offset basis.
func newDigest() digest { return 0xcbf29ce484222325 }

func (d *digest) byte(b uint8) {
	*d ^= digest(b)
	*d *= 0x100000001b3
}

func (d *digest) u64(v uint64) {
	for i := 0; i < 8; i++ {
		d.byte(uint8(v >> (8 * i)))
	}
}

// key: a uint64 key as u64 does; a string as its length (u64) and then its bytes.
func (d *digest) key(k any) {
	switch k := k.(type) {
	case uint64:
		d.u64(k)
	case string:
		d.u64(uint64(len(k)))
		for i := 0; i < len(k); i++ {
			d.byte(k[i])
		}
	default:
		fail("unexpected key type %T", k)
	}
}

func keyText(k any) string {
	switch k := k.(type) {
	case uint64:
		return strconv.FormatUint(k, 10)
	case string:
		return k
	}
	fail("unexpected key type %T", k)
	return ""
}

func chain[K mapKey](d *digest, b *bmap[K]) {
	for ; b != nil; b = b.overflow {
		d.byte('B')
		for i := 0; i < 8; i++ {
			top := b.tophash[i]
			d.byte(top)
			if top >= minTopHash {
				d.key(b.keys[i])
				d.u64(b.elems[i])
			}
		}
	}
}

// oldBucketCount: the length of a growing map's old array (half the new one, or the same for a
// same-size growth).
func oldBucketCount(h *hmap) uintptr {
	if h.flags&sameSizeGrow != 0 {
		return uintptr(1) << h.B
	}
	return uintptr(1) << (h.B - 1)
}

// imageDigest: the current array, chain by chain; then, while growing, the old array, where an
// evacuated chain is the byte 'E' (its contents are Go's business: marks, cleared slots).
func imageDigest[K mapKey](h *hmap) digest {
	d := newDigest()
	if h.buckets == nil {
		d.byte('N')
		return d
	}
	d.byte('A')
	for i := uintptr(0); i < uintptr(1)<<h.B; i++ {
		chain(&d, (*bmap[K])(unsafe.Add(h.buckets, i*unsafe.Sizeof(bmap[K]{}))))
	}
	if h.oldbuckets != nil {
		d.byte('O')
		for i := uintptr(0); i < oldBucketCount(h); i++ {
			b := (*bmap[K])(unsafe.Add(h.oldbuckets, i*unsafe.Sizeof(bmap[K]{})))
			if top := b.tophash[0]; top > emptyOne && top < minTopHash {
				d.byte('E')
			} else {
				chain(&d, b)
			}
		}
	}
	return d
}

type tracer[K mapKey] struct {
	m      map[K]uint64
	hash   hasherFunc
	out    *bufio.Writer
	lastB  uint8
	lastGr bool
	since  int // operations since the last digest
	// for growthIterations: whether the running growth has had its mid-growth iteration, and
	// whether the map was growing after the previous operation
	midDone, wasGrowing bool
	// digestNow: the next state() prints a digest (after a retain, whose effect on the
	// buckets later operations could hide).
	digestNow bool
}

// growthIterations ranges over the map (see iterate) once in the middle of each growth, when
// half its old buckets are evacuated, and once right after the growth ends: iterations at every
// B, in both states. Called after each operation of the grow and churn workloads.
func (t *tracer[K]) growthIterations() {
	h := header(t.m)
	growing := h.oldbuckets != nil
	if growing && !t.midDone {
		if h.nevacuate >= oldBucketCount(h)/2 {
			t.midDone = true
			t.iterate()
		}
	} else if !growing && t.wasGrowing {
		t.midDone = false
		t.iterate()
	}
	t.wasGrowing = growing // iterate changes no growth state
}

func (t *tracer[K]) hashOf(key K) uint64 {
	return uint64(t.hash(unsafe.Pointer(&key), uintptr(header(t.m).hash0)))
}

// state prints the header after an operation and, at checkpoints, the digest: after every
// operation while the map has at most 64 buckets, whenever B or the growth state changed, while
// a growth's mark is below 32, after every retain, and otherwise once every 2^B/16 operations
// (from B = 15 on: no early ones, and once every 2^B operations).
func (t *tracer[K]) state() {
	h := header(t.m)
	growing := h.oldbuckets != nil
	fmt.Fprintf(t.out, " | %d %d %d %d %d %d ", h.count, h.B, h.flags&sameSizeGrow, h.noverflow, h.nevacuate, b2i(growing))
	t.since++
	small := h.B <= 6
	changed := h.B != t.lastB || growing != t.lastGr
	// From B = 15 on a digest walks 2^15 buckets or more on both sides: fewer of them.
	large := h.B >= 15
	early := growing && h.nevacuate < 32 && !large
	interval := (1 << h.B) / 16
	if large {
		interval = 1 << h.B
	}
	if small || changed || early || t.since >= interval || t.digestNow {
		t.digestNow = false
		fmt.Fprintf(t.out, "%x\n", uint64(imageDigest[K](h)))
		t.since = 0
	} else {
		fmt.Fprintf(t.out, "-\n")
	}
	t.lastB, t.lastGr = h.B, growing
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (t *tracer[K]) insert(key K, value uint64) {
	// The hash before the write: an insert never renews hash0.
	fmt.Fprintf(t.out, "i %s %d %d", keyText(key), t.hashOf(key), value)
	t.m[key] = value
	t.state()
}

func (t *tracer[K]) delete(key K) {
	hash := t.hashOf(key) // before the delete, which renews hash0 if it empties the map
	_, ok := t.m[key]
	fmt.Fprintf(t.out, "d %s %d %d", keyText(key), hash, b2i(ok))
	delete(t.m, key)
	t.state()
}

func (t *tracer[K]) get(key K) {
	v, ok := t.m[key]
	res := "-"
	if ok {
		res = strconv.FormatUint(v, 10)
	}
	fmt.Fprintf(t.out, "g %s %d %s", keyText(key), t.hashOf(key), res)
	t.state()
}

// mapIter mirrors reflect.MapIter in go1.21 to go1.23: the map Value (3 words), then the
// runtime's hiter, whose startBucket is its 9th word and offset the byte after it
// (go-hmap-spec.md §2.5).
type mapIter struct {
	m           [3]uintptr
	hiterPtrs   [8]unsafe.Pointer
	startBucket uintptr
	offset      uint8
	wrapped     bool
	B           uint8
}

// iterate ranges over the whole map (reflect's MapRange: the runtime's mapiterinit and
// mapiternext, as a for-range loop uses) and prints `r 0 0 <draw>/<count>/<digest>`: the random
// draw the iteration started from, rebuilt from startBucket and offset (startBucket | offset<<B),
// the entries seen, and FNV-1a over their keys and values in order. During a growth the order is
// one the mirror does not follow (D11), so that case prints `r 0 0 growing/<count>/<sum>`: the
// entries seen and the wrapping sum of each entry's own FNV-1a digest, which does not depend on
// the order but still tells whether the same entries came, each once.
func (t *tracer[K]) iterate() {
	h := header(t.m)
	if h.oldbuckets != nil {
		count, sum := 0, uint64(0)
		for k, v := range t.m {
			d := newDigest()
			d.key(k)
			d.u64(v)
			count++
			sum += uint64(d)
		}
		fmt.Fprintf(t.out, "r 0 0 growing/%d/%x", count, sum)
		t.state()
		return
	}
	it := reflect.ValueOf(t.m).MapRange()
	mi := (*mapIter)(unsafe.Pointer(it))
	d := newDigest()
	count := 0
	var draw uint64
	for it.Next() {
		if count == 0 {
			if mi.B != h.B || mi.startBucket >= uintptr(1)<<h.B {
				fail("reflect.MapIter layout is not the one expected")
			}
			draw = uint64(mi.startBucket) | uint64(mi.offset)<<h.B
		}
		count++
		d.key(it.Key().Interface())
		d.u64(it.Value().Uint())
	}
	fmt.Fprintf(t.out, "r 0 0 %d/%d/%x", draw, count, uint64(d))
	t.state()
}

// retain is Go's idiom for HashMap::retain: a range loop that deletes the entries whose value
// is rem modulo mod. Printed as `k <mod> <rem> <entries deleted>`, or `k <mod> <rem> growing`
// without deleting anything during a growth, where Go's deletes evacuate and the mirror's
// retain does not (D18).
func (t *tracer[K]) retain(mod, rem uint64) {
	if header(t.m).oldbuckets != nil {
		fmt.Fprintf(t.out, "k %d %d growing", mod, rem)
		t.state()
		return
	}
	deleted := 0
	for k, v := range t.m {
		if v%mod == rem {
			delete(t.m, k)
			deleted++
		}
	}
	fmt.Fprintf(t.out, "k %d %d %d", mod, rem, deleted)
	t.digestNow = true
	t.state()
}

func (t *tracer[K]) clear() {
	fmt.Fprintf(t.out, "c 0 0 0")
	clear(t.m)
	t.state()
}

func main() {
	if len(os.Args) != 4 {
		fail("usage: main.go <grow|churn|churn_large|mixed|syncmap>[_str] <seed> <ops>")
	}
	workload := os.Args[1]
	seed, err1 := strconv.ParseUint(os.Args[2], 10, 64)
	ops, err2 := strconv.Atoi(os.Args[3])
	if err1 != nil || err2 != nil || ops < 0 {
		fail("bad seed or operation count")
	}
	r := &rng{state: seed}
	if workload == "syncmap" {
		traceSyncMap(r, ops)
		return
	}
	if base, ok := strings.CutSuffix(workload, "_str"); ok {
		run(base, r, ops, stringKey, "string")
	} else {
		run(workload, r, ops, func(n uint64) uint64 { return n }, "uint64")
	}
}

// stringKey: the string key for a workload's number n, distinct for distinct n, 1 to 32 bytes
// (base 36, then 0 to 19 underscores).
func stringKey(n uint64) string {
	return strconv.FormatUint(n, 36) + strings.Repeat("_", int(n%20))
}

// run runs a workload on a map[K]uint64 whose keys key(n) makes from the workload's numbers.
func run[K mapKey](workload string, r *rng, ops int, key func(uint64) K, keyType string) {
	hint := 0
	switch workload {
	case "mixed":
		if r.below(2) == 0 {
			hint = int(r.below(4096))
		}
	}
	var m map[K]uint64
	if hint == 0 {
		m = make(map[K]uint64)
	} else {
		m = make(map[K]uint64, hint)
	}
	out := bufio.NewWriterSize(os.Stdout, 1<<16)
	defer out.Flush()
	t := &tracer[K]{m: m, hash: mapHasher(m), out: out, lastB: header(m).B}
	fmt.Fprintf(out, "go %s B0=%d hint=%d keys=%s\n", runtime.Version(), header(m).B, hint, keyType)

	switch workload {
	case "grow":
		// Distinct random keys, inserts only: every doubling, B up to 14 for 100K keys.
		for n := 0; n < ops; n++ {
			t.insert(key(r.next()), uint64(n))
			t.growthIterations()
		}
	case "churn", "churn_large":
		// Go's same-size growth experiment (spec §6.4): a window of live keys; each step
		// deletes the oldest and inserts a new one, so deletes leave overflow buckets behind.
		// churn_large: windows of 5000-6600 keys (B = 10, near its load factor), whose
		// same-size growths last hundreds of operations.
		window := 8 + int(r.below(400))
		if workload == "churn_large" {
			window = 5000 + int(r.below(1600))
		}
		var live []K
		for n := 0; n < ops; n++ {
			if len(live) >= window {
				t.delete(live[0])
				live = live[1:]
			}
			k := key(r.next())
			live = append(live, k)
			t.insert(k, uint64(n))
			t.growthIterations()
		}
	case "mixed":
		// Random writes and reads over a key space of random size (hits, misses, reused
		// slots, maps that empty out and renew hash0), now and then clear(m).
		space := 16 + r.below(20000)
		keyOf := func() K { return key(r.below(space)) }
		for n := 0; n < ops; n++ {
			switch p := r.below(1000); {
			case p < 470:
				t.insert(keyOf(), uint64(n))
			case p < 820:
				t.delete(keyOf())
			case p < 993:
				t.get(keyOf())
			case p < 995:
				mod := 2 + r.below(5)
				t.retain(mod, r.below(mod))
			case p < 999:
				t.iterate()
			default:
				t.clear()
			}
		}
	default:
		fail("unknown workload %q", workload)
	}
	fmt.Fprintln(out, "end")
}

// syncMap mirrors sync.Map in go1.21 to go1.23 (src/sync/map.go): mu Mutex (8 bytes), read
// atomic.Pointer[readOnly], dirty map[any]*entry, misses int.
type syncMap struct {
	mu     [8]byte
	read   *readOnly
	dirty  map[any]*entry
	misses int
}

type readOnly struct {
	m       map[any]*entry
	amended bool
}

// entry mirrors sync's entry: p is nil (deleted), sync's `expunged` (a pointer to a nil `any`;
// the values traced are never nil interfaces) or a pointer to the value.
type entry struct{ p unsafe.Pointer }

// syncState prints what SyncMapStats reports: len(read.m), its deleted and expunged entries,
// len(dirty) or -1 for nil, read.amended, misses.
func syncState(out *bufio.Writer, m *sync.Map) {
	sm := (*syncMap)(unsafe.Pointer(m))
	readLen, deleted, expunged, amended := 0, 0, 0, false
	if sm.read != nil {
		readLen, amended = len(sm.read.m), sm.read.amended
		for _, e := range sm.read.m {
			switch {
			case e.p == nil:
				deleted++
			case *(*any)(e.p) == nil:
				expunged++
			}
		}
	}
	dirty := -1
	if sm.dirty != nil {
		dirty = len(sm.dirty)
	}
	fmt.Fprintf(out, " | %d %d %d %d %d %d\n", readLen, deleted, expunged, dirty, b2i(amended), sm.misses)
}

func value(v any, ok bool) string {
	if !ok {
		return "-"
	}
	return strconv.FormatUint(v.(uint64), 10)
}

// traceSyncMap runs random operations of every kind the toolchain's sync.Map has over a small
// key space and prints, per operation, `<op> <key> <a> <b> <result> | <state>`: a and b are the
// operation's values (0 when unused), the result as documented at each case. go1.23 added
// Clear, which is looked up through reflect so that the same source builds with go1.22; with
// it, one draw in a hundred clears the map instead of ranging over it.
func traceSyncMap(r *rng, ops int) {
	out := bufio.NewWriterSize(os.Stdout, 1<<16)
	defer out.Flush()
	fmt.Fprintf(out, "go %s syncmap\n", runtime.Version())
	var m sync.Map
	clearMethod := reflect.ValueOf(&m).MethodByName("Clear")
	space := 4 + r.below(200)
	for n := 0; n < ops; n++ {
		k, a, b := r.below(space), r.below(6), r.below(6)
		var res string
		switch p := r.below(100); {
		case p < 30: // Load: the value or -
			res = value(m.Load(k))
			fmt.Fprintf(out, "load %d 0 0 %s", k, res)
		case p < 42: // Store: -
			m.Store(k, a)
			fmt.Fprintf(out, "store %d %d 0 -", k, a)
		case p < 52: // LoadOrStore: the value returned, slash, loaded
			v, loaded := m.LoadOrStore(k, a)
			fmt.Fprintf(out, "load_or_store %d %d 0 %d/%d", k, a, v.(uint64), b2i(loaded))
		case p < 60: // LoadAndDelete: the value or -
			fmt.Fprintf(out, "load_and_delete %d 0 0 %s", k, value(m.LoadAndDelete(k)))
		case p < 67: // Delete: -
			m.Delete(k)
			fmt.Fprintf(out, "delete %d 0 0 -", k)
		case p < 75: // Swap: the previous value or -
			fmt.Fprintf(out, "swap %d %d 0 %s", k, a, value(m.Swap(k, a)))
		case p < 85: // CompareAndSwap(k, old a, new b): 1 if swapped
			fmt.Fprintf(out, "compare_and_swap %d %d %d %d", k, a, b, b2i(m.CompareAndSwap(k, a, b)))
		case p < 95: // CompareAndDelete(k, old a): 1 if deleted
			fmt.Fprintf(out, "compare_and_delete %d %d 0 %d", k, a, b2i(m.CompareAndDelete(k, a)))
		case p == 99 && clearMethod.IsValid(): // Clear (go1.23): -
			clearMethod.Call(nil)
			fmt.Fprintf(out, "clear 0 0 0 -")
		default: // Range over everything: entries seen, slash, the sum of key*8+value
			count, sum := 0, uint64(0)
			m.Range(func(key, v any) bool {
				count++
				sum += key.(uint64)*8 + v.(uint64)
				return true
			})
			fmt.Fprintf(out, "range 0 0 0 %d/%d", count, sum)
		}
		syncState(out, &m)
	}
	fmt.Fprintln(out, "end")
}
