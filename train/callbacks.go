package train

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/moeboost/moeboost/internal/registry"
)

// Callback is a plugin called by Run. It implements one or more of StepCallback,
// EvalCallback and EndCallback.
type Callback any

// StepCallback is called after every training step with the global step reached.
type StepCallback interface {
	OnStep(step int, res *Result) error
}

// EvalCallback is called after every evaluation. Returning ErrStop ends the run normally.
type EvalCallback interface {
	OnEval(p EvalPoint, res *Result) error
}

// EndCallback is called once when the run ends normally.
type EndCallback interface {
	OnEnd(res *Result) error
}

// ErrStop, returned by a callback, ends the run normally (final evaluation and checkpoint).
var ErrStop = errors.New("callback asked to stop")

// CallbackFactory builds a callback from its argument string (the part after "name=" in a
// spec such as "stop_at=test/accuracy>=0.9").
type CallbackFactory func(arg string) (Callback, error)

var callbacks = registry.NewKind[CallbackFactory]("callback")

// RegisterCallback adds a callback plugin, from an init function.
func RegisterCallback(name string, f CallbackFactory) { callbacks.Register(name, f) }

// NewCallback builds a callback from a spec "name" or "name=arg".
func NewCallback(spec string) (Callback, error) {
	name, arg, _ := strings.Cut(spec, "=")
	f, err := callbacks.Get(name)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	return f(arg)
}

// StopAt ends the run at the first evaluation where Metric compares to Threshold as Op
// (">=", "<=", ">", "<"), e.g. grokking's "test/accuracy>=0.9". Reached records the step.
type StopAt struct {
	Metric    string
	Op        string
	Threshold float64
	Reached   int
}

// OnEval implements EvalCallback.
func (s *StopAt) OnEval(p EvalPoint, _ *Result) error {
	v, ok := p.Metrics[s.Metric]
	if !ok {
		return nil
	}
	hit := false
	switch s.Op {
	case ">=":
		hit = v >= s.Threshold
	case "<=":
		hit = v <= s.Threshold
	case ">":
		hit = v > s.Threshold
	case "<":
		hit = v < s.Threshold
	}
	if hit {
		s.Reached = p.Step
		return ErrStop
	}
	return nil
}

// ParseStopAt parses "metric>=value" (or <=, >, <).
func ParseStopAt(arg string) (*StopAt, error) {
	for _, op := range []string{">=", "<=", ">", "<"} {
		if m, v, ok := strings.Cut(arg, op); ok {
			th, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || m == "" {
				break
			}
			return &StopAt{Metric: strings.TrimSpace(m), Op: op, Threshold: th}, nil
		}
	}
	return nil, fmt.Errorf("stop_at=%q: want METRIC>=VALUE (or <=, >, <), e.g. test/accuracy>=0.9", arg)
}

// HistoryCSV appends every evaluation to a CSV file (step, then the metrics of the first
// evaluation's keys, sorted).
type HistoryCSV struct {
	Path string
	keys []string
}

// OnEval implements EvalCallback.
func (h *HistoryCSV) OnEval(p EvalPoint, _ *Result) error {
	first := h.keys == nil
	if first {
		h.keys = sortedKeys(p.Metrics)
	}
	flag := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	if first {
		flag = os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	}
	f, err := os.OpenFile(h.Path, flag, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if first {
		fmt.Fprintf(f, "step,%s\n", strings.Join(h.keys, ","))
	}
	vals := make([]string, len(h.keys))
	for i, k := range h.keys {
		vals[i] = strconv.FormatFloat(p.Metrics[k], 'g', 8, 64)
	}
	_, err = fmt.Fprintf(f, "%d,%s\n", p.Step, strings.Join(vals, ","))
	return err
}

func init() {
	RegisterCallback("stop_at", func(arg string) (Callback, error) { return ParseStopAt(arg) })
	RegisterCallback("history_csv", func(arg string) (Callback, error) {
		if arg == "" {
			return nil, errors.New("history_csv needs a file path: history_csv=PATH")
		}
		return &HistoryCSV{Path: arg}, nil
	})
}
