package main

import (
	"fmt"
	"os"

	"github.com/backhaul/backhaul/internal/marketcli"
)

func main() {
	c := marketcli.NewMarketCommand()
	if err := c.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
