package certified

import (
	"fmt"

	"github.com/moeboost/moeboost/internal/registry"
)

// Recipe is a certified-training recipe: the network options and the ε and regularizer
// schedule. Recipes are registered by name ("ibp-standard", "fast") like every moeboost plugin.
type Recipe struct {
	// BN adds BatchNorm after each hidden Dense; IBPInit draws hidden weights from
	// N(0, (√(2π)/fan_in)²) (Shi et al. 2021, Sec. 3.1; manual_init.py).
	BN, IBPInit bool
	// RampFraction is the length of the ε ramp as a fraction of the training epochs; Smoothed
	// selects auto_LiRPA's smoothed schedule (power 4, then linear) over a linear ramp.
	RampFraction float64
	Smoothed     bool
	// Lambda0 > 0 turns on the warm-up regularizers (tightness and ReLU balance) during the
	// ramp with weight λ_t = λ0·(1 − ε_t/ε_max) (Sec. 3.2; argparser.py: λ0 = 0.5).
	Lambda0 float64
}

// Validate checks the recipe's fields.
func (r Recipe) Validate() error {
	if !(r.RampFraction > 0 && r.RampFraction <= 1) {
		return fmt.Errorf("certified: recipe ramp fraction %v must be in (0, 1]", r.RampFraction)
	}
	if !(r.Lambda0 >= 0) {
		return fmt.Errorf("certified: recipe λ0 %v must be ≥ 0", r.Lambda0)
	}
	return nil
}

var recipes = registry.NewKind[Recipe]("certified_recipe")

func init() {
	// Standard IBP (Gowal et al. 2018, as the paper's baseline): plain init, no BN, no
	// regularizers, a long linear ramp (half the epochs).
	recipes.Register("ibp-standard", Recipe{RampFraction: 0.5})
	// The fast recipe of Shi et al.: IBP init, BN, the two regularizers and a short smoothed
	// warm-up (a fifth of the epochs).
	recipes.Register("fast", Recipe{BN: true, IBPInit: true, RampFraction: 0.2, Smoothed: true, Lambda0: 0.5})
}

// RecipeByName returns a registered recipe, or an error listing the known names.
func RecipeByName(name string) (Recipe, error) {
	r, err := recipes.Get(name)
	if err != nil {
		return Recipe{}, err
	}
	return r, r.Validate()
}

// RegisterRecipe adds a recipe under name (from an init function; panics on a duplicate).
func RegisterRecipe(name string, r Recipe) { recipes.Register(name, r) }

// Recipes lists the registered recipe names.
func Recipes() []string { return recipes.Names() }
