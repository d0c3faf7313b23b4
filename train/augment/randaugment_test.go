package augment

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// digitsBatch returns b pseudo-random 8×8 images with integer values in [0, 16].
func digitsBatch(b int, seed uint64) []float32 {
	x := make([]float32, b*64)
	s := seed
	for i := range x {
		s = splitmix64(s)
		x[i] = float32(s % 17)
	}
	return x
}

func TestArg(t *testing.T) {
	for _, tc := range []struct {
		op   Op
		m    float64
		want float64
	}{
		{OpRotate, 0, 0}, {OpRotate, 10, 30}, {OpRotate, 5, 15}, {OpRotate, 30, 90},
		{OpShearX, 10, 0.3}, {OpShearY, 3, 0.09},
		{OpTranslateX, 10, 150.0 / 331 * 8}, {OpTranslateY, 0, 0},
		{OpBrightness, 0, 1}, {OpContrast, 10, 1.9}, {OpSharpness, 5, 1.45}, {OpColor, 10, 1.9},
		{OpPosterize, 0, 8}, {OpPosterize, 10, 4}, {OpPosterize, 5, 6}, {OpPosterize, 1, 8}, {OpPosterize, 30, 1},
		{OpSolarize, 0, 256}, {OpSolarize, 10, 0}, {OpSolarize, 5, 128},
		{OpIdentity, 9, 0}, {OpAutoContrast, 9, 0}, {OpEqualize, 9, 0},
	} {
		got, err := Arg(tc.op, tc.m, Digits)
		require.NoError(t, err)
		require.InDelta(t, tc.want, got, 1e-9, "%s at M=%v", tc.op, tc.m)
	}
	_, err := Arg("invert", 5, Digits)
	require.ErrorContains(t, err, `unknown RandAugment op "invert"`)
	require.ErrorContains(t, err, `"translate_y"`)
}

// TestMagnitudeZeroIsIdentity: every op with a magnitude argument is the identity at M = 0,
// for both signs and both interpolations; AutoContrast and Equalize take no magnitude.
func TestMagnitudeZeroIsIdentity(t *testing.T) {
	rgb := Format{Height: 5, Width: 6, Channels: 3, Lo: 0, Hi: 1}
	for _, f := range []Format{Digits, rgb} {
		x := digitsBatch(2, 7)[:f.ImageSize()]
		for i := range x {
			x[i] = float32(f.Lo + float64(x[i])/16*(f.Hi-f.Lo))
		}
		for _, op := range OpsFor(f.Channels) {
			if op == OpAutoContrast || op == OpEqualize {
				continue
			}
			for _, sign := range []float64{1, -1} {
				for _, interp := range []Interpolation{Nearest, Bilinear} {
					img := append([]float32(nil), x...)
					require.NoError(t, Apply(op, img, make([]float32, len(img)), f, 0, sign, interp))
					require.Equal(t, x, img, "%s sign %v %s", op, sign, interp)
				}
			}
		}
	}
}

// TestApplyMatchesOps checks Apply's argument wiring against the ops called directly.
func TestApplyMatchesOps(t *testing.T) {
	f := Digits
	x := digitsBatch(1, 3)
	for i := range x { // into [2, 10], so AutoContrast has something to stretch
		x[i] = 2 + x[i]/2
	}
	const m = 6.0
	l := m / 10
	for _, tc := range []struct {
		op   Op
		sign float64
		ref  func(img []float32)
	}{
		{OpRotate, -1, func(img []float32) { warpRef(img, f, func(d, s []float32) { Rotate(d, s, f, -30*l, Nearest) }) }},
		{OpShearX, 1, func(img []float32) { warpRef(img, f, func(d, s []float32) { ShearX(d, s, f, 0.3*l, Nearest) }) }},
		{OpShearY, -1, func(img []float32) { warpRef(img, f, func(d, s []float32) { ShearY(d, s, f, -0.3*l, Nearest) }) }},
		{OpTranslateX, 1, func(img []float32) {
			warpRef(img, f, func(d, s []float32) { TranslateX(d, s, f, 150.0/331*8*l, Nearest) })
		}},
		{OpTranslateY, -1, func(img []float32) {
			warpRef(img, f, func(d, s []float32) { TranslateY(d, s, f, -150.0/331*8*l, Nearest) })
		}},
		{OpBrightness, -1, func(img []float32) { Brightness(img, f, 1-0.9*l) }},
		{OpContrast, 1, func(img []float32) { Contrast(img, f, 1+0.9*l) }},
		{OpSharpness, -1, func(img []float32) { Sharpness(img, f, 1-0.9*l) }},
		{OpPosterize, 1, func(img []float32) { Posterize(img, f, 6) }}, // 8 − round(2.4)
		{OpSolarize, -1, func(img []float32) { Solarize(img, f, 256*(1-l)) }},
		{OpAutoContrast, 1, func(img []float32) { AutoContrast(img, f) }},
		{OpIdentity, 1, func([]float32) {}},
	} {
		got := append([]float32(nil), x...)
		require.NoError(t, Apply(tc.op, got, make([]float32, 64), f, m, tc.sign, Nearest))
		want := append([]float32(nil), x...)
		tc.ref(want)
		require.Equal(t, want, got, "%s", tc.op)
		if tc.op != OpIdentity {
			require.NotEqual(t, x, got, "%s at M=%v must change the image", tc.op, m)
		}
	}
	// Enhance factors clamp at 0 beyond M = 100/9.
	got := append([]float32(nil), x...)
	require.NoError(t, Apply(OpBrightness, got, nil, f, 30, -1, Nearest))
	require.Equal(t, make([]float32, 64), got)
}

func warpRef(img []float32, f Format, w func(dst, src []float32)) {
	dst := make([]float32, len(img))
	w(dst, img)
	copy(img, dst)
}

func TestRandAugmentDeterminism(t *testing.T) {
	ra, err := New("randaugment", Digits, Config{N: 2, M: 9})
	require.NoError(t, err)
	require.Equal(t, "randaugment(N=2, M=9)", ra.String())
	x := digitsBatch(16, 1)
	a, b, c := append([]float32(nil), x...), append([]float32(nil), x...), append([]float32(nil), x...)
	require.NoError(t, ra.Augment(a, 42))
	require.NoError(t, ra.Augment(b, 42))
	require.NoError(t, ra.Augment(c, 43))
	require.Equal(t, a, b, "same seed, same batch")
	require.NotEqual(t, a, c, "another seed draws other ops")
	require.NotEqual(t, x, a)
	for _, v := range a {
		require.True(t, v >= 0 && v <= 16, "value %v outside [0, 16]", v)
	}
	// Image 3's result depends on its own pixels and (seed, 3) only.
	y := append([]float32(nil), x...)
	for i := range 64 {
		y[i] = 16 - y[i] // change image 0
	}
	require.NoError(t, ra.Augment(y, 42))
	require.Equal(t, a[3*64:4*64], y[3*64:4*64])

	// M = 0 leaves only AutoContrast (and Equalize, the identity on 64 pixels) active.
	zero, err := New("randaugment", Digits, Config{N: 3, M: 0})
	require.NoError(t, err)
	z := append([]float32(nil), x...)
	require.NoError(t, zero.Augment(z, 5))
	changed := 0
	for i := range 16 {
		img := append([]float32(nil), x[i*64:(i+1)*64]...)
		if !slicesEqual(img, z[i*64:(i+1)*64]) {
			changed++
			AutoContrast(img, Digits)
			require.Equal(t, img, z[i*64:(i+1)*64], "image %d: at M=0 the only change is AutoContrast", i)
		}
	}
	require.Less(t, changed, 16)
}

// TestOpFrequencies: with N = 1 and M = 10 each of the 13 grayscale ops is drawn with
// probability 1/13; the ops that leave an image unchanged at M = 10 on these images are
// Identity and Equalize (2/13), so about 11/13 of the images change.
func TestOpFrequencies(t *testing.T) {
	ra, err := NewRandAugment(Digits, Config{N: 1, M: 10})
	require.NoError(t, err)
	require.Len(t, ra.Ops(), 13)
	require.NotContains(t, ra.Ops(), OpColor)
	const b = 2600
	x := digitsBatch(b, 9)
	for i := range b { // a full-range image, so AutoContrast is the identity too
		x[i*64], x[i*64+1] = 0, 16
	}
	y := append([]float32(nil), x...)
	require.NoError(t, ra.Augment(y, 1))
	same := 0
	for i := range b {
		if slicesEqual(x[i*64:(i+1)*64], y[i*64:(i+1)*64]) {
			same++
		}
	}
	p := 3.0 / 13 // Identity, Equalize, AutoContrast
	sd := math.Sqrt(p * (1 - p) / b)
	require.InDelta(t, p, float64(same)/b, 4*sd)
	rgb, err := NewRandAugment(Format{Height: 4, Width: 4, Channels: 3, Lo: 0, Hi: 1}, Config{})
	require.NoError(t, err)
	require.Len(t, rgb.Ops(), 14)
	require.Equal(t, "randaugment(N=2, M=0)", rgb.String())
}

func slicesEqual(a, b []float32) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

func TestBadConfigs(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    Format
		cfg  Config
		want string
	}{
		{"randaugment", Digits, Config{N: -1}, "N=-1 must be in [1, 10]"},
		{"randaugment", Digits, Config{N: 11}, "N=11 must be in [1, 10]"},
		{"randaugment", Digits, Config{M: 31}, "M=31 must be in [0, 30]"},
		{"randaugment", Digits, Config{M: -1}, "M=-1 must be in [0, 30]"},
		{"randaugment", Digits, Config{M: math.NaN()}, "M=NaN"},
		{"randaugment", Digits, Config{Interpolation: "cubic"}, `interpolation "cubic" must be "nearest" or "bilinear"`},
		{"randaugment", Format{Height: 8, Width: 8, Channels: 2, Lo: 0, Hi: 1}, Config{}, "channels=2 must be 1"},
		{"randaugment", Format{Height: 8, Width: 8, Lo: 1, Hi: 1}, Config{}, "value range [1, 1]"},
		{"randaugment", Format{Height: 0, Width: 8, Lo: 0, Hi: 1}, Config{}, "image size 0x8"},
		{"autoaugment", Digits, Config{}, `unknown augmentation "autoaugment": known augmentations are "identity", "randaugment"`},
	} {
		_, err := New(tc.name, tc.f, tc.cfg)
		require.ErrorContains(t, err, tc.want)
	}
	ra, err := New("randaugment", Digits, Config{})
	require.NoError(t, err)
	require.ErrorContains(t, ra.Augment(make([]float32, 65), 1), "batch of 65 floats is not a whole number of 8x8x1 images")
	id, err := New("identity", Digits, Config{})
	require.NoError(t, err)
	require.ErrorContains(t, id.Augment(make([]float32, 63), 1), "not a whole number")
	require.Equal(t, []string{"identity", "randaugment"}, Names())
}
