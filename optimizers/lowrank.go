package optimizers

import (
	"fmt"
	"slices"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph-building code reads best unqualified.
	"github.com/gomlx/gomlx/core/tensors"
)

// Low-rank projection (GaLore's "std" projector, used by Fira and by FRUGAL's SVD subspace).
//
// For a 2-D gradient G [rows, cols] and rank r, a "right" projector P = Vh[:r] ([r, cols])
// projects R = G·Pᵀ ([rows, r]) and back-projects X·P; a "left" projector P = U[:, :r]
// ([rows, r]) projects R = Pᵀ·G ([r, cols]) and back-projects P·X, with G = U·S·Vh its SVD. The
// projector is recomputed from the current gradient every gap steps (at steps 1, gap+1, ...)
// and kept in the state "projector".

// ProjTypes are the projector kinds: "std" (right when rows >= cols, else left), "reverse_std"
// (the opposite), "right", "left".
var ProjTypes = []string{"std", "reverse_std", "right", "left"}

func validProjType(t string) bool { return slices.Contains(ProjTypes, t) }

// projectorRight says whether a projector of type projType for a [rows, cols] matrix is a
// right one.
func projectorRight(rows, cols int, projType string) bool {
	switch projType {
	case "right":
		return true
	case "left":
		return false
	case "reverse_std":
		return rows < cols
	}
	return rows >= cols
}

// lowRankRank is the rank used for a [rows, cols] matrix: rank (clamped to min(rows, cols)), or
// when rank is 0, ⌈min(rows, cols)·frac⌉.
func lowRankRank(rows, cols, rank int, frac float64) int {
	k := min(rows, cols)
	if rank <= 0 {
		rank = int(float64(k)*frac + 0.999999)
	}
	return max(1, min(rank, k))
}

// topProjector returns the rank-r projector of m (right: Vh[:r], left: U[:, :r]) from the
// eigenvectors of the Gram matrix on the projector's side. With active (a boolean scalar) the
// O(m·n·k) Gram matrix and the O(k³) sorting run only when it is true (gatedCompute) and the
// Jacobi loop gets a zero iteration budget otherwise, so a step that does not refresh the
// projector pays only O(k²) (plus copying m into the loop state); the result is then
// meaningless (zeros) and must be discarded with Where.
func topProjector(m *Node, r int, right bool, active *Node) *Node {
	g := m.Graph()
	const dt = dtypes.Float64
	rows, cols := m.Shape().Dim(0), m.Shape().Dim(1)
	k := rows
	if right {
		k = cols
	}
	gramOfX := func(x *Node) *Node {
		mf := ConvertDType(x, dt)
		if right {
			return MatMul(Transpose(mf, 0, 1), mf) // mᵀm: eigenvectors V
		}
		return MatMul(mf, Transpose(mf, 0, 1)) // m mᵀ: eigenvectors U
	}
	outShape := []int{rows, r}
	if right {
		outShape = []int{r, cols}
	}
	project := func(am, vm *Node) *Node {
		var vecs *Node
		if am == nil {
			vecs = Reshape(lit(g, dt, 1), 1, 1) // k = 1
		} else {
			_, vecs = sortEig(am, vm, k)
		}
		top := Slice(vecs, AxisRange(), AxisRange(0, r))
		if right {
			top = Transpose(top, 0, 1)
		}
		return top
	}
	var out *Node
	switch {
	case k == 1:
		out = project(nil, nil)
	case active == nil:
		am, vm := jacobi(gramOfX(m), nil)
		out = project(am, vm)
	default:
		// The O(m·n·k) Gram matrix and the O(k³) sorting run only on refresh steps.
		gram := gatedCompute(active, []*Node{m}, []shapes.Shape{shapes.Make(dt, k, k)},
			func(g *Graph, ins []*Node) []*Node { return []*Node{gramOfX(ins[0])} })[0]
		am, vm := jacobi(gram, active)
		out = gatedCompute(active, []*Node{am, vm}, []shapes.Shape{shapes.Make(dt, outShape...)},
			func(g *Graph, ins []*Node) []*Node { return []*Node{project(ins[0], ins[1])} })[0]
	}
	return ConvertDType(out, m.DType())
}

// lowRank is one parameter's projector for one update.
type lowRank struct {
	P     *Node // current projector
	right bool
}

// newLowRank refreshes (every gap steps, from the gradient g) and returns the projector of p.
func newLowRank(u *Update, p *Param, g *Node, r, gap int, projType string) *lowRank {
	rows, cols := g.Shape().Dim(0), g.Shape().Dim(1)
	right := projectorRight(rows, cols, projType)
	shape := shapes.Make(u.DType, rows, r)
	if right {
		shape = shapes.Make(u.DType, r, cols)
	}
	st := u.StateShaped(p, "projector", shape)
	i64 := func(v int64) *Node { return Scalar(u.Graph, dtypes.Int64, v) }
	refresh := Equal(Rem(Sub(u.Step, i64(1)), i64(int64(gap))), i64(0)) // steps 1, gap+1, ...
	var fresh *Node
	if inj, ok := u.opt.injected[p.Path]; ok {
		if len(inj) != shape.Size() {
			panic(fmt.Sprintf("optimizer %s: injected projector for %s has %d values, want %s", u.opt.name, p.Path, len(inj), shape))
		}
		fresh = u.Cast(Const(u.Graph, injectedTensor(inj, shape.Dimensions)))
	} else {
		fresh = topProjector(g, r, right, refresh)
	}
	P := Where(refresh, fresh, st.Value())
	st.Set(P)
	return &lowRank{P: P, right: right}
}

// project returns R = G·Pᵀ (right) or Pᵀ·G (left).
func (l *lowRank) project(g *Node) *Node {
	if l.right {
		return MatMul(g, Transpose(l.P, 0, 1))
	}
	return MatMul(Transpose(l.P, 0, 1), g)
}

// back returns X·P (right) or P·X (left).
func (l *lowRank) back(x *Node) *Node {
	if l.right {
		return MatMul(x, l.P)
	}
	return MatMul(l.P, x)
}

// injectedTensor makes a float64 tensor of projector values (see Optimizer.injected).
func injectedTensor(values []float64, dims []int) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(append([]float64(nil), values...), dims...)
}
