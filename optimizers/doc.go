// Package optimizers holds moeboost's optimizers, registered by name (see Register, Names, New)
// and usable anywhere GoMLX takes an optimizer.Interface, train.Trainer included.
package optimizers
