package trees

import "math"

// floatKey maps a float32 to a uint32 whose unsigned order is the float order (-0 < +0 is
// harmless here: only the bin boundaries matter and thresholds compare with <).
func floatKey(v float32) uint32 {
	u := math.Float32bits(v)
	if u&0x80000000 != 0 {
		return ^u
	}
	return u | 0x80000000
}

// radixSortIdx sorts keys ascending (LSD radix, 4 passes of 8 bits), permuting idx along; tmpK
// and tmpI are scratch of the same length. The result is in keys/idx.
func radixSortIdx(keys []uint32, idx []int32, tmpK []uint32, tmpI []int32) {
	n := len(keys)
	src, dst := keys, tmpK[:n]
	si, di := idx, tmpI[:n]
	var count [256]int
	for shift := uint(0); shift < 32; shift += 8 {
		clear(count[:])
		for _, k := range src {
			count[(k>>shift)&0xff]++
		}
		if count[(src[0]>>shift)&0xff] == n {
			continue // all keys share this byte
		}
		pos := 0
		for i, c := range count {
			count[i] = pos
			pos += c
		}
		for i, k := range src {
			b := (k >> shift) & 0xff
			p := count[b]
			count[b]++
			dst[p] = k
			di[p] = si[i]
		}
		src, dst = dst, src
		si, di = di, si
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
		copy(idx, si)
	}
}
