package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// This file renders kustomizations the way `kubectl kustomize` does, for
// the subset of kustomize the manifests use, so the tests need no binary:
//
//   - resources: files (several documents each) and directories holding a
//     kustomization.yaml;
//   - components: a kind Component whose resources are added and whose
//     patches apply to everything accumulated so far;
//   - namespace: set on every namespaced object;
//   - labels with pairs (includeSelectors false): added to metadata.labels;
//   - images: name -> newName:newTag in every container of a pod template;
//   - patches: JSON 6902 operations (add, replace, remove) on the objects a
//     target (kind, and name when given) selects, or a patch of the form
//     `$patch: delete` that removes the object it names.
//
// Transformers run in kustomize's order: components, then patches, labels,
// namespace and images. Anything else in a kustomization is an error here,
// so a manifest cannot quietly depend on a feature this renderer ignores.

// object is one Kubernetes object as decoded JSON.
type object = map[string]any

type kustomization struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Resources  []string    `json:"resources"`
	Components []string    `json:"components"`
	Namespace  string      `json:"namespace"`
	Labels     []labelSet  `json:"labels"`
	Images     []imageRule `json:"images"`
	Patches    []patchRule `json:"patches"`
}

type labelSet struct {
	Pairs            map[string]string `json:"pairs"`
	IncludeSelectors bool              `json:"includeSelectors"`
}

type imageRule struct {
	Name    string `json:"name"`
	NewName string `json:"newName"`
	NewTag  string `json:"newTag"`
}

type patchRule struct {
	Path   string       `json:"path"`
	Patch  string       `json:"patch"`
	Target *patchTarget `json:"target"`
}

type patchTarget struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// build renders the kustomization in dir.
func build(dir string) ([]object, error) {
	k, err := readKustomization(dir)
	if err != nil {
		return nil, err
	}
	if k.Kind == "Component" {
		return nil, fmt.Errorf("%s: a Component cannot be built on its own", dir)
	}
	return render(dir, k)
}

func readKustomization(dir string) (kustomization, error) {
	var k kustomization
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return k, err
	}
	if err := yaml.UnmarshalStrict(b, &k); err != nil {
		return k, fmt.Errorf("%s/kustomization.yaml: %w", dir, err)
	}
	switch {
	case k.Kind == "Kustomization" && k.APIVersion == "kustomize.config.k8s.io/v1beta1":
	case k.Kind == "Component" && k.APIVersion == "kustomize.config.k8s.io/v1alpha1":
	default:
		return k, fmt.Errorf("%s/kustomization.yaml: unexpected %s %s", dir, k.APIVersion, k.Kind)
	}
	return k, nil
}

func render(dir string, k kustomization) ([]object, error) {
	var objs []object
	for _, r := range k.Resources {
		p := filepath.Join(dir, r)
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("%s: resource %s: %w", dir, r, err)
		}
		var more []object
		if st.IsDir() {
			more, err = build(p)
		} else {
			more, err = readObjects(p)
		}
		if err != nil {
			return nil, err
		}
		objs = append(objs, more...)
	}
	for _, c := range k.Components {
		p := filepath.Join(dir, c)
		ck, err := readKustomization(p)
		if err != nil {
			return nil, err
		}
		if ck.Kind != "Component" {
			return nil, fmt.Errorf("%s: component %s is a %s", dir, c, ck.Kind)
		}
		// A component's own resources join before its transformers run.
		if objs, err = transform(p, ck, objs); err != nil {
			return nil, err
		}
	}
	objs, err := transform(dir, kustomization{Labels: k.Labels, Namespace: k.Namespace, Images: k.Images, Patches: k.Patches}, objs)
	if err != nil {
		return nil, err
	}
	if err := checkUnique(objs); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return objs, nil
}

// transform adds k's resources to objs and applies its transformers.
func transform(dir string, k kustomization, objs []object) ([]object, error) {
	if len(k.Resources) > 0 {
		own, err := render(dir, kustomization{Resources: k.Resources})
		if err != nil {
			return nil, err
		}
		objs = append(objs, own...)
	}
	for i, p := range k.Patches {
		var err error
		if objs, err = applyPatch(dir, p, objs); err != nil {
			return nil, fmt.Errorf("%s: patches[%d]: %w", dir, i, err)
		}
	}
	for _, l := range k.Labels {
		if l.IncludeSelectors {
			return nil, fmt.Errorf("%s: labels with includeSelectors are not supported", dir)
		}
		for _, o := range objs {
			meta := child(o, "metadata")
			labels := child(meta, "labels")
			for key, v := range l.Pairs {
				labels[key] = v
			}
		}
	}
	if k.Namespace != "" {
		for _, o := range objs {
			if namespaced(o) {
				child(o, "metadata")["namespace"] = k.Namespace
			}
		}
	}
	for _, img := range k.Images {
		for _, o := range objs {
			for _, c := range containers(o) {
				if name, _ := c["image"].(string); imageName(name) == img.Name {
					c["image"] = img.NewName + ":" + img.NewTag
				}
			}
		}
	}
	return objs, nil
}

// readObjects reads every non-empty YAML document of a file, rejecting
// duplicate keys.
func readObjects(path string) ([]object, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	docs, err := splitDocuments(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var objs []object
	for i, d := range docs {
		j, err := yaml.YAMLToJSONStrict(d)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, i, err)
		}
		if bytes.Equal(bytes.TrimSpace(j), []byte("null")) {
			continue // comments only
		}
		var o object
		if err := yaml.Unmarshal(j, &o); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, i, err)
		}
		if o["apiVersion"] == nil || o["kind"] == nil || name(o) == "" {
			return nil, fmt.Errorf("%s: document %d: apiVersion, kind and metadata.name are required", path, i)
		}
		objs = append(objs, o)
	}
	return objs, nil
}

func splitDocuments(b []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var docs [][]byte
	for {
		d, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, d)
	}
}

func applyPatch(dir string, p patchRule, objs []object) ([]object, error) {
	text := p.Patch
	if p.Path != "" {
		b, err := os.ReadFile(filepath.Join(dir, p.Path))
		if err != nil {
			return nil, err
		}
		text = string(b)
	}
	j, err := yaml.YAMLToJSONStrict([]byte(text))
	if err != nil {
		return nil, err
	}
	j = bytes.TrimSpace(j)
	if len(j) > 0 && j[0] == '[' {
		if p.Target == nil || p.Target.Kind == "" {
			return nil, errors.New("a JSON 6902 patch needs a target kind")
		}
		var ops []jsonPatchOp
		if err := yaml.UnmarshalStrict(j, &ops); err != nil {
			return nil, err
		}
		matched := 0
		for _, o := range objs {
			if o["kind"] != p.Target.Kind || (p.Target.Name != "" && name(o) != p.Target.Name) {
				continue
			}
			matched++
			for _, op := range ops {
				if err := applyOp(o, op); err != nil {
					return nil, fmt.Errorf("%s %s: %w", o["kind"], name(o), err)
				}
			}
		}
		if matched == 0 {
			return nil, fmt.Errorf("target %s %s matches nothing", p.Target.Kind, p.Target.Name)
		}
		return objs, nil
	}
	var sm object
	if err := yaml.Unmarshal(j, &sm); err != nil {
		return nil, err
	}
	if sm["$patch"] != "delete" {
		return nil, errors.New("only JSON 6902 patches and `$patch: delete` are supported")
	}
	i := slices.IndexFunc(objs, func(o object) bool {
		return o["apiVersion"] == sm["apiVersion"] && o["kind"] == sm["kind"] && name(o) == name(sm)
	})
	if i < 0 {
		return nil, fmt.Errorf("delete: no %s %s", sm["kind"], name(sm))
	}
	return slices.Delete(objs, i, i+1), nil
}

// applyOp applies one JSON 6902 operation (RFC 6902) of kind add, replace or
// remove to o.
func applyOp(o object, op jsonPatchOp) error {
	if !strings.HasPrefix(op.Path, "/") {
		return fmt.Errorf("path %q: must start with /", op.Path)
	}
	parts := strings.Split(op.Path[1:], "/")
	for i, p := range parts {
		parts[i] = strings.NewReplacer("~1", "/", "~0", "~").Replace(p)
	}
	var parent any = o
	for _, p := range parts[:len(parts)-1] {
		next, err := step(parent, p)
		if err != nil {
			return fmt.Errorf("path %s: %w", op.Path, err)
		}
		parent = next
	}
	last := parts[len(parts)-1]
	switch c := parent.(type) {
	case map[string]any:
		_, exists := c[last]
		switch op.Op {
		case "add":
			c[last] = op.Value
		case "replace":
			if !exists {
				return fmt.Errorf("replace %s: no such field", op.Path)
			}
			c[last] = op.Value
		case "remove":
			if !exists {
				return fmt.Errorf("remove %s: no such field", op.Path)
			}
			delete(c, last)
		default:
			return fmt.Errorf("op %q: not supported", op.Op)
		}
		return nil
	case []any:
		// Lists are changed in place only (replace, remove would need the
		// parent to be rewritten).
		i, err := strconv.Atoi(last)
		if err != nil || i < 0 || i >= len(c) || op.Op != "replace" {
			return fmt.Errorf("%s %s: only replace of an existing list element is supported", op.Op, op.Path)
		}
		c[i] = op.Value
		return nil
	}
	return fmt.Errorf("path %s: parent is not an object or list", op.Path)
}

func step(v any, key string) (any, error) {
	switch c := v.(type) {
	case map[string]any:
		next, ok := c[key]
		if !ok {
			return nil, fmt.Errorf("no field %q", key)
		}
		return next, nil
	case []any:
		i, err := strconv.Atoi(key)
		if err != nil || i < 0 || i >= len(c) {
			return nil, fmt.Errorf("no element %q", key)
		}
		return c[i], nil
	}
	return nil, fmt.Errorf("cannot descend into %q", key)
}

func checkUnique(objs []object) error {
	seen := map[string]bool{}
	for _, o := range objs {
		id := fmt.Sprintf("%s %s/%s", o["kind"], namespace(o), name(o))
		if seen[id] {
			return fmt.Errorf("duplicate object %s", id)
		}
		seen[id] = true
	}
	return nil
}

// clusterScoped are the kinds the namespace transformer leaves alone.
var clusterScoped = []string{"Namespace", "ClusterRole", "ClusterRoleBinding", "APIService", "PriorityClass", "StorageClass"}

func namespaced(o object) bool { return !slices.Contains(clusterScoped, o["kind"].(string)) }

// containers returns the containers of a pod template, for the kinds with one.
func containers(o object) []map[string]any {
	spec, _ := o["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	pod, _ := tmpl["spec"].(map[string]any)
	var out []map[string]any
	for _, field := range []string{"initContainers", "containers"} {
		list, _ := pod[field].([]any)
		for _, c := range list {
			if m, ok := c.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// imageName strips the tag or digest of an image reference.
func imageName(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

func child(m map[string]any, key string) map[string]any {
	c, ok := m[key].(map[string]any)
	if !ok {
		c = map[string]any{}
		m[key] = c
	}
	return c
}

func name(o object) string {
	meta, _ := o["metadata"].(map[string]any)
	n, _ := meta["name"].(string)
	return n
}

func namespace(o object) string {
	meta, _ := o["metadata"].(map[string]any)
	n, _ := meta["namespace"].(string)
	return n
}

func TestApplyOp(t *testing.T) {
	doc := func() object {
		return object{"data": map[string]any{"a": "1"}, "list": []any{"x", "y"}}
	}
	tests := []struct {
		op      jsonPatchOp
		check   func(object) bool
		wantErr bool
	}{
		{jsonPatchOp{Op: "add", Path: "/data/b", Value: "2"}, func(o object) bool { return o["data"].(map[string]any)["b"] == "2" }, false},
		{jsonPatchOp{Op: "replace", Path: "/data/a", Value: "3"}, func(o object) bool { return o["data"].(map[string]any)["a"] == "3" }, false},
		{jsonPatchOp{Op: "remove", Path: "/data/a"}, func(o object) bool { _, ok := o["data"].(map[string]any)["a"]; return !ok }, false},
		{jsonPatchOp{Op: "replace", Path: "/list/1", Value: "z"}, func(o object) bool { return o["list"].([]any)[1] == "z" }, false},
		{jsonPatchOp{Op: "replace", Path: "/data/missing", Value: "x"}, nil, true},
		{jsonPatchOp{Op: "remove", Path: "/data/missing"}, nil, true},
		{jsonPatchOp{Op: "add", Path: "/nothing/here", Value: "x"}, nil, true},
		{jsonPatchOp{Op: "move", Path: "/data/a"}, nil, true},
		{jsonPatchOp{Op: "add", Path: "data/a"}, nil, true},
	}
	for _, tt := range tests {
		o := doc()
		err := applyOp(o, tt.op)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s %s: got error %v, want error %v", tt.op.Op, tt.op.Path, err, tt.wantErr)
			continue
		}
		if err == nil && !tt.check(o) {
			t.Errorf("%s %s: got %v", tt.op.Op, tt.op.Path, o)
		}
	}
}

func TestImageName(t *testing.T) {
	for ref, want := range map[string]string{
		"backhaul":                         "backhaul",
		"ghcr.io/backhaul/backhaul:v1.2.3": "ghcr.io/backhaul/backhaul",
		"registry:5000/backhaul":           "registry:5000/backhaul",
		"backhaul@sha256:0123":             "backhaul",
	} {
		if got := imageName(ref); got != want {
			t.Errorf("imageName(%q) = %q, want %q", ref, got, want)
		}
	}
}

func TestBuildRefusesWhatItDoesNotRender(t *testing.T) {
	for name, k := range map[string]string{
		"namePrefix":       "namePrefix: x-\n",
		"strategic merge":  "patches:\n- target: {kind: ConfigMap}\n  patch: |-\n    data: {a: b}\n",
		"includeSelectors": "labels:\n- pairs: {a: b}\n  includeSelectors: true\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n"
			kz := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- cm.yaml\n" + k
			if err := os.WriteFile(filepath.Join(dir, "cm.yaml"), []byte(cm), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kz), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := build(dir); err == nil {
				t.Error("got no error, want one")
			}
		})
	}
}
