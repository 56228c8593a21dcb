// Command backhaul runs the Backhaul freight platform and its tools.
package main

import (
	"os"

	"github.com/backhaul/backhaul/internal/app"
)

func main() {
	os.Exit(app.Main(os.Args[1:], os.Stdout, os.Stderr))
}
