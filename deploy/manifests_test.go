package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/spf13/pflag"

	"github.com/backhaul/backhaul/internal/app"
	"github.com/backhaul/backhaul/internal/autoscale"
)

// builds are every kustomization an operator applies.
var builds = map[string]string{
	"base":               "kubernetes/base",
	"dev":                "kubernetes/overlays/dev",
	"production":         "kubernetes/overlays/production",
	"production-keda":    "kubernetes/overlays/production-keda",
	"dev-migrate":        "kubernetes/overlays/dev/migrate",
	"production-migrate": "kubernetes/overlays/production/migrate",
	"cluster":            "kubernetes/cluster",
}

// manifests is one rendered kustomization, decoded strictly into typed objects.
type manifests struct {
	deployments  []*appsv1.Deployment
	services     []*corev1.Service
	pdbs         []*policyv1.PodDisruptionBudget
	hpas         []*autoscalingv2.HorizontalPodAutoscaler
	configMaps   []*corev1.ConfigMap
	secrets      []*corev1.Secret
	jobs         []*batchv1.Job
	scaledObject []*scaledObject
	others       []string // kind/name of the rest (Namespace, ServiceAccount)
}

// scaledObject is the part of KEDA's keda.sh/v1alpha1 ScaledObject the
// manifests use; strict decoding rejects any field outside it.
type scaledObject struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       struct {
		ScaleTargetRef struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Name       string `json:"name"`
		} `json:"scaleTargetRef"`
		MinReplicaCount *int32 `json:"minReplicaCount"`
		MaxReplicaCount *int32 `json:"maxReplicaCount"`
		PollingInterval *int32 `json:"pollingInterval"`
		Advanced        struct {
			HorizontalPodAutoscalerConfig struct {
				Name     string                                         `json:"name"`
				Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior"`
			} `json:"horizontalPodAutoscalerConfig"`
		} `json:"advanced"`
		Triggers []struct {
			Type       string            `json:"type"`
			Name       string            `json:"name"`
			MetricType string            `json:"metricType"`
			Metadata   map[string]string `json:"metadata"`
		} `json:"triggers"`
	} `json:"spec"`
}

func load(t *testing.T, build string) *manifests {
	t.Helper()
	objs, err := buildKustomization(builds[build])
	if err != nil {
		t.Fatalf("render %s: %v", build, err)
	}
	m := &manifests{}
	for _, o := range objs {
		if err := m.add(o); err != nil {
			t.Fatalf("%s: %s %s: %v", build, o["kind"], name(o), err)
		}
	}
	return m
}

func buildKustomization(dir string) ([]object, error) { return build(dir) }

func (m *manifests) add(o object) error {
	j, err := json.Marshal(o)
	if err != nil {
		return err
	}
	strict := func(v any) error { return yaml.UnmarshalStrict(j, v) }
	switch fmt.Sprintf("%s %s", o["apiVersion"], o["kind"]) {
	case "apps/v1 Deployment":
		v := &appsv1.Deployment{}
		m.deployments = append(m.deployments, v)
		return strict(v)
	case "v1 Service":
		v := &corev1.Service{}
		m.services = append(m.services, v)
		return strict(v)
	case "policy/v1 PodDisruptionBudget":
		v := &policyv1.PodDisruptionBudget{}
		m.pdbs = append(m.pdbs, v)
		return strict(v)
	case "autoscaling/v2 HorizontalPodAutoscaler":
		v := &autoscalingv2.HorizontalPodAutoscaler{}
		m.hpas = append(m.hpas, v)
		return strict(v)
	case "v1 ConfigMap":
		v := &corev1.ConfigMap{}
		m.configMaps = append(m.configMaps, v)
		return strict(v)
	case "v1 Secret":
		v := &corev1.Secret{}
		m.secrets = append(m.secrets, v)
		return strict(v)
	case "batch/v1 Job":
		v := &batchv1.Job{}
		m.jobs = append(m.jobs, v)
		return strict(v)
	case "keda.sh/v1alpha1 ScaledObject":
		v := &scaledObject{}
		m.scaledObject = append(m.scaledObject, v)
		return strict(v)
	case "v1 Namespace":
		m.others = append(m.others, "Namespace/"+name(o))
		return strict(&corev1.Namespace{})
	case "rbac.authorization.k8s.io/v1 ClusterRole":
		m.others = append(m.others, "ClusterRole/"+name(o))
		return strict(&rbacv1.ClusterRole{})
	case "rbac.authorization.k8s.io/v1 ClusterRoleBinding":
		m.others = append(m.others, "ClusterRoleBinding/"+name(o))
		return strict(&rbacv1.ClusterRoleBinding{})
	case "rbac.authorization.k8s.io/v1 Role":
		m.others = append(m.others, "Role/"+name(o))
		return strict(&rbacv1.Role{})
	case "rbac.authorization.k8s.io/v1 RoleBinding":
		m.others = append(m.others, "RoleBinding/"+name(o))
		return strict(&rbacv1.RoleBinding{})
	case "v1 ServiceAccount":
		m.others = append(m.others, "ServiceAccount/"+name(o))
		return strict(&corev1.ServiceAccount{})
	}
	return fmt.Errorf("no typed check for %s %s", o["apiVersion"], o["kind"])
}

func (m *manifests) deployment(name string) *appsv1.Deployment {
	for _, d := range m.deployments {
		if d.Name == name {
			return d
		}
	}
	return nil
}

func (m *manifests) hpa(name string) *autoscalingv2.HorizontalPodAutoscaler {
	for _, h := range m.hpas {
		if h.Name == name {
			return h
		}
	}
	return nil
}

func (m *manifests) configMap(name string) *corev1.ConfigMap {
	for _, c := range m.configMaps {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// targets are the scaling guide's services with their Deployment and the
// service type of the guide's section 3.3 that sets their resources.
var targets = []struct {
	target, deployment, serviceType, nodeRole string
}{
	{"api-gateway", "api-gateway", "API Services", "application"},
	{"load-service", "load-service", "API Services", "application"},
	{"driver-service", "driver-service", "API Services", "application"},
	{"load-matching", "load-matching-service", "Data Processing", "data-processing"},
	{"tracking-service", "tracking-service", "Data Processing", "data-processing"},
	{"notification-service", "notification-service", "Background Workers", "application"},
	{"optimization-engine", "optimization-engine", "Data Processing", "data-processing"},
	{"market-intelligence", "market-intelligence", "ML Inference", "ml-inference"},
}

// resourceGuide is the scaling guide's table 3.3.
var resourceGuide = map[string][4]string{ // cpu request, memory request, cpu limit, memory limit
	"API Services":       {"500m", "1Gi", "1", "2Gi"},
	"Data Processing":    {"1", "4Gi", "2", "8Gi"},
	"ML Inference":       {"2", "8Gi", "4", "16Gi"},
	"Background Workers": {"250m", "512Mi", "500m", "1Gi"},
}

func TestEveryManifestDecodesStrictly(t *testing.T) {
	for b := range builds {
		t.Run(b, func(t *testing.T) { load(t, b) })
	}
	// Every YAML file under deploy/kubernetes is part of some build.
	used := map[string]bool{}
	for _, dir := range builds {
		markUsed(t, dir, used)
	}
	filepath.WalkDir("kubernetes", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if !d.IsDir() && strings.HasSuffix(p, ".yaml") && !used[p] {
			t.Errorf("%s is in no kustomization the tests render", p)
		}
		return nil
	})
}

func TestOneNamespacePerEnvironment(t *testing.T) {
	for build, ns := range map[string]string{
		"dev": "backhaul-dev", "production": "backhaul", "production-keda": "backhaul",
		"dev-migrate": "backhaul-dev", "production-migrate": "backhaul",
	} {
		objs, err := buildKustomization(builds[build])
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if namespaced(o) && namespace(o) != ns {
				t.Errorf("%s: %s %s in namespace %q, want %q", build, o["kind"], name(o), namespace(o), ns)
			}
		}
	}
}

func markUsed(t *testing.T, dir string, used map[string]bool) {
	used[filepath.Join(dir, "kustomization.yaml")] = true
	k, err := readKustomization(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range append(k.Resources, k.Components...) {
		p := filepath.Join(dir, r)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			markUsed(t, p, used)
		} else {
			used[p] = true
		}
	}
}

func TestDeployments(t *testing.T) {
	for _, build := range []string{"base", "dev", "production", "production-keda"} {
		t.Run(build, func(t *testing.T) {
			m := load(t, build)
			if len(m.deployments) != len(targets) {
				t.Errorf("got %d Deployments, want one per target (%d)", len(m.deployments), len(targets))
			}
			images := map[string]bool{}
			for _, tg := range targets {
				d := m.deployment(tg.deployment)
				if d == nil {
					t.Errorf("no Deployment %s for target %s", tg.deployment, tg.target)
					continue
				}
				checkDeployment(t, m, tg.target, d)
				for _, c := range d.Spec.Template.Spec.Containers {
					images[c.Image] = true
				}
			}
			if len(images) != 1 {
				t.Errorf("got images %v, want one image for every target", images)
			}
		})
	}
}

func checkDeployment(t *testing.T, m *manifests, target string, d *appsv1.Deployment) {
	t.Helper()
	pod := d.Spec.Template
	if d.Spec.Selector == nil || !selects(d.Spec.Selector.MatchLabels, pod.Labels) {
		t.Errorf("%s: selector %v does not select its pod labels %v", d.Name, d.Spec.Selector, pod.Labels)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%s: got %d containers, want 1", d.Name, len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	if want := []string{"serve", "--target=" + target}; !slices.Equal(c.Args, want) {
		t.Errorf("%s: args %q, want %q", d.Name, c.Args, want)
	}
	if len(c.Command) != 0 {
		t.Errorf("%s: command %q overrides the image's entrypoint", d.Name, c.Command)
	}
	port := -1
	for _, p := range c.Ports {
		if p.Name == "http" {
			port = int(p.ContainerPort)
		}
	}
	if port != 8080 {
		t.Errorf("%s: http port %d, want 8080", d.Name, port)
	}
	for _, pr := range []struct {
		kind  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if pr.probe == nil || pr.probe.HTTPGet == nil {
			t.Errorf("%s: no HTTP %s probe", d.Name, pr.kind)
			continue
		}
		if g := pr.probe.HTTPGet; g.Path != pr.path || (g.Port.String() != "http" && g.Port.IntValue() != 8080) {
			t.Errorf("%s: %s probe %s on %s, want %s on 8080", d.Name, pr.kind, g.Path, g.Port.String(), pr.path)
		}
	}
	var fromConfig, fromSecret bool
	for _, e := range c.EnvFrom {
		if e.ConfigMapRef != nil && e.ConfigMapRef.Name == "backhaul-config" {
			fromConfig = true
		}
		if e.SecretRef != nil && e.SecretRef.Name == "backhaul-secrets" {
			fromSecret = true
		}
	}
	if !fromConfig || !fromSecret {
		t.Errorf("%s: env from ConfigMap backhaul-config %v and Secret backhaul-secrets %v, want both", d.Name, fromConfig, fromSecret)
	}
	if sc := pod.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("%s: the pod does not require a non-root user", d.Name)
	}
	if grace := pod.Spec.TerminationGracePeriodSeconds; grace == nil || *grace <= 30 {
		t.Errorf("%s: terminationGracePeriodSeconds %v, want above the 30 s shutdown timeout", d.Name, grace)
	}
	if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
		t.Errorf("%s: no CPU request (the HPA's utilization is relative to it)", d.Name)
	}

	var svc *corev1.Service
	for _, s := range m.services {
		if s.Name == target {
			svc = s
		}
	}
	switch {
	case svc == nil:
		t.Errorf("no Service %s (the api-gateway reaches targets at http://<target>:8080)", target)
	case !selects(svc.Spec.Selector, pod.Labels):
		t.Errorf("Service %s selector %v does not select %s's pods %v", svc.Name, svc.Spec.Selector, d.Name, pod.Labels)
	case len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 8080 || svc.Spec.Ports[0].TargetPort.String() != "http":
		t.Errorf("Service %s ports %+v, want 8080 to the http port", svc.Name, svc.Spec.Ports)
	}
	var pdb *policyv1.PodDisruptionBudget
	for _, p := range m.pdbs {
		if p.Spec.Selector != nil && selects(p.Spec.Selector.MatchLabels, pod.Labels) {
			pdb = p
		}
	}
	if pdb == nil {
		t.Errorf("no PodDisruptionBudget selects %s's pods", d.Name)
	} else if pdb.Spec.MaxUnavailable == nil && pdb.Spec.MinAvailable == nil {
		t.Errorf("PodDisruptionBudget %s sets neither maxUnavailable nor minAvailable", pdb.Name)
	}
}

// selects reports whether every label of sel is in labels.
func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func TestResourcesFollowTheGuide(t *testing.T) {
	for _, build := range []string{"base", "production"} {
		m := load(t, build)
		for _, tg := range targets {
			d := m.deployment(tg.deployment)
			if d == nil {
				t.Fatalf("%s: no Deployment %s", build, tg.deployment)
			}
			r := d.Spec.Template.Spec.Containers[0].Resources
			want := resourceGuide[tg.serviceType]
			for i, got := range []resource.Quantity{
				r.Requests[corev1.ResourceCPU], r.Requests[corev1.ResourceMemory],
				r.Limits[corev1.ResourceCPU], r.Limits[corev1.ResourceMemory],
			} {
				if got.Cmp(resource.MustParse(want[i])) != 0 {
					field := []string{"cpu request", "memory request", "cpu limit", "memory limit"}[i]
					t.Errorf("%s: %s %s: %s %s, want %s (guide 3.3)", build, d.Name, tg.serviceType, field, got.String(), want[i])
				}
			}
			if got := d.Spec.Template.Spec.NodeSelector["role"]; got != tg.nodeRole {
				t.Errorf("%s: %s runs on node role %q, want %q", build, d.Name, got, tg.nodeRole)
			}
		}
	}
}

func TestReplicasBelongToTheAutoscalers(t *testing.T) {
	for _, build := range []string{"base", "dev", "production", "production-keda"} {
		m := load(t, build)
		scaled := map[string]bool{}
		for _, h := range m.hpas {
			ref := h.Spec.ScaleTargetRef
			if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || m.deployment(ref.Name) == nil {
				t.Errorf("%s: HPA %s scales %s %s %s, which is not a Deployment here", build, h.Name, ref.APIVersion, ref.Kind, ref.Name)
			}
			scaled[ref.Name] = true
		}
		for _, so := range m.scaledObject {
			ref := so.Spec.ScaleTargetRef
			if ref.Kind != "Deployment" || m.deployment(ref.Name) == nil {
				t.Errorf("%s: ScaledObject %s scales %s %s, which is not a Deployment here", build, so.Metadata.Name, ref.Kind, ref.Name)
			}
			if scaled[ref.Name] {
				t.Errorf("%s: Deployment %s has both an HPA and a ScaledObject", build, ref.Name)
			}
			scaled[ref.Name] = true
		}
		for _, d := range m.deployments {
			if scaled[d.Name] && d.Spec.Replicas != nil {
				t.Errorf("%s: Deployment %s sets replicas %d, but an autoscaler owns the count", build, d.Name, *d.Spec.Replicas)
			}
			if !scaled[d.Name] && d.Spec.Replicas == nil {
				t.Errorf("%s: Deployment %s has neither an autoscaler nor a replica count", build, d.Name)
			}
		}
	}
}

// specOf converts an HPA into the model of internal/autoscale.
func specOf(h *autoscalingv2.HorizontalPodAutoscaler) (autoscale.Spec, error) {
	s := autoscale.Spec{MaxReplicas: int(h.Spec.MaxReplicas)}
	if h.Spec.MinReplicas != nil {
		s.MinReplicas = int(*h.Spec.MinReplicas)
	}
	for _, m := range h.Spec.Metrics {
		ms, err := metricOf(m)
		if err != nil {
			return s, err
		}
		s.Metrics = append(s.Metrics, ms)
	}
	s.Behavior = behaviorOf(h.Spec.Behavior)
	return s, nil
}

func metricOf(m autoscalingv2.MetricSpec) (autoscale.MetricSpec, error) {
	target := func(t autoscalingv2.MetricTarget) autoscale.MetricTarget {
		out := autoscale.MetricTarget{Type: autoscale.TargetType(t.Type)}
		if t.AverageUtilization != nil {
			out.AverageUtilization = int(*t.AverageUtilization)
		}
		if t.AverageValue != nil {
			out.AverageValue = t.AverageValue.AsApproximateFloat64()
		}
		if t.Value != nil {
			out.Value = t.Value.AsApproximateFloat64()
		}
		return out
	}
	switch {
	case m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil:
		return autoscale.MetricSpec{Type: autoscale.ResourceMetric, Name: string(m.Resource.Name), Target: target(m.Resource.Target)}, nil
	case m.Type == autoscalingv2.PodsMetricSourceType && m.Pods != nil:
		if m.Pods.Metric.Selector != nil {
			return autoscale.MetricSpec{}, fmt.Errorf("pods metric %s: a selector the guide does not have", m.Pods.Metric.Name)
		}
		return autoscale.MetricSpec{Type: autoscale.PodsMetric, Name: m.Pods.Metric.Name, Target: target(m.Pods.Target)}, nil
	}
	return autoscale.MetricSpec{}, fmt.Errorf("metric type %s: not in the guide", m.Type)
}

func behaviorOf(b *autoscalingv2.HorizontalPodAutoscalerBehavior) *autoscale.Behavior {
	if b == nil {
		return nil
	}
	rules := func(r *autoscalingv2.HPAScalingRules) *autoscale.ScalingRules {
		if r == nil {
			return nil
		}
		out := &autoscale.ScalingRules{}
		if r.StabilizationWindowSeconds != nil {
			out.StabilizationWindowSeconds = new(int(*r.StabilizationWindowSeconds))
		}
		if r.SelectPolicy != nil {
			out.SelectPolicy = autoscale.SelectPolicy(*r.SelectPolicy)
		}
		for _, p := range r.Policies {
			out.Policies = append(out.Policies, autoscale.ScalingPolicy{Type: autoscale.PolicyType(p.Type), Value: int(p.Value), PeriodSeconds: int(p.PeriodSeconds)})
		}
		return out
	}
	return &autoscale.Behavior{ScaleUp: rules(b.ScaleUp), ScaleDown: rules(b.ScaleDown)}
}

// compareSpecs reports every field where got differs from the guide.
func compareSpecs(got, want autoscale.Spec) []string {
	var diffs []string
	if got.MinReplicas != want.MinReplicas {
		diffs = append(diffs, fmt.Sprintf("minReplicas %d, want %d", got.MinReplicas, want.MinReplicas))
	}
	if got.MaxReplicas != want.MaxReplicas {
		diffs = append(diffs, fmt.Sprintf("maxReplicas %d, want %d", got.MaxReplicas, want.MaxReplicas))
	}
	if !slices.Equal(got.Metrics, want.Metrics) {
		diffs = append(diffs, fmt.Sprintf("metrics %+v, want %+v", got.Metrics, want.Metrics))
	}
	if (got.Behavior == nil) != (want.Behavior == nil) {
		return append(diffs, fmt.Sprintf("behavior set %v, want %v", got.Behavior != nil, want.Behavior != nil))
	}
	if want.Behavior != nil {
		diffs = append(diffs, compareRules("scaleUp", got.Behavior.ScaleUp, want.Behavior.ScaleUp)...)
		diffs = append(diffs, compareRules("scaleDown", got.Behavior.ScaleDown, want.Behavior.ScaleDown)...)
	}
	return diffs
}

func compareRules(dir string, got, want *autoscale.ScalingRules) []string {
	if got == nil || want == nil {
		if got != want {
			return []string{fmt.Sprintf("%s set %v, want %v", dir, got != nil, want != nil)}
		}
		return nil
	}
	var diffs []string
	w := func(p *int) string {
		if p == nil {
			return "unset"
		}
		return fmt.Sprint(*p)
	}
	if w(got.StabilizationWindowSeconds) != w(want.StabilizationWindowSeconds) {
		diffs = append(diffs, fmt.Sprintf("%s.stabilizationWindowSeconds %s, want %s", dir, w(got.StabilizationWindowSeconds), w(want.StabilizationWindowSeconds)))
	}
	if got.SelectPolicy != want.SelectPolicy {
		diffs = append(diffs, fmt.Sprintf("%s.selectPolicy %q, want %q", dir, got.SelectPolicy, want.SelectPolicy))
	}
	if !slices.Equal(got.Policies, want.Policies) {
		diffs = append(diffs, fmt.Sprintf("%s.policies %+v, want %+v", dir, got.Policies, want.Policies))
	}
	return diffs
}

func TestHPAsMatchTheGuide(t *testing.T) {
	guide := autoscale.GuideSpecs()
	for _, build := range []string{"base", "dev", "production"} {
		t.Run(build, func(t *testing.T) {
			m := load(t, build)
			if len(m.hpas) != len(guide) {
				t.Errorf("got %d HPAs, want the guide's %d", len(m.hpas), len(guide))
			}
			for _, g := range guide {
				h := m.hpa(g.HPAName)
				if h == nil {
					t.Errorf("no HPA %s for %s", g.HPAName, g.Service)
					continue
				}
				if h.Labels["app"] != g.Service || h.Labels["part-of"] != "freight-optimization" {
					t.Errorf("HPA %s labels %v, want app %s, part-of freight-optimization (guide 2.1.1)", h.Name, h.Labels, g.Service)
				}
				d := m.deployment(h.Spec.ScaleTargetRef.Name)
				if d == nil || !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--target="+g.Service) {
					t.Errorf("HPA %s scales %s, which does not run --target=%s", h.Name, h.Spec.ScaleTargetRef.Name, g.Service)
				}
				got, err := specOf(h)
				if err != nil {
					t.Errorf("HPA %s: %v", h.Name, err)
					continue
				}
				for _, d := range compareSpecs(got, g.Spec) {
					t.Errorf("HPA %s: %s", h.Name, d)
				}
				if err := got.Validate(); err != nil {
					t.Errorf("HPA %s: %v", h.Name, err)
				}
			}
		})
	}
}

// queueDriven are the services the KEDA component scales, with the
// trigger type each uses.
var queueDriven = map[string]string{
	"optimization-engine":  "nats-jetstream",
	"load-matching":        "nats-jetstream",
	"notification-service": "prometheus",
}

func TestKEDAScaledObjectsMatchTheGuide(t *testing.T) {
	m := load(t, "production-keda")
	for _, g := range autoscale.GuideSpecs() {
		trigger, keda := queueDriven[g.Service]
		if h := m.hpa(g.HPAName); (h != nil) == keda {
			t.Errorf("HPA %s present %v, want %v with KEDA", g.HPAName, h != nil, !keda)
		}
		if !keda {
			continue
		}
		var so *scaledObject
		for _, s := range m.scaledObject {
			if s.Metadata.Name == g.HPAName {
				so = s
			}
		}
		if so == nil {
			t.Errorf("no ScaledObject %s", g.HPAName)
			continue
		}
		spec := so.Spec
		d := m.deployment(spec.ScaleTargetRef.Name)
		if d == nil || !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--target="+g.Service) {
			t.Errorf("ScaledObject %s scales %s, which does not run --target=%s", so.Metadata.Name, spec.ScaleTargetRef.Name, g.Service)
		}
		got := autoscale.Spec{Behavior: behaviorOf(spec.Advanced.HorizontalPodAutoscalerConfig.Behavior)}
		if spec.MinReplicaCount != nil {
			got.MinReplicas = int(*spec.MinReplicaCount)
		}
		if spec.MaxReplicaCount != nil {
			got.MaxReplicas = int(*spec.MaxReplicaCount)
		}
		// The CPU metric is a trigger of its own; the queue's triggers are
		// External metrics whose threshold is the guide's per-pod target.
		want := g.Spec
		want.Metrics = want.Metrics[:1]
		secondary := g.Spec.Metrics[1].Target.AverageValue
		queueTriggers := 0
		for _, tr := range spec.Triggers {
			switch tr.Type {
			case "cpu":
				got.Metrics = append(got.Metrics, autoscale.MetricSpec{Type: autoscale.ResourceMetric, Name: "cpu", Target: autoscale.MetricTarget{
					Type: autoscale.TargetType(tr.MetricType), AverageUtilization: atoi(tr.Metadata["value"]),
				}})
			case trigger:
				queueTriggers++
				key := map[string]string{"nats-jetstream": "lagThreshold", "prometheus": "threshold"}[trigger]
				if got := tr.Metadata[key]; got != fmt.Sprint(secondary) {
					t.Errorf("ScaledObject %s trigger %s: %s %s, want %v (the guide's per-pod target)", so.Metadata.Name, tr.Name, key, got, secondary)
				}
				if trigger == "nats-jetstream" && (tr.Metadata["stream"] == "" || tr.Metadata["consumer"] == "") {
					t.Errorf("ScaledObject %s trigger %s names no stream and consumer", so.Metadata.Name, tr.Name)
				}
			default:
				t.Errorf("ScaledObject %s: unexpected trigger %s", so.Metadata.Name, tr.Type)
			}
		}
		if queueTriggers == 0 {
			t.Errorf("ScaledObject %s has no %s trigger", so.Metadata.Name, trigger)
		}
		for _, d := range compareSpecs(got, want) {
			t.Errorf("ScaledObject %s: %s", so.Metadata.Name, d)
		}
	}
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}

// serveFlags returns the environment variables `backhaul serve` reads.
func serveFlags() map[string]bool {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	var c app.Config
	c.RegisterFlags(fs)
	names := map[string]bool{}
	fs.VisitAll(func(f *pflag.Flag) { names[app.EnvName(f.Name)] = true })
	return names
}

func TestSettingsAreConfiguration(t *testing.T) {
	flags := serveFlags()
	ops, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, build := range []string{"base", "dev", "production"} {
		m := load(t, build)
		cm := m.configMap("backhaul-config")
		if cm == nil {
			t.Fatalf("%s: no ConfigMap backhaul-config", build)
		}
		keys := map[string]bool{}
		for k := range cm.Data {
			keys[k] = true
		}
		for _, s := range m.secrets {
			for k := range s.StringData {
				if strings.HasPrefix(k, "BACKHAUL_") {
					keys[k] = true
				}
			}
		}
		for k := range keys {
			if !flags[k] {
				t.Errorf("%s: %s is no setting of backhaul serve", build, k)
			}
			if !strings.Contains(string(ops), k) {
				t.Errorf("%s: %s is not described in docs/operations.md", build, k)
			}
		}
		if cm.Data["BACKHAUL_HTTP_ADDR"] != ":8080" {
			t.Errorf("%s: BACKHAUL_HTTP_ADDR %q, want :8080 (the probes' and Services' port)", build, cm.Data["BACKHAUL_HTTP_ADDR"])
		}
	}
	for _, build := range []string{"dev-migrate", "production-migrate"} {
		m := load(t, build)
		if len(m.jobs) != 1 || !slices.Equal(m.jobs[0].Spec.Template.Spec.Containers[0].Args, []string{"migrate"}) {
			t.Fatalf("%s: want one Job running backhaul migrate", build)
		}
		env := map[string]string{}
		for _, e := range m.jobs[0].Spec.Template.Spec.Containers[0].Env {
			if strings.HasPrefix(e.Name, "BACKHAUL_") && !flags[e.Name] {
				t.Errorf("%s: %s is no setting of backhaul migrate", build, e.Name)
			}
			env[e.Name] = e.Value
		}
		// Migrations hold a session advisory lock: never through PgBouncer.
		if env["BACKHAUL_DB_PGBOUNCER"] != "false" {
			t.Errorf("%s: the migrations Job must set BACKHAUL_DB_PGBOUNCER=false", build)
		}
	}
}
