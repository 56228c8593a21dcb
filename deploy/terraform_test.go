package deploy

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	ctyjson "github.com/zclconf/go-cty/cty/json"
	corev1 "k8s.io/api/core/v1"
)

// clusterName is the EKS cluster of the scaling guide's section 6.1.
const clusterName = "freight-platform-eks"

type nodeGroup struct {
	InstanceTypes []string          `json:"instance_types"`
	DesiredSize   int               `json:"desired_size"`
	MinSize       int               `json:"min_size"`
	MaxSize       int               `json:"max_size"`
	Labels        map[string]string `json:"labels"`
	Tags          map[string]string `json:"tags"`
	Taints        []struct {
		Key    string `json:"key"`
		Value  string `json:"value"`
		Effect string `json:"effect"`
	} `json:"taints"`
}

// guideNodeGroups is the scaling guide's section 6.2.
var guideNodeGroups = map[string]struct {
	instance            string
	desired, minS, maxS int
	role                string
}{
	"system":          {"m6i.large", 3, 3, 6, "system"},
	"application":     {"c6i.2xlarge", 4, 4, 20, "application"},
	"data_processing": {"r6i.2xlarge", 2, 2, 10, "data-processing"},
	"ml_inference":    {"g5.xlarge", 1, 1, 5, "ml-inference"},
}

// terraform parses every .tf file with HCL's native syntax parser, the one
// terraform uses, and returns the bodies.
func terraform(t *testing.T) []*hclsyntax.Body {
	t.Helper()
	files, err := filepath.Glob("terraform/*.tf")
	if err != nil || len(files) == 0 {
		t.Fatalf("no terraform files: %v", err)
	}
	p := hclparse.NewParser()
	var bodies []*hclsyntax.Body
	for _, f := range files {
		file, diags := p.ParseHCLFile(f)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", f, diags.Error())
		}
		bodies = append(bodies, file.Body.(*hclsyntax.Body))
	}
	return bodies
}

func findBlock(bodies []*hclsyntax.Body, typ string, labels ...string) *hclsyntax.Block {
	for _, b := range bodies {
		for _, blk := range b.Blocks {
			if blk.Type == typ && slices.Equal(blk.Labels, labels) {
				return blk
			}
		}
	}
	return nil
}

// nodeGroups evaluates locals.node_groups of deploy/terraform.
func nodeGroups(t *testing.T) map[string]nodeGroup {
	t.Helper()
	var expr hclsyntax.Expression
	for _, b := range terraform(t) {
		for _, blk := range b.Blocks {
			if a, ok := blk.Body.Attributes["node_groups"]; ok && blk.Type == "locals" {
				expr = a.Expr
			}
		}
	}
	if expr == nil {
		t.Fatal("no locals.node_groups")
	}
	v, diags := expr.Value(nil) // literals only: the table is data, not logic
	if diags.HasErrors() {
		t.Fatalf("locals.node_groups: %s", diags.Error())
	}
	j, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		t.Fatal(err)
	}
	var groups map[string]nodeGroup
	if err := json.Unmarshal(j, &groups); err != nil {
		t.Fatal(err)
	}
	return groups
}

func TestTerraformNodeGroups(t *testing.T) {
	bodies := terraform(t)
	groups := nodeGroups(t)
	if got, want := slices.Sorted(maps.Keys(groups)), slices.Sorted(maps.Keys(guideNodeGroups)); !slices.Equal(got, want) {
		t.Fatalf("node groups %v, want %v", got, want)
	}
	for name, want := range guideNodeGroups {
		g := groups[name]
		if !slices.Equal(g.InstanceTypes, []string{want.instance}) {
			t.Errorf("%s: instance types %v, want [%s]", name, g.InstanceTypes, want.instance)
		}
		if g.DesiredSize != want.desired || g.MinSize != want.minS || g.MaxSize != want.maxS {
			t.Errorf("%s: desired/min/max %d/%d/%d, want %d/%d/%d", name, g.DesiredSize, g.MinSize, g.MaxSize, want.desired, want.minS, want.maxS)
		}
		if g.Labels["role"] != want.role {
			t.Errorf("%s: role label %q, want %q", name, g.Labels["role"], want.role)
		}
		if g.Tags["k8s.io/cluster-autoscaler/enabled"] != "true" {
			t.Errorf("%s: tags %v lack k8s.io/cluster-autoscaler/enabled", name, g.Tags)
		}
	}

	ng := findBlock(bodies, "resource", "aws_eks_node_group", "this")
	if ng == nil {
		t.Fatal("no resource aws_eks_node_group.this")
	}
	fe, ok := ng.Body.Attributes["for_each"]
	if !ok {
		t.Fatal("aws_eks_node_group.this has no for_each")
	}
	if tr, diags := hcl.AbsTraversalForExpr(fe.Expr); diags.HasErrors() || len(tr) != 2 || tr.RootName() != "local" {
		t.Errorf("aws_eks_node_group.this for_each is not local.node_groups")
	}
	cn := findBlock(bodies, "variable", "cluster_name")
	if cn == nil {
		t.Fatal("no variable cluster_name")
	}
	if v, diags := cn.Body.Attributes["default"].Expr.Value(nil); diags.HasErrors() || v.AsString() != clusterName {
		t.Errorf("variable cluster_name default %#v, want %s (guide 6.1)", v, clusterName)
	}

	// Every pod lands on a node group that exists, and tolerates its taints.
	m := load(t, "production")
	effects := map[string]corev1.TaintEffect{"NO_SCHEDULE": corev1.TaintEffectNoSchedule, "NO_EXECUTE": corev1.TaintEffectNoExecute, "PREFER_NO_SCHEDULE": corev1.TaintEffectPreferNoSchedule}
	for _, d := range m.deployments {
		role := d.Spec.Template.Spec.NodeSelector["role"]
		var group *nodeGroup
		for _, g := range groups {
			if g.Labels["role"] == role {
				group = &g
			}
		}
		if group == nil {
			t.Errorf("%s selects nodes of role %q: no node group has it", d.Name, role)
			continue
		}
		for _, taint := range group.Taints {
			want := corev1.Taint{Key: taint.Key, Value: taint.Value, Effect: effects[taint.Effect]}
			if !slices.ContainsFunc(d.Spec.Template.Spec.Tolerations, func(tol corev1.Toleration) bool { return tolerates(tol, want) }) {
				t.Errorf("%s does not tolerate its node group's taint %s", d.Name, want.ToString())
			}
		}
	}
}

func TestTerraformFilesAreFormatted(t *testing.T) {
	// terraform fmt's rules are HCL's formatter's: a file it would change is
	// a file `terraform fmt -check` fails.
	files, _ := filepath.Glob("terraform/*.tf")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(hclwrite.Format(b)); got != string(b) {
			t.Errorf("%s is not formatted as terraform fmt would", f)
		}
	}
}

// tolerates is the scheduler's rule for one toleration and one taint.
func tolerates(tol corev1.Toleration, taint corev1.Taint) bool {
	if tol.Effect != "" && tol.Effect != taint.Effect {
		return false
	}
	if tol.Key != "" && tol.Key != taint.Key {
		return false
	}
	switch tol.Operator {
	case corev1.TolerationOpExists:
		return true
	case "", corev1.TolerationOpEqual:
		return tol.Value == taint.Value
	}
	return false
}
