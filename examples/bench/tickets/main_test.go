package tickets

import (
	"io"
	"log"
	"os"
	"testing"

	"github.com/moeboost/moeboost/train/backend"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	log.SetOutput(io.Discard)
	os.Exit(m.Run())
}
