//go:build !unix

package assign

import "time"

func processCPU() time.Duration { return 0 }
