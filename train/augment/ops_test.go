package augment

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// g3 is the 3×3 grayscale test image [[1 2 3] [4 5 6] [7 8 9]] in [0, 10].
var (
	g3  = []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	f3  = Format{Height: 3, Width: 3, Channels: 1, Lo: 0, Hi: 10}
	f3f = Format{Height: 3, Width: 3, Channels: 1, Lo: -1, Hi: 10} // fill value −1
)

func TestWarps(t *testing.T) {
	type warp func(dst, src []float32, f Format, a float64, interp Interpolation)
	for _, tc := range []struct {
		name   string
		w      warp
		a      float64
		interp Interpolation
		f      Format
		want   []float32
	}{
		// Counter-clockwise on screen: the right column goes to the top row.
		{"rotate 90 nearest", Rotate, 90, Nearest, f3, []float32{3, 6, 9, 2, 5, 8, 1, 4, 7}},
		{"rotate 90 bilinear", Rotate, 90, Bilinear, f3, []float32{3, 6, 9, 2, 5, 8, 1, 4, 7}},
		{"rotate -90", Rotate, -90, Nearest, f3, []float32{7, 4, 1, 8, 5, 2, 9, 6, 3}},
		{"rotate 180", Rotate, 180, Bilinear, f3, []float32{9, 8, 7, 6, 5, 4, 3, 2, 1}},
		{"rotate 0 is the identity", Rotate, 0, Bilinear, f3, g3},
		// 45° nearest: the ring of eight pixels moves one place counter-clockwise.
		{"rotate 45 nearest", Rotate, 45, Nearest, f3f, []float32{2, 3, 6, 1, 5, 9, 4, 7, 8}},
		// dst(x, y) = src(x + s·y, y): row y shifts left by s·y; outside is the fill.
		{"shear_x 1", ShearX, 1, Nearest, f3f, []float32{1, 2, 3, 5, 6, -1, 9, -1, -1}},
		{"shear_x 0.5 nearest", ShearX, 0.5, Nearest, f3f, []float32{1, 2, 3, 5, 6, -1, 8, 9, -1}},
		{"shear_x 0.5 bilinear", ShearX, 0.5, Bilinear, f3f, []float32{1, 2, 3, 4.5, 5.5, 2.5, 8, 9, -1}},
		{"shear_x -1", ShearX, -1, Nearest, f3f, []float32{1, 2, 3, -1, 4, 5, -1, -1, 7}},
		{"shear_y 1", ShearY, 1, Nearest, f3f, []float32{1, 5, 9, 4, 8, -1, 7, -1, -1}},
		{"translate_x 1", TranslateX, 1, Nearest, f3f, []float32{2, 3, -1, 5, 6, -1, 8, 9, -1}},
		{"translate_x -1", TranslateX, -1, Nearest, f3f, []float32{-1, 1, 2, -1, 4, 5, -1, 7, 8}},
		{"translate_x 0.5 bilinear", TranslateX, 0.5, Bilinear, f3, []float32{1.5, 2.5, 1.5, 4.5, 5.5, 3, 7.5, 8.5, 4.5}},
		{"translate_y -1", TranslateY, -1, Nearest, f3f, []float32{-1, -1, -1, 1, 2, 3, 4, 5, 6}},
		{"translate_y 2", TranslateY, 2, Bilinear, f3, []float32{7, 8, 9, 0, 0, 0, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([]float32, 9)
			tc.w(dst, g3, tc.f, tc.a, tc.interp)
			require.InDeltaSlice(t, tc.want, dst, 1e-5)
		})
	}
}

func TestWarpMovesChannelsTogether(t *testing.T) {
	f := Format{Height: 1, Width: 3, Channels: 3, Lo: 0, Hi: 1}
	src := []float32{.1, .2, .3, .4, .5, .6, .7, .8, .9}
	dst := make([]float32, 9)
	TranslateX(dst, src, f, 1, Nearest)
	require.Equal(t, []float32{.4, .5, .6, .7, .8, .9, 0, 0, 0}, dst)
}

func TestPixelOps(t *testing.T) {
	f16 := Format{Height: 2, Width: 2, Channels: 1, Lo: 0, Hi: 16}
	f255 := Format{Height: 2, Width: 2, Channels: 1, Lo: 0, Hi: 255}
	for _, tc := range []struct {
		name     string
		f        Format
		in, want []float32
		op       func(img []float32, f Format)
	}{
		{"autocontrast stretches to [lo, hi]", f16, []float32{2, 4, 6, 10}, []float32{0, 4, 8, 16}, AutoContrast},
		{"autocontrast of a flat image is the identity", f16, []float32{5, 5, 5, 5}, []float32{5, 5, 5, 5}, AutoContrast},
		{"autocontrast per channel", Format{Height: 1, Width: 2, Channels: 3, Lo: 0, Hi: 1},
			[]float32{.2, .5, .5, .6, .5, .75}, []float32{0, .5, 0, 1, .5, 1}, AutoContrast},
		{"solarize 128", f255, []float32{0, 100, 128, 255}, []float32{0, 100, 127, 0},
			func(img []float32, f Format) { Solarize(img, f, 128) }},
		{"solarize 256 is the identity", f255, []float32{0, 100, 128, 255}, []float32{0, 100, 128, 255},
			func(img []float32, f Format) { Solarize(img, f, 256) }},
		{"solarize 0 inverts all", f255, []float32{0, 100, 128, 255}, []float32{255, 155, 127, 0},
			func(img []float32, f Format) { Solarize(img, f, 0) }},
		{"solarize on [0, 16]", f16, []float32{0, 8, 12, 16}, []float32{0, 8, 4, 0}, // codes 0, 127.5, 191.25, 255
			func(img []float32, f Format) { Solarize(img, f, 128) }},
		{"posterize 4 bits", f255, []float32{0, 100, 200, 255}, []float32{0, 96, 192, 240},
			func(img []float32, f Format) { Posterize(img, f, 4) }},
		{"posterize 1 bit", f255, []float32{0, 100, 200, 255}, []float32{0, 0, 128, 128},
			func(img []float32, f Format) { Posterize(img, f, 1) }},
		{"posterize 8 bits is the identity", f255, []float32{0, 100.3, 200, 255}, []float32{0, 100.3, 200, 255},
			func(img []float32, f Format) { Posterize(img, f, 8) }},
		{"posterize on [0, 16]", f16, []float32{0, 8, 16, 1}, []float32{0, 128. / 255 * 16, 224. / 255 * 16, 0}, // codes 0, 128, 255, 16 & 0xe0
			func(img []float32, f Format) { Posterize(img, f, 3) }},
		{"brightness 0.5", f16, []float32{0, 4, 8, 16}, []float32{0, 2, 4, 8},
			func(img []float32, f Format) { Brightness(img, f, 0.5) }},
		{"brightness 1.5 clips", f16, []float32{0, 4, 8, 16}, []float32{0, 6, 12, 16},
			func(img []float32, f Format) { Brightness(img, f, 1.5) }},
		{"brightness with lo ≠ 0", Format{Height: 1, Width: 2, Lo: -1, Hi: 1}, []float32{-1, 1}, []float32{-1, 0},
			func(img []float32, f Format) { Brightness(img, f, 0.5) }},
		{"contrast 0.5 toward the mean 6", f16, []float32{0, 4, 8, 12}, []float32{3, 5, 7, 9},
			func(img []float32, f Format) { Contrast(img, f, 0.5) }},
		{"contrast 0 is flat", f16, []float32{0, 4, 8, 12}, []float32{6, 6, 6, 6},
			func(img []float32, f Format) { Contrast(img, f, 0) }},
		{"contrast 2 clips", f16, []float32{0, 4, 8, 12}, []float32{0, 2, 10, 16},
			func(img []float32, f Format) { Contrast(img, f, 2) }},
		{"contrast of RGB uses the luminance mean", Format{Height: 1, Width: 1, Channels: 3, Lo: 0, Hi: 100},
			[]float32{100, 0, 0}, []float32{29.9, 29.9, 29.9}, // one pixel: mean = 0.299·100
			func(img []float32, f Format) { Contrast(img, f, 0) }},
		{"color 0 is the luminance", Format{Height: 1, Width: 1, Channels: 3, Lo: 0, Hi: 16},
			[]float32{10, 0, 0}, []float32{2.99, 2.99, 2.99},
			func(img []float32, f Format) { Color(img, f, 0) }},
		{"color 1.5 on RGB", Format{Height: 1, Width: 1, Channels: 3, Lo: 0, Hi: 16},
			[]float32{10, 0, 0}, []float32{13.505, 0, 0}, // 2.99 + 1.5·(10−2.99), G and B clip at 0
			func(img []float32, f Format) { Color(img, f, 1.5) }},
		{"color on grayscale is the identity", f16, []float32{0, 4, 8, 12}, []float32{0, 4, 8, 12},
			func(img []float32, f Format) { Color(img, f, 0) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := append([]float32(nil), tc.in...)
			tc.op(img, tc.f)
			require.InDeltaSlice(t, tc.want, img, 1e-4)
		})
	}
}

func TestSharpness(t *testing.T) {
	f := Format{Height: 3, Width: 3, Channels: 1, Lo: 0, Hi: 20}
	spike := []float32{1, 1, 1, 1, 14, 1, 1, 1, 1}
	for _, tc := range []struct {
		factor float64
		centre float32
	}{
		{0, 6},  // (8·1 + 5·14)/13 = 78/13
		{1, 14}, // identity
		{0.5, 10},
		{2, 20}, // 6 + 2·(14 − 6) = 22, clipped
	} {
		img := append([]float32(nil), spike...)
		Sharpness(img, f, tc.factor)
		want := append([]float32(nil), spike...)
		want[4] = tc.centre // the border keeps the original pixels
		require.InDeltaSlice(t, want, img, 1e-5, "factor %v", tc.factor)
	}
}

func TestEqualize(t *testing.T) {
	// PIL's rule on a 1×512 image: 200 pixels at code 0, 200 at 100, 112 at 255.
	// step = (512 − 112) / 255 = 1; lut[k] = pixels below k: 0 -> 0, 100 -> 200, 255 -> 400 ∧ 255.
	f := Format{Height: 1, Width: 512, Channels: 1, Lo: 0, Hi: 255}
	img := make([]float32, 512)
	for i := range img {
		switch {
		case i < 200:
			img[i] = 0
		case i < 400:
			img[i] = 100
		default:
			img[i] = 255
		}
	}
	Equalize(img, f)
	require.Equal(t, float32(0), img[0])
	require.Equal(t, float32(200), img[250])
	require.Equal(t, float32(255), img[500])

	// On 64 pixels step = 0: the identity (as in PIL and torchvision).
	d := make([]float32, 64)
	for i := range d {
		d[i] = float32(i % 17)
	}
	want := append([]float32(nil), d...)
	Equalize(d, Digits)
	require.Equal(t, want, d)
}
