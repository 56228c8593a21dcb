package ratemodel

import (
	"os"
	"strconv"
	"strings"
)

var dropFeatures = func() map[int]bool {
	m := map[int]bool{}
	for _, s := range strings.Split(os.Getenv("RM_DROP"), ",") {
		if s == "" {
			continue
		}
		i, _ := strconv.Atoi(s)
		m[i] = true
	}
	return m
}()

func maskX(x []float64) {
	for f := range dropFeatures {
		x[f] = 0
	}
}

func envParams(p boostParams) boostParams {
	f := func(k string, v *float64) {
		if s := os.Getenv(k); s != "" {
			*v, _ = strconv.ParseFloat(s, 64)
		}
	}
	i := func(k string, v *int) {
		if s := os.Getenv(k); s != "" {
			*v, _ = strconv.Atoi(s)
		}
	}
	f("RM_LR", &p.LearningRate)
	i("RM_LEAVES", &p.Leaves)
	i("RM_MINLEAF", &p.MinLeaf)
	f("RM_LAMBDA", &p.Lambda)
	f("RM_ROWS", &p.RowSample)
	f("RM_COLS", &p.ColSample)
	f("RM_HUBER", &p.Huber)
	i("RM_DEPTH", &p.MaxDepth)
	return p
}

func envF(k string, d float64) float64 {
	if s := os.Getenv(k); s != "" {
		v, _ := strconv.ParseFloat(s, 64)
		return v
	}
	return d
}
