package deploy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"

	"sigs.k8s.io/yaml"

	"github.com/backhaul/backhaul/internal/autoscale"
)

// adapterConfig is the Prometheus Adapter's configuration file, as far as
// the rules use it.
type adapterConfig struct {
	Rules []adapterRule `json:"rules"`
}

type adapterRule struct {
	SeriesQuery string `json:"seriesQuery"`
	Resources   struct {
		Overrides map[string]struct {
			Resource string `json:"resource"`
		} `json:"overrides"`
	} `json:"resources"`
	Name struct {
		Matches string `json:"matches"`
		As      string `json:"as"`
	} `json:"name"`
	MetricsQuery string `json:"metricsQuery"`
}

// series is the metric the rule discovers.
func (r adapterRule) series() string {
	s, _, _ := strings.Cut(r.SeriesQuery, "{")
	return strings.TrimSpace(s)
}

// metricName is the custom metric the rule serves for its series, named as
// the adapter names it: `as` with the groups of `matches` expanded.
func (r adapterRule) metricName() (string, error) {
	re, err := regexp.Compile(r.Name.Matches)
	if err != nil {
		return "", err
	}
	idx := re.FindStringSubmatchIndex(r.series())
	if idx == nil {
		return "", fmt.Errorf("name.matches %q does not match the series %s", r.Name.Matches, r.series())
	}
	as := r.Name.As
	if as == "" {
		as = "$1"
		if re.NumSubexp() == 0 {
			as = "$0"
		}
	}
	return string(re.ExpandString(nil, as, r.series(), idx)), nil
}

// queryArgs are the values prometheus-adapter gives a metricsQuery template
// (its templates use << and >> as delimiters).
type queryArgs struct {
	Series            string
	LabelMatchers     string
	GroupBy           string
	GroupBySlice      []string
	LabelValuesByName map[string][]string
}

// podsQuery renders the rule's metricsQuery as the adapter does when an HPA
// asks for a Pods metric of the given pods in namespace ns.
func (r adapterRule) podsQuery(ns string, pods []string) (string, error) {
	tmpl, err := template.New("metricsQuery").Delims("<<", ">>").Parse(r.MetricsQuery)
	if err != nil {
		return "", err
	}
	var nsLabel, podLabel string
	for label, o := range r.Resources.Overrides {
		switch o.Resource {
		case "namespace":
			nsLabel = label
		case "pod":
			podLabel = label
		}
	}
	if nsLabel == "" || podLabel == "" {
		return "", fmt.Errorf("rule for %s maps no namespace and pod labels", r.series())
	}
	var b strings.Builder
	err = tmpl.Execute(&b, queryArgs{
		Series:            r.series(),
		LabelMatchers:     fmt.Sprintf(`%s=%q,%s=~%q`, nsLabel, ns, podLabel, strings.Join(pods, "|")),
		GroupBy:           podLabel,
		GroupBySlice:      []string{podLabel},
		LabelValuesByName: map[string][]string{nsLabel: {ns}, podLabel: pods},
	})
	return b.String(), err
}

func adapterRules(t *testing.T) []adapterRule {
	t.Helper()
	m := load(t, "cluster")
	cm := m.configMap("prometheus-adapter")
	if cm == nil {
		t.Fatal("no ConfigMap prometheus-adapter")
	}
	var cfg adapterConfig
	if err := yaml.UnmarshalStrict([]byte(cm.Data["config.yaml"]), &cfg); err != nil {
		t.Fatalf("prometheus-adapter config.yaml: %v", err)
	}
	return cfg.Rules
}

// ruleFor returns the rule serving a custom metric.
func ruleFor(t *testing.T, rules []adapterRule, metric string) adapterRule {
	t.Helper()
	var found []adapterRule
	for _, r := range rules {
		if n, err := r.metricName(); err == nil && n == metric {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d adapter rules serve %s, want 1", len(found), metric)
	}
	return found[0]
}

// Per-pod share of a backlog total that every replica reports alike: each
// pod's reading divided by the number of pods reporting the series.
const shareQuery = `avg(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>) / scalar(count(count(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)))`

// backlogs are the metrics that count one shared queue.
var backlogs = []string{"queue_depth", "job_queue_length", "pending_notifications"}

func TestAdapterRulesFollowTheGuide(t *testing.T) {
	rules := adapterRules(t)
	const rate = `sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)`
	guide := []struct {
		series, matches, as, query string
	}{
		{"http_requests_total", "^(.*)_total$", "${1}_per_second", rate},
		{"queue_depth", "queue_depth", "queue_depth", shareQuery},
		{"job_queue_length", "job_queue_length", "job_queue_length", shareQuery},
		{"position_updates_count", "^(.*)_count$", "${1}_per_second", rate},
	}
	for _, g := range guide {
		i := slices.IndexFunc(rules, func(r adapterRule) bool { return r.series() == g.series && r.Name.As == g.as })
		if i < 0 {
			t.Errorf("no rule for %s as %s (guide 6.4)", g.series, g.as)
			continue
		}
		r := rules[i]
		if want := g.series + `{kubernetes_namespace!="",kubernetes_pod_name!=""}`; r.SeriesQuery != want {
			t.Errorf("%s: seriesQuery %s, want %s", g.series, r.SeriesQuery, want)
		}
		if r.Name.Matches != g.matches {
			t.Errorf("%s: name.matches %q, want %q", g.series, r.Name.Matches, g.matches)
		}
		if r.MetricsQuery != g.query {
			t.Errorf("%s: metricsQuery %s, want %s", g.series, r.MetricsQuery, g.query)
		}
	}
	for _, r := range rules {
		o := r.Resources.Overrides
		if len(o) != 2 || o["kubernetes_namespace"].Resource != "namespace" || o["kubernetes_pod_name"].Resource != "pod" {
			t.Errorf("%s: resources.overrides %+v, want kubernetes_namespace and kubernetes_pod_name (guide 6.4)", r.series(), o)
		}
		n, err := r.metricName()
		if err != nil {
			t.Errorf("%s: %v", r.series(), err)
			continue
		}
		if slices.Contains(backlogs, n) && r.MetricsQuery != shareQuery {
			t.Errorf("%s: a backlog total needs the per-pod share query, got %s", n, r.MetricsQuery)
		}
		if _, err := r.podsQuery("ns", []string{"a", "b"}); err != nil {
			t.Errorf("%s: metricsQuery: %v", n, err)
		}
	}
	// Every Pods metric of the guide's HPAs has exactly one rule.
	for _, g := range autoscale.GuideSpecs() {
		for _, m := range g.Spec.Metrics {
			if m.Type == autoscale.PodsMetric {
				ruleFor(t, rules, m.Name)
			}
		}
	}
}

func TestPodsQueryRendersAsTheAdapter(t *testing.T) {
	r := adapterRule{SeriesQuery: `job_queue_length{kubernetes_namespace!=""}`, MetricsQuery: shareQuery}
	r.Resources.Overrides = map[string]struct {
		Resource string `json:"resource"`
	}{"kubernetes_namespace": {"namespace"}, "kubernetes_pod_name": {"pod"}}
	got, err := r.podsQuery("backhaul", []string{"opt-0", "opt-1"})
	if err != nil {
		t.Fatal(err)
	}
	want := `avg(job_queue_length{kubernetes_namespace="backhaul",kubernetes_pod_name=~"opt-0|opt-1"}) by (kubernetes_pod_name) / ` +
		`scalar(count(count(job_queue_length{kubernetes_namespace="backhaul",kubernetes_pod_name=~"opt-0|opt-1"}) by (kubernetes_pod_name)))`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestClusterAutoscalerArgs(t *testing.T) {
	m := load(t, "cluster")
	d := m.deployment("cluster-autoscaler")
	if d == nil {
		t.Fatal("no Deployment cluster-autoscaler")
	}
	args := d.Spec.Template.Spec.Containers[0].Args
	// The scaling guide's section 6.1.
	for _, want := range []string{
		"--scale-down-delay-after-add=10m",
		"--scale-down-unneeded-time=10m",
		"--max-node-provision-time=15m",
		"--scan-interval=10s",
		"--max-nodes-total=100",
		"--cores-total=1000:4000",
		"--memory-total=1000:16000",
		"--aws-use-static-instance-list=true",
		"--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/" + clusterName,
	} {
		if !slices.Contains(args, want) {
			t.Errorf("cluster-autoscaler args lack %s", want)
		}
	}
	if d.Namespace != "kube-system" {
		t.Errorf("cluster-autoscaler in namespace %q, want kube-system", d.Namespace)
	}
	if d.Spec.Template.Spec.NodeSelector["role"] != "system" {
		t.Errorf("cluster-autoscaler node selector %v, want role system", d.Spec.Template.Spec.NodeSelector)
	}
}
