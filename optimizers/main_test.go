package optimizers_test

import (
	"io"
	"log"
	"os"
	"testing"

	"github.com/moeboost/moeboost/train/backend"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	log.SetOutput(io.Discard) // parameter-group partitions are logged once per optimizer
	os.Exit(m.Run())
}
