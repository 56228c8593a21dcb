package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	ctyjson "github.com/zclconf/go-cty/cty/json"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"sigs.k8s.io/yaml"

	"github.com/backhaul/backhaul/internal/testenv"
)

// The tests in this file read the scaling guide itself: its code blocks are
// the specification, so the manifests are compared with them directly, not
// only with the tables copied into the tests and internal/autoscale.

// guideBlocks returns the fenced code blocks of the scaling guide in the
// given language.
func guideBlocks(t *testing.T, lang string) []string {
	t.Helper()
	b, err := os.ReadFile(testenv.Shared(t, "seed", "scaling-guide.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile("(?s)```"+lang+"\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	if len(out) == 0 {
		t.Fatalf("the scaling guide has no %s blocks", lang)
	}
	return out
}

func TestHPAsMatchTheGuideText(t *testing.T) {
	m := load(t, "production")
	seen := 0
	for _, block := range guideBlocks(t, "yaml") {
		if !strings.Contains(block, "kind: HorizontalPodAutoscaler") {
			continue
		}
		var g autoscalingv2.HorizontalPodAutoscaler
		if err := yaml.UnmarshalStrict([]byte(block), &g); err != nil {
			t.Fatalf("guide HPA: %v", err)
		}
		seen++
		h := m.hpa(g.Name)
		if h == nil {
			t.Errorf("no HPA %s (guide)", g.Name)
			continue
		}
		if h.Spec.ScaleTargetRef != g.Spec.ScaleTargetRef {
			t.Errorf("HPA %s scaleTargetRef %+v, want %+v", h.Name, h.Spec.ScaleTargetRef, g.Spec.ScaleTargetRef)
		}
		for k, v := range g.Labels {
			if h.Labels[k] != v {
				t.Errorf("HPA %s label %s=%q, want %q", h.Name, k, h.Labels[k], v)
			}
		}
		got, err := specOf(h)
		if err != nil {
			t.Fatal(err)
		}
		want, err := specOf(&g)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range compareSpecs(got, want) {
			t.Errorf("HPA %s: %s (guide)", h.Name, d)
		}
	}
	if seen != 4 {
		t.Errorf("found %d HPAs in the guide, want 4 (2.1.1, 6.3.1, 6.3.2, 6.3.3)", seen)
	}
}

func TestAdapterRulesMatchTheGuideText(t *testing.T) {
	var guide []adapterRule
	for _, block := range guideBlocks(t, "yaml") {
		if !strings.Contains(block, "prometheusAdapter:") {
			continue
		}
		var v struct {
			PrometheusAdapter struct {
				Enabled bool `json:"enabled"`
				Rules   struct {
					Default bool          `json:"default"`
					Custom  []adapterRule `json:"custom"`
				} `json:"rules"`
			} `json:"prometheusAdapter"`
		}
		if err := yaml.UnmarshalStrict([]byte(block), &v); err != nil {
			t.Fatalf("guide adapter rules: %v", err)
		}
		guide = v.PrometheusAdapter.Rules.Custom
	}
	if len(guide) != 4 {
		t.Fatalf("found %d adapter rules in the guide, want 4", len(guide))
	}
	rules := adapterRules(t)
	for _, g := range guide {
		name, err := g.metricName()
		if err != nil {
			t.Fatal(err)
		}
		r := ruleFor(t, rules, name)
		if r.SeriesQuery != g.SeriesQuery || r.Name != g.Name || fmt.Sprint(r.Resources) != fmt.Sprint(g.Resources) {
			t.Errorf("rule %s: %+v, want the guide's %+v", name, r, g)
		}
		// The one intended change: backlog totals become per-pod shares.
		want := g.MetricsQuery
		if slices.Contains(backlogs, name) {
			want = shareQuery
		}
		if r.MetricsQuery != want {
			t.Errorf("rule %s: metricsQuery %s, want %s", name, r.MetricsQuery, want)
		}
	}
}

func TestClusterAutoscalerMatchesTheGuideText(t *testing.T) {
	var guide struct {
		ClusterAutoscaler struct {
			Enabled       bool `json:"enabled"`
			AutoDiscovery struct {
				ClusterName string `json:"clusterName"`
			} `json:"autoDiscovery"`
			ExtraArgs map[string]any `json:"extraArgs"`
		} `json:"clusterAutoscaler"`
	}
	found := false
	for _, block := range guideBlocks(t, "yaml") {
		if strings.Contains(block, "clusterAutoscaler:") {
			if err := yaml.UnmarshalStrict([]byte(block), &guide); err != nil {
				t.Fatalf("guide cluster autoscaler: %v", err)
			}
			found = true
		}
	}
	if !found || len(guide.ClusterAutoscaler.ExtraArgs) == 0 {
		t.Fatal("no cluster autoscaler settings in the guide")
	}
	d := load(t, "cluster").deployment("cluster-autoscaler")
	args := d.Spec.Template.Spec.Containers[0].Args
	for k, v := range guide.ClusterAutoscaler.ExtraArgs {
		if want := fmt.Sprintf("--%s=%v", k, v); !slices.Contains(args, want) {
			t.Errorf("cluster-autoscaler args lack %s (guide 6.1)", want)
		}
	}
	want := "k8s.io/cluster-autoscaler/" + guide.ClusterAutoscaler.AutoDiscovery.ClusterName
	if !slices.ContainsFunc(args, func(a string) bool {
		return strings.HasPrefix(a, "--node-group-auto-discovery=") && strings.HasSuffix(a, ","+want)
	}) {
		t.Errorf("cluster-autoscaler does not discover the node groups of %s", want)
	}
}

func TestNodeGroupsMatchTheGuideText(t *testing.T) {
	blocks := guideBlocks(t, "terraform")
	f, diags := hclsyntax.ParseConfig([]byte(blocks[0]), "scaling-guide.md", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("guide node groups: %s", diags.Error())
	}
	attr, ok := f.Body.(*hclsyntax.Body).Attributes["node_groups"]
	if !ok {
		t.Fatal("the guide's terraform block has no node_groups")
	}
	v, diags := attr.Expr.Value(nil)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	j, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		t.Fatal(err)
	}
	var guide map[string]nodeGroup
	if err := json.Unmarshal(j, &guide); err != nil {
		t.Fatal(err)
	}
	ours := nodeGroups(t)
	if len(ours) != len(guide) {
		t.Errorf("got %d node groups, want the guide's %d", len(ours), len(guide))
	}
	for name, g := range guide {
		o, ok := ours[name]
		if !ok {
			t.Errorf("no node group %s (guide 6.2)", name)
			continue
		}
		o.Taints = nil // ours only: the guide has none
		if got, want := fmt.Sprintf("%+v", o), fmt.Sprintf("%+v", g); got != want {
			t.Errorf("node group %s: %s, want %s", name, got, want)
		}
	}
}
