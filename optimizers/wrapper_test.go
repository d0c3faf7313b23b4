package optimizers_test

import (
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph-building code reads best unqualified.
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/stretchr/testify/require"
)

// bare is an optimizer that neither names itself nor accepts gradients.
type bare struct{}

func (bare) UpdateGraph(*model.Scope, *Graph, *Node) {}
func (bare) Clear(*model.Scope) error                { return nil }

func TestWrapperDelegates(t *testing.T) {
	scope := model.NewStore().RootScope()
	inner, err := optimizers.New(scope, "adamw")
	require.NoError(t, err)
	w := optimizers.NewWrapper("x+", inner)
	require.Equal(t, "x+adamw", w.Name())
	require.True(t, w.AcceptsGradients())
	require.Same(t, inner, w.Inner())
	require.Equal(t, inner.(interface{ StatePaths() []string }).StatePaths(), w.StatePaths())
	require.Equal(t, inner.(interface{ DefaultLearningRate() float64 }).DefaultLearningRate(), w.DefaultLearningRate())

	b := optimizers.NewWrapper("x+", bare{})
	require.Equal(t, "x+?", b.Name())
	require.False(t, b.AcceptsGradients())
	require.Nil(t, b.StatePaths())
	require.Equal(t, 0.0, b.DefaultLearningRate())
	require.PanicsWithError(t, "optimizer x+?: the inner optimizer optimizers_test.bare does not accept gradients", func() {
		b.StepWithGradients(scope, nil, 0, nil)
	})
	_, err = optimizers.NewPerpGrad(bare{})
	require.ErrorContains(t, err, "does not accept gradients")
}
