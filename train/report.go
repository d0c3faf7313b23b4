package train

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	gtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/metric"
)

// AddExtraLoss adds weight·loss to the training objective (through GoMLX's
// train.AddRegularizationLoss, the one place where extra losses join the main loss) and
// reports the unweighted term as the metric name. MoE balancing and z-losses and
// distillation terms use it. loss is reduced to a scalar with a mean if needed. It is a graph
// building function; weight 0 still reports the term but adds nothing.
func AddExtraLoss(name string, weight float64, loss *graph.Node) {
	if !loss.IsScalar() {
		loss = graph.ReduceAllMean(loss)
	}
	Report(name, loss)
	if weight != 0 {
		gtrain.AddRegularizationLoss(graph.MulScalar(loss, weight))
	}
}

// reportKey is the graph state key under which reported metrics are collected.
type reportKey struct{}

type reported struct {
	names []string
	nodes []*graph.Node
}

// Report publishes a scalar of the training graph under name (e.g. "moe/l0/dropped"): it
// reaches the progress bar, the run's history (averaged between evaluations), JSON and plots.
// Non-scalar values are averaged. Reporting the same name twice in a graph sums nothing: the
// second name gets a "#2" suffix. It is a graph building function; outside a train.Run
// training graph it is a no-op.
func Report(name string, value *graph.Node) {
	g := value.Graph()
	r, _ := g.State(reportKey{}).(*reported)
	if r == nil {
		r = &reported{}
		g.AttachState(reportKey{}, r)
	}
	if !value.IsScalar() {
		value = graph.ReduceAllMean(value)
	}
	base, n := name, 1
	for slices.Contains(r.names, name) {
		n++
		name = fmt.Sprintf("%s#%d", base, n)
	}
	r.names = append(r.names, name)
	r.nodes = append(r.nodes, graph.StopGradient(value))
}

// reportMetric is the train metric that returns every Report()ed scalar of the graph as one
// vector [1+k] (a leading 0 keeps it non-empty); names are captured at graph building.
type reportMetric struct {
	names []string
}

func (m *reportMetric) Name() string       { return "Reported" }
func (m *reportMetric) ShortName() string  { return "rep" }
func (m *reportMetric) ScopeName() string  { return "reported" }
func (m *reportMetric) MetricType() string { return "reported" }
func (m *reportMetric) Reset(*model.Scope) {}
func (m *reportMetric) PrettyPrint(v *tensors.Tensor) string {
	return fmt.Sprint(v.Value())
}

func (m *reportMetric) UpdateGraph(_ *model.Scope, _, predictions []*graph.Node) *graph.Node {
	g := predictions[0].Graph()
	r, _ := g.State(reportKey{}).(*reported)
	dt := predictions[0].DType()
	if !dt.IsFloat() {
		dt = lossDType(g, dt)
	}
	parts := []*graph.Node{graph.Zeros(g, shapeOf(dt, 1))}
	m.names = nil
	if r != nil {
		m.names = slices.Clone(r.names)
		for _, n := range r.nodes {
			parts = append(parts, graph.Reshape(graph.ConvertDType(n, dt), 1))
		}
	}
	return graph.Concatenate(parts, 0)
}

var _ metric.Interface = (*reportMetric)(nil)
