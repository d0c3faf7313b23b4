package optimizers

import (
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph-building code reads best unqualified.
)

// ClipByGlobalNorm rescales every update by c = min(maxNorm/(G + eps), 1), where
// G = √(Σ over all parameters of ‖U‖²) (Pascanu et al. 2013; Adan's max_grad_norm with the
// group's eps). maxNorm <= 0 disables it.
func ClipByGlobalNorm(maxNorm, eps float64) Transform {
	return Func("clip_by_global_norm", func(u *Update) {
		if maxNorm <= 0 {
			return
		}
		var total *Node
		for _, p := range u.Params {
			s := sumSq(p.U)
			if total == nil {
				total = s
			} else {
				total = Add(total, s)
			}
		}
		c := Min(Div(u.Const(maxNorm), Add(Sqrt(total), u.Const(eps))), u.Const(1)) // c = min(max/(G+ε), 1)
		for _, p := range u.Params {
			p.U = Mul(p.U, c)
		}
	})
}

// ClipSpikes is SPAM's spike clipping: entries whose square exceeds θ times the second moment
// held in state vState (before this step's moment update) are replaced by sign(g)·√(θ·v):
//
//	g_i ← sign(g_i)·√(θ·v_i)  where g_i² > θ·v_i
//
// active (a boolean scalar node, nil for always) gates it per step.
func ClipSpikes(theta float64, vState string, active func(u *Update) *Node) Transform {
	return PerParam("clip_spikes", func(u *Update, p *Param) {
		if theta == 0 {
			return
		}
		v := u.State(p, vState).Value()
		th := u.Const(theta)
		mask := GreaterThan(Square(p.U), Mul(th, v)) // g² > θ·v
		if active != nil {
			mask = LogicalAnd(mask, BroadcastToShape(active(u), mask.Shape()))
		}
		p.U = Where(mask, Mul(Sign(p.U), Sqrt(Mul(v, th))), p.U) // sign(g)·√(θ·v)
	})
}
