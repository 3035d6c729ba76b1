package realtime

import (
	"testing"

	"repairroom/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }
