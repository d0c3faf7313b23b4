package distill

import (
	"context"
	"errors"
	"fmt"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"strings"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/losses"
)

// Stage is one stage of a multi-stage run (torchdistill's `stages`, e.g. FitNet's hint
// pre-training followed by KD): its own model and loss (usually a Distiller's), optimizer
// settings and frozen scopes, for Steps steps.
type Stage struct {
	Name  string
	Steps int
	// Model and LossFn for this stage (e.g. d.Model and d.Loss of a Distiller).
	Model  train.ModelFn
	LossFn losses.Fn
	// Optimizer and LearningRate override the base config's when set.
	Optimizer    string
	LearningRate float64
	// Freeze lists scope prefixes (e.g. "/student/head") whose variables do not train in this
	// stage.
	Freeze []string
	// ResetOptimizer drops the optimizer's state (moments) at the start of the stage, as
	// torchdistill builds a new optimizer per stage; the global step continues.
	ResetOptimizer bool
}

// RunStages runs the stages one after another on one store, continuing the global step:
// stage i trains up to Σ_{j ≤ i} Steps_j. The base config supplies the data, evaluation,
// checkpointing and everything else (its Model, LossFn and Steps are ignored); its Schedule
// is in global steps. With base.CheckpointDir, an interrupted multi-stage run resumes in the
// stage where it stopped (finished stages are skipped). It returns every stage's result.
func RunStages(ctx context.Context, base train.Config, stages []Stage) ([]*train.Result, error) {
	if len(stages) == 0 {
		return nil, errors.New("distill: RunStages needs at least one stage")
	}
	for i, s := range stages {
		if s.Steps < 1 || s.Model == nil || s.LossFn == nil {
			return nil, fmt.Errorf("distill: stage %d (%q) needs steps >= 1 (got %d), a model and a loss", i, s.Name, s.Steps)
		}
	}
	store := base.Store
	if store == nil {
		store = model.NewStore()
	}
	if base.Name == "" {
		base.Name = "stages"
	}
	var results []*train.Result
	end := 0
	for i, s := range stages {
		end += s.Steps
		if base.CheckpointDir != "" {
			// Resuming: skip the stages the checkpoint has already completed.
			if ck, err := train.OpenCheckpoint(store, base.CheckpointDir, base.KeepCheckpoints); err != nil {
				return results, err
			} else if ck.Loaded() != "" && int(optimizer.GetGlobalStep(store)) >= end {
				continue
			}
		}
		if s.ResetOptimizer && i > 0 {
			resetOptimizerState(store)
		}
		cfg := base
		cfg.Store = store
		cfg.Name = base.Name + "/" + nameOr(s.Name, fmt.Sprintf("stage%d", i))
		cfg.Steps = end
		cfg.LossFn, cfg.Loss, cfg.NoLoss = s.LossFn, "", false
		if s.Optimizer != "" {
			cfg.Optimizer, cfg.OptimizerImpl = s.Optimizer, nil
			store.SetParam(optimizer.ParamOptimizer, s.Optimizer)
		}
		if s.LearningRate > 0 {
			cfg.LearningRate = s.LearningRate
			store.SetParam(optimizer.ParamLearningRate, s.LearningRate)
		}
		frozen := map[*model.Variable]bool{}
		stageModel := s.Model
		cfg.Model = func(scope *model.Scope, in []*Node) []*Node {
			out := stageModel(scope, in)
			for v := range store.IterVariables() {
				for _, p := range s.Freeze {
					if strings.HasPrefix(v.Path(), strings.TrimSuffix(p, "/")+"/") && v.Trainable {
						v.SetTrainable(false)
						frozen[v] = true
					}
				}
			}
			return out
		}
		res, err := train.Run(ctx, cfg)
		for v := range frozen {
			v.SetTrainable(true)
		}
		results = append(results, res)
		if err != nil {
			return results, fmt.Errorf("distill: stage %d (%s): %w", i, cfg.Name, err)
		}
	}
	return results, nil
}

func nameOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// resetOptimizerState deletes the optimizer's per-variable state (everything under
// "/optimizers" except the learning rates); the optimizer recreates it from zero.
func resetOptimizerState(store *model.Store) {
	prefix := "/" + optimizer.Scope + "/"
	var drop []string
	for v := range store.IterVariables() {
		p := v.Path()
		if !strings.HasPrefix(p, prefix) {
			continue
		}
		name := p[strings.LastIndex(p, "/")+1:]
		if name == optimizer.ParamLearningRate || name == train.BaseLearningRateVar {
			continue
		}
		drop = append(drop, p)
	}
	for _, p := range drop {
		_ = store.DeleteVariable(p)
	}
}
