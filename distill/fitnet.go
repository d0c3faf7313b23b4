package distill

import (
	"errors"
	"fmt"
	"math"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	timages "github.com/gomlx/gomlx/core/tensors/images"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/moeboost/moeboost/train"
)

// FitNetConfig configures a FitNet hint term.
type FitNetConfig struct {
	// StudentTap and TeacherTap name the tapped tensors (required): [B, D] features or NCHW
	// feature maps [B, C, H, W].
	StudentTap, TeacherTap string
	// Reduction of the squared error: "mean" (default, per element) or "sum" (torchdistill's
	// FitNet sample config).
	Reduction string
	// ConvReg settings for NCHW maps: KernelSize (default 1), Stride (default 1), Padding
	// (default 0), NoReLU drops the final ReLU (torchdistill's uses_relu=false).
	KernelSize, Stride, Padding int
	NoReLU                      bool
}

// FitNet is the hint loss: a trainable regressor (adapter) maps the student's intermediate
// tensor to the teacher's, and the squared error between them is minimised.
//
// Paper: Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015, arXiv:1412.6550.
// Reference code: torchdistill torchdistill/models/adaptation.py (ConvReg) and
// losses/mid_level.py (SimpleLossWrapper over nn.MSELoss); CRD's ConvReg.
//
// Rule: r = ConvReg(f_s) = ReLU(BN(Conv(f_s))) for NCHW maps, r = f_s·W + b for [B, D]
// features; L = Σ (r − f_t)² (sum) or its mean over elements (mean). BN uses the batch
// statistics with biased variance and ε = 1e-5 (PyTorch training mode). The regressor lives
// under "/distill/<term>/regressor" and is dropped by Export (adapters are training-only).
//
// Deviations: the adapter's BatchNorm keeps no running statistics (it is only ever used in
// training graphs); for [B, D] features the regressor is linear (FitNet's fully connected
// case), without BN or ReLU.
type FitNet struct {
	cfg FitNetConfig
}

// NewFitNet validates cfg and returns the term.
func NewFitNet(cfg FitNetConfig) (*FitNet, error) {
	if cfg.StudentTap == "" || cfg.TeacherTap == "" {
		return nil, errors.New("distill: fitnet needs StudentTap and TeacherTap names")
	}
	switch cfg.Reduction {
	case "":
		cfg.Reduction = "mean"
	case "mean", "sum":
	default:
		return nil, fmt.Errorf("distill: fitnet reduction %q must be \"mean\" or \"sum\"", cfg.Reduction)
	}
	if cfg.KernelSize == 0 {
		cfg.KernelSize = 1
	}
	if cfg.Stride == 0 {
		cfg.Stride = 1
	}
	if cfg.KernelSize < 1 || cfg.Stride < 1 || cfg.Padding < 0 {
		return nil, fmt.Errorf("distill: fitnet kernel=%d, stride=%d must be >= 1 and padding=%d >= 0", cfg.KernelSize, cfg.Stride, cfg.Padding)
	}
	return &FitNet{cfg: cfg}, nil
}

// Check implements Checker.
func (f *FitNet) Check(info Info) error { return needTeacher(info, "fitnet") }

// ConvReg is torchdistill's ConvReg in PyTorch layout: Conv2d(x [B, Cin, H, W], w [Cout, Cin,
// k, k], bias [Cout], stride, padding) → BatchNorm2d in training mode (batch statistics,
// biased variance, ε = 1e-5, scale gamma, shift beta) → ReLU when relu.
func ConvReg(x, w, bias, gamma, beta *Node, stride, padding int, relu bool) *Node {
	y := Convolve(x, w).ChannelsAxis(timages.ChannelsFirst).StridePerAxis(stride, stride).
		PaddingPerDim([][2]int{{padding, padding}, {padding, padding}}).Done()
	c := w.Shape().Dimensions[0]
	y = Add(y, Reshape(bias, 1, c, 1, 1))
	mean := ReduceAndKeep(y, ReduceMean, 0, 2, 3)
	d := Sub(y, mean)
	variance := ReduceAndKeep(Square(d), ReduceMean, 0, 2, 3)
	y = Div(d, Sqrt(AddScalar(variance, 1e-5)))
	y = Add(Mul(y, Reshape(gamma, 1, c, 1, 1)), Reshape(beta, 1, c, 1, 1))
	if relu {
		y = Max(y, ZerosLike(y))
	}
	return y
}

// SquaredError is Σ (a − b)² ("sum") or its element mean ("mean").
func SquaredError(a, b *Node, reduction string) *Node {
	se := Square(Sub(a, b))
	if reduction == "sum" {
		return ReduceAllSum(se)
	}
	return ReduceAllMean(se)
}

// Loss implements Term.
func (f *FitNet) Loss(ctx *Context) *Node {
	s, t := ctx.StudentTap(f.cfg.StudentTap), ctx.TeacherTap(f.cfg.TeacherTap)
	scope := ctx.Scope.In("regressor")
	var r *Node
	switch s.Rank() {
	case 2:
		if t.Rank() != 2 {
			panic(fmt.Errorf("distill: fitnet student tap %q is %s but teacher tap %q is %s", f.cfg.StudentTap, s.Shape(), f.cfg.TeacherTap, t.Shape()))
		}
		din, dout := s.Shape().Dimensions[1], t.Shape().Dimensions[1]
		w := scope.WithInitializer(initializer.XavierUniformFn(scope)).VariableWithShape("weights", shapes.Make(s.DType(), din, dout)).NodeValue(s.Graph())
		b := scope.WithInitializer(initializer.Zero).VariableWithShape("biases", shapes.Make(s.DType(), dout)).NodeValue(s.Graph())
		r = Add(MatMul(s, w), ExpandAxes(b, 0))
	case 4:
		if t.Rank() != 4 {
			panic(fmt.Errorf("distill: fitnet student tap %q is %s but teacher tap %q is %s", f.cfg.StudentTap, s.Shape(), f.cfg.TeacherTap, t.Shape()))
		}
		cin, cout, k := s.Shape().Dimensions[1], t.Shape().Dimensions[1], f.cfg.KernelSize
		fanIn := float64(cin * k * k)
		he := func(g *Graph, shape shapes.Shape) *Node {
			return MulScalar(scope.RandomNormal(g, shape), math.Sqrt(2/fanIn))
		}
		g := s.Graph()
		w := scope.WithInitializer(he).VariableWithShape("conv_weights", shapes.Make(s.DType(), cout, cin, k, k)).NodeValue(g)
		b := scope.WithInitializer(initializer.Zero).VariableWithShape("conv_bias", shapes.Make(s.DType(), cout)).NodeValue(g)
		gamma := scope.WithInitializer(initializer.One).VariableWithShape("bn_weight", shapes.Make(s.DType(), cout)).NodeValue(g)
		beta := scope.WithInitializer(initializer.Zero).VariableWithShape("bn_bias", shapes.Make(s.DType(), cout)).NodeValue(g)
		r = ConvReg(s, w, b, gamma, beta, f.cfg.Stride, f.cfg.Padding, !f.cfg.NoReLU)
	default:
		panic(fmt.Errorf("distill: fitnet tap %q must be [B, D] or [B, C, H, W], got %s", f.cfg.StudentTap, s.Shape()))
	}
	return SquaredError(r, t, f.cfg.Reduction)
}

func init() {
	train.DeclareParam("fitnet_student_tap", "hidden", "distill: FitNet student tap name")
	train.DeclareParam("fitnet_teacher_tap", "hidden", "distill: FitNet teacher tap name")
	Register("fitnet", func(scope *model.Scope) (Term, error) {
		return NewFitNet(FitNetConfig{StudentTap: model.GetParamOr(scope, "fitnet_student_tap", "hidden"),
			TeacherTap: model.GetParamOr(scope, "fitnet_teacher_tap", "hidden")})
	})
}
