package augment

import (
	"fmt"
	"math"
)

// Format describes a batch of images stored row-major in a flat float32 slice: image b,
// row y, column x, channel c is at ((b·H + y)·W + x)·C + c. Channels 0 means 1 (grayscale,
// the [B, H, W] layout). Pixel values lie in [Lo, Hi]; 8-bit operations (Posterize, Equalize,
// Solarize's threshold) map Lo..Hi linearly onto the codes 0..255.
type Format struct {
	Height, Width, Channels int
	Lo, Hi                  float64
}

// Digits is the format of scikit-learn's 8×8 digits as stored by data.Builtin("digits"):
// one channel, values 0..16.
var Digits = Format{Height: 8, Width: 8, Channels: 1, Lo: 0, Hi: 16}

// Validate checks the format: positive sizes, 1 or 3 channels (PIL's "L" and "RGB" modes,
// the two the reference code handles), finite Lo < Hi.
func (f Format) Validate() error {
	if f.Height < 1 || f.Width < 1 {
		return fmt.Errorf("augment: image size %dx%d must be at least 1x1", f.Height, f.Width)
	}
	if c := f.channels(); c != 1 && c != 3 {
		return fmt.Errorf("augment: channels=%d must be 1 (grayscale) or 3 (RGB)", f.Channels)
	}
	if math.IsNaN(f.Lo) || math.IsNaN(f.Hi) || math.IsInf(f.Lo, 0) || math.IsInf(f.Hi, 0) || !(f.Lo < f.Hi) {
		return fmt.Errorf("augment: value range [%v, %v] must be finite with lo < hi", f.Lo, f.Hi)
	}
	return nil
}

func (f Format) channels() int {
	if f.Channels == 0 {
		return 1
	}
	return f.Channels
}

// ImageSize is the number of floats in one image, H·W·C.
func (f Format) ImageSize() int { return f.Height * f.Width * f.channels() }

// code maps a value to the 8-bit scale, unrounded: Lo -> 0, Hi -> 255.
func (f Format) code(v float32) float64 { return (float64(v) - f.Lo) / (f.Hi - f.Lo) * 255 }

// fromCode maps an 8-bit code back to the value range.
func (f Format) fromCode(c float64) float32 { return float32(f.Lo + c/255*(f.Hi-f.Lo)) }

// clip clamps v into [Lo, Hi].
func (f Format) clip(v float64) float32 { return float32(min(max(v, f.Lo), f.Hi)) }

// batch checks that x holds a whole number of images and returns their count.
func (f Format) batch(x []float32) (int, error) {
	if err := f.Validate(); err != nil {
		return 0, err
	}
	n := f.ImageSize()
	if len(x)%n != 0 {
		return 0, fmt.Errorf("augment: batch of %d floats is not a whole number of %dx%dx%d images (%d floats each)",
			len(x), f.Height, f.Width, f.channels(), n)
	}
	return len(x) / n, nil
}
