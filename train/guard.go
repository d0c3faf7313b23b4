package train

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	gtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/optimizer"
)

// NaNPolicy says what a run does when the loss or a gradient is not finite.
type NaNPolicy string

const (
	// NaNStop stops the run with an error naming the step and the first variable whose
	// gradient is not finite (or the loss). No checkpoint is written after that step.
	NaNStop NaNPolicy = "stop"
	// NaNSkip discards the step: every variable the step would change (weights, optimizer
	// state) keeps its previous value; only the global step advances. Skipped steps are
	// counted and reported.
	NaNSkip NaNPolicy = "skip"
)

// BaseLearningRateVar is the name (under the optimizers scope) of the variable holding the base
// learning rate that the schedule multiplies; changing its value never recompiles.
const BaseLearningRateVar = "base_learning_rate"

const guardKey = "moeboost_step_guard"

// stepGuard wraps an optimizer: it writes the scheduled learning rate into GoMLX's
// learning-rate variable, computes the gradients itself when the optimizer accepts them
// (gtrain.OptimizeWithGradients) so it can clip them by global norm and check they are finite,
// and applies the NaN policy.
type stepGuard struct {
	inner     optimizer.Interface
	withGrads gtrain.OptimizeWithGradients
	sched     Schedule
	baseLR    float64
	clipNorm  float64
	policy    NaNPolicy

	// varNames are the trainable variables in gradient order, captured at graph building.
	varNames []string
}

func newStepGuard(inner optimizer.Interface, sched Schedule, baseLR, clipNorm float64, policy NaNPolicy) (*stepGuard, error) {
	s := &stepGuard{inner: inner, sched: sched, baseLR: baseLR, clipNorm: clipNorm, policy: policy}
	s.withGrads, _ = inner.(gtrain.OptimizeWithGradients)
	if s.withGrads == nil && clipNorm > 0 {
		return nil, fmt.Errorf("clip_global_norm=%g needs an optimizer that accepts gradients (UpdateGraphWithGradients); %T does not", clipNorm, inner)
	}
	return s, nil
}

// Clear implements optimizer.Interface.
func (s *stepGuard) Clear(scope *model.Scope) error { return s.inner.Clear(scope) }

// UpdateGraph implements optimizer.Interface.
func (s *stepGuard) UpdateGraph(scope *model.Scope, g *graph.Graph, loss *graph.Node) {
	dt := loss.DType()
	store := scope.Store()

	// Learning rate = base · schedule(step), step = steps done before this one.
	stepVar := optimizer.GetGlobalStepVar(store)
	step := graph.ConvertDType(stepVar.NodeValue(g), dt)
	baseVar := store.Scope(model.JoinPath(model.ScopeSeparator, optimizer.Scope)).
		VariableWithValue(BaseLearningRateVar, shapes.CastAsDType(s.baseLR, dt)).SetTrainable(false)
	lrVar := optimizer.LearningRateVar(store.RootScope(), dt, s.baseLR)
	factor := s.sched.Factor(step)
	lrVar.SetNodeValue(graph.Mul(graph.ConvertDType(baseVar.NodeValue(g), dt), factor))
	Report("lr", lrVar.NodeValue(g))

	lossOK := graph.IsFinite(loss)
	ok := lossOK
	code := graph.Where(lossOK, graph.ScalarZero(g, dt), graph.Scalar(g, dt, -1))
	if s.withGrads != nil {
		grads := scope.BuildTrainableVariablesGradientsGraph(loss)
		s.varNames = s.varNames[:0]
		for v := range scope.IterVariables() {
			if v.Trainable && v.InUseByGraph(g) {
				s.varNames = append(s.varNames, v.Path())
			}
		}
		if len(grads) > 0 {
			// Per-variable sum of squares: not finite iff some element is not finite (or the
			// sum overflows, which is a blow-up too).
			sq := make([]*graph.Node, len(grads))
			for i, gr := range grads {
				sq[i] = graph.ConvertDType(sumSquares(gr), dt)
			}
			sqv := graph.Stack(sq, 0)
			finite := graph.IsFinite(sqv)
			idx := graph.Iota(g, shapes.Make(dt, len(grads)), 0)
			big := graph.Scalar(g, dt, float64(len(grads)+1))
			first := graph.ReduceAllMin(graph.Where(finite, graph.BroadcastToShape(big, idx.Shape()), idx))
			gradsOK := graph.LogicalAll(finite)
			ok = graph.LogicalAnd(lossOK, gradsOK)
			code = graph.Where(lossOK, graph.Where(gradsOK, graph.ScalarZero(g, dt), graph.AddScalar(first, 1)), code)
			norm := graph.Sqrt(graph.ReduceAllSum(sqv))
			Report("grad_norm", norm)
			if s.clipNorm > 0 {
				// Clip by global norm (Pascanu et al. 2013): g ← g · min(1, c / ‖g‖).
				scale := graph.Min(graph.ScalarOne(g, dt), graph.Div(graph.Scalar(g, dt, s.clipNorm), graph.AddScalar(norm, 1e-12)))
				for i := range grads {
					grads[i] = graph.Mul(grads[i], graph.ConvertDType(scale, grads[i].DType()))
				}
			}
		}
		s.withGrads.UpdateGraphWithGradients(scope, grads, dt)
	} else {
		s.inner.UpdateGraph(scope, g, loss)
	}

	if s.policy == NaNSkip {
		stepPath := stepVar.Path()
		for v := range store.IterVariables() {
			if !v.ChangedInGraph(g) || v.Path() == stepPath || v.Path() == lrVar.Path() {
				continue
			}
			old := g.GetParameterByName(v.Path())
			if old == nil {
				continue
			}
			v.SetNodeValue(graph.Where(ok, v.NodeValue(g), old))
		}
		// Keep the reported loss finite so the loop's own NaN check does not stop the run.
		for _, key := range []string{gtrain.TrainerMainLossGraphParamKey, gtrain.TrainerRegularizationLossGraphParamKey} {
			path := model.JoinPath(gtrain.TrainerAbsoluteScope, key)
			if l, found := model.GetGraphParam(g, path); found {
				ln := l.(*graph.Node)
				model.SetGraphParam(g, path, graph.Where(graph.IsFinite(ln), ln, graph.ZerosLike(ln)))
			}
		}
	}
	g.AttachState(guardKey, code)
}

// guardMetric returns the step guard's status code: 0 all finite, -1 loss not finite,
// i+1 when the gradient of trainable variable i is the first that is not finite.
type guardMetric struct{ reportMetric }

func (m *guardMetric) Name() string       { return "NonFinite" }
func (m *guardMetric) ShortName() string  { return "nan" }
func (m *guardMetric) ScopeName() string  { return "nonfinite" }
func (m *guardMetric) MetricType() string { return "nonfinite" }
func (m *guardMetric) UpdateGraph(_ *model.Scope, _, predictions []*graph.Node) *graph.Node {
	g := predictions[0].Graph()
	if code, ok := g.State(guardKey).(*graph.Node); ok && code != nil {
		return code
	}
	return graph.ScalarZero(g, dtypes.Float32)
}
func (m *guardMetric) PrettyPrint(v *tensors.Tensor) string { return fmt.Sprint(v.Value()) }

func lossDType(_ *graph.Graph, dt dtypes.DType) dtypes.DType {
	if dt.IsFloat() {
		return dt
	}
	return dtypes.Float32
}

func shapeOf(dt dtypes.DType, dims ...int) shapes.Shape { return shapes.Make(dt, dims...) }

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// sumSquares returns Σ x² as a [1, 1] dot product of the flattened tensor with itself: on the
// Go backend a matmul is 15-30x faster than ReduceSum, whose kernel is a generic iterator.
func sumSquares(x *graph.Node) *graph.Node {
	n := x.Shape().Size()
	if n < 64 {
		return graph.ReduceAllSum(graph.Square(x))
	}
	row := graph.Reshape(x, 1, n)
	return graph.Reshape(graph.DotGeneral(row, []int{1}, nil, row, []int{1}, nil))
}
