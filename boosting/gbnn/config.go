package gbnn

import (
	"errors"
	"fmt"
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train"
)

// Defaults of the official code (GAA-UAM/GBNN gbnn/GBNN.py, GNEGNE.__init__ at b0b4cfa) and of
// the sklearn MLPRegressor it fits at every stage, except where Config says otherwise.
const (
	DefaultTotalUnits    = 200        // total_nn
	DefaultUnitsPerStage = 1          // num_nn_step (J)
	DefaultEta           = 0.1        // eta (shrinkage); the official default is 1.0
	OfficialEta          = 1.0        // the official code's eta
	DefaultSubsample     = 0.5        // subsample
	DefaultActivation    = "logistic" // activation
	DefaultMaxIter       = 200        // max_iter of a gradient solver (steps); the official max_iter
	// DefaultLBFGSMaxIter is the default max_iter of the L-BFGS solver: stopped early, since
	// the official 200 iterations fit each one-unit stage to the noise of its subsample.
	DefaultLBFGSMaxIter = 30
	DefaultAlpha        = 1e-4    // sklearn MLPRegressor's L2 penalty alpha
	DefaultSolver       = "lbfgs" // the official code's solver
	DefaultLearningRate = 0.01    // for gradient solvers (full batch); see Config.LearningRate
	DefaultMaxStep      = 10.0    // the guard's bound on |ρ|
	// DefaultValidationFraction is the share of training rows a regression fit holds out to
	// choose its number of stages (sklearn GradientBoostingRegressor's validation_fraction).
	DefaultValidationFraction = 0.1
	// DefaultPatience is the number of stages without a validation improvement after which a
	// fit with a validation split stops (sklearn's n_iter_no_change; sklearn has no default).
	DefaultPatience = 20
	// earlyStoppingTol is the improvement of the validation loss (per row, in standardized
	// target units for regression) a stage must bring to count (sklearn's tol).
	earlyStoppingTol = 1e-4
	// SolverLBFGS names the in-package full-batch L-BFGS weak-learner fit (sklearn's "lbfgs").
	SolverLBFGS = "lbfgs"
)

// Config configures GBNN. Its zero value is the official code's defaults (total_nn=200,
// num_nn_step=1, subsample=0.5, logistic units, the L-BFGS weak learner, sklearn's
// alpha=1e-4), except the shrinkage (eta 0.1 here, sklearn GradientBoosting's learning_rate
// and the research notes' setting; 1 there, which overfits regression in a few stages and
// makes the multi-class Newton step blow up), L-BFGS's max_iter (30 here, 200 there: on noisy
// targets 200 iterations fit each one-unit stage to its subsample's noise), the Newton-step
// guard (on here, absent there: set NoGuard for the official behaviour), the internal standardization of features and of a
// regression target (NoStandardize turns it off) and, for regression, the number of stages
// chosen on a validation split (ValidationFraction < 0 turns it off). Official() is the
// official code's configuration exactly.
//
// Store params (readable with ConfigFromScope and settable with -set "gbnn_eta=0.1;..."):
// gbnn_total_units, gbnn_units_per_stage, gbnn_eta, gbnn_subsample, gbnn_activation,
// gbnn_solver, gbnn_learning_rate, gbnn_max_iter, gbnn_batch_size, gbnn_alpha, gbnn_max_step,
// gbnn_no_guard, gbnn_seed, gbnn_no_standardize, gbnn_validation_fraction, gbnn_patience.
type Config struct {
	// TotalUnits is the number of hidden units of the final network (official total_nn,
	// default 200); the number of stages is T = floor(TotalUnits / UnitsPerStage) and the
	// network gets T·UnitsPerStage units.
	TotalUnits int
	// UnitsPerStage is J, the hidden units each stage adds (official num_nn_step, default 1).
	UnitsPerStage int
	// Eta is the shrinkage applied to each stage's Newton step (default 0.1, sklearn
	// GradientBoosting's learning_rate and the research notes' setting; the official default
	// is 1.0, see Official).
	Eta float64
	// Subsample is the fraction s of training rows each stage is fitted on, drawn without
	// replacement: floor(s·n) rows (default 0.5; 1 uses every row).
	Subsample float64
	// Activation of the hidden units: "logistic" (default), "tanh", "relu" or "identity"
	// (sklearn's names).
	Activation string

	// Solver fits each stage's network: "lbfgs" (full-batch L-BFGS in this package, the
	// official default) or the name of any registered optimizer (optimizers.New: "adam",
	// "adamw", "sgd", "lion", ...), run by moeboost's train.Run. Default "lbfgs".
	Solver string
	// SolverParams are store params for the optimizer (e.g. {"momentum": 0.9}); gradient
	// solvers only.
	SolverParams map[string]any
	// LearningRate of gradient solvers (default 0.01: sklearn's 1e-3 with max_iter=200
	// full-batch steps leaves a one-unit learner almost at its initialization).
	LearningRate float64
	// MaxIter is the number of solver iterations per stage: L-BFGS major iterations (default
	// 30; the official 200 overfits noisy regression targets, see Official) or optimizer steps
	// (default 200).
	MaxIter int
	// BatchSize of gradient solvers; 0 (default) uses the whole subsample every step.
	BatchSize int
	// Alpha is sklearn's L2 penalty on the weights (not biases) of each stage's network:
	// loss = ½·mean((r−h)²) + ½·alpha·Σ‖W‖²/batch. 0 means the default 1e-4; negative means
	// no penalty.
	Alpha float64

	// MaxStep bounds the step of classification stages: ρ = clip(eta·factor, −MaxStep,
	// MaxStep) (default 10). Part of the guard.
	MaxStep float64
	// NoGuard turns the guard off and reproduces the official code: ρ = eta·num/den even when
	// den underflows to 0 (then ρ = ±Inf and the model collapses).
	NoGuard bool

	// NoStandardize turns off Fit's internal standardization. By default Fit standardizes
	// every feature, and a regression target, with the training rows' mean and std (constant
	// columns keep std 1), fits the stages in those units and folds the scaling back into the
	// stages (input weights and biases, ρ, F0), so the Model and its network take raw features
	// and predict in the target's units. On data already standardized (as the official
	// experiments feed it) this changes nothing but rounding.
	NoStandardize bool
	// ValidationFraction is the share of training rows held out to choose the number of
	// stages (sklearn GradientBoosting's validation_fraction and n_iter_no_change): after
	// each stage the ensemble's loss on the held-out rows is recorded, fitting stops after
	// Patience stages without an improvement of 1e-4, and the model keeps the stages up to
	// the best validation loss (at least one). 0 means the default: 0.1 for regression,
	// none for classification (the paper's tables fit every stage); negative means none.
	// Tables with fewer than 1/ValidationFraction rows get no split.
	ValidationFraction float64
	// Patience is the number of stages without a validation improvement before fitting
	// stops (default 20); only with a validation split.
	Patience int

	// DType of the stage networks and the assembled network: Float32 (default) or Float64.
	// The L-BFGS solver always fits in Float64, as scipy does.
	DType dtypes.DType
	// Seed seeds subsampling and the stage networks' initialization.
	Seed uint64
	// Backend runs the graphs (default backend.Default()).
	Backend compute.Backend
	// Progress shows a progress bar over the stages on stderr.
	Progress bool
	// OnStage, if set, is called after each stage with its index (0-based) and the stage.
	OnStage func(stage int, s *Stage)
}

// Stages returns T, the number of boosting stages (after defaults).
func (c Config) Stages() int {
	c = c.withDefaults()
	return c.TotalUnits / c.UnitsPerStage
}

func (c Config) withDefaults() Config {
	if c.TotalUnits == 0 {
		c.TotalUnits = DefaultTotalUnits
	}
	if c.UnitsPerStage == 0 {
		c.UnitsPerStage = DefaultUnitsPerStage
	}
	if c.Eta == 0 {
		c.Eta = DefaultEta
	}
	if c.Subsample == 0 {
		c.Subsample = DefaultSubsample
	}
	if c.Activation == "" {
		c.Activation = DefaultActivation
	}
	if c.Solver == "" {
		c.Solver = DefaultSolver
	}
	if c.LearningRate == 0 {
		c.LearningRate = DefaultLearningRate
	}
	if c.MaxIter == 0 {
		c.MaxIter = DefaultMaxIter
		if c.Solver == SolverLBFGS {
			c.MaxIter = DefaultLBFGSMaxIter
		}
	}
	if c.Alpha == 0 {
		c.Alpha = DefaultAlpha
	}
	if c.MaxStep == 0 {
		c.MaxStep = DefaultMaxStep
	}
	if c.Patience == 0 {
		c.Patience = DefaultPatience
	}
	if c.DType == dtypes.InvalidDType {
		c.DType = dtypes.Float32
	}
	return c
}

// Official returns the official code's configuration (GAA-UAM/GBNN GNEGNE defaults): the
// L-BFGS weak learner, no Newton-step guard, no internal standardization and every stage
// fitted (no validation split). Override fields on the result as needed.
func Official() Config {
	return Config{Eta: OfficialEta, Solver: SolverLBFGS, MaxIter: DefaultMaxIter, NoGuard: true, NoStandardize: true,
		ValidationFraction: -1}
}

// validationFraction returns the held-out share for a fit of the given kind (0: none).
func (c Config) validationFraction(kind Kind) float64 {
	switch {
	case c.ValidationFraction < 0:
		return 0
	case c.ValidationFraction > 0:
		return c.ValidationFraction
	case kind == Regression:
		return DefaultValidationFraction
	}
	return 0
}

// Validate checks the configuration (after defaults); each error names the bad value and what
// is allowed.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("gbnn: "+format, args...)) }
	if c.UnitsPerStage < 1 {
		bad("units_per_stage=%d must be >= 1", c.UnitsPerStage)
	}
	if c.TotalUnits < 1 || (c.UnitsPerStage >= 1 && c.TotalUnits < c.UnitsPerStage) {
		bad("total_units=%d must be >= units_per_stage=%d (at least one stage)", c.TotalUnits, c.UnitsPerStage)
	}
	if !(c.Eta > 0) || math.IsInf(c.Eta, 0) {
		bad("eta=%g must be finite and > 0", c.Eta)
	}
	if !(c.Subsample > 0 && c.Subsample <= 1) {
		bad("subsample=%g must be in (0, 1]", c.Subsample)
	}
	if _, ok := activations[c.Activation]; !ok {
		bad("activation=%q unknown: use logistic, tanh, relu or identity", c.Activation)
	}
	if !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 0) {
		bad("learning_rate=%g must be finite and > 0", c.LearningRate)
	}
	if c.MaxIter < 1 {
		bad("max_iter=%d must be >= 1", c.MaxIter)
	}
	if c.BatchSize < 0 {
		bad("batch_size=%d must be >= 0 (0: the whole subsample)", c.BatchSize)
	}
	if math.IsNaN(c.Alpha) || math.IsInf(c.Alpha, 0) {
		bad("alpha=%g must be finite (negative: no L2 penalty)", c.Alpha)
	}
	if math.IsNaN(c.ValidationFraction) || c.ValidationFraction >= 1 {
		bad("validation_fraction=%g must be < 1 (0: default, negative: no validation split)", c.ValidationFraction)
	}
	if c.Patience < 1 {
		bad("patience=%d must be >= 1", c.Patience)
	}
	if !(c.MaxStep > 0) {
		bad("max_step=%g must be > 0", c.MaxStep)
	}
	if c.DType != dtypes.Float32 && c.DType != dtypes.Float64 {
		bad("dtype=%s must be Float32 or Float64", c.DType)
	}
	if c.Solver != SolverLBFGS {
		store := model.NewStore()
		store.SetParams(c.SolverParams)
		if _, err := optimizers.New(store.RootScope(), c.Solver); err != nil {
			bad("solver=%q: %v (or %q)", c.Solver, err, SolverLBFGS)
		}
	} else if len(c.SolverParams) > 0 {
		bad("solver_params=%v: the lbfgs solver takes none", c.SolverParams)
	}
	return errors.Join(errs...)
}

// Store params read by ConfigFromScope (see Config).
const (
	ParamTotalUnits    = "gbnn_total_units"
	ParamUnitsPerStage = "gbnn_units_per_stage"
	ParamEta           = "gbnn_eta"
	ParamSubsample     = "gbnn_subsample"
	ParamActivation    = "gbnn_activation"
	ParamSolver        = "gbnn_solver"
	ParamLearningRate  = "gbnn_learning_rate"
	ParamMaxIter       = "gbnn_max_iter"
	ParamBatchSize     = "gbnn_batch_size"
	ParamAlpha         = "gbnn_alpha"
	ParamMaxStep       = "gbnn_max_step"
	ParamNoGuard       = "gbnn_no_guard"
	ParamSeed          = "gbnn_seed"
	ParamNoStandardize = "gbnn_no_standardize"
	ParamValidation    = "gbnn_validation_fraction"
	ParamPatience      = "gbnn_patience"
)

func init() {
	train.DeclareParam(ParamTotalUnits, DefaultTotalUnits, "GBNN: total hidden units (stages = total/units_per_stage)")
	train.DeclareParam(ParamUnitsPerStage, DefaultUnitsPerStage, "GBNN: hidden units added per stage (J)")
	train.DeclareParam(ParamEta, DefaultEta, "GBNN: shrinkage of each stage's Newton step")
	train.DeclareParam(ParamSubsample, DefaultSubsample, "GBNN: fraction of rows each stage is fitted on")
	train.DeclareParam(ParamActivation, DefaultActivation, "GBNN: hidden activation (logistic, tanh, relu, identity)")
	train.DeclareParam(ParamSolver, DefaultSolver, "GBNN: weak-learner solver (lbfgs or an optimizer name)")
	train.DeclareParam(ParamLearningRate, DefaultLearningRate, "GBNN: weak-learner learning rate (gradient solvers)")
	train.DeclareParam(ParamMaxIter, 0, "GBNN: solver iterations per stage (0: 30 for lbfgs, 200 for optimizers)")
	train.DeclareParam(ParamBatchSize, 0, "GBNN: weak-learner batch size (0: whole subsample)")
	train.DeclareParam(ParamAlpha, DefaultAlpha, "GBNN: L2 penalty of each stage (negative: none)")
	train.DeclareParam(ParamMaxStep, DefaultMaxStep, "GBNN: guard bound on |rho| (the stage step)")
	train.DeclareParam(ParamNoGuard, false, "GBNN: disable the Newton-step guard (official code's behaviour)")
	train.DeclareParam(ParamSeed, 0, "GBNN: seed of subsampling and stage initialization")
	train.DeclareParam(ParamNoStandardize, false, "GBNN: fit on the features (and regression target) as given")
	train.DeclareParam(ParamValidation, 0.0, "GBNN: share of rows held out to choose the stage count (0: 0.1 for regression, none for classification; negative: none)")
	train.DeclareParam(ParamPatience, DefaultPatience, "GBNN: stages without validation improvement before stopping")
}

// ConfigFromScope reads a Config from the scope's store params (see Config; a missing param
// keeps the default) and validates it.
func ConfigFromScope(scope *model.Scope) (cfg Config, err error) {
	defer func() { // GetParamOr panics on a value of the wrong type.
		if r := recover(); r != nil {
			err = fmt.Errorf("gbnn: reading params: %v", r)
		}
	}()
	cfg = Config{
		TotalUnits:    model.GetParamOr(scope, ParamTotalUnits, DefaultTotalUnits),
		UnitsPerStage: model.GetParamOr(scope, ParamUnitsPerStage, DefaultUnitsPerStage),
		Eta:           model.GetParamOr(scope, ParamEta, DefaultEta),
		Subsample:     model.GetParamOr(scope, ParamSubsample, DefaultSubsample),
		Activation:    model.GetParamOr(scope, ParamActivation, DefaultActivation),
		Solver:        model.GetParamOr(scope, ParamSolver, DefaultSolver),
		LearningRate:  model.GetParamOr(scope, ParamLearningRate, DefaultLearningRate),
		MaxIter:       model.GetParamOr(scope, ParamMaxIter, 0),
		BatchSize:     model.GetParamOr(scope, ParamBatchSize, 0),
		Alpha:         model.GetParamOr(scope, ParamAlpha, DefaultAlpha),
		MaxStep:       model.GetParamOr(scope, ParamMaxStep, DefaultMaxStep),
		NoGuard:       model.GetParamOr(scope, ParamNoGuard, false),
		Seed:          uint64(model.GetParamOr(scope, ParamSeed, 0)),
		NoStandardize: model.GetParamOr(scope, ParamNoStandardize, false),
		Patience:      model.GetParamOr(scope, ParamPatience, DefaultPatience),
	}
	cfg.ValidationFraction = model.GetParamOr(scope, ParamValidation, 0.0)
	// Explicit zeros would silently mean "default": reject them instead.
	if cfg.TotalUnits == 0 || cfg.UnitsPerStage == 0 || cfg.Patience == 0 {
		return cfg, fmt.Errorf("gbnn: params %s=%d, %s=%d, %s=%d must be >= 1", ParamTotalUnits, cfg.TotalUnits,
			ParamUnitsPerStage, cfg.UnitsPerStage, ParamPatience, cfg.Patience)
	}
	if cfg.Eta == 0 || cfg.Subsample == 0 || cfg.LearningRate == 0 || cfg.MaxStep == 0 {
		return cfg, fmt.Errorf("gbnn: params %s=%g, %s=%g, %s=%g, %s=%g must be > 0", ParamEta, cfg.Eta,
			ParamSubsample, cfg.Subsample, ParamLearningRate, cfg.LearningRate, ParamMaxStep, cfg.MaxStep)
	}
	return cfg, cfg.Validate()
}
