package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/backhaul/backhaul/internal/solvecli"
)

func main() {
	root := &cobra.Command{Use: "backhaul"}
	bench := &cobra.Command{Use: "bench"}
	bench.AddCommand(solvecli.NewBenchCommand())
	root.AddCommand(solvecli.NewSolveCommand(), bench)
	if err := root.Execute(); err != nil {
		os.Exit(1)
	}
}
