package gbnn

import (
	"os"
	"testing"

	"github.com/moeboost/moeboost/train/backend"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	_ = backend.MustDefault() // Created (and its one-line notice printed) before the Example runs.
	os.Exit(m.Run())
}
