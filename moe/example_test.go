package moe_test

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/moe"
	"github.com/moeboost/moeboost/train/backend"
)

// A MomentumSMoE layer in the FFN slot of a two-block pre-LN transformer stack: the momentum
// buffer travels from block to block in the stack's carry.
func Example() {
	fmt.Println(moe.Names())
	ffn, err := moe.New("momentum", moe.Config{NumExperts: 4, TopK: 2})
	if err != nil {
		panic(err)
	}
	cfg := layers.BlockConfig{DModel: 8, NumHeads: 2, FFN: ffn, Causal: true}
	store := model.NewStore()
	_ = store.SetRNGStateFromSeed(1)
	x := tensors.FromFlatDataAndDimensions(make([]float32, 2*5*8), 2, 5, 8) // [batch, seq, d]
	y, err := model.ExecOnce(backend.MustDefault(), store, func(scope *model.Scope, x *graph.Node) *graph.Node {
		return layers.Stack(scope, x, 2, cfg)
	}, x)
	if err != nil {
		panic(err)
	}
	fmt.Println(y.Shape())

	_, err = moe.New("smoe", moe.Config{NumExperts: 4, TopK: 5})
	fmt.Println(err)
	// Output:
	// [adam adamoe expert_choice momentum robust smoe]
	// (Float32)[2, 5, 8]
	// moe: top_k=5 must be in [1, num_experts=4]
}
