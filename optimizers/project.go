package optimizers

import (
	"math"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph-building code reads best unqualified.
)

// ProjectRadial is AdamP/SGDP's projection (Heo et al., ICLR 2021; clovaai/AdamP
// `_projection`): for parameters with more than one axis, when the raw gradient g is nearly
// orthogonal to the weights w (a scale-invariant weight), the radial component of the update is
// removed and the weight decay is scaled by wdRatio.
//
// Two views are tried in order, the channel view (rows = first axis, each row of length d) and
// the layer view (the whole tensor as one row of length n):
//
//	cos_i = |⟨g_i, w_i⟩| / max(‖g_i‖·‖w_i‖, ε);   fires if max_i cos_i < δ/√d
//	ŵ_i = w_i/(‖w_i‖ + ε);   U_i ← U_i − ŵ_i·⟨ŵ_i, U_i⟩;   WDScale ← wdRatio
//
// The test uses the raw gradient, the projection applies to the update U. One-axis tensors
// (biases) are never projected.
func ProjectRadial(delta, wdRatio, eps float64) Transform {
	return PerParam("project_radial", func(u *Update, p *Param) {
		if p.Rank() < 2 {
			return
		}
		shape := p.Var.Shape()
		n := shape.Size()
		rows := shape.Dim(0)
		w2 := Reshape(p.Value, rows, n/rows)
		g2 := Reshape(p.Grad, rows, n/rows)
		u2 := Reshape(p.U, rows, n/rows)
		epsN := u.Const(eps)

		// Channel view: per-row cosine similarity.
		wn := Sqrt(rowSums(Square(w2))) // ‖w_i‖ [rows]
		gn := Sqrt(rowSums(Square(g2))) // ‖g_i‖
		cosC := Div(Abs(rowSums(Mul(g2, w2))), Max(Mul(gn, wn), epsN))
		fireC := LessThan(ReduceAllMax(cosC), u.Const(delta/math.Sqrt(float64(n/rows))))
		// Layer view: the whole tensor.
		wnL, gnL := norm(p.Value), norm(p.Grad)
		cosL := Div(Abs(dot(p.Grad, p.Value)), Max(Mul(gnL, wnL), epsN))
		fireL := LessThan(cosL, u.Const(delta/math.Sqrt(float64(n))))

		// Projections for both views; the channel view wins when both fire.
		what := Div(w2, InsertAxes(Add(wn, epsN), -1))                      // ŵ_i = w_i/(‖w_i‖+ε)
		projC := Sub(u2, Mul(what, InsertAxes(rowSums(Mul(what, u2)), -1))) // U_i − ŵ_i⟨ŵ_i, U_i⟩
		whatL := Div(p.Value, Add(wnL, epsN))
		projL := Sub(p.U, Mul(whatL, dot(whatL, p.U)))
		out := Where(fireL, projL, p.U)
		out = Where(fireC, Reshape(projC, shape.Dimensions...), out)
		p.U = out
		fired := LogicalOr(fireC, fireL)
		p.WDScale = Where(fired, u.Const(wdRatio), u.Const(1))
	})
}

// OrthogonalizeGradient is ⊥Grad (Prieto et al. 2025, "Grokking at the Edge of Numerical
// Stability", orthograd.py): the update loses its component along the weights (the whole tensor
// flattened) and is rescaled to keep its norm:
//
//	ĝ = g − (⟨w,g⟩/(⟨w,w⟩ + 1e-30))·w;   g ← ĝ·‖g‖/(‖ĝ‖ + 1e-30)
func OrthogonalizeGradient() Transform {
	return PerParam("orthogonalize_gradient", func(u *Update, p *Param) {
		p.U = orthogonalize(u, p.Value, p.U)
	})
}

func orthogonalize(u *Update, w, g *Node) *Node {
	tiny := u.Const(1e-30)
	proj := Div(dot(w, g), Add(dot(w, w), tiny))  // ⟨w,g⟩/(⟨w,w⟩ + 1e-30)
	gOrth := Sub(g, Mul(proj, w))                 // ĝ = g − proj·w
	scale := Div(norm(g), Add(norm(gOrth), tiny)) // ‖g‖/(‖ĝ‖ + 1e-30)
	return Mul(gOrth, scale)
}
