package optimizers

import (
	"fmt"

	"github.com/gomlx/gomlx/ml/train/optimizer"
)

// InjectProjectors makes a Fira optimizer use the given projectors (by variable path, row-major
// values) instead of computing them at its first refresh: the golden vectors record the exact
// float32-SVD projectors of the reference, so injecting them isolates the rest of the rule.
func InjectProjectors(opt optimizer.Interface, proj map[string][]float64) error {
	o, ok := opt.(*Optimizer)
	if !ok || o.injected == nil {
		return fmt.Errorf("optimizer %T does not take injected projectors", opt)
	}
	for k, v := range proj {
		o.injected[k] = v
	}
	return nil
}
