package data_test

import (
	"fmt"

	"github.com/moeboost/moeboost/train/data"
)

func ExampleBuiltin() {
	t, _ := data.Builtin("digits")
	train, test, _ := t.Split(0.2, 7)
	fmt.Println(t.N, t.D, t.Task, t.NumClasses, train.N, test.N)
	// Output: 1797 64 classification 10 1438 359
}
