package autoscale

import (
	"errors"
	"fmt"
)

// MetricSourceType says where a metric comes from, as in autoscaling/v2.
type MetricSourceType string

const (
	// ResourceMetric is a per-pod resource such as cpu or memory.
	ResourceMetric MetricSourceType = "Resource"
	// PodsMetric is a custom per-pod metric averaged over the pods.
	PodsMetric MetricSourceType = "Pods"
	// ObjectMetric describes one Kubernetes object, such as an Ingress.
	ObjectMetric MetricSourceType = "Object"
	// ExternalMetric comes from outside the cluster, such as a queue length.
	ExternalMetric MetricSourceType = "External"
)

// TargetType says how a metric's target is expressed.
type TargetType string

const (
	// UtilizationTarget is a percentage of the pods' resource requests.
	UtilizationTarget TargetType = "Utilization"
	// ValueTarget is the metric's total value.
	ValueTarget TargetType = "Value"
	// AverageValueTarget is the metric's value divided by the number of pods.
	AverageValueTarget TargetType = "AverageValue"
)

// MetricTarget is the value the autoscaler tries to hold a metric at.
type MetricTarget struct {
	Type               TargetType
	Value              float64 // for ValueTarget
	AverageValue       float64 // for AverageValueTarget
	AverageUtilization int     // percent, for UtilizationTarget
}

// MetricSpec is one metric the autoscaler follows. It flattens the
// autoscaling/v2 source structs into one shape since the model only needs
// the source type, the metric's name and the target.
type MetricSpec struct {
	Type   MetricSourceType
	Name   string // resource name ("cpu") or metric name ("queue_depth")
	Target MetricTarget
}

// PolicyType is the unit of a scaling policy.
type PolicyType string

const (
	// PodsPolicy limits the change to a number of pods per period.
	PodsPolicy PolicyType = "Pods"
	// PercentPolicy limits the change to a percentage of the replicas per period.
	PercentPolicy PolicyType = "Percent"
)

// SelectPolicy picks among several policies.
type SelectPolicy string

const (
	// SelectMax picks the policy allowing the largest change (the default).
	SelectMax SelectPolicy = "Max"
	// SelectMin picks the policy allowing the smallest change.
	SelectMin SelectPolicy = "Min"
	// SelectDisabled forbids scaling in this direction.
	SelectDisabled SelectPolicy = "Disabled"
)

// ScalingPolicy limits how much the replica count may change within PeriodSeconds.
type ScalingPolicy struct {
	Type          PolicyType
	Value         int
	PeriodSeconds int
}

// ScalingRules configure one direction of scaling. A nil
// StabilizationWindowSeconds, empty SelectPolicy or empty Policies take the
// Kubernetes defaults for that direction.
type ScalingRules struct {
	StabilizationWindowSeconds *int
	SelectPolicy               SelectPolicy
	Policies                   []ScalingPolicy
}

// Behavior is the autoscaling/v2 behavior field. A nil direction takes the
// Kubernetes defaults.
type Behavior struct {
	ScaleUp   *ScalingRules
	ScaleDown *ScalingRules
}

// Spec is the part of a HorizontalPodAutoscaler spec that decides replicas.
type Spec struct {
	MinReplicas int
	MaxReplicas int
	Metrics     []MetricSpec
	// Behavior nil takes the documented defaults (DefaultScaleUp and
	// DefaultScaleDown). The controller's own code path for a nil behavior
	// caps each sync's scale-up at max(2×current, 4) instead, which differs
	// below 4 replicas and when syncs come faster than every 15 s.
	Behavior *Behavior
}

// Tolerance is the controller's default: no scaling while the usage ratio
// stays within 1±Tolerance.
const Tolerance = 0.1

// Kubernetes defaults for the behavior field (pkg/apis/autoscaling/v2 defaults
// and the controller's 5-minute downscale stabilization).
const (
	defaultScaleUpWindow   = 0
	defaultScaleDownWindow = 300
	maxWindowSeconds       = 3600
	maxPeriodSeconds       = 1800
)

// DefaultScaleUp returns the scale-up rules Kubernetes applies when none are
// given: no stabilization, and the larger of 4 pods or 100% every 15 s.
func DefaultScaleUp() ScalingRules {
	return ScalingRules{
		StabilizationWindowSeconds: new(defaultScaleUpWindow),
		SelectPolicy:               SelectMax,
		Policies: []ScalingPolicy{
			{Type: PodsPolicy, Value: 4, PeriodSeconds: 15},
			{Type: PercentPolicy, Value: 100, PeriodSeconds: 15},
		},
	}
}

// DefaultScaleDown returns the scale-down rules Kubernetes applies when none
// are given: a 300 s stabilization window, then up to 100% every 15 s.
func DefaultScaleDown() ScalingRules {
	return ScalingRules{
		StabilizationWindowSeconds: new(defaultScaleDownWindow),
		SelectPolicy:               SelectMax,
		Policies:                   []ScalingPolicy{{Type: PercentPolicy, Value: 100, PeriodSeconds: 15}},
	}
}

// rules is ScalingRules with every default filled in.
type rules struct {
	window   int
	sel      SelectPolicy
	policies []ScalingPolicy
}

func fillRules(r *ScalingRules, def ScalingRules) rules {
	out := rules{window: *def.StabilizationWindowSeconds, sel: def.SelectPolicy, policies: def.Policies}
	if r == nil {
		return out
	}
	if r.StabilizationWindowSeconds != nil {
		out.window = *r.StabilizationWindowSeconds
	}
	if r.SelectPolicy != "" {
		out.sel = r.SelectPolicy
	}
	if len(r.Policies) > 0 {
		out.policies = append([]ScalingPolicy(nil), r.Policies...)
	}
	return out
}

func (r rules) longestPeriod() int {
	longest := 0
	for _, p := range r.policies {
		longest = max(longest, p.PeriodSeconds)
	}
	return longest
}

// Validate reports every problem with the spec, following the API server's
// validation of autoscaling/v2.
func (s Spec) Validate() error {
	var errs []error
	if s.MinReplicas < 1 {
		errs = append(errs, fmt.Errorf("minReplicas %d: must be at least 1", s.MinReplicas))
	}
	if s.MaxReplicas < s.MinReplicas {
		errs = append(errs, fmt.Errorf("maxReplicas %d: must not be below minReplicas %d", s.MaxReplicas, s.MinReplicas))
	}
	if len(s.Metrics) == 0 {
		errs = append(errs, errors.New("metrics: at least one metric is required"))
	}
	for i, m := range s.Metrics {
		if err := m.validate(); err != nil {
			errs = append(errs, fmt.Errorf("metrics[%d]: %w", i, err))
		}
	}
	if s.Behavior != nil {
		if r := s.Behavior.ScaleUp; r != nil {
			if err := r.validate(); err != nil {
				errs = append(errs, fmt.Errorf("behavior.scaleUp: %w", err))
			}
		}
		if r := s.Behavior.ScaleDown; r != nil {
			if err := r.validate(); err != nil {
				errs = append(errs, fmt.Errorf("behavior.scaleDown: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

func (m MetricSpec) validate() error {
	if m.Name == "" {
		return errors.New("name is required")
	}
	t := m.Target
	switch m.Type {
	case ResourceMetric:
		switch t.Type {
		case UtilizationTarget:
			if t.AverageUtilization <= 0 || t.AverageUtilization > 1_000_000 {
				return fmt.Errorf("averageUtilization %d: must be within 1..1000000", t.AverageUtilization)
			}
			return nil
		case AverageValueTarget:
			return positive("averageValue", t.AverageValue)
		}
	case PodsMetric:
		if t.Type == AverageValueTarget {
			return positive("averageValue", t.AverageValue)
		}
	case ObjectMetric, ExternalMetric:
		switch t.Type {
		case ValueTarget:
			return positive("value", t.Value)
		case AverageValueTarget:
			return positive("averageValue", t.AverageValue)
		}
	default:
		return fmt.Errorf("type %q: unknown metric source", m.Type)
	}
	return fmt.Errorf("target type %q: not allowed for %s metrics", t.Type, m.Type)
}

// positive also bounds targets to what milli-value arithmetic can hold, as
// the controller compares quantities in thousandths.
func positive(field string, v float64) error {
	if !(v >= 0.001 && v <= maxQuantity) {
		return fmt.Errorf("%s %v: must be within 0.001..%g", field, v, float64(maxQuantity))
	}
	return nil
}

func (r *ScalingRules) validate() error {
	var errs []error
	if w := r.StabilizationWindowSeconds; w != nil && (*w < 0 || *w > maxWindowSeconds) {
		errs = append(errs, fmt.Errorf("stabilizationWindowSeconds %d: must be within 0..%d", *w, maxWindowSeconds))
	}
	switch r.SelectPolicy {
	case "", SelectMax, SelectMin, SelectDisabled:
	default:
		errs = append(errs, fmt.Errorf("selectPolicy %q: must be Max, Min or Disabled", r.SelectPolicy))
	}
	for i, p := range r.Policies {
		if p.Type != PodsPolicy && p.Type != PercentPolicy {
			errs = append(errs, fmt.Errorf("policies[%d]: type %q: must be Pods or Percent", i, p.Type))
		}
		if p.Value <= 0 {
			errs = append(errs, fmt.Errorf("policies[%d]: value %d: must be positive", i, p.Value))
		}
		if p.PeriodSeconds <= 0 || p.PeriodSeconds > maxPeriodSeconds {
			errs = append(errs, fmt.Errorf("policies[%d]: periodSeconds %d: must be within 1..%d", i, p.PeriodSeconds, maxPeriodSeconds))
		}
	}
	return errors.Join(errs...)
}
