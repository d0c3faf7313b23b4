package optimizers_test

import "testing"

func runMKORGolden(t *testing.T, c *goldenCase) { t.Fatal("MKOR not yet") }
