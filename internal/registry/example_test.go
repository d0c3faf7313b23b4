package registry_test

import (
	"fmt"

	"github.com/moeboost/moeboost/internal/registry"
)

func Example() {
	shapes := registry.New[func() int]("shape")
	shapes.Register("square", func() int { return 4 })
	shapes.Register("triangle", func() int { return 3 })
	f, _ := shapes.Get("square")
	fmt.Println(shapes.Names(), f())
	_, err := shapes.Get("circle")
	fmt.Println(err)
	// Output:
	// [square triangle] 4
	// unknown shape "circle": known shapes are "square", "triangle"
}
