package autoscale

// GuideSpec is one service's HorizontalPodAutoscaler as the scaling guide
// (sections 2.1, 2.2 and 6.3) specifies it.
type GuideSpec struct {
	Service string // the service, as the guide's table names it in kebab case
	HPAName string // metadata.name of the HPA; the guide's YAML where it gives one
	Spec    Spec
}

// Secondary targets the guide's table leaves without a number. They are our
// choices, to be revised from the services' measured capacity.
const (
	// driverActiveSessionsTarget: a driver app keeps one session and sends a
	// position every few seconds, so 500 sessions a pod is far below the
	// tracking service's 5000 updates per second per pod.
	driverActiveSessionsTarget = 500
	// loadTransactionsTarget: load writes are single-row transactions; 200 a
	// second a pod leaves headroom under the CPU target on the guide's
	// 500m-1000m API-service requests.
	loadTransactionsTarget = 200
	// notificationPendingTarget: the same backlog per pod the guide gives
	// load matching's queue depth (100).
	notificationPendingTarget = 100
)

// GuideSpecs returns the scaling guide's HPA settings for every service of
// its section 2.2 table, in the table's order.
func GuideSpecs() []GuideSpec {
	return []GuideSpec{
		{"api-gateway", "api-gateway", Spec{
			MinReplicas: 3, MaxReplicas: 20,
			Metrics:  []MetricSpec{cpu(70), podsAverage("http_requests_per_second", 1000)},
			Behavior: standardBehavior(),
		}},
		{"load-matching", "load-matching-service", Spec{
			MinReplicas: 2, MaxReplicas: 15,
			Metrics:  []MetricSpec{cpu(70), podsAverage("queue_depth", 100)},
			Behavior: standardBehavior(),
		}},
		{"driver-service", "driver-service", Spec{
			MinReplicas: 3, MaxReplicas: 12,
			Metrics:  []MetricSpec{cpu(70), podsAverage("active_sessions", driverActiveSessionsTarget)},
			Behavior: standardBehavior(),
		}},
		{"load-service", "load-service", Spec{
			MinReplicas: 3, MaxReplicas: 8,
			Metrics:  []MetricSpec{cpu(70), podsAverage("transactions_per_second", loadTransactionsTarget)},
			Behavior: standardBehavior(),
		}},
		{"tracking-service", "tracking-service", Spec{
			MinReplicas: 3, MaxReplicas: 20,
			Metrics:  []MetricSpec{cpu(70), podsAverage("position_updates_per_second", 5000)},
			Behavior: standardBehavior(),
		}},
		{"optimization-engine", "optimization-engine", Spec{
			MinReplicas: 2, MaxReplicas: 10,
			Metrics: []MetricSpec{cpu(75), podsAverage("job_queue_length", 5)},
			Behavior: &Behavior{
				ScaleUp: &ScalingRules{
					StabilizationWindowSeconds: new(120),
					SelectPolicy:               SelectMax,
					Policies: []ScalingPolicy{
						{Type: PodsPolicy, Value: 1, PeriodSeconds: 60},
						{Type: PercentPolicy, Value: 30, PeriodSeconds: 60},
					},
				},
				ScaleDown: &ScalingRules{
					StabilizationWindowSeconds: new(300),
					SelectPolicy:               SelectMin,
					Policies: []ScalingPolicy{
						{Type: PodsPolicy, Value: 1, PeriodSeconds: 180},
						{Type: PercentPolicy, Value: 10, PeriodSeconds: 180},
					},
				},
			},
		}},
		// Section 2.4 names the notification backlog metric pending_notifications.
		{"notification-service", "notification-service", Spec{
			MinReplicas: 2, MaxReplicas: 8,
			Metrics:  []MetricSpec{cpu(70), podsAverage("pending_notifications", notificationPendingTarget)},
			Behavior: standardBehavior(),
		}},
	}
}

func cpu(percent int) MetricSpec {
	return MetricSpec{Type: ResourceMetric, Name: "cpu", Target: MetricTarget{Type: UtilizationTarget, AverageUtilization: percent}}
}

func podsAverage(name string, v float64) MetricSpec {
	return MetricSpec{Type: PodsMetric, Name: name, Target: MetricTarget{Type: AverageValueTarget, AverageValue: v}}
}

// standardBehavior is the behavior of sections 2.1 and 2.3: scale up within
// a 60 s window by 2 pods or 50% a minute, whichever is more; scale down
// after 300 s by 1 pod or 10% every two minutes, whichever is less.
func standardBehavior() *Behavior {
	return &Behavior{
		ScaleUp: &ScalingRules{
			StabilizationWindowSeconds: new(60),
			SelectPolicy:               SelectMax,
			Policies: []ScalingPolicy{
				{Type: PodsPolicy, Value: 2, PeriodSeconds: 60},
				{Type: PercentPolicy, Value: 50, PeriodSeconds: 60},
			},
		},
		ScaleDown: &ScalingRules{
			StabilizationWindowSeconds: new(300),
			SelectPolicy:               SelectMin,
			Policies: []ScalingPolicy{
				{Type: PodsPolicy, Value: 1, PeriodSeconds: 120},
				{Type: PercentPolicy, Value: 10, PeriodSeconds: 120},
			},
		},
	}
}
