package guide_test

import (
	"io"
	"log"
	"os"
	"testing"

	"github.com/moeboost/moeboost/train/backend"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	_ = backend.MustDefault() // created (and its one-line notice printed) before any Example runs
	log.SetOutput(io.Discard) // optimizers log their parameter groups once
	os.Exit(m.Run())
}
