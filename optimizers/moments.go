package optimizers

import (
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph-building code reads best unqualified.
)

// ema returns the exponential moving average step β·m + (1−β)·x (torch's
// m.mul_(β).add_(x, alpha=1−β)).
func ema(u *Update, m, x *Node, beta float64) *Node {
	return Add(Mul(m, u.Const(beta)), Mul(x, u.Const(1-beta)))
}

// addScaled returns a·x + b·y.
func addScaled(u *Update, x *Node, a float64, y *Node, b float64) *Node {
	return Add(Mul(x, u.Const(a)), Mul(y, u.Const(b)))
}

// emaNode is ema with β a (compute dtype) scalar node: Stable-SPAM's β1·scale.
func emaNode(m, x, beta *Node) *Node {
	return Add(Mul(m, beta), Mul(x, OneMinus(beta)))
}

// biasCorrection returns 1 − β^t for the update's step t, as a float64 scalar.
func biasCorrection(u *Update, beta float64) *Node {
	return biasCorrectionAt(u, beta, u.StepF())
}

// biasCorrectionAt returns 1 − β^t for a float64 step t.
func biasCorrectionAt(u *Update, beta float64, t *Node) *Node {
	return OneMinus(Pow(u.Const64(beta), t))
}

// sumSq returns Σ x² as a scalar. On the Go backend a flattened dot product runs on the matmul
// kernels and is much faster than ReduceSum's generic iterator for large tensors.
func sumSq(x *Node) *Node { return dot(x, x) }

// dot returns Σ a⊙b over all elements, as a scalar.
func dot(a, b *Node) *Node {
	n := a.Shape().Size()
	if n < 64 {
		return ReduceAllSum(Mul(a, b))
	}
	ra, rb := Reshape(a, 1, n), Reshape(b, 1, n)
	return Reshape(DotGeneral(ra, []int{1}, nil, rb, []int{1}, nil))
}

// norm returns ‖x‖₂ over all elements.
func norm(x *Node) *Node { return Sqrt(sumSq(x)) }

// AdamOptions configures ScaleByAdam. The zero value is torch.optim.AdamW's rule with β1 = β2 = 0,
// so set the betas.
type AdamOptions struct {
	Beta1, Beta2, Eps float64
	// EpsOutside selects the Hugging Face / SPAM / Fira placement: U = (√(1−β2^t)/(1−β1^t))·m/(√v + ε)
	// (ε not bias-corrected). The default is torch's: U = (m/(1−β1^t)) / (√v/√(1−β2^t) + ε).
	EpsOutside bool
	// NoBiasCorrection drops both bias corrections (correct_bias=False): U = m/(√v + ε).
	NoBiasCorrection bool
	// AMSGrad normalizes by the running maximum of v (state "max_exp_avg_sq").
	AMSGrad bool
	// Nesterov uses (β1·m + (1−β1)·g) in the numerator instead of m (AdamP's nesterov flag).
	Nesterov bool
	// StateSuffix is appended to the state names (for optimizers that keep two Adam states).
	StateSuffix string
}

// ScaleByAdam is the Adam moments transform (Kingma & Ba 2015; torch.optim.AdamW's arithmetic):
//
//	m ← β1·m + (1−β1)·g                  // state "exp_avg"
//	v ← β2·v + (1−β2)·g²                 // state "exp_avg_sq"
//	U ← (m/(1−β1^t)) / (√v/√(1−β2^t) + ε)  (or the EpsOutside / NoBiasCorrection forms)
//
// where g is the incoming U.
func ScaleByAdam(o AdamOptions) Transform {
	return PerParam("scale_by_adam", func(u *Update, p *Param) {
		m := u.State(p, "exp_avg"+o.StateSuffix)
		v := u.State(p, "exp_avg_sq"+o.StateSuffix)
		g := p.U
		mNew := ema(u, m.Value(), g, o.Beta1)         // m_t = β1 m + (1−β1) g
		vNew := ema(u, v.Value(), Square(g), o.Beta2) // v_t = β2 v + (1−β2) g²
		m.Set(mNew)
		v.Set(vNew)
		den := vNew
		if o.AMSGrad {
			vmax := u.State(p, "max_exp_avg_sq"+o.StateSuffix)
			den = Max(vmax.Value(), vNew)
			vmax.Set(den)
		}
		num := mNew
		if o.Nesterov {
			num = ema(u, mNew, g, o.Beta1) // β1·m_t + (1−β1)·g
		}
		p.U = adamDirection(u, num, den, o)
	})
}

// adamDirection returns the bias-corrected m/denominator for numerator num and second moment v.
func adamDirection(u *Update, num, v *Node, o AdamOptions) *Node {
	if o.NoBiasCorrection {
		return Div(num, Add(Sqrt(v), u.Const(o.Eps)))
	}
	bc1 := biasCorrection(u, o.Beta1)
	bc2 := biasCorrection(u, o.Beta2)
	if o.EpsOutside {
		step := u.Cast(Div(Sqrt(bc2), bc1)) // √(1−β2^t)/(1−β1^t)
		return Mul(Div(num, Add(Sqrt(v), u.Const(o.Eps))), step)
	}
	den := Add(Div(Sqrt(v), u.Cast(Sqrt(bc2))), u.Const(o.Eps)) // √v/√(1−β2^t) + ε
	return Mul(Div(num, den), u.Cast(Reciprocal(bc1)))          // (m/den)/(1−β1^t)
}
