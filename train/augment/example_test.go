package augment_test

import (
	"fmt"

	"github.com/moeboost/moeboost/train/augment"
)

func Example() {
	// One 3×3 grayscale image in [0, 10], shifted one pixel left (the fill is Lo = 0).
	f := augment.Format{Height: 3, Width: 3, Lo: 0, Hi: 10}
	img := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	out := make([]float32, 9)
	augment.TranslateX(out, img, f, 1, augment.Nearest)
	fmt.Println(out)

	// RandAugment on a batch of two digits images, deterministic given the seed.
	ra, _ := augment.New("randaugment", augment.Digits, augment.Config{N: 2, M: 9})
	batch := make([]float32, 2*64)
	for i := range batch {
		batch[i] = float32(i % 17)
	}
	a := append([]float32(nil), batch...)
	b := append([]float32(nil), batch...)
	_ = ra.Augment(a, 1)
	_ = ra.Augment(b, 1)
	fmt.Println(ra, fmt.Sprint(a) == fmt.Sprint(b), augment.Names())
	// Output:
	// [2 3 0 5 6 0 8 9 0]
	// randaugment(N=2, M=9) true [identity randaugment]
}
