package augment

import (
	"fmt"
	"math"
)

// Interpolation selects how the affine warp samples the source image.
type Interpolation int

const (
	// Nearest takes the source pixel nearest to the sampled point (the reference code's
	// default: TF contrib_image and torchvision both use NEAREST).
	Nearest Interpolation = iota
	// Bilinear blends the four source pixels around the sampled point; neighbours outside the
	// image count as the fill value (torchvision's tensor path does the same through its mask).
	Bilinear
)

// ParseInterpolation reads "nearest" (also "") or "bilinear".
func ParseInterpolation(s string) (Interpolation, error) {
	switch s {
	case "", "nearest":
		return Nearest, nil
	case "bilinear":
		return Bilinear, nil
	}
	return 0, fmt.Errorf("augment: interpolation %q must be \"nearest\" or \"bilinear\"", s)
}

// String returns "nearest" or "bilinear".
func (i Interpolation) String() string {
	if i == Bilinear {
		return "bilinear"
	}
	return "nearest"
}

// Affine warps one image: dst(x, y) = src(a[0]·x + a[1]·y + a[2], a[3]·x + a[4]·y + a[5]),
// with pixel centres at integer coordinates (x = column, y = row, (0, 0) the top-left pixel),
// the inverse map PIL's Image.transform(AFFINE) and TF's contrib_image.transform take. Points
// that fall outside the source take the fill value f.Lo (torchvision's default fill 0, the
// digits' background; TF fills with grey 128 instead). dst and src are single images of
// f.ImageSize() floats and must not overlap.
func Affine(dst, src []float32, f Format, a [6]float64, interp Interpolation) {
	h, w, c := f.Height, f.Width, f.channels()
	fill := float32(f.Lo)
	at := func(y, x, ch int) float32 {
		if x < 0 || x >= w || y < 0 || y >= h {
			return fill
		}
		return src[(y*w+x)*c+ch]
	}
	for y := range h {
		for x := range w {
			qx := a[0]*float64(x) + a[1]*float64(y) + a[2]
			qy := a[3]*float64(x) + a[4]*float64(y) + a[5]
			out := dst[(y*w+x)*c : (y*w+x+1)*c]
			if interp == Nearest {
				sx, sy := int(math.Floor(qx+0.5)), int(math.Floor(qy+0.5))
				for ch := range out {
					out[ch] = at(sy, sx, ch)
				}
				continue
			}
			x0, y0 := math.Floor(qx), math.Floor(qy)
			fx, fy := qx-x0, qy-y0
			ix, iy := int(x0), int(y0)
			for ch := range out {
				v := (1-fy)*((1-fx)*float64(at(iy, ix, ch))+fx*float64(at(iy, ix+1, ch))) +
					fy*((1-fx)*float64(at(iy+1, ix, ch))+fx*float64(at(iy+1, ix+1, ch)))
				out[ch] = float32(v)
			}
		}
	}
}

// Rotate turns the image by deg degrees counter-clockwise (as seen on screen, rows running
// down) about its centre ((W−1)/2, (H−1)/2), as PIL's Image.rotate and TF's
// contrib_image.rotate do.
func Rotate(dst, src []float32, f Format, deg float64, interp Interpolation) {
	th := deg * math.Pi / 180
	cs, sn := math.Cos(th), math.Sin(th)
	cx, cy := float64(f.Width-1)/2, float64(f.Height-1)/2
	// Inverse map: source = c + R(θ)ᵀ-on-screen·(p − c), i.e. q = c + [cos −sin; sin cos](p − c).
	Affine(dst, src, f, [6]float64{cs, -sn, cx - cs*cx + sn*cy, sn, cs, cy - sn*cx - cs*cy}, interp)
}

// ShearX shears along x: dst(x, y) = src(x + s·y, y), the reference's affine (1, s, 0; 0, 1, 0)
// with the origin at the top-left pixel.
func ShearX(dst, src []float32, f Format, s float64, interp Interpolation) {
	Affine(dst, src, f, [6]float64{1, s, 0, 0, 1, 0}, interp)
}

// ShearY shears along y: dst(x, y) = src(x, y + s·x), the affine (1, 0, 0; s, 1, 0).
func ShearY(dst, src []float32, f Format, s float64, interp Interpolation) {
	Affine(dst, src, f, [6]float64{1, 0, 0, s, 1, 0}, interp)
}

// TranslateX shifts the content left by px pixels: dst(x, y) = src(x + px, y), PIL's
// transform (1, 0, px; 0, 1, 0) and TF's translate(image, [−px, 0]).
func TranslateX(dst, src []float32, f Format, px float64, interp Interpolation) {
	Affine(dst, src, f, [6]float64{1, 0, px, 0, 1, 0}, interp)
}

// TranslateY shifts the content up by px pixels: dst(x, y) = src(x, y + px).
func TranslateY(dst, src []float32, f Format, px float64, interp Interpolation) {
	Affine(dst, src, f, [6]float64{1, 0, 0, 0, 1, px}, interp)
}
