package certified

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRecipes(t *testing.T) {
	require.Equal(t, []string{"fast", "ibp-standard"}, Recipes())
	fast, err := RecipeByName("fast")
	require.NoError(t, err)
	require.Equal(t, Recipe{BN: true, IBPInit: true, RampFraction: 0.2, Smoothed: true, Lambda0: 0.5}, fast)
	std, err := RecipeByName("ibp-standard")
	require.NoError(t, err)
	require.False(t, std.BN || std.IBPInit || std.Smoothed)
	require.Zero(t, std.Lambda0)
	_, err = RecipeByName("crown-ibp")
	require.ErrorContains(t, err, `unknown certified_recipe "crown-ibp"`)
	require.ErrorContains(t, Recipe{RampFraction: 0}.Validate(), "ramp fraction 0")
	require.ErrorContains(t, Recipe{RampFraction: 0.5, Lambda0: -1}.Validate(), "λ0 -1")
}
