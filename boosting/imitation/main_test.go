package imitation

import (
	"os"
	"testing"

	"github.com/moeboost/moeboost/train/backend"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	os.Exit(m.Run())
}
