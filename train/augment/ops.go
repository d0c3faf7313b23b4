package augment

import "math"

// The pixel operations below work in place on one image of f.ImageSize() floats, follow the
// PIL functions that the reference code (tensorflow/tpu autoaugment.py, torchvision
// transforms/autoaugment.py) re-implements, and clip their results into [f.Lo, f.Hi].
// Deviation from PIL: values stay float32 between operations instead of being rounded to
// uint8; only the operations defined on 8-bit codes (Posterize, Equalize) quantize.

// AutoContrast stretches each channel linearly so that its minimum becomes f.Lo and its
// maximum f.Hi; a constant channel is left unchanged (PIL ImageOps.autocontrast, cutoff 0).
func AutoContrast(img []float32, f Format) {
	c := f.channels()
	for ch := range c {
		lo, hi := math.Inf(1), math.Inf(-1)
		for i := ch; i < len(img); i += c {
			lo, hi = min(lo, float64(img[i])), max(hi, float64(img[i]))
		}
		if !(hi > lo) {
			continue
		}
		scale := (f.Hi - f.Lo) / (hi - lo)
		for i := ch; i < len(img); i += c {
			img[i] = f.clip(f.Lo + (float64(img[i])-lo)*scale)
		}
	}
}

// Equalize equalizes the histogram of each channel on 8-bit codes, exactly as PIL's
// ImageOps.equalize (and torchvision's tensor equalize): with hist the 256-bin histogram and
// step = ⌊(Σ hist − hist[last non-empty bin]) / 255⌋, a code k maps to
// min(255, ⌊(Σ_{j<k} hist[j] + ⌊step/2⌋) / step⌋); when step is 0 the channel is unchanged.
// Note: step is 0 for every image of at most 255 pixels, so on 8×8 digits Equalize is the
// identity, in PIL and torchvision alike.
func Equalize(img []float32, f Format) {
	c := f.channels()
	codes := make([]int, len(img)/c)
	for ch := range c {
		var hist [256]int
		for k, i := 0, ch; i < len(img); k, i = k+1, i+c {
			codes[k] = min(255, max(0, int(math.Round(f.code(img[i])))))
			hist[codes[k]]++
		}
		last := 255
		for last > 0 && hist[last] == 0 {
			last--
		}
		step := (len(codes) - hist[last]) / 255
		if step == 0 {
			continue
		}
		var lut [256]int
		n := 0
		for k := range 256 {
			lut[k] = min(255, (n+step/2)/step)
			n += hist[k]
		}
		for k, i := 0, ch; i < len(img); k, i = k+1, i+c {
			img[i] = f.fromCode(float64(lut[codes[k]]))
		}
	}
}

// Solarize inverts (v -> Lo + Hi − v) every value whose 8-bit code is at least threshold
// (PIL ImageOps.solarize: p >= threshold -> 255 − p). threshold 256 or more leaves the image
// unchanged; 0 inverts every pixel.
func Solarize(img []float32, f Format, threshold float64) {
	for i, v := range img {
		if f.code(v) >= threshold {
			img[i] = f.clip(f.Lo + f.Hi - float64(v))
		}
	}
}

// Posterize keeps the top bits of each 8-bit code (PIL ImageOps.posterize: p & ~(2^(8−bits)−1)).
// bits 8 (or more) leaves the image unchanged (no quantization); bits is clamped to ≥ 0.
func Posterize(img []float32, f Format, bits int) {
	if bits >= 8 {
		return
	}
	mask := ^((1 << (8 - max(bits, 0))) - 1)
	for i, v := range img {
		code := min(255, max(0, int(math.Round(f.code(v)))))
		img[i] = f.fromCode(float64(code & mask))
	}
}

// blend writes clip(degenerate + factor·(img − degenerate)), PIL ImageEnhance's
// Image.blend(degenerate, img, factor): factor 1 is the identity, 0 the degenerate image,
// above 1 extrapolates.
func blend(img, degenerate []float32, f Format, factor float64) {
	for i, v := range img {
		d := float64(degenerate[i])
		img[i] = f.clip(d + factor*(float64(v)-d))
	}
}

// gray returns the luminance of pixel p (PIL's convert("L"): 0.299 R + 0.587 G + 0.114 B
// for RGB; the value itself for one channel).
func gray(img []float32, c, p int) float64 {
	if c == 1 {
		return float64(img[p])
	}
	return 0.299*float64(img[p*c]) + 0.587*float64(img[p*c+1]) + 0.114*float64(img[p*c+2])
}

// Brightness blends with a black image (f.Lo): factor 0 gives black, 1 the image
// (PIL ImageEnhance.Brightness).
func Brightness(img []float32, f Format, factor float64) {
	for i, v := range img {
		img[i] = f.clip(f.Lo + factor*(float64(v)-f.Lo))
	}
}

// Contrast blends with a constant image at the mean luminance: factor 0 gives a flat grey,
// 1 the image (PIL ImageEnhance.Contrast; PIL rounds the mean to an integer code, here it
// stays a float). The TF reference computes that mean from a histogram as Σ hist / 256, the
// pixel count, not the mean intensity; we keep PIL's definition.
func Contrast(img []float32, f Format, factor float64) {
	c := f.channels()
	np := len(img) / c
	var mean float64
	for p := range np {
		mean += gray(img, c, p)
	}
	mean /= float64(np)
	for i, v := range img {
		img[i] = f.clip(mean + factor*(float64(v)-mean))
	}
}

// Color blends each pixel with its own luminance (PIL ImageEnhance.Color): factor 0 gives the
// grey image, 1 the image. On one channel the luminance is the pixel itself and Color is the
// identity, which is why RandAugment drops it from the grayscale op list.
func Color(img []float32, f Format, factor float64) {
	c := f.channels()
	if c == 1 {
		return
	}
	for p := range len(img) / c {
		g := gray(img, c, p)
		for ch := range c {
			i := p*c + ch
			img[i] = f.clip(g + factor*(float64(img[i])-g))
		}
	}
}

// Sharpness blends with a smoothed copy (PIL ImageEnhance.Sharpness): the degenerate image is
// the 3×3 filter [1 1 1; 1 5 1; 1 1 1]/13 on interior pixels and the original on the one-pixel
// border; factor 0 gives the smoothed image, 1 the image, 2 a sharpened one.
func Sharpness(img []float32, f Format, factor float64) {
	h, w, c := f.Height, f.Width, f.channels()
	deg := make([]float32, len(img))
	copy(deg, img)
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			for ch := range c {
				var s float64
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						wt := 1.0
						if dx == 0 && dy == 0 {
							wt = 5
						}
						s += wt * float64(img[((y+dy)*w+x+dx)*c+ch])
					}
				}
				deg[(y*w+x)*c+ch] = f.clip(s / 13)
			}
		}
	}
	blend(img, deg, f, factor)
}
