package registry

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRegistry(t *testing.T) {
	r := New[int]("widget")
	r.Register("b", 2)
	r.Register("a", 1)
	require.Equal(t, []string{"a", "b"}, r.Names())
	v, err := r.Get("b")
	require.NoError(t, err)
	require.Equal(t, 2, v)
	require.True(t, r.Has("a"))

	_, err = r.Get("zzz")
	require.EqualError(t, err, `unknown widget "zzz": known widgets are "a", "b"`)

	require.PanicsWithValue(t, `moeboost: widget "a" registered twice`, func() { r.Register("a", 3) })
	for _, bad := range []string{"", "Upper", "has space"} {
		require.Panics(t, func() { r.Register(bad, 0) }, "name %q", bad)
	}
}

func TestKindDirectory(t *testing.T) {
	r := NewKind[string]("test-kind-directory")
	r.Register("x", "y")
	found := false
	for _, k := range All() {
		if k.Kind() == "test-kind-directory" {
			found = true
			require.Equal(t, []string{"x"}, k.Names())
		}
	}
	require.True(t, found)
	require.Panics(t, func() { NewKind[int]("test-kind-directory") })
}
