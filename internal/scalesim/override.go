package scalesim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/backhaul/backhaul/internal/autoscale"
)

// Override is an alternative configuration for --compare: HPA fields of some
// services, written with the HorizontalPodAutoscaler's own field names, each
// replacing the guide's value; and whether to add predictive scaling.
//
//	label: faster-solver-scaling
//	predictive: false
//	services:
//	  optimization-engine:
//	    minReplicas: 3
//	    metrics:
//	    - type: Resource
//	      name: cpu
//	      target: {type: Utilization, averageUtilization: 60}
//	    - type: Pods
//	      name: job_queue_length
//	      target: {type: AverageValue, averageValue: "2"}
//	    behavior:
//	      scaleUp:
//	        stabilizationWindowSeconds: 30
type Override struct {
	Label      string                     `yaml:"label"`
	Predictive bool                       `yaml:"predictive"`
	Services   map[string]ServiceOverride `yaml:"services"`
}

// ServiceOverride holds the HPA fields to replace; a missing field keeps the
// guide's value, a given metrics list replaces the whole list.
type ServiceOverride struct {
	MinReplicas *int             `yaml:"minReplicas"`
	MaxReplicas *int             `yaml:"maxReplicas"`
	Metrics     []MetricOverride `yaml:"metrics"`
	Behavior    *struct {
		ScaleUp   *RulesOverride `yaml:"scaleUp"`
		ScaleDown *RulesOverride `yaml:"scaleDown"`
	} `yaml:"behavior"`
}

// MetricOverride is one metric in the flattened shape of autoscale.MetricSpec.
type MetricOverride struct {
	Type   string `yaml:"type"`
	Name   string `yaml:"name"`
	Target struct {
		Type               string   `yaml:"type"`
		AverageUtilization *int     `yaml:"averageUtilization"`
		AverageValue       Quantity `yaml:"averageValue"`
		Value              Quantity `yaml:"value"`
	} `yaml:"target"`
}

// RulesOverride replaces one direction's scaling rules field by field.
type RulesOverride struct {
	StabilizationWindowSeconds *int     `yaml:"stabilizationWindowSeconds"`
	SelectPolicy               *string  `yaml:"selectPolicy"`
	Policies                   []Policy `yaml:"policies"`
}

// Policy is one scaling policy.
type Policy struct {
	Type          string `yaml:"type"`
	Value         int    `yaml:"value"`
	PeriodSeconds int    `yaml:"periodSeconds"`
}

// Quantity is a Kubernetes quantity as the HPA's targets take it: a YAML
// number, or a string with an optional decimal suffix (m, k, M, G, T).
type Quantity struct {
	Value float64
	Set   bool
}

var quantitySuffixes = map[string]float64{"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}

// ParseQuantity parses "1000", "500m", "1.5k" or "2e3".
func ParseQuantity(s string) (float64, error) {
	s = strings.TrimSpace(s)
	mult := 1.0
	for suffix, m := range quantitySuffixes {
		if strings.HasSuffix(s, suffix) {
			s, mult = strings.TrimSuffix(s, suffix), m
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || strings.ContainsAny(s, "xXpP_") {
		return 0, fmt.Errorf("%q is not a quantity", s)
	}
	return v * mult, nil
}

// UnmarshalYAML accepts a number or a quantity string.
func (q *Quantity) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("want a number or a quantity such as \"500m\"")
	}
	v, err := ParseQuantity(n.Value)
	if err != nil {
		return err
	}
	q.Value, q.Set = v, true
	return nil
}

// maxOverrideSize bounds what ParseOverride reads; a real file is a few KB.
const maxOverrideSize = 1 << 20

// ParseOverride decodes an override file strictly: unknown fields, several
// documents or an empty file are errors.
func ParseOverride(data []byte) (Override, error) {
	var o Override
	if len(data) > maxOverrideSize {
		return o, fmt.Errorf("override file is %d bytes: at most %d", len(data), maxOverrideSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&o); err != nil {
		if errors.Is(err, io.EOF) {
			return o, errors.New("override file is empty")
		}
		return o, fmt.Errorf("override file: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return o, errors.New("override file: want one YAML document")
	}
	if len(o.Services) == 0 && !o.Predictive {
		return o, errors.New("override file: services: nothing to override and predictive not set")
	}
	return o, nil
}

// Apply returns the HPAs with the override's fields in place, each checked
// against the API server's validation and against what the service model
// exports. Every problem is reported, named by its field path.
func (o Override) Apply(p Platform, hpas []autoscale.GuideSpec) ([]autoscale.GuideSpec, error) {
	out := slices.Clone(hpas)
	var errs []error
	names := make([]string, 0, len(o.Services))
	for name := range o.Services {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		so := o.Services[name]
		path := "services." + name
		i := slices.IndexFunc(out, func(h autoscale.GuideSpec) bool { return h.Service == name })
		mi := slices.IndexFunc(p.Services, func(m ServiceModel) bool { return m.Service == name })
		if i < 0 || mi < 0 {
			errs = append(errs, fmt.Errorf("%s: unknown service", path))
			continue
		}
		spec, err := so.apply(out[i].Spec, p.Services[mi], path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[i].Spec = spec
	}
	return out, errors.Join(errs...)
}

func (so ServiceOverride) apply(spec autoscale.Spec, m ServiceModel, path string) (autoscale.Spec, error) {
	var errs []error
	if so.MinReplicas != nil {
		spec.MinReplicas = *so.MinReplicas
	}
	if so.MaxReplicas != nil {
		spec.MaxReplicas = *so.MaxReplicas
	}
	if so.Metrics != nil {
		spec.Metrics = nil
		for k, mo := range so.Metrics {
			ms, err := mo.spec()
			if err == nil && !m.produces(ms) {
				err = fmt.Errorf("the %s model exports no %s metric %q", m.Service, ms.Type, ms.Name)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.metrics[%d]: %w", path, k, err))
				continue
			}
			spec.Metrics = append(spec.Metrics, ms)
		}
	}
	if b := so.Behavior; b != nil {
		beh := autoscale.Behavior{}
		if spec.Behavior != nil {
			beh = *spec.Behavior
		}
		beh.ScaleUp = b.ScaleUp.apply(beh.ScaleUp)
		beh.ScaleDown = b.ScaleDown.apply(beh.ScaleDown)
		spec.Behavior = &beh
	}
	if err := errors.Join(errs...); err != nil {
		return spec, err
	}
	if err := spec.Validate(); err != nil {
		return spec, fmt.Errorf("%s: %w", path, err)
	}
	return spec, nil
}

func (mo MetricOverride) spec() (autoscale.MetricSpec, error) {
	ms := autoscale.MetricSpec{
		Type: autoscale.MetricSourceType(mo.Type), Name: mo.Name,
		Target: autoscale.MetricTarget{Type: autoscale.TargetType(mo.Target.Type)},
	}
	if mo.Name == "" {
		return ms, errors.New("name: required")
	}
	switch ms.Target.Type {
	case autoscale.UtilizationTarget:
		if mo.Target.AverageUtilization == nil {
			return ms, errors.New("target.averageUtilization: required for a Utilization target")
		}
		ms.Target.AverageUtilization = *mo.Target.AverageUtilization
	case autoscale.AverageValueTarget:
		if !mo.Target.AverageValue.Set {
			return ms, errors.New("target.averageValue: required for an AverageValue target")
		}
		ms.Target.AverageValue = mo.Target.AverageValue.Value
	case autoscale.ValueTarget:
		if !mo.Target.Value.Set {
			return ms, errors.New("target.value: required for a Value target")
		}
		ms.Target.Value = mo.Target.Value.Value
	default:
		return ms, fmt.Errorf("target.type %q: want Utilization, AverageValue or Value", mo.Target.Type)
	}
	return ms, nil
}

// apply returns the rules with the override's fields in place; base may be
// nil, meaning the Kubernetes defaults.
func (ro *RulesOverride) apply(base *autoscale.ScalingRules) *autoscale.ScalingRules {
	if ro == nil {
		return base
	}
	r := autoscale.ScalingRules{}
	if base != nil {
		r = *base
	}
	if ro.StabilizationWindowSeconds != nil {
		r.StabilizationWindowSeconds = new(*ro.StabilizationWindowSeconds)
	}
	if ro.SelectPolicy != nil {
		r.SelectPolicy = autoscale.SelectPolicy(*ro.SelectPolicy)
	}
	if ro.Policies != nil {
		r.Policies = nil
		for _, p := range ro.Policies {
			r.Policies = append(r.Policies, autoscale.ScalingPolicy{Type: autoscale.PolicyType(p.Type), Value: p.Value, PeriodSeconds: p.PeriodSeconds})
		}
	}
	return &r
}
